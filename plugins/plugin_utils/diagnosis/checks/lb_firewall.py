# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The load balancer's own netfilter: does its OUTPUT path let the SYN to the server leave?"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_eval import RulesetError, compile_ruleset
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_packet import PacketError
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.checks.firewall import rule_text
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.findings import evidence, finding, fix, manual
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.net import parse_ip


def _ruleset(ctx):
    key = ("lb_ruleset", ctx.lb)
    if key not in ctx.shared:
        try:
            ctx.shared[key] = (compile_ruleset(ctx.lb_facts["firewall"]), None)
        except RulesetError as exc:
            ctx.shared[key] = (None, str(exc))
    return ctx.shared[key]


def _accept_fix(ctx, rule):
    """Let the SYN out to this server's address and port only, just before the stopping rule."""
    rule = rule or {}
    port = str(ctx.port)
    if rule.get("backend") == "nft" and rule.get("handle") is not None:
        addr_key = "ip6" if ctx.ip.version == 6 else "ip"
        argv = ["nft", "insert", "rule", rule.get("family") or addr_key, rule.get("table"), rule.get("chain"), "position",
                str(rule["handle"]), addr_key, "daddr", str(ctx.ip), "tcp", "dport", port, "accept"]
    else:
        position = "1" if rule.get("policy") else str(rule.get("position") or 1)
        argv = ["ip6tables" if ctx.ip.version == 6 else "iptables", "-t", rule.get("table") or "filter", "-I",
                rule.get("chain") or "OUTPUT", position, "-d", str(ctx.ip), "-p", "tcp", "--dport", port, "-j", "ACCEPT"]
    return fix("open_port", "Let the load balancer's SYN out to %s:%s only, ahead of the rule that stops it." % (ctx.ip, port),
               automatic=True, host=ctx.lb, commands=[argv], destination=str(ctx.ip), port=ctx.port, rule=rule)


def check(ctx):
    if ctx.ip is None or ctx.port is None or not ctx.lb_facts.get("firewall"):
        return []
    source = parse_ip((ctx.probe or {}).get("source_address"))
    if source is None or source.version != ctx.ip.version:
        return []
    ruleset, error = _ruleset(ctx)
    if ruleset is None:
        return [finding("unknown", "The firewall rules of %s could not be read: %s" % (ctx.lb, error),
                        [evidence("firewall facts of %s" % ctx.lb, error)],
                        manual("Check the OUTPUT rules of %s by hand." % ctx.lb, host=ctx.lb))]
    packet = {"family": "ipv4" if ctx.ip.version == 4 else "ipv6", "src": str(source), "dst": str(ctx.ip),
              "dport": ctx.port, "proto": "tcp", "direction": "output"}
    try:
        result = ruleset.evaluate(packet)
    except (PacketError, ValueError):
        return []
    verdict = result.get("verdict")
    if verdict not in ("drop", "reject"):
        return []
    rule = result.get("rule")
    cause = "firewall_drop" if verdict == "drop" else "firewall_reject"
    what = "drops" if verdict == "drop" else "rejects (%s)" % result.get("reject_with")
    return [finding(cause, "%s on the load balancer %s %s its own SYN to %s:%s" % (rule_text(rule), ctx.lb, what, ctx.ip, ctx.port),
                    [evidence("deciding rule on %s" % ctx.lb, rule_text(rule)),
                     evidence("netfilter path on %s" % ctx.lb, " -> ".join(result.get("path") or []) or "none")],
                    _accept_fix(ctx, rule))]
