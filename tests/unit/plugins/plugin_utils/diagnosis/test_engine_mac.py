"""SELinux/AppArmor in the engine, with denials parsed from real audit records
(tests/unit/fixtures/mac, sources in its README; ../shared/corpus/selinux, sources in SOURCES.md)."""

from builders import LB, backend_result, lb_result, listener, probe_result, server, stat

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_apparmor import parse_apparmor_denials
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


def _selinux_facts(ports, denials=()):
    # HAProxy and httpd on an enforcing host; the port labels of the lab's stand-ins
    # (lab/standins/data/semanage-port-l-n.out: every port here is unreserved_port_t).
    return {"selinux": {"mode": "enforcing",
                        "booleans": {"haproxy_connect_any": False, "httpd_can_network_connect": False, "nis_enabled": False},
                        "ports": [{"port": p, "proto": "tcp", "type": "unreserved_port_t", "source": "policy"} for p in ports],
                        "processes": [{"pid": 321, "process": "haproxy", "type": "haproxy_t"},
                                      {"pid": 10, "process": "nginx", "type": "httpd_t"}],
                        "denials": list(denials)}}


def _lab_view(check_status, last_chk, listeners, lb_mac=None, backend_mac=None, status="DOWN"):
    lb = lb_result([server("web2", WEB, 8500, 31)], [stat("web", "web2", status, check_status, last_chk)])
    if lb_mac is not None:
        lb["ansible_facts"]["lbdoctor_haproxy"]["mac"] = lb_mac
    report = diagnose({LB: lb}, {"web2": backend_result(WEB, listeners, mac=backend_mac)},
                      generated_at="2026-11-25T17:00:00Z")
    return report["servers"][0]


def test_a_predicted_lb_denial_needs_a_check_that_could_have_been_denied():
    mac = _selinux_facts([8500])
    # A denied connect fails at once with EACCES; HAProxy's check then never reached the server.
    record = _lab_view("L4CON", "Permission denied", [listener("0.0.0.0", 8500)], lb_mac=mac)
    assert record["verdict"] == "selinux_denied"
    assert "predicted" in record["findings"][0]["summary"]
    # A passed check, a timeout and a peer's refusal all mean the SYN left the load balancer.
    assert _lab_view("L4OK", "", [listener("0.0.0.0", 8500)], lb_mac=mac, status="UP")["verdict"] == "healthy"
    assert _lab_view("L4TOUT", "", [listener("0.0.0.0", 8500)], lb_mac=mac)["verdict"] == "unknown"
    refused = _lab_view("L4CON", "Connection refused", [], lb_mac=mac)
    assert [f["cause"] for f in refused["findings"]] == ["no_listener"]


def test_an_observed_lb_denial_stays_with_the_contradiction_as_a_note():
    denials = parse_avc_denials(
        'type=AVC msg=audit(1795628364.590:28365): avc:  denied  { name_connect } for  pid=4242 comm="haproxy" '
        'dest=8500 scontext=system_u:system_r:haproxy_t:s0 tcontext=system_u:object_r:unreserved_port_t:s0 '
        'tclass=tcp_socket permissive=0\n')
    record = _lab_view("L4OK", "", [listener("0.0.0.0", 8500)], lb_mac=_selinux_facts([8500], denials), status="UP")
    assert record["verdict"] == "selinux_denied"
    texts = [e["text"] for e in record["findings"][0]["evidence"]]
    assert any("name_connect" in t for t in texts)
    assert any("L4OK" in t and "predate" in t for t in texts)
    assert record["findings"][0]["fix"]["commands"] == [["semanage", "port", "-a", "-t", "http_port_t", "-p", "tcp", "8500"]]


def test_a_predicted_bind_denial_is_dropped_when_the_port_is_bound():
    mac = _selinux_facts([8500])
    mac["selinux"]["processes"] = [{"pid": 10, "process": "nginx", "type": "httpd_t"}]
    # nothing listens: the prediction stands in front of the missing listener
    record = _lab_view("L4CON", "Connection refused", [], backend_mac=mac)
    assert [f["cause"] for f in record["findings"]] == ["selinux_denied", "no_listener"]
    # nginx listens on the port: its bind was allowed, whatever the tables say
    bound = _lab_view("L4OK", "", [listener("0.0.0.0", 8500, process="nginx")], backend_mac=mac, status="UP")
    assert bound["verdict"] == "healthy"


def test_an_apparmor_denial_of_haproxys_connect_on_the_lb(fixture_text):
    """The LB side of AppArmor through the engine. The record is the real tailscale capture's first
    line (tests/unit/fixtures/mac/README.md) with the profile and comm of a confined HAProxy: the
    kernel writes the same fields for any profile; only the names are ours."""
    line = fixture_text("mac/apparmor-tailscale-create-inet.txt").splitlines()[0]
    line = line.replace('profile="a0d7b954_tailscale"', 'profile="/usr/sbin/haproxy"').replace('comm="curl"', 'comm="haproxy"')
    lb_mac = {"apparmor": {"enabled": True, "profiles": {"/usr/sbin/haproxy": "enforce"},
                           "processes": [{"pid": 321, "process": "haproxy", "profile": "/usr/sbin/haproxy", "mode": "enforce"}],
                           "denials": parse_apparmor_denials(line + "\n")}}
    record = _lab_view("L4CON", "Permission denied", [listener("0.0.0.0", 8500)], lb_mac=lb_mac)
    assert record["verdict"] == "apparmor_denied" and [f["cause"] for f in record["findings"]] == ["apparmor_denied"]
    finding = record["findings"][0]
    assert finding["fix"]["host"] == LB and finding["fix"]["automatic"] is False
    assert [e["source"] for e in finding["evidence"]] == ["AppArmor denial on lb1"]
    assert finding["summary"] == "AppArmor (enforce) on lb1 keeps /usr/sbin/haproxy from connecting to tcp/8500"
    assert "add network inet stream, to profile /usr/sbin/haproxy" in finding["fix"]["description"]
    assert finding["fix"]["commands"] == [["apparmor_parser", "-r", "/etc/apparmor.d/usr.sbin.haproxy"]]
    # The same record from another program's profile is not HAProxy's problem.
    other = {"apparmor": dict(lb_mac["apparmor"], denials=parse_apparmor_denials(
        line.replace('comm="haproxy"', 'comm="curl"').replace("/usr/sbin/haproxy", "a0d7b954_tailscale") + "\n"))}
    assert _lab_view("L4CON", "Permission denied", [listener("0.0.0.0", 8500)], lb_mac=other)["verdict"] != "apparmor_denied"
