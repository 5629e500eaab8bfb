"""Tests of collect_firewall() with command outputs recorded in a throwaway namespace
(tests/unit/fixtures/netfilter/collect, see the README there), and of the ipset parser."""

import json

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_collect import collect_firewall
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_eval import compile_ruleset, evaluate
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_ipset import (
    IpsetParseError,
    parse_ipset_save,
)


def recorded(fixture_text, name, missing=()):
    calls = []
    data = json.loads(fixture_text("netfilter/collect/%s" % name))

    def run(argv):
        calls.append(argv)
        key = " ".join(argv)
        if argv[0] in missing or key not in data:
            return 127, "", "%s: command not found" % argv[0]
        rc, out, err = data[key]
        return rc, out, err
    return run, calls


def test_both_backends_hold_rules(fixture_text):
    run, calls = recorded(fixture_text, "both-backends.json")
    facts = collect_firewall(run)
    assert calls[:4] == [["iptables-nft-save"], ["iptables-legacy-save"], ["ip6tables-nft-save"],
                         ["ip6tables-legacy-save"]]
    assert ["nft", "-j", "list", "ruleset"] in calls and ["nft", "-a", "list", "ruleset"] in calls
    assert facts["iptables"]["active"] == "both"
    assert facts["ip6tables"]["active"] == "nft"
    assert any("both iptables-nft and iptables-legacy hold ipv4 rules" in w for w in facts["warnings"])
    assert any("no json callback" in w for w in facts["warnings"])
    nft = facts["iptables"]["nft"]
    assert nft["source"] == "iptables-nft-save" and nft["variant"] == "nft"
    assert nft["tables"]["filter"]["INPUT"] == {"policy": "DROP", "rules": 8}
    assert "iptables-legacy tables present" in " ".join(nft["warnings"])
    assert facts["iptables"]["legacy"]["tables"]["filter"]["INPUT"]["rules"] == 1
    assert facts["nftables"]["managed"] == ["ip raw", "ip mangle", "ip nat", "ip filter", "ip6 filter"]
    assert [t["name"] for t in facts["nftables"]["tables"] if not t["managed_by"]] == ["fw"]
    assert facts["ipsets"] is None  # no rule references an ipset
    assert facts["unavailable"] == []
    json.dumps(facts)  # plain data


def test_collected_facts_evaluate_every_backend(fixture_text):
    run, _calls = recorded(fixture_text, "both-backends.json")
    facts = collect_firewall(run)
    ruleset = compile_ruleset(facts)
    # the legacy rule drops 9999 although iptables-nft would let SERVICES decide
    res = ruleset.evaluate({"src": "10.200.0.1", "dst": "10.200.0.2", "dport": 9999, "iif": "vB"},
                           addresses={"vB": ["10.200.0.2/24"]})
    assert res["verdict"] == "drop" and res["rule"]["variant"] == "legacy"
    assert res["rule"]["text"] == "-A INPUT -p tcp -m tcp --dport 9999 -j DROP"
    # 8443: the iptables-nft filter INPUT policy (priority 0) drops before table inet fw (filter + 10)
    res = ruleset.evaluate({"src": "10.200.0.1", "dst": "10.200.0.2", "dport": 8443, "iif": "vB"},
                           addresses={"vB": ["10.200.0.2/24"]})
    assert res["verdict"] == "drop" and res["rule"]["text"] == ":INPUT DROP [0:0]"
    assert res["rule"]["variant"] == "nft"
    # 9090: iptables-nft accepts, then inet fw's anonymous chain (a bare string in nft -j output,
    # read with the text parser) returns without a verdict
    res = ruleset.evaluate({"src": "10.200.0.1", "dst": "10.200.0.2", "dport": 9090, "iif": "vB"},
                           addresses={"vB": ["10.200.0.2/24"]})
    assert res["verdict"] == "accept"
    i = res["path"].index("nft inet fw input")
    assert res["path"][i + 1] == "nft inet fw input{anonymous 1}"
    v6 = ruleset.evaluate({"src": "fd00::1", "dst": "fd00::2", "dport": 8080, "iif": "vB"})
    assert (v6["verdict"], v6["errno"], v6["rule"]["family"]) == ("reject", "EACCES", "ipv6")
    # the iptables-nft tables are not evaluated a second time from the nft JSON
    assert sorted(ruleset.nft_skipped) == ["ip filter", "ip mangle", "ip nat", "ip raw", "ip6 filter"]


