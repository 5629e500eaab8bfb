"""Tests of the runtime API client and its parsers.

Captured fixtures (tests/unit/fixtures/haproxy/README.md) come from HAProxy 2.6.12 on Debian 12;
the corpus files cover 1.5 (52 columns), 1.7 (85), 2.8 (~150 with module counters), a
headerless dump, RFC 4180 quoting with embedded newlines and a garbled row. The client is
exercised against real UNIX and TCP sockets served by a thread in the test.
"""

import os
import socket
import threading

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils import haproxy_runtime
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_runtime import (
    RuntimeApiError, StatParseError, collect_runtime, normalize_status, parse_servers_state, parse_show_info,
    parse_show_stat, parse_socket_spec, query,
)
from loopback_sockets import serve_in_thread


def by_name(rows):
    return dict(("%s/%s" % (r["pxname"], r["svname"]), r) for r in rows)


# -- status normalisation ----------------------------------------------------------------------

@pytest.mark.parametrize("status, expected", [
    ("UP", ("UP", None, None, None)),
    ("UP 1/3", ("UP", "going_down", [1, 3], None)),
    ("DOWN 2/3", ("DOWN", "going_up", [2, 3], None)),
    ("DOWN (agent)", ("DOWN", None, None, "agent")),
    ("MAINT", ("MAINT", None, None, None)),
    ("MAINT (resolution)", ("MAINT", None, None, "resolution")),
    ("MAINT (via app/web1)", ("MAINT", None, None, "via app/web1")),
    ("DRAIN", ("DRAIN", None, None, None)),
    ("NOLB", ("NOLB", None, None, None)),
    ("no check", ("NO_CHECK", None, None, None)),
    ("NO CHECK", ("NO_CHECK", None, None, None)),
    ("garbage", (None, None, None, None)),
])
def test_normalize_status(status, expected):
    assert normalize_status(status) == expected


# -- show stat: our captures -------------------------------------------------------------------

def _capture_lines(fixture_text):
    return fixture_text("haproxy/hap26-stat.csv").splitlines()


def test_complete_and_short_rows_give_the_same_entries(fixture_text):
    """A dump whose rows all have every field is converted column by column; one short row sends
    the dump through the row-by-row path. Both read every row the same way."""
    lines = _capture_lines(fixture_text)
    uniform = parse_show_stat("\n".join(lines) + "\n")
    short = ",".join(lines[2].split(",")[:40])  # app,up1 cut after 40 fields
    mixed = parse_show_stat("\n".join(lines + [short]) + "\n")
    assert mixed["servers"][:-1] == uniform["servers"]
    assert mixed["backends"] == uniform["backends"] and mixed["frontends"] == uniform["frontends"]
    assert [list(a) for a in mixed["servers"][:-1]] == [list(a) for a in uniform["servers"]]  # key order too
    assert len(mixed["servers"][-1]) == 40 + 6 and mixed["warnings"] == [
        "show stat: row %d (app/up1): 40 of 103 columns" % (len(lines) + 1)]


def test_values_are_typed_per_column():
    header = "# pxname,svname,status,weight,check_status,bin,lastchg,addr,cookie"
    rows = []
    for i in range(1, 80):
        weight = "" if i % 3 else "1"
        lastchg = "" if i == 5 else str(i)
        rows.append("app,s%d,UP,%s,L4OK,%d,%s,10.0.0.%d:80,%d" % (i, weight, 1000 + i, lastchg, i, i))
    rows.append("app,s80,UP,-1,L4OK,\u00b2,12,10.0.0.80:80,c80")  # a negative int; a superscript digit
    stat = parse_show_stat("\n".join([header] + rows) + "\n")
    s = by_name(stat["servers"])
    assert (s["app/s3"]["weight"], s["app/s4"]["weight"], s["app/s80"]["weight"]) == (1, None, -1)
    assert (s["app/s7"]["bin"], s["app/s5"]["lastchg"], s["app/s6"]["lastchg"]) == (1007, None, 6)
    # text columns stay text even when they look like numbers
    assert (s["app/s7"]["cookie"], s["app/s7"]["addr"]) == ("7", "10.0.0.7:80")
    # what int() reads but is not an ASCII integer stays text (it used to raise ValueError)
    assert s["app/s80"]["bin"] == "\u00b2"


