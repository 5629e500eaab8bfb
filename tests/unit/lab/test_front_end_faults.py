"""The firewalld and ufw faults (faults.py, hostfiles.py): the front-end runs only on the host
that has such a fault, closes only the faulted port (every other port of the host stays open
in it), and a decoy rejects another source only."""

import pytest

from labkit import faults, rootfs
from labkit.errors import LabError
from rendered import ops_for, resolved


def test_verdicts_of_the_front_end_faults():
    assert faults.FAULTS["firewalld_closed"][0] == "firewall_reject"
    assert faults.FAULTS["ufw_reject"][0] == "firewall_reject"
    assert faults.FAULTS["ufw_deny"][0] == "firewall_drop"


def test_rootfs_has_firewalld_and_ufw_but_enables_neither():
    assert {"firewalld", "ufw"} <= set(rootfs.recipe()["packages"])
    sc = resolved("minimal.yml")
    for host in ("lb", "web1", "web2"):
        files, links = ops_for(sc, host)
        assert not [p for p in list(files) + list(links) if "firewalld" in p or "ufw" in p], host


def test_firewalld_zone_closes_only_the_faulted_port_and_keeps_the_decoy():
    sc = resolved("firewall-verdicts.yml")
    files, links = ops_for(sc, "fwd")
    zone = files["/etc/firewalld/zones/public.xml"]
    assert links["/etc/systemd/system/multi-user.target.wants/firewalld.service"] == "/lib/systemd/system/firewalld.service"
    assert '<service name="ssh"/>' in zone
    assert '<port protocol="tcp" port="8003"/>' in zone
    assert 'port="8001"/>' not in zone.replace('<port protocol="tcp" port="8003"/>', "")
    decoy = [s for s in sc["servers"] if s["name"] == "fwd-decoy"][0]["faults"][0]["source"]
    assert ('<rule family="ipv4"><source address="%s/32"/><port protocol="tcp" port="8003"/><reject/></rule>' % decoy) in zone


def test_ufw_setup_orders_decoy_closed_ports_then_allows():
    sc = resolved("firewall-verdicts.yml")
    files, links = ops_for(sc, "ufw")
    assert links["/etc/systemd/system/multi-user.target.wants/lab-ufw.service"] == "/etc/systemd/system/lab-ufw.service"
    steps = [line for line in files["/usr/local/sbin/lab-ufw-setup"].splitlines() if line.startswith("ufw ")]
    decoy = [s for s in sc["servers"] if s["name"] == "ufw-decoy"][0]["faults"][0]["source"]
    assert steps == ["ufw reject from %s to any port 8003 proto tcp" % decoy,
                     "ufw reject proto tcp to any port 8001",
                     "ufw deny proto tcp to any port 8002",
                     "ufw allow proto tcp to any port 22",
                     "ufw allow proto tcp to any port 8003",
                     "ufw --force enable"]


def test_front_end_decoys_take_no_reject_type():
    with pytest.raises(LabError, match="takes no reject_with"):
        faults.normalize({"type": "decoy_reject", "tool": "ufw", "reject_with": "tcp-reset"}, "here")
    with pytest.raises(LabError, match="iptables, nft, firewalld or ufw"):
        faults.normalize({"type": "decoy_reject", "tool": "pf"}, "here")
    assert faults.normalize({"type": "decoy_reject", "tool": "firewalld"}, "here")["reject_with"] is None


def test_redirect_without_a_sidecar_in_iptables_and_nft():
    sc = resolved("firewall-verdicts.yml")
    assert [s["expect"] for s in sc["servers"] if s["name"].endswith("-redirect")] == ["sidecar_redirect"] * 2
    files, links = ops_for(sc, "ipt")
    rules = files["/etc/iptables/rules.v4"]
    assert "*nat\n" in rules and "-A PREROUTING -p tcp -m tcp --dport 8004 -j REDIRECT --to-ports 15001\n" in rules
    assert rules.index("*nat") < rules.index("*filter")
    files, links = ops_for(sc, "nft")
    assert "type nat hook prerouting priority dstnat;" in files["/etc/nftables.conf"]
    assert "\t\ttcp dport 8004 redirect to :15001\n" in files["/etc/nftables.conf"]
    with pytest.raises(LabError, match="iptables or nft"):
        faults.normalize({"type": "redirect_no_listener", "tool": "ufw"}, "here")


def test_firewalld_drop_is_a_rich_rule_for_every_source_on_an_open_port():
    """firewalld sorts deny rich rules before allows: the port stays open in the zone, and the drop
    rule still decides (the diagnosis must propose an accept with a priority that runs before it)."""
    sc = resolved("firewall-verdicts.yml")
    files, _links = ops_for(sc, "fwd")
    zone = files["/etc/firewalld/zones/public.xml"]
    assert '<port protocol="tcp" port="8002"/>' in zone
    assert '<rule family="ipv4"><port protocol="tcp" port="8002"/><drop/></rule>' in zone
    assert [s["expect"] for s in sc["servers"] if s["name"] == "fwd-drop"] == ["firewall_drop"]


def test_firewalld_service_opens_the_port_through_a_service_definition():
    sc = resolved("firewall-verdicts.yml")
    files, _links = ops_for(sc, "fwd")
    zone = files["/etc/firewalld/zones/public.xml"]
    assert '<service name="lab-app-8005"/>' in zone
    assert 'port="8005"' not in zone  # not as a <port>: only the service opens it
    assert '<port protocol="tcp" port="8005"/>' in files["/etc/firewalld/services/lab-app-8005.xml"]
    assert [s["expect"] for s in sc["servers"] if s["name"] == "fwd-service"] == ["healthy"]
