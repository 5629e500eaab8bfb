"""Scenario files: load the YAML, validate it, resolve it into the plain data every other module uses.

Pure Python (PyYAML for loading only). `resolve()` is what tests and `scenario.json` see.
"""

import os
import re

from . import faults as faultlib
from .addressing import DEFAULT_PREFIX, DEFAULT_SUBNET, Allocator, validate_host_name, validate_prefix
from .errors import LabError

SCHEMA_VERSION = 1
ROLES = ("lb", "backend")
HAPROXY_NAME_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,32}$")
UNIT_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}\.service$")
TOP_KEYS = {"name", "description", "lab", "hosts", "haproxy"}
HOST_KEYS = {"name", "role", "address", "inventory", "sshd"}
BACKEND_KEYS = {"name", "mode", "frontend_port", "check", "servers"}
SERVER_KEYS = {"name", "host", "address", "port", "expect", "faults", "fault", "unit", "listen_address"}
RESERVED_PORTS = {22}


def load(path):
    import yaml  # only needed for files; resolve() works on plain data

    try:
        with open(path) as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise LabError("cannot read scenario %s: %s" % (path, exc.strerror))
    except yaml.YAMLError as exc:
        raise LabError("scenario %s is not valid YAML: %s" % (path, exc))
    if not isinstance(data, dict):
        raise LabError("scenario %s: the top level must be a mapping" % path)
    data.setdefault("name", os.path.splitext(os.path.basename(path))[0])
    return data


def _keys(mapping, allowed, where):
    if not isinstance(mapping, dict):
        raise LabError("%s: expected a mapping, got %r" % (where, mapping))
    unknown = set(mapping) - allowed
    if unknown:
        raise LabError("%s: unknown key(s) %s (allowed: %s)" % (where, ", ".join(sorted(unknown)), ", ".join(sorted(allowed))))


def new_service(server, host):
    return {
        "unit": server.get("unit") or "app-%d.service" % server["port"],
        "socket_unit": None,
        "activation": "service",
        "listen_address": server.get("listen_address") or "0.0.0.0",
        "listen_port": server["port"],
        "family": "ipv4",
        "v6only": None,
        "http_status": 200,        # what the app answers on every path
        "state": "running",        # running | stopped | failed | socket_stopped
        "conflict_with": None,
        "after_boot": [],
        "server": server["name"],
        "backend": server["backend"],
        "host": host["name"],
    }


