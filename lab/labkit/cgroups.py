"""Cgroups for the containers: detect the layout, give each container its own cgroup, clean up.

Without systemd on the host, `systemd-nspawn --keep-unit` makes `supervisor` and `payload` cgroups
under the cgroup it was started in, so two containers started from the same cgroup collide. Each
container is therefore started from `<own cgroup>/<prefix>-lab/<host>`, in the hierarchy systemd uses
(v1 `name=systemd` on legacy/hybrid layouts, else the v2 one), on hybrid layouts in the v2 one too,
and in every v1 controller hierarchy (cpu, memory, pids, ...): the container's cgroup namespace then
has a lab-owned directory as its root in each of them, which podman (cgroupfs manager) inside a host
writes below, and which `down` removes like the others.
"""

import os
import signal
import time

from .errors import LabError


def mounts():
    """All cgroup mounts: [{"path", "version": 1|2, "options": set()}], from /proc/self/mountinfo."""
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            left, dummy, right = line.partition(" - ")
            fields = left.split()
            rfields = right.split()
            if len(fields) < 5 or len(rfields) < 3 or rfields[0] not in ("cgroup", "cgroup2"):
                continue
            path = fields[4].replace("\\040", " ")
            found.append({"path": path, "version": 2 if rfields[0] == "cgroup2" else 1,
                          "options": set(rfields[2].split(","))})
    return found


def own_paths(pid="self"):
    """{"name=systemd": path, "": path (v2), "memory": path, ...} from /proc/PID/cgroup."""
    paths = {}
    with open("/proc/%s/cgroup" % pid) as handle:
        for line in handle:
            parts = line.rstrip("\n").split(":", 2)
            if len(parts) == 3:
                for controller in parts[1].split(",") if parts[1] else [""]:
                    paths[controller] = parts[2]
    return paths


def layout():
    """The hierarchies a container must be placed in: [(mount path, own cgroup path)], primary first."""
    all_mounts = mounts()
    own = own_paths()
    placed = []
    v1_systemd = [m for m in all_mounts if m["version"] == 1 and "name=systemd" in m["options"]]
    v2 = [m for m in all_mounts if m["version"] == 2]
    if v1_systemd:
        placed.append((v1_systemd[0]["path"], own.get("name=systemd", "/")))
    if v2:
        placed.append((v2[0]["path"], own.get("", "/")))
    if placed:
        for mount in all_mounts:
            if mount["version"] != 1 or "name=systemd" in mount["options"]:
                continue
            controllers = sorted(o for o in mount["options"] if o in own and not o.startswith("name="))
            if controllers:
                placed.append((mount["path"], own[controllers[0]]))
    if not placed:
        raise LabError("no cgroup hierarchy is mounted (looked for name=systemd v1 and cgroup2 in /proc/self/mountinfo)")
    return placed


def container_paths(prefix, host):
    """Absolute cgroup directories for one container, primary hierarchy first."""
    return [os.path.join(mount, own.lstrip("/"), "%s-lab" % prefix, host) for mount, own in layout()]


def prepare(paths):
    for path in paths:
        os.makedirs(path, exist_ok=True)
        _inherit_cpuset(path)


def _inherit_cpuset(path):
    """A new v1 cpuset cgroup starts with empty cpuset.cpus/mems and refuses tasks ("No space left on
    device") until they are set: copy them from the parent, top-down (`<prefix>-lab`, then the host)."""
    for directory in (os.path.dirname(path), path):
        for name in ("cpuset.cpus", "cpuset.mems"):
            target = os.path.join(directory, name)
            if not os.path.exists(target):
                continue
            with open(target) as handle:
                if handle.read().strip():
                    continue
            with open(os.path.join(os.path.dirname(directory), name)) as handle:
                value = handle.read().strip()
            with open(target, "w") as handle:
                handle.write(value)


def attach_self(paths):
    """Move the calling process into `paths` (used as preexec_fn before exec'ing systemd-nspawn)."""
    for path in paths:
        with open(os.path.join(path, "cgroup.procs"), "w") as handle:
            handle.write(str(os.getpid()))


def _procs(path):
    pids = set()
    for root, _dirs, files in os.walk(path):
        if "cgroup.procs" in files:
            try:
                with open(os.path.join(root, "cgroup.procs")) as handle:
                    pids.update(int(x) for x in handle.read().split())
            except OSError:
                pass
    return pids


def related_dirs(prefix, host=None):
    """Every `<prefix>-lab[/<host>]` directory in every mounted hierarchy (nspawn creates some in all of them)."""
    found = []
    for mount in mounts():
        for root, dirs, _files in os.walk(mount["path"]):
            if os.path.basename(root) == "%s-lab" % prefix:
                found.append(os.path.join(root, host) if host else root)
                dirs[:] = []
            elif root.count(os.sep) - mount["path"].count(os.sep) > 3:
                dirs[:] = []  # the lab's dirs sit just under our own cgroup: don't walk deep trees
    return [p for p in found if os.path.isdir(p)]


def kill_all(paths, timeout=5.0):
    """SIGKILL every process in the given cgroup trees; wait until they are gone."""
    deadline = time.monotonic() + timeout
    while True:
        pids = set()
        for path in paths:
            if os.path.isdir(path):
                pids |= _procs(path)
        pids.discard(os.getpid())
        if not pids:
            return []
        if time.monotonic() > deadline:
            return sorted(pids)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def remove_tree(path):
    """rmdir a cgroup directory bottom-up. Returns errors as strings."""
    errors = []
    if not os.path.isdir(path):
        return errors
    for root, dirs, _files in os.walk(path, topdown=False):
        for name in dirs:
            _rmdir(os.path.join(root, name), errors)
    _rmdir(path, errors)
    return errors


def _rmdir(path, errors):
    for dummy in range(20):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            last = exc
            time.sleep(0.05)
    errors.append("rmdir %s: %s" % (path, last.strerror))
