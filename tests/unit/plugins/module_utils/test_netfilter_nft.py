"""Tests of the nft JSON parser and of the evaluator on native nftables rulesets.

Fixtures under tests/unit/fixtures/netfilter/nft are `nft -j list ruleset` / `nft -a list ruleset`
captures (nftables 1.0.6, kernel 6.18; see the README there). The expectations for edge.json were
checked against the kernel: the same ruleset loaded in a throwaway network namespace, real SYNs
sent from a second namespace, and the connect() result compared (every port below agreed).
"""

import json

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_eval import (
    RulesetError,
    compile_ruleset,
    evaluate,
)
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_nft import (
    NftParseError,
    parse_nft_json,
    parse_nft_text,
)

A = "10.200.0.1"
B = "10.200.0.2"
ADDRS = {"lo": ["127.0.0.1/8", "::1/128"], "vB": ["10.200.0.2/24", "fd00::2/64"]}


@pytest.fixture
def edge(fixture_text):
    return compile_ruleset({"nft_json": fixture_text("netfilter/nft/edge.json"),
                            "nft_text": fixture_text("netfilter/nft/edge.nft-a.txt")})


def syn(rs, port, src=A, dst=B, listeners=None, **kw):
    return rs.evaluate({"family": "ipv6" if ":" in dst else "ipv4", "src": src, "dst": dst, "dport": port,
                        "proto": "tcp", "iif": "vB"}, listeners=listeners, addresses=kw.get("addresses", ADDRS))


def test_parse_json_tables_chains_sets(fixture_text):
    parsed = parse_nft_json(fixture_text("netfilter/nft/edge.json"))
    names = [(t["family"], t["name"]) for t in parsed["tables"]]
    assert names == [("inet", "fw"), ("ip", "nat"), ("ip", "lateprio"), ("netdev", "ing")]
    fw = parsed["tables"][0]
    assert fw["chains"]["input"]["hook"] == "input" and fw["chains"]["input"]["policy"] == "drop"
    assert fw["chains"]["raw_pre"]["prio"] == -300
    assert fw["chains"]["sub"]["hook"] is None
    assert fw["sets"]["web_ports"]["elem"] == [80, {"range": [8000, 8100]}]
    assert fw["sets"]["port_verdicts"]["kind"] == "map"
    assert parsed["metainfo"]["version"] == "1.0.6"
    # nft 1.0.6 leaves the netdev chain's device out of the JSON ...
    assert parsed["tables"][3]["chains"]["eth0_in"]["devices"] is None


def test_parse_text_gives_rule_texts_and_devices(fixture_text):
    info = parse_nft_text(fixture_text("netfilter/nft/edge.nft-a.txt"))
    # ... `nft -a list ruleset` has it.
    assert info["chains"]["netdev ing eth0_in"]["devices"] == ["lo"]
    assert info["chains"]["inet fw input"]["prio"] == 0
    assert info["rules"]["inet fw input 25"] == "tcp dport 5000 reject with tcp reset"
    assert info["rules"]["ip nat prerouting 2"] == "tcp dport 8080 redirect to :15001"


def test_empty_ruleset_from_the_corpus(corpus_text):
    parsed = parse_nft_json(corpus_text("nft/insights-nft-j-empty-ruleset.json"))
    assert parsed["tables"] == [] and parsed["metainfo"]["version"] == "0.9.3"
    res = evaluate({"nft_json": corpus_text("nft/insights-nft-j-empty-ruleset.json")},
                   {"src": A, "dst": B, "dport": 80, "iif": "eth0"})
    assert res["verdict"] == "accept" and res["path"] == []


@pytest.mark.parametrize("text, where", [
    ("{not json", "nft -j list ruleset:1: not JSON"),
    ('{"nftables": 3}', "nft -j list ruleset:1: no 'nftables' list"),
    ('{"nftables": [{"rule": {"family": "ip", "table": "t", "chain": "c", "handle": 1, "expr": []}}]}',
     "nft -j list ruleset:item 0: rule of unknown table ip t"),
])
def test_malformed_json_is_named(text, where):
    with pytest.raises(NftParseError) as info:
        parse_nft_json(text)
    assert str(info.value).startswith(where)


