# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wall time of one backend_facts call against the playbook a user would write today, on the
same lab hosts, over ssh, as ansible-playbook runs them.

The naive playbook gathers what the diagnosis needs from a backend the usual way:

* a listen_ports_facts-style task: ``ss -tlnp`` parsed in a shell loop with one
  ``ps -o user=,comm=,args= -p PID`` per listening socket;
* ``ansible.builtin.service_facts``;
* one ``systemctl show UNIT`` per unit and one ``journalctl -u UNIT -n 5`` per unit (loops, one
  module run per item, as a playbook does).

Against it: one ``lbdoctor.haproxy.backend_facts`` task with the same ports and units, with every
subset (listeners, addresses, units with their journal, containers, firewall, mac) and with only
``listeners`` + ``units`` (about what the naive playbook gathers). A ``ping`` playbook gives the
fixed cost of ansible-playbook and ssh. Every playbook runs on all backend hosts at once (forks
from ansible.cfg); the rounds interleave the playbooks; the first round warms the ssh
connections and is not counted.

Without ``--state`` a lab is brought up from lab/scenarios/default.yml with prefix ``lbb`` on
198.18.10.0/24 in its own state directory and torn down afterwards (also on Ctrl-C). Needs root.

    .venv/bin/python benchmarks/bench_naive_vs_backend_facts.py [--rounds 7] [--state DIR]

``--busy`` measures both halves of the speed target in one run, on ONE backend host of that lab
(``--host``, default web1) with systemd as PID 1:

1. ``systemd-run --unit=bench-listeners`` inside the host starts one python parent that forks
   ``--procs`` (500) children holding ``--sockets`` (2,000) listening TCP sockets on 127.0.0.1,
   0.0.0.0 and :: (v6only on and off), ports from ``--base-port`` (20000): the same load as
   bench_backend_facts.py, but owned by a real unit of a real systemd.
2. Module CPU, inside the host: a copy of plugins/module_utils and of this file is written into
   the host's root (``STATE/hosts/HOST/root/opt/lbdoctor-bench``, the overlay's upper layer) and
   run there with the host's python3 (``lab.py exec``). It calls backend_collect.collect() as the
   module does, for ``gather_subset`` listeners, listeners+units and all (the host's lab ports
   plus two of the busy ports, its lab units plus bench-listeners.service: what a diagnosis
   asks), and takes CPU = self + reaped children from getrusage around each call (children: ip,
   systemctl, journalctl, iptables-save, nft, ...); one warm-up call, then the median of
   ``--cpu-rounds``. Each subset inside the ``all`` call is timed the same way. Not counted:
   starting Python and unpacking the AnsiballZ payload, the same for every module (the start-up
   plus import of the collector is printed on its own). ``--profile`` adds a cProfile of one
   ``all`` call.
3. Wall time over ssh against that busy host only (``--limit``): the naive playbook
   (``--naive-rounds``, 2 by default: each takes a minute or more, it runs one ``ps`` per socket),
   one backend_facts task (all, and listeners+units) and ping (``--rounds``, 3 by default), after
   one uncounted warm-up of ping and backend_facts.
4. The transient unit is stopped and the copy removed; the lab goes down unless ``--state`` was
   given.

    .venv/bin/python benchmarks/bench_naive_vs_backend_facts.py --busy [--host web1] [--procs 500]
        [--sockets 2000] [--cpu-rounds 9] [--rounds 3] [--naive-rounds 2] [--state DIR] [--profile]

Figures go to docs/backend_facts.md; this is not a test and asserts nothing.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB = [sys.executable, os.path.join(REPO, "lab", "lab.py")]
PREFIX = "lbb"
SUBNET = "198.18.10.0/24"
DEFAULT_STATE = "/var/tmp/lbdoctor-bench-lbb"
BUSY_UNIT = "bench-listeners.service"
BUSY_DIR = "/opt/lbdoctor-bench"
TARGET_MS = 150.0

