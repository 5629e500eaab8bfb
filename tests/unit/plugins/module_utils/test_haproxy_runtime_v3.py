"""The runtime API parsers against real HAProxy 3.0 captures.

Fixtures: tests/unit/fixtures/haproxy/v3.0/ (see the README beside them): HAProxy
3.0.11-1+deb13u4 from Debian 13, run in a throwaway trixie chroot inside a private network
namespace (loopback only), configuration `capture-v3.cfg`, driven by `capture-v3.sh`.
"""

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_config import parse_config
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_config_facts import (
    parse_check_output, parse_version_output, validate,
)
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_runtime import (
    StatParseError, parse_servers_state, parse_show_info, parse_show_stat,
)

V3 = "haproxy/v3.0/"
VERSION = "3.0.11-1+deb13u4"


def by_name(rows):
    return dict(("%s/%s" % (r["pxname"], r["svname"]), r) for r in rows)


@pytest.fixture
def stat(fixture_text):
    return parse_show_stat(fixture_text(V3 + "show-stat.csv"), source="v3 show stat")


@pytest.fixture
def state(fixture_text):
    return parse_servers_state(fixture_text(V3 + "show-servers-state.txt"))


# -- show stat -------------------------------------------------------------------------------

def test_stat_columns_up_to_the_module_counters(fixture_text, stat):
    header = fixture_text(V3 + "show-stat.csv").splitlines()[0].lstrip("# ").split(",")
    # 3.0: 113 named fields, then '-' and the module counters (ssl_*, h3_*, quic_*, h2_*, h1_*)
    assert header.index("-") == 113
    assert len(header) == 206  # the trailing comma gives an empty last name
    assert stat["columns"] == 113
    assert stat["warnings"] == []
    up1 = by_name(stat["servers"])["app/up1"]
    assert len(up1) == 113 + 6  # + type_name, state, transition, transition_counts, status_detail, in_progress
    for name in ("srid", "sess_other", "h1sess", "h2sess", "h3sess", "req_other", "h1req", "h2req", "h3req",
                 "proto"):
        assert name in up1  # fields appended after 2.6's agg_check_status
    for name in ("-", "ssl_sess", "h1_open_connections", "quic_conn_opening"):
        assert name not in up1


def test_stat_row_kinds(stat):
    assert [f["pxname"] for f in stat["frontends"]] == ["fe_main"]
    assert stat["frontends"][0]["state"] == "OPEN"
    assert [(b["pxname"], b["state"], b["act"], b["bck"]) for b in stat["backends"]] == [
        ("app", "UP", 3, 1), ("web_http", "DOWN", 0, 0), ("web_nolb", "DOWN", 0, 0),
        ("web_root", "UP", 1, 0), ("tmpl", "UP", 3, 0), ("slow_http", "DOWN", 0, 0)]
    assert len(stat["servers"]) == 18
    assert set(s["type_name"] for s in stat["servers"]) == set(["server"])


