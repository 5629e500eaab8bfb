# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: probe_targets
short_description: Every HAProxy server and its health check, ready for the TCP probe
version_added: 0.1.0
author: lbdoctor maintainers (@lbdoctor)
description:
  - Takes the registered result of M(lbdoctor.haproxy.haproxy_facts) (or a list of them) and
    returns the unique C({address, port, source}) targets in configuration order, and for a
    server with C(check) where its health check connects (its C(addr) and C(port) overrides).
    Servers on UNIX sockets or without a port are left out.
  - A server whose backend checks over HTTP (C(option httpchk)) gets its own target with
    C(id) (C(backend/server)) and C(http_check) built from the configuration - method, URI,
    version and Host of C(option httpchk) and C(http-check send), its other headers and body,
    the C(http-check expect) rules (only the last one before HAProxy 2.2) and
    C(disable-on-404). A check over TLS (C(check-ssl), or C(ssl) without C(addr)/C(port)) gets
    C(ssl), and one the probe cannot reproduce (PROXY protocol, C(check-proto), a multi-step
    C(http-check connect) sequence, log-format values) gets C(not_emulated) with the reason.
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
  description:
    - Targets with C(address), C(port) and, when the server line sets one, C(source); HTTP check
      targets also have C(id) and C(http_check).
  type: list
  elements: dict
"""

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.targets import probe_targets


class FilterModule(object):
    def filters(self):
        return {"probe_targets": probe_targets}
