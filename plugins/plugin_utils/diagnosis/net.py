# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Address semantics the kernel applies when a SYN meets a listening socket."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress


def parse_ip(text):
    """An ipaddress object, or None for a hostname, a UNIX path or garbage."""
    try:
        return ipaddress.ip_address(str(text).strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def family_of(ip):
    return "ipv4" if ip.version == 4 else "ipv6"


def _v4_mapped(ip):
    return getattr(ip, "ipv4_mapped", None) if ip.version == 6 else None


def listener_accepts(listener, target_ip, bindv6only=0):
    """Whether a listening socket accepts a connection to target_ip on its port.

    0.0.0.0 takes every IPv4 address of the host; :: takes every IPv6 address and, unless the
    socket is IPV6_V6ONLY (or net.ipv6.bindv6only made that the default), every IPv4 one too.
    """
    listen_ip = parse_ip(listener.get("address"))
    if listen_ip is None or target_ip is None:
        return False
    if listen_ip == target_ip:
        return True
    mapped = _v4_mapped(listen_ip)
    if mapped is not None and target_ip.version == 4:
        return mapped == target_ip
    if listen_ip.is_unspecified:
        if listen_ip.version == target_ip.version:
            return True
        if listen_ip.version == 6 and target_ip.version == 4:
            v6only = listener.get("v6only")
            if v6only is None:
                v6only = bool(int(bindv6only or 0))
            return not v6only
    return False


def host_owns(addresses, target_ip):
    """Whether target_ip is one of a host's interface addresses."""
    for entry in addresses or []:
        if parse_ip(entry.get("address")) == target_ip:
            return True
    return False


def resolved_addresses(lb_facts, name):
    """What the LB's resolver returns for a server hostname (haproxy_facts `dns`), as strings:
    entries are {address, family} dicts, or plain strings in older or hand-written facts."""
    entry = ((lb_facts or {}).get("dns") or {}).get(name) or {}
    found = []
    for item in entry.get("addresses") or []:
        text = item.get("address") if isinstance(item, dict) else item
        if parse_ip(text) is not None:
            found.append(str(text))
    return found
