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

Figures go to docs/backend_facts.md; this is not a test and asserts nothing.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import platform
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


def run_playbook(path, inventory, extra, env):
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory, "-e", "@" + extra, path]
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, cwd=REPO,
                          env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (path, proc.stdout[-3000:]))
    return elapsed


def measure(state, rounds, workdir):
    scenario = json.loads(lab(state, "scenario-json"))
    per_host = targets(scenario)
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
    ping = statistics.median(times["ping"])
    naive = statistics.median(times["naive"])
    print("| playbook | median wall s | min s | max s | minus ping s | naive / this |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, values in times.items():
        median = statistics.median(values)
        print("| %s | %.2f | %.2f | %.2f | %.2f | %s |" % (
            name, median, min(values), max(values), median - ping,
            "%.1fx (%.1fx without ping)" % (naive / median, (naive - ping) / max(median - ping, 1e-3))
            if name.startswith("backend_facts") else "-"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--state", help="an already running lab's state directory (default: bring one up)")
    args = parser.parse_args()
    own = args.state is None
    state = args.state or DEFAULT_STATE
    if own:
        if os.geteuid() != 0:
            parser.error("bringing up the lab needs root")
        lab(state, "--prefix", PREFIX, "--subnet", SUBNET, "up", os.path.join(REPO, "lab", "scenarios", "default.yml"))
    try:
        with tempfile.TemporaryDirectory(prefix="lbdoctor-bench-") as workdir:
            per_host, times = measure(state, args.rounds, workdir)
        report(per_host, times, args.rounds)
    finally:
        if own:
            lab(state, "down")


if __name__ == "__main__":
    main()
