# -*- coding: utf-8 -*-
# Copyright: lbdoctor.haproxy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find the configuration the running HAProxy really uses.

Order: the ``-f`` files/directories on the command line of a running haproxy process
(/proc/PID/cmdline, relative paths against /proc/PID/cwd and ``-C``), else the ExecStart of
haproxy.service (``systemctl show``, with its Environment= and EnvironmentFiles= expanded), else
/etc/haproxy/haproxy.cfg. Directories expand to their ``*.cfg`` files in lexical (C locale)
order, as HAProxy does. The environment used for ``${VAR}`` expansion comes from the same place
(/proc/PID/environ, or the unit's environment).

Pure parsing helpers plus a collector that takes ``run(argv) -> (rc, out, err)`` and a
filesystem object, so tests feed captured /proc and systemctl output. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shlex

DEFAULT_CONFIG = "/etc/haproxy/haproxy.cfg"
DEFAULT_UNIT = "haproxy.service"


class LocalFS(object):
    """The live filesystem; tests pass an object with the same methods."""

    def listdir(self, path):
        return os.listdir(path)

    def isdir(self, path):
        return os.path.isdir(path)

    def isfile(self, path):
        return os.path.isfile(path)

    def exists(self, path):
        return os.path.exists(path)

    def read_bytes(self, path):
        with open(path, "rb") as handle:
            return handle.read()

    def readlink(self, path):
        return os.readlink(path)


def parse_cmdline(argv, cwd=None):
    """Read HAProxy's command line (a list of words). Returns a dict.

    Keys: configs (the -f arguments in order, made absolute against ``cwd`` and ``-C``),
    chdir, pidfile, master_socket (-S), master_worker, localpeer (-L), binary.
    """
    out = {"configs": [], "chdir": None, "pidfile": None, "master_socket": None, "master_worker": False,
           "localpeer": None, "binary": argv[0] if argv else None, "check_only": False}
    i = 1
    raw_configs = []
    while i < len(argv):
        arg = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if arg == "-f" and nxt is not None:
            raw_configs.append(nxt)
            i += 2
            continue
        if arg == "-C" and nxt is not None:
            out["chdir"] = nxt
            i += 2
            continue
        if arg == "-p" and nxt is not None:
            out["pidfile"] = nxt
            i += 2
            continue
        if arg == "-S" and nxt is not None:
            out["master_socket"] = nxt.split(",")[0]
            i += 2
            continue
        if arg == "-L" and nxt is not None:
            out["localpeer"] = nxt
            i += 2
            continue
        if arg in ("-W", "-Ws"):
            out["master_worker"] = True
        elif arg == "-c":
            out["check_only"] = True
        elif arg in ("-sf", "-st", "-x", "-m", "-N", "-n"):
            i += 1
            # -sf/-st take one or more pids; skip the numeric ones
            while arg in ("-sf", "-st") and i < len(argv) and argv[i].isdigit():
                i += 1
            continue
        elif arg == "--":
            raw_configs.extend(argv[i + 1:])
            break
        i += 1
    base = out["chdir"] or cwd
    for path in raw_configs:
        if base and not path.startswith("/"):
            path = os.path.normpath(os.path.join(base, path))
        out["configs"].append(path)
    return out


def expand_config_paths(paths, fs):
    """Expand directories to their *.cfg files (lexical order); returns (files, problems)."""
    files = []
    problems = []
    for path in paths:
        if fs.isdir(path):
            try:
                names = sorted(n for n in fs.listdir(path) if n.endswith(".cfg") and not n.startswith("."))
            except OSError as exc:
                problems.append({"what": "config", "reason": "cannot list directory: %s" % (exc.strerror or exc),
                                 "source": path})
                continue
            for name in names:
                full = os.path.join(path, name)
                if fs.isfile(full):
                    files.append(full)
        else:
            files.append(path)
    return files, problems


def parse_environ(data):
    """/proc/PID/environ (NUL-separated) as a dict."""
    env = {}
    for item in data.split(b"\0"):
        if b"=" in item:
            key, _sep, value = item.partition(b"=")
            env[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
    return env


def parse_env_file(text):
    """A systemd EnvironmentFile / /etc/default file: KEY=value lines, shell quoting, comments."""
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith(";"):
            continue
        if line.startswith("export "):
            line = line[7:].strip()
        key, sep, value = line.partition("=")
        if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key.strip()):
            continue
        try:
            words = shlex.split(value, comments=True)
            value = " ".join(words)
        except ValueError:
            value = value.strip().strip("\"'")
        env[key.strip()] = value
    return env


def parse_systemctl_show(text):
    """`systemctl show -p ...` KEY=VALUE output as a dict (first '=' splits, repeated keys joined)."""
    props = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            # list properties (EnvironmentFiles=) come as one line per value
            props[key] = props[key] + "\n" + value if key in props else value
    return props


def parse_exec_start(value):
    """The argv of a systemd ExecStart property: '{ path=... ; argv[]=... ; ... }'."""
    m = re.search(r"argv\[\]=(.*?)\s;\s(?:ignore_errors|start_time|stop_time|pid|code|status|flags)", value)
    if not m:
        m = re.search(r"argv\[\]=(.*?)(?:\s;|\s*}\s*$)", value)
    if not m:
        return None
    try:
        return shlex.split(m.group(1))
    except ValueError:
        return m.group(1).split()


def parse_unit_environment(value):
    """The Environment= property: space-separated KEY=VALUE words (systemd quotes values with blanks)."""
    env = {}
    if not value:
        return env
    try:
        words = shlex.split(value)
    except ValueError:
        words = value.split()
    last = None
    for word in words:
        key, sep, val = word.partition("=")
        if sep and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            env[key] = val
            last = key
        elif last:
            env[last] = env[last] + " " + word
    return env


def expand_unit_vars(argv, env):
    """systemd's $VAR / ${VAR} in ExecStart: ${VAR} keeps one word, $VAR splits on blanks."""
    out = []
    for word in argv:
        m = re.match(r"^\$([A-Za-z_][A-Za-z0-9_]*)$", word)
        if m:
            out.extend(env.get(m.group(1), "").split())
            continue
        out.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda mm: env.get(mm.group(1), ""), word))
    return [w for w in out if w != ""]