PLAYBOOKS = {
    "ping": """
- name: Fixed cost (ansible-playbook, ssh, python on the host)
  hosts: backends
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
""",
    "naive": """
- name: What a user would write today
  hosts: backends
  gather_facts: false
  vars:
    bench_units: "{{ bench_targets[inventory_hostname].units }}"
  tasks:
    - name: Listening TCP sockets and the owner of each (listen_ports_facts style)
      ansible.builtin.shell: |
        set -o pipefail
        ss -tlnpH | while read -r _state _recvq _sendq local _peer process; do
          pid=$(printf '%s\\n' "$process" | sed -n 's/.*pid=\\([0-9]*\\).*/\\1/p')
          if [ -n "$pid" ]; then
            printf '%s %s\\n' "$local" "$(ps -o user=,comm=,args= -p "$pid")"
          else
            printf '%s -\\n' "$local"
          fi
        done
      args:
        executable: /bin/bash
      register: bench_listen
      changed_when: false
    - name: Services
      ansible.builtin.service_facts:
    - name: State of each unit
      ansible.builtin.command: systemctl show {{ item }} -p ActiveState,SubState,Result,ExecMainStatus,UnitFileState
      loop: "{{ bench_units }}"
      register: bench_show
      changed_when: false
    - name: Journal of each unit
      ansible.builtin.command: journalctl -u {{ item }} -n 5 -o short-iso --no-pager
      loop: "{{ bench_units }}"
      register: bench_journal
      changed_when: false
""",
    "backend_facts all": """
- name: One backend_facts call, every subset
  hosts: backends
  gather_facts: false
  tasks:
    - name: Backend facts
      lbdoctor.haproxy.backend_facts:
        ports: "{{ bench_targets[inventory_hostname].ports }}"
        units: "{{ bench_targets[inventory_hostname].units }}"
""",
    "backend_facts listeners+units": """
- name: One backend_facts call, listeners and units only
  hosts: backends
  gather_facts: false
  tasks:
    - name: Backend facts
      lbdoctor.haproxy.backend_facts:
        ports: "{{ bench_targets[inventory_hostname].ports }}"
        units: "{{ bench_targets[inventory_hostname].units }}"
        gather_subset: [listeners, units]
""",
}


def lab(state, *args):
    return subprocess.run(LAB + ["--state", state] + list(args), check=True, stdout=subprocess.PIPE,
                          universal_newlines=True).stdout


def lab_exec(state, host, argv, check=True):
    """Run argv inside the lab host; (rc, stdout, stderr)."""
    proc = subprocess.run(LAB + ["--state", state, "exec", host, "--"] + list(argv), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError("%s on %s exited %d: %s"
                           % (" ".join(argv[:3]), host, proc.returncode, proc.stderr.strip()[-2000:]))
    return proc.returncode, proc.stdout, proc.stderr


def targets(scenario):
    """backend host -> {ports, units} from the lab's resolved scenario."""
    out = {}
    for host in scenario["hosts"]:
        if host["role"] != "backend":
            continue
        units, ports = set(), set()
        for service in host.get("services") or []:
            units.add(service["unit"])
            if service.get("socket_unit"):
                units.add(service["socket_unit"])
        for holder in host.get("holders") or []:
            if holder.get("unit"):
                units.add(holder["unit"])
        for server in scenario["servers"]:
            if server.get("host") == host["name"]:
                ports.add(server["port"])
        out[host["name"]] = {"ports": sorted(ports), "units": sorted(units)}
    return out


def run_playbook(path, inventory, extra, env, limit=None):
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory, "-e", "@" + extra, path]
    if limit:
        argv += ["--limit", limit]
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, cwd=REPO,
                          env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (path, proc.stdout[-3000:]))
    return elapsed


def write_playbooks(per_host, workdir):
    extra = os.path.join(workdir, "targets.json")
    with open(extra, "w") as handle:
        json.dump({"bench_targets": per_host}, handle)
    paths = {}
    for name, text in PLAYBOOKS.items():
        paths[name] = os.path.join(workdir, name.replace(" ", "_").replace("+", "_") + ".yml")
        with open(paths[name], "w") as handle:
            handle.write(text)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"))
    return extra, paths, env


