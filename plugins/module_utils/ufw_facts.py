# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ufw facts: whether ufw is active, its default policies and its rules in order.

Parsers are pure functions over ``ufw status verbose`` and the rule files ufw writes
(/etc/ufw/user.rules and user6.rules, whose ``### tuple ###`` lines carry each rule exactly as
ufw stores it: src/backend_iptables.py in ufw), /etc/default/ufw and /etc/ufw/ufw.conf. Errors
name the source and the line. ``collect_ufw(run, read)`` prefers the files (exact ports, order,
interfaces) and takes activity and defaults from ``ufw status verbose`` when it can run it.
Standard library only (Python 3.8+).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import errno
import re

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.collect_io import (
    command_text as _cmd,
    os_reason as _reason,
    read_text as _read,
    run_tool as _run,
)

USER_RULES = "/etc/ufw/user.rules"
USER6_RULES = "/etc/ufw/user6.rules"
DEFAULTS_FILE = "/etc/default/ufw"
UFW_CONF = "/etc/ufw/ufw.conf"
ACTIONS = ("allow", "deny", "reject", "limit")


class UfwParseError(ValueError):
    """ufw text that cannot be read; names the source and line."""

    def __init__(self, source, lineno, message):
        self.source = source
        self.lineno = lineno
        super(UfwParseError, self).__init__("%s:%d: %s" % (source, lineno, message))


# ---------------------------------------------------------------------------------------------
# ufw status verbose

_STATUS_ACTION_RE = re.compile(r"\s(ALLOW|DENY|REJECT|LIMIT)(?:\s(IN|OUT|FWD))?(?=\s)")
_DEFAULT_RE = re.compile(r"(\w+) \((incoming|outgoing|routed)\)")
_ON_IFACE_RE = re.compile(r"\son (\S+)")


def _status_side(text):
    """One side of a status row ("22/tcp (v6)", "192.168.0.0/24 8080:8081 on en0", "Apache Full")."""
    side = {"text": text, "address": None, "port": None, "proto": None, "app": None, "interface": None,
            "v6": False}
    match = _ON_IFACE_RE.search(" " + text)
    if match:
        side["interface"] = match.group(1)
        text = (" " + text)[:match.start()] + (" " + text)[match.end():]
        text = text.strip()
    if text.endswith("(v6)"):
        side["v6"] = True
        text = text[:-4].strip()
    words = text.split()
    if not words:
        return side
    first = words[0]
    if first == "Anywhere":
        side["address"] = "any"
        words = words[1:]
    elif re.match(r"^[0-9a-fA-F:.]+(?:/\d+)?$", first) and ("." in first or ":" in first) \
            and not re.match(r"^\d+(?::\d+)?(?:/\w+)?$", first):
        side["address"] = first
        words = words[1:]
    rest = " ".join(words)
    if not rest:
        return side
    match = re.match(r"^([0-9,:]+)(?:/(tcp|udp))?$", rest)
    if match:
        side["port"] = match.group(1)
        side["proto"] = match.group(2)
    else:
        side["app"] = rest
    return side


