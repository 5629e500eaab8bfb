# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backend host itself: does anything accept the server's address and port, and if not,
is the unit that should be serving it stopped, conflicting, or listening somewhere else?"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.findings import evidence, finding, fix, manual
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.net import listener_accepts, parse_ip

RUNNING_STATES = ("active", "reloading", "activating")


def describe_listener(listener):
    address = listener.get("address")
    shown = "[%s]" % address if ":" in str(address) else address
    owner = listener.get("process") or "unknown process"
    details = []
    if listener.get("pid"):
        details.append("pid %s" % listener["pid"])
    if listener.get("unit"):
        details.append(listener["unit"])
    if listener.get("socket_unit"):
        details.append("for %s" % listener["socket_unit"])
    if listener.get("v6only") is not None and listener.get("family") == "ipv6":
        details.append("v6only" if listener["v6only"] else "dual-stack")
    return "%s:%s by %s%s" % (shown, listener.get("port"), owner, " (%s)" % ", ".join(details) if details else "")


def _unit_evidence(host, unit, state):
    text = "ActiveState=%s SubState=%s Result=%s ExecMainStatus=%s UnitFileState=%s" % (
        state.get("ActiveState"), state.get("SubState"), state.get("Result"),
        state.get("ExecMainStatus"), state.get("UnitFileState"))
    items = [evidence("systemctl show %s on %s" % (unit, host), text)]
    journal = state.get("journal") or []
    if journal:
        items.append(evidence("journalctl -u %s on %s (last %d lines)" % (unit, host, len(journal)), "\n".join(journal)))
    return items


def _why_down(state):
    """"dead" for a unit stopped cleanly, the Result (exit-code, signal, ...) for one that failed."""
    result = state.get("Result")
    return result if result and result != "success" else state.get("SubState") or "stopped"


def _start_fix(ctx, unit, state):
    commands = [["systemctl", "start", unit]]
    if state.get("UnitFileState") not in ("enabled", "static", "indirect", "generated", "enabled-runtime", "alias"):
        commands.append(["systemctl", "enable", unit])
    return fix("start_unit", "Start %s on %s%s." % (unit, ctx.host, " and enable it at boot" if len(commands) > 1 else ""),
               automatic=True, host=ctx.host, commands=commands, unit=unit)


def _socket_unit_for_port(facts, port):
    for sock in facts.get("socket_units") or []:
        for listen in sock.get("listen") or []:
            if str(listen).rsplit(":", 1)[-1] == str(port):
                return sock
    return None


def _holding_sockets(facts, listener):
    """The .socket units a listening socket is held for: the one backend_facts named, else (a socket
    pid 1 holds while several socket units name the port) every socket unit listening on its port."""
    if listener.get("socket_unit"):
        return [listener["socket_unit"]]
    if listener.get("pid") != 1 and listener.get("unit") != "init.scope":
        return []
    return [sock.get("unit") for sock in facts.get("socket_units") or []
            if sock.get("unit") and any(str(l).rsplit(":", 1)[-1] == str(listener.get("port")) for l in sock.get("listen") or [])]


def _socket_triggers(facts, sock_name, unit):
    """Whether the socket unit starts ``unit``: its Triggers (from socket_units or units), or the
    unit's TriggeredBy; with none known, systemd's default Service=, the service of the same name
    (a template instance of it for Accept=yes)."""
    known = set()
    for sock in facts.get("socket_units") or []:
        if sock.get("unit") == sock_name:
            known.update(sock.get("triggers") or [])
            if sock.get("service"):
                known.add(sock["service"])
    units = facts.get("units") or {}
    known.update((units.get(sock_name) or {}).get("Triggers") or [])
    if sock_name in ((units.get(unit) or {}).get("TriggeredBy") or []):
        return True
    if known:
        return unit in known
    stem = sock_name[:-len(".socket")] if sock_name.endswith(".socket") else sock_name
    return unit == stem + ".service" or (unit.startswith(stem + "@") and unit.endswith(".service"))


def _held_for(facts, listener, unit):
    """Whether a listener is the intended unit's own: its process runs in the unit, or systemd holds
    it for a .socket unit that is the unit or triggers it (socket activation: the service may well
    be inactive until a connection arrives)."""
    if not unit:
        return False
    if unit in (listener.get("unit"), listener.get("user_unit")):
        return True
    return any(sock == unit or _socket_triggers(facts, sock, unit) for sock in _holding_sockets(facts, listener))


def _idle_behind_socket(facts, unit, state):
    """A socket-activated service waiting for its first connection: inactive after a clean exit
    (or never started) while an active .socket unit that triggers it listens. Not a stopped unit."""
    if state.get("ActiveState") != "inactive" or state.get("Result") not in (None, "success"):
        return False
    return any(sock.get("unit") and sock.get("ActiveState") in RUNNING_STATES and _socket_triggers(facts, sock["unit"], unit)
               for sock in facts.get("socket_units") or [])


