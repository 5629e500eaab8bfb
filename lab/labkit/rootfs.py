"""The shared base root filesystem: built once with mmdebstrap, cached by the hash of its recipe.

Every lab host gets an overlay over this directory, so it is never written to after the build.
"""

import fcntl
import glob
import hashlib
import json
import os
import shutil
import time

from .errors import LabError
from .util import log, run, symlink, write_file

CACHE_DIR = "/var/cache/lbdoctor-lab"
COMPLETE_MARKER = ".lbdoctor-rootfs-complete"
FILES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "files")

# Bump when the customisation below changes in a way the recipe does not show.
RECIPE_REVISION = 1

SUITE = "bookworm"
MIRRORS = [
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
]
PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "libpam-systemd", "openssh-server", "python3",
    "iptables", "nftables", "iproute2", "haproxy", "socat", "procps", "psmisc", "lsof",
    "iputils-ping", "netcat-openbsd", "curl", "less", "firewalld", "ufw",
    # podman for the container faults (Debian 12: podman 4.3.1); crun and netavark instead of the
    # recommended runc and CNI, see lab/README.md "Podman in the lab hosts"
    "podman", "crun", "netavark", "aardvark-dns", "catatonit", "uidmap",
]
# Units masked in every host: nothing there may touch the network config or run on a timer.
MASKED_UNITS = [
    "getty.target", "console-getty.service", "getty@.service", "serial-getty@.service",
    "systemd-timesyncd.service", "systemd-networkd.service", "systemd-networkd.socket",
    "systemd-networkd-wait-online.service", "systemd-resolved.service", "apt-daily.service",
    "apt-daily-upgrade.service",
]
SSHD_CONFIG = """\
# lbdoctor lab: root logs in with the lab's generated key only.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
"""
SYSTEM_CONF = """\
# lbdoctor lab: a lab host must stop quickly on `lab.py down`.
[Manager]
DefaultTimeoutStopSec=5s
DefaultTimeoutStartSec=30s
"""
# Podman (lab/README.md, "Podman in the lab hosts", says why each line is there). Only hosts with a
# container fault enable lab-podman-prep.service; podman itself runs no daemon.
PODMAN_STORAGE_CONF = """\
# lbdoctor lab: overlayfs cannot be mounted on the host's own overlay root; vfs copies layers.
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
"""
PODMAN_CONTAINERS_CONF = """\
# lbdoctor lab: podman inside a systemd-nspawn container on a host without systemd.
[containers]
# nspawn's seccomp filter refuses keyctl(): crun fails "create keyring ... Operation not permitted"
keyring = false
# no pids.max write for the container (the lab sets no limits)
pids_limit = 0

[engine]
# no systemd on the host to delegate a scope: podman writes the cgroup directories itself
cgroup_manager = "cgroupfs"
# no journald socket writes for events: a plain file in /run
events_logger = "file"
runtime = "crun"

[network]
network_backend = "netavark"
"""
PODMAN_PREP = """\
#!/bin/sh
# lbdoctor lab: what podman needs inside a systemd-nspawn host (lab/README.md, "Podman in the lab hosts").
set -e
# nspawn mounts /proc/sys read-only; net.* is per network namespace (this host's own), and netavark
# writes net.ipv4.ip_forward and the bridge's sysctls: make only that subtree writable.
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,rw /proc/sys/net
# nspawn mounts the cgroup v1 controller hierarchies read-only; their roots are this host's own
# cgroups (the lab gives every host <prefix>-lab/<host> in each of them), where podman's cgroupfs
# manager creates libpod_parent/libpod-<id>.
for c in /sys/fs/cgroup/*; do
  case $c in */systemd|*/unified) continue;; esac
  if mountpoint -q "$c"; then mount -o remount,bind,rw "$c"; fi
done
"""
PODMAN_PREP_UNIT = """\
[Unit]
Description=lbdoctor lab: make /proc/sys/net and the v1 cgroup controllers writable for podman
DefaultDependencies=no
Before=sysinit.target podman.service podman-restart.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/bin/lab-podman-prep

[Install]
WantedBy=sysinit.target
"""
# Podman's own units are enabled by the package; nothing in the lab uses the API socket or
# restart policies, and with them a host ends `degraded`.
PODMAN_UNITS = ("podman.socket", "podman.service", "podman-restart.service", "podman-auto-update.service")
JOURNALD_CONF = """\
[Journal]
Storage=volatile
RuntimeMaxUse=16M
"""


def _lab_app_text():
    # Kept without its shebang in the repository (ansible-test's shebang rule); it gets one in the rootfs.
    with open(os.path.join(FILES_DIR, "lab_app.py")) as handle:
        return "#!/usr/bin/python3\n" + handle.read()