# raw status, state, check_status, in_progress, check_code, last_chk, check_desc, addr
SERVERS_V3 = [
    ("app/up1", "UP", "UP", "L4OK", False, None, None, "Layer4 check passed", "127.0.0.1:18081"),
    ("app/refused1", "DOWN", "DOWN", "L4CON", False, None, "Connection refused", "Layer4 connection problem",
     "127.0.0.1:18089"),
    ("app/maint1", "MAINT", "MAINT", None, False, None, None, None, "127.0.0.1:18081"),
    ("app/drain1", "DRAIN", "DRAIN", "L4OK", False, None, None, "Layer4 check passed", "127.0.0.1:18081"),
    ("app/bck1", "UP", "UP", "L4OK", False, None, None, "Layer4 check passed", "127.0.0.1:18081"),
    ("app/v6up1", "UP", "UP", "L4OK", False, None, None, "Layer4 check passed", "[::1]:18082"),
    ("app/nochk1", "no check", "NO_CHECK", None, False, None, None, None, "127.0.0.1:18081"),
    ("app/trk1", "DOWN", "DOWN", None, False, None, None, None, "127.0.0.1:18081"),
    ("web_http/web404", "DOWN", "DOWN", "L7STS", False, 404, "File not found", "Layer7 wrong status",
     "127.0.0.1:18081"),
    ("web_http/chkovr", "DOWN", "DOWN", "L7STS", False, 404, "File not found", "Layer7 wrong status",
     "127.0.0.1:18089"),
    ("web_nolb/nolb1", "NOLB", "NOLB", "L7OKC", False, 404, None, "Layer7 check conditionally passed",
     "127.0.0.1:18081"),
    ("web_root/root1", "UP", "UP", "L7OK", False, 200, None, "Layer7 check passed", "127.0.0.1:18081"),
    ("tmpl/tsrv1", "UP", "UP", "L4OK", False, None, None, "Layer4 check passed", "127.0.0.1:18081"),
    ("tmpl/tsrv2", "UP", "UP", "L4OK", False, None, None, "Layer4 check passed", "127.0.0.1:18081"),
    ("tmpl/tsrv3", "UP", "UP", "L4OK", False, None, None, "Layer4 check passed", "127.0.0.1:18081"),
    ("tmpl/rsv1", "MAINT (resolution)", "MAINT", None, False, None, None, None, None),
    ("tmpl/rsv2", "MAINT (resolution)", "MAINT", None, False, None, None, None, None),
    ("slow_http/hang1", "DOWN", "DOWN", "L7TOUT", True, None, None, "Layer7 timeout", "127.0.0.1:18090"),
]


@pytest.mark.parametrize("key, status, st, check, in_progress, code, last_chk, desc, addr", SERVERS_V3,
                         ids=[row[0] for row in SERVERS_V3])
def test_stat_server(stat, key, status, st, check, in_progress, code, last_chk, desc, addr):
    row = by_name(stat["servers"])[key]
    assert row["status"] == status
    assert row["state"] == st
    assert row["transition"] is None and row["transition_counts"] is None
    assert row["check_status"] == check
    assert row["in_progress"] is in_progress
    assert row["check_code"] == code
    assert row["last_chk"] == last_chk
    assert row["check_desc"] == desc
    assert row["addr"] == addr


def test_stat_server_order_matches_the_config(stat):
    assert [s["svname"] for s in stat["servers"]] == [
        "up1", "refused1", "maint1", "drain1", "bck1", "v6up1", "nochk1", "trk1", "web404", "chkovr",
        "nolb1", "root1", "tsrv1", "tsrv2", "tsrv3", "rsv1", "rsv2", "hang1"]


def test_stat_details_v3(stat):
    rows = by_name(stat["servers"])
    assert rows["tmpl/rsv1"]["status_detail"] == "resolution"
    assert rows["app/trk1"]["tracked"] == "app/refused1"
    assert (rows["app/bck1"]["act"], rows["app/bck1"]["bck"]) == (0, 1)
    # six requests through fe_main, round robin over the active servers that take traffic:
    # the drained one gets none
    assert [rows["app/" + n]["lbtot"] for n in ("up1", "drain1", "v6up1", "nochk1")] == [2, 0, 2, 2]
    # checks run: rise/fall/health are numbers; none for a server without a running check
    assert (rows["app/up1"]["check_rise"], rows["app/up1"]["check_fall"], rows["app/up1"]["check_health"]) == (2, 3, 4)
    assert rows["app/refused1"]["check_health"] == 0
    assert rows["app/maint1"]["check_health"] is None and rows["app/nochk1"]["check_health"] is None
    # the check in progress shows the previous result (a 2 s `timeout check` expiry)
    assert rows["slow_http/hang1"]["check_duration"] == 2000
    assert rows["app/up1"]["srid"] == 0 and rows["app/up1"]["proto"] is None
    assert rows["app/up1"]["mode"] == "http"


