# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Packets, addresses and the kernel's errno tables for the netfilter evaluator.

Standard library only (runs on managed hosts, Python 3.8+). Addresses are handled as integers
so that matching a 50,000-rule ruleset stays cheap.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import socket


class PacketError(ValueError):
    """A packet or a helper argument the evaluator cannot use."""


class Unknown(Exception):
    """Raised by a match or statement whose outcome cannot be known from the packet and the
    facts and cannot be explored as a yes/no choice (e.g. a verdict map on an unknown key)."""

    def __init__(self, desc):
        Exception.__init__(self, desc)
        self.desc = desc


PROTOCOLS = {
    "all": 0, "ip": 0, "0": 0, "icmp": 1, "igmp": 2, "ipencap": 4, "tcp": 6, "egp": 8, "udp": 17,
    "ipv6": 41, "ipv6-route": 43, "ipv6-frag": 44, "rsvp": 46, "gre": 47, "esp": 50, "ah": 51,
    "icmpv6": 58, "ipv6-icmp": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "ospf": 89, "pim": 103,
    "vrrp": 112, "l2tp": 115, "sctp": 132, "mh": 135, "udplite": 136, "dccp": 33,
}

TCP_PORT_NAMES = {
    "ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "http": 80,
    "www": 80, "pop3": 110, "sunrpc": 111, "imap2": 143, "imap": 143, "ldap": 389, "https": 443,
    "microsoft-ds": 445, "submission": 587, "ldaps": 636, "imaps": 993, "pop3s": 995,
    "mysql": 3306, "postgresql": 5432, "http-alt": 8080, "webcache": 8080, "redis": 6379,
    "http-proxy": 3128, "netbios-ns": 137, "netbios-dgm": 138, "netbios-ssn": 139,
    "bootps": 67, "bootpc": 68, "ntp": 123, "snmp": 161, "rsync": 873, "nfs": 2049,
    "mdns": 5353, "kerberos": 88, "rtsp": 554, "sip": 5060, "xmpp-client": 5222,
}

# Kernel errno of a TCP connect() in SYN_SENT that receives the ICMP error: net/ipv4/icmp.c
# icmp_err_convert[] (code of ICMP_DEST_UNREACH) and net/ipv6/icmp.c tab_unreach[]
# (code of ICMPV6_DEST_UNREACH). tcp_v4_err()/tcp_v6_err() abort a SYN_SENT socket with that
# errno for every code, fatal or not.
ICMP4_ERRNO = {
    0: "ENETUNREACH", 1: "EHOSTUNREACH", 2: "ENOPROTOOPT", 3: "ECONNREFUSED", 6: "ENETUNREACH",
    7: "EHOSTDOWN", 8: "ENONET", 9: "ENETUNREACH", 10: "EHOSTUNREACH", 11: "ENETUNREACH",
    12: "EHOSTUNREACH", 13: "EHOSTUNREACH", 14: "EHOSTUNREACH", 15: "EHOSTUNREACH",
}
ICMP6_ERRNO = {
    0: "ENETUNREACH", 1: "EACCES", 2: "EHOSTUNREACH", 3: "EHOSTUNREACH", 4: "ECONNREFUSED",
    5: "EACCES", 6: "EACCES",
}

# --reject-with names (iptables, ip6tables; canonical and alias spellings) -> (family, icmp code)
REJECT_IPT4 = {
    "icmp-net-unreachable": 0, "net-unreach": 0, "icmp-host-unreachable": 1, "host-unreach": 1,
    "icmp-proto-unreachable": 2, "proto-unreach": 2, "icmp-port-unreachable": 3,
    "port-unreach": 3, "icmp-net-prohibited": 9, "net-prohib": 9, "icmp-host-prohibited": 10,
    "host-prohib": 10, "icmp-admin-prohibited": 13, "admin-prohib": 13,
}
REJECT_IPT6 = {
    "icmp6-no-route": 0, "no-route": 0, "icmp6-adm-prohibited": 1, "adm-prohibited": 1,
    "icmp6-addr-unreachable": 3, "addr-unreach": 3, "icmp6-port-unreachable": 4,
    "port-unreach": 4, "icmp6-policy-fail": 5, "policy-fail": 5, "icmp6-reject-route": 6,
    "reject-route": 6,
}
CANONICAL_IPT4 = {0: "icmp-net-unreachable", 1: "icmp-host-unreachable", 2: "icmp-proto-unreachable",
                  3: "icmp-port-unreachable", 9: "icmp-net-prohibited", 10: "icmp-host-prohibited",
                  13: "icmp-admin-prohibited"}
CANONICAL_IPT6 = {0: "icmp6-no-route", 1: "icmp6-adm-prohibited", 3: "icmp6-addr-unreachable",
                  4: "icmp6-port-unreachable", 5: "icmp6-policy-fail", 6: "icmp6-reject-route"}
