"""One lab host = an overlay root over the shared rootfs + `systemd-nspawn --boot` in the host's netns.

Also: finding the container's PID 1 (the "leader") and running commands inside with nsenter.
"""

import os
import signal
import socket
import subprocess
import time

from . import cgroups
from .errors import LabError
from .util import base_env, debug, run, write_file, symlink

NSENTER_NS = ["-m", "-u", "-i", "-n", "-p", "-C", "-r", "-w"]
PROPAGATE_DIRS = ["/run/systemd/nspawn/propagate", "/run/systemd/nspawn/incoming", "/run/systemd/nspawn/unix-export"]


def host_dirs(state_dir, host):
    base = os.path.join(state_dir, "hosts", host["name"])
    return {
        "base": base,
        "upper": os.path.join(base, "upper"),
        "work": os.path.join(base, "work"),
        "root": os.path.join(base, "root"),
        "log": os.path.join(base, "console.log"),
    }


def mount_overlay(rootfs, dirs, source_name):
    for key in ("upper", "work", "root"):
        os.makedirs(dirs[key], exist_ok=True)
    for path in (rootfs, dirs["upper"], dirs["work"]):
        if any(c in path for c in ",:\\ "):
            raise LabError("path %r contains one of , : \\ or a space, which overlayfs options cannot carry" % path)
    options = "lowerdir=%s,upperdir=%s,workdir=%s" % (rootfs, dirs["upper"], dirs["work"])
    run(["mount", "-t", "overlay", source_name, "-o", options, dirs["root"]], what="mount overlay for %s" % source_name)


def is_mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as handle:
        return any(line.split()[4] == path for line in handle)


def mounts_under(path):
    path = os.path.realpath(path).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            target = line.split()[4]
            if (target + "/").startswith(path):
                found.append(target)
    return found


def umount(path):
    if not is_mounted(path):
        return None
    rc, dummy, err = run(["umount", path], check=False)
    if rc != 0:
        rc, dummy, err = run(["umount", "--lazy", path], check=False)
        if rc != 0:
            return "umount %s: %s" % (path, err.strip())
    return None


def apply_files(root, ops):
    """Write hostfiles.render() operations into the (mounted) overlay root."""
    for op in ops:
        if op[0] == "file":
            path, text, mode = op[1:]
            write_file(os.path.join(root, path.lstrip("/")), text, mode)
        elif op[0] == "link":
            path, target = op[1:]
            symlink(target, os.path.join(root, path.lstrip("/")))
        else:
            raise ValueError("unknown file operation %r" % (op[0],))
    ssh = os.path.join(root, "root/.ssh")
    if os.path.isdir(ssh):
        os.chmod(ssh, 0o700)


def nspawn_argv(host, root):
    return [
        "systemd-nspawn",
        "--boot",
        "--directory=%s" % root,
        "--machine=%s" % host["machine"],
        "--hostname=%s" % host["name"],
        "--network-namespace-path=/run/netns/%s" % host["netns"],
        "--register=no",
        "--keep-unit",
        "--console=read-only",
        "--link-journal=no",
        "--resolv-conf=off",
        "--timezone=off",
        "--capability=CAP_NET_ADMIN",
    ]


def spawn(host, root, log_path, cgroup_paths):
    """Start systemd-nspawn in the background from its own cgroup; return its pid."""
    cgroups.prepare(cgroup_paths)
    argv = nspawn_argv(host, root)
    debug("spawn: %s" % " ".join(argv))
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=base_env(),
            start_new_session=True,
            close_fds=True,
            preexec_fn=lambda: cgroups.attach_self(cgroup_paths),
        )
    # The lab outlives this process: don't let Popen's destructor or a later wait() reap it for us.
    proc.returncode = 0
    return proc.pid


def pid_alive(pid):
    if not pid:
        return False
    try:
        with open("/proc/%d/stat" % pid) as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_gone(pids, timeout=5.0):
    """Wait until the pids have no /proc entry at all (zombies included); return those still there."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if os.path.exists("/proc/%d" % p)]
        if not left or time.monotonic() > deadline:
            return left
        for pid in left:
            reap(pid)
        time.sleep(0.05)


def is_nspawn(pid, machine):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return False
    return bool(argv) and argv[0].endswith(b"systemd-nspawn") and ("--machine=%s" % machine).encode() in argv


def is_nspawn_of_prefix(pid, prefix):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return False
    return bool(argv) and argv[0].endswith(b"systemd-nspawn") and any(
        a.startswith(("--machine=%s-" % prefix).encode()) for a in argv)


def _children(pid):
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as handle:
                kids.extend(int(x) for x in handle.read().split())
    except OSError:
        pass
    return kids


def _nspid(pid):
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith("NSpid:"):
                    return [int(x) for x in line.split()[1:]]
    except OSError:
        pass
    return []


def find_leader(nspawn_pid, timeout=15.0):
    """The container's PID 1 as seen from the host: the child of nspawn that is pid 1 in its own namespace."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in _children(nspawn_pid):
            nspid = _nspid(child)
            if len(nspid) >= 2 and nspid[-1] == 1:
                return child
        if not pid_alive(nspawn_pid):
            return None
        time.sleep(0.05)
    return None


def nsenter_argv(leader, argv):
    return ["nsenter", "-t", str(leader)] + NSENTER_NS + ["--"] + list(argv)


def exec_in(leader, argv, check=False, input_text=None, timeout=60, what=None):
    """Run argv inside the container (all its namespaces) and capture the result."""
    return run(nsenter_argv(leader, argv), check=check, input_text=input_text, timeout=timeout,
               what=what or "exec %s" % " ".join(argv[:3]))


def wait_running(leader, name, nspawn_pid, log_path, timeout=90.0):
    """Wait until `systemctl is-system-running --wait` inside says running or degraded; return that word."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not pid_alive(nspawn_pid):
            raise LabError("host %s: systemd-nspawn exited during boot; see %s:\n%s" % (name, log_path, tail(log_path)))
        try:
            dummy, out, err = exec_in(leader, ["systemctl", "is-system-running", "--wait"],
                                      timeout=max(1, min(30, deadline - time.monotonic())))
        except LabError as exc:  # timeout of one attempt
            last = str(exc)
            continue
        word = (out.strip().splitlines() or [""])[-1]
        last = (out + err).strip()
        if word in ("running", "degraded"):
            return word
        time.sleep(0.2)
    raise LabError("host %s: did not reach running within %ds (last answer: %s); console log %s"
                   % (name, timeout, last or "none", log_path))


def wait_port(address, port, timeout=30.0, banner=b"SSH-"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=2) as sock:
                sock.settimeout(3)
                data = sock.recv(64)
                if data.startswith(banner):
                    return True
                last = "unexpected banner %r" % data[:20]
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise LabError("%s:%d did not answer with %r within %ds (%s)" % (address, port, banner, timeout, last))


def tail(path, lines=15):
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(nspawn_pid, machine, timeout=10.0):
    """Ask the container to power off (SIGTERM to nspawn sends SIGRTMIN+3 to its init); wait for nspawn."""
    if not pid_alive(nspawn_pid) or not is_nspawn(nspawn_pid, machine):
        return True
    try:
        os.kill(nspawn_pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap(nspawn_pid)
        if not pid_alive(nspawn_pid):
            return True
        time.sleep(0.05)
    return False


def remove_runtime_dirs(machine):
    import shutil

    for base in PROPAGATE_DIRS:
        path = os.path.join(base, machine)
        if os.path.lexists(path):
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
