"""The service layer against false positives: a healthy server is never reported as broken.

Socket activation (systemd holds the port for a .socket unit while the service it triggers is
idle), a user unit of another backend that the collector used to tie to every port, and the
rule that a server HAProxy shows UP, whose listener accepts its address, gets neither
port_conflict nor service_stopped. Inputs are written out by hand in the shape of
docs/backend_facts.md; one test runs the real collector (backend_collect.collect_units) on a
hand-made `systemctl show` answer and feeds its facts to the engine.
"""

import pytest

from builders import (
    LB,
    backend_result,
    lb_result,
    listener,
    probe_result,
    server,
    socket_listener,
    socket_unit,
    stat,
    unit_state,
)

from ansible_collections.lbdoctor.haproxy.plugins.module_utils import backend_collect
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.engine import diagnose

NOW = "2026-12-06T04:00:00Z"
WEB = "198.18.0.11"
EADDRINUSE = "2026-12-06T03:59:01+0000 web1 python3[321]: OSError: [Errno 98] Address already in use"


def run(servers, stats, backends, probes=None, lb=None, **kwargs):
    lb = lb or lb_result(servers, stats)
    report = diagnose({LB: lb}, backends, probe_results={LB: probe_result(probes or [])}, generated_at=NOW, **kwargs)
    return dict((s["server"], s) for s in report["servers"])


def causes(record):
    return [f["cause"] for f in record["findings"]]


def socket_activated_host(listen_socket="app.socket", sockets=None, service_state=None):
    """app.service idle (inactive/dead, Result success) behind app.socket, which systemd holds on [::]:8080."""
    units = {"app.service": service_state or unit_state("inactive", "dead"),
             "app.socket": unit_state("active", "listening")}
    units["app.service"]["TriggeredBy"] = ["app.socket"]
    units["app.socket"]["Triggers"] = ["app.service"]
    if sockets is None:
        sockets = [socket_unit("app.socket", ["[::]:8080"], "app.service")]
    return backend_result(WEB, [socket_listener("::", 8080, listen_socket)], units=units, socket_units=sockets,
                          port_owners={"8080": {"unit": "app.socket", "source": "socket_unit"}})


# --------------------------------------------------------------------------- socket activation

def test_idle_socket_activated_service_is_healthy():
    servers = run([server("web1", WEB, 8080, 30)], [stat("web", "web1", "UP", "L4OK")],
                  {"web1": socket_activated_host()}, probes=[(WEB, 8080, "open", None)],
                  unit_map={"web": "app.service"})
    assert servers["web1"]["verdict"] == "healthy"
    assert servers["web1"]["findings"] == []


@pytest.mark.parametrize("listen_socket,sockets", [
    # what backend_facts reports: the listener names its socket unit, which triggers app.service
    ("app.socket", None),
    # two socket units on the port: the collector leaves socket_unit empty; the one that listens there
    # and triggers app.service is enough
    (None, [socket_unit("app.socket", ["[::]:8080"], "app.service"),
            socket_unit("app-admin.socket", ["127.0.0.1:8080"], "app-admin.service")]),
    # no Triggers known (Service= unset): a socket unit starts the service of the same name
    ("app.socket", [socket_unit("app.socket", ["[::]:8080"], None)]),
])
def test_a_socket_held_for_the_intended_service_is_no_conflict_even_when_haproxy_is_down(listen_socket, sockets):
    # HAProxy DOWN for a reason the host does not show (L7 check): the verdict stays unknown,
    # never a conflict between app.service and "init.scope".
    host = socket_activated_host(listen_socket, sockets)
    if listen_socket is None or not (sockets or [{}])[0].get("triggers"):
        host["ansible_facts"]["lbdoctor_backend"]["units"]["app.socket"]["Triggers"] = []
        host["ansible_facts"]["lbdoctor_backend"]["units"]["app.service"]["TriggeredBy"] = []
    servers = run([server("web1", WEB, 8080, 30)], [stat("web", "web1", "DOWN", "L7STS", "HTTP status check returned code <500>")],
                  {"web1": host}, probes=[(WEB, 8080, "open", None)], unit_map={"web": "app.service"})
    record = servers["web1"]
    assert record["verdict"] == "unknown"
    assert "port_conflict" not in causes(record) and "service_stopped" not in causes(record)


