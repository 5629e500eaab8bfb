# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backend's netfilter: which rule decides the load balancer's SYN to the server, and what
it does. A REJECT that applies to other sources only is never blamed: the evaluator walks the
path the kernel walks, for this packet."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lbdoctor.haproxy.plugins.module_utils import firewalld_policy, ufw_policy
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_eval import RulesetError, compile_ruleset
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_packet import PacketError
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.findings import evidence, finding, fix, manual
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.net import parse_ip

# An ICMP error that comes back after the prober gave up, or that the backend's ICMP rate limit
# (net.ipv4.icmp_ratelimit, icmp_msgs_per_sec) never sent, looks like a timeout: that fits a
# predicted `unreachable` but does not confirm it (the lab saw firewalld's admin-prohibited reach
# the socket only after HAProxy's 1 s check timeout, ../shared/lab-notes.md; tcp_probe's own
# connect() with 2 s gets EHOSTUNREACH).
LATE_ICMP = {"unreachable": "timeout"}


def _ruleset(ctx):
    """Parse the host's rulesets once per run, however many servers it has."""
    key = ("ruleset", ctx.host)
    if key not in ctx.shared:
        try:
            ctx.shared[key] = (compile_ruleset(ctx.host_facts.get("firewall") or {}), None)
        except RulesetError as exc:
            ctx.shared[key] = (None, str(exc))
    return ctx.shared[key]


def _source_address(ctx):
    """The address the LB's SYN comes from: what the probe's route lookup said, the server
    line's `source`, else the LB's inventory address (said so in the evidence)."""
    for candidate, how in (((ctx.probe or {}).get("source_address"), "route lookup on %s" % ctx.lb),
                           (ctx.server.get("source"), "server line source"),
                           (ctx.lb_address, "inventory address of %s" % ctx.lb)):
        ip = parse_ip(candidate)
        if ip is not None and ip.version == ctx.ip.version:
            return str(ip), how
    return None, None


def _interface_of(addresses, ip):
    for entry in addresses or []:
        if parse_ip(entry.get("address")) == ip:
            return entry.get("ifname")
    return None


def rule_text(rule):
    if not rule:
        return "no rule"
    where = "%s %s %s" % (rule.get("backend") or "", rule.get("table") or "", rule.get("chain") or "")
    if rule.get("policy"):
        return "%s policy %s" % (where.strip(), rule.get("text") or "")
    position = rule.get("position") if rule.get("position") is not None else "handle %s" % rule.get("handle")
    return "%s #%s: %s" % (where.strip(), position, rule.get("text") or "")


def _front_end_fix(ctx, src, iif, rule):
    """When firewalld or ufw manages the rules and itself keeps the SYN out, the fix goes through
    that tool (a rule added with iptables/nft under it is lost on its next reload): one rule for
    the LB's address and this one port. None when neither is active or neither blocks."""
    firewall = ctx.host_facts.get("firewall") or {}
    fronts = (("firewalld", firewalld_policy, "running", "firewall-cmd"), ("ufw", ufw_policy, "active", "ufw"))
    for key, policy, flag, tool in fronts:
        facts = firewall.get(key) or {}
        if not facts.get(flag):
            continue
        try:
            proposal = policy.suggest_fix(facts, src, ctx.port, iif=iif, proto="tcp", dst=str(ctx.ip))
        except (ValueError, KeyError, TypeError):
            proposal = None
        if not proposal:
            continue
        return fix("open_port", "Accept TCP %s from the load balancer (%s) only, through %s, which manages this "
                   "host's rules: %s." % (ctx.port, src, key, proposal["summary"]),
                   automatic=True, host=ctx.host, commands=proposal["commands"], source=src, port=ctx.port, rule=rule,
                   tool=tool, zone=proposal.get("zone"))
    return None


def _open_port_fix(ctx, src, rule, iif=None):
    """Accept the LB's address on this one port, just before the deciding rule (through firewalld
    or ufw when they manage the rules)."""
    managed = _front_end_fix(ctx, src, iif, rule)
    if managed is not None:
        return managed
    port = str(ctx.port)
    rule = rule or {}
    if rule.get("backend") == "nft" and rule.get("handle") is not None:
        family = rule.get("family") or ("ip" if ctx.ip.version == 4 else "ip6")
        addr_key = "ip6" if ctx.ip.version == 6 else "ip"
        argv = ["nft", "insert", "rule", family, rule.get("table"), rule.get("chain"), "position", str(rule["handle"]),
                addr_key, "saddr", src, "tcp", "dport", port, "accept"]
    else:
        tool = "ip6tables" if ctx.ip.version == 6 else "iptables"
        chain = rule.get("chain") or "INPUT"
        position = str(rule.get("position") or 1) if not rule.get("policy") else "1"
        argv = [tool, "-t", rule.get("table") or "filter", "-I", chain, position, "-s", src, "-p", "tcp",
                "--dport", port, "-j", "ACCEPT"]
    return fix("open_port", "Accept TCP %s from the load balancer (%s) only, ahead of the rule that stops it." % (port, src),
               automatic=True, host=ctx.host, commands=[argv], source=src, port=ctx.port, rule=rule, tool=argv[0])


