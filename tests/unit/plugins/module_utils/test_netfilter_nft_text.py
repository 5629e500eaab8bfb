"""Tests of the plain `nft list ruleset` text reader (netfilter_nft_text.py).

The strongest check: the same ruleset evaluated from its text (the corpus file or our edge file)
and from the `nft -j list ruleset` the kernel gave after loading it (fixtures/netfilter/nft) must
give the same verdict, reject type, destination and deciding rule for every packet tried.
"""

import json

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_eval import compile_ruleset, evaluate
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_nft_text import (
    NftTextError,
    parse_nft_ruleset_text,
    rule_to_expr,
)


def _key(res):
    rule = res["rule"] or {}
    return (res["verdict"], res["reject_with"], json.dumps(res["destination"], sort_keys=True),
            rule.get("table"), rule.get("chain"), rule.get("position"), rule.get("policy"))


def _same(text_facts, json_facts, packets, addresses=None):
    a = compile_ruleset(text_facts)
    b = compile_ruleset(json_facts)
    for packet in packets:
        ra = a.evaluate(packet, addresses=addresses)
        rb = b.evaluate(packet, addresses=addresses)
        assert _key(ra) == _key(rb), (packet, ra, rb)


def test_edge_text_and_kernel_json_agree(fixture_text):
    packets = [{"src": "10.200.0.1", "dst": "10.200.0.2", "dport": p, "iif": "vB"}
               for p in (22, 80, 8000, 8443, 9001, 9002, 9003, 9100, 9250, 15001, 8080, 8081, 8090, 5000, 5001,
                         5002, 5003, 5004, 5005, 5006, 5007, 7000, 7001, 6000, 1234)]
    packets += [{"src": "fd00::1", "dst": "fd00::2", "dport": p, "iif": "vB"} for p in (5000, 5001, 5002, 5003, 8080)]
    _same({"nft_text": fixture_text("netfilter/nft/edge.nft")},
          {"nft_json": fixture_text("netfilter/nft/edge.json"), "nft_text": fixture_text("netfilter/nft/edge.nft-a.txt")},
          packets, addresses={"lo": ["127.0.0.1/8"], "vB": ["10.200.0.2/24", "fd00::2/64"]})


def test_sample_router_text_and_kernel_json_agree(corpus_text, fixture_text):
    addrs = {"eth0": ["203.0.113.1/24"], "eth1": ["192.168.1.1/24"], "eth2.10": ["192.168.10.1/24"]}
    packets = []
    for src, iif in (("192.168.1.50", "eth1"), ("9.9.9.9", "eth0"), ("198.51.100.9", "eth0"),
                     ("192.168.10.5", "eth2.10")):
        for port in (22, 53, 123, 8443, 80):
            packets.append({"src": src, "dst": addrs[iif][0].split("/", maxsplit=1)[0], "dport": port, "iif": iif})
    _same({"nft_text": corpus_text("nft/nftables-sample-ruleset.nft")},
          {"nft_json": fixture_text("netfilter/nft/nftables-sample-ruleset.json")}, packets, addresses=addrs)


def test_moby_text_from_the_corpus(corpus_text, fixture_text):
    addrs = {"eth0": ["198.18.0.11/24"], "br-dummy": ["192.168.0.1/24"]}
    packets = [{"src": "198.18.0.10", "dst": d, "dport": p, "iif": "eth0"}
               for d, p in (("198.18.0.11", 8080), ("192.168.0.2", 80), ("198.18.0.11", 9999))]
    _same({"nft_text": corpus_text("nft/moby-docker-bridges-nat.nft")},
          {"nft_json": fixture_text("netfilter/nft/moby-docker-bridges-nat.json")}, packets, addresses=addrs)