def resolve(data, prefix=None, subnet=None, source=None):
    """Validate `data` (a loaded scenario) and return the resolved scenario (JSON-able)."""
    _keys(data, TOP_KEYS, "scenario")
    lab = data.get("lab") or {}
    _keys(lab, {"prefix", "subnet"}, "scenario lab")
    prefix = validate_prefix(prefix or lab.get("prefix") or DEFAULT_PREFIX)
    alloc = Allocator(subnet or lab.get("subnet") or DEFAULT_SUBNET)

    raw_hosts = data.get("hosts")
    if not isinstance(raw_hosts, list) or not raw_hosts:
        raise LabError("scenario: `hosts` must be a non-empty list")
    hosts = []
    by_name = {}
    for index, raw in enumerate(raw_hosts):
        _keys(raw, HOST_KEYS, "hosts[%d]" % index)
        name = validate_host_name(raw.get("name"))
        if name in by_name:
            raise LabError("hosts[%d]: duplicate host name %s" % (index, name))
        role = raw.get("role", "backend")
        if role not in ROLES:
            raise LabError("host %s: role must be one of %s, got %r" % (name, ", ".join(ROLES), role))
        in_inventory = raw.get("inventory", True)
        if not isinstance(in_inventory, bool):
            raise LabError("host %s: inventory must be true or false, got %r" % (name, in_inventory))
        if role == "lb" and not in_inventory:
            raise LabError("host %s: a load balancer must be in the inventory" % name)
        sshd = raw.get("sshd", "running")
        if sshd not in ("running", "stopped"):
            raise LabError("host %s: sshd must be running or stopped, got %r" % (name, sshd))
        if role == "lb" and sshd != "running":
            raise LabError("host %s: a load balancer needs its sshd" % name)
        host = {
            "name": name, "role": role, "address": None, "extra_addresses": [], "inventory": in_inventory, "sshd": sshd,
            "netns": "%s-%s" % (prefix, name), "machine": "%s-%s" % (prefix, name), "ifname": "eth0",
            "services": [], "holders": [], "iptables": [], "nft": [], "ports": {}, "containers": [],
        }
        if raw.get("address") is not None:
            host["address"] = alloc.claim(raw["address"], "host %s" % name)
        hosts.append(host)
        by_name[name] = host
    for host in hosts:  # automatic addresses after every explicit one is claimed
        if host["address"] is None:
            host["address"] = alloc.next_low("host %s" % host["name"])
    lbs = [h for h in hosts if h["role"] == "lb"]
    if not lbs:
        raise LabError("scenario: no host has role lb")

    hap = data.get("haproxy")
    _keys(hap, {"backends"}, "scenario haproxy")
    raw_backends = hap.get("backends")
    if not isinstance(raw_backends, list) or not raw_backends:
        raise LabError("scenario haproxy: `backends` must be a non-empty list")
    for lb in lbs:
        lb["ports"].update({22: "sshd"})
    backends = []
    servers = []
    frontend_ports = set()
    for bindex, rawb in enumerate(raw_backends):
        where = "haproxy.backends[%d]" % bindex
        _keys(rawb, BACKEND_KEYS, where)
        bname = rawb.get("name")
        if not isinstance(bname, str) or not HAPROXY_NAME_RE.match(bname):
            raise LabError("%s: name must match %s" % (where, HAPROXY_NAME_RE.pattern))
        if any(b["name"] == bname for b in backends):
            raise LabError("%s: duplicate backend name %s" % (where, bname))
        mode = rawb.get("mode", "http")
        if mode not in ("http", "tcp"):
            raise LabError("backend %s: mode must be http or tcp" % bname)
        check = rawb.get("check", "tcp")
        if check not in ("tcp", "http"):
            raise LabError("backend %s: check must be tcp (layer 4 connect) or http (GET /)" % bname)
        fport = faultlib.check_port(rawb.get("frontend_port", 80 + bindex), "backend %s frontend_port" % bname)
        if fport in frontend_ports or fport in RESERVED_PORTS:
            raise LabError("backend %s: frontend_port %d is already used" % (bname, fport))
        frontend_ports.add(fport)
        backend = {"name": bname, "mode": mode, "check": check, "frontend_port": fport, "servers": []}
        raw_servers = rawb.get("servers")
        if not isinstance(raw_servers, list) or not raw_servers:
            raise LabError("backend %s: `servers` must be a non-empty list" % bname)
        for sindex, raws in enumerate(raw_servers):
            swhere = "backend %s servers[%d]" % (bname, sindex)
            _keys(raws, SERVER_KEYS, swhere)
            sname = raws.get("name")
            if not isinstance(sname, str) or not HAPROXY_NAME_RE.match(sname):
                raise LabError("%s: name must match %s" % (swhere, HAPROXY_NAME_RE.pattern))
            if any(s["name"] == sname for s in backend["servers"]):
                raise LabError("%s: duplicate server name %s in backend %s" % (swhere, sname, bname))
            swhere = "server %s/%s" % (bname, sname)
            server = {"backend": bname, "name": sname, "port": faultlib.check_port(raws.get("port"), swhere + " port")}
            if "fault" in raws and "faults" in raws:
                raise LabError("%s: use `fault` or `faults`, not both" % swhere)
            raw_faults = raws.get("faults", [raws["fault"]] if raws.get("fault") is not None else [])
            if not isinstance(raw_faults, list):
                raise LabError("%s: `faults` must be a list" % swhere)
            server["faults"] = [faultlib.normalize(f, swhere) for f in raw_faults]
            faultlib.check_combination(server["faults"], swhere)
            if raws.get("unit") is not None and not UNIT_RE.match(str(raws["unit"])):
                raise LabError("%s: unit must be a NAME.service" % swhere)
            hostname = raws.get("host")
            if hostname is None:
                # A server no lab host owns: HAProxy checks an address nobody answers for.
                if server["faults"]:
                    raise LabError("%s: a server without `host` cannot have faults" % swhere)
                if raws.get("address") is None:
                    server["address"] = alloc.next_high("unowned address of %s" % swhere)
                else:
                    server["address"] = alloc.claim(raws["address"], "unowned address of %s" % swhere)
                server["host"] = None
                server["service"] = None
                default = "address_not_on_host"
            else:
                if hostname not in by_name:
                    raise LabError("%s: host %r is not in `hosts`" % (swhere, hostname))
                if raws.get("address") is not None:
                    raise LabError("%s: give `host` or `address`, not both (the address comes from the host)" % swhere)
                host = by_name[hostname]
                server["host"] = hostname
                server["address"] = host["address"]
                server["service"] = faultlib.apply(server, new_service(dict(raws, backend=bname), host), host, alloc)
                try:
                    default = faultlib.default_expect(server["faults"], swhere)
                except LabError:
                    if "expect" not in raws:
                        raise
                    default = None  # several faults imply no single verdict: the explicit `expect` decides

                if not host["inventory"]:
                    # Built and running, but unknown to Ansible: the user's inventory lacks the
                    # host (or the server's address moved to a host it does not list).
                    default = "address_not_on_host" if server["faults"] else "healthy"
                elif host["sshd"] == "stopped":
                    # In the inventory, but Ansible cannot log in: no facts, so no verdict but
                    # unknown with the reason, whatever HAProxy sees (the probe still answers).
                    default = "unknown"
                _reserve_ports(host, server, swhere)
            expect = raws["expect"] if "expect" in raws else default
            if expect not in faultlib.CAUSE_CODES:
                raise LabError("%s: expect %r is not a cause code (%s)" % (swhere, expect, ", ".join(faultlib.CAUSE_CODES)))
            server["expect"] = expect
            server["expect_default"] = default
            if server["service"] is not None:
                by_name[server["host"]]["services"].append(server["service"])
            backend["servers"].append(server)
            servers.append(server)
        backends.append(backend)
    for lb in lbs:
        for fport in frontend_ports:
            if fport in lb["ports"]:
                raise LabError("host %s: frontend port %d is also used by %s" % (lb["name"], fport, lb["ports"][fport]))
            lb["ports"][fport] = "haproxy frontend"
    for host in hosts:
        units = [s["unit"] for s in host["services"]] + [h["unit"] for h in host["holders"] if h["unit"]]
        dup = sorted({u for u in units if units.count(u) > 1})
        if dup:
            raise LabError("host %s: unit name(s) %s used twice; give servers distinct `unit`" % (host["name"], ", ".join(dup)))
        host["ports"] = {str(k): v for k, v in sorted(host["ports"].items())}

    return {
        "schema_version": SCHEMA_VERSION,
        "name": str(data.get("name", "scenario")),
        "description": str(data.get("description", "")),
        "source": source,
        "prefix": prefix,
        "subnet": str(alloc.net),
        "controller": {"address": str(alloc.controller), "ifname": "%s-ctl" % prefix},
        "bridge": {"netns": "%s-br" % prefix, "ifname": "br0"},
        "hosts": hosts,
        "haproxy": {
            "hosts": [h["name"] for h in lbs],
            "config": "/etc/haproxy/haproxy.cfg",
            "stats_socket": "/run/haproxy/admin.sock",
            "backends": backends,
        },
        "servers": servers,
    }


def _reserve_ports(host, server, where):
    """One listening port per service on a host (plus the squatters and sshd)."""
    used = host["ports"]
    wanted = {server["port"]: "server %s/%s" % (server["backend"], server["name"])}
    service = server["service"]
    if service is not None and service["listen_port"] != server["port"]:
        wanted[service["listen_port"]] = "service %s" % service["unit"]
    if 22 not in used:
        used[22] = "sshd"
    for port, owner in wanted.items():
        if port in used:
            raise LabError("%s: port %d on host %s is already taken by %s" % (where, port, host["name"], used[port]))
        used[port] = owner
