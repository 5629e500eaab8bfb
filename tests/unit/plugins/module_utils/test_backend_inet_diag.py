"""Tests of the NETLINK_SOCK_DIAG v6only reader.

netlink-sock-diag-inet6-listen.hex is the real raw answer captured on Debian 12 (kernel 6.18)
in the netns1 namespace (see tests/unit/fixtures/backend/README.md); `ss -tlneH` in the same
namespace said v6only 0 for inode 12036 ([::]:8082) and 1 for 12037 ([::1]:8083) and 12038
([::]:8084).
"""

import binascii
import socket
import struct

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_inet_diag import (
    InetDiagError,
    build_request,
    parse_dump,
    v6only_by_inode,
)


def captured(fixture_text):
    return binascii.unhexlify(fixture_text("backend/netns1/netlink-sock-diag-inet6-listen.hex").strip())


def test_parse_captured_dump(fixture_text):
    sockets, done = parse_dump(captured(fixture_text))
    assert done is True
    assert sorted((s["inode"], s["v6only"]) for s in sockets) == [(12036, False), (12037, True), (12038, True)]
    assert all(s["family"] == "ipv6" and s["state"] == 10 and s["uid"] == 0 for s in sockets)


def test_v6only_by_inode_with_captured_dump(fixture_text):
    mapping, reason = v6only_by_inode(lambda: captured(fixture_text))
    assert reason is None
    assert mapping == {12036: False, 12037: True, 12038: True}


def test_request_layout():
    request = build_request()
    length, msg_type, flags, seq, pid = struct.unpack_from("=IHHII", request)
    assert (length, msg_type, flags, seq, pid) == (len(request), 20, 0x301, 1, 0)
    family, protocol, ext, states = struct.unpack_from("=BBBxI", request, 16)
    assert (family, protocol, ext, states) == (socket.AF_INET6, socket.IPPROTO_TCP, 0, 1 << 10)
    assert len(request) == 16 + 56


def test_truncated_dump_is_an_error(fixture_text):
    data = captured(fixture_text)
    with pytest.raises(InetDiagError, match="truncated"):
        parse_dump(data[:100])
    mapping, reason = v6only_by_inode(lambda: data[:100])
    assert mapping == {} and "truncated" in reason


def test_kernel_error_and_missing_done():
    error = struct.pack("=IHHII", 36, 2, 0, 1, 0) + struct.pack("=i", -93) + b"\0" * 16
    mapping, reason = v6only_by_inode(lambda: error)
    assert mapping == {} and "error 93" in reason
    mapping, reason = v6only_by_inode(lambda: b"")
    assert mapping == {} and "without NLMSG_DONE" in reason


def test_socket_failure_is_a_reason_not_an_exception():
    def broken():
        raise OSError(93, "Protocol not supported")

    mapping, reason = v6only_by_inode(broken)
    assert mapping == {} and "Protocol not supported" in reason
