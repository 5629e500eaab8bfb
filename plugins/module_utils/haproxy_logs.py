# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find server state changes and Layer-4 errors in HAProxy's logs.

``parse_log_line`` reads one line in any of the shapes HAProxy logs take: journald
``short-iso``, RFC 3164 syslog (``Sep 20 15:44:23 host haproxy[1]: ...``), RFC 5424/ISO
timestamps, HAProxy's own stderr (``[WARNING]  (8) : ...``, 1.8/2.0 ``[WARNING] 279/142102 (8)
:``) with or without a date in front, and hand-pasted fragments. It recognises:

- ``Server B/S is DOWN|UP ...`` (with reason, info, check duration), maintenance and drain;
- ``Health check for [backup ]server B/S failed|succeeded, reason: ..., status: n/m UP|DOWN``;
- ``backend 'B' has no server available!``;
- traffic logs whose termination state says the server refused (``SC``) or the connect timed
  out (``sC``).

``summarize`` groups events per ``backend/server``; ``collect_logs`` reads journald
(``journalctl -u haproxy.service -o short-iso --since ...``) and/or log files and returns the
``logs`` key of the facts. Which files: ``choose_files`` follows the global ``log`` lines of the
parsed configuration (``log_targets``) through rsyslog's rules (``parse_rsyslog`` over text,
``read_rsyslog`` for /etc/rsyslog.conf and its includes, ``route_message`` per facility and
level) and says why in ``source_reason``. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import fnmatch
import os
import re

DEFAULT_FILES = ("/var/log/haproxy.log",)
RSYSLOG_DIRS = ("/etc/rsyslog.d",)
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_JOURNAL_LINES = 50000
LINES_PER_SERVER = 10
JOURNAL_GREP = "is DOWN|is UP|Health check for|has no server available|maintenance|drain|DRAIN| SC | sC |NOSRV"

_MONTHS = dict((m, i + 1) for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                                                 "Oct", "Nov", "Dec")))
_ISO_PREFIX = re.compile(r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s+(.*)$")
_SYSLOG_PREFIX = re.compile(r"^([A-Z][a-z]{2})\s+(\d{1,2}) (\d\d):(\d\d):(\d\d)\s+(.*)$")
_HOST_TAG = re.compile(r"^(\S+)\s+([A-Za-z0-9_.\-/]+)(?:\[(\d+)\])?:\s?(.*)$")
_LEVEL_PREFIX = re.compile(r"^\[(ALERT|WARNING|NOTICE|INFO|DEBUG|EMERG|CRIT|ERR)\]\s*"
                           r"(?:(\d{3}/\d{6})\s*)?(?:\(\d+\)\s*)?:\s*(.*)$")
_SERVER_STATE = re.compile(r"\b(?:Backup )?Server ([^\s/]+)(?:/(\S+?))? (is|was) (.*)$")
_HEALTH = re.compile(r"Health check for (?:backup )?server ([^\s/]+)/(\S+) (failed|succeeded|conditionally succeeded)"
                     r"(?:, reason: ([^,]*?))?(?:, info: \"(.*?)\")?(?:, check duration: (\d+)ms)?"
                     r"(?:, status: (\d+)/(\d+) (UP|DOWN))?\.?$")
_REASON = re.compile(r"reason: (.*?)(?:, info: \"(.*?)\")?,? check duration: (\d+)ms")
_NO_SERVER = re.compile(r"(?:backend|proxy) '?([^'\s]+)'? has no server available!")
_TRAFFIC = re.compile(r"\s(\S+)/(\S+) (-?\d+)/(-?\d+)/(-?\d+)(?:/(-?\d+)/(-?\d+))? (?:(\d{3}) )?(\+?\d+) "
                      r"(?:\S+ \S+ )?([A-Za-z-]{2})[A-Za-z-]{0,2} ")


def _iso(dt):
    return dt.isoformat() if dt is not None else None


def parse_timestamp(text, now=None):
    """A datetime (naive local time for syslog/ISO without zone, aware with one) or None."""
    now = now or datetime.datetime.now()
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)?$", text)
    if m:
        frac = int((m.group(7) or "0")[:6].ljust(6, "0"))
        dt = datetime.datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)),
                               int(m.group(5)), int(m.group(6)), frac)
        zone = m.group(8)
        if zone:
            if zone == "Z":
                offset = datetime.timedelta(0)
            else:
                sign = -1 if zone[0] == "-" else 1
                digits = zone[1:].replace(":", "")
                offset = sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            dt = dt.replace(tzinfo=datetime.timezone(offset))
        return dt
    m = re.match(r"^([A-Z][a-z]{2})\s+(\d{1,2}) (\d\d):(\d\d):(\d\d)$", text)
    if m and m.group(1) in _MONTHS:
        year = now.year
        dt = datetime.datetime(year, _MONTHS[m.group(1)], int(m.group(2)), int(m.group(3)), int(m.group(4)),
                               int(m.group(5)))
        if dt - now > datetime.timedelta(days=1):  # December lines read in January
            dt = dt.replace(year=year - 1)
        return dt
    return None


