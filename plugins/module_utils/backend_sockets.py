# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who owns a listening socket: inode -> pids in one pass over /proc/*/fd, then per pid the
process name, command line, user, systemd unit and container id.

``parse_cgroup`` is a pure function over the text of /proc/PID/cgroup. ``socket_owners`` and
``process_info`` read a /proc tree (``proc_root``, /proc by default; tests pass a directory they
built). Nothing here runs a subprocess. Standard library only, Python 3.8+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re

try:
    import pwd
except ImportError:  # pragma: no cover - not on Linux
    pwd = None

UNIT_SUFFIXES = (".service", ".scope", ".socket", ".mount", ".swap", ".target", ".timer",
                 ".path", ".device", ".automount")
_HEX64 = r"([0-9a-f]{64})"
# (runtime, pattern) in the order they are tried; the first match wins. Sources:
# docker: cgroupfs driver "/docker/<id>", systemd driver "docker-<id>.scope" (docs.docker.com,
#   "Runtime metrics"); podman: "libpod-<id>.scope" (systemd manager) or
#   "/libpod_parent/libpod-<id>" (cgroupfs), "libpod-conmon-<id>.scope" is the monitor, not the
#   container; containerd CRI: "cri-containerd-<id>.scope" or "...:cri-containerd:<id>";
#   CRI-O: "crio-<id>.scope"; kubelet cgroupfs: "/kubepods/<qos>/pod<uid>/<id>".
_CONTAINER_PATTERNS = (
    ("docker", re.compile(r"(?:^|/)docker-" + _HEX64 + r"\.scope(?:/|$)")),
    ("docker", re.compile(r"(?:^|/)docker/" + _HEX64 + r"(?:/|$)")),
    ("podman", re.compile(r"(?:^|/)libpod-" + _HEX64 + r"(?:\.scope)?(?:/|$)")),
    ("containerd", re.compile(r"cri-containerd[-:]" + _HEX64 + r"(?:\.scope)?(?:/|$)")),
    ("cri-o", re.compile(r"(?:^|/)crio-" + _HEX64 + r"(?:\.scope)?(?:/|$)")),
    ("kubernetes", re.compile(r"(?:^|/)kubepods[^/]*(?:/[^/]+)?/pod[0-9a-f_-]+(?:\.slice)?/"
                              + _HEX64 + r"(?:/|$)")),
)
_USER_MANAGER_RE = re.compile(r"^user@(\d+)\.service$")
_SOCKET_LINK_PREFIX = "socket:["


def parse_cgroup(text):
    """Read /proc/PID/cgroup text into ``{path, unit, slice, user_unit, container}``.

    The path is the cgroup v2 one (``0::``) when it says more than ``/``, else the v1
    ``name=systemd`` one (hybrid and legacy hierarchies). ``unit`` is the system manager's
    unit (``user@1000.service`` for anything under a user manager, whose own unit is then
    ``user_unit``); ``container`` is ``{runtime, id}`` or None.
    """
    v2_path = None
    v1_path = None
    other_paths = []
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2_path = path
        elif "name=systemd" in controllers.split(","):
            v1_path = path
        else:
            other_paths.append(path)
    path = v2_path if v2_path not in (None, "/") else (v1_path or v2_path)
    result = {"path": path, "unit": None, "slice": None, "user_unit": None, "container": None}
    if path:
        _units_from_path(path, result)
    for candidate in [path] + other_paths:
        container = container_from_path(candidate or "")
        if container:
            result["container"] = container
            break
    return result


def _units_from_path(path, result):
    in_user_manager = False
    for component in path.strip("/").split("/"):
        if component.endswith(".slice"):
            if not in_user_manager:
                result["slice"] = component
            continue
        if not component.endswith(UNIT_SUFFIXES):
            # A sub-cgroup of a unit (delegation, e.g. ".../payload"): the unit is already known.
            if result["unit"]:
                break
            continue
        if result["unit"] is None:
            result["unit"] = component
            in_user_manager = bool(_USER_MANAGER_RE.match(component))
            if not in_user_manager:
                break
        elif in_user_manager:
            result["user_unit"] = component
            break


