# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse what SELinux tells about a host: mode, policy, booleans, port labels and AVC denials.

Pure functions over text (selinuxfs files, ``getenforce``, ``sestatus``, ``getsebool``,
``semanage port -l``, the audit log and ``ausearch`` in raw or ``-i`` form), so the same code
serves a live host and text a user pastes. Errors name the source and the line. Standard library
only: this runs on managed hosts (Python 3.8+).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

MODES = ("enforcing", "permissive", "disabled")

# Record types the kernel logs by number when auditd is not running (linux/audit.h).
AUDIT_TYPE_NAMES = {
    "1107": "USER_AVC", "1300": "SYSCALL", "1302": "PATH", "1307": "CWD", "1327": "PROCTITLE",
    "1323": "MMAP", "1400": "AVC",
}
# Socket classes whose denials concern the network path (refpolicy flask/security_classes).
INET_SOCKET_CLASSES = ("tcp_socket", "udp_socket", "sctp_socket", "rawip_socket", "icmp_socket",
                       "dccp_socket")
# Permissions that decide whether a TCP connection can be made or served.
PORT_PERMISSIONS = ("name_connect", "name_bind", "node_bind")
# Linux errno numbers (asm-generic/errno.h, identical on x86_64 and aarch64) that matter for a
# connect or bind; raw audit records print exit=-N.
ERRNO_NAMES = {
    1: "EPERM", 13: "EACCES", 98: "EADDRINUSE", 99: "EADDRNOTAVAIL", 101: "ENETUNREACH",
    104: "ECONNRESET", 110: "ETIMEDOUT", 111: "ECONNREFUSED", 113: "EHOSTUNREACH",
    115: "EINPROGRESS",
}
# Raw SYSCALL records give arch as the AUDIT_ARCH_* constant and the syscall by number.
SYSCALL_NAMES = {
    "c000003e": {"42": "connect", "49": "bind", "50": "listen", "41": "socket", "43": "accept",
                 "288": "accept4", "257": "openat", "9": "mmap"},
    "c00000b7": {"203": "connect", "200": "bind", "201": "listen", "198": "socket", "202": "accept",
                 "242": "accept4", "56": "openat", "222": "mmap"},
}
ARCH_NAMES = {"c000003e": "x86_64", "c00000b7": "aarch64"}


class MacParseError(ValueError):
    """Text from an SELinux or AppArmor source that cannot be read; names the source and line."""

    def __init__(self, source, lineno, message):
        self.source = source
        self.lineno = lineno
        super(MacParseError, self).__init__("%s:%d: %s" % (source, lineno, message))


def context_type(context):
    """The type field of an SELinux context (``user:role:type:level``), or None."""
    if not context:
        return None
    parts = context.split(":")
    if len(parts) < 3:
        return None
    return parts[2]


# ---------------------------------------------------------------------------------------------
# Mode, policy, booleans


def parse_enforce(text, source="/sys/fs/selinux/enforce"):
    """/sys/fs/selinux/enforce holds 1 (enforcing) or 0 (permissive)."""
    value = text.strip()
    if value == "1":
        return "enforcing"
    if value == "0":
        return "permissive"
    raise MacParseError(source, 1, "expected 0 or 1, got %r" % value[:40])


def parse_getenforce(text, source="getenforce"):
    """``getenforce`` prints Enforcing, Permissive or Disabled."""
    for lineno, line in enumerate(text.splitlines(), 1):
        value = line.strip().lower()
        if not value:
            continue
        if value in MODES:
            return value
        raise MacParseError(source, lineno, "not an SELinux mode: %r" % line.strip()[:60])
    raise MacParseError(source, 1, "empty output")


def _onoff(value):
    value = value.strip().lower()
    if value in ("on", "1", "true", "enabled", "active"):
        return True
    if value in ("off", "0", "false", "disabled", "inactive"):
        return False
    return None


