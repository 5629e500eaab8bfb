# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Follow HAProxy's syslog ``log`` lines through rsyslog's configuration to the files they end in.

``log_targets`` turns the global ``log`` lines of the parsed configuration into targets (kind,
host/port, facility, the HAProxy levels they let through); ``parse_rsyslog`` reads rsyslog
configuration text (legacy selectors and directives, property filters, RainerScript ``if``,
blocks, ``action()``, rulesets, includes); ``read_rsyslog`` reads /etc/rsyslog.conf and the files
its includes name; ``route_message`` follows one message (facility, severity, programname)
through the default ruleset; ``syslog_files`` says, per target, which files it lands in and
which rsyslog rule (file:line) chose each. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import os
import re

RSYSLOG_CONF = "/etc/rsyslog.conf"
SYSLOG_NG_CONF = "/etc/syslog-ng/syslog-ng.conf"
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
              "ftp", "ntp", "security", "console", "cron2", "local0", "local1", "local2", "local3", "local4",
              "local5", "local6", "local7")
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
_SEVERITY_ALIASES = {"panic": "emerg", "error": "err", "warn": "warning"}
# what HAProxy sends at which level: "has no server available" emerg, "is DOWN" alert, "is UP",
# failed checks and maintenance notice, traffic lines info
HAPROXY_SEVERITIES = ("emerg", "alert", "notice", "info")
_LOCAL_HOSTS = ("127.", "::1", "[::1]", "localhost", "0.0.0.0")


class RsyslogConfigError(ValueError):
    """An rsyslog configuration this parser cannot follow (named by file and line)."""


def _severity(name):
    name = _SEVERITY_ALIASES.get(name.lower(), name.lower())
    return SEVERITIES.index(name) if name in SEVERITIES else None


def log_targets(config_logs, log_tag=None):
    """The global ``log`` lines of the parsed config -> [{target, kind, host, port, protocol,
    facility, max_level, min_level, severities, where}].

    ``kind``: syslog (a UNIX socket), network, stdio (stdout/stderr/fd@1/fd@2), ring, or
    unknown. ``severities``: those of HAPROXY_SEVERITIES the line lets through.
    """
    targets = []
    for entry in config_logs or []:
        target = entry.get("target") or ""
        args = list(entry.get("args") or [])
        where = "%s:%s" % (entry.get("file"), entry.get("line"))
        while len(args) >= 2 and args[0] in ("len", "format", "sample", "profile"):
            args = args[2:]
        facility = args[0] if args else None
        max_level = args[1] if len(args) > 1 else None
        min_level = args[2] if len(args) > 2 else None
        item = {"target": target, "kind": "unknown", "host": None, "port": None, "protocol": None,
                "facility": facility, "max_level": max_level, "min_level": min_level, "where": where}
        if target in ("stdout", "stderr", "fd@1", "fd@2"):
            item["kind"] = "stdio"
        elif target.startswith("ring@"):
            item["kind"] = "ring"
        elif target.startswith("/") or target.startswith("unix@"):
            item["kind"] = "syslog"
            item["target"] = target[5:] if target.startswith("unix@") else target
        elif target and target not in ("global",) and not target.startswith("fd@"):
            proto = "udp"
            rest = target
            m = re.match(r"^(udp|tcp|ipv4|ipv6|udp4|udp6|tcp4|tcp6)@(.*)$", target)
            if m:
                proto = "tcp" if m.group(1).startswith("tcp") else "udp"
                rest = m.group(2)
            m = re.match(r"^\[([^\]]+)\](?::(\d+))?$", rest) or re.match(r"^([^:]+)(?::(\d+))?$", rest) \
                or re.match(r"^(.*?)()$", rest)
            item.update(kind="network", host=m.group(1), port=int(m.group(2)) if m.group(2) else 514,
                        protocol=proto)
        hi = _severity(max_level) if max_level else len(SEVERITIES) - 1
        lo = _severity(min_level) if min_level else 0
        item["severities"] = [s for s in HAPROXY_SEVERITIES
                              if (lo or 0) <= SEVERITIES.index(s) <= (hi if hi is not None else 7)]
        item["programname"] = (log_tag or {}).get("tag") or "haproxy"
        targets.append(item)
    return targets


