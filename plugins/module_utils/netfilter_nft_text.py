# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read plain `nft list ruleset` / `nft -a list ruleset` text into the same shape as
netfilter_nft.parse_nft_json, so a ruleset pasted as text (or an anonymous chain, which nft 1.0.x
cannot print in JSON) can be evaluated.

parse_nft_ruleset_text(text) -> {"source", "metainfo": None, "tables": [TABLE...], "warnings"}
rule_to_expr(text) -> [expr, ...] in `nft -j` form

The grammar covered is what `nft list ruleset` prints for the statements the evaluator knows
(matches on ip/ip6/tcp/udp/th/meta/ct/fib, sets, maps, vmaps, verdicts, reject, nat, mark,
counter, log, limit, comment, notrack, anonymous chains). Anything else becomes a string
expression, which the evaluator reports as unsupported instead of guessing.
Standard library only (runs on managed hosts, Python 3.8+).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_packet import PacketError, parse_ip

_PUNCT = "{}(),"
_VERDICTS = ("accept", "drop", "return", "continue", "queue")
_BARE_META = ("iifname", "oifname", "iif", "oif", "iiftype", "oiftype", "skuid", "skgid", "rtclassid", "cpu",
              "iifgroup", "oifgroup", "cgroup", "ibrname", "obrname", "sdif", "sdifname", "mark", "l4proto",
              "nfproto", "pkttype", "priority", "length", "protocol", "random", "secpath", "time", "day", "hour")
_PAYLOAD_PROTOS = ("ip", "ip6", "tcp", "udp", "udplite", "th", "sctp", "dccp", "icmp", "icmpv6", "esp", "ah",
                   "comp", "igmp", "ether", "vlan", "arp", "gre")
_EXTHDRS = ("hbh", "rt", "frag", "dst", "mh", "srh", "exthdr")
_FLAG_KEYS = (("ct", "state"), ("ct", "status"), ("tcp", "flags"))
_STATEMENT_WORDS = set(_VERDICTS) | {"jump", "goto", "reject", "counter", "log", "comment", "limit", "notrack",
                                     "masquerade", "snat", "dnat", "redirect", "quota", "meter", "queue", "dup",
                                     "fwd", "tproxy", "synproxy", "flow", "set", "add", "update", "delete"}


class NftTextError(ValueError):
    def __init__(self, source, where, message):
        self.source = source
        self.where = where
        super(NftTextError, self).__init__("%s:%s: %s" % (source, where, message))


def _tokens(text):
    out = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            out.append(("nl", "\n"))
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c == '"':
            j = i + 1
            buf = []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            out.append(("str", "".join(buf)))
            i = j + 1
            continue
        if c in _PUNCT:
            out.append(("p", c))
            i += 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] not in _PUNCT and text[j] != '"':
            j += 1
        out.append(("w", text[i:j]))
        i = j
    return out


