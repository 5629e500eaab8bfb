# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Walk a TCP SYN through the host's netfilter rulesets and say what becomes of it.

    evaluate(ruleset_facts, packet, listeners=None, addresses=None) -> result
    evaluate_many(ruleset_facts, packets, listeners=None, addresses=None) -> [result, ...]
    compile_ruleset(ruleset_facts) -> Ruleset   (parse once; Ruleset.evaluate(packet, ...))

ruleset_facts is the `firewall` subset of backend_facts (see docs/netfilter.md) or a mapping
with any of the keys `iptables_save`, `ip6tables_save`, `nft_json`, `nft_text`, `ipset_save`
(text as the tools print it). The semantics follow the kernel (netfilter hook priorities,
the NAT hook, conntrack); docs/netfilter.md lists them with the kernel sources they come from.

A match that cannot be decided from the packet and the facts (rate limits, recent lists, MAC
addresses, ...) does not silently pass: the walk is repeated with that match taken as
"matches" and as "does not match"; when the outcomes differ the verdict is `indeterminate`
and the result names the rule and the match.

Standard library only (runs on managed hosts, Python 3.8+); no ansible import.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_packet import (
    CANONICAL_IPT4, CANONICAL_IPT6, NFT_ICMPX, PacketError, Unknown, errno_for_reject, ip_text,
    listener_accepts, normalize_addresses, normalize_packet, parse_ip, scope_of,
)
from ansible_collections.lbdoctor.haproxy.plugins.module_utils import netfilter_iptables as ipt
from ansible_collections.lbdoctor.haproxy.plugins.module_utils import netfilter_nft as nftmod

MAX_OUTCOMES = 64
MAX_DEPTH = 64
INDEX_MIN_RULES = 32

# Kernel hook priorities (include/uapi/linux/netfilter_ipv4.h, enum nf_ip_hook_priorities).
PRI_RAW = -300
PRI_CONNTRACK = -200
PRI_MANGLE = -150
PRI_NAT_DST = -100
PRI_FILTER = 0
PRI_SECURITY = 50
PRI_NAT_SRC = 100

IPT_TABLE_HOOKS = {
    # table: [(chain, hook, priority, kind)]
    "raw": [("PREROUTING", "prerouting", PRI_RAW, "filter"), ("OUTPUT", "output", PRI_RAW, "filter")],
    "mangle": [("PREROUTING", "prerouting", PRI_MANGLE, "filter"), ("INPUT", "input", PRI_MANGLE, "filter"),
               ("FORWARD", "forward", PRI_MANGLE, "filter"), ("OUTPUT", "output", PRI_MANGLE, "filter"),
               ("POSTROUTING", "postrouting", PRI_MANGLE, "filter")],
    "nat": [("PREROUTING", "prerouting", PRI_NAT_DST, "nat"), ("INPUT", "input", PRI_NAT_SRC, "nat"),
            ("OUTPUT", "output", PRI_NAT_DST, "nat"), ("POSTROUTING", "postrouting", PRI_NAT_SRC, "nat")],
    "filter": [("INPUT", "input", PRI_FILTER, "filter"), ("FORWARD", "forward", PRI_FILTER, "filter"),
               ("OUTPUT", "output", PRI_FILTER, "filter")],
    "security": [("INPUT", "input", PRI_SECURITY, "filter"), ("FORWARD", "forward", PRI_SECURITY, "filter"),
                 ("OUTPUT", "output", PRI_SECURITY, "filter")],
}
# Where the NAT core sits on each hook (nf_nat_ipv4_ops / nf_nat_ipv6_ops).
NAT_HOOK_PRIORITY = {"prerouting": PRI_NAT_DST, "output": PRI_NAT_DST, "input": PRI_NAT_SRC,
                     "postrouting": PRI_NAT_SRC}
PATHS = {
    "input": (("ingress", "prerouting"), ("input",), ("forward", "postrouting")),
    "output": (("output",), ("postrouting",), ()),
}


class RulesetError(ValueError):
    """A ruleset that cannot be read or compiled; the message names the source and line."""


# ---------------------------------------------------------------------------------------------
# Compiled chains and the per-chain index
# ---------------------------------------------------------------------------------------------

class Rule(object):
    __slots__ = ("steps", "keys", "ref")

    def __init__(self, steps, keys, ref):
        self.steps = tuple(steps)
        # (src, dst, dport) intervals the leading matches require, None where free
        self.keys = (keys.get("src"), keys.get("dst"), keys.get("dport")) if keys else _NO_KEYS
        self.ref = ref  # (table, chain name, parsed rule): described on demand


_NO_KEYS = (None, None, None)
_DIMS = {"src": 0, "dst": 1, "dport": 2}


_NOOP_KINDS = frozenset(("noop", "counter"))


def _effectful_from(steps, k):
    """Whether anything from step k on can change the packet's fate or state."""
    for step in steps[k:]:
        if step[0] == "s" and step[1] not in _NOOP_KINDS:
            return True
    return False


class Chain(object):
    __slots__ = ("name", "rules", "policy", "base", "index", "cache", "all")

    def __init__(self, name, rules, policy, base):
        self.name = name
        self.rules = rules
        self.policy = policy  # "accept" | "drop" | None (user chain)
        self.base = base
        self.all = tuple(range(len(rules)))
        self.cache = {}
        self.index = None
        if len(rules) >= INDEX_MIN_RULES:
            self.index = _build_index(rules, list(range(len(rules))), ("src", "dst", "dport"))

    def candidates(self, ctx):
        """Positions of the rules that can match this packet, in order. A rule is left out only
        when one of its leading matches (source, destination, destination port) is certain to
        fail, so skipping it changes nothing."""
        if self.index is None:
            return self.all
        key = (ctx.src, ctx.dst, ctx.dport)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        found = []
        _lookup(self.index, ctx, found)
        found.sort()
        hit = tuple(found)
        if len(self.cache) > 4096:
            self.cache.clear()
        self.cache[key] = hit
        return hit


