"""Tests of the HAProxy configuration parser: words, addresses, sections, servers,
default-server inheritance, stats sockets, conditionals and errors with file:line.

Behaviour on tricky inputs was checked against HAProxy 2.6.12 (`haproxy -c` and `.notice`
lines) on Debian 12; the tests quote what HAProxy did.
"""

import json

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_config import (
    ConfigParseError, evaluate_condition, parse_address, parse_config, parse_time_ms, tokenize,
)


def parse(text, **kwargs):
    return parse_config([("/etc/haproxy/haproxy.cfg", text)], **kwargs)


def servers(conf, backend):
    return dict((s["name"], s) for b in conf["backends"] if b["name"] == backend for s in b["servers"])


def codes(entries):
    return [(e["line"], e["code"]) for e in entries]


# -- words -------------------------------------------------------------------------------------

@pytest.mark.parametrize("line, env, words", [
    ("  server s1 10.0.0.1:80 check", {}, ["server", "s1", "10.0.0.1:80", "check"]),
    ("server s1 1.2.3.4:80#comment", {}, ["server", "s1", "1.2.3.4:80"]),
    ("bind 0.0.0.0:13835 # DTDG", {}, ["bind", "0.0.0.0:13835"]),
    # HAProxy 2.6 `.notice`: A=${FOO} unexpanded, B="${FOO}" expanded, C='${FOO}' literal
    ("x A=${FOO}", {"FOO": "1.2.3.4"}, ["x", "A=${FOO}"]),
    ('x B="${FOO}"', {"FOO": "1.2.3.4"}, ["x", "B=1.2.3.4"]),
    ("x C='${FOO}'", {"FOO": "1.2.3.4"}, ["x", "C=${FOO}"]),
    ('x D="\\${FOO}"', {"FOO": "1.2.3.4"}, ["x", "D=${FOO}"]),
    ('x F="${NOPE-dflt}"', {}, ["x", "F=dflt"]),
    ("x G='a b' \"c  d\"", {}, ["x", "G=a b", "c  d"]),
    ('x "${LST[*]}"', {"LST": "p q"}, ["x", "p", "q"]),
    ("x a\\ b \\#c", {}, ["x", "a b", "#c"]),
    ('x ""', {}, ["x", ""]),
])
def test_tokenize_follows_haproxy(line, env, words):
    assert tokenize(line, env) == words


def test_tokenize_unset_variable_warns_and_expands_empty():
    problems = []
    assert tokenize('x "${NOPE}:80"', {}, problems) == ["x", ":80"]
    assert problems and problems[0][1] == "env-unset"


def test_tokenize_without_environment_keeps_variables():
    assert tokenize('x "${A-5s}"', None) == ["x", "${A-5s}"]


@pytest.mark.parametrize("line", ['server s1 "10.0.0.1:80', "server s1 '10.0.0.1", 'x "${A"'])
def test_tokenize_unmatched_quote_or_brace(line):
    with pytest.raises(ConfigParseError):
        tokenize(line, {})


@pytest.mark.parametrize("text, ms", [("2000", 2000), ("2s", 2000), ("1m", 60000), ("500ms", 500),
                                      ("1h", 3600000), ("1d", 86400000), ("10s5", None), ("", None)])
def test_parse_time_ms(text, ms):
    assert parse_time_ms(text) == ms


# -- addresses ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, address, family, port, offset", [
    ("198.18.0.11:8080", "198.18.0.11", "ipv4", 8080, None),
    ("1.1.1.2", "1.1.1.2", "ipv4", None, None),
    ("1.1.1.3:+1000", "1.1.1.3", "ipv4", None, 1000),
    ("1.1.1.4:-1000", "1.1.1.4", "ipv4", None, -1000),
    ("[fd00:6:48:c85:deb:f:62:4]:80", "fd00:6:48:c85:deb:f:62:4", "ipv6", 80, None),
    ("[fd00::2]", "fd00::2", "ipv6", None, None),
    # without brackets the last colon separates the port (HAProxy 2.6: fd00::1:85 -> fd00::1 port 85)
    ("fd00::1:85", "fd00::1", "ipv6", 85, None),
    ("fd00::3:", "fd00::3", "ipv6", None, None),
    ("ipv6@::1:90", "::1", "ipv6", 90, None),
    ("ipv4@10.0.0.1:80", "10.0.0.1", "ipv4", 80, None),
    ("[2001:DB8:0:0::1]:443", "2001:db8::1", "ipv6", 443, None),
    ("unix@/run/app.sock", "/run/app.sock", "unix", None, None),
    ("/run/app.sock", "/run/app.sock", "unix", None, None),
    ("abns@wpproc1", "wpproc1", "abns", None, None),
    ("g.whatsapp.net:5222", "g.whatsapp.net", "hostname", 5222, None),
    (":13002", "0.0.0.0", "ipv4", 13002, None),
    ("*:80", "0.0.0.0", "ipv4", 80, None),
])
def test_parse_address_forms(raw, address, family, port, offset):
    out = parse_address(raw, {})
    assert out["error"] is None
    assert (out["address"], out["family"], out["port"], out["port_offset"]) == (address, family, port, offset)


