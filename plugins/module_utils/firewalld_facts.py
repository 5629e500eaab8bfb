# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewalld facts: zones (interfaces, sources, services, ports, rich rules, target), the default
zone and the ports each service stands for.

Parsers are pure functions over ``firewall-cmd --list-all-zones`` / ``--list-all-policies`` /
``--info-service`` text, rich rule strings and zone/service XML files; errors name the source and
the line. ``collect_firewalld(run, read)`` asks the running daemon (runtime configuration) and
falls back to the permanent XML files when it cannot. Standard library only (Python 3.8+).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import re
from xml.etree import ElementTree

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.collect_io import (
    command_text as _cmd,
    os_reason as _reason,
    read_text as _read,
    run_tool as _run,
)

SERVICE_DIRS = ("/etc/firewalld/services", "/usr/lib/firewalld/services")
ZONE_DIRS = ("/etc/firewalld/zones", "/usr/lib/firewalld/zones")
FIREWALLD_CONF = "/etc/firewalld/firewalld.conf"
# firewall-cmd exit code for "not running" (firewall/errors.py NOT_RUNNING).
NOT_RUNNING_RC = 252
LIST_KEYS = ("interfaces", "sources", "services", "ports", "protocols", "source-ports", "icmp-blocks",
             "ingress-zones", "egress-zones", "modules", "includes", "helpers")
MULTILINE_KEYS = ("forward-ports", "rich rules")


class FirewalldParseError(ValueError):
    """firewalld text or XML that cannot be read; names the source and line."""

    def __init__(self, source, lineno, message):
        self.source = source
        self.lineno = lineno
        super(FirewalldParseError, self).__init__("%s:%d: %s" % (source, lineno, message))


def parse_port(text, source="firewalld", lineno=1):
    """``8080/tcp`` or ``8080-8090/tcp`` -> ``{port, low, high, proto}``."""
    port, sep, proto = text.partition("/")
    low, dash, high = port.partition("-")
    try:
        low_n = int(low)
        high_n = int(high) if dash else low_n
    except ValueError:
        raise FirewalldParseError(source, lineno, "not a port: %r" % text)
    if not sep or not proto or not 0 <= low_n <= high_n <= 65535:
        raise FirewalldParseError(source, lineno, "not 'port[-port]/proto': %r" % text)
    return {"port": port, "low": low_n, "high": high_n, "proto": proto}


# ---------------------------------------------------------------------------------------------
# firewall-cmd listings

_HEADER_RE = re.compile(r"^(\S+)(?:\s+\(([^)]*)\))?\s*$")
_FIELD_RE = re.compile(r"^([a-z][a-z -]*):(?:\s+(.*))?$")


def parse_listing(text, source="firewall-cmd --list-all-zones"):
    """Blocks of ``--list-all-zones``, ``--list-all-policies``, ``--list-all`` or
    ``--info-service``: ``[{name, attributes: [..], fields: {key: text or [lines]}, line}]``.

    A block starts with an unindented name ("public (active, default)"); its fields are indented
    "key: value" lines; forward-ports and rich rules continue on deeper-indented lines (a tab in
    current firewalld, spaces where a report was re-indented). Blank lines separate blocks.
    """
    blocks = []
    current = None
    last_key = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip():
            last_key = None
            continue
        if not raw[:1].isspace():
            match = _HEADER_RE.match(line)
            if not match:
                raise FirewalldParseError(source, lineno, "not a zone or service name: %r" % line[:80])
            attributes = [a.strip() for a in (match.group(2) or "").split(",") if a.strip()]
            current = {"name": match.group(1), "attributes": attributes, "fields": {}, "line": lineno}
            blocks.append(current)
            last_key = None
            continue
        if current is None:
            raise FirewalldParseError(source, lineno, "indented line before any zone name: %r" % line.strip()[:80])
        stripped = line.strip()
        # "key: value"; continuation lines ("rule family=...", "port=80:proto=...") hold an "="
        # before any colon, so they never look like a key
        match = _FIELD_RE.match(stripped)
        if match:
            key = match.group(1)
            value = (match.group(2) or "").strip()
            if key in MULTILINE_KEYS:
                current["fields"][key] = [value] if value else []
                last_key = key
            else:
                current["fields"][key] = value
                last_key = None
            continue
        if last_key in MULTILINE_KEYS:
            current["fields"][last_key].append(stripped)
            continue
        raise FirewalldParseError(source, lineno, "not a 'key: value' line: %r" % stripped[:80])
    return blocks