def _build_index(rules, positions, dims):
    """A small decision tree over the rules' keys: the dimension that leaves the fewest
    candidates on average splits the rules into aligned blocks (exact values, CIDR prefixes);
    rules without a usable key, and big blocks, are split again on the other dimensions."""
    if len(positions) < INDEX_MIN_RULES or not dims:
        return ("list", positions)
    best = None
    for dim in dims:
        buckets = {}
        wild = []
        slot = _DIMS[dim]
        for pos in positions:
            key = rules[pos].keys[slot]
            if key is None:
                wild.append(pos)
                continue
            lo, hi = key
            size = hi - lo + 1
            if size & (size - 1) or lo & (size - 1):
                wild.append(pos)  # not an aligned block (a port range, an iprange)
                continue
            buckets.setdefault((size, lo), []).append(pos)
        if not buckets:
            continue
        keyed = len(positions) - len(wild)
        score = len(wild) + sum(len(b) * len(b) for b in buckets.values()) / float(max(keyed, 1))
        if best is None or score < best[0]:
            best = (score, dim, buckets, wild)
    if best is None or best[0] >= len(positions) * 0.9:
        return ("list", positions)
    _score, dim, buckets, wild = best
    rest = tuple(d for d in dims if d != dim)
    by_size = {}
    for (size, lo), lst in buckets.items():
        by_size.setdefault(size, {})[lo] = _build_index(rules, lst, rest) if len(lst) >= INDEX_MIN_RULES else ("list", lst)
    return ("split", dim, sorted(by_size.items()), _build_index(rules, wild, rest))


def _lookup(node, ctx, found):
    if node[0] == "list":
        found.extend(node[1])
        return
    _kind, dim, by_size, wild = node
    value = getattr(ctx, dim)
    if value is None:
        for _size, bucket in by_size:
            for child in bucket.values():
                _lookup(child, ctx, found)
    else:
        for size, bucket in by_size:
            child = bucket.get(value & ~(size - 1))
            if child is not None:
                _lookup(child, ctx, found)
    _lookup(wild, ctx, found)


# ---------------------------------------------------------------------------------------------
# Tables: a uniform view of iptables tables and nft tables for the walker
# ---------------------------------------------------------------------------------------------

class IptTable(object):
    """One table of one iptables-save dump (one family, one backend variant)."""

    backend = "iptables"

    def __init__(self, parsed, name, seq, memo=None):
        self.memo = memo if memo is not None else {}
        self.parsed = parsed
        self.name = name
        self.table = parsed["tables"][name]
        self.family = parsed["family"]
        self.version = 4 if self.family == "ipv4" else 6
        self.variant = parsed.get("variant")
        self.source = parsed.get("source") or "iptables-save"
        self.seq = seq
        self.handle = None  # the kernel table's nft handle (iptables-nft), when `nft -j` was read
        self._chains = {}
        tool = "iptables" if self.version == 4 else "ip6tables"
        self.prefix = "%s%s %s" % (tool, "-" + self.variant if self.variant else "", name)

    def families(self):
        return (self.family,)

    def base_chains(self):
        out = []
        for chain, hook, prio, kind in IPT_TABLE_HOOKS.get(self.name, ()):
            if chain in self.table["chains"]:
                out.append((hook, prio, kind, chain))
        return out

    def label(self, chain):
        return "%s %s" % (self.prefix, chain)

    def chain(self, name):
        compiled = self._chains.get(name)
        if compiled is not None:
            return compiled
        with ipt.GcPaused():
            return self._compile_chain(name)

    def _compile_chain(self, name):
        spec = self.table["chains"].get(name)
        if spec is None:
            raise RulesetError("%s: no chain %s in table %s" % (self.source, name, self.name))
        names = self.table["chains"]
        rules = []
        for rule in spec["rules"]:
            try:
                steps, keys = ipt.compile_rule(rule, self.version, names, self.memo)
            except ipt.IptablesParseError as exc:
                raise RulesetError("%s:%s: %s" % (self.source, rule.get("line"), exc.message))
            except (ValueError, KeyError) as exc:
                raise RulesetError("%s:%s: %s" % (self.source, rule.get("line"), exc))
            rules.append(Rule(steps, keys, (self, name, rule)))
        policy = spec["policy"].lower() if spec.get("policy") else None
        compiled = Chain(name, rules, policy, bool(spec.get("builtin")))
        self._chains[name] = compiled
        return compiled

    def rule_ref(self, chain, rule):
        return {"backend": "iptables", "variant": self.variant, "family": self.family, "table": self.name,
                "chain": chain, "position": rule["position"], "handle": None, "line": rule["line"],
                "text": rule["text"], "policy": False}

    def policy_ref(self, chain):
        spec = self.table["chains"][chain]
        return {"backend": "iptables", "variant": self.variant, "family": self.family, "table": self.name,
                "chain": chain, "position": None, "handle": None, "line": spec.get("line"),
                "text": spec.get("text"), "policy": True}


