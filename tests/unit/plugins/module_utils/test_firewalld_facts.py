"""Tests of the firewalld parsers, collect_firewalld, firewalld_allows and suggest_fix.

Inputs: the shared corpus (../shared/corpus/firewalld_ufw: --list-all-zones from insights-core,
zone XML from firewalld) and files in tests/unit/fixtures/firewalld (README.md there).
"""


import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.firewalld_facts import (
    FirewalldParseError,
    collect_firewalld,
    parse_active_zones,
    parse_info_service,
    parse_list_all_policies,
    parse_list_all_zones,
    parse_listing,
    parse_port,
    parse_rich_rule,
    parse_service_xml,
    parse_zone_xml,
)
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.firewalld_policy import (
    firewalld_allows,
    suggest_fix,
)

from fake_host import FakeHost

LIST_ALL = "firewalld_ufw/insights-firewall-cmd-list-all-zones.txt"


# --- parsers ------------------------------------------------------------------------------------

def test_list_all_zones_rhel7(corpus_text):
    zones = parse_list_all_zones(corpus_text(LIST_ALL))
    assert [z["name"] for z in zones] == ["block", "dmz", "public", "trusted"]
    block, _dmz, public, trusted = zones
    assert block["target"] == "%%REJECT%%" and block["interfaces"] == []
    assert (public["active"], public["default"], public["interfaces"]) == (True, True, ["eno1"])
    assert public["services"] == ["dhcpv6-client", "ssh"]
    assert len(public["forward_ports"]) == 3 and public["forward_ports"][2].endswith("toaddr=10.72.47.45")
    assert [r["action"] for r in public["rich_rules"]] == ["accept", "reject", "reject", None]
    first = public["rich_rules"][0]
    assert first["source"]["address"] == "10.0.0.0/24" and first["destination"]["address"] == "192.168.0.10/32"
    assert first["element"] == {"type": "port", "port": "8080-8090", "protocol": "tcp"}
    assert public["rich_rules"][3]["element"]["type"] == "forward-port"
    assert trusted["target"] == "ACCEPT" and trusted["icmp_block_inversion"] is True


def test_info_zone_with_priorities(fixture_text):
    (zone,) = parse_list_all_zones(fixture_text("firewalld/info-zone-priority.txt"))
    assert zone["ingress_priority"] == -2 and zone["rich_rules"] == [] and zone["active"] is False


def test_listing_errors_name_the_line():
    with pytest.raises(FirewalldParseError) as excinfo:
        parse_listing("public\n  target: default\n  what is this\n", "pasted")
    assert str(excinfo.value).startswith("pasted:3:")
    with pytest.raises(FirewalldParseError):
        parse_listing("  target: default\n")
    with pytest.raises(FirewalldParseError):
        parse_list_all_zones("public\n  ports: 80/tcp eighty/tcp\n")


def test_parse_port():
    assert parse_port("8080-8090/tcp") == {"port": "8080-8090", "low": 8080, "high": 8090, "proto": "tcp"}
    with pytest.raises(FirewalldParseError):
        parse_port("8080")


def test_rich_rules():
    rule = parse_rich_rule('rule priority="-5" family="ipv6" source not address="2001:db8::/32" '
                           'service name="http" log prefix="x: " level="info" limit value="3/m" reject type="tcp-reset"')
    assert rule["priority"] == -5 and rule["family"] == "ipv6"
    assert rule["source"] == {"address": "2001:db8::/32", "mac": None, "ipset": None, "invert": True}
    assert rule["element"] == {"type": "service", "name": "http"}
    assert (rule["action"], rule["reject_type"], rule["log"], rule["limit"]) == ("reject", "tcp-reset", True, "3/m")
    assert parse_rich_rule("rule protocol value=\"tcp\" accept")["element"] == {"type": "protocol", "value": "tcp"}
    with pytest.raises(FirewalldParseError):
        parse_rich_rule('family="ipv4" accept')
    with pytest.raises(FirewalldParseError):
        parse_rich_rule('rule family="ipv4" frobnicate accept')


