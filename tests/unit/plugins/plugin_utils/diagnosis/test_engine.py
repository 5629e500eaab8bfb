"""The correlation engine, end to end from registered results to the report (plain pytest)."""

import json

from builders import LB, backend_result, lb_result, listener, probe_result, server, stat, unit_state

from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.causes import CAUSE_CODES, FIX_ORDER
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.engine import diagnose

NOW = "2026-11-25T17:00:00Z"


def run_report(servers, stats, backends, probes=None, **kwargs):
    return diagnose({LB: lb_result(servers, stats)}, backends, probe_results={LB: probe_result(probes or [])},
                    generated_at=NOW, **kwargs)


def run(servers, stats, backends, probes=None, **kwargs):
    report = run_report(servers, stats, backends, probes, **kwargs)
    return dict((s["server"], s) for s in report["servers"])


def test_healthy_server_has_no_findings():
    report = run_report([server("web1", "198.18.0.11", 8080, 30)], [stat("web", "web1", "UP", "L4OK")],
                        {"web1": backend_result("198.18.0.11", [listener("0.0.0.0", 8080)])})
    servers = dict((s["server"], s) for s in report["servers"])
    assert servers["web1"]["verdict"] == "healthy"
    assert servers["web1"]["findings"] == []
    assert servers["web1"]["host"] == "web1"
    assert report["summary"] == {"servers": 1, "healthy": 1, "not_healthy": 0, "by_verdict": {"healthy": 1}}


def test_matching_is_by_address_not_by_inventory_name():
    servers = run([server("web1", "198.18.0.12", 8080, 30)], [stat("web", "web1", "UP", "L4OK")],
                  {"web1": backend_result("198.18.0.11", [listener("0.0.0.0", 8080)]),
                   "other": backend_result("198.18.0.12", [listener("0.0.0.0", 8080)])})
    assert servers["web1"]["host"] == "other"


def test_service_stopped_names_unit_journal_and_start_fix():
    journal = ["2026-11-25T16:59:01+0000 web2 systemd[1]: Stopped app.service - lab app."]
    units = {"app.service": unit_state("inactive", "dead", file_state="disabled", journal=journal)}
    servers = run([server("web2", "198.18.0.12", 8080, 31)], [stat("web", "web2", "DOWN", "L4CON", "Connection refused")],
                  {"web2": backend_result("198.18.0.12", [], units=units)},
                  probes=[("198.18.0.12", 8080, "refused", "ECONNREFUSED")],
                  unit_map={"web": "app.service"})
    record = servers["web2"]
    assert record["verdict"] == "service_stopped"
    finding = record["findings"][0]
    assert "app.service" in finding["summary"] and "inactive" in finding["summary"]
    assert any(journal[0] in ev["text"] for ev in finding["evidence"])
    assert finding["fix"]["automatic"] is True
    assert finding["fix"]["commands"] == [["systemctl", "start", "app.service"], ["systemctl", "enable", "app.service"]]
    assert record["probe"]["result"] == "refused"


def test_enabled_unit_is_only_started():
    units = {"app.service": unit_state("failed", "failed", result="exit-code")}
    owners = {"8080": {"unit": "app.service", "source": "unit_file"}}
    servers = run([server("web2", "198.18.0.12", 8080, 31)], [stat("web", "web2", "DOWN", "L4CON")],
                  {"web2": backend_result("198.18.0.12", [], units=units, port_owners=owners)})
    finding = servers["web2"]["findings"][0]
    assert finding["cause"] == "service_stopped"
    assert finding["fix"]["commands"] == [["systemctl", "start", "app.service"]]


def test_no_listener_without_a_known_unit():
    servers = run([server("web4", "198.18.0.14", 8080, 33)], [stat("web", "web4", "DOWN", "L4CON", "Connection refused")],
                  {"web4": backend_result("198.18.0.14", [listener("0.0.0.0", 22, process="sshd", unit="ssh.service")])})
    assert servers["web4"]["verdict"] == "no_listener"
    assert servers["web4"]["findings"][0]["fix"]["automatic"] is False


def test_bound_to_loopback():
    servers = run([server("web3", "198.18.0.13", 8080, 32)], [stat("web", "web3", "DOWN", "L4CON", "Connection refused")],
                  {"web3": backend_result("198.18.0.13", [listener("127.0.0.1", 8080)])})
    assert servers["web3"]["verdict"] == "bound_to_loopback"
    assert "127.0.0.1" in servers["web3"]["findings"][0]["summary"]


