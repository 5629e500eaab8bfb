# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse `nft -j list ruleset` (and the rule texts of `nft -a list ruleset`) and compile the
rules for netfilter_eval.

parse_nft_json(text) -> {"source", "metainfo", "tables": [TABLE, ...], "warnings"}
    TABLE = {"family": "inet", "name": "fw", "handle": 7, "managed_by": None|"iptables-nft",
             "chains": {name: {"handle", "type", "hook", "prio", "policy", "devices",
                               "rules": [{"handle", "position", "expr", "comment", "text"}]}},
             "chain_order": [...], "sets": {name: {"kind": "set"|"map", "type", "map", "flags",
             "elem": [...], "handle"}}}
parse_nft_text(text) -> {"rules": {(family, table, chain, handle): text}, "chains": {...},
                         "managed": [(family, table)]}
    the rule texts, chain headers (device of netdev chains, which nft 1.0.x leaves out of JSON)
    of `nft -a list ruleset`.

nft 1.0.x prints anonymous chains (`jump { ... }`) in JSON as a bare string: the evaluator
names such a rule as unsupported instead of guessing.

Standard library only (runs on managed hosts, Python 3.8+).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_packet import (
    NFT_ICMP4, NFT_ICMP6, NFT_ICMPX, PROTOCOLS, TCP_PORT_NAMES, PacketError, Unknown, iface_match,
    parse_ip,
)

# Named priorities (nft(8) "PRIORITY"): family-independent for ip/ip6/inet.
PRIORITY_NAMES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
FAMILY_SCOPE = {"ip": ("ipv4",), "ip6": ("ipv6",), "inet": ("ipv4", "ipv6"), "netdev": ("ipv4", "ipv6")}
TCP_FLAGS = {"fin": 0x01, "syn": 0x02, "rst": 0x04, "psh": 0x08, "ack": 0x10, "urg": 0x20, "ecn": 0x40,
             "cwr": 0x80}
SYN_FLAGS = 0x02
CT_STATES = ("invalid", "established", "related", "new", "untracked")
IPTABLES_TABLES = ("filter", "nat", "mangle", "raw", "security")


class NftParseError(ValueError):
    """nft output that cannot be read; names the source and where."""

    def __init__(self, source, where, message):
        self.source = source
        self.where = where
        super(NftParseError, self).__init__("%s:%s: %s" % (source, where, message))


class MISMATCH(object):
    """A payload or meta expression whose protocol is not the packet's: the rule does not match
    (nft inserts the dependency, e.g. `meta nfproto ipv4` before `ip saddr` in inet tables)."""


class _Unknown(Exception):
    def __init__(self, desc):
        Exception.__init__(self, desc)
        self.desc = desc


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

def parse_nft_json(text, source="nft -j list ruleset"):
    """Parse `nft -j list ruleset` output (str or already-decoded object)."""
    if isinstance(text, (dict, list)):
        data = text
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            line = getattr(exc, "lineno", 1)
            raise NftParseError(source, line, "not JSON: %s" % exc)
    if isinstance(data, dict):
        items = data.get("nftables")
    else:
        items = data
    if not isinstance(items, list):
        raise NftParseError(source, 1, "no 'nftables' list")
    tables = {}
    order = []
    metainfo = None
    warnings = []
    for idx, item in enumerate(items):
        if not isinstance(item, dict) or len(item) != 1:
            raise NftParseError(source, "item %d" % idx, "unexpected %r" % (item,))
        kind, body = list(item.items())[0]
        if kind == "metainfo":
            metainfo = body
            continue
        if not isinstance(body, dict):
            raise NftParseError(source, "item %d" % idx, "%s is not an object" % kind)
        if kind == "table":
            key = (body.get("family"), body.get("name"))
            tables[key] = {"family": key[0], "name": key[1], "handle": body.get("handle"), "managed_by": None,
                           "chains": {}, "chain_order": [], "sets": {}, "flags": body.get("flags")}
            order.append(key)
            continue
        key = (body.get("family"), body.get("table"))
        table = tables.get(key)
        if table is None:
            if kind in ("chain", "rule", "set", "map"):
                raise NftParseError(source, "item %d" % idx, "%s of unknown table %s %s" % (kind, key[0], key[1]))
            continue
        if kind == "chain":
            prio = body.get("prio")
            if isinstance(prio, str):
                prio = PRIORITY_NAMES.get(prio, prio)
            devices = body.get("dev")
            if isinstance(devices, str):
                devices = [devices]
            table["chains"][body["name"]] = {
                "handle": body.get("handle"), "type": body.get("type"), "hook": body.get("hook"),
                "prio": prio, "policy": body.get("policy"), "devices": devices, "rules": []}
            table["chain_order"].append(body["name"])
        elif kind == "rule":
            chain = table["chains"].get(body.get("chain"))
            if chain is None:
                raise NftParseError(source, "item %d" % idx, "rule of unknown chain %s" % body.get("chain"))
            if not isinstance(body.get("expr"), list):
                raise NftParseError(source, "item %d" % idx, "rule without expr list")
            chain["rules"].append({"handle": body.get("handle"), "position": len(chain["rules"]) + 1,
                                   "expr": body["expr"], "comment": body.get("comment"), "text": None})
        elif kind in ("set", "map"):
            table["sets"][body["name"]] = {
                "kind": kind, "type": body.get("type"), "map": body.get("map"), "flags": body.get("flags") or [],
                "elem": body.get("elem") or [], "handle": body.get("handle")}
    out_tables = [tables[k] for k in order]
    for table in out_tables:
        if table["family"] in ("ip", "ip6") and table["name"] in IPTABLES_TABLES and _has_xt(table):
            table["managed_by"] = "iptables-nft"
    return {"source": source, "metainfo": metainfo, "tables": out_tables, "warnings": warnings}


