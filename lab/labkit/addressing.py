"""Name and address rules of the lab: prefix, subnet, host names, address allocation. Pure Python."""

import ipaddress
import re

from .errors import LabError

DEFAULT_PREFIX = "lbd"
DEFAULT_SUBNET = "198.18.0.0/24"
# RFC 2544 benchmarking range: never routed on the Internet, so a lab address can never be someone else's.
LAB_RANGE = ipaddress.ip_network("198.18.0.0/15")
PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")
HOST_RE = re.compile(r"^[a-z](?:[a-z0-9-]{0,13}[a-z0-9])?$")
RESERVED_HOSTS = {"controller", "bridge", "ctl", "br"}


def validate_prefix(prefix):
    if not isinstance(prefix, str) or not PREFIX_RE.match(prefix):
        raise LabError("invalid prefix %r: 1 to 8 characters, a lowercase letter then lowercase letters or digits "
                       "(it starts interface, namespace and machine names, which the kernel limits to 15 characters)"
                       % (prefix,))
    return prefix


def validate_subnet(text):
    try:
        net = ipaddress.ip_network(str(text), strict=True)
    except ValueError as exc:
        raise LabError("invalid subnet %r: %s" % (text, exc))
    if net.version != 4:
        raise LabError("invalid subnet %s: the lab uses IPv4 subnets" % net)
    if not net.subnet_of(LAB_RANGE):
        raise LabError("invalid subnet %s: it must lie inside %s (benchmarking range, never routed), "
                       "so the lab can never talk to a real address" % (net, LAB_RANGE))
    if net.prefixlen > 28:
        raise LabError("invalid subnet %s: too small, use /28 or larger" % net)
    return net


def validate_host_name(name):
    if not isinstance(name, str) or not HOST_RE.match(name) or name in RESERVED_HOSTS:
        raise LabError("invalid host name %r: 1 to 15 characters, lowercase letters, digits and '-', "
                       "starting with a letter (reserved: %s)" % (name, ", ".join(sorted(RESERVED_HOSTS))))
    return name


class Allocator:
    """Hands out addresses of one subnet.

    The first usable address belongs to the controller (the root namespace). Hosts without an explicit
    address get the next free ones from the bottom; extra addresses (secondary addresses, addresses no
    host owns, decoy sources) come from the top, so adding a host never moves the extras.
    """

    def __init__(self, subnet):
        self.net = validate_subnet(subnet)
        hosts = list(self.net.hosts())
        self._usable = hosts
        self.controller = hosts[0]
        self.used = {self.controller: "controller"}

    def claim(self, address, owner):
        try:
            addr = ipaddress.ip_address(str(address))
        except ValueError as exc:
            raise LabError("%s: invalid address %r: %s" % (owner, address, exc))
        if addr.version != 4 or addr not in self.net or addr in (self.net.network_address, self.net.broadcast_address):
            raise LabError("%s: address %s is not a usable address of the lab subnet %s" % (owner, addr, self.net))
        if addr in self.used:
            raise LabError("%s: address %s is already used by %s" % (owner, addr, self.used[addr]))
        self.used[addr] = owner
        return str(addr)

    def next_low(self, owner):
        for addr in self._usable:
            if addr not in self.used:
                self.used[addr] = owner
                return str(addr)
        raise LabError("subnet %s has no free address left for %s" % (self.net, owner))

    def next_high(self, owner):
        for addr in reversed(self._usable):
            if addr not in self.used:
                self.used[addr] = owner
                return str(addr)
        raise LabError("subnet %s has no free address left for %s" % (self.net, owner))
