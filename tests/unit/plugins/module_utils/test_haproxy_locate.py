"""Tests of finding the configuration the running HAProxy uses: /proc command lines, the
systemd unit (ExecStart with $CONFIG from Environment= and EnvironmentFiles=), the default,
and directory expansion. /proc and systemctl are faked with captured-shape data.

The ExecStart/Environment strings follow `systemctl show -p ExecStart -p Environment
-p EnvironmentFiles haproxy.service` on Debian 12 (haproxy 2.6.12-1+deb12u4 unit).
"""

import posixpath

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.haproxy_locate import (
    expand_config_paths, expand_unit_vars, find_haproxy_processes, locate, parse_cmdline, parse_env_file,
    parse_environ, parse_exec_start, parse_unit_environment,
)


class FakeFS(object):
    """Files (bytes), directories and symlinks in a dict; what is missing raises ENOENT."""

    def __init__(self, files=None, links=None, denied=()):
        self.files = dict(files or {})
        self.links = dict(links or {})
        self.denied = set(denied)

    def _check(self, path):
        if path in self.denied:
            raise OSError(13, "Permission denied")

    def listdir(self, path):
        prefix = path.rstrip("/") + "/"
        names = set()
        for name in list(self.files) + list(self.links):
            if name.startswith(prefix):
                names.add(name[len(prefix):].split("/")[0])
        if not names:
            raise OSError(2, "No such file or directory")
        return sorted(names)

    def isdir(self, path):
        prefix = path.rstrip("/") + "/"
        return any(name.startswith(prefix) for name in self.files)

    def isfile(self, path):
        return path in self.files

    def exists(self, path):
        return self.isfile(path) or self.isdir(path)

    def read_bytes(self, path):
        self._check(path)
        if path not in self.files:
            raise OSError(2, "No such file or directory")
        return self.files[path]

    def readlink(self, path):
        self._check(path)
        if path not in self.links:
            raise OSError(2, "No such file or directory")
        return self.links[path]


DEBIAN_EXEC = ("{ path=/usr/sbin/haproxy ; argv[]=/usr/sbin/haproxy -Ws -f $CONFIG -p $PIDFILE $EXTRAOPTS ; "
               "ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }")
DEBIAN_SHOW = ("ExecStart=%s\nEnvironment=\"CONFIG=/etc/haproxy/haproxy.cfg\" PIDFILE=/run/haproxy.pid "
               "\"EXTRAOPTS=-S /run/haproxy-master.sock\"\nEnvironmentFiles=/etc/default/haproxy "
               "(ignore_errors=yes)\nEnvironmentFiles=/etc/sysconfig/haproxy (ignore_errors=yes)\n"
               "LoadState=loaded\n" % DEBIAN_EXEC)


def proc_entry(pid, ppid, argv, cwd="/", environ=b"", comm=b"haproxy\n"):
    base = "/proc/%d" % pid
    files = {base + "/comm": comm, base + "/cmdline": b"\0".join(a.encode() for a in argv) + b"\0",
             base + "/stat": ("%d (haproxy) S %d 1 1 0" % (pid, ppid)).encode()}
    if environ is not None:
        files[base + "/environ"] = environ
    links = {base + "/cwd": cwd, base + "/exe": "/usr/sbin/haproxy"}
    return files, links


def test_parse_cmdline_master_worker():
    info = parse_cmdline(["/usr/sbin/haproxy", "-Ws", "-f", "/etc/haproxy/haproxy.cfg", "-f", "conf.d",
                          "-p", "/run/haproxy.pid", "-S", "/run/haproxy-master.sock,mode,600", "-sf", "12", "13"],
                         cwd="/etc/haproxy")
    assert info["configs"] == ["/etc/haproxy/haproxy.cfg", "/etc/haproxy/conf.d"]
    assert info["master_socket"] == "/run/haproxy-master.sock" and info["master_worker"] is True
    assert info["pidfile"] == "/run/haproxy.pid"


def test_parse_cmdline_chdir_makes_relative_paths_absolute():
    info = parse_cmdline(["haproxy", "-C", "/srv/lb", "-f", "lb.cfg"], cwd="/")
    assert info["configs"] == ["/srv/lb/lb.cfg"]


