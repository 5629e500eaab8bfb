"""Tests of the docker/podman listing parsers.

REAL: `podman ps --format json` and `podman inspect --type container` of podman 4.3.1 in a lab host
(tests/unit/fixtures/backend/containers/, README there): one container exposing 8080 without
publishing it, one publishing 8080 as 8081.

HAND-MADE (no docker daemon on the build machine): docker ps lines follow `docker ps --no-trunc
--format '{{json .}}'` (field names ID, Image, Names, Ports, State, Status as documented for
`docker ps --format`; exposed ports that are not published show as "80/tcp"), docker inspect follows
the podman capture's NetworkSettings.Ports shape (which podman copied from docker); the podman 1.x keys (hostPort/containerPort/hostIP) and the
podman ps lines with ranges are hand-made too.
"""

import json

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_containers import (
    ContainerParseError,
    collect_containers,
    merge_inspect,
    parse_docker_ports,
    parse_docker_ps,
    parse_inspect,
    parse_podman_ps,
)
from ansible_collections.lbdoctor.haproxy.plugins.plugin_utils.diagnosis.checks.service import _unpublished_container

UNPUBLISHED_ID = "57835981bc89c4bc64ce69657c52b4acd45416038ab49169e7877e6ecd7e9058"  # app-8080, no -p
PUBLISHED_ID = "3212d3e8cc465d7037147141af370fb66c0af5093abe6983741ad75634b4006a"    # api-8081, -p 8081:8080


def test_docker_ports():
    assert parse_docker_ports("0.0.0.0:8080->80/tcp, :::8080->80/tcp, 443/tcp, 127.0.0.1:9000-9001->9000-9001/udp") == [
        {"host_address": "0.0.0.0", "host_port": 8080, "container_port": 80, "protocol": "tcp"},
        {"host_address": "::", "host_port": 8080, "container_port": 80, "protocol": "tcp"},
        {"host_address": None, "host_port": None, "container_port": 443, "protocol": "tcp"},
        {"host_address": "127.0.0.1", "host_port": 9000, "container_port": 9000, "protocol": "udp"},
        {"host_address": "127.0.0.1", "host_port": 9001, "container_port": 9001, "protocol": "udp"},
    ]
    assert parse_docker_ports("[::1]:8443->443/tcp")[0]["host_address"] == "::1"
    assert parse_docker_ports("") == []


def test_docker_ps_and_bad_line():
    line = json.dumps({"ID": "a" * 64, "Image": "nginx", "Names": "web", "Ports": "0.0.0.0:8080->80/tcp",
                       "State": "running", "Status": "Up 5 minutes"})
    containers = parse_docker_ps(line + "\n")
    assert containers[0]["id"] == "a" * 64 and containers[0]["ports"][0]["host_port"] == 8080
    with pytest.raises(ContainerParseError, match="^docker ps:2:"):
        parse_docker_ps(line + "\n{broken\n")


def test_podman_ps_new_and_old_keys():
    text = json.dumps([
        {"Id": "b" * 64, "Names": ["api"], "Image": "api:1", "State": "running", "Status": "Up",
         "Ports": [{"host_ip": "", "container_port": 80, "host_port": 8080, "range": 2, "protocol": "tcp"}]},
        {"ID": "c" * 64, "Names": "old", "Ports": [{"hostPort": 9090, "containerPort": 90, "hostIP": "127.0.0.1",
                                                    "protocol": "tcp"}]},
        {"Id": "d" * 64, "Names": ["none"], "Ports": None},
    ])
    containers = parse_podman_ps(text)
    assert containers[0]["ports"] == [
        {"host_address": None, "host_port": 8080, "container_port": 80, "protocol": "tcp"},
        {"host_address": None, "host_port": 8081, "container_port": 81, "protocol": "tcp"}]
    assert containers[1]["ports"][0]["host_address"] == "127.0.0.1"
    assert containers[2]["ports"] == []
    assert parse_podman_ps("null") == []