@pytest.mark.parametrize("raw, message", [
    (":13005-13010", "port range not permitted"),
    ("fd00::1", "could not resolve address 'fd00:'"),  # HAProxy 2.6 says exactly this
    ("10.0.0.1:99999", "invalid port"),
    ("foo@1.2.3.4:80", "unknown address family"),
    ("10.0.0.1:http", "invalid port"),
])
def test_parse_address_errors(raw, message):
    assert message in parse_address(raw, {})["error"]


def test_address_env_expansion_is_haproxys_second_pass():
    # HAProxy 2.6: `server s1 ${FOO}:80` and `'${FOO}':82` both connect to FOO's value
    assert parse_address("${FOO}:80", {"FOO": "1.2.3.4"})["address"] == "1.2.3.4"
    assert parse_address("$FOO:81", {"FOO": "1.2.3.4"})["port"] == 81
    unknown = parse_address("${FOO}:80", None)
    assert unknown["family"] == "env" and unknown["error"] is None


# -- sections and servers ----------------------------------------------------------------------

BASIC = """\
global
    log /dev/log local0
    stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners
    stats socket ipv4@127.0.0.1:9999 level operator

defaults
    mode http
    timeout connect 5s
    default-server inter 3s fall 2

frontend fe
    bind :80
    default_backend web

backend web
    option httpchk GET /health
    default-server check rise 5
    server web1 198.18.0.11:8080
    server web2 198.18.0.12:8080 port 9200 addr 198.18.0.99 backup inter 1s
    server web3 198.18.0.13:8080 no-check disabled source 198.18.0.1
    default-server fall 7
    server web4 198.18.0.14:8080

listen galera
    bind 10.0.0.1:3306
    mode tcp
    server db1 10.0.0.11:3306 check

peers mypeers
    peer lb1 10.0.0.1:10000
    server lb2 10.0.0.2:10000
"""


def test_basic_sections_servers_and_inheritance():
    conf = parse(BASIC)
    assert conf["errors"] == [] and conf["warnings"] == []
    assert [(b["name"], b["kind"], b["mode"], b["line"]) for b in conf["backends"]] == [
        ("web", "backend", "http", 15), ("galera", "listen", "tcp", 24)]
    web = servers(conf, "web")
    assert list(web) == ["web1", "web2", "web3", "web4"]
    w1 = web["web1"]
    assert (w1["address"], w1["port"], w1["family"], w1["check"], w1["inter_ms"], w1["fall"], w1["rise"]) == \
        ("198.18.0.11", 8080, "ipv4", True, 3000, 2, 5)
    assert (w1["file"], w1["line"], w1["address_raw"]) == ("/etc/haproxy/haproxy.cfg", 18, "198.18.0.11:8080")
    w2 = web["web2"]
    assert (w2["check_port"], w2["check_addr"], w2["backup"], w2["inter_ms"]) == (9200, "198.18.0.99", True, 1000)
    assert (w2["check_address_effective"], w2["check_port_effective"]) == ("198.18.0.99", 9200)
    w3 = web["web3"]
    assert (w3["check"], w3["disabled"], w3["source"]) == (False, True, "198.18.0.1")
    # a default-server line only affects the servers after it
    assert web["web4"]["fall"] == 7 and w1["fall"] == 2
    assert conf["backends"][0]["httpchk"]["uri"] == "/health"
    assert conf["backends"][0]["check_type"] == "http"
    # the server line of the peers section is not a backend server
    assert all(b["name"] != "mypeers" for b in conf["backends"])
    assert conf["frontends"][0]["default_backend"] == "web"


def test_stats_sockets_with_file_line_and_level():
    conf = parse(BASIC)
    assert [(s["address"], s["family"], s["port"], s["level"], s["line"]) for s in conf["stats_sockets"]] == [
        ("/run/haproxy/admin.sock", "unix", None, "admin", 3), ("127.0.0.1", "ipv4", 9999, "operator", 4)]


def test_named_defaults_and_from():
    conf = parse("""\
defaults base
    mode tcp
    default-server inter 10s
defaults other
    mode http
backend a from base
    server s1 10.0.0.1:80 check
backend b
    server s2 10.0.0.2:80 check
""")
    assert conf["errors"] == []
    a, b = conf["backends"]
    assert (a["mode"], a["servers"][0]["inter_ms"], a["defaults"]) == ("tcp", 10000, "base")
    # the last defaults section (named or not) is the default of what follows
    assert (b["mode"], b["servers"][0]["inter_ms"]) == ("http", 2000)


def test_server_template_expands_every_slot():
    conf = parse("backend be\n    server-template srv 1-3 app.example.com:8080 check resolvers dns init-addr none\n")
    names = servers(conf, "be")
    assert list(names) == ["srv1", "srv2", "srv3"]
    assert names["srv2"]["template"] == "srv" and names["srv2"]["family"] == "hostname"
    assert names["srv3"]["init_addr"] == "none" and names["srv3"]["resolvers"] == "dns"


