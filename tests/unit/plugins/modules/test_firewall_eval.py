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


# ---------------------------------------------------------------------------------------------
# Live host context: with no ruleset option, the listeners and addresses that are not given are
# read with backend_facts' collectors. The host here is the captured namespace of
# tests/unit/fixtures/backend/netns1 (README there: /proc/net/tcp{,6}, `ip -j addr show`, the
# raw SOCK_DIAG answer; listeners 0.0.0.0:8080, 127.0.0.1:8081, [::]:8082 v6only 0, [::1]:8083,
# [::]:8084 v6only 1, 198.18.0.11:8085; veth-a holds 198.18.0.11 and 2001:db8::11). No firewall
# tool is installed, so the rulesets are empty and accept everything: what a result says about
# listeners comes from the host context alone.

NETNS = "backend/netns1/"
NETNS_NAT = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
             "-A PREROUTING -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 8081\nCOMMIT\n")


@pytest.fixture
def live_host(monkeypatch, tmp_path, fixture_text):
    import binascii

    from ansible_collections.lbdoctor.haproxy.plugins.module_utils import backend_collect
    from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_inet_diag import v6only_by_inode

    files = {"/proc/net/tcp": fixture_text(NETNS + "proc_net_tcp.txt"),
             "/proc/net/tcp6": fixture_text(NETNS + "proc_net_tcp6.txt"),
             "/proc/sys/net/ipv6/bindv6only": "0\n", "/proc/sys/kernel/hostname": "nfcap\n"}
    commands = {"ip -j addr show": (0, fixture_text(NETNS + "ip-j-addr-show.json"), "")}
    state = {"calls": [], "read": [], "files": files, "commands": commands, "tools": {"ip", "ss"}}
    dump = binascii.unhexlify(fixture_text(NETNS + "netlink-sock-diag-inet6-listen.hex").strip())
    (tmp_path / "proc").mkdir()

    def read(path):
        state["read"].append(path)
        if path in files:
            return files[path]
        raise IOError(2, "No such file or directory", path)

    real_collect = backend_collect.collect

    def fake_collect(run, read_=None, options=None, **kwargs):
        return real_collect(run, read, options, proc_root=str(tmp_path / "proc"),
                            inet_diag=lambda: v6only_by_inode(dumper=lambda: dump),
                            which=lambda name: None, list_dir=lambda path: [])

    def run_command(self, args, **kwargs):
        state["calls"].append(" ".join(args))
        if " ".join(args) in commands:
            return commands[" ".join(args)]
        raise AssertionError("unexpected command %r" % (args,))

    monkeypatch.setattr(firewall_eval, "collect", fake_collect)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, *a, **k: "/usr/sbin/" + name if name in state["tools"] else None)
    return state


def _packet(dport, dst="198.18.0.11", src="198.18.0.10"):
    return {"src": src, "dst": dst, "dport": dport, "iif": "veth-a"}


def test_live_host_reads_listeners_and_addresses_when_not_given(live_host):
    kind, out = invoke({"packets": [_packet(8085), _packet(8086), _packet(8081), _packet(8082),
                                    _packet(8084, dst="2001:db8::11", src="2001:db8::10")]})
    assert kind is Exit
    assert live_host["calls"] == ["ip -j addr show"]
    assert "/proc/net/tcp" in live_host["read"] and "/proc/net/tcp6" in live_host["read"]
    res = out["results"]
    # Known to be local (the addresses were read), so the listener check runs.
    assert [r["route"] for r in res] == ["local"] * 5
    assert not any("not known to be local" in w for r in res for w in r["warnings"])
    assert (res[0]["observed_as"], res[0]["listener"]["address"], res[0]["listener"]["port"]) == ("open", "198.18.0.11", 8085)
    assert (res[1]["observed_as"], res[1]["errno"], res[1]["no_listener"]) == ("refused", "ECONNREFUSED", True)
    assert (res[2]["observed_as"], res[2]["no_listener"]) == ("refused", True)  # only 127.0.0.1:8081
    assert (res[3]["observed_as"], res[3]["listener"]["address"]) == ("open", "::")  # dual-stack, v6only 0 via netlink
    assert (res[4]["observed_as"], res[4]["listener"]["port"]) == ("open", 8084)
    assert [item["port"] for item in out["host"]["listeners"]] == [8080, 8081, 8082, 8083, 8084, 8085]
    assert [a["address"] for a in out["host"]["addresses"] if a["ifname"] == "veth-a"][:2] == ["198.18.0.11", "2001:db8::11"]


def test_live_redirect_goes_to_the_address_read_from_the_host(live_host):
    """REDIRECT sends the SYN to the first address of the incoming interface: read from `ip -j
    addr show`, it is 198.18.0.11, where nothing listens on 8081 (only 127.0.0.1 does)."""
    live_host["tools"].add("iptables-nft-save")
    live_host["commands"]["iptables-nft-save"] = (0, NETNS_NAT, "")
    for argv in ("iptables-legacy-save", "ip6tables-nft-save", "ip6tables-legacy-save"):
        live_host["tools"].add(argv)
        live_host["commands"][argv] = (0, "", "")
    kind, out = invoke({"packets": [_packet(80)]})
    assert kind is Exit
    res = out["results"][0]
    assert res["destination"] == {"address": "198.18.0.11", "port": 8081}
    assert (res["observed_as"], res["no_listener"]) == ("refused", True)


