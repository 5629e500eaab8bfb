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
  - All targets are probed in one call with non-blocking sockets watched together, each bounded
    by O(timeout). By default every target is in progress at once (as far as the open-file limit
    allows, see O(concurrency)), so a thousand targets that never answer take about one
    O(timeout) in total, not one each.
  - Each result is C(open) (handshake done), C(refused) (C(ECONNREFUSED)), C(timeout) (no answer
    within O(timeout)), C(unreachable) (C(EHOSTUNREACH) or C(ENETUNREACH)) or C(error) (anything
    else, for example C(EPERM) from a local firewall rule or a source address this host does
    not have), with the errno name and the elapsed milliseconds. IPv4 and IPv6.
  - With O(http_check) an HTTP request like HAProxy's C(option httpchk) and C(http-check send)
    is sent on open connections and the answer judged by the C(http-check expect) rules HAProxy
    would apply (C(status) codes, lists and ranges, C(rstatus), C(string), C(rstring), C(!),
    C(ok-status), C(error-status), C(tout-status), C(disable-on-404); without rules 2xx and 3xx
    pass). The result is the check code HAProxy would report (C(L7OK), C(L7OKC), C(L7STS),
    C(L7RSP), C(L7TOUT), C(SOCKERR)), so a Layer-7 failure is told apart from a Layer-4 one.
  - What is not emulated is said, never guessed - checks over TLS (O(http_check.ssl)),
    C(hdr)/C(fhdr) and log-format rules, a regex Python's C(re) does not read, and whatever
    the caller marks with O(http_check.not_emulated) - gives C(not_emulated) (unless an earlier
    rule already failed the check).
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
      id:
        description:
          - Free text returned unchanged with this target's result (for example
            C(backend/server)), to tell apart targets with the same address and port.
        type: str
  timeout:
    description:
      - Seconds allowed for each connection (and for the HTTP answer when O(http_check) is set).
    type: float
    default: 2.0
  concurrency:
    description:
      - How many connections may be in progress at once. Not set, every target is started at
        once.
      - Either way it is capped by the open-file limit of the module's process
        (C(RLIMIT_NOFILE)) minus 64 descriptors; the soft limit is first raised towards the hard
        one when more are needed. Past the cap, targets that do not answer take one O(timeout)
        per round of that many.
    type: int
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
      headers:
        description:
          - More request headers, like C(http-check send hdr NAME VALUE). C(Host) goes in
            O(http_check.host); C(Connection) is always C(close).
        type: list
        elements: dict
        suboptions:
          name:
            description: Header name.
            type: str
            required: true
          value:
            description: Header value.
            type: str
            required: true
      body:
        description: Request body, like C(http-check send body); a C(Content-Length) is added.
        type: str
      expect:
        description:
          - C(http-check expect) rules in HAProxy's syntax, evaluated in order, all of which must
            pass, for example C(status 200-399), C(! string maintenance),
            C(error-status L7RSP rstatus ^2). Each is a string (split like a shell line, so
            quote a pattern with blanks) or a list of words as the configuration parser split
            them.
          - Rules HAProxy refuses (no match, unknown match, a reversed range) fail the module.
        type: list
        elements: raw
      expect_status:
        description:
          - Status codes that count as success, the same as an C(expect) rule
            C(status CODE,CODE). When neither this nor O(http_check.expect) is set, 2xx and 3xx
            pass, as with HAProxy's C(option httpchk) without C(http-check expect).
        type: list
        elements: int
      disable_on_404:
        description:
          - Like C(http-check disable-on-404) - a 404 gives C(L7OKC) (HAProxy passes it while
            the server is up and puts it in NOLB).
        type: bool
        default: false
      ssl:
        description:
          - The check runs over TLS (the server's C(check-ssl), or C(ssl) without a check
            C(port)/C(addr)). TLS is not emulated - the TCP connect is made, no request is sent and
            the HTTP result is C(not_emulated).
        type: bool
        default: false
      not_emulated:
        description:
          - A reason this check cannot be emulated (for example a PROXY protocol header or a
            multi-step C(http-check connect) sequence). The TCP connect is made, no request is
            sent, and the HTTP result is C(not_emulated) with this reason.
        type: str
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
    probe_targets: "{{ haproxy_result | lbdoctor.haproxy.probe_targets }}"
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
      expect:
        - status 200-399
        - "! string maintenance"
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
       http_error: "HTTP status 404 (Not Found)",
       http: {request: GET /health HTTP/1.1, status: 404, result: L7STS, ok: false,
              reason: "HTTP status 404 (Not Found)"}}
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
    id:
      description: The target's O(targets[].id).
      type: str
      returned: when the target has one
    http:
      description: The emulated HTTP check.
      type: dict
      returned: when an HTTP check was asked for
      contains:
        request:
          description: The request line sent, null when none was sent.
          type: str
        status:
          description: HTTP status received, or null.
          type: int
        result:
          description:
            - The check code HAProxy would report - C(L7OK), C(L7OKC), C(L7STS) (status rule
              failed), C(L7RSP) (body rule failed, or not an HTTP response), C(L7TOUT) (no
              complete answer within O(timeout)), C(SOCKERR) (I/O error once connected), an
              C(ok-status)/C(error-status)/C(tout-status) of the rules - or C(not_emulated),
              or null when the TCP connect failed (no request was sent).
          type: str
        ok:
          description: Whether HAProxy would count the check as passed; null when not known.
          type: bool
        reason:
          description: Why it failed, was not emulated or not sent; null when it passed.
          type: str
    http_status:
      description: The same as RV(results[].http.status).
      type: int
      returned: when an HTTP check was asked for
    http_ok:
      description: The same as RV(results[].http.ok).
      type: bool
      returned: when an HTTP check was asked for
    http_error:
      description: RV(results[].http.reason) when the check failed, else null.
      type: str
      returned: when an HTTP check was asked for