def test_cookie_value_check_is_not_the_check_keyword():
    conf = parse("backend be\n    server s1 10.0.0.1:80 cookie check\n")
    assert servers(conf, "be")["s1"]["check"] is False


def test_errors_name_file_and_line():
    conf = parse("""\
global
    bogus-global 1
backend be
    server s1 10.0.0.1:80 chekc
    server s2 "10.0.0.2:80
    server s3 10.0.0.3:80-90
    nonsense here
frontend fe
    server s4 10.0.0.4:80
""")
    assert codes(conf["errors"]) == [(2, "unknown-keyword"), (4, "unknown-keyword"), (5, "unmatched-quote"),
                                     (6, "address"), (7, "unknown-keyword"), (9, "not-allowed")]
    assert conf["errors"][1]["message"] == "'server be/s1' unknown keyword 'chekc'."
    assert all(e["file"] == "/etc/haproxy/haproxy.cfg" for e in conf["errors"])
    # the server with the typo is still reported, the line with the unterminated quote is not
    assert list(servers(conf, "be")) == ["s1", "s3"]


def test_binary_garbage_is_an_error_not_a_crash():
    conf = parse_config([("/tmp/x.cfg", "global\n\x00\x01\x02garbage\n")])
    assert codes(conf["errors"]) == [(2, "binary")]
    assert conf["backends"] == []


def strict_utf8(data):
    """The JSON a module would return, encoded as strict UTF-8 (raises on a lone surrogate)."""
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


LATIN1 = (b"global\n"
          b"    log /dev/log local0\n"
          b"backend web\n"
          b"    option httpchk\n"
          b"    http-check send hdr Host caf\xe9.example\n"
          b"    server web1 198.18.0.11:8080 check  # \xe9t\xe9\n"
          b"# r\xe9seau\n"
          b"    server caf\xe9 198.18.0.12:8080\n")


@pytest.mark.parametrize("text", [LATIN1, LATIN1.decode("utf-8", "surrogateescape")], ids=["bytes", "surrogates"])
def test_bytes_that_are_not_utf8_are_replaced_and_warned(text):
    conf = parse_config([("/etc/haproxy/latin1.cfg", text)])
    strict_utf8(conf)
    # only the lines where such a byte is in a word, not in a comment
    assert [(w["file"], w["line"], w["code"]) for w in conf["warnings"]] == [
        ("/etc/haproxy/latin1.cfg", 5, "encoding"), ("/etc/haproxy/latin1.cfg", 8, "encoding")]
    assert "0xE9" in conf["warnings"][0]["message"] and "column 33" in conf["warnings"][0]["message"]
    web = conf["backends"][0]
    assert web["httpchk"]["host"] == "caf\ufffd.example"
    assert web["http_check"][0]["args"] == ["send", "hdr", "Host", "caf\ufffd.example"]
    assert [s["name"] for s in web["servers"]] == ["web1", "caf\ufffd"]
    # the replaced name is still checked as HAProxy checks the byte: not a permitted character
    assert [(e["line"], e["code"]) for e in conf["errors"]] == [(8, "invalid-name")]
    assert "caf\ufffd" in conf["errors"][0]["message"]


def test_file_name_that_is_not_utf8_is_replaced():
    conf = parse_config([("/etc/haproxy/caf\udce9.cfg", "backend b\n    server s1 10.0.0.1:80 bogus\n")])
    strict_utf8(conf)
    assert conf["files"] == ["/etc/haproxy/caf\ufffd.cfg"]
    assert (conf["errors"][0]["file"], conf["errors"][0]["line"]) == ("/etc/haproxy/caf\ufffd.cfg", 2)


def test_many_undecodable_lines_are_warned_up_to_a_limit():
    text = b"backend b\n" + b"".join(b"    server s%d h\xe9%d:80\n" % (i, i) for i in range(30))
    conf = parse_config([("x.cfg", text)])
    encoding = [w for w in conf["warnings"] if w["code"] == "encoding"]
    assert [w["line"] for w in encoding[:20]] == list(range(2, 22))
    assert len(encoding) == 21 and encoding[20]["line"] is None and encoding[20]["message"].startswith("10 more")
    strict_utf8(conf)


def test_binary_garbage_without_nul_is_one_error_with_file_and_line():
    # what `head -c 3000 /dev/urandom | tr -d '\\000'` gives: bytes of every value but NUL
    junk = b"global\n" + bytes(bytearray((i * 151 + 7) % 255 + 1 for i in range(3000)))
    conf = parse_config([("/tmp/junk.cfg", junk)])
    strict_utf8(conf)
    assert [(e["file"], e["line"], e["code"]) for e in conf["errors"]] == [("/tmp/junk.cfg", 2, "binary")]
    assert "control character" in conf["errors"][0]["message"]
    assert conf["warnings"] == [] and conf["backends"] == []