def _split(value):
    return value.split() if value else []


def _ports(values, source, lineno):
    return [parse_port(v, source, lineno) for v in values]


def zone_from_block(block, source="firewall-cmd --list-all-zones"):
    """A parsed listing block as a zone fact (docs/firewalld_ufw.md)."""
    fields = block["fields"]
    lineno = block["line"]
    zone = {
        "name": block["name"],
        "active": "active" in block["attributes"],
        "default": "default" in block["attributes"],
        "target": fields.get("target") or "default",
        "ingress_priority": int(fields["ingress-priority"]) if fields.get("ingress-priority") else 0,
        "interfaces": _split(fields.get("interfaces")),
        "sources": _split(fields.get("sources")),
        "services": _split(fields.get("services")),
        "ports": _ports(_split(fields.get("ports")), source, lineno),
        "protocols": _split(fields.get("protocols")),
        "source_ports": _ports(_split(fields.get("source-ports")), source, lineno),
        "masquerade": fields.get("masquerade") == "yes",
        "forward_ports": list(fields.get("forward-ports") or []),
        "icmp_block_inversion": fields.get("icmp-block-inversion") == "yes",
        "rich_rules": [],
    }
    for text in fields.get("rich rules") or []:
        zone["rich_rules"].append(parse_rich_rule(text, source, lineno))
    return zone


def parse_list_all_zones(text, source="firewall-cmd --list-all-zones"):
    """``firewall-cmd --list-all-zones`` (or ``--list-all``) -> zone facts in output order."""
    return [zone_from_block(block, source) for block in parse_listing(text, source)]


def parse_list_all_policies(text, source="firewall-cmd --list-all-policies"):
    """Policies (firewalld >= 0.9): ``[{name, active, priority, target, ingress_zones,
    egress_zones, services, ports, rich_rules}]``."""
    policies = []
    for block in parse_listing(text, source):
        fields = block["fields"]
        policies.append({
            "name": block["name"],
            "active": "active" in block["attributes"],
            "priority": int(fields["priority"]) if fields.get("priority") else None,
            "target": fields.get("target"),
            "ingress_zones": _split(fields.get("ingress-zones")),
            "egress_zones": _split(fields.get("egress-zones")),
            "services": _split(fields.get("services")),
            "ports": _ports(_split(fields.get("ports")), source, block["line"]),
            "rich_rules": [parse_rich_rule(t, source, block["line"]) for t in fields.get("rich rules") or []],
        })
    return policies


def parse_info_service(text, source="firewall-cmd --info-service"):
    """``firewall-cmd --info-service=NAME`` -> ``{name, ports, includes, destination}``."""
    blocks = parse_listing(text, source)
    if len(blocks) != 1:
        raise FirewalldParseError(source, 1, "expected one service, found %d" % len(blocks))
    fields = blocks[0]["fields"]
    destination = {}
    for item in _split(fields.get("destination")):
        key, _sep, value = item.partition(":")
        destination[key] = value
    return {"name": blocks[0]["name"], "ports": _ports(_split(fields.get("ports")), source, blocks[0]["line"]),
            "includes": _split(fields.get("includes")), "destination": destination}


def parse_active_zones(text, source="firewall-cmd --get-active-zones"):
    """``--get-active-zones``: ``{zone: {interfaces: [...], sources: [...]}}``."""
    zones = {}
    current = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        if not raw[:1].isspace():
            current = raw.split()[0]
            zones[current] = {"interfaces": [], "sources": []}
            continue
        key, sep, value = raw.strip().partition(":")
        if current is None or not sep or key not in ("interfaces", "sources"):
            raise FirewalldParseError(source, lineno, "not 'interfaces:' or 'sources:': %r" % raw.strip()[:80])
        zones[current][key] = value.split()
    return zones


# ---------------------------------------------------------------------------------------------
# Rich rules

