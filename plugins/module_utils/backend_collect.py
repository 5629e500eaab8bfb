# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gather ``ansible_facts.lbdoctor_backend`` on a backend host (see docs/contracts.md and
docs/backend_facts.md).

``collect(run, read, options)`` runs the selected subsets in a fixed order. ``run(argv)`` returns
``(rc, stdout, stderr)`` and must run with ``LC_ALL=C``; ``read(path)`` returns a file's text or
raises OSError/IOError. Everything that cannot be read goes into ``unavailable``; nothing here
raises for a missing piece. Standard library only, Python 3.8+.

Adding a subset: write ``collect_x(run, read, ...)`` returning ``(data, unavailable)`` or a dict
that may hold an ``unavailable`` list, import it here and add one ``SUBSETS`` row, e.g.
``("mac", "mac", _external(collect_mac, _listener_arguments))``. Subsets run in SUBSETS order,
so a later one sees the facts of the earlier ones (mac gets the listeners).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import socket

from ansible_collections.lbdoctor.haproxy.plugins.module_utils import backend_systemd as systemd
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_addresses import collect_addresses
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_containers import collect_containers
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_inet_diag import v6only_by_inode
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_collect import collect_mac
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.firewalld_facts import collect_firewalld
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_collect import collect_firewall
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.ufw_facts import collect_ufw
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_sockets import (
    process_info,
    socket_owners,
)
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.proc_net_tcp import (
    ProcNetParseError,
    parse_proc_net_tcp,
)
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.ss_output import (
    SocketListingParseError,
    listeners_from_ss,
    parse_ss,
)

PROC_NET_TCP = ("/proc/net/tcp", "/proc/net/tcp6")
BINDV6ONLY = "/proc/sys/net/ipv6/bindv6only"
HOSTNAME = "/proc/sys/kernel/hostname"
SS_FALLBACK_ARGV = ["ss", "-tlnpeH"]
SS_V6ONLY_ARGV = ["ss", "-tlneH"]
DEFAULT_STATE_FILE = "/var/lib/lbdoctor/last_healthy.json"
UNIT_FILE_DIRS = ("/etc/systemd/system",)
# Properties kept in the `units` facts (Environment may hold secrets; ExecStart is reduced to argv).
UNIT_FACT_KEYS = tuple(p for p in systemd.SHOW_PROPERTIES if p not in ("Environment", "Listen"))
ENV = {"LC_ALL": "C", "LANG": "C"}


def _unavailable(what, reason, source):
    return {"what": what, "reason": reason, "source": source}


def _cmd_reason(rc, err):
    lines = [line.strip() for line in (err or "").strip().splitlines() if line.strip()]
    message = "; ".join(lines)
    if len(message) > 300:
        message = message[:297] + "..."
    return "exit %s: %s" % (rc, message or "no message")


class Context(object):
    """What the subsets share: the callables, the options and the facts gathered so far."""

    def __init__(self, run, read, options, proc_root, inet_diag, which, list_dir):
        self.run = run
        self.read = read
        self.options = options
        self.proc_root = proc_root
        self.inet_diag = inet_diag
        self.which = which
        self.list_dir = list_dir
        self.facts = {}
        self.unavailable = []


# --------------------------------------------------------------------------- listeners

def _read_proc_sockets(ctx):
    sockets = []
    errors = []
    for path in PROC_NET_TCP:
        try:
            text = ctx.read(path)
        except (IOError, OSError) as exc:
            errors.append(_unavailable("listeners", getattr(exc, "strerror", None) or str(exc), path))
            continue
        try:
            sockets.extend(parse_proc_net_tcp(text, source=path))
        except ProcNetParseError as exc:
            errors.append(_unavailable("listeners", str(exc), path))
    return sockets, errors


def _ss_sockets(ctx):
    rc, out, err = ctx.run(SS_FALLBACK_ARGV)
    if rc != 0:
        return None, _unavailable("listeners", _cmd_reason(rc, err), " ".join(SS_FALLBACK_ARGV))
    try:
        return listeners_from_ss(parse_ss(out, source=" ".join(SS_FALLBACK_ARGV))), None
    except SocketListingParseError as exc:
        return None, _unavailable("listeners", str(exc), " ".join(SS_FALLBACK_ARGV))


