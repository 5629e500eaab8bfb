"""The firewall layer of the engine, alone and together with other causes (issue: every cause,
not just the first). Rulesets are iptables-save text in the form `iptables-save` prints."""

from builders import LB, backend_result, lb_result, listener, probe_result, server, stat, unit_state

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.engine import diagnose

LB_ADDR = "198.18.0.2"
WEB = "198.18.0.12"


def ruleset(*filter_rules, nat_rules=(), chains=()):
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    lines += [":%s - [0:0]" % chain for chain in chains]
    lines += list(filter_rules) + ["COMMIT"]
    if nat_rules:
        lines += ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                  ":POSTROUTING ACCEPT [0:0]"] + list(nat_rules) + ["COMMIT"]
    return {"iptables_save": "\n".join(lines) + "\n"}


def run(backend, port=8080, status=("DOWN", "L4CON"), probe=("refused", "ECONNREFUSED"), unit_map=None):
    report = diagnose({LB: lb_result([server("web2", WEB, port, 31)], [stat("web", "web2", status[0], status[1])])},
                      {"web2": backend}, probe_results={LB: probe_result([(WEB, port) + probe])},
                      unit_map=unit_map, inventory_addresses={LB: LB_ADDR, "web2": WEB},
                      generated_at="2026-11-25T17:00:00Z")
    return report["servers"][0]


def test_reject_for_the_lb_is_named_with_its_rule_and_a_narrow_fix():
    fw = ruleset("-A INPUT -s 198.18.0.2/32 -p tcp -m tcp --dport 8080 -j REJECT --reject-with tcp-reset")
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw))
    assert record["verdict"] == "firewall_reject"
    finding = record["findings"][0]
    assert "tcp-reset" in finding["summary"]
    assert any("--reject-with tcp-reset" in ev["text"] for ev in finding["evidence"])
    assert any("as this rule predicts" in ev["text"] for ev in finding["evidence"])
    assert finding["fix"]["automatic"] is True
    assert finding["fix"]["commands"] == [["iptables", "-t", "filter", "-I", "INPUT", "1", "-s", LB_ADDR, "-p", "tcp",
                                           "--dport", "8080", "-j", "ACCEPT"]]


def test_a_reject_for_another_source_is_never_blamed():
    fw = ruleset("-A INPUT -s 198.18.0.254/32 -p tcp -m tcp --dport 8080 -j REJECT --reject-with icmp-port-unreachable")
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw), status=("UP", "L4OK"), probe=("open", None))
    assert record["verdict"] == "healthy"
    assert record["findings"] == []


def test_a_drop_deep_in_a_custom_chain_is_found():
    fw = ruleset("-A INPUT -p tcp -j SERVICES", "-A SERVICES -p tcp -m multiport --dports 8000:8100 -j APPS",
                 "-A APPS -s 198.18.0.0/24 -j DROP", chains=("SERVICES", "APPS"))
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw), status=("DOWN", "L4TOUT"),
                 probe=("timeout", None))
    assert record["verdict"] == "firewall_drop"
    assert "APPS" in record["findings"][0]["summary"]
    assert record["findings"][0]["fix"]["commands"][0][3:6] == ["-I", "APPS", "1"]


def test_probe_disagreement_is_reported():
    fw = ruleset("-A INPUT -p tcp --dport 8080 -j DROP")
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw), probe=("refused", "ECONNREFUSED"))
    assert record["verdict"] == "firewall_drop"
    assert any("DISAGREES" in ev["text"] for ev in record["findings"][0]["evidence"])


def test_stopped_unit_and_firewall_reject_both_reported_firewall_first():
    fw = ruleset("-A INPUT -s 198.18.0.2/32 -p tcp -m tcp --dport 8080 -j REJECT --reject-with tcp-reset")
    units = {"app.service": unit_state("inactive", "dead")}
    record = run(backend_result(WEB, [], units=units, firewall=fw), unit_map={"web": "app.service"})
    assert [f["cause"] for f in record["findings"]] == ["firewall_reject", "service_stopped"]
    assert record["verdict"] == "firewall_reject"


def test_wrong_port_and_firewall_drop_both_reported():
    fw = ruleset("-A INPUT -p tcp -m tcp --dport 8081 -j DROP")
    units = {"app.service": unit_state()}
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], units=units, firewall=fw), port=8081,
                 status=("DOWN", "L4TOUT"), probe=("timeout", None), unit_map={"web": "app.service"})
    assert [f["cause"] for f in record["findings"]] == ["firewall_drop", "wrong_port"]