def recipe():
    """Everything that decides the content of the rootfs; its hash names the cache directory."""
    return {
        "revision": RECIPE_REVISION,
        "suite": SUITE,
        "variant": "apt",
        "mirrors": MIRRORS,
        "packages": sorted(PACKAGES),
        "masked": sorted(MASKED_UNITS),
        "files": {
            "/usr/local/bin/lab-app": _lab_app_text(),
            "/etc/ssh/sshd_config.d/lbdoctor-lab.conf": SSHD_CONFIG,
            "/etc/systemd/system.conf.d/lbdoctor-lab.conf": SYSTEM_CONF,
            "/etc/systemd/journald.conf.d/lbdoctor-lab.conf": JOURNALD_CONF,
            "/etc/containers/storage.conf": PODMAN_STORAGE_CONF,
            "/etc/containers/containers.conf": PODMAN_CONTAINERS_CONF,
            "/usr/local/bin/lab-podman-prep": PODMAN_PREP,
            "/etc/systemd/system/lab-podman-prep.service": PODMAN_PREP_UNIT,
        },
    }


def recipe_hash():
    blob = json.dumps(recipe(), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def rootfs_path():
    return os.path.join(CACHE_DIR, "rootfs-%s" % recipe_hash())


def is_complete(path):
    return os.path.isfile(os.path.join(path, COMPLETE_MARKER))


def ensure_rootfs():
    """Return the path of the cached rootfs, building it first if its recipe changed."""
    path = rootfs_path()
    if is_complete(path):
        log("rootfs: using cached %s" % path)
        return path
    os.makedirs(CACHE_DIR, exist_ok=True)
    with open(os.path.join(CACHE_DIR, ".build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_complete(path):  # another run built it while we waited
            return path
        build(path)
    return path


def build(path):
    tmp = "%s.build-%d" % (path, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    started = time.monotonic()
    log("rootfs: building %s with mmdebstrap (%s, %d packages); this takes about half a minute"
        % (path, SUITE, len(PACKAGES)))
    argv = [
        "mmdebstrap", "--mode=root", "--variant=apt", "--format=directory",
        "--include=" + ",".join(PACKAGES),
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        SUITE, tmp,
    ] + MIRRORS
    try:
        rc, out, err = run(argv, check=False, timeout=1800, what="mmdebstrap")
        if rc != 0:
            tail = (err.strip() or out.strip()).splitlines()[-15:]
            logfile = os.path.join(CACHE_DIR, "mmdebstrap-last-failure.log")
            write_file(logfile, out + "\n" + err)
            raise LabError("rootfs: mmdebstrap failed (rc=%d); full log in %s; last lines:\n  %s"
                           % (rc, logfile, "\n  ".join(tail)))
        customize(tmp)
        write_file(os.path.join(tmp, COMPLETE_MARKER), json.dumps(recipe(), sort_keys=True, indent=1) + "\n")
        if os.path.exists(path):
            shutil.rmtree(path)
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log("rootfs: built in %.1fs" % (time.monotonic() - started))


def customize(root):
    """Make the fresh tree a quiet container OS: masks, empty machine-id, sshd, lab-app."""
    sysdir = os.path.join(root, "etc/systemd/system")
    timers = set()
    for pattern in ("usr/lib/systemd/system/*.timer", "lib/systemd/system/*.timer"):
        timers.update(os.path.basename(p) for p in glob.glob(os.path.join(root, pattern)))
    for unit in sorted(set(MASKED_UNITS) | timers):
        symlink("/dev/null", os.path.join(sysdir, unit))
        for wants in glob.glob(os.path.join(sysdir, "*.wants", unit)):
            os.unlink(wants)
    # haproxy, firewalld and ufw are enabled by their packages; only the hosts that need them (lb;
    # a firewalld or ufw fault) enable them again, so they never touch the other hosts. Podman's
    # units stay off everywhere (lab-podman-prep.service is enabled by hostfiles.py where needed).
    for unit in ("haproxy.service", "firewalld.service", "ufw.service") + PODMAN_UNITS:
        for wants in glob.glob(os.path.join(sysdir, "*.wants", unit)):
            os.unlink(wants)
    for alias in ("dbus-org.fedoraproject.FirewallD1.service",):
        if os.path.lexists(os.path.join(sysdir, alias)):
            os.unlink(os.path.join(sysdir, alias))
    write_file(os.path.join(root, "etc/machine-id"), "", 0o444)
    dbus_id = os.path.join(root, "var/lib/dbus/machine-id")
    if os.path.lexists(dbus_id):
        os.unlink(dbus_id)
    write_file(os.path.join(root, "etc/resolv.conf"), "# lbdoctor lab: no DNS, no way out\n")
    write_file(os.path.join(root, "etc/fstab"), "# lbdoctor lab: nothing to mount\n")
    for name, text in recipe()["files"].items():
        mode = 0o755 if name.startswith("/usr/local/bin/") else 0o644
        write_file(os.path.join(root, name.lstrip("/")), text, mode)
    os.makedirs(os.path.join(root, "root/.ssh"), mode=0o700, exist_ok=True)