def _v6only_map(ctx, sockets):
    """inode -> v6only for IPv6 listeners: netlink sock_diag first, one `ss -tlneH` after."""
    if not any(s["family"] == "ipv6" for s in sockets):
        return {}
    mapping, reason = ctx.inet_diag()
    if reason is None:
        return mapping
    rc, out, err = ctx.run(SS_V6ONLY_ARGV)
    if rc == 0:
        try:
            rows = parse_ss(out, source=" ".join(SS_V6ONLY_ARGV))
            return dict((r["inode"], r["v6only"]) for r in rows
                        if r["inode"] is not None and r["v6only"] is not None)
        except SocketListingParseError as exc:
            ctx.unavailable.append(_unavailable("listeners.v6only", "%s; %s" % (reason, exc),
                                                " ".join(SS_V6ONLY_ARGV)))
            return {}
    ctx.unavailable.append(_unavailable("listeners.v6only", "%s; %s" % (reason, _cmd_reason(rc, err)),
                                        " ".join(SS_V6ONLY_ARGV)))
    return {}


def _accepts_ipv4(family, address, v6only):
    if family == "ipv4":
        return True
    if address.startswith("::ffff:"):
        return True
    if address != "::":
        # A socket bound to one IPv6 address is IPv6 only (the kernel sets v6only on bind).
        return False
    if v6only is None:
        return None
    return not v6only


def collect_listeners(ctx):
    sockets, errors = _read_proc_sockets(ctx)
    from_ss = False
    if errors:
        if not sockets:
            fallback, error = _ss_sockets(ctx)
            if fallback is not None:
                sockets = fallback
                from_ss = True
                for item in errors:
                    item["reason"] += " (listeners taken from `ss -tlnpeH` instead)"
            elif error:
                errors.append(error)
        ctx.unavailable.extend(errors)
    try:
        ctx.facts["bindv6only"] = int(ctx.read(BINDV6ONLY).strip())
    except (IOError, OSError, ValueError) as exc:
        ctx.facts["bindv6only"] = None
        ctx.unavailable.append(_unavailable("bindv6only", str(exc), BINDV6ONLY))

    inodes = [s["inode"] for s in sockets if s.get("inode")]
    owners, denied, _scanned = {}, [], 0
    try:
        owners, denied, _scanned = socket_owners(inodes, ctx.proc_root)
    except (IOError, OSError) as exc:
        ctx.unavailable.append(_unavailable("listeners.pid", str(exc), ctx.proc_root + "/*/fd"))
    if denied:
        ctx.unavailable.append(_unavailable(
            "listeners.pid", "permission denied reading the fd directory of %d processes (not root?): %s"
            % (len(denied), " ".join(str(p) for p in denied[:20]) + (" ..." if len(denied) > 20 else "")),
            ctx.proc_root + "/PID/fd"))
    v6only = {} if from_ss else _v6only_map(ctx, sockets)

    infos = {}
    cgroups = {}
    info_errors = []
    listeners = []
    for sock in sockets:
        pids = owners.get(sock.get("inode"), [])
        if not pids and sock.get("users"):
            pids = sorted(set(u["pid"] for u in sock["users"]))
        pid = pids[0] if pids else None
        info = None
        if pid is not None:
            if pid not in infos:
                infos[pid] = process_info(pid, ctx.proc_root, cgroups)
                if infos[pid]:
                    info_errors.extend(infos[pid]["errors"])
            info = infos[pid]
        sock_v6only = sock.get("v6only") if from_ss else v6only.get(sock.get("inode"))
        if sock["family"] == "ipv4":
            sock_v6only = None
        cgroup = (info or {}).get("cgroup") or {}
        process = info["process"] if info else None
        if process is None and sock.get("users"):
            process = sock["users"][0]["process"]
        listeners.append({
            "family": sock["family"],
            "address": sock["address"],
            "port": sock["port"],
            "inode": sock.get("inode"),
            "socket_uid": sock.get("uid"),
            "v6only": sock_v6only,
            "accepts_ipv4": _accepts_ipv4(sock["family"], sock["address"], sock_v6only),
            "pid": pid,
            "pids": pids,
            "process": process,
            "cmdline": info["cmdline"] if info else None,
            "user": info["user"] if info else None,
            "unit": cgroup.get("unit"),
            "user_unit": cgroup.get("user_unit"),
            "slice": cgroup.get("slice"),
            "cgroup": cgroup.get("path"),
            "container": cgroup.get("container"),
            "socket_unit": None,
            "source": "ss" if from_ss else "proc",
        })
    listeners.sort(key=lambda item: (item["port"], item["family"], item["address"], item["inode"] or 0))
    ctx.facts["listeners"] = listeners
    if info_errors:
        ctx.unavailable.append(_unavailable(
            "listeners.process", "%d process files could not be read, first: %s (%s)"
            % (len(info_errors), info_errors[0]["source"], info_errors[0]["reason"]),
            ctx.proc_root + "/PID/{comm,cmdline,status,cgroup}"))


