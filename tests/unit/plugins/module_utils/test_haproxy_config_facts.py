"""Tests of gather(): config + haproxy -c + runtime + DNS assembled into the facts, with the
host faked (fake /proc and files, canned command output, a canned runtime API, a fake resolver).

`haproxy -c` messages are the ones HAProxy 2.6.12 printed on Debian 12 for the corpus files.
"""

import json
import socket

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_config_facts import (
    gather, parse_check_output, parse_version_output, resolve_names,
)
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_runtime import RuntimeApiError

from test_haproxy_locate import FakeFS, proc_entry  # pylint: disable=import-error

CONFIG = b"""\
global
    stats socket /run/haproxy/admin.sock mode 660 level admin

defaults
    mode http
    timeout connect 5s

backend web
    server web1 "${WEB1}:8080" check
    server api api.example.test:9000 check
"""

VV = """HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/
Build options :
Feature list : -51DEGREES +ACCEPT4 +EPOLL -QUIC +THREAD
"""

CHECK_26 = """\
[NOTICE]   (11859) : haproxy version is 2.6.12-1+deb12u4
[NOTICE]   (11859) : path to executable is /usr/sbin/haproxy
[WARNING]  (13504) : config : parsing [/etc/haproxy/haproxy.cfg:30] : 'server server_01' : init_addr, \
resolvers, check and agent are ignored for peers.
[ALERT]    (11857) : config : [/etc/haproxy/haproxy.cfg:12] : 'server b/s4' : could not resolve address 'fd00:'.
[ALERT]    (11857) : config : Failed to initialize server(s) addr.
"""


def test_parse_version_output():
    version, features = parse_version_output(VV)
    assert version == "2.6.12-1+deb12u4"
    assert features == {"ACCEPT4", "EPOLL", "THREAD"}


def test_parse_check_output_keeps_file_and_line():
    messages = parse_check_output(CHECK_26)
    assert messages == [
        {"severity": "warning", "file": "/etc/haproxy/haproxy.cfg", "line": 30,
         "message": "'server server_01' : init_addr, resolvers, check and agent are ignored for peers."},
        {"severity": "error", "file": "/etc/haproxy/haproxy.cfg", "line": 12,
         "message": "'server b/s4' : could not resolve address 'fd00:'."},
        {"severity": "error", "file": None, "line": None, "message": "Failed to initialize server(s) addr."},
    ]


def _host():
    files, links = proc_entry(100, 1, ["/usr/sbin/haproxy", "-Ws", "-f", "/etc/haproxy/haproxy.cfg"],
                              environ=b"WEB1=198.18.0.11\0HAPROXY_MWORKER=1\0HAPROXY_MWORKER_WAIT_ONLY=1\0"
                                      b"HAPROXY_MWORKER_REEXEC=1\0HAPROXY_PROCESSES=|type=m;fd=-1;pid=100\0"
                                      b"HAPROXY_LOCALPEER=lb\0")
    files["/etc/haproxy/haproxy.cfg"] = CONFIG
    return FakeFS(files, links)


def _fake_resolver(name, port, family, socktype):
    if name == "api.example.test":
        return [(socket.AF_INET6, socktype, 6, "", ("2001:db8::7", 0, 0, 0)),
                (socket.AF_INET, socktype, 6, "", ("198.18.0.20", 0))]
    raise socket.gaierror(-2, "Name or service not known")


