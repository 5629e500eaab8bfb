# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verdict layer: every check runs on every server, findings are put in fix order, and the
verdict is the first of them; with none, HAProxy's own view decides between healthy and unknown."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.causes import fix_rank
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.checks import dns, firewall, lb_firewall, mac, reachability, service
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.findings import evidence, finding, manual
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.report import describe_http

# Each layer is evaluated independently; none stops the others.
CHECKS = (
    ("addressing", reachability.check),
    ("dns", dns.check),
    ("policy", mac.check),
    ("lb firewall", lb_firewall.check),
    ("firewall", firewall.check),
    ("service", service.check),
)


def _checked(ctx):
    """What was looked at and found fine, for an unknown verdict."""
    looked = ["HAProxy state %s (%s)" % (ctx.haproxy_state, (ctx.stat or {}).get("check_status"))]
    if ctx.host_facts:
        looked.append("host %s owns %s" % (ctx.host, ctx.ip))
        looked.append("%d listening sockets read on %s" % (len(ctx.host_facts.get("listeners") or []), ctx.host))
        if ctx.intended_unit:
            looked.append("unit %s (named by %s)" % (ctx.intended_unit, ctx.intended_source))
    if ctx.probe:
        looked.append("probe from %s: %s" % (ctx.lb, ctx.probe.get("result")))
    check_probe = ctx.check_probe or {}
    if check_probe and check_probe is not ctx.probe and not check_probe.get("http"):
        looked.append("probe of the check target %s:%s: %s" % (check_probe.get("address"), check_probe.get("port"),
                                                               check_probe.get("result")))
    return looked


def _unknown_evidence(ctx):
    """What was looked at, and what the probe's HTTP check saw: a server whose port opens but
    whose HTTP check fails is no connection fault, and this says so with the status."""
    items = [evidence("checked and found fine", "; ".join(_checked(ctx)))]
    check_probe = ctx.check_probe or {}
    http = check_probe.get("http")
    if http:
        source = "HTTP check emulated from %s to %s:%s" % (ctx.lb, check_probe.get("address"), check_probe.get("port"))
        text = describe_http(http)
        if check_probe.get("result") == "open" and http.get("ok") is False:
            text = "the TCP connect opens but the HTTP check fails%s: %s" % (
                " with status %s" % http["status"] if http.get("status") is not None else "", text)
        items.append(evidence(source, text))
    return items


def judge(ctx):
    """Return (verdict, findings) for one server."""
    findings = []
    for _layer, check in CHECKS:
        findings.extend(check(ctx))
    findings.sort(key=fix_rank)
    if findings:
        return findings[0]["cause"], findings
    if ctx.serves:
        return "healthy", []
    state = ctx.haproxy_state
    if state in ("MAINT", "DRAIN"):
        reason = "HAProxy has the server in %s: an operator's choice, not a connection fault" % state
    elif state is None:
        reason = "HAProxy's runtime state is unavailable (%s) and no fault was found" % (ctx.runtime_error or "no stats row")
    else:
        reason = "HAProxy shows %s (%s) but no layer explains it" % (state, (ctx.stat or {}).get("check_status"))
    return "unknown", [finding("unknown", reason, _unknown_evidence(ctx),
                               manual("Read the HAProxy log for %s and check the application's own health." % ctx.name))]
