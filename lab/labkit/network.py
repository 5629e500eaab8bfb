"""The lab network: a bridge in its own namespace, one namespace per host, veths, addresses.

No namespace gets a default route: only the connected subnet is reachable, so nothing leaves the machine.
"""

import ipaddress
import json

from .errors import LabError
from .util import run

NETNS_DIR = "/run/netns"


def ip(*args, **kwargs):
    kwargs.setdefault("what", "ip " + " ".join(str(a) for a in args[:4]))
    return run(["ip"] + list(args), **kwargs)


def list_netns():
    rc, out, dummy = ip("-j", "netns", "list", check=False)
    if rc != 0 or not out.strip():
        return []
    return [entry["name"] for entry in json.loads(out)]


def link_exists(name, netns=None):
    argv = (["-n", netns] if netns else []) + ["link", "show", "dev", name]
    return ip(*argv, check=False)[0] == 0


def check_free(scenario):
    """Refuse when the prefix's names or the subnet are already in use by something else."""
    prefix = scenario["prefix"]
    ours = [n for n in list_netns() if n.startswith(prefix + "-")]
    if ours:
        raise LabError("prefix %s is in use: network namespaces %s exist; bring that lab down "
                       "(lab.py --prefix %s down) or choose another --prefix" % (prefix, ", ".join(ours), prefix))
    if link_exists(scenario["controller"]["ifname"]):
        raise LabError("prefix %s is in use: interface %s exists in the root namespace"
                       % (prefix, scenario["controller"]["ifname"]))
    net = ipaddress.ip_network(scenario["subnet"])
    out = ip("-j", "-4", "route", "show", "table", "all")[1]
    for route in json.loads(out or "[]"):
        dst = route.get("dst")
        if not dst or dst == "default" or route.get("type") in ("local", "broadcast"):
            continue
        try:
            other = ipaddress.ip_network(dst, strict=False)
        except ValueError:
            continue
        if other.version == 4 and other.overlaps(net):
            raise LabError("subnet %s overlaps route %s via %s already on this machine; choose another --subnet"
                           % (net, dst, route.get("dev", "?")))


def create(scenario):
    prefixlen = ipaddress.ip_network(scenario["subnet"]).prefixlen
    br = scenario["bridge"]["netns"]
    ctl = scenario["controller"]["ifname"]
    ip("netns", "add", br)
    ip("-n", br, "link", "set", "lo", "up")
    ip("-n", br, "link", "add", "br0", "type", "bridge", "forward_delay", "0")
    ip("-n", br, "link", "set", "br0", "up")
    # the controller's leg: root namespace <-> bridge
    ip("link", "add", "name", ctl, "type", "veth", "peer", "name", "ctl", "netns", br)
    ip("addr", "add", "%s/%d" % (scenario["controller"]["address"], prefixlen), "dev", ctl)
    ip("link", "set", ctl, "up")
    ip("-n", br, "link", "set", "ctl", "master", "br0", "up")
    for index, host in enumerate(scenario["hosts"]):
        ns = host["netns"]
        port = "h%d" % index
        ip("netns", "add", ns)
        ip("-n", ns, "link", "set", "lo", "up")
        ip("link", "add", "name", host["ifname"], "netns", ns, "type", "veth", "peer", "name", port, "netns", br)
        ip("-n", br, "link", "set", port, "master", "br0", "up")
        for address in [host["address"]] + host["extra_addresses"]:
            ip("-n", ns, "addr", "add", "%s/%d" % (address, prefixlen), "dev", host["ifname"])
        ip("-n", ns, "link", "set", host["ifname"], "up")


def destroy(prefix, netns_names=(), controller_ifname=None):
    """Delete the lab's namespaces (every `<prefix>-*` one) and the controller veth. Idempotent."""
    errors = []
    names = set(netns_names) | {n for n in list_netns() if n.startswith(prefix + "-")}
    for name in sorted(names):
        rc, dummy, err = ip("netns", "delete", name, check=False)
        if rc != 0 and name in list_netns():
            errors.append("ip netns delete %s: %s" % (name, err.strip()))
    ifname = controller_ifname or "%s-ctl" % prefix
    if link_exists(ifname):
        rc, dummy, err = ip("link", "delete", ifname, check=False)
        if rc != 0 and link_exists(ifname):
            errors.append("ip link delete %s: %s" % (ifname, err.strip()))
    return errors


def leftovers(prefix, controller_ifname=None):
    found = ["netns %s" % n for n in list_netns() if n.startswith(prefix + "-")]
    ifname = controller_ifname or "%s-ctl" % prefix
    if link_exists(ifname):
        found.append("link %s" % ifname)
    return found