@pytest.mark.parametrize("port, verdict, reject_with, errno, observed", [
    (22, "reject", "icmpx port-unreachable", "ECONNREFUSED", "refused"),      # iifname "veth*" is not vB
    (80, "reject", "icmpx port-unreachable", "ECONNREFUSED", "refused"),      # @web_ports but saddr in 10/8
    (8443, "reject", "icmpx port-unreachable", "ECONNREFUSED", "refused"),    # not in @allowed_v4
    (9001, "drop", None, None, "timeout"),                                     # vmap -> drop
    (9002, "accept", None, None, "open"),                                      # vmap -> accept
    (9003, "reject", "tcp-reset", "ECONNREFUSED", "refused"),                  # vmap -> jump deny_chain
    (9250, "reject", "tcp-reset", "ECONNREFUSED", "refused"),                  # anonymous interval set, goto
    (5000, "reject", "tcp-reset", "ECONNREFUSED", "refused"),
    (5001, "reject", "icmp-host-prohibited", "EHOSTUNREACH", "unreachable"),
    (5002, "reject", "icmpx admin-prohibited", "EHOSTUNREACH", "unreachable"),
    (5003, "reject", "icmpx port-unreachable", "ECONNREFUSED", "refused"),    # icmpv6 reject: IPv6 only
    (5006, "drop", None, None, "timeout"),                                     # jump sub -> drop
    (5007, "accept", None, None, "open"),                                      # fib daddr type local
    (7000, "drop", None, None, "timeout"),                                     # ct state invalid at -300
    (8090, "drop", None, None, "timeout"),                                     # NAT hook before prio -90
])
def test_edge_ruleset_ipv4(edge, port, verdict, reject_with, errno, observed):
    res = syn(edge, port)
    assert (res["verdict"], res["reject_with"], res["errno"], res["observed_as"]) == (
        verdict, reject_with, errno, observed), res


@pytest.mark.parametrize("port, reject_with, errno", [
    (5002, "icmpx admin-prohibited", "EACCES"),
    (5003, "icmp6-adm-prohibited", "EACCES"),
    (5000, "tcp-reset", "ECONNREFUSED"),
    (5001, "icmpx port-unreachable", "ECONNREFUSED"),  # `reject with icmp` applies to IPv4 only
])
def test_edge_ruleset_ipv6_reject_errnos(edge, port, reject_with, errno):
    res = syn(edge, port, src="fd00::1", dst="fd00::2")
    assert (res["reject_with"], res["errno"]) == (reject_with, errno)


def test_rule_reference_names_table_chain_handle_and_text(edge):
    res = syn(edge, 5001)
    assert res["rule"] == {"backend": "nft", "variant": None, "family": "inet", "table": "fw", "chain": "input",
                           "position": 14, "handle": 26, "line": None,
                           "text": "tcp dport 5001 reject with icmp host-prohibited", "policy": False}
    assert res["path"] == ["nft inet fw raw_pre", "nft ip nat prerouting", "nft ip lateprio late_nat",
                           "nft ip lateprio see_after_nat", "nft inet fw pre_filter0", "nft inet fw input"]


def test_deep_drop_reached_by_jump_and_return_path(edge):
    res = syn(edge, 5006)
    assert res["rule"]["chain"] == "sub" and res["rule"]["handle"] == 35
    assert res["path"][-2:] == ["nft inet fw input", "nft inet fw sub"]
    # from 198.18.0.10 `ip saddr 198.18.0.10 return` goes back to input, which ends in a reject
    res = syn(edge, 5006, src="198.18.0.10", dst="198.18.0.11", addresses={"vB": ["198.18.0.11/24"]})
    assert res["verdict"] == "reject" and res["rule"]["chain"] == "input"