def test_unit_helpers():
    assert parse_exec_start(DEBIAN_EXEC) == ["/usr/sbin/haproxy", "-Ws", "-f", "$CONFIG", "-p", "$PIDFILE",
                                             "$EXTRAOPTS"]
    env = parse_unit_environment('"CONFIG=/etc/haproxy/haproxy.cfg" PIDFILE=/run/haproxy.pid '
                                 '"EXTRAOPTS=-S /run/haproxy-master.sock"')
    assert env == {"CONFIG": "/etc/haproxy/haproxy.cfg", "PIDFILE": "/run/haproxy.pid",
                   "EXTRAOPTS": "-S /run/haproxy-master.sock"}
    assert expand_unit_vars(["haproxy", "-f", "$CONFIG", "$EXTRAOPTS", "-f", "${CFGDIR}"],
                            dict(env, CFGDIR="/etc/haproxy/conf.d")) == \
        ["haproxy", "-f", "/etc/haproxy/haproxy.cfg", "-S", "/run/haproxy-master.sock", "-f", "/etc/haproxy/conf.d"]
    assert parse_env_file('# comment\nCONFIG="/etc/haproxy/alt.cfg"\nexport EXTRAOPTS=\'-de\'\nnot a line\n') == \
        {"CONFIG": "/etc/haproxy/alt.cfg", "EXTRAOPTS": "-de"}
    assert parse_environ(b"A=1\0B=x=y\0\0") == {"A": "1", "B": "x=y"}


def test_expand_directories_in_lexical_order():
    fs = FakeFS({"/etc/haproxy/conf.d/20-b.cfg": b"", "/etc/haproxy/conf.d/10-a.cfg": b"",
                 "/etc/haproxy/conf.d/README": b"", "/etc/haproxy/conf.d/.hidden.cfg": b"",
                 "/etc/haproxy/conf.d/B.cfg": b"", "/etc/haproxy/haproxy.cfg": b""})
    files, problems = expand_config_paths(["/etc/haproxy/haproxy.cfg", "/etc/haproxy/conf.d"], fs)
    assert files == ["/etc/haproxy/haproxy.cfg", "/etc/haproxy/conf.d/10-a.cfg", "/etc/haproxy/conf.d/20-b.cfg",
                     "/etc/haproxy/conf.d/B.cfg"]
    assert problems == []


def test_locate_from_running_process_prefers_master():
    master_files, master_links = proc_entry(100, 1, ["/usr/sbin/haproxy", "-Ws", "-f", "/etc/haproxy/haproxy.cfg",
                                                     "-f", "/etc/haproxy/conf.d"],
                                            environ=b"CONFIG=/etc/haproxy/haproxy.cfg\0BACKEND_IP=10.0.0.5\0")
    worker_files, worker_links = proc_entry(101, 100, ["/usr/sbin/haproxy", "-Ws", "-f", "/other.cfg"])
    other_files, other_links = proc_entry(50, 1, ["/usr/bin/python3"], comm=b"python3\n")
    files = dict(master_files, **worker_files)
    files.update(other_files)
    files["/etc/haproxy/conf.d/a.cfg"] = b""
    links = dict(master_links, **worker_links)
    links.update(other_links)
    fs = FakeFS(files, links)
    calls = []

    def run(argv):
        calls.append(argv)
        return 1, "", "unexpected"

    procs = find_haproxy_processes(fs)
    assert [p["pid"] for p in procs] == [100, 101]
    result = locate(run, fs=fs)
    assert result["source"] == "cmdline"
    assert result["files"] == ["/etc/haproxy/haproxy.cfg", "/etc/haproxy/conf.d/a.cfg"]
    assert result["env"]["BACKEND_IP"] == "10.0.0.5" and result["env_source"] == "/proc/100/environ"
    assert result["process"]["pid"] == 100 and result["binary"] == "/usr/sbin/haproxy"
    assert calls == []  # no systemctl when the process answers


def test_locate_process_environment_unreadable_is_reported():
    files, links = proc_entry(100, 1, ["haproxy", "-f", "/etc/haproxy/haproxy.cfg"], environ=None)
    fs = FakeFS(files, links, denied={"/proc/100/environ"})
    result = locate(lambda argv: (1, "", ""), fs=fs)
    assert result["env"] is None
    assert result["unavailable"][0]["what"] == "config.environment"


def test_locate_from_unit_when_not_running():
    fs = FakeFS({"/proc/1/comm": b"init\n", "/etc/default/haproxy": b'CONFIG="/etc/haproxy/alt.cfg"\n',
                 "/etc/sysconfig/haproxy": b"PIDFILE=/run/alt.pid\n"})
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, DEBIAN_SHOW, ""

    result = locate(run, fs=fs)
    assert calls == [["systemctl", "show", "-p", "ExecStart", "-p", "Environment", "-p", "EnvironmentFiles",
                      "-p", "LoadState", "haproxy.service"]]
    assert result["source"] == "unit"
    # EnvironmentFile= is read after Environment= and wins, as in systemd
    assert result["paths"] == ["/etc/haproxy/alt.cfg"]
    assert result["master_socket"] == "/run/haproxy-master.sock"
    assert result["env"]["PIDFILE"] == "/run/alt.pid"


def test_locate_default_when_nothing_answers():
    fs = FakeFS({})
    result = locate(lambda argv: (1, "", "System has not been booted with systemd"), fs=fs)
    assert result["source"] == "default" and result["files"] == ["/etc/haproxy/haproxy.cfg"]
    assert result["unavailable"][0]["what"] == "config.unit"
    assert posixpath.isabs(result["files"][0])