def parse_log_line(line, now=None):
    """One log line -> an event dict, or None when it says nothing about servers.

    Event keys: kind (state, check, no_server, traffic), time (as written), ts (ISO or None),
    backend, server, state (UP, DOWN, MAINT, DRAIN, NOLB or None), reason, info,
    check_duration_ms, status_counts, termination, line.
    """
    raw = line.rstrip("\r\n")
    rest = raw.strip()
    if not rest:
        return None
    time_text = None
    m = _ISO_PREFIX.match(rest)
    if m:
        time_text, rest = m.group(1), m.group(2)
    else:
        m = _SYSLOG_PREFIX.match(rest)
        if m and m.group(1) in _MONTHS:
            time_text = "%s %s %s:%s:%s" % (m.group(1), m.group(2), m.group(3), m.group(4), m.group(5))
            rest = m.group(6)
    if time_text is not None and not rest.startswith("["):
        tag = _HOST_TAG.match(rest)
        if tag:
            rest = tag.group(4)
    level = _LEVEL_PREFIX.match(rest)
    if level:
        if level.group(2) and time_text is None:
            time_text = level.group(2)  # day-of-year/HHMMSS of HAProxy 1.8-2.0 stderr
        rest = level.group(3)
    event = _event(rest)
    if event is None:
        return None
    dt = parse_timestamp(time_text, now) if time_text else None
    event.update(time=time_text, ts=_iso(dt), line=raw)
    event["_dt"] = dt
    return event


def _state_of(text):
    low = text.lower()
    if "maintenance" in low and "leaving" not in low:
        return "MAINT"
    if "drain" in low and "leaving" not in low:
        return "DRAIN"
    if low.startswith("down") or " down" in low[:12]:
        return "DOWN"
    if low.startswith("up") or low.startswith("ready") or "up/ready" in low:
        return "UP"
    if low.startswith("stopping"):
        return "NOLB"
    return None


def _event(msg):
    m = _HEALTH.search(msg)
    if m:
        counts = [int(m.group(7)), int(m.group(8))] if m.group(7) else None
        return {"kind": "check", "backend": m.group(1), "server": m.group(2),
                "result": "failed" if m.group(3) == "failed" else "succeeded",
                "state": m.group(9), "reason": (m.group(4) or "").strip() or None, "info": _info(m.group(5)),
                "check_duration_ms": int(m.group(6)) if m.group(6) else None, "status_counts": counts}
    m = _SERVER_STATE.search(msg)
    if m:
        backend, server, rest = m.group(1), m.group(2), m.group(4)
        if server is None:  # anonymised "Server XXXXX is DOWN": no backend/server split
            backend, server = None, m.group(1)
        state = _state_of(rest)
        if state is None:
            return None
        reason = info = duration = None
        r = _REASON.search(rest)
        if r:
            reason, info, duration = r.group(1).strip(), _info(r.group(2)), int(r.group(3))
        else:
            r = re.search(r"reason: ([^,.]*)", rest)
            if r:
                reason = r.group(1).strip()
        return {"kind": "state", "backend": backend, "server": server, "state": state, "reason": reason,
                "info": info, "check_duration_ms": duration, "status_counts": None}
    m = _NO_SERVER.search(msg)
    if m:
        return {"kind": "no_server", "backend": m.group(1), "server": None, "state": None, "reason": None,
                "info": None, "check_duration_ms": None, "status_counts": None}
    m = _TRAFFIC.search(" " + msg + " ")
    if m and m.group(10) in ("SC", "sC"):
        return {"kind": "traffic", "backend": m.group(1), "server": m.group(2), "state": None,
                "reason": "server refused or reset the connection" if m.group(10) == "SC" else "connect timeout",
                "info": None, "check_duration_ms": None, "status_counts": None, "termination": m.group(10)}
    return None


