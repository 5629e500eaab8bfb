"""The container fault (faults.py, hostfiles.py, rootfs.py, cgroups.py): a podman container that
EXPOSEs the server's port but was started without -p. No unit on the host; podman's preparation
runs only where a container fault is; the image is built inside the host, never pulled."""

import pytest

from labkit import cgroups, faults, rootfs, scenario
from labkit.errors import LabError
from rendered import ops_for, resolved

PREP_LINK = "/etc/systemd/system/sysinit.target.wants/lab-podman-prep.service"


def small(server):
    return scenario.resolve({"hosts": [{"name": "lb", "role": "lb"}, {"name": "ctr"}],
                             "haproxy": {"backends": [{"name": "app", "servers": [server]}]}})


def test_container_unpublished_implies_container_port_unmapped_and_no_unit():
    assert faults.FAULTS["container_unpublished"][0] == "container_port_unmapped"
    assert "container_unpublished" in faults.SERVICE_FAULTS
    sc = small({"name": "c", "host": "ctr", "port": 8080, "fault": "container_unpublished"})
    server = sc["servers"][0]
    host = [h for h in sc["hosts"] if h["name"] == "ctr"][0]
    assert server["expect"] == "container_port_unmapped" and server["service"] is None
    assert host["services"] == []
    assert server["faults"] == [{"type": "container_unpublished", "name": "app-8080"}]
    (ctr,) = host["containers"]
    assert ctr["name"] == "app-8080" and ctr["image"] == "localhost/lab-app-8080:1" and ctr["container_port"] == 8080
    # the image is imported inside the host; the run has no -p/--publish and never pulls
    assert ctr["after_boot"] == [
        ["/usr/local/sbin/lab-container-image", "localhost/lab-app-8080:1", "8080", "c"],
        ["podman", "run", "-d", "--init", "--name", "app-8080", "-v", "/usr:/usr:ro", "localhost/lab-app-8080:1"]]
    assert not [a for argv in ctr["after_boot"] for a in argv if a.startswith(("-p", "--publish", "--pull"))]
    assert host["ports"] == {"22": "sshd", "8080": "server app/c"}


def test_container_name_is_checked_and_unique_per_host():
    with pytest.raises(LabError, match="name must match"):
        small({"name": "c", "host": "ctr", "port": 8080, "faults": [{"type": "container_unpublished", "name": "a b"}]})
    with pytest.raises(LabError, match="container name same is used twice"):
        scenario.resolve({"hosts": [{"name": "lb", "role": "lb"}, {"name": "ctr"}], "haproxy": {"backends": [
            {"name": "app", "servers": [
                {"name": "c1", "host": "ctr", "port": 8080, "faults": [{"type": "container_unpublished", "name": "same"}]},
                {"name": "c2", "host": "ctr", "port": 8081, "faults": [{"type": "container_unpublished", "name": "same"}]},
            ]}]}})
    with pytest.raises(LabError, match="both change the service"):
        small({"name": "c", "host": "ctr", "port": 8080, "faults": ["container_unpublished", "unit_stopped"]})


def test_only_the_container_host_gets_podman_prepared():
    sc = resolved("all-faults.yml")
    files, links = ops_for(sc, "ctr")
    assert links[PREP_LINK] == "/etc/systemd/system/lab-podman-prep.service"
    script = files["/usr/local/sbin/lab-container-image"]
    assert "podman import" in script and "EXPOSE=$port/tcp" in script and "podman pull" not in script
    assert not [p for p in files if p.startswith("/etc/systemd/system/app-")]
    for host in sc["hosts"]:
        if host["name"] != "ctr":
            files, links = ops_for(sc, host["name"])
            assert PREP_LINK not in links and "/usr/local/sbin/lab-container-image" not in files, host["name"]
    server = [s for s in sc["servers"] if s["name"] == "unpublished"][0]
    assert server["host"] == "ctr" and server["expect"] == "container_port_unmapped"


def test_rootfs_has_podman_configured_but_runs_none_of_its_units():
    recipe = rootfs.recipe()
    assert {"podman", "crun", "netavark", "aardvark-dns", "catatonit", "uidmap"} <= set(recipe["packages"])
    storage = recipe["files"]["/etc/containers/storage.conf"]
    conf = recipe["files"]["/etc/containers/containers.conf"]
    assert 'driver = "vfs"' in storage
    for line in ("keyring = false", "pids_limit = 0", 'cgroup_manager = "cgroupfs"', 'events_logger = "file"',
                 'runtime = "crun"', 'network_backend = "netavark"'):
        assert line in conf, line
    prep = recipe["files"]["/usr/local/bin/lab-podman-prep"]
    assert "mount -o remount,bind,rw /proc/sys/net" in prep and 'mount -o remount,bind,rw "$c"' in prep
    assert "WantedBy=sysinit.target" in recipe["files"]["/etc/systemd/system/lab-podman-prep.service"]
    assert set(rootfs.PODMAN_UNITS) == {"podman.socket", "podman.service", "podman-restart.service",
                                        "podman-auto-update.service"}


def test_every_v1_controller_hierarchy_gets_a_lab_cgroup(monkeypatch):
    monkeypatch.setattr(cgroups, "mounts", lambda: [
        {"path": "/sys/fs/cgroup/systemd", "version": 1, "options": {"rw", "name=systemd"}},
        {"path": "/sys/fs/cgroup/unified", "version": 2, "options": {"rw"}},
        {"path": "/sys/fs/cgroup/cpu,cpuacct", "version": 1, "options": {"rw", "cpu", "cpuacct"}},
        {"path": "/sys/fs/cgroup/memory", "version": 1, "options": {"rw", "nosuid", "memory"}},
    ])
    monkeypatch.setattr(cgroups, "own_paths", lambda pid="self": {
        "name=systemd": "/", "": "/", "cpu": "/", "cpuacct": "/", "memory": "/job/1"})
    assert cgroups.container_paths("lbq", "ctr") == [
        "/sys/fs/cgroup/systemd/lbq-lab/ctr", "/sys/fs/cgroup/unified/lbq-lab/ctr",
        "/sys/fs/cgroup/cpu,cpuacct/lbq-lab/ctr", "/sys/fs/cgroup/memory/job/1/lbq-lab/ctr"]


def test_a_new_cpuset_cgroup_inherits_cpus_and_mems(tmp_path):
    parent = tmp_path / "cpuset"
    parent.mkdir()
    (parent / "cpuset.cpus").write_text("0-1\n")
    (parent / "cpuset.mems").write_text("0\n")
    lab = parent / "lbq-lab"
    host = lab / "ctr"
    host.mkdir(parents=True)
    for directory in (lab, host):  # what the kernel shows in a new cpuset cgroup
        (directory / "cpuset.cpus").write_text("\n")
        (directory / "cpuset.mems").write_text("\n")
    cgroups.prepare([str(host)])
    assert (lab / "cpuset.cpus").read_text() == "0-1" and (host / "cpuset.cpus").read_text() == "0-1"
    assert (lab / "cpuset.mems").read_text() == "0" and (host / "cpuset.mems").read_text() == "0"