def parse_ufw_status(text, source="ufw status verbose"):
    """``ufw status [verbose|numbered]`` -> ``{active, logging, defaults, new_profiles, rules}``.

    ``defaults`` is ``{incoming, outgoing, routed}`` (verbose only); ``rules`` are in listed order,
    each ``{number, to, action, direction, from, comment, v6}`` where ``to``/``from`` are
    ``{text, address, port, proto, app, interface, v6}``; ``number`` is the position that
    ``ufw status numbered`` / ``ufw insert`` use.
    """
    result = {"active": None, "logging": None, "defaults": {}, "new_profiles": None, "rules": []}
    in_table = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip():
            continue
        if not in_table:
            key, sep, value = line.partition(":")
            key = key.strip()
            if key == "Status" and sep:
                result["active"] = value.strip() == "active"
            elif key == "Logging" and sep:
                result["logging"] = value.strip()
            elif key == "Default" and sep:
                result["defaults"] = dict((m.group(2), m.group(1)) for m in _DEFAULT_RE.finditer(value))
            elif key == "New profiles" and sep:
                result["new_profiles"] = value.strip()
            elif line.split()[:3] == ["To", "Action", "From"]:
                in_table = True
            else:
                raise UfwParseError(source, lineno, "not a ufw status line: %r" % line[:80])
            continue
        if set(line.replace(" ", "")) <= set("-"):
            continue
        numbered = re.match(r"^\[\s*(\d+)\]\s*(.*)$", line)
        body = numbered.group(2) if numbered else line
        comment = None
        if "#" in body:
            body, _sep, comment = body.partition("#")
            comment = comment.strip()
        match = _STATUS_ACTION_RE.search(" " + body + " ")
        if not match:
            raise UfwParseError(source, lineno, "no ALLOW/DENY/REJECT/LIMIT in rule: %r" % line[:80])
        padded = " " + body + " "
        to_text = padded[:match.start()].strip()
        from_text = padded[match.end():].strip()
        to_side = _status_side(to_text)
        from_side = _status_side(from_text)
        result["rules"].append({
            "number": int(numbered.group(1)) if numbered else len(result["rules"]) + 1,
            "to": to_side, "from": from_side,
            "action": match.group(1).lower(), "direction": (match.group(2) or "IN").lower(),
            "comment": comment, "v6": to_side["v6"] or from_side["v6"], "line": lineno})
    if result["active"] is None:
        raise UfwParseError(source, 1, "no 'Status:' line")
    return result


# ---------------------------------------------------------------------------------------------
# user.rules / user6.rules

def _hex_comment(value):
    try:
        return binascii.unhexlify(value.strip()).decode("utf-8", "replace")
    except (binascii.Error, TypeError, ValueError):
        return value.strip()


def parse_user_rules(text, source=USER_RULES, v6=False):
    """The ``### tuple ###`` lines of user.rules / user6.rules, in file order.

    Each rule: ``{action, log, route, proto, dport, dst, sport, src, dapp, sapp, direction,
    interface_in, interface_out, comment, v6, line}`` with ports as ufw writes them ("any", "22",
    "137,138", "50200:50300") and addresses as CIDR strings ("0.0.0.0/0", "::/0").
    """
    rules = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.startswith("### tuple ###"):
            continue
        body = line[len("### tuple ###"):]
        comment = None
        if " comment=" in body:
            body, hexed = body.split(" comment=", 1)
            comment = _hex_comment(hexed)
        fields = body.split()
        if len(fields) < 6 or len(fields) > 9:
            raise UfwParseError(source, lineno, "tuple has %d fields, expected 6 to 9: %r" % (len(fields), line[:100]))
        action = fields[0]
        route = False
        if ":" in action:
            route = True
            action = action.split(":", 1)[1]
        action, _sep, log = action.partition("_")
        if action not in ACTIONS:
            raise UfwParseError(source, lineno, "unknown action %r" % fields[0])
        direction, interface_in, interface_out = "in", None, None
        if len(fields) in (7, 9):
            ifaces = fields[-1]
            direction = ifaces.split("_")[0]
            for part in ifaces.split("!"):
                kind, sep, name = part.partition("_")
                if sep and kind == "in":
                    interface_in = name
                elif sep and kind == "out":
                    interface_out = name
            if direction not in ("in", "out"):
                raise UfwParseError(source, lineno, "unknown direction %r" % ifaces)
        dapp = sapp = None
        if len(fields) >= 8:
            dapp = None if fields[6] == "-" else fields[6].replace("%20", " ")
            sapp = None if fields[7] == "-" else fields[7].replace("%20", " ")
        rules.append({"action": action, "log": log or None, "route": route, "proto": fields[1],
                      "dport": fields[2], "dst": fields[3], "sport": fields[4], "src": fields[5],
                      "dapp": dapp, "sapp": sapp, "direction": direction, "interface_in": interface_in,
                      "interface_out": interface_out, "comment": comment, "v6": bool(v6), "line": lineno})
    return rules


