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

# Each layer is evaluated independently; none stops the others.
CHECKS = (
    ("addressing", reachability.check),
    ("dns", dns.check),
    ("policy", mac.check),
    ("lb firewall", lb_firewall.check),
    ("firewall", firewall.check),
    ("service", service.check),
)

HEALTHY_STATES = ("UP",)


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
    return looked


def judge(ctx):
    """Return (verdict, findings) for one server."""
    findings = []
    for _layer, check in CHECKS:
        findings.extend(check(ctx))
    findings.sort(key=fix_rank)
    if findings:
        return findings[0]["cause"], findings
    state = ctx.haproxy_state
    probe_result = (ctx.probe or {}).get("result")
    if state in HEALTHY_STATES or (state is None and probe_result == "open"):
        return "healthy", []
    if state in ("MAINT", "DRAIN"):
        reason = "HAProxy has the server in %s: an operator's choice, not a connection fault" % state
    elif state is None:
        reason = "HAProxy's runtime state is unavailable (%s) and no fault was found" % (ctx.runtime_error or "no stats row")
    else:
        reason = "HAProxy shows %s (%s) but no layer explains it" % (state, (ctx.stat or {}).get("check_status"))
    return "unknown", [finding("unknown", reason, [evidence("checked and found fine", "; ".join(_checked(ctx)))],
                               manual("Read the HAProxy log for %s and check the application's own health." % ctx.name))]
