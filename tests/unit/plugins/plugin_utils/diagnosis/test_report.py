"""Renderings of the report for people: the console table and report.md."""

from builders import LB, backend_result, lb_result, listener, server, stat, unit_state

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.engine import diagnose
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.report import render_markdown, table_lines


def _report():
    units = {"app.service": unit_state("inactive", "dead", journal=["Stopped app.service.", "second | line"])}
    return diagnose(
        {LB: lb_result([server("web1", "198.18.0.11", 8080, 30), server("web2", "198.18.0.12", 8080, 31)],
                       [stat("web", "web1", "UP", "L4OK"), stat("web", "web2", "DOWN", "L4CON", "Connection refused")])},
        {"web1": backend_result("198.18.0.11", [listener("0.0.0.0", 8080)]),
         "web2": backend_result("198.18.0.12", [], units=units)},
        unit_map={"web": "app.service"}, generated_at="2026-11-25T17:00:00Z")


def test_table_has_one_aligned_line_per_server_and_totals():
    lines = table_lines(_report())
    assert lines[0].split()[:5] == ["LB", "SERVER", "ADDRESS", "HOST", "VERDICT"]
    assert len(lines) == 4
    assert "web/web1" in lines[1] and "healthy" in lines[1]
    assert "service_stopped" in lines[2] and "Connection refused" in lines[2]
    assert lines[1].index("healthy") == lines[2].index("service_stopped")
    assert lines[3] == "2 servers: 1 healthy, 1 not healthy (healthy 1, service_stopped 1)"


def test_table_shows_every_further_finding_under_its_server():
    from builders import unit_state as state

    units = {"app.service": state("inactive", "dead")}
    firewall = {"iptables_save": "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 8080 -j DROP\nCOMMIT\n"}
    report = diagnose({LB: lb_result([server("web2", "198.18.0.12", 8080, 31)], [stat("web", "web2", "DOWN", "L4TOUT")])},
                      {"web2": backend_result("198.18.0.12", [], units=units, firewall=firewall)},
                      unit_map={"web": "app.service"}, inventory_addresses={LB: "198.18.0.2"}, generated_at="now")
    lines = table_lines(report)
    assert "firewall_drop" in lines[1]
    assert lines[2].strip().startswith("+ service_stopped: app.service on web2 is inactive (dead)")
    assert lines[2].index("+") == lines[1].index("firewall_drop")


def test_markdown_lists_findings_with_evidence_and_fix_commands():
    text = render_markdown(_report())
    assert text.startswith("# lbdoctor diagnosis\n")
    assert "| lb1 | web/web2 | 198.18.0.12:8080 | web2 | DOWN L4CON | **service_stopped** |" in text
    assert "## web/web2 on lb1: `service_stopped`" in text
    assert "`systemctl start app.service` on web2" in text
    assert "second | line" in text  # multi-line evidence kept verbatim in a code block
    assert "## web/web1" not in text  # healthy servers have no findings section


def test_probe_targets_are_unique_in_config_order_with_check_ports():
    from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.targets import probe_targets

    servers = [server("a", "198.18.0.11", 3306, 30, check_port=9200), server("b", "198.18.0.11", 3306, 31),
               server("sock", "/run/app.sock", None, 32, family="unix"), server("c", "198.18.0.12", 8080, 33, source="198.18.0.2")]
    targets = probe_targets([lb_result(servers, []), {"unreachable": True}])
    assert targets == [{"address": "198.18.0.11", "port": 3306}, {"address": "198.18.0.11", "port": 9200},
                       {"address": "198.18.0.12", "port": 8080, "source": "198.18.0.2"}]