def measure(state, rounds, workdir):
    scenario = json.loads(lab(state, "scenario-json"))
    per_host = targets(scenario)
    extra, paths, env = write_playbooks(per_host, workdir)
    times = dict((name, []) for name in PLAYBOOKS)
    for index in range(rounds + 1):
        for name in PLAYBOOKS:
            elapsed = run_playbook(paths[name], os.path.join(state, "inventory.ini"), extra, env)
            if index:
                times[name].append(elapsed)
    return per_host, times


def report(per_host, times, rounds):
    units = sum(len(t["units"]) for t in per_host.values())
    ports = sum(len(t["ports"]) for t in per_host.values())
    print("lab: %d backend hosts, %d ports, %d units; %d rounds (after one warm-up); Python %s, load %s"
          % (len(per_host), ports, units, rounds, platform.python_version(), " ".join("%.2f" % x for x in os.getloadavg())))
    playbook_table(times, _ratio_floored)


# --- --busy: one backend host with 2,000 listening sockets held by 500 processes of one unit ---

def start_listeners(state, host, procs, sockets, base_port):
    """A transient unit inside the host (systemd kills its whole cgroup on stop): one parent forks PROCS
    children; each holds its share of the SOCKETS listening sockets, as in bench_backend_facts.py."""
    # imported here, on the controller: the copy of this file run inside the host has no _bench_common
    from _bench_common import LISTENER_FORKS

    lab_exec(state, host, ["systemd-run", "--unit=" + BUSY_UNIT, "--collect", "--property=TasksMax=infinity",
                           "--property=LimitNOFILE=65536", "--description=lbdoctor benchmark listeners",
                           "/usr/bin/python3", "-c", LISTENER_FORKS + "signal.pause()\n", str(procs), str(sockets),
                           str(base_port)])


def stop_listeners(state, host):
    lab_exec(state, host, ["systemctl", "stop", BUSY_UNIT], check=False)
    lab_exec(state, host, ["systemctl", "reset-failed", BUSY_UNIT], check=False)


def count_busy_sockets(state, host, sockets, base_port):
    _rc, out, _err = lab_exec(state, host, ["ss", "-tlnH"])
    count = 0
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            port = fields[3].rsplit(":", 1)[-1]
            if port.isdigit() and base_port <= int(port) < base_port + sockets:
                count += 1
    return count


def wait_listening(state, host, sockets, base_port, timeout=180.0):
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        count = count_busy_sockets(state, host, sockets, base_port)
        if count >= sockets:
            return count
        time.sleep(1.0)
    raise RuntimeError("%s: only %d of %d sockets listening after %ds" % (host, count, sockets, timeout))


def install_copy(state, host):
    """This file and plugins/module_utils into the host's root (overlay upper layer)."""
    root = os.path.join(state, "hosts", host, "root")
    target = root + BUSY_DIR
    if os.path.exists(target):
        shutil.rmtree(target)
    utils = os.path.join(target, "ansible_collections", "lbdoctor", "haproxy", "plugins", "module_utils")
    shutil.copytree(os.path.join(REPO, "plugins", "module_utils"), utils,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(os.path.abspath(__file__), os.path.join(target, "bench.py"))
    return target


def _cpu():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime, time.perf_counter())


def _delta(before, after):
    return {"self_ms": (after[0] - before[0]) * 1000.0, "children_ms": (after[1] - before[1]) * 1000.0,
            "total_ms": (after[0] - before[0] + after[1] - before[1]) * 1000.0,
            "wall_ms": (after[2] - before[2]) * 1000.0}


