# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Can the server be tied to a host whose facts we have? If not, say why."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.findings import evidence, finding, manual

# No host answers: no SYN-ACK, no RST. EHOSTUNREACH (a failed ARP, or a router's ICMP) says the
# same thing faster; which of the two the probe sees depends on the neighbour cache, not the host.
SILENT_PROBE_RESULTS = ("timeout", "unreachable")


def _probe_evidence(ctx):
    probe = ctx.probe or {}
    if not probe:
        return []
    text = "%s after %s ms" % (probe.get("result"), probe.get("elapsed_ms"))
    if probe.get("errno"):
        text += " (%s)" % probe["errno"]
    return [evidence("tcp_probe from %s to %s:%s" % (ctx.lb, ctx.ip or ctx.address, ctx.port), text)]


def _server_line(ctx):
    server = ctx.server
    return evidence("%s:%s" % (server.get("file"), server.get("line")),
                    "server %s %s" % (server.get("name"), server.get("address_raw") or ctx.address))


def check(ctx):
    probe_result = (ctx.probe or {}).get("result")
    if ctx.ip is None:
        family = ctx.server.get("family")
        reason = ("a %s socket: the load balancer talks to a local socket, not a network host" % family
                  if family in ("unix", "abns") else "the name %r did not resolve on %s" % (ctx.address, ctx.lb))
        return [finding("unknown", "Address of %s cannot be diagnosed: %s" % (ctx.name, reason),
                        [_server_line(ctx)], manual("Check the server address in the HAProxy configuration."))]
    if ctx.port is None:
        return [finding("unknown", "%s has no port: HAProxy reuses the client's destination port" % ctx.name,
                        [_server_line(ctx)], manual("Give the server line an explicit port to diagnose it."))]
    if ctx.host is None:
        if ctx.serves:
            return []  # nothing to diagnose: a host outside the inventory serving well is no fault
        if probe_result in SILENT_PROBE_RESULTS:
            return [finding("host_unreachable",
                            "Nothing answers at %s, and no inventory host owns that address" % ctx.ip,
                            [_server_line(ctx)] + _probe_evidence(ctx),
                            manual("Check that the host at %s is up and routed, or correct the server address." % ctx.ip))]
        return [finding("address_not_on_host",
                        "No inventory host owns %s, the address of %s" % (ctx.ip, ctx.name),
                        [_server_line(ctx)] + _probe_evidence(ctx),
                        manual("Add the host that owns %s to the inventory (group backends), or correct the "
                               "server address if the host's address changed." % ctx.ip))]
    if ctx.host_facts is None:
        reason = ctx.host_error or "no facts"
        if probe_result in SILENT_PROBE_RESULTS and "unreachable" in reason:
            return [finding("host_unreachable", "%s (%s) answers neither the load balancer nor Ansible" % (ctx.host, ctx.ip),
                            [evidence("ansible %s" % ctx.host, reason)] + _probe_evidence(ctx),
                            manual("Check that %s is up and reachable from %s." % (ctx.host, ctx.lb), host=ctx.host))]
        return [finding("unknown", "Facts of %s could not be gathered: %s" % (ctx.host, reason),
                        [evidence("ansible %s" % ctx.host, reason)] + _probe_evidence(ctx),
                        manual("Make %s reachable for Ansible as root and run the diagnosis again." % ctx.host, host=ctx.host))]
    return []