def _has_xt(table):
    for chain in table["chains"].values():
        for rule in chain["rules"]:
            for expr in rule["expr"]:
                if isinstance(expr, dict) and "xt" in expr:
                    return True
    return False


_TABLE_LINE = re.compile(r"^table\s+(\S+)\s+(\S+)\s*\{")
_CHAIN_LINE = re.compile(r"^chain\s+(\S+)\s*\{")
_SETMAP_LINE = re.compile(r"^(set|map|flowtable|counter|quota|ct\s+\S+|limit|secmark|synproxy)\s+(\S+)\s*\{")
_HANDLE = re.compile(r"\s*# handle (\d+)\s*$")
_BASE = re.compile(r"type\s+(\S+)\s+hook\s+(\S+)(?:\s+devices?\s*=?\s*(\{[^}]*\}|\"[^\"]*\"|\S+))?\s+priority\s+([^;]+);"
                   r"(?:\s*policy\s+(\S+);)?")
_MANAGED = re.compile(r"#\s*Warning: table (\S+) (\S+) is managed by (\S+)")


def parse_nft_text(text, source="nft -a list ruleset"):
    """Rule texts and chain headers from `nft -a list ruleset` (or plain `nft list ruleset`).

    Returns {"rules": {"family table chain handle": text}, "chains": {"family table chain":
    {type, hook, prio, policy, devices}}, "managed": ["family table", ...]}. Brace depth is
    tracked so that set bodies and anonymous chains are not taken for rules.
    """
    rules = {}
    chains = {}
    managed = []
    family = table = chain = None
    depth = 0
    chain_depth = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        mm = _MANAGED.search(raw)
        if mm:
            managed.append("%s %s" % (mm.group(1), mm.group(2)))
            continue
        line = raw.strip()
        if not line or (line.startswith("#") and "handle" not in line):
            continue
        handle = None
        hm = _HANDLE.search(line)
        if hm:
            handle = int(hm.group(1))
            line = line[:hm.start()].rstrip()
        if depth == 0:
            tm = _TABLE_LINE.match(line)
            if tm:
                family, table = tm.group(1), tm.group(2)
                if table.startswith('"'):
                    table = table.strip('"')
                depth = 1
                continue
            if line.startswith("include") or line.startswith("flush") or line.startswith("define"):
                continue
            raise NftParseError(source, lineno, "expected `table FAMILY NAME {`, got %r" % line[:60])
        if depth == 1:
            if line == "}":
                depth = 0
                family = table = None
                continue
            cm = _CHAIN_LINE.match(line)
            if cm:
                chain = cm.group(1).strip('"')
                chains["%s %s %s" % (family, table, chain)] = {"handle": handle}
                depth = 2
                chain_depth = 2
                continue
            if _SETMAP_LINE.match(line) or line.endswith("{"):
                depth += line.count("{") - line.count("}")
                chain = None
                continue
            if line.startswith("flags") or line.startswith("comment"):
                continue
            continue
        # depth >= 2
        opened = line.count("{") - line.count("}")
        if chain is not None and depth == chain_depth:
            if line == "}":
                depth -= 1
                chain = None
                continue
            bm = _BASE.search(line)
            if bm and line.startswith("type "):
                info = chains["%s %s %s" % (family, table, chain)]
                devices = bm.group(3)
                if devices:
                    devices = [d.strip().strip('"') for d in devices.strip("{}").split(",") if d.strip()]
                prio_text = bm.group(4).strip()
                info.update({"type": bm.group(1), "hook": bm.group(2), "devices": devices or None,
                             "prio": _prio_value(prio_text), "policy": bm.group(5)})
                continue
            if handle is not None:
                rules["%s %s %s %d" % (family, table, chain, handle)] = line
            elif opened > 0:
                rules.setdefault("%s %s %s" % (family, table, chain), [])
            depth += opened
            continue
        depth += opened
        if depth < 1:
            raise NftParseError(source, lineno, "unbalanced braces")
    if depth != 0:
        raise NftParseError(source, "end", "unbalanced braces (%d open)" % depth)
    return {"rules": rules, "chains": chains, "managed": managed}


def _prio_value(text):
    text = text.strip()
    m = re.match(r"^([a-z]+)\s*([+-])\s*(\d+)$", text)
    if m and m.group(1) in PRIORITY_NAMES:
        base = PRIORITY_NAMES[m.group(1)]
        return base + int(m.group(3)) if m.group(2) == "+" else base - int(m.group(3))
    if text in PRIORITY_NAMES:
        return PRIORITY_NAMES[text]
    try:
        return int(text)
    except ValueError:
        return text


def merge_text(parsed, text_info):
    """Attach `nft -a` rule texts and chain devices to parsed JSON tables (in place)."""
    if not text_info:
        return parsed
    managed = set(text_info.get("managed") or [])
    for table in parsed["tables"]:
        if "%s %s" % (table["family"], table["name"]) in managed:
            table["managed_by"] = "iptables-nft"
        for cname, chain in table["chains"].items():
            info = text_info["chains"].get("%s %s %s" % (table["family"], table["name"], cname))
            if info and info.get("devices") and not chain.get("devices"):
                chain["devices"] = info["devices"]
            for rule in chain["rules"]:
                txt = text_info["rules"].get("%s %s %s %s" % (table["family"], table["name"], cname, rule["handle"]))
                if txt:
                    rule["text"] = txt
    return parsed


