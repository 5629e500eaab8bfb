"""The state directory ($STATE) and the per-prefix lock.

$STATE/
  .lbdoctor-lab-state   marker: `down` only ever deletes a directory carrying it
  lab.json              runtime state (pids, cgroups, mounts); written as soon as anything exists
  scenario.json         the resolved scenario (see inventory.py)
  inventory.ini, ssh_config, id_ed25519, id_ed25519.pub
  hosts/<host>/{upper,work,root,console.log}
"""

import fcntl
import json
import os

from .errors import LabError
from .util import write_file

MARKER = ".lbdoctor-lab-state"
LOCK_DIR = "/run/lock"
REGISTRY_DIR = "/run/lbdoctor-lab"


class Lock:
    """An exclusive flock per prefix: two `lab.py` runs never work on the same names at once.

    The lock file is removed on release, so nothing is left in /run/lock; a run that opened the file
    just before it was removed notices (the path no longer names its inode) and opens it afresh.
    """

    def __init__(self, prefix):
        self.path = os.path.join(LOCK_DIR, "lbdoctor-lab-%s.lock" % prefix)
        self.handle = None

    def __enter__(self):
        os.makedirs(LOCK_DIR, exist_ok=True)
        while True:
            handle = open(self.path, "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise LabError("another lab.py run holds %s; wait for it to finish" % self.path)
            try:
                same = os.stat(self.path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.handle = handle
                return self
            handle.close()

    def __exit__(self, *exc):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.handle.close()


def prepare_dir(state_dir):
    if os.path.isdir(state_dir) and os.listdir(state_dir) and not os.path.exists(os.path.join(state_dir, MARKER)):
        raise LabError("state directory %s exists and is not a lab state directory (no %s); "
                       "refusing to use it" % (state_dir, MARKER))
    os.makedirs(state_dir, exist_ok=True)
    write_file(os.path.join(state_dir, MARKER), "lbdoctor lab state; `lab.py down` deletes this directory\n")


def is_state_dir(state_dir):
    return os.path.exists(os.path.join(state_dir, MARKER))


def lab_json(state_dir):
    return os.path.join(state_dir, "lab.json")


def load(state_dir):
    try:
        with open(lab_json(state_dir)) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise LabError("%s is not valid JSON (%s); `lab.py down` with --prefix still cleans up by name"
                       % (lab_json(state_dir), exc))


def save(state_dir, data):
    write_file(lab_json(state_dir), json.dumps(data, indent=2, sort_keys=True) + "\n", 0o644)


def register(prefix, state_dir):
    write_file(os.path.join(REGISTRY_DIR, prefix), os.path.realpath(state_dir) + "\n")


def registered_state(prefix):
    try:
        with open(os.path.join(REGISTRY_DIR, prefix)) as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def unregister(prefix):
    try:
        os.unlink(os.path.join(REGISTRY_DIR, prefix))
    except FileNotFoundError:
        pass
    try:
        os.rmdir(REGISTRY_DIR)
    except OSError:
        pass


def prefixes_of(state_dir):
    """Prefixes registered to state_dir (a lab whose state directory was lost can still be found)."""
    found = []
    real = os.path.realpath(state_dir)
    try:
        names = sorted(os.listdir(REGISTRY_DIR))
    except OSError:
        return found
    for name in names:
        if registered_state(name) == real:
            found.append(name)
    return found
