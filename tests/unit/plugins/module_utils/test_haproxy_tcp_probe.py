"""Tests of the TCP prober against real sockets on loopback (127.0.0.1 and ::1 only):
listeners opened by the test, closed ports, a listener whose accept queue is full (SYNs are
dropped: a timeout without leaving the host), tiny HTTP servers for the HTTP check.
"""

import errno
import socket
import threading

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils import tcp_probe
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.tcp_probe import (
    ProbeInputError, classify, effective_concurrency, http_check_options, normalize_targets, probe, summarize,
)
from loopback_sockets import close_dropping_listener, closed_ports, dropping_listener, serve_in_thread


@pytest.fixture
def listener():
    """A loopback listener that accepts and closes every connection."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    serve_in_thread(sock, lambda conn: conn.close())
    yield sock.getsockname()[1]
    sock.close()


def closed_port():
    """A loopback port nobody listens on (bound, then closed, so it was free a moment ago)."""
    return closed_ports(1)[0]


def has_ipv6_loopback():
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.bind(("::1", 0))
        sock.close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("err, expected", [
    (0, ("open", None)),
    (errno.ECONNREFUSED, ("refused", "ECONNREFUSED")),
    (errno.ETIMEDOUT, ("timeout", "ETIMEDOUT")),
    (errno.EHOSTUNREACH, ("unreachable", "EHOSTUNREACH")),
    (errno.ENETUNREACH, ("unreachable", "ENETUNREACH")),
    (errno.EPERM, ("error", "EPERM")),
])
def test_classify(err, expected):
    assert classify(err) == expected


def test_open_and_refused_in_input_order(listener):
    refused = closed_port()
    results = probe([{"address": "127.0.0.1", "port": refused}, {"address": "127.0.0.1", "port": listener},
                     {"address": "127.0.0.1", "port": refused}], timeout=2.0)
    assert [(r["port"], r["result"], r["errno"]) for r in results] == [
        (refused, "refused", "ECONNREFUSED"), (listener, "open", None), (refused, "refused", "ECONNREFUSED")]
    assert all(r["family"] == "ipv4" and r["error"] is None and r["elapsed_ms"] >= 0 for r in results)
    assert summarize(results) == {"open": 1, "refused": 2, "timeout": 0, "unreachable": 0, "error": 0}


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6():
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.bind(("::1", 0))
    sock.listen(4)
    port = sock.getsockname()[1]
    try:
        results = probe([{"address": "::1", "port": port}, {"address": "[::1]", "port": port}])
    finally:
        sock.close()
    assert [(r["result"], r["family"], r["resolved_address"]) for r in results] == [("open", "ipv6", "::1")] * 2


def test_timeout_when_syns_are_dropped(dropping_port):
    # a listener that never accepts: once its queue is full the kernel drops further SYNs
    results = probe([{"address": "127.0.0.1", "port": dropping_port}], timeout=0.5)
    assert results[0]["result"] == "timeout"
    assert 450 <= results[0]["elapsed_ms"] < 3000


def test_source_binding(listener):
    results = probe([{"address": "127.0.0.1", "port": listener, "source": "127.0.0.2"},
                     {"address": "127.0.0.1", "port": listener, "source": "192.0.2.254"}])
    assert (results[0]["result"], results[0]["source"]) == ("open", "127.0.0.2")
    # an address this host does not have: the kernel refuses the bind
    assert (results[1]["result"], results[1]["errno"]) == ("error", "EADDRNOTAVAIL")
    assert "cannot bind source" in results[1]["error"]


def test_source_family_mismatch(listener):
    result = probe([{"address": "127.0.0.1", "port": listener, "source": "::1"}])[0]
    assert result["result"] == "error" and "families differ" in result["error"]


def test_unresolvable_name_is_an_error_not_a_crash():
    def resolver(*args):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    result = probe([{"address": "nope.invalid", "port": 80}], resolve_fn=resolver)[0]
    assert result["result"] == "error" and "cannot resolve" in result["error"]


def test_many_targets_bounded_concurrency(listener, monkeypatch):
    refused = closed_port()
    state = _count_sockets(monkeypatch)
    targets = [{"address": "127.0.0.1", "port": listener if i % 2 else refused} for i in range(300)]
    results = probe(targets, timeout=2.0, concurrency=16)
    monkeypatch.undo()
    assert len(results) == 300
    assert [r["result"] for r in results[:4]] == ["refused", "open", "refused", "open"]
    assert summarize(results) == {"open": 150, "refused": 150, "timeout": 0, "unreachable": 0, "error": 0}
    assert state["max"] <= 16 and state["open"] == 0


@pytest.mark.parametrize("bad, message", [
    ({"address": "10.0.0.1"}, "port"),
    ({"address": "10.0.0.1", "port": 0}, "not a TCP port"),
    ({"port": 80}, "address is required"),
    ({"address": "10.0.0.1", "port": 80, "source": "eth0"}, "not an IP address"),
    ({"address": "10.0.0.1", "port": 80, "http_check": {"url": "/"}}, "targets[0]: http_check: unknown key(s) url"),
    ({"address": "10.0.0.1", "port": 80, "http_check": {"expect_status": "2xx"}}, "expect_status"),
])
def test_bad_targets(bad, message):
    with pytest.raises(ProbeInputError) as info:
        normalize_targets([bad])
    assert message in str(info.value)


def test_http_check_defaults_like_haproxy():
    assert http_check_options({"uri": "/health"}) == {
        "method": "OPTIONS", "uri": "/health", "version": "HTTP/1.0", "host": None, "headers": None, "body": None,
        "expect": None, "expect_status": None, "disable_on_404": False, "ssl": False, "not_emulated": None}
    assert http_check_options({"expect_status": 204})["expect_status"] == [204]
    assert http_check_options(None) is None


class HttpServer(object):
    """Accepts connections on 127.0.0.1, records the request, answers ``answer`` (None: never)."""

    def __init__(self, answer):
        self.answer = answer
        self.requests = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held = []
        serve_in_thread(self.sock, self.handle)

    def handle(self, conn):
        data = b""
        conn.settimeout(2)
        try:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        self.requests.append(data)
        if self.answer is None:
            self.held.append(conn)
            return
        conn.sendall(self.answer)
        conn.close()

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_http_check_status_and_request():
    ok = HttpServer(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    notfound = HttpServer(b"HTTP/1.0 404 Not Found\r\n\r\n")
    silent = HttpServer(None)
    garbage = HttpServer(b"SSH-2.0-OpenSSH_9.2\r\n")
    try:
        results = probe([{"address": "127.0.0.1", "port": ok.port}, {"address": "127.0.0.1", "port": notfound.port},
                         {"address": "127.0.0.1", "port": silent.port},
                         {"address": "127.0.0.1", "port": garbage.port}],
                        timeout=0.8, http_check={"method": "GET", "uri": "/health", "version": "HTTP/1.1",
                                                 "host": "app.example.com"})
    finally:
        for server in (ok, notfound, silent, garbage):
            server.close()
    assert [(r["result"], r["http_status"], r["http_ok"]) for r in results] == [
        ("open", 200, True), ("open", 404, False), ("open", None, False), ("open", None, False)]
    assert [r["http"]["result"] for r in results] == ["L7OK", "L7STS", "L7TOUT", "L7RSP"]
    assert results[1]["http_error"] == "HTTP status 404 (Not Found)"
    assert "L7TOUT" in results[2]["http_error"]
    assert "not an HTTP status line" in results[3]["http_error"]
    assert results[0]["http"]["request"] == "GET /health HTTP/1.1"
    assert ok.requests[0] == b"GET /health HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n"


def test_http_check_per_target_and_expect(listener):
    server = HttpServer(b"HTTP/1.1 204 No Content\r\n\r\n")
    refused = closed_port()
    try:
        results = probe([{"address": "127.0.0.1", "port": server.port, "http_check": {"expect_status": [200]}},
                         {"address": "127.0.0.1", "port": refused}], timeout=1.0)
    finally:
        server.close()
    assert (results[0]["http_status"], results[0]["http_ok"]) == (204, False)
    # no HTTP keys for a target probed without an HTTP check
    assert results[1]["result"] == "refused" and "http_status" not in results[1]


def test_source_address_is_the_one_the_kernel_chose_even_when_refused():
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: refused
    results = probe([{"address": "127.0.0.1", "port": port}, {"address": "127.0.0.1", "port": port, "source": "127.0.0.2"}])
    assert [r["result"] for r in results] == ["refused", "refused"]
    assert [r["source_address"] for r in results] == ["127.0.0.1", "127.0.0.2"]


# --- concurrency: every target at once by default, bounded by the open-file limit -------------

class FakeResource(object):
    """resource.getrlimit/setrlimit for RLIMIT_NOFILE, recording what the probe asks."""
    RLIMIT_NOFILE = 7
    RLIM_INFINITY = -1

    def __init__(self, soft, hard):
        self.limits = (soft, hard)
        self.set_calls = []

    def getrlimit(self, which):
        assert which == self.RLIMIT_NOFILE
        return self.limits

    def setrlimit(self, which, limits):
        self.set_calls.append(limits)
        self.limits = limits


def test_default_concurrency_is_every_target_within_the_soft_limit(monkeypatch):
    monkeypatch.setattr(tcp_probe, "resource", FakeResource(100000, 100000))
    assert effective_concurrency(1000) == 1000
    assert effective_concurrency(1000, 16) == 16  # an explicit value still caps it
    assert effective_concurrency(3, 64) == 3  # never more sockets than targets
    assert effective_concurrency(0) == 1


def test_default_concurrency_raises_the_soft_limit_towards_the_hard_one(monkeypatch):
    fake = FakeResource(1024, 4096)
    monkeypatch.setattr(tcp_probe, "resource", fake)
    assert effective_concurrency(2000) == 2000
    assert fake.set_calls == [(2000 + tcp_probe.FD_MARGIN, 4096)]


def test_a_concurrency_above_the_target_count_raises_no_limit(monkeypatch):
    fake = FakeResource(1024, 65536)
    monkeypatch.setattr(tcp_probe, "resource", fake)
    assert effective_concurrency(3, 5000) == 3
    assert fake.set_calls == []  # three sockets fit: the process keeps its limit


def test_concurrency_is_capped_by_the_hard_limit_minus_a_margin(monkeypatch):
    fake = FakeResource(256, 256)
    monkeypatch.setattr(tcp_probe, "resource", fake)
    assert effective_concurrency(1000) == 256 - tcp_probe.FD_MARGIN
    assert effective_concurrency(1000, 5000) == 256 - tcp_probe.FD_MARGIN
    assert fake.set_calls == []


def _count_sockets(monkeypatch):
    state = {"open": 0, "max": 0}
    real_socket = socket.socket

    class CountingSocket(real_socket):
        def __init__(self, *args, **kwargs):
            super(CountingSocket, self).__init__(*args, **kwargs)
            self.counted = kwargs.get("fileno") is None
            if self.counted:
                state["open"] += 1
                state["max"] = max(state["max"], state["open"])

        def close(self):
            if getattr(self, "counted", False) and self.fileno() != -1:
                state["open"] -= 1
            super(CountingSocket, self).close()

    monkeypatch.setattr(socket, "socket", CountingSocket)
    return state


@pytest.fixture
def dropping_port():
    """A loopback listener that never accepts, its queue filled: further SYNs are dropped."""
    sock, fillers, port = dropping_listener()
    yield port
    close_dropping_listener(sock, fillers)


@pytest.mark.parametrize("concurrency, expected_max", [(None, 20), (10, 10)])
def test_silent_targets_wait_together_by_default(dropping_port, monkeypatch, concurrency, expected_max):
    state = _count_sockets(monkeypatch)
    results = probe([{"address": "127.0.0.1", "port": dropping_port}] * 20, timeout=0.3, concurrency=concurrency)
    monkeypatch.undo()
    assert [r["result"] for r in results] == ["timeout"] * 20
    # all 20 silent connections were in progress at the same time (one timeout in total), or 10
    assert state["max"] == expected_max and state["open"] == 0


# --- HTTP check emulation against a real HTTP server on 127.0.0.1 ------------------------------

try:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
except ImportError:  # pragma: no cover - Python < 3.7
    from http.server import BaseHTTPRequestHandler, HTTPServer as ThreadingHTTPServer

ROUTES = {
    "/ok": (200, "OK", b"status: OK\n"),
    "/maint": (503, "Service Unavailable", b"down for maintenance\n"),
    "/missing": (404, "Not Found", b"no such page\n"),
    "/moved": (302, "Found", b""),
    "/empty": (200, "OK", b""),
    "/teapot": (418, "I'm a teapot", b"short and stout\n"),
}


class Handler(BaseHTTPRequestHandler):
    seen = []

    def _answer(self, with_body):
        Handler.seen.append((self.command, self.path, dict(self.headers)))
        if self.path == "/chunked":
            self.send_response(200, "OK")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"all sys", b"tems alive\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        status, phrase, body = ROUTES.get(self.path, (500, "Internal Server Error", b"boom\n"))
        self.send_response(status, phrase)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._answer(True)

    def do_OPTIONS(self):  # noqa: N802
        self._answer(True)

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        Handler.seen.append(("POST-BODY", self.rfile.read(length), {}))
        self._answer(True)

    def do_HEAD(self):  # noqa: N802
        self._answer(False)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def web_server():
    """http.server on 127.0.0.1 in a thread, shared by the module's tests; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever)
    thread.daemon = True
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def web(web_server):
    Handler.seen = []
    return web_server