def parse_sestatus(text, source="sestatus"):
    """Read ``sestatus`` (and ``sestatus -b``) output.

    Returns ``{enabled, mode, config_mode, policy, mls, deny_unknown, max_kernel_policy_version,
    selinuxfs_mount, booleans}``; keys whose line is absent are None (RHEL 6 prints "Policy from
    config file" where later versions print "Loaded policy name"). ``booleans`` holds the
    "Policy booleans:" section of ``sestatus -b``; empty otherwise.
    """
    result = {"enabled": None, "mode": None, "config_mode": None, "policy": None, "mls": None,
              "deny_unknown": None, "max_kernel_policy_version": None, "selinuxfs_mount": None,
              "booleans": {}}
    section = None
    seen = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip():
            continue
        stripped = line.strip()
        if stripped.endswith(":") and ":" not in stripped[:-1]:
            # "Policy booleans:", "Process contexts:", "File contexts:"
            section = stripped[:-1].lower()
            continue
        if section == "policy booleans":
            if stripped.strip(".") == "":
                continue  # "..." where a paste left the list out
            fields = stripped.split()
            if len(fields) == 2 and _onoff(fields[1]) is not None:
                result["booleans"][fields[0]] = _onoff(fields[1])
                continue
            raise MacParseError(source, lineno, "not a boolean line: %r" % stripped[:80])
        if section is not None:
            continue  # process and file contexts are not needed
        if ":" not in line:
            raise MacParseError(source, lineno, "not a 'key: value' line: %r" % stripped[:80])
        key, value = line.split(":", 1)
        key = key.strip().lower()
        value = value.strip()
        seen = True
        if key == "selinux status":
            result["enabled"] = value.lower() == "enabled"
            if not result["enabled"]:
                result["mode"] = "disabled"
        elif key == "current mode":
            result["mode"] = value.lower()
        elif key == "mode from config file":
            result["config_mode"] = value.lower()
        elif key in ("loaded policy name", "policy from config file"):
            if result["policy"] is None or key == "loaded policy name":
                result["policy"] = value
        elif key == "policy mls status":
            result["mls"] = _onoff(value)
        elif key == "policy deny_unknown status":
            result["deny_unknown"] = value.lower()
        elif key == "max kernel policy version":
            try:
                result["max_kernel_policy_version"] = int(value)
            except ValueError:
                raise MacParseError(source, lineno, "policy version is not a number: %r" % value)
        elif key == "selinuxfs mount":
            result["selinuxfs_mount"] = value
    if not seen:
        raise MacParseError(source, 1, "no 'SELinux status:' line")
    if result["mode"] is not None and result["mode"] not in MODES:
        raise MacParseError(source, 1, "unknown mode %r" % result["mode"])
    return result


def parse_boolean_file(text, source="/sys/fs/selinux/booleans"):
    """/sys/fs/selinux/booleans/NAME holds "<current> <pending>", e.g. "0 0"."""
    fields = text.split()
    if len(fields) != 2 or any(f not in ("0", "1") for f in fields):
        raise MacParseError(source, 1, "expected '<0|1> <0|1>', got %r" % text.strip()[:40])
    return {"current": fields[0] == "1", "pending": fields[1] == "1"}


_GETSEBOOL_RE = re.compile(r"^(\S+)\s+-->\s+(on|off)(?:\s+pending:\s+(on|off))?\s*$")


def parse_getsebool(text, source="getsebool"):
    """``getsebool -a`` / ``getsebool NAME...``: ``{name: {current, pending}}`` in output order.

    getsebool prints "NAME --> on" and, while a change is pending, "NAME --> off pending: on".
    """
    booleans = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _GETSEBOOL_RE.match(line.strip())
        if not match:
            raise MacParseError(source, lineno, "not a 'name --> on|off' line: %r" % line.strip()[:80])
        current = match.group(2) == "on"
        pending = current if match.group(3) is None else match.group(3) == "on"
        booleans[match.group(1)] = {"current": current, "pending": pending}
    return booleans


# ---------------------------------------------------------------------------------------------
# Port labels

_SEMANAGE_LINE_RE = re.compile(r"^(\S+)\s+(tcp|udp|sctp|dccp)\s+(\S.*)$")
_DEFAULT_PORT_TYPES = ("port_t", "reserved_port_t", "hi_reserved_port_t", "unreserved_port_t",
                       "ephemeral_port_t")


def _parse_port_ranges(text, source, lineno):
    ranges = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        low, sep, high = item.partition("-")
        try:
            low_n = int(low)
            high_n = int(high) if sep else low_n
        except ValueError:
            raise MacParseError(source, lineno, "not a port or port range: %r" % item)
        if not 0 <= low_n <= high_n <= 65535:
            raise MacParseError(source, lineno, "port range out of order or bounds: %r" % item)
        ranges.append([low_n, high_n])
    if not ranges:
        raise MacParseError(source, lineno, "no ports listed")
    return ranges