def test_redirect_then_filter_input_sees_the_new_port_and_the_listener(edge):
    res = syn(edge, 8080, listeners=[{"address": "::", "port": 15001, "v6only": False}])
    assert res["destination"] == {"address": B, "port": 15001}
    assert res["redirected"] is True
    assert res["nat_rule"]["text"] == "tcp dport 8080 redirect to :15001"
    assert res["rule"]["text"] == "tcp dport 15001 accept"
    assert (res["observed_as"], res["no_listener"]) == ("open", False)
    res = syn(edge, 8080, listeners=[{"address": "::", "port": 15001, "v6only": True}])
    assert (res["observed_as"], res["no_listener"], res["errno"]) == ("refused", True, "ECONNREFUSED")


def test_nat_chain_runs_at_the_nat_hook_whatever_its_priority(edge):
    res = syn(edge, 8090)
    # table ip lateprio: nat chain declared at -50 rewrites 8090 -> 9091 before the
    # filter chain at -90 runs (verified on the kernel: the -90 chain's 9091 counter hit).
    assert res["destination"] == {"address": "198.18.0.11", "port": 9091}
    assert res["rule"]["chain"] == "see_after_nat"
    assert res["path"][:4] == ["nft inet fw raw_pre", "nft ip nat prerouting", "nft ip lateprio late_nat",
                               "nft ip lateprio see_after_nat"]


def test_first_nat_binding_wins(edge):
    # 8081 is DNATed by `ip nat prerouting` (-100) -> later nat chains are not consulted.
    res = syn(edge, 8081)
    assert res["destination"] == {"address": "198.18.0.11", "port": 9090}
    assert "nft ip lateprio late_nat" not in res["path"]
    assert res["route"] == "forward"


def test_netdev_ingress_chain_binds_to_its_device(edge):
    assert syn(edge, 6000)["verdict"] == "reject"  # arrives on vB, the chain is for lo
    res = edge.evaluate({"src": "127.0.0.1", "dst": "127.0.0.1", "dport": 6000, "iif": "lo"}, addresses=ADDRS)
    assert res["verdict"] == "drop" and res["rule"]["table"] == "ing"


def test_netdev_chain_without_device_in_json_is_not_guessed(fixture_text):
    rs = compile_ruleset({"nft_json": fixture_text("netfilter/nft/edge.json")})
    res = syn(rs, 6000)
    assert res["verdict"] == "indeterminate"
    assert "device" in res["unsupported"]["match"]


def test_ct_state_before_conntrack_and_notrack(edge):
    res = syn(edge, 7001)  # notrack at -300: untracked, `ct state invalid drop` does not hit
    # (nft prints the inet default `reject with icmpx port-unreachable` as plain `reject`)
    assert res["verdict"] == "reject" and res["rule"]["text"] == "reject"
    assert res["reject_with"] == "icmpx port-unreachable"


def test_limit_is_indeterminate_and_named(edge):
    res = syn(edge, 5005)
    assert res["verdict"] == "indeterminate"
    assert res["unsupported"]["match"] == "limit rate 10/second"
    assert res["unsupported"]["rule"]["handle"] == 30
    assert sorted(p["verdict"] for p in res["possible"]) == ["accept", "reject"]


