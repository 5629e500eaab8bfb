# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Container port mappings from ``docker ps`` / ``podman ps`` and ``inspect`` (only when the binary exists).

Each container is ``{runtime, id, name, image, state, status, ports}`` with ports
``[{host_address, host_port, container_port, protocol}]``: published ports with their host side,
and ports that are only exposed with ``host_address`` and ``host_port`` null. ``docker ps`` lists
both; ``podman ps`` before podman 5.1 lists published ports only, so one ``podman inspect`` call
for every listed container adds what ``NetworkSettings.Ports`` (``"8080/tcp": null`` = exposed,
not published) says. ``parse_inspect`` reads ``docker inspect`` the same way.
Standard library only, Python 3.8+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import re

DOCKER_ARGV = ["docker", "ps", "--no-trunc", "--format", "{{json .}}"]
PODMAN_ARGV = ["podman", "ps", "--format", "json"]
# followed by the container ids; prints a JSON list of objects. Only podman needs it: its ps lists
# exposed ports that are not published only from 5.1 on, docker ps always did ("80/tcp").
PODMAN_INSPECT_ARGV = ["podman", "inspect", "--type", "container"]
_PORT_KEY_RE = re.compile(r"^(?P<port>\d+)(?:/(?P<proto>\w+))?$")
_DOCKER_PORT_RE = re.compile(
    r"^(?:(?P<host>\[[^\]]*\]|[^\s,]*?):(?P<hport>\d+(?:-\d+)?)->)?(?P<cport>\d+(?:-\d+)?)/(?P<proto>\w+)$")


class ContainerParseError(ValueError):
    """Container listing that cannot be read; names the source and line."""

    def __init__(self, source, lineno, message):
        self.source = source
        self.lineno = lineno
        super(ContainerParseError, self).__init__("%s:%d: %s" % (source, lineno, message))


def _range(text):
    if "-" in text:
        low, high = text.split("-", 1)
        return list(range(int(low), int(high) + 1))
    return [int(text)]


def _host_address(text):
    text = (text or "").strip("[]")
    if not text:
        return None
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text


def parse_docker_ports(text):
    """Parse docker's ``Ports`` column: ``0.0.0.0:8080->80/tcp, :::8080->80/tcp, 443/tcp``."""
    ports = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        match = _DOCKER_PORT_RE.match(item)
        if not match:
            raise ValueError("unreadable port mapping %r" % item)
        container_ports = _range(match.group("cport"))
        if match.group("hport"):
            host_ports = _range(match.group("hport"))
            host = match.group("host")
            if host == "::":
                host = "[::]"
            pairs = list(zip(host_ports, container_ports)) if len(host_ports) == len(container_ports) \
                else [(hp, container_ports[0]) for hp in host_ports]
            for host_port, container_port in pairs:
                ports.append({"host_address": _host_address(host), "host_port": host_port,
                              "container_port": container_port, "protocol": match.group("proto")})
        else:
            for container_port in container_ports:
                ports.append({"host_address": None, "host_port": None,
                              "container_port": container_port, "protocol": match.group("proto")})
    return ports


def parse_docker_ps(text, source="docker ps"):
    """Parse ``docker ps --no-trunc --format '{{json .}}'`` (one JSON object per line)."""
    containers = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            ports = parse_docker_ports(item.get("Ports", ""))
        except ValueError as exc:
            raise ContainerParseError(source, lineno, str(exc))
        containers.append({"runtime": "docker", "id": item.get("ID"), "name": item.get("Names"),
                           "image": item.get("Image"), "state": item.get("State"),
                           "status": item.get("Status"), "ports": ports})
    return containers


def _json_list(text, source, null_is_empty=False):
    """``text`` (empty: ``[]``) parsed as a JSON list; with ``null_is_empty``, ``null`` too (as ``[]``)."""
    try:
        items = json.loads(text or "[]")
    except ValueError as exc:
        raise ContainerParseError(source, 1, "not JSON: %s" % exc)
    if items is None and null_is_empty:
        items = []
    if not isinstance(items, list):
        raise ContainerParseError(source, 1, "expected a JSON list")
    return items


def parse_podman_ps(text, source="podman ps"):
    """Parse ``podman ps --format json`` (a JSON list; old and new port key spellings)."""
    items = _json_list(text, source, null_is_empty=True)
    containers = []
    for item in items:
        ports = []
        for port in item.get("Ports") or []:
            host_port = port.get("host_port", port.get("hostPort"))
            container_port = port.get("container_port", port.get("containerPort"))
            count = int(port.get("range") or 1)
            for offset in range(count):
                ports.append({
                    "host_address": _host_address(port.get("host_ip", port.get("hostIP"))),
                    "host_port": int(host_port) + offset if host_port else None,
                    "container_port": int(container_port) + offset if container_port else None,
                    "protocol": port.get("protocol") or "tcp",
                })
        names = item.get("Names")
        containers.append({"runtime": "podman", "id": item.get("Id") or item.get("ID"),
                           "name": ",".join(names) if isinstance(names, list) else names,
                           "image": item.get("Image"), "state": item.get("State"),
                           "status": item.get("Status"), "ports": ports})
    return containers