def parse_semanage_ports(text, source="semanage port -l", local=False):
    """``semanage port -l [-C] [-n]``: ``[{type, proto, ranges: [[low, high], ...], local}]``.

    Ranges keep the order semanage prints them in ("61001-65535, 1024-32767"). The heading line
    ("SELinux Port Type  Proto  Port Number") is skipped. ``local`` marks entries read from
    ``-C`` (local customisations).
    """
    entries = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("SELinux Port Type"):
            continue
        match = _SEMANAGE_LINE_RE.match(stripped)
        if not match:
            raise MacParseError(source, lineno, "not a 'type proto ports' line: %r" % stripped[:80])
        entries.append({"type": match.group(1), "proto": match.group(2),
                        "ranges": _parse_port_ranges(match.group(3), source, lineno),
                        "local": bool(local)})
    return entries


def port_label(entries, port, proto="tcp", local_entries=None):
    """Which port type labels ``proto/port``, by the rules the policy uses.

    A local customisation (``semanage port -l -C``) wins; otherwise the narrowest range that
    holds the port (policy portcon entries for single ports come before the catch-all
    reserved/unreserved/ephemeral ranges: "Earlier portcon entries take precedence",
    selinux-policy corenetwork.te.in). ``semanage port -l`` merges local entries into its
    listing, so the same port can show under two types; without ``local_entries`` that is
    reported as ``source: ambiguous``.

    Returns ``{port, proto, type, source: local|policy|ambiguous|null, range: [low, high],
    candidates: [types]}``.
    """
    def holding(items):
        found = []
        for order, entry in enumerate(items or ()):
            if entry["proto"] != proto:
                continue
            for low, high in entry["ranges"]:
                if low <= port <= high:
                    found.append((high - low, order, entry["type"], [low, high]))
        return sorted(found)

    result = {"port": port, "proto": proto, "type": None, "source": None, "range": None,
              "candidates": []}
    local = holding(local_entries)
    every = holding(entries)
    result["candidates"] = sorted(set(c[2] for c in every) | set(c[2] for c in local))
    if local:
        result.update(type=local[0][2], source="local", range=local[0][3])
        return result
    if not every:
        return result
    narrowest = [c for c in every if c[0] == every[0][0]]
    types = sorted(set(c[2] for c in narrowest))
    result.update(type=narrowest[0][2], range=narrowest[0][3])
    if len(types) > 1:
        result.update(type=None, source="ambiguous")
    else:
        result["source"] = "policy"
    return result


def is_default_port_type(port_type):
    """True for the catch-all types a port has when no policy module claims it."""
    return port_type in _DEFAULT_PORT_TYPES


# ---------------------------------------------------------------------------------------------
# Audit records and AVC denials

_RECORD_RE = re.compile(r"(?:(?<=\s)|^)(?:node=\S+\s+)?type=([A-Z0-9_]+)\s+(?:msg=)?audit\(([^)]*)\)\s*:\s?")
_KV_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s(]+\([^)]*\)|\S+)")
_AVC_RE = re.compile(r"avc:\s+(denied|granted)\s+\{\s*([^}]*?)\s*\}\s+for\s+(.*)$")
# ausearch -i prints the date with strftime %x of its locale: 01/10/22 under LC_ALL=C,
# 07/28/2021 under en_US, 19.11.2024 under de_DE (all seen in public reports).
_INTERPRETED_TIMES = (
    (re.compile(r"^(\d{2})/(\d{2})/(\d{2}|\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$"), ("m", "d", "y")),
    (re.compile(r"^(\d{2})\.(\d{2})\.(\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$"), ("d", "m", "y")),
)
_HEX_RE = re.compile(r"^(?:[0-9A-F]{2})+$")
# Fields the kernel hex-encodes in raw records when they hold spaces or odd bytes (untrusted
# strings, audit_log_untrustedstring); numbers such as pid=1312 look like hex but are not.
HEX_FIELDS = ("comm", "exe", "name", "path", "proctitle", "cwd", "cmd", "profile")


