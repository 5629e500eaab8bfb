"""Every firewall verdict through every tool that writes the rules (issue 5, "Lab tests for each
verdict with iptables, nft, firewalld and ufw"): lab/scenarios/firewall-verdicts.yml (prefix lbv,
198.18.8.0/24) puts each tool on a host of its own, with a REJECT and a DROP the load balancer
meets and a decoy REJECT for another source on a healthy port. The playbook must report
firewall_reject / firewall_drop naming the deciding rule, never blame the decoy, and propose
the fix through the tool that owns the rules (firewall-cmd, ufw) for the LB's address and the
one port.
"""

import os
import subprocess
import sys
import time

import pytest

from conftest import REPO, running_lab

LAB_PY = os.path.join(REPO, "lab", "lab.py")
STATE = os.path.join(REPO, ".lab-integration-lbv")


@pytest.fixture(scope="module")
def verdicts_lab():
    with running_lab("firewall-verdicts.yml", STATE) as lab:
        yield lab


@pytest.fixture(scope="module")
def report(verdicts_lab, tmp_path_factory):
    data, _out = verdicts_lab.diagnose(tmp_path_factory.mktemp("firewall-verdicts"))
    return dict((s["server"], s) for s in data["servers"])


def only_finding(record, cause):
    assert record["verdict"] == cause, record
    assert [f["cause"] for f in record["findings"]] == [cause], record["findings"]
    return record["findings"][0]


def evidence_text(finding, source_prefix):
    return [e["text"] for e in finding["evidence"] if e["source"].startswith(source_prefix)]


# (server, cause, text of the deciding rule as the ruleset shows it, where the rule lives)
CASES = [
    ("ipt-reject", "firewall_reject", "-A INPUT -p tcp -m tcp --dport 8001 -j REJECT --reject-with icmp-host-prohibited",
     "iptables filter INPUT"),
    ("ipt-drop", "firewall_drop", "-A INPUT -p tcp -m tcp --dport 8002 -j DROP", "iptables filter INPUT"),
    ("nft-reject", "firewall_reject", "tcp dport 8001 reject with tcp reset", "nft filter input"),
    ("nft-drop", "firewall_drop", "tcp dport 8002 drop", "nft filter input"),
    ("fwd-closed", "firewall_reject", "reject with icmpx admin-prohibited", "nft firewalld filter_IN_public"),
    ("ufw-reject", "firewall_reject", "-A ufw-user-input -p tcp -m tcp --dport 8001 -j REJECT --reject-with tcp-reset",
     "iptables filter ufw-user-input"),
    ("ufw-deny", "firewall_drop", "-A ufw-user-input -p tcp -m tcp --dport 8002 -j DROP", "iptables filter ufw-user-input"),
]


@pytest.mark.parametrize("server,cause,rule,chain", CASES, ids=[c[0] for c in CASES])
def test_each_verdict_names_the_deciding_rule(report, verdicts_lab, server, cause, rule, chain):
    finding = only_finding(report[server], cause)
    deciding = evidence_text(finding, "deciding rule on ")
    assert len(deciding) == 1 and deciding[0].startswith(chain) and deciding[0].endswith(": " + rule), deciding
    assert rule in finding["summary"]
    # The kernel's answer seen from the LB agrees with what the rule predicts.
    assert any("as this rule predicts" in text for text in evidence_text(finding, "probe cross-check")), finding["evidence"]
    assert finding["fix"]["action"] == "open_port" and finding["fix"]["automatic"] is True
    assert finding["fix"]["source"] == verdicts_lab.host_address("lb")


def test_a_firewalld_drop_rich_rule_is_named_and_the_fix_sorts_before_it(report, verdicts_lab):
    """The port is open in the zone; a rich rule drops it for every source. firewalld runs deny
    rich rules before allows, so only an accept with a negative priority lets the LB in."""
    finding = only_finding(report["fwd-drop"], "firewall_drop")
    deciding = evidence_text(finding, "deciding rule on ")
    assert len(deciding) == 1 and deciding[0].startswith("nft firewalld filter_IN_public"), deciding
    assert "8002" in deciding[0] and deciding[0].endswith("drop"), deciding
    lb = verdicts_lab.host_address("lb")
    rule = 'rule priority="-1" family="ipv4" source address="%s/32" port port="8002" protocol="tcp" accept' % lb
    assert finding["fix"]["tool"] == "firewall-cmd" and finding["fix"]["commands"][0] == [
        "firewall-cmd", "--zone=public", "--add-rich-rule=" + rule]


