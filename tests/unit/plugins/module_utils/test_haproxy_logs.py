"""Tests of the HAProxy log scanner: the corpus (2.7 stderr behind docker timestamps, 1.8/2.0
day-of-year stderr, a hand-pasted syslog fragment, a filebeat tcplog line), our own capture of
HAProxy 2.6.12 stderr (tests/unit/fixtures/haproxy/README.md), and journald short-iso lines.

The journald lines below are written in the documented `journalctl -o short-iso` shape
(`2026-11-25T17:03:24+0000 host identifier[pid]: message`) around messages HAProxy 2.6.12
printed in our capture.
"""

import datetime

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_config import parse_config
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_logs import (
    choose_files, collect_logs, parse_log_line, parse_timestamp, rsyslog_haproxy_files, scan_text, summarize,
)
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.syslog_routes import read_rsyslog, route_message

from test_haproxy_locate import FakeFS  # pylint: disable=import-error

NOW = datetime.datetime(2026, 11, 25, 17, 30, 0)

JOURNAL = """\
2026-11-25T16:10:00+0000 lb1 haproxy[812]: [WARNING]  (812) : Server web/web1 is DOWN, reason: Layer4 timeout, \
check duration: 2001ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.
2026-11-25T17:03:23+0000 lb1 haproxy[812]: [WARNING]  (812) : Health check for server web/web1 failed, reason: \
Layer4 connection problem, info: "Connection refused", check duration: 0ms, status: 0/2 DOWN.
2026-11-25T17:03:24+0000 lb1 haproxy[812]: [WARNING]  (812) : Server web/web1 is DOWN, reason: Layer4 connection \
problem, info: "Connection refused", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, \
0 requeued, 0 remaining in queue.
2026-11-25T17:03:24+0000 lb1 haproxy[812]: [ALERT]    (812) : backend 'web' has no server available!
2026-11-25T17:05:00+0000 lb1 haproxy[812]: 198.51.100.7:40962 [25/Nov/2026:17:05:00.285] fe web/<NOSRV> \
-1/-1/1 212 SC 1/1/0/0/0 0/0
"""


def test_corpus_2101_refused_then_timeout(corpus_text):
    events = scan_text(corpus_text("haproxy_logs/issue-haproxy-2101-healthcheck-refused-then-timeout.log"))
    assert [e["kind"] for e in events] == ["state", "check", "check", "check", "check", "check", "state"]
    check = events[1]
    assert (check["backend"], check["server"], check["result"], check["reason"], check["info"],
            check["status_counts"], check["state"]) == \
        ("csg-gateway", "csggateway-app-1", "failed", "Layer4 connection problem", "Connection refused", [2, 3], "UP")
    summary = summarize(events)["servers"]
    app1 = summary["csg-gateway/csggateway-app-1"]
    # "is DOWN." has no reason: the reason comes from the failed check just before it
    assert (app1["last_state"], app1["last_transition"], app1["last_reason"]) == \
        ("DOWN", "2023-04-04 15:54:43", "Layer4 timeout")
    assert app1["checks_failed"] == 3
    app2 = summary["csg-gateway/csggateway-app-2"]
    assert (app2["last_state"], app2["last_check_info"]) == ("UP", "Connection refused")
    assert app2["lines"][0].startswith("2023-04-04 15:54:26 [WARNING]")


def test_corpus_18_day_of_year_and_no_server(corpus_text):
    events = scan_text(corpus_text("haproxy_logs/issue-helm-charts-17752-redis-ha-l4-l7-timeout.log"))
    summary = summarize(events)
    r2 = summary["servers"]["check_if_redis_is_master_1/R2"]
    assert (r2["last_state"], r2["last_reason"], r2["last_info"], r2["last_transition"]) == \
        ("DOWN", "Layer4 timeout", "at step 1 of tcp-check (connect)", "279/142102")
    assert summary["servers"]["check_if_redis_is_master_1/R0"]["last_reason"] == "Layer7 timeout"
    assert summary["backends"]["check_if_redis_is_master_1"]["no_server_available"] == "279/142102"
    # the NOTICE line about a worker says nothing about servers
    assert len(events) == 5


