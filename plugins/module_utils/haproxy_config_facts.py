# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assemble ``ansible_facts.lbdoctor_haproxy`` from the config, the runtime API, DNS and logs.

``gather(options, run, fs=..., query_fn=..., resolve_fn=..., now=...)`` is what the
haproxy_facts module calls; every dependency on the host is a parameter so tests feed captured
output. Nothing here raises for a host problem: it lands in ``unavailable`` and the rest comes
back. The result is always valid UTF-8 (``utf8_safe``). Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import socket
import threading
import time

from ansible_collections.lbdoctor.haproxy.plugins.module_utils import haproxy_config as cfg
from ansible_collections.lbdoctor.haproxy.plugins.module_utils import haproxy_locate as loc
from ansible_collections.lbdoctor.haproxy.plugins.module_utils import haproxy_logs as logs_mod
from ansible_collections.lbdoctor.haproxy.plugins.module_utils import haproxy_runtime as rt

CONTENT_NAME = "<content>"
_CHECK_LINE = re.compile(r"^\[(ALERT|WARNING|NOTICE|DIAG)\]\s*(?:\(\d+\)|\d+/\d+ \(\d+\))?\s*:\s*(.*)$")
_FILE_LINE = re.compile(r"\[([^\[\]]+?):(\d+)\]")


def parse_version_output(text):
    """`haproxy -vv`: version string and the set of enabled features (+NAME)."""
    version = None
    m = re.search(r"HA-?Proxy version (\S+)", text)
    if m:
        version = m.group(1)
    features = None
    fm = re.search(r"^Feature list\s*:\s*(.*)$", text, re.MULTILINE)
    if fm:
        features = set(w[1:] for w in fm.group(1).split() if w.startswith("+"))
    return version, features


def parse_check_output(text):
    """Messages of `haproxy -c`: [{severity: error|warning, file, line, message}]."""
    messages = []
    for raw in text.splitlines():
        line = raw.strip()
        m = _CHECK_LINE.match(line)
        if not m:
            continue
        level, message = m.group(1), m.group(2)
        if level in ("NOTICE", "DIAG"):
            continue
        message = re.sub(r"^config\s*:\s*", "", message)
        file_name = None
        lineno = None
        fl = _FILE_LINE.search(message)
        if fl:
            file_name, lineno = fl.group(1), int(fl.group(2))
            message = message[fl.end():].lstrip(" :")
            message = re.sub(r"^parsing\s*:?\s*", "", message)
        message = re.sub(r"^parsing\s*", "", message).strip()
        messages.append({"severity": "error" if level == "ALERT" else "warning", "file": file_name,
                         "line": lineno, "message": message})
    return messages