def test_leftover_legacy_policy_drops_what_iptables_nft_accepts(fixture_text):
    # iptables-legacy tables left with INPUT policy DROP (from an earlier legacy restore) still
    # run in the kernel: they drop the SYN that iptables-nft accepts.
    run, _calls = recorded(fixture_text, "legacy-leftover-policy.json")
    facts = collect_firewall(run)
    assert facts["iptables"]["active"] == "both"
    res = evaluate(facts, {"src": "10.200.0.1", "dst": "10.200.0.2", "dport": 9090, "iif": "vB"},
                   addresses={"vB": ["10.200.0.2/24"]})
    assert res["verdict"] == "drop"
    assert res["rule"] == {"backend": "iptables", "variant": "legacy", "family": "ipv4", "table": "filter",
                           "chain": "INPUT", "position": None, "handle": None, "line": 26,
                           "text": ":INPUT DROP [0:0]", "policy": True}
    assert "iptables-nft filter INPUT" not in [d["chain"] for d in res["decisions"]]  # legacy runs first at a tie


def test_ipsets_referenced_by_rules_are_collected_and_matched(fixture_text):
    run, calls = recorded(fixture_text, "ipsets.json")
    facts = collect_firewall(run)
    assert [c for c in calls if c[0] == "ipset"] == [["ipset", "save", "blocked"], ["ipset", "save", "lbs"],
                                                     ["ipset", "save", "svc"], ["ipset", "save", "any6"]]
    assert facts["ipsets"]["sets"]["lbs"] == {"type": "hash:net", "family": "inet", "entries": 3}
    assert "unused" not in facts["ipsets"]["sets"]
    assert facts["iptables"]["active"] == "nft"
    ruleset = compile_ruleset(facts)

    def check(src, port):
        return ruleset.evaluate({"src": src, "dst": "198.18.0.11", "dport": port, "iif": "eth0"})
    assert check("198.18.0.66", 8080)["verdict"] == "drop"                  # blocked
    assert check("198.18.0.2", 8080)["verdict"] == "accept"                 # lbs and svc
    res = check("198.18.0.9", 8080)                                         # lbs nomatch entry wins
    assert (res["verdict"], res["reject_with"]) == ("reject", "tcp-reset")
    assert check("203.0.113.7", 9001)["verdict"] == "accept"               # svc 9001
    assert check("203.0.113.7", 9003)["verdict"] == "drop"                 # not in svc: policy


def test_without_ipset_facts_a_set_match_is_indeterminate(fixture_text):
    data = json.loads(fixture_text("netfilter/collect/ipsets.json"))
    res = evaluate({"iptables_save": data["iptables-nft-save"][1]},
                   {"src": "198.18.0.2", "dst": "198.18.0.11", "dport": 8080, "iif": "eth0"})
    assert res["verdict"] == "indeterminate"
    assert res["unsupported"]["match"] == "-m set --match-set blocked src"


def test_nonroot_everything_unavailable_with_reasons(fixture_text):
    run, _calls = recorded(fixture_text, "nonroot.json", missing=("ipset",))
    facts = collect_firewall(run)
    reasons = dict((u["source"], u["reason"]) for u in facts["unavailable"])
    assert reasons["iptables-nft-save"].startswith("permission denied")
    assert reasons["iptables-legacy-save"].startswith("permission denied")
    assert reasons["nft -j list ruleset"].startswith("permission denied")
    assert facts["nftables"] is None
    assert facts["iptables"]["active"] is None


def test_tools_missing_falls_back_to_iptables_save(corpus_text):
    text = corpus_text("iptables_save/diekmann-ufw-server-iptables-save.txt")

    def run(argv):
        if argv == ["iptables-save"]:
            return 0, text, ""
        if argv == ["iptables", "--version"]:
            return 0, "iptables v1.4.14\n", ""
        raise OSError(2, "No such file or directory: %r" % argv[0])
    facts = collect_firewall(run)
    assert facts["iptables"]["default"]["source"] == "iptables-save"
    assert facts["iptables"]["active"] == "default"
    assert {u["source"] for u in facts["unavailable"]} == {"ip6tables-save", "nft -j list ruleset"}
    res = evaluate(facts, {"src": "203.0.113.5", "dst": "10.0.0.5", "dport": 3306, "iif": "eth0"})
    assert res["verdict"] == "drop"