class NftTable(object):
    """One table of the native nftables ruleset (ip, ip6, inet or netdev family)."""

    backend = "nft"

    def __init__(self, table, seq, source):
        self.table = table
        self.seq = seq
        self.handle = table.get("handle")
        self.source = source
        self.nft_family = table["family"]
        self.name = table["name"]
        self.compiler = nftmod.Compiler(table)
        self._chains = {}

    def families(self):
        return nftmod.FAMILY_SCOPE.get(self.nft_family, ())

    def managed_by_iptables(self):
        return self.table.get("managed_by") == "iptables-nft"

    def base_chains(self):
        out = []
        for name in self.table["chain_order"]:
            spec = self.table["chains"][name]
            hook = spec.get("hook")
            if not hook:
                continue
            prio = spec.get("prio")
            if not isinstance(prio, int):
                prio = nftmod.PRIORITY_NAMES.get(prio, 0)
            kind = "nat" if spec.get("type") == "nat" else "filter"
            extra = None
            if self.nft_family == "netdev" or hook == "ingress":
                extra = {"devices": spec.get("devices") or None, "bound": True}
            out.append((hook, prio, kind, name, extra))
        return out

    def label(self, chain):
        return "nft %s %s %s" % (self.nft_family, self.name, chain)

    def chain(self, name):
        compiled = self._chains.get(name)
        if compiled is not None:
            return compiled
        spec = self.table["chains"].get(name)
        if spec is None:
            raise RulesetError("%s: no chain %s in table %s %s" % (self.source, name, self.nft_family, self.name))
        rules = []
        for rule in spec["rules"]:
            try:
                self.compiler.current = name
                steps, keys = self.compiler.rule_steps(rule)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise RulesetError("%s: table %s %s chain %s handle %s: %s" % (
                    self.source, self.nft_family, self.name, name, rule.get("handle"), exc))
            rules.append(Rule(steps, keys, (self, name, rule)))
        policy = spec.get("policy") if spec.get("hook") else None
        compiled = Chain(name, rules, policy or ("accept" if spec.get("hook") else None), bool(spec.get("hook")))
        self._chains[name] = compiled
        return compiled

    def rule_ref(self, chain, rule):
        return {"backend": "nft", "variant": None, "family": self.nft_family, "table": self.name, "chain": chain,
                "position": rule["position"], "handle": rule["handle"], "line": None,
                "text": rule.get("text") or nftmod.render_rule(rule["expr"]), "policy": False}

    def policy_ref(self, chain):
        spec = self.table["chains"][chain]
        text = "type %s hook %s%s priority %s; policy %s;" % (
            spec.get("type"), spec.get("hook"),
            (" devices = { %s }" % ", ".join(spec["devices"])) if spec.get("devices") else "",
            spec.get("prio"), spec.get("policy") or "accept")
        return {"backend": "nft", "variant": None, "family": self.nft_family, "table": self.name, "chain": chain,
                "position": None, "handle": spec.get("handle"), "line": None, "text": text, "policy": True}


def describe(ref_tuple):
    table, chain, rule = ref_tuple
    return table.rule_ref(chain, rule)


# ---------------------------------------------------------------------------------------------
# The packet while it travels
# ---------------------------------------------------------------------------------------------

class Host(object):
    """What is known of the host's addresses."""

    def __init__(self, addresses, version, premise_local):
        self.known = addresses is not None
        self.by_if = addresses or {}
        self.local = set()
        self.broadcast = set()
        self.connected = {}  # ifname -> [(lo, hi)]
        self.premise_local = premise_local
        bits = 32 if version == 4 else 128
        for ifname, items in self.by_if.items():
            for v, value, plen, _scope, _tent in items:
                if v != version:
                    continue
                self.local.add(value)
                if plen < bits:
                    inv = (1 << (bits - plen)) - 1
                    lo = value & ~inv
                    self.connected.setdefault(ifname, []).append((lo, lo | inv))
                    if version == 4 and plen < 31:
                        self.broadcast.add(lo | inv)

    def is_local(self, version, value, iif_only=None):
        if version == 4 and (value >> 24) == 127:
            return True
        if version == 6 and value == 1:
            return True
        if self.known:
            if iif_only is not None:
                return any(v == version and a == value for v, a, _p, _s, _t in self.by_if.get(iif_only, ()))
            return value in self.local
        if value == self.premise_local:
            return True
        return None

    def route_oif(self, value):
        """The device of a connected route to value (longest prefix), None when not known."""
        best = None
        for ifname, nets in self.connected.items():
            for lo, hi in nets:
                if lo <= value <= hi and (best is None or hi - lo < best[0]):
                    best = (hi - lo, ifname)
        return best[1] if best else None

    def primary(self, ifname, version, dst):
        """REDIRECT's new destination: the first address of the incoming interface
        (nf_nat_redirect_ipv4: in_dev->ifa_list; IPv6: first usable of idev->addr_list, of the
        destination's scope on kernels >= 6.6)."""
        if not self.known or ifname is None:
            return None, "unknown"
        items = [i for i in self.by_if.get(ifname, ()) if i[0] == version and not i[4]]
        if not items:
            return None, "none"
        if version == 6:
            dscope = scope_of(6, dst)
            for item in items:
                if item[3] == dscope or (dscope == "global" and item[3] not in ("link", "host")):
                    return item[1], "ok"
        return items[0][1], "ok"


class Ctx(object):
    __slots__ = ("family", "version", "src", "dst", "sport", "dport", "proto", "iif", "oif", "mark",
                 "ctmark", "ct", "dnat", "orig_dst", "orig_dport", "direction", "pkt_type", "src_mac",
                 "host", "ipsets", "nat_bound", "hook", "warnings", "nat_ref", "mss")

    def addrtype(self, field, limit_in=False):
        value = self.src if field == "src" else self.dst
        version = self.version
        if version == 4:
            if value == 0xffffffff or value == 0:
                return "BROADCAST"
            if (value >> 28) == 0xe:
                return "MULTICAST"
            if self.host.known and value in self.host.broadcast:
                return "BROADCAST"
        elif (value >> 120) == 0xff:
            return "MULTICAST"
        local = self.host.is_local(version, value, self.iif if (limit_in and self.host.known) else None)
        if local is None:
            return None
        return "LOCAL" if local else "UNICAST"

    def ct_tuple(self, option):
        if option == "--ctorigdst":
            return self.orig_dst
        if option == "--ctorigsrc" or option == "--ctrepldst":
            return self.src
        if option == "--ctreplsrc":
            return self.dst
        if option == "--ctorigdstport":
            return self.orig_dport
        if option == "--ctreplsrcport":
            return self.dport
        return self.sport  # --ctorigsrcport / --ctrepldstport

    def ipset_match(self, name, flags):
        if self.ipsets is None:
            return None
        ipset = self.ipsets.get(name)
        if ipset is None:
            return None
        return ipset.match(self, flags)

    def rpfilter(self, loose):
        if not self.host.known:
            return None
        for ifname, nets in self.host.connected.items():
            for lo, hi in nets:
                if lo <= self.src <= hi:
                    return True if (loose or ifname == self.iif) else False
        return None