def test_collect_runs_only_present_binaries():
    calls = []

    def run(argv):
        calls.append(argv)
        return 125, "", "Error: cannot connect to Podman socket"

    containers, unavailable = collect_containers(run, lambda name: name == "podman")
    assert calls == [["podman", "ps", "--format", "json"]]
    assert containers == [] and unavailable[0]["reason"].startswith("exit 125: Error: cannot connect")
    assert collect_containers(run, lambda name: False) == ([], [])


def _lab_run(fixture_text, inspect=None):
    """A `run` that answers like the lab host the fixtures come from."""
    calls = []
    answers = {"ps": (0, fixture_text("backend/containers/podman-4.3.1-ps.json"), ""),
               "inspect": inspect or (0, fixture_text("backend/containers/podman-4.3.1-inspect.json"), "")}

    def run(argv):
        calls.append(list(argv))
        return answers[argv[1]]
    return run, calls


def test_podman_4_ps_lists_only_the_published_port(fixture_text):
    containers = {c["name"]: c for c in parse_podman_ps(fixture_text("backend/containers/podman-4.3.1-ps.json"))}
    assert containers["app-8080"]["ports"] == []  # "Ports": null: podman < 5.1 leaves exposed ports out
    assert containers["api-8081"]["ports"] == [
        {"host_address": None, "host_port": 8081, "container_port": 8080, "protocol": "tcp"}]
    assert containers["app-8080"]["image"] == "localhost/lab-app-8080:1"
    assert containers["app-8080"]["id"] == UNPUBLISHED_ID and containers["app-8080"]["state"] == "running"


def test_podman_4_inspect_says_which_port_is_exposed_only(fixture_text):
    ports = parse_inspect(fixture_text("backend/containers/podman-4.3.1-inspect.json"))
    assert ports == {
        UNPUBLISHED_ID: [{"host_address": None, "host_port": None, "container_port": 8080, "protocol": "tcp"}],
        PUBLISHED_ID: [{"host_address": None, "host_port": 8081, "container_port": 8080, "protocol": "tcp"}],
    }


def test_collect_merges_one_inspect_of_every_listed_container(fixture_text):
    run, calls = _lab_run(fixture_text)
    containers, unavailable = collect_containers(run, lambda name: name == "podman")
    assert unavailable == []
    assert calls == [["podman", "ps", "--format", "json"],
                     ["podman", "inspect", "--type", "container", UNPUBLISHED_ID, PUBLISHED_ID]]
    by_name = {c["name"]: c for c in containers}
    assert [c["name"] for c in containers] == ["api-8081", "app-8080"]
    assert by_name["app-8080"]["ports"] == [
        {"host_address": None, "host_port": None, "container_port": 8080, "protocol": "tcp"}]
    # already in ps: not listed twice
    assert by_name["api-8081"]["ports"] == [
        {"host_address": None, "host_port": 8081, "container_port": 8080, "protocol": "tcp"}]
    # what the engine makes of it: port 8080 is exposed by app-8080 and published by nobody on the host;
    # api-8081's container port 8080 is published (as 8081), so port 8081 is no container's fault
    facts = {"containers": containers}
    assert _unpublished_container(facts, 8080)["name"] == "app-8080"
    assert _unpublished_container(facts, 8081) is None


def test_a_failed_inspect_keeps_the_ps_listing(fixture_text):
    run, calls = _lab_run(fixture_text, inspect=(125, "", "Error: no such container 57835981bc89\n"))
    containers, unavailable = collect_containers(run, lambda name: name == "podman")
    assert len(calls) == 2 and len(containers) == 2
    assert {c["name"]: c["ports"] for c in containers}["app-8080"] == []
    assert unavailable == [{"what": "containers", "source": "podman inspect --type container ID...",
                            "reason": "exit 125: Error: no such container 57835981bc89"}]
    run, calls = _lab_run(fixture_text, inspect=(0, "{not json", ""))
    containers, unavailable = collect_containers(run, lambda name: name == "podman")
    assert len(containers) == 2 and unavailable[0]["reason"].startswith("podman inspect --type container ID...:1: not JSON")