def test_docker_nft_backend_publishes_8080_to_a_container(fixture_text):
    rs = compile_ruleset({"nft_json": fixture_text("netfilter/nft/moby-docker-bridges-nat.json"),
                          "nft_text": fixture_text("netfilter/nft/moby-docker-bridges-nat.nft-a.txt")})
    addrs = {"eth0": ["198.18.0.11/24"], "br-dummy": ["192.168.0.1/24"]}
    res = rs.evaluate({"src": "198.18.0.10", "dst": "198.18.0.11", "dport": 8080, "iif": "eth0"}, addresses=addrs)
    assert res["destination"] == {"address": "192.168.0.2", "port": 80}
    assert res["nat_rule"]["text"] == 'iifname != "br-dummy" tcp dport 8080 counter packets 0 bytes 0 dnat to 192.168.0.2:80 comment "DNAT"'
    assert res["route"] == "forward"
    assert res["verdict"] == "accept"
    assert res["rule"]["chain"] == "filter-forward-in__br-dummy"
    # Straight to the container's address from outside: raw-PREROUTING drops it.
    res = rs.evaluate({"src": "198.18.0.10", "dst": "192.168.0.2", "dport": 80, "iif": "eth0"}, addresses=addrs)
    assert res["verdict"] == "drop" and res["rule"]["chain"] == "raw-PREROUTING"
    # An unpublished port on the host itself: nothing in this table filters input.
    res = rs.evaluate({"src": "198.18.0.10", "dst": "198.18.0.11", "dport": 9999, "iif": "eth0"}, addresses=addrs)
    assert res["verdict"] == "accept" and res["route"] == "local"


def test_sample_ruleset_anonymous_chain_from_the_json_string(fixture_text):
    # nft 1.0.6 prints `tcp flags syn jump { ... }` in JSON as a bare string: its rules are read
    # with the text parser. `tcp option maxseg size 1-500 drop` cannot hit a Linux SYN (MSS >= 536
    # over IPv4) and `tcp sport 0 drop` cannot hit a connecting socket.
    rs = compile_ruleset({"nft_json": fixture_text("netfilter/nft/nftables-sample-ruleset.json"),
                          "nft_text": fixture_text("netfilter/nft/nftables-sample-ruleset.nft-a.txt")})
    packet = {"src": "192.168.1.50", "dst": "192.168.1.1", "dport": 8443, "iif": "eth1"}
    res = rs.evaluate(packet, addresses={"eth1": ["192.168.1.1/24"]})
    assert res["verdict"] == "accept" and res["rule"]["chain"] == "home_input"
    assert "nft inet filter PREROUTING_RAW{anonymous 1}" in res["path"]
    small = rs.evaluate(dict(packet, mss=400), addresses={"eth1": ["192.168.1.1/24"]})
    assert small["verdict"] == "drop"
    assert small["rule"]["chain"] == "PREROUTING_RAW{anonymous 1}"
    assert small["rule"]["text"] == "tcp option maxseg size 1-500 counter packets 0 bytes 0 drop"


def test_sample_ruleset_pieces_without_the_anonymous_chain(fixture_text):
    data = json.loads(fixture_text("netfilter/nft/nftables-sample-ruleset.json"))
    # drop the two rules nft -j could not render, then walk the rest
    data["nftables"] = [o for o in data["nftables"]
                        if not ("rule" in o and any(isinstance(e, str) for e in o["rule"]["expr"]))]
    rs = compile_ruleset({"nft_json": data})
    addrs = {"eth1": ["192.168.1.1/24"], "eth0": ["203.0.113.1/24"]}
    ok = rs.evaluate({"src": "192.168.1.50", "dst": "192.168.1.1", "dport": 8443, "iif": "eth1"}, addresses=addrs)
    assert ok["verdict"] == "accept" and ok["rule"]["chain"] == "home_input"
    ssh = rs.evaluate({"src": "192.168.1.50", "dst": "192.168.1.1", "dport": 22, "iif": "eth1"}, addresses=addrs)
    assert ssh["verdict"] == "accept"
    # 198.51.100.0/24 (TEST-NET-2) is in the router's bogon list
    bogon = rs.evaluate({"src": "198.51.100.9", "dst": "203.0.113.1", "dport": 8443, "iif": "eth0"},
                        addresses=addrs)
    assert bogon["verdict"] == "drop" and bogon["rule"]["chain"] == "blacklist_input_ipv4"
    assert bogon["rule"]["handle"] == 56
    public = rs.evaluate({"src": "9.9.9.9", "dst": "203.0.113.1", "dport": 8443, "iif": "eth0"}, addresses=addrs)
    # 9.9.9.9 is not on a connected network: the reverse-path check (fib saddr . iif oif 0 drop)
    # is open, but both ways the SYN is dropped.
    assert public["verdict"] == "drop" and public["rule"]["chain"] == "public_input"
    assert "nft inet filter ct_new_pre" in public["path"]


