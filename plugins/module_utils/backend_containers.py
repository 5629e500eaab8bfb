# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Container port mappings from ``docker ps`` and ``podman ps`` (only when the binary exists).

Each container is ``{runtime, id, name, image, state, status, ports}`` with ports
``[{host_address, host_port, container_port, protocol}]`` (published ports only; a port that
is merely exposed has ``host_port: null``). Standard library only, Python 3.8+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import re

DOCKER_ARGV = ["docker", "ps", "--no-trunc", "--format", "{{json .}}"]
PODMAN_ARGV = ["podman", "ps", "--format", "json"]
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


def parse_podman_ps(text, source="podman ps"):
    """Parse ``podman ps --format json`` (a JSON list; old and new port key spellings)."""
    try:
        items = json.loads(text or "[]")
    except ValueError as exc:
        raise ContainerParseError(source, 1, "not JSON: %s" % exc)
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ContainerParseError(source, 1, "expected a JSON list")
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


def collect_containers(run, which):
    """``(containers, unavailable)``; ``which(name)`` says whether a binary exists."""
    containers = []
    unavailable = []
    found_any = False
    for binary, argv, parser in (("docker", DOCKER_ARGV, parse_docker_ps),
                                 ("podman", PODMAN_ARGV, parse_podman_ps)):
        if not which(binary):
            continue
        found_any = True
        rc, out, err = run(argv)
        if rc != 0:
            message = (err or "").strip().splitlines()
            unavailable.append({"what": "containers", "source": " ".join(argv),
                                "reason": "exit %s: %s" % (rc, message[-1] if message else "no message")})
            continue
        try:
            containers.extend(parser(out, source=" ".join(argv)))
        except ContainerParseError as exc:
            unavailable.append({"what": "containers", "source": " ".join(argv), "reason": str(exc)})
    if not found_any:
        return [], []
    containers.sort(key=lambda c: (c["runtime"], c["name"] or "", c["id"] or ""))
    return containers, unavailable
