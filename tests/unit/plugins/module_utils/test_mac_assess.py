"""Tests of the SELinux/AppArmor decision helpers over ``mac`` facts.

Denials come from the shared corpus and tests/unit/fixtures/mac (README.md names the sources);
``mac`` facts around them are built here the way collect_mac shapes them.
"""

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_assess import (
    apparmor_assessment,
    mac_assessment,
    selinux_assessment,
)
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_selinux import (
    parse_avc_denials,
    parse_semanage_ports,
    port_label,
)


def _facts(denials=(), mode="enforcing", booleans=None, ports=(), processes=()):
    return {"selinux": {"present": True, "mode": mode,
                        "booleans": booleans or {"haproxy_connect_any": False, "nis_enabled": False,
                                                 "httpd_can_network_connect": False},
                        "ports": list(ports), "processes": list(processes), "denials": list(denials)},
            "apparmor": {"enabled": False, "denials": []}}


@pytest.fixture
def centos7_ports(fixture_text):
    return parse_semanage_ports(fixture_text("mac/semanage-port-l-n-centos7-modified-8008.txt"))


HAPROXY_PROC = {"pid": 321, "process": "haproxy", "context": "system_u:system_r:haproxy_t:s0", "type": "haproxy_t"}


def test_sysfs_denial_of_haproxy_is_not_blamed(corpus_text):
    denials = parse_avc_denials(corpus_text("selinux/issue-haproxy-2197-avc-raw.txt"))
    result = selinux_assessment(_facts(denials), side="lb", port=8080, process="haproxy")
    assert result["cause"] is None and result["fix"] is None
    (dismissed,) = result["dismissed"]
    assert "not a network permission" in dismissed["reason"] and "sysfs_t" in dismissed["reason"]


def test_interpreted_and_flattened_haproxy_denials_are_not_blamed(corpus_text):
    denials = (parse_avc_denials(corpus_text("selinux/issue-fedora-selinux-policy-pr882-haproxy-ausearch-i.txt"))
               + parse_avc_denials(corpus_text("selinux/issue-fedora-selinux-policy-pr2179-haproxy-flattened.txt")))
    result = selinux_assessment(_facts(denials), side="lb", port=8080, process="haproxy")
    assert result["cause"] is None
    assert len(result["dismissed"]) == 2


def test_econnrefused_name_connect_is_not_selinux(corpus_text):
    denials = parse_avc_denials(
        corpus_text("selinux/issue-fedora-selinux-policy-pr2869-name_connect-econnrefused.txt"))
    result = selinux_assessment(_facts(denials), side="lb", port=2321, process="gnome-remote-desktop-daemon")
    assert result["cause"] is None
    assert "ECONNREFUSED" in result["dismissed"][0]["reason"]
    # even in an enforcing mode and with the truncated comm matched by domain
    result = selinux_assessment(_facts(denials), side="lb", port=2321, process="gnome_remote_desktop_t")
    assert result["cause"] is None and result["dismissed"]


def test_observed_httpd_name_connect_with_no_reachable_type_gives_the_boolean(fixture_text, centos7_ports):
    denials = parse_avc_denials(fixture_text("mac/audit-dataverse-httpd-name_connect-wrapped.txt"))
    facts = _facts(denials, ports=[port_label(centos7_ports, 8009)])
    result = selinux_assessment(facts, side="lb", port=8009, process="httpd")
    assert (result["cause"], result["confidence"], result["domain"]) == ("selinux_denied", "observed", "httpd_t")
    assert result["port_type"] == "http_port_t" and len(result["denials"]) == 4
    assert result["fix"]["argv"] == ["setsebool", "-P", "httpd_can_network_connect", "1"]
    assert result["alternatives"][0]["argv"][0] == "sesearch"