def summarize(parsed):
    out = []
    for table in parsed.get("tables", []):
        out.append({
            "family": table["family"], "name": table["name"], "managed_by": table.get("managed_by"),
            "chains": [dict(name=n, rules=len(table["chains"][n]["rules"]),
                            **dict((k, table["chains"][n].get(k)) for k in ("type", "hook", "prio", "policy", "devices")
                                   if table["chains"][n].get(k) is not None))
                       for n in table["chain_order"]],
            "sets": sorted(table["sets"]),
        })
    return out


# ---------------------------------------------------------------------------------------------
# Rendering (when `nft -a` text is not there): a readable approximation of the rule
# ---------------------------------------------------------------------------------------------

def render_rule(expr_list):
    return " ".join(_render_stmt(e) for e in expr_list)


def _render_stmt(e):
    if isinstance(e, str):
        return e
    if not isinstance(e, dict) or not e:
        return str(e)
    key, body = list(e.items())[0]
    if key == "match":
        op = body.get("op", "==")
        left = _render_expr(body.get("left"))
        right = _render_expr(body.get("right"))
        if op in ("==", "in"):
            return "%s %s" % (left, right)
        return "%s %s %s" % (left, op, right)
    if key in ("accept", "drop", "return", "continue", "notrack", "masquerade") and not body:
        return key
    if key in ("jump", "goto"):
        return "%s %s" % (key, body.get("target"))
    if key == "counter":
        return "counter"
    if key == "log":
        return "log" + (' prefix "%s"' % body["prefix"] if body and body.get("prefix") else "")
    if key == "reject":
        if not body:
            return "reject"
        if body.get("type") == "tcp reset":
            return "reject with tcp reset"
        return "reject with %s type %s" % (body.get("type"), body.get("expr"))
    if key in ("dnat", "snat"):
        addr = _render_expr(body.get("addr")) if body.get("addr") is not None else ""
        port = ":%s" % _render_expr(body.get("port")) if body.get("port") is not None else ""
        return "%s to %s%s" % (key, addr, port)
    if key == "redirect":
        if body and body.get("port") is not None:
            return "redirect to :%s" % _render_expr(body["port"])
        return "redirect"
    if key == "vmap":
        return "%s vmap %s" % (_render_expr(body.get("key")), _render_expr(body.get("data")))
    if key == "mangle":
        return "%s set %s" % (_render_expr(body.get("key")), _render_expr(body.get("value")))
    if key == "limit":
        return "limit rate %s/%s" % (body.get("rate"), body.get("per"))
    return "%s %s" % (key, json.dumps(body, sort_keys=True) if body is not None else "")


def _render_expr(x):
    if isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, str):
        return x
    if isinstance(x, list):
        return ",".join(_render_expr(i) for i in x)
    if not isinstance(x, dict) or not x:
        return str(x)
    key, body = list(x.items())[0]
    if key == "payload":
        if "protocol" in body:
            return "%s %s" % (body["protocol"], body.get("field"))
        return "@payload"
    if key == "meta":
        return "meta %s" % body.get("key")
    if key == "ct":
        return "ct %s%s" % ((body.get("dir") + " ") if body.get("dir") else "", body.get("key"))
    if key == "set":
        return "{ %s }" % ", ".join(_render_expr(i) for i in body)
    if key == "prefix":
        return "%s/%s" % (body.get("addr"), body.get("len"))
    if key == "range":
        return "%s-%s" % (_render_expr(body[0]), _render_expr(body[1]))
    if key == "concat":
        return " . ".join(_render_expr(i) for i in body)
    if key == "fib":
        return "fib %s %s" % (" . ".join(body.get("flags") or []), body.get("result"))
    if key == "&":
        return "%s & %s" % (_render_expr(body[0]), _render_expr(body[1]))
    if key == "map":
        return "%s map %s" % (_render_expr(body.get("key")), _render_expr(body.get("data")))
    if key == "elem":
        return _render_expr(body.get("val"))
    return "%s(%s)" % (key, json.dumps(body, sort_keys=True))


# ---------------------------------------------------------------------------------------------
# Compilation
# ---------------------------------------------------------------------------------------------

class Getter(object):
    """A left-hand expression: fn(ctx) -> value | MISMATCH; raises _Unknown. kind names how the
    right-hand side is read."""

    __slots__ = ("fn", "kind", "desc")

    def __init__(self, fn, kind, desc):
        self.fn = fn
        self.kind = kind
        self.desc = desc


def _payload_getter(body):
    proto = body.get("protocol")
    field = body.get("field")
    desc = "%s %s" % (proto, field)
    if proto in ("ip", "ip6"):
        want = 4 if proto == "ip" else 6
        kind = "addr%d" % want
        if field == "saddr":
            return Getter(lambda c: c.src if c.version == want else MISMATCH, kind, desc)
        if field == "daddr":
            return Getter(_daddr_getter(want, desc), kind, desc)
        if field in ("protocol", "nexthdr"):
            return Getter(lambda c: 6 if c.version == want else MISMATCH, "proto", desc)
        if field == "version":
            return Getter(lambda c: want if c.version == want else MISMATCH, "int", desc)
        return Getter(_unknown_getter(desc, lambda c: c.version == want), "int", desc)
    if proto in ("tcp", "th"):
        if field == "dport":
            return Getter(lambda c: c.dport, "port", desc)
        if field == "sport":
            def sport(c):
                if c.sport is None:
                    raise _Unknown("%s (the source port is not given)" % desc)
                return c.sport
            return Getter(sport, "port", desc)
        if field == "flags" and proto == "tcp":
            return Getter(lambda c: SYN_FLAGS, "tcpflags", desc)
        return Getter(_unknown_getter(desc), "int", desc)
    if proto in ("udp", "udplite", "icmp", "icmpv6", "sctp", "dccp", "esp", "ah", "comp", "gre", "igmp", "arp"):
        return Getter(lambda c: MISMATCH, "int", desc)
    return Getter(_unknown_getter(desc), "int", desc)