def parse_shell_vars(text, source):
    """KEY="value" files (/etc/default/ufw, /etc/ufw/ufw.conf)."""
    values = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.match(r"^[A-Z_][A-Z0-9_]*$", key):
            raise UfwParseError(source, lineno, "not KEY=value: %r" % line[:80])
        values[key] = value.strip().strip('"').strip("'")
    return values


_POLICY_WORDS = {"DROP": "deny", "REJECT": "reject", "ACCEPT": "allow"}


# ---------------------------------------------------------------------------------------------
# Collection


def collect_ufw(run, read, not_loaded=None):
    """The ``ufw`` facts (docs/firewalld_ufw.md): ``{installed, active, active_source, logging,
    defaults, rules, user_rules, rules_source, unavailable}``.

    ``user_rules`` (from the files) are numbered as ``ufw status numbered`` numbers them: the
    IPv4 rules, then the IPv6 ones. ``not_loaded``: why the kernel's rulesets show ufw is
    inactive (its user chain is not there, which is what ``ufw status`` checks); ``ufw status``
    is then not asked, and the rule files are still read.
    """
    facts = {"installed": None, "active": None, "active_source": None, "logging": None, "defaults": {},
             "rules": [], "user_rules": [], "rules_source": None, "unavailable": []}

    def unavailable(what, reason, source):
        facts["unavailable"].append({"what": what, "reason": reason, "source": source})

    argv = ["ufw", "status", "verbose"]
    result = None if not_loaded else _run(run, argv)
    if not_loaded:
        facts.update(active=False, active_source=not_loaded)
    elif result is None:
        facts["installed"] = False
    else:
        facts["installed"] = True
        rc, out, err = result
        if rc == 0:
            try:
                status = parse_ufw_status(out, "ufw status verbose")
                facts.update(active=status["active"], active_source="ufw status verbose",
                             logging=status["logging"], defaults=status["defaults"], rules=status["rules"])
            except UfwParseError as exc:
                unavailable("ufw.status", str(exc), " ".join(argv))
        else:
            unavailable("ufw.status", "rc=%d: %s" % (rc, (err or out).strip()[:200]), " ".join(argv))
    if facts["active"] is None:
        text, exc = _read(read, UFW_CONF)
        if text is not None:
            try:
                enabled = parse_shell_vars(text, UFW_CONF).get("ENABLED")
                facts["active"] = enabled == "yes"
                facts["active_source"] = UFW_CONF
                facts["installed"] = True
            except UfwParseError as err:
                unavailable("ufw.active", str(err), UFW_CONF)
        elif getattr(exc, "errno", None) == errno.ENOENT:
            if facts["installed"] is False:
                facts["active"] = False
                return facts
            unavailable("ufw.active", _reason(exc), UFW_CONF)
        else:
            unavailable("ufw.active", _reason(exc), UFW_CONF)
    if not facts["defaults"]:
        text, exc = _read(read, DEFAULTS_FILE)
        if text is not None:
            try:
                values = parse_shell_vars(text, DEFAULTS_FILE)
                for key, name in (("DEFAULT_INPUT_POLICY", "incoming"), ("DEFAULT_OUTPUT_POLICY", "outgoing"),
                                  ("DEFAULT_FORWARD_POLICY", "routed")):
                    if key in values:
                        facts["defaults"][name] = _POLICY_WORDS.get(values[key], values[key].lower())
            except UfwParseError as err:
                unavailable("ufw.defaults", str(err), DEFAULTS_FILE)
        else:
            unavailable("ufw.defaults", _reason(exc), DEFAULTS_FILE)
    sources = []
    for path, v6 in ((USER_RULES, False), (USER6_RULES, True)):
        text, exc = _read(read, path)
        if text is None:
            if not (v6 and getattr(exc, "errno", None) == errno.ENOENT):
                unavailable("ufw.rules", _reason(exc), path)
            continue
        try:
            facts["user_rules"].extend(parse_user_rules(text, path, v6))
            sources.append(path)
        except UfwParseError as err:
            unavailable("ufw.rules", str(err), path)
    for number, rule in enumerate(facts["user_rules"], 1):
        rule["number"] = number
    facts["rules_source"] = sources
    return facts