def test_corpus_pasted_syslog_without_comma(corpus_text):
    events = scan_text(corpus_text("haproxy_logs/issue-haproxy-363-l4timeout-syslog.log"))
    assert len(events) == 1
    assert (events[0]["server"], events[0]["backend"], events[0]["state"], events[0]["reason"],
            events[0]["check_duration_ms"]) == ("XXXXX", None, "DOWN", "Layer4 timeout", 10001)


def test_corpus_tcplog_sc(corpus_text):
    events = scan_text(corpus_text("haproxy_logs/beats-tcplog-nosrv-SC.log"), now=NOW)
    assert [(e["kind"], e["backend"], e["server"], e["termination"]) for e in events] == \
        [("traffic", "app", "<NOSRV>", "SC")]
    assert events[0]["time"] == "Sep 20 15:44:23" and events[0]["ts"] == "2026-09-20T15:44:23"
    assert summarize(events)["servers"]["app/<NOSRV>"]["traffic_errors"] == {"SC": 1}


def test_captured_26_stderr_short(fixture_text):
    events = scan_text(fixture_text("haproxy/hap26-stderr-short.log"))
    summary = summarize(events)
    s1 = summary["servers"]["fe_app/s1"]
    assert (s1["last_state"], s1["last_reason"], s1["last_info"]) == \
        ("DOWN", "Layer4 connection problem", "Connection refused")
    # each event is printed twice (stderr + log line); counted once
    assert s1["checks_failed"] == 3 and s1["checks_succeeded"] == 2
    assert summary["servers"]["fe_app/<NOSRV>"]["traffic_errors"] == {"SC": 1}
    assert "fe_app/s1" in summary["servers"] and "fe_app" in summary["backends"]
    # the successful session (termination "--") is not an error
    assert all(e["kind"] != "traffic" or e["termination"] == "SC" for e in events)


def test_journal_short_iso_and_window():
    since = datetime.datetime(2026, 11, 25, 17, 0, 0)
    events = scan_text(JOURNAL, since=since.replace(tzinfo=datetime.timezone.utc).astimezone().replace(tzinfo=None),
                       now=NOW)
    # the 16:10 line is outside the window
    assert [e["kind"] for e in events] == ["check", "state", "no_server", "traffic"]
    web1 = summarize(events)["servers"]["web/web1"]
    assert (web1["last_transition"], web1["last_state"], web1["last_info"]) == \
        ("2026-11-25T17:03:24+0000", "DOWN", "Connection refused")
    assert events[1]["ts"] == "2026-11-25T17:03:24+00:00"


def test_parse_log_line_ignores_other_lines():
    assert parse_log_line("[NOTICE]   (1) : New worker (8) forked") is None
    assert parse_log_line("") is None
    assert parse_log_line("Nov 25 17:00:00 lb1 sshd[1]: Accepted publickey for root") is None


def test_parse_timestamp_year_rollover():
    jan = datetime.datetime(2027, 1, 2, 0, 0, 0)
    assert parse_timestamp("Dec 31 23:59:59", now=jan).year == 2026
    assert parse_timestamp("2026-11-25T17:03:24.123+01:00").utcoffset() == datetime.timedelta(hours=1)
    assert parse_timestamp("279/142102") is None


def newest_first(text):
    return "".join(reversed(text.splitlines(True)))


