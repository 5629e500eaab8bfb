# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Collect the ``mac`` fact subset: SELinux and AppArmor state that can refuse a connection.

``collect_mac(run, read, processes=None, ports=None)`` takes two callables so that tests feed
captured output: ``run(argv) -> (rc, stdout, stderr)`` (the caller runs it with LC_ALL=C, see
``COMMAND_ENV``; a missing tool raises OSError or returns rc 127) and ``read(path) -> text``
(raises OSError/IOError when the file cannot be read). Cheap sources come first (selinuxfs,
/proc, /sys), commands only where no file says the same; ``semanage port -l`` runs once
whatever the number of ports. Whatever cannot be read goes to ``unavailable`` with the reason;
the rest still comes back. docs/mac.md describes the shape.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import time

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_selinux import (
    MacParseError,
    context_type,
    is_ausearch_empty,
    parse_avc_denials,
    parse_boolean_file,
    parse_enforce,
    parse_getenforce,
    parse_getsebool,
    parse_semanage_ports,
    parse_sestatus,
    port_label,
)
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_apparmor import (
    parse_aa_status_json,
    parse_apparmor_denials,
    parse_kernel_profiles,
    parse_proc_attr_current,
)
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.collect_io import (
    command_text as _cmd,
    os_reason as _reason,
    read_text as _read,
    run_tool as _run,
)

COMMAND_ENV = {"LC_ALL": "C", "LANG": "C"}
SELINUXFS = "/sys/fs/selinux"
AUDIT_LOG = "/var/log/audit/audit.log"
APPARMOR_ENABLED = "/sys/module/apparmor/parameters/enabled"
APPARMOR_PROFILES = "/sys/kernel/security/apparmor/profiles"
# The booleans that decide whether haproxy_t / httpd_t may reach a port (docs/mac.md).
BOOLEANS = ("haproxy_connect_any", "httpd_can_network_connect", "nis_enabled")
# `ausearch -ts recent` means the last ten minutes; the audit.log fallback uses the same window.
RECENT_SECONDS = 600
MAX_DENIALS = 50


def _missing(exc):
    return getattr(exc, "errno", None) == errno.ENOENT


def _unavailable(unavailable, what, reason, source):
    unavailable.append({"what": what, "reason": reason, "source": source})


def _normalise_processes(processes):
    """pids (int), names (str) or dicts {pid, process} -> [{pid, process}] sorted by pid."""
    result = []
    for item in processes or ():
        if isinstance(item, dict):
            pid = item.get("pid")
            name = item.get("process") or item.get("comm")
        elif isinstance(item, int):
            pid, name = item, None
        else:
            pid, name = None, str(item)
        result.append({"pid": pid, "process": name})
    result.sort(key=lambda p: (p["pid"] is None, p["pid"] or 0, p["process"] or ""))
    return result


def _relevant_audit_text(text, markers):
    """Keep the records of audit events that hold a marker (two passes over a large log)."""
    lines = text.splitlines()
    stamps = set()
    for line in lines:
        if any(marker in line for marker in markers):
            start = line.find("audit(")
            while start != -1:
                end = line.find(")", start)
                if end == -1:
                    break
                stamps.add(line[start:end + 1])
                start = line.find("audit(", end)
    if not stamps:
        return ""
    kept = []
    for line in lines:
        start = line.find("audit(")
        end = line.find(")", start)
        if start != -1 and end != -1 and line[start:end + 1] in stamps:
            kept.append(line)
        else:
            kept.append("")  # keep line numbers of the original file
    return "\n".join(kept)


def _recent(denials, now, window):
    if now is None:
        return denials
    # records from beyond ``now`` mean a log of another clock (a pasted or copied log): drop them too
    return [d for d in denials if d.get("epoch") is None or now - window <= d["epoch"] <= now + window]


def _involved(denial, procs):
    if not procs:
        return True
    if denial.get("network"):
        return True
    for proc in procs:
        if proc["pid"] is not None and denial.get("pid") == proc["pid"]:
            return True
        name = proc["process"]
        if name and denial.get("comm") and denial["comm"] in (name, name[:15]):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# SELinux


