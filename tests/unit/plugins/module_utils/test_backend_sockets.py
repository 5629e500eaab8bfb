"""Tests of socket ownership (/proc/*/fd) and cgroup parsing.

cgroup fixtures: tests/unit/fixtures/backend/cgroup (hand-made from documentation, see README);
proc_pid_cgroup.txt is real (Debian 12 build machine, cgroup v1 hybrid). The /proc trees are
built in tmp_path: pid directories with fd symlinks "socket:[N]" as the kernel shows them.
"""

import errno
import os
import pwd

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_sockets import (
    container_from_path,
    parse_cgroup,
    process_info,
    socket_owners,
)

CID = "4f1c0e3b5a6d7c8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a"


def make_process(root, pid, fds=(), comm="app", cmdline=("app",), uid=0, cgroup="0::/\n"):
    base = root / str(pid)
    (base / "fd").mkdir(parents=True)
    for number, target in enumerate(fds):
        os.symlink(target, str(base / "fd" / str(number)))
    (base / "comm").write_text(comm + "\n")
    (base / "cmdline").write_bytes(b"\0".join(a.encode() for a in cmdline) + (b"\0" if cmdline else b""))
    (base / "status").write_text("Name:\t%s\nPPid:\t1\nUid:\t%d\t%d\t%d\t%d\n" % (comm, uid, uid, uid, uid))
    (base / "cgroup").write_text(cgroup)
    if uid != os.geteuid():
        os.chown(str(base), uid, uid)  # /proc/PID is owned by the process's effective uid
    return base


@pytest.mark.parametrize("name,unit,slice_,user_unit,container", [
    ("v2-system-service.txt", "app.service", "system.slice", None, None),
    ("v1-system-service.txt", "app.service", "system.slice", None, None),
    ("hybrid-system-service.txt", "app.service", "system.slice", None, None),
    ("v2-user-unit.txt", "user@1000.service", "user-1000.slice", "myapp.service", None),
    ("v2-session-scope.txt", "session-3.scope", "user-1000.slice", None, None),
    ("v2-docker-systemd.txt", "docker-%s.scope" % CID, "system.slice", None, ("docker", CID)),
    ("v1-docker-cgroupfs.txt", None, None, None, ("docker", CID)),
    ("v2-podman.txt", "libpod-%s.scope" % CID, "machine.slice", None, ("podman", CID)),
    ("v2-podman-rootless.txt", "user@1000.service", "user-1000.slice", "libpod-%s.scope" % CID,
     ("podman", CID)),
    ("v2-podman-conmon.txt", "libpod-conmon-%s.scope" % CID, "machine.slice", None, None),
    ("v2-containerd-cri.txt", "cri-containerd-%s.scope" % CID,
     "kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice", None, ("containerd", CID)),
    ("v1-kubepods-cgroupfs.txt", None, None, None, ("kubernetes", CID)),
    ("v2-crio.txt", "crio-%s.scope" % CID, "system.slice", None, ("cri-o", CID)),
    ("v2-in-container-namespace.txt", None, None, None, None),
])
def test_parse_cgroup_layouts(fixture_text, name, unit, slice_, user_unit, container):
    result = parse_cgroup(fixture_text("backend/cgroup/" + name))
    assert result["unit"] == unit
    assert result["slice"] == slice_
    assert result["user_unit"] == user_unit
    expected = {"runtime": container[0], "id": container[1]} if container else None
    assert result["container"] == expected


def test_parse_cgroup_real_hybrid_host_without_systemd(fixture_text):
    result = parse_cgroup(fixture_text("backend/netns1/proc_pid_cgroup.txt"))
    assert result == {"path": "/", "unit": None, "slice": None, "user_unit": None, "container": None}


def test_v1_name_systemd_wins_over_root_v2_line():
    text = "1:name=systemd:/system.slice/nginx.service\n0::/\n"
    assert parse_cgroup(text)["unit"] == "nginx.service"


