# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Would ufw let the load balancer's SYN reach a backend port, and which ``ufw`` command is the
narrowest fix?

Pure functions over the ``ufw`` facts of ufw_facts.collect_ufw. ufw puts the user rules in the
ufw-user-input chain in the order of user.rules (IPv4) and user6.rules (IPv6); the first rule
that matches decides, and a packet no rule matches meets the default incoming policy. ``limit``
accepts until the rate limit trips. The rules ufw adds itself (before.rules: loopback,
established, ICMP, DHCP) never concern a new TCP connection to a service port.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

VERDICTS = {"allow": "accept", "limit": "accept", "deny": "drop", "reject": "reject"}
ANY_ADDRESSES = ("0.0.0.0/0", "::/0", "any", None)


def _port_matches(spec, dport):
    """``any``, ``22``, ``137,138``, ``50200:50300`` (ufw's notation)."""
    if spec in (None, "any"):
        return True
    for item in spec.split(","):
        low, sep, high = item.partition(":")
        try:
            if sep and int(low) <= dport <= int(high):
                return True
            if not sep and int(low) == dport:
                return True
        except ValueError:
            return None
    return False


def _addr_matches(spec, address):
    if spec in ANY_ADDRESSES:
        return True
    if address is None:
        return None
    try:
        network = ipaddress.ip_network(u"%s" % spec, strict=False)
    except ValueError:
        return None
    return network.version == address.version and address in network


def _combine(*results):
    if any(r is False for r in results):
        return False
    if any(r is None for r in results):
        return None
    return True


def _file_rule_matches(rule, src, dst, dport, proto, iif):
    if rule["route"] or rule["direction"] != "in":
        return False
    if rule["v6"] != (src.version == 6):
        return False
    if rule["proto"] not in ("any", proto):
        return False
    iface = True
    if rule["interface_in"]:
        iface = None if iif is None else rule["interface_in"] == iif
    sport = True if rule["sport"] == "any" else None
    return _combine(_port_matches(rule["dport"], dport), _addr_matches(rule["src"], src),
                    _addr_matches(rule["dst"], dst), iface, sport)


def _status_rule_matches(rule, src, dst, dport, proto, iif):
    if rule["direction"] != "in":
        return False
    if rule["v6"] != (src.version == 6):
        return False
    to_side, from_side = rule["to"], rule["from"]
    if to_side["proto"] not in (None, proto):
        return False
    port = True
    if to_side["app"]:
        port = None  # the application profile's ports are not in the status listing
    elif to_side["port"]:
        port = _port_matches(to_side["port"], dport)
    interface = to_side["interface"] or from_side["interface"]
    iface = True if not interface else (None if iif is None else interface == iif)
    sport = True if not from_side["port"] else None
    return _combine(port, _addr_matches(from_side["address"], src), _addr_matches(to_side["address"], dst),
                    iface, sport)


def _describe(rule):
    if "to" in rule:
        return "%s %s %s from %s" % (rule["to"]["text"], rule["action"].upper(), rule["direction"].upper(),
                                     rule["from"]["text"])
    app = " (%s)" % rule["dapp"] if rule["dapp"] else ""
    return "%s %s %s port %s from %s%s" % (rule["action"], rule["direction"], rule["proto"], rule["dport"],
                                           rule["src"], app)


def ufw_allows(facts, src, dport, iif=None, proto="tcp", dst=None):
    """Does ufw accept a new ``proto`` connection from ``src`` to local ``dport``?

    Returns ``{applies, allowed, verdict, deciding, uncertain}``; ``deciding`` is ``{kind:
    rule|default|inactive, number, rule, source}`` (``number`` as ``ufw status numbered`` shows
    it). ``allowed`` is None when a rule that could not be decided (unknown interface,
    application profile, source port) comes before the deciding one, or when the default policy
    is unknown.
    """
    result = {"applies": bool(facts.get("active")), "allowed": True, "verdict": "accept", "deciding": None,
              "uncertain": []}
    if not facts.get("active"):
        result["deciding"] = {"kind": "inactive", "number": None, "rule": None, "source": None}
        return result
    src_ip = ipaddress.ip_address(u"%s" % src)
    dst_ip = ipaddress.ip_address(u"%s" % dst) if dst else None
    if facts.get("user_rules"):
        rules, match, source = facts["user_rules"], _file_rule_matches, "user.rules"
    else:
        rules, match, source = facts.get("rules") or [], _status_rule_matches, "ufw status"
    for rule in rules:
        matched = match(rule, src_ip, dst_ip, dport, proto, iif)
        if matched is None:
            result["uncertain"].append("cannot tell whether rule %d applies: %s" % (rule["number"], _describe(rule)))
            continue
        if matched:
            verdict = VERDICTS[rule["action"]]
            result.update(verdict=verdict, allowed=None if result["uncertain"] else verdict == "accept",
                          deciding={"kind": "rule", "number": rule["number"], "rule": _describe(rule),
                                    "action": rule["action"], "source": source})
            return result
    policy = (facts.get("defaults") or {}).get("incoming")
    verdict = VERDICTS.get(policy)
    result.update(verdict=verdict, allowed=None if (result["uncertain"] or verdict is None) else verdict == "accept",
                  deciding={"kind": "default", "number": None, "rule": "default incoming policy %s" % policy,
                            "source": source})
    return result


def suggest_fix(facts, src, dport, iif=None, proto="tcp", dst=None):
    """The narrowest ``ufw`` command that lets ``src`` reach ``dport``: one rule for the load
    balancer's address and one port. Inserted before the rule that denies or rejects; appended
    when only the default policy stands in the way. None when ufw already accepts or is off.

    Returns ``{tool, commands: [argv], summary}``.
    """
    assessment = ufw_allows(facts, src, dport, iif, proto, dst)
    if not assessment["applies"] or assessment["allowed"] is True:
        return None
    address = ipaddress.ip_address(u"%s" % src).compressed
    target = ipaddress.ip_address(u"%s" % dst).compressed if dst else "any"
    tail = ["allow", "from", address, "to", target, "port", str(dport), "proto", proto]
    deciding = assessment["deciding"]
    if deciding["kind"] == "rule" and deciding["action"] in ("deny", "reject"):
        argv = ["ufw", "insert", str(deciding["number"])] + tail
        summary = "allow %s/%d from %s before rule %d (%s)" % (proto, dport, address, deciding["number"],
                                                               deciding["rule"])
    else:
        argv = ["ufw"] + tail
        summary = "allow %s/%d from %s (%s)" % (proto, dport, address, deciding["rule"])
    return {"tool": "ufw", "commands": [argv], "summary": summary}
