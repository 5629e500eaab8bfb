"""Tests of the TCP prober against real sockets on loopback (127.0.0.1 and ::1 only):
listeners opened by the test, closed ports, a listener whose accept queue is full (SYNs are
dropped: a timeout without leaving the host), tiny HTTP servers for the HTTP check.
"""

import errno
import socket
import threading

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.tcp_probe import (
    ProbeInputError, classify, http_check_options, normalize_targets, probe, summarize,
)


@pytest.fixture
def listener():
    """A loopback listener that accepts and closes every connection."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)

    def serve():
        while True:
            try:
                conn, _addr = sock.accept()
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve)
    thread.daemon = True
    thread.start()
    yield sock.getsockname()[1]
    sock.close()


def closed_port():
    """A loopback port nobody listens on (bound, then closed, so it was free a moment ago)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


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


def test_timeout_when_syns_are_dropped():
    # a listener that never accepts: once its queue is full the kernel drops further SYNs
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    port = sock.getsockname()[1]
    fillers = []
    try:
        for _i in range(4):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        results = probe([{"address": "127.0.0.1", "port": port}], timeout=0.5)
    finally:
        for filler in fillers:
            filler.close()
        sock.close()
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
    assert http_check_options({"uri": "/health"}) == {"method": "OPTIONS", "uri": "/health", "version": "HTTP/1.0",
                                                      "host": None, "expect_status": None}
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
        thread = threading.Thread(target=self.serve)
        thread.daemon = True
        thread.start()

    def serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
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
                continue
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
        ("open", 200, True), ("open", 404, False), ("open", None, None), ("open", None, None)]
    assert results[1]["http_error"] == "HTTP status 404 (Not Found)"
    assert "L7TOUT" in results[2]["http_error"]
    assert "not an HTTP status line" in results[3]["http_error"]
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
