"""The container fault for real: a podman container inside a lab host that EXPOSEs its port without
publishing it. HAProxy is refused, the host has no listener on the port, and `down` leaves nothing of
podman behind (its cgroups under the lab's, in every v1 controller hierarchy; conmon and the
container's processes).

Runs as root with LBDOCTOR_LAB=1, with the same prefix and subnet as test_lab_minimal.py (one lab at a
time: that module's lab is down before this one starts).
"""

import csv
import io
import json
import os
import subprocess
import time

from test_lab_minimal import lab, leftovers

SCENARIO = """\
name: container
hosts:
  - {name: lb, role: lb}
  - {name: ctr}
haproxy:
  backends:
    - name: web
      mode: tcp
      servers:
        - {name: ok, host: ctr, port: 8081}
        - {name: unpublished, host: ctr, port: 8080, faults: [container_unpublished]}
"""


def lab_pids(cgroup_dirs):
    """Processes in podman's cgroups below the lab's (libpod_parent/...), in any hierarchy."""
    pids = set()
    for top in cgroup_dirs:
        for root, _dirs, files in os.walk(top):
            if "libpod_parent" in root.split(os.sep) and "cgroup.procs" in files:
                with open(os.path.join(root, "cgroup.procs")) as handle:
                    pids.update(int(x) for x in handle.read().split())
    return pids


def wait_down(state, server, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        proc = lab(state, "exec", "lb", "--", "socat", "-t", "2", "stdio", "unix-connect:/run/haproxy/admin.sock",
                   input_text="show stat\n")
        rows = dict((r["svname"], r) for r in csv.DictReader(io.StringIO(proc.stdout[2:])) if r["pxname"] == "web")
        row = rows.get(server, {})
        if row.get("status") == "DOWN" or time.monotonic() > deadline:
            return row
        time.sleep(0.3)


def test_container_unpublished_is_refused_and_down_removes_podman(tmp_path):
    scenario = tmp_path / "container.yml"
    scenario.write_text(SCENARIO)
    state = tmp_path / "state"
    try:
        lab(state, "up", str(scenario))
        ps = lab(state, "exec", "ctr", "--", "podman", "ps", "--format", "{{.Names}} {{.Image}} {{.Ports}}").stdout
        assert ps.split("\n")[0].split() == ["app-8080", "localhost/lab-app-8080:1"], ps  # nothing published
        inspect = lab(state, "exec", "ctr", "--", "podman", "inspect", "--format", "{{json .NetworkSettings.Ports}}",
                      "app-8080").stdout
        assert json.loads(inspect) == {"8080/tcp": None}
        listeners = lab(state, "exec", "ctr", "--", "ss", "-Hltn", "sport = :8080").stdout
        assert listeners.strip() == ""
        # inside the container it does listen
        inner = lab(state, "exec", "ctr", "--", "podman", "exec", "app-8080", "python3", "-c",
                    "import socket; s = socket.create_connection(('127.0.0.1', 8080), 2); print('ok')").stdout
        assert inner.strip() == "ok"
        row = wait_down(state, "unpublished")
        assert (row.get("status"), row.get("check_status")) == ("DOWN", "L4CON"), row
        system = lab(state, "exec", "ctr", "--", "systemctl", "is-system-running").stdout.strip()
        assert system == "running", lab(state, "exec", "ctr", "--", "systemctl", "--failed", check=False).stdout
        with open(os.path.join(str(state), "lab.json")) as handle:
            cgroup_dirs = json.load(handle)["hosts"]["ctr"]["cgroups"]
        # the lab's cgroup in every v1 controller hierarchy too, with podman's below it
        assert any("/memory/" in path for path in cgroup_dirs) and any("/cpuset/" in path for path in cgroup_dirs)
        pids = lab_pids(cgroup_dirs)
        assert pids, "no process in libpod_parent below %s" % cgroup_dirs
    finally:
        lab(state, "down", check=False)
    assert leftovers(state) == []
    left = [p for p in pids if os.path.exists("/proc/%d" % p)]
    assert left == [], subprocess.run(["ps", "-o", "pid,args", "-p", ",".join(map(str, left))],
                                      capture_output=True, text=True, check=False).stdout
    for path in cgroup_dirs:
        assert not os.path.exists(os.path.dirname(path)), path