def test_probe_is_cross_checked_with_haproxys_last_check():
    from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.report import cross_check

    assert cross_check({"check_status": "L4CON"}, {"result": "refused"})["agree"] is True
    assert cross_check({"check_status": "* L4TOUT"}, {"result": "unreachable"}) == {
        "haproxy": "L4TOUT", "probe": "unreachable", "agree": True}
    disagreement = cross_check({"check_status": "L4OK"}, {"result": "refused"})
    assert disagreement["agree"] is False and "intermittent" in disagreement["note"]
    assert cross_check({"check_status": "L7STS"}, {"result": "open"})["agree"] is True
    assert cross_check({}, {"result": "open"})["agree"] is None


# --- Layer 7: the probe's emulated HTTP check against HAProxy's L7 codes -----------------------

def _http(result, status, reason=None, ok=None):
    return {"request": "GET /health HTTP/1.1", "status": status, "result": result,
            "ok": (result in ("L7OK", "L7OKC")) if ok is None else ok, "reason": reason}


def test_cross_check_compares_layer_7_codes_with_the_probes_http_result():
    from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.report import cross_check

    sts = {"result": "open", "http": _http("L7STS", 503, "HTTP status 503 (Service Unavailable)")}
    assert cross_check({"check_status": "L7STS"}, sts) == {
        "haproxy": "L7STS", "probe": "open", "agree": True, "layer": "L7", "http": "L7STS", "http_status": 503}
    # HAProxy passed its last check but the application answers 503 now
    record = cross_check({"check_status": "L7OK"}, sts)
    assert record["agree"] is False and "503" in record["note"]
    # a body rule failing (L7RSP) is not the status failure HAProxy saw
    assert cross_check({"check_status": "L7STS"}, {"result": "open", "http": _http("L7RSP", 200)})["agree"] is False
    assert cross_check({"check_status": "L7OKC"}, {"result": "open", "http": _http("L7OK", 200)})["agree"] is True
    # the probe saw the port refused: the Layer-4 comparison, as before
    assert cross_check({"check_status": "L7STS"}, {"result": "refused", "http": _http(None, None)})["agree"] is False


def test_cross_check_says_when_only_the_tcp_connect_was_compared():
    from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.report import cross_check

    tls = {"result": "open", "http": {"request": None, "status": None, "result": "not_emulated", "ok": None,
                                      "reason": "the check runs over TLS (ssl / check-ssl): not emulated"}}
    record = cross_check({"check_status": "L7STS"}, tls)
    assert (record["agree"], record["layer"]) == (True, "L4")
    assert "over TLS" in record["note"]


def test_cross_check_uses_the_probe_of_the_check_target():
    from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.report import cross_check

    # `check port 9200`: the traffic port is open, the check port refused, as HAProxy says
    assert cross_check({"check_status": "L4CON"}, {"result": "open"}, {"result": "refused"})["agree"] is True
    assert cross_check({"check_status": "L4CON"}, {"result": "open"})["agree"] is False


def _l7_report(probe_http, check_status="L7STS", last_chk="Service Unavailable", logs=None, status="DOWN"):
    lb = lb_result([server("web1", "198.18.0.11", 8080, 30)], [stat("web", "web1", status, check_status, last_chk)])
    if logs is not None:
        lb["ansible_facts"]["lbdoctor_haproxy"]["logs"] = logs
    probes = {LB: {"results": [dict({"address": "198.18.0.11", "port": 8080, "source": None, "result": "open",
                                     "errno": None, "elapsed_ms": 0.4, "error": None, "family": "ipv4",
                                     "resolved_address": "198.18.0.11", "source_address": "198.18.0.2",
                                     "id": "web/web1"}, **({"http": probe_http} if probe_http else {}))]}}
    return diagnose({LB: lb}, {"web1": backend_result("198.18.0.11", [listener("0.0.0.0", 8080)])},
                    probe_results=probes, generated_at="now")


