"""probe_targets(): what the load balancer probes, from a configuration parsed by the real
parser (haproxy_config.parse_config), including the HTTP check each server gets; then that
check run by the real probe against http.server on 127.0.0.1."""

import threading

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_config import parse_config
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.tcp_probe import probe
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.targets import http_check_for, probe_targets

CFG = "/etc/haproxy/haproxy.cfg"

CONFIG = r"""
defaults
    mode http
    timeout connect 5s

backend web
    option httpchk
    http-check send meth GET uri /health ver HTTP/1.1 hdr Host app.example.com hdr X-Check lbdoctor
    http-check expect status 200-399
    http-check expect ! string "under maintenance"
    server web1 198.18.0.11:8080 check
    server web2 198.18.0.12:8080 check port 9000 addr 198.18.0.99
    server web3 198.18.0.13:8443 check ssl verify none
    server web4 198.18.0.14:8080
    server web5 198.18.0.15:8443 check ssl verify none port 8080

backend legacy
    option httpchk GET /ping HTTP/1.1\r\nHost:\ legacy.example.com
    http-check disable-on-404
    server l1 198.18.0.21:80 check send-proxy
    server l2 198.18.0.11:8080 check

backend db
    server db1 198.18.0.31:3306 check port 9200 addr 198.18.0.32 source 198.18.0.2
    server db2 198.18.0.31:3306 check
    server sock /run/app.sock check
"""


def facts_result(text, version="2.6.12-1+deb12u4"):
    config = parse_config([(CFG, text)], env={})
    assert config["errors"] == []
    return {"ansible_facts": {"lbdoctor_haproxy": {"config": config, "haproxy": {"version": version}}}}


def backend(result, name):
    return [b for b in result["ansible_facts"]["lbdoctor_haproxy"]["config"]["backends"] if b["name"] == name][0]


WEB_CHECK = {"method": "GET", "uri": "/health", "version": "HTTP/1.1", "host": "app.example.com",
             "headers": [["X-Check", "lbdoctor"]], "expect": [["status", "200-399"], ["!", "string", "under maintenance"]]}


def test_targets_from_a_parsed_configuration():
    targets = probe_targets(facts_result(CONFIG))
    assert targets == [
        # HTTP-checked servers: one target each, named, with the check built from the config
        {"address": "198.18.0.11", "port": 8080, "http_check": WEB_CHECK, "id": "web/web1"},
        # the traffic port, then the check's `addr`/`port` override (the audit: addr was ignored)
        {"address": "198.18.0.12", "port": 8080},
        {"address": "198.18.0.99", "port": 9000, "http_check": WEB_CHECK, "id": "web/web2"},
        # `ssl` without a check port/addr: the check runs over TLS, reported not emulated
        {"address": "198.18.0.13", "port": 8443, "http_check": dict(WEB_CHECK, ssl=True), "id": "web/web3"},
        # web4 has no `check`: its address only
        {"address": "198.18.0.14", "port": 8080},
        # `ssl` with a check `port`: the check is plain HTTP there (check-ssl is not inherited)
        {"address": "198.18.0.15", "port": 8443},
        {"address": "198.18.0.15", "port": 8080, "http_check": WEB_CHECK, "id": "web/web5"},
        {"address": "198.18.0.21", "port": 80, "id": "legacy/l1", "http_check": {
            "method": "GET", "uri": "/ping", "version": "HTTP/1.1", "host": "legacy.example.com", "disable_on_404": True,
            "not_emulated": "the check starts with a PROXY protocol header (send-proxy): not emulated"}},
        # the same address as web1, checked differently: its own target
        {"address": "198.18.0.11", "port": 8080, "id": "legacy/l2", "http_check": {
            "method": "GET", "uri": "/ping", "version": "HTTP/1.1", "host": "legacy.example.com", "disable_on_404": True}},
        # TCP checks: plain connects, unique
        {"address": "198.18.0.31", "port": 3306, "source": "198.18.0.2"},
        {"address": "198.18.0.32", "port": 9200, "source": "198.18.0.2"},
        {"address": "198.18.0.31", "port": 3306},
    ]


def test_before_haproxy_2_2_only_the_last_expect_counts():
    result = facts_result(CONFIG, version="2.0.33")
    check = http_check_for(backend(result, "web"), backend(result, "web")["servers"][0], "2.0.33")
    assert check["expect"] == [["!", "string", "under maintenance"]]


@pytest.mark.parametrize("lines, reason", [
    ("http-check connect port 8081\n    http-check send meth GET uri /\n    http-check expect status 200",
     "a multi-step 'http-check connect' sequence (/etc/haproxy/haproxy.cfg:3): not emulated"),
    ("http-check send meth GET uri /a\n    http-check expect status 200\n    http-check send meth GET uri /b",
     "2 'http-check send' steps (/etc/haproxy/haproxy.cfg:3, /etc/haproxy/haproxy.cfg:5): not emulated"),
    ("http-check send meth GET uri-lf /%[srv_name]", "'http-check send uri-lf' (log-format)"),
])
def test_checks_the_probe_cannot_reproduce_are_marked(lines, reason):
    text = "backend b\n    option httpchk\n    %s\n    server s 198.18.0.1:80 check\n" % lines
    result = facts_result(text)
    check = http_check_for(backend(result, "b"), backend(result, "b")["servers"][0])
    assert reason in check["not_emulated"]


def test_tcp_check_backends_and_servers_without_check_get_no_http_check():
    result = facts_result(CONFIG)
    db = backend(result, "db")
    assert http_check_for(db, db["servers"][0]) is None
    web = backend(result, "web")
    assert http_check_for(web, web["servers"][3]) is None  # web4: no `check`


@pytest.fixture
def app():
    """A web application on 127.0.0.1 whose /health says it is in maintenance (503)."""
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"under maintenance" if self.path == "/health" else b"ok"
            self.send_response(503 if self.path == "/health" else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_configured_check_runs_in_the_probe(app):
    text = CONFIG.replace("198.18.0.11:8080 check", "127.0.0.1:%d check" % app, 1)
    targets = [t for t in probe_targets(facts_result(text)) if t.get("id") == "web/web1"]
    result = probe(targets, timeout=2.0)[0]
    assert (result["id"], result["result"]) == ("web/web1", "open")
    assert (result["http"]["result"], result["http"]["status"]) == ("L7STS", 503)
    assert result["http"]["request"] == "GET /health HTTP/1.1"
    assert result["http"]["reason"] == "HTTP status 503 (Service Unavailable) fails 'expect status 200-399'"
