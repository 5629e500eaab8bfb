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