def _port_key(key):
    match = _PORT_KEY_RE.match(str(key))
    if not match:
        raise ValueError("unreadable port key %r" % key)
    return int(match.group("port")), (match.group("proto") or "tcp").lower()


def _inspect_ports(item):
    """Ports of one inspected container: ``NetworkSettings.Ports`` (``{"8080/tcp": null}`` for a port
    that is exposed only, a list of ``{HostIp, HostPort}`` for a published one); only when that map is
    missing altogether, ``Config.ExposedPorts`` (never for host networking, where exposing means
    nothing)."""
    network = item.get("NetworkSettings") or {}
    if "Ports" in network:
        mapping = network.get("Ports") or {}
    else:
        mode = str((item.get("HostConfig") or {}).get("NetworkMode") or "")
        exposed = (item.get("Config") or {}).get("ExposedPorts") or {}
        mapping = {} if mode == "host" else dict((key, None) for key in exposed)
    if not isinstance(mapping, dict):
        raise ValueError("NetworkSettings.Ports is not a mapping")
    ports = []
    for key in mapping:
        container_port, protocol = _port_key(key)
        bindings = mapping[key] or []
        if not isinstance(bindings, list):
            raise ValueError("NetworkSettings.Ports[%r] is not a list" % key)
        if not bindings:
            ports.append({"host_address": None, "host_port": None, "container_port": container_port,
                          "protocol": protocol})
        for binding in bindings:
            host_port = str((binding or {}).get("HostPort") or "")
            ports.append({"host_address": _host_address((binding or {}).get("HostIp")),
                          "host_port": int(host_port) if host_port.isdigit() else None,
                          "container_port": container_port, "protocol": protocol})
    return ports


def parse_inspect(text, source="inspect"):
    """Parse ``docker inspect`` / ``podman inspect`` of containers (a JSON list): ``{id: ports}``."""
    items = _json_list(text, source)
    found = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ContainerParseError(source, 1, "item %d is not an object" % index)
        try:
            found[item.get("Id") or item.get("ID")] = _inspect_ports(item)
        except ValueError as exc:
            raise ContainerParseError(source, 1, "container %s: %s" % (item.get("Id") or index, exc))
    return found


def merge_inspect(containers, inspected):
    """Add the ports ``inspect`` knows and ``ps`` did not list (same container port and protocol)."""
    for container in containers:
        ports = inspected.get(container["id"])
        if not ports:
            continue
        listed = set((p["container_port"], p["protocol"]) for p in container["ports"])
        container["ports"] = container["ports"] + [p for p in ports if (p["container_port"], p["protocol"]) not in listed]
    return containers


def _run_parsed(run, argv, source, parser, unavailable):
    """``parser`` applied to what ``argv`` prints; None, with an ``unavailable`` entry naming
    ``source``, when the command fails or its output cannot be read."""
    rc, out, err = run(argv)
    if rc != 0:
        message = (err or "").strip().splitlines()
        unavailable.append({"what": "containers", "source": source,
                            "reason": "exit %s: %s" % (rc, message[-1] if message else "no message")})
        return None
    try:
        return parser(out, source=source)
    except ContainerParseError as exc:
        unavailable.append({"what": "containers", "source": source, "reason": str(exc)})
        return None


def collect_containers(run, which):
    """``(containers, unavailable)``; ``which(name)`` says whether a binary exists."""
    containers = []
    unavailable = []
    found_any = False
    for binary, argv, parser, inspect in (("docker", DOCKER_ARGV, parse_docker_ps, None),
                                          ("podman", PODMAN_ARGV, parse_podman_ps, PODMAN_INSPECT_ARGV)):
        if not which(binary):
            continue
        found_any = True
        listed = _run_parsed(run, argv, " ".join(argv), parser, unavailable)
        if listed is None:
            continue
        ids = [c["id"] for c in listed if c["id"]]
        if inspect and ids:
            inspect_argv = inspect + ids
            inspected = _run_parsed(run, inspect_argv, " ".join(inspect_argv[:4]) + " ID...", parse_inspect,
                                    unavailable)
            if inspected is not None:
                merge_inspect(listed, inspected)
        containers.extend(listed)
    if not found_any:
        return [], []
    containers.sort(key=lambda c: (c["runtime"], c["name"] or "", c["id"] or ""))
    return containers, unavailable