def test_zone_xml(corpus_text):
    libvirt = parse_zone_xml(corpus_text("firewalld_ufw/firewalld-zone-libvirt.xml"), "libvirt")
    assert libvirt["target"] == "ACCEPT" and libvirt["protocols"] == ["icmp", "ipv6-icmp"]
    assert libvirt["services"] == ["dhcp", "dhcpv6", "dns", "ssh", "tftp"]
    (rule,) = libvirt["rich_rules"]
    assert (rule["priority"], rule["action"], rule["element"]) == (32767, "reject", None)
    public = parse_zone_xml(corpus_text("firewalld_ufw/firewalld-zone-public.xml"), "public")
    assert public["services"] == ["ssh", "dhcpv6-client"] and public["target"] == "default"
    with pytest.raises(FirewalldParseError) as excinfo:
        parse_zone_xml("<zone>\n<service name='x'>\n</zone>", "broken", "/etc/firewalld/zones/broken.xml")
    assert str(excinfo.value).startswith("/etc/firewalld/zones/broken.xml:3:")
    with pytest.raises(FirewalldParseError):
        parse_zone_xml("<service/>", "x")


def test_zone_xml_rule_with_inverted_source():
    text = ('<zone><rule family="ipv4" priority="-1"><source address="10.0.0.5" invert="True"/>'
            '<port port="8080" protocol="tcp"/><drop/></rule></zone>')
    (rule,) = parse_zone_xml(text, "z")["rich_rules"]
    assert rule["source"]["invert"] is True and rule["action"] == "drop" and rule["priority"] == -1


def test_service_xml_and_info_service(fixture_text):
    capsule = parse_service_xml(fixture_text("firewalld/services/RH-Satellite-6-capsule.xml"), "RH-Satellite-6-capsule")
    assert capsule["includes"] == ["RH-Satellite-6"] and capsule["ports"][0]["low"] == 8443
    info = parse_info_service("http\n  ports: 80/tcp\n  protocols: \n  source-ports: \n  modules: \n"
                              "  destination: ipv4:224.0.0.251 ipv6:ff02::fb\n  includes: \n  helpers: \n")
    assert info["ports"][0]["port"] == "80" and info["destination"] == {"ipv4": "224.0.0.251", "ipv6": "ff02::fb"}


def test_active_zones_and_policies():
    assert parse_active_zones("public\n  interfaces: eth0 eth1\ntrusted\n  sources: 10.0.0.0/8\n") == {
        "public": {"interfaces": ["eth0", "eth1"], "sources": []},
        "trusted": {"interfaces": [], "sources": ["10.0.0.0/8"]}}
    policies = parse_list_all_policies(
        "allow-host-ipv6 (active)\n  priority: -15000\n  target: CONTINUE\n  ingress-zones: ANY\n"
        "  egress-zones: HOST\n  services: \n  ports: \n  protocols: \n  masquerade: no\n  forward-ports: \n"
        "  source-ports: \n  icmp-blocks: \n  rich rules: \n"
        "\trule family=\"ipv6\" icmp-type name=\"neighbour-advertisement\" accept\n")
    assert policies[0]["priority"] == -15000 and policies[0]["egress_zones"] == ["HOST"]
    assert policies[0]["rich_rules"][0]["element"]["type"] == "icmp-type"


# --- collection ---------------------------------------------------------------------------------


def _services(fixture_text):
    return dict(("/usr/lib/firewalld/services/%s.xml" % n, fixture_text("firewalld/services/%s.xml" % n))
                for n in ("http", "ssh", "dhcpv6-client", "RH-Satellite-6-capsule", "RH-Satellite-6", "foreman"))


def _running(corpus_text, fixture_text, zones_text=None):
    commands = {
        ("firewall-cmd", "--state"): (0, "running\n", ""),
        ("firewall-cmd", "--get-default-zone"): (0, "public\n", ""),
        ("firewall-cmd", "--list-all-zones"): (0, zones_text or corpus_text(LIST_ALL), ""),
        ("firewall-cmd", "--list-all-policies"): (2, "", "usage: see firewall-cmd man page\nfirewall-cmd: error: "
                                                  "unrecognized arguments: --list-all-policies\n"),
    }
    return FakeHost(_services(fixture_text), commands)


