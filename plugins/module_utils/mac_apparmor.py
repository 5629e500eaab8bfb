# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse what AppArmor tells about a host: profiles and their modes, the label of a process and
``apparmor="DENIED"`` records for network operations.

Pure functions over text (/sys/kernel/security/apparmor/profiles, /proc/PID/attr/current,
``aa-status --json``, the audit log, the kernel log or ``journalctl -k``). Errors name the source
and the line. Standard library only: this runs on managed hosts (Python 3.8+).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_selinux import (
    MacParseError,
    logical_lines,
    parse_audit_stamp,
    parse_kv,
)

PROFILE_MODES = ("enforce", "complain", "kill", "unconfined", "prompt", "audit", "mixed")
# Socket operations AppArmor mediates for network rules (apparmor.d(5), "Network Rules").
NETWORK_OPERATIONS = ("create", "connect", "bind", "listen", "accept", "sendmsg", "recvmsg",
                      "getsockname", "getpeername", "getsockopt", "setsockopt", "shutdown")
INET_FAMILIES = ("inet", "inet6")

_LABEL_RE = re.compile(r"^(.*\S)\s+\(([a-z]+)\)$")


def parse_label(text, source="label", lineno=1):
    """One AppArmor label as the kernel prints it: ``name (mode)`` or ``unconfined``.

    Returns ``{profile, mode}``; a stacked label ``a//&b (enforce)`` keeps the whole name.
    """
    value = text.replace("\x00", "").strip()
    if not value:
        raise MacParseError(source, lineno, "empty label")
    if value == "unconfined":
        return {"profile": "unconfined", "mode": "unconfined"}
    match = _LABEL_RE.match(value)
    if not match:
        raise MacParseError(source, lineno, "not 'profile (mode)': %r" % value[:120])
    return {"profile": match.group(1), "mode": match.group(2)}


def parse_proc_attr_current(text, source="/proc/PID/attr/current"):
    """/proc/PID/attr/apparmor/current (or attr/current without another LSM): ``{profile, mode}``."""
    return parse_label(text, source)


def parse_kernel_profiles(text, source="/sys/kernel/security/apparmor/profiles"):
    """The kernel's list of loaded profiles, one ``name (mode)`` a line: ``{name: mode}``."""
    profiles = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        label = parse_label(line, source, lineno)
        profiles[label["profile"]] = label["mode"]
    return profiles


def _merge_pairs(pairs):
    """JSON objects whose keys repeat (aa-status groups processes per mode): lists are joined."""
    result = {}
    for key, value in pairs:
        if key in result and isinstance(result[key], list) and isinstance(value, list):
            result[key] = result[key] + value
        else:
            result[key] = value
    return result


def _repair_aa_status_json(text):
    # aa-status (apparmor binutils/aa_status.c) writes its JSON by hand: with no profile in
    # enforce mode the first entry starts with ", "; per-mode process groups are concatenated
    # without a comma between "]" and the next key.
    text = re.sub(r"\{\s*\]?\s*,\s*", "{", text)
    text = re.sub(r"\]\s*\"", '], "', text)
    return text


def parse_aa_status_json(text, source="aa-status --json"):
    """``aa-status --json`` (or ``--pretty-json``): ``{version, profiles: {name: mode},
    processes: [{pid, exe, profile, status}]}`` with processes sorted by pid.

    Invalid JSON as some aa-status releases print it is repaired; what stays unreadable raises
    MacParseError.
    """
    try:
        data = json.loads(text, object_pairs_hook=_merge_pairs)
    except ValueError:
        try:
            data = json.loads(_repair_aa_status_json(text), object_pairs_hook=_merge_pairs)
        except ValueError as exc:
            raise MacParseError(source, getattr(exc, "lineno", 1) or 1, "not JSON: %s" % exc)
    if not isinstance(data, dict) or not isinstance(data.get("profiles", {}), dict):
        raise MacParseError(source, 1, "no 'profiles' object")
    processes = []
    for exe, entries in sorted((data.get("processes") or {}).items()):
        if not isinstance(entries, list):
            raise MacParseError(source, 1, "processes of %r are not a list" % exe)
        for entry in entries:
            try:
                pid = int(entry.get("pid"))
            except (TypeError, ValueError):
                raise MacParseError(source, 1, "process of %r without a numeric pid" % exe)
            processes.append({"pid": pid, "exe": exe, "profile": entry.get("profile"),
                              "status": entry.get("status")})
    processes.sort(key=lambda p: p["pid"])
    return {"version": data.get("version"), "profiles": dict(data.get("profiles") or {}),
            "processes": processes}