def check(port, uri, *expect, **options):
    """Probe one target with an HTTP check; returns its `http` result."""
    http_check = dict(method=options.pop("method", "GET"), uri=uri, expect=list(expect) or None, **options)
    return probe([{"address": "127.0.0.1", "port": port, "http_check": http_check}], timeout=2.0)[0]["http"]


@pytest.mark.parametrize("uri, expect, result", [
    ("/ok", [], "L7OK"),                       # default: 2xx and 3xx pass
    ("/moved", [], "L7OK"),
    ("/missing", [], "L7STS"),
    ("/maint", [], "L7STS"),
    ("/ok", ["status 200"], "L7OK"),
    ("/moved", ["status 200"], "L7STS"),       # a rule replaces the 2xx/3xx default
    ("/maint", ["status 200-399"], "L7STS"),
    ("/moved", ["status 200-399"], "L7OK"),
    ("/teapot", ["status 200,400-420"], "L7OK"),
    ("/maint", ["! status 500-599"], "L7STS"),
    ("/ok", ["! status 500-599"], "L7OK"),
    ("/ok", ["rstatus ^2"], "L7OK"),
    ("/maint", ["rstatus ^(2|3)"], "L7STS"),
    ("/ok", ["string OK"], "L7OK"),
    ("/maint", ["string OK"], "L7RSP"),        # a body rule fails as L7RSP, not L7STS
    ("/maint", ["! string maintenance"], "L7RSP"),
    ("/ok", ["! string maintenance"], "L7OK"),
    ("/ok", ["rstring '^status: (OK|WARN)$'"], "L7OK"),  # quoted as in the config
    ("/teapot", ["rstring ^status:"], "L7RSP"),
    ("/chunked", ['string "systems alive"'], "L7OK"),   # matched on the de-chunked body
    ("/empty", ["string OK"], "L7RSP"),
    ("/ok", ["status 200", "string OK"], "L7OK"),
    ("/maint", ["status 200", "string maintenance"], "L7STS"),  # the first failing rule decides
    ("/maint", ["error-status L7RSP status 200"], "L7RSP"),
    ("/ok", ["ok-status L7OKC status 200"], "L7OKC"),
    ("/ok", [["string", "status: OK"]], "L7OK"),      # words as the config parser splits them
])
def test_expect_rules_like_haproxy(web, uri, expect, result):
    http = check(web, uri, *expect)
    assert http["result"] == result, http
    assert http["ok"] is (result in ("L7OK", "L7OKC"))
    assert http["status"] == {"/ok": 200, "/maint": 503, "/missing": 404, "/moved": 302, "/empty": 200,
                              "/teapot": 418, "/chunked": 200}[uri]
    assert (http["reason"] is None) is http["ok"]