def test_loopback_bind_behind_a_sidecar_redirect_gives_both():
    fw = ruleset(nat_rules=["-A PREROUTING -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 15001"])
    record = run(backend_result(WEB, [listener("127.0.0.1", 8080)], firewall=fw))
    causes = [f["cause"] for f in record["findings"]]
    assert causes == ["sidecar_redirect", "bound_to_loopback"]
    assert "15001" in record["findings"][0]["summary"]


def test_malformed_ruleset_is_unknown_with_the_line():
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall={"iptables_save": "*filter\n-A INPUT -j\nCOMMIT\n"}),
                 status=("UP", "L4OK"), probe=("open", None))
    assert record["verdict"] == "unknown"
    assert "could not be read" in record["findings"][0]["summary"]


def test_a_drop_in_the_load_balancers_own_output_path_is_found():
    lb = lb_result([server("web2", WEB, 8080, 31)], [stat("web", "web2", "DOWN", "L4TOUT")])
    lb["ansible_facts"]["lbdoctor_haproxy"]["firewall"] = {"iptables_save": "\n".join([
        "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        "-A OUTPUT -d 198.18.0.10/32 -p tcp -j DROP",
        "-A OUTPUT -d 198.18.0.12/32 -p tcp -m tcp --dport 8080 -j DROP", "COMMIT", ""])}
    probe = {"address": WEB, "port": 8080, "result": "timeout", "errno": None, "elapsed_ms": 2000.0,
             "source_address": LB_ADDR}
    probes = {"changed": False, "results": [probe]}
    report = diagnose({LB: lb}, {"web2": backend_result(WEB, [listener("0.0.0.0", 8080)])}, probe_results={LB: probes},
                      generated_at="2026-11-25T17:00:00Z")
    record = report["servers"][0]
    assert record["verdict"] == "firewall_drop"
    finding = record["findings"][0]
    assert "OUTPUT #2" in finding["summary"] and "load balancer lb1" in finding["summary"]
    assert finding["fix"]["host"] == LB
    assert finding["fix"]["commands"] == [["iptables", "-t", "filter", "-I", "OUTPUT", "2", "-d", WEB, "-p", "tcp",
                                           "--dport", "8080", "-j", "ACCEPT"]]


# firewalld and ufw manage the rules: the fix goes through them (a rule added underneath with
# iptables/nft is lost on their next reload). The front-end facts come from the real parsers fed
# with output captured in the lbdoctor lab (lab/scenarios/firewall-verdicts.yml, Debian 12
# containers, firewalld 1.3.3 on its nftables backend, ufw 0.36.2): `firewall-cmd --list-all-zones`
# (the public zone of host fwd) and `ufw status verbose` on host ufw, with the lab's addresses
# (trailing blanks of the real output stripped).

FIREWALLD_PUBLIC = """public (active)
  target: default
  icmp-block-inversion: no
  interfaces:
  sources:
  services: ssh
  ports: 8003/tcp
  protocols:
  forward: no
  masquerade: no
  forward-ports:
  source-ports:
  icmp-blocks:
  rich rules:
\trule family="ipv4" source address="198.18.0.252/32" port port="8003" protocol="tcp" reject
"""

UFW_STATUS = """Status: active
Logging: on (low)
Default: deny (incoming), allow (outgoing), disabled (routed)
New profiles: skip

To                         Action      From
--                         ------      ----
8003/tcp                   REJECT IN   198.18.0.251
8080/tcp                   REJECT IN   Anywhere
8002/tcp                   DENY IN     Anywhere
22/tcp                     ALLOW IN    Anywhere
8003/tcp                   ALLOW IN    Anywhere
"""


def firewalld_facts(running=True):
    from ansible_collections.lbdoctor.haproxy.plugins.module_utils.firewalld_facts import parse_list_all_zones
    zones = parse_list_all_zones(FIREWALLD_PUBLIC)
    for zone in zones:
        zone["default"] = zone["name"] == "public"
    return {"installed": True, "running": running, "default_zone": "public", "zones": zones, "policies": [],
            "services": {"ssh": {"name": "ssh", "ports": [{"port": "22", "low": 22, "high": 22, "proto": "tcp"}],
                                 "includes": [], "destination": {}, "source": "/usr/lib/firewalld/services/ssh.xml"}},
            "config_source": "runtime", "partial": False}


def ufw_facts(active=True):
    from ansible_collections.lbdoctor.haproxy.plugins.module_utils.ufw_facts import parse_ufw_status
    status = parse_ufw_status(UFW_STATUS)
    return {"installed": True, "active": active and status["active"], "active_source": "ufw status verbose",
            "logging": status["logging"], "defaults": status["defaults"], "rules": status["rules"], "user_rules": [],
            "rules_source": None}


