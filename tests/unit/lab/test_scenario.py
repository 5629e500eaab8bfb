"""Scenario validation and resolution (lab/labkit/scenario.py, faults.py), on the shipped scenarios and on
small hand-written ones."""

import copy
import os

import pytest

from labkit import faults, inventory, scenario
from labkit.errors import LabError

SCENARIOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "lab", "scenarios")


def load(name):
    return scenario.load(os.path.join(SCENARIOS, name))


def base():
    return {
        "hosts": [{"name": "lb", "role": "lb"}, {"name": "web1"}],
        "haproxy": {"backends": [{"name": "web", "servers": [{"name": "s1", "host": "web1", "port": 8080}]}]},
    }


def with_servers(*servers, hosts=None):
    data = base()
    if hosts:
        data["hosts"] += [{"name": h} for h in hosts]
    data["haproxy"]["backends"][0]["servers"] = list(servers)
    return data


def by_name(resolved):
    return {s["name"]: s for s in resolved["servers"]}


def test_default_scenario_covers_the_required_verdicts():
    resolved = scenario.resolve(load("default.yml"))
    expects = [s["expect"] for s in resolved["servers"]]
    for code in ("healthy", "service_stopped", "bound_to_loopback", "no_listener", "firewall_reject",
                 "firewall_drop", "wrong_port", "port_conflict"):
        assert code in expects, code
    # the healthy host carries a decoy REJECT for another source
    healthy = [s for s in resolved["servers"] if s["expect"] == "healthy"]
    assert any(f["type"] == "decoy_reject" for s in healthy for f in s["faults"])
    # every declared expectation is what its fault implies
    assert all(s["expect"] == s["expect_default"] for s in resolved["servers"])
    assert len(resolved["hosts"]) <= 6


def test_minimal_scenario_is_lb_plus_two_backends():
    resolved = scenario.resolve(load("minimal.yml"))
    assert [h["role"] for h in resolved["hosts"]] == ["lb", "backend", "backend"]
    assert [s["expect"] for s in resolved["servers"]] == ["healthy", "service_stopped"]


def test_all_faults_scenario_uses_every_fault_and_an_address_nobody_owns():
    resolved = scenario.resolve(load("all-faults.yml"))
    used = {f["type"] for s in resolved["servers"] for f in s["faults"]}
    assert used == set(faults.FAULTS)
    ghost = by_name(resolved)["ghost"]
    # No host answers there at all: host_unreachable (docs/causes.md).
    assert ghost["host"] is None and ghost["expect_default"] == "address_not_on_host"
    assert ghost["expect"] == "host_unreachable"
    owned = {h["address"] for h in resolved["hosts"]} | {a for h in resolved["hosts"] for a in h["extra_addresses"]}
    assert ghost["address"] not in owned


def test_addresses_names_and_defaults():
    resolved = scenario.resolve(base())
    assert resolved["prefix"] == "lbd" and resolved["subnet"] == "198.18.0.0/24"
    assert resolved["controller"] == {"address": "198.18.0.1", "ifname": "lbd-ctl"}
    lb, web1 = resolved["hosts"]
    assert (lb["address"], web1["address"]) == ("198.18.0.2", "198.18.0.3")
    assert web1["netns"] == "lbd-web1" and web1["machine"] == "lbd-web1"
    server = resolved["servers"][0]
    assert server["address"] == "198.18.0.3" and server["expect"] == "healthy"
    assert server["service"]["unit"] == "app-8080.service"
    assert server["service"]["listen_address"] == "0.0.0.0"
    assert resolved["haproxy"]["hosts"] == ["lb"]


def test_cli_prefix_and_subnet_win_over_the_scenario():
    data = base()
    data["lab"] = {"prefix": "abc", "subnet": "198.18.5.0/24"}
    assert scenario.resolve(data)["prefix"] == "abc"
    resolved = scenario.resolve(data, prefix="lbt", subnet="198.18.9.0/24")
    assert resolved["prefix"] == "lbt" and resolved["hosts"][0]["address"] == "198.18.9.2"


def test_explicit_host_address_is_kept_and_skipped_by_automatic_ones():
    data = base()
    data["hosts"][1]["address"] = "198.18.0.2"
    lb, web1 = scenario.resolve(data)["hosts"]
    assert web1["address"] == "198.18.0.2" and lb["address"] == "198.18.0.3"