def test_failure_reasons_name_the_status_and_the_rule(web):
    assert check(web, "/maint", "status 200-399")["reason"] == \
        "HTTP status 503 (Service Unavailable) fails 'expect status 200-399'"
    assert check(web, "/missing")["reason"] == "HTTP status 404 (Not Found)"
    assert "did not match (expect string OK)" in check(web, "/maint", "string OK")["reason"]
    assert "matched unwanted content" in check(web, "/maint", "! string maintenance")["reason"]


def test_flat_keys_follow_the_http_result(web):
    result = probe([{"address": "127.0.0.1", "port": web, "http_check": {"uri": "/maint", "expect": ["status 200"]}}])[0]
    assert (result["result"], result["http_status"], result["http_ok"]) == ("open", 503, False)
    assert result["http_error"] == result["http"]["reason"]
    assert result["http"]["request"] == "OPTIONS /maint HTTP/1.0"


def test_disable_on_404_passes_conditionally(web):
    http = check(web, "/missing", "status 200", disable_on_404=True)
    assert (http["result"], http["ok"]) == ("L7OKC", True)
    assert "disable-on-404" in http["reason"]


def test_request_carries_method_headers_and_body(web):
    http = check(web, "/ok", method="POST", version="HTTP/1.1", host="app.example.com",
                 headers=[["X-Check", "lbdoctor"], {"name": "Accept", "value": "text/plain"}], body="ping")
    assert http["result"] == "L7OK"
    (_tag, body, _h), (method, path, headers) = Handler.seen
    assert (method, path, headers["Host"], headers["X-Check"], headers["Accept"], headers["Connection"]) == (
        "POST", "/ok", "app.example.com", "lbdoctor", "text/plain", "close")
    assert body == b"ping"


