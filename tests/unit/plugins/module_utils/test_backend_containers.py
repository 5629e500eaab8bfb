"""Tests of the docker/podman listing parsers.

docker ps lines follow `docker ps --no-trunc --format '{{json .}}'` (field names ID, Image,
Names, Ports, State, Status as documented for `docker ps --format`); podman ps JSON follows
`podman ps --format json` of podman 4.x (Ports as [{host_ip, container_port, host_port, range,
protocol}]) and of podman 1.x (hostPort/containerPort/hostIP). Both HAND-MADE: no daemon runs on
the build machine.
"""

import json

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_containers import (
    ContainerParseError,
    collect_containers,
    parse_docker_ports,
    parse_docker_ps,
    parse_podman_ps,
)


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