def _cross_check(ctx, observed_as, errno=None):
    """Compare what the rule predicts a client sees with what the probe from the LB saw. Both
    errnos known: they decide (the probe calls EACCES, ENOPROTOOPT `error`, the evaluator
    `unreachable`). Else the outcome: equal agrees; a timeout where an ICMP error is predicted
    neither confirms nor contradicts; anything else disagrees."""
    probe = ctx.probe or {}
    seen = probe.get("result")
    if not seen or not observed_as:
        return []
    seen_errno = probe.get("errno")
    seen_text = "%s (%s)" % (seen, seen_errno) if seen_errno else seen
    predicted = "%s (%s)" % (observed_as, errno) if errno else observed_as
    if errno and seen_errno and seen_errno != "ETIMEDOUT":
        if errno == seen_errno:
            return [evidence("probe cross-check", "the probe saw %s, as this rule predicts" % seen_text)]
        return [evidence("probe cross-check", "DISAGREES: the rule predicts %s but the probe from %s got %s" % (
            predicted, ctx.lb, seen_text))]
    if seen == observed_as:
        return [evidence("probe cross-check", "the probe saw %s, as this rule predicts" % seen_text)]
    if LATE_ICMP.get(observed_as) == seen:
        return [evidence("probe cross-check", "NOT CONFIRMED: the rule predicts %s but the probe from %s timed out; "
                         "that fits only if the ICMP error came back after the probe's timeout or was rate-limited "
                         "on the backend (net.ipv4.icmp_ratelimit): probe again with a longer timeout" % (predicted, ctx.lb))]
    return [evidence("probe cross-check", "DISAGREES: the rule predicts %s but the probe from %s saw %s" % (
        predicted, ctx.lb, seen_text))]


def check(ctx):
    facts = ctx.host_facts
    if not facts or ctx.ip is None or ctx.port is None or not facts.get("firewall"):
        return []
    ruleset, error = _ruleset(ctx)
    if ruleset is None:
        return [finding("unknown", "The firewall rules of %s could not be read: %s" % (ctx.host, error),
                        [evidence("firewall facts of %s" % ctx.host, error)],
                        manual("Check the ruleset of %s by hand (iptables-save, nft list ruleset)." % ctx.host, host=ctx.host))]
    src, how = _source_address(ctx)
    if src is None:
        return []
    packet = {"family": "ipv4" if ctx.ip.version == 4 else "ipv6", "src": src, "dst": str(ctx.ip), "dport": ctx.port,
              "proto": "tcp", "iif": _interface_of(facts.get("addresses"), ctx.ip)}
    try:
        result = ruleset.evaluate(packet, listeners=facts.get("listeners"), addresses=facts.get("addresses"))
    except (PacketError, ValueError) as exc:
        return [finding("unknown", "The SYN from %s to %s:%s could not be evaluated: %s" % (src, ctx.ip, ctx.port, exc),
                        [], manual("Check the ruleset of %s by hand." % ctx.host, host=ctx.host))]
    verdict = result.get("verdict")
    rule = result.get("rule")
    path = evidence("netfilter path on %s" % ctx.host, " -> ".join(result.get("path") or []) or "none")
    packet_ev = evidence("packet", "TCP SYN %s -> %s:%s in %s (source: %s)" % (src, ctx.ip, ctx.port, packet["iif"], how))
    if verdict in ("drop", "reject"):
        cause = "firewall_drop" if verdict == "drop" else "firewall_reject"
        what = "drops" if verdict == "drop" else "rejects (%s)" % result.get("reject_with")
        return [finding(cause, "%s on %s %s the load balancer's SYN to port %s" % (rule_text(rule), ctx.host, what, ctx.port),
                        [evidence("deciding rule on %s" % ctx.host, rule_text(rule)), packet_ev, path]
                        + _cross_check(ctx, result.get("observed_as"), result.get("errno")),
                        _open_port_fix(ctx, src, rule, packet["iif"]))]
    if verdict == "accept" and result.get("redirected") and result.get("no_listener"):
        dest = result.get("destination") or {}
        nat_rule = result.get("nat_rule")
        return [finding("sidecar_redirect", "%s redirects port %s to %s:%s where nothing listens" % (
            rule_text(nat_rule), ctx.port, dest.get("address"), dest.get("port")),
            [evidence("redirecting rule on %s" % ctx.host, rule_text(nat_rule)), packet_ev, path]
            + _cross_check(ctx, result.get("observed_as"), result.get("errno")),
            manual("Start the sidecar that should listen on port %s, or remove the redirect for traffic from the load "
                   "balancer; lbdoctor does not edit NAT rules a mesh manages." % dest.get("port"), host=ctx.host))]
    if verdict == "indeterminate":
        unsupported = result.get("unsupported") or {}
        return [finding("unknown", "The firewall of %s cannot be decided for this SYN: %s" % (
            ctx.host, unsupported.get("match") or result.get("error") or "undecidable match"),
            [evidence("undecided rule on %s" % ctx.host, rule_text(unsupported.get("rule") or rule)), packet_ev, path],
            manual("Check that rule by hand for traffic from %s." % src, host=ctx.host))]
    return []
