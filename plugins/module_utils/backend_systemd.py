# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""systemd facts for the units that serve (or should serve) a port.

* ``validate_unit_name``: strict check of user-supplied unit names (they end up in argv).
* ``parse_systemctl_show``: the blank-line-separated blocks of ``systemctl show -p ... u1 u2``.
* ``parse_journal``: ``journalctl -o short-iso`` lines without the ``-- ... --`` markers.
* ``listen_addresses`` / ``ports_in_text``: which ports a socket unit or a service's
  ExecStart/Environment mentions.
* ``show_argv`` / ``journal_argv``: the exact command lines.

Pure functions; the orchestrator (backend_collect) runs the commands. Standard library only,
Python 3.8+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

SYSTEMCTL = "systemctl"
JOURNALCTL = "journalctl"
# Properties asked for every unit, in one `systemctl show` call. Id names the block.
SHOW_PROPERTIES = (
    "Id", "Names", "LoadState", "ActiveState", "SubState", "Result", "ExecMainStatus",
    "ExecMainCode", "ExecMainPID", "MainPID", "NRestarts", "UnitFileState", "FragmentPath",
    "Triggers", "TriggeredBy", "ActiveEnterTimestamp", "InactiveEnterTimestamp",
    "StateChangeTimestamp", "Listen", "ExecStart", "Environment", "User", "Description",
)
INT_PROPERTIES = frozenset(("ExecMainStatus", "ExecMainCode", "ExecMainPID", "MainPID", "NRestarts"))
LIST_PROPERTIES = frozenset(("Triggers", "TriggeredBy", "Names"))
REPEATED_PROPERTIES = frozenset(("Listen", "ExecStart"))
UNIT_TYPES = ("service", "socket", "scope", "slice", "target", "timer", "mount", "path", "swap",
              "automount", "device")
# systemd.unit(5): "valid characters are ASCII letters, digits, ':', '-', '_', '.', and '\'",
# at most 255 characters; '@' separates a template from its instance.
_UNIT_NAME_RE = re.compile(r"^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?\.(%s)$" % "|".join(UNIT_TYPES))
_BARE_NAME_RE = re.compile(r"^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?$")
_LISTEN_RE = re.compile(r"^(.*?)\s+\(([A-Za-z]+)\)$")


class UnitNameError(ValueError):
    """A unit name that systemd would not accept (or that could be read as an option)."""


def validate_unit_name(name):
    """Return the unit name, ``.service`` appended when it has no type; raise UnitNameError."""
    if not isinstance(name, str) or not name:
        raise UnitNameError("unit name must be a non-empty string: %r" % (name,))
    if name.startswith("-") or name.startswith("."):
        raise UnitNameError("unit name must not start with '-' or '.': %r" % name)
    if not _UNIT_NAME_RE.fullmatch(name):
        if _BARE_NAME_RE.fullmatch(name) and not name.endswith("@"):
            name = name + ".service"
        else:
            raise UnitNameError("invalid unit name %r: systemd allows ASCII letters, digits, "
                                "':', '-', '_', '.', '\\' and one '@', and a type suffix" % name)
    if len(name) > 255:
        raise UnitNameError("unit name longer than 255 characters: %r" % name[:40])
    if "@." in name:
        raise UnitNameError("template unit %r has no instance: name an instance (unit@x.service)" % name)
    return name


def show_argv(units, properties=SHOW_PROPERTIES):
    """``systemctl show`` for all ``units`` (names or glob patterns) in one call.

    ``--all``: without it a glob (``'*.socket'``) matches only active or failed units, and a
    stopped socket unit is exactly what a refusal can be about (verified on systemd 252: 4 vs 9
    socket units on a lab host; ``list-units --all`` lists the same 9).
    """
    return [SYSTEMCTL, "show", "--all", "-p", ",".join(properties), "--"] + list(units)


def journal_argv(unit, lines):
    """The last ``lines`` journal lines of one unit."""
    return [JOURNALCTL, "-u", unit, "-n", str(int(lines)), "-o", "short-iso", "--no-pager"]


def _convert(key, value):
    if key in LIST_PROPERTIES:
        return value.split()
    if value == "":
        # systemd prints unset properties as "KEY=" (e.g. InactiveEnterTimestamp of a unit
        # that never stopped, User of a root service): None, not "".
        return None
    if key in INT_PROPERTIES:
        try:
            return int(value)
        except ValueError:
            return value
    return value


def parse_systemctl_show(text):
    """Parse ``systemctl show`` output into a list of dicts, one per blank-line-separated block.

    Properties listed in REPEATED_PROPERTIES (``Listen``, ``ExecStart``) become lists because a
    unit may have several. Integers and space-separated lists are converted; everything else
    stays the string systemd printed; an empty value is None (an empty list for lists). systemd
    252 prints the type-specific properties (Service/Socket) before ``Id=``: blocks are split on
    blank lines only. Lines without ``=`` are ignored.
    """
    blocks = []
    current = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current = None
            continue
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if current is None:
            current = {}
        if key in REPEATED_PROPERTIES:
            current.setdefault(key, [])
            if value:
                current[key].append(value)
        else:
            current[key] = _convert(key, value)
    if current:
        blocks.append(current)
    return blocks


def parse_journal(text):
    """Journal lines, oldest first, without journalctl's ``-- ... --`` marker lines."""
    return [line for line in text.splitlines()
            if line.strip() and not (line.startswith("-- ") and line.rstrip().endswith("--"))]


def listen_addresses(block):
    """``[{address, kind}]`` of a socket unit's ``Listen=`` values (``[::]:8080 (Stream)``)."""
    result = []
    for value in block.get("Listen") or []:
        match = _LISTEN_RE.match(value.strip())
        if match:
            result.append({"address": match.group(1), "kind": match.group(2)})
        elif value.strip():
            result.append({"address": value.strip(), "kind": None})
    return result


def listen_port(address):
    """The TCP port of a ListenStream address (``8080``, ``0.0.0.0:8080``, ``[::]:8080``,
    ``vsock:2:8080`` excluded) or None for paths and other kinds."""
    address = address.strip()
    if address.startswith("/") or address.startswith("@"):
        return None
    if address.isdigit():
        return int(address)
    match = re.match(r"^(?:\[[^\]]*\](?:%\S+)?|[0-9.]+(?:%\S+)?|\*):(\d+)$", address)
    if match:
        return int(match.group(1))
    return None


def ports_in_text(text, ports):
    """Which of ``ports`` appear in ``text`` as a word of their own (not inside 18080)."""
    found = []
    for port in ports:
        if re.search(r"(?<![0-9])%d(?![0-9])" % int(port), text):
            found.append(int(port))
    return found


def service_command_text(block):
    """The text of a service's ExecStart argv and Environment, for port matching."""
    parts = []
    for exec_start in block.get("ExecStart") or []:
        match = re.search(r"argv\[\]=(.*?) ;", exec_start)
        parts.append(match.group(1) if match else exec_start)
    environment = block.get("Environment")
    if environment:
        parts.append(environment)
    return " ".join(parts)


def needs_journal(block):
    """A unit whose journal explains a refusal: failed, inactive, or restarting."""
    if block.get("LoadState") not in (None, "loaded"):
        return False
    return (block.get("ActiveState") in ("failed", "inactive", "activating", "deactivating")
            or block.get("SubState") == "auto-restart"
            or block.get("Result") not in (None, "success"))