_RICH_TOKEN_RE = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)(?:=(\"[^\"]*\"|'[^']*'|\S+))?")
_RICH_ELEMENTS = ("service", "port", "protocol", "icmp-block", "icmp-type", "masquerade", "forward-port",
                  "source-port", "tcp-mss-clamp")
_RICH_ACTIONS = ("accept", "reject", "drop", "mark")


def _unq(value):
    if value and len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_rich_rule(text, source="rich rule", lineno=1):
    """A rich rule string (firewalld.richlanguage(5)) as a dict.

    ``{raw, family, priority, source: {address, mac, ipset, invert} | None, destination: ... |
    None, element: {type, ...attributes} | None, action: accept|reject|drop|mark|None,
    reject_type, log, audit, limit}``. A rule without an element matches every service and port.
    """
    raw = text.strip()
    rule = {"raw": raw, "family": None, "priority": 0, "source": None, "destination": None,
            "element": None, "action": None, "reject_type": None, "log": False, "audit": False, "limit": None}
    tokens = [(m.group(1), _unq(m.group(2)) if m.group(2) is not None else None)
              for m in _RICH_TOKEN_RE.finditer(raw)]
    if not tokens or tokens[0] != ("rule", None):
        raise FirewalldParseError(source, lineno, "a rich rule starts with 'rule': %r" % raw[:80])
    context = "rule"
    invert = False
    for word, value in tokens[1:]:
        if value is None:
            if word == "not":
                # "source not address=..." (firewalld.richlanguage(5)); also accepted before
                if context in ("source", "destination"):
                    rule[context]["invert"] = True
                else:
                    invert = True
                continue
            if word in ("source", "destination"):
                rule[word] = {"address": None, "mac": None, "ipset": None, "invert": invert}
                invert = False
            elif word in _RICH_ELEMENTS:
                rule["element"] = {"type": word}
            elif word in _RICH_ACTIONS:
                rule["action"] = word
            elif word in ("log", "nflog"):
                rule["log"] = True
            elif word == "audit":
                rule["audit"] = True
            elif word == "limit":
                pass
            else:
                raise FirewalldParseError(source, lineno, "unknown word %r in rich rule %r" % (word, raw[:80]))
            context = word
            continue
        if context == "rule":
            if word == "family":
                rule["family"] = value
            elif word == "priority":
                try:
                    rule["priority"] = int(value)
                except ValueError:
                    raise FirewalldParseError(source, lineno, "priority is not a number: %r" % value)
            continue
        if context in ("source", "destination"):
            rule[context][word] = value
        elif context in _RICH_ELEMENTS:
            rule["element"][word] = value
        elif context == "reject" and word == "type":
            rule["reject_type"] = value
        elif context == "limit" and word == "value":
            rule["limit"] = value
    return rule


def _rich_rule_from_xml(element):
    """A <rule> of a zone XML as the same dict parse_rich_rule gives (raw rebuilt)."""
    parts = ["rule"]
    if element.get("priority"):
        parts.append('priority="%s"' % element.get("priority"))
    if element.get("family"):
        parts.append('family="%s"' % element.get("family"))
    for child in element:
        tag = child.tag
        if tag in ("source", "destination"):
            if child.get("invert", "").lower() in ("true", "yes", "1"):
                parts.append("not")
            parts.append(tag)
            for key in ("address", "mac", "ipset"):
                if child.get(key):
                    parts.append('%s="%s"' % (key, child.get(key)))
        elif tag in _RICH_ELEMENTS:
            parts.append(tag)
            parts.extend('%s="%s"' % (k, v) for k, v in sorted(child.attrib.items()))
        elif tag in ("log", "nflog", "audit") + _RICH_ACTIONS:
            parts.append(tag)
            parts.extend('%s="%s"' % (k, v) for k, v in sorted(child.attrib.items()))
            for limit in child.findall("limit"):
                parts.append('limit value="%s"' % limit.get("value"))
    return parse_rich_rule(" ".join(parts), "zone XML")


# ---------------------------------------------------------------------------------------------
# XML files


def _xml_root(text, source, tag):
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else 1
        raise FirewalldParseError(source, line, "not well-formed XML: %s" % exc)
    if root.tag != tag:
        raise FirewalldParseError(source, 1, "root element is <%s>, not <%s>" % (root.tag, tag))
    return root


def _forward_port_text(element):
    """A <forward-port> as --list-all-zones prints it."""
    values = (element.get("port"), element.get("protocol"), element.get("to-port", ""), element.get("to-addr", ""))
    return "port=%s:proto=%s:toport=%s:toaddr=%s" % values


def parse_zone_xml(text, name, source="zone XML"):
    """A zone file (/etc/firewalld/zones/NAME.xml) as a zone fact; ``active``/``default`` False."""
    root = _xml_root(text, source, "zone")
    zone = {"name": name, "active": False, "default": False,
            "target": root.get("target") or "default",
            "ingress_priority": int(root.get("ingress-priority") or 0),
            "interfaces": [e.get("name") for e in root.findall("interface")],
            "sources": [e.get("address") or ("ipset:" + e.get("ipset") if e.get("ipset") else e.get("mac"))
                        for e in root.findall("source")],
            "services": [e.get("name") for e in root.findall("service")],
            "ports": [parse_port("%s/%s" % (e.get("port"), e.get("protocol")), source)
                      for e in root.findall("port")],
            "protocols": [e.get("value") for e in root.findall("protocol")],
            "source_ports": [parse_port("%s/%s" % (e.get("port"), e.get("protocol")), source)
                             for e in root.findall("source-port")],
            "masquerade": root.find("masquerade") is not None,
            "forward_ports": [_forward_port_text(e) for e in root.findall("forward-port")],
            "icmp_block_inversion": root.find("icmp-block-inversion") is not None,
            "rich_rules": [_rich_rule_from_xml(e) for e in root.findall("rule")]}
    return zone


def parse_service_xml(text, name, source="service XML"):
    """A service file -> ``{name, ports, includes, destination}``."""
    root = _xml_root(text, source, "service")
    destination = {}
    found = root.find("destination")
    if found is not None:
        destination = dict(found.attrib)
    return {"name": name,
            "ports": [parse_port("%s/%s" % (e.get("port"), e.get("protocol")), source)
                      for e in root.findall("port") if e.get("port")],
            "includes": [e.get("service") for e in root.findall("include")],
            "destination": destination}


def parse_firewalld_conf(text, source=FIREWALLD_CONF):
    """KEY=value settings of firewalld.conf (DefaultZone, FirewallBackend, ...)."""
    settings = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise FirewalldParseError(source, lineno, "not KEY=value: %r" % line[:80])
        settings[key.strip()] = value.strip().strip('"')
    return settings


# ---------------------------------------------------------------------------------------------
# Collection


def _unavailable(facts, what, reason, source):
    facts["unavailable"].append({"what": what, "reason": reason, "source": source})


def _service_names(facts):
    names = set()
    for item in facts["zones"] + facts["policies"]:
        names.update(item.get("services") or [])
        for rule in item.get("rich_rules") or []:
            if rule["element"] and rule["element"]["type"] == "service" and rule["element"].get("name"):
                names.add(rule["element"]["name"])
    return names


def _collect_services(run, read, facts, names):
    pending = sorted(names)
    while pending:
        name = pending.pop(0)
        if name in facts["services"]:
            continue
        service = None
        for directory in SERVICE_DIRS:
            path = "%s/%s.xml" % (directory, name)
            text, exc = _read(read, path)
            if text is None:
                if getattr(exc, "errno", None) != errno.ENOENT:
                    _unavailable(facts, "firewalld.services", _reason(exc), path)
                continue
            try:
                service = parse_service_xml(text, name, path)
                service["source"] = path
            except FirewalldParseError as err:
                _unavailable(facts, "firewalld.services", str(err), path)
            break
        if service is None:
            argv = ["firewall-cmd", "--info-service=%s" % name]
            result = _run(run, argv)
            if result is not None and result[0] == 0:
                try:
                    service = parse_info_service(result[1], _cmd(argv))
                    service["source"] = _cmd(argv)
                except FirewalldParseError as err:
                    _unavailable(facts, "firewalld.services", str(err), _cmd(argv))
            else:
                reason = "no service file and firewall-cmd could not say"
                if result is not None:
                    reason = "rc=%d: %s" % (result[0], result[2].strip()[:200])
                _unavailable(facts, "firewalld.services", reason, _cmd(argv))
        if service is not None:
            facts["services"][name] = service
            pending.extend(i for i in service["includes"] if i not in facts["services"])


def _collect_offline(read, facts, zone_names):
    text, exc = _read(read, FIREWALLD_CONF)
    default = None
    if text is not None:
        try:
            default = parse_firewalld_conf(text).get("DefaultZone")
        except FirewalldParseError as err:
            _unavailable(facts, "firewalld.default_zone", str(err), FIREWALLD_CONF)
    else:
        _unavailable(facts, "firewalld.default_zone", _reason(exc), FIREWALLD_CONF)
    facts["default_zone"] = default
    names = sorted(set([default] if default else []) | set(zone_names or ()))
    for name in names:
        for directory in ZONE_DIRS:
            path = "%s/%s.xml" % (directory, name)
            text, exc = _read(read, path)
            if text is None:
                if getattr(exc, "errno", None) != errno.ENOENT:
                    _unavailable(facts, "firewalld.zones", _reason(exc), path)
                continue
            try:
                zone = parse_zone_xml(text, name, path)
                zone["default"] = name == default
                facts["zones"].append(zone)
            except FirewalldParseError as err:
                _unavailable(facts, "firewalld.zones", str(err), path)
            break
        else:
            _unavailable(facts, "firewalld.zones", "no zone file", "%s/%s.xml" % (ZONE_DIRS[-1], name))
    facts["config_source"] = "permanent files"
    facts["partial"] = True


def collect_firewalld(run, read, zones=None, not_loaded=None):
    """The ``firewalld`` facts (docs/firewalld_ufw.md).

    Asks ``firewall-cmd`` for the runtime configuration (what the kernel enforces); when the
    daemon cannot be asked (no root, D-Bus/polkit refusal) reads the permanent files: the default
    zone from firewalld.conf and its XML (plus ``zones`` by name), marked ``partial``.

    ``not_loaded``: why the kernel's rulesets show firewalld is not running (no table or chain
    of its own in them); firewall-cmd is then not asked and ``running_source`` says why.
    """
    facts = {"installed": None, "running": None, "default_zone": None, "zones": [], "policies": [],
             "services": {}, "config_source": None, "partial": False, "unavailable": []}
    if not_loaded:
        facts.update(running=False, running_source=not_loaded)
        return facts
    argv = ["firewall-cmd", "--state"]
    result = _run(run, argv)
    if result is None:
        facts["installed"] = False
        facts["running"] = False
        return facts
    facts["installed"] = True
    rc, out, err = result
    if rc == 0 and out.strip() == "running":
        facts["running"] = True
    elif rc == NOT_RUNNING_RC or "not running" in (out + err):
        facts["running"] = False
        return facts
    else:
        _unavailable(facts, "firewalld.state", "rc=%d: %s" % (rc, (err or out).strip()[:200]), _cmd(argv))
        _collect_offline(read, facts, zones)
        _collect_services(run, read, facts, _service_names(facts))
        return facts
    result = _run(run, ["firewall-cmd", "--get-default-zone"])
    if result is not None and result[0] == 0:
        facts["default_zone"] = result[1].strip() or None
    argv = ["firewall-cmd", "--list-all-zones"]
    result = _run(run, argv)
    if result is None or result[0] != 0:
        reason = "rc=%d: %s" % (result[0], result[2].strip()[:200]) if result else "firewall-cmd vanished"
        _unavailable(facts, "firewalld.zones", reason, _cmd(argv))
        _collect_offline(read, facts, zones)
    else:
        try:
            facts["zones"] = parse_list_all_zones(result[1], _cmd(argv))
            facts["config_source"] = "runtime"
        except FirewalldParseError as exc:
            _unavailable(facts, "firewalld.zones", str(exc), _cmd(argv))
    if facts["default_zone"] is None:
        for zone in facts["zones"]:
            if zone["default"]:
                facts["default_zone"] = zone["name"]
    for zone in facts["zones"]:
        zone["default"] = zone["name"] == facts["default_zone"]
    argv = ["firewall-cmd", "--list-all-policies"]
    result = _run(run, argv)
    if result is not None and result[0] == 0:
        try:
            facts["policies"] = parse_list_all_policies(result[1], _cmd(argv))
        except FirewalldParseError as exc:
            _unavailable(facts, "firewalld.policies", str(exc), _cmd(argv))
    # firewalld < 0.9 has no policies: an unknown option is not a failure worth reporting
    facts["zones"].sort(key=lambda z: z["name"])
    _collect_services(run, read, facts, _service_names(facts))
    return facts
