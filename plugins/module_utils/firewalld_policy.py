# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Would firewalld let the load balancer's SYN reach a backend port, and what is the narrowest
rule that would?

Pure functions over the ``firewalld`` facts of firewalld_facts.collect_firewalld. The model
follows firewalld itself:

* zone dispatch (src/firewall/core/nftables.py ``_zone_ingress_dispatch_sort_key``): sort key
  (ingress-priority, source bindings before interface bindings, zone name); the default zone
  comes last;
* inside a zone (firewalld.richlanguage(5), RHEL "Prioritizing rich rules"): rich rules with a
  priority below 0, then priority 0 rules as log, deny (drop/reject) and allow (accept, services,
  ports, protocols), then rich rules above 0, then the zone target ("default" rejects).

Policies (firewalld >= 0.9) toward HOST are reported as uncertain, not evaluated.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

TARGET_VERDICT = {"ACCEPT": "accept", "DROP": "drop", "%%REJECT%%": "reject", "REJECT": "reject",
                  "default": "reject"}


def _network(text):
    try:
        return ipaddress.ip_network(u"%s" % text, strict=False)
    except ValueError:
        return None


def _address(text):
    return ipaddress.ip_address(u"%s" % text)


def _family(address):
    return "ipv4" if address.version == 4 else "ipv6"


def _port_in(ports, dport, proto):
    for port in ports:
        if port["proto"] == proto and port["low"] <= dport <= port["high"]:
            return port
    return None


def _service_ports(facts, name, seen=None):
    """(ports, known) of a service and its includes."""
    seen = set() if seen is None else seen
    if name in seen:
        return [], True
    seen.add(name)
    service = (facts.get("services") or {}).get(name)
    if service is None:
        return [], False
    ports = list(service["ports"])
    known = True
    for include in service.get("includes") or ():
        more, ok = _service_ports(facts, include, seen)
        ports.extend(more)
        known = known and ok
    return ports, known


def _addr_match(spec, address):
    """True/False/None for a rich rule source/destination block against ``address`` (None: the
    address is not known, e.g. the backend address the SYN was sent to)."""
    if spec is None:
        return True
    if address is None:
        return None
    if spec.get("address"):
        network = _network(spec["address"])
        if network is None or network.version != address.version:
            result = False
        else:
            result = address in network
    else:
        return None  # ipset or MAC: not decidable from facts
    return (not result) if spec.get("invert") else result


def _rule_matches(facts, rule, src, dst, dport, proto):
    """True/False/None (cannot tell) for a rich rule and the SYN."""
    if rule["family"] and rule["family"] != _family(src):
        return False
    source = _addr_match(rule["source"], src)
    if source is False:
        return False
    destination = _addr_match(rule["destination"], dst)
    if destination is False:
        return False
    element = rule["element"]
    match = True
    if element is not None:
        kind = element["type"]
        if kind == "port":
            low, _sep, high = (element.get("port") or "").partition("-")
            try:
                low_n = int(low)
                high_n = int(high) if high else low_n
            except ValueError:
                return None
            match = element.get("protocol") == proto and low_n <= dport <= high_n
        elif kind == "service":
            ports, known = _service_ports(facts, element.get("name"))
            if _port_in(ports, dport, proto):
                match = True
            elif not known:
                return None
            else:
                match = False
        elif kind == "protocol":
            match = element.get("value") == proto
        else:
            match = False  # icmp, masquerade, forward-port, source-port: not this SYN
    if not match:
        return False
    if source is None or destination is None:
        return None
    return True


def _zone_for(facts, src, iif):
    """(zone, reason, others) by firewalld's dispatch order."""
    zones = dict((z["name"], z) for z in facts.get("zones") or ())
    keys = []
    uncertain = []
    for zone in zones.values():
        for source in zone.get("sources") or ():
            network = _network(source)
            if network is None:
                uncertain.append("zone %s binds source %s, which cannot be matched from facts" % (zone["name"], source))
                continue
            if network.version == src.version and src in network:
                keys.append(((zone.get("ingress_priority") or 0, 1, zone["name"]), zone, "source %s" % source))
        if iif is not None and iif in (zone.get("interfaces") or ()):
            keys.append(((zone.get("ingress_priority") or 0, 2, zone["name"]), zone, "interface %s" % iif))
    keys.sort(key=lambda k: k[0])
    if keys:
        return keys[0][1], keys[0][2], [k[1]["name"] for k in keys[1:]], uncertain
    default = zones.get(facts.get("default_zone"))
    if default is None:
        return None, "default zone %s not in facts" % facts.get("default_zone"), [], uncertain
    return default, "default zone", [], uncertain