def _selinux_mode(run, read, unavailable, facts):
    text, exc = _read(read, SELINUXFS + "/enforce")
    if text is not None:
        facts["present"] = True
        try:
            facts["mode"] = parse_enforce(text, SELINUXFS + "/enforce")
            facts["mode_source"] = SELINUXFS + "/enforce"
            return
        except MacParseError as err:
            _unavailable(unavailable, "selinux.mode", str(err), SELINUXFS + "/enforce")
    elif _missing(exc):
        # No selinuxfs: the kernel has no SELinux or it is disabled (libselinux decides the same,
        # so getenforce, when installed, says "Disabled"). getenforce is still asked: a lab host
        # carries stand-in SELinux tools (lab/standins) and their word is taken.
        facts["present"] = False
        facts["mode"] = "disabled"
        facts["mode_source"] = SELINUXFS
        result = _run(run, ["getenforce"])
        if result is not None and result[0] == 0:
            try:
                facts["mode"] = parse_getenforce(result[1], "getenforce")
                facts["mode_source"] = "getenforce"
            except MacParseError as err:
                _unavailable(unavailable, "selinux.mode", str(err), "getenforce")
        return
    else:
        _unavailable(unavailable, "selinux.mode", _reason(exc), SELINUXFS + "/enforce")
    argv = ["getenforce"]
    result = _run(run, argv)
    if result is None:
        _unavailable(unavailable, "selinux.mode", "getenforce is not installed", _cmd(argv))
        return
    rc, out, err = result
    if rc != 0:
        _unavailable(unavailable, "selinux.mode", "rc=%d: %s" % (rc, err.strip()[:200]), _cmd(argv))
        return
    try:
        facts["mode"] = parse_getenforce(out, "getenforce")
        facts["mode_source"] = "getenforce"
    except MacParseError as err:
        _unavailable(unavailable, "selinux.mode", str(err), _cmd(argv))


def _selinux_status(run, unavailable, facts):
    argv = ["sestatus"]
    result = _run(run, argv)
    if result is None:
        _unavailable(unavailable, "selinux.policy", "sestatus is not installed", _cmd(argv))
        return
    rc, out, err = result
    if rc != 0:
        _unavailable(unavailable, "selinux.policy", "rc=%d: %s" % (rc, err.strip()[:200]), _cmd(argv))
        return
    try:
        status = parse_sestatus(out, "sestatus")
    except MacParseError as err:
        _unavailable(unavailable, "selinux.policy", str(err), _cmd(argv))
        return
    facts["policy"] = status["policy"]
    facts["config_mode"] = status["config_mode"]
    facts["mls"] = status["mls"]
    if facts["mode"] is None and status["mode"]:
        facts["mode"] = status["mode"]
        facts["mode_source"] = "sestatus"


def _selinux_booleans(run, read, unavailable, facts, names):
    missing = []
    if facts["present"] is False:
        names, missing = (), list(names)  # no selinuxfs: only getsebool can say
    for name in names:
        path = "%s/booleans/%s" % (SELINUXFS, name)
        text, exc = _read(read, path)
        if text is not None:
            try:
                facts["booleans"][name] = parse_boolean_file(text, path)["current"]
                continue
            except MacParseError as err:
                _unavailable(unavailable, "selinux.booleans", str(err), path)
        elif _missing(exc):
            facts["booleans"][name] = None  # not defined by the loaded policy
            continue
        missing.append(name)
    if not missing:
        return
    argv = ["getsebool"] + missing
    result = _run(run, argv)
    if result is None:
        _unavailable(unavailable, "selinux.booleans", "selinuxfs unreadable and getsebool not installed",
                     _cmd(argv))
        return
    rc, out, err = result
    try:
        values = parse_getsebool(out, "getsebool")
    except MacParseError as exc:
        _unavailable(unavailable, "selinux.booleans", str(exc), _cmd(argv))
        return
    for name in missing:
        if name in values:
            facts["booleans"][name] = values[name]["current"]
        else:
            facts["booleans"][name] = None
            if rc != 0:
                _unavailable(unavailable, "selinux.booleans",
                             "rc=%d: %s" % (rc, err.strip()[:200]), _cmd(argv))
                break


def _semanage(run, argv, unavailable, local):
    result = _run(run, argv)
    if result is None:
        _unavailable(unavailable, "selinux.ports", "semanage is not installed (policycoreutils-python-utils)",
                     _cmd(argv))
        return None
    rc, out, err = result
    if rc != 0:
        _unavailable(unavailable, "selinux.ports", "rc=%d: %s" % (rc, err.strip()[:200]), _cmd(argv))
        return None
    try:
        return parse_semanage_ports(out, _cmd(argv), local=local)
    except MacParseError as exc:
        _unavailable(unavailable, "selinux.ports", str(exc), _cmd(argv))
        return None


def _selinux_ports(run, unavailable, facts, ports):
    # One call each, whatever the number of ports: semanage loads the whole policy store.
    entries = _semanage(run, ["semanage", "port", "-l", "-n"], unavailable, local=False)
    if entries is None:
        return
    local = _semanage(run, ["semanage", "port", "-l", "-C", "-n"], unavailable, local=True)
    facts["local_ports"] = local if local is not None else []
    facts["ports"] = [port_label(entries, port, "tcp", local) for port in sorted(set(ports))]


