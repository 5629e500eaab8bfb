"""The cause vocabulary is fixed and documented: docs/causes.md lists every code in fix order."""

import os
import re

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.causes import CAUSE_CODES, VERDICTS

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "..", "docs", "causes.md")

ISSUED_VOCABULARY = {
    "healthy", "service_stopped", "no_listener", "wrong_port", "bound_to_loopback", "bound_to_other_address",
    "address_family_mismatch", "firewall_reject", "firewall_drop", "port_conflict", "selinux_denied", "apparmor_denied",
    "socket_unit_inactive", "container_port_unmapped", "sidecar_redirect", "address_not_on_host", "dns_mismatch",
    "host_unreachable", "unknown",
}


def test_vocabulary_is_exactly_the_contract():
    assert set(VERDICTS) == ISSUED_VOCABULARY
    assert len(VERDICTS) == len(ISSUED_VOCABULARY)


def test_docs_table_lists_every_code_in_fix_order():
    with open(DOC) as handle:
        rows = re.findall(r"^\| (\d+) \| `([a-z_]+)` \|", handle.read(), re.M)
    assert [code for _n, code in rows] == list(CAUSE_CODES)
    assert [int(n) for n, _code in rows] == list(range(1, len(CAUSE_CODES) + 1))