def test_stat_transition_v3(fixture_text):
    # 0.8 s after the [::1]:18082 listener went away (fall 3, inter 500ms)
    stat = parse_show_stat(fixture_text(V3 + "show-stat-transition.csv"))
    assert stat["warnings"] == [] and stat["columns"] == 113
    rows = by_name(stat["servers"])
    v6 = rows["app/v6up1"]
    assert v6["status"] == "UP 2/3"
    assert (v6["state"], v6["transition"], v6["transition_counts"]) == ("UP", "going_down", [2, 3])
    assert (v6["check_status"], v6["last_chk"], v6["check_health"]) == ("L4CON", "Connection refused", 3)
    # the same listener was chkovr's check target (`addr [::1] port 18082`): now refused
    chk = rows["web_http/chkovr"]
    assert (chk["state"], chk["check_status"], chk["last_chk"]) == ("DOWN", "L4CON", "Connection refused")
    assert (rows["slow_http/hang1"]["check_status"], rows["slow_http/hang1"]["in_progress"]) == ("L7TOUT", False)
    assert rows["app/up1"]["state"] == "UP" and rows["app/up1"]["transition"] is None


def test_stat_typed_output_is_refused_clearly(fixture_text):
    text = fixture_text(V3 + "show-stat-typed.txt")
    assert text.startswith("F.2.0.0.pxname.1:KNS:str:fe_main\n")
    with pytest.raises(StatParseError, match=r"^typed:1: header has no pxname/svname column"):
        parse_show_stat(text, source="typed")


# -- show servers state ----------------------------------------------------------------------

def test_servers_state_header_v3(fixture_text, state):
    header = fixture_text(V3 + "show-servers-state.txt").splitlines()[1]
    assert header.startswith("# be_id be_name srv_id srv_name srv_addr ")
    assert len(header.lstrip("# ").split()) == 25
    assert state["version"] == 1
    assert state["warnings"] == []
    assert len(state["servers"]) == 18


# op_state_name, admin_flags, check_status_name, check_result_name, srv_addr, srv_port
STATE_V3 = [
    ("up1", "RUNNING", [], "L4OK", "PASSED", "127.0.0.1", 18081),
    ("refused1", "STOPPED", [], "L4CON", "FAILED", "127.0.0.1", 18089),
    ("maint1", "STOPPED", ["FMAINT", "CMAINT"], "INI", "UNKNOWN", "127.0.0.1", 18081),
    ("drain1", "RUNNING", ["FDRAIN"], "L4OK", "PASSED", "127.0.0.1", 18081),
    ("bck1", "RUNNING", [], "L4OK", "PASSED", "127.0.0.1", 18081),
    ("v6up1", "RUNNING", [], "L4OK", "PASSED", "::1", 18082),
    ("nochk1", "RUNNING", [], "INI", "UNKNOWN", "127.0.0.1", 18081),
    ("trk1", "STOPPED", [], "INI", "UNKNOWN", "127.0.0.1", 18081),
    ("web404", "STOPPED", [], "L7STS", "FAILED", "127.0.0.1", 18081),
    ("chkovr", "STOPPED", [], "L7STS", "FAILED", "127.0.0.1", 18089),
    ("nolb1", "STOPPING", [], "L7OKC", "CONDPASS", "127.0.0.1", 18081),
    ("root1", "RUNNING", [], "L7OK", "PASSED", "127.0.0.1", 18081),
    ("tsrv1", "RUNNING", [], "L4OK", "PASSED", "127.0.0.1", 18081),
    ("rsv1", "STOPPED", ["RMAINT"], "INI", "UNKNOWN", None, 5432),
    ("hang1", "STOPPED", [], "L7TOUT", "UNKNOWN", "127.0.0.1", 18090),
]