# nft: `reject with icmp type X`, `icmpv6 type X`, `icmpx type X`
NFT_ICMP4 = {"net-unreachable": 0, "host-unreachable": 1, "prot-unreachable": 2,
             "port-unreachable": 3, "net-prohibited": 9, "host-prohibited": 10,
             "admin-prohibited": 13, "frag-needed": 4}
NFT_ICMP6 = {"no-route": 0, "admin-prohibited": 1, "addr-unreachable": 3, "port-unreachable": 4,
             "policy-fail": 5, "reject-route": 6}
# icmpx (inet tables): the abstract code maps to a per-family ICMP code (nft_reject_icmpx_*).
NFT_ICMPX = {"no-route": (0, 0), "port-unreachable": (3, 4), "host-unreachable": (1, 3),
             "admin-prohibited": (13, 1)}


def errno_for_reject(family, kind):
    """(errno, observed_as) for a reject of a TCP SYN. kind: 'tcp-reset' or ('icmp', code)."""
    if kind == "tcp-reset":
        return "ECONNREFUSED", "refused"
    code = kind[1]
    table = ICMP4_ERRNO if family == "ipv4" else ICMP6_ERRNO
    err = table.get(code)
    if err is None:
        return None, "unreachable"
    if err == "ECONNREFUSED":
        return err, "refused"
    return err, "unreachable"


def parse_ip(text):
    """'10.0.0.1' -> (4, int); raises PacketError. inet_pton first (fast, strict), ipaddress
    for what it refuses (and for the error)."""
    try:
        if ":" in text:
            return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, text.strip("[]")), "big")
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except (OSError, ValueError, TypeError):
        pass
    try:
        addr = ipaddress.ip_address(str(text).strip().strip("[]"))
    except ValueError:
        raise PacketError("not an IP address: %r" % (text,))
    return addr.version, int(addr)


def ip_text(version, value):
    if version == 4:
        return str(ipaddress.IPv4Address(value))
    return str(ipaddress.IPv6Address(value))


def family_of_version(version):
    return "ipv4" if version == 4 else "ipv6"


def parse_network(text):
    """'10.0.0.0/8', '10.0.0.0/255.0.0.0', '::1/128', '10.0.0.1' -> (version, lo, hi, mask).

    mask is None for a prefix (the network is the interval lo..hi); iptables also takes
    non-contiguous masks, then hi is None and a value v is in it when v & mask == lo.
    """
    text = text.strip()
    if "/" in text:
        addr, mask = text.split("/", 1)
        version, base = parse_ip(addr)
        bits = 32 if version == 4 else 128
        full = (1 << bits) - 1
        if mask.isdigit():
            plen = int(mask)
            if plen > bits:
                raise PacketError("prefix length out of range: %r" % (text,))
            netmask = full ^ ((1 << (bits - plen)) - 1)
        else:
            mversion, netmask = parse_ip(mask)
            if mversion != version:
                raise PacketError("mask of another family: %r" % (text,))
        inv = full ^ netmask
        if inv & (inv + 1):
            return version, base & netmask, None, netmask
        return version, base & netmask, (base & netmask) | inv, None
    version, value = parse_ip(text)
    return version, value, value, None


def parse_port_range(text, names=None):
    """'22' -> (22, 22); '1000:2000' / '1000-2000' -> (1000, 2000); ':80' -> (0, 80)."""
    text = text.strip()
    for sep in (":", "-"):
        if sep in text:
            lo, hi = text.split(sep, 1)
            return (_port(lo, 0, names), _port(hi, 65535, names))
    value = _port(text, None, names)
    return (value, value)


def _port(text, default, names):
    text = text.strip()
    if text == "":
        if default is None:
            raise PacketError("empty port")
        return default
    if text.isdigit():
        value = int(text)
        if value > 65535:
            raise PacketError("port out of range: %r" % (text,))
        return value
    table = names if names is not None else TCP_PORT_NAMES
    if text in table:
        return table[text]
    raise PacketError("unknown port name: %r" % (text,))