def test_gather_live_host(fixture_text):
    calls = []

    def run(argv, env=None):
        calls.append((argv, env))
        if argv[1:] == ["-vv"]:
            return 0, VV, ""
        if argv[1] == "-c":
            return 0, "Configuration file is valid\n", ""
        return 1, "", "unexpected"

    def query_fn(sock, command, timeout):
        assert sock["address"] == "/run/haproxy/admin.sock"
        if command == "show stat":
            return fixture_text("haproxy/hap26-stat.csv")
        if command == "show info":
            return fixture_text("haproxy/hap26-info.txt")
        raise RuntimeApiError("denied-command", "stats socket: 'show servers state' refused")

    facts = gather({"runtime": True, "resolve": True, "validate": True}, run, fs=_host(), query_fn=query_fn,
                   resolve_fn=_fake_resolver)
    config = facts["config"]
    assert config["source"] == "cmdline" and config["files"] == ["/etc/haproxy/haproxy.cfg"]
    web1 = config["backends"][0]["servers"][0]
    # ${WEB1} comes from the environment of the running process, not of the module
    assert (web1["address"], web1["port"], web1["line"]) == ("198.18.0.11", 8080, 9)
    assert config["validation"]["valid"] is True
    # the master's re-exec variables (the environ of a Debian 12 `haproxy -Ws` master) stay out of
    # `haproxy -c`: with HAPROXY_MWORKER_WAIT_ONLY=1 it exits 2 for a valid file
    assert calls[1] == (["/usr/sbin/haproxy", "-c", "-f", "/etc/haproxy/haproxy.cfg"],
                        {"WEB1": "198.18.0.11", "HAPROXY_LOCALPEER": "lb"})
    assert facts["haproxy"]["version"] == "2.6.12-1+deb12u4"
    assert facts["runtime"]["available"] is True and len(facts["runtime"]["stat"]) == 9
    assert facts["dns"]["api.example.test"]["addresses"] == [
        {"address": "198.18.0.20", "family": "ipv4"}, {"address": "2001:db8::7", "family": "ipv6"}]
    assert facts["dns"]["api.example.test"]["used_by"] == [
        {"backend": "web", "server": "api", "runtime_address": None}]
    assert [u["what"] for u in facts["unavailable"]] == ["runtime.servers_state"]


def test_gather_haproxy_check_errors_join_config_errors():
    def run(argv, env=None):
        if argv[1:] == ["-vv"]:
            return 0, VV, ""
        return 1, "", CHECK_26

    facts = gather({"runtime": False, "resolve": False}, run, fs=_host())
    errors = [e for e in facts["config"]["errors"] if e["origin"] == "haproxy -c"]
    assert [(e["file"], e["line"]) for e in errors] == [("/etc/haproxy/haproxy.cfg", 12), (None, None)]
    assert facts["config"]["validation"]["valid"] is False
    assert facts["runtime"]["available"] is False and facts["runtime"]["error_kind"] == "disabled"


def test_gather_no_binary_no_socket_still_returns_config():
    def run(argv, env=None):
        return 127, "", "haproxy: not found"

    def query_fn(sock, command, timeout):
        raise RuntimeApiError("no-socket", "stats socket /run/haproxy/admin.sock does not exist")

    facts = gather({}, run, fs=_host(), query_fn=query_fn, resolve_fn=_fake_resolver)
    assert facts["config"]["backends"][0]["name"] == "web"
    assert facts["config"]["validation"]["ran"] is False
    assert facts["runtime"]["available"] is False
    assert "does not exist" in facts["runtime"]["error"]
    whats = [u["what"] for u in facts["unavailable"]]
    assert "haproxy.version" in whats and "runtime" in whats


def test_gather_content_mode_reads_nothing_from_the_host():
    def run(argv, env=None):
        raise AssertionError("content mode must not run %r" % argv)

    facts = gather({"content": "backend b\n    server s1 ${IP}:80 check\n", "environment": {"IP": "10.9.9.9"},
                    "runtime": False, "resolve": False}, run, fs=FakeFS({}))
    server = facts["config"]["backends"][0]["servers"][0]
    assert facts["config"]["source"] == "content" and facts["config"]["files"] == ["<content>"]
    assert (server["address"], server["file"]) == ("10.9.9.9", "<content>")


def test_gather_unreadable_config_file():
    files, links = proc_entry(100, 1, ["haproxy", "-f", "/etc/haproxy/haproxy.cfg"])
    fs = FakeFS(files, links, denied={"/etc/haproxy/haproxy.cfg"})
    facts = gather({"runtime": False, "resolve": False}, lambda argv, env=None: (127, "", ""), fs=fs)
    assert facts["config"]["errors"][0]["code"] == "unreadable"
    assert {"what": "config", "reason": "cannot read: Permission denied", "source": "/etc/haproxy/haproxy.cfg"} \
        in facts["unavailable"]


def test_resolve_names_reports_errors():
    out = resolve_names(["nope.invalid", "api.example.test"], resolve_fn=_fake_resolver)
    assert out["nope.invalid"]["addresses"] == [] and "not known" in out["nope.invalid"]["error"]
    assert out["api.example.test"]["error"] is None