def container_from_path(path):
    """``{runtime, id}`` when a cgroup path names a container, else None."""
    for runtime, pattern in _CONTAINER_PATTERNS:
        match = pattern.search(path)
        if match:
            return {"runtime": runtime, "id": match.group(1)}
    return None


def socket_owners(inodes, proc_root="/proc"):
    """Map socket inodes to the pids holding them, in one pass over ``proc_root``/*/fd.

    Returns ``(owners, denied, scanned)``: ``{inode: [pid, ...]}`` (sorted), the sorted pids
    whose fd directory could not be read (permission denied) and how many pids were scanned.
    Processes that exit during the scan are skipped.
    """
    wanted = set(inodes)
    owners = {}
    denied = []
    scanned = 0
    if not wanted:
        return owners, denied, scanned
    prefix = _SOCKET_LINK_PREFIX
    plen = len(prefix)
    for name in os.listdir(proc_root):
        if not name.isdigit():
            continue
        scanned += 1
        try:
            dir_fd = os.open(os.path.join(proc_root, name, "fd"), os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                denied.append(int(name))
            continue
        try:
            try:
                entries = os.listdir(dir_fd)
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EPERM):
                    denied.append(int(name))
                continue
            for entry in entries:
                try:
                    target = os.readlink(entry, dir_fd=dir_fd)
                except OSError:
                    continue
                if target.startswith(prefix):
                    inode = int(target[plen:-1])
                    if inode in wanted:
                        owners.setdefault(inode, set()).add(int(name))
        finally:
            os.close(dir_fd)
    return dict((inode, sorted(pids)) for inode, pids in owners.items()), sorted(denied), scanned


def _read_text(path):
    # os.open/os.read: no buffered file object, which is most of the cost of a tiny /proc file.
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "surrogateescape")


_USER_NAMES = {}


def user_name(uid):
    """The login name of a uid, or the uid as a string when the passwd database lacks it."""
    if uid is None:
        return None
    if uid not in _USER_NAMES:
        name = str(uid)
        if pwd is not None:
            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                pass
        _USER_NAMES[uid] = name
    return _USER_NAMES[uid]


def process_info(pid, proc_root="/proc", cgroup_cache=None):
    """Name, command line, user and cgroup facts of one process; None when it is gone.

    Keys: pid, process, cmdline, uid (effective: the owner of /proc/PID, as `ps -o user`
    shows), user, cgroup (parse_cgroup result), errors (what could not be read,
    ``[{source, reason}]``). ``cgroup_cache`` (a dict) shares parse results between processes
    of the same cgroup. Three small reads and one stat per process.
    """
    base = "%s/%d" % (proc_root, pid)
    info = {"pid": pid, "process": None, "cmdline": None, "uid": None, "user": None,
            "cgroup": None, "errors": []}
    try:
        info["uid"] = os.stat(base).st_uid
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        info["errors"].append({"source": base, "reason": exc.strerror or str(exc)})
    for name in ("comm", "cmdline", "cgroup"):
        path = base + "/" + name
        try:
            text = _read_text(path)
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT and name == "comm":
                return None
            info["errors"].append({"source": path, "reason": exc.strerror or str(exc)})
            continue
        if name == "comm":
            info["process"] = text.rstrip("\n")
        elif name == "cmdline":
            info["cmdline"] = " ".join(text.rstrip("\0").split("\0")) if text else None
        elif cgroup_cache is None:
            info["cgroup"] = parse_cgroup(text)
        else:
            if text not in cgroup_cache:
                cgroup_cache[text] = parse_cgroup(text)
            info["cgroup"] = dict(cgroup_cache[text])
    info["user"] = user_name(info["uid"])
    return info
