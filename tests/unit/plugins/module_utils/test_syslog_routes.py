"""Tests of following HAProxy's ``log`` lines through rsyslog's configuration (syslog_routes):
the log targets of a parsed configuration, rsyslog configuration text in both syntaxes, and the
routing of one message through the default ruleset.

Fixtures under tests/unit/fixtures/haproxy/rsyslog/ (sources in tests/unit/fixtures/haproxy/README.md):
Debian 12's /etc/rsyslog.conf (rsyslog 8.2302.0-1+deb12u2) and /etc/rsyslog.d/49-haproxy.conf
(haproxy 2.6.12-1+deb12u4) as packaged. Which files choose_files() picks from them is tested in
test_haproxy_logs.py.
"""

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_config import parse_config
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.syslog_routes import (
    log_targets, parse_rsyslog, route_message,
)


def _config(text):
    return parse_config([("/etc/haproxy/haproxy.cfg", text)])


def test_config_keeps_log_lines_and_log_tag_with_file_and_line():
    config = _config("global\n    log 127.0.0.1:514 len 2048 format rfc5424 local2 info notice\n"
                     "    log-tag hapx\ndefaults\n    log global\n")
    assert config["logs"] == [{"target": "127.0.0.1:514", "args": ["len", "2048", "format", "rfc5424", "local2",
                                                                   "info", "notice"],
                               "file": "/etc/haproxy/haproxy.cfg", "line": 2}]
    assert config["log_tag"] == {"tag": "hapx", "file": "/etc/haproxy/haproxy.cfg", "line": 3}
    target = log_targets(config["logs"], config["log_tag"])[0]
    assert (target["kind"], target["host"], target["port"], target["protocol"], target["facility"]) == \
        ("network", "127.0.0.1", 514, "udp", "local2")
    # max level info, min level notice: the info traffic lines and the notice check lines
    assert (target["severities"], target["programname"]) == (["notice", "info"], "hapx")


def test_log_target_kinds():
    targets = log_targets([
        {"target": "stdout", "args": ["format", "raw", "local0"], "file": "c", "line": 1},
        {"target": "ring@buf1", "args": ["local0"], "file": "c", "line": 2},
        {"target": "unix@/var/lib/haproxy/dev/log", "args": ["local0", "notice"], "file": "c", "line": 3},
        {"target": "tcp@[::1]:6514", "args": ["daemon"], "file": "c", "line": 4},
        {"target": "10.0.0.5", "args": ["local3"], "file": "c", "line": 5},
    ])
    assert [t["kind"] for t in targets] == ["stdio", "ring", "syslog", "network", "network"]
    assert targets[2]["target"] == "/var/lib/haproxy/dev/log" and targets[2]["severities"] == \
        ["emerg", "alert", "notice"]
    assert (targets[3]["host"], targets[3]["port"], targets[3]["protocol"]) == ("::1", 6514, "tcp")
    assert (targets[4]["host"], targets[4]["port"]) == ("10.0.0.5", 514)


def test_parse_debian_rsyslog_conf_as_packaged(fixture_text):
    parsed = parse_rsyslog(fixture_text("haproxy/rsyslog/debian12-rsyslog.conf"), "/etc/rsyslog.conf")
    includes = [i["include"] for i in parsed["items"] if "include" in i]
    assert includes == [{"pattern": "/etc/rsyslog.d/*.conf", "file": "/etc/rsyslog.conf", "line": 45}]
    rules = [i["rule"] for i in parsed["items"] if "rule" in i]
    assert [(r["line"], r["action"]["kind"], r["action"]["path"]) for r in rules] == [
        (55, "file", "/var/log/syslog"), (60, "file", "/var/log/auth.log"), (61, "file", "/var/log/cron.log"),
        (62, "file", "/var/log/kern.log"), (63, "file", "/var/log/mail.log"), (64, "file", "/var/log/user.log"),
        (69, "other", None)]
    # imudp and imtcp are commented out in the packaged file
    assert parsed["inputs"] == []
    haproxy = parse_rsyslog(fixture_text("haproxy/rsyslog/debian12-49-haproxy.conf"), "49-haproxy.conf")
    assert haproxy["sockets"] == [{"path": "/var/lib/haproxy/dev/log", "file": "49-haproxy.conf", "line": 3}]
    assert [(i["rule"]["line"], i["rule"]["filters"], i["rule"]["action"]["kind"]) for i in haproxy["items"]] == [
        (7, [("prop", "programname", "startswith", "haproxy")], "file"),
        (8, [("prop", "programname", "startswith", "haproxy")], "stop")]


def test_selectors_and_expressions():
    rules = parse_rsyslog(
        "local0.=info  /var/log/a.log\n"
        "mail.*;mail.!err /var/log/b.log\n"
        "if not ($syslogfacility-text == 'local0' or $programname contains 'z') then /var/log/c.log\n"
        ":syslogtag, !contains, \"haproxy\" /var/log/d.log\n"
        "if $syslogseverity <= 3 then\n"
        "    -/var/log/e.log;RSYSLOG_FileFormat\n"
        "*.* ?DynFile\n"
        "local0.* @@logs.example:514\n"
        "$RuleSet remote\n"
        "*.* /var/log/remote.log\n"
        "$RuleSet RSYSLOG_DefaultRuleset\n"
        "local0.=info /var/log/f.log\n",
        "r.conf")["items"]
    rules = [i["rule"] for i in rules]

    def paths(facility, severity):
        return [f["path"] for f in route_message(rules, facility, severity)["files"]]

    # the rule under `$RuleSet remote` is not in the default ruleset
    assert paths("local0", "info") == ["/var/log/a.log", "DynFile", "/var/log/f.log"]
    assert paths("local0", "notice") == ["DynFile"]
    assert paths("mail", "info") == ["/var/log/b.log", "/var/log/c.log", "DynFile"]
    assert paths("mail", "err") == ["/var/log/c.log", "/var/log/e.log", "DynFile"]
    assert route_message(rules, "local0", "info")["files"][1]["dynamic"] is True


def test_conditions_it_cannot_evaluate_match_nothing():
    text = ("if re_match($msg, 'x') then /var/log/a.log\n"
            "if $programname == then /var/log/b.log\n"
            "if " + "(" * 3000 + "1" + ")" * 3000 + " then /var/log/c.log\n"
            ":msg, contains, \"Server\" /var/log/d.log\n"
            "if $programname startswith 'hap' and not ($syslogseverity > 5) then /var/log/e.log\n")
    rules = [i["rule"] for i in parse_rsyslog(text, "r.conf")["items"]]
    assert len(rules) == 5
    # functions, broken or absurd conditions and message content are not guessed
    assert [f["path"] for f in route_message(rules, "local0", "notice")["files"]] == ["/var/log/e.log"]
    assert route_message(rules, "local0", "info")["files"] == []
