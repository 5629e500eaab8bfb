"""Tests of the interface address parsers and their fallbacks.

Fixtures from tests/unit/fixtures/backend/netns1 (real: Debian 12, iproute2 6.1.0, netns with
lo, veth-a 198.18.0.11/24 + 2001:db8::11/64 and its peer veth-b; see README).
"""

import errno

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_addresses import (
    AddressParseError,
    collect_addresses,
    parse_if_inet6,
    parse_ip_json,
    parse_ip_oneline,
)

EXPECTED = [
    ("lo", "ipv4", "127.0.0.1", 8, "host"),
    ("lo", "ipv6", "::1", 128, "host"),
    ("veth-b", "ipv6", "fe80::fcab:57ff:fe74:5fd8", 64, "link"),
    ("veth-a", "ipv4", "198.18.0.11", 24, "global"),
    ("veth-a", "ipv6", "2001:db8::11", 64, "global"),
    ("veth-a", "ipv6", "fe80::8c47:bdff:fec0:2d45", 64, "link"),
]


def _short(addresses):
    return [(a["ifname"], a["family"], a["address"], a["prefixlen"], a["scope"]) for a in addresses]


def test_ip_json(fixture_text):
    addresses = parse_ip_json(fixture_text("backend/netns1/ip-j-addr-show.json"))
    assert _short(addresses) == EXPECTED
    assert addresses[3]["operstate"] == "UP" and "UP" in addresses[3]["flags"]


def test_ip_oneline_gives_the_same(fixture_text):
    assert _short(parse_ip_oneline(fixture_text("backend/netns1/ip-o-addr-show.txt"))) == EXPECTED


def test_if_inet6(fixture_text):
    assert sorted(_short(parse_if_inet6(fixture_text("backend/netns1/proc_net_if_inet6.txt")))) == \
        sorted(item for item in EXPECTED if item[1] == "ipv6")


def test_errors_name_source_and_line():
    with pytest.raises(AddressParseError, match="^ip -j addr show:1: not JSON"):
        parse_ip_json("Object \"addr\" is unknown")
    with pytest.raises(AddressParseError, match="^ip -o addr show:2:"):
        parse_ip_oneline("1: lo    inet 127.0.0.1/8 scope host lo\ngarbage\n")


def test_collector_falls_back_step_by_step(fixture_text):
    calls = []

    def run(argv):
        calls.append(argv)
        if argv == ["ip", "-o", "addr", "show"]:
            return 0, fixture_text("backend/netns1/ip-o-addr-show.txt"), ""
        return 255, "", 'Option "-j" is unknown, try "ip -help".'

    addresses, unavailable = collect_addresses(run, lambda path: "")
    assert calls == [["ip", "-j", "addr", "show"], ["ip", "-o", "addr", "show"]]
    assert _short(addresses) == EXPECTED
    assert unavailable[0]["reason"].startswith("exit 255: Option")

    def no_ip(argv):
        return 127, "", "ip: command not found"

    files = {"/proc/net/if_inet6": fixture_text("backend/netns1/proc_net_if_inet6.txt")}
    addresses, unavailable = collect_addresses(no_ip, files.__getitem__)
    assert len(addresses) == 4
    assert [u["what"] for u in unavailable] == ["addresses", "addresses", "addresses.ipv4"]

    def unreadable(path):
        raise IOError(errno.ENOENT, "No such file or directory")

    addresses, unavailable = collect_addresses(no_ip, unreadable)
    assert addresses == [] and unavailable[-1]["source"] == "/proc/net/if_inet6"