def test_last_column_without_module_counters_loses_its_line_end():
    text = "# pxname,svname,status,check_status\r\napp,s1,UP,L4OK\r\napp,s2,DOWN 1/2,* L4CON\r\n"
    stat = parse_show_stat(text)
    assert [(r["svname"], r["check_status"], r["in_progress"]) for r in stat["servers"]] == [
        ("s1", "L4OK", False), ("s2", "L4CON", True)]


def test_transition_counts_are_not_shared_between_rows():
    stat = parse_show_stat("# pxname,svname,status\napp,s1,UP 1/3\napp,s2,UP 1/3\napp,s3,UP\n")
    first, second, third = stat["servers"]
    assert first["transition_counts"] == [1, 3] and first["transition"] == "going_down"
    first["transition_counts"].append(9)
    assert second["transition_counts"] == [1, 3] and third["transition_counts"] is None


@pytest.mark.parametrize("chunk", [2, 3, 500])
def test_rows_warnings_and_cap_keep_row_order_across_chunks(chunk, monkeypatch):
    monkeypatch.setattr(haproxy_runtime, "STAT_CHUNK_ROWS", chunk)
    rows = ["app,s%d,%s,%s" % (i, "WEIRD" if i % 2 else "UP", "LOK" if i % 3 == 0 else "L4OK") for i in range(1, 81)]
    stat = parse_show_stat("# pxname,svname,status,check_status\n" + "\n".join(rows) + "\n")
    assert [r["svname"] for r in stat["servers"]] == ["s%d" % i for i in range(1, 81)]
    expected = []  # row by row: the status first, then the check status
    for i in range(1, 81):
        if i % 2:
            expected.append("show stat: row %d (app/s%d): unknown status 'WEIRD'" % (i + 1, i))
        if i % 3 == 0:
            expected.append("show stat: row %d (app/s%d): unknown check_status 'LOK'" % (i + 1, i))
    assert len(expected) > 50
    assert stat["warnings"] == expected[:50]  # MAX_WARNINGS


def test_captured_26_stat(fixture_text):
    stat = parse_show_stat(fixture_text("haproxy/hap26-stat.csv"))
    assert stat["columns"] == 103  # 129 on 2.6.12, minus '-' and the module counters after it
    rows = by_name(stat["servers"])
    assert list(rows) == ["app/up1", "app/refused1", "app/flap1", "app/maint1", "app/drain1", "app/bck1",
                          "app/nochk1", "web_http/web1", "empty/dead1"]
    refused = rows["app/refused1"]
    assert (refused["state"], refused["check_status"], refused["last_chk"], refused["check_desc"]) == \
        ("DOWN", "L4CON", "Connection refused", "Layer4 connection problem")
    assert (refused["addr"], refused["check_fall"], refused["in_progress"]) == ("127.0.0.1:18081", 3, False)
    assert rows["app/maint1"]["state"] == "MAINT"
    assert rows["app/drain1"]["state"] == "DRAIN"
    assert rows["app/nochk1"]["state"] == "NO_CHECK"
    assert rows["app/bck1"]["bck"] == 1
    assert (rows["web_http/web1"]["check_status"], rows["web_http/web1"]["last_chk"]) == ("L7STS", "Not Found")
    assert [b["pxname"] for b in stat["backends"] if b["state"] == "DOWN"] == ["web_http", "empty"]
    assert [f["pxname"] for f in stat["frontends"]] == ["fe_target"]
    assert stat["warnings"] == []


