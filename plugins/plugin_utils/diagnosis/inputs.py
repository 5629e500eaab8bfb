# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn what Ansible registered for each host into facts or a stated reason why there are none.

A registered result may be missing (the host was never reached by the play), unreachable,
failed, skipped, or carry the facts under ansible_facts. One host's failure never hides the
others: it becomes a reason that the verdict layer reports as ``unknown``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def host_facts(result, facts_key):
    """Return (facts, error) from one registered module result."""
    if not isinstance(result, dict) or not result:
        return None, "no result was gathered from this host"
    if result.get("unreachable"):
        return None, "unreachable: %s" % (result.get("msg") or "no answer over the connection").strip()
    if result.get("skipped"):
        return None, "facts gathering was skipped: %s" % result.get("skip_reason", "condition false")
    if result.get("failed"):
        return None, "facts gathering failed: %s" % (result.get("msg") or "no message").strip()
    facts = (result.get("ansible_facts") or {}).get(facts_key)
    if not isinstance(facts, dict):
        return None, "the module returned no %s facts" % facts_key
    return facts, None


def results_by_host(results, facts_key):
    """Map host -> {"facts", "error"} for a mapping of host -> registered result."""
    normalized = {}
    for host in sorted(results or {}):
        facts, error = host_facts(results[host], facts_key)
        normalized[host] = {"facts": facts, "error": error}
    return normalized


CHECK_KEY = "check"


def probe_results_by_target(results):
    """Map (lb_host, address, port) -> probe result dict from registered tcp_probe results; a
    result with an ``id`` (a server's own health-check target, see targets.probe_targets) is also
    under (lb_host, "check", id)."""
    by_target = {}
    for host in sorted(results or {}):
        result = results[host]
        if not isinstance(result, dict) or result.get("failed") or result.get("unreachable"):
            continue
        for probe in result.get("results") or []:
            try:
                key = (host, str(probe["address"]), int(probe["port"]))
            except (KeyError, TypeError, ValueError):
                continue
            if key not in by_target or "http" not in probe:
                by_target[key] = probe  # a plain connect first; any result tells the L4 story
            if probe.get("id") is not None:
                by_target[(host, CHECK_KEY, str(probe["id"]))] = probe
    return by_target