def test_a_port_opened_through_a_firewalld_service_definition_is_healthy(report):
    assert (report["fwd-service"]["verdict"], report["fwd-service"]["findings"]) == ("healthy", [])


@pytest.mark.parametrize("server", ["ipt-decoy", "nft-decoy", "fwd-decoy", "ufw-decoy"])
def test_a_decoy_reject_for_another_source_is_not_blamed(report, verdicts_lab, server):
    record = report[server]
    assert record["verdict"] == "healthy", record
    assert record["findings"] == []
    decoy = verdicts_lab.server(server)["faults"][0]
    assert decoy["type"] == "decoy_reject" and decoy["source"] != verdicts_lab.host_address("lb")


def test_firewalld_fix_is_one_rich_rule_for_the_lb_and_the_port(report, verdicts_lab):
    fix = report["fwd-closed"]["findings"][0]["fix"]
    lb = verdicts_lab.host_address("lb")
    rule = 'rule family="ipv4" source address="%s/32" port port="8001" protocol="tcp" accept' % lb
    assert fix["tool"] == "firewall-cmd" and fix["zone"] == "public"
    assert fix["commands"] == [["firewall-cmd", "--zone=public", "--add-rich-rule=" + rule],
                               ["firewall-cmd", "--permanent", "--zone=public", "--add-rich-rule=" + rule]]


def test_ufw_fix_is_inserted_before_the_blocking_rule(report, verdicts_lab):
    lb = verdicts_lab.host_address("lb")
    ufw = verdicts_lab.host_address("ufw")
    for server, number, port in (("ufw-reject", "2", "8001"), ("ufw-deny", "3", "8002")):
        fix = report[server]["findings"][0]["fix"]
        assert fix["tool"] == "ufw"
        # ufw numbers its rules as `ufw status numbered` shows them: the decoy is 1.
        assert fix["commands"] == [["ufw", "insert", number, "allow", "from", lb, "to", ufw, "port", port, "proto", "tcp"]]


@pytest.mark.parametrize("server,rule", [
    ("ipt-redirect", "iptables nat PREROUTING #1: -A PREROUTING -p tcp -m tcp --dport 8004 -j REDIRECT --to-ports 15001"),
    ("nft-redirect", "nft nat prerouting #1: tcp dport 8004 redirect to :15001"),
])
def test_a_redirect_to_a_port_where_no_sidecar_listens(report, verdicts_lab, server, rule):
    """What a mesh's init container leaves behind without its sidecar: HAProxy sees "Connection
    refused" from the redirected port; the diagnosis names the redirect and where it goes."""
    finding = only_finding(report[server], "sidecar_redirect")
    assert evidence_text(finding, "redirecting rule on ") == [rule]
    host = verdicts_lab.server(server)["host"]
    assert "to %s:15001 where nothing listens" % verdicts_lab.host_address(host) in finding["summary"]
    assert finding["fix"]["action"] == "manual" and finding["fix"]["commands"] == []


def test_iptables_and_nft_fixes_use_the_tool_holding_the_rule(report):
    assert report["ipt-reject"]["findings"][0]["fix"]["commands"][0][:6] == ["iptables", "-t", "filter", "-I", "INPUT", "1"]
    assert report["nft-drop"]["findings"][0]["fix"]["commands"][0][:6] == ["nft", "insert", "rule", "inet", "filter", "input"]


def test_applying_the_proposed_fixes_brings_every_server_up(report, verdicts_lab, tmp_path):
    """The fix commands are real: run each on its host and HAProxy sees every server UP (but the
    redirects, whose fix is manual)."""
    for server, record in sorted(report.items()):
        for finding in record["findings"]:
            if not finding["fix"]["automatic"]:
                continue
            for argv in finding["fix"]["commands"]:
                proc = subprocess.run([sys.executable, LAB_PY, "--state", STATE, "exec", finding["fix"]["host"], "--"] + argv,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
                assert proc.returncode == 0, (server, argv, proc.stdout)
    down = None
    for _i in range(20):
        out = verdicts_lab.exec("lb", "sh", "-c", "echo 'show stat' | socat stdio /run/haproxy/admin.sock")
        lines = out.splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","))) for line in lines[1:] if line]
        down = [(r["svname"], r["status"]) for r in rows if r.get("pxname") == "fw" and r["svname"] not in ("BACKEND", "FRONTEND")
                and not r["status"].startswith("UP") and not r["svname"].endswith("-redirect")]
        if not down:
            break
        time.sleep(1)
    assert not down, down