# --------------------------------------------------------------------------- addresses

def collect_addresses_subset(ctx):
    addresses, unavailable = collect_addresses(ctx.run, ctx.read)
    ctx.facts["addresses"] = addresses
    ctx.unavailable.extend(unavailable)


# --------------------------------------------------------------------------- units

def read_state_file(read, path):
    """``(ports_to_units, unavailable_entry)`` from the last-healthy fact file; missing is fine."""
    try:
        text = read(path)
    except (IOError, OSError) as exc:
        if getattr(exc, "errno", None) == 2:
            return {}, None
        return {}, _unavailable("last_healthy", str(exc), path)
    try:
        data = json.loads(text)
        ports = data.get("ports", {}) if isinstance(data, dict) else None
        if not isinstance(ports, dict):
            raise ValueError("no 'ports' mapping")
        mapping = {}
        for port, entry in ports.items():
            unit = entry.get("unit") if isinstance(entry, dict) else entry
            if unit:
                mapping[int(port)] = systemd.validate_unit_name(unit)
        return mapping, None
    except (ValueError, AttributeError, TypeError) as exc:
        return {}, _unavailable("last_healthy", "unreadable: %s" % exc, path)


def healthy_mapping(listeners, ports):
    """``{"PORT": {unit, process, address}}`` for the ports (all when empty) that a unit listens
    on now: what ``record_healthy`` writes. A socket held by systemd for a socket unit is
    recorded under that socket unit."""
    wanted = set(int(p) for p in ports or [])
    mapping = {}
    for listener in listeners:
        port = listener["port"]
        if wanted and port not in wanted:
            continue
        unit = listener.get("socket_unit") or listener.get("unit")
        if not unit or unit == "init.scope" or str(port) in mapping:
            continue
        mapping[str(port)] = {"unit": unit, "process": listener.get("process"),
                              "address": listener.get("address")}
    return mapping


def _unit_files_mentioning(ctx, ports):
    """{unit: [ports]} from ListenStream/ExecStart/Environment lines of admin unit files."""
    found = {}
    for directory in UNIT_FILE_DIRS:
        try:
            names = ctx.list_dir(directory)
        except (IOError, OSError):
            continue
        for name in sorted(names):
            if not name.endswith((".service", ".socket")):
                continue
            path = os.path.join(directory, name)
            try:
                text = ctx.read(path)
            except (IOError, OSError):
                continue
            lines = [line for line in text.splitlines()
                     if line.strip().startswith(("ExecStart=", "Environment=", "ListenStream="))]
            hits = systemd.ports_in_text("\n".join(lines), ports)
            if hits:
                found[name] = hits
    return found