def test_live_given_context_is_not_read_again(live_host):
    kind, out = invoke({"packets": [_packet(8086)], "listeners": [{"address": "0.0.0.0", "port": 8086}]})
    assert kind is Exit
    assert not any(path.startswith("/proc/net/tcp") for path in live_host["read"])
    assert live_host["calls"] == ["ip -j addr show"]
    assert out["results"][0]["observed_as"] == "open"
    assert set(out["host"]) == {"addresses", "unavailable"}
    live_host["calls"][:] = []
    kind, out = invoke({"packets": [_packet(8086)], "listeners": [], "addresses": {"veth-a": ["198.18.0.11/24"]}})
    assert live_host["calls"] == [] and "host" not in out
    assert out["results"][0]["no_listener"] is True


def test_text_rulesets_never_read_the_host(live_host):
    kind, out = invoke({"iptables_save": RULES, "packets": [_packet(22)]})
    assert kind is Exit
    assert live_host["calls"] == [] and live_host["read"] == [] and "host" not in out
    res = out["results"][0]
    assert (res["verdict"], res["observed_as"], res["listener"], res["no_listener"]) == ("accept", "open", None, False)


def test_live_listeners_partly_unreadable_stay_unknown(live_host):
    """/proc/net/tcp6 unreadable: a list without the IPv6 sockets would call [::]:8082 refused."""
    del live_host["files"]["/proc/net/tcp6"]
    kind, out = invoke({"packets": [_packet(8082), _packet(8085)]})
    assert kind is Exit
    assert out["host"]["listeners"] is None
    assert any(u["what"] == "listeners" and u["source"] == "/proc/net/tcp6" for u in out["host"]["unavailable"])
    assert [r["observed_as"] for r in out["results"]] == ["open", "open"]
    assert [r["no_listener"] for r in out["results"]] == [False, False]


def test_live_addresses_unreadable_stay_unknown(live_host):
    """`ip` fails and /proc/net/if_inet6 is missing: the addresses stay unknown, not an empty list
    (which would say veth-a has no address, and a REDIRECT on it drops)."""
    live_host["tools"].add("iptables-nft-save")
    live_host["commands"]["iptables-nft-save"] = (0, NETNS_NAT, "")
    for argv in ("iptables-legacy-save", "ip6tables-nft-save", "ip6tables-legacy-save"):
        live_host["tools"].add(argv)
        live_host["commands"][argv] = (0, "", "")
    live_host["commands"]["ip -j addr show"] = (1, "", "Cannot open netlink socket: Operation not permitted")
    live_host["commands"]["ip -o addr show"] = (1, "", "Cannot open netlink socket: Operation not permitted")
    kind, out = invoke({"packets": [_packet(80)]})
    assert kind is Exit
    assert out["host"]["addresses"] is None
    assert [u["source"] for u in out["host"]["unavailable"] if u["what"] == "addresses"] == [
        "ip -j addr show", "ip -o addr show", "/proc/net/if_inet6"]
    res = out["results"][0]
    assert res["verdict"] == "accept" and res["destination"] == {"address": None, "port": 8081}
    assert any("first address of veth-a, not known" in w for w in res["warnings"])
    assert res["observed_as"] == "indeterminate"  # only 127.0.0.1:8081 listens; the address is unknown


def test_packet_mark_src_mac_and_mss_reach_the_evaluator(module):
    rules = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             "-A INPUT -m mark --mark 0x10 -j DROP\n"
             "-A INPUT -m mac --mac-source 52:54:00:00:00:01 -j REJECT --reject-with tcp-reset\nCOMMIT\n")
    base = {"src": "198.18.0.10", "dst": "198.18.0.11", "dport": 80}
    kind, out = invoke({"iptables_save": rules, "packets": [
        dict(base, mark=16), dict(base, src_mac="52:54:00:00:00:01"), dict(base, src_mac="52:54:00:00:00:02"),
        dict(base)]})
    assert kind is Exit
    res = out["results"]
    assert [(r["verdict"], (r["rule"] or {}).get("position")) for r in res[:3]] == [
        ("drop", 1), ("reject", 2), ("accept", None)]
    assert res[3]["verdict"] == "indeterminate"  # no MAC given: the mac match cannot be decided
    assert res[3]["unsupported"]["rule"]["position"] == 2
    mss = ("table inet f {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n"
           "\t\ttcp option maxseg size 1000-1400 reject with tcp reset\n\t}\n}\n")
    kind, out = invoke({"nft_text": mss, "packets": [dict(base, mss=1200), dict(base, mss=1460), dict(base)]})
    assert [r["verdict"] for r in out["results"]] == ["reject", "accept", "indeterminate"]