def test_concatenated_anonymous_sets_and_non_base_chains(fixture_text):
    rs = compile_ruleset({"nft_json": fixture_text("netfilter/nft/nftables-merge-reject.json")})
    # chain y has no hook: it is never on the packet's path.
    res = rs.evaluate({"src": A, "dst": "172.30.33.71", "dport": 3306, "iif": "eth0"})
    assert res["verdict"] == "accept" and res["path"] == []


def test_concatenated_set_match_when_hooked(fixture_text):
    data = json.loads(fixture_text("netfilter/nft/nftables-merge-reject.json"))
    for o in data["nftables"]:
        if "chain" in o and o["chain"]["family"] == "ip":
            o["chain"].update({"type": "filter", "hook": "input", "prio": 0, "policy": "accept"})
    rs = compile_ruleset({"nft_json": data})
    res = rs.evaluate({"src": A, "dst": "172.30.238.117", "dport": 8080, "iif": "eth0"})
    assert (res["verdict"], res["reject_with"], res["errno"]) == ("reject", "icmp-port-unreachable", "ECONNREFUSED")
    res = rs.evaluate({"src": A, "dst": "172.30.254.252", "dport": 3306, "iif": "eth0"})
    assert res["reject_with"] == "tcp-reset"
    assert rs.evaluate({"src": A, "dst": "172.30.238.117", "dport": 3306, "iif": "eth0"})["verdict"] == "accept"


def test_nat_maps_and_accept_in_a_nat_chain(fixture_text):
    rs = compile_ruleset({"nft_json": fixture_text("netfilter/nft/nftables-nat-addr-port.json")})
    # `iifname != "foobar" accept` ends the nat chain without a binding.
    res = rs.evaluate({"src": "10.1.1.2", "dst": "10.9.9.9", "dport": 42, "iif": "eth0"})
    assert res["redirected"] is False
    # From foobar: the empty map @x has no element (the rule breaks), then `ip saddr 10.1.1.2
    # tcp dport 42 dnat to 10.2.3.4:4242`.
    res = rs.evaluate({"src": "10.1.1.2", "dst": "10.9.9.9", "dport": 42, "iif": "foobar"})
    assert res["destination"] == {"address": "10.2.3.4", "port": 4242}
    res = rs.evaluate({"src": "dead::2", "dst": "c0::99", "dport": 42, "iif": "foobar"})
    assert res["destination"] == {"address": "c0::1a", "port": 4242}


def test_iptables_nft_tables_are_read_once(fixture_text):
    nft_json = fixture_text("netfilter/iptables/ipt-edge.nft-j.json")
    save = fixture_text("netfilter/iptables/ipt-edge.nft-save.txt")
    # Alone, the JSON view has xt compat expressions: not guessed.
    rs = compile_ruleset({"nft_json": nft_json})
    res = rs.evaluate({"src": A, "dst": B, "dport": 6000, "iif": "vB"}, addresses=ADDRS)
    assert res["verdict"] == "indeterminate" and "xt" in res["unsupported"]["match"]
    # With iptables-nft-save, those tables are evaluated from the iptables text only.
    rs = compile_ruleset({"nft_json": nft_json, "iptables_save": save})
    assert rs.nft_skipped == ["ip mangle", "ip nat", "ip filter", "ip raw"] or sorted(rs.nft_skipped) == [
        "ip filter", "ip mangle", "ip nat", "ip raw"]
    res = rs.evaluate({"src": A, "dst": B, "dport": 6000, "iif": "vB"}, addresses=ADDRS)
    assert res["reject_with"] == "icmp-host-prohibited"
    assert res["path"][-1] == "iptables-nft filter BLOCK"