def test_delegated_subcgroup_keeps_the_unit():
    result = parse_cgroup("0::/system.slice/app.service/worker\n")
    assert result["unit"] == "app.service" and result["path"] == "/system.slice/app.service/worker"


def test_container_from_plain_path_is_none():
    assert container_from_path("/system.slice/docker.service") is None


def test_socket_owners_one_pass(tmp_path):
    make_process(tmp_path, 100, fds=["socket:[11]", "/dev/null", "socket:[99]"])
    make_process(tmp_path, 200, fds=["socket:[11]", "socket:[12]", "pipe:[5]"])
    make_process(tmp_path, 300, fds=["anon_inode:[eventfd]"])
    (tmp_path / "self").mkdir()
    (tmp_path / "net").mkdir()
    owners, denied, scanned = socket_owners([11, 12, 13], str(tmp_path))
    assert owners == {11: [100, 200], 12: [200]}
    assert denied == []
    assert scanned == 3


def test_socket_owners_nothing_wanted_scans_nothing(tmp_path):
    make_process(tmp_path, 100, fds=["socket:[11]"])
    assert socket_owners([], str(tmp_path)) == ({}, [], 0)


def test_socket_owners_reports_denied(tmp_path, monkeypatch):
    """Root reads every fd directory, so EACCES (what a non-root user gets) is injected."""
    make_process(tmp_path, 100, fds=["socket:[11]"])
    make_process(tmp_path, 200, fds=["socket:[12]"])
    real_open = os.open

    def fake_open(path, flags, *args):
        if path == os.path.join(str(tmp_path), "200", "fd"):
            raise OSError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", fake_open)
    owners, denied, scanned = socket_owners([11, 12], str(tmp_path))
    assert owners == {11: [100]}
    assert denied == [200]
    assert scanned == 2


def test_socket_owners_skips_processes_that_exit(tmp_path, monkeypatch):
    make_process(tmp_path, 100, fds=["socket:[11]"])
    real_open = os.open

    def vanished(path, flags, *args):
        if path.endswith(os.path.join("100", "fd")):
            raise OSError(errno.ENOENT, "No such file or directory", path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", vanished)
    assert socket_owners([11], str(tmp_path)) == ({}, [], 1)


def test_process_info(tmp_path):
    make_process(tmp_path, 321, comm="python3", cmdline=("python3", "-m", "http.server", "8080"),
                 uid=0, cgroup="0::/system.slice/app.service\n")
    info = process_info(321, str(tmp_path))
    assert info["process"] == "python3"
    assert info["cmdline"] == "python3 -m http.server 8080"
    assert (info["uid"], info["user"]) == (os.geteuid(), pwd.getpwuid(os.geteuid()).pw_name)
    assert info["cgroup"]["unit"] == "app.service"
    assert info["errors"] == []


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to a uid without a passwd entry needs root")
def test_process_info_unknown_uid_and_kernel_thread(tmp_path):
    make_process(tmp_path, 5, comm="kworker", cmdline=(), uid=4000123)
    info = process_info(5, str(tmp_path))
    assert info["cmdline"] is None
    assert info["user"] == "4000123"


def test_cgroup_cache_shares_parses(tmp_path):
    make_process(tmp_path, 1, cgroup="0::/system.slice/a.service\n")
    make_process(tmp_path, 2, cgroup="0::/system.slice/a.service\n")
    cache = {}
    first = process_info(1, str(tmp_path), cache)
    second = process_info(2, str(tmp_path), cache)
    assert first["cgroup"] == second["cgroup"] and len(cache) == 1
    assert first["cgroup"] is not second["cgroup"]  # callers may change their copy


def test_process_info_gone_process(tmp_path):
    assert process_info(999, str(tmp_path)) is None


def test_process_info_unreadable_file_is_reported(tmp_path):
    base = make_process(tmp_path, 7, comm="x")
    os.remove(str(base / "cgroup"))
    info = process_info(7, str(tmp_path))
    assert info["cgroup"] is None
    assert [e["source"] for e in info["errors"]] == [str(base / "cgroup")]