def _evaluate_zone(facts, zone, src, dst, dport, proto):
    """(verdict, deciding, uncertain) inside one zone."""
    uncertain = []
    rules = zone.get("rich_rules") or []

    def rich(rule, verdict):
        return verdict, {"kind": "rich_rule", "value": rule["raw"], "priority": rule["priority"],
                         "zone": zone["name"]}

    def try_rules(selected):
        for rule in selected:
            if rule["action"] not in ("accept", "reject", "drop"):
                continue
            matched = _rule_matches(facts, rule, src, dst, dport, proto)
            if matched is None:
                uncertain.append("cannot tell whether rich rule applies: %s" % rule["raw"])
                continue
            if matched:
                return rich(rule, rule["action"])
        return None

    pre = sorted((r for r in rules if r["priority"] < 0), key=lambda r: r["priority"])
    zero = [r for r in rules if r["priority"] == 0]
    post = sorted((r for r in rules if r["priority"] > 0), key=lambda r: r["priority"])
    found = try_rules(pre)
    if found:
        return found[0], found[1], uncertain
    found = try_rules([r for r in zero if r["action"] in ("reject", "drop")])
    if found:
        return found[0], found[1], uncertain
    found = try_rules([r for r in zero if r["action"] == "accept"])
    if found:
        return found[0], found[1], uncertain
    port = _port_in(zone.get("ports") or (), dport, proto)
    if port:
        return "accept", {"kind": "port", "value": "%s/%s" % (port["port"], port["proto"]), "zone": zone["name"]}, uncertain
    for name in zone.get("services") or ():
        ports, known = _service_ports(facts, name)
        if _port_in(ports, dport, proto):
            return "accept", {"kind": "service", "value": name, "zone": zone["name"]}, uncertain
        if not known:
            uncertain.append("ports of service %s are unknown" % name)
    if proto in (zone.get("protocols") or ()):
        return "accept", {"kind": "protocol", "value": proto, "zone": zone["name"]}, uncertain
    found = try_rules(post)
    if found:
        return found[0], found[1], uncertain
    target = zone.get("target") or "default"
    return TARGET_VERDICT.get(target, "reject"), {"kind": "target", "value": target, "zone": zone["name"]}, uncertain


def firewalld_allows(facts, src, dport, iif=None, proto="tcp", dst=None):
    """Does firewalld accept a new ``proto`` connection from ``src`` to local port ``dport``?

    Returns ``{applies, zone, zone_reason, other_zones, allowed, verdict, deciding, uncertain,
    notes}``:
    ``verdict`` accept|reject|drop; ``deciding`` ``{kind: rich_rule|port|service|protocol|target|
    not_running, value, zone}``; ``allowed`` is None when an undecidable item (ipset source,
    unknown service, unknown interface with several candidate zones) could change the answer.
    """
    result = {"applies": bool(facts.get("running")), "zone": None, "zone_reason": None, "other_zones": [],
              "allowed": True, "verdict": "accept", "deciding": None, "uncertain": [], "notes": []}
    if not facts.get("running"):
        result["deciding"] = {"kind": "not_running", "value": None, "zone": None}
        return result
    src_ip = _address(src)
    dst_ip = _address(dst) if dst else None
    zone, reason, others, uncertain = _zone_for(facts, src_ip, iif)
    result.update(zone=zone["name"] if zone else None, zone_reason=reason, other_zones=others)
    result["uncertain"].extend(uncertain)
    if zone is None:
        result.update(allowed=None, verdict=None)
        return result
    verdict, deciding, uncertain = _evaluate_zone(facts, zone, src_ip, dst_ip, dport, proto)
    result.update(verdict=verdict, deciding=deciding, allowed=verdict == "accept")
    result["uncertain"].extend(uncertain)
    if iif is None and reason == "default zone":
        # the SYN may arrive on an interface bound to another zone: evaluate those too
        for other in sorted((z for z in facts.get("zones") or () if z.get("interfaces")), key=lambda z: z["name"]):
            if other["name"] == zone["name"]:
                continue
            other_verdict = _evaluate_zone(facts, other, src_ip, dst_ip, dport, proto)[0]
            if other_verdict != verdict:
                result["uncertain"].append("incoming interface unknown: zone %s (interfaces %s) would %s"
                                           % (other["name"], " ".join(other["interfaces"]), other_verdict))
            else:
                result["notes"].append("zone %s (by interface) agrees" % other["name"])
    for policy in facts.get("policies") or ():
        acts = (policy.get("rich_rules") or policy.get("ports") or policy.get("services")
                or policy.get("target") not in (None, "CONTINUE"))
        if "HOST" in (policy.get("egress_zones") or ()) and acts:
            result["notes"].append("policy %s toward HOST is not evaluated" % policy["name"])
    if result["uncertain"]:
        result["allowed"] = None
    return result


def _blocking_priority(assessment):
    deciding = assessment.get("deciding") or {}
    if deciding.get("kind") == "rich_rule" and assessment.get("verdict") in ("reject", "drop"):
        return deciding.get("priority", 0)
    return None


def suggest_fix(facts, src, dport, iif=None, proto="tcp", dst=None):
    """The narrowest firewall-cmd change that lets ``src`` reach ``dport``: one rich rule for the
    load balancer's address and the one port, in the zone that applies.

    Returns None when firewalld already accepts or is not running, else ``{tool, zone, rule,
    commands: [runtime argv, permanent argv], summary}``. When a reject/drop rich rule decides,
    the accept rule gets a priority that sorts before it.
    """
    assessment = firewalld_allows(facts, src, dport, iif, proto, dst)
    if not assessment["applies"] or assessment["allowed"] is True or assessment["zone"] is None:
        return None
    address = _address(src)
    family = _family(address)
    prefix = 32 if address.version == 4 else 128
    blocking = _blocking_priority(assessment)
    priority = None
    if blocking is not None:
        priority = min(blocking - 1, -1)
    parts = ["rule"]
    if priority is not None:
        parts.append('priority="%d"' % priority)
    parts.extend(['family="%s"' % family, 'source address="%s/%d"' % (address.compressed, prefix),
                  'port port="%d" protocol="%s"' % (dport, proto), "accept"])
    rule = " ".join(parts)
    zone = assessment["zone"]
    runtime = ["firewall-cmd", "--zone=%s" % zone, "--add-rich-rule=%s" % rule]
    permanent = ["firewall-cmd", "--permanent", "--zone=%s" % zone, "--add-rich-rule=%s" % rule]
    return {"tool": "firewall-cmd", "zone": zone, "rule": rule, "commands": [runtime, permanent],
            "summary": "accept %s/%d from %s in zone %s (%s)" % (proto, dport, address.compressed, zone,
                                                                 assessment["zone_reason"])}
