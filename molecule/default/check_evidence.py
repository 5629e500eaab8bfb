# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Molecule verify, second half: beyond each verdict, the evidence and the fix a person reads.

  python check_evidence.py REPORT_JSON SCENARIO_JSON

For every server the lab declares, checks what its finding must show given the fault the lab
made (the unit, its journal, the listener, the deciding rule, the fix's argv), prints one line
per problem and exits 1 when there is any. Standard library only: it runs on the controller.
"""

from __future__ import absolute_import, division, print_function

import json
import sys


def sources(finding):
    return [item["source"] for item in finding["evidence"]]


def texts(finding, prefix):
    return [item["text"] for item in finding["evidence"] if item["source"].startswith(prefix)]


def check_server(expected, record, lb_address, unreachable_hosts=()):
    """Problems with one server's record, as strings."""
    problems = []
    host, port, service = expected["host"], expected["port"], expected.get("service") or {}
    if expected["expect"] == "healthy":
        return [] if record["findings"] == [] else ["healthy server has findings %s" % record["findings"]]
    finding = record["findings"][0]
    fix = finding["fix"]
    if not finding["evidence"] or not fix.get("description") or not isinstance(fix.get("commands"), list):
        problems.append("finding without evidence or fix: %s" % finding)
    cause = finding["cause"]
    unit = service.get("unit")
    if cause == "service_stopped":
        if fix["commands"][:1] != [["systemctl", "start", unit]]:
            problems.append("fix %s does not start %s" % (fix["commands"], unit))
        for wanted in ("systemctl show %s on %s" % (unit, host), "journalctl -u %s on %s" % (unit, host)):
            if not any(source.startswith(wanted) for source in sources(finding)):
                problems.append("no evidence from %r in %s" % (wanted, sources(finding)))
    elif cause == "port_conflict":
        if not any("Address already in use" in text for text in texts(finding, "journalctl -u %s" % unit)):
            problems.append("the journal of %s does not show 'Address already in use'" % unit)
        if not any(text.startswith("127.0.0.1:%d by " % port) for text in texts(finding, "listening sockets on")):
            problems.append("the holder of port %d is not named: %s" % (port, finding["evidence"]))
        if fix["automatic"] or fix["commands"]:
            problems.append("a port conflict's fix must be manual: lbdoctor never stops a process")
    elif cause == "bound_to_loopback":
        if not any(text.startswith("127.0.0.1:%d by " % port) for text in texts(finding, "listening sockets on")):
            problems.append("the loopback listener is not shown: %s" % finding["evidence"])
    elif cause == "wrong_port":
        if (fix.get("from_port"), fix.get("to_port")) != (port, service.get("listen_port")):
            problems.append("fix ports %s -> %s, expected %s -> %s" % (fix.get("from_port"), fix.get("to_port"),
                                                                       port, service.get("listen_port")))
    elif cause == "socket_unit_inactive":
        if not any(service.get("socket_unit") in argv for argv in fix["commands"]):
            problems.append("fix %s does not start %s" % (fix["commands"], service.get("socket_unit")))
    elif cause in ("firewall_reject", "firewall_drop"):
        if len(texts(finding, "deciding rule on %s" % host)) != 1:
            problems.append("no deciding rule named on %s: %s" % (host, sources(finding)))
        if fix.get("automatic") and fix.get("source") != lb_address:
            problems.append("the firewall fix opens the port to %s, not only to the LB %s" % (fix.get("source"), lb_address))
    elif cause == "unknown" and host in unreachable_hosts:
        if "could not be gathered" not in finding["summary"] or not sources(finding)[:1] == ["ansible %s" % host]:
            problems.append("a host Ansible cannot reach must be named with the reason: %s" % finding)
    elif cause == "container_port_unmapped":
        if "does not publish" not in finding["summary"] or fix["automatic"]:
            problems.append("container finding: %s / %s" % (finding["summary"], fix))
    return problems


def main(argv):
    with open(argv[1]) as handle:
        report = json.load(handle)
    with open(argv[2]) as handle:
        scenario = json.load(handle)
    lb_address = [h["address"] for h in scenario["hosts"] if h["role"] == "lb"][0]
    unreachable_hosts = set(h["name"] for h in scenario["hosts"] if h.get("sshd") == "stopped")
    records = dict(((s["backend"], s["server"]), s) for s in report["servers"])
    problems = []
    checked = 0
    for backend in scenario["haproxy"]["backends"]:
        for expected in backend["servers"]:
            record = records.get((backend["name"], expected["name"]))
            if record is None or record["verdict"] != expected["expect"]:
                continue  # the verdict check names it
            checked += 1
            problems += ["%s/%s: %s" % (backend["name"], expected["name"], p) for p in check_server(expected, record, lb_address, unreachable_hosts)]
    for problem in problems:
        print(problem)
    print("evidence and fix checked on %d servers: %d problem(s)" % (checked, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
