# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPV6_V6ONLY of listening TCP sockets from the kernel's NETLINK_SOCK_DIAG interface.

/proc/net/tcp6 does not say whether a ``::`` listener also accepts IPv4 (IPV6_V6ONLY). The
sock_diag netlink dump does: for every listening AF_INET6 socket the kernel adds the
INET_DIAG_SKV6ONLY attribute (net/ipv4/inet_diag.c, inet_diag_msg_attrs_fill). This module
sends one dump request with the standard library ``socket`` module (no subprocess) and
returns ``{inode: bool}``. ``parse_dump`` is a pure function over the raw bytes so tests feed
a captured dump. Standard library only, Python 3.8+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import struct

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
INET_DIAG_SKV6ONLY = 11
TCP_LISTEN = 10

_NLMSGHDR = struct.Struct("=IHHII")
# inet_diag_req_v2: family, protocol, ext, pad, states, then inet_diag_sockid (48 bytes).
_REQ_V2 = struct.Struct("=BBBxI48x")
# inet_diag_msg: family, state, timer, retrans, sockid (48 bytes), expires, rqueue, wqueue, uid, inode.
_DIAG_MSG = struct.Struct("=BBBB48xIIIII")
_RTATTR = struct.Struct("=HH")


class InetDiagError(ValueError):
    """The dump could not be obtained or read; the message names the source."""


def _align4(length):
    return (length + 3) & ~3


def build_request(family=socket.AF_INET6, seq=1, states=(1 << TCP_LISTEN)):
    """The bytes of one SOCK_DIAG_BY_FAMILY dump request for TCP sockets in ``states``."""
    body = _REQ_V2.pack(family, socket.IPPROTO_TCP, 0, states)
    header = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY,
                            NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
    return header + body


def parse_dump(data, source="NETLINK_SOCK_DIAG"):
    """Parse the concatenated netlink answer of a dump.

    Returns ``(sockets, done)``: a list of ``{family, state, uid, inode, v6only}`` (v6only is
    None when the kernel did not send the attribute) and whether NLMSG_DONE was seen.
    """
    sockets = []
    offset = 0
    done = False
    while offset + _NLMSGHDR.size <= len(data):
        length, msg_type, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > len(data):
            raise InetDiagError("%s: truncated netlink message at byte %d" % (source, offset))
        payload_start = offset + _NLMSGHDR.size
        if msg_type == NLMSG_DONE:
            done = True
            break
        if msg_type == NLMSG_ERROR:
            errno_value = -struct.unpack_from("=i", data, payload_start)[0]
            raise InetDiagError("%s: kernel answered error %d (%s)"
                                % (source, errno_value, os.strerror(errno_value)))
        if msg_type == SOCK_DIAG_BY_FAMILY:
            if length - _NLMSGHDR.size < _DIAG_MSG.size:
                raise InetDiagError("%s: short inet_diag_msg at byte %d" % (source, offset))
            family, state, _timer, _retrans, _exp, _rq, _wq, uid, inode = _DIAG_MSG.unpack_from(
                data, payload_start)
            v6only = None
            attr = payload_start + _DIAG_MSG.size
            end = offset + length
            while attr + _RTATTR.size <= end:
                attr_len, attr_type = _RTATTR.unpack_from(data, attr)
                if attr_len < _RTATTR.size:
                    break
                if attr_type == INET_DIAG_SKV6ONLY and attr_len >= _RTATTR.size + 1:
                    v6only = bool(data[attr + _RTATTR.size])
                attr += _align4(attr_len)
            sockets.append({"family": "ipv6" if family == socket.AF_INET6 else "ipv4",
                            "state": state, "uid": uid, "inode": inode, "v6only": v6only})
        offset += _align4(length)
    return sockets, done


def dump_raw(family=socket.AF_INET6, timeout=2.0, max_bytes=64 * 1024 * 1024):
    """Send one dump request and return the raw answer bytes up to NLMSG_DONE."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    try:
        sock.settimeout(timeout)
        sock.bind((0, 0))
        sock.sendto(build_request(family), (0, 0))
        chunks = []
        total = 0
        while total < max_bytes:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if _ends_with_done(chunk):
                break
        return b"".join(chunks)
    finally:
        sock.close()


def _ends_with_done(chunk):
    """True when the datagram holds NLMSG_DONE or NLMSG_ERROR (the end of a dump)."""
    offset = 0
    while offset + _NLMSGHDR.size <= len(chunk):
        length, msg_type = _NLMSGHDR.unpack_from(chunk, offset)[:2]
        if msg_type in (NLMSG_DONE, NLMSG_ERROR):
            return True
        if length < _NLMSGHDR.size:
            return True
        offset += _align4(length)
    return False


def v6only_by_inode(dumper=None):
    """``({inode: v6only}, None)`` for listening TCP/IPv6 sockets, or ``({}, reason)``."""
    dumper = dumper or dump_raw
    try:
        data = dumper()
        sockets, done = parse_dump(data)
    except (OSError, socket.error, InetDiagError) as exc:
        return {}, "NETLINK_SOCK_DIAG dump failed: %s" % exc
    if not done:
        return {}, "NETLINK_SOCK_DIAG dump ended without NLMSG_DONE"
    return dict((s["inode"], s["v6only"]) for s in sockets if s["v6only"] is not None), None