class Oracle(object):
    """Decides matches that cannot be known: replays earlier choices, then says 'no match'."""

    __slots__ = ("choices", "taken")

    def __init__(self, choices):
        self.choices = choices
        self.taken = []

    def choose(self, rule, desc):
        idx = len(self.taken)
        choice = self.choices[idx] if idx < len(self.choices) else False
        self.taken.append((rule, desc, choice))
        return choice


# ---------------------------------------------------------------------------------------------
# The ruleset
# ---------------------------------------------------------------------------------------------

class Ruleset(object):
    """Parsed and (lazily) compiled rulesets of one host."""

    def __init__(self, tables, ipsets=None, warnings=None, nft_skipped=None):
        self.tables = tables
        self.ipsets = ipsets
        self.warnings = list(warnings or [])
        self.nft_skipped = nft_skipped or []
        self._schedules = {}

    # -- schedule: which base chains run at which hook in which order --------------------------
    def schedule(self, family, hook):
        key = (family, hook)
        sched = self._schedules.get(key)
        if sched is not None:
            return sched
        entries = []
        nat = []
        for table in self.tables:
            if family not in table.families():
                continue
            for bhook, prio, kind, chain, extra in _base_entries(table):
                if bhook != hook:
                    continue
                if kind == "nat":
                    nat.append((prio, _registration_order(table), table, chain, extra))
                else:
                    entries.append((prio, 0, _registration_order(table), "chain", (table, chain, extra)))
        if hook in ("prerouting", "output"):
            entries.append((PRI_CONNTRACK, 1, 0, "conntrack", None))
        if nat:
            nat.sort(key=lambda e: (e[0], e[1]))
            entries.append((NAT_HOOK_PRIORITY.get(hook, PRI_NAT_DST), 1, 0, "nat",
                            [(t, c, x) for _p, _s, t, c, x in nat]))
        entries.sort(key=lambda e: (e[0], e[1], e[2]))
        sched = [(prio, kind, payload) for prio, _o, _s, kind, payload in entries]
        self._schedules[key] = sched
        return sched

    def validate(self):
        """Compile every chain now, so that a malformed rule anywhere is reported (with its
        line or handle) before any packet is evaluated. Raises RulesetError."""
        with ipt.GcPaused():
            for table in self.tables:
                for name in list(table.table["chains"]):
                    table.chain(name)
        return self

    def evaluate(self, packet, listeners=None, addresses=None):
        try:
            pkt = normalize_packet(packet)
        except PacketError as exc:
            return _error_result(packet, str(exc))
        try:
            host_addrs = normalize_addresses(addresses)
        except PacketError as exc:
            return _error_result(packet, str(exc))
        outcomes = []
        stack = [[]]
        truncated = False
        while stack:
            if len(outcomes) >= MAX_OUTCOMES:
                truncated = True
                break
            prefix = stack.pop()
            oracle = Oracle(prefix)
            outcome = self._walk(pkt, host_addrs, oracle)
            outcome["assumptions"] = [
                {"rule": describe(rule) if isinstance(rule, tuple) else rule, "match": str(desc), "matches": choice}
                for rule, desc, choice in oracle.taken]
            outcomes.append(outcome)
            taken = oracle.taken
            for i in range(len(taken) - 1, len(prefix) - 1, -1):
                stack.append([t[2] for t in taken[:i]] + [True])
        return _finish(pkt, outcomes, truncated, listeners, self)

    # -- one walk, with the oracle's choices ---------------------------------------------------
    def _walk(self, pkt, host_addrs, oracle):
        ctx = Ctx()
        ctx.family = pkt["family"]
        ctx.version = pkt["version"]
        ctx.src = pkt["src"]
        ctx.dst = pkt["dst"]
        ctx.sport = pkt["sport"]
        ctx.dport = pkt["dport"]
        ctx.proto = 6
        ctx.direction = pkt["direction"]
        ctx.iif = pkt["iif"] if pkt["direction"] == "input" else ""
        ctx.oif = "" if pkt["direction"] == "input" else pkt["oif"]
        ctx.mark = pkt["mark"]
        ctx.ctmark = 0
        ctx.ct = "invalid"  # no conntrack entry until the conntrack hook (priority -200)
        ctx.dnat = False
        ctx.orig_dst = pkt["dst"]
        ctx.orig_dport = pkt["dport"]
        ctx.pkt_type = "unicast"
        ctx.src_mac = pkt["src_mac"]
        ctx.mss = pkt["mss"]
        ctx.host = Host(host_addrs, pkt["version"], pkt["dst"] if pkt["direction"] == "input" else None)
        ctx.ipsets = self.ipsets
        ctx.nat_bound = False
        ctx.warnings = []
        ctx.nat_ref = None
        out = {"path": [], "decisions": [], "verdict": None, "reject": None, "rule": None,
               "unsupported": None, "route": None}
        first, local_hooks, forward_hooks = PATHS[pkt["direction"]]
        for hook in first:
            if self._run_hook(ctx, hook, oracle, out):
                return self._done(ctx, out)
        # routing decision
        if pkt["direction"] == "input":
            # A REDIRECT to an address not known (no `addresses`) still goes to a local one.
            local = True if ctx.dst is None else ctx.host.is_local(ctx.version, ctx.dst)
            if local is None:
                local = False
                ctx.warnings.append("the destination %s after NAT is not known to be local: the SYN "
                                    "is assumed to be forwarded (give `addresses` to be sure)"
                                    % ip_text(ctx.version, ctx.dst))
            if ctx.version == 4 and ctx.dst is not None and (ctx.dst >> 24) == 127 and ctx.dnat and ctx.iif not in ("lo", None):
                ctx.warnings.append(
                    "the destination was rewritten to %s: the kernel drops it as a martian unless "
                    "net.ipv4.conf.%s.route_localnet=1" % (ip_text(4, ctx.dst), ctx.iif))
            if ctx.version == 6 and ctx.dst == 1 and ctx.dnat and ctx.iif not in ("lo", None):
                ctx.warnings.append("the destination was rewritten to ::1: IPv6 drops loopback "
                                    "destinations arriving on %s" % ctx.iif)
            out["route"] = "local" if local else "forward"
            hooks = local_hooks if local else forward_hooks
            if not local:
                ctx.oif = ctx.host.route_oif(ctx.dst)
        else:
            out["route"] = "output"
            hooks = local_hooks
        for hook in hooks:
            if self._run_hook(ctx, hook, oracle, out):
                return self._done(ctx, out)
        out["verdict"] = "accept"
        return self._done(ctx, out)

    def _done(self, ctx, out):
        out["destination"] = {"address": ip_text(ctx.version, ctx.dst) if ctx.dst is not None else None,
                              "port": ctx.dport}
        out["redirected"] = ctx.dnat
        out["nat_rule"] = ctx.nat_ref
        out["warnings"] = ctx.warnings
        out["ct"] = ctx.ct
        return out

    def _run_hook(self, ctx, hook, oracle, out):
        """Run every base chain of a hook in priority order. True when the packet's fate is sealed."""
        if hook == "ingress":
            sched = self.schedule(ctx.family, "ingress")
        else:
            sched = self.schedule(ctx.family, hook)
        ctx.hook = hook
        for prio, kind, payload in sched:
            if kind == "conntrack":
                if ctx.ct == "invalid":
                    ctx.ct = "new"
                continue
            if kind == "nat":
                if ctx.ct == "untracked":
                    continue  # no conntrack entry, no NAT (nf_nat_inet_fn)
                for table, chain, extra in payload:
                    if not _applies(table, chain, extra, ctx, oracle):
                        continue
                    res = self._run_base(ctx, table, chain, oracle, out, nat=True)
                    if res:
                        return True
                    if ctx.nat_bound:
                        break  # the first binding wins (nf_nat_inet_fn)
                ctx.nat_bound = False
                continue
            table, chain, extra = payload
            if not _applies(table, chain, extra, ctx, oracle):
                continue
            saved_ct = ctx.ct
            if prio == PRI_CONNTRACK and ctx.ct == "invalid" and hook in ("prerouting", "output"):
                ctx.ct = "unknown"  # same priority as conntrack: order not defined
            res = self._run_base(ctx, table, chain, oracle, out, nat=False)
            if ctx.ct == "unknown":
                ctx.ct = saved_ct
            if res:
                return True
        return False

    def _run_base(self, ctx, table, chain_name, oracle, out, nat):
        """Walk one base chain with its jumps. Records the decision; True when dropped/rejected
        or undecidable."""
        chain = table.chain(chain_name)
        frames = []
        cur = chain
        cands = cur.candidates(ctx)
        i = 0
        out["path"].append(table.label(cur.name))
        depth = 0
        while True:
            if i >= len(cands):
                if frames:
                    cur, cands, i = frames.pop()
                    continue
                return self._decide(out, table, chain_name, nat, chain.policy or "accept", None,
                                    table.policy_ref(chain_name))
            pos = cands[i]
            i += 1
            rule = cur.rules[pos]
            res = _apply(rule, ctx, oracle, nat)
            if res is None:
                continue
            kind, data = res
            if kind == "return":
                if frames:
                    cur, cands, i = frames.pop()
                    continue
                return self._decide(out, table, chain_name, nat, chain.policy or "accept", None,
                                    table.policy_ref(chain_name))
            if kind in ("jump", "goto"):
                depth += 1
                if depth > 10000 or len(frames) >= MAX_DEPTH:
                    return self._decide(out, table, chain_name, nat, "unsupported",
                                        "jump depth exceeded (a loop?)", describe(rule.ref))
                if kind == "jump":
                    frames.append((cur, cands, i))
                try:
                    cur = table.chain(data)
                except RulesetError:
                    return self._decide(out, table, chain_name, nat, "unsupported",
                                        "jump to a missing chain %s" % data, describe(rule.ref))
                cands = cur.candidates(ctx)
                i = 0
                out["path"].append(table.label(cur.name))
                continue
            return self._decide(out, table, chain_name, nat, kind, data, describe(rule.ref))

    def _decide(self, out, table, chain_name, nat, verdict, data, ref):
        out["decisions"].append({"chain": table.label(chain_name), "verdict": verdict, "rule": ref, "nat": nat})
        if verdict == "accept":
            return False
        out["verdict"] = verdict
        out["rule"] = ref
        if verdict == "reject":
            out["reject"] = data
        elif verdict == "unsupported":
            out["unsupported"] = {"rule": ref, "match": str(data)}
        return True


