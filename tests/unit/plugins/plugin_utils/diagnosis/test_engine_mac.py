"""SELinux/AppArmor in the engine, with denials parsed from real audit records
(tests/unit/fixtures/mac, sources in its README; ../shared/corpus/selinux, sources in SOURCES.md)."""

from builders import LB, backend_result, lb_result, listener, probe_result, server, stat

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_selinux import parse_avc_denials
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.engine import diagnose

WEB = "198.18.0.12"


def _report(lb_mac, backend, port):
    lb = lb_result([server("web2", WEB, port, 31)], [stat("web", "web2", "DOWN", "L4CON", "Connection refused")])
    if lb_mac is not None:
        lb["ansible_facts"]["lbdoctor_haproxy"]["mac"] = lb_mac
    report = diagnose({LB: lb}, {"web2": backend}, probe_results={LB: probe_result([(WEB, port, "refused", "ECONNREFUSED")])},
                      generated_at="2026-11-25T17:00:00Z")
    return report["servers"][0]


def test_socket_unit_inactive_behind_an_selinux_bind_denial(fixture_text):
    # cockpit's socket unit: systemd itself was denied name_bind on tcp/1001 (cockpit PR #609).
    denials = parse_avc_denials(fixture_text("mac/audit-cockpit-name_bind-no-permissive.txt"))
    mac = {"selinux": {"mode": "enforcing", "booleans": {}, "ports": [], "denials": denials}}
    sockets = [{"unit": "cockpit.socket", "listen": ["[::]:1001"], "ActiveState": "failed", "SubState": "failed",
                "service": "cockpit.service", "UnitFileState": "enabled"}]
    record = _report(None, backend_result(WEB, [], socket_units=sockets, mac=mac), 1001)
    assert [f["cause"] for f in record["findings"]] == ["selinux_denied", "socket_unit_inactive"]
    selinux = record["findings"][0]
    assert "name_bind" in selinux["evidence"][0]["text"]
    assert "cannot bind its port" in selinux["summary"]
    # No port type is known to be bindable by cockpit_ws_t: the fix says how to find one, by hand.
    assert selinux["fix"]["commands"][0][:2] == ["sesearch", "--allow"]
    assert selinux["fix"]["automatic"] is False
    assert record["findings"][1]["fix"]["commands"][0] == ["systemctl", "start", "cockpit.socket"]


def test_a_non_network_denial_of_haproxy_is_not_blamed(corpus_text):
    # HAProxy 2.4 reading sysfs, denied (fedora-selinux PR #882): nothing to do with the refusal.
    denials = parse_avc_denials(corpus_text("selinux/issue-fedora-selinux-policy-pr882-haproxy-ausearch-i.txt"))
    assert denials and denials[0]["comm"] == "haproxy"
    lb_mac = {"selinux": {"mode": "enforcing", "booleans": {"haproxy_connect_any": {"current": True, "pending": True}},
                          "ports": [], "denials": denials}}
    record = _report(lb_mac, backend_result(WEB, [listener("127.0.0.1", 8080)]), 8080)
    assert [f["cause"] for f in record["findings"]] == ["bound_to_loopback"]