def test_head_request_needs_no_body_for_status_rules(web):
    assert check(web, "/ok", "status 200", method="HEAD")["result"] == "L7OK"


def test_ssl_checks_are_reported_not_emulated_and_nothing_is_sent(web):
    result = probe([{"address": "127.0.0.1", "port": web, "http_check": {"uri": "/ok", "ssl": True}}])[0]
    assert result["result"] == "open"
    assert result["http"] == {"status": None, "result": "not_emulated", "ok": None, "request": None,
                              "reason": "the check runs over TLS (ssl / check-ssl): not emulated"}
    assert (result["http_ok"], result["http_error"]) == (None, None)
    assert Handler.seen == []


def test_rules_not_emulated_are_reported_unless_an_earlier_rule_already_failed(web):
    assert check(web, "/maint", "status 200", "hdr name X-Ready")["result"] == "L7STS"
    http = check(web, "/ok", "status 200", "hdr name X-Ready")
    assert (http["result"], http["ok"]) == ("not_emulated", None)
    assert "'http-check expect hdr name X-Ready' is not emulated" in http["reason"]
    # PCRE syntax Python's re does not read: said, not guessed
    http = check(web, "/ok", ["rstring", r"\h+OK"])
    assert http["result"] == "not_emulated" and "PCRE" in http["reason"]