def test_nat_maps_text(corpus_text):
    res = evaluate({"nft_text": corpus_text("nft/nftables-nat-addr-port.nft")},
                   {"src": "10.1.1.2", "dst": "10.9.9.9", "dport": 42, "iif": "foobar"})
    assert res["destination"] == {"address": "10.2.3.4", "port": 4242}
    res = evaluate({"nft_text": corpus_text("nft/nftables-nat-addr-port.nft")},
                   {"src": "dead::2", "dst": "c0::99", "dport": 42, "iif": "foobar"})
    assert res["destination"] == {"address": "c0::1a", "port": 4242}


def test_parse_structure(corpus_text):
    parsed = parse_nft_ruleset_text(corpus_text("nft/nftables-sample-ruleset.nft"))
    table = parsed["tables"][0]
    assert (table["family"], table["name"]) == ("inet", "filter")
    assert table["chains"]["PREROUTING_RAW"]["prio"] == -300
    assert table["chains"]["INPUT"]["policy"] == "drop"
    assert table["sets"]["if_input"]["map"] == "verdict"
    assert table["sets"]["if_input"]["elem"][2] == ["eth2.10", {"jump": {"target": "home_input"}}]
    assert table["sets"]["limit_src_ip"]["flags"] == ["dynamic", "timeout"]
    anon = table["chains"]["PREROUTING_RAW"]["rules"][1]
    assert anon["text"].startswith("tcp flags syn jump {")


@pytest.mark.parametrize("text, expr", [
    ("tcp dport { 80, 8000-8100 } accept",
     [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                 "right": {"set": [80, {"range": [8000, 8100]}]}}}, {"accept": None}]),
    ('iifname != "br-dummy" ip saddr 10.0.0.0/8 counter packets 0 bytes 0 drop',
     [{"match": {"op": "!=", "left": {"meta": {"key": "iifname"}}, "right": "br-dummy"}},
      {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                 "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}},
      {"counter": {"packets": 0, "bytes": 0}}, {"drop": None}]),
    ("ct state established,related accept",
     [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}},
      {"accept": None}]),
    ("tcp flags & (fin | syn | rst | ack) != syn drop",
     [{"match": {"op": "!=", "left": {"&": [{"payload": {"protocol": "tcp", "field": "flags"}},
                                            ["fin", "syn", "rst", "ack"]]}, "right": "syn"}}, {"drop": None}]),
    ("reject with icmpx admin-prohibited", [{"reject": {"type": "icmpx", "expr": "admin-prohibited"}}]),
    ("tcp dport 8080 dnat ip to 10.0.0.2:80", [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}},
        {"dnat": {"family": "ip", "addr": "10.0.0.2", "port": 80}}]),
    ("redirect to :15001", [{"redirect": {"port": 15001}}]),
    ("meta mark set 0x00000007", [{"mangle": {"key": {"meta": {"key": "mark"}}, "value": 7}}]),
    ("ct original ip daddr != 192.168.0.2 accept", [
        {"match": {"op": "!=", "left": {"ct": {"key": "ip daddr", "dir": "original"}}, "right": "192.168.0.2"}},
        {"accept": None}]),
])
def test_rule_to_expr(text, expr):
    assert rule_to_expr(text) == expr


def test_unknown_statement_becomes_unsupported_not_a_guess():
    expr = rule_to_expr("tcp dport 80 synproxy mss 1460 wscale 7")
    assert isinstance(expr[-1], str) and "not understood" in expr[-1]
    text = ("table inet t {\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n"
            "\t\ttcp dport 80 synproxy mss 1460 wscale 7\n\t}\n}\n")
    res = evaluate({"nft_text": text}, {"src": "10.0.0.1", "dst": "10.0.0.2", "dport": 80, "iif": "eth0"})
    assert res["verdict"] == "indeterminate" and "not understood" in res["unsupported"]["match"]


def test_broken_text_names_the_line():
    with pytest.raises(NftTextError) as info:
        parse_nft_ruleset_text("table inet t {\n\tchain c {\n\t\taccept\n")
    assert str(info.value).startswith("nft list ruleset:3: chain c has no closing brace")
    with pytest.raises(NftTextError) as info:
        parse_nft_ruleset_text("hello\n")
    assert "expected `table FAMILY NAME {`" in str(info.value)