# What firewalld's nftables backend installs for the public zone, as nft -a list ruleset shows it,
# reduced to the input path.
FIREWALLD_NFT = """table inet firewalld { # handle 1
\tchain filter_INPUT { # handle 1
\t\ttype filter hook input priority filter + 10; policy accept;
\t\tct state { established, related } accept # handle 2
\t\tjump filter_INPUT_ZONES # handle 3
\t\treject with icmpx admin-prohibited # handle 4
\t}
\tchain filter_INPUT_ZONES { # handle 5
\t\tgoto filter_IN_public # handle 6
\t}
\tchain filter_IN_public { # handle 7
\t\ttcp dport 22 accept # handle 8
\t\ttcp dport 8003 accept # handle 9
\t}
}
"""


def test_firewalld_closed_port_fix_is_a_rich_rule_through_firewall_cmd():
    fw = {"nft_text": FIREWALLD_NFT, "firewalld": firewalld_facts(), "ufw": {"installed": False, "active": False}}
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw), status=("DOWN", "L4TOUT"),
                 probe=("unreachable", "EHOSTUNREACH"))
    assert record["verdict"] == "firewall_reject"
    finding = record["findings"][0]
    assert "reject with icmpx admin-prohibited" in finding["summary"]
    rule = 'rule family="ipv4" source address="198.18.0.2/32" port port="8080" protocol="tcp" accept'
    assert finding["fix"]["tool"] == "firewall-cmd" and finding["fix"]["zone"] == "public"
    assert finding["fix"]["commands"] == [["firewall-cmd", "--zone=public", "--add-rich-rule=" + rule],
                                          ["firewall-cmd", "--permanent", "--zone=public", "--add-rich-rule=" + rule]]
    assert finding["fix"]["automatic"] is True and finding["fix"]["source"] == LB_ADDR


def test_firewalld_not_running_keeps_the_nft_fix():
    fw = {"nft_text": FIREWALLD_NFT, "firewalld": firewalld_facts(running=False)}
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw), status=("DOWN", "L4TOUT"),
                 probe=("unreachable", "EHOSTUNREACH"))
    assert record["findings"][0]["fix"]["commands"][0][:2] == ["nft", "insert"]
    assert record["findings"][0]["fix"]["tool"] == "nft"


UFW_IPTABLES = [
    "-A INPUT -j ufw-user-input",
    "-A ufw-user-input -s 198.18.0.251/32 -p tcp -m tcp --dport 8003 -j REJECT --reject-with tcp-reset",
    "-A ufw-user-input -p tcp -m tcp --dport 8080 -j REJECT --reject-with tcp-reset",
    "-A ufw-user-input -p tcp -m tcp --dport 8002 -j DROP",
    "-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT",
    "-A ufw-user-input -p tcp -m tcp --dport 8003 -j ACCEPT",
]


def test_ufw_reject_fix_is_inserted_before_the_rejecting_rule():
    fw = ruleset(*UFW_IPTABLES, chains=("ufw-user-input",))
    fw["ufw"] = ufw_facts()
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw))
    assert record["verdict"] == "firewall_reject"
    finding = record["findings"][0]
    assert "ufw-user-input" in finding["summary"] and "--dport 8080 -j REJECT" in finding["summary"]
    assert finding["fix"]["tool"] == "ufw"
    assert finding["fix"]["commands"] == [["ufw", "insert", "2", "allow", "from", LB_ADDR, "to", WEB, "port", "8080",
                                           "proto", "tcp"]]


def test_ufw_decoy_for_another_source_is_not_blamed():
    fw = ruleset(*UFW_IPTABLES, chains=("ufw-user-input",))
    fw["ufw"] = ufw_facts()
    record = run(backend_result(WEB, [listener("0.0.0.0", 8003)], firewall=fw), port=8003, status=("UP", "L4OK"),
                 probe=("open", None))
    assert record["verdict"] == "healthy" and record["findings"] == []


def test_ufw_inactive_keeps_the_iptables_fix():
    fw = ruleset(*UFW_IPTABLES, chains=("ufw-user-input",))
    fw["ufw"] = ufw_facts(active=False)
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw))
    assert record["findings"][0]["fix"]["commands"][0][:5] == ["iptables", "-t", "filter", "-I", "ufw-user-input"]


