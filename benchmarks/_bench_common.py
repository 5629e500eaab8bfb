# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What several benchmarks share: importing the collection from this checkout, the unit tests'
loopback helpers (tests/unit/plugins/module_utils/loopback_sockets.py), and the Python source of the
process tree that holds many listening sockets, and timed() for best/median figures. Not a
benchmark itself."""

from __future__ import absolute_import, division, print_function

import gc
import os
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_HELPERS = os.path.join(REPO, "tests", "unit", "plugins", "module_utils")


def import_collection():
    """Make this checkout importable as ``ansible_collections.lbdoctor.haproxy`` (a symlink in a
    temporary tree) and the unit tests' helpers as top-level modules (``loopback_sockets``)."""
    root = tempfile.mkdtemp(prefix="lbdoctor-bench-")
    namespace = os.path.join(root, "ansible_collections", "lbdoctor")
    os.makedirs(namespace)
    os.symlink(REPO, os.path.join(namespace, "haproxy"))
    sys.path.insert(0, root)
    sys.path.append(TEST_HELPERS)


def timed(func, rounds):
    """Best and median wall time of ``rounds`` calls; ``timed.cpu`` keeps the best and median CPU
    time of the process (on a shared machine other jobs stretch wall time more than CPU time)."""
    times = []
    cpu = []
    result = None
    for _i in range(rounds):
        result = None
        gc.collect()
        start = time.perf_counter()
        start_cpu = time.process_time()
        result = func()
        cpu.append(time.process_time() - start_cpu)
        times.append(time.perf_counter() - start)
    timed.cpu = (min(cpu), statistics.median(cpu))
    return min(times), statistics.median(times), result


# Source for ``python -c`` (argv: PROCS SOCKETS BASE_PORT): the parent forks PROCS children; each holds
# its share of SOCKETS listening TCP sockets from BASE_PORT on, on 127.0.0.1, 0.0.0.0 and :: in turn (the
# v6only flag alternating) until it is killed. The children's pids are in ``children``; the caller appends
# how the parent waits.
LISTENER_FORKS = r"""
import os, signal, socket, sys
procs, sockets, base = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
per = [sockets // procs + (1 if i < sockets % procs else 0) for i in range(procs)]
children = []
port = base
for i in range(procs):
    ports = list(range(port, port + per[i]))
    port += per[i]
    pid = os.fork()
    if pid == 0:
        held = []
        for n, p in enumerate(ports):
            kind = n % 3
            if kind == 2:
                s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, p % 2)
                s.bind(("::", p))
            else:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind(("127.0.0.1" if kind == 0 else "0.0.0.0", p))
            s.listen(8)
            held.append(s)
        signal.pause()
        os._exit(0)
    children.append(pid)
"""
