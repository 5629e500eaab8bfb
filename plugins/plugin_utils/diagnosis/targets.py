# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the load balancer should probe, derived from its parsed configuration: every server's
address and port, and where HAProxy's health check connects (the `addr`/`port` overrides) with
the HTTP check it sends there (`option httpchk`, `http-check send`/`expect`)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.engine import LB_FACTS_KEY
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.inputs import host_facts
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.model import check_target

PROBED_FAMILIES = ("ipv4", "ipv6", "hostname")
_SEND_KEYS = {"meth": "method", "uri": "uri", "ver": "version"}


def _before_2_2(version):
    """True for HAProxy before 2.2 (one `http-check expect`, the last one); False when unknown."""
    m = re.match(r"^(\d+)\.(\d+)", str(version or ""))
    return bool(m) and (int(m.group(1)), int(m.group(2))) < (2, 2)


def _where(rule):
    return "%s:%s" % (rule.get("file"), rule.get("line"))


def server_id(backend, server):
    """How a server's check target is named in the probe: "backend/server"."""
    return "%s/%s" % (backend.get("name"), server.get("name"))


def _overridden(server):
    """The server's check has its own `port`/`addr`: HAProxy then checks in clear and without the
    PROXY header the traffic uses (unless check-ssl / check-send-proxy say otherwise)."""
    return server.get("check_port") is not None or server.get("check_addr") is not None


def _not_emulated(server, rules):
    """Why this server's HTTP check cannot be emulated by tcp_probe, or None."""
    if server.get("send_proxy") and not _overridden(server):
        # HAProxy sends the PROXY header on checks too unless port/addr is set (check-send-proxy)
        return "the check starts with a PROXY protocol header (%s): not emulated" % server["send_proxy"]
    if server.get("check_proto"):
        return "the check uses check-proto %s: not emulated" % server["check_proto"]
    for rule in rules:
        args = rule.get("args") or []
        if args and args[0] == "connect":
            return "a multi-step 'http-check connect' sequence (%s): not emulated" % _where(rule)
    sends = [rule for rule in rules if (rule.get("args") or [None])[0] == "send"]
    if len(sends) > 1:
        return "%d 'http-check send' steps (%s): not emulated" % (len(sends), ", ".join(_where(r) for r in sends))
    return None


def http_check_for(backend, server, version=None):
    """The HTTP check HAProxy runs on ``server``, as tcp_probe's ``http_check``; None when the
    server has no check or the backend's check is not HTTP (`option httpchk`)."""
    if not server.get("check") or backend.get("check_type") != "http":
        return None
    chk = backend.get("httpchk") or {}
    out = {"method": chk.get("method") or "OPTIONS", "uri": chk.get("uri") or "/",
           "version": chk.get("version") or "HTTP/1.0"}
    if chk.get("host"):
        out["host"] = chk["host"]
    rules = backend.get("http_check") or []
    headers, expects, reasons = [], [], []
    for rule in rules:
        args = [str(a) for a in rule.get("args") or []]
        if not args:
            continue
        if args[0] == "expect":
            expects.append(args[1:])
        elif args[0] == "disable-on-404":
            out["disable_on_404"] = True
        elif args[0] == "send":
            words, i = args[1:], 0
            while i < len(words):
                key = words[i]
                if key in _SEND_KEYS and i + 1 < len(words):
                    out[_SEND_KEYS[key]] = words[i + 1]
                    i += 2
                elif key == "hdr" and i + 2 < len(words):
                    name, value = words[i + 1], words[i + 2]
                    if "%" in value:
                        reasons.append("the log-format header %s at %s: not emulated" % (name, _where(rule)))
                    elif name.lower() == "host":
                        out["host"] = value
                    else:
                        headers.append([name, value])
                    i += 3
                elif key == "body" and i + 1 < len(words):
                    out["body"] = words[i + 1]
                    i += 2
                elif key in ("uri-lf", "body-lf"):
                    reasons.append("'http-check send %s' (log-format) at %s: not emulated" % (key, _where(rule)))
                    i += 2
                else:
                    i += 2 if key == "comment" else 1
    if expects and _before_2_2(version):
        expects = expects[-1:]  # before 2.2 a later `http-check expect` replaced the earlier one
    if headers:
        out["headers"] = headers
    if expects:
        out["expect"] = expects
    if server.get("check_ssl") or (server.get("ssl") and not _overridden(server)):
        out["ssl"] = True
    reason = _not_emulated(server, rules) or (reasons[0] if reasons else None)
    if reason:
        out["not_emulated"] = reason
    return out


def probe_targets(lb_results):
    """Targets for lbdoctor.haproxy.tcp_probe, in configuration order, from one registered
    haproxy_facts result or a list of them.

    Every server's {address, port, source} once (unique), and where its health check connects
    (`addr`/`port` overrides) when it has `check`. A server whose backend checks over HTTP gets
    its own target with ``http_check`` and ``id`` "backend/server" (two servers at one address
    may be checked differently). Servers without a port or on UNIX sockets are left out: there
    is nothing to connect to from the network."""
    results = lb_results if isinstance(lb_results, list) else [lb_results]
    targets, seen = [], set()

    def add(address, port, source, **extra):
        key = (address, int(port), source)
        if not extra and key in seen:
            return
        seen.add(key)
        target = {"address": address, "port": int(port)}
        if source:
            target["source"] = source
        target.update(extra)
        targets.append(target)

    for result in results:
        facts, _error = host_facts(result, LB_FACTS_KEY)
        version = ((facts or {}).get("haproxy") or {}).get("version")
        for backend in ((facts or {}).get("config") or {}).get("backends") or []:
            for server in backend.get("servers") or []:
                if server.get("family") not in PROBED_FAMILIES or server.get("port") is None:
                    continue
                source = server.get("source")
                traffic = (server["address"], server["port"])
                check = check_target(server) if server.get("check") else None
                http = http_check_for(backend, server, version)
                if http is not None and check == traffic:
                    add(traffic[0], traffic[1], source, http_check=http, id=server_id(backend, server))
                    continue
                add(traffic[0], traffic[1], source)
                if http is not None:
                    add(check[0], check[1], source, http_check=http, id=server_id(backend, server))
                elif check is not None:
                    add(check[0], check[1], source)
    return targets
