# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The model layer: one context per HAProxy server, joined with the host that owns its address.

Servers are matched to inventory hosts by the hosts' interface addresses, never by name: the
inventory name of a host says nothing about which address HAProxy connects to.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.inputs import CHECK_KEY
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.net import (
    family_of,
    host_owns,
    parse_ip,
    resolved_addresses,
)


class ServerContext(object):
    """Everything known about one HAProxy server, for the checks to read."""

    def __init__(self, lb, lb_facts, backend, server, shared=None):
        self.lb = lb
        self.lb_address = None  # the LB's inventory address, when nothing better names its source
        self.shared = shared if shared is not None else {}  # per-run cache shared by all contexts
        self.lb_facts = lb_facts or {}
        self.backend = backend
        self.server = server
        self.stat = None
        self.runtime_error = None
        self.probe = None
        self.check_probe = None  # the probe of where HAProxy's check connects (with its HTTP check)
        self.log = None  # what the HAProxy log said about the server (server_log()), None: not read
        self.address = server.get("address")
        self.port = server.get("port")
        self.ip = None
        self.resolution = None  # how a hostname was turned into the address used
        self.host = None
        self.host_facts = None
        self.host_error = None
        self.intended_unit = None
        self.intended_source = None

    @property
    def name(self):
        return "%s/%s" % (self.backend.get("name"), self.server.get("name"))

    @property
    def family(self):
        return family_of(self.ip) if self.ip is not None else self.server.get("family")

    @property
    def serves(self):
        """HAProxy sees the server UP; or, without HAProxy's runtime state, the probe connects and
        the HTTP check emulated from the configuration (if any) does not fail."""
        state = self.haproxy_state
        if state is not None:
            return state == "UP"
        http = (self.check_probe or {}).get("http") or {}
        return (self.probe or {}).get("result") == "open" and http.get("ok") is not False

    @property
    def haproxy_state(self):
        """UP, DOWN, MAINT, DRAIN, NOLB, NO_CHECK, or None when the runtime API gave nothing."""
        if not self.stat:
            return None
        state = self.stat.get("state")
        if state:
            return state
        status = (self.stat.get("status") or "").strip().upper()
        return status.split(" ")[0] or None


LOG_KEYS = ("last_transition", "last_state", "last_reason", "last_info", "last_check", "last_check_reason",
            "last_check_info", "checks_failed", "checks_succeeded", "traffic_errors")


def server_log(lb_facts, backend, server):
    """The HAProxy log's account of one server (haproxy_facts ``logs.servers["b/s"]``): the last
    transition, the last failed check, and the latest lines, oldest first; the backend's "no
    server available" time. None when the logs were not read; every key null (lines empty)
    when they were read and said nothing about this server in the window."""
    logs = lb_facts.get("logs")
    if not isinstance(logs, dict):
        return None
    entry = (logs.get("servers") or {}).get("%s/%s" % (backend, server)) or {}
    record = dict((key, entry.get(key)) for key in LOG_KEYS)
    record["lines"] = list(entry.get("lines") or [])
    record["backend_no_server_available"] = ((logs.get("backends") or {}).get(backend) or {}).get("no_server_available")
    record["source"] = logs.get("source")
    record["window_minutes"] = logs.get("window_minutes")
    return record


def _stat_index(lb_facts):
    runtime = lb_facts.get("runtime") or {}
    index = {}
    for row in runtime.get("stat") or []:
        index[(row.get("pxname"), row.get("svname"))] = row
    return index, (None if runtime.get("available", bool(index)) else runtime.get("error") or "runtime API not available")


def _address_index(backend_hosts):
    """host name -> address list, for the hosts whose facts were gathered."""
    return dict((host, (entry["facts"] or {}).get("addresses") or [])
                for host, entry in backend_hosts.items() if entry.get("facts"))


def _resolve(ctx):
    """Pick the IP HAProxy connects to: the literal address, else what the runtime says it uses
    now (show stat addr), else the LB's own resolution of the hostname."""
    ctx.ip = parse_ip(ctx.address)
    if ctx.ip is not None:
        return
    runtime_addr = (ctx.stat or {}).get("addr") or ""
    if runtime_addr:
        host_part = runtime_addr.rsplit(":", 1)[0] if runtime_addr.count(":") == 1 or "]" in runtime_addr else runtime_addr
        ctx.ip = parse_ip(host_part)
        if ctx.ip is not None:
            ctx.resolution = {"source": "haproxy runtime (show stat addr)", "addresses": [str(ctx.ip)]}
            return
    addresses = resolved_addresses(ctx.lb_facts, ctx.address)
    if addresses:
        ctx.ip = parse_ip(addresses[0])
        ctx.resolution = {"source": "DNS on %s" % ctx.lb, "addresses": addresses}