def _info(text):
    if text is None:
        return None
    return text.strip() or None


def summarize(events, lines_per_server=LINES_PER_SERVER):
    """Group events: {servers: {"b/s": {...}}, backends: {"b": {...}}} (keys sorted)."""
    servers = {}
    backends = {}
    for ev in events:
        if ev["kind"] == "no_server":
            entry = backends.setdefault(ev["backend"], {"no_server_available": None, "lines": []})
            entry["no_server_available"] = ev["time"]
            entry["lines"] = (entry["lines"] + [ev["line"]])[-lines_per_server:]
            continue
        key = "%s/%s" % (ev["backend"], ev["server"]) if ev["backend"] else ev["server"]
        entry = servers.setdefault(key, {
            "backend": ev["backend"], "server": ev["server"], "last_transition": None, "last_state": None,
            "last_reason": None, "last_info": None, "checks_failed": 0, "checks_succeeded": 0,
            "traffic_errors": {}, "last_check": None, "last_check_reason": None, "last_check_info": None,
            "lines": []})
        if ev["kind"] == "state":
            reason, info = ev["reason"], ev["info"]
            if reason is None and entry.get("_check") is not None:
                # "Server b/s is DOWN." after "Health check ... failed, reason: Layer4 timeout"
                reason, info = entry["_check"]
            entry.update(last_transition=ev["time"], last_state=ev["state"], last_reason=reason, last_info=info)
        elif ev["kind"] == "check":
            entry["checks_failed" if ev["result"] == "failed" else "checks_succeeded"] += 1
            entry["_check"] = (ev["reason"], ev["info"])
            entry["last_check"] = ev["time"]
            entry["last_check_reason"] = ev["reason"]
            entry["last_check_info"] = ev["info"]
        elif ev["kind"] == "traffic":
            term = ev["termination"]
            entry["traffic_errors"][term] = entry["traffic_errors"].get(term, 0) + 1
        entry["lines"] = (entry["lines"] + [ev["line"]])[-lines_per_server:]
    for entry in servers.values():
        entry.pop("_check", None)
    return {"servers": dict(sorted(servers.items())), "backends": dict(sorted(backends.items()))}


def scan_text(text, since=None, now=None, lines_per_server=LINES_PER_SERVER):
    """Parse every line; keep events at or after ``since`` (naive local datetime) when dated."""
    events = []
    last_key = None
    for line in text.splitlines():
        ev = parse_log_line(line, now)
        if ev is None:
            continue
        # HAProxy prints a state change on stderr and sends it to its log targets: under systemd
        # both land in the journal, one line after the other. Count it once.
        key = (ev["time"], ev["kind"], ev["backend"], ev["server"], ev["state"], ev.get("result"), ev["reason"],
               ev["info"], tuple(ev["status_counts"] or ()), ev.get("termination"))
        if key == last_key and ev["kind"] != "traffic":
            continue
        last_key = key
        dt = ev.pop("_dt")
        if since is not None and dt is not None:
            cmp = dt
            if cmp.tzinfo is not None:
                cmp = cmp.astimezone().replace(tzinfo=None)
            if cmp < since:
                continue
        events.append(ev)
    return events


def rsyslog_haproxy_files(fs, dirs=RSYSLOG_DIRS):
    """Log files rsyslog writes HAProxy's messages to (lines naming haproxy and a /var/log path)."""
    found = []
    for directory in dirs:
        try:
            names = sorted(fs.listdir(directory))
        except (OSError, IOError):
            continue
        for name in names:
            if not name.endswith(".conf"):
                continue
            try:
                text = fs.read_bytes(os.path.join(directory, name)).decode("utf-8", "replace")
            except (OSError, IOError):
                continue
            for line in text.splitlines():
                if "haproxy" in line and not line.lstrip().startswith("#"):
                    for path in re.findall(r"-?(/var/log/[^\s;\"']+)", line):
                        if path not in found:
                            found.append(path)
    return found


# --- which file the configuration's `log` lines end up in (rsyslog) ---------------------------

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


