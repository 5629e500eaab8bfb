"""Tests of the tcp_probe module: argspec (suboptions, defaults), option bounds, check mode
(same probes, nothing changed) and results in input order, against loopback sockets.
"""

import socket

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.modules import tcp_probe

from module_harness import Exit, Fail, run_main


def run_module(args):
    return run_main(tcp_probe.main, args)


@pytest.fixture
def ports():
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    listening.listen(8)
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    yield listening.getsockname()[1], closed_port
    listening.close()


@pytest.mark.parametrize("check_mode", [False, True])
def test_probes_in_order(ports, check_mode):
    open_port, closed_port = ports
    args = {"targets": [{"address": "127.0.0.1", "port": closed_port}, {"address": "127.0.0.1", "port": open_port}],
            "timeout": 1.0}
    if check_mode:
        args["_ansible_check_mode"] = True
    result = run_module(args)
    assert isinstance(result, Exit)
    out = result.args[0]
    assert out["changed"] is False
    assert [(r["port"], r["result"]) for r in out["results"]] == [(closed_port, "refused"), (open_port, "open")]
    assert out["summary"]["refused"] == 1 and out["summary"]["open"] == 1


def test_http_check_suboption_defaults(ports, monkeypatch):
    seen = {}

    def fake_probe(targets, timeout, concurrency, http_check):
        seen.update(targets=targets, timeout=timeout, concurrency=concurrency, http_check=http_check)
        return []

    monkeypatch.setattr(tcp_probe, "probe", fake_probe)
    run_module({"targets": [{"address": "10.0.0.1", "port": 80}], "http_check": {"uri": "/health"}})
    assert seen["http_check"] == {"method": "OPTIONS", "uri": "/health", "version": "HTTP/1.0", "host": None,
                                  "headers": None, "body": None, "expect": None, "expect_status": None,
                                  "disable_on_404": False, "ssl": False, "not_emulated": None}
    # no concurrency given: the probe sizes it from the targets
    assert (seen["timeout"], seen["concurrency"]) == (2.0, None)
    assert seen["targets"][0]["source"] is None and seen["targets"][0]["id"] is None


def test_http_check_rules_and_concurrency_returned(monkeypatch):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]

    def answer():
        conn, _addr = server.accept()
        conn.recv(4096)
        conn.sendall(b"HTTP/1.0 503 Service Unavailable\r\n\r\nmaintenance")
        conn.close()

    import threading
    thread = threading.Thread(target=answer)
    thread.daemon = True
    thread.start()
    try:
        result = run_module({"targets": [{"address": "127.0.0.1", "port": port, "id": "web/web1"}], "timeout": 2.0,
                             "http_check": {"uri": "/health", "expect": ["status 200-399", ["!", "string", "maintenance"]],
                                            "headers": [{"name": "X-Check", "value": "1"}]}})
    finally:
        server.close()
    assert isinstance(result, Exit)
    out = result.args[0]
    entry = out["results"][0]
    assert (entry["id"], entry["result"], entry["http"]["result"], entry["http"]["status"]) == ("web/web1", "open", "L7STS", 503)
    assert out["concurrency"] == 1


@pytest.mark.parametrize("args, message", [
    ({"targets": [{"address": "10.0.0.1", "port": 80}], "timeout": 0}, "timeout"),
    ({"targets": [{"address": "10.0.0.1", "port": 80}], "concurrency": 0}, "concurrency"),
    ({"targets": [{"address": "10.0.0.1", "port": 70000}]}, "not a TCP port"),
    ({"targets": [{"address": "10.0.0.1"}]}, "port"),
    ({"targets": [{"address": "10.0.0.1", "port": 80}], "http_check": {"expect": ["bogus 1"]}}, "unknown match"),
])
def test_bad_options_fail_cleanly(args, message):
    result = run_module(args)
    assert isinstance(result, Fail) and message in result.args[0]["msg"]