@pytest.mark.parametrize("fault, expect, check", [
    ("unit_stopped", "service_stopped", lambda s: s["service"]["after_boot"] == [["systemctl", "stop", "app-8080.service"]]),
    ("bind_loopback", "bound_to_loopback", lambda s: s["service"]["listen_address"] == "127.0.0.1"),
    ("ipv6_only", "address_family_mismatch", lambda s: s["service"]["listen_address"] == "::" and s["service"]["v6only"]),
    ("no_listener", "no_listener", lambda s: s["service"] is None),
    ("wrong_port", "wrong_port", lambda s: s["service"]["listen_port"] == 8081),
    ("socket_unit_inactive", "socket_unit_inactive",
     lambda s: s["service"]["socket_unit"] == "app-8080.socket" and s["service"]["activation"] == "socket"),
    ("port_conflict", "port_conflict", lambda s: s["service"]["conflict_with"]["unit"] == "legacy-8080.service"),
    ("iptables_drop", "firewall_drop", lambda s: True),
    ("nft_drop", "firewall_drop", lambda s: True),
    ("iptables_reject", "firewall_reject", lambda s: True),
    ("nft_reject", "firewall_reject", lambda s: True),
    ("decoy_reject", "healthy", lambda s: s["faults"][0]["source"] == "198.18.0.254"),
    ("bind_other_address", "bound_to_other_address", lambda s: s["service"]["listen_address"] == "198.18.0.254"),
])
def test_each_fault_implies_its_verdict(fault, expect, check):
    server = scenario.resolve(with_servers({"name": "s1", "host": "web1", "port": 8080, "faults": [fault]}))["servers"][0]
    assert server["expect"] == expect
    assert check(server)


def test_firewall_rules_land_on_the_host():
    resolved = scenario.resolve(with_servers(
        {"name": "a", "host": "web1", "port": 8080, "faults": [{"type": "iptables_reject", "reject_with": "tcp-reset"}]},
        {"name": "b", "host": "web1", "port": 8081, "faults": ["nft_drop"]},
        {"name": "c", "host": "web1", "port": 8082, "faults": [{"type": "decoy_reject", "source": "198.18.0.77"}]},
    ))
    web1 = resolved["hosts"][1]
    assert web1["iptables"] == [
        "-A INPUT -p tcp -m tcp --dport 8080 -j REJECT --reject-with tcp-reset",
        "-A INPUT -s 198.18.0.77/32 -p tcp -m tcp --dport 8082 -j REJECT --reject-with icmp-port-unreachable",
    ]
    assert web1["nft"] == ["tcp dport 8081 drop"]


def test_bind_other_address_adds_a_secondary_address_to_the_host():
    resolved = scenario.resolve(with_servers({"name": "s1", "host": "web1", "port": 8080,
                                              "faults": [{"type": "bind_other_address", "address": "198.18.0.50"}]}))
    assert resolved["hosts"][1]["extra_addresses"] == ["198.18.0.50"]
    assert resolved["servers"][0]["address"] == "198.18.0.3"


def test_server_without_host_is_address_not_on_host():
    resolved = scenario.resolve(with_servers({"name": "s1", "host": "web1", "port": 8080},
                                             {"name": "ghost", "port": 9000, "address": "198.18.0.99"}))
    ghost = by_name(resolved)["ghost"]
    assert ghost == dict(ghost, host=None, address="198.18.0.99", expect="address_not_on_host", service=None)


def test_host_outside_the_inventory_is_built_but_not_listed():
    data = with_servers({"name": "down", "host": "web1", "port": 8080, "faults": ["unit_stopped"]},
                        {"name": "up", "host": "web1", "port": 8081})
    data["hosts"][1]["inventory"] = False
    resolved = scenario.resolve(data)
    servers = by_name(resolved)
    assert (servers["down"]["expect"], servers["up"]["expect"]) == ("address_not_on_host", "healthy")
    assert servers["down"]["service"]["state"] == "stopped"  # the fault is still made on the host
    ini = inventory.inventory_ini(resolved, "/key")
    assert "web1 " not in ini and "lb ansible_host=" in ini
    data["hosts"][0]["inventory"] = False
    with pytest.raises(LabError, match="load balancer must be in the inventory"):
        scenario.resolve(data)
    data["hosts"][0]["inventory"] = "no"
    with pytest.raises(LabError, match="inventory must be true or false"):
        scenario.resolve(data)


def test_host_with_sshd_stopped_stays_in_the_inventory_and_its_servers_are_unknown():
    data = with_servers({"name": "s1", "host": "web1", "port": 8080})
    data["hosts"][1]["sshd"] = "stopped"
    resolved = scenario.resolve(data)
    assert resolved["hosts"][1]["sshd"] == "stopped" and resolved["servers"][0]["expect"] == "unknown"
    assert "web1 ansible_host=" in inventory.inventory_ini(resolved, "/key")
    data["hosts"][0]["sshd"] = "stopped"
    with pytest.raises(LabError, match="load balancer needs its sshd"):
        scenario.resolve(data)
    data["hosts"][0]["sshd"] = "off"
    with pytest.raises(LabError, match="sshd must be running or stopped"):
        scenario.resolve(data)


def test_fault_shorthand_single_fault_key():
    server = scenario.resolve(with_servers({"name": "s1", "host": "web1", "port": 8080, "fault": "bind_loopback"}))["servers"][0]
    assert server["expect"] == "bound_to_loopback"


def test_explicit_expect_overrides_the_default_and_is_recorded():
    server = scenario.resolve(with_servers({"name": "s1", "host": "web1", "port": 8080,
                                            "faults": ["iptables_drop"], "expect": "unknown"}))["servers"][0]
    assert (server["expect"], server["expect_default"]) == ("unknown", "firewall_drop")


