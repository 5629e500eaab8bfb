# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse `ss` and `netstat` socket listings (live fallback and text a user pastes).

``parse_ss`` reads the output of ``ss -tlnH``, ``ss -tlnpH``, ``ss -tlneH`` and their relatives
with a header or a Netid column (``ss -tulpen``, ``ss -ap | grep ...``). ``parse_netstat``
reads ``netstat -tlnp`` / ``-neopa`` / ``-ano`` rows, with or without the header lines.
Pure functions: text in, plain data out. Standard library only, Python 3.8+.

Wildcards as iproute2 >= 4.15 prints them: ``0.0.0.0:P`` is IPv4 only, ``*:P`` an IPv6
``::`` socket that also accepts IPv4 (IPV6_V6ONLY off) and ``[::]:P`` a v6only one. ``ss -e``
prints ``v6only:0|1`` explicitly, which wins when present.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

NETIDS = frozenset(("tcp", "udp", "raw", "u_str", "u_dgr", "u_seq", "u_sq", "p_raw", "p_dgr", "nl",
                    "sctp", "mptcp", "tipc", "v_str", "v_dgr", "xdp", "dccp"))
_USER_RE = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=(\d+)\)')
_EXT_RE = re.compile(r"\b(uid|ino|sk|v6only|cgroup):(\S+)")
_NETSTAT_TIMER_RE = re.compile(r"\s+(off|on|keepalive|timewait|probe)\s+\([^)]*\)\s*$")
_NETSTAT_PROTOS = ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udpl", "udpl6")


class SocketListingParseError(ValueError):
    """A line of an ss/netstat listing that cannot be read; names the source and line."""

    def __init__(self, source, lineno, message):
        self.source = source
        self.lineno = lineno
        super(SocketListingParseError, self).__init__("%s:%d: %s" % (source, lineno, message))


def split_endpoint(text):
    """Split an ss/netstat endpoint into (family, address, interface, port, wildcard).

    ``wildcard`` is None, ``"dual"`` for ss's ``*`` or ``"v6only"`` for ss's ``[::]``. Port is
    an int or None (``*``). Raises ValueError for text that is not an endpoint.
    """
    if ":" not in text:
        raise ValueError("no ':' in endpoint %r" % text)
    host, port_text = text.rsplit(":", 1)
    port = None if port_text == "*" else int(port_text)
    interface = None
    if "%" in host:
        host, interface = host.split("%", 1)
    if host.startswith("[") and "]" in host:
        inner, rest = host[1:].split("]", 1)
        if rest.startswith("%"):
            interface = rest[1:]
        host = inner
    if host == "*":
        return "ipv6", "::", interface, port, "dual"
    addr = ipaddress.ip_address(host)
    family = "ipv4" if addr.version == 4 else "ipv6"
    wildcard = "v6only" if (text.startswith("[") and host == "::") else None
    return family, addr.compressed, interface, port, wildcard


def _parse_users(text):
    return [{"process": m.group(1).replace('\\"', '"'), "pid": int(m.group(2)), "fd": int(m.group(3))}
            for m in _USER_RE.finditer(text)]