def test_unreadable_output_is_unavailable_but_kept():
    def run(argv):
        if argv == ["iptables-nft-save"]:
            return 0, "*filter\n:INPUT ACCEPT [0:0]\n-A NOWHERE -j DROP\nCOMMIT\n", ""
        return 127, "", "not found"
    facts = collect_firewall(run)
    dump = facts["iptables"]["nft"]
    assert dump["text"].startswith("*filter") and "undeclared chain" in dump["error"]
    assert any(u["what"] == "iptables (nft)" and "iptables-nft-save:3:" in u["reason"] for u in facts["unavailable"])


def test_parse_ipset_save(fixture_text):
    parsed = parse_ipset_save(fixture_text("netfilter/collect/ipset-save-all.txt"))
    sets = parsed["sets"]
    assert sets["lbs"]["members"][1] == {"entry": "198.18.0.8/30", "nomatch": True}
    assert sets["blocked"]["options"]["timeout"] == "300"
    assert sets["both"]["type"] == "list:set" and sets["both"]["members"] == [{"entry": "blocked", "nomatch": False}]
    assert sets["any6"]["family"] == "inet6"
    with pytest.raises(IpsetParseError) as info:
        parse_ipset_save("add nope 1.2.3.4\n")
    assert str(info.value) == "ipset save:1: add to unknown set nope"


def test_list_set_and_ipv6_set(fixture_text):
    text = fixture_text("netfilter/collect/ipset-save-all.txt")
    rules = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m set --match-set both src -j DROP\nCOMMIT\n"
    res = evaluate({"iptables_save": rules, "ipset_save": text},
                   {"src": "198.18.0.66", "dst": "198.18.0.11", "dport": 80, "iif": "eth0"})
    assert res["verdict"] == "drop"
    rules6 = "*filter\n:INPUT DROP [0:0]\n-A INPUT -m set --match-set any6 src -j ACCEPT\nCOMMIT\n"
    res = evaluate({"ip6tables_save": rules6, "ipset_save": text},
                   {"src": "2001:db8::5", "dst": "2001:db8::1", "dport": 80, "iif": "eth0"})
    assert res["verdict"] == "accept"


def test_front_end_clis_are_asked_only_when_their_rules_are_loaded(fixture_text):
    """firewall-cmd and ufw cost a Python start-up each: with every ruleset read and no firewalld
    table nor ufw chain in them they can only say "not running", so they are not asked. A ufw
    chain in the iptables dump (what `ufw status` itself checks) brings `ufw status` back; a
    ruleset that could not be read brings both back."""
    from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_collect import collect_firewall_subset

    def run_with(data):
        calls = []

        def run(argv):
            calls.append(argv)
            key = " ".join(argv)
            if key not in data:
                return 127, "", "%s: command not found" % argv[0]
            return tuple(data[key])
        return run, calls

    def absent(path):
        raise IOError(2, "No such file or directory", path)

    data = json.loads(fixture_text("netfilter/collect/both-backends.json"))
    run, calls = run_with(data)
    facts = collect_firewall_subset(run, absent)
    assert not [c for c in calls if c[0] in ("firewall-cmd", "ufw")], calls
    assert (facts["firewalld"]["running"], facts["ufw"]["active"]) == (False, False)
    assert "firewalld" in facts["firewalld"]["running_source"] and "ufw-user-input" in facts["ufw"]["active_source"]

    with_ufw = dict(data)
    rc, out, err = data["iptables-nft-save"]
    with_ufw["iptables-nft-save"] = [rc, out.replace("*filter\n", "*filter\n:ufw-user-input - [0:0]\n", 1), err]
    run, calls = run_with(with_ufw)
    collect_firewall_subset(run, absent)
    assert ["ufw", "status", "verbose"] in calls and not [c for c in calls if c[0] == "firewall-cmd"], calls

    unreadable = dict(data)
    del unreadable["nft -j list ruleset"]
    run, calls = run_with(unreadable)
    collect_firewall_subset(run, absent)
    assert ["firewall-cmd", "--state"] in calls and ["ufw", "status", "verbose"] in calls, calls