summary:
  description: How many targets got each result.
  returned: always
  type: dict
  sample: {open: 3, refused: 1, timeout: 0, unreachable: 0, error: 0}
concurrency:
  description: How many connections could be in progress at once in this run.
  returned: always
  type: int
  sample: 1000
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.tcp_probe import (
    ProbeInputError,
    effective_concurrency,
    probe,
    summarize,
)

HTTP_CHECK_SPEC = dict(
    method=dict(type="str", default="OPTIONS"),
    uri=dict(type="str", default="/"),
    version=dict(type="str", default="HTTP/1.0"),
    host=dict(type="str"),
    headers=dict(type="list", elements="dict", options=dict(
        name=dict(type="str", required=True),
        value=dict(type="str", required=True),
    )),
    body=dict(type="str"),
    expect=dict(type="list", elements="raw"),
    expect_status=dict(type="list", elements="int"),
    disable_on_404=dict(type="bool", default=False),
    ssl=dict(type="bool", default=False),
    not_emulated=dict(type="str"),
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            targets=dict(type="list", elements="dict", required=True, options=dict(
                address=dict(type="str", required=True),
                port=dict(type="int", required=True),
                source=dict(type="str"),
                http_check=dict(type="dict"),
                id=dict(type="str"),
            )),
            timeout=dict(type="float", default=2.0),
            concurrency=dict(type="int"),
            http_check=dict(type="dict", options=HTTP_CHECK_SPEC),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not 0 < params["timeout"] <= 300:
        module.fail_json(msg="timeout must be more than 0 and at most 300 seconds")
    if params["concurrency"] is not None and params["concurrency"] < 1:
        module.fail_json(msg="concurrency must be at least 1")
    try:
        results = probe(params["targets"], timeout=params["timeout"], concurrency=params["concurrency"],
                        http_check=params["http_check"])
    except ProbeInputError as exc:
        module.fail_json(msg=to_native(exc))
    module.exit_json(changed=False, results=results, summary=summarize(results),
                     concurrency=effective_concurrency(len(results), params["concurrency"]))


if __name__ == "__main__":
    main()