def test_not_installed_and_not_running():
    facts = collect_firewalld(FakeHost().run, FakeHost().read)
    assert (facts["installed"], facts["running"], facts["unavailable"]) == (False, False, [])
    host = FakeHost(commands={("firewall-cmd", "--state"): (252, "not running\n", "")})
    facts = collect_firewalld(host.run, host.read)
    assert (facts["installed"], facts["running"]) == (True, False)
    assert host.ran == [["firewall-cmd", "--state"]]


def test_running_collects_zones_and_service_ports(corpus_text, fixture_text):
    host = _running(corpus_text, fixture_text)
    facts = collect_firewalld(host.run, host.read)
    assert facts["running"] is True and facts["config_source"] == "runtime" and facts["default_zone"] == "public"
    assert [z["name"] for z in facts["zones"] if z["default"]] == ["public"]
    assert sorted(facts["services"]) == ["dhcpv6-client", "ssh"]
    assert facts["services"]["ssh"]["ports"][0]["low"] == 22
    assert facts["services"]["ssh"]["source"] == "/usr/lib/firewalld/services/ssh.xml"
    assert facts["policies"] == [] and facts["unavailable"] == []


def test_local_service_file_overrides_and_includes_resolve(corpus_text, fixture_text):
    zones = corpus_text(LIST_ALL).replace("services: dhcpv6-client ssh", "services: RH-Satellite-6-capsule ssh")
    host = _running(corpus_text, fixture_text, zones)
    host.files["/etc/firewalld/services/ssh.xml"] = ('<?xml version="1.0"?><service><port protocol="tcp" port="2222"/>'
                                                     '</service>')
    host.commands[("firewall-cmd", "--info-service=dns")] = (0, "dns\n  ports: 53/tcp 53/udp\n", "")
    facts = collect_firewalld(host.run, host.read)
    assert facts["services"]["ssh"]["ports"][0]["low"] == 2222
    assert "foreman" in facts["services"] and "http" in facts["services"]
    assert facts["services"]["dns"]["source"] == "firewall-cmd --info-service=dns"
    missing = sorted(u["source"] for u in facts["unavailable"])
    assert missing == ["firewall-cmd --info-service=dhcp", "firewall-cmd --info-service=https",
                       "firewall-cmd --info-service=tftp"]


def test_not_root_falls_back_to_permanent_files(corpus_text, fixture_text):
    files = _services(fixture_text)
    files["/etc/firewalld/firewalld.conf"] = "# firewalld config file\nDefaultZone=public\nFirewallBackend=nftables\n"
    files["/usr/lib/firewalld/zones/public.xml"] = corpus_text("firewalld_ufw/firewalld-zone-public.xml")
    host = FakeHost(files, {("firewall-cmd", "--state"): (11, "", "Authorization failed.\n")})
    facts = collect_firewalld(host.run, host.read)
    assert facts["running"] is None and facts["partial"] is True and facts["config_source"] == "permanent files"
    assert [z["name"] for z in facts["zones"]] == ["public"] and facts["zones"][0]["default"] is True
    assert facts["unavailable"][0]["reason"] == "rc=11: Authorization failed."


# --- decisions ----------------------------------------------------------------------------------

@pytest.fixture
def rhel7(corpus_text, fixture_text):
    host = _running(corpus_text, fixture_text)
    return collect_firewalld(host.run, host.read)


def test_default_zone_target_rejects_unlisted_port(rhel7):
    result = firewalld_allows(rhel7, "198.18.0.2", 8500, iif="eno1")
    assert (result["zone"], result["zone_reason"]) == ("public", "interface eno1")
    assert (result["allowed"], result["verdict"]) == (False, "reject")
    assert result["deciding"] == {"kind": "target", "value": "default", "zone": "public"}