@pytest.mark.parametrize("name, op, admin, check, result, addr, port", STATE_V3, ids=[r[0] for r in STATE_V3])
def test_servers_state_server(state, name, op, admin, check, result, addr, port):
    row = dict((r["srv_name"], r) for r in state["servers"])[name]
    assert row["op_state_name"] == op
    assert row["admin_flags"] == admin
    assert row["check_status_name"] == check
    assert row["check_result_name"] == result
    assert row["srv_addr"] == addr
    assert row["srv_port"] == port


def test_servers_state_fields_by_name_v3(state):
    rows = dict((r["srv_name"], r) for r in state["servers"])
    assert (rows["up1"]["be_id"], rows["up1"]["be_name"], rows["up1"]["srv_id"]) == (3, "app", 1)
    assert (rows["hang1"]["be_id"], rows["hang1"]["be_name"]) == (8, "slow_http")
    assert rows["maint1"]["srv_admin_state"] == 5 and rows["drain1"]["srv_admin_state"] == 8
    assert rows["rsv1"]["srv_admin_state"] == 32
    # `check addr [::1] port 18082` applies to the agent address too
    chk = rows["chkovr"]
    assert (chk["srv_check_addr"], chk["srv_check_port"], chk["srv_agent_addr"], chk["srv_agent_port"]) == (
        "::1", 18082, "::1", 18082)
    assert (rows["up1"]["srv_check_addr"], rows["up1"]["srv_check_port"]) == (None, 0)
    assert (rows["rsv1"]["srv_fqdn"], rows["rsv2"]["srv_fqdn"]) == ("db.example.invalid", "db.example.invalid")
    assert rows["up1"]["srv_fqdn"] is None and rows["up1"]["srvrecord"] is None
    assert rows["up1"]["srv_use_ssl"] == 0


def test_stat_and_servers_state_agree(stat, state):
    """Same moment, two views: the stat status and the operational state tell the same story."""
    expected_op = {"UP": "RUNNING", "DRAIN": "RUNNING", "NO_CHECK": "RUNNING", "NOLB": "STOPPING",
                   "DOWN": "STOPPED", "MAINT": "STOPPED"}
    ops = dict(((r["be_name"], r["srv_name"]), r["op_state_name"]) for r in state["servers"])
    assert len(ops) == len(stat["servers"])
    for row in stat["servers"]:
        assert ops[(row["pxname"], row["svname"])] == expected_op[row["state"]], row["svname"]


# -- show info, haproxy -vv ------------------------------------------------------------------

def test_show_info_v3(fixture_text):
    info = parse_show_info(fixture_text(V3 + "show-info.txt"))
    assert info["Name"] == "HAProxy"
    assert info["Version"] == VERSION
    assert info["Release_date"] == "2026/10/15"
    assert (info["Nbthread"], info["Nbproc"], info["Process_num"]) == ("2", "1", "1")
    assert info["Uptime"] == "0d 0h00m06s" and info["Uptime_sec"] == "6"
    assert info["Ulimit-n"] == "19999"
    assert info["CumReq"] == "8"
    assert info["BlockedTrafficWarnings"] == "0"  # the last field of 3.0
    # the two field names with a space
    assert info["Unstoppable Jobs"] == "0"
    assert info["Build info"] == VERSION
    assert len(info) == 76
    assert list(info)[:3] == ["Name", "Version", "Release_date"]


def test_show_info_ignores_text_that_is_not_a_field():
    info = parse_show_info("Name: HAProxy\nUnknown command. Please enter one of the following commands only :\n"
                           "  help [<command>]                        : list matching or all commands\n"
                           "  show info [desc|json|typed|float]*     : report information about the running process\n"
                           "Build info: 3.0.11\n\n")
    assert info == {"Name": "HAProxy", "Build info": "3.0.11"}


def test_version_output_v3(fixture_text):
    text = fixture_text(V3 + "haproxy-vv.txt")
    assert text.splitlines()[0] == "HAProxy version 3.0.11-1+deb13u4 2026/10/15 - https://haproxy.org/"
    version, features = parse_version_output(text)
    assert version == VERSION
    assert set(["OPENSSL", "LUA", "PROMEX", "QUIC", "PCRE2", "SYSTEMD", "THREAD"]) <= features
    assert "PCRE" not in features  # Debian 13 builds with PCRE2 (listed as -PCRE)