def test_dual_stack_listener_accepts_ipv4_but_v6only_does_not():
    servers = run([server("a", "198.18.0.11", 8080, 30), server("b", "198.18.0.12", 8080, 31)],
                  [stat("web", "a", "UP", "L4OK"), stat("web", "b", "DOWN", "L4CON")],
                  {"a": backend_result("198.18.0.11", [listener("::", 8080, v6only=False)]),
                   "b": backend_result("198.18.0.12", [listener("::", 8080, v6only=True)])})
    assert servers["a"]["verdict"] == "healthy"
    assert servers["b"]["verdict"] == "address_family_mismatch"


def test_bindv6only_sysctl_is_the_default_for_unknown_v6only():
    servers = run([server("b", "198.18.0.12", 8080, 31)], [stat("web", "b", "DOWN", "L4CON")],
                  {"b": backend_result("198.18.0.12", [listener("::", 8080, v6only=None)], bindv6only=1)})
    assert servers["b"]["verdict"] == "address_family_mismatch"


def test_bound_to_other_address_of_the_host():
    other = {"ifname": "eth1", "family": "ipv4", "address": "10.9.9.9", "prefixlen": 24, "scope": "global"}
    servers = run([server("b", "198.18.0.12", 8080, 31)], [stat("web", "b", "DOWN", "L4CON")],
                  {"b": backend_result("198.18.0.12", [listener("10.9.9.9", 8080)], extra_addresses=[other])})
    assert servers["b"]["verdict"] == "bound_to_other_address"


def test_wrong_port_from_the_users_unit_map():
    servers = run([server("web5", "198.18.0.15", 8081, 34)], [stat("web", "web5", "DOWN", "L4CON")],
                  {"web5": backend_result("198.18.0.15", [listener("0.0.0.0", 8080)],
                                          units={"app.service": unit_state()})},
                  unit_map={"web/web5": "app.service"})
    finding = servers["web5"]["findings"][0]
    assert finding["cause"] == "wrong_port"
    assert finding["fix"]["to_port"] == 8080 and finding["fix"]["line"] == 34
    assert finding["fix"]["automatic"] is False


def test_wrong_port_from_healthy_siblings_of_the_same_backend():
    servers = run([server("web1", "198.18.0.11", 8080, 30), server("web5", "198.18.0.15", 8081, 34)],
                  [stat("web", "web1", "UP", "L4OK"), stat("web", "web5", "DOWN", "L4CON")],
                  {"web1": backend_result("198.18.0.11", [listener("0.0.0.0", 8080)], units={"app.service": unit_state()}),
                   "web5": backend_result("198.18.0.15", [listener("0.0.0.0", 8080)], units={"app.service": unit_state()})})
    assert servers["web5"]["verdict"] == "wrong_port"
    assert servers["web5"]["intended_unit"] == {"unit": "app.service", "source": "healthy servers of the same backend"}


def test_a_sibling_unit_serving_another_port_is_not_blamed_for_an_empty_port():
    """app-8082.service serves port 8082 healthy on web1; web5 has a stopped unit of that name and
    nothing on 8083: the name alone does not make it the unit that should serve 8083."""
    units = {"app-8082.service": unit_state("inactive", "dead")}

    def web5(port):
        """web1 serves 8082 with app-8082.service; web5 (that unit stopped) is checked on ``port``."""
        return run([server("web1", "198.18.0.11", 8082, 30), server("web5", "198.18.0.15", port, 34)],
                   [stat("web", "web1", "UP", "L4OK"), stat("web", "web5", "DOWN", "L4CON")],
                   {"web1": backend_result("198.18.0.11", [listener("0.0.0.0", 8082, unit="app-8082.service")], units=units),
                    "web5": backend_result("198.18.0.15", [], units=units)},
                   probes=[("198.18.0.15", port, "refused", "ECONNREFUSED")])["web5"]

    other_port = web5(8083)
    assert other_port["verdict"] == "no_listener"
    assert other_port.get("intended_unit") is None
    # on the same port, the sibling's unit is the one that should serve it
    assert web5(8082)["verdict"] == "service_stopped"