def test_unknown_set_reference_is_a_ruleset_error():
    data = {"nftables": [
        {"table": {"family": "inet", "name": "t", "handle": 1}},
        {"chain": {"family": "inet", "table": "t", "name": "in", "handle": 1, "type": "filter", "hook": "input",
                   "prio": 0, "policy": "accept"}},
        {"rule": {"family": "inet", "table": "t", "chain": "in", "handle": 2, "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "@nope"}},
            {"drop": None}]}}]}
    with pytest.raises(RulesetError) as info:
        evaluate({"nft_json": data}, {"src": A, "dst": B, "dport": 1, "iif": "eth0"})
    assert "table inet t chain in handle 2: unknown set @nope" in str(info.value)


# Reject types and the errno a connect() gets (kernel: nft_reject_icmpx_code_v4/v6 maps icmpx
# no-route -> net-unreachable / ICMPv6 no-route, host-unreachable -> host-unreachable / ICMPv6
# address-unreachable; icmp_err_convert[] and icmpv6 tab_unreach[] give the errno).
REJECTS_NFT = """table inet f {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\ttcp dport 7001 reject with icmpx host-unreachable
\t\ttcp dport 7002 reject with icmpx no-route
\t\ttcp dport 7003 reject with icmp net-unreachable
\t\ttcp dport 7004 reject with icmp prot-unreachable
\t\ttcp dport 7005 reject with icmpv6 no-route
\t}
}
"""


@pytest.mark.parametrize("port, dst, reject_with, errno", [
    (7001, B, "icmpx host-unreachable", "EHOSTUNREACH"),
    (7001, "fd00::2", "icmpx host-unreachable", "EHOSTUNREACH"),   # ICMPv6 address unreachable
    (7002, B, "icmpx no-route", "ENETUNREACH"),
    (7002, "fd00::2", "icmpx no-route", "ENETUNREACH"),
    (7003, B, "icmp-net-unreachable", "ENETUNREACH"),
    (7004, B, "icmp-proto-unreachable", "ENOPROTOOPT"),
    (7005, "fd00::2", "icmp6-no-route", "ENETUNREACH"),
])
def test_nft_reject_types_and_their_errno(port, dst, reject_with, errno):
    res = syn(compile_ruleset({"nft_text": REJECTS_NFT}), port, src="fd00::1" if ":" in dst else A, dst=dst)
    assert (res["verdict"], res["reject_with"], res["errno"], res["observed_as"]) == (
        "reject", reject_with, errno, "unreachable")
    assert res["rule"]["position"] == port - 7000


def test_nft_icmp_reject_applies_to_its_family_only():
    rs = compile_ruleset({"nft_text": REJECTS_NFT})
    assert syn(rs, 7003, src="fd00::1", dst="fd00::2")["verdict"] == "accept"
    assert syn(rs, 7005)["verdict"] == "accept"


def test_nft_reject_types_from_json():
    """The same rejects as `nft -j` spells them."""
    def rule(handle, port, rtype, code):
        return {"rule": {"family": "inet", "table": "f", "chain": "input", "handle": handle, "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": port}},
            {"reject": {"type": rtype, "expr": code}}]}}
    doc = {"nftables": [
        {"table": {"family": "inet", "name": "f", "handle": 1}},
        {"chain": {"family": "inet", "table": "f", "name": "input", "handle": 1, "type": "filter",
                   "hook": "input", "prio": 0, "policy": "accept"}},
        rule(2, 7001, "icmpx", "host-unreachable"), rule(3, 7002, "icmpx", "no-route"),
        rule(4, 7003, "icmp", "net-unreachable"), rule(5, 7004, "icmp", "prot-unreachable")]}
    rs = compile_ruleset({"nft_json": json.dumps(doc)})
    got = [(r["reject_with"], r["errno"], r["rule"]["handle"]) for r in (syn(rs, p) for p in (7001, 7002, 7003, 7004))]
    assert got == [("icmpx host-unreachable", "EHOSTUNREACH", 2), ("icmpx no-route", "ENETUNREACH", 3),
                   ("icmp-net-unreachable", "ENETUNREACH", 4), ("icmp-proto-unreachable", "ENOPROTOOPT", 5)]


