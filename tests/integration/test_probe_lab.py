"""The load balancer's own view against real faults (issue 3), on lab/scenarios/probe-lab.yml:

* tcp_probe on the lb classifies open (web1-8080), refused (web1-8081: nothing listens), timeout
  (web2-8080: iptables DROP) and unreachable (web2-8081: REJECT icmp-host-prohibited), with the
  errno and the elapsed milliseconds;
* haproxy_facts on the real lb: every server with its file:line, `show stat` parsed, `haproxy -c`
  run, journald scanned (the last transition of a DOWN server);
* with HAProxy stopped, runtime.available is false with the reason, and the playbook still gives
  a verdict per server from the host facts and the probe (config-only diagnosis).

Module calls go through pytest-ansible's ansible_adhoc fixture (deprecated upstream, kept to
tests/integration).
"""

import os
import re

import pytest

from conftest import Lab, running_lab

STATE = "/var/tmp/lbdoctor-integration-lbp"  # own state: the other integration labs may be up
LAB = Lab(STATE)
INVENTORY = LAB.inventory
PROBE_TIMEOUT = 2.0
EXPECTED = {  # server -> (probe result, errno, HAProxy state, check_status, verdict without runtime)
    "web1-8080": ("open", None, "UP", "L4OK", "healthy"),
    "web1-8081": ("refused", "ECONNREFUSED", "DOWN", "L4CON", "no_listener"),
    "web2-8080": ("timeout", None, "DOWN", "L4TOUT", "firewall_drop"),
    "web2-8081": ("unreachable", "EHOSTUNREACH", "DOWN", "L4TOUT", "firewall_reject"),
    "web2-8082": ("refused", "ECONNREFUSED", "DOWN", "L4CON", "service_stopped"),
}


@pytest.fixture(scope="module")
def scenario():
    with running_lab("probe-lab.yml", STATE) as running:
        yield running.scenario


def lb_module(ansible_adhoc, name, **args):
    lb = ansible_adhoc(inventory=INVENTORY, host_pattern="lb")["lb"]
    result = getattr(lb, name)(**args)["lb"]
    assert not result.get("failed") and not result.get("unreachable"), result
    return result


def haproxy_facts(ansible_adhoc):
    return lb_module(ansible_adhoc, "lbdoctor.haproxy.haproxy_facts")["ansible_facts"]["lbdoctor_haproxy"]


def test_probe_classifies_real_faults(scenario, ansible_adhoc):
    servers = [s for s in scenario["servers"] if s["name"] in EXPECTED]
    targets = [{"address": s["address"], "port": s["port"]} for s in servers]
    result = lb_module(ansible_adhoc, "lbdoctor.haproxy.tcp_probe", targets=targets, timeout=PROBE_TIMEOUT)
    lb_address = [h["address"] for h in scenario["hosts"] if h["name"] == "lb"][0]
    for server, probe in zip(servers, result["results"]):
        outcome, errno, _state, _check, _verdict = EXPECTED[server["name"]]
        assert (probe["address"], probe["port"]) == (server["address"], server["port"])
        assert (probe["result"], probe["errno"]) == (outcome, errno), (server["name"], probe)
        assert probe["source_address"] == lb_address
        if outcome == "timeout":
            # DROP: no answer at all, so the whole timeout went by
            assert PROBE_TIMEOUT * 1000 * 0.95 <= probe["elapsed_ms"] < PROBE_TIMEOUT * 1000 + 1000, probe
        else:
            # a handshake, a RST or an ICMP error comes back at once inside one bridge
            assert 0 <= probe["elapsed_ms"] < 500, probe
    assert result["summary"] == {"open": 1, "refused": 2, "timeout": 1, "unreachable": 1, "error": 0}


