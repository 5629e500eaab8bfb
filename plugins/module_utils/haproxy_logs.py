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
parsed configuration through rsyslog's rules (``syslog_routes``: ``log_targets``,
``read_rsyslog``, ``syslog_files``) and says why in ``source_reason``. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import re

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.syslog_routes import (
    RSYSLOG_CONF, SYSLOG_NG_CONF, log_targets, read_rsyslog, syslog_files,
)

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
            if out["files"] or routed["elsewhere"]:
                out["reason"] = "; ".join(notes)
                return out
    fallback = []
    for path in rsyslog_haproxy_files(fs) + list(DEFAULT_FILES):
        if path not in fallback and fs.isfile(path):
            fallback.append(path)
    notes.append("%sthe files /etc/rsyslog.d names next to \"haproxy\" and %s: %s"
                 % ("" if config is None else "falling back to ", ", ".join(DEFAULT_FILES),
                    ", ".join(fallback) if fallback else "none exists"))
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
    seen = set(_event_key(ev) for ev in events)
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
        # checked against the earlier sources only: a line this file holds twice counts twice
        fresh_keys = set()
        for ev in scan_text(text, since, now):
            key = _event_key(ev)
            if key is None or key not in seen:
                events.append(ev)
                fresh_keys.add(key)
        seen.update(fresh_keys)
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