def test_collect_logs_journal_then_files():
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, newest_first(JOURNAL), ""

    fs = FakeFS({"/etc/rsyslog.d/49-haproxy.conf":
                 b"$AddUnixListenSocket /var/lib/haproxy/dev/log\n"
                 b":programname, startswith, \"haproxy\" {\n  /var/log/haproxy.log\n  stop\n}\n"
                 b"if $programname startswith 'haproxy' then /var/log/haproxy-traffic.log\n",
                 "/var/log/haproxy.log": b"Nov 25 17:10:00 lb1 haproxy[812]: Server web/web2 is DOWN, reason: "
                                         b"Layer4 timeout, check duration: 2000ms. 0 active.\n"})
    logs = collect_logs(run, fs, window_minutes=60, now=NOW)
    assert calls[0][:5] == ["journalctl", "-u", "haproxy.service", "-o", "short-iso"]
    assert calls[0][5:7] == ["--since", "2026-11-25 16:30:00"] and "--grep" in calls[0]
    assert logs["sources"] == ["journalctl -u haproxy.service -o short-iso", "/var/log/haproxy.log"]
    assert set(logs["servers"]) == {"web/web1", "web/<NOSRV>", "web/web2"}
    assert logs["servers"]["web/web2"]["last_reason"] == "Layer4 timeout"
    assert logs["backends"]["web"]["no_server_available"] == "2026-11-25T17:03:24+0000"
    assert logs["unavailable"] == []


def test_collect_logs_grep_fallback_and_missing_journal():
    calls = []

    def run(argv):
        calls.append(argv)
        if "--grep" in argv:
            return 1, "", "Compiled without pattern matching support"
        return 0, newest_first(JOURNAL), ""

    logs = collect_logs(run, FakeFS({}), window_minutes=60, now=NOW)
    assert "--grep" not in calls[1] and logs["servers"]["web/web1"]["last_state"] == "DOWN"

    logs = collect_logs(lambda argv: (127, "", "journalctl: not found"), FakeFS({}), now=NOW)
    assert logs["source"] is None and logs["servers"] == {}
    assert logs["unavailable"][0]["what"] == "logs.journal"


def test_collect_logs_asks_newest_first_and_keeps_the_last_transition():
    # Seen on the lab's Debian 12 lb (systemd 252): `journalctl -n N --grep X` printed newest
    # first, so a server that went DOWN at boot and UP a second later was reported DOWN.
    lines = [
        "2026-11-25T17:44:11+0000 lb haproxy[37]: Server web/web1 is DOWN, reason: Layer4 connection problem, "
        "info: \"Connection refused\", check duration: 0ms. 4 active and 0 backup servers left. 0 sessions active, "
        "0 requeued, 0 remaining in queue.",
        "2026-11-25T17:44:12+0000 lb haproxy[37]: Server web/web1 is UP, reason: Layer4 check passed, check "
        "duration: 0ms. 3 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
    ]
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, "\n".join(reversed(lines)) + "\n", ""

    logs = collect_logs(run, FakeFS({}), window_minutes=60, now=datetime.datetime(2026, 11, 25, 17, 50))
    assert "--reverse" in calls[0] and calls[0][calls[0].index("-n") + 1] == "50000"
    web1 = logs["servers"]["web/web1"]
    assert (web1["last_state"], web1["last_transition"]) == ("UP", "2026-11-25T17:44:12+0000")
    assert web1["lines"] == lines


def test_collect_logs_explicit_files_skip_journal():
    def run(argv):
        raise AssertionError("journal must not be read when log_files are given")

    fs = FakeFS({"/srv/haproxy.log": JOURNAL.encode()}, denied={"/srv/missing.log"})
    logs = collect_logs(run, fs, window_minutes=60, files=["/srv/haproxy.log", "/srv/missing.log"], now=NOW)
    assert logs["sources"] == ["/srv/haproxy.log"]
    assert logs["unavailable"][0]["source"] == "/srv/missing.log"


def test_collect_logs_counts_an_event_once_across_sources_but_every_repeat_within_one():
    """The same line in a later source (the journal and a syslog file, or two files) is one event;
    a line one source holds twice, apart (a server flapping within the second), counts twice."""
    down = (b"Nov 25 17:10:00 lb1 haproxy[812]: Server web/web2 is DOWN, reason: Layer4 timeout, "
            b"check duration: 2000ms. 0 active.\n")
    up = (b"Nov 25 17:10:00 lb1 haproxy[812]: Server web/web2 is UP, reason: Layer4 check passed, "
          b"check duration: 0ms. 1 active.\n")
    fs = FakeFS({"/srv/a.log": down + up + down, "/srv/b.log": down + up})
    logs = collect_logs(None, fs, window_minutes=60, files=["/srv/a.log", "/srv/b.log"], now=NOW)
    assert logs["sources"] == ["/srv/a.log", "/srv/b.log"]
    assert logs["events"] == 3
    assert logs["servers"]["web/web2"]["last_state"] == "DOWN"