def _unquoted(text):
    """(index, char) of each character of ``text`` outside '...' and "..." (the quotes included)."""
    quote = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        else:
            if ch in "\"'":
                quote = ch
            yield i, ch


def _strip_comment(line):
    for i, ch in _unquoted(line):
        if ch == "#":
            return line[:i].strip()
    return line.strip()


def _params(text):
    """key="value" pairs of a RainerScript object such as input(type="imudp" port="514")."""
    return dict((k.lower(), v1 or v2) for k, v1, v2 in re.findall(r"([A-Za-z0-9_.]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", text))


def parse_action(text):
    """One rsyslog action -> {kind: file|dynafile|forward|stop|other, path, raw}."""
    raw = text.strip()
    if raw in ("stop", "~"):
        return {"kind": "stop", "path": None, "raw": raw}
    if raw.startswith("action(") or raw.startswith("action ("):
        params = _params(raw)
        kind = params.get("type", "").lower()
        if kind == "omfile" and params.get("file"):
            return {"kind": "file", "path": params["file"], "raw": raw}
        if kind == "omfile":
            return {"kind": "dynafile", "path": params.get("dynafile"), "raw": raw}
        if kind == "omfwd":
            return {"kind": "forward", "path": None, "raw": raw}
        return {"kind": "other", "path": None, "raw": raw}
    word = raw.split(";")[0].strip()
    if word.startswith("-/"):
        word = word[1:]
    if word.startswith("/"):
        return {"kind": "file", "path": word.split()[0], "raw": raw}
    if word.startswith("?"):
        return {"kind": "dynafile", "path": word[1:] or None, "raw": raw}
    if word.startswith("@"):
        return {"kind": "forward", "path": None, "raw": raw}
    return {"kind": "other", "path": None, "raw": raw}


_OBJECTS = ("module", "input", "global", "template", "include", "main_queue", "ruleset", "lookup_table",
            "parser", "timezone", "dyn_stats", "percentile_stats", "constant", "property", "action",
            "call", "set", "unset", "reset", "foreach")
_SELECTOR = r"[A-Za-z0-9*]+(?:,[A-Za-z0-9*]+)*\.[!=<>]*[A-Za-z*]+"
_PRI_SELECTOR = re.compile(r"^(%s(?:;%s)*);?\s+(.*)$" % (_SELECTOR, _SELECTOR))
_PROP_FILTER = re.compile(r"^:\s*([A-Za-z0-9!$_.-]+)\s*,\s*(!?[A-Za-z_]+)\s*,\s*\"((?:[^\"\\]|\\.)*)\"\s*(.*)$")