def _selinux_processes(read, unavailable, facts, procs):
    for proc in procs:
        if proc["pid"] is None:
            continue
        path = "/proc/%d/attr/current" % proc["pid"]
        text, exc = _read(read, path)
        if text is None:
            _unavailable(unavailable, "selinux.processes", _reason(exc), path)
            continue
        context = text.replace("\x00", "").strip()
        facts["processes"].append({"pid": proc["pid"], "process": proc["process"], "context": context,
                                   "type": context_type(context)})


def _selinux_denials(run, read, unavailable, facts, procs, now, window):
    argv = ["ausearch", "-m", "AVC", "-ts", "recent"]
    result = _run(run, argv)
    denials = None
    if result is not None:
        rc, out, err = result
        if rc == 0:
            try:
                denials = parse_avc_denials(out, "ausearch")
                facts["denials_source"] = _cmd(argv)
            except MacParseError as exc:
                _unavailable(unavailable, "selinux.denials", str(exc), _cmd(argv))
        elif is_ausearch_empty(err) or is_ausearch_empty(out):
            denials = []
            facts["denials_source"] = _cmd(argv)
        else:
            _unavailable(unavailable, "selinux.denials", "rc=%d: %s" % (rc, err.strip()[:200]), _cmd(argv))
    if denials is None:
        text, exc = _read(read, AUDIT_LOG)
        if text is None:
            reason = _reason(exc)
            if result is None:
                reason = "ausearch is not installed; " + reason
            _unavailable(unavailable, "selinux.denials", reason, AUDIT_LOG)
            return
        try:
            denials = _recent(parse_avc_denials(_relevant_audit_text(text, ("avc:",)), AUDIT_LOG),
                              time.time() if now is None else now, window)
            facts["denials_source"] = AUDIT_LOG
        except MacParseError as exc:
            _unavailable(unavailable, "selinux.denials", str(exc), AUDIT_LOG)
            return
    denials = [d for d in denials if _involved(d, procs)]
    facts["denials"] = denials[-MAX_DENIALS:]


def collect_selinux(run, read, processes=None, ports=None, unavailable=None, booleans=BOOLEANS,
                    now=None, window=RECENT_SECONDS):
    """The ``mac.selinux`` facts; appends to ``unavailable`` (a list) what it could not read."""
    unavailable = [] if unavailable is None else unavailable
    procs = _normalise_processes(processes)
    facts = {"present": None, "mode": None, "mode_source": None, "config_mode": None, "policy": None,
             "mls": None, "booleans": {}, "ports": [], "local_ports": [], "processes": [],
             "denials": [], "denials_source": None}
    _selinux_mode(run, read, unavailable, facts)
    if facts["mode"] == "disabled":
        return facts
    _selinux_status(run, unavailable, facts)
    _selinux_booleans(run, read, unavailable, facts, booleans)
    if ports:
        _selinux_ports(run, unavailable, facts, ports)
    if facts["present"]:
        _selinux_processes(read, unavailable, facts, procs)
    _selinux_denials(run, read, unavailable, facts, procs, now, window)
    return facts


# ---------------------------------------------------------------------------------------------
# AppArmor


def _apparmor_enabled(read, unavailable, facts):
    text, exc = _read(read, APPARMOR_ENABLED)
    if text is not None:
        facts["enabled"] = text.strip().upper().startswith("Y")
        facts["enabled_source"] = APPARMOR_ENABLED
        return
    if _missing(exc):
        facts["enabled"] = False  # the apparmor module is not built in or not loaded
        facts["enabled_source"] = APPARMOR_ENABLED
        return
    _unavailable(unavailable, "apparmor.enabled", _reason(exc), APPARMOR_ENABLED)


def _apparmor_profiles(run, read, unavailable, facts):
    argv = ["aa-status", "--json"]
    result = _run(run, argv)
    if result is not None and result[0] == 0:
        try:
            status = parse_aa_status_json(result[1], _cmd(argv))
            facts["profiles"] = status["profiles"]
            facts["profiles_source"] = _cmd(argv)
            facts["status_processes"] = status["processes"]
            return
        except MacParseError as exc:
            _unavailable(unavailable, "apparmor.profiles", str(exc), _cmd(argv))
    elif result is not None:
        _unavailable(unavailable, "apparmor.profiles", "rc=%d: %s" % (result[0], result[2].strip()[:200]),
                     _cmd(argv))
    text, exc = _read(read, APPARMOR_PROFILES)
    if text is None:
        _unavailable(unavailable, "apparmor.profiles", _reason(exc), APPARMOR_PROFILES)
        return
    try:
        facts["profiles"] = parse_kernel_profiles(text, APPARMOR_PROFILES)
        facts["profiles_source"] = APPARMOR_PROFILES
    except MacParseError as exc:
        _unavailable(unavailable, "apparmor.profiles", str(exc), APPARMOR_PROFILES)