def parse_audit_stamp(stamp, source="audit", lineno=1):
    """``1688017932.590:72923`` (raw) or ``07/28/2021 07:36:55.442:428`` (``ausearch -i``).

    Returns ``{stamp, epoch, time_local, serial}``: ``epoch`` (float seconds) for raw records,
    ``time_local`` (ISO 8601 without zone: ausearch prints local time) for interpreted ones in
    a date format it knows; other formats keep only ``stamp``.
    """
    when, sep, serial = stamp.rpartition(":")
    if not sep or not serial.isdigit():
        raise MacParseError(source, lineno, "audit stamp without a serial: %r" % stamp)
    result = {"stamp": stamp, "epoch": None, "time_local": None, "serial": int(serial)}
    if re.match(r"^\d+(?:\.\d+)?$", when):
        result["epoch"] = float(when)
        return result
    for pattern, order in _INTERPRETED_TIMES:
        match = pattern.match(when.strip())
        if match:
            parts = dict(zip(order, match.groups()[:3]))
            hour, minute, second, frac = match.groups()[3:]
            year = parts["y"] if len(parts["y"]) == 4 else "20" + parts["y"]
            fraction = "." + frac if frac else ""
            result["time_local"] = "%s-%s-%sT%s:%s:%s%s" % (year, parts["m"], parts["d"], hour, minute,
                                                            second, fraction)
            break
    # Another locale's date: the stamp is kept as printed, time_local stays None.
    return result


def _unquote(key, value, raw):
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    if raw and key in HEX_FIELDS and _HEX_RE.match(value):
        # raw records hex-encode untrusted strings that hold spaces or odd bytes
        try:
            return bytes(bytearray.fromhex(value)).replace(b"\x00", b" ").decode("utf-8", "replace")
        except ValueError:
            return value
    return value


def parse_kv(body, raw=False):
    """Key=value fields of an audit record body, first occurrence wins."""
    fields = {}
    for match in _KV_RE.finditer(body):
        key = match.group(1)
        if key not in fields:
            fields[key] = _unquote(key, match.group(2), raw)
    return fields


_RECORD_START_RE = re.compile(r"type=[A-Z0-9_]+\s+(?:msg=)?audit\(|apparmor=\"?[A-Z]")
_LOG_PREFIX_RE = re.compile(r"^(?:[A-Z][a-z]{2}\s+\d+\s+\d\d:\d\d:\d\d|\d{4}-\d\d-\d\d[T ]|\[\s*\d+\.\d+\]|<\d+>)")
_SEPARATOR_RE = re.compile(r"^(?:-{4,}|time->|<no matches>)")


def logical_lines(text):
    """``(lineno, line)`` pairs with pasted records re-joined where a terminal wrapped them.

    A line that starts no record, is no log line of its own (syslog, ISO, dmesg prefix) and no
    ausearch separator continues the record of the line before; it is appended with no space,
    because a terminal wraps at a fixed column, even inside a word ("tclass=tcp_s" / "ocket").
    ``lineno`` is the line where the record starts.
    """
    result = []
    open_record = False
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        starts = bool(_RECORD_START_RE.search(line))
        if (open_record and not starts and stripped and not _SEPARATOR_RE.match(stripped)
                and not _LOG_PREFIX_RE.match(line)):
            result[-1] = (result[-1][0], result[-1][1] + line.rstrip("\r\n"))
            continue
        result.append((lineno, line))
        open_record = starts
    return result


def split_audit_records(text, source="audit"):
    """Every audit record in ``text``: ``[{type, stamp, epoch, time_local, serial, body, line}]``.

    Works on audit.log, ``ausearch`` output (raw or ``-i``; "----", "time->" and "<no matches>"
    lines are skipped), kernel log lines ("audit: type=1400 audit(...): ...") and pastes where
    several records were flattened onto one line or one record wrapped over several
    (``logical_lines``). Lines holding no record are skipped: logs carry other messages.
    """
    records = []
    for lineno, line in logical_lines(text):
        starts = list(_RECORD_RE.finditer(line))
        for index, match in enumerate(starts):
            end = starts[index + 1].start() if index + 1 < len(starts) else len(line)
            record = parse_audit_stamp(match.group(2), source, lineno)
            rtype = match.group(1)
            record["type"] = AUDIT_TYPE_NAMES.get(rtype, rtype)
            record["body"] = line[match.end():end].strip()
            record["line"] = lineno
            records.append(record)
    return records