def test_the_socket_unit_named_as_the_intended_unit_serves_its_port():
    servers = run([server("web1", WEB, 8080, 30)], [stat("web", "web1", "DOWN", "L7STS")],
                  {"web1": socket_activated_host()}, unit_map={"web/web1": "app.socket"})
    assert servers["web1"]["verdict"] == "unknown"


def test_a_socket_for_another_service_still_conflicts_with_the_failed_unit():
    units = {"app.service": unit_state("failed", "failed", result="exit-code", journal=[EADDRINUSE]),
             "other.socket": unit_state("active", "listening")}
    host = backend_result(WEB, [socket_listener("0.0.0.0", 8080, "other.socket")], units=units,
                          socket_units=[socket_unit("other.socket", ["0.0.0.0:8080"], "other.service")])
    servers = run([server("web1", WEB, 8080, 30)], [stat("web", "web1", "DOWN", "L7STS")], {"web1": host},
                  probes=[(WEB, 8080, "open", None)], unit_map={"web": "app.service"})
    record = servers["web1"]
    assert record["verdict"] == "port_conflict"
    assert "app.service is failed" in record["findings"][0]["summary"]
    assert "other.socket" in record["findings"][0]["evidence"][0]["text"]


def _socket_on_8081(address):
    """app.socket (active) listens on 8081 instead of 8080; app.service idle behind it."""
    units = {"app.service": unit_state("inactive", "dead", file_state="static"), "app.socket": unit_state("active", "listening")}
    return backend_result(address, [socket_listener("::", 8081, "app.socket")], units=units,
                          socket_units=[socket_unit("app.socket", ["[::]:8081"], "app.service")])


def test_an_idle_service_whose_socket_listens_on_another_port_is_wrong_port_not_stopped():
    servers = run([server("web1", WEB, 8080, 30)], [stat("web", "web1", "DOWN", "L4CON", "Connection refused")],
                  {"web1": _socket_on_8081(WEB)}, probes=[(WEB, 8080, "refused", "ECONNREFUSED")],
                  unit_map={"web": "app.service"})
    record = servers["web1"]
    assert causes(record) == ["wrong_port"]
    assert record["findings"][0]["fix"]["to_port"] == 8081
    assert "app.socket" in record["findings"][0]["evidence"][0]["text"]


def test_a_socket_activated_sibling_names_the_socket_unit():
    # web1 serves 8080 through app.socket; web5 has app.socket too, on the wrong port.
    other = "198.18.0.15"
    servers = run([server("web1", WEB, 8080, 30), server("web5", other, 8080, 34)],
                  [stat("web", "web1", "UP", "L4OK"), stat("web", "web5", "DOWN", "L4CON")],
                  {"web1": socket_activated_host(), "web5": _socket_on_8081(other)})
    assert servers["web1"]["verdict"] == "healthy"
    assert servers["web5"]["intended_unit"] == {"unit": "app.socket", "source": "healthy servers of the same backend"}
    assert servers["web5"]["verdict"] == "wrong_port"


# --------------------------------------------------------------------------- a real conflict is still found

@pytest.mark.parametrize("holder_address,check_status,probe", [
    ("0.0.0.0", "L7STS", "open"),       # the holder accepts HAProxy's connection but is not the app
    ("127.0.0.1", "L4CON", "refused"),  # the holder sits on loopback: HAProxy is refused
])
def test_port_conflict_is_still_found_when_haproxy_shows_the_server_down(holder_address, check_status, probe):
    units = {"app.service": unit_state("failed", "failed", result="exit-code", journal=[EADDRINUSE]),
             "rogue.service": unit_state()}
    host = backend_result(WEB, [listener(holder_address, 8080, process="nc", unit="rogue.service", pid=4242)],
                          units=units)
    servers = run([server("web1", WEB, 8080, 30)], [stat("web", "web1", "DOWN", check_status)], {"web1": host},
                  probes=[(WEB, 8080, probe, None)], unit_map={"web": "app.service"})
    record = servers["web1"]
    assert record["verdict"] == "port_conflict"
    assert causes(record) == ["port_conflict"]
    finding = record["findings"][0]
    assert "rogue.service" in finding["evidence"][0]["text"] and "pid 4242" in finding["evidence"][0]["text"]
    assert any(EADDRINUSE in ev["text"] for ev in finding["evidence"])
    assert finding["fix"]["automatic"] is False


# --------------------------------------------------------------------------- UP and accepting is never broken