def _strip_comment(line):
    out = []
    quote = None
    for ch in line:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        out.append(ch)
    return "".join(out).strip()


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
                filters = last_filters[0]
                if filters is None:
                    filters, _rs = context()
                _filters, ruleset = context()
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
    quote = None
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
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
        op = flt[2]
        negate = op.startswith("!")
        hit = _compare(props.get(flt[1].lstrip("$").lower()), op.lstrip("!"), flt[3])
        return hit != negate if props.get(flt[1].lstrip("$").lower()) is not None else False
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
    """Where the config's log targets land: {files: [path], routes: [...], reason: str}.

    ``targets`` from log_targets(); ``rsyslog`` from read_rsyslog() (or None when there is no
    rsyslog configuration). Every route says which `log` line, which facility and which rsyslog
    rule (file:line) chose each file.
    """
    files = []
    routes = []
    reasons = []
    for target in targets:
        route = {"target": target["target"], "facility": target["facility"], "config": target["where"],
                 "files": [], "journal": False, "note": None}
        routes.append(route)
        head = "log %s %s at %s" % (target["target"], target["facility"], target["where"])
        if target["kind"] == "stdio":
            route["journal"] = True
            route["note"] = "stdout/stderr: the journal of the unit (or the container's log)"
        elif target["kind"] == "ring":
            route["note"] = "a ring buffer in HAProxy's memory (show events), no file"
        elif target["kind"] == "unknown" or target["facility"] not in FACILITIES:
            route["note"] = "target or facility not understood"
        elif target["kind"] == "network" and not _is_local(target["host"]):
            route["note"] = "sent to %s:%s, another host: no file here" % (target["host"], target["port"])
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
        for item in route["files"]:
            if item["dynamic"]:
                continue
            if item["path"] not in files:
                files.append(item["path"])
            reasons.append("%s from %s -> %s%s" % (target["facility"], target["where"], item["rule"],
                                                   " (%s)" % item["filter"] if item["filter"] else ""))
        if route["note"]:
            reasons.append("%s: %s" % (head, route["note"]))
    return {"files": files, "routes": routes, "reason": "; ".join(reasons) or None}


def _tail(fs, path, max_bytes):
    data = fs.read_bytes(path)
    if len(data) > max_bytes:
        data = data[-max_bytes:]
        data = data[data.find(b"\n") + 1:]
    return data.decode("utf-8", "replace")


def choose_files(fs, config=None):
    """The log files to read and why -> {files, reason, routes, rsyslog_files, unavailable}.

    With the parsed configuration (``config``: the ``config`` facts, their ``logs`` and
    ``log_tag``), the global ``log`` lines are followed through rsyslog's rules (rsyslog.conf and
    its includes). Without it, or when that leads nowhere (no ``log`` line, no rsyslog), the
    files named next to "haproxy" in /etc/rsyslog.d plus /var/log/haproxy.log, those that exist.
    """
    out = {"files": [], "reason": None, "routes": [], "rsyslog_files": [], "unavailable": []}
    notes = []
    if config is not None:
        targets = log_targets(config.get("logs"), config.get("log_tag"))
        if not targets:
            notes.append("no `log` line in the global section: HAProxy writes to syslog only from proxies "
                         "with their own `log` line")
        else:
            rsyslog = None
            if fs.isfile(RSYSLOG_CONF):
                rsyslog = read_rsyslog(fs)
                out["rsyslog_files"] = rsyslog["files"]
                for problem in rsyslog["problems"]:
                    out["unavailable"].append({"what": "logs.rsyslog", "source": problem.split(": ")[0],
                                               "reason": problem})
            routed = syslog_files(targets, rsyslog)
            out["routes"] = routed["routes"]
            out["files"] = list(routed["files"])
            if routed["reason"]:
                notes.append(routed["reason"])
            if rsyslog is None and fs.isfile(SYSLOG_NG_CONF):
                notes.append("%s is not read" % SYSLOG_NG_CONF)
            if out["files"] or all(r["journal"] or r["note"] and "another host" in r["note"] for r in out["routes"]):
                out["reason"] = "; ".join(notes)
                return out
    fallback = []
    for path in rsyslog_haproxy_files(fs) + list(DEFAULT_FILES):
        if path not in fallback and fs.isfile(path):
            fallback.append(path)
    notes.append("the files /etc/rsyslog.d names next to \"haproxy\" and %s: %s"
                 % (", ".join(DEFAULT_FILES), ", ".join(fallback) if fallback else "none exists")
                 if config is None else
                 "falling back to the files /etc/rsyslog.d names next to \"haproxy\" and %s: %s"
                 % (", ".join(DEFAULT_FILES), ", ".join(fallback) if fallback else "none exists"))
    out["files"] = fallback
    out["reason"] = "; ".join(notes)
    return out