def inner_cpu(rounds, ports, units, profile):
    """Runs inside the lab host with its python3: CPU of backend_collect.collect() per gather_subset."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from ansible_collections.lbdoctor.haproxy.plugins.module_utils import backend_collect  # pylint: disable=import-error

    startup = _cpu()
    env = dict(os.environ)
    env.update(backend_collect.ENV)

    per_command = {}  # "argv[0] argv[1]" -> children CPU ms per `all` call (summed over its calls)
    counting = []

    def run(argv):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                    universal_newlines=True)
        except OSError as exc:
            return 127, "", str(exc)
        out, err = proc.communicate()
        if counting:
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            name = " ".join(argv[:2])
            spent = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000.0
            per_command.setdefault(name, {}).setdefault(counting[0], 0.0)
            per_command[name][counting[0]] += spent
        return proc.returncode, out, err

    per_subset = {}

    def timed(name, function):
        def wrapper(ctx, key):
            before = _cpu()
            function(ctx, key)
            per_subset.setdefault(name, []).append(_delta(before, _cpu()))
        return wrapper

    base = {"ports": ports, "units": units, "unit_map": {}, "journal_lines": 10,
            "state_file": backend_collect.DEFAULT_STATE_FILE, "record_healthy": False}
    cases = [("listeners", ["listeners"]), ("listeners+units", ["listeners", "units"]), ("all", ["all"])]
    results = {"startup_ms": (startup[0] + startup[1]) * 1000.0,
               "pids": len([n for n in os.listdir("/proc") if n.isdigit()]),
               "python": platform.python_version(), "cases": {}}
    original = list(backend_collect.SUBSETS)
    for name, subset in cases:
        if name == "all":
            backend_collect.SUBSETS[:] = [(n, k, timed(n, f)) for n, k, f in original]
        samples, facts = [], None
        for index in range(rounds + 1):
            if name == "all" and index == 1:
                per_subset.clear()  # the warm-up call is not counted
            if name == "all" and index:
                counting[:] = [index]
            before = _cpu()
            facts = backend_collect.collect(run, options=dict(base, gather_subset=subset))
            counting[:] = []
            if index:
                samples.append(_delta(before, _cpu()))
        listeners = facts.get("listeners") or []
        results["cases"][name] = {
            "samples": samples, "listeners": len(listeners), "with_pid": len([x for x in listeners if x["pid"]]),
            "with_unit": len([x for x in listeners if x.get("unit") == BUSY_UNIT]),
            "units": len(facts.get("units") or {}),
            "unavailable": ["%s: %s" % (u["what"], u["reason"][:80]) for u in facts["unavailable"]]}
    results["per_subset"] = per_subset
    results["per_command"] = dict((name, [calls.get(i, 0.0) for i in range(1, rounds + 1)])
                                  for name, calls in per_command.items())
    backend_collect.SUBSETS[:] = original
    if profile:
        import cProfile
        import io
        import pstats
        profiler = cProfile.Profile()
        profiler.enable()
        backend_collect.collect(run, options=dict(base, gather_subset=["all"]))
        profiler.disable()
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(30)
        results["profile"] = stream.getvalue()
    print(json.dumps(results))


def busy_targets(scenario, host, base_port):
    """Ports and units a diagnosis would ask on the busy host: the lab's, plus two busy ports and the unit."""
    mine = targets(scenario)[host]
    return {host: {"ports": sorted(set(mine["ports"]) | set([base_port, base_port + 1])),
                   "units": sorted(set(mine["units"]) | set([BUSY_UNIT]))}}