def parse_ss(text, source="ss"):
    """Parse ``ss`` socket rows. Returns a list of dicts in input order.

    Keys: netid (None when the listing has no Netid column), state, recv_q, send_q, family
    (ipv4/ipv6/unix/...), address, port, interface, peer, v6only (True/False/None), users
    ``[{process, pid, fd}]``, uid, inode, line.
    """
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens or tokens[0] in ("Netid", "State"):
            continue
        netid = None
        if tokens[0] in NETIDS:
            netid = tokens.pop(0)
        if len(tokens) < 5:
            raise SocketListingParseError(source, lineno, "too few columns: %r" % line.strip()[:80])
        state = tokens[0]
        try:
            recv_q, send_q = int(tokens[1]), int(tokens[2])
        except ValueError:
            raise SocketListingParseError(source, lineno, "queue columns are not numbers: %r"
                                          % line.strip()[:80])
        row = {"netid": netid, "state": state, "recv_q": recv_q, "send_q": send_q,
               "users": [], "uid": None, "inode": None, "v6only": None, "interface": None,
               "line": lineno}
        rest_start = 5
        if netid is not None and netid.startswith(("u_", "p_", "nl", "xdp", "v_")):
            # Unix/packet/netlink sockets print "path inode peer peer-inode".
            if len(tokens) < 7:
                raise SocketListingParseError(source, lineno, "too few columns for %s" % netid)
            row.update({"family": "unix" if netid.startswith("u_") else netid, "address": tokens[3],
                        "port": None, "inode": _int_or_none(tokens[4]), "peer": tokens[5]})
            rest_start = 7
        else:
            try:
                family, address, interface, port, wildcard = split_endpoint(tokens[3])
            except ValueError as exc:
                raise SocketListingParseError(source, lineno, "local address: %s" % exc)
            row.update({"family": family, "address": address, "port": port, "interface": interface,
                        "peer": tokens[4]})
            if wildcard == "dual":
                row["v6only"] = False
            elif wildcard == "v6only":
                row["v6only"] = True
            elif family == "ipv6":
                # Bound to one IPv6 address: the kernel makes such a socket v6only.
                row["v6only"] = None
        rest = " ".join(tokens[rest_start:])
        row["users"] = _parse_users(rest)
        for key, value in _EXT_RE.findall(rest):
            if key == "uid":
                row["uid"] = _int_or_none(value)
            elif key == "ino":
                row["inode"] = _int_or_none(value)
            elif key == "v6only":
                row["v6only"] = value == "1"
        rows.append(row)
    return rows


def _int_or_none(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def parse_netstat(text, source="netstat"):
    """Parse ``netstat`` internet rows (tcp/tcp6/udp/udp6/raw...), header optional.

    Returns dicts with proto, family, address, port, peer, state, uid, inode, pid, program
    (``pid``/``program`` None when the listing has no PID/Program column or shows ``-``), line.
    Unix socket rows and header lines are skipped.
    """
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens or tokens[0] not in _NETSTAT_PROTOS:
            continue
        proto = tokens[0]
        if len(tokens) < 5:
            raise SocketListingParseError(source, lineno, "too few columns: %r" % line.strip()[:80])
        try:
            family, address, _iface, port, _wild = split_endpoint(tokens[3])
        except ValueError as exc:
            raise SocketListingParseError(source, lineno, "local address: %s" % exc)
        if proto.endswith("6") and family == "ipv4":
            family = "ipv6"
        row = {"proto": proto, "family": family, "address": address, "port": port,
               "peer": tokens[4], "state": None, "uid": None, "inode": None, "pid": None,
               "program": None, "line": lineno}
        # Whatever follows the peer column, without the trailing Timer column of -o.
        tail = line.split(None, 5)[5] if len(line.split(None, 5)) > 5 else ""
        tail = _NETSTAT_TIMER_RE.sub("", " " + tail).strip()
        rest = tail.split()
        if rest and (proto.startswith("tcp") or (rest[0].isalpha() and rest[0].isupper())
                     or (proto.startswith("raw") and rest[0].isdigit() and len(rest) > 1)):
            row["state"] = rest.pop(0)
            tail = tail.split(None, 1)[1] if len(tail.split(None, 1)) > 1 else ""
        if len(rest) >= 2 and rest[0].isdigit() and rest[1].isdigit():
            row["uid"], row["inode"] = int(rest[0]), int(rest[1])
            tail = tail.split(None, 2)[2] if len(tail.split(None, 2)) > 2 else ""
        tail = tail.strip()
        if tail and tail != "-":
            match = re.match(r"^(\d+)/(.*)$", tail)
            if match:
                row["pid"] = int(match.group(1))
                row["program"] = match.group(2).strip()
        rows.append(row)
    return rows


def listeners_from_ss(rows):
    """Listening TCP sockets from parsed ``ss`` rows, in the shape of ``parse_proc_net_tcp``.

    Each dict has family, address, port, state, uid, inode, plus v6only and users (the
    fallback when /proc/net/tcp* cannot be read).
    """
    result = []
    for row in rows:
        if row["netid"] not in (None, "tcp") or row["state"] != "LISTEN":
            continue
        if row["family"] not in ("ipv4", "ipv6"):
            continue
        result.append({"family": row["family"], "address": row["address"], "port": row["port"],
                       "state": "LISTEN", "uid": row["uid"], "inode": row["inode"],
                       "v6only": row["v6only"], "users": row["users"],
                       "interface": row["interface"]})
    return result