def _daddr_getter(want, desc):
    def fn(c):
        if c.version != want:
            return MISMATCH
        if c.dst is None:  # REDIRECT to the incoming interface's address, not known
            raise _Unknown(desc)
        return c.dst
    return fn


def _unknown_getter(desc, applies=None):
    def fn(c):
        if applies is not None and not applies(c):
            return MISMATCH
        raise _Unknown(desc)
    return fn


def _meta_getter(body):
    key = body.get("key")
    desc = "meta %s" % key
    if key in ("iifname", "iif"):
        def iif(c):
            if c.iif is None:
                raise _Unknown("%s (the incoming interface is not given)" % desc)
            return c.iif
        return Getter(iif, "ifname", desc)
    if key in ("oifname", "oif"):
        def oif(c):
            if c.oif is None:
                raise _Unknown("%s (the outgoing interface is not given)" % desc)
            if c.oif == "":
                return MISMATCH  # no output device before routing: the expression breaks
            return c.oif
        return Getter(oif, "ifname", desc)
    if key == "l4proto":
        return Getter(lambda c: 6, "proto", desc)
    if key == "nfproto":
        return Getter(lambda c: "ipv4" if c.version == 4 else "ipv6", "str", desc)
    if key == "protocol":
        return Getter(lambda c: "ip" if c.version == 4 else "ip6", "str", desc)
    if key == "mark":
        return Getter(lambda c: c.mark, "int", desc)
    if key == "pkttype":
        return Getter(lambda c: "host", "str", desc)
    if key in ("skuid", "skgid"):
        def sk(c):
            if c.direction == "input":
                return MISMATCH  # no local socket on an incoming SYN
            raise _Unknown(desc)
        return Getter(sk, "int", desc)
    return Getter(_unknown_getter(desc), "int", desc)


def _ct_getter(body):
    key = body.get("key")
    direction = body.get("dir")
    desc = "ct %s%s" % ((direction + " ") if direction else "", key)
    if key == "state":
        def state(c):
            if c.ct == "unknown":
                raise _Unknown("%s (chain at the conntrack priority)" % desc)
            return c.ct
        return Getter(state, "ctstate", desc)

    def tracked(fn):
        def get(c):
            if c.ct == "unknown":
                raise _Unknown(desc)
            if c.ct in ("invalid", "untracked"):
                return MISMATCH  # no conntrack entry: nft_ct_get_eval breaks
            return fn(c)
        return get
    if key == "status":
        return Getter(tracked(lambda c: {"dnat"} if c.dnat else set()), "ctstatus", desc)
    if key == "mark":
        return Getter(tracked(lambda c: c.ctmark), "int", desc)
    if key == "direction":
        return Getter(tracked(lambda c: "original"), "str", desc)
    if key in ("l3proto",):
        return Getter(tracked(lambda c: "ipv4" if c.version == 4 else "ipv6"), "str", desc)
    if key in ("protocol", "proto"):
        return Getter(tracked(lambda c: 6), "proto", desc)
    if key == "zone":
        return Getter(tracked(lambda c: 0), "int", desc)
    if key in ("ip daddr", "ip6 daddr", "daddr", "ip saddr", "ip6 saddr", "saddr"):
        want = 4 if key.startswith("ip ") else (6 if key.startswith("ip6") else None)
        kind = "addr%d" % want if want else "addr"
        reply = direction == "reply"
        src = key.endswith("saddr")

        def addr(c):
            if want is not None and c.version != want:
                return MISMATCH
            if src:
                return c.dst if reply else c.src
            return c.src if reply else c.orig_dst
        return Getter(tracked(addr), kind, desc)
    if key in ("proto-dst", "proto-src"):
        reply = direction == "reply"

        def port(c):
            if key == "proto-dst":
                if reply:
                    if c.sport is None:
                        raise _Unknown(desc)
                    return c.sport
                return c.orig_dport
            if reply:
                return c.dport
            if c.sport is None:
                raise _Unknown(desc)
            return c.sport
        return Getter(tracked(port), "port", desc)
    return Getter(_unknown_getter(desc), "int", desc)


def _fib_getter(body):
    flags = body.get("flags") or []
    result = body.get("result")
    desc = "fib %s %s" % (" . ".join(flags), result)
    if result == "type" and "daddr" in flags and not set(flags) - {"daddr", "iif"}:
        limit = "iif" in flags

        def fib_type(c):
            t = c.addrtype("dst", limit)
            if t is None:
                raise _Unknown("%s (the host's addresses are not given)" % desc)
            return t.lower()
        return Getter(fib_type, "str", desc)
    if result == "oif" and "saddr" in flags:
        loose = "iif" not in flags

        def fib_oif(c):
            ok = c.rpfilter(loose)
            if ok is None:
                raise _Unknown("%s (reverse path; the host's addresses are not given)" % desc)
            return c.iif if ok else 0
        return Getter(fib_oif, "fiboif", desc)
    return Getter(_unknown_getter(desc), "int", desc)