def _registration_order(table):
    """Order of base chains that share a hook and a priority. The kernel runs the one registered
    last first (nf_hook_entries_grow() puts a new hook before those of equal priority). Tables
    created through nftables (native, or iptables-nft) carry increasing handles: newest first.
    Legacy tables have none and keep their place ahead of them, as before. nft tables read from
    `nft list ruleset` without -a have no handle either: that listing shows the tables in the
    order they were created (the kernel appends each new table to its list), so the later one
    in the text is the newer."""
    if table.handle is None:
        if table.backend == "nft":
            return (1, -table.seq)
        return (0, table.seq)
    return (1, -int(table.handle))


def _base_entries(table):
    out = []
    for item in table.base_chains():
        if len(item) == 4:
            hook, prio, kind, chain = item
            extra = None
        else:
            hook, prio, kind, chain, extra = item
        out.append((hook, prio, kind, chain, extra))
    return out


def _applies(table, chain, extra, ctx, oracle):
    """netdev/ingress chains are bound to devices."""
    if not extra:
        return True
    devices = extra.get("devices")
    if not devices:
        if extra.get("bound"):
            return oracle.choose({"backend": table.backend, "table": table.name, "chain": chain,
                                  "text": table.policy_ref(chain)["text"]},
                                 "the ingress chain's device (not in `nft -j` output; give `nft -a list ruleset`)")
        return True
    if ctx.iif is None:
        return oracle.choose({"backend": table.backend, "chain": chain, "text": "devices %s" % ",".join(devices)},
                             "the packet arrives on %s" % ",".join(devices))
    return ctx.iif in devices


