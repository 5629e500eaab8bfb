# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Speed of the HAProxy parsers and of the TCP prober on large inputs.

* ``config``: parse_config() on a generated configuration with SERVERS servers (100 backends,
  default-server inheritance, check/port/inter keywords, a few quoted ${VAR} addresses);
  targets: under 0.5 s for 10,000 servers.
* ``stat``: parse_show_stat() on a generated `show stat` dump of ROWS server rows with the
  129-column header of HAProxy 2.6.12 (module counters after '-'); target: under 0.2 s for
  10,000 rows. Twice: one sample row repeated (status and check status varied), and with every
  counter different per row (the worst case for the per-column conversion).
* ``probe``: probe() of PROBES targets on 127.0.0.1 ports nobody listens on (bound then closed,
  so refused at once) with the default concurrency, then the same against a listener whose
  accept queue is full (SYNs dropped: every probe times out); target: about one connect
  timeout plus one second for 1,000 probes.

Everything stays on loopback. Usage:

    .venv/bin/python benchmarks/bench_haproxy.py [--servers 10000] [--rows 10000] [--probes 1000]
        [--timeout 2.0] [--rounds 5] [--only config|stat|probe ...]

Prints the figures (best and median of the rounds); they go to docs/haproxy_facts.md. This is
not a test and asserts nothing.
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import platform
import sys

from _bench_common import REPO, import_collection, timed

import_collection()

# pylint: disable=wrong-import-position
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_config import parse_config  # noqa: E402
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_runtime import parse_show_stat  # noqa: E402
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.tcp_probe import probe, summarize  # noqa: E402
from loopback_sockets import close_dropping_listener, closed_ports, dropping_listener  # noqa: E402

HEADER_26 = os.path.join(REPO, "tests", "unit", "fixtures", "haproxy", "hap26-stat.csv")


def make_config(servers, per_backend=100):
    lines = ["global", "    stats socket /run/haproxy/admin.sock mode 660 level admin", "",
             "defaults", "    mode http", "    timeout connect 5s", "    default-server inter 3s fall 3 rise 2", ""]
    backends = max(1, servers // per_backend)
    n = 0
    for b in range(backends):
        lines.append("backend be_%d" % b)
        lines.append("    option httpchk GET /health")
        lines.append("    default-server check maxconn 100")
        for s in range(per_backend):
            if n >= servers:
                break
            a, c = divmod(n, 250)
            if s % 10 == 9:
                lines.append('    server srv%d "${APP_NET}.%d.%d:8080" check port 9200 inter 1s  # env' % (n, a, c + 1))
            else:
                lines.append("    server srv%d 10.%d.%d.%d:8080 weight 10 backup" % (n, a // 250, a % 250, c + 1)
                             if s % 25 == 24 else
                             "    server srv%d 10.%d.%d.%d:8080 cookie s%d" % (n, a // 250, a % 250, c + 1, n))
            n += 1
        lines.append("")
    return "\n".join(lines) + "\n"


# counters that differ from server to server on a busy HAProxy
VARIED_COUNTERS = frozenset(("stot", "bin", "bout", "econ", "eresp", "wretr", "wredis", "chkfail", "chkdown",
                             "lastchg", "downtime", "lbtot", "cli_abrt", "srv_abrt", "lastsess", "qtime",
                             "ctime", "rtime", "ttime", "check_duration", "conn_tot", "connect", "reuse",
                             "qtime_max", "ctime_max", "rtime_max", "ttime_max", "req_tot", "smax", "rate_max"))


def make_stat(rows, per_backend=100, varied=False):
    """``varied``: every integer cell of a row differs from the other rows' (counters of a real
    busy HAProxy), not one sample row's values repeated."""
    with open(HEADER_26) as handle:
        text = handle.read()
    header = text.splitlines()[0]
    sample = [line for line in text.splitlines() if line.startswith("app,refused1,")][0].split(",")
    names = header.lstrip("# ").split(",")
    counters = [j for j, name in enumerate(names) if name in VARIED_COUNTERS or name.startswith("hrsp_")]
    out = [header]
    for i in range(rows):
        row = list(sample)
        if varied:
            for j in counters:
                row[j] = str((int(row[j]) if row[j].isdigit() else 0) + i * 7 + j)
        row[0] = "be_%d" % (i // per_backend)
        row[1] = "srv%d" % i
        row[17] = ("UP", "DOWN", "UP 1/3", "MAINT", "DRAIN")[i % 5]
        row[36] = ("L4OK", "L4CON", "* L4CON", "", "L4OK")[i % 5]
        out.append(",".join(row))
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=10000)
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=("config", "stat", "probe"), action="append",
                        help="run only these parts (repeatable); default: all")
    args = parser.parse_args()
    parts = set(args.only or ("config", "stat", "probe"))

    print("python %s on %s, %d CPUs, load average %.2f"
          % (platform.python_version(), platform.platform(), os.cpu_count() or 0, os.getloadavg()[0]))
    if "config" in parts:
        bench_config(args)
    if "stat" in parts:
        bench_stat(args)
    if "probe" in parts:
        bench_probe(args)
    return 0


def bench_config(args):
    text = make_config(args.servers)
    env = {"APP_NET": "10.200"}
    best, median, conf = timed(lambda: parse_config([("/etc/haproxy/haproxy.cfg", text)], env=env), args.rounds)
    count = sum(len(b["servers"]) for b in conf["backends"])
    print("config: %d servers, %d lines, %d KB: best %.3f s, median %.3f s (CPU %.3f / %.3f s) (%d errors)"
          % ((count, text.count("\n"), len(text) // 1024, best, median) + timed.cpu + (len(conf["errors"]),)))


def bench_stat(args):
    for varied in (False, True):
        stat_text = make_stat(args.rows, varied=varied)
        best, median, stat = timed(lambda: parse_show_stat(stat_text), args.rounds)
        print("show stat%s: %d rows x %d columns, %d KB: best %.3f s, median %.3f s (CPU %.3f / %.3f s)"
              % ((" (varied counters)" if varied else "", len(stat["servers"]),
                  len(stat_text.splitlines()[0].split(",")), len(stat_text) // 1024, best, median) + timed.cpu))


def bench_probe(args):
    ports = closed_ports(args.probes)
    targets = [{"address": "127.0.0.1", "port": p} for p in ports]
    best, median, results = timed(lambda: probe(targets, timeout=args.timeout), args.rounds)
    # the default concurrency is every target at once now; benchmarks/bench_probe.py measures it in full
    print("probe refused: %d targets, default concurrency, timeout %.1f s: best %.3f s, median %.3f s %s"
          % (len(targets), args.timeout, best, median, summarize(results)))

    # every SYN dropped: a listener that never accepts, its queue filled first
    sink, fillers, port = dropping_listener(settle=0.2)
    targets = [{"address": "127.0.0.1", "port": port}] * args.probes
    for concurrency in (64, args.probes):
        best, median, results = timed(lambda: probe(targets, timeout=args.timeout, concurrency=concurrency), 1)
        print("probe timeout: %d targets, concurrency %d, timeout %.1f s: %.3f s %s"
              % (len(targets), concurrency, args.timeout, best, summarize(results)))
    close_dropping_listener(sink, fillers)


if __name__ == "__main__":
    sys.exit(main())