# ../shared/corpus/nft/nftables-merge-nat.nft (nftables' own tests/shell merge test): three ip
# tables whose chain `y` holds dnat/redirect rules with maps, but no hook, so nothing in it is on a
# packet's path. The test hooks each `y` as a nat prerouting chain at priority dstnat (the only
# change; all three share the priority, so the newest table, the last in the listing, runs
# first) and evaluates packets through the real rules.

def _merge_nat(corpus_text, hooked=True):
    text = corpus_text("nft/nftables-merge-nat.nft")
    if hooked:
        text = text.replace("\tchain y {\n", "\tchain y {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n")
        assert text.count("hook prerouting") == 3
    return compile_ruleset({"nft_text": text}).validate()


def merge_syn(rs, src, dport, dst="198.18.0.11"):
    return rs.evaluate({"src": src, "dst": dst, "dport": dport, "iif": "eth0"},
                       addresses={"eth0": ["198.18.0.11/24"]}, listeners=[{"address": "0.0.0.0", "port": 8083}])


def test_merge_nat_corpus_without_hooks_is_off_the_path(corpus_text):
    res = merge_syn(_merge_nat(corpus_text, hooked=False), "4.4.4.4", 80)
    assert (res["verdict"], res["redirected"], res["path"], res["rule"]) == ("accept", False, [], None)


@pytest.mark.parametrize("src, dst, dport, destination, table, position", [
    ("4.4.4.4", "198.18.0.11", 22, ("1.1.1.1", 22), "test1", 2),       # dnat to ip saddr map
    ("5.5.5.5", "198.18.0.11", 22, ("2.2.2.2", 22), "test1", 2),
    ("4.4.4.4", "198.18.0.11", 80, ("1.1.1.1", 8001), "test2", 2),     # test2 is newer than test1: its map wins
    ("9.9.9.9", "198.18.0.11", 81, ("2.2.2.2", 9001), "test2", 2),     # dnat ip to tcp dport map (addr . port)
    ("9.9.9.9", "1.1.1.1", 80, ("4.4.4.4", 8000), "test4", 2),         # daddr . dport map; test4 runs first
    ("9.9.9.9", "198.18.0.11", 83, ("198.18.0.11", 8083), "test4", 3),  # redirect to :tcp dport map
    ("9.9.9.9", "198.18.0.11", 85, ("198.18.0.11", 85), "test4", 4),    # plain redirect keeps the port
])
def test_merge_nat_corpus_evaluated(corpus_text, src, dst, dport, destination, table, position):
    res = merge_syn(_merge_nat(corpus_text), src, dport, dst=dst)
    assert res["verdict"] == "accept" and res["redirected"] is (destination != (dst, dport))
    assert (res["destination"]["address"], res["destination"]["port"]) == destination
    assert (res["nat_rule"]["table"], res["nat_rule"]["chain"], res["nat_rule"]["position"]) == (table, "y", position)


def test_merge_nat_corpus_map_misses_break_the_rule(corpus_text):
    """No element in any map and no other rule for port 86: nothing rewrites it, and a map miss
    is no reason for doubt (the kernel's lookup breaks the rule)."""
    res = merge_syn(_merge_nat(corpus_text), "9.9.9.9", 86)
    assert (res["verdict"], res["redirected"], res["nat_rule"]) == ("accept", False, None)
    assert res["path"] == ["nft ip test4 y", "nft ip test2 y", "nft ip test1 y"]
    assert res["observed_as"] == "refused" and res["no_listener"] is True
