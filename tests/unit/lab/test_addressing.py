"""Prefix, subnet and host-name rules and the address allocator of the lab (lab/labkit/addressing.py)."""

import pytest

from labkit.addressing import Allocator, validate_host_name, validate_prefix, validate_subnet
from labkit.errors import LabError


@pytest.mark.parametrize("prefix", ["lbd", "a", "lbm2", "abcdefgh"])
def test_valid_prefixes(prefix):
    assert validate_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["", "1bd", "LBD", "lb-d", "abcdefghi", None, "lb d"])
def test_invalid_prefixes(prefix):
    with pytest.raises(LabError, match="invalid prefix"):
        validate_prefix(prefix)


@pytest.mark.parametrize("subnet", ["198.18.0.0/24", "198.19.255.0/24", "198.18.0.0/15", "198.18.4.0/28"])
def test_valid_subnets(subnet):
    assert str(validate_subnet(subnet)) == subnet


@pytest.mark.parametrize("subnet, message", [
    ("10.0.0.0/24", "must lie inside 198.18.0.0/15"),
    ("198.17.0.0/24", "must lie inside"),
    ("198.16.0.0/14", "must lie inside"),
    ("198.18.0.1/24", "host bits set"),
    ("198.18.0.0/29", "too small"),
    ("2001:db8::/64", "IPv4"),
    ("banana", "invalid subnet"),
])
def test_invalid_subnets(subnet, message):
    with pytest.raises(LabError, match=message):
        validate_subnet(subnet)


@pytest.mark.parametrize("name", ["lb", "web1", "a", "web-1", "abcdefghijklmno"])
def test_valid_host_names(name):
    assert validate_host_name(name) == name


@pytest.mark.parametrize("name", ["", "1web", "web_1", "Web", "web-", "abcdefghijklmnop", "controller", None])
def test_invalid_host_names(name):
    with pytest.raises(LabError, match="invalid host name"):
        validate_host_name(name)


def test_controller_gets_first_address_hosts_count_up_extras_count_down():
    alloc = Allocator("198.18.0.0/24")
    assert str(alloc.controller) == "198.18.0.1"
    assert alloc.next_low("a") == "198.18.0.2"
    assert alloc.next_low("b") == "198.18.0.3"
    assert alloc.next_high("x") == "198.18.0.254"
    assert alloc.next_high("y") == "198.18.0.253"


def test_claimed_addresses_are_skipped():
    alloc = Allocator("198.18.0.0/24")
    assert alloc.claim("198.18.0.2", "web1") == "198.18.0.2"
    assert alloc.next_low("lb") == "198.18.0.3"
    alloc.claim("198.18.0.254", "ghost")
    assert alloc.next_high("decoy") == "198.18.0.253"


@pytest.mark.parametrize("address, message", [
    ("198.18.0.1", "already used by controller"),
    ("198.18.1.5", "not a usable address"),
    ("198.18.0.0", "not a usable address"),
    ("198.18.0.255", "not a usable address"),
    ("nonsense", "invalid address"),
])
def test_bad_claims(address, message):
    alloc = Allocator("198.18.0.0/24")
    with pytest.raises(LabError, match=message):
        alloc.claim(address, "host x")


def test_double_claim_names_the_owner():
    alloc = Allocator("198.18.0.0/24")
    alloc.claim("198.18.0.9", "host web1")
    with pytest.raises(LabError, match="already used by host web1"):
        alloc.claim("198.18.0.9", "host web2")


def test_small_subnet_runs_out_with_a_clear_error():
    alloc = Allocator("198.18.0.0/28")  # 14 usable, 1 for the controller
    for i in range(13):
        alloc.next_low("h%d" % i)
    with pytest.raises(LabError, match="no free address left for h13"):
        alloc.next_low("h13")
