"""Bring up lab/scenarios/minimal.yml for real, use it (ssh, HAProxy's runtime API, exec to repair and
re-inject a fault), then take it down and look for anything left behind.

Runs as root with LBDOCTOR_LAB=1. Its own prefix and subnet, so a demo lab (lbd, 198.18.0.0/24) or the
molecule lab (lbm, 198.18.1.0/24) can stay up beside it.
"""

import csv
import io
import json
import os
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(REPO, "lab", "lab.py")
SCENARIO = os.path.join(REPO, "lab", "scenarios", "minimal.yml")
PREFIX = "lbt"
SUBNET = "198.18.7.0/24"
sys.path.insert(0, os.path.join(REPO, "lab"))


def lab(state, *args, check=True, input_text=None, env=None, timeout=300):
    argv = [sys.executable, LAB, "--state", str(state), "--prefix", PREFIX, "--subnet", SUBNET] + list(args)
    proc = subprocess.run(argv, input=input_text, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})), check=False)
    if check and proc.returncode != 0:
        pytest.fail("lab.py %s failed (rc=%d):\n%s\n%s" % (" ".join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc


def show_stat(state):
    proc = lab(state, "exec", "lb", "--", "socat", "-t", "2", "stdio", "unix-connect:/run/haproxy/admin.sock",
               input_text="show stat\n")
    assert proc.stdout.startswith("# pxname,svname,"), proc.stdout[:200]
    return {r["svname"]: r for r in csv.DictReader(io.StringIO(proc.stdout[2:])) if r["pxname"] == "web"}


def wait_status(state, server, want, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        row = show_stat(state)[server]
        if row["status"] == want or time.monotonic() > deadline:
            return row
        time.sleep(0.3)


def leftovers(state):
    from labkit import lifecycle

    found = lifecycle.leftovers(PREFIX)
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    found += ["netns " + line for line in netns.splitlines() if line.startswith(PREFIX + "-")]
    with open("/proc/self/mountinfo") as handle:
        found += ["mount " + line for line in handle if str(state) in line or " %s-" % PREFIX in line]
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    found += ["process " + line for line in ps.splitlines() if "--machine=%s-" % PREFIX in line]
    if os.path.exists(str(state)):
        found.append("state dir %s" % state)
    return found


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    state = tmp_path_factory.mktemp("lab") / "state"
    started = time.monotonic()
    lab(state, "up", SCENARIO)
    print("up took %.1fs" % (time.monotonic() - started))
    with open(os.path.join(str(state), "scenario.json")) as handle:
        scenario = json.load(handle)
    yield state, scenario
    lab(state, "down", check=False)


def test_scenario_json_describes_the_running_lab(up):
    state, scenario = up
    assert scenario["prefix"] == PREFIX and scenario["subnet"] == SUBNET
    assert [(h["name"], h["role"], h["address"]) for h in scenario["hosts"]] == [
        ("lb", "lb", "198.18.7.2"), ("web1", "backend", "198.18.7.3"), ("web2", "backend", "198.18.7.4")]
    assert [(s["name"], s["expect"]) for s in scenario["servers"]] == [("web1", "healthy"), ("web2", "service_stopped")]
    inventory = open(scenario["inventory"]).read()
    assert "[haproxy]\nlb ansible_host=198.18.7.2\n" in inventory and "[backends]\n" in inventory


def test_ssh_reaches_every_host(up):
    state, scenario = up
    for host in scenario["hosts"]:
        proc = subprocess.run(["ssh", "-F", scenario["ssh_config"], "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                               host["name"], "hostname; systemctl is-system-running"],
                              capture_output=True, text=True, timeout=30, check=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == [host["name"], "running"]


def test_haproxy_show_stat_answers_through_the_admin_socket(up):
    state = up[0]
    rows = show_stat(state)
    assert rows["web1"]["status"] == "UP" and rows["web1"]["check_status"] == "L4OK"
    assert rows["web2"]["status"] == "DOWN" and rows["web2"]["check_status"] == "L4CON"
    assert rows["web2"]["last_chk"] == "Connection refused"


def test_no_namespace_has_a_route_out(up):
    """Test traffic stays between the lab's namespaces: in every one of them, IPv4 routes only the
    lab's subnet and IPv6 only its link-local one; no default route in either family."""
    _state, scenario = up

    def routes(netns, family):
        out = subprocess.run(["ip", "-n", netns, family, "-j", "route", "show", "table", "main"], capture_output=True,
                             text=True, check=True).stdout
        return [r["dst"] for r in json.loads(out or "[]")]

    for netns in [h["netns"] for h in scenario["hosts"]] + [scenario["bridge"]["netns"]]:
        assert all(dst == SUBNET for dst in routes(netns, "-4")), (netns, routes(netns, "-4"))
        assert all(dst == "fe80::/64" for dst in routes(netns, "-6")), (netns, routes(netns, "-6"))


def test_status_reports_everything_running(up):
    state = up[0]
    proc = lab(state, "status")
    assert "web2 " in proc.stdout and "service_stopped" in proc.stdout


def test_exec_repairs_and_reinjects_a_fault(up):
    state = up[0]
    lab(state, "exec", "web2", "--", "systemctl", "start", "app-8080.service")
    assert wait_status(state, "web2", "UP")["status"] == "UP"
    lab(state, "exec", "web2", "--", "systemctl", "stop", "app-8080.service")
    assert wait_status(state, "web2", "DOWN")["status"] == "DOWN"


def test_exec_passes_the_exit_status_through(up):
    state = up[0]
    assert lab(state, "exec", "web1", "--", "sh", "-c", "exit 7", check=False).returncode == 7


def test_up_again_replaces_the_running_lab(up):
    state, scenario = up
    before = json.load(open(os.path.join(str(state), "lab.json")))["hosts"]["lb"]["nspawn_pid"]
    lab(state, "up", SCENARIO)
    after = json.load(open(os.path.join(str(state), "lab.json")))["hosts"]["lb"]["nspawn_pid"]
    assert before != after
    assert show_stat(state)["web1"]["status"] == "UP"


def test_down_leaves_nothing_and_is_idempotent(up):
    state = up[0]
    lab(state, "down")
    assert leftovers(state) == []
    lab(state, "down")
    assert leftovers(state) == []
    assert lab(state, "status", check=False).returncode == 3


@pytest.mark.parametrize("point", ["network", "boot"])
def test_a_failed_up_cleans_up_after_itself(tmp_path, point):
    state = tmp_path / "state"
    proc = lab(state, "up", SCENARIO, check=False, env={"LBDOCTOR_LAB_FAIL_AT": point})
    assert proc.returncode != 0
    assert "failing on purpose at %s" % point in proc.stderr
    assert leftovers(state) == []
