# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: probe_targets
short_description: The address and port of every HAProxy server, ready for the TCP probe
version_added: 0.1.0
author: lbdoctor maintainers (@lbdoctor)
description:
  - Takes the registered result of M(lbdoctor.haproxy.haproxy_facts) (or a list of them) and
    returns the unique C({address, port, source}) targets in configuration order, including a
    server's separate health check port. Servers on UNIX sockets or without a port are left out.
options:
  _input:
    description: One registered haproxy_facts result, or a list of them.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Probe every server from the load balancer
  lbdoctor.haproxy.tcp_probe:
    targets: "{{ haproxy_result | lbdoctor.haproxy.probe_targets }}"
"""

RETURN = r"""
_value:
  description: Targets with C(address), C(port) and, when the server line sets one, C(source).
  type: list
  elements: dict
"""

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.targets import probe_targets


class FilterModule(object):
    def filters(self):
        return {"probe_targets": probe_targets}
