"""Tests of the firewall_eval module: options, rulesets given as text, the live path through
run_command (mocked: exact argv, LC_ALL=C, nothing that changes state), check mode, errors."""

import json

import pytest
from ansible.module_utils import basic

from ansible_collections.lbdoctor.haproxy.plugins.modules import firewall_eval

from module_harness import Exit, Fail, run_main


RULES = ("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
         "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
         "-A INPUT -p tcp -m tcp --dport 8080 -j REJECT --reject-with tcp-reset\nCOMMIT\n")


@pytest.fixture
def module(monkeypatch):
    calls = []

    def run(self, args, **kwargs):
        raise AssertionError("no command may run when rulesets are given: %r" % (args,))
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run)
    return calls


def invoke(args):
    ended = run_main(firewall_eval.main, args)
    return type(ended), ended.args[0]


def test_text_rulesets_results_in_packet_order(module):
    kind, out = invoke({"iptables_save": RULES, "packets": [
        {"src": "198.18.0.10", "dst": "198.18.0.11", "dport": 8080, "iif": "eth0"},
        {"src": "198.18.0.10", "dst": "198.18.0.11", "dport": 22, "iif": "eth0"},
        {"src": "198.18.0.10", "dst": "198.18.0.11", "dport": 9, "iif": "eth0"},
    ]})
    assert kind is Exit and out["changed"] is False
    assert [r["verdict"] for r in out["results"]] == ["reject", "accept", "drop"]
    assert out["results"][0]["reject_with"] == "tcp-reset"
    assert out["results"][0]["rule"]["position"] == 2
    assert out["sources"]["tables"] == ["iptables ipv4 filter"]
    assert "firewall" not in out


def test_check_mode_is_the_same(module):
    kind, out = invoke({"iptables_save": RULES, "_ansible_check_mode": True,
                        "packets": [{"src": "198.18.0.10", "dst": "198.18.0.11", "dport": 8080}]})
    assert kind is Exit and out["results"][0]["verdict"] == "reject" and out["changed"] is False


def test_malformed_text_names_the_line(module):
    kind, out = invoke({"iptables_save": RULES.replace("--dport 22", "--dport 99999"),
                        "packets": [{"src": "198.18.0.10", "dst": "198.18.0.11", "dport": 8080}]})
    assert kind is Fail
    assert out["msg"].startswith("cannot read the ruleset: iptables_save:5: ")
    kind, out = invoke({"nft_json": "{oops", "packets": [{"src": "198.18.0.10", "dst": "198.18.0.11", "dport": 1}]})
    assert kind is Fail and "nft_json:1: not JSON" in out["msg"]


def test_nft_json_given_decoded_with_rule_texts(module, fixture_text):
    kind, out = invoke({"nft_json": json.loads(fixture_text("netfilter/nft/edge.json")),
                        "nft_text": fixture_text("netfilter/nft/edge.nft-a.txt"),
                        "addresses": {"vB": ["10.200.0.2/24"]},
                        "listeners": [{"address": "0.0.0.0", "port": 15001}],
                        "packets": [{"src": "10.200.0.1", "dst": "10.200.0.2", "dport": 8080, "iif": "vB"}]})
    res = out["results"][0]
    assert (res["verdict"], res["observed_as"], res["destination"]) == (
        "accept", "open", {"address": "10.200.0.2", "port": 15001})
    assert res["nat_rule"]["text"] == "tcp dport 8080 redirect to :15001"


def test_bad_packet_is_an_argument_error(module):
    kind, out = invoke({"iptables_save": RULES, "packets": [{"src": "198.18.0.10", "dst": "198.18.0.11"}]})
    assert kind is Fail and "dport" in out["msg"]


def test_live_rulesets_read_with_exact_argv_and_lc_all(monkeypatch, fixture_text):
    recorded = json.loads(fixture_text("netfilter/collect/both-backends.json"))
    calls = []

    def run(self, args, **kwargs):
        calls.append((list(args), kwargs.get("environ_update"), kwargs.get("handle_exceptions")))
        rc, out, err = recorded[" ".join(args)]
        return rc, out, err
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/usr/sbin/" + name)
    kind, out = invoke({"packets": [{"src": "10.200.0.1", "dst": "10.200.0.2", "dport": 9999, "iif": "vB"}],
                        "addresses": {"vB": ["10.200.0.2/24"]}})
    assert kind is Exit
    assert [c[0] for c in calls] == [["iptables-nft-save"], ["iptables-legacy-save"], ["ip6tables-nft-save"],
                                     ["ip6tables-legacy-save"], ["nft", "-j", "list", "ruleset"],
                                     ["nft", "-a", "list", "ruleset"]]
    assert all(c[1]["LC_ALL"] == "C" and c[2] is False for c in calls)
    assert out["results"][0]["verdict"] == "drop" and out["results"][0]["rule"]["variant"] == "legacy"
    assert out["firewall"]["iptables"]["active"] == "both"


def test_live_missing_tools_are_not_run(monkeypatch):

    def run(self, args, **kwargs):
        raise AssertionError("ran %r" % (args,))
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **k: None)
    kind, out = invoke({"packets": [{"src": "10.200.0.1", "dst": "10.200.0.2", "dport": 80}]})
    assert kind is Exit
    assert out["results"][0]["verdict"] == "accept"
    assert {u["reason"] for u in out["firewall"]["unavailable"]} == {"command not found"}
