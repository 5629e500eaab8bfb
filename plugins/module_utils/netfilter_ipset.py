# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse `ipset save` (= `ipset list -o save`) output and match packets against the sets, for
`-m set --match-set NAME FLAGS` in iptables rules.

parse_ipset_save(text) -> {"sets": {name: {"type": "hash:net", "family": "inet",
                           "options": {...}, "members": [{"entry": "10.0.0.0/8", "nomatch": False}]}}}

Standard library only (runs on managed hosts, Python 3.8+).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_packet import (
    PacketError, parse_ip, parse_network, parse_port_range,
)

_FLAGLESS = ("nomatch", "forceadd", "counters", "comment", "skbinfo", "bucketsize")


class IpsetParseError(ValueError):
    def __init__(self, source, lineno, message):
        self.source = source
        self.lineno = lineno
        super(IpsetParseError, self).__init__("%s:%d: %s" % (source, lineno, message))


def _split(line):
    out = []
    cur = []
    quote = False
    for ch in line:
        if ch == '"':
            quote = not quote
        elif ch in " \t" and not quote:
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


def parse_ipset_save(text, source="ipset save"):
    sets = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = _split(line)
        verb = words[0]
        if verb == "create":
            if len(words) < 3:
                raise IpsetParseError(source, lineno, "create needs NAME TYPE")
            opts = {}
            i = 3
            while i < len(words):
                key = words[i]
                if key in _FLAGLESS or i + 1 >= len(words):
                    opts[key] = True
                    i += 1
                else:
                    opts[key] = words[i + 1]
                    i += 2
            sets[words[1]] = {"type": words[2], "family": opts.get("family", "inet"), "options": opts, "members": []}
        elif verb == "add":
            if len(words) < 3:
                raise IpsetParseError(source, lineno, "add needs NAME ENTRY")
            spec = sets.get(words[1])
            if spec is None:
                raise IpsetParseError(source, lineno, "add to unknown set %s" % words[1])
            spec["members"].append({"entry": words[2], "nomatch": "nomatch" in words[3:]})
        else:
            raise IpsetParseError(source, lineno, "expected create or add, got %r" % verb)
    return {"source": source, "sets": sets}


def summarize(parsed):
    return dict((name, {"type": s["type"], "family": s["family"], "entries": len(s["members"])})
                for name, s in parsed["sets"].items())


class RuntimeSet(object):
    """One set, compiled: dimension kinds from the type (hash:net,port -> ["net", "port"])."""

    def __init__(self, name, spec, all_sets):
        self.name = name
        self.type = spec["type"]
        self.family = spec["family"]
        self.all_sets = all_sets
        method, _sep, dims = self.type.partition(":")
        self.method = method
        self.dims = dims.split(",") if dims else []
        self.members = []
        for member in spec["members"]:
            self.members.append((self._entry(member["entry"]), member["nomatch"]))

    def _entry(self, entry):
        if self.method == "list":
            return entry
        parts = entry.split(",")
        out = []
        for dim, part in zip(self.dims, parts):
            if dim in ("ip", "net"):
                if "-" in part and "/" not in part:
                    a, b = part.split("-", 1)
                    out.append(("range", parse_ip(a)[1], parse_ip(b)[1]))
                else:
                    _v, lo, hi, _m = parse_network(part)
                    out.append(("range", lo, hi))
            elif dim == "port":
                proto = "tcp"
                if ":" in part and not part.replace(":", "").isdigit():
                    proto, part = part.split(":", 1)
                lo, hi = parse_port_range(part.replace("-", ":"))
                out.append(("port", proto, lo, hi))
            elif dim == "iface":
                out.append(("iface", part.replace("physdev:", "")))
            elif dim == "mark":
                out.append(("mark", int(part, 0)))
            else:
                out.append(("unknown", part))
        return out

    def match(self, ctx, flags, depth=0):
        """True/False, or None when the set's type or the packet leaves it open."""
        if self.method == "list":
            unknown = False
            for member, _nomatch in self.members:
                sub = self.all_sets.get(member)
                if sub is None:
                    unknown = True
                    continue
                hit = sub.match(ctx, flags, depth + 1)
                if hit:
                    return True
                if hit is None:
                    unknown = True
            return None if unknown else False
        want_family = "inet" if ctx.version == 4 else "inet6"
        if self.dims and self.dims[0] in ("ip", "net") and self.family != want_family:
            return False
        values = []
        for i, dim in enumerate(self.dims):
            direction = flags[i] if i < len(flags) else flags[-1]
            if dim in ("ip", "net"):
                values.append(ctx.src if direction == "src" else ctx.dst)
            elif dim == "port":
                port = ctx.sport if direction == "src" else ctx.dport
                values.append(port)
            elif dim == "iface":
                values.append(ctx.iif if direction == "src" else ctx.oif)
            elif dim == "mark":
                values.append(ctx.mark)
            else:
                return None
        best = None  # (specificity, nomatch)
        unknown = False
        for member, nomatch in self.members:
            hit = True
            for spec, value in zip(member, values):
                if value is None:
                    hit = None
                    break
                kind = spec[0]
                if kind == "range":
                    ok = spec[1] <= value <= spec[2]
                elif kind == "port":
                    ok = spec[1] in ("tcp", "any") and spec[2] <= value <= spec[3]
                elif kind == "iface":
                    ok = value == spec[1]
                elif kind == "mark":
                    ok = value == spec[1]
                else:
                    hit = None
                    break
                if not ok:
                    hit = False
                    break
            if hit is None:
                unknown = True
                continue
            if hit:
                size = sum((s[2] - s[1]) if s[0] == "range" else 0 for s in member)
                if best is None or size < best[0]:
                    best = (size, nomatch)
        if best is not None:
            return not best[1]  # the most specific entry wins; a nomatch entry excludes
        return None if unknown else False


def runtime_sets(source):
    """source: {"text": ipset save output} or {"sets": parsed sets} -> {name: RuntimeSet}."""
    sets = source.get("sets")
    if not sets or not isinstance(next(iter(sets.values())), dict) or "members" not in next(iter(sets.values())):
        text = source.get("text") or ""
        sets = parse_ipset_save(text, source=source.get("source") or "ipset save")["sets"]
    out = {}
    try:
        for name, spec in sets.items():
            out[name] = RuntimeSet(name, spec, out)
    except PacketError as exc:
        raise IpsetParseError(source.get("source") or "ipset save", 0, "set %s: %s" % (name, exc))
    return out