def test_a_stray_control_character_is_a_warning():
    text = "backend b\n" + "".join(
        "    server s%d 10.0.0.%d:80 check\n" % (i, i) for i in range(1, 40)) + "    server x 10.0.1.1:80\x1b\n"
    conf = parse_config([("x.cfg", text)])
    assert [(w["line"], w["code"]) for w in conf["warnings"]] == [(41, "control-character")]
    assert len(conf["backends"][0]["servers"]) == 40


def test_lines_end_at_line_feeds_only():
    # VT and FF are blanks to HAProxy, U+2028 is part of a word: none of them ends a line
    conf = parse("backend b\n    server\x0cs1 10.0.0.1:80\n    description a\u2028b\n    server s2 bogus:x\n")
    assert servers(conf, "b")["s1"]["line"] == 2
    assert codes(conf["errors"]) == [(4, "address")]
    # a file written on Windows: the CR before each LF is not part of the line
    conf = parse("backend b\r\n    server s1 10.0.0.1:80 check\r\n    server s2 bogus:x\r\n")
    assert servers(conf, "b")["s1"]["port"] == 80 and codes(conf["errors"]) == [(3, "address")]
    assert conf["errors"][0]["message"] == "'server b/s2' : invalid port 'x' in 'bogus:x'"


def test_a_non_ascii_blank_is_part_of_a_word():
    # U+00A0 (a non-breaking space pasted from a web page) does not separate words in HAProxy
    conf = parse("backend b\n    server s1\u00a010.0.0.1:80 10.0.0.2:80\n")
    assert codes(conf["errors"]) == [(2, "invalid-name")]
    assert servers(conf, "b")["s1\u00a010.0.0.1:80"]["address"] == "10.0.0.2"


def test_unreadable_file_is_an_error():
    conf = parse_config([("/etc/haproxy/a.cfg", None, "Permission denied"), ("/etc/haproxy/b.cfg", "backend b\n")])
    assert conf["errors"][0]["file"] == "/etc/haproxy/a.cfg"
    assert "Permission denied" in conf["errors"][0]["message"]
    assert conf["files"] == ["/etc/haproxy/a.cfg", "/etc/haproxy/b.cfg"]
    assert conf["backends"][0]["name"] == "b"


def test_several_files_keep_their_own_names_and_lines():
    conf = parse_config([("/etc/haproxy/haproxy.cfg", "defaults\n    mode http\n"),
                         ("/etc/haproxy/conf.d/10-web.cfg", "\nbackend web\n    server w1 10.0.0.1:80 check\n")])
    server = conf["backends"][0]["servers"][0]
    assert (server["file"], server["line"]) == ("/etc/haproxy/conf.d/10-web.cfg", 3)
    assert conf["backends"][0]["mode"] == "http"


def test_environment_expansion_in_server_lines():
    text = 'backend be\n    server s1 "${ADDR}:${PORT}" check\n    server s2 ${ADDR}:81\n'
    conf = parse(text, env={"ADDR": "10.1.2.3", "PORT": "8443"})
    s = servers(conf, "be")
    assert (s["s1"]["address"], s["s1"]["port"]) == ("10.1.2.3", 8443)
    assert (s["s2"]["address"], s["s2"]["port"]) == ("10.1.2.3", 81)
    assert s["s1"]["address_raw"] == "${ADDR}:${PORT}"


# -- conditionals ------------------------------------------------------------------------------

COND = """\
backend be
.if defined(USE_B)
    server b 10.0.0.2:80
.elif feature(QUIC)
    server q 10.0.0.3:80
.else
    server a 10.0.0.1:80
.endif
.if version_atleast(2.4)
    server v 10.0.0.4:80
.endif
"""


def test_conditionals_evaluated_when_known():
    conf = parse(COND, env={}, features={"THREAD"}, version="2.6.12-1+deb12u4")
    assert list(servers(conf, "be")) == ["a", "v"]
    conf = parse(COND, env={"USE_B": "1"}, features=set(), version="2.2.0")
    assert list(servers(conf, "be")) == ["b"]
    assert conf["warnings"] == []


def test_conditionals_unknown_are_kept_and_warned():
    conf = parse(COND)
    assert list(servers(conf, "be")) == ["b", "v"]
    assert [w["code"] for w in conf["warnings"]] == ["conditional-unknown", "conditional-unknown"]
    assert conf["warnings"][0]["line"] == 2


def test_conditional_errors():
    conf = parse("backend be\n.endif\n.if 1\n    server a 10.0.0.1:80\n")
    assert codes(conf["errors"]) == [(2, "conditional"), (3, "conditional")]


@pytest.mark.parametrize("words, value", [
    (["1"], True), (["0"], False), (["!", "0"], True),
    (["streq(a,a)", "&&", "strneq(a,b)"], True), (["defined(X)", "||", "defined(Y)"], True),
    (["(", "0", "||", "1", ")", "&&", "!defined(Z)"], False),
])
def test_evaluate_condition(words, value):
    assert evaluate_condition(words, {"Y": "", "Z": "1"}, set(), "2.6") is value