def _errno_name(value):
    if value is None:
        return None
    match = re.match(r"^([A-Z][A-Z0-9]+)(?:\(.*\))?$", value)
    if match:
        return match.group(1)
    try:
        number = int(value)
    except ValueError:
        return None
    if number < 0:
        return ERRNO_NAMES.get(-number, "E%d" % -number)
    return None


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _syscall_summary(fields):
    arch = fields.get("arch")
    name = fields.get("syscall")
    if arch in SYSCALL_NAMES and name is not None:
        name = SYSCALL_NAMES[arch].get(name, name)
    success = fields.get("success")
    return {
        "name": name,
        "arch": ARCH_NAMES.get(arch, arch),
        "success": None if success is None else success == "yes",
        "exit": fields.get("exit"),
        "errno": _errno_name(fields.get("exit")),
        "exe": fields.get("exe"),
        "comm": fields.get("comm"),
        "pid": _int_or_none(fields.get("pid")),
    }


def _avc_from_record(record, source):
    match = _AVC_RE.search(record["body"])
    if not match:
        return None
    raw = record["epoch"] is not None
    fields = parse_kv(match.group(3), raw=raw)
    permissions = match.group(2).split()
    permissive = fields.get("permissive")
    scontext = fields.get("scontext")
    tcontext = fields.get("tcontext")
    tclass = fields.get("tclass")
    src_port = _int_or_none(fields.get("src"))
    dest_port = _int_or_none(fields.get("dest"))
    if dest_port is None and "name_connect" in permissions:
        dest_port = _int_or_none(fields.get("fport"))
    if src_port is None and "name_bind" in permissions:
        src_port = _int_or_none(fields.get("lport"))
    return {
        "source": source,
        "line": record["line"],
        "stamp": record["stamp"],
        "epoch": record["epoch"],
        "time_local": record["time_local"],
        "serial": record["serial"],
        "result": match.group(1),
        "permissions": permissions,
        "permission": permissions[0] if permissions else None,
        "pid": _int_or_none(fields.get("pid")),
        "comm": fields.get("comm"),
        "exe": None,
        "scontext": scontext,
        "stype": context_type(scontext),
        "tcontext": tcontext,
        "ttype": context_type(tcontext),
        "tclass": tclass,
        "permissive": None if permissive is None else permissive == "1",
        "src_port": src_port,
        "dest_port": dest_port,
        "port": dest_port if dest_port is not None else src_port,
        "name": fields.get("name"),
        "path": fields.get("path"),
        "network": tclass in INET_SOCKET_CLASSES and any(p in PORT_PERMISSIONS for p in permissions),
        "syscall": None,
    }


def parse_avc_denials(text, source="audit.log", include_granted=False):
    """AVC records of ``text`` (audit.log, ausearch raw or ``-i``, kernel log), in log order.

    Each record of the same event (same stamp) lends its SYSCALL to the AVC: ``syscall`` is
    ``{name, arch, success, exit, errno, exe, comm, pid}`` or None, and ``exe`` is copied up. A
    denial dict has: source, line, stamp, epoch, time_local, serial, result (denied|granted),
    permissions, permission (the first), pid, comm, exe, scontext, stype, tcontext, ttype,
    tclass, permissive (bool, None when the kernel did not say), src_port, dest_port, port,
    name, path, network (an inet socket class and a port permission), syscall.
    """
    records = split_audit_records(text, source)
    syscalls = {}
    for record in records:
        if record["type"] == "SYSCALL":
            fields = parse_kv(record["body"], raw=record["epoch"] is not None)
            syscalls.setdefault(record["stamp"], _syscall_summary(fields))
    denials = []
    for record in records:
        if record["type"] != "AVC":
            continue
        avc = _avc_from_record(record, source)
        if avc is None:
            continue  # AppArmor also logs as type=AVC (1400); see mac_apparmor
        if avc["result"] != "denied" and not include_granted:
            continue
        syscall = syscalls.get(record["stamp"])
        if syscall is not None:
            avc["syscall"] = syscall
            avc["exe"] = syscall["exe"]
        denials.append(avc)
    return denials


def is_ausearch_empty(text):
    """``ausearch`` prints "<no matches>" (on stderr, exit 1) when nothing matched."""
    return text.strip() == "<no matches>"