_AA_COUNT_RE = re.compile(r"^(\d+) (profiles|processes) (?:are in (\w+) mode|are unconfined but have a profile defined"
                          r"|are loaded|have profiles defined)\.$")
_AA_PROCESS_RE = re.compile(r"^(\S.*?) \((\d+)\)(?: (\S.*))?$")


def parse_aa_status(text, source="aa-status"):
    """The text form of ``aa-status`` / ``apparmor_status``, as pasted from a host.

    Returns ``{loaded, profiles: {name: mode}, processes: [{pid, exe, profile, status}]}``;
    ``loaded`` is False for "apparmor module is not loaded.". A process line names the
    executable, the pid and, when it differs from the executable, the profile.
    """
    result = {"loaded": None, "profiles": {}, "processes": []}
    section = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("apparmor module is"):
            result["loaded"] = "not loaded" not in line
            continue
        match = _AA_COUNT_RE.match(line)
        if match:
            kind, mode = match.group(2), match.group(3)
            if mode is None and "unconfined" in line:
                mode = "unconfined"
            section = (kind, mode) if mode else None
            continue
        if section is None or not raw[:1].isspace():
            raise MacParseError(source, lineno, "not an aa-status line: %r" % line[:80])
        if section[0] == "profiles":
            result["profiles"][line] = section[1]
            continue
        match = _AA_PROCESS_RE.match(line)
        if not match:
            raise MacParseError(source, lineno, "not 'executable (pid) [profile]': %r" % line[:80])
        result["processes"].append({"pid": int(match.group(2)), "exe": match.group(1),
                                    "profile": match.group(3) or match.group(1), "status": section[1]})
    if result["loaded"] is None and (result["profiles"] or result["processes"]):
        result["loaded"] = True
    result["processes"].sort(key=lambda p: p["pid"])
    return result


_APPARMOR_RE = re.compile(r"apparmor=\"?([A-Z_]+)\"?")
_STAMP_RE = re.compile(r"audit\(([^)]*)\)")


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_apparmor_denials(text, source="kernel log", results=("DENIED", "ALLOWED")):
    """``apparmor="DENIED"`` (and, in complain mode, ``"ALLOWED"``) records of a log, in order.

    Reads audit.log (``type=AVC msg=audit(...)``), kernel log and ``journalctl -k`` lines
    (``audit: type=1400 audit(...)``) and bare pasted records. Each record: source, line, stamp,
    epoch, time_local, serial, result, operation, class, profile, pid, comm, family, sock_type,
    protocol, requested_mask, denied_mask, laddr, lport, faddr, fport, name, network (an inet
    socket operation).
    """
    denials = []
    for lineno, line in logical_lines(text):
        match = _APPARMOR_RE.search(line)
        if not match or match.group(1) not in results:
            continue
        stamp = None
        for candidate in _STAMP_RE.finditer(line[:match.start()]):
            stamp = candidate.group(1)
        when = parse_audit_stamp(stamp, source, lineno) if stamp else {
            "stamp": None, "epoch": None, "time_local": None, "serial": None}
        raw = when["epoch"] is not None or stamp is None
        fields = parse_kv(line[match.start():], raw=raw)
        family = fields.get("family")
        operation = fields.get("operation")
        record = {
            "source": source,
            "line": lineno,
            "stamp": when["stamp"],
            "epoch": when["epoch"],
            "time_local": when["time_local"],
            "serial": when["serial"],
            "result": match.group(1),
            "operation": operation,
            "class": fields.get("class"),
            "profile": fields.get("profile"),
            "pid": _int_or_none(fields.get("pid")),
            "comm": fields.get("comm"),
            "family": family,
            "sock_type": fields.get("sock_type"),
            "protocol": _int_or_none(fields.get("protocol")),
            "requested_mask": fields.get("requested_mask"),
            "denied_mask": fields.get("denied_mask"),
            "laddr": fields.get("laddr"),
            "lport": _int_or_none(fields.get("lport")),
            "faddr": fields.get("faddr"),
            "fport": _int_or_none(fields.get("fport")),
            "name": fields.get("name"),
            "network": family in INET_FAMILIES and (operation in NETWORK_OPERATIONS
                                                    or fields.get("class") == "net"),
        }
        denials.append(record)
    return denials


def profile_file_name(profile):
    """The file that by convention holds a path-named profile: /usr/sbin/haproxy ->
    /etc/apparmor.d/usr.sbin.haproxy. Named profiles ("haproxy") keep their name."""
    base = profile.split("//")[0]
    if base.startswith("/"):
        return "/etc/apparmor.d/" + base.lstrip("/").replace("/", ".")
    return "/etc/apparmor.d/" + base