# -- grammar items one by one ------------------------------------------------------------------

def test_proxy_level_source_applies_to_servers_without_their_own():
    conf = parse("""\
defaults
    source 198.18.0.9
backend web
    source 198.18.0.1 usesrc clientip
    server s1 198.18.0.11:80 check
    server s2 198.18.0.12:80 check source 198.18.0.2:0
backend inherited
    server s3 198.18.0.13:80
frontend fe
    source 198.18.0.3
""")
    assert codes(conf["errors"]) == [(10, "not-allowed")]
    web = conf["backends"][0]
    assert web["source"] == "198.18.0.1"
    s1, s2 = web["servers"]
    assert (s1["source"], s1["source_raw"]) == ("198.18.0.1", "198.18.0.1 usesrc clientip")
    assert (s2["source"], s2["source_raw"]) == ("198.18.0.2", "198.18.0.2:0")
    # a `source` in defaults is inherited by the proxies after it
    assert conf["backends"][1]["source"] == "198.18.0.9" and conf["backends"][1]["servers"][0]["source"] == "198.18.0.9"


def test_http_check_expect_and_send():
    conf = parse("""\
backend api
    option httpchk
    http-check send meth GET uri /health ver HTTP/1.1 hdr Host api.example.com
    http-check expect status 200-399
    server a1 198.18.0.21:8080 check
backend plain
    option httpchk GET /ping
    http-check expect ! rstring ^DOWN
""")
    assert conf["errors"] == []
    api, plain = conf["backends"]
    assert api["httpchk"] == {"method": "GET", "uri": "/health", "version": "HTTP/1.1", "host": "api.example.com",
                              "expect": "status 200-399"}
    assert [(r["args"], r["line"]) for r in api["http_check"]] == [
        (["send", "meth", "GET", "uri", "/health", "ver", "HTTP/1.1", "hdr", "Host", "api.example.com"], 3),
        (["expect", "status", "200-399"], 4)]
    assert (plain["httpchk"]["method"], plain["httpchk"]["uri"], plain["httpchk"]["expect"]) == \
        ("GET", "/ping", "! rstring ^DOWN")
    assert plain["check_type"] == "http" and plain["http_check"][0]["line"] == 8


@pytest.mark.parametrize("raw, address, family, port, resolve_family, error", [
    ("ipv4@app.example.com:8080", "app.example.com", "hostname", 8080, "ipv4", None),
    ("ipv6@app.example.com:8080", "app.example.com", "hostname", 8080, "ipv6", None),
    ("ipv6@[2001:db8::1]:80", "2001:db8::1", "ipv6", 80, None, None),
    ("ipv4@198.18.0.1:80", "198.18.0.1", "ipv4", 80, None, None),
    ("app.example.com:8080", "app.example.com", "hostname", 8080, None, None),
    ("ipv6@198.18.0.1:80", None, None, 80, None, "address '198.18.0.1' is not ipv6"),
])
def test_forced_family_host_names_keep_the_family_to_resolve(raw, address, family, port, resolve_family, error):
    conf = parse("backend b\n    server s1 %s check\n" % raw)
    server = conf["backends"][0]["servers"][0]
    assert (server["address"], server["family"], server["port"]) == (address, family, port)
    assert server.get("resolve_family") == resolve_family
    assert server["address_error"] == error
    assert codes(conf["errors"]) == ([] if error is None else [(2, "address")])


def test_server_template_plain_count_and_srv_names():
    conf = parse("""\
resolvers dns
    nameserver ns1 198.18.0.53:53
backend web
    server-template web 3 app.example.com:8080 check
    server-template svc 2 _http._tcp.app.example.com resolvers dns init-addr none check
""")
    assert conf["errors"] == []
    web = servers(conf, "web")
    assert list(web) == ["web1", "web2", "web3", "svc1", "svc2"]
    assert all(web[n]["template"] == "web" and web[n]["port"] == 8080 and web[n]["line"] == 4
               for n in ("web1", "web2", "web3"))
    svc = web["svc2"]
    # an SRV name has no port: the SRV record gives it
    assert (svc["address"], svc["family"], svc["port"], svc["resolvers"], svc["init_addr"], svc["line"]) == \
        ("_http._tcp.app.example.com", "hostname", None, "dns", "none", 5)
    assert conf["resolvers"][0]["nameservers"][0]["address"] == "198.18.0.53"


def test_warning_and_alert_directives_only_when_active():
    conf = parse("""\
.warning "this configuration is deprecated"
.if streq(a,b)
.alert "never seen"
.else
.alert "stop here"
.endif
""")
    assert [(w["line"], w["code"], w["message"]) for w in conf["warnings"]] == [
        (1, "directive", "this configuration is deprecated")]
    assert [(e["line"], e["code"], e["message"]) for e in conf["errors"]] == [(5, "directive", "stop here")]


