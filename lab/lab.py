"""lbdoctor lab: HAProxy + backend hosts as systemd-nspawn containers in network namespaces.

  lab.py [--state DIR] [--prefix P] [--subnet CIDR] up SCENARIO.yml
  lab.py [--state DIR] down
  lab.py [--state DIR] status
  lab.py [--state DIR] exec HOST -- ARGV...
  lab.py [--state DIR] inventory | ssh-config | scenario-json
  lab.py [--prefix P] [--subnet CIDR] check SCENARIO.yml     (validate and print the resolved scenario)

See lab/README.md.
"""

import argparse
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from labkit import lifecycle, scenario, util  # noqa: E402
from labkit.errors import LabError  # noqa: E402

DEFAULT_STATE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".lab")


def parser():
    p = argparse.ArgumentParser(prog="lab.py", description="lbdoctor multi-host HAProxy lab")
    p.add_argument("--state", default=DEFAULT_STATE, help="state directory (default: %(default)s)")
    p.add_argument("--prefix", help="name prefix of namespaces, interfaces, machines (default: scenario's, else lbd)")
    p.add_argument("--subnet", help="IPv4 subnet inside 198.18.0.0/15 (default: scenario's, else 198.18.0.0/24)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every command")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build (or reuse) the rootfs and bring the scenario up; an existing lab in --state is torn down first")
    up.add_argument("scenario")
    up.add_argument("--no-settle", action="store_true", help="do not wait for HAProxy's checks to match the expectations")
    up.add_argument("--settle-timeout", type=float, default=30.0)
    sub.add_parser("down", help="tear everything down (idempotent)")
    sub.add_parser("status", help="hosts and HAProxy's view; exit 0 when all is running")
    ex = sub.add_parser("exec", help="run a command inside a lab host: exec HOST -- ARGV...")
    ex.add_argument("host")
    ex.add_argument("argv", nargs=argparse.REMAINDER)
    sub.add_parser("inventory", help="print the Ansible inventory")
    sub.add_parser("ssh-config", help="print an ssh_config for `ssh -F`")
    sub.add_parser("scenario-json", help="print the resolved scenario of the running lab")
    ck = sub.add_parser("check", help="validate a scenario and print it resolved (no root needed)")
    ck.add_argument("scenario")
    return p


def _print_file(state_dir, key):
    lifecycle.require_up(state_dir)
    path = lifecycle.paths(os.path.abspath(state_dir))[key]
    try:
        with open(path) as handle:
            sys.stdout.write(handle.read())
    except OSError as exc:
        raise LabError("%s: %s (is the lab fully up?)" % (path, exc.strerror), 3)
    return 0


def _terminate(signum, frame):
    # SIGTERM (a CI timeout, molecule) unwinds like Ctrl-C, so a half-built lab is torn down.
    raise SystemExit(128 + signum)


def main(argv=None):
    args = parser().parse_args(argv)
    util.VERBOSE = args.verbose
    try:
        if args.command == "up":
            lifecycle.up(args.scenario, args.state, args.prefix, args.subnet,
                         settle=not args.no_settle, settle_timeout=args.settle_timeout)
            return 0
        if args.command == "down":
            took = lifecycle.down(args.state, args.prefix)
            if took:
                util.log("down: nothing left (%.2fs)" % took)
            return 0
        if args.command == "status":
            return lifecycle.status(args.state)
        if args.command == "exec":
            argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
            if not argv:
                raise LabError("exec: give a command: exec HOST -- ARGV...", 2)
            return lifecycle.exec_cmd(args.state, args.host, argv)
        if args.command == "inventory":
            return _print_file(args.state, "inventory")
        if args.command == "ssh-config":
            return _print_file(args.state, "ssh_config")
        if args.command == "scenario-json":
            return _print_file(args.state, "scenario")
        if args.command == "check":
            resolved = scenario.resolve(scenario.load(args.scenario), args.prefix, args.subnet,
                                        source=os.path.abspath(args.scenario))
            print(json.dumps(resolved, indent=2, sort_keys=True))
            return 0
    except LabError as exc:
        print("lab: error: %s" % exc, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