def test_an_open_port_with_a_failing_http_check_stays_unknown_with_the_status_as_evidence():
    report = _l7_report(_http("L7STS", 503, "HTTP status 503 (Service Unavailable) fails 'expect status 200-399'"))
    record = report["servers"][0]
    assert record["verdict"] == "unknown"  # no connection fault: the application says 503
    assert record["check_probe"]["http"]["result"] == "L7STS"
    assert record["cross_check"]["layer"] == "L7" and record["cross_check"]["agree"] is True
    evidence = dict((ev["source"], ev["text"]) for ev in record["findings"][0]["evidence"])
    assert evidence["HTTP check emulated from lb1 to 198.18.0.11:8080"].startswith(
        "the TCP connect opens but the HTTP check fails with status 503: L7STS: GET /health HTTP/1.1 -> 503")
    text = render_markdown(report)
    assert "- HTTP check emulated from lb1 to 198.18.0.11:8080: `L7STS: GET /health HTTP/1.1 -> 503" in text
    assert "- cross-check: HAProxy L7STS, probe open / HTTP L7STS: agree" in text


def test_a_passing_http_check_is_not_called_a_failure():
    record = _l7_report(_http("L7OK", 200), check_status="L7OK", last_chk="", status="UP")["servers"][0]
    assert record["verdict"] == "healthy" and record["cross_check"]["agree"] is True


# --- the HAProxy log in each server's record and evidence ---------------------------------------

LOGS = {
    "source": "journalctl -u haproxy.service -o short-iso", "sources": [], "window_minutes": 60,
    "since": "2026-11-25T16:30:00", "events": 3,
    "servers": {"web/web1": {
        "backend": "web", "server": "web1", "last_transition": "2026-11-25T17:03:24+0000", "last_state": "DOWN",
        "last_reason": "Layer7 wrong status", "last_info": "Service Unavailable", "checks_failed": 3,
        "checks_succeeded": 0, "last_check": "2026-11-25T17:03:23+0000", "last_check_reason": "Layer7 wrong status",
        "last_check_info": "Service Unavailable", "traffic_errors": {"SC": 0, "sC": 0},
        "lines": ["2026-11-25T17:03:23+0000 lb1 haproxy[812]: Health check for server web/web1 failed, reason: Layer7 "
                  "wrong status, code: 503, info: \"Service Unavailable\", check duration: 1ms, status: 0/2 DOWN.",
                  "2026-11-25T17:03:24+0000 lb1 haproxy[812]: Server web/web1 is DOWN, reason: Layer7 wrong status, "
                  "code: 503, info: \"Service Unavailable\", check duration: 1ms."]}},
    "backends": {"web": {"no_server_available": "2026-11-25T17:03:24+0000", "lines": []}},
}


def test_server_record_carries_the_log_and_its_last_transition():
    record = _l7_report(_http("L7STS", 503, "HTTP status 503"), logs=LOGS)["servers"][0]
    log = record["log"]
    assert (log["last_transition"], log["last_state"], log["last_reason"]) == (
        "2026-11-25T17:03:24+0000", "DOWN", "Layer7 wrong status")
    assert log["lines"] == LOGS["servers"]["web/web1"]["lines"]
    assert log["backend_no_server_available"] == "2026-11-25T17:03:24+0000"
    assert (log["source"], log["window_minutes"]) == ("journalctl -u haproxy.service -o short-iso", 60)
    # the latest lines are evidence of the finding that names the verdict
    last = record["findings"][0]["evidence"][-1]
    assert last["source"] == ("HAProxy log on lb1 (journalctl -u haproxy.service -o short-iso), last transition "
                              "2026-11-25T17:03:24+0000 to DOWN")
    assert last["text"].splitlines() == LOGS["servers"]["web/web1"]["lines"]


def test_log_in_report_markdown():
    text = render_markdown(_l7_report(_http("L7STS", 503, "HTTP status 503"), logs=LOGS))
    assert ("- HAProxy log: last transition 2026-11-25T17:03:24+0000 to DOWN (Layer7 wrong status, "
            "Service Unavailable)") in text
    assert "Server web/web1 is DOWN, reason: Layer7 wrong status" in text  # the lines, as evidence