def test_port_conflict_when_another_process_holds_the_port_and_the_unit_failed():
    units = {"app.service": unit_state("failed", "failed", result="exit-code",
                                       journal=["OSError: [Errno 98] Address already in use"])}
    servers = run([server("web6", "198.18.0.16", 8080, 35)], [stat("web", "web6", "DOWN", "L4CON")],
                  {"web6": backend_result("198.18.0.16", [listener("127.0.0.1", 8080, process="nc", unit="rogue.service")],
                                          units=units)},
                  unit_map={"web": "app.service"})
    record = servers["web6"]
    assert record["verdict"] == "port_conflict"
    assert [f["cause"] for f in record["findings"]] == ["port_conflict"]
    assert "never stops a process" in record["findings"][0]["fix"]["description"]


def test_missing_facts_give_unknown_with_the_reason():
    unreachable = {"unreachable": True, "msg": "Failed to connect to the host via ssh: timed out", "changed": False}
    report = run_report([server("web7", "198.18.0.17", 8080, 36)], [stat("web", "web7", "DOWN", "L4CON")],
                        {"web7": unreachable}, probes=[("198.18.0.17", 8080, "refused", "ECONNREFUSED")],
                        inventory_addresses={"web7": "198.18.0.17"})
    record = report["servers"][0]
    assert record["host"] == "web7"
    assert record["verdict"] == "unknown"
    assert "ssh: timed out" in record["findings"][0]["summary"]
    assert report["hosts"]["web7"]["facts"] is False


def test_host_unreachable_when_neither_ansible_nor_the_probe_get_an_answer():
    unreachable = {"unreachable": True, "msg": "ssh: connect to host 198.18.0.17 port 22: No route to host"}
    servers = run([server("web7", "198.18.0.17", 8080, 36)], [stat("web", "web7", "DOWN", "L4TOUT")],
                  {"web7": unreachable}, probes=[("198.18.0.17", 8080, "timeout", None)],
                  inventory_addresses={"web7": "198.18.0.17"})
    assert servers["web7"]["verdict"] == "host_unreachable"


def test_address_not_on_host_and_host_unreachable_follow_the_probe():
    servers = run([server("x", "198.18.0.99", 8080, 37), server("y", "198.18.0.98", 8080, 38)],
                  [stat("web", "x", "DOWN", "L4CON"), stat("web", "y", "DOWN", "L4TOUT")], {},
                  probes=[("198.18.0.99", 8080, "refused", "ECONNREFUSED"), ("198.18.0.98", 8080, "timeout", None)])
    assert servers["x"]["verdict"] == "address_not_on_host"
    assert servers["y"]["verdict"] == "host_unreachable"


def test_a_server_up_on_a_host_outside_the_inventory_is_healthy():
    """Nothing to diagnose: HAProxy (or, without its runtime, the probe) sees it serve."""
    servers = run([server("x", "198.18.0.99", 8080, 37)], [stat("web", "x", "UP", "L4OK")], {},
                  probes=[("198.18.0.99", 8080, "open", None)])
    assert (servers["x"]["verdict"], servers["x"]["findings"], servers["x"]["host"]) == ("healthy", [], None)
    report = diagnose({LB: lb_result([server("x", "198.18.0.99", 8080, 37)], [], runtime_available=False)}, {},
                      probe_results={LB: probe_result([("198.18.0.99", 8080, "open", None)])}, generated_at=NOW)
    assert report["servers"][0]["verdict"] == "healthy"
    report = diagnose({LB: lb_result([server("x", "198.18.0.99", 8080, 37)], [], runtime_available=False)}, {},
                      probe_results={LB: probe_result([("198.18.0.99", 8080, "refused", "ECONNREFUSED")])}, generated_at=NOW)
    assert report["servers"][0]["verdict"] == "address_not_on_host"


def test_down_without_explanation_is_unknown_never_healthy():
    servers = run([server("web1", "198.18.0.11", 8080, 30)], [stat("web", "web1", "DOWN", "L7STS", "File not found")],
                  {"web1": backend_result("198.18.0.11", [listener("0.0.0.0", 8080)])})
    record = servers["web1"]
    assert record["verdict"] == "unknown"
    assert "checked and found fine" == record["findings"][0]["evidence"][0]["source"]


def test_runtime_unavailable_falls_back_to_the_probe():
    report = diagnose({LB: lb_result([server("web1", "198.18.0.11", 8080, 30)], [], runtime_available=False)},
                      {"web1": backend_result("198.18.0.11", [listener("0.0.0.0", 8080)])},
                      probe_results={LB: probe_result([("198.18.0.11", 8080, "open", None)])}, generated_at=NOW)
    record = report["servers"][0]
    assert record["verdict"] == "healthy"
    assert "No such file" in record["haproxy"]["runtime_error"]