def busy_measure(args, state, workdir):
    scenario = json.loads(lab(state, "scenario-json"))
    host = args.host
    if host not in targets(scenario):
        raise RuntimeError("%s is not a backend host of the lab in %s" % (host, state))
    per_host = busy_targets(scenario, host, args.base_port)
    info = {"host": host, "ports": per_host[host]["ports"], "units": per_host[host]["units"],
            "load_start": os.getloadavg()}
    copy = None
    started = time.perf_counter()
    try:
        start_listeners(state, host, args.procs, args.sockets, args.base_port)
        info["sockets"] = wait_listening(state, host, args.sockets, args.base_port)
        info["ready_s"] = time.perf_counter() - started
        _rc, out, _err = lab_exec(state, host, ["systemctl", "show", "-p", "ActiveState,SubState,MainPID", BUSY_UNIT])
        info["unit"] = " ".join(out.split())
        copy = install_copy(state, host)
        argv = ["/usr/bin/python3", BUSY_DIR + "/bench.py", "--inner-cpu", "--cpu-rounds", str(args.cpu_rounds),
                "--inner-ports", ",".join(str(p) for p in info["ports"]), "--inner-units", ",".join(info["units"])]
        if args.profile:
            argv.append("--profile")
        _rc, out, _err = lab_exec(state, host, argv)
        cpu = json.loads(out.strip().splitlines()[-1])
        info["load_after_cpu"] = os.getloadavg()
        info["machine_pids"] = len([n for n in os.listdir("/proc") if n.isdigit()])

        extra, paths, env = write_playbooks(per_host, workdir)
        inventory = os.path.join(state, "inventory.ini")
        counts = {"ping": args.rounds, "naive": args.naive_rounds, "backend_facts all": args.rounds,
                  "backend_facts listeners+units": args.rounds}
        for name in ("ping", "backend_facts all"):  # warm-up: ssh connection, module transfer
            run_playbook(paths[name], inventory, extra, env, limit=host)
        times = dict((name, []) for name in PLAYBOOKS)
        for index in range(max(counts.values())):
            for name in PLAYBOOKS:
                if index < counts[name]:
                    times[name].append(run_playbook(paths[name], inventory, extra, env, limit=host))
        info["load_end"] = os.getloadavg()
        info["sockets_end"] = count_busy_sockets(state, host, args.sockets, args.base_port)
        return info, cpu, times
    finally:
        stop_listeners(state, host)
        if copy is not None:
            shutil.rmtree(copy, ignore_errors=True)


def _load(values):
    return " ".join("%.2f" % x for x in values)


def _ratio_floored(naive, median, ping):
    return "%.1fx (%.1fx without ping)" % (naive / median, (naive - ping) / max(median - ping, 1e-3))


def playbook_table(times, ratio, rounds=False):
    """Wall time of each playbook: median, min, max, minus ping's median and, for backend_facts,
    ``ratio(naive median, its median, ping median)``; with ``rounds``, how many runs each had."""
    ping = statistics.median(times["ping"])
    naive = statistics.median(times["naive"])
    print("| playbook |%s median wall s | min s | max s | minus ping s | naive / this |" % (" rounds |" if rounds else ""))
    print("|---|%s---:|---:|---:|---:|---:|" % ("---:|" if rounds else ""))
    for name, values in times.items():
        median = statistics.median(values)
        print("| %s |%s %.2f | %.2f | %.2f | %.2f | %s |" % (
            name, " %d |" % len(values) if rounds else "", median, min(values), max(values), median - ping,
            ratio(naive, median, ping) if name.startswith("backend_facts") else "-"))


def _ratio(naive, median, ping):
    if median - ping < 0.05:
        return "%.1fx (within the ping's noise)" % (naive / median)
    return "%.1fx (%.1fx without ping)" % (naive / median, (naive - ping) / (median - ping))