def test_gather_reads_logs_from_the_journal():
    import datetime
    journal = ("2026-11-25T17:03:24+0000 lb1 haproxy[812]: [WARNING]  (812) : Server web/web1 is DOWN, reason: "
               "Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 0 active and 0 backup "
               "servers left. 0 sessions active, 0 requeued, 0 remaining in queue.\n")
    calls = []

    def run(argv, env=None):
        calls.append(argv)
        if argv[0] == "journalctl":
            return 0, journal, ""
        return 127, "", "not found"

    facts = gather({"runtime": False, "resolve": False, "logs": True, "log_window": 30}, run, fs=_host(),
                   now=datetime.datetime(2026, 11, 25, 17, 10))
    assert facts["logs"]["servers"]["web/web1"]["last_state"] == "DOWN"
    assert facts["logs"]["window_minutes"] == 30
    journal_call = [c for c in calls if c[0] == "journalctl"][0]
    assert journal_call[journal_call.index("--since") + 1] == "2026-11-25 16:40:00"


def test_gather_content_mode_skips_logs_unless_files_given():
    def run(argv, env=None):
        raise AssertionError("nothing may run: %r" % argv)

    facts = gather({"content": "backend b\n", "logs": True, "runtime": False}, run, fs=FakeFS({}))
    assert facts["logs"] is None


def test_gather_falls_back_to_the_master_cli(fixture_text):
    files, links = proc_entry(100, 1, ["/usr/sbin/haproxy", "-Ws", "-f", "/etc/haproxy/haproxy.cfg",
                                       "-S", "/run/haproxy-master.sock"], environ=b"WEB1=198.18.0.11\0")
    files["/etc/haproxy/haproxy.cfg"] = CONFIG
    sent = []

    def query_fn(sock, command, timeout):
        sent.append((sock["address"], sock.get("via_master", False), command))
        if not sock.get("via_master"):
            raise RuntimeApiError("no-socket", "stats socket %s does not exist" % sock["address"])
        return {"show info": fixture_text("haproxy/hap26-info.txt"),
                "show stat": fixture_text("haproxy/hap26-stat.csv"),
                "show servers state": fixture_text("haproxy/hap26-servers-state.txt")}[command]

    facts = gather({"resolve": False}, lambda argv, env=None: (127, "", ""), fs=FakeFS(files, links),
                   query_fn=query_fn)
    assert facts["runtime"]["available"] is True
    assert facts["runtime"]["socket"] == "/run/haproxy-master.sock (master CLI, @1)"
    assert sent[:2] == [("/run/haproxy/admin.sock", False, "show info"), ("/run/haproxy-master.sock", True, "show info")]


def test_gather_result_is_strict_utf8_when_the_host_gives_other_bytes():
    """A Latin-1 config under a Latin-1 directory name, an environment value and `haproxy -c`
    output that are not UTF-8 (as a runner decoding with surrogateescape returns them)."""
    path = "/etc/haproxy/caf\udce9/haproxy.cfg"
    files, links = proc_entry(100, 1, ["/usr/sbin/haproxy"], environ=b"WEB1=198.18.0.11\0NOTE=r\xe9seau\0")
    files["/proc/100/cmdline"] = b"/usr/sbin/haproxy\0-f\0/etc/haproxy/caf\xe9/haproxy.cfg\0"
    files[path] = CONFIG + b"    http-check send hdr Host caf\xe9.example\n"
    check = ("[ALERT]    (1) : config : parsing [%s:11] : unknown keyword 'caf\udce9'.\n" % path)

    def run(argv, env=None):
        if argv[1:] == ["-vv"]:
            return 0, VV, ""
        return 1, "", check

    facts = gather({"runtime": False, "resolve": False}, run, fs=FakeFS(files, links))
    json.dumps(facts, ensure_ascii=False).encode("utf-8")  # what ansible-core 2.19 insists on
    config = facts["config"]
    assert config["files"] == ["/etc/haproxy/caf\ufffd/haproxy.cfg"]
    assert [(w["file"], w["line"], w["code"]) for w in config["warnings"]] == [
        ("/etc/haproxy/caf\ufffd/haproxy.cfg", 11, "encoding")]
    assert config["backends"][0]["servers"][0]["address"] == "198.18.0.11"
    assert [e["message"] for e in config["errors"] if e["origin"] == "haproxy -c"] == [
        "unknown keyword 'caf\ufffd'."]
    assert facts["haproxy"]["process"]["argv"][2] == "/etc/haproxy/caf\ufffd/haproxy.cfg"
