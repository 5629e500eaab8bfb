# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which systemd unit should serve a server's port on its host, and who says so.

Sources, strongest first: the user's word (unit_map keyed "backend/server" or "backend"); what
the host itself declares (a .socket unit on the port, a unit file naming the port, the last
healthy run), as backend_facts reports it in port_owners; and the servers of the same backend
that are healthy elsewhere (the unit serving them, when this host has that unit too).
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


def _sibling_units(contexts):
    """backend key -> units that serve healthy servers of that backend, from their listeners."""
    units = {}
    for ctx in contexts:
        if ctx.haproxy_state != "UP" or not ctx.host_facts:
            continue
        for listener in ctx.host_facts.get("listeners") or []:
            if listener.get("port") == ctx.port and listener.get("unit"):
                units.setdefault((ctx.lb, ctx.backend.get("name")), set()).add(listener["unit"])
    return units


def assign_intended_units(contexts, unit_map=None):
    """Set ctx.intended_unit and ctx.intended_source on every context."""
    unit_map = unit_map or {}
    siblings = _sibling_units(contexts)
    for ctx in contexts:
        unit = _user_word(ctx, unit_map)
        if unit:
            ctx.intended_unit, ctx.intended_source = unit, "lbdoctor_unit_map"
            continue
        unit, source = _declared_by_host(ctx)
        if unit:
            ctx.intended_unit, ctx.intended_source = unit, source
            continue
        known_units = set(((ctx.host_facts or {}).get("units") or {}).keys())
        candidates = sorted(siblings.get((ctx.lb, ctx.backend.get("name")), set()) & known_units)
        if len(candidates) == 1:
            ctx.intended_unit, ctx.intended_source = candidates[0], "healthy servers of the same backend"
