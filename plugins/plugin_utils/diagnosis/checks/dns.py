# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A server named by hostname: does HAProxy use an address the name still resolves to?"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.findings import evidence, finding, manual
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.net import parse_ip, resolved_addresses


def check(ctx):
    if ctx.server.get("family") != "hostname" or ctx.ip is None:
        return []
    resolved = resolved_addresses(ctx.lb_facts, ctx.address)
    if not resolved or any(parse_ip(a) == ctx.ip for a in resolved):
        return []
    return [finding(
        "dns_mismatch",
        "HAProxy connects %s to %s, but %s now resolves to %s" % (ctx.name, ctx.ip, ctx.address, ", ".join(resolved)),
        [evidence("haproxy runtime on %s" % ctx.lb, "uses %s for %s" % (ctx.ip, ctx.address)),
         evidence("DNS on %s" % ctx.lb, "%s -> %s" % (ctx.address, ", ".join(resolved)))],
        manual("Make HAProxy re-resolve %s: reload it, or add a resolvers section so that it follows "
               "DNS at run time." % ctx.address, host=ctx.lb))]