def test_front_end_that_accepts_leaves_the_fix_to_the_rule_underneath():
    """firewalld accepts the port, but a rule added with iptables beside it rejects: firewall-cmd
    cannot fix that, the iptables fix stays."""
    facts = firewalld_facts()
    facts["zones"][0]["ports"].append({"port": "8080", "low": 8080, "high": 8080, "proto": "tcp"})
    fw = ruleset("-A INPUT -p tcp -m tcp --dport 8080 -j REJECT --reject-with tcp-reset")
    fw["firewalld"] = facts
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw))
    assert record["findings"][0]["fix"]["commands"][0][0] == "iptables"


# Decoys (issue 14): a port opened through a firewalld service definition or through a set is
# open; the reject after it is for everyone else and never becomes a finding. Each test also
# takes the opening away, to show that the same ruleset without it is blamed (the test can fail).

def _firewalld_with_service(fixture_text, services):
    """firewalld facts for a public zone (target default: firewalld rejects what the zone does not
    accept) with these services, expanded from the real service file of firewalld's repository
    (tests/unit/fixtures/firewalld/services/http.xml: port 80/tcp)."""
    from ansible_collections.lbdoctor.haproxy.plugins.module_utils.firewalld_facts import parse_service_xml
    facts = firewalld_facts()
    facts["zones"][0]["services"] = list(services)
    facts["zones"][0]["ports"] = []
    facts["zones"][0]["rich_rules"] = []
    facts["services"]["http"] = parse_service_xml(fixture_text("firewalld/services/http.xml"), "http")
    return facts


def _firewalld_nft(service_ports):
    """The input path firewalld's nftables backend (1.x) writes for the public zone: the services'
    ports in filter_IN_public_allow, the zone's default reject at the end of filter_INPUT."""
    allow = "".join("\t\ttcp dport %d accept # handle %d\n" % (port, 20 + i) for i, port in enumerate(service_ports))
    return ("table inet firewalld { # handle 1\n"
            "\tchain filter_INPUT { # handle 1\n"
            "\t\ttype filter hook input priority filter + 10; policy accept;\n"
            "\t\tct state { established, related } accept # handle 2\n"
            "\t\tct status dnat accept # handle 3\n"
            "\t\tiifname \"lo\" accept # handle 4\n"
            "\t\tct state invalid drop # handle 5\n"
            "\t\tjump filter_INPUT_ZONES # handle 6\n"
            "\t\treject with icmpx admin-prohibited # handle 7\n"
            "\t}\n"
            "\tchain filter_INPUT_ZONES { # handle 8\n"
            "\t\tgoto filter_IN_public # handle 9\n"
            "\t}\n"
            "\tchain filter_IN_public { # handle 10\n"
            "\t\tjump filter_IN_public_pre # handle 11\n"
            "\t\tjump filter_IN_public_deny # handle 12\n"
            "\t\tjump filter_IN_public_allow # handle 13\n"
            "\t\tjump filter_IN_public_post # handle 14\n"
            "\t\tmeta l4proto { icmp, ipv6-icmp } accept # handle 15\n"
            "\t}\n"
            "\tchain filter_IN_public_pre { # handle 16\n\t}\n"
            "\tchain filter_IN_public_deny { # handle 17\n\t}\n"
            "\tchain filter_IN_public_allow { # handle 18\n" + allow + "\t}\n"
            "\tchain filter_IN_public_post { # handle 19\n\t}\n"
            "}\n")


def test_port_opened_through_a_firewalld_service_is_not_a_finding(fixture_text):
    fw = {"nft_text": _firewalld_nft([22, 80]), "firewalld": _firewalld_with_service(fixture_text, ["ssh", "http"])}
    record = run(backend_result(WEB, [listener("0.0.0.0", 80)], firewall=fw), port=80, status=("UP", "L7OK"),
                 probe=("open", None))
    assert record["verdict"] == "healthy" and record["findings"] == []
    # Without the http service the zone's default reject decides, and is blamed.
    fw = {"nft_text": _firewalld_nft([22]), "firewalld": _firewalld_with_service(fixture_text, ["ssh"])}
    record = run(backend_result(WEB, [listener("0.0.0.0", 80)], firewall=fw), port=80, status=("DOWN", "L4TOUT"),
                 probe=("unreachable", "EHOSTUNREACH"))
    assert record["verdict"] == "firewall_reject"
    assert "filter_INPUT #6: reject with icmpx admin-prohibited" in record["findings"][0]["summary"]


NFT_SET = """table inet filter {
\tset lbs {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 198.18.0.2, 198.18.0.100-198.18.0.110 }
\t}

\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tip saddr @lbs tcp dport 8080 accept
\t\ttcp dport 8080 reject with tcp reset
\t}
}
"""