def test_rsyslog_files():
    fs = FakeFS({"/etc/rsyslog.d/49-haproxy.conf": b"# /var/log/old.log haproxy\n"
                                                   b"if $programname startswith 'haproxy' then -/var/log/haproxy.log\n"})
    assert rsyslog_haproxy_files(fs) == ["/var/log/haproxy.log"]


# --- which syslog file the configuration's `log` lines end in ----------------------------------
# Fixtures under tests/unit/fixtures/haproxy/rsyslog/ (sources in tests/unit/fixtures/haproxy/README.md):
# Debian 12's /etc/rsyslog.conf (rsyslog 8.2302.0-1+deb12u2) and /etc/rsyslog.d/49-haproxy.conf
# (haproxy 2.6.12-1+deb12u4) as packaged, and two files we wrote in other common layouts.

DEBIAN_GLOBAL = """\
global
\tlog /dev/log\tlocal0
\tlog /dev/log\tlocal1 notice
\tchroot /var/lib/haproxy
"""

FILE_LINE = ("Nov 25 17:03:24 lb1 haproxy[812]: Server web/web1 is DOWN, reason: Layer4 connection problem, "
             "info: \"Connection refused\", check duration: 0ms. 0 active and 0 backup servers left. "
             "0 sessions active, 0 requeued, 0 remaining in queue.\n")


def _config(text):
    return parse_config([("/etc/haproxy/haproxy.cfg", text)])


def _rsyslog_fs(fixture_text, extra=None, with_haproxy=True):
    files = {"/etc/rsyslog.conf": fixture_text("haproxy/rsyslog/debian12-rsyslog.conf").encode()}
    if with_haproxy:
        files["/etc/rsyslog.d/49-haproxy.conf"] = fixture_text("haproxy/rsyslog/debian12-49-haproxy.conf").encode()
    files.update(extra or {})
    return FakeFS(files)


def test_debian_dev_log_goes_to_haproxy_log_and_stops(fixture_text):
    chosen = choose_files(_rsyslog_fs(fixture_text), _config(DEBIAN_GLOBAL))
    assert chosen["files"] == ["/var/log/haproxy.log"]  # not /var/log/syslog: `stop` at line 8
    assert chosen["reason"] == (
        'local0 from /etc/haproxy/haproxy.cfg:2 -> /etc/rsyslog.d/49-haproxy.conf:7 (:programname, startswith, '
        '"haproxy"); local1 from /etc/haproxy/haproxy.cfg:3 -> /etc/rsyslog.d/49-haproxy.conf:7 (:programname, '
        'startswith, "haproxy")')
    assert chosen["rsyslog_files"] == ["/etc/rsyslog.conf", "/etc/rsyslog.d/49-haproxy.conf"]
    local1 = chosen["routes"][1]
    assert local1["files"][0]["severities"] == ["emerg", "alert", "notice"]
    assert local1["files"][0]["stop"] == "/etc/rsyslog.d/49-haproxy.conf:8"


def test_without_the_haproxy_rule_the_catch_all_syslog_file(fixture_text):
    chosen = choose_files(_rsyslog_fs(fixture_text, with_haproxy=False), _config(DEBIAN_GLOBAL))
    assert chosen["files"] == ["/var/log/syslog"]
    assert chosen["reason"].startswith(
        "local0 from /etc/haproxy/haproxy.cfg:2 -> /etc/rsyslog.conf:55 (*.*;auth,authpriv.none)")