class Compiler(object):
    """Compiles the rules of one nft table."""

    def __init__(self, table, text_parser=None):
        self.table = table
        self.family = table["family"]
        self.sets = table["sets"]
        self.text_parser = text_parser
        self.anon = 0
        self.current = None

    # -- left-hand expressions -----------------------------------------------------------------
    def getter(self, x):
        if isinstance(x, dict) and len(x) == 1:
            key, body = list(x.items())[0]
            if key == "payload":
                if "protocol" not in body:
                    return Getter(_unknown_getter("raw payload"), "int", "raw payload")
                return _payload_getter(body)
            if key == "meta":
                return _meta_getter(body)
            if key == "ct":
                return _ct_getter(body)
            if key == "fib":
                return _fib_getter(body)
            if key == "concat":
                parts = [self.getter(p) for p in body]

                def concat(c):
                    values = []
                    for p in parts:
                        v = p.fn(c)
                        if v is MISMATCH:
                            return MISMATCH
                        values.append(v)
                    return tuple(values)
                g = Getter(concat, ("concat", tuple(p.kind for p in parts)), " . ".join(p.desc for p in parts))
                return g
            if key in ("&", "|", "^"):
                inner = self.getter(body[0])
                operand = body[1]
                mask = self.scalar(inner.kind, operand)
                if not isinstance(mask, int):
                    raise ValueError("cannot use %r as a bit mask" % (operand,))

                def binop(c, key=key):
                    v = inner.fn(c)
                    if v is MISMATCH:
                        return v
                    if key == "&":
                        return v & mask
                    if key == "|":
                        return v | mask
                    return v ^ mask
                return Getter(binop, inner.kind, "%s %s %s" % (inner.desc, key, _render_expr(operand)))
            if key == "exthdr":
                desc = "exthdr %s %s" % (body.get("name"), body.get("field", ""))
                return Getter(lambda c: MISMATCH, "exthdr", desc)  # a SYN carries no extension header
            if key == "tcp option":
                desc = "tcp option %s %s" % (body.get("name"), body.get("field", ""))
                if body.get("name") == "maxseg" and not body.get("field"):
                    return Getter(lambda c: True, "bool", desc)
                if body.get("name") == "maxseg" and body.get("field") == "size":
                    return Getter(lambda c: c.mss, "mss", desc)
                return Getter(_unknown_getter(desc), "int", desc)
            if key == "map":
                return self.map_getter(body)
            desc = _render_expr(x)
            return Getter(_unknown_getter(desc), "int", desc)
        desc = _render_expr(x)
        return Getter(_unknown_getter(desc), "int", desc)

    def map_getter(self, body):
        key = self.getter(body.get("key"))
        data = body.get("data")
        elems = self.elements(data)
        entries = [(self.matcher(key.kind, k), v) for k, v in elems]
        desc = "%s map %s" % (key.desc, _render_expr(data))

        def lookup(c):
            v = key.fn(c)
            if v is MISMATCH:
                return MISMATCH
            for test, value in entries:
                if test(v):
                    return value
            return MISMATCH
        return Getter(lookup, "mapvalue", desc)

    # -- right-hand values ---------------------------------------------------------------------
    def elements(self, data):
        """Elements of an anonymous set/map or a named one; map elements as (key, value)."""
        if isinstance(data, str) and data.startswith("@"):
            spec = self.sets.get(data[1:])
            if spec is None:
                raise ValueError("unknown set %s" % data)
            if spec["kind"] == "map":
                return [(e[0], e[1]) for e in spec["elem"]]
            return spec["elem"]
        if isinstance(data, dict) and "set" in data:
            items = data["set"]
            if items and isinstance(items[0], list) and len(items[0]) == 2 and not isinstance(items[0][0], list):
                return [(e[0], e[1]) for e in items]
            return items
        raise ValueError("not a set: %r" % (data,))

    def scalar(self, kind, v):
        if isinstance(v, dict) and "elem" in v:
            v = v["elem"].get("val")
        if kind in ("addr4", "addr6", "addr"):
            if isinstance(v, str):
                return parse_ip(v)[1]
            raise ValueError("not an address: %r" % (v,))
        if kind == "port":
            if isinstance(v, int):
                return v
            if isinstance(v, str) and v.isdigit():
                return int(v)
            if v in TCP_PORT_NAMES:
                return TCP_PORT_NAMES[v]
            raise ValueError("not a port: %r" % (v,))
        if kind == "proto":
            if isinstance(v, int):
                return v
            if v in PROTOCOLS:
                return PROTOCOLS[v]
            raise ValueError("unknown protocol %r" % (v,))
        if kind == "tcpflags":
            if isinstance(v, int):
                return v
            names = v if isinstance(v, list) else [v]
            bits = 0
            for name in names:
                if isinstance(name, int):
                    bits |= name
                elif name in TCP_FLAGS:
                    bits |= TCP_FLAGS[name]
                else:
                    raise ValueError("unknown tcp flag %r" % (name,))
            return bits
        if kind == "int":
            if isinstance(v, int):
                return v
            if isinstance(v, str):
                try:
                    return int(v, 0)
                except ValueError:
                    return v
            return v
        return v

    def matcher(self, kind, right):
        """A test value -> bool for one right-hand side element (scalar, prefix, range, concat)."""
        if isinstance(right, dict) and "elem" in right:
            right = right["elem"].get("val")
        if isinstance(kind, tuple) and kind[0] == "concat":
            if not (isinstance(right, dict) and "concat" in right):
                raise ValueError("concatenation expected: %r" % (right,))
            parts = [self.matcher(k, r) for k, r in zip(kind[1], right["concat"])]
            return lambda v: all(p(x) for p, x in zip(parts, v))
        if isinstance(right, dict) and "prefix" in right:
            base = parse_ip(right["prefix"]["addr"])
            version, value = base
            bits = 32 if version == 4 else 128
            plen = int(right["prefix"]["len"])
            inv = (1 << (bits - plen)) - 1
            lo = value & ~inv
            hi = lo | inv
            return lambda v: isinstance(v, int) and lo <= v <= hi
        if isinstance(right, dict) and "range" in right:
            lo = self.scalar(kind, right["range"][0])
            hi = self.scalar(kind, right["range"][1])
            return lambda v: lo <= v <= hi
        if kind == "ifname":
            pattern = right
            if isinstance(pattern, str) and pattern.endswith("*") and not pattern.endswith("\\*"):
                return lambda v: iface_match(pattern, v)
            return lambda v: v == pattern
        if kind == "ctstate":
            names = right if isinstance(right, list) else [right]
            wanted = set(names)
            return lambda v: v in wanted
        if kind == "ctstatus":
            names = right if isinstance(right, list) else [right]
            wanted = set(names)
            return lambda v: bool(v & wanted)
        if kind == "fiboif":
            if right in (0, "0", "missing", False):
                return lambda v: v == 0
            return lambda v: v == right
        value = self.scalar(kind, right)
        return lambda v: v == value

    def match_fn(self, body):
        op = body.get("op", "==")
        left = self.getter(body.get("left"))
        right = body.get("right")
        desc = "%s %s%s" % (left.desc, "" if op in ("==", "in") else op + " ", _render_expr(right))
        kind = left.kind
        if kind == "exthdr" and isinstance(right, bool):
            want = right

            def exists(c):
                return (not want) if op in ("==", "in") else want
            return exists, desc
        named = isinstance(right, str) and right.startswith("@")
        dynamic = False
        mask = 0
        if named:
            spec = self.sets.get(right[1:])
            if spec is None:
                raise ValueError("unknown set %s" % right)
            dynamic = "dynamic" in spec["flags"]
            tests = [self.matcher(kind, e) for e in spec["elem"]]
        elif isinstance(right, dict) and "set" in right:
            tests = [self.matcher(kind, e) for e in right["set"]]
        elif op == "in" and kind == "tcpflags":
            mask = self.scalar(kind, right)
            tests = None
        elif kind in ("tcpflags",) and op in ("==", "!="):
            value = self.scalar(kind, right)
            tests = [lambda v, value=value: v == value]
        elif isinstance(right, list) and kind in ("ctstate", "ctstatus"):
            tests = [self.matcher(kind, right)]
        else:
            tests = [self.matcher(kind, right)]
        if op in ("<", ">", "<=", ">="):
            bound = self.scalar(kind, right)
            cmp = {"<": lambda v: v < bound, ">": lambda v: v > bound, "<=": lambda v: v <= bound,
                   ">=": lambda v: v >= bound}[op]

            def ordered(c):
                v = left.fn(c)
                if v is MISMATCH:
                    return False
                return cmp(v)
            return ordered, desc
        negate = op == "!="
        if left.desc in ("tcp sport", "th sport") and right == 0 and op in ("==", "!="):
            # A connecting stack never sends from port 0 (ephemeral ports start above it).
            return (lambda c: negate if c.sport is None else (c.sport == 0) != negate), desc
        if kind == "mss":
            return self.mss_match(right, negate, desc), desc
        if tests is None:  # tcp flags in mask
            def flags_in(c):
                v = left.fn(c)
                if v is MISMATCH:
                    return False
                return bool(v & mask)
            return flags_in, desc

        def fn(c):
            v = left.fn(c)
            if v is MISMATCH:
                return False
            hit = False
            for t in tests:
                if t(v):
                    hit = True
                    break
            if dynamic and not hit:
                raise _Unknown("%s (a dynamic set, filled by traffic)" % desc)
            return hit != negate
        return fn, desc

    def mss_match(self, right, negate, desc):
        """The SYN's MSS: the packet's `mss` when given, else only its lower bound is known (a
        Linux sender advertises at least 536 over IPv4, 1220 over IPv6: minimum MTU minus headers)."""
        items = right["set"] if isinstance(right, dict) and "set" in right else [right]
        intervals = []
        for item in items:
            if isinstance(item, dict) and "range" in item:
                intervals.append((int(item["range"][0]), int(item["range"][1])))
            else:
                value = self.scalar("int", item)
                if not isinstance(value, int):
                    raise ValueError("not an MSS: %r" % (item,))
                intervals.append((value, value))

        def fn(c):
            v = c.mss
            if v is not None:
                return any(lo <= v <= hi for lo, hi in intervals) != negate
            floor = 536 if c.version == 4 else 1220
            if all(hi < floor for _lo, hi in intervals):
                return negate
            if any(lo <= floor and hi >= 65535 for lo, hi in intervals):
                return not negate
            raise _Unknown("%s (the SYN's MSS is not given)" % desc)
        return fn

    # -- statements ----------------------------------------------------------------------------
    def reject(self, body):
        if not body:
            if self.family == "ip":
                return ("icmp", 3)
            if self.family == "ip6":
                return ("icmp6", 4)
            return ("icmpx", "port-unreachable")
        rtype = body.get("type")
        expr = body.get("expr")
        if rtype == "tcp reset":
            return "tcp-reset"
        if rtype == "icmpx":
            name = expr or "port-unreachable"
            if name not in NFT_ICMPX:
                raise ValueError("unknown icmpx type %r" % name)
            return ("icmpx", name)
        if rtype == "icmp":
            code = expr if isinstance(expr, int) else NFT_ICMP4.get(expr or "port-unreachable")
            if code is None:
                raise ValueError("unknown icmp reject type %r" % expr)
            return ("icmp4", code)
        if rtype == "icmpv6":
            code = expr if isinstance(expr, int) else NFT_ICMP6.get(expr or "port-unreachable")
            if code is None:
                raise ValueError("unknown icmpv6 reject type %r" % expr)
            return ("icmp6", code)
        raise ValueError("unknown reject type %r" % rtype)

    def verdict(self, v):
        """A verdict object ({"accept": null}, {"jump": {"target": x}}) -> (kind, data)."""
        if isinstance(v, dict) and len(v) == 1:
            key, body = list(v.items())[0]
            if key in ("accept", "drop", "return", "continue"):
                return (key, None)
            if key in ("jump", "goto"):
                return (key, body["target"])
        raise ValueError("not a verdict: %r" % (v,))

    def nat_value(self, x, kind):
        """A dnat/redirect address or port: constant, range, or map lookup -> value or getter."""
        if x is None:
            return None
        if isinstance(x, dict) and "map" in x:
            return self.getter({"map": x["map"]})
        if isinstance(x, dict) and "range" in x:
            return (self.scalar(kind, x["range"][0]), self.scalar(kind, x["range"][1]))
        v = self.scalar(kind, x)
        return (v, v)

    def statement(self, e):
        """-> list of steps."""
        if isinstance(e, str):
            return self.anonymous(e)
        key, body = list(e.items())[0]
        if key == "match":
            fn, desc = self.match_fn(body)
            return [("m", _wrap_unknown(fn), desc)]
        if key in ("counter", "log", "comment", "last", "dup", "secmark"):
            return [("s", "noop", None)]
        if key in ("accept", "drop", "return", "continue"):
            return [("s", key, None)]
        if key in ("jump", "goto"):
            return [("s", key, body["target"])]
        if key == "reject":
            return [("s", "reject", self.reject(body))]
        if key == "notrack":
            return [("s", "notrack", None)]
        if key in ("masquerade", "snat"):
            return [("s", "snat", None)]
        if key == "limit":
            desc = "limit rate %s%s/%s" % ("over " if body.get("inv") else "", body.get("rate"), body.get("per"))
            return [("m", _const_unknown(desc), desc)]
        if key in ("quota", "meter", "ct count"):
            desc = "%s %s" % (key, json.dumps(body, sort_keys=True))
            return [("m", _const_unknown(desc), desc)]
        if key == "set":
            if _has_stmt(body):
                desc = "set %s %s" % (body.get("op"), body.get("set"))
                return [("m", _const_unknown(desc), desc)]
            return [("s", "noop", None)]
        if key == "mangle":
            target = body.get("key") or {}
            if isinstance(target, dict) and target.get("meta", {}).get("key") == "mark":
                return [("s", "mark", self.mark_value(body.get("value")))]
            if isinstance(target, dict) and target.get("ct", {}).get("key") == "mark":
                return [("s", "ctmark", self.mark_value(body.get("value")))]
            if isinstance(target, dict) and "payload" in target and target["payload"].get("field") in (
                    "daddr", "saddr", "dport", "sport"):
                return [("s", "unsupported", "stateless header rewrite: %s" % _render_stmt(e))]
            return [("s", "noop", None)]
        if key == "vmap":
            return [("s", "vmap", self.vmap(body))]
        if key in ("dnat", "redirect"):
            fam = body.get("family") if isinstance(body, dict) else None
            want = {"ip": 4, "ip6": 6}.get(fam)
            if key == "dnat":
                addr_kind = "addr%d" % want if want else "addr"
                addr = self.nat_value(body.get("addr"), addr_kind)
                port = self.nat_value(body.get("port"), "port")
                return [("s", "dnat", _dnat_data(addr, port, want))]
            port = self.nat_value(body.get("port"), "port") if body else None
            return [("s", "redirect", _redirect_data(port))]
        if key == "xt":
            return [("s", "unsupported", "iptables-nft compat expression xt %s %s (read this table "
                     "with iptables-nft-save)" % (body.get("type"), body.get("name")))]
        return [("s", "unsupported", "nft statement %s" % _render_stmt(e))]

    def anonymous(self, e):
        """`jump { ... }` / `goto { ... }`: nft -j (1.0.x) gives the chain as text. Its rules are
        read with the text parser into a chain of their own."""
        from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_nft_text import (
            anonymous_chain_rules, rule_to_expr)
        m = re.match(r"^\s*(jump|goto)\s*\{(.*)\}\s*$", e, re.S)
        if not m or "(not understood:" in e:
            return [("s", "unsupported", "not understood: %s" % " ".join(e.split())[:200])]
        self.anon += 1
        name = "%s{anonymous %d}" % (self.current or "", self.anon)
        rules = []
        for text in anonymous_chain_rules(m.group(2)):
            rules.append({"handle": None, "position": len(rules) + 1, "expr": rule_to_expr(text), "comment": None,
                          "text": text})
        self.table["chains"][name] = {"handle": None, "type": None, "hook": None, "prio": None, "policy": None,
                                      "devices": None, "rules": rules, "anonymous": True}
        return [("s", m.group(1), name)]

    def mark_value(self, v):
        if isinstance(v, int):
            return ("set", v, None)
        if isinstance(v, str):
            return ("set", int(v, 0), None)
        raise ValueError("cannot compute mark %r" % (v,))

    def vmap(self, body):
        key = self.getter(body.get("key"))
        entries = [(self.matcher(key.kind, k), self.verdict(v)) for k, v in self.elements(body.get("data"))]
        desc = "%s vmap %s" % (key.desc, _render_expr(body.get("data")))

        def lookup(c):
            try:
                v = key.fn(c)
            except _Unknown as exc:
                raise Unknown("%s (%s)" % (desc, exc.desc))
            if v is MISMATCH:
                return None
            for test, verdict in entries:
                if test(v):
                    return verdict
            return None
        return lookup

    def rule_steps(self, rule):
        steps = []
        keys = {}
        leading = True
        if self.family not in ("ip", "ip6"):
            # `reject with icmp ...` / `icmpv6 ...` in inet/netdev/bridge tables carry a
            # `meta nfproto` dependency in the bytecode that nft 1.0.x leaves out of both listings
            # (seen with nft --debug=netlink): the rule only applies to that family.
            for e in rule["expr"]:
                if isinstance(e, dict) and isinstance(e.get("reject"), dict):
                    rtype = e["reject"].get("type")
                    if rtype in ("icmp", "icmpv6"):
                        want = 4 if rtype == "icmp" else 6
                        steps.append(("m", lambda c, want=want: c.version == want,
                                      "meta nfproto %s (implied by reject with %s)" % (
                                          "ipv4" if want == 4 else "ipv6", rtype)))
        for e in rule["expr"]:
            new = self.statement(e)
            for step in new:
                if step[0] == "m" and leading:
                    k = _index_key(e)
                    if k:
                        keys[k[0]] = k[1]
                elif step[0] == "s" and step[1] != "noop":
                    leading = False
            steps.extend(new)
        return steps, keys


