# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which systemd unit should serve a server's port on its host, and who says so.

Sources, strongest first: the user's word (unit_map keyed "backend/server" or "backend"); what
the host itself declares (a .socket unit on the port, a unit file naming the port, the last
healthy run), as backend_facts reports it in port_owners; and the servers of the same backend
that are healthy on other hosts (the unit serving them, when this host has that unit too, it does
not already serve another server's port here, and it serves this server's port there or listens
here on the port it serves there).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def _user_word(ctx, unit_map):
    for key in (ctx.name, ctx.backend.get("name")):
        if key in unit_map:
            return unit_map[key]
    return None


def _declared_by_host(ctx):
    owner = ((ctx.host_facts or {}).get("port_owners") or {}).get(str(ctx.port)) or {}
    return owner.get("unit"), owner.get("source")


def _listener_unit(listener):
    """The unit a listener serves: the .socket unit systemd (init.scope) holds it for, else the
    unit its process runs in; None for systemd's own sockets of no known socket unit."""
    unit = listener.get("socket_unit") or listener.get("unit")
    return unit if unit != "init.scope" else None


def _serving_units(ctx):
    """Units that own a listener on the server's port on its host."""
    return set(_listener_unit(l) for l in (ctx.host_facts or {}).get("listeners") or []
               if l.get("port") == ctx.port and _listener_unit(l))


def _sibling_units(contexts):
    """(lb, backend) -> unit -> (host, port) pairs where that unit serves a healthy server of the backend."""
    units = {}
    for ctx in contexts:
        if ctx.haproxy_state == "UP" and ctx.host_facts:
            for unit in _serving_units(ctx):
                units.setdefault((ctx.lb, ctx.backend.get("name")), {}).setdefault(unit, set()).add((ctx.host, ctx.port))
    return units


def _ports_of(ctx, unit):
    """Ports the unit listens on, on the server's host."""
    return set(l.get("port") for l in (ctx.host_facts or {}).get("listeners") or [] if _listener_unit(l) == unit)


def _claimed_units(contexts):
    """(host, port) -> units serving that configured server port: a unit busy serving another
    server on the same host is not the one missing from this server's port."""
    return dict(((ctx.host, ctx.port), _serving_units(ctx)) for ctx in contexts if ctx.host_facts)


def _sibling_candidates(ctx, siblings, claimed):
    known_units = set(((ctx.host_facts or {}).get("units") or {}).keys())
    busy = set()
    for (host, port), units in claimed.items():
        if host == ctx.host and port != ctx.port:
            busy |= units
    candidates = []
    for unit, served in siblings.get((ctx.lb, ctx.backend.get("name")), {}).items():
        if unit not in known_units or unit in busy:
            continue
        # The same unit name on two hosts says little by itself: it must serve this server's
        # port elsewhere, or listen here on the port it serves elsewhere (HAProxy has the wrong one).
        here = _ports_of(ctx, unit)
        if any(host != ctx.host and (port == ctx.port or port in here) for host, port in served):
            candidates.append(unit)
    return sorted(candidates)


def assign_intended_units(contexts, unit_map=None):
    """Set ctx.intended_unit and ctx.intended_source on every context."""
    unit_map = unit_map or {}
    siblings = _sibling_units(contexts)
    claimed = _claimed_units(contexts)
    for ctx in contexts:
        unit = _user_word(ctx, unit_map)
        if unit:
            ctx.intended_unit, ctx.intended_source = unit, "lbdoctor_unit_map"
            continue
        unit, source = _declared_by_host(ctx)
        if unit:
            ctx.intended_unit, ctx.intended_source = unit, source
            continue
        candidates = _sibling_candidates(ctx, siblings, claimed)
        if len(candidates) == 1:
            ctx.intended_unit, ctx.intended_source = candidates[0], "healthy servers of the same backend"