def _match_host(ctx, address_index, inventory_addresses, lb_hosts_with_backend_facts):
    if ctx.ip is None:
        return
    if ctx.ip.is_loopback:
        # 127.0.0.1 in haproxy.cfg is the load balancer itself.
        ctx.host = ctx.lb if ctx.lb in lb_hosts_with_backend_facts else None
        return
    owners = sorted(host for host, addresses in address_index.items() if host_owns(addresses, ctx.ip))
    if not owners:
        # A host whose facts are missing shows no addresses; its inventory address still names it.
        owners = sorted(host for host, address in inventory_addresses.items() if parse_ip(address) == ctx.ip)
    if owners:
        ctx.host = owners[0]


HTTP_KEYS = ("http", "http_status", "http_ok", "http_error", "id")


def _l4_only(probe, name):
    """A probe result shared with another server's HTTP check target (same address and port)
    keeps only its TCP connect: that HTTP check is not this server's."""
    if not probe or probe.get("id") in (None, name):
        return probe
    return dict((key, value) for key, value in probe.items() if key not in HTTP_KEYS)


def check_target(server):
    """(address, port) where HAProxy's health check of this server connects."""
    address = server.get("check_addr") or server.get("address")
    port = server.get("check_port") or server.get("port")
    return address, port


def _check_probe(ctx, probes):
    """The probe of the server's health-check target: its own (HTTP) target, else the connect to
    its `addr`/`port` override, else the server's probe."""
    own = probes.get((ctx.lb, CHECK_KEY, ctx.name))
    if own is not None or not ctx.server.get("check"):
        return own
    address, port = check_target(ctx.server)
    if (str(address), port) == (str(ctx.address), ctx.port):
        return ctx.probe
    return _l4_only(probes.get((ctx.lb, str(address), int(port))), ctx.name)


def build_contexts(lb_hosts, backend_hosts, probes=None, lb_addresses=None):
    """One ServerContext per server of every backend/listen section of every LB, in a stable order.

    lb_hosts / backend_hosts: host -> {"facts", "error"} (see inputs.results_by_host); a backend
    entry may add "inventory_address" (its ansible_host) to match it while its facts are missing.
    probes: (lb, address, port) -> probe result.
    lb_addresses: LB host -> its inventory address.
    """
    shared = {}
    probes = probes or {}
    address_index = _address_index(backend_hosts)
    inventory_addresses = dict((host, entry.get("inventory_address")) for host, entry in backend_hosts.items()
                               if entry.get("inventory_address"))
    contexts = []
    for lb in sorted(lb_hosts):
        lb_facts = lb_hosts[lb].get("facts") or {}
        stat_index, runtime_error = _stat_index(lb_facts)
        for backend in (lb_facts.get("config") or {}).get("backends") or []:
            for server in backend.get("servers") or []:
                ctx = ServerContext(lb, lb_facts, backend, server, shared)
                ctx.lb_address = (lb_addresses or {}).get(lb)
                ctx.stat = stat_index.get((backend.get("name"), server.get("name")))
                ctx.runtime_error = runtime_error
                _resolve(ctx)
                if ctx.ip is not None and ctx.port is not None:
                    ctx.probe = _l4_only(probes.get((lb, str(ctx.address), int(ctx.port)))
                                         or probes.get((lb, str(ctx.ip), int(ctx.port))), ctx.name)
                    ctx.check_probe = _check_probe(ctx, probes)
                ctx.log = server_log(lb_facts, backend.get("name"), server.get("name"))
                _match_host(ctx, address_index, inventory_addresses, set(h for h, e in backend_hosts.items() if e.get("facts")))
                if ctx.host is not None:
                    entry = backend_hosts.get(ctx.host) or {}
                    ctx.host_facts = entry.get("facts")
                    ctx.host_error = entry.get("error")
                contexts.append(ctx)
    return contexts
