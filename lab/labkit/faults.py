"""The fault catalogue: what each fault does to a server's service or host, and the verdict it implies.

Pure Python. `apply()` turns a server's declared faults into changes of its service spec and host
spec (firewall rules, extra units, extra addresses, steps to run after boot). Rendering those specs into
files is hostfiles.py's job.
"""

import importlib.util
import os
import re

from .errors import LabError


def _load_verdicts():
    """The collection's verdict vocabulary, read from its single source (the causes module has no
    imports beyond __future__, so it loads without the collection on sys.path)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plugins", "plugin_utils",
                        "diagnosis", "causes.py")
    spec = importlib.util.spec_from_file_location("lbdoctor_causes", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.VERDICTS


CAUSE_CODES = _load_verdicts()

IPTABLES_REJECT_WITH = (
    "icmp-port-unreachable", "icmp-host-prohibited", "icmp-admin-prohibited", "icmp-net-unreachable",
    "icmp-host-unreachable", "icmp-net-prohibited", "icmp-proto-unreachable", "tcp-reset",
)
# scenario spelling -> nft statement
NFT_REJECT_WITH = {
    "default": "reject",
    "tcp-reset": "reject with tcp reset",
    "icmpx-port-unreachable": "reject with icmpx type port-unreachable",
    "icmpx-admin-prohibited": "reject with icmpx type admin-prohibited",
    "icmpx-host-unreachable": "reject with icmpx type host-unreachable",
    "icmpx-no-route": "reject with icmpx type no-route",
}

# type -> (default verdict, {param: default})
FAULTS = {
    "unit_stopped": ("service_stopped", {}),
    "bind_loopback": ("bound_to_loopback", {"address": "127.0.0.1"}),
    "bind_other_address": ("bound_to_other_address", {"address": None}),
    "ipv6_only": ("address_family_mismatch", {"address": "::"}),
    "iptables_reject": ("firewall_reject", {"reject_with": "icmp-port-unreachable"}),
    "iptables_drop": ("firewall_drop", {}),
    "nft_reject": ("firewall_reject", {"reject_with": "default"}),
    "nft_drop": ("firewall_drop", {}),
    "decoy_reject": (None, {"source": None, "tool": "iptables", "reject_with": None}),
    "firewalld_closed": ("firewall_reject", {}),
    "firewalld_drop": ("firewall_drop", {}),
    "firewalld_service": (None, {}),
    "ufw_deny": ("firewall_drop", {}),
    "ufw_reject": ("firewall_reject", {}),
    "redirect_no_listener": ("sidecar_redirect", {"tool": "iptables", "to_port": 15001}),
    "wrong_port": ("wrong_port", {"listen_port": None}),
    "port_conflict": ("port_conflict", {"holder": "unit", "holder_unit": None, "holder_address": "127.0.0.1"}),
    "no_listener": ("no_listener", {}),
    "socket_unit_inactive": ("socket_unit_inactive", {}),
    # not a connection fault: the port opens, HAProxy's HTTP check (backend `check: http`) fails
    # with L7STS; no layer explains it, so the verdict is unknown with the status as evidence
    "http_status": ("unknown", {"status": 503}),
    "container_unpublished": ("container_port_unmapped", {"name": None}),
}
# Faults that change the service itself: two of them on one server make no sense together.
SERVICE_FAULTS = {"unit_stopped", "bind_loopback", "bind_other_address", "ipv6_only", "wrong_port",
                  "port_conflict", "no_listener", "socket_unit_inactive", "container_unpublished"}

CONTAINER_IMAGE_SCRIPT = "/usr/local/sbin/lab-container-image"
CONTAINER_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")


def normalize(raw, where):
    """A fault is `name` or `{type: name, param: value...}`; return the dict with every param filled in."""
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict) or "type" not in raw:
        raise LabError("%s: a fault is a name or a mapping with `type`, got %r" % (where, raw))
    kind = raw["type"]
    if kind not in FAULTS:
        raise LabError("%s: unknown fault type %r (known: %s)" % (where, kind, ", ".join(sorted(FAULTS))))
    params = dict(FAULTS[kind][1])
    unknown = set(raw) - set(params) - {"type"}
    if unknown:
        raise LabError("%s: fault %s does not take %s (it takes: %s)"
                       % (where, kind, ", ".join(sorted(unknown)), ", ".join(sorted(params)) or "nothing"))
    params.update({k: v for k, v in raw.items() if k != "type"})
    fault = {"type": kind}
    fault.update(params)
    if kind == "iptables_reject" and fault["reject_with"] not in IPTABLES_REJECT_WITH:
        raise LabError("%s: iptables_reject reject_with %r: use one of %s"
                       % (where, fault["reject_with"], ", ".join(IPTABLES_REJECT_WITH)))
    if kind == "nft_reject" and fault["reject_with"] not in NFT_REJECT_WITH:
        raise LabError("%s: nft_reject reject_with %r: use one of %s"
                       % (where, fault["reject_with"], ", ".join(NFT_REJECT_WITH)))
    if kind == "decoy_reject":
        if fault["tool"] not in ("iptables", "nft", "firewalld", "ufw"):
            raise LabError("%s: decoy_reject tool must be iptables, nft, firewalld or ufw" % where)
        if fault["tool"] in ("firewalld", "ufw"):
            if fault["reject_with"] is not None:
                raise LabError("%s: decoy_reject with tool %s takes no reject_with (the tool picks it)" % (where, fault["tool"]))
            return fault
        table = IPTABLES_REJECT_WITH if fault["tool"] == "iptables" else NFT_REJECT_WITH
        if fault["reject_with"] is None:
            fault["reject_with"] = "icmp-port-unreachable" if fault["tool"] == "iptables" else "default"
        if fault["reject_with"] not in table:
            raise LabError("%s: decoy_reject reject_with %r is not valid for %s" % (where, fault["reject_with"], fault["tool"]))
    if kind == "redirect_no_listener":
        if fault["tool"] not in ("iptables", "nft"):
            raise LabError("%s: redirect_no_listener tool must be iptables or nft" % where)
        fault["to_port"] = check_port(fault["to_port"], where + ": redirect_no_listener to_port")
    if kind == "port_conflict" and fault["holder"] not in ("unit", "process"):
        raise LabError("%s: port_conflict holder must be `unit` or `process`" % where)
    if kind == "container_unpublished" and fault["name"] is not None and not CONTAINER_NAME_RE.match(str(fault["name"])):
        raise LabError("%s: container_unpublished name must match %s" % (where, CONTAINER_NAME_RE.pattern))
    if kind == "http_status" and (isinstance(fault["status"], bool) or not isinstance(fault["status"], int)
                                  or not 100 <= fault["status"] <= 599):
        raise LabError("%s: http_status status must be an HTTP status code, got %r" % (where, fault["status"]))
    if kind == "wrong_port" and fault["listen_port"] is not None:
        fault["listen_port"] = check_port(fault["listen_port"], where + ": wrong_port listen_port")
    return fault


def check_port(value, where):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise LabError("%s: a port is an integer from 1 to 65535, got %r" % (where, value))
    return value


def default_expect(faults, where):
    """The verdict the faults imply; several service or firewall faults need an explicit `expect`."""
    verdicts = [FAULTS[f["type"]][0] for f in faults if FAULTS[f["type"]][0] is not None]
    if not verdicts:
        return "healthy"
    if len(verdicts) == 1:
        return verdicts[0]
    raise LabError("%s: several faults (%s): say which verdict to expect with `expect:`"
                   % (where, ", ".join(f["type"] for f in faults)))


def check_combination(faults, where):
    service = [f["type"] for f in faults if f["type"] in SERVICE_FAULTS]
    if len(service) > 1:
        raise LabError("%s: faults %s both change the service; pick one" % (where, " and ".join(service)))


def _front_end(host, tool):
    """host['firewalld'] / host['ufw']: the front-end runs on that host (every other port of the
    host stays open in it, see hostfiles.py); `closed` ports and `decoys` (REJECT for another
    source only); for firewalld also `drops` (a drop rich rule for every source) and `services`
    (ports opened through a service definition)."""
    if not host.get(tool):
        host[tool] = {"closed": [], "decoys": [], "drops": [], "services": []}  # the last two: firewalld only
    return host[tool]


def apply(server, service, host, allocator):
    """Apply server['faults'] to `service` (dict, see scenario.new_service) and `host`; return the service
    (None when there is none at all)."""
    where = "server %s/%s" % (server["backend"], server["name"])
    port = server["port"]
    for fault in server["faults"]:
        kind = fault["type"]
        if kind == "unit_stopped":
            service["after_boot"].append(["systemctl", "stop", service["unit"]])
            service["state"] = "stopped"
        elif kind in ("bind_loopback", "ipv6_only"):
            service["listen_address"] = fault["address"]
            service["family"] = "ipv6" if ":" in fault["address"] else "ipv4"
            service["v6only"] = True if kind == "ipv6_only" else None
        elif kind == "bind_other_address":
            address = fault["address"]
            if address is None:
                address = allocator.next_high("secondary address of %s" % host["name"])
            else:
                address = allocator.claim(address, "secondary address of %s" % host["name"])
            fault["address"] = address
            host["extra_addresses"].append(address)
            service["listen_address"] = address
        elif kind == "iptables_reject":
            host["iptables"].append("-A INPUT -p tcp -m tcp --dport %d -j REJECT --reject-with %s"
                                    % (port, fault["reject_with"]))
        elif kind == "iptables_drop":
            host["iptables"].append("-A INPUT -p tcp -m tcp --dport %d -j DROP" % port)
        elif kind == "nft_reject":
            host["nft"].append("tcp dport %d %s" % (port, NFT_REJECT_WITH[fault["reject_with"]]))
        elif kind == "nft_drop":
            host["nft"].append("tcp dport %d drop" % port)
        elif kind == "decoy_reject":
            if fault["source"] is None:
                fault["source"] = allocator.next_high("decoy source for %s" % where)
            if fault["tool"] in ("firewalld", "ufw"):
                _front_end(host, fault["tool"])["decoys"].append({"source": fault["source"], "port": port})
            elif fault["tool"] == "iptables":
                host["iptables"].append("-A INPUT -s %s/32 -p tcp -m tcp --dport %d -j REJECT --reject-with %s"
                                        % (fault["source"], port, fault["reject_with"]))
            else:
                host["nft"].append("ip saddr %s tcp dport %d %s"
                                   % (fault["source"], port, NFT_REJECT_WITH[fault["reject_with"]]))
        elif kind == "firewalld_closed":
            _front_end(host, "firewalld")["closed"].append(port)
        elif kind == "firewalld_drop":
            # the port stays open in the zone; a rich rule for every source drops it first
            _front_end(host, "firewalld")["drops"].append(port)
        elif kind == "firewalld_service":
            # not a fault: the port is opened through a service definition, not a <port> entry
            _front_end(host, "firewalld")["services"].append(port)
        elif kind in ("ufw_deny", "ufw_reject"):
            _front_end(host, "ufw")["closed"].append({"port": port, "action": kind[len("ufw_"):]})
        elif kind == "redirect_no_listener":
            # what a service mesh's init container does (istio-init: REDIRECT to 15001), with no
            # sidecar listening there
            if fault["tool"] == "iptables":
                host.setdefault("iptables_nat", []).append(
                    "-A PREROUTING -p tcp -m tcp --dport %d -j REDIRECT --to-ports %d" % (port, fault["to_port"]))
            else:
                host.setdefault("nft_nat", []).append("tcp dport %d redirect to :%d" % (port, fault["to_port"]))
        elif kind == "wrong_port":
            if fault["listen_port"] is None:
                fault["listen_port"] = port + 1 if port < 65535 else port - 1
            if fault["listen_port"] == port:
                raise LabError("%s: wrong_port listen_port must differ from the server port %d" % (where, port))
            service["listen_port"] = fault["listen_port"]
        elif kind == "port_conflict":
            holder_unit = fault["holder_unit"] or "legacy-%d.service" % port
            fault["holder_unit"] = holder_unit if fault["holder"] == "unit" else None
            holder = {
                "kind": fault["holder"],
                "unit": fault["holder_unit"],
                "listen_address": fault["holder_address"],
                "listen_port": port,
                "name": "legacy-%d" % port,
            }
            host["holders"].append(holder)
            service["conflict_with"] = holder
            service["state"] = "failed"
        elif kind == "no_listener":
            return None
        elif kind == "container_unpublished":
            return container_unpublished(fault, server, host)
        elif kind == "http_status":
            service["http_status"] = fault["status"]
        elif kind == "socket_unit_inactive":
            service["activation"] = "socket"
            service["socket_unit"] = service["unit"][: -len(".service")] + ".socket"
            service["after_boot"].append(["systemctl", "stop", service["socket_unit"], service["unit"]])
            service["state"] = "socket_stopped"
    return service


def container_unpublished(fault, server, host):
    """The app runs in a podman container that EXPOSEs the port but was started without `-p`: it
    listens in the container's own network namespace, nothing on the host does. No unit on the host
    (the container is started by hand after boot, like an admin would); the image is built inside
    the host from a local tree (never pulled)."""
    port = server["port"]
    name = fault["name"] or "app-%d" % port
    fault["name"] = name
    image = "localhost/lab-app-%d:1" % port
    if any(c["name"] == name for c in host["containers"]):
        raise LabError("server %s/%s: container name %s is used twice on host %s" % (server["backend"], server["name"], name, host["name"]))
    host["containers"].append({
        "runtime": "podman", "name": name, "image": image, "container_port": port, "published": None,
        "server": server["name"], "backend": server["backend"],
        "after_boot": [
            [CONTAINER_IMAGE_SCRIPT, image, str(port), server["name"]],
            # what the admin typed: no -p, so the EXPOSEd port is not published on the host. --init:
            # catatonit as the container's PID 1 passes SIGTERM on when the host shuts down (lab-app
            # as PID 1 would ignore it, and `down` would wait out the stop timeout)
            ["podman", "run", "-d", "--init", "--name", name, "-v", "/usr:/usr:ro", image],
        ],
    })
    return None
