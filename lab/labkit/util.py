"""Running commands (argv lists, never shell strings) and checking preconditions."""

import os
import shutil
import subprocess
import sys

from .errors import LabError

# PATH used for every command we run, on the host and inside the lab hosts.
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

VERBOSE = False


def log(message):
    print("lab: %s" % message, file=sys.stderr, flush=True)


def debug(message):
    if VERBOSE:
        print("lab[debug]: %s" % message, file=sys.stderr, flush=True)


def base_env(extra=None):
    env = {"PATH": SAFE_PATH, "LC_ALL": "C", "LANG": "C"}
    if extra:
        env.update(extra)
    return env


def run(argv, check=True, input_text=None, timeout=120, env=None, what=None, capture=True):
    """Run argv; return (rc, stdout, stderr). With check, a non-zero rc raises a LabError naming the command."""
    if not isinstance(argv, (list, tuple)) or not argv:
        raise TypeError("run() wants a non-empty argv list")
    argv = [str(a) for a in argv]
    debug("run: %s" % " ".join(argv))
    try:
        proc = subprocess.run(
            argv,
            input=input_text,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
            stdin=None if input_text is not None else subprocess.DEVNULL,
            text=True,
            timeout=timeout,
            env=env if env is not None else base_env(),
            check=False,
        )
    except FileNotFoundError:
        raise LabError("%s: command not found: %s" % (what or "run", argv[0]))
    except subprocess.TimeoutExpired:
        raise LabError("%s: timed out after %ss: %s" % (what or "run", timeout, " ".join(argv)))
    out = proc.stdout or ""
    err = proc.stderr or ""
    if check and proc.returncode != 0:
        detail = (err.strip() or out.strip() or "no output").splitlines()
        raise LabError(
            "%s failed (rc=%d): %s: %s"
            % (what or argv[0], proc.returncode, " ".join(argv), " | ".join(detail[-5:]))
        )
    return proc.returncode, out, err


def require_root():
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, mounts, systemd-nspawn); run it as root", 2)


# tool -> Debian package that provides it
TOOLS = {
    "ip": "iproute2",
    "nsenter": "util-linux",
    "mount": "mount",
    "umount": "mount",
    "systemd-nspawn": "systemd-container",
    "mmdebstrap": "mmdebstrap",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
}


def require_tools(names):
    missing = []
    for name in names:
        if shutil.which(name, path=SAFE_PATH) is None:
            missing.append("%s (Debian package %s)" % (name, TOOLS.get(name, "?")))
    if missing:
        raise LabError("missing tools: %s; install them (scripts/setup-host does)" % ", ".join(missing), 2)


def write_file(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".lab-tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def symlink(target, path):
    """Create or replace the symlink path -> target (parent dirs created)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink(target, path)