def _old_collector_host():
    """What the collector used to report: the user's only unit (app.service, of backend web)
    claimed for port 9000, where api.service serves."""
    units = {"app.service": unit_state("failed", "failed", result="exit-code"), "api.service": unit_state()}
    return backend_result(WEB, [listener("0.0.0.0", 9000, process="api", unit="api.service")], units=units,
                          port_owners={"9000": {"unit": "app.service", "source": "user",
                                                "candidates": [{"unit": "app.service", "source": "user"}],
                                                "listening_units": ["api.service"]}})


def test_a_server_haproxy_shows_up_with_an_accepting_listener_gets_no_service_finding():
    servers = run([server("api1", WEB, 9000, 40)], [stat("web", "api1", "UP", "L4OK")], {"web1": _old_collector_host()},
                  probes=[(WEB, 9000, "open", None)])
    assert servers["api1"]["verdict"] == "healthy"
    assert servers["api1"]["findings"] == []


def test_up_without_a_probe_is_enough_but_a_probe_that_disagrees_is_not():
    servers = run([server("api1", WEB, 9000, 40)], [stat("web", "api1", "UP", "L4OK")], {"web1": _old_collector_host()})
    assert servers["api1"]["verdict"] == "healthy"
    # HAProxy's UP is stale when the probe from the same LB is refused right now: the service
    # layer speaks again.
    servers = run([server("api1", WEB, 9000, 40)], [stat("web", "api1", "UP", "L4OK")], {"web1": _old_collector_host()},
                  probes=[(WEB, 9000, "refused", "ECONNREFUSED")])
    assert servers["api1"]["verdict"] == "port_conflict"


# --------------------------------------------------------------------------- one user unit, many ports

SHOW = """Id=app.service
Names=app.service
LoadState=loaded
ActiveState=failed
SubState=failed
Result=exit-code
ExecMainStatus=1
NRestarts=0
UnitFileState=enabled
ExecStart={ path=/usr/bin/python3 ; argv[]=/usr/bin/python3 -m http.server 8080 ; ignore_errors=no ; pid=321 ; code=exited ; status=1 }

Id=api.service
Names=api.service
LoadState=loaded
ActiveState=active
SubState=running
Result=success
ExecMainStatus=0
NRestarts=0
UnitFileState=enabled
ExecStart={ path=/usr/local/bin/api ; argv[]=/usr/local/bin/api --port 9000 ; ignore_errors=no ; pid=555 ; code=(null) ; status=0/0 }
"""


def collected_host(unit_map):
    """Facts of a host whose api.service serves 9000 while app.service (the unit of backend web,
    whose servers are elsewhere) is failed, gathered by backend_collect as the role asks for them:
    ports of the servers on this host, and every lbdoctor_unit_map value as `units`."""

    def fake_run(argv):
        if argv[:2] == ["systemctl", "show"]:
            return 0, SHOW, ""
        return 0, "", ""

    def fake_read(path):
        raise IOError(2, "No such file or directory", path)

    ctx = backend_collect.Context(fake_run, fake_read, {"ports": [9000], "units": sorted(set(unit_map.values()))},
                                  "/nonexistent", None, None, lambda directory: [])
    api = listener("0.0.0.0", 9000, process="api", unit="api.service", pid=555)
    ctx.facts["listeners"] = [api]
    backend_collect.collect_units(ctx)
    result = backend_result(WEB, [api], units=ctx.facts["units"], socket_units=ctx.facts["socket_units"],
                            port_owners=ctx.facts["port_owners"])
    return result, ctx.facts


@pytest.mark.parametrize("state,check_status,verdict", [
    ("UP", "L4OK", "healthy"),
    # DOWN for a reason the host does not show: unknown, and app.service is not blamed
    ("DOWN", "L7STS", "unknown"),
])
def test_the_only_unit_of_another_backend_is_not_blamed_for_a_port_it_never_served(state, check_status, verdict):
    unit_map = {"web": "app.service"}
    host, facts = collected_host(unit_map)
    assert facts["port_owners"]["9000"]["unit"] == "api.service"
    assert facts["port_owners"]["9000"]["source"] == "unit_file"
    api = [server("api1", WEB, 9000, 40)]
    lb = lb_result(api, [stat("api", "api1", state, check_status)], backend="api")
    servers = run(api, None, {"web1": host}, probes=[(WEB, 9000, "open", None)], lb=lb, unit_map=unit_map)
    record = servers["api1"]
    assert record["verdict"] == verdict
    assert "port_conflict" not in causes(record)
    assert record["intended_unit"]["unit"] == "api.service"
