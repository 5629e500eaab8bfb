# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HAProxy runtime API: a stats-socket client (UNIX or TCP) and parsers of its answers.

Parsers are pure functions over text (``show info``, ``show stat`` CSV, ``show servers state``)
and work on captured output as well as on a live socket. ``show stat`` is read by header name,
never by position, across HAProxy 1.5 (52 columns) to 3.x (~100 columns plus module counters
after a ``-`` column); a headerless dump falls back to HAProxy's fixed column order.

The client opens one connection per command (the runtime API answers one command and closes)
with a bounded timeout. Failures never raise out of ``collect_runtime``: they come back as
``available: false`` with an ``error`` that says why. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import errno
import itertools
import re
import socket
import time

# HAProxy's stats field order (include/haproxy/stats-t.h); fields are only ever appended.
STAT_FIELDS = (
    "pxname", "svname", "qcur", "qmax", "scur", "smax", "slim", "stot", "bin", "bout", "dreq",
    "dresp", "ereq", "econ", "eresp", "wretr", "wredis", "status", "weight", "act", "bck",
    "chkfail", "chkdown", "lastchg", "downtime", "qlimit", "pid", "iid", "sid", "throttle",
    "lbtot", "tracked", "type", "rate", "rate_lim", "rate_max", "check_status", "check_code",
    "check_duration", "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other",
    "hanafail", "req_rate", "req_rate_max", "req_tot", "cli_abrt", "srv_abrt", "comp_in",
    "comp_out", "comp_byp", "comp_rsp", "lastsess", "last_chk", "last_agt", "qtime", "ctime",
    "rtime", "ttime", "agent_status", "agent_code", "agent_duration", "check_desc", "agent_desc",
    "check_rise", "check_fall", "check_health", "agent_rise", "agent_fall", "agent_health",
    "addr", "cookie", "mode", "algo", "conn_rate", "conn_rate_max", "conn_tot", "intercepted",
    "dcon", "dses", "wrew", "connect", "reuse", "cache_lookups", "cache_hits", "srv_icur",
    "src_ilim", "qtime_max", "ctime_max", "rtime_max", "ttime_max", "eint", "idle_conn_cur",
    "safe_conn_cur", "used_conn_cur", "need_conn_est", "uweight", "agg_server_status",
    "agg_server_check_status", "agg_check_status",
)
# Text columns: everything else that looks like an integer becomes an int.
STAT_TEXT_FIELDS = frozenset(("pxname", "svname", "status", "check_status", "last_chk", "last_agt",
                              "agent_status", "check_desc", "agent_desc", "addr", "cookie", "mode",
                              "algo", "tracked"))
CHECK_STATUSES = frozenset((
    "UNK", "INI", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7OK",
    "L7OKC", "L7TOUT", "L7RSP", "L7STS", "PROCERR", "PROCTOUT", "PROCOK", "HANA", "CHECKED",
))
STAT_TYPES = {0: "frontend", 1: "backend", 2: "server", 3: "listener"}

# show servers state: numeric codes (include/haproxy/server-t.h, check-t.h)
SRV_OP_STATES = {0: "STOPPED", 1: "STARTING", 2: "RUNNING", 3: "STOPPING"}
SRV_ADMIN_FLAGS = ((0x01, "FMAINT"), (0x02, "IMAINT"), (0x04, "CMAINT"), (0x08, "FDRAIN"),
                   (0x10, "IDRAIN"), (0x20, "RMAINT"), (0x40, "HMAINT"))
CHECK_STATUS_CODES = ("UNK", "INI", "START", "CHECKED", "HANA", "SOCKERR", "L4OK", "L4TOUT",
                      "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7TOUT", "L7RSP", "L57DATA", "L7OK",
                      "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK")
CHECK_RESULT_CODES = ("UNKNOWN", "NEUTRAL", "FAILED", "PASSED", "CONDPASS")