def test_captured_26_transition_and_in_progress(fixture_text):
    rows = by_name(parse_show_stat(fixture_text("haproxy/hap26-stat-transition.csv"))["servers"])
    flap = rows["app/flap1"]
    assert (flap["status"], flap["state"], flap["transition"], flap["transition_counts"]) == \
        ("UP 1/3", "UP", "going_down", [1, 3])
    rows = by_name(parse_show_stat(fixture_text("haproxy/hap26-stat-inprogress.csv"))["servers"])
    assert (rows["slow_http/hang1"]["check_status"], rows["slow_http/hang1"]["in_progress"]) == ("L4CON", True)
    assert (rows["coming_up/rise1"]["state"], rows["coming_up/rise1"]["transition"]) == ("DOWN", "going_up")


# -- show stat: the corpus ---------------------------------------------------------------------

def test_corpus_15_evil_quoting(corpus_text):
    stat = parse_show_stat(corpus_text("haproxy_stat_csv/datadog-mock_data_evil.csv"))
    rows = by_name(stat["servers"])
    assert rows["b/i-1"]["status"] == "UP 1/2" and rows["b/i-1"]["transition"] == "going_down"
    assert rows["be_edge_http_sre-production_elk-kibana/i-2"]["status_detail"] == "agent"
    assert rows["be_edge_http_sre-production_elk-kibana/i-3"]["state"] == "NO_CHECK"
    assert rows["b/i-5"]["state"] == "MAINT"
    # a quoted field with embedded newlines stays one field of one row
    assert [b["pxname"] for b in stat["backends"]] == ["a", "b", "be_edge_http_sre-production_elk-kibana"]
    assert stat["backends"][1]["hrsp_2xx"] == "Now, this is just plain\nEVIL"
    assert rows["be_edge_http_sre-production_elk-kibana/i-1"]["hrsp_2xx"] == \
        "And this is 'end of days' stuff,\nam I right? \"Pure EVIL\nDOIN'\"\n"


def test_corpus_17_leading_blank_line(corpus_text):
    stat = parse_show_stat(corpus_text("haproxy_stat_csv/telegraf-sample_output.csv"))
    rows = by_name(stat["servers"])
    assert rows["www/bck"]["bck"] == 1 and rows["www/bck"]["check_desc"] == "Layer7 check passed"
    assert rows["www/www"]["last_chk"] == "OK"
    # per-listener rows (type 3) are neither servers nor backends
    assert "http-in/IPv4-direct" not in rows


def test_corpus_28_module_columns_dropped(corpus_text):
    stat = parse_show_stat(corpus_text("haproxy_stat_csv/otel-haproxy28-stats.csv"))
    s1 = by_name(stat["servers"])["webservers/s1"]
    assert s1["addr"] == "192.168.16.2:8080" and s1["check_status"] == "L4OK"
    assert "agg_check_status" in s1
    assert "ssl_sess" not in s1 and "-" not in s1
    assert len(stat["servers"]) == 3


def test_corpus_garbled_row_degrades(corpus_text):
    stat = parse_show_stat(corpus_text("haproxy_stat_csv/otel-30252-corrupted-row.csv"))
    rows = by_name(stat["servers"])
    assert rows["webservers/s"]["check_status"] == "LOK"
    assert any("unknown check_status 'LOK'" in w for w in stat["warnings"])
    assert rows["webservers/s3"]["addr"] == "192.168.16.4:8080"


def test_corpus_headerless_positional(corpus_text):
    stat = parse_show_stat(corpus_text("haproxy_stat_csv/haproxy_exporter-large-headerless.csv"))
    assert stat["columns"] == 52
    assert len(stat["servers"]) > 2000
    first = stat["servers"][0]
    assert (first["pxname"], first["status"], first["check_status"]) == ("service-0", "UP", "L4OK")
    assert len(stat["warnings"]) == 1


def test_not_stat_output_raises():
    with pytest.raises(StatParseError):
        parse_show_stat("# be_id be_name srv_id\n1 a 1\n")


def test_empty_stat():
    stat = parse_show_stat("")
    assert stat["servers"] == [] and stat["backends"] == []


# -- show info / servers state -----------------------------------------------------------------