def find_haproxy_processes(fs, proc="/proc"):
    """Running haproxy processes: [{pid, ppid, argv, cwd, exe}], masters first, by pid."""
    found = []
    try:
        entries = fs.listdir(proc)
    except OSError:
        return found
    for name in entries:
        if not name.isdigit():
            continue
        base = os.path.join(proc, name)
        try:
            comm = fs.read_bytes(os.path.join(base, "comm")).decode("utf-8", "replace").strip()
        except (OSError, IOError):
            continue
        if comm != "haproxy":
            continue
        try:
            raw = fs.read_bytes(os.path.join(base, "cmdline"))
        except (OSError, IOError):
            continue
        argv = [a.decode("utf-8", "surrogateescape") for a in raw.split(b"\0") if a]
        if not argv:
            continue
        ppid = None
        try:
            stat = fs.read_bytes(os.path.join(base, "stat")).decode("utf-8", "replace")
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IOError, ValueError, IndexError):
            pass
        cwd = exe = None
        try:
            cwd = fs.readlink(os.path.join(base, "cwd"))
        except (OSError, IOError):
            pass
        try:
            exe = fs.readlink(os.path.join(base, "exe"))
        except (OSError, IOError):
            pass
        found.append({"pid": int(name), "ppid": ppid, "argv": argv, "cwd": cwd, "exe": exe})
    pids = set(p["pid"] for p in found)
    found.sort(key=lambda p: (p["ppid"] in pids, p["pid"]))
    return found


def locate(run, fs=None, unit=DEFAULT_UNIT, proc="/proc"):
    """Find the config files, their origin and the HAProxy environment.

    Returns {source: cmdline|unit|default, paths, files, env, env_source, process, binary,
    master_socket, unavailable}.
    """
    fs = fs or LocalFS()
    result = {"source": "default", "paths": [DEFAULT_CONFIG], "files": [], "env": None, "env_source": None,
              "process": None, "binary": None, "master_socket": None, "unavailable": []}
    procs = find_haproxy_processes(fs, proc)
    for p in procs:
        info = parse_cmdline(p["argv"], p["cwd"])
        if info["check_only"] or not info["configs"]:
            continue
        result.update(source="cmdline", paths=info["configs"], master_socket=info["master_socket"],
                      binary=p["exe"] or info["binary"])
        result["process"] = {"pid": p["pid"], "ppid": p["ppid"], "argv": p["argv"], "cwd": p["cwd"]}
        try:
            result["env"] = parse_environ(fs.read_bytes(os.path.join(proc, str(p["pid"]), "environ")))
            result["env_source"] = "/proc/%d/environ" % p["pid"]
        except (OSError, IOError) as exc:
            result["unavailable"].append({"what": "config.environment", "source": "/proc/%d/environ" % p["pid"],
                                          "reason": "cannot read the HAProxy process environment: %s"
                                                    % (getattr(exc, "strerror", None) or exc)})
        break
    if result["source"] == "default":
        unit_info = _from_unit(run, fs, unit, result["unavailable"])
        if unit_info:
            result.update(unit_info)
    files, problems = expand_config_paths(result["paths"], fs)
    result["files"] = files
    result["unavailable"].extend(problems)
    return result


def _from_unit(run, fs, unit, unavailable):
    argv = ["systemctl", "show", "-p", "ExecStart", "-p", "Environment", "-p", "EnvironmentFiles",
            "-p", "LoadState", unit]
    try:
        rc, out, err = run(argv)
    except (OSError, IOError) as exc:
        unavailable.append({"what": "config.unit", "source": " ".join(argv), "reason": str(exc)})
        return None
    if rc != 0:
        unavailable.append({"what": "config.unit", "source": " ".join(argv),
                            "reason": (err or out or "rc=%d" % rc).strip()[:300]})
        return None
    props = parse_systemctl_show(out)
    if props.get("LoadState") not in (None, "loaded") or not props.get("ExecStart"):
        return None
    env = parse_unit_environment(props.get("Environment", ""))
    for item in re.findall(r"(\S+) \(ignore_errors=(?:yes|no)\)", props.get("EnvironmentFiles", "")):
        try:
            env.update(parse_env_file(fs.read_bytes(item).decode("utf-8", "replace")))
        except (OSError, IOError):
            continue
    exec_argv = parse_exec_start(props["ExecStart"])
    if not exec_argv:
        return None
    info = parse_cmdline(expand_unit_vars(exec_argv, env))
    if not info["configs"]:
        return None
    return {"source": "unit", "paths": info["configs"], "env": env, "env_source": unit,
            "master_socket": info["master_socket"], "binary": info["binary"]}