def test_log_tag_that_the_haproxy_rule_does_not_match(fixture_text):
    chosen = choose_files(_rsyslog_fs(fixture_text), _config("global\n  log /dev/log local0\n  log-tag lb-edge\n"))
    assert chosen["files"] == ["/var/log/syslog"]


def test_udp_target_without_an_rsyslog_udp_input(fixture_text):
    fs = _rsyslog_fs(fixture_text, {"/var/log/haproxy.log": b""})
    chosen = choose_files(fs, _config("global\n  log 127.0.0.1:514 local2\n"))
    assert chosen["routes"][0]["note"] == "rsyslog has no imudp input on port 514: these messages are not received"
    # nothing routed: the usual files are read, and the reason says both
    assert chosen["files"] == ["/var/log/haproxy.log"]
    assert "not received" in chosen["reason"] and "falling back" in chosen["reason"]


def test_rhel_style_local2_over_udp_and_ampersand_stop(fixture_text):
    fs = FakeFS({"/etc/rsyslog.conf": fixture_text("haproxy/rsyslog/rhel-style-rsyslog.conf").encode()})
    chosen = choose_files(fs, _config("global\n    log         127.0.0.1 local2\n"))
    assert chosen["files"] == ["/var/log/haproxy.log"]  # `& stop`: not /var/log/messages
    assert chosen["reason"] == "local2 from /etc/haproxy/haproxy.cfg:2 -> /etc/rsyslog.conf:17 (local2.*)"
    # local0 is not kept apart: *.info;mail.none;... catches it, its emerg lines also go to the users
    chosen = choose_files(fs, _config("global\n    log /dev/log local0\n"))
    assert chosen["files"] == ["/var/log/messages"]
    assert chosen["routes"][0]["files"][0]["rule"] == "/etc/rsyslog.conf:20"


def test_rainerscript_if_else_blocks_rulesets_and_templates(fixture_text):
    fs = _rsyslog_fs(fixture_text, {"/etc/rsyslog.d/30-haproxy.conf":
                                    fixture_text("haproxy/rsyslog/rainerscript-haproxy.conf").encode()},
                     with_haproxy=False)
    chosen = choose_files(fs, _config("global\n  log /dev/log local0\n"))
    route = chosen["routes"][0]
    assert [(f["path"], f["rule"], f["severities"]) for f in route["files"]] == [
        ("/var/log/haproxy/events.log", "/etc/rsyslog.d/30-haproxy.conf:24", ["emerg", "alert", "notice"]),
        ("/var/log/haproxy/traffic.log", "/etc/rsyslog.d/30-haproxy.conf:19", ["info"])]
    # the ruleset bound to the TCP input is not the default one
    assert "/var/log/remote/all.log" not in chosen["files"] and "/var/log/syslog" not in chosen["files"]
    # only notice and above are sent: the traffic file is not chosen
    chosen = choose_files(fs, _config("global\n  log /dev/log local0 notice\n"))
    assert chosen["files"] == ["/var/log/haproxy/events.log"]
    # a TCP input bound to another ruleset is said, not followed
    chosen = choose_files(fs, _config("global\n  log tcp@127.0.0.1:10514 local0\n"))
    assert "uses ruleset remote" in chosen["routes"][0]["note"]


def test_includes_globs_and_unreadable_files():
    fs = FakeFS({"/etc/rsyslog.conf": b'include(file="/etc/rsyslog.d/*.conf" mode="optional")\n'
                                      b"*.* /var/log/all.log\n",
                 "/etc/rsyslog.d/10-b.conf": b"local0.* /var/log/b.log\n",
                 "/etc/rsyslog.d/05-a.conf": b"local0.* /var/log/a.log\n& ~\n",
                 "/etc/rsyslog.d/notes.txt": b"local0.* /var/log/no.log\n",
                 "/etc/rsyslog.d/20-c.conf": b""},
                denied={"/etc/rsyslog.d/20-c.conf"})
    read = read_rsyslog(fs)
    assert read["files"] == ["/etc/rsyslog.conf", "/etc/rsyslog.d/05-a.conf", "/etc/rsyslog.d/10-b.conf"]
    assert read["problems"] == ["/etc/rsyslog.d/20-c.conf: Permission denied"]
    result = route_message(read["rules"], "local0", "notice")
    # `& ~` (the legacy discard) ends it after the first file
    assert ([f["path"] for f in result["files"]], result["stop"]) == (["/var/log/a.log"], "/etc/rsyslog.d/05-a.conf:2")
    chosen = choose_files(fs, _config("global\n  log /dev/log local0\n"))
    assert chosen["unavailable"] == [{"what": "logs.rsyslog", "source": "/etc/rsyslog.d/20-c.conf",
                                      "reason": "/etc/rsyslog.d/20-c.conf: Permission denied"}]


