"""Tests of the netfilter_verdict filter: a thin shim over netfilter_eval."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.lbdoctor.haproxy.plugins.filter.netfilter_verdict import FilterModule, netfilter_verdict

RULES = ("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
         "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
         "-A INPUT -p tcp -m tcp --dport 8080 -j REJECT --reject-with icmp-host-prohibited\nCOMMIT\n")
PACKET = {"family": "ipv4", "src": "198.18.0.10", "dst": "198.18.0.11", "dport": 8080, "proto": "tcp", "iif": "eth0"}


def test_registered_under_its_name():
    assert FilterModule().filters() == {"netfilter_verdict": netfilter_verdict}


def test_one_packet_gives_one_result():
    res = netfilter_verdict({"iptables_save": RULES}, PACKET)
    assert (res["verdict"], res["reject_with"], res["errno"]) == ("reject", "icmp-host-prohibited", "EHOSTUNREACH")
    assert res["rule"]["text"] == "-A INPUT -p tcp -m tcp --dport 8080 -j REJECT --reject-with icmp-host-prohibited"


def test_a_list_of_packets_gives_results_in_order_and_listeners_count():
    packets = [dict(PACKET, dport=22), PACKET, dict(PACKET, dport=9)]
    res = netfilter_verdict({"iptables_save": RULES}, packets, listeners=[], addresses={"eth0": ["198.18.0.11/24"]})
    assert [r["observed_as"] for r in res] == ["refused", "unreachable", "timeout"]
    assert res[0]["no_listener"] is True


@pytest.mark.parametrize("facts, packet, message", [
    ("text", PACKET, "expects the firewall facts"),
    ({"iptables_save": "*filter\n:INPUT ACCEPT [0:0]\n-A X -j DROP\nCOMMIT\n"}, PACKET, "iptables_save:3:"),
    ({"iptables_save": RULES}, "8080", "must be a mapping"),
])
def test_errors(facts, packet, message):
    with pytest.raises(AnsibleFilterError) as info:
        netfilter_verdict(facts, packet)
    assert message in str(info.value)
