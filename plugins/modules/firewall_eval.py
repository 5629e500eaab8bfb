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
      mark:
        description: The packet mark (C(meta mark), C(-m mark)) it arrives with; 0 when omitted.
        type: int
      src_mac:
        description:
          - Source MAC address, for C(-m mac) and C(ether saddr) rules. Without it such a rule makes
            the verdict C(indeterminate).
        type: str
      mss:
        description:
          - The SYN's TCP MSS option, for C(-m tcpmss) and C(tcp option maxseg) rules. Without it
            such a rule makes the verdict C(indeterminate).
        type: int
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
      - Listening TCP sockets C({address, port, v6only}), as in the backend facts. When known, an
        accepted SYN whose (possibly rewritten) destination no socket takes is C(refused) with
        C(no_listener=true).
      - When omitted and the rulesets are read live (no ruleset option given), the module reads
        them from this host the way M(lbdoctor.haproxy.backend_facts) does (C(/proc/net/tcp),
        C(/proc/net/tcp6), C(IPV6_V6ONLY) through netlink or C(ss -tlneH), C(ss -tlnpeH) when
        /proc cannot be read). If they cannot be read completely they stay unknown (no
        C(refused) is derived from a partial list) and RV(host.unavailable) says why.
      - When the rulesets are given as text they describe another host, so nothing is read here,
        and without this option no listener check is made.
    type: list
    elements: dict
  addresses:
    description:
      - The host's addresses, as the backend facts' C(addresses) list, raw C(ip -j addr) output
        or a mapping interface name to addresses in C(ip -j addr) order. REDIRECT, addrtype, fib
        and reverse-path matches need them, and so does telling a local destination from a
        forwarded one (without them the SYN is assumed forwarded, with a warning).
      - When omitted and the rulesets are read live, the module reads them from this host the way
        M(lbdoctor.haproxy.backend_facts) does (C(ip -j addr show), then C(ip -o addr show) and
        C(/proc/net/if_inet6)). Never read when the rulesets are given as text.
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
# On a live host the rulesets, the listeners and the addresses are all read from the host
# (root is needed to read the rulesets and the owners of the sockets).
- name: Evaluate the live rulesets of a backend for HAProxy's health checks
  lbdoctor.haproxy.firewall_eval:
    packets:
      - {src: 198.18.0.10, dst: 198.18.0.11, dport: 8080, iif: eth0}
      - {src: "2001:db8::10", dst: "2001:db8::11", dport: 8080, iif: eth0}
  become: true
  register: fw

- name: Show each verdict
  ansible.builtin.debug:
    msg: "{{ item.packet.dst }}:{{ item.packet.dport }} {{ item.verdict }}, a client sees {{ item.observed_as }}"
  loop: "{{ fw.results }}"

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
          For an accepted SYN, the last accepting rule of a filtering chain on the path (a DNAT or
          MASQUERADE accepts too but is reported as RV(results[].nat_rule)).
      type: dict
    nat_rule:
      description: The rule that rewrote the destination, if any.
      type: dict
    path:
      description: Chains walked, in order.
      type: list
      elements: str
    decisions:
      description: Each base chain's verdict on the path, C({chain, verdict, rule, nat}) (C(nat) for a chain of the NAT hook).
      type: list
      elements: dict
    observed_as:
      description: C(open), C(refused), C(unreachable), C(timeout) or C(indeterminate).
      type: str
    errno:
      description: What C(connect()) gets (C(ECONNREFUSED), C(EHOSTUNREACH), C(ENETUNREACH), C(EACCES), C(ENOPROTOOPT)); null for accept and drop.
      type: str
    no_listener:
      description: Accepted, but no listener takes the destination (only when the listeners are known).
      type: bool
    listener:
      description:
        - The listening socket that takes the (possibly rewritten) destination, as given in
          O(listeners) or read from the host; null when the listeners are unknown, for a SYN
          that is not accepted, or when none takes it.
      type: dict
    packet:
      description: The packet as evaluated C({family, src, dst, dport, sport, proto, iif, direction}).
      type: dict
    error:
      description:
        - Why the packet itself could not be read (an address of the wrong family, a port out of
          range, an unreadable O(addresses) entry). The verdict is then C(indeterminate); the
          other packets are still evaluated.
      returned: when the packet could not be evaluated
      type: str
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
  description: The rulesets evaluated and what was noticed while reading them.
  returned: always
  type: dict
  contains:
    tables:
      description: Each table evaluated (C(iptables-nft ipv4 filter), C(nft inet filter), ...).
      type: list
      elements: str
    nft_skipped:
      description: nft tables skipped because an iptables-nft-save dump already showed them.
      type: list
      elements: str
    warnings:
      description:
        - Notes on the rulesets as a whole (tables not on the packet's path, both iptables
          backends holding rules, ...); they are repeated in each result's RV(results[].warnings).
      type: list
      elements: str