def _seen_serving(ctx):
    """HAProxy's own runtime state says the server serves (ServerContext.serves, which decides
    what UP means) and the probe, when there is one, connects too. Without the runtime state a
    probe alone is not enough here: serves would then rest on the probe."""
    return ctx.haproxy_state is not None and ctx.serves and (ctx.probe or {}).get("result") in (None, "open")


def _unpublished_container(facts, port):
    """A running container that exposes the port without publishing it on the host."""
    for container in facts.get("containers") or []:
        if str(container.get("state") or "running").lower() not in ("running", "up"):
            continue
        published = set(p.get("container_port") for p in container.get("ports") or [] if p.get("host_port"))
        for mapping in container.get("ports") or []:
            if mapping.get("container_port") == port and not mapping.get("host_port") and port not in published \
                    and (mapping.get("protocol") or "tcp") == "tcp":
                return container
    return None


def _misplaced_listener_finding(ctx, listener):
    """A listener on the right port that does not accept the server's address."""
    listen_ip = parse_ip(listener.get("address"))
    described = describe_listener(listener)
    items = [evidence("listening sockets on %s" % ctx.host, described)]
    owner = listener.get("socket_unit") or listener.get("unit") or listener.get("process") or "the service"
    if listen_ip is not None and listen_ip.is_loopback:
        return finding("bound_to_loopback", "%s listens on %s only; HAProxy connects to %s" % (owner, listen_ip, ctx.ip), items,
                       manual("Configure %s on %s to listen on %s (or 0.0.0.0/::) instead of %s; lbdoctor does not "
                              "edit application configuration." % (owner, ctx.host, ctx.ip, listen_ip), host=ctx.host))
    if listen_ip is not None and listen_ip.version != ctx.ip.version:
        summary = "%s listens on IPv%d %s; HAProxy connects over IPv%d to %s" % (
            owner, listen_ip.version, described, ctx.ip.version, ctx.ip)
        advice = ("Make %s listen on both families (e.g. [::] with IPV6_V6ONLY off, or 0.0.0.0 and [::]), or point "
                  "HAProxy at the host's IPv%d address." % (owner, listen_ip.version))
        return finding("address_family_mismatch", summary, items, manual(advice, host=ctx.host))
    return finding("bound_to_other_address", "%s listens on %s, not on %s where HAProxy connects" % (owner, listen_ip, ctx.ip),
                   items, manual("Configure %s to listen on %s (or all addresses), or point HAProxy at %s." % (owner, ctx.ip, listen_ip),
                                 host=ctx.host))


def _port_conflict(ctx, unit, state, holders):
    held_by = "; ".join(describe_listener(l) for l in holders)
    items = [evidence("listening sockets on %s" % ctx.host, held_by)] + _unit_evidence(ctx.host, unit, state)
    return finding("port_conflict", "Port %s on %s is held by another process and %s is %s" % (
        ctx.port, ctx.host, unit, state.get("ActiveState")), items,
        manual("Stop or reconfigure the process holding port %s (%s), then start %s. lbdoctor never stops a "
               "process on its own initiative." % (ctx.port, held_by, unit), host=ctx.host, unit=unit))


