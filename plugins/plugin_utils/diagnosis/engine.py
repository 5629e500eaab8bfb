# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The correlation engine's entry point: registered results in, report (schema 1) out.

Pure Python with no ansible import, so plain pytest exercises it; the filter plugin
lbdoctor.haproxy.diagnose is a thin shim over diagnose().
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.inputs import probe_results_by_target, results_by_host
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.intent import assign_intended_units
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.model import build_contexts
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.report import build_report, server_record
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.verdict import judge

LB_FACTS_KEY = "lbdoctor_haproxy"
BACKEND_FACTS_KEY = "lbdoctor_backend"


def _host_status(lb_hosts, backend_hosts):
    status = {}
    for role, hosts in (("haproxy", lb_hosts), ("backend", backend_hosts)):
        for host, entry in hosts.items():
            record = status.setdefault(host, {"roles": [], "facts": True, "error": None})
            record["roles"].append(role)
            if entry.get("error"):
                record["facts"] = False
                record["error"] = entry["error"]
    return dict((host, status[host]) for host in sorted(status))


def diagnose(lb_results, backend_results, probe_results=None, unit_map=None, generated_at=None, mode="diagnose",
             inventory_addresses=None):
    """Diagnose every server of every HAProxy host.

    lb_results: host -> registered result of lbdoctor.haproxy.haproxy_facts.
    backend_results: host -> registered result of lbdoctor.haproxy.backend_facts.
    probe_results: host -> registered result of lbdoctor.haproxy.tcp_probe (optional).
    unit_map: "backend/server" or "backend" -> systemd unit that serves it (the user's word).
    inventory_addresses: host -> its ansible_host: names a backend host whose facts are missing,
    and is the LB's source address of last resort for the firewall evaluation.
    """
    lb_hosts = results_by_host(lb_results, LB_FACTS_KEY)
    backend_hosts = results_by_host(backend_results, BACKEND_FACTS_KEY)
    for host, address in (inventory_addresses or {}).items():
        if host in backend_hosts:
            backend_hosts[host]["inventory_address"] = address
    contexts = build_contexts(lb_hosts, backend_hosts, probe_results_by_target(probe_results),
                              lb_addresses=dict((h, a) for h, a in (inventory_addresses or {}).items() if h in lb_hosts))
    assign_intended_units(contexts, unit_map)
    servers = []
    for ctx in contexts:
        verdict, findings = judge(ctx)
        servers.append(server_record(ctx, verdict, findings))
    return build_report(servers, generated_at, mode=mode, hosts=_host_status(lb_hosts, backend_hosts))
