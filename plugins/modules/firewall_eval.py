#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: firewall_eval
short_description: Say what a host's netfilter rulesets do to TCP SYNs
version_added: "0.1.0"
description:
  - Walks each given TCP SYN (connection state NEW) through iptables (nf_tables and legacy
    backends), ip6tables and native nftables in the kernel's hook and priority order (raw,
    conntrack, mangle, the NAT hook, filter, security), following jumps, gotos, returns and
    policies, applying DNAT and REDIRECT, and reports the verdict, the deciding rule as the ruleset
    shows it and what a client observes (C(open), C(refused), C(unreachable), C(timeout)) with the
    errno a C(connect()) gets.
  - Rulesets come from the options as text (for example pasted from another host during an
    outage); when none is given the module reads the live rulesets of this host
    (C(iptables-nft-save), C(iptables-legacy-save), their IPv6 twins, C(nft -j list ruleset),
    C(nft -a list ruleset), C(ipset save) for referenced sets), which needs root.
  - A match that cannot be decided from the packet and the facts (rate limits, recent lists, MAC
    addresses, ...) makes the verdict C(indeterminate) and names the rule and the match.
  - Nothing is changed on the host, in check mode or not.
author: lbdoctor maintainers (@lbdoctor)
options:
  packets:
    description:
      - The SYNs to evaluate. Results come back in this order. The rulesets are parsed once for
        all of them.
    type: list
    elements: dict
    required: true
    suboptions:
      family:
        description: Address family; taken from the addresses when omitted.
        type: str
        choices: [ipv4, ipv6]
      src:
        description: Source address (the load balancer's).
        type: str
        required: true
      dst:
        description: Destination address (the backend's).
        type: str
        required: true
      dport:
        description: Destination port.
        type: int
        required: true
      sport:
        description: Source port, when known (rules on source ports are undecidable without it).
        type: int
      proto:
        description: Only C(tcp) is evaluated.
        type: str
        default: tcp
        choices: [tcp]
      iif:
        description: Interface the SYN arrives on (C(-i), C(iifname), REDIRECT's address).
        type: str
      direction:
        description: C(input) (a SYN arriving at this host) or C(output) (a SYN this host sends).
        type: str
        default: input
        choices: [input, output]
      oif:
        description: Outgoing interface, for C(direction=output).
        type: str
  iptables_save:
    description: C(iptables-save) output (either backend). The variant is read from its header.
    type: str
  ip6tables_save:
    description: C(ip6tables-save) output.
    type: str
  nft_json:
    description: C(nft -j list ruleset) output, as text or already decoded.
    type: raw
  nft_text:
    description:
      - C(nft -a list ruleset) or plain C(nft list ruleset) output. With O(nft_json) it supplies
        the rule texts the results quote and the devices of netdev chains, which C(nft -j) of
        nftables 1.0 leaves out; alone, the ruleset is read from this text.
    type: str
  ipset_save:
    description: C(ipset save) output, for C(-m set --match-set) rules.
    type: str
  listeners:
    description:
      - Listening TCP sockets C({address, port, v6only}), as in the backend facts. When given, an
        accepted SYN whose (possibly rewritten) destination no socket takes is C(refused) with
        C(no_listener=true).
    type: list
    elements: dict
  addresses:
    description:
      - The host's addresses, as the backend facts' C(addresses) list, raw C(ip -j addr) output
        or a mapping interface name to addresses in C(ip -j addr) order. REDIRECT, addrtype, fib
        and reverse-path matches need them.
    type: raw
notes:
  - Supports check mode; it runs the same way, since it changes nothing.
  - The result keys and the kernel semantics are described in the collection's docs/netfilter.md.
seealso:
  - module: lbdoctor.haproxy.backend_facts
  - plugin: lbdoctor.haproxy.netfilter_verdict
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Evaluate the live rulesets of a backend for HAProxy's health checks
  lbdoctor.haproxy.firewall_eval:
    packets:
      - {src: 198.18.0.10, dst: 198.18.0.11, dport: 8080, iif: eth0}
      - {src: "2001:db8::10", dst: "2001:db8::11", dport: 8080, iif: eth0}
    listeners: "{{ ansible_facts.lbdoctor_backend.listeners }}"
    addresses: "{{ ansible_facts.lbdoctor_backend.addresses }}"
  become: true
  register: fw

- name: Evaluate a ruleset someone pasted, on any host
  lbdoctor.haproxy.firewall_eval:
    iptables_save: |
      *filter
      :INPUT ACCEPT [0:0]
      :FORWARD ACCEPT [0:0]
      :OUTPUT ACCEPT [0:0]
      -A INPUT -p tcp -m tcp --dport 8080 -j REJECT --reject-with icmp-host-prohibited
      COMMIT
    packets:
      - {src: 198.18.0.10, dst: 198.18.0.11, dport: 8080, iif: eth0}
  delegate_to: localhost
  register: pasted

- name: Show what HAProxy would see
  ansible.builtin.debug:
    msg: "{{ pasted.results[0].observed_as }} ({{ pasted.results[0].errno }}) by {{ pasted.results[0].rule.text }}"
"""

RETURN = r"""
results:
  description: One result per packet, in the order of O(packets).
  returned: always
  type: list
  elements: dict
  contains:
    verdict:
      description: C(accept), C(drop), C(reject) or C(indeterminate).
      type: str
    reject_with:
      description: The reject type (C(tcp-reset), C(icmp-port-unreachable), C(icmp-host-prohibited), C(icmp6-adm-prohibited), C(icmpx admin-prohibited), ...).
      type: str
    destination:
      description: C({address, port}) after DNAT or REDIRECT (the packet's own when nothing rewrote it).
      type: dict
    redirected:
      description: Whether DNAT, REDIRECT or NETMAP changed the destination.
      type: bool
    route:
      description: C(local) or C(forward) (the rewritten destination is not on this host), C(output).
      type: str
    rule:
      description:
        - The deciding rule C({backend, variant, family, table, chain, position, handle, line, text, policy}).
          For an accepted SYN, the last accepting rule on the path.
      type: dict
    nat_rule:
      description: The rule that rewrote the destination, if any.
      type: dict
    path:
      description: Chains walked, in order.
      type: list
      elements: str
    decisions:
      description: Each base chain's verdict on the path, C({chain, verdict, rule}).
      type: list
      elements: dict
    observed_as:
      description: C(open), C(refused), C(unreachable), C(timeout) or C(indeterminate).
      type: str
    errno:
      description: What C(connect()) gets (C(ECONNREFUSED), C(EHOSTUNREACH), C(ENETUNREACH), C(EACCES), C(ENOPROTOOPT)); null for accept and drop.
      type: str
    no_listener:
      description: Accepted, but no listener takes the destination (only with O(listeners)).
      type: bool
    unsupported:
      description: For C(indeterminate), C({rule, match}) that could not be decided.
      type: dict
    possible:
      description: For C(indeterminate), each distinct outcome with the assumptions that lead to it.
      type: list
      elements: dict
    warnings:
      description: Notes on the evaluation (martian destinations, assumed routes, ...).
      type: list
      elements: str
sources:
  description: The rulesets evaluated (C(iptables ipv4 nft), C(nft inet filter), ...) and the nft tables skipped because iptables-nft-save showed them.
  returned: always
  type: dict
firewall:
  description: The live rulesets read (the C(firewall) subset of the backend facts), when no ruleset option was given.
  returned: when the live rulesets were read
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_collect import collect_firewall
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.netfilter_eval import RulesetError, compile_ruleset

ENV = {"LC_ALL": "C", "LANG": "C"}
TEXT_OPTIONS = ("iptables_save", "ip6tables_save", "nft_json", "nft_text", "ipset_save")


def _runner(module):
    def run(argv):
        if module.get_bin_path(argv[0]) is None:
            return 127, "", "%s: command not found" % argv[0]
        try:
            return module.run_command(argv, environ_update=ENV, check_rc=False, handle_exceptions=False)
        except OSError as exc:
            return 127, "", to_native(exc)
    return run


def _sources(ruleset):
    tables = []
    for table in ruleset.tables:
        if table.backend == "iptables":
            tables.append("iptables%s %s %s" % ("-" + table.variant if table.variant else "", table.family, table.name))
        else:
            tables.append("nft %s %s" % (table.nft_family, table.name))
    return {"tables": tables, "nft_skipped": list(ruleset.nft_skipped), "warnings": list(ruleset.warnings)}


def main():
    packet_spec = dict(
        family=dict(type="str", choices=["ipv4", "ipv6"]),
        src=dict(type="str", required=True),
        dst=dict(type="str", required=True),
        dport=dict(type="int", required=True),
        sport=dict(type="int"),
        proto=dict(type="str", default="tcp", choices=["tcp"]),
        iif=dict(type="str"),
        direction=dict(type="str", default="input", choices=["input", "output"]),
        oif=dict(type="str"),
    )
    module = AnsibleModule(
        argument_spec=dict(
            packets=dict(type="list", elements="dict", required=True, options=packet_spec),
            iptables_save=dict(type="str"),
            ip6tables_save=dict(type="str"),
            nft_json=dict(type="raw"),
            nft_text=dict(type="str"),
            ipset_save=dict(type="str"),
            listeners=dict(type="list", elements="dict"),
            addresses=dict(type="raw"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    result = {"changed": False}
    given = dict((key, params[key]) for key in TEXT_OPTIONS if params.get(key) not in (None, ""))
    if given:
        facts = given
    else:
        facts = collect_firewall(_runner(module))
        result["firewall"] = facts
    try:
        ruleset = compile_ruleset(facts).validate()
    except RulesetError as exc:
        module.fail_json(msg="cannot read the ruleset: %s" % to_native(exc), **result)
    result["sources"] = _sources(ruleset)
    results = []
    for packet in params["packets"]:
        packet = dict((k, v) for k, v in packet.items() if v is not None)
        try:
            results.append(ruleset.evaluate(packet, listeners=params["listeners"], addresses=params["addresses"]))
        except RulesetError as exc:
            module.fail_json(msg="cannot read the ruleset: %s" % to_native(exc), **result)
    result["results"] = results
    module.exit_json(**result)


if __name__ == "__main__":
    main()