def check(ctx):
    facts = ctx.host_facts
    if not facts or ctx.ip is None or ctx.port is None:
        return []
    bindv6only = facts.get("bindv6only", 0)
    on_port = [l for l in facts.get("listeners") or [] if l.get("port") == ctx.port]
    accepting = [l for l in on_port if listener_accepts(l, ctx.ip, bindv6only)]
    unit = ctx.intended_unit
    state = ((facts.get("units") or {}).get(unit) or {}) if unit else {}
    unit_down = bool(state) and state.get("ActiveState") not in RUNNING_STATES and not _idle_behind_socket(facts, unit, state)
    own = [l for l in on_port if _held_for(facts, l, unit)]
    foreign = [l for l in on_port if unit and l not in own]

    if accepting and _seen_serving(ctx):
        # HAProxy's checks pass and a listener here accepts the address: whatever the unit's state
        # says, the server is served. A healthy server is never reported as broken.
        return []
    if unit_down and foreign and not own:
        # The port is taken and the intended unit is down: the conflict explains the rest.
        return [_port_conflict(ctx, unit, state, foreign)]
    if accepting:
        return []

    findings = []
    seen = set()
    for listener in on_port:
        misplaced = _misplaced_listener_finding(ctx, listener)
        if misplaced["cause"] not in seen:
            seen.add(misplaced["cause"])
            findings.append(misplaced)

    socket_unit = _socket_unit_for_port(facts, ctx.port)
    if socket_unit and socket_unit.get("ActiveState") not in RUNNING_STATES:
        sock_name = socket_unit.get("unit")
        findings.append(finding(
            "socket_unit_inactive", "%s should listen on port %s but is %s" % (sock_name, ctx.port, socket_unit.get("ActiveState")),
            [evidence("systemctl show %s on %s" % (sock_name, ctx.host), "Listen=%s ActiveState=%s SubState=%s" % (
                ", ".join(socket_unit.get("listen") or []), socket_unit.get("ActiveState"), socket_unit.get("SubState")))],
            _start_fix(ctx, sock_name, socket_unit)))
        return findings

    if unit and unit_down and not own:
        findings.append(finding(
            "service_stopped", "%s on %s is %s (%s); nothing else serves port %s" % (
                unit, ctx.host, state.get("ActiveState"), _why_down(state), ctx.port),
            _unit_evidence(ctx.host, unit, state) + [evidence("why %s" % unit, "named by %s" % ctx.intended_source)],
            _start_fix(ctx, unit, state)))
        return findings

    if unit and not on_port:
        elsewhere = [l for l in facts.get("listeners") or [] if _held_for(facts, l, unit)]
        if elsewhere:
            ports = sorted(set(l.get("port") for l in elsewhere))
            findings.append(finding(
                "wrong_port", "%s runs on %s but listens on port %s, not %s as %s:%s says" % (
                    unit, ctx.host, ", ".join(str(p) for p in ports), ctx.port, ctx.server.get("file"), ctx.server.get("line")),
                [evidence("listening sockets on %s" % ctx.host, "; ".join(describe_listener(l) for l in elsewhere)),
                 evidence("%s:%s" % (ctx.server.get("file"), ctx.server.get("line")),
                          "server %s %s" % (ctx.server.get("name"), ctx.server.get("address_raw") or ctx.address)),
                 evidence("why %s" % unit, "named by %s" % ctx.intended_source)],
                manual("Point server %s at port %s in %s:%s, or make %s listen on %s; lbdoctor does not rewrite "
                       "either configuration." % (ctx.name, ports[0], ctx.server.get("file"), ctx.server.get("line"), unit, ctx.port),
                       host=ctx.lb, file=ctx.server.get("file"), line=ctx.server.get("line"), from_port=ctx.port,
                       to_port=ports[0])))
            return findings

    container = _unpublished_container(facts, ctx.port) if not on_port else None
    if container is not None:
        name = container.get("name") or container.get("id")
        runtime = container.get("runtime") or "docker"
        image = container.get("image") or "?"
        findings.append(finding(
            "container_port_unmapped", "%s container %s (image %s) exposes port %s but does not publish it on %s; "
            "nothing on the host listens there" % (runtime, name, image, ctx.port, ctx.host),
            [evidence("%s ps%s on %s" % (runtime, " and inspect" if runtime == "podman" else "", ctx.host), "%s (%s) %s: %s" % (
                name, container.get("image"), container.get("status") or container.get("state"),
                ", ".join("%s/%s%s" % (p.get("container_port"), p.get("protocol") or "tcp",
                                       " <- %s:%s" % (p.get("host_address") or "*", p.get("host_port")) if p.get("host_port") else "")
                          for p in container.get("ports") or []))),
             evidence("listening sockets on %s" % ctx.host, "none on port %s" % ctx.port)],
            manual("Re-create container %s from image %s with the port published (%s run -p %s:%s ... %s, keeping "
                   "its other options; a running container's port mappings cannot be changed), or point HAProxy at "
                   "a port it publishes. lbdoctor never restarts, kills or re-creates a container on its own "
                   "initiative." % (name, image, runtime, ctx.port, ctx.port, image), host=ctx.host, container=name,
                   image=image, port=ctx.port)))
        return findings

    if not on_port:
        why = ("%s (named by %s) is %s" % (unit, ctx.intended_source, state.get("ActiveState") if state else "not known on the host")
               if unit else "no unit is known to serve it (set lbdoctor_unit_map to name one)")
        findings.append(finding(
            "no_listener", "Nothing listens on port %s on %s; %s" % (ctx.port, ctx.host, why),
            [evidence("listening sockets on %s" % ctx.host, "none on port %s (%d listening sockets in all)" % (
                ctx.port, len(facts.get("listeners") or [])))],
            manual("Start the service that should listen on %s:%s, or correct the port in %s:%s." % (
                ctx.ip, ctx.port, ctx.server.get("file"), ctx.server.get("line")), host=ctx.host)))
    return findings
