"""Tests of the /proc/net/tcp{,6} parser.

Fixtures tests/unit/fixtures/proc/net_tcp*.txt are real: `cat /proc/net/tcp{,6}` on lab host web1
(Debian 12 container, systemd 252, kernel 6.18.44 x86_64) on 2026-12-06, with lab-app on
0.0.0.0:8080, sshd on 0.0.0.0:22 and [::]:22, and a Python process holding 127.0.0.1:8081,
[::]:8082 (v6only off), [::1]:8083, [::]:8084 (v6only on) and one loopback connection to 8081
(see tests/unit/fixtures/proc/README.md).
"""

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.proc_net_tcp import (
    ProcNetParseError,
    parse_proc_net_tcp,
)


def test_ipv4_listeners_are_decoded_in_host_byte_order(fixture_text):
    sockets = parse_proc_net_tcp(fixture_text("proc/net_tcp.txt"), byteorder="little")
    assert [(s["address"], s["port"]) for s in sockets] == [("0.0.0.0", 8080), ("0.0.0.0", 22), ("127.0.0.1", 8081)]
    assert all(s["family"] == "ipv4" and s["state"] == "LISTEN" for s in sockets)
    assert [s["inode"] for s in sockets] == [1117145, 1117057, 1118154]


def test_all_states_when_asked(fixture_text):
    sockets = parse_proc_net_tcp(fixture_text("proc/net_tcp.txt"), byteorder="little", states=None)
    assert sorted(s["state"] for s in sockets) == ["ESTABLISHED", "ESTABLISHED", "LISTEN", "LISTEN", "LISTEN"]
    established = [(s["address"], s["port"], s["inode"]) for s in sockets if s["state"] == "ESTABLISHED"]
    assert established == [("127.0.0.1", 44058, 1118158), ("127.0.0.1", 8081, 1118159)]


def test_ipv6_listeners(fixture_text):
    sockets = parse_proc_net_tcp(fixture_text("proc/net_tcp6.txt"), source="/proc/net/tcp6", byteorder="little")
    assert sorted((s["address"], s["port"]) for s in sockets) == [("::", 22), ("::", 8082), ("::", 8084), ("::1", 8083)]
    assert {s["family"] for s in sockets} == {"ipv6"}


def test_garbage_names_source_and_line():
    with pytest.raises(ProcNetParseError) as excinfo:
        parse_proc_net_tcp("  sl  local_address\n   0: zz:1F90 00000000:0000 0A 0 0 0 0 0 1\n", source="pasted")
    assert str(excinfo.value).startswith("pasted:2:")
