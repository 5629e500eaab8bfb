"""Tests of the ufw parsers, collect_ufw, ufw_allows and suggest_fix.

Inputs: the shared corpus (../shared/corpus/firewalld_ufw: `ufw status verbose` from jc, user.rules
files from ufw's own test suite); small texts written here follow ufw's formats
(src/backend_iptables.py writes the ``### tuple ###`` lines).
"""

import errno

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.ufw_facts import (
    UfwParseError,
    collect_ufw,
    parse_shell_vars,
    parse_ufw_status,
    parse_user_rules,
)
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.ufw_policy import suggest_fix, ufw_allows

from fake_host import FakeHost

STATUS = "firewalld_ufw/jc-ufw-status-verbose.txt"
APPS = "firewalld_ufw/ufw-tests-apps-user.rules"
USER6 = "firewalld_ufw/ufw-tests-user6.rules"
TEMPLATE = "firewalld_ufw/ufw-conf-user.rules-template"


def test_status_verbose(corpus_text):
    status = parse_ufw_status(corpus_text(STATUS))
    assert status["active"] is True and status["logging"] == "on (low)"
    assert status["defaults"] == {"incoming": "deny", "outgoing": "allow", "routed": "deny"}
    rules = status["rules"]
    assert len(rules) == 15 and [r["number"] for r in rules] == list(range(1, 16))
    assert (rules[2]["action"], rules[2]["from"]["address"], rules[2]["comment"]) == ("deny", "192.168.0.1", "nice comment")
    assert rules[6]["direction"] == "fwd" and rules[6]["v6"] is True
    assert rules[9]["to"]["app"] == "Apache Full" and rules[11]["to"]["app"] == "OpenSSH"
    assert rules[12]["to"]["address"] == "10.10.10.10" and rules[12]["to"]["interface"] == "enp34s0"
    assert rules[13]["to"]["port"] == "50200:50300" and rules[14]["action"] == "limit"


def test_status_inactive_numbered_and_errors():
    assert parse_ufw_status("Status: inactive\n") == {"active": False, "logging": None, "defaults": {},
                                                      "new_profiles": None, "rules": []}
    numbered = parse_ufw_status("Status: active\n\n     To                         Action      From\n"
                                "     --                         ------      ----\n"
                                "[ 1] 22/tcp                     ALLOW IN    Anywhere\n"
                                "[ 2] 8080/tcp                   DENY IN     198.18.0.0/24\n")
    assert [(r["number"], r["action"]) for r in numbered["rules"]] == [(1, "allow"), (2, "deny")]
    with pytest.raises(UfwParseError) as excinfo:
        parse_ufw_status("Status: active\nTo Action From\n22/tcp MAYBE Anywhere\n", "ufw status")
    assert str(excinfo.value).startswith("ufw status:3:")
    with pytest.raises(UfwParseError):
        parse_ufw_status("Logging: on\n")


def test_user_rules_tuples(corpus_text):
    rules = parse_user_rules(corpus_text(APPS), "user.rules")
    assert [(r["action"], r["proto"], r["dport"], r["dapp"]) for r in rules] == [
        ("allow", "udp", "137,138", "Samba"), ("allow", "tcp", "139,445", "Samba"),
        ("reject", "tcp", "110", "Dovecot POP3"), ("allow", "tcp", "80", "Apache"), ("allow", "any", "53", "Bind9")]
    assert rules[0]["line"] == 20 and rules[0]["direction"] == "in"
    v6 = parse_user_rules(corpus_text(USER6), "user6.rules", v6=True)
    assert v6[2]["dport"] == "23" and v6[2]["proto"] == "any" and v6[2]["dapp"] is None and v6[2]["v6"]
    assert parse_user_rules(corpus_text(TEMPLATE)) == []


def test_user_rules_interfaces_routes_logs_and_comment():
    text = ("### tuple ### allow_log tcp 8080 0.0.0.0/0 any 198.18.0.2 in_eth1 comment=6c622068656c7468\n"
            "### tuple ### route:deny tcp 22 0.0.0.0/0 any 0.0.0.0/0 in_eth0!out_eth1\n"
            "### tuple ### deny tcp 22 0.0.0.0/0 any 0.0.0.0/0\n")
    first, route, old = parse_user_rules(text)
    assert (first["log"], first["interface_in"], first["comment"]) == ("log", "eth1", "lb helth")
    assert route["route"] is True and (route["interface_in"], route["interface_out"]) == ("eth0", "eth1")
    assert old["direction"] == "in"   # six-field tuples of old ufw releases
    with pytest.raises(UfwParseError) as excinfo:
        parse_user_rules("\n### tuple ### allow tcp\n", "/etc/ufw/user.rules")
    assert str(excinfo.value).startswith("/etc/ufw/user.rules:2:")
    with pytest.raises(UfwParseError):
        parse_user_rules("### tuple ### permit tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n")


def test_shell_vars():
    values = parse_shell_vars('# comment\nIPV6=yes\nDEFAULT_INPUT_POLICY="DROP"\n', "/etc/default/ufw")
    assert values == {"IPV6": "yes", "DEFAULT_INPUT_POLICY": "DROP"}
    with pytest.raises(UfwParseError):
        parse_shell_vars("not a var\n", "/etc/default/ufw")


# --- collection ---------------------------------------------------------------------------------


def test_not_installed():
    facts = collect_ufw(FakeHost().run, FakeHost().read)
    assert (facts["installed"], facts["active"], facts["unavailable"]) == (False, False, [])


