# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the load balancer should probe, derived from its parsed configuration."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.engine import LB_FACTS_KEY
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.inputs import host_facts

PROBED_FAMILIES = ("ipv4", "ipv6", "hostname")


def probe_targets(lb_results):
    """Unique {address, port, source} targets, in configuration order, from one registered
    haproxy_facts result or a list of them. Servers without a port or on UNIX sockets are left
    out: there is nothing to connect to from the network."""
    results = lb_results if isinstance(lb_results, list) else [lb_results]
    targets, seen = [], set()
    for result in results:
        facts, _error = host_facts(result, LB_FACTS_KEY)
        for backend in ((facts or {}).get("config") or {}).get("backends") or []:
            for server in backend.get("servers") or []:
                if server.get("family") not in PROBED_FAMILIES or server.get("port") is None:
                    continue
                for port in (server["port"], server.get("check_port")):
                    key = (server["address"], port, server.get("source"))
                    if port is None or key in seen:
                        continue
                    seen.add(key)
                    target = {"address": server["address"], "port": int(port)}
                    if server.get("source"):
                        target["source"] = server["source"]
                    targets.append(target)
    return targets