def test_accept_through_an_nft_named_set_is_not_a_finding():
    fw = {"nft_text": NFT_SET}
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw), status=("UP", "L4OK"), probe=("open", None))
    assert record["verdict"] == "healthy" and record["findings"] == []
    fw = {"nft_text": NFT_SET.replace("198.18.0.2, ", "")}
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw))
    assert record["verdict"] == "firewall_reject"
    assert "reject with tcp reset" in record["findings"][0]["summary"]


IPSET_SAVE = """create lbs hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x5a1e1c3b
add lbs 198.18.0.2
add lbs 198.18.0.3
"""


def test_accept_through_an_ipset_match_set_is_not_a_finding():
    fw = ruleset("-A INPUT -p tcp -m set --match-set lbs src -m tcp --dport 8080 -j ACCEPT",
                 "-A INPUT -p tcp -m tcp --dport 8080 -j REJECT --reject-with icmp-port-unreachable")
    fw["ipset_save"] = IPSET_SAVE
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw), status=("UP", "L4OK"), probe=("open", None))
    assert record["verdict"] == "healthy" and record["findings"] == []
    fw["ipset_save"] = IPSET_SAVE.replace("add lbs 198.18.0.2\n", "")
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw))
    assert record["verdict"] == "firewall_reject"
    assert "INPUT #2" in record["findings"][0]["summary"]


# The probe cross-check: what the deciding rule predicts a client sees, against what the probe
# from the LB saw (result and errno).

def cross_check(record):
    texts = [ev["text"] for ev in record["findings"][0]["evidence"] if ev["source"] == "probe cross-check"]
    assert len(texts) == 1, record["findings"][0]["evidence"]
    return texts[0]


HOST_PROHIBITED = "-A INPUT -p tcp -m tcp --dport 8080 -j REJECT --reject-with icmp-host-prohibited"


def test_cross_check_agrees_on_result_and_errno():
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=ruleset(HOST_PROHIBITED)),
                 probe=("unreachable", "EHOSTUNREACH"))
    assert cross_check(record) == "the probe saw unreachable (EHOSTUNREACH), as this rule predicts"


def test_cross_check_errno_mismatch_disagrees():
    """Both unreachable, but ENETUNREACH is a route failure, not this rule's host-prohibited."""
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=ruleset(HOST_PROHIBITED)),
                 probe=("unreachable", "ENETUNREACH"))
    text = cross_check(record)
    assert text.startswith("DISAGREES") and "EHOSTUNREACH" in text and "ENETUNREACH" in text


def test_cross_check_errno_decides_when_the_probe_calls_it_an_error():
    """icmp-proto-unreachable gives ENOPROTOOPT: tcp_probe files that under `error`."""
    fw = ruleset("-A INPUT -p tcp -m tcp --dport 8080 -j REJECT --reject-with icmp-proto-unreachable")
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw), probe=("error", "ENOPROTOOPT"))
    assert cross_check(record) == "the probe saw error (ENOPROTOOPT), as this rule predicts"


def test_cross_check_timeout_for_a_predicted_unreachable_is_not_a_confirmation():
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=ruleset(HOST_PROHIBITED)),
                 status=("DOWN", "L4TOUT"), probe=("timeout", None))
    text = cross_check(record)
    assert text.startswith("NOT CONFIRMED") and "unreachable (EHOSTUNREACH)" in text
    assert "as this rule predicts" not in text


def test_cross_check_a_predicted_timeout_is_not_met_by_an_unreachable():
    fw = ruleset("-A INPUT -p tcp -m tcp --dport 8080 -j DROP")
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw), status=("DOWN", "L4TOUT"),
                 probe=("unreachable", "EHOSTUNREACH"))
    assert cross_check(record).startswith("DISAGREES: the rule predicts timeout")
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw), status=("DOWN", "L4TOUT"),
                 probe=("timeout", "ETIMEDOUT"))
    assert cross_check(record) == "the probe saw timeout (ETIMEDOUT), as this rule predicts"


def test_cross_check_of_a_sidecar_redirect():
    fw = ruleset(nat_rules=["-A PREROUTING -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 15001"])
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw), probe=("refused", "ECONNREFUSED"))
    assert record["verdict"] == "sidecar_redirect"
    assert cross_check(record) == "the probe saw refused (ECONNREFUSED), as this rule predicts"
    record = run(backend_result(WEB, [listener("0.0.0.0", 8080)], firewall=fw), status=("DOWN", "L4TOUT"),
                 probe=("timeout", None))
    assert cross_check(record).startswith("DISAGREES: the rule predicts refused (ECONNREFUSED)")