def test_several_servers_share_a_host_on_different_ports():
    resolved = scenario.resolve(with_servers({"name": "a", "host": "web1", "port": 8080},
                                             {"name": "b", "host": "web1", "port": 8081, "faults": ["unit_stopped"]}))
    assert [s["unit"] for s in resolved["hosts"][1]["services"]] == ["app-8080.service", "app-8081.service"]


ERRORS = [
    (lambda d: d.update(extra=1), "unknown key"),
    (lambda d: d["hosts"].append({"name": "web1"}), "duplicate host name web1"),
    (lambda d: d["hosts"][1].update(role="db"), "role must be one of"),
    (lambda d: d["hosts"][0].update(role="backend"), "no host has role lb"),
    (lambda d: d["hosts"][1].update(address="10.0.0.1"), "not a usable address"),
    (lambda d: d.update(lab={"subnet": "192.168.0.0/24"}), "must lie inside"),
    (lambda d: d.update(lab={"prefix": "Bad"}), "invalid prefix"),
    (lambda d: d.update(hosts=[]), "non-empty list"),
    (lambda d: d["haproxy"]["backends"][0]["servers"].append({"name": "s1", "host": "web1", "port": 9}), "duplicate server name"),
    (lambda d: d["haproxy"]["backends"][0]["servers"].append({"name": "s2", "host": "web1", "port": 8080}), "port 8080 on host web1 is already taken"),
    (lambda d: d["haproxy"]["backends"][0]["servers"].append({"name": "s2", "host": "web1", "port": 22}), "already taken by sshd"),
    (lambda d: d["haproxy"]["backends"][0]["servers"].append({"name": "s2", "host": "nope", "port": 1}), "host 'nope' is not in `hosts`"),
    (lambda d: d["haproxy"]["backends"][0]["servers"][0].update(port=70000), "integer from 1 to 65535"),
    (lambda d: d["haproxy"]["backends"][0]["servers"][0].update(port="80"), "integer from 1 to 65535"),
    (lambda d: d["haproxy"]["backends"][0]["servers"][0].update(expect="broken"), "not a cause code"),
    (lambda d: d["haproxy"]["backends"][0]["servers"][0].update(faults=["melt"]), "unknown fault type 'melt'"),
    (lambda d: d["haproxy"]["backends"][0]["servers"][0].update(faults=[{"type": "iptables_drop", "x": 1}]), "does not take x"),
    (lambda d: d["haproxy"]["backends"][0]["servers"][0].update(faults=[{"type": "iptables_reject", "reject_with": "tcp reset"}]), "reject_with"),
    (lambda d: d["haproxy"]["backends"][0]["servers"][0].update(faults=[{"type": "nft_reject", "reject_with": "icmp-host-prohibited"}]), "reject_with"),
    (lambda d: d["haproxy"]["backends"][0]["servers"][0].update(faults=["iptables_drop", "unit_stopped"]), "several faults"),
    (lambda d: d["haproxy"]["backends"][0]["servers"][0].update(faults=["unit_stopped", "bind_loopback"]), "both change the service"),
    (lambda d: d["haproxy"]["backends"][0]["servers"][0].update(faults=[{"type": "wrong_port", "listen_port": 8080}]), "must differ"),
    (lambda d: d["haproxy"]["backends"][0]["servers"][0].update(address="198.18.0.9"), "not both"),
    (lambda d: d["haproxy"]["backends"][0]["servers"].append({"name": "g", "port": 1, "faults": ["unit_stopped"]}), "without `host` cannot have faults"),
    (lambda d: d["haproxy"]["backends"].append(copy.deepcopy(d["haproxy"]["backends"][0])), "duplicate backend name"),
    (lambda d: d["haproxy"]["backends"][0].update(mode="udp"), "mode must be http or tcp"),
    (lambda d: d["haproxy"]["backends"][0].update(frontend_port=22), "already used"),
    (lambda d: d["haproxy"]["backends"][0]["servers"].append({"name": "s2", "host": "web1", "port": 9, "unit": "app-8080.service"}), "used twice"),
]


@pytest.mark.parametrize("mutate, message", ERRORS)
def test_invalid_scenarios_are_refused_with_a_clear_message(mutate, message):
    data = base()
    mutate(data)
    with pytest.raises(LabError, match=message):
        scenario.resolve(data)


def test_load_reports_yaml_errors_with_the_file(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("hosts: [\n")
    with pytest.raises(LabError, match="bad.yml is not valid YAML"):
        scenario.load(str(bad))
    with pytest.raises(LabError, match="cannot read scenario"):
        scenario.load(str(tmp_path / "missing.yml"))


def test_resolution_is_deterministic():
    assert scenario.resolve(load("default.yml")) == scenario.resolve(load("default.yml"))


def test_two_causes_scenario_puts_both_faults_on_one_server_with_an_explicit_expect():
    server = by_name(scenario.resolve(load("two-causes.yml")))["web2-8080"]
    assert [f["type"] for f in server["faults"]] == ["unit_stopped", "iptables_reject"]
    assert server["expect"] == "firewall_reject"
    assert server["expect_default"] is None