def test_no_http_result_when_the_tcp_connect_fails():
    result = probe([{"address": "127.0.0.1", "port": closed_port(), "http_check": {"uri": "/"}}])[0]
    assert result["result"] == "refused"
    assert result["http"]["result"] is None and "refused" in result["http"]["reason"]
    assert result["http"]["request"] is None  # nothing was sent


def test_timeout_status_override_and_reset_connection():
    silent = HttpServer(None)
    try:
        http = probe([{"address": "127.0.0.1", "port": silent.port,
                       "http_check": {"expect": ["tout-status L4TOUT status 200"]}}], timeout=0.3)[0]["http"]
    finally:
        silent.close()
    assert (http["result"], http["ok"]) == ("L4TOUT", False)

    class Resetting(HttpServer):
        def handle(self, conn):
            import struct
            conn.recv(4096)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # RST

    resetting = Resetting(b"")
    try:
        http = probe([{"address": "127.0.0.1", "port": resetting.port, "http_check": {"uri": "/"}}])[0]["http"]
    finally:
        resetting.close()
    assert (http["result"], http["ok"]) == ("SOCKERR", False)


@pytest.mark.parametrize("expect, message", [
    ("!", "no match"),
    ("status", "exactly one pattern"),
    ("status two", "not a status code"),
    ("status 300-200", "reversed"),
    ("bogus 1", "unknown match 'bogus'"),
    ("string a b", "exactly one pattern"),
    ("error-status L7OK status 200", "error-status must be one of"),
    ("comment", "needs a value"),
])
def test_expect_rules_haproxy_refuses_are_input_errors(expect, message):
    with pytest.raises(ProbeInputError) as info:
        normalize_targets([{"address": "127.0.0.1", "port": 80, "http_check": {"expect": [expect]}}])
    assert message in str(info.value)


def test_target_id_is_returned_with_the_result(listener):
    results = probe([{"address": "127.0.0.1", "port": listener, "id": "web/web1"},
                     {"address": "127.0.0.1", "port": listener}])
    assert results[0]["id"] == "web/web1" and "id" not in results[1]