def test_no_container_no_inspect():
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, "[]\n", ""
    assert collect_containers(run, lambda name: name == "podman") == ([], [])
    assert calls == [["podman", "ps", "--format", "json"]]


def test_docker_ps_already_lists_exposed_ports_so_no_inspect():
    ps_line = json.dumps({"ID": "e" * 64, "Image": "nginx:1.25", "Names": "web", "State": "running", "Status": "Up",
                          "Ports": "0.0.0.0:8443->443/tcp, :::8443->443/tcp, 80/tcp"})
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, ps_line + "\n", ""
    containers, unavailable = collect_containers(run, lambda name: name == "docker")
    assert calls == [["docker", "ps", "--no-trunc", "--format", "{{json .}}"]] and unavailable == []
    assert containers[0]["ports"][2] == {"host_address": None, "host_port": None, "container_port": 80, "protocol": "tcp"}
    # docker inspect reads the same way, and merging it adds only what ps lacked
    inspect = json.dumps([{"Id": "e" * 64, "NetworkSettings": {"Ports": {
        "443/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8443"}, {"HostIp": "::", "HostPort": "8443"}],
        "80/tcp": None, "53/udp": None}}}])
    merged = merge_inspect(containers, parse_inspect(inspect, source="docker inspect"))
    assert merged[0]["ports"] == [
        {"host_address": "0.0.0.0", "host_port": 8443, "container_port": 443, "protocol": "tcp"},
        {"host_address": "::", "host_port": 8443, "container_port": 443, "protocol": "tcp"},
        {"host_address": None, "host_port": None, "container_port": 80, "protocol": "tcp"},
        {"host_address": None, "host_port": None, "container_port": 53, "protocol": "udp"},
    ]


def test_inspect_without_network_ports_falls_back_to_exposed_ports_except_on_host_networking():
    items = [{"Id": "f1", "Config": {"ExposedPorts": {"8080/tcp": {}}}, "HostConfig": {"NetworkMode": "bridge"}},
             {"Id": "f2", "Config": {"ExposedPorts": {"8080/tcp": {}}}, "HostConfig": {"NetworkMode": "host"}},
             {"Id": "f3", "NetworkSettings": {"Ports": {}}, "Config": {"ExposedPorts": {"8080/tcp": {}}}}]
    assert parse_inspect(json.dumps(items)) == {
        "f1": [{"host_address": None, "host_port": None, "container_port": 8080, "protocol": "tcp"}],
        "f2": [], "f3": []}
    with pytest.raises(ContainerParseError, match=r"^podman inspect:1: container f4: unreadable port key 'http'"):
        parse_inspect(json.dumps([{"Id": "f4", "NetworkSettings": {"Ports": {"http": None}}}]), source="podman inspect")
    with pytest.raises(ContainerParseError, match="expected a JSON list"):
        parse_inspect("{}")
    listed = [{"id": "f1", "ports": []}, {"id": None, "ports": []}]
    assert merge_inspect(listed, parse_inspect(json.dumps(items)))[0]["ports"][0]["container_port"] == 8080


def test_json_list_outputs_share_their_errors_and_only_podman_ps_takes_null():
    for parse, source in ((parse_podman_ps, "podman ps"), (parse_inspect, "inspect")):
        assert not parse("")
        with pytest.raises(ContainerParseError, match=r"^%s:1: not JSON: " % source):
            parse("[{")
        with pytest.raises(ContainerParseError, match=r"^%s:1: expected a JSON list$" % source):
            parse('{"Id": "f1"}')
    assert parse_podman_ps("null") == []
    with pytest.raises(ContainerParseError, match=r"^inspect:1: expected a JSON list$"):
        parse_inspect("null")