def parse_rsyslog(text, source="rsyslog.conf"):
    """rsyslog configuration text -> {items, inputs, sockets, problems}.

    ``items`` in file order: ``{"rule": {filters, action, file, line, ruleset}}`` (``filters``:
    the filters that must all match, outer block first) and ``{"include": {pattern, file, line}}``
    for ``$IncludeConfig`` and ``include(file=...)``. ``inputs``: imudp/imtcp inputs (type,
    port, file, line). ``sockets``: ``$AddUnixListenSocket`` and imuxsock ``socket=`` paths.
    Both the legacy (``local0.* /var/log/x``, ``:prop, op, "v" action``, ``& stop``) and the
    RainerScript (``if ... then``, blocks, ``action(...)``) syntaxes are read.
    """
    lines = text.splitlines()
    result = {"items": [], "inputs": [], "sockets": [], "problems": []}
    stack = []  # each: {"filter": f or None, "ruleset": name or None}
    last_filters = [None]
    pending = [None]  # a filter waiting for its action on a later line
    legacy_ruleset = [None]  # `$RuleSet name` until `$RuleSet RSYSLOG_DefaultRuleset`
    i = 0

    def context():
        filters = [b["filter"] for b in stack if b["filter"] is not None]
        ruleset = legacy_ruleset[0]
        for b in stack:
            ruleset = b["ruleset"] or ruleset
        return filters, ruleset

    def add_rule(extra, action_text, lineno):
        filters, ruleset = context()
        if extra is not None:
            filters = filters + [extra]
        action = parse_action(action_text)
        last_filters[0] = filters
        result["items"].append({"rule": {"filters": filters, "action": action, "file": source, "line": lineno,
                                         "ruleset": ruleset}})

    def after_filter(flt, rest, lineno):
        """What follows a filter: an action, a block, or nothing yet (the action is on the next line)."""
        rest = rest.strip()
        if rest.startswith("{"):
            stack.append({"filter": flt, "ruleset": None})
            handle(rest[1:], lineno)
        elif rest:
            add_rule(flt, rest, lineno)
        else:
            pending[0] = flt

    def handle(stmt, lineno):
        stmt = stmt.strip()
        while stmt:
            if stmt.startswith("}"):
                if stack:
                    block = stack.pop()
                    after = stmt[1:].strip()
                    if after.startswith("else"):
                        flt = ("not", block["filter"]) if block["filter"] is not None else None
                        rest = after[4:].strip()
                        if rest.startswith("if "):
                            stmt = rest
                            # `else if`: the negation is an outer block of the next filter
                            stack.append({"filter": flt, "ruleset": None, "implicit": True})
                            continue
                        after_filter(flt, rest, lineno)
                        return
                    while stack and stack[-1].get("implicit"):
                        stack.pop()
                    stmt = after
                    continue
                stmt = stmt[1:].strip()
                continue
            if pending[0] is not None:
                flt, pending[0] = pending[0], None
                after_filter(flt, stmt, lineno)
                return
            low = stmt.lower()
            if stmt.startswith("$"):
                _directive(stmt, lineno)
                return
            if low.startswith("if ") or low.startswith("if("):
                m = re.match(r"^if\s*(.*?)\s+then\b(.*)$", stmt, re.S)
                if not m:
                    result["problems"].append("%s:%d: cannot read this if statement" % (source, lineno))
                    return
                after_filter(("expr", m.group(1).strip()), m.group(2), lineno)
                return
            if stmt.startswith("&"):
                # `&`: the filters of the rule before it
                filters, ruleset = context()
                if last_filters[0] is not None:
                    filters = last_filters[0]
                result["items"].append({"rule": {"filters": filters, "action": parse_action(stmt[1:]),
                                                 "file": source, "line": lineno, "ruleset": ruleset}})
                return
            m = _PROP_FILTER.match(stmt)
            if m:
                after_filter(("prop", m.group(1), m.group(2), m.group(3).replace('\\"', '"')), m.group(4), lineno)
                return
            word = re.match(r"^([A-Za-z_]+)\s*\(", stmt)
            if word and word.group(1).lower() in _OBJECTS:
                _object(word.group(1).lower(), stmt, lineno)
                return
            if low in ("stop", "~") or stmt.startswith("/") or stmt.startswith("-/") or stmt.startswith("?") \
                    or stmt.startswith("@") or low.startswith(":om"):
                add_rule(None, stmt, lineno)
                return
            m = _PRI_SELECTOR.match(stmt)
            if m:
                after_filter(("pri", m.group(1).rstrip(";")), m.group(2), lineno)
                return
            return

    def _directive(stmt, lineno):
        words = stmt.split()
        name = words[0].lower()
        arg = words[1] if len(words) > 1 else ""
        if name == "$includeconfig" and arg:
            result["items"].append({"include": {"pattern": arg, "file": source, "line": lineno}})
        elif name in ("$udpserverrun", "$inputudpserverrun"):
            result["inputs"].append({"type": "imudp", "port": _port(arg, 514), "file": source, "line": lineno})
        elif name == "$inputtcpserverrun":
            result["inputs"].append({"type": "imtcp", "port": _port(arg, 514), "file": source, "line": lineno})
        elif name == "$ruleset" and arg:
            legacy_ruleset[0] = None if arg == "RSYSLOG_DefaultRuleset" else arg
        elif name in ("$addunixlistensocket", "$inputunixlistensocketcreatepath") and arg.startswith("/"):
            result["sockets"].append({"path": arg, "file": source, "line": lineno})

    def _object(name, stmt, lineno):
        params = _params(stmt)
        if name == "include" and params.get("file"):
            result["items"].append({"include": {"pattern": params["file"], "file": source, "line": lineno,
                                                "optional": params.get("mode") == "optional"}})
        elif name == "input":
            kind = params.get("type", "").lower()
            if kind in ("imudp", "imtcp", "imptcp"):
                result["inputs"].append({"type": "imudp" if kind == "imudp" else "imtcp",
                                         "port": _port(params.get("port"), 514), "file": source, "line": lineno,
                                         "ruleset": params.get("ruleset")})
            elif kind == "imuxsock" and params.get("socket"):
                result["sockets"].append({"path": params["socket"], "file": source, "line": lineno})
        elif name == "action":
            add_rule(None, stmt, lineno)
        rest = stmt[stmt.rfind(")") + 1:].strip() if ")" in stmt else ""
        if rest.startswith("{"):
            # rules in a ruleset() block run only for the inputs bound to it; a template() block
            # holds no rules at all
            stack.append({"filter": None, "ruleset": (params.get("name") if name == "ruleset" else None)
                          or "<%s>" % name})
            handle(rest[1:], lineno)

    while i < len(lines):
        lineno = i + 1
        stmt = _strip_comment(lines[i])
        i += 1
        # a RainerScript object or an if-expression may span lines: read on until it closes
        while stmt and (_open_parens(stmt) > 0 or (re.match(r"^if\b", stmt) and not re.search(r"\bthen\b", stmt))
                        or stmt.endswith("\\")) and i < len(lines):
            stmt = stmt.rstrip("\\") + " " + _strip_comment(lines[i])
            i += 1
        if stmt:
            handle(stmt, lineno)
    return result