def _apply(rule, ctx, oracle, nat):
    """Apply one rule. None: go on with the next rule; else (kind, data)."""
    steps = rule.steps
    n = len(steps)
    k = 0
    while k < n:
        step = steps[k]
        if step[0] == "m":
            try:
                r = step[1](ctx)
            except Unknown as exc:
                r = None
                step = (step[0], step[1], exc.desc)
            if r is True:
                k += 1
                continue
            if r is False:
                return None
            j = k + 1
            while j < n and steps[j][0] == "m":
                try:
                    if steps[j][1](ctx) is False:
                        return None
                except Unknown:
                    pass
                j += 1
            if not _effectful_from(steps, k):
                return None
            if not oracle.choose(rule.ref, step[2]):
                return None
            k += 1
            continue
        kind, data = step[1], step[2]
        k += 1
        if kind in _NOOP_KINDS:
            continue
        if kind == "mark" or kind == "ctmark":
            _mark(ctx, kind, data)
            continue
        if kind == "notrack":
            if ctx.ct == "invalid":
                ctx.ct = "untracked"
            continue
        if kind == "set_mark":  # nft: meta mark set / ct mark set with a computed value
            try:
                data(ctx)
            except Unknown as exc:
                return ("unsupported", exc.desc)
            continue
        if kind == "vmap":
            try:
                res = data(ctx)
            except Unknown as exc:
                return ("unsupported", exc.desc)
            if res is None:
                return None  # no element: the rule does not match
            kind, data = res
            if kind == "continue":
                return None
            return (kind, data)
        if kind == "continue":
            return None
        if kind in ("dnat", "redirect", "netmap", "snat"):
            if not nat:
                return ("unsupported", "%s outside a nat chain" % kind)
            res = _nat(ctx, kind, data, rule)
            if res is None:
                continue
            return res
        return (kind, data)
    return None


def _mark(ctx, kind, data):
    op, value, mask = data
    field = "mark" if kind == "mark" else "ctmark"
    old = getattr(ctx, field)
    if op == "xset":
        new = (old & ~mask & 0xffffffff) ^ value
    elif op == "and":
        new = old & value
    elif op == "or":
        new = old | value
    elif op == "xor":
        new = old ^ value
    elif op == "save":
        ctx.ctmark = ctx.mark
        return
    elif op == "restore":
        ctx.mark = ctx.ctmark
        return
    elif op == "set":
        new = value
    else:
        return
    setattr(ctx, field, new & 0xffffffff)


def _nat(ctx, kind, data, rule):
    if kind == "snat":
        ctx.nat_bound = True
        return ("accept", None)
    if kind == "dnat":
        lo, hi, plo, phi = data
        if callable(lo):
            try:
                lo, hi, plo, phi = lo(ctx)
            except Unknown as exc:
                return ("unsupported", exc.desc)
            if lo is None and plo is None:
                return None  # `dnat ip to` on an IPv6 packet: not for this family
        if lo is not None:
            if hi is not None and hi != lo:
                ctx.warnings.append("DNAT to a range %s-%s: the kernel picks one by hash; %s assumed"
                                    % (ip_text(ctx.version, lo), ip_text(ctx.version, hi), ip_text(ctx.version, lo)))
            ctx.dst = lo
        if plo is not None:
            if phi is not None and phi != plo:
                ctx.warnings.append("DNAT to ports %d-%d: %d assumed" % (plo, phi, plo))
            ctx.dport = plo
    elif kind == "redirect":
        if callable(data):
            try:
                data = data(ctx)
            except Unknown as exc:
                return ("unsupported", exc.desc)
            if data is None:
                return None  # the port map has no element for this packet: the lookup breaks the rule
        if ctx.direction == "output":
            new = 0x7f000001 if ctx.version == 4 else 1
        else:
            new, why = ctx.host.primary(ctx.iif, ctx.version, ctx.dst)
            if why == "none":
                ctx.warnings.append("REDIRECT on %s, which has no IPv%d address: the kernel drops "
                                    "the packet" % (ctx.iif, ctx.version))
                return ("drop", None)
            if new is None:
                ctx.warnings.append("REDIRECT goes to the first address of %s, not known (give "
                                    "`addresses`)" % (ctx.iif or "the incoming interface"))
        ctx.dst = new
        if data is not None:
            plo, phi = data
            if phi != plo:
                ctx.warnings.append("REDIRECT to ports %d-%d: %d assumed" % (plo, phi, plo))
            ctx.dport = plo
    elif kind == "netmap":
        lo, hi = data
        inv = hi - lo
        ctx.dst = lo | (ctx.dst & inv)
    ctx.dnat = ctx.dst != ctx.orig_dst or ctx.dport != ctx.orig_dport
    ctx.nat_bound = True
    ctx.nat_ref = describe(rule.ref)
    return ("accept", None)


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------