def test_haproxy_facts_on_the_real_lb(scenario, ansible_adhoc):
    facts = haproxy_facts(ansible_adhoc)
    config = facts["config"]
    assert config["source"] == "cmdline" and config["files"] == ["/etc/haproxy/haproxy.cfg"]
    with open(os.path.join(STATE, "hosts", "lb", "root", "etc", "haproxy", "haproxy.cfg")) as handle:
        cfg_lines = handle.read().splitlines()
    servers = dict((s["name"], s) for b in config["backends"] for s in b["servers"])
    assert set(servers) == set(EXPECTED) | {"api1-9080", "api2-9080"}
    for name, record in servers.items():
        assert record["file"] == "/etc/haproxy/haproxy.cfg"
        assert re.match(r"\s*server %s \S+:%d\b" % (re.escape(name), record["port"]), cfg_lines[record["line"] - 1]), \
            (name, record["line"])

    validation = config["validation"]
    assert validation["ran"] is True and validation["command"][:2] == ["/usr/sbin/haproxy", "-c"]
    assert (validation["rc"], validation["valid"]) == (0, True), validation

    runtime = facts["runtime"]
    assert runtime["available"] is True and runtime["error"] is None
    rows = dict((row["svname"], row) for row in runtime["stat"] if row["pxname"] == "web")
    for name, (_outcome, _errno, state, check_status, _verdict) in EXPECTED.items():
        assert (rows[name]["state"], rows[name]["check_status"]) == (state, check_status), rows[name]
    assert rows["web1-8081"]["last_chk"] == "Connection refused"

    logs = facts["logs"]
    assert logs["source"].startswith("journalctl -u haproxy.service")
    down = logs["servers"]["web/web1-8081"]
    assert (down["last_state"], down["last_reason"], down["last_info"]) == \
        ("DOWN", "Layer4 connection problem", "Connection refused")
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", down["last_transition"])
    assert any("web/web1-8081 is DOWN" in line for line in down["lines"])
    assert logs["servers"]["web/web2-8080"]["last_reason"] == "Layer4 timeout"
    # a server that was DOWN while its host booted and came UP: the newest transition counts
    healthy = logs["servers"].get("web/web1-8080")
    assert healthy is None or healthy["last_state"] == "UP", healthy


def test_runtime_unavailable_still_gives_a_config_only_diagnosis(scenario, ansible_adhoc, tmp_path):
    LAB.exec("lb", "systemctl", "stop", "haproxy.service")
    try:
        facts = haproxy_facts(ansible_adhoc)
        runtime = facts["runtime"]
        assert runtime["available"] is False and runtime["stat"] == []
        assert "/run/haproxy/admin.sock" in runtime["error"] and "not running" in runtime["error"], runtime["error"]
        assert any(u["what"] == "runtime" for u in facts["unavailable"])
        # the configuration is still read (from the unit now that no process runs) and validated
        assert facts["config"]["source"] == "unit" and facts["config"]["validation"]["valid"] is True
        assert len(facts["config"]["backends"][0]["servers"]) == len(EXPECTED)

        report, _out = LAB.diagnose(tmp_path)
        records = dict((s["server"], s) for s in report["servers"])
        for name, (outcome, _errno, _state, _check, verdict) in EXPECTED.items():
            record = records[name]
            assert record["verdict"] == verdict, (name, record)
            assert record["haproxy"]["status"] is None and "not running" in record["haproxy"]["runtime_error"]
            assert record["probe"]["result"] == outcome, (name, record["probe"])
        # without HAProxy's view, the HTTP check emulated from the config stands in for its check
        assert records["api1-9080"]["verdict"] == "healthy", records["api1-9080"]
        assert records["api2-9080"]["verdict"] == "unknown", records["api2-9080"]
    finally:
        LAB.exec("lb", "systemctl", "start", "haproxy.service")


def test_an_http_check_answered_503_is_l7sts_for_haproxy_and_the_probe_and_no_connection_fault(scenario, tmp_path):
    """`option httpchk GET /`: api2's app answers 503. HAProxy says L7STS; the probe, running the
    check built from the configuration, says the same; the port opens, so no connection fault is
    blamed and the verdict is unknown with the status as evidence."""
    report, _out = LAB.diagnose(tmp_path)
    records = dict((s["server"], s) for s in report["servers"])
    ok, bad = records["api1-9080"], records["api2-9080"]
    assert (ok["verdict"], ok["haproxy"]["check_status"], ok["check_probe"]["http"]["result"]) == ("healthy", "L7OK", "L7OK"), ok
    assert (bad["haproxy"]["status"], bad["haproxy"]["check_status"]) == ("DOWN", "L7STS"), bad["haproxy"]
    assert (bad["probe"]["result"], bad["check_probe"]["http"]["result"], bad["check_probe"]["http"]["status"]) == \
        ("open", "L7STS", 503), bad["check_probe"]
    assert bad["cross_check"]["layer"] == "L7" and bad["cross_check"]["agree"] is True, bad["cross_check"]
    assert bad["verdict"] == "unknown" and [f["cause"] for f in bad["findings"]] == ["unknown"]
    assert any("HTTP check fails with status 503" in ev["text"] for ev in bad["findings"][0]["evidence"]), bad["findings"]
