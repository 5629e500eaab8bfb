#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: tcp_probe
short_description: Connect to many TCP targets at once and classify what the kernel answers
version_added: "0.1.0"
description:
  - Runs on the HAProxy host and opens a TCP connection to every target the way an HAProxy
    health check does, to cross-check what HAProxy reports (C(L4CON), C(L4TOUT), C(L7STS)).
  - All targets are probed in one call with non-blocking sockets watched together (at most
    O(concurrency) at a time), each bounded by O(timeout), so a thousand targets take about one
    timeout, not a thousand.
  - Each result is C(open) (handshake done), C(refused) (C(ECONNREFUSED)), C(timeout) (no answer
    within O(timeout)), C(unreachable) (C(EHOSTUNREACH) or C(ENETUNREACH)) or C(error) (anything
    else, for example C(EPERM) from a local firewall rule or a source address this host does
    not have), with the errno name and the elapsed milliseconds. IPv4 and IPv6.
  - With O(http_check) an HTTP request like HAProxy's C(option httpchk) is sent on open
    connections and the status line read, so a Layer-7 failure is told apart from a Layer-4
    one.
  - Probing changes nothing on any host; check mode probes the same way.
author: lbdoctor maintainers (@lbdoctor)
options:
  targets:
    description:
      - What to connect to. Results come back in this order.
    type: list
    elements: dict
    required: true
    suboptions:
      address:
        description:
          - IPv4 or IPv6 address (a host name is resolved on this host; the first answer is
            used).
        type: str
        required: true
      port:
        description: TCP port.
        type: int
        required: true
      source:
        description:
          - Local address to bind before connecting, like the C(source) keyword of HAProxy.
        type: str
      http_check:
        description:
          - Per-target HTTP check, same keys and defaults as O(http_check); overrides it for
            this target. Unknown keys are an error.
        type: dict
  timeout:
    description:
      - Seconds allowed for each connection (and for the HTTP answer when O(http_check) is set).
    type: float
    default: 2.0
  concurrency:
    description:
      - How many connections may be in progress at once.
    type: int
    default: 64
  http_check:
    description:
      - Send an HTTP request on each open connection and read the status, like C(option httpchk).
    type: dict
    suboptions:
      method:
        description: HTTP method (HAProxy's default is C(OPTIONS)).
        type: str
        default: OPTIONS
      uri:
        description: Request URI.
        type: str
        default: /
      version:
        description: HTTP version string sent in the request line.
        type: str
        default: HTTP/1.0
      host:
        description: Value of the C(Host) header; none is sent when not set.
        type: str
      expect_status:
        description:
          - Status codes that count as success. When not set, 2xx and 3xx pass, as with
            HAProxy's C(option httpchk) without C(http-check expect).
        type: list
        elements: int
notes:
  - A probe from the load balancer shows what the kernel answers to this host now; HAProxy may
    use another source address or check port, so pass the same C(source) and port it uses.
seealso:
  - module: lbdoctor.haproxy.haproxy_facts
"""

EXAMPLES = r"""
- name: Probe every server the way HAProxy checks it (address, check port, source)
  lbdoctor.haproxy.tcp_probe:
    targets: "{{ probe_targets }}"
    timeout: 2
  vars:
    probe_targets: >-
      {%- set out = [] -%}
      {%- for backend in ansible_facts.lbdoctor_haproxy.config.backends -%}
      {%- for server in backend.servers
            if server.family in ['ipv4', 'ipv6'] and server.check_port_effective -%}
      {%- set _ = out.append({'address': server.check_address_effective,
                              'port': server.check_port_effective, 'source': server.source}) -%}
      {%- endfor -%}
      {%- endfor -%}
      {{ out }}
  register: probe

- name: Check a web server like `option httpchk GET /health`
  lbdoctor.haproxy.tcp_probe:
    targets:
      - address: 198.18.0.11
        port: 8080
        source: 198.18.0.1
    http_check:
      method: GET
      uri: /health
      version: HTTP/1.1
      host: app.example.com
"""

RETURN = r"""
results:
  description: One entry per target, in the order given.
  returned: always
  type: list
  elements: dict
  sample:
    - {address: 198.18.0.11, port: 8080, source: null, result: refused, errno: ECONNREFUSED,
       elapsed_ms: 0.4, error: null, family: ipv4, resolved_address: 198.18.0.11}
    - {address: 198.18.0.12, port: 8080, source: null, result: open, errno: null, elapsed_ms: 0.6,
       error: null, family: ipv4, resolved_address: 198.18.0.12, http_status: 404, http_ok: false,
       http_error: "HTTP status 404 (Not Found)"}
  contains:
    address:
      description: The address as given.
      type: str
      returned: always
    port:
      description: The port.
      type: int
      returned: always
    source:
      description: The source address bound, or null.
      type: str
      returned: always
    result:
      description: C(open), C(refused), C(timeout), C(unreachable) or C(error).
      type: str
      returned: always
    errno:
      description: Name of the errno the kernel returned (C(ECONNREFUSED)...), or null.
      type: str
      returned: always
    elapsed_ms:
      description: Milliseconds from the start of the connection to its outcome.
      type: float
      returned: always
    error:
      description: Why a probe could not be made or failed oddly (resolution, bind), or null.
      type: str
      returned: always
    family:
      description: C(ipv4) or C(ipv6), null when the address could not be resolved.
      type: str
      returned: always
    resolved_address:
      description: The IP address connected to.
      type: str
      returned: always
    source_address:
      description:
        - The local address the kernel chose for the connection (or the O(targets[].source) given),
          that is the source address the backend's firewall sees. Null when no socket was made.
      type: str
      returned: always
    http_status:
      description: HTTP status received (with an HTTP check), or null.
      type: int
      returned: when an HTTP check was asked for
    http_ok:
      description: Whether the status is an expected one, null when no status was read.
      type: bool
      returned: when an HTTP check was asked for
    http_error:
      description: What went wrong at the HTTP level (status, timeout, no response), or null.
      type: str
      returned: when an HTTP check was asked for
summary:
  description: How many targets got each result.
  returned: always
  type: dict
  sample: {open: 3, refused: 1, timeout: 0, unreachable: 0, error: 0}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.tcp_probe import ProbeInputError, probe, summarize

HTTP_CHECK_SPEC = dict(
    method=dict(type="str", default="OPTIONS"),
    uri=dict(type="str", default="/"),
    version=dict(type="str", default="HTTP/1.0"),
    host=dict(type="str"),
    expect_status=dict(type="list", elements="int"),
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            targets=dict(type="list", elements="dict", required=True, options=dict(
                address=dict(type="str", required=True),
                port=dict(type="int", required=True),
                source=dict(type="str"),
                http_check=dict(type="dict"),
            )),
            timeout=dict(type="float", default=2.0),
            concurrency=dict(type="int", default=64),
            http_check=dict(type="dict", options=HTTP_CHECK_SPEC),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not 0 < params["timeout"] <= 300:
        module.fail_json(msg="timeout must be more than 0 and at most 300 seconds")
    if not 1 <= params["concurrency"] <= 4096:
        module.fail_json(msg="concurrency must be between 1 and 4096")
    try:
        results = probe(params["targets"], timeout=params["timeout"], concurrency=params["concurrency"],
                        http_check=params["http_check"])
    except ProbeInputError as exc:
        module.fail_json(msg=to_native(exc))
    module.exit_json(changed=False, results=results, summary=summarize(results))


if __name__ == "__main__":
    main()