def test_env_unknown_warns_for_each_server_whose_address_needs_a_variable():
    conf = parse("backend b\n    server s1 ${APP}:80 check\n    server s2 \"${APP2}:81\"\n    server s3 10.0.0.3:80\n",
                 env=None)
    assert codes(conf["warnings"]) == [(2, "env-unknown"), (3, "env-unknown")]
    assert "${APP}:80" in conf["warnings"][0]["message"]
    s = servers(conf, "b")
    assert (s["s1"]["family"], s["s1"]["address"], s["s2"]["family"], s["s3"]["family"]) == \
        ("env", "${APP}:80", "env", "ipv4")
    assert conf["errors"] == []


def test_removed_keywords_are_errors():
    conf = parse("""\
global
    nbproc 2
defaults
    contimeout 5s
backend b
    reqadd X-Forwarded-Proto:\\ https
    srvtimeout 30s
""")
    assert codes(conf["errors"]) == [(2, "removed-keyword"), (4, "removed-keyword"), (6, "removed-keyword"),
                                     (7, "removed-keyword")]
    assert "timeout connect" in conf["errors"][1]["message"]


def test_from_a_missing_defaults_section_is_an_error_and_uses_the_last_defaults():
    conf = parse("defaults\n    mode http\nbackend b from nope\n    server s1 10.0.0.1:80\n")
    assert codes(conf["errors"]) == [(3, "unknown-defaults")]
    assert "'nope'" in conf["errors"][0]["message"]
    backend = conf["backends"][0]
    assert (backend["defaults"], backend["mode"], backend["servers"][0]["name"]) == ("nope", "http", "s1")


def test_too_many_words_is_an_error_and_the_line_is_truncated():
    words = " ".join("w%d" % i for i in range(70))
    conf = parse("backend b\n    server s1 10.0.0.1:80 check\n    description %s\n" % words)
    assert codes(conf["errors"]) == [(3, "too-many-words")]
    assert "64" in conf["errors"][0]["message"]
    assert servers(conf, "b")["s1"]["check"] is True


# -- the shared corpus -------------------------------------------------------------------------

def corpus(corpus_text, name, **kwargs):
    return parse_config([(name, corpus_text("haproxy_cfg/" + name))], **kwargs)


def test_corpus_peers_server_is_not_a_backend_server(corpus_text):
    conf = corpus(corpus_text, "dataplaneapi-servers-peers.cfg")
    assert [b["name"] for b in conf["backends"]] == ["test_backend"]
    s = servers(conf, "test_backend")
    assert list(s) == ["server_01", "server_02", "server_03", "server_ipv6", "server_04"]
    assert (s["server_ipv6"]["address"], s["server_ipv6"]["family"], s["server_ipv6"]["port"]) == \
        ("fd00:6:48:c85:deb:f:62:4", "ipv6", 80)
    assert s["server_01"]["line"] == 36
    assert conf["errors"] == []
    # HAProxy 2.6.12 `haproxy -c` on this file: "[...:30] : 'server server_01' : init_addr,
    # resolvers, check and agent are ignored for peers."
    assert codes(conf["warnings"]) == [(30, "ignored-for-peers")]
    assert conf["warnings"][0]["message"].startswith(
        "'server server_01' : init_addr, resolvers, check and agent are ignored for peers")


def test_peers_server_check_warning_follows_keywords_and_default_server():
    conf = parse("""\
peers mesh
    peer lb1 10.0.0.1:10000
    server lb2 10.0.0.2:10000
    server lb3 10.0.0.3:10000 cookie check
    server lb4 10.0.0.4:10000 check no-check
    default-server init-addr none
    server lb5 10.0.0.5:10000
peers other
    server lb6 10.0.0.6:10000 weight 10
backend b
    server s1 10.0.0.1:80 check
""")
    assert conf["errors"] == []
    # `cookie check` is a cookie value; `no-check` undoes `check`; default-server counts
    assert codes(conf["warnings"]) == [(7, "ignored-for-peers")]
    assert "(init-addr)" in conf["warnings"][0]["message"]
    assert [b["name"] for b in conf["backends"]] == ["b"]


def test_corpus_colon_server_names(corpus_text):
    conf = corpus(corpus_text, "datadog-compose-colon-server-names.cfg")
    s = servers(conf, "datadog")
    assert list(s) == ["singleton:8080", "singleton:8081", "otherserver"]
    assert (s["singleton:8081"]["address"], s["singleton:8081"]["port"]) == ("127.0.0.1", 8081)
    assert conf["stats_sockets"][0]["address"] == "/tmp/datadog-haproxy-stats.sock"


def test_corpus_valid_names(corpus_text):
    conf = corpus(corpus_text, "haproxy-valid-names.cfg")
    assert list(servers(conf, "Valid_BK-1")) == ["bk1_srv-1:80"]
    # HAProxy 2.6: "character '/' is not permitted in server name 'bk2/srv-1'." (line 36)
    assert [(e["line"], e["code"]) for e in conf["errors"]] == [(23, "invalid-name"), (36, "invalid-name")]