def _has_stmt(body):
    elem = body.get("elem")
    return isinstance(elem, dict) and "elem" in elem and any(
        k in elem["elem"] for k in ("limit", "counter", "quota", "ct count"))


def _const_unknown(desc):
    def fn(c):
        return None
    return fn


def _wrap_unknown(fn):
    def wrapped(c):
        try:
            return fn(c)
        except _Unknown:
            return None
    wrapped.inner = fn
    return wrapped


def _index_key(e):
    """(dim, (lo, hi)) for `ip saddr X`, `ip daddr X/N`, `tcp dport N`, used by the chain index."""
    body = e.get("match") if isinstance(e, dict) else None
    if not body or body.get("op") not in ("==",):
        return None
    left = body.get("left") or {}
    right = body.get("right")
    payload = left.get("payload") if isinstance(left, dict) else None
    if not payload:
        return None
    field = payload.get("field")
    proto = payload.get("protocol")
    try:
        if proto in ("ip", "ip6") and field in ("saddr", "daddr"):
            dim = "src" if field == "saddr" else "dst"
            if isinstance(right, str) and not right.startswith("@"):
                v = parse_ip(right)[1]
                return dim, (v, v)
            if isinstance(right, dict) and "prefix" in right:
                version, v = parse_ip(right["prefix"]["addr"])
                bits = 32 if version == 4 else 128
                inv = (1 << (bits - int(right["prefix"]["len"]))) - 1
                return dim, (v & ~inv, (v & ~inv) | inv)
        if proto in ("tcp", "th") and field == "dport" and isinstance(right, int):
            return "dport", (right, right)
    except (PacketError, ValueError):
        return None
    return None