# -- haproxy -c ------------------------------------------------------------------------------

def test_check_output_errors_v3(fixture_text):
    messages = parse_check_output(fixture_text(V3 + "haproxy-c-errors.txt"))
    assert messages == [
        {"severity": "warning", "file": "/cap/check-errors.cfg", "line": 13,
         "message": "a 'http-request' rule placed after a 'use_backend' rule will still be processed before."},
        {"severity": "error", "file": "/cap/check-errors.cfg", "line": 18,
         "message": "unknown keyword 'sever' in 'backend' section; did you mean 'server' maybe ?"},
        {"severity": "error", "file": "/cap/check-errors.cfg", "line": 19,
         "message": "'server app/s3' : 'addr' : invalid address: ':' in '::1'."},
        {"severity": "error", "file": None, "line": None,
         "message": "Error(s) found in configuration file : /cap/check-errors.cfg"},
        {"severity": "error", "file": None, "line": None, "message": "Fatal errors found in configuration."},
    ]


def _runner(rc, stdout, stderr, seen):
    def run(argv, env):
        seen.append(argv)
        return rc, stdout, stderr
    return run


def test_validate_v3_error_and_warning(fixture_text):
    seen = []
    out = validate(_runner(1, "", fixture_text(V3 + "haproxy-c-errors.txt"), seen), "haproxy",
                   ["/cap/check-errors.cfg"], None)
    assert seen == [["haproxy", "-c", "-f", "/cap/check-errors.cfg"]]
    assert (out["ran"], out["rc"], out["valid"]) == (True, 1, False)
    assert [(m["severity"], m["line"]) for m in out["messages"]] == [
        ("warning", 13), ("error", 18), ("error", 19), ("error", None), ("error", None)]


def test_validate_v3_warnings_only(fixture_text):
    # 3.0 exits 0 and says "Warnings were found." on stdout; a clean file prints nothing at all
    stdout = fixture_text(V3 + "haproxy-c-warnings.stdout.txt")
    assert stdout == "Warnings were found.\n"
    out = validate(_runner(0, stdout, fixture_text(V3 + "haproxy-c-warnings.txt"), []), "haproxy",
                   ["/cap/check-warnings.cfg"], None)
    assert (out["rc"], out["valid"]) == (0, True)
    assert out["messages"] == [
        {"severity": "warning", "file": "/cap/check-warnings.cfg", "line": 13,
         "message": "a 'http-request' rule placed after a 'use_backend' rule will still be processed before."}]


def test_config_parser_flags_the_lines_haproxy_3_refuses(fixture_text):
    config = parse_config([("/cap/check-errors.cfg", fixture_text(V3 + "check-errors.cfg"))], version=VERSION)
    assert [(e["line"], e["code"]) for e in config["errors"]] == [(18, "unknown-keyword"), (19, "address")]


def test_config_parser_matches_the_servers_state_of_the_capture(fixture_text, state):
    config = parse_config([("/cap/capture-v3.cfg", fixture_text(V3 + "capture-v3.cfg"))], version=VERSION)
    assert config["errors"] == []
    servers = dict(((b["name"], s["name"]), s) for b in config["backends"] for s in b["servers"])
    rows = dict(((r["be_name"], r["srv_name"]), r) for r in state["servers"])
    assert sorted(servers) == sorted(rows)
    for key, row in rows.items():
        assert servers[key]["port"] == row["srv_port"], key
    chk = servers[("web_http", "chkovr")]
    assert (chk["check_addr"], chk["check_port"]) == ("::1", 18082)
    assert servers[("app", "maint1")]["disabled"] is True
    assert servers[("tmpl", "rsv1")]["address"] == "db.example.invalid"