def test_corpus_port_offsets(corpus_text):
    conf = corpus(corpus_text, "haproxy-map-ports-offset.cfg")
    got = [(b["name"], b["servers"][0]["port"], b["servers"][0]["port_offset"]) for b in conf["backends"]]
    assert got == [("fixed", 8001, None), ("same", None, None), ("plus1000", None, 1000), ("minus1000", None, -1000)]


def test_corpus_ports_invalid_server_errors_match_haproxy(corpus_text):
    conf = corpus(corpus_text, "haproxy-ports-invalid.cfg")
    lines = sorted(set(e["line"] for e in conf["errors"] if e["line"] >= 33))
    # lines HAProxy 2.6.12 itself rejects among the server lines (33 and later, tcp-check aside)
    assert lines == [40, 48, 49, 55, 56, 57, 60, 63, 64, 65]


def test_corpus_galera_check_port_and_backup(corpus_text):
    conf = corpus(corpus_text, "insights-mysql-galera.cfg")
    s = servers(conf, "mysql")
    assert all(x["backup"] and x["check_port"] == 9200 and x["port"] == 3306 and x["fall"] == 5
               for x in s.values())
    assert conf["backends"][0]["check_type"] == "http"


def test_corpus_whatsapp_default_server_and_hostnames(corpus_text):
    conf = corpus(corpus_text, "whatsapp-proxy.cfg")
    wa = servers(conf, "wa")["g_whatsapp_net_5222"]
    assert (wa["family"], wa["address"], wa["port"], wa["check"], wa["inter_ms"], wa["send_proxy"]) == \
        ("hostname", "g.whatsapp.net", 5222, True, 60000, "send-proxy")
    assert wa["downinter_ms"] == 3000 and wa["fastinter_ms"] == 1000


def test_corpus_oneliner_global(corpus_text):
    conf = corpus(corpus_text, "dataplaneapi-no-newline-oneliner.cfg")
    assert codes(conf["errors"]) == [(1, "unexpected-argument")]


def test_corpus_regtest_env_and_abns(corpus_text):
    env = {"tmpdir": "/tmp/vt", "h1_testme_port": "4242", "testme": "3"}
    conf = corpus(corpus_text, "haproxy-regtest-abns-fd-envdefault.cfg", env=env, features={"THREAD"})
    s = servers(conf, "testme")["test_abns_server"]
    assert (s["family"], s["address"]) == ("abns", "wpproc1_4242")
    assert conf["stats_sockets"][0]["address"] == "/tmp/vt/h1/stats"
    assert conf["errors"] == []


def test_corpus_resolvers_and_env_server(corpus_text):
    conf = corpus(corpus_text, "haproxy-regtest-resolvers-env-server.cfg",
                  env={"s1_addr": "127.0.0.1", "s1_port": "8080"})
    s = servers(conf, "test")["www1"]
    assert (s["address"], s["port"], s["resolvers"], s["resolve_prefer"]) == ("127.0.0.1", 8080, "systemdns", "ipv4")
    assert conf["resolvers"][0]["nameservers"][0]["address"] == "127.0.0.1"


def test_corpus_edge_http_check_send(corpus_text):
    conf = corpus(corpus_text, "haproxy-basic-config-edge.cfg", features=set())
    app1 = conf["backends"][0]
    assert app1["httpchk"]["method"] == "GET" and app1["httpchk"]["host"] == "svc1.example.com"
    assert app1["httpchk"]["version"] == "HTTP/1.1"
    assert conf["conditionals"][0]["value"] is False


def test_corpus_openstack_director_listen_sections(corpus_text):
    conf = corpus(corpus_text, "insights-openstack-director-puppet.cfg")
    assert conf["errors"] == [] and conf["warnings"] == []
    names = [b["name"] for b in conf["backends"]]
    assert len(names) == 18 and names[0] == "amqp" and names[-1] == "stats"
    assert all(b["kind"] == "listen" for b in conf["backends"])
    amqp = servers(conf, "amqp")
    assert [(s["address"], s["port"], s["check"], s["inter_ms"], s["line"]) for s in amqp.values()] == [
        ("10.64.111.11", 5672, True, 1000, 26), ("10.64.111.12", 5672, True, 1000, 27),
        ("10.64.111.13", 5672, True, 1000, 28)]
    galera = conf["backends"][names.index("galera")]
    assert (galera["line"], galera["check_type"], galera["httpchk"]["uri"]) == (50, "http", "/")
    db = servers(conf, "galera")["pcmk-ncerdlabdell401"]
    assert (db["address"], db["port"], db["check_port"], db["check_port_effective"], db["on_marked_down"],
            db["line"]) == ("10.64.111.13", 3306, 9200, 9200, "shutdown-sessions", 62)
    horizon = conf["backends"][names.index("horizon")]
    assert horizon["mode"] == "http" and [b["address"] for b in horizon["binds"]] == [
        "10.64.111.110", "10.64.111.109", "10.64.111.108"]
    # nova-metadata's servers have `check` without `inter`: the 2 s default
    assert [s["inter_ms"] for s in servers(conf, "nova-metadata").values()] == [2000, 2000, 2000]
    assert servers(conf, "stats") == {}
    assert sum(len(b["servers"]) for b in conf["backends"]) == 51