MAX_RESPONSE_BYTES = 64 * 1024 * 1024
MAX_WARNINGS = 50
STAT_CHUNK_ROWS = 500  # rows converted together by parse_show_stat()
_STATUS_RE = re.compile(r"^(UP|DOWN|NOLB|MAINT|DRAIN|NO CHECK|OPEN|STOP|FULL|PAUSED|STOPPED)"
                        r"(?:\s+(\d+)/(\d+))?(?:\s*\((.*)\))?$", re.IGNORECASE)


class RuntimeApiError(Exception):
    """The runtime API could not be used; ``kind`` is a short machine-readable reason."""

    def __init__(self, kind, message):
        self.kind = kind
        super(RuntimeApiError, self).__init__(message)


class StatParseError(ValueError):
    """`show stat` output that cannot be read at all; names the source and line."""

    def __init__(self, source, lineno, message):
        super(StatParseError, self).__init__("%s:%d: %s" % (source, lineno, message))


# --------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------

def socket_label(sock):
    """Human-readable name of a stats socket spec."""
    if sock.get("via_master"):
        return "%s (master CLI, @1)" % sock["address"]
    if sock.get("family") in ("ipv4", "ipv6", "hostname"):
        host = sock["address"]
        if sock.get("family") == "ipv6":
            host = "[%s]" % host
        return "%s:%s" % (host, sock.get("port"))
    if sock.get("family") == "abns":
        return "abns@" + sock["address"]
    return sock.get("address") or "?"


def parse_socket_spec(text):
    """A `stats_socket` option value: a path, unix@path, abns@name, host:port, ipv4@/ipv6@..."""
    text = text.strip()
    m = re.match(r"^(unix|abns|ipv4|ipv6|tcp|tcp4|tcp6)@(.*)$", text)
    prefix = None
    if m:
        prefix, text = m.group(1), m.group(2)
    if prefix in ("unix", "abns"):
        return {"address": text, "family": prefix, "port": None}
    if prefix is None and (text.startswith("/") or ":" not in text):
        return {"address": text, "family": "unix", "port": None}
    if text.startswith("["):
        host, _sep, port = text[1:].partition("]:")
    else:
        host, _sep, port = text.rpartition(":")
    family = "ipv6" if ":" in host else "ipv4"
    if not re.match(r"^[0-9a-fA-F.:]*$", host):
        family = "hostname"
    if not port.isdigit():
        raise ValueError("stats socket '%s': expected a path or <address>:<port>" % text)
    return {"address": host or "127.0.0.1", "family": family, "port": int(port)}