def _dnat_data(addr, port, want):
    """The data of a dnat statement for netfilter_eval: (lo, hi, plo, phi) or a callable
    returning it."""
    if callable(getattr(addr, "fn", None)) or callable(getattr(port, "fn", None)):
        def compute(c):
            a = addr
            p = port
            if want is not None and c.version != want:
                return (None, None, None, None)
            if a is not None and hasattr(a, "fn"):
                try:
                    v = a.fn(c)
                except _Unknown as exc:
                    raise _eval_unknown(exc.desc)
                if v is MISMATCH:
                    return (None, None, None, None)  # no element: the lookup breaks the rule
                if isinstance(v, dict) and "concat" in v:
                    ip_v, port_v = v["concat"]
                    ip_i = parse_ip(ip_v)[1]
                    return (ip_i, ip_i, int(port_v), int(port_v))
                ip_i = parse_ip(v)[1]
                a = (ip_i, ip_i)
            if p is not None and hasattr(p, "fn"):
                try:
                    v = p.fn(c)
                except _Unknown as exc:
                    raise _eval_unknown(exc.desc)
                if v is MISMATCH:
                    return (None, None, None, None)
                p = (int(v), int(v))
            return ((a[0], a[1]) if a else (None, None)) + ((p[0], p[1]) if p else (None, None))
        return (compute, None, None, None)
    lo, hi = addr if addr else (None, None)
    plo, phi = port if port else (None, None)
    if want is not None:
        def fixed(c):
            if c.version != want:
                return (None, None, None, None)
            return (lo, hi, plo, phi)
        return (fixed, None, None, None)
    return (lo, hi, plo, phi)