def test_dns_mismatch_when_haproxy_uses_a_stale_address():
    srv = server("api", "api.example.test", 8080, 40, family="hostname")
    report = diagnose({LB: lb_result([srv], [stat("web", "api", "DOWN", "L4TOUT", addr="198.18.0.50:8080")],
                                     dns={"api.example.test": {"addresses": [{"address": "198.18.0.11",
                                                                              "family": "ipv4"}]}})},
                      {"web1": backend_result("198.18.0.11", [listener("0.0.0.0", 8080)])}, generated_at=NOW)
    record = report["servers"][0]
    assert record["address"] == "198.18.0.50"
    assert record["verdict"] == "dns_mismatch"


def test_every_server_gets_a_verdict_from_the_vocabulary_in_a_stable_order():
    args = ([server("b", "198.18.0.12", 8080, 31), server("a", "198.18.0.11", 8080, 30)],
            [stat("web", "a", "UP", "L4OK"), stat("web", "b", "DOWN", "L4CON")],
            {"a": backend_result("198.18.0.11", [listener("0.0.0.0", 8080)]), "b": backend_result("198.18.0.12")})
    first = run_report(*args)
    second = run_report(*args)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert [s["server"] for s in first["servers"]] == ["b", "a"]  # configuration order
    assert all(s["verdict"] in ("healthy",) + CAUSE_CODES for s in first["servers"])


def test_fix_order_puts_policy_and_firewall_before_service_and_listener():
    assert FIX_ORDER["selinux_denied"] < FIX_ORDER["firewall_reject"] < FIX_ORDER["service_stopped"] < FIX_ORDER["no_listener"]
    assert FIX_ORDER["port_conflict"] < FIX_ORDER["service_stopped"]
    assert CAUSE_CODES[-1] == "unknown"


def test_a_unit_serving_another_server_on_the_same_host_is_not_taken_as_the_missing_one():
    # One host serves server ok on 8080 with app-8080.service; nothing serves nolisten on 8083.
    listeners = [listener("0.0.0.0", 8080, unit="app-8080.service")]
    units = {"app-8080.service": unit_state()}
    servers = run([server("ok", "198.18.0.11", 8080, 30), server("nolisten", "198.18.0.11", 8083, 31)],
                  [stat("web", "ok", "UP", "L4OK"), stat("web", "nolisten", "DOWN", "L4CON")],
                  {"svc": backend_result("198.18.0.11", listeners, units=units)})
    assert servers["nolisten"]["verdict"] == "no_listener"
    assert "intended_unit" not in servers["nolisten"]


def test_an_address_nobody_owns_is_host_unreachable_whether_the_probe_times_out_or_arp_fails():
    for probe in (("timeout", None), ("unreachable", "EHOSTUNREACH")):
        servers = run([server("ghost", "198.18.0.252", 8080, 30)], [stat("web", "ghost", "DOWN", "L4TOUT")], {},
                      probes=[("198.18.0.252", 8080) + probe])
        assert servers["ghost"]["verdict"] == "host_unreachable", probe


def test_container_exposing_the_port_without_publishing_it():
    # Shape of backend_facts' containers (docker ps --format '{{json .}}', Ports "80/tcp, 0.0.0.0:8443->443/tcp").
    container = {"runtime": "docker", "id": "a" * 64, "name": "web", "image": "nginx:1.25", "state": "running",
                 "status": "Up 2 hours",
                 "ports": [{"host_address": None, "host_port": None, "container_port": 8080, "protocol": "tcp"},
                           {"host_address": "0.0.0.0", "host_port": 8443, "container_port": 443, "protocol": "tcp"}]}
    backend = backend_result("198.18.0.12")
    backend["ansible_facts"]["lbdoctor_backend"]["containers"] = [container]
    servers = run([server("c", "198.18.0.12", 8080, 31), server("d", "198.18.0.12", 8443, 32)],
                  [stat("web", "c", "DOWN", "L4CON"), stat("web", "d", "DOWN", "L4CON")], {"h": backend})
    assert servers["c"]["verdict"] == "container_port_unmapped"
    assert "-p 8080:8080" in servers["c"]["findings"][0]["fix"]["description"]
    assert servers["d"]["verdict"] == "no_listener"  # published but nothing listens on the host: not unmapped