def _event_key(ev):
    """Identity of an event across sources (the journal and a syslog file hold the same line)."""
    dt = parse_timestamp(ev["ts"]) if ev.get("ts") else None
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone().replace(tzinfo=None)
    return (dt.replace(microsecond=0), ev["kind"], ev["backend"], ev["server"], ev["state"], ev.get("result"),
            ev["reason"], ev["info"], ev.get("termination"))


def collect_logs(run, fs, window_minutes=60, files=None, unit="haproxy.service", now=None,
                 lines_per_server=LINES_PER_SERVER, config=None):
    """Read journald and/or log files for the last ``window_minutes``; returns the logs dict.

    ``config``: the parsed configuration (see choose_files), to follow its ``log`` lines to the
    syslog file they end in. An event already read from an earlier source (the journal) at the
    same second is not counted again from a file.
    """
    now = now or datetime.datetime.now()
    since = now - datetime.timedelta(minutes=window_minutes)
    sources = []
    unavailable = []
    events = []
    chosen = {"files": list(files or []), "reason": "log_files option",
              "routes": [], "rsyslog_files": [], "unavailable": []}
    if not files:
        since_text = since.strftime("%Y-%m-%d %H:%M:%S")
        # --reverse: systemd 252 (Debian 12) prints `-n N --grep X` newest first anyway, later
        # releases oldest first; asking for newest first gives one order everywhere (and the
        # newest N lines), turned round below.
        base = ["journalctl", "-u", unit, "-o", "short-iso", "--since", since_text, "--no-pager",
                "-n", str(MAX_JOURNAL_LINES), "--reverse"]
        argv = base + ["--grep", JOURNAL_GREP]
        try:
            rc, out, err = run(argv)
            if rc != 0 and "pattern matching" in (err or ""):  # journalctl built without PCRE2
                argv = base
                rc, out, err = run(argv)
        except (OSError, IOError) as exc:
            rc, out, err = 127, "", str(exc)
        # journalctl --grep exits 1 when nothing matched
        if rc == 0 or (rc == 1 and not (err or "").strip()):
            sources.append(" ".join(argv[:5]))
            events.extend(scan_text("\n".join(reversed((out or "").splitlines())), since, now))
        else:
            unavailable.append({"what": "logs.journal", "source": " ".join(argv),
                                "reason": (err or out or "rc=%d" % rc).strip()[:300]})
        chosen = choose_files(fs, config)
        unavailable.extend(chosen["unavailable"])
    seen = set(k for k in (_event_key(ev) for ev in events) if k is not None)
    for path in chosen["files"]:
        if not files and not fs.isfile(path):
            unavailable.append({"what": "logs.file", "source": path,
                                "reason": "chosen from the rsyslog rules but not a file here"})
            continue
        try:
            text = _tail(fs, path, MAX_FILE_BYTES)
        except (OSError, IOError) as exc:
            unavailable.append({"what": "logs.file", "source": path,
                                "reason": getattr(exc, "strerror", None) or str(exc)})
            continue
        sources.append(path)
        fresh = []
        for ev in scan_text(text, since, now):
            key = _event_key(ev)
            if key is None or key not in seen:
                fresh.append(ev)
        seen.update(k for k in (_event_key(ev) for ev in fresh) if k is not None)
        events.extend(fresh)
    result = summarize(events, lines_per_server)
    result.update({
        "source": ", ".join(sources) if sources else None,
        "sources": sources,
        "source_reason": chosen["reason"],
        "routes": chosen["routes"],
        "rsyslog_files": chosen["rsyslog_files"],
        "window_minutes": window_minutes,
        "since": since.strftime("%Y-%m-%dT%H:%M:%S"),
        "events": len(events),
        "unavailable": unavailable,
    })
    return result