def test_observed_unknown_domain_gets_a_lookup(fixture_text):
    denials = parse_avc_denials(fixture_text("mac/ausearch-i-radiusd-name_connect.txt"))
    result = selinux_assessment(_facts(denials), side="lb", port=1813, process="radiusd")
    assert result["cause"] == "selinux_denied" and result["domain"] == "radiusd_t"
    assert result["fix"]["argv"] == ["sesearch", "--allow", "-s", "radiusd_t", "-c", "tcp_socket", "-p",
                                     "name_connect"]


def test_backend_bind_denial_needs_name_bind_side(fixture_text):
    denials = parse_avc_denials(fixture_text("mac/audit-collectd-name_bind-flattened.txt"))
    backend = selinux_assessment(_facts(denials), side="backend", port=9103, process="collectd")
    assert backend["cause"] == "selinux_denied" and backend["denials"][0]["src_port"] == 9103
    lb = selinux_assessment(_facts(denials), side="lb", port=9103, process="collectd")
    assert lb["cause"] is None and "not the name_connect" in lb["dismissed"][0]["reason"]


def test_backend_bind_other_port_is_dismissed(fixture_text):
    denials = parse_avc_denials(fixture_text("mac/audit-collectd-name_bind-flattened.txt"))
    result = selinux_assessment(_facts(denials), side="backend", port=8080, process="collectd")
    assert result["cause"] is None and "tcp/9103" in result["dismissed"][0]["reason"]


def test_missing_permissive_field_follows_the_mode(fixture_text):
    denials = parse_avc_denials(fixture_text("mac/audit-cockpit-name_bind-no-permissive.txt"))
    # socket activation: systemd binds in the service's domain; match on the domain
    enforcing = selinux_assessment(_facts(denials), side="backend", port=1001, process="cockpit_ws_t")
    assert enforcing["cause"] == "selinux_denied"
    permissive = selinux_assessment(_facts(denials, mode="permissive"), side="backend", port=1001,
                                    process="cockpit_ws_t")
    assert permissive["cause"] is None and "permissive" in permissive["dismissed"][0]["reason"]


def test_predicted_lb_denial_on_a_port_of_another_type(centos7_ports):
    # ceph-ansible#6319: haproxy to tcp/8081, labelled transproxy_port_t; no AVC read
    facts = _facts(ports=[port_label(centos7_ports, 8081)], processes=[HAPROXY_PROC])
    result = selinux_assessment(facts, side="lb", port=8081, process="haproxy")
    assert (result["cause"], result["confidence"]) == ("selinux_denied", "predicted")
    assert result["fix"]["argv"] == ["semanage", "port", "-m", "-t", "http_port_t", "-p", "tcp", "8081"]
    assert result["fix"]["automatic"] is False
    assert any("transproxy_port_t" in note for note in result["notes"])
    assert [a["argv"] for a in result["alternatives"]] == [
        ["semanage", "port", "-m", "-t", "http_cache_port_t", "-p", "tcp", "8081"],
        ["setsebool", "-P", "haproxy_connect_any", "1"]]


def test_predicted_lb_denial_on_an_unreserved_port_labels_it_first(centos7_ports):
    facts = _facts(ports=[port_label(centos7_ports, 8500)], processes=[HAPROXY_PROC])
    result = selinux_assessment(facts, side="lb", port=8500, process="haproxy")
    assert result["fix"]["argv"] == ["semanage", "port", "-a", "-t", "http_port_t", "-p", "tcp", "8500"]
    assert result["fix"]["automatic"] is True
    assert result["alternatives"][-1]["scope"] == "domain"


@pytest.mark.parametrize("booleans", [
    {"haproxy_connect_any": True, "nis_enabled": False},
    {"haproxy_connect_any": False, "nis_enabled": True},   # unreserved_port_t via nis_enabled
])
def test_booleans_open_the_port(centos7_ports, booleans):
    facts = _facts(ports=[port_label(centos7_ports, 8500)], processes=[HAPROXY_PROC], booleans=booleans)
    assert selinux_assessment(facts, side="lb", port=8500, process="haproxy")["cause"] is None