def collect_units(ctx):
    opts = ctx.options
    ports = sorted(set(int(p) for p in (opts.get("ports") or [])) | set(int(p) for p in (opts.get("unit_map") or {})))
    user_units = list(opts.get("units") or [])
    unit_map = dict((int(k), v) for k, v in (opts.get("unit_map") or {}).items())
    state_file = opts.get("state_file") or DEFAULT_STATE_FILE
    last_healthy, error = read_state_file(ctx.read, state_file)
    if error:
        ctx.unavailable.append(error)
    ctx.facts["last_healthy"] = dict((str(k), v) for k, v in sorted(last_healthy.items()))
    listeners = ctx.facts.get("listeners") or []
    listener_units = sorted(set(l["unit"] for l in listeners
                                if l["unit"] and l["unit"] != "init.scope"))

    wanted = []
    for unit in user_units + [unit_map[p] for p in sorted(unit_map)] + listener_units + \
            [last_healthy[p] for p in sorted(last_healthy)]:
        if unit not in wanted:
            wanted.append(unit)
    unresolved = [p for p in ports if p not in unit_map]
    patterns = ["*.socket"]
    if unresolved:
        patterns.append("*.service")

    blocks = {}
    systemd_ok = True
    argv = systemd.show_argv(wanted + patterns)
    rc, out, err = ctx.run(argv)
    if rc == 0:
        for block in systemd.parse_systemctl_show(out):
            if block.get("Id"):
                blocks[block["Id"]] = block
    else:
        systemd_ok = False
        ctx.unavailable.append(_unavailable("units", _cmd_reason(rc, err), " ".join(argv[:2]) + " ..."))

    socket_units = []
    port_sockets = {}
    for name in sorted(blocks):
        block = blocks[name]
        if not name.endswith(".socket"):
            continue
        listen = [item for item in systemd.listen_addresses(block) if item["kind"] == "Stream"]
        tcp = [item for item in listen if systemd.listen_port(item["address"]) is not None]
        if not tcp:
            continue
        triggers = block.get("Triggers") or []
        socket_units.append({"unit": name, "listen": [item["address"] for item in tcp],
                             "ActiveState": block.get("ActiveState"), "SubState": block.get("SubState"),
                             "LoadState": block.get("LoadState"), "UnitFileState": block.get("UnitFileState"),
                             "service": triggers[0] if triggers else None, "triggers": triggers})
        for item in tcp:
            port_sockets.setdefault(systemd.listen_port(item["address"]), []).append(name)
    ctx.facts["socket_units"] = socket_units
    ctx.facts["known_units"] = sorted(name for name, block in blocks.items()
                                      if block.get("LoadState") == "loaded")
    for listener in listeners:
        if listener["pid"] == 1 or listener["unit"] == "init.scope":
            names = port_sockets.get(listener["port"]) or []
            listener["socket_unit"] = names[0] if len(names) == 1 else None

    mentions = {}
    if unresolved:
        for name in sorted(blocks):
            if name.endswith(".service") and blocks[name].get("LoadState") == "loaded":
                hits = systemd.ports_in_text(systemd.service_command_text(blocks[name]), unresolved)
                if hits:
                    mentions[name] = hits
        for name, hits in _unit_files_mentioning(ctx, unresolved).items():
            if not name.endswith(".socket"):
                mentions.setdefault(name, sorted(set(mentions.get(name, []) + hits)))

    port_owners = {}
    for port in ports:
        listening = sorted(set(l["unit"] for l in listeners if l["port"] == port and l["unit"]))
        candidates = []
        if port in unit_map:
            candidates.append({"unit": unit_map[port], "source": "user"})
        for unit in _user_units_for_port(port, user_units, listeners, blocks):
            candidates.append({"unit": unit, "source": "user"})
        for name in port_sockets.get(port, []):
            candidates.append({"unit": name, "source": "socket_unit"})
        for name in sorted(mentions):
            if port in mentions[name]:
                candidates.append({"unit": name, "source": "unit_file"})
        if port in last_healthy:
            candidates.append({"unit": last_healthy[port], "source": "last_healthy"})
        first = candidates[0] if candidates else {"unit": None, "source": None}
        port_owners[str(port)] = {"unit": first["unit"], "source": first["source"],
                                  "candidates": candidates, "listening_units": listening}
    ctx.facts["port_owners"] = port_owners

    # Units reported: asked about, owning a listener, last healthy, or owning a port.
    report = list(wanted)
    for owner in port_owners.values():
        for candidate in owner["candidates"]:
            if candidate["unit"] not in report:
                report.append(candidate["unit"])
    for item in socket_units:
        if any(c["unit"] == item["unit"] for o in port_owners.values() for c in o["candidates"]):
            if item["service"] and item["service"] not in report:
                report.append(item["service"])
    missing = [u for u in report if u not in blocks and u not in wanted]
    if systemd_ok and missing:
        argv = systemd.show_argv(missing)
        rc, out, err = ctx.run(argv)
        if rc == 0:
            for block in systemd.parse_systemctl_show(out):
                if block.get("Id"):
                    blocks[block["Id"]] = block
        else:
            ctx.unavailable.append(_unavailable("units", _cmd_reason(rc, err), " ".join(argv[:2]) + " ..."))

    # A running unit that should serve a port nobody listens on: its journal often says where
    # it listens instead ("listening on 0.0.0.0:8091").
    silent_owners = set(owner["unit"] for owner in port_owners.values()
                        if owner["unit"] and not owner["listening_units"])
    units = {}
    lines = int(opts.get("journal_lines", 10) or 0)
    journal_failed = None
    for name in sorted(report):
        block = _find_block(blocks, name)
        fact = dict((key, (block or {}).get(key)) for key in UNIT_FACT_KEYS if key != "ExecStart")
        fact["found"] = block is not None
        units[name] = fact
        if block is None:
            fact.update({"ExecStart": [], "Listen": [], "journal": None})
            continue
        fact["ExecStart"] = [systemd.service_command_text({"ExecStart": [e]}) for e in block.get("ExecStart") or []]
        fact["Listen"] = [item["address"] for item in systemd.listen_addresses(block)]
        fact["journal"] = None
        if lines > 0 and journal_failed is None and (systemd.needs_journal(block) or name in silent_owners):
            argv = systemd.journal_argv(block.get("Id") or name, lines)
            rc, out, err = ctx.run(argv)
            if rc == 0:
                fact["journal"] = systemd.parse_journal(out)
            else:
                journal_failed = _unavailable("units.journal", _cmd_reason(rc, err), " ".join(argv))
    if journal_failed:
        ctx.unavailable.append(journal_failed)
    ctx.facts["units"] = units