def _reject_name(family, data):
    if data == "tcp-reset":
        return "tcp-reset"
    kind = data[0]
    if kind == "icmpx":
        return "icmpx %s" % data[1]
    code = data[1]
    if kind == "icmp4":
        family = "ipv4"
    elif kind == "icmp6":
        family = "ipv6"
    if family == "ipv4":
        return CANONICAL_IPT4.get(code, "icmp-code-%d" % code)
    return CANONICAL_IPT6.get(code, "icmp6-code-%d" % code)


def _resolve_reject(family, data):
    """icmpx (nft inet) maps to a per-family code."""
    if data == "tcp-reset":
        return data
    if data[0] == "icmpx":
        v4, v6 = NFT_ICMPX.get(data[1], (3, 4))
        return ("icmp", v4 if family == "ipv4" else v6)
    # nft sends the code given in the packet's own family (nft_reject_inet_eval)
    return ("icmp", data[1])


def _outcome_key(o):
    dest = o.get("destination") or {}
    return (o["verdict"], json.dumps(o.get("reject"), sort_keys=True), dest.get("address"), dest.get("port"),
            o.get("route") if o["verdict"] == "accept" else None)


def _finish(pkt, outcomes, truncated, listeners, ruleset):
    first = outcomes[0]
    distinct = []
    seen = set()
    for o in outcomes:
        key = _outcome_key(o)
        if key not in seen:
            seen.add(key)
            distinct.append(o)
    result = _shape(pkt, first, listeners)
    result["warnings"] = list(ruleset.warnings) + first["warnings"]
    if truncated or len(distinct) > 1 or first["verdict"] == "unsupported":
        result["verdict"] = "indeterminate"
        result["observed_as"] = "indeterminate"
        result["errno"] = None
        result["reject_with"] = None
        result["no_listener"] = False
        if first["verdict"] == "unsupported":
            result["unsupported"] = first["unsupported"]
            result["rule"] = first["unsupported"]["rule"]
        else:
            for o in outcomes:
                if o["assumptions"]:
                    pick = o["assumptions"][0]
                    result["unsupported"] = {"rule": pick["rule"], "match": pick["match"]}
                    result["rule"] = pick["rule"]
                    break
        if truncated:
            result["warnings"].append("more than %d combinations of undecidable matches; stopped" % MAX_OUTCOMES)
        result["possible"] = [dict(_brief(_shape(pkt, o, listeners)), assumptions=o["assumptions"])
                              for o in distinct]
    return result


def _brief(res):
    return dict((k, res[k]) for k in ("verdict", "reject_with", "observed_as", "errno", "destination", "rule",
                                      "redirected", "no_listener"))


def _shape(pkt, o, listeners):
    family = pkt["family"]
    verdict = o["verdict"]
    res = {
        "packet": {"family": family, "src": pkt["src_text"], "dst": pkt["dst_text"], "dport": pkt["dport"],
                   "sport": pkt["sport"], "proto": "tcp", "iif": pkt["iif"], "direction": pkt["direction"]},
        "verdict": verdict,
        "reject_with": None,
        "destination": o["destination"],
        "redirected": bool(o["redirected"]),
        "route": o["route"],
        "rule": o["rule"],
        "nat_rule": o["nat_rule"],
        "path": o["path"],
        "decisions": o["decisions"],
        "observed_as": None,
        "errno": None,
        "no_listener": False,
        "listener": None,
        "unsupported": None,
        "warnings": list(o["warnings"]),
    }
    if verdict == "reject":
        data = _resolve_reject(family, o["reject"])
        res["reject_with"] = _reject_name(family, o["reject"])
        res["errno"], res["observed_as"] = errno_for_reject(family, data)
    elif verdict == "drop":
        res["observed_as"] = "timeout"
    elif verdict == "accept":
        res["rule"] = _accept_rule(o["decisions"])
        res["observed_as"] = "open"
        if listeners is not None and o["route"] in ("local", "output"):
            _check_listeners(res, listeners, pkt["version"], o)
    elif verdict == "unsupported":
        res["verdict"] = "indeterminate"
        res["observed_as"] = "indeterminate"
        res["unsupported"] = o["unsupported"]
    return res


def _accept_rule(decisions):
    """The rule to show for an accepted SYN: the last explicit accepting rule of a filtering chain
    (a DNAT or MASQUERADE in a NAT chain accepts too, but says nothing about filtering), else the
    last explicit one, else the last policy."""
    for d in reversed(decisions):
        if d["rule"] and not d["rule"].get("policy") and not d.get("nat"):
            return d["rule"]
    for d in reversed(decisions):
        if d["rule"] and not d["rule"].get("policy"):
            return d["rule"]
    return decisions[-1]["rule"] if decisions else None