host:
  description:
    - The host context read live because O(listeners) or O(addresses) was omitted with no
      ruleset option given C({listeners, addresses, unavailable}). A key is present only when it
      was read; a null value means it could not be read, and C(unavailable) says why.
  returned: when the rulesets are live and O(listeners) or O(addresses) was omitted
  type: dict
  contains:
    listeners:
      description: The listening TCP sockets read (the backend facts' C(listeners) shape); null when not read in full.
      type: list
      elements: dict
    addresses:
      description: The addresses read (the backend facts' C(addresses) shape); null when they could not be read.
      type: list
      elements: dict
    unavailable:
      description: What could not be read C({what, reason, source}), also the sources a fallback replaced.
      type: list
      elements: dict
firewall:
  description: The live rulesets read (the C(firewall) subset of the backend facts), when no ruleset option was given.
  returned: when the live rulesets were read
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_collect import collect
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


def _complete(name, value, unavailable):
    """Whether backend_collect read this subset in full. Its collectors note every failed source,
    also when a fallback then read everything: listeners from `ss` after /proc failed completely
    are complete (the note says "instead"), addresses from `ip -o` or /proc/net/if_inet6 after
    `ip -j` are complete unless IPv4 is missing or nothing was read at all."""
    notes = [item for item in unavailable if str(item.get("what")) == name or str(item.get("what")).startswith(name + ".")]
    if name == "listeners":
        return not any(item.get("what") == "listeners" and "instead" not in str(item.get("reason")) for item in notes)
    if any(item.get("what") == "addresses.ipv4" for item in notes):
        return False
    return bool(value) or not notes


def _live_host_context(run, listeners, addresses):
    """Read what was not given from this host with backend_facts' collectors. Returns
    (listeners, addresses, host): a subset that could not be read in full stays None."""
    wanted = [name for name, value in (("listeners", listeners), ("addresses", addresses)) if value is None]
    if not wanted:
        return listeners, addresses, None
    facts = collect(run, options={"gather_subset": wanted})
    unavailable = facts.get("unavailable") or []
    host = {"unavailable": unavailable}
    for name in wanted:
        value = facts.get(name)
        if not _complete(name, value, unavailable):
            # A partial list would make every socket or address it missed look refused or
            # forwarded: keep it unknown instead.
            value = None
        host[name] = value
    return host.get("listeners", listeners), host.get("addresses", addresses), host


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
        mark=dict(type="int"),
        src_mac=dict(type="str"),
        mss=dict(type="int"),
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
    listeners = params["listeners"]
    addresses = params["addresses"]
    if given:
        facts = given
    else:
        run = _runner(module)
        facts = collect_firewall(run)
        result["firewall"] = facts
        listeners, addresses, host = _live_host_context(run, listeners, addresses)
        if host is not None:
            result["host"] = host
    try:
        ruleset = compile_ruleset(facts).validate()
    except RulesetError as exc:
        module.fail_json(msg="cannot read the ruleset: %s" % to_native(exc), **result)
    result["sources"] = _sources(ruleset)
    results = []
    for packet in params["packets"]:
        packet = dict((k, v) for k, v in packet.items() if v is not None)
        try:
            results.append(ruleset.evaluate(packet, listeners=listeners, addresses=addresses))
        except RulesetError as exc:
            module.fail_json(msg="cannot read the ruleset: %s" % to_native(exc), **result)
    result["results"] = results
    module.exit_json(**result)


if __name__ == "__main__":
    main()