def _find_block(blocks, name):
    if name in blocks:
        return blocks[name]
    for block in blocks.values():
        if name in (block.get("Names") or []):
            return block
    return None


def _user_units_for_port(port, user_units, listeners, blocks):
    """The user's units (named without a port) that show they serve ``port``: those listening on
    it, else those whose ExecStart/Environment mention it. Being the only unit named is no
    evidence: the diagnose role names every unit of ``lbdoctor_unit_map``, keyed by HAProxy
    backend and server, most of which serve other ports or other hosts; the engine ties those
    units to servers itself."""
    if not user_units:
        return []
    listening = [u for u in user_units if any(l["port"] == port and u in (l["unit"], l["user_unit"])
                                              for l in listeners)]
    if listening:
        return listening
    return [u for u in user_units
            if u in blocks and port in systemd.ports_in_text(systemd.service_command_text(blocks[u]), [port])]


# --------------------------------------------------------------------------- containers

def collect_containers_subset(ctx):
    containers, unavailable = collect_containers(ctx.run, ctx.which)
    ctx.facts["containers"] = containers
    ctx.unavailable.extend(unavailable)


def _external(function, arguments=None):
    """Adapt ``collect_x(run, read, **arguments(ctx))`` returning ``(data, unavailable)`` or a
    dict that may hold an ``unavailable`` list. An exception in it becomes an ``unavailable``
    entry: one subset's failure never hides the others."""

    def subset(ctx, key):
        kwargs = arguments(ctx) if arguments else {}
        try:
            result = function(ctx.run, ctx.read, **kwargs)
        except Exception as exc:  # pylint: disable=broad-except
            ctx.unavailable.append(_unavailable(key, "collector failed: %s: %s" % (type(exc).__name__, exc),
                                                "%s.%s" % (function.__module__, function.__name__)))
            return
        if isinstance(result, tuple):
            data, unavailable = result
        else:
            data = dict(result)
            unavailable = data.pop("unavailable", [])
        ctx.facts[key] = data
        ctx.unavailable.extend(unavailable or [])

    return subset


# What firewalld and ufw load into the kernel while they run: firewalld's nftables table (or the
# chains of its iptables backend), ufw's user chain (whose absence is what `ufw status` reports as
# "inactive"). With every ruleset read and none of them loaded, their CLIs (a Python start-up
# each, 50-180 ms of CPU on a lab host) could only say "not running", so they are not asked.
FRONT_END_MARKS = {"firewalld": ("firewalld", "INPUT_direct"), "ufw": ("ufw-user-input",)}


def _loaded_names(facts):
    """Names of the tables and chains the kernel runs (nftables and every iptables dump), or None
    when a ruleset could not be read completely."""
    if facts.get("nftables") is None or not facts.get("iptables") or any(
            str(item.get("what", "")).startswith(("iptables", "nftables")) for item in facts.get("unavailable") or []):
        return None
    names = set()
    for table in facts["nftables"].get("tables") or []:
        names.add(table.get("name"))
        names.update(chain.get("name") for chain in table.get("chains") or [])
    for variant in ("nft", "legacy", "default"):
        for line in ((facts["iptables"].get(variant) or {}).get("text") or "").splitlines():
            if line.startswith(":"):
                names.add(line[1:].split(" ", 1)[0])
    return names


