# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse the kernel's TCP socket tables (/proc/net/tcp and /proc/net/tcp6).

Pure functions over text, so the same code serves a live host and a file a user pastes.
Standard library only: this runs on managed hosts (Python 3.8+).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct
import sys

TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
    "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
    "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING", "0C": "NEW_SYN_RECV",
}


class ProcNetParseError(ValueError):
    """A line of a /proc/net/tcp table that cannot be read; names the source and line."""

    def __init__(self, source, lineno, message):
        self.source = source
        self.lineno = lineno
        super(ProcNetParseError, self).__init__("%s:%d: %s" % (source, lineno, message))


def _decode_address(hex_address, byteorder):
    """The kernel prints each 32-bit word of the address in host byte order."""
    fmt = "<I" if byteorder == "little" else ">I"
    words = [int(hex_address[i:i + 8], 16) for i in range(0, len(hex_address), 8)]
    packed = b"".join(struct.pack(fmt, word) for word in words)
    if len(packed) == 4:
        return "ipv4", socket.inet_ntop(socket.AF_INET, packed)
    if len(packed) == 16:
        return "ipv6", socket.inet_ntop(socket.AF_INET6, packed)
    raise ValueError("address %r is neither 4 nor 16 bytes" % hex_address)


def parse_proc_net_tcp(text, source="/proc/net/tcp", byteorder=None, states=("LISTEN",)):
    """Return the sockets of a /proc/net/tcp or tcp6 table as dicts.

    Each dict has family, address, port, state, uid and inode. ``states`` filters by state
    name (None keeps all). ``byteorder`` is the byte order of the machine that produced the
    text: the local one by default, which is right for a live read.
    """
    byteorder = byteorder or sys.byteorder
    wanted_codes = None
    if states is not None:
        wanted_codes = set(code for code, name in TCP_STATES.items() if name in states)
    decoded = {}  # many sockets share an address (0.0.0.0, ::, 127.0.0.1): decode each once
    sockets = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] == "sl":
            continue
        if len(fields) < 10 or not fields[0].endswith(":"):
            raise ProcNetParseError(source, lineno, "not a socket table row: %r" % line.strip()[:80])
        code = fields[3].upper()
        if wanted_codes is not None and code not in wanted_codes and code not in states:
            continue
        try:
            hex_address, hex_port = fields[1].split(":")
            if hex_address not in decoded:
                decoded[hex_address] = _decode_address(hex_address, byteorder)
            family, address = decoded[hex_address]
            sockets.append({
                "family": family,
                "address": address,
                "port": int(hex_port, 16),
                "state": TCP_STATES.get(code, fields[3]),
                "uid": int(fields[7]),
                "inode": int(fields[9]),
            })
        except ValueError as exc:
            raise ProcNetParseError(source, lineno, str(exc))
    return sockets