def test_allowed_types_are_not_blamed(centos7_ports):
    for port in (8080, 80, 10005, 5000):
        facts = _facts(ports=[port_label(centos7_ports, port)], processes=[HAPROXY_PROC])
        assert selinux_assessment(facts, side="lb", port=port, process="haproxy")["cause"] is None, port


def test_backend_httpd_bind_prediction_and_nis_dontaudit(centos7_ports):
    httpd = {"pid": 10, "process": "nginx", "context": "system_u:system_r:httpd_t:s0", "type": "httpd_t"}
    facts = _facts(ports=[port_label(centos7_ports, 8500)], processes=[httpd])
    result = selinux_assessment(facts, side="backend", port=8500, process="nginx")
    assert result["confidence"] == "predicted"
    assert result["fix"]["argv"] == ["semanage", "port", "-a", "-t", "http_port_t", "-p", "tcp", "8500"]
    # nis_enabled lets nsswitch domains bind unreserved ports
    facts["selinux"]["booleans"]["nis_enabled"] = True
    assert selinux_assessment(facts, side="backend", port=8500, process="nginx")["cause"] is None


def test_disabled_and_unknown_domain_give_no_verdict(centos7_ports):
    assert selinux_assessment(_facts(mode="disabled"), port=80)["cause"] is None
    facts = _facts(ports=[port_label(centos7_ports, 8500)])
    result = selinux_assessment(facts, side="lb", port=8500, process="haproxy")
    assert result["cause"] is None and result["domain"] is None
    with pytest.raises(ValueError):
        selinux_assessment(facts, side="middle")


def test_mac_assessment_lists_only_causes(centos7_ports):
    facts = _facts(ports=[port_label(centos7_ports, 8081)], processes=[HAPROXY_PROC])
    assert [r["cause"] for r in mac_assessment(facts, "lb", 8081, "haproxy")] == ["selinux_denied"]
    assert apparmor_assessment(facts, "lb", 8081, "haproxy")["notes"] == ["AppArmor is disabled"]


# The backend record of lab/standins/data/audit-backend.log.in (the name_bind form of the raw
# records of fedora-selinux/selinux-policy PR #2653), filled in as install.sh does.
STANDIN_BIND = (
    'type=AVC msg=audit(1795628364.590:28365): avc:  denied  { name_bind } for  pid=4242 comm="httpd" '
    'src=%(port)d scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:unreserved_port_t:s0 '
    'tclass=tcp_socket permissive=%(permissive)d\n')


def test_a_permissive_domain_on_an_enforcing_host_gets_no_prediction(centos7_ports):
    denials = parse_avc_denials(STANDIN_BIND % {"port": 8700, "permissive": 1})
    facts = _facts(denials, ports=[port_label(centos7_ports, 8700)])
    result = selinux_assessment(facts, side="backend", port=8700)
    assert result["cause"] is None and result["domain"] == "httpd_t"
    assert "did not block" in result["dismissed"][0]["reason"]
    assert any("domain is permissive" in note for note in result["notes"])
    # the same record with permissive=0 is the observed cause
    blocking = selinux_assessment(_facts(parse_avc_denials(STANDIN_BIND % {"port": 8700, "permissive": 0}),
                                         ports=[port_label(centos7_ports, 8700)]), side="backend", port=8700)
    assert (blocking["cause"], blocking["confidence"]) == ("selinux_denied", "observed")


def test_another_ports_record_does_not_name_the_domain_without_a_process(centos7_ports):
    # web3 in the lab: httpd_t's record is about tcp/8700; tcp/8090 is served by something else
    facts = _facts(parse_avc_denials(STANDIN_BIND % {"port": 8700, "permissive": 0}),
                   ports=[port_label(centos7_ports, 8090)])
    result = selinux_assessment(facts, side="backend", port=8090)
    assert result["cause"] is None and result["domain"] is None
    assert "tcp/8700" in result["dismissed"][0]["reason"]
    # with the process named, its record does name the domain, and the tables predict
    named = selinux_assessment(facts, side="backend", port=8090, process="httpd")
    assert (named["domain"], named["confidence"]) == ("httpd_t", "predicted")