def test_active_host_files_and_status(corpus_text):
    host = FakeHost({"/etc/ufw/user.rules": corpus_text(APPS), "/etc/ufw/user6.rules": corpus_text(USER6)},
                    {("ufw", "status", "verbose"): (0, corpus_text(STATUS), "")})
    facts = collect_ufw(host.run, host.read)
    assert facts["active"] is True and facts["active_source"] == "ufw status verbose"
    assert facts["defaults"]["incoming"] == "deny"
    assert [r["number"] for r in facts["user_rules"]] == list(range(1, 10))
    assert facts["user_rules"][5]["v6"] is True
    assert facts["rules_source"] == ["/etc/ufw/user.rules", "/etc/ufw/user6.rules"]
    assert facts["unavailable"] == []


def test_without_root_files_answer():
    denied = IOError(errno.EACCES, "Permission denied", "/etc/ufw/user.rules")
    host = FakeHost({"/etc/ufw/ufw.conf": "# /etc/ufw/ufw.conf\nENABLED=yes\nLOGLEVEL=low\n",
                     "/etc/default/ufw": 'DEFAULT_INPUT_POLICY="REJECT"\nDEFAULT_OUTPUT_POLICY="ACCEPT"\n',
                     "/etc/ufw/user.rules": denied},
                    {("ufw", "status", "verbose"): (1, "", "ERROR: You need to be root to run this script\n")})
    facts = collect_ufw(host.run, host.read)
    assert (facts["active"], facts["active_source"]) == (True, "/etc/ufw/ufw.conf")
    assert facts["defaults"] == {"incoming": "reject", "outgoing": "allow"}
    reasons = dict((u["source"], u["reason"]) for u in facts["unavailable"])
    assert reasons["ufw status verbose"].startswith("rc=1: ERROR: You need to be root")
    assert reasons["/etc/ufw/user.rules"].startswith("EACCES")
    assert "/etc/ufw/user6.rules" not in reasons


# --- decisions ----------------------------------------------------------------------------------

def _facts(user_rules_text="", user6_text="", incoming="deny", status_rules=None):
    rules = parse_user_rules(user_rules_text) + parse_user_rules(user6_text, v6=True)
    for number, rule in enumerate(rules, 1):
        rule["number"] = number
    return {"active": True, "defaults": {"incoming": incoming}, "user_rules": rules, "rules": status_rules or []}


def test_default_policy_decides_and_fix_appends(corpus_text):
    facts = _facts(corpus_text(APPS), corpus_text(USER6))
    result = ufw_allows(facts, "198.18.0.2", 8080)
    assert (result["allowed"], result["verdict"], result["deciding"]["kind"]) == (False, "drop", "default")
    fix = suggest_fix(facts, "198.18.0.2", 8080)
    assert fix["commands"] == [["ufw", "allow", "from", "198.18.0.2", "to", "any", "port", "8080", "proto", "tcp"]]


def test_first_matching_rule_wins(corpus_text):
    facts = _facts(corpus_text(APPS), corpus_text(USER6))
    result = ufw_allows(facts, "198.18.0.2", 110)
    assert result["verdict"] == "reject" and result["deciding"]["number"] == 3
    assert ufw_allows(facts, "198.18.0.2", 445)["deciding"]["number"] == 2
    assert ufw_allows(facts, "198.18.0.2", 53)["allowed"] is True     # proto any
    # IPv6 source: the user6.rules rules apply
    v6 = ufw_allows(facts, "2001:db8::5", 23)
    assert (v6["verdict"], v6["deciding"]["number"]) == ("drop", 8)


def test_fix_is_inserted_before_the_blocking_rule():
    text = ("### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n"
            "### tuple ### deny tcp 8080 0.0.0.0/0 any 198.18.0.0/24 in\n"
            "### tuple ### allow tcp 8080 0.0.0.0/0 any 0.0.0.0/0 in\n")
    facts = _facts(text)
    assert ufw_allows(facts, "198.18.0.2", 8080)["deciding"]["number"] == 2
    assert ufw_allows(facts, "203.0.113.9", 8080)["allowed"] is True
    fix = suggest_fix(facts, "198.18.0.2", 8080)
    assert fix["commands"] == [["ufw", "insert", "2", "allow", "from", "198.18.0.2", "to", "any", "port", "8080",
                                "proto", "tcp"]]
    assert suggest_fix(facts, "203.0.113.9", 8080) is None


def test_interface_rule_with_unknown_interface_is_uncertain():
    text = "### tuple ### allow tcp 8080 0.0.0.0/0 any 0.0.0.0/0 in_eth1\n"
    facts = _facts(text)
    assert ufw_allows(facts, "198.18.0.2", 8080, iif="eth1")["allowed"] is True
    assert ufw_allows(facts, "198.18.0.2", 8080, iif="eth0")["allowed"] is False
    unknown = ufw_allows(facts, "198.18.0.2", 8080)
    assert unknown["allowed"] is None and "rule 1" in unknown["uncertain"][0]


def test_status_rules_when_files_unreadable(corpus_text):
    status = parse_ufw_status(corpus_text(STATUS))
    facts = {"active": True, "defaults": status["defaults"], "rules": status["rules"], "user_rules": []}
    assert ufw_allows(facts, "192.168.0.1", 443)["deciding"]["number"] == 3   # DENY from 192.168.0.1
    assert ufw_allows(facts, "192.168.0.9", 22)["allowed"] is True
    result = ufw_allows(facts, "198.18.0.2", 8080)
    # rule 10 "Apache Full" names an application profile whose ports the listing does not show
    assert result["allowed"] is None and any("Apache Full" in u for u in result["uncertain"])


def test_inactive_ufw():
    assert ufw_allows({"active": False}, "198.18.0.2", 80)["deciding"]["kind"] == "inactive"
    assert suggest_fix({"active": False}, "198.18.0.2", 80) is None