def _redirect_data(port):
    if port is None:
        return None
    if hasattr(port, "fn"):
        def compute(c):
            try:
                v = port.fn(c)
            except _Unknown as exc:
                raise _eval_unknown(exc.desc)
            if v is MISMATCH:
                return None  # no element: the lookup breaks the rule, as for dnat
            return (int(v), int(v))
        return compute
    return port


def _eval_unknown(desc):
    return Unknown(desc)


# ---------------------------------------------------------------------------------------------
# Runtime tables for netfilter_eval
# ---------------------------------------------------------------------------------------------

def load(source):
    """source: {"json": text|obj, "parsed": parsed, "text": `nft -a list ruleset` text}
    -> parsed JSON tables with rule texts merged in."""
    parsed = source.get("parsed")
    if parsed is None:
        if source.get("json"):
            parsed = parse_nft_json(source["json"], source=source.get("source") or "nft_json")
        elif source.get("text"):
            from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_nft_text import (
                parse_nft_ruleset_text)
            parsed = parse_nft_ruleset_text(source["text"], source=source.get("text_source") or "nft_text")
            return parsed
        else:
            return []
    if source.get("text"):
        merge_text(parsed, parse_nft_text(source["text"], source=source.get("text_source") or "nft_text"))
    for name in source.get("managed") or []:
        for table in parsed["tables"]:
            if "%s %s" % (table["family"], table["name"]) == name:
                table["managed_by"] = "iptables-nft"
    return parsed