def _open_parens(text):
    depth = 0
    for _i, ch in _unquoted(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
    return depth


def _port(text, default):
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return default


def _pri_matches(selector, facility, severity):
    """A traditional selector such as ``*.*;auth,authpriv.none`` or ``local0.=info``."""
    sev = SEVERITIES.index(severity)
    allowed = False
    for part in selector.split(";"):
        facs, _dot, pri = part.strip().rpartition(".")
        if not facs:
            continue
        names = facs.split(",")
        if "*" not in names and facility not in names:
            continue
        negate = pri.startswith("!")
        pri = pri.lstrip("!")
        exact = pri.startswith("=")
        pri = pri.lstrip("=<>")
        if pri == "none":
            allowed = False
            continue
        level = 7 if pri == "*" else _severity(pri)
        if level is None:
            continue
        hit = sev == level if exact else sev <= level
        if negate:
            if hit:
                allowed = False
        elif hit:
            allowed = True
    return allowed


def _properties(msg):
    fac, sev = msg["facility"], msg["severity"]
    return {"programname": msg["programname"], "syslogtag": msg["programname"] + "[1]:",
            "app-name": msg["programname"], "syslogfacility-text": fac, "syslogseverity-text": sev,
            "syslogfacility": str(FACILITIES.index(fac)) if fac in FACILITIES else None,
            "syslogseverity": str(SEVERITIES.index(sev)), "pri-text": "%s.%s" % (fac, sev)}


def _compare(left, op, right):
    if left is None or right is None:
        return False
    op = op.lower()
    if op.endswith("_i"):
        left, right, op = left.lower(), right.lower(), op[:-2]
    if op in ("==", "isequal"):
        return left == right
    if op in ("!=", "<>"):
        return left != right
    if op == "startswith":
        return left.startswith(right)
    if op == "contains":
        return right in left
    if op == "endswith":
        return left.endswith(right)
    if op in ("regex", "ereregex"):
        try:
            return re.search(right, left) is not None
        except re.error:
            return False
    if op == "isempty":
        return left == ""
    return False


_EXPR_TOKEN = re.compile(r"\s*(\(|\)|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|==|!=|<>|<=|>=|<|>|"
                         r"\$[!.]?[A-Za-z0-9_.!-]*|[A-Za-z_][A-Za-z0-9_]*|-?\d+|\S)")


def _eval_expr(text, props):
    """A RainerScript condition over the message properties; what it cannot know is false."""
    tokens = [t for t in _EXPR_TOKEN.findall(text) if t.strip()]
    pos = [0]

    def peek():
        return tokens[pos[0]].lower() if pos[0] < len(tokens) else None

    def take():
        pos[0] += 1
        return tokens[pos[0] - 1]

    def operand():
        tok = take()
        if tok.startswith("$"):
            return props.get(tok[1:].lower())
        if tok[0] in "'\"":
            return tok[1:-1].replace("\\'", "'").replace('\\"', '"')
        if re.match(r"^-?\d+$", tok):
            return tok
        if peek() == "(":  # a function call: unknown value
            depth = 0
            while pos[0] < len(tokens):
                t = take()
                depth += 1 if t == "(" else -1 if t == ")" else 0
                if depth == 0:
                    break
        return None

    def factor():
        if peek() == "not":
            take()
            return not factor()
        if peek() == "(":
            take()
            value = disjunction()
            if peek() == ")":
                take()
            return value
        left = operand()
        op = peek()
        if op in ("==", "!=", "<>", "startswith", "startswith_i", "contains", "contains_i", "endswith",
                  "isequal", "regex", "ereregex"):
            take()
            return _compare(left, op, operand())
        if op in ("<", ">", "<=", ">="):
            take()
            right = operand()
            try:
                a, b = int(left), int(right)
            except (TypeError, ValueError):
                return False
            return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return bool(left) and left != "0"

    def conjunction():
        value = factor()
        while peek() == "and":
            take()
            value = factor() and value
        return value

    def disjunction():
        value = conjunction()
        while peek() == "or":
            take()
            value = conjunction() or value
        return value

    try:
        return bool(disjunction())
    except (IndexError, ValueError, RecursionError):  # a malformed or absurdly nested condition
        return False


def _filter_matches(flt, msg):
    kind = flt[0]
    if kind == "pri":
        return _pri_matches(flt[1], msg["facility"], msg["severity"])
    if kind == "not":
        return not _filter_matches(flt[1], msg)
    props = _properties(msg)
    if kind == "prop":
        value = props.get(flt[1].lstrip("$").lower())
        if value is None:
            return False
        negate = flt[2].startswith("!")
        return _compare(value, flt[2].lstrip("!"), flt[3]) != negate
    return _eval_expr(flt[1], props)


def _describe(flt):
    if flt[0] == "pri":
        return flt[1]
    if flt[0] == "prop":
        return ':%s, %s, "%s"' % (flt[1], flt[2], flt[3])
    if flt[0] == "not":
        return "not (%s)" % _describe(flt[1])
    return "if %s" % flt[1]


def route_message(rules, facility, severity, programname="haproxy"):
    """Follow rsyslog's default ruleset for one message -> {files: [{path, rule, filter}], stop}."""
    msg = {"facility": facility, "severity": severity, "programname": programname}
    files = []
    for rule in rules:
        if rule.get("ruleset"):
            continue
        if not all(_filter_matches(f, msg) for f in rule["filters"]):
            continue
        where = "%s:%d" % (rule["file"], rule["line"])
        action = rule["action"]
        if action["kind"] == "stop":
            return {"files": files, "stop": where}
        if action["kind"] in ("file", "dynafile"):
            files.append({"path": action["path"], "rule": where, "dynamic": action["kind"] == "dynafile",
                          "filter": "; ".join(_describe(f) for f in rule["filters"]) or None})
    return {"files": files, "stop": None}


def read_rsyslog(fs, path=RSYSLOG_CONF, depth=0):
    """Parse rsyslog.conf and the files its includes name, in order -> {rules, inputs, sockets,
    files, problems}. Unreadable files go to problems; the rest is still returned."""
    out = {"rules": [], "inputs": [], "sockets": [], "files": [], "problems": []}
    try:
        text = fs.read_bytes(path).decode("utf-8", "replace")
    except (OSError, IOError) as exc:
        out["problems"].append("%s: %s" % (path, getattr(exc, "strerror", None) or exc))
        return out
    parsed = parse_rsyslog(text, path)
    out["files"].append(path)
    out["inputs"].extend(parsed["inputs"])
    out["sockets"].extend(parsed["sockets"])
    out["problems"].extend(parsed["problems"])
    for item in parsed["items"]:
        if "rule" in item:
            out["rules"].append(item["rule"])
            continue
        inc = item["include"]
        if depth >= 8:
            out["problems"].append("%s:%d: includes nested too deep" % (inc["file"], inc["line"]))
            continue
        pattern = inc["pattern"]
        directory, name = os.path.split(pattern)
        if not name or fs.isdir(pattern):
            directory, name = pattern.rstrip("/"), "*"
        try:
            names = sorted(n for n in fs.listdir(directory) if fnmatch.fnmatchcase(n, name))
        except (OSError, IOError):
            names = []
        for sub in names:
            full = os.path.join(directory, sub)
            if fs.isdir(full):
                continue
            inner = read_rsyslog(fs, full, depth + 1)
            for key in out:
                out[key].extend(inner[key])
    return out


def _is_local(host):
    return host is None or host.startswith(_LOCAL_HOSTS)


def syslog_files(targets, rsyslog):
    """Where the config's log targets land: {files: [path], routes: [...], reason: str,
    elsewhere: bool}.

    ``targets`` from log_targets(); ``rsyslog`` from read_rsyslog() (or None when there is no
    rsyslog configuration). Every route says which `log` line, which facility and which rsyslog
    rule (file:line) chose each file. ``elsewhere``: every target goes to the journal or to
    another host, so no syslog file here is expected.
    """
    files = []
    routes = []
    reasons = []
    elsewhere = True
    for target in targets:
        route = {"target": target["target"], "facility": target["facility"], "config": target["where"],
                 "files": [], "journal": False, "note": None}
        routes.append(route)
        head = "log %s %s at %s" % (target["target"], target["facility"], target["where"])
        remote = False
        if target["kind"] == "stdio":
            route["journal"] = True
            route["note"] = "stdout/stderr: the journal of the unit (or the container's log)"
        elif target["kind"] == "ring":
            route["note"] = "a ring buffer in HAProxy's memory (show events), no file"
        elif target["kind"] == "unknown" or target["facility"] not in FACILITIES:
            route["note"] = "target or facility not understood"
        elif target["kind"] == "network" and not _is_local(target["host"]):
            route["note"] = "sent to %s:%s, another host: no file here" % (target["host"], target["port"])
            remote = True
        elif rsyslog is None or not rsyslog["files"]:
            route["note"] = "no rsyslog configuration (%s) to follow" % RSYSLOG_CONF
        else:
            if target["kind"] == "network":
                kind = "imudp" if target["protocol"] == "udp" else "imtcp"
                inputs = [i for i in rsyslog["inputs"] if i["type"] == kind and i["port"] == target["port"]]
                if not inputs:
                    route["note"] = "rsyslog has no %s input on port %s: these messages are not received" \
                                    % (kind, target["port"])
                elif inputs[0].get("ruleset"):
                    route["note"] = "the %s input at %s:%s uses ruleset %s, not followed" \
                                    % (kind, inputs[0]["file"], inputs[0]["line"], inputs[0]["ruleset"])
            if route["note"] is None:
                for severity in target["severities"]:
                    res = route_message(rsyslog["rules"], target["facility"], severity, target["programname"])
                    for item in res["files"]:
                        known = [f for f in route["files"] if f["path"] == item["path"]]
                        if known:
                            known[0]["severities"].append(severity)
                        else:
                            route["files"].append(dict(item, severities=[severity], stop=res["stop"]))
                if not route["files"]:
                    route["note"] = "no rsyslog rule writes %s to a file" % target["facility"]
        elsewhere = elsewhere and (route["journal"] or remote)
        for item in route["files"]:
            if item["dynamic"]:
                continue
            if item["path"] not in files:
                files.append(item["path"])
            reasons.append("%s from %s -> %s%s" % (target["facility"], target["where"], item["rule"],
                                                   " (%s)" % item["filter"] if item["filter"] else ""))
        if route["note"]:
            reasons.append("%s: %s" % (head, route["note"]))
    return {"files": files, "routes": routes, "reason": "; ".join(reasons) or None, "elsewhere": elsewhere}