def _check_listeners(res, listeners, version, o):
    dest = o["destination"]
    if dest["address"] is None:
        wild = [ls for ls in listeners if int(ls.get("port") or 0) == dest["port"] and
                listener_accepts(ls, version, 0) and str(ls.get("address")) in ("0.0.0.0", "::", "*", "[::]")]
        if wild:
            res["listener"] = wild[0]
            return
        res["observed_as"] = "indeterminate"
        res["warnings"].append("the rewritten destination address is not known; cannot tell which listener")
        return
    _v, addr = parse_ip(dest["address"])
    unknown = None
    for ls in listeners:
        try:
            port = int(ls.get("port"))
        except (TypeError, ValueError):
            continue
        if port != dest["port"]:
            continue
        ok = listener_accepts(ls, version, addr)
        if ok:
            res["listener"] = ls
            return
        if ok is None:
            unknown = ls
    if unknown is not None:
        res["observed_as"] = "indeterminate"
        res["listener"] = unknown
        res["warnings"].append("only %s:%s listens and whether it takes IPv4 (IPV6_V6ONLY) is not known"
                               % (unknown.get("address"), unknown.get("port")))
        return
    res["no_listener"] = True
    res["observed_as"] = "refused"
    res["errno"] = "ECONNREFUSED"


def _error_result(packet, message):
    return {"packet": packet, "verdict": "indeterminate", "reject_with": None, "destination": None,
            "redirected": False, "route": None, "rule": None, "nat_rule": None, "path": [], "decisions": [],
            "observed_as": "indeterminate", "errno": None, "no_listener": False, "listener": None,
            "unsupported": None, "warnings": [], "error": message}


# ---------------------------------------------------------------------------------------------
# Loading facts
# ---------------------------------------------------------------------------------------------

def _iptables_sources(facts):
    """Yield parsed iptables dumps from facts in the collector's or the module's shape."""
    out = []
    for key, family in (("iptables", "ipv4"), ("ip6tables", "ipv6")):
        section = facts.get(key)
        if isinstance(section, dict):
            for variant in ("legacy", "nft", "default"):
                entry = section.get(variant)
                if not entry:
                    continue
                parsed = entry.get("parsed")
                if parsed is None and entry.get("text"):
                    parsed = ipt.parse_iptables_save(entry["text"], source=entry.get("source") or key, family=family,
                                                     detail=False)
                if parsed is not None:
                    if variant != "default" and not parsed.get("variant"):
                        parsed = dict(parsed, variant=variant)
                    out.append(parsed)
        elif isinstance(section, str) and section.strip():
            out.append(ipt.parse_iptables_save(section, source=key, family=family, detail=False))
    for key, family in (("iptables_save", "ipv4"), ("ip6tables_save", "ipv6")):
        text = facts.get(key)
        if text:
            out.append(ipt.parse_iptables_save(text, source=key, family=family, detail=False))
    return out


def compile_ruleset(facts):
    """Parse every ruleset in the facts once. Raises RulesetError on malformed text."""
    if isinstance(facts, Ruleset):
        return facts
    if facts is None:
        facts = {}
    if not isinstance(facts, dict):
        raise RulesetError("ruleset facts must be a mapping, got %s" % type(facts).__name__)
    warnings = []
    tables = []
    seq = 0
    try:
        dumps = _iptables_sources(facts)
    except ipt.IptablesParseError as exc:
        raise RulesetError(str(exc))
    ipt_nft_tables = set()
    memos = {}
    for parsed in sorted(dumps, key=lambda p: 0 if p.get("variant") == "legacy" else 1):
        memo = memos.setdefault(parsed["family"], {})
        for name in parsed["tables"]:
            if name not in IPT_TABLE_HOOKS:
                warnings.append("%s: table %s is not on the packet path; ignored" % (parsed.get("source"), name))
                continue
            seq += 1
            tables.append(IptTable(parsed, name, seq, memo))
            if parsed.get("variant") == "nft":
                ipt_nft_tables.add(("ip" if parsed["family"] == "ipv4" else "ip6", name))
    nft_skipped = []
    nft_source = _nft_source(facts)
    if nft_source is not None:
        try:
            parsed = nftmod.load(nft_source)
        except ValueError as exc:
            raise RulesetError(str(exc))
        for table in parsed["tables"] if parsed else []:
            if (table["family"], table["name"]) in ipt_nft_tables:
                # The same kernel table, already read through iptables-nft-save: keep only its
                # handle, which says when it was registered.
                nft_skipped.append("%s %s" % (table["family"], table["name"]))
                for ipt_table in tables:
                    if getattr(ipt_table, "variant", None) == "nft" and ipt_table.name == table["name"] and \
                            ("ip" if ipt_table.family == "ipv4" else "ip6") == table["family"]:
                        ipt_table.handle = table.get("handle")
                continue
            seq += 1
            tables.append(NftTable(table, seq, parsed.get("source") or "nft"))
    ipsets = None
    ipset_src = facts.get("ipsets")
    if isinstance(ipset_src, dict) or facts.get("ipset_save"):
        from ansible_collections.lbdoctor.haproxy.plugins.module_utils import netfilter_ipset as ipsetmod
        try:
            ipsets = ipsetmod.runtime_sets(ipset_src if isinstance(ipset_src, dict) else {"text": facts["ipset_save"]})
        except ValueError as exc:
            raise RulesetError(str(exc))
    return Ruleset(tables, ipsets=ipsets, warnings=warnings, nft_skipped=nft_skipped)


def _nft_source(facts):
    section = facts.get("nftables")
    if isinstance(section, dict) and (section.get("json") or section.get("parsed") or section.get("text")):
        return section
    if facts.get("nft_json") or facts.get("nft_text"):
        return {"json": facts.get("nft_json"), "text": facts.get("nft_text")}
    return None


def evaluate(ruleset_facts, packet, listeners=None, addresses=None):
    """Evaluate one TCP SYN. See the module docstring and docs/netfilter.md for the result."""
    return compile_ruleset(ruleset_facts).evaluate(packet, listeners=listeners, addresses=addresses)


def evaluate_many(ruleset_facts, packets, listeners=None, addresses=None):
    """Parse the rulesets once and evaluate every packet, results in the packets' order."""
    ruleset = compile_ruleset(ruleset_facts)
    return [ruleset.evaluate(p, listeners=listeners, addresses=addresses) for p in packets]
