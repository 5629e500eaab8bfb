# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Interface addresses of a backend host: ``ip -j addr show`` first, text fallbacks after.

Pure parsers (``parse_ip_json``, ``parse_ip_oneline``, ``parse_if_inet6``) and a collector
``collect_addresses(run, read)``. Each address is
``{ifname, family, address, prefixlen, scope, operstate, flags}`` in the order ``ip`` lists
them. Standard library only, Python 3.8+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import re

IP_JSON_ARGV = ["ip", "-j", "addr", "show"]
IP_ONELINE_ARGV = ["ip", "-o", "addr", "show"]
IF_INET6 = "/proc/net/if_inet6"
_FAMILIES = {"inet": "ipv4", "inet6": "ipv6"}
# RT_SCOPE_* values as /proc/net/if_inet6 prints them (include/uapi/linux/rtnetlink.h plus the
# IPv6 address-type bits the kernel folds in: 0x20 link, 0x10 host, 0x40 site).
_IF_INET6_SCOPES = {0x00: "global", 0x10: "host", 0x20: "link", 0x40: "site"}
_ONELINE_RE = re.compile(r"^\d+:\s+(\S+)\s+(inet6?)\s+(\S+)(?:\s+brd\s+\S+)?(?:.*?\sscope\s+(\S+))?")


class AddressParseError(ValueError):
    """Address listing that cannot be read; names the source and line."""

    def __init__(self, source, lineno, message):
        self.source = source
        self.lineno = lineno
        super(AddressParseError, self).__init__("%s:%d: %s" % (source, lineno, message))


def _canonical(address):
    return ipaddress.ip_address(address.split("%", 1)[0]).compressed


def parse_ip_json(text, source="ip -j addr show"):
    """Parse ``ip -j addr show`` output."""
    try:
        links = json.loads(text)
    except ValueError as exc:
        raise AddressParseError(source, 1, "not JSON: %s" % exc)
    if not isinstance(links, list):
        raise AddressParseError(source, 1, "expected a JSON list of links")
    addresses = []
    for link in links:
        if not isinstance(link, dict):
            continue
        for info in link.get("addr_info") or []:
            family = _FAMILIES.get(info.get("family"))
            if family is None or "local" not in info:
                continue
            addresses.append({
                "ifname": link.get("ifname"),
                "family": family,
                "address": _canonical(info["local"]),
                "prefixlen": info.get("prefixlen"),
                "scope": info.get("scope"),
                "operstate": link.get("operstate"),
                "flags": list(link.get("flags") or []),
            })
    return addresses


def parse_ip_oneline(text, source="ip -o addr show"):
    """Parse ``ip -o addr show`` text (iproute2 without JSON support)."""
    addresses = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _ONELINE_RE.match(line)
        if not match:
            raise AddressParseError(source, lineno, "not an address line: %r" % line[:80])
        ifname, family, cidr, scope = match.groups()
        address, _sep, prefix = cidr.partition("/")
        try:
            address = _canonical(address)
        except ValueError as exc:
            raise AddressParseError(source, lineno, str(exc))
        addresses.append({"ifname": ifname.split("@", 1)[0], "family": _FAMILIES[family],
                          "address": address, "prefixlen": int(prefix) if prefix else None,
                          "scope": scope, "operstate": None, "flags": []})
    return addresses


def parse_if_inet6(text, source=IF_INET6):
    """Parse /proc/net/if_inet6 (IPv6 addresses only, when ``ip`` is missing)."""
    addresses = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 6 or len(fields[0]) != 32:
            raise AddressParseError(source, lineno, "not an if_inet6 row: %r" % line[:80])
        hex_address = fields[0]
        groups = ":".join(hex_address[i:i + 4] for i in range(0, 32, 4))
        scope = int(fields[3], 16)
        addresses.append({"ifname": fields[5], "family": "ipv6", "address": _canonical(groups),
                          "prefixlen": int(fields[2], 16),
                          "scope": _IF_INET6_SCOPES.get(scope & 0xF0, "0x%02x" % scope),
                          "operstate": None, "flags": []})
    return addresses


def collect_addresses(run, read):
    """``(addresses, unavailable)`` from ``ip -j``, else ``ip -o``, else /proc/net/if_inet6."""
    unavailable = []
    rc, out, err = run(IP_JSON_ARGV)
    if rc == 0:
        try:
            return parse_ip_json(out), unavailable
        except AddressParseError as exc:
            unavailable.append({"what": "addresses", "reason": str(exc), "source": " ".join(IP_JSON_ARGV)})
    else:
        unavailable.append({"what": "addresses", "reason": _reason(rc, err),
                            "source": " ".join(IP_JSON_ARGV)})
    rc, out, err = run(IP_ONELINE_ARGV)
    if rc == 0:
        try:
            return parse_ip_oneline(out), unavailable
        except AddressParseError as exc:
            unavailable.append({"what": "addresses", "reason": str(exc),
                                "source": " ".join(IP_ONELINE_ARGV)})
    else:
        unavailable.append({"what": "addresses", "reason": _reason(rc, err),
                            "source": " ".join(IP_ONELINE_ARGV)})
    try:
        addresses = parse_if_inet6(read(IF_INET6))
    except (IOError, OSError, AddressParseError) as exc:
        unavailable.append({"what": "addresses", "reason": str(exc), "source": IF_INET6})
        return [], unavailable
    unavailable.append({"what": "addresses.ipv4", "reason": "ip unusable; only IPv6 from " + IF_INET6,
                        "source": IF_INET6})
    return addresses, unavailable


def _reason(rc, err):
    err = (err or "").strip()
    return "exit %s: %s" % (rc, err.splitlines()[-1] if err else "no message")