def test_corpus_rh_scl_frontend_and_backends(corpus_text):
    conf = corpus(corpus_text, "insights-rh-haproxy18-scl.cfg")
    assert conf["errors"] == [] and conf["warnings"] == []
    assert [(s["address"], s["family"], s["level"], s["line"]) for s in conf["stats_sockets"]] == [
        ("/var/opt/rh/rh-haproxy18/lib/haproxy/stats", "unix", "operator", 12)]
    assert [(b["name"], b["mode"], b["balance"], b["line"]) for b in conf["backends"]] == [
        ("static", "http", "roundrobin", 44), ("app", "http", "roundrobin", 48)]
    app = servers(conf, "app")
    assert [(n, s["address"], s["port"], s["check"], s["line"]) for n, s in app.items()] == [
        ("app1", "127.0.0.1", 5001, True, 50), ("app2", "127.0.0.1", 5002, True, 51),
        ("app3", "127.0.0.1", 5003, True, 52), ("app4", "127.0.0.1", 5004, True, 53)]
    assert servers(conf, "static")["static"]["port"] == 4331
    main = conf["frontends"][0]
    assert (main["name"], main["default_backend"], main["use_backends"], main["line"]) == ("main", "app", ["static"], 36)
    assert [(b["address"], b["port"]) for b in main["binds"]] == [("0.0.0.0", 5000)]


def test_corpus_log_forward_section_is_not_a_proxy(corpus_text):
    conf = corpus(corpus_text, "dataplaneapi-log-forward.cfg")
    assert conf["errors"] == [] and conf["warnings"] == []
    assert [(b["name"], b["mode"], b["check_type"], b["line"], b["servers"]) for b in conf["backends"]] == [
        ("test_backend_add", "tcp", "tcp-check", 10, [])]
    # the log-forward section's bind and log lines are not a frontend nor global logs
    assert conf["frontends"] == []
    assert [(entry["target"], entry["args"], entry["line"]) for entry in conf["logs"]] == [("127.0.0.1", ["local2"], 8)]
    assert [(s["address"], s["level"], s["line"]) for s in conf["stats_sockets"]] == [
        ("/var/lib/haproxy/stats", "admin", 7)]


def test_corpus_version_header_named_defaults_only(corpus_text):
    conf = corpus(corpus_text, "dataplaneapi-fixture-version-header.cfg")
    assert conf["errors"] == [] and conf["warnings"] == []
    assert conf["backends"] == [] and conf["frontends"] == []
    assert [(s["address"], s["level"], s["line"]) for s in conf["stats_sockets"]] == [
        ("/var/lib/haproxy/stats", "admin", 10)]
    assert [(entry["target"], entry["line"]) for entry in conf["logs"]] == [("127.0.0.1", 4)]
    # a backend after the file would inherit the named defaults (mode http, timeout check 10s)
    extended = parse_config([("v.cfg", corpus_text("haproxy_cfg/dataplaneapi-fixture-version-header.cfg")),
                             ("b.cfg", "backend b from mydefaults\n    server s1 10.0.0.1:80 check\n")])
    backend = extended["backends"][0]
    assert (backend["mode"], backend["timeout_check_ms"], backend["timeout_connect_ms"], backend["defaults"]) == \
        ("http", 10000, 10000, "mydefaults")
    assert (backend["servers"][0]["file"], backend["servers"][0]["line"]) == ("b.cfg", 2)


@pytest.mark.parametrize("name", [
    "datadog-compose-colon-server-names.cfg", "dataplaneapi-fixture-version-header.cfg",
    "dataplaneapi-log-forward.cfg", "dataplaneapi-no-newline-oneliner.cfg", "dataplaneapi-servers-peers.cfg",
    "haproxy-basic-config-edge.cfg", "haproxy-map-ports-offset.cfg", "haproxy-ports-invalid.cfg",
    "haproxy-regtest-abns-fd-envdefault.cfg", "haproxy-regtest-resolvers-env-server.cfg",
    "haproxy-valid-names.cfg", "insights-mysql-galera.cfg", "insights-openstack-director-puppet.cfg",
    "insights-rh-haproxy18-scl.cfg", "whatsapp-proxy.cfg",
])
def test_corpus_every_server_has_file_and_line(corpus_text, name):
    conf = corpus(corpus_text, name)
    for backend in conf["backends"]:
        for server in backend["servers"]:
            assert server["file"] == name and server["line"] >= 1
    for entry in conf["errors"] + conf["warnings"]:
        assert entry["file"] == name and entry["message"]