def test_service_opens_its_port(rhel7):
    result = firewalld_allows(rhel7, "198.18.0.2", 22, iif="eno1")
    assert result["allowed"] is True and result["deciding"]["kind"] == "service" and result["deciding"]["value"] == "ssh"


def test_rich_rule_reject_in_deny_chain_wins_over_later_accept(rhel7):
    # 10.0.0.0/24 to 192.168.0.10:443 is rejected by a priority-0 reject rule
    result = firewalld_allows(rhel7, "10.0.0.7", 443, iif="eno1", dst="192.168.0.10")
    assert result["verdict"] == "reject" and result["deciding"]["kind"] == "rich_rule"
    assert 'port="443"' in result["deciding"]["value"]
    # the 8080-8090 accept applies only when the destination is known to be 192.168.0.10
    assert firewalld_allows(rhel7, "10.0.0.7", 8085, iif="eno1", dst="192.168.0.10")["allowed"] is True
    unknown = firewalld_allows(rhel7, "10.0.0.7", 8085, iif="eno1")
    assert unknown["allowed"] is None and unknown["uncertain"]


def test_source_binding_beats_interface(rhel7):
    for zone in rhel7["zones"]:
        if zone["name"] == "trusted":
            zone["sources"] = ["198.18.0.0/24"]
    result = firewalld_allows(rhel7, "198.18.0.2", 8500, iif="eno1")
    assert (result["zone"], result["zone_reason"], result["allowed"]) == ("trusted", "source 198.18.0.0/24", True)
    assert result["deciding"] == {"kind": "target", "value": "ACCEPT", "zone": "trusted"}


def test_unknown_interface_compares_zones(rhel7):
    result = firewalld_allows(rhel7, "198.18.0.2", 8500)
    assert result["zone"] == "public" and result["zone_reason"] == "default zone"
    assert result["allowed"] is False   # eno1 is bound to the default zone itself


def test_not_running_allows():
    assert firewalld_allows({"running": False}, "198.18.0.2", 80)["deciding"]["kind"] == "not_running"
    assert suggest_fix({"running": False}, "198.18.0.2", 80) is None


def test_suggest_fix_rich_rule_for_one_address_and_port(rhel7):
    fix = suggest_fix(rhel7, "198.18.0.2", 8500, iif="eno1")
    rule = 'rule family="ipv4" source address="198.18.0.2/32" port port="8500" protocol="tcp" accept'
    assert fix["rule"] == rule and fix["zone"] == "public"
    assert fix["commands"] == [["firewall-cmd", "--zone=public", "--add-rich-rule=" + rule],
                               ["firewall-cmd", "--permanent", "--zone=public", "--add-rich-rule=" + rule]]
    assert suggest_fix(rhel7, "198.18.0.2", 22, iif="eno1") is None


def test_suggest_fix_sorts_before_a_blocking_reject_and_ipv6(rhel7):
    fix = suggest_fix(rhel7, "10.0.0.7", 443, iif="eno1", dst="192.168.0.10")
    assert fix["rule"].startswith('rule priority="-1" family="ipv4" source address="10.0.0.7/32"')
    fix6 = suggest_fix(rhel7, "2001:db8::5", 8500, iif="eno1")
    assert 'family="ipv6" source address="2001:db8::5/128"' in fix6["rule"]


def test_ipset_source_and_host_policy_are_reported(rhel7):
    for zone in rhel7["zones"]:
        if zone["name"] == "trusted":
            zone["sources"] = ["ipset:lbs"]
    rhel7["policies"] = [{"name": "allow-host-ipv6", "egress_zones": ["HOST"], "target": "CONTINUE",
                          "rich_rules": [parse_rich_rule('rule family="ipv6" icmp-type name="neighbour-advertisement" accept')],
                          "ports": [], "services": []}]
    result = firewalld_allows(rhel7, "198.18.0.2", 22, iif="eno1")
    assert result["allowed"] is None and "ipset:lbs" in result["uncertain"][0]
    assert result["notes"] == ["policy allow-host-ipv6 toward HOST is not evaluated"]