def _apparmor_processes(read, unavailable, facts, procs, selinux_present):
    for proc in procs:
        if proc["pid"] is None:
            continue
        paths = ["/proc/%d/attr/apparmor/current" % proc["pid"]]
        if not selinux_present:
            paths.append("/proc/%d/attr/current" % proc["pid"])
        last_exc = None
        for path in paths:
            text, exc = _read(read, path)
            if text is None:
                last_exc = (exc, path)
                continue
            try:
                label = parse_proc_attr_current(text, path)
            except MacParseError as err:
                _unavailable(unavailable, "apparmor.processes", str(err), path)
                break
            label.update(pid=proc["pid"], process=proc["process"])
            facts["processes"].append(label)
            break
        else:
            if last_exc is not None:
                _unavailable(unavailable, "apparmor.processes", _reason(last_exc[0]), last_exc[1])


def _apparmor_denials(run, read, unavailable, facts, procs, now, window):
    denials = []
    sources = []
    text, exc = _read(read, AUDIT_LOG)
    if text is not None:
        try:
            found = parse_apparmor_denials(_relevant_audit_text(text, ('apparmor="',)), AUDIT_LOG)
            denials.extend(_recent(found, time.time() if now is None else now, window))
            sources.append(AUDIT_LOG)
        except MacParseError as err:
            _unavailable(unavailable, "apparmor.denials", str(err), AUDIT_LOG)
    elif not _missing(exc):
        _unavailable(unavailable, "apparmor.denials", _reason(exc), AUDIT_LOG)
    # Without auditd the kernel prints the records to its log (journalctl -k).
    argv = ["journalctl", "-k", "-o", "cat", "--no-pager", "--since=-%dmin" % (window // 60)]
    result = _run(run, argv)
    if result is None:
        _unavailable(unavailable, "apparmor.denials", "journalctl is not installed", _cmd(argv))
    elif result[0] != 0:
        _unavailable(unavailable, "apparmor.denials", "rc=%d: %s" % (result[0], result[2].strip()[:200]),
                     _cmd(argv))
    else:
        try:
            denials.extend(parse_apparmor_denials(result[1], "journalctl -k"))
            sources.append(_cmd(argv))
        except MacParseError as err:
            _unavailable(unavailable, "apparmor.denials", str(err), _cmd(argv))
    seen = set()
    unique = []
    for denial in sorted(denials, key=lambda d: (d.get("epoch") or 0, d.get("serial") or 0)):
        key = (denial.get("stamp"), denial.get("operation"), denial.get("profile"))
        if denial.get("stamp") is not None and key in seen:
            continue
        seen.add(key)
        unique.append(denial)
    facts["denials"] = [d for d in unique if _involved(d, procs)][-MAX_DENIALS:]
    facts["denials_sources"] = sources


def collect_apparmor(run, read, processes=None, unavailable=None, selinux_present=False, now=None,
                     window=RECENT_SECONDS):
    """The ``mac.apparmor`` facts; appends to ``unavailable`` what it could not read."""
    unavailable = [] if unavailable is None else unavailable
    procs = _normalise_processes(processes)
    facts = {"enabled": None, "enabled_source": None, "profiles": {}, "profiles_source": None,
             "processes": [], "status_processes": [], "denials": [], "denials_sources": []}
    _apparmor_enabled(read, unavailable, facts)
    if facts["enabled"] is False:
        return facts
    _apparmor_profiles(run, read, unavailable, facts)
    _apparmor_processes(read, unavailable, facts, procs, selinux_present)
    _apparmor_denials(run, read, unavailable, facts, procs, now, window)
    return facts


def collect_mac(run, read, processes=None, ports=None, now=None):
    """``{selinux, apparmor, unavailable}`` for the processes and TCP ports involved.

    ``processes``: pids, process names, or ``{pid, process}`` dicts (listener entries work);
    ``ports``: TCP port numbers whose SELinux label matters. ``now`` (epoch seconds) pins the
    "recent" window when logs are read from files; the current time by default.
    """
    unavailable = []
    selinux = collect_selinux(run, read, processes, ports, unavailable, now=now)
    apparmor = collect_apparmor(run, read, processes, unavailable, selinux_present=bool(selinux["present"]),
                                now=now)
    return {"selinux": selinux, "apparmor": apparmor, "unavailable": unavailable}