def _read_sources(files, fs, unavailable):
    sources = []
    for path in files:
        try:
            data = fs.read_bytes(path)
        except (OSError, IOError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            sources.append((path, None, reason))
            unavailable.append({"what": "config", "reason": "cannot read: %s" % reason, "source": path})
            continue
        # bytes: the parser decodes them and warns (file:line) where a line is not UTF-8
        sources.append((path, data))
    return sources


def _clean_walk(value):
    if isinstance(value, str):
        return cfg.replace_surrogates(value)
    if isinstance(value, dict):
        return dict((_clean_walk(k), _clean_walk(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_clean_walk(v) for v in value]
    return value


def utf8_safe(facts):
    """``facts`` as strict UTF-8 can carry them: every lone surrogate replaced by U+FFFD.

    Text that came from bytes with ``surrogateescape`` (paths from the command line or a
    directory listing, ``/proc/PID/environ``, command output) keeps lone surrogates, and
    ansible-core 2.19 refuses a module result holding one ("Refusing to deserialize an invalid
    UTF8 string value"). One JSON encoding tells whether there is any; only then is it walked.
    """
    try:
        json.dumps(facts, ensure_ascii=False).encode("utf-8")
        return facts
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        return _clean_walk(facts)


def _socket_candidates(config, override, master_socket=None):
    if override:
        return [rt.parse_socket_spec(override)]
    socks = [s for s in config["stats_sockets"] if s["family"] in ("unix", "abns", "ipv4", "ipv6", "hostname")
             and s["address"] and (s["family"] in ("unix", "abns") or s["port"])]
    # unix sockets first (usually the admin one), then TCP; keep file order within each group.
    socks = sorted(socks, key=lambda s: 0 if s["family"] in ("unix", "abns") else 1)
    if master_socket:
        # the master CLI of `haproxy -W -S PATH` (Debian's unit has one) reaches the worker too
        socks.append({"address": master_socket, "family": "unix", "port": None, "via_master": True})
    return socks


def resolve_names(names, timeout=3.0, resolve_fn=None):
    """Resolve hostnames on this host (getaddrinfo, all families) concurrently, bounded in time.

    Returns {name: {addresses: [{address, family}], error}}; addresses sorted, unique.
    """
    resolve_fn = resolve_fn or socket.getaddrinfo
    results = {}
    lock = threading.Lock()

    def worker(name):
        try:
            infos = resolve_fn(name, None, socket.AF_UNSPEC, socket.SOCK_STREAM)
            addrs = set()
            for info in infos:
                fam = "ipv6" if info[0] == socket.AF_INET6 else "ipv4" if info[0] == socket.AF_INET else str(info[0])
                addrs.add((fam, info[4][0]))
            value = {"addresses": [{"address": a, "family": f} for f, a in sorted(addrs)], "error": None}
        except (socket.gaierror, socket.herror, UnicodeError, OSError) as exc:
            value = {"addresses": [], "error": str(exc)}
        with lock:
            results[name] = value

    threads = []
    for name in sorted(set(names)):
        thread = threading.Thread(target=worker, args=(name,))
        thread.daemon = True
        thread.start()
        threads.append((name, thread))
    deadline = time.monotonic() + timeout
    for name, thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    out = {}
    with lock:
        for name, _thread in threads:
            out[name] = results.get(name, {"addresses": [], "error": "no answer within %.1f s" % timeout})
    return out


# What a master process of `haproxy -W`/`-Ws` puts in its own environment for its re-execution.
# Inherited by `haproxy -c` they make it a master in wait mode: HAPROXY_MWORKER_WAIT_ONLY=1 gives
# "Configuration file has no error but will not start (no listener) => exit(2)" for a valid file
# (seen with HAProxy 2.6.12 on the lab's Debian 12 lb), HAPROXY_MWORKER_REEXEC "The master
# internals are corrupted".
MASTER_INTERNALS = ("HAPROXY_MWORKER", "HAPROXY_PROCESSES")


def validate(run, binary, files, env):
    """Run `haproxy -c -f ...`; returns the validation dict (never raises). ``env`` is the
    running process's environment (for ``${VAR}``), without the master's internal variables."""
    if env:
        env = dict((k, v) for k, v in env.items() if not k.startswith(MASTER_INTERNALS))
    argv = [binary, "-c"]
    for path in files:
        argv.extend(["-f", path])
    out = {"ran": False, "command": argv, "rc": None, "valid": None, "messages": []}
    try:
        rc, stdout, stderr = run(argv, env)
    except (OSError, IOError) as exc:
        out["error"] = str(exc)
        return out
    out["ran"] = True
    out["rc"] = rc
    if rc == 127:
        out["ran"] = False
        out["error"] = (stderr or stdout or "").strip()[:300]
        return out
    out["valid"] = rc == 0
    out["messages"] = parse_check_output((stdout or "") + "\n" + (stderr or ""))
    return out


def gather(options, run, fs=None, query_fn=None, resolve_fn=None, now=None, proc="/proc"):
    """Collect the facts. ``options`` are the module parameters (see haproxy_facts DOCUMENTATION).

    ``run(argv, env=None) -> (rc, stdout, stderr)``; ``now`` (a naive local datetime) anchors
    the log window in tests.
    """
    fs = fs or loc.LocalFS()
    unavailable = []
    env_override = options.get("environment") or None
    located = None
    content = options.get("content")
    if content is not None:
        source = "content"
        sources = [(CONTENT_NAME, content)]
        files = [CONTENT_NAME]
        env = dict(env_override) if env_override is not None else None
        env_source = "option" if env_override is not None else None
    else:
        located = loc.locate(lambda argv: run(argv, None), fs=fs, proc=proc)
        unavailable.extend(located["unavailable"])
        if options.get("config"):
            source = "option"
            files, problems = loc.expand_config_paths(list(options["config"]), fs)
            unavailable.extend(problems)
        else:
            source = located["source"]
            files = located["files"]
        env = located["env"]
        env_source = located["env_source"]
        if env_override is not None:
            env = dict(env or {})
            env.update(env_override)
            env_source = (env_source + "+option") if env_source else "option"
        sources = _read_sources(files, fs, unavailable)

    binary = None
    version = None
    features = None
    if content is None:
        binary = (located and located.get("binary")) or "haproxy"
        try:
            rc, out, err = run([binary, "-vv"], None)
        except (OSError, IOError) as exc:
            rc, out, err = 127, "", str(exc)
        if rc == 0:
            version, features = parse_version_output(out + err)
        else:
            unavailable.append({"what": "haproxy.version", "reason": (err or out or "rc=%d" % rc).strip()[:200],
                                "source": "%s -vv" % binary})
            binary = None

    config = cfg.parse_config(sources, env=env, features=features, version=version)
    config["source"] = source
    config["env_source"] = env_source
    for err_entry in config["errors"]:
        err_entry["origin"] = "lbdoctor"
    for warn_entry in config["warnings"]:
        warn_entry["origin"] = "lbdoctor"

    validation = {"ran": False, "command": None, "rc": None, "valid": None, "messages": []}
    if options.get("validate", True) and binary and content is None and files:
        validation = validate(run, binary, [f for f in files if f != CONTENT_NAME], env)
        for msg in validation["messages"]:
            entry = {"file": msg["file"], "line": msg["line"], "message": msg["message"], "code": "haproxy-check",
                     "origin": "haproxy -c"}
            (config["errors"] if msg["severity"] == "error" else config["warnings"]).append(entry)
        if not validation["ran"] and validation.get("error"):
            unavailable.append({"what": "config.validation", "reason": validation["error"],
                                "source": " ".join(validation["command"])})
    config["validation"] = validation

    facts = {
        "config": config,
        "haproxy": {"binary": binary, "version": version,
                    "features": sorted(features) if features is not None else None,
                    "process": located["process"] if located else None,
                    "master_socket": located["master_socket"] if located else None},
        "runtime": {"available": False, "socket": None, "error": "runtime API not queried (runtime: false)",
                    "error_kind": "disabled", "info": {}, "stat": [], "stat_backends": [], "servers_state": [],
                    "warnings": [], "tried": []},
        "dns": {},
        "logs": None,
        "unavailable": unavailable,
    }

    if options.get("runtime", True):
        try:
            candidates = _socket_candidates(config, options.get("stats_socket"),
                                            located["master_socket"] if located else None)
        except ValueError as exc:
            candidates = []
            unavailable.append({"what": "runtime", "reason": str(exc), "source": "stats_socket option"})
        runtime = rt.collect_runtime(candidates, timeout=float(options.get("socket_timeout") or 2.0),
                                     query_fn=query_fn)
        unavailable.extend(runtime.pop("unavailable"))
        if not runtime["available"]:
            unavailable.append({"what": "runtime", "reason": runtime["error"],
                                "source": ", ".join(runtime["tried"]) or "stats socket"})
        facts["runtime"] = runtime

    if options.get("resolve", True):
        names = set()
        for backend in config["backends"]:
            for server in backend["servers"]:
                if server["family"] == "hostname" and not server.get("address_error"):
                    names.add(server["address"])
        if names:
            facts["dns"] = resolve_names(names, resolve_fn=resolve_fn)
            _attach_runtime_addresses(facts)

    log_files = options.get("log_files") or None
    if options.get("logs") and (content is None or log_files):
        # with the parsed configuration: its `log` lines say which syslog file to read
        logs = logs_mod.collect_logs(lambda argv: run(argv, None), fs, window_minutes=int(options.get("log_window") or 60),
                                     files=log_files, now=now, config=facts.get("config"))
        unavailable.extend(logs.pop("unavailable"))
        facts["logs"] = logs
    return utf8_safe(facts)


def _attach_runtime_addresses(facts):
    """For each resolved name, which servers use it and what address HAProxy holds for them now."""
    state = {}
    for row in facts["runtime"].get("servers_state") or []:
        state[(row.get("be_name"), row.get("srv_name"))] = row
    for backend in facts["config"]["backends"]:
        for server in backend["servers"]:
            if server["family"] != "hostname" or server["address"] not in facts["dns"]:
                continue
            row = state.get((backend["name"], server["name"]))
            facts["dns"][server["address"]].setdefault("used_by", []).append({
                "backend": backend["name"], "server": server["name"],
                "runtime_address": row.get("srv_addr") if row else None,
            })
