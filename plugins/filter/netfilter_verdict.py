# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: netfilter_verdict
short_description: What a host's netfilter rulesets do to a TCP SYN
version_added: 0.1.0
author: lbdoctor maintainers (@lbdoctor)
description:
  - Walks a TCP SYN (connection state NEW) through the host's iptables (nf_tables and legacy),
    ip6tables and native nftables rulesets in the kernel's hook and priority order, following
    jumps, gotos, returns, policies, DNAT and REDIRECT, and returns the verdict, the deciding rule
    as the ruleset shows it, and what the client observes (open, refused, unreachable, timeout).
  - A match that cannot be decided from the packet and the facts (rate limits, recent lists, MAC
    addresses, ...) makes the verdict C(indeterminate) and is named, never silently passed.
  - The same evaluator as the M(lbdoctor.haproxy.firewall_eval) module; see the collection's
    docs/netfilter.md for the result's keys and the kernel semantics.
options:
  _input:
    description:
      - The C(firewall) subset of the M(lbdoctor.haproxy.backend_facts) facts, or a mapping with
        any of C(iptables_save), C(ip6tables_save), C(nft_json), C(nft_text), C(ipset_save)
        (text as the tools print it).
    type: dict
    required: true
  packet:
    description:
      - The SYN, C({family, src, dst, dport, proto, iif}) (C(sport) optional), or a list of them
        (evaluated in one pass; the result is then a list in the same order).
    type: raw
    required: true
  listeners:
    description:
      - Listening sockets C({address, port, v6only}); when given, an accepted SYN whose
        (possibly rewritten) destination has no listener is C(refused).
    type: list
    elements: dict
  addresses:
    description:
      - The host's addresses, as the backend facts' C(addresses) list, raw C(ip -j addr) output,
        or a mapping interface name to addresses in C(ip -j addr) order. Needed for REDIRECT,
        addrtype/fib and reverse-path matches.
    type: raw
"""

EXAMPLES = r"""
- name: Would the backend's firewall let HAProxy's health check in?
  ansible.builtin.debug:
    msg: >-
      {{ ansible_facts.lbdoctor_backend.firewall
         | lbdoctor.haproxy.netfilter_verdict({'family': 'ipv4', 'src': '198.18.0.10',
                                               'dst': '198.18.0.11', 'dport': 8080,
                                               'proto': 'tcp', 'iif': 'eth0'},
                                              listeners=ansible_facts.lbdoctor_backend.listeners,
                                              addresses=ansible_facts.lbdoctor_backend.addresses) }}

- name: Evaluate pasted iptables-save output
  ansible.builtin.set_fact:
    verdict: >-
      {{ {'iptables_save': lookup('ansible.builtin.file', 'web1-iptables-save.txt')}
         | lbdoctor.haproxy.netfilter_verdict({'src': '198.18.0.10', 'dst': '198.18.0.11',
                                               'dport': 8080, 'iif': 'eth0'}) }}
"""

RETURN = r"""
_value:
  description:
    - One result (a list of results when O(packet) is a list) with C(verdict)
      (accept, drop, reject, indeterminate), C(reject_with), C(destination), C(redirected),
      C(rule), C(nat_rule), C(path), C(observed_as), C(errno), C(no_listener), C(unsupported)
      and C(warnings). See docs/netfilter.md.
  type: raw
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_eval import RulesetError, compile_ruleset


def netfilter_verdict(firewall_facts, packet, listeners=None, addresses=None):
    if not isinstance(firewall_facts, dict):
        raise AnsibleFilterError("netfilter_verdict expects the firewall facts (a mapping), got %s"
                                 % type(firewall_facts).__name__)
    try:
        ruleset = compile_ruleset(firewall_facts)
    except RulesetError as exc:
        raise AnsibleFilterError("netfilter_verdict: %s" % exc)
    if isinstance(packet, dict):
        packets = [packet]
    elif isinstance(packet, (list, tuple)):
        packets = list(packet)
    else:
        raise AnsibleFilterError("netfilter_verdict: the packet must be a mapping or a list of mappings")
    try:
        results = [ruleset.evaluate(p, listeners=listeners, addresses=addresses) for p in packets]
    except RulesetError as exc:
        raise AnsibleFilterError("netfilter_verdict: %s" % exc)
    return results[0] if isinstance(packet, dict) else results


class FilterModule(object):
    def filters(self):
        return {"netfilter_verdict": netfilter_verdict}