def test_log_not_read_and_log_silent_about_a_server_are_told_apart():
    assert _l7_report(None)["servers"][0]["log"] == {}
    silent = dict(LOGS, servers={}, backends={})
    record = _l7_report(None, logs=silent)["servers"][0]
    assert record["log"]["lines"] == [] and record["log"]["last_transition"] is None
    assert record["log"]["source"] == LOGS["source"]
    assert not any(ev["source"].startswith("HAProxy log") for ev in record["findings"][0]["evidence"])
    assert "- HAProxy log: nothing about this server in the last 60 minutes" in render_markdown(
        _l7_report(None, logs=silent))


def test_a_healthy_server_keeps_its_log_but_gets_no_finding():
    healthy = dict(LOGS["servers"]["web/web1"], last_state="UP", last_reason="Layer7 check passed")
    record = _l7_report(_http("L7OK", 200), check_status="L7OK", status="UP",
                        logs=dict(LOGS, servers={"web/web1": healthy}))["servers"][0]
    assert record["verdict"] == "healthy" and record["findings"] == []
    assert record["log"]["last_state"] == "UP"


def test_another_servers_http_check_at_the_same_address_is_not_this_servers():
    # web/web1 is HTTP-checked at 198.18.0.11:8080; tcp/t1 (a TCP check) shares the address and
    # port, so the only probe there is web1's: t1 keeps its TCP connect, not web1's HTTP result
    lb = lb_result([server("web1", "198.18.0.11", 8080, 30)],
                   [stat("web", "web1", "DOWN", "L7STS", "Service Unavailable"), stat("tcp", "t1", "UP", "L4OK")])
    lb["ansible_facts"]["lbdoctor_haproxy"]["config"]["backends"].append(
        {"name": "tcp", "kind": "backend", "file": "/etc/haproxy/haproxy.cfg", "line": 40,
         "servers": [server("t1", "198.18.0.11", 8080, 41)]})
    probes = {LB: {"results": [{"address": "198.18.0.11", "port": 8080, "source": None, "result": "open", "errno": None,
                                "elapsed_ms": 0.4, "error": None, "family": "ipv4", "resolved_address": "198.18.0.11",
                                "source_address": "198.18.0.2", "id": "web/web1",
                                "http": _http("L7STS", 503, "HTTP status 503"), "http_status": 503, "http_ok": False,
                                "http_error": "HTTP status 503"}]}}
    report = diagnose({LB: lb}, {"web1": backend_result("198.18.0.11", [listener("0.0.0.0", 8080)])},
                      probe_results=probes, generated_at="now")
    web1, t1 = report["servers"]
    assert web1["check_probe"]["http"]["result"] == "L7STS"
    assert (t1["probe"]["result"], "http" in t1["probe"], "id" in t1["probe"]) == ("open", False, False)
    assert "http" not in t1["check_probe"] and t1["cross_check"] == {"haproxy": "L4OK", "probe": "open", "agree": True}


def test_without_haproxys_runtime_a_failing_emulated_http_check_is_not_healthy():
    """With no runtime state the probe stands in for HAProxy's check; an open port whose emulated
    HTTP check fails is not a server that serves."""
    lb = lb_result([server("web1", "198.18.0.11", 8080, 30)], [], runtime_available=False)
    for http, verdict in ((_http("L7STS", 503, "HTTP status 503"), "unknown"), (_http("L7OK", 200), "healthy"), (None, "healthy")):
        probes = {LB: {"results": [dict({"address": "198.18.0.11", "port": 8080, "source": None, "result": "open",
                                         "errno": None, "elapsed_ms": 0.4, "id": "web/web1"}, **({"http": http} if http else {}))]}}
        report = diagnose({LB: lb}, {"web1": backend_result("198.18.0.11", [listener("0.0.0.0", 8080)])},
                          probe_results=probes, generated_at="now")
        assert report["servers"][0]["verdict"] == verdict, (http, report["servers"][0])
