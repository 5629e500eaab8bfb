# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Speed of the TCP prober (plugins/module_utils/tcp_probe.py) on many targets, at its default
concurrency (every target at once, within the open-file limit).

* ``refused``: PROBES targets on 127.0.0.1 ports nobody listens on (bound then closed, so
  refused at once);
* ``timeout``: PROBES targets on a 127.0.0.1 listener that never accepts, its accept queue
  filled first, so the kernel drops every further SYN (a DROP without leaving the host);
  also with an explicit ``concurrency=64`` (the old default) for comparison;
* ``http``: PROBES targets with an HTTP check (``GET /health``, ``expect status 200-399``,
  ``expect string OK``) against a small selector-based HTTP responder on 127.0.0.1.

Target of issue 3: 1,000 servers probed in about one connect timeout plus one second. Every
socket stays on loopback. Usage:

    .venv/bin/python benchmarks/bench_probe.py [--probes 1000] [--timeout 2.0] [--rounds 5]

Prints the figures (best and median of the rounds); they go to docs/haproxy_facts.md. This is
not a test and asserts nothing.
"""

from __future__ import absolute_import, division, print_function

import argparse
import multiprocessing
import os
import platform
import selectors
import socket
import sys

from _bench_common import import_collection, timed

import_collection()

# pylint: disable=wrong-import-position
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.tcp_probe import (  # noqa: E402
    effective_concurrency, probe, summarize,
)
from loopback_sockets import close_dropping_listener, closed_ports, dropping_listener  # noqa: E402


class Responder(object):
    """A child process with one selector: answers every request with 200 and a body containing
    OK. A separate process, so that its accepted sockets do not count against the probe's
    open-file limit."""

    ANSWER = b"HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nstatus: OK"

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.child = multiprocessing.get_context("fork").Process(target=self.serve)
        self.child.daemon = True
        self.child.start()

    def serve(self):
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, None)
        buffers = {}
        while True:
            for key, _mask in sel.select(0.1):
                if key.data is None:
                    try:
                        conn, _addr = self.sock.accept()
                    except OSError:
                        continue
                    conn.setblocking(False)
                    buffers[conn] = b""
                    sel.register(conn, selectors.EVENT_READ, "conn")
                    continue
                conn = key.fileobj
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                buffers[conn] += data
                if b"\r\n\r\n" in buffers[conn] or not data:
                    if data:
                        try:
                            conn.send(self.ANSWER)
                        except OSError:
                            pass
                    sel.unregister(conn)
                    del buffers[conn]
                    conn.close()

    def close(self):
        self.child.terminate()
        self.child.join()
        self.sock.close()


def report(what, count, concurrency, timeout, best, median, results, extra=""):
    print("%-8s %d targets, concurrency %d, timeout %.1f s: best %.3f s, median %.3f s %s%s" % (
        what, count, concurrency, timeout, best, median, summarize(results), extra))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    default = effective_concurrency(args.probes)
    print("python %s on %s, %d CPUs, load average %.2f; default concurrency for %d targets: %d" % (
        platform.python_version(), platform.platform(), os.cpu_count() or 0, os.getloadavg()[0], args.probes, default))

    targets = [{"address": "127.0.0.1", "port": p} for p in closed_ports(args.probes)]
    best, median, results = timed(lambda: probe(targets, timeout=args.timeout), args.rounds)
    report("refused", len(targets), default, args.timeout, best, median, results)

    sink, fillers, port = dropping_listener(settle=0.2)
    try:
        targets = [{"address": "127.0.0.1", "port": port}] * args.probes
        best, median, results = timed(lambda: probe(targets, timeout=args.timeout), args.rounds)
        report("timeout", len(targets), default, args.timeout, best, median, results)
        best, median, results = timed(lambda: probe(targets, timeout=args.timeout, concurrency=64), 1)
        report("timeout", len(targets), 64, args.timeout, best, median, results)
    finally:
        close_dropping_listener(sink, fillers)

    responder = Responder()
    try:
        check = {"method": "GET", "uri": "/health", "expect": ["status 200-399", "string OK"]}
        targets = [{"address": "127.0.0.1", "port": responder.port, "http_check": check}] * args.probes
        best, median, results = timed(lambda: probe(targets, timeout=args.timeout), args.rounds)
        verdicts = {}
        for entry in results:
            verdicts[entry["http"]["result"]] = verdicts.get(entry["http"]["result"], 0) + 1
        report("http", len(targets), default, args.timeout, best, median, results, " http %s" % verdicts)
    finally:
        responder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