def iface_match(pattern, name):
    """iptables -i/-o semantics: a trailing '+' matches any suffix; nft uses a trailing '*'."""
    if name is None:
        return None
    if pattern.endswith("+") or pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def normalize_packet(packet):
    """Check and canonicalise a packet {family, src, dst, dport, proto, iif, sport}."""
    if not isinstance(packet, dict):
        raise PacketError("a packet must be a mapping, got %r" % (packet,))
    for key in ("src", "dst", "dport"):
        if packet.get(key) in (None, ""):
            raise PacketError("packet needs %r: %r" % (key, packet))
    sversion, src = parse_ip(str(packet["src"]))
    dversion, dst = parse_ip(str(packet["dst"]))
    if sversion != dversion:
        raise PacketError("src and dst of different families: %r" % (packet,))
    family = packet.get("family") or family_of_version(sversion)
    if family not in ("ipv4", "ipv6"):
        raise PacketError("family must be ipv4 or ipv6: %r" % (family,))
    if family != family_of_version(sversion):
        raise PacketError("family %s does not fit the addresses %s -> %s" % (family, packet["src"], packet["dst"]))
    proto = str(packet.get("proto") or "tcp").lower()
    if proto != "tcp":
        raise PacketError("only TCP SYNs are evaluated, got proto %r" % (proto,))
    try:
        dport = int(packet["dport"])
        sport = packet.get("sport")
        sport = None if sport in (None, "") else int(sport)
    except (TypeError, ValueError):
        raise PacketError("ports must be integers: %r" % (packet,))
    for port in (dport, sport):
        if port is not None and not 0 < port < 65536:
            raise PacketError("port out of range: %r" % (port,))
    direction = packet.get("direction") or "input"
    if direction not in ("input", "output"):
        raise PacketError("direction must be input or output: %r" % (direction,))
    return {
        "family": family,
        "version": sversion,
        "src": src,
        "dst": dst,
        "src_text": ip_text(sversion, src),
        "dst_text": ip_text(sversion, dst),
        "dport": dport,
        "sport": sport,
        "proto": 6,
        "iif": packet.get("iif") or None,
        "oif": packet.get("oif") or None,
        "direction": direction,
        "mark": int(packet.get("mark") or 0),
        "src_mac": packet.get("src_mac"),
        "mss": int(packet["mss"]) if packet.get("mss") not in (None, "") else None,
    }


def normalize_addresses(addresses):
    """Accept the host's addresses in the forms the project has and give
    {ifname: [(version, int, prefixlen, scope), ...]} in `ip -j addr` order.

    Forms: {ifname: ["198.18.0.11/24", ...]}; the backend_facts list
    [{ifname, family, address, prefixlen, scope}]; raw `ip -j addr` output
    [{ifname, addr_info: [{family: inet|inet6, local, prefixlen, scope}]}].
    """
    if addresses is None:
        return None
    out = {}
    if isinstance(addresses, dict):
        for ifname, items in addresses.items():
            for item in items or []:
                _add_address(out, ifname, item)
        return out
    for entry in addresses:
        if not isinstance(entry, dict):
            raise PacketError("addresses: cannot read %r" % (entry,))
        if "addr_info" in entry:
            for info in entry.get("addr_info") or []:
                if info.get("family") in ("inet", "inet6") and info.get("local"):
                    _add_address(out, entry.get("ifname"), {
                        "address": info["local"], "prefixlen": info.get("prefixlen"),
                        "scope": info.get("scope"), "tentative": bool(info.get("tentative"))})
            out.setdefault(entry.get("ifname"), [])
        else:
            _add_address(out, entry.get("ifname"), entry)
    return out


def _add_address(out, ifname, item):
    if isinstance(item, dict):
        text = str(item.get("address") or item.get("local") or "")
        plen = item.get("prefixlen")
        scope = item.get("scope")
        tentative = bool(item.get("tentative"))
    else:
        text, plen, scope, tentative = str(item), None, None, False
    if "/" in text:
        text, plen = text.split("/", 1)
    if "%" in text:
        text = text.split("%", 1)[0]
    version, value = parse_ip(text)
    if plen in (None, ""):
        plen = 32 if version == 4 else 128
    plen = int(plen)
    if scope is None:
        scope = _scope_of(version, value)
    out.setdefault(ifname, []).append((version, value, plen, scope, tentative))


def _scope_of(version, value):
    if version == 4:
        return "host" if (value >> 24) == 127 else "global"
    if value == 1:
        return "host"
    if (value >> 118) == 0x3fa:  # fe80::/10
        return "link"
    return "global"


def scope_of(version, value):
    return _scope_of(version, value)


def listener_accepts(listener, version, address):
    """Whether a listening socket {address, port, v6only} takes a connection to address
    (the port is compared by the caller). Returns True, False or None (unknown v6only)."""
    laddr = str(listener.get("address") or "")
    if "%" in laddr:
        laddr = laddr.split("%", 1)[0]
    laddr = laddr.strip("[]")
    if laddr in ("", "*"):
        laddr = "0.0.0.0" if version == 4 else "::"
    try:
        lversion, lvalue = parse_ip(laddr)
    except PacketError:
        return False
    if lversion == version:
        if lvalue == 0:
            return True
        return lvalue == address
    if lversion == 6 and version == 4:
        v6only = listener.get("v6only")
        if lvalue == 0:
            # `::` takes IPv4 connections unless IPV6_V6ONLY is set on the socket.
            if v6only is None:
                return None
            return not v6only
        if (lvalue >> 32) == 0xffff:  # ::ffff:a.b.c.d, a v4-mapped bind
            if v6only:
                return False
            return (lvalue & 0xffffffff) == address
    return False
