# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPU cost of backend_facts on a busy host, against the naive approach.

Builds a throwaway network namespace, starts PROCS python processes (forked from one parent)
that listen on SOCKETS TCP sockets in total on 127.0.0.1, 0.0.0.0 and :: inside it (no traffic
leaves the namespace; nothing connects), then, inside the namespace:

* ``collect``: backend_collect.collect() with gather_subset ``listeners`` and then ``all`` (ports
  and units asked as a diagnosis role would); CPU = this process + its children (ip, systemctl,
  ...), measured with getrusage;
* ``naive``: ``ss -tlnp`` once, then one ``ps -o user=,comm=,args= -p PID`` per socket and one
  ``systemctl show`` per owning process (what listen_ports_facts-style code does).

Everything is torn down afterwards (processes killed, namespace deleted), also on Ctrl-C.
Needs root (ip netns). Usage:

    sudo .venv/bin/python benchmarks/bench_backend_facts.py [--procs 500] [--sockets 2000] [--rounds 5]
        [--naive-rounds 1]

The host is shared with whatever else runs: look at the pid count and load average printed
first, and compare runs taken under similar conditions.

Systemd is not PID 1 in this namespace (on the build VM it is not PID 1 at all), so the ``units``
subset fails fast and is not really measured, and firewall-cmd / ufw / podman cost only what the
VM has of them. The same load inside a lab host with systemd as PID 1, measured together with the
naive playbook over ssh: ``bench_naive_vs_backend_facts.py --busy``.

Figures go to docs/backend_facts.md; this is not a test and asserts nothing.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time

from _bench_common import LISTENER_FORKS, import_collection


def spawn_listeners(namespace, procs, sockets, base_port):
    """Start one parent in the namespace that forks ``procs`` children holding the sockets."""
    code = LISTENER_FORKS + r"""
def stop(*_):
    for c in children:
        try:
            os.kill(c, signal.SIGTERM)
        except OSError:
            pass
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
signal.pause()
"""
    proc = subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable, "-c", code,
                             str(procs), str(sockets), str(base_port)],
                            stdout=subprocess.PIPE, universal_newlines=True, start_new_session=True)
    line = proc.stdout.readline()
    if line.strip() != "ready":
        raise RuntimeError("listener parent did not start")
    return proc


def wait_listening(namespace, sockets, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = subprocess.check_output(["ip", "netns", "exec", namespace, "ss", "-tlnH"],
                                      universal_newlines=True)
        count = len([l for l in out.splitlines() if l.strip()])
        if count >= sockets:
            return count
        time.sleep(0.5)
    raise RuntimeError("only %d of %d sockets listening" % (count, sockets))


def cpu_now():
    self_usage = resource.getrusage(resource.RUSAGE_SELF)
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (self_usage.ru_utime + self_usage.ru_stime, child.ru_utime + child.ru_stime, time.time())


def delta(before, after):
    return {"self_cpu_ms": (after[0] - before[0]) * 1000.0,
            "children_cpu_ms": (after[1] - before[1]) * 1000.0,
            "total_cpu_ms": ((after[0] - before[0]) + (after[1] - before[1])) * 1000.0,
            "wall_ms": (after[2] - before[2]) * 1000.0}


def inner(rounds, ports, naive_rounds):
    """Runs inside the namespace: measure collect() and the naive approach."""
    import_collection()
    from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_collect import ENV, collect

    env = dict(os.environ)
    env.update(ENV)

    def run(argv):
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                    universal_newlines=True)
        except OSError as exc:
            return 127, "", str(exc)
        out, err = proc.communicate()
        return proc.returncode, out, err

    results = {}
    scenarios = [
        ("collect[listeners]", {"gather_subset": ["listeners"]}),
        ("collect[all]", {"gather_subset": ["all"], "ports": ports, "units": ["app.service"]}),
    ]
    for name, options in scenarios:
        samples = []
        facts = None
        for _round in range(rounds):
            before = cpu_now()
            facts = collect(run, options=options)
            samples.append(delta(before, cpu_now()))
        results[name] = {"samples": samples, "listeners": len(facts.get("listeners") or []),
                         "with_pid": len([l for l in facts.get("listeners") or [] if l["pid"]]),
                         "unavailable": [u["what"] for u in facts["unavailable"]]}

    samples = []
    for _round in range(naive_rounds):
        before = cpu_now()
        _rc, out, _err = run(["ss", "-tlnpH"])
        pids = []
        for line in out.splitlines():
            marker = line.find("pid=")
            if marker >= 0:
                pids.append(line[marker + 4:].split(",", 1)[0])
        for pid in pids:
            run(["ps", "-o", "user=,comm=,args=", "-p", pid])
        for pid in sorted(set(pids)):
            run(["systemctl", "show", "-p", "Id,ActiveState,SubState", "--", "pid-%s.service" % pid])
        samples.append(delta(before, cpu_now()))
    results["naive"] = {"samples": samples, "listeners": len(pids), "with_pid": len(pids),
                        "unavailable": []}
    print(json.dumps(results))


def summarize(name, entry):
    def med(key):
        return statistics.median(s[key] for s in entry["samples"])

    return "| %s | %d | %d | %.1f | %.1f | %.1f | %.1f |" % (
        name, entry["listeners"], entry["with_pid"], med("self_cpu_ms"), med("children_cpu_ms"),
        med("total_cpu_ms"), med("wall_ms"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--procs", type=int, default=500)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--naive-rounds", type=int, default=1,
                        help="rounds of the naive approach (about a minute each)")
    parser.add_argument("--base-port", type=int, default=20000)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ports", default="20000,20001", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.rounds, [int(p) for p in args.ports.split(",")], args.naive_rounds)
        return 0
    if os.geteuid() != 0:
        print("needs root (ip netns add)", file=sys.stderr)
        return 2
    namespace = "lbdbench-%d" % os.getpid()
    listeners = None
    subprocess.check_call(["ip", "netns", "add", namespace])
    try:
        subprocess.check_call(["ip", "-n", namespace, "link", "set", "lo", "up"])
        started = time.time()
        listeners = spawn_listeners(namespace, args.procs, args.sockets, args.base_port)
        count = wait_listening(namespace, args.sockets)
        host_pids = len([n for n in os.listdir("/proc") if n.isdigit()])
        print("namespace %s: %d listening sockets held by %d processes (%d pids on the host), ready in %.1fs;"
              " Python %s; load average %s"
              % (namespace, count, args.procs, host_pids, time.time() - started, sys.version.split()[0],
                 " ".join("%.2f" % x for x in os.getloadavg())))
        out = subprocess.check_output(["ip", "netns", "exec", namespace, sys.executable, os.path.abspath(__file__),
                                       "--inner", "--rounds", str(args.rounds),
                                       "--naive-rounds", str(args.naive_rounds),
                                       "--ports", "%d,%d" % (args.base_port, args.base_port + 1)],
                                      universal_newlines=True)
        results = json.loads(out.strip().splitlines()[-1])
        print("| approach | listeners | with pid | self CPU ms | children CPU ms | total CPU ms | wall ms |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name in ("collect[listeners]", "collect[all]", "naive"):
            print(summarize(name, results[name]))
        print("unavailable in collect[all]: %s" % ", ".join(results["collect[all]"]["unavailable"]))
    finally:
        if listeners is not None:
            try:
                os.killpg(listeners.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                listeners.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(listeners.pid, signal.SIGKILL)
        subprocess.call(["ip", "netns", "del", namespace])
    return 0


if __name__ == "__main__":
    sys.exit(main())