def busy_report(args, info, cpu, times):
    print("busy host %s: %d listening sockets held by %d processes of %s (%s), ready in %.1f s; "
          "%d pids in the host, %d on the machine; host Python %s, controller Python %s"
          % (info["host"], info["sockets"], args.procs, BUSY_UNIT, info["unit"], info["ready_s"], cpu["pids"],
             info["machine_pids"], cpu["python"], platform.python_version()))
    print("load average: start %s, after the CPU rounds %s, end %s" % (
        _load(info["load_start"]), _load(info["load_after_cpu"]), _load(info["load_end"])))
    print("asked: ports %s, units %s" % (",".join(str(p) for p in info["ports"]), ",".join(info["units"])))
    print("python3 start-up + import of backend_collect inside the host (not counted below): %.1f ms CPU"
          % cpu["startup_ms"])
    print("")
    print("(a) module CPU inside the host, backend_collect.collect(), median of %d (after one warm-up)"
          % args.cpu_rounds)
    print("| gather_subset | listeners (with pid, of %s) | units | self CPU ms | children CPU ms "
          "| total CPU ms (min-max) | wall ms |" % BUSY_UNIT)
    print("|---|---:|---:|---:|---:|---:|---:|")

    def med(samples, key):
        return statistics.median(x[key] for x in samples)

    for name, entry in cpu["cases"].items():
        samples = entry["samples"]
        print("| %s | %d (%d, %d) | %d | %.1f | %.1f | %.1f (%.1f-%.1f) | %.1f |" % (
            name, entry["listeners"], entry["with_pid"], entry["with_unit"], entry["units"], med(samples, "self_ms"),
            med(samples, "children_ms"), med(samples, "total_ms"), min(x["total_ms"] for x in samples),
            max(x["total_ms"] for x in samples), med(samples, "wall_ms")))
    print("")
    print("per subset inside `all` (median ms: total = self + children)")
    print("| subset | self | children | total | wall |")
    print("|---|---:|---:|---:|---:|")
    for name, samples in cpu["per_subset"].items():
        print("| %s | %.1f | %.1f | %.1f | %.1f |" % (
            name, med(samples, "self_ms"), med(samples, "children_ms"), med(samples, "total_ms"),
            med(samples, "wall_ms")))
    print("commands run by `all` (median CPU ms of the child processes per call of collect, most first): %s" % ", ".join(
        "%s %.1f" % (name, statistics.median(values))
        for name, values in sorted(cpu["per_command"].items(), key=lambda item: -statistics.median(item[1]))))
    print("unavailable in `all`: %s" % ("; ".join(cpu["cases"]["all"]["unavailable"]) or "none"))
    total = med(cpu["cases"]["all"]["samples"], "total_ms")
    print("target: module's own work under %.0f ms CPU with gather_subset all: %s (%.1f ms)"
          % (TARGET_MS, "met" if total < TARGET_MS else "NOT MET", total))
    print("")
    print("(b) wall s of ansible-playbook against %s alone, over ssh (naive %d rounds, others %d, after one warm-up)"
          % (info["host"], args.naive_rounds, args.rounds))
    playbook_table(times, _ratio, rounds=True)
    print("sockets still listening at the end: %d" % info["sockets_end"])
    if cpu.get("profile"):
        print("")
        print("cProfile of one `all` call inside the host:")
        print(cpu["profile"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds of each playbook (7; with --busy: of ping and backend_facts, 3)")
    parser.add_argument("--state", help="an already running lab's state directory (default: bring one up)")
    parser.add_argument("--busy", action="store_true",
                        help="one backend host with --sockets sockets held by --procs processes of a unit")
    parser.add_argument("--host", default="web1", help="the busy backend host (--busy)")
    parser.add_argument("--procs", type=int, default=500)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--base-port", type=int, default=20000)
    parser.add_argument("--cpu-rounds", type=int, default=9, help="rounds of the in-host CPU measure (--busy)")
    parser.add_argument("--naive-rounds", type=int, default=2, help="rounds of the naive playbook (--busy)")
    parser.add_argument("--profile", action="store_true", help="cProfile one `all` call inside the host (--busy)")
    parser.add_argument("--inner-cpu", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--inner-ports", default="", help=argparse.SUPPRESS)
    parser.add_argument("--inner-units", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner_cpu:
        inner_cpu(args.cpu_rounds, [int(p) for p in args.inner_ports.split(",") if p],
                  [u for u in args.inner_units.split(",") if u], args.profile)
        return
    if args.rounds is None:
        args.rounds = 3 if args.busy else 7
    own = args.state is None
    state = args.state or DEFAULT_STATE
    if os.geteuid() != 0 and (own or args.busy):
        parser.error("bringing up the lab and --busy need root")
    if own:
        lab(state, "--prefix", PREFIX, "--subnet", SUBNET, "up", os.path.join(REPO, "lab", "scenarios", "default.yml"))
    try:
        with tempfile.TemporaryDirectory(prefix="lbdoctor-bench-") as workdir:
            if args.busy:
                info, cpu, times = busy_measure(args, state, workdir)
            else:
                per_host, times = measure(state, args.rounds, workdir)
        if args.busy:
            busy_report(args, info, cpu, times)
        else:
            report(per_host, times, args.rounds)
    finally:
        if own:
            lab(state, "down")


if __name__ == "__main__":
    main()