def test_show_info(fixture_text):
    info = parse_show_info(fixture_text("haproxy/hap26-info.txt"))
    assert info["Name"] == "HAProxy" and info["Version"] == "2.6.12-1+deb12u4"
    assert "Uptime_sec" in info


def test_servers_state_captured(fixture_text):
    state = parse_servers_state(fixture_text("haproxy/hap26-servers-state.txt"))
    assert state["version"] == 1
    rows = dict((r["srv_name"], r) for r in state["servers"])
    assert (rows["refused1"]["op_state_name"], rows["refused1"]["check_status_name"]) == ("STOPPED", "L4CON")
    assert rows["up1"]["check_status_name"] == "L4OK" and rows["up1"]["check_result_name"] == "PASSED"
    assert rows["maint1"]["admin_flags"] == ["FMAINT", "CMAINT"]
    assert rows["drain1"]["admin_flags"] == ["FDRAIN"]
    assert rows["web1"]["check_status_name"] == "L7STS"
    assert rows["up1"]["srv_fqdn"] is None and rows["up1"]["srv_port"] == 18080


def test_servers_state_corpus_24(corpus_text):
    state = parse_servers_state(corpus_text("haproxy_servers_state/issue-haproxy-1305-show-servers-state-2.4.txt"))
    rows = state["servers"]
    assert [r["srv_name"] for r in rows] == ["srv1", "srv2", "srv3", "srv4"]
    assert rows[0]["srv_addr"] == rows[2]["srv_addr"] == "10.128.73.223"
    assert (rows[0]["srv_fqdn"], rows[0]["srv_port"], rows[0]["srv_check_port"]) == \
        ("main_rw.routing-prod.local", 8888, 6666)


# -- socket spec and client --------------------------------------------------------------------

@pytest.mark.parametrize("text, spec", [
    ("/run/haproxy/admin.sock", {"address": "/run/haproxy/admin.sock", "family": "unix", "port": None}),
    ("unix@/run/x.sock", {"address": "/run/x.sock", "family": "unix", "port": None}),
    ("127.0.0.1:9999", {"address": "127.0.0.1", "family": "ipv4", "port": 9999}),
    ("ipv6@[::1]:9999", {"address": "::1", "family": "ipv6", "port": 9999}),
    ("abns@hap", {"address": "hap", "family": "abns", "port": None}),
])
def test_parse_socket_spec(text, spec):
    assert parse_socket_spec(text) == spec


class FakeHAProxy(object):
    """A stats socket answering canned text, one command per connection like HAProxy."""

    def __init__(self, sock, answers, hang=False):
        self.sock = sock
        self.answers = answers
        self.hang = hang
        self.commands = []
        self.thread = serve_in_thread(self.sock, self.handle)

    def handle(self, conn):
        with conn:
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            command = data.decode().strip()
            self.commands.append(command)
            if self.hang:
                threading.Event().wait(2)
                return
            conn.sendall(self.answers.get(command, "Unknown command: '%s'\n" % command).encode())


