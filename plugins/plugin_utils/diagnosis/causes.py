# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fixed vocabulary of cause codes, and the order in which a person should fix them.

The order follows the path of a connection from the load balancer to the application: what
stops the packet earlier hides what lies behind it, so it is fixed first. A denial that keeps a
unit from binding its port comes before the stopped unit it explains; a port conflict before the
failed unit it caused. docs/causes.md describes each code; this tuple is the single source.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (code, layer, one-line meaning) in fix order.
CAUSES = (
    ("selinux_denied", "policy", "SELinux denies the connect (LB) or the bind (backend)"),
    ("apparmor_denied", "policy", "AppArmor denies the connect (LB) or the bind (backend)"),
    ("dns_mismatch", "addressing", "the server's hostname resolves to another address than HAProxy uses"),
    ("host_unreachable", "addressing", "nothing answers at the server's address"),
    ("address_not_on_host", "addressing", "no inventory host owns the server's address"),
    ("sidecar_redirect", "firewall", "the port is redirected to a port where nothing listens"),
    ("firewall_drop", "firewall", "a firewall rule drops the load balancer's SYN"),
    ("firewall_reject", "firewall", "a firewall rule rejects the load balancer's SYN"),
    ("port_conflict", "service", "another process holds the port and the intended unit failed"),
    ("socket_unit_inactive", "service", "the .socket unit that should listen on the port is not active"),
    ("service_stopped", "service", "the unit that serves the port is not running"),
    ("container_port_unmapped", "listener", "the container listens but the port is not published on the host"),
    ("wrong_port", "listener", "the service listens on another port than HAProxy's server line says"),
    ("bound_to_loopback", "listener", "the service listens on 127.0.0.1 or ::1 only"),
    ("bound_to_other_address", "listener", "the service listens on another address of the host"),
    ("address_family_mismatch", "listener", "the service listens on the other address family"),
    ("no_listener", "listener", "nothing listens on the port and no unit is known to serve it"),
    ("unknown", "none", "the facts do not explain HAProxy's view, or could not be gathered"),
)

CAUSE_CODES = tuple(code for code, _layer, _meaning in CAUSES)
VERDICTS = ("healthy",) + CAUSE_CODES
FIX_ORDER = dict((code, rank) for rank, code in enumerate(CAUSE_CODES))
LAYER = dict((code, layer) for code, layer, _meaning in CAUSES)
MEANING = dict((code, meaning) for code, _layer, meaning in CAUSES)
MEANING["healthy"] = "HAProxy sees the server UP and nothing is wrong"


def fix_rank(finding):
    """Sort key for findings: fix order, then a stable tie-break on the summary."""
    return (FIX_ORDER.get(finding["cause"], len(FIX_ORDER)), finding.get("summary", ""))