def _connect_target(sock):
    fam = sock.get("family")
    if fam == "unix":
        return socket.AF_UNIX, sock["address"]
    if fam == "abns":
        return socket.AF_UNIX, "\0" + sock["address"]
    host = sock["address"]
    if host in ("0.0.0.0", "", "*"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if fam == "ipv6":
        return socket.AF_INET6, (host, sock["port"])
    if fam == "hostname":
        return None, (host, sock["port"])
    return socket.AF_INET, (host, sock["port"])


def query(sock, command, timeout=2.0):
    """Send one command on a stats socket and return its whole answer as text.

    Raises RuntimeApiError(kind, message) with kind in no-socket, permission-denied, refused,
    timeout, error, denied-command, unknown-command. A spec with ``via_master`` is HAProxy's
    master CLI (``-S``): the command goes to the current worker with an ``@1`` prefix.
    """
    label = socket_label(sock)
    deadline = time.monotonic() + timeout
    family, target = _connect_target(sock)
    if sock.get("via_master"):
        command = "@1 " + command  # the master CLI forwards to the current worker
    try:
        if family is None:
            conn = socket.create_connection(target, timeout=timeout)
        else:
            conn = socket.socket(family, socket.SOCK_STREAM)
            conn.settimeout(timeout)
            conn.connect(target)
    except socket.timeout:
        raise RuntimeApiError("timeout", "stats socket %s: no connection within %.1f s" % (label, timeout))
    except OSError as exc:
        raise _os_error(exc, label)
    chunks = []
    size = 0
    try:
        with conn:
            conn.sendall(command.encode("ascii") + b"\n")
            # end of input, as `socat` does: the master CLI waits for it before answering
            try:
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise socket.timeout()
                conn.settimeout(remaining)
                data = conn.recv(262144)
                if not data:
                    break
                chunks.append(data)
                size += len(data)
                if size > MAX_RESPONSE_BYTES:
                    raise RuntimeApiError("error", "stats socket %s: answer to '%s' larger than %d bytes"
                                          % (label, command, MAX_RESPONSE_BYTES))
    except socket.timeout:
        raise RuntimeApiError("timeout", "stats socket %s: no complete answer to '%s' within %.1f s"
                              % (label, command, timeout))
    except OSError as exc:
        raise _os_error(exc, label)
    text = b"".join(chunks).decode("utf-8", "replace")
    head = text.lstrip()[:200]
    if head.startswith("Permission denied"):
        raise RuntimeApiError("denied-command", "stats socket %s: '%s' refused: Permission denied (socket level too low;"
                              " use a socket with 'level operator' or 'level admin')" % (label, command))
    if head.startswith("Unknown command"):
        raise RuntimeApiError("unknown-command", "stats socket %s: '%s' is not known to this HAProxy" % (label, command))
    return text


def _os_error(exc, label):
    code = exc.errno
    name = errno.errorcode.get(code, str(code)) if code else type(exc).__name__
    if code == errno.ENOENT:
        return RuntimeApiError("no-socket", "stats socket %s does not exist (HAProxy not running, or its socket is "
                                            "elsewhere)" % label)
    if code in (errno.EACCES, errno.EPERM):
        return RuntimeApiError("permission-denied", "stats socket %s: permission denied (run as root or as a member of "
                                                    "the socket's group)" % label)
    if code == errno.ECONNREFUSED:
        return RuntimeApiError("refused", "stats socket %s: connection refused (HAProxy is not running or does not "
                                          "listen there)" % label)
    if code == errno.ENOTSOCK:
        return RuntimeApiError("error", "stats socket %s is not a socket" % label)
    return RuntimeApiError("error", "stats socket %s: %s (%s)" % (label, exc.strerror or exc, name))


# --------------------------------------------------------------------------------------------
# Parsers
# --------------------------------------------------------------------------------------------

# A `show info` field name: one word, or two plain words for "Unstoppable Jobs" and "Build info"
# (2.x, 3.x); other text before a colon (a help or error line) is not a field.
_INFO_KEY_RE = re.compile(r"^(?:\S+|[A-Za-z][\w-]* [A-Za-z][\w-]*)$")


def parse_show_info(text):
    """`show info` ("Name: value" lines) as a dict of strings, in HAProxy's order."""
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and _INFO_KEY_RE.match(key.strip()):
            info[key.strip()] = value.strip()
    return info


def normalize_status(status):
    """Split a `show stat` status into (state, transition, counts, detail).

    state: UP, DOWN, MAINT, DRAIN, NOLB, NO_CHECK (or OPEN/STOP/FULL for frontends, None when
    unknown); transition: going_down ("UP 1/3"), going_up ("DOWN 1/2") or None; counts: [n, m]
    or None; detail: what the parentheses say ("agent", "resolution", "via b/s") or None.
    """
    if status is None:
        return None, None, None, None
    m = _STATUS_RE.match(str(status).strip())
    if not m:
        return None, None, None, None
    state = m.group(1).upper().replace(" ", "_")
    counts = [int(m.group(2)), int(m.group(3))] if m.group(2) else None
    transition = None
    if counts:
        transition = "going_up" if state == "DOWN" else "going_down"
    return state, transition, counts, m.group(4)


def parse_show_stat(text, source="show stat"):
    """Parse `show stat` CSV. Returns {servers, backends, frontends, columns, warnings}.

    Each row is a dict keyed by header name (module counters after the '-' column dropped),
    plus: type_name, state, transition, transition_counts, status_detail, in_progress (a '* '
    prefix on check_status: a check is running now; check_status keeps the code without it).

    Rows with every column are converted column by column (each distinct value of a column
    once, a column of integers in one int() pass): about 25% faster than a per-cell loop when
    columns repeat values (flags, states, zeros, empty cells), about the same when every counter
    differs (see benchmarks/bench_haproxy.py). Shorter rows take a per-row path; the result is
    the same either way.
    """
    lines = text.splitlines(True)
    header = None
    start = 0
    for idx, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            header = [h.strip() for h in stripped.lstrip("#").strip().split(",")]
            start = idx + 1
        else:
            start = idx
        break
    warnings = []
    if header is None:
        first = next((line for line in lines if line.strip()), None)
        header = list(STAT_FIELDS)
        if first is not None:
            width = len(first.rstrip("\r\n").split(","))
            header = header[:width]
            warnings.append("%s: no '# pxname,...' header line: columns taken in HAProxy's fixed order" % source)
    if "-" in header:
        header = header[:header.index("-")]
    while header and header[-1] == "":
        header.pop()
    if "pxname" not in header or "svname" not in header:
        raise StatParseError(source, start or 1, "header has no pxname/svname column: not `show stat` output")
    ncols = len(header)
    body = lines[start:]
    numeric = [name not in STAT_TEXT_FIELDS for name in header]
    quoted = '"' in text
    width = None if quoted else _uniform_width(body, ncols)
    if width is not None:
        # the usual dump: every line has the same number of fields and no quotes. Converted
        # column by column, in chunks of rows (all the cells at once would cost more memory
        # than the per-row loop and end up slower).
        events = []
        typed = []
        for first in range(0, len(body), STAT_CHUNK_ROWS):
            chunk = body[first:first + STAT_CHUNK_ROWS]
            typed.extend(_stat_columns(_chunk_columns(chunk, width, ncols), len(chunk), None, start + 1 + first,
                                       header, numeric, source, events))
        return _stat_result(typed, events, warnings, ncols)
    if quoted and any('"' in line for line in body):
        rows = list(csv.reader(body))
    else:
        rows = [line.rstrip("\r\n").split(",") for line in body]
    i_svname = header.index("svname")

    # Sort the rows: complete ones go through the column path; the rest as before, one by one.
    # events: (rownum, order, capped, message) replayed at the end in row order, so that the
    # warnings and their MAX_WARNINGS cap come out exactly as a row-by-row loop gives them.
    events = []
    full = rows
    full_rownums = None
    partial = []  # (rownum, row)
    if rows and min(map(len, rows)) < ncols:
        full = []
        full_rownums = []
        for rownum, row in enumerate(rows, start + 1):
            if len(row) >= ncols:
                full.append(row)
                full_rownums.append(rownum)
            elif not row or (len(row) == 1 and not row[0].strip()):
                continue
            elif len(row) < 2:
                events.append((rownum, 0, False, "%s: row %d: too short, skipped: %r" % (
                    source, rownum, ",".join(row)[:80])))
            elif len(row) <= i_svname:
                events.append((rownum, 0, False, "%s: row %d: too short, skipped" % (source, rownum)))
            else:
                partial.append((rownum, row))
                events.append((rownum, 0, True, "%s: row %d (%s/%s): %d of %d columns" % (
                    source, rownum, row[0], row[1], len(row), ncols)))

    typed = []  # (rownum, rtype, entry) in row order
    if full:
        columns = list(itertools.islice(zip(*full), ncols))
        typed = _stat_columns(columns, len(full), full_rownums, start + 1, header, numeric, source, events)
    if partial:
        status_cache = {}
        for rownum, row in partial:
            entry = dict((name, _stat_cell(value) if num else (value or None))
                         for name, num, value in zip(header, numeric, row))
            rtype = _row_type(entry.get("svname"), entry.get("type"))
            entry["type_name"] = STAT_TYPES.get(rtype, str(rtype))
            row_warnings = []
            _annotate(entry, row_warnings, source, rownum, status_cache)
            events.extend((rownum, 1 + k, True, w) for k, w in enumerate(row_warnings))
            typed.append((rownum, rtype, entry))
        typed.sort(key=lambda item: item[0])
    return _stat_result(typed, events, warnings, ncols)


def _stat_result(typed, events, warnings, ncols):
    events.sort(key=lambda event: (event[0], event[1]))
    for _rownum, _order, capped, message in events:
        if not capped or len(warnings) < MAX_WARNINGS:
            warnings.append(message)
    servers = [entry for _n, rtype, entry in typed if rtype == 2]
    backends = [entry for _n, rtype, entry in typed if rtype == 1]
    frontends = [entry for _n, rtype, entry in typed if rtype == 0]
    return {"servers": servers, "backends": backends, "frontends": frontends, "columns": ncols,
            "warnings": warnings}


def _uniform_width(body, ncols):
    """The number of fields of every line of ``body`` (lines as str.splitlines(True) gives
    them) when they all have the same, at least ``ncols``; else None."""
    if not body:
        return None
    commas = set(map(str.count, body, itertools.repeat(",")))
    if len(commas) != 1:  # blank lines, short or long rows: the row-by-row path
        return None
    width = commas.pop() + 1
    return width if width >= ncols else None


def _chunk_columns(lines, width, ncols):
    """The first ``ncols`` columns of ``lines``, each of ``width`` fields."""
    cells = ",".join(lines).split(",")
    columns = [cells[j::width] for j in range(ncols)]
    if width == ncols:
        # the last field still holds its line end; strip it as line.rstrip("\r\n") would
        columns[-1] = [cell.rstrip("\r\n") for cell in columns[-1]]
    return columns


def _stat_cell(value):
    """One numeric cell: "" -> None, an integer -> int, anything else stays text."""
    if value.isdigit() and value.isascii():
        return int(value)
    if value[:1] == "-" and value[1:].isdigit() and value.isascii():
        return int(value)
    return value or None


def _convert_column(column, is_numeric):
    """Convert one column (a sequence of cells) as _stat_cell() would each cell.

    Few distinct values (flags, states, zeros; judged on the first 64 cells): each converted
    once, then one lookup per cell. Mostly distinct (counters, addresses): an all-integer column
    in one int() pass, else cell by cell.
    """
    if len(set(column[:64])) <= 16:
        if not is_numeric:
            memo = dict((value, value or None) for value in set(column))
        else:
            memo = dict((value, _stat_cell(value)) for value in set(column))
        return list(map(memo.__getitem__, column))
    if not is_numeric:
        return [value or None for value in column]
    joined = "".join(column)
    if all(column) and joined.isdigit() and joined.isascii():  # no empty cell, only ASCII digits
        return list(map(int, column))
    return list(map(_stat_cell, column))


def _row_type(svname, rtype):
    if svname == "FRONTEND":
        return 0
    if svname == "BACKEND":
        return 1
    return rtype if isinstance(rtype, int) else 2


def _memo_part(memo, part, values):
    """``memo[value][part]`` for each of ``values`` (one dict lookup per value)."""
    return list(map(dict((key, parsed[part]) for key, parsed in memo.items()).__getitem__, values))


def _stat_columns(raw_columns, count, rownums, first_rownum, header, numeric, source, events):
    """``count`` complete rows given as their columns (one sequence per header name), converted
    column by column; returns [(rownum, rtype, entry)]. ``rownums`` None: consecutive rows."""
    columns = [_convert_column(column, num) for column, num in zip(raw_columns, numeric)]
    index = dict((name, i) for i, name in enumerate(header))  # the last column of a name wins, as in a dict

    svnames = columns[index["svname"]]
    types = columns[index["type"]] if "type" in index else [None] * count
    rtypes = list(map(_row_type, svnames, types))
    type_memo = dict((t, STAT_TYPES.get(t, str(t))) for t in set(rtypes))
    type_names = list(map(type_memo.__getitem__, rtypes))

    statuses = columns[index["status"]] if "status" in index else [None] * count
    status_memo = dict((status, normalize_status(status)) for status in set(statuses))
    states = _memo_part(status_memo, 0, statuses)
    transitions = _memo_part(status_memo, 1, statuses)
    details = _memo_part(status_memo, 3, statuses)
    if any(parsed[2] for parsed in status_memo.values()):
        # "UP 1/3": a list of its own for every row
        counts = [list(status_memo[status][2]) if status_memo[status][2] else None for status in statuses]
    else:
        counts = [None] * count

    if "check_status" in index:
        checks = columns[index["check_status"]]
        check_memo = {}
        for chk in set(checks):
            if isinstance(chk, str) and chk.startswith("* "):
                check_memo[chk] = (chk[2:], True)
            else:
                check_memo[chk] = (chk, False)
        columns[index["check_status"]] = _memo_part(check_memo, 0, checks)
        in_progress = _memo_part(check_memo, 1, checks)
    else:
        checks = None
        check_memo = {}
        in_progress = [False] * count

    # the warnings of _annotate(), for the rare rows that have an unknown status or check status
    bad_status = set(status for status, parsed in status_memo.items() if status is not None and parsed[0] is None)
    bad_check = set(chk for chk, (code, _p) in check_memo.items() if code and code not in CHECK_STATUSES)
    if bad_status or bad_check:
        pxnames = columns[index["pxname"]]
        for i in range(count):
            rownum = rownums[i] if rownums is not None else first_rownum + i
            if statuses[i] in bad_status:
                events.append((rownum, 1, True, "%s: row %d (%s/%s): unknown status %r" % (
                    source, rownum, pxnames[i], svnames[i], statuses[i])))
            if checks is not None and checks[i] in bad_check:
                events.append((rownum, 2, True, "%s: row %d (%s/%s): unknown check_status %r" % (
                    source, rownum, pxnames[i], svnames[i], check_memo[checks[i]][0])))

    keys = list(header) + ["type_name", "state", "transition", "transition_counts", "status_detail", "in_progress"]
    columns.extend((type_names, states, transitions, counts, details, in_progress))
    entries = list(map(dict, map(zip, itertools.repeat(keys), zip(*columns))))
    if rownums is None:
        rownums = range(first_rownum, first_rownum + count)
    return list(zip(rownums, rtypes, entries))


def _annotate(entry, warnings, source, rownum, cache=None):
    status = entry.get("status")
    if cache is not None:
        parsed = cache.get(status)
        if parsed is None:
            parsed = cache[status] = normalize_status(status)
        state, transition, counts, detail = parsed
        counts = list(counts) if counts else None
    else:
        state, transition, counts, detail = normalize_status(status)
    entry["state"] = state
    entry["transition"] = transition
    entry["transition_counts"] = counts
    entry["status_detail"] = detail
    if entry.get("status") is not None and state is None and len(warnings) < MAX_WARNINGS:
        warnings.append("%s: row %d (%s/%s): unknown status %r" % (
            source, rownum, entry.get("pxname"), entry.get("svname"), entry.get("status")))
    chk = entry.get("check_status")
    in_progress = False
    if isinstance(chk, str) and chk.startswith("* "):
        in_progress = True
        chk = chk[2:]
        entry["check_status"] = chk
    entry["in_progress"] = in_progress
    if chk and chk not in CHECK_STATUSES and len(warnings) < MAX_WARNINGS:
        warnings.append("%s: row %d (%s/%s): unknown check_status %r" % (
            source, rownum, entry.get("pxname"), entry.get("svname"), chk))


def parse_servers_state(text, source="show servers state"):
    """Parse `show servers state` (format 1). Returns {version, servers, warnings}.

    Each server row is keyed by header name ('-' becomes None, numbers become ints) plus
    op_state_name, admin_flags, check_status_name and check_result_name.
    """
    version = None
    header = None
    servers = []
    warnings = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            header = stripped.lstrip("#").split()
            continue
        if header is None:
            if version is None and stripped.isdigit():
                version = int(stripped)
                continue
            warnings.append("%s:%d: row before the header line, skipped" % (source, lineno))
            continue
        fields = stripped.split()
        if len(fields) != len(header):
            warnings.append("%s:%d: %d fields for %d columns" % (source, lineno, len(fields), len(header)))
        row = {}
        for name, value in zip(header, fields):
            if value == "-":
                row[name] = None
            elif value.isdigit():
                row[name] = int(value)
            else:
                row[name] = value
        op = row.get("srv_op_state")
        row["op_state_name"] = SRV_OP_STATES.get(op) if isinstance(op, int) else None
        admin = row.get("srv_admin_state")
        row["admin_flags"] = [name for bit, name in SRV_ADMIN_FLAGS if isinstance(admin, int) and admin & bit]
        chk = row.get("srv_check_status")
        row["check_status_name"] = (CHECK_STATUS_CODES[chk] if isinstance(chk, int) and chk < len(CHECK_STATUS_CODES)
                                    else None)
        res = row.get("srv_check_result")
        row["check_result_name"] = (CHECK_RESULT_CODES[res] if isinstance(res, int) and res < len(CHECK_RESULT_CODES)
                                    else None)
        servers.append(row)
    return {"version": version, "servers": servers, "warnings": warnings}


# --------------------------------------------------------------------------------------------
# Collector
# --------------------------------------------------------------------------------------------

def collect_runtime(sockets, timeout=2.0, want_state=True, query_fn=None):
    """Read `show info`, `show stat` and `show servers state` from the first working socket.

    ``sockets``: candidate specs ({address, family, port}) in order of preference. Returns the
    ``runtime`` dict of the facts, never raises. ``query_fn`` replaces ``query`` in tests.
    """
    query_fn = query_fn or query
    result = {"available": False, "socket": None, "error": None, "error_kind": None, "info": {},
              "stat": [], "stat_backends": [], "servers_state": [], "warnings": [], "unavailable": [],
              "tried": []}
    if not sockets:
        result["error"] = "no stats socket: none configured in the global section and none given"
        result["error_kind"] = "no-socket"
        return result
    errors = []
    chosen = None
    for sock in sockets:
        label = socket_label(sock)
        result["tried"].append(label)
        try:
            info_text = query_fn(sock, "show info", timeout)
        except RuntimeApiError as exc:
            errors.append(exc)
            continue
        chosen = sock
        result["info"] = parse_show_info(info_text)
        break
    if chosen is None:
        # The most telling reason first: a permission problem beats a missing socket.
        order = ("permission-denied", "denied-command", "refused", "timeout", "error", "unknown-command", "no-socket")
        errors.sort(key=lambda e: order.index(e.kind) if e.kind in order else len(order))
        result["error"] = "; ".join(str(e) for e in errors)
        result["error_kind"] = errors[0].kind
        return result
    label = socket_label(chosen)
    result["available"] = True
    result["socket"] = label
    try:
        stat = parse_show_stat(query_fn(chosen, "show stat", timeout), source="%s show stat" % label)
        result["stat"] = stat["servers"]
        result["stat_backends"] = stat["backends"]
        result["warnings"].extend(stat["warnings"])
    except (RuntimeApiError, StatParseError) as exc:
        result["unavailable"].append({"what": "runtime.stat", "reason": str(exc), "source": label + " show stat"})
    if want_state:
        try:
            state = parse_servers_state(query_fn(chosen, "show servers state", timeout))
            result["servers_state"] = state["servers"]
            result["warnings"].extend(state["warnings"])
        except RuntimeApiError as exc:
            result["unavailable"].append({"what": "runtime.servers_state", "reason": str(exc),
                                          "source": label + " show servers state"})
    return result