def collect_firewall_subset(run, read):
    """The ``firewall`` subset: the netfilter rulesets (netfilter_collect) plus the front-ends that
    write them, ``firewalld`` and ``ufw`` (docs/firewalld_ufw.md), so that a fix goes through the
    tool that owns the rules. One front-end's failure is an ``unavailable`` entry, never the
    subset's."""
    facts = dict(collect_firewall(run, read))
    loaded = _loaded_names(facts)
    unavailable = list(facts.pop("unavailable", None) or [])
    for key, function in (("firewalld", collect_firewalld), ("ufw", collect_ufw)):
        not_loaded = None
        if loaded is not None and not loaded.intersection(FRONT_END_MARKS[key]):
            not_loaded = "the rulesets hold none of %s" % ", ".join(FRONT_END_MARKS[key])
        try:
            sub = dict(function(run, read, not_loaded=not_loaded))
        except Exception as exc:  # pylint: disable=broad-except
            unavailable.append(_unavailable("firewall.%s" % key, "collector failed: %s: %s" % (type(exc).__name__, exc),
                                            "%s.%s" % (function.__module__, function.__name__)))
            facts[key] = None
            continue
        unavailable.extend(sub.pop("unavailable", None) or [])
        facts[key] = sub
    facts["unavailable"] = unavailable
    return facts


def _listener_arguments(ctx):
    """``processes`` (the listeners on the requested ports, all when none) and ``ports``."""
    ports = set(int(p) for p in ctx.options.get("ports") or []) | \
        set(int(p) for p in ctx.options.get("unit_map") or {})
    listeners = ctx.facts.get("listeners") or []
    if ports:
        listeners = [item for item in listeners if item["port"] in ports]
    return {"processes": listeners, "ports": sorted(ports)}


def _local(function):
    def subset(ctx, key):
        function(ctx)

    return subset


# (subset name, facts key, collector or None when not provided by this version), run in order.
SUBSETS = [
    ("listeners", "listeners", _local(collect_listeners)),
    ("addresses", "addresses", _local(collect_addresses_subset)),
    ("units", "units", _local(collect_units)),
    ("containers", "containers", _local(collect_containers_subset)),
    ("firewall", "firewall", _external(collect_firewall_subset)),
    ("mac", "mac", _external(collect_mac, _listener_arguments)),
]
SUBSET_NAMES = tuple(name for name, _key, _fn in SUBSETS)


def resolve_subsets(requested):
    """Resolve a setup-style ``gather_subset`` list (``all``, names, ``!name``); ValueError."""
    requested = list(requested or ["all"])
    include = set()
    exclude = set()
    for item in requested:
        name = str(item).strip()
        negate = name.startswith("!")
        if negate:
            name = name[1:]
        if name != "all" and name not in SUBSET_NAMES:
            raise ValueError("unknown gather_subset %r; choose from all, %s (prefix ! to exclude)"
                             % (item, ", ".join(SUBSET_NAMES)))
        target = exclude if negate else include
        target.update(SUBSET_NAMES if name == "all" else [name])
    if not include and exclude:
        include = set(SUBSET_NAMES)
    return [name for name in SUBSET_NAMES if name in include and name not in exclude]


def _default_read(path):
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "surrogateescape")


def _default_which(name):
    for directory in os.environ.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(":"):
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def collect(run, read=None, options=None, proc_root="/proc", inet_diag=None, which=None,
            list_dir=None):
    """Gather the facts for the subsets in ``options['gather_subset']``; returns the facts dict."""
    options = dict(options or {})
    ctx = Context(run, read or _default_read, options, proc_root, inet_diag or v6only_by_inode,
                  which or _default_which, list_dir or os.listdir)
    selected = resolve_subsets(options.get("gather_subset"))
    try:
        ctx.facts["hostname"] = ctx.read(HOSTNAME).strip()
    except (IOError, OSError):
        ctx.facts["hostname"] = socket.gethostname()
    ctx.facts["gather_subset"] = selected
    for name, key, function in SUBSETS:
        if name not in selected:
            continue
        if function is None:
            ctx.unavailable.append(_unavailable(name, "subset not provided by this version of the collection",
                                                "lbdoctor.haproxy.backend_facts"))
            continue
        function(ctx, key)
    ctx.facts["unavailable"] = ctx.unavailable
    return ctx.facts