def test_stdout_remote_and_no_log_line(fixture_text):
    fs = _rsyslog_fs(fixture_text, {"/var/log/haproxy.log": b""})
    chosen = choose_files(fs, _config("global\n  log stdout format raw local0\n  log 192.0.2.10:514 local0\n"))
    # the journal (read first anyway) and another host: no file, no guessing
    assert chosen["files"] == []
    assert [r["journal"] for r in chosen["routes"]] == [True, False]
    assert "192.0.2.10:514, another host" in chosen["reason"]
    chosen = choose_files(fs, _config("global\n  maxconn 100\n"))
    assert chosen["files"] == ["/var/log/haproxy.log"]
    assert chosen["reason"].startswith("no `log` line in the global section")
    # without rsyslog at all
    chosen = choose_files(FakeFS({"/etc/syslog-ng/syslog-ng.conf": b""}), _config(DEBIAN_GLOBAL))
    assert chosen["files"] == [] and "no rsyslog configuration" in chosen["reason"]
    assert "/etc/syslog-ng/syslog-ng.conf is not read" in chosen["reason"]


def test_collect_logs_follows_the_config_and_counts_an_event_once(fixture_text):
    journal = ("2026-11-25T17:03:24+0000 lb1 haproxy[812]: Server web/web1 is DOWN, reason: Layer4 connection "
               "problem, info: \"Connection refused\", check duration: 0ms. 0 active and 0 backup servers left. "
               "0 sessions active, 0 requeued, 0 remaining in queue.\n")
    fs = _rsyslog_fs(fixture_text, {"/var/log/haproxy.log": FILE_LINE.encode(),
                                    "/var/log/syslog": FILE_LINE.replace("web1", "web9").encode()})
    now = datetime.datetime(2026, 11, 25, 17, 30, tzinfo=datetime.timezone.utc).astimezone().replace(tzinfo=None)
    file_line = FILE_LINE.replace("Nov 25 17:03:24", now.replace(minute=3, second=24).strftime("%b %d %H:%M:%S"))
    fs.files["/var/log/haproxy.log"] = file_line.encode()
    logs = collect_logs(lambda argv: (0, journal, ""), fs, now=now, config=_config(DEBIAN_GLOBAL))
    assert logs["sources"] == ["journalctl -u haproxy.service -o short-iso", "/var/log/haproxy.log"]
    assert logs["source_reason"].startswith("local0 from /etc/haproxy/haproxy.cfg:2 -> "
                                            "/etc/rsyslog.d/49-haproxy.conf:7")
    # the same DOWN in the journal and in the file: one event
    assert logs["events"] == 1 and list(logs["servers"]) == ["web/web1"]
    assert logs["rsyslog_files"] == ["/etc/rsyslog.conf", "/etc/rsyslog.d/49-haproxy.conf"]


def test_collect_logs_says_when_the_chosen_file_is_missing(fixture_text):
    logs = collect_logs(lambda argv: (0, "", ""), _rsyslog_fs(fixture_text), now=NOW, config=_config(DEBIAN_GLOBAL))
    assert logs["sources"] == ["journalctl -u haproxy.service -o short-iso"]
    assert logs["unavailable"] == [{"what": "logs.file", "source": "/var/log/haproxy.log",
                                    "reason": "chosen from the rsyslog rules but not a file here"}]
