# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: diagnose
short_description: Correlate HAProxy, probe and backend facts into one verdict per server
version_added: 0.1.0
author: lbdoctor maintainers (@lbdoctor)
description:
  - Joins every server of every HAProxy host with the backend host that owns its address (by the
    host's interface addresses, not by name), evaluates every layer (addressing, DNS, units,
    listeners), and returns the report of schema version 1 described in the collection's docs/report.md.
  - Each server gets one verdict from a fixed vocabulary, all findings in fix order, their evidence
    and the fix each would apply. Output order is deterministic.
options:
  _input:
    description: Host name to the registered result of M(lbdoctor.haproxy.haproxy_facts), for each HAProxy host.
    type: dict
    required: true
  backend_results:
    description: Host name to the registered result of M(lbdoctor.haproxy.backend_facts), for each backend host.
    type: dict
    required: true
  probe_results:
    description: Host name to the registered result of M(lbdoctor.haproxy.tcp_probe), for each HAProxy host.
    type: dict
  unit_map:
    description: C(backend/server) or C(backend) to the systemd unit that should serve it (your word first).
    type: dict
  generated_at:
    description: Timestamp to put in the report.
    type: str
  mode:
    description: C(diagnose) or C(remediate).
    type: str
    default: diagnose
  inventory_addresses:
    description: Host name to its C(ansible_host), to name a backend host whose facts could not be gathered.
    type: dict
"""

EXAMPLES = r"""
- name: Diagnose every HAProxy server
  ansible.builtin.set_fact:
    report: >-
      {{ lb_results | lbdoctor.haproxy.diagnose(backend_results, probe_results=probe_results,
                                                unit_map={'web': 'app.service'},
                                                generated_at=now(utc=true).isoformat()) }}
"""

RETURN = r"""
_value:
  description: The report, schema version 1 (schema_version, generated_at, mode, servers, hosts, summary).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.engine import diagnose


def diagnose_filter(lb_results, backend_results, probe_results=None, unit_map=None, generated_at=None, mode="diagnose",
                    inventory_addresses=None):
    if not isinstance(lb_results, dict) or not isinstance(backend_results, dict):
        raise AnsibleFilterError("diagnose expects two mappings: HAProxy host results and backend host results")
    try:
        return diagnose(lb_results, backend_results, probe_results=probe_results, unit_map=unit_map,
                        generated_at=generated_at, mode=mode, inventory_addresses=inventory_addresses)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("diagnose could not correlate the facts: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"diagnose": diagnose_filter}