@pytest.fixture
def unix_haproxy(tmp_path, fixture_text):
    path = str(tmp_path / "admin.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(8)
    answers = {"show info": fixture_text("haproxy/hap26-info.txt"),
               "show stat": fixture_text("haproxy/hap26-stat.csv"),
               "show servers state": fixture_text("haproxy/hap26-servers-state.txt")}
    server = FakeHAProxy(sock, answers)
    yield path, server
    sock.close()


def test_collect_runtime_over_unix_socket(unix_haproxy):
    path, server = unix_haproxy
    runtime = collect_runtime([{"address": path, "family": "unix", "port": None}], timeout=2.0)
    assert runtime["available"] is True and runtime["error"] is None
    assert runtime["socket"] == path
    assert runtime["info"]["Version"] == "2.6.12-1+deb12u4"
    assert len(runtime["stat"]) == 9 and len(runtime["servers_state"]) == 9
    # one connection per command, nothing else sent
    assert server.commands == ["show info", "show stat", "show servers state"]


def test_collect_runtime_over_tcp(fixture_text):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    FakeHAProxy(sock, {"show info": fixture_text("haproxy/hap26-info.txt"),
                       "show stat": fixture_text("haproxy/hap26-stat.csv")})
    try:
        spec = {"address": "127.0.0.1", "family": "ipv4", "port": sock.getsockname()[1]}
        runtime = collect_runtime([spec], timeout=2.0)
    finally:
        sock.close()
    assert runtime["available"] is True
    assert len(runtime["stat"]) == 9
    # an old HAProxy without `show servers state`: said, not fatal
    assert runtime["servers_state"] == []
    assert runtime["unavailable"][0]["what"] == "runtime.servers_state"


def test_no_socket(tmp_path):
    runtime = collect_runtime([{"address": str(tmp_path / "nope.sock"), "family": "unix", "port": None}])
    assert runtime["available"] is False and runtime["error_kind"] == "no-socket"
    assert "does not exist" in runtime["error"]


def test_no_socket_configured():
    runtime = collect_runtime([])
    assert runtime["available"] is False and "no stats socket" in runtime["error"]


def test_stale_socket_is_refused(tmp_path):
    path = str(tmp_path / "stale.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.close()  # the file stays, nobody listens: what a dead HAProxy leaves behind
    with pytest.raises(RuntimeApiError) as info:
        query({"address": path, "family": "unix", "port": None}, "show info", 1.0)
    assert info.value.kind == "refused"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_permission_denied(tmp_path):
    path = str(tmp_path / "admin.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(1)
    os.chmod(path, 0)
    try:
        runtime = collect_runtime([{"address": path, "family": "unix", "port": None}], timeout=1.0)
    finally:
        sock.close()
    assert runtime["error_kind"] == "permission-denied"


def test_permission_denied_mapping():
    import errno
    from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_runtime import _os_error
    err = _os_error(OSError(errno.EACCES, "Permission denied"), "/run/haproxy/admin.sock")
    assert err.kind == "permission-denied" and "permission denied" in str(err)


def test_timeout_is_bounded(tmp_path):
    path = str(tmp_path / "slow.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(1)
    FakeHAProxy(sock, {}, hang=True)
    try:
        runtime = collect_runtime([{"address": path, "family": "unix", "port": None}], timeout=0.3)
    finally:
        sock.close()
    assert runtime["available"] is False and runtime["error_kind"] == "timeout"


def test_level_too_low_is_reported(tmp_path):
    path = str(tmp_path / "user.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(4)
    FakeHAProxy(sock, {"show info": "Permission denied\n"})
    try:
        runtime = collect_runtime([{"address": path, "family": "unix", "port": None}], timeout=1.0)
    finally:
        sock.close()
    assert runtime["error_kind"] == "denied-command"


def test_first_working_socket_wins(tmp_path, unix_haproxy):
    path, _server = unix_haproxy
    runtime = collect_runtime([{"address": str(tmp_path / "missing.sock"), "family": "unix", "port": None},
                               {"address": path, "family": "unix", "port": None}])
    assert runtime["available"] and runtime["tried"] == [str(tmp_path / "missing.sock"), path]


def test_master_cli_gets_the_at1_prefix(tmp_path, fixture_text):
    # HAProxy 2.6.12 master CLI (-S): "@1 show stat" answers for the current worker
    path = str(tmp_path / "master.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(4)
    server = FakeHAProxy(sock, {"@1 show info": fixture_text("haproxy/hap26-info.txt"),
                                "@1 show stat": fixture_text("haproxy/hap26-stat.csv"),
                                "@1 show servers state": fixture_text("haproxy/hap26-servers-state.txt")})
    try:
        runtime = collect_runtime([{"address": path, "family": "unix", "port": None, "via_master": True}])
    finally:
        sock.close()
    assert runtime["available"] and len(runtime["stat"]) == 9
    assert server.commands == ["@1 show info", "@1 show stat", "@1 show servers state"]