class _Stream(object):
    def __init__(self, toks):
        self.toks = list(toks)
        self.pos = 0

    def skip_nl(self):
        while self.pos < len(self.toks) and self.toks[self.pos][0] == "nl":
            self.pos += 1

    def peek(self, skip=True):
        if skip:
            self.skip_nl()
        return self.toks[self.pos] if self.pos < len(self.toks) else (None, None)

    def word(self):
        kind, value = self.peek()
        return value if kind == "w" else None

    def next(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def take(self, value):
        if self.peek()[1] == value and self.peek()[0] in ("w", "p"):
            self.pos += 1
            return True
        return False

    def done(self):
        return self.peek()[0] is None


def _value(word):
    """A scalar as nft -j would give it: ints for numbers, prefix/range objects, strings."""
    if re.match(r"^\d+$", word):
        return int(word)
    if re.match(r"^0x[0-9a-fA-F]+$", word):
        return int(word, 16)
    if "/" in word:
        addr, _sep, plen = word.partition("/")
        if plen.isdigit():
            try:
                parse_ip(addr)
                return {"prefix": {"addr": addr, "len": int(plen)}}
            except PacketError:
                pass
    if "-" in word:
        lo, _sep, hi = word.partition("-")
        if lo.isdigit() and hi.isdigit():
            return {"range": [int(lo), int(hi)]}
        try:
            parse_ip(lo)
            parse_ip(hi)
            return {"range": [lo, hi]}
        except PacketError:
            pass
    return word


def _verdict_value(s):
    w = s.word()
    if w in ("accept", "drop", "return", "continue"):
        s.next()
        return {w: None}
    if w in ("jump", "goto"):
        s.next()
        return {w: {"target": s.next()[1]}}
    return None


def _element(s):
    """One set element: value [. value]* [: mapped value]."""
    parts = [_atom(s)]
    while s.take("."):
        parts.append(_atom(s))
    key = parts[0] if len(parts) == 1 else {"concat": parts}
    if s.peek()[1] == ":" and s.peek()[0] == "w":
        s.next()
        verdict = _verdict_value(s)
        if verdict is not None:
            return [key, verdict]
        vparts = [_atom(s)]
        while s.take("."):
            vparts.append(_atom(s))
        return [key, vparts[0] if len(vparts) == 1 else {"concat": vparts}]
    return key


def _atom(s):
    kind, value = s.next()
    if kind == "str":
        return value
    if kind == "w":
        return _value(value)
    raise ValueError("unexpected %r" % (value,))


def _set_literal(s):
    """After '{': elements up to '}'."""
    items = []
    while True:
        if s.take("}"):
            break
        if s.done():
            raise ValueError("unterminated set")
        items.append(_element(s))
        s.take(",")
    return items


def _rhs(s):
    kind, value = s.peek()
    if kind == "p" and value == "{":
        s.next()
        return {"set": _set_literal(s)}
    if kind == "w" and value.startswith("@"):
        s.next()
        return value
    first = _atom(s)
    items = [first]
    while s.peek(skip=False)[0] == "p" and s.peek(skip=False)[1] == ",":
        s.next()
        items.append(_atom(s))
    return items if len(items) > 1 else first


def _lhs_primary(s):
    w = s.word()
    if w is None:
        raise ValueError("expected an expression, got %r" % (s.peek()[1],))
    if w == "meta":
        s.next()
        return {"meta": {"key": s.next()[1]}}
    if w in _BARE_META:
        s.next()
        return {"meta": {"key": w}}
    if w == "ct":
        s.next()
        direction = None
        if s.word() in ("original", "reply"):
            direction = s.next()[1]
        key = s.next()[1]
        if key in ("ip", "ip6"):
            key = "%s %s" % (key, s.next()[1])
        body = {"key": key}
        if direction:
            body["dir"] = direction
        return {"ct": body}
    if w == "fib":
        s.next()
        flags = [s.next()[1]]
        while s.take("."):
            flags.append(s.next()[1])
        result = s.next()[1]
        return {"fib": {"result": result, "flags": flags}}
    if w == "tcp" and s.toks[s.pos + 1][1] == "option":
        s.next()
        s.next()
        name = s.next()[1]
        body = {"name": name}
        if s.word() and s.word() not in _STATEMENT_WORDS and s.word() not in ("==", "!=", "set", "exists", "missing") \
                and not s.word()[0].isdigit():
            body["field"] = s.next()[1]
        return {"tcp option": body}
    if w in _PAYLOAD_PROTOS:
        s.next()
        return {"payload": {"protocol": w, "field": s.next()[1]}}
    if w in _EXTHDRS:
        s.next()
        return {"exthdr": {"name": w, "field": s.next()[1]}}
    raise ValueError("unknown expression %r" % w)


def _lhs(s):
    left = _lhs_primary(s)
    if s.peek()[1] == ".":
        parts = [left]
        while s.take("."):
            parts.append(_lhs_primary(s))
        left = {"concat": parts}
    op = s.word()
    if op in ("&", "|", "^"):
        s.next()
        if s.take("("):
            flags = []
            while not s.take(")"):
                tok = s.next()[1]
                if tok not in ("|", ","):
                    flags.append(_value(tok))
            operand = flags
        else:
            operand = _rhs(s)
        left = {op: [left, operand]}
    return left


def _statement(s, exprs):
    w = s.word()
    kind, value = s.peek()
    if kind == "str":
        raise ValueError("unexpected string %r" % value)
    if w in _VERDICTS and w != "queue":
        s.next()
        exprs.append({w: None})
        return
    if w in ("jump", "goto"):
        s.next()
        if s.peek()[1] == "{":
            body = _brace_text(s)
            exprs.append("%s {%s}" % (w, body))
            return
        exprs.append({w: {"target": s.next()[1]}})
        return
    if w == "reject":
        s.next()
        if s.take("with"):
            rtype = s.next()[1]
            if rtype == "tcp":
                s.take("reset")
                exprs.append({"reject": {"type": "tcp reset"}})
                return
            s.take("type")
            code = s.next()[1]
            exprs.append({"reject": {"type": rtype, "expr": _value(code)}})
            return
        exprs.append({"reject": None})
        return
    if w == "counter":
        s.next()
        body = {}
        while s.word() in ("packets", "bytes"):
            key = s.next()[1]
            body[key] = _value(s.next()[1])
        exprs.append({"counter": body or None})
        return
    if w == "log":
        s.next()
        body = {}
        while s.word() in ("prefix", "level", "group", "snaplen", "queue-threshold", "flags"):
            key = s.next()[1]
            if key == "flags":
                flags = [s.next()[1]]
                while s.take(","):
                    flags.append(s.next()[1])
                body[key] = flags
            else:
                body[key] = s.next()[1]
        exprs.append({"log": body or None})
        return
    if w == "comment":
        s.next()
        exprs.append({"comment": s.next()[1]})
        return
    if w == "limit":
        s.next()
        s.take("rate")
        inv = s.take("over")
        rate = s.next()[1]
        per = "second"
        if "/" in rate:
            rate, per = rate.split("/", 1)
        elif s.word() and "/" in s.word():
            per = s.next()[1].split("/", 1)[1]
        body = {"rate": _value(rate), "per": per}
        if inv:
            body["inv"] = True
        if s.take("burst"):
            body["burst"] = _value(s.next()[1])
            if s.word() in ("packets", "bytes", "kbytes", "mbytes"):
                s.next()
        exprs.append({"limit": body})
        return
    if w == "notrack":
        s.next()
        exprs.append({"notrack": None})
        return
    if w == "masquerade":
        s.next()
        while s.word() in ("random", "persistent", "fully-random", "to"):
            if s.next()[1] == "to":
                s.next()
        exprs.append({"masquerade": None})
        return
    if w in ("snat", "dnat"):
        s.next()
        body = {}
        if s.word() in ("ip", "ip6"):
            body["family"] = s.next()[1]
        if not s.take("to"):
            raise ValueError("%s without to" % w)
        _nat_target(s, body)
        exprs.append({w: body})
        return
    if w == "redirect":
        s.next()
        if s.take("to"):
            port = s.word()
            if port and port.startswith(":") and port[1:] in _PAYLOAD_PROTOS + ("meta", "ct", "numgen", "jhash"):
                # `redirect to :tcp dport map { 83 : 8083 }`: split the word into ':' and the key
                s.toks[s.pos] = ("w", port[1:])
                s.toks.insert(s.pos, ("w", ":"))
                port = ":"
            if port == ":":
                s.next()
                left = _lhs(s)
                s.take("map")
                s.take("{")
                body = {"port": {"map": {"key": left, "data": {"set": _set_literal(s)}}}}
            else:
                s.next()
                body = {"port": _value(port.lstrip(":"))}
            exprs.append({"redirect": body})
        else:
            exprs.append({"redirect": None})
        return
    if w in _STATEMENT_WORDS:
        raise ValueError("statement %r" % w)
    left = _lhs(s)
    op = s.word()
    if op == "vmap":
        s.next()
        exprs.append({"vmap": {"key": left, "data": _rhs(s)}})
        return
    if op == "set":
        s.next()
        val = s.next()[1]
        exprs.append({"mangle": {"key": left, "value": _value(val)}})
        return
    if op in ("==", "!=", "<", ">", "<=", ">="):
        s.next()
    else:
        op = None
    right = _rhs(s)
    if s.word() == "/" and left.get("payload", {}).get("field") == "flags":
        s.next()  # `tcp flags syn / syn,rst`: (flags & mask) == value
        mask = _rhs(s)
        left = {"&": [left, mask if isinstance(mask, list) else [mask]]}
        exprs.append({"match": {"op": op or "==", "left": left, "right": right}})
        return
    if op is None:
        key = None
        if "ct" in left:
            key = ("ct", left["ct"]["key"])
        elif "payload" in left:
            key = (left["payload"]["protocol"], left["payload"]["field"])
        op = "in" if key in _FLAG_KEYS else "=="
    exprs.append({"match": {"op": op, "left": left, "right": right}})


def _nat_target(s, body):
    w = s.word()
    if w and w.startswith(":"):
        s.next()
        body["port"] = _value(w[1:])
        return
    if s.peek()[0] == "w" and (s.word() in _PAYLOAD_PROTOS or s.word() in ("meta", "ct", "numgen", "jhash")):
        left = _lhs(s)
        s.take("map")
        data = _rhs(s)
        body["addr"] = {"map": {"key": left, "data": data}}
        return
    target = s.next()[1]
    addr, port = target, None
    if target.startswith("["):
        end = target.index("]")
        addr, rest = target[1:end], target[end + 1:]
        if rest.startswith(":"):
            port = rest[1:]
    elif target.count(":") == 1:
        addr, port = target.split(":", 1)
    body["addr"] = _value(addr) if "-" in addr else addr
    if port:
        body["port"] = _value(port)


def _brace_text(s):
    """The raw tokens of a `{ ... }` block as text lines (for anonymous chains)."""
    s.next()  # '{'
    depth = 1
    lines = [[]]
    while depth:
        if s.pos >= len(s.toks):
            raise ValueError("unterminated {")
        kind, value = s.toks[s.pos]
        s.pos += 1
        if kind == "p" and value == "{":
            depth += 1
        elif kind == "p" and value == "}":
            depth -= 1
            if depth == 0:
                break
        if kind == "nl":
            lines.append([])
            continue
        lines[-1].append('"%s"' % value if kind == "str" else value)
    return "\n".join(" ".join(line) for line in lines if line)


def rule_to_expr(text):
    """One rule as nft prints it -> expr list. Unreadable statements end as one string (the
    rest of the rule), which the evaluator reports as unsupported."""
    s = _Stream(_tokens(text))
    exprs = []
    while not s.done():
        start = s.pos
        try:
            _statement(s, exprs)
        except (ValueError, IndexError, KeyError, AttributeError) as exc:
            rest = " ".join(v if k != "str" else '"%s"' % v for k, v in s.toks[start:] if k != "nl")
            family = re.match(r"^(?:dnat|snat) (ip6?) to ", rest)
            if family:
                # `dnat ip to <what we cannot read>` does nothing to a packet of the other family
                # (nft_nat_inet_eval): only that family's packets are left undecided.
                exprs.append({"match": {"op": "==", "left": {"meta": {"key": "nfproto"}},
                                        "right": "ipv4" if family.group(1) == "ip" else "ipv6"}})
            exprs.append("%s (not understood: %s)" % (rest, exc))
            break
    return exprs


def anonymous_chain_rules(body):
    """The rules of an anonymous chain body (one per line)."""
    return [line.strip() for line in body.splitlines() if line.strip()]


_HANDLE = re.compile(r"\s*#\s*handle\s+(\d+)\s*$")


def parse_nft_ruleset_text(text, source="nft list ruleset"):
    """Plain or `-a` `nft list ruleset` text -> the parse_nft_json shape (expr lists rebuilt from
    the text). Raises NftTextError naming the line on structure it cannot follow."""
    from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_nft import PRIORITY_NAMES
    tables = []
    lines = text.splitlines()
    i = 0
    n = len(lines)
    while i < n:
        raw = lines[i]
        line = _HANDLE.sub("", raw).strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^table\s+(\S+)\s+(\S+)\s*\{$", line)
        if not m:
            raise NftTextError(source, i, "expected `table FAMILY NAME {`, got %r" % line[:60])
        table = {"family": m.group(1), "name": m.group(2).strip('"'), "handle": _handle(raw), "managed_by": None,
                 "chains": {}, "chain_order": [], "sets": {}, "flags": None}
        tables.append(table)
        while i < n:
            raw = lines[i]
            line = _HANDLE.sub("", raw).strip()
            i += 1
            if not line or line.startswith("#"):
                continue
            if line == "}":
                break
            m = re.match(r"^(chain|set|map)\s+(\S+)\s*\{$", line)
            if not m:
                if re.match(r"^(flags|comment)\b", line):
                    continue
                m2 = re.match(r"^(\S+)(?:\s+\S+)?\s*\{$", line)
                if m2:  # flowtable, counter, quota, ct helper ...: skip the block
                    i = _skip_block(lines, i)
                    continue
                raise NftTextError(source, i, "unexpected %r in table %s" % (line[:60], table["name"]))
            what, name = m.group(1), m.group(2).strip('"')
            if what in ("set", "map"):
                i, spec = _set_block(lines, i, what, source)
                spec["handle"] = _handle(raw)
                table["sets"][name] = spec
                continue
            chain = {"handle": _handle(raw), "type": None, "hook": None, "prio": None, "policy": None,
                     "devices": None, "rules": []}
            table["chains"][name] = chain
            table["chain_order"].append(name)
            while i < n:
                raw = lines[i]
                line = _HANDLE.sub("", raw).strip()
                i += 1
                if not line or line.startswith("#"):
                    continue
                if line == "}":
                    break
                if line.startswith("type ") and " hook " in line:
                    _chain_header(chain, line, PRIORITY_NAMES)
                    continue
                if line.startswith("policy "):
                    chain["policy"] = line.split()[1].rstrip(";")
                    continue
                if line.startswith("comment "):
                    continue
                rule_text = line
                handle = _handle(raw)
                depth = line.count("{") - line.count("}")
                while depth > 0 and i < n:
                    raw = lines[i]
                    i += 1
                    piece = _HANDLE.sub("", raw).strip()
                    handle = _handle(raw) or handle
                    rule_text += "\n" + piece
                    depth += piece.count("{") - piece.count("}")
                chain["rules"].append({"handle": handle, "position": len(chain["rules"]) + 1,
                                       "expr": rule_to_expr(rule_text), "comment": None, "text": rule_text})
            else:
                raise NftTextError(source, i, "chain %s has no closing brace" % name)
        else:
            raise NftTextError(source, i, "table %s has no closing brace" % table["name"])
    return {"source": source, "metainfo": None, "tables": tables, "warnings": []}


def _handle(raw):
    m = _HANDLE.search(raw)
    return int(m.group(1)) if m else None


def _skip_block(lines, i):
    depth = 1
    while i < len(lines) and depth:
        depth += lines[i].count("{") - lines[i].count("}")
        i += 1
    return i


def _chain_header(chain, line, names):
    m = re.match(r"^type\s+(\S+)\s+hook\s+(\S+)(?:\s+devices?\s*=?\s*(\{[^}]*\}|\"[^\"]*\"|\S+))?\s+priority\s+([^;]+);"
                 r"(?:\s*policy\s+(\S+);)?", line)
    if not m:
        raise ValueError("bad chain header %r" % line)
    chain["type"], chain["hook"] = m.group(1), m.group(2)
    if m.group(3):
        chain["devices"] = [d.strip().strip('"') for d in m.group(3).strip("{}").split(",") if d.strip()]
    prio = m.group(4).strip()
    pm = re.match(r"^([a-z]+)\s*([+-])\s*(\d+)$", prio)
    if pm and pm.group(1) in names:
        base = names[pm.group(1)]
        chain["prio"] = base + int(pm.group(3)) if pm.group(2) == "+" else base - int(pm.group(3))
    elif prio in names:
        chain["prio"] = names[prio]
    else:
        try:
            chain["prio"] = int(prio)
        except ValueError:
            chain["prio"] = prio
    chain["policy"] = m.group(5) or "accept"


def _set_block(lines, i, what, source):
    spec = {"kind": what, "type": None, "map": None, "flags": [], "elem": []}
    body = []
    while i < len(lines):
        line = _HANDLE.sub("", lines[i]).strip()
        i += 1
        if line == "}":
            break
        body.append(line)
    else:
        raise NftTextError(source, i, "%s has no closing brace" % what)
    text = "\n".join(body)
    m = re.search(r"^type\s+(.+)$", text, re.M) or re.search(r"^typeof\s+(.+)$", text, re.M)
    if m:
        typ = m.group(1).strip()
        if what == "map" and " : " in typ:
            key, value = typ.split(" : ", 1)
            spec["type"], spec["map"] = key.strip(), value.strip()
        else:
            spec["type"] = typ
    m = re.search(r"^flags\s+(.+)$", text, re.M)
    if m:
        spec["flags"] = [f.strip() for f in m.group(1).split(",")]
    m = re.search(r"elements\s*=\s*\{(.*)\}", text, re.S)
    if m:
        s = _Stream([t for t in _tokens(m.group(1)) if t[0] != "nl"] + [("p", "}")])
        spec["elem"] = _set_literal(s)
    return i, spec
