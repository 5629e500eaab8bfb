"""Tests of the /proc/net/tcp{,6} parser.

Fixtures tests/unit/fixtures/proc/net_tcp*.txt were captured on Debian 12 (kernel 5.x, x86_64)
inside a fresh network namespace with Python listeners on 0.0.0.0:8080, 127.0.0.1:8081,
[::]:8082 (v6only off), [::1]:8083 and [::]:8084 (v6only on), and one loopback connection.
"""

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.proc_net_tcp import (
    ProcNetParseError,
    parse_proc_net_tcp,
)


def test_ipv4_listeners_are_decoded_in_host_byte_order(fixture_text):
    sockets = parse_proc_net_tcp(fixture_text("proc/net_tcp.txt"), byteorder="little")
    assert [(s["address"], s["port"]) for s in sockets] == [("127.0.0.1", 8081), ("0.0.0.0", 8080)]
    assert all(s["family"] == "ipv4" and s["state"] == "LISTEN" for s in sockets)
    assert sockets[1]["inode"] == 7294


def test_all_states_when_asked(fixture_text):
    sockets = parse_proc_net_tcp(fixture_text("proc/net_tcp.txt"), byteorder="little", states=None)
    assert sorted(s["state"] for s in sockets) == ["ESTABLISHED", "ESTABLISHED", "LISTEN", "LISTEN"]


def test_ipv6_listeners(fixture_text):
    sockets = parse_proc_net_tcp(fixture_text("proc/net_tcp6.txt"), source="/proc/net/tcp6", byteorder="little")
    assert sorted((s["address"], s["port"]) for s in sockets) == [("::", 8082), ("::", 8084), ("::1", 8083)]
    assert {s["family"] for s in sockets} == {"ipv6"}


def test_garbage_names_source_and_line():
    with pytest.raises(ProcNetParseError) as excinfo:
        parse_proc_net_tcp("  sl  local_address\n   0: zz:1F90 00000000:0000 0A 0 0 0 0 0 1\n", source="pasted")
    assert str(excinfo.value).startswith("pasted:2:")
