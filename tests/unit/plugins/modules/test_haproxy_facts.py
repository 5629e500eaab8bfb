"""Tests of the haproxy_facts module: argspec, option checks, check mode, and the command
runner (argv lists, LC_ALL=C, the HAProxy environment, a missing binary never failing the
module). AnsibleModule.exit_json/fail_json/run_command are mocked.
"""

import json
import os
import stat

import pytest
from ansible.module_utils import basic

from ansible_collections.lbdoctor.haproxy.plugins.module_utils import haproxy_locate

from ansible_collections.lbdoctor.haproxy.plugins.modules import haproxy_facts

from module_harness import Exit, Fail, run_main


def run_module(args):
    return run_main(haproxy_facts.main, args)


CONTENT = """\
global
    stats socket /nonexistent/lbdoctor-test.sock level admin
backend web
    server web1 198.18.0.11:8080 check
"""


@pytest.mark.parametrize("check_mode", [False, True])
def test_content_mode_returns_facts(check_mode, monkeypatch):
    commands = []
    monkeypatch.setattr(basic.AnsibleModule, "run_command",
                        lambda self, argv, **kw: commands.append(argv) or (0, "", ""))
    args = {"content": CONTENT, "resolve": False}
    if check_mode:
        args["_ansible_check_mode"] = True
    result = run_module(args)
    assert isinstance(result, Exit)
    facts = result.args[0]["ansible_facts"]["lbdoctor_haproxy"]
    assert result.args[0]["changed"] is False
    assert facts["config"]["source"] == "content"
    assert facts["config"]["backends"][0]["servers"][0]["address"] == "198.18.0.11"
    # the socket named by the pasted config does not exist here: said, not fatal
    assert facts["runtime"]["available"] is False and facts["runtime"]["error_kind"] == "no-socket"
    assert commands == []


def test_config_and_content_are_exclusive():
    result = run_module({"content": CONTENT, "config": ["/etc/haproxy/haproxy.cfg"]})
    assert isinstance(result, Fail) and "mutually exclusive" in result.args[0]["msg"]


def test_socket_timeout_bounds():
    result = run_module({"content": CONTENT, "socket_timeout": 0})
    assert isinstance(result, Fail) and "socket_timeout" in result.args[0]["msg"]


def test_runner_argv_and_environment(monkeypatch):
    seen = []

    class FakeModule(object):
        def get_bin_path(self, name):
            return "/usr/sbin/haproxy" if name == "haproxy" else None

        def run_command(self, argv, environ_update=None, check_rc=True, errors="surrogate_or_strict"):
            seen.append((argv, environ_update, check_rc, errors))
            return 0, "out", ""

    run = haproxy_facts._runner(FakeModule())
    assert run(["haproxy", "-vv"]) == (0, "out", "")
    assert run(["haproxy", "-c", "-f", "/etc/haproxy/haproxy.cfg"], {"WEB1": "10.0.0.1", "LC_ALL": "fr_FR"}) == \
        (0, "out", "")
    assert seen[0] == (["haproxy", "-vv"], {"LC_ALL": "C", "LANG": "C"}, False, "replace")
    # the HAProxy environment is passed, but the locale stays C
    assert seen[1][1] == {"WEB1": "10.0.0.1", "LC_ALL": "C", "LANG": "C"}
    # a missing binary is a (127, ...) answer, never a module failure
    assert run(["systemctl", "show"])[0] == 127
    assert run(["/nonexistent/haproxy", "-vv"])[0] == 127
    assert len(seen) == 2


FAKE_HAPROXY = r"""#!/bin/sh
# -vv: a version; -c: what HAProxy 2.6 prints for a Latin-1 byte in a keyword (the byte as is)
case "$1" in
  -vv) echo "HAProxy version 2.6.12-1+deb12u4 2026/10/17"; echo "Feature list : +EPOLL" ;;
  -c) printf '[ALERT]    (1) : config : parsing [%s:6] : unknown keyword \047caf\351\047 in \047backend\047 section\n' "$3" >&2; exit 1 ;;
esac
"""


def _fake_host(tmp_path, monkeypatch):
    """PATH holds only a fake haproxy (and a systemctl that fails); no running haproxy is seen."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in (("haproxy", FAKE_HAPROXY), ("systemctl", "#!/bin/sh\nexit 1\n")):
        path = bindir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.setattr(haproxy_locate, "find_haproxy_processes", lambda fs, proc="/proc": [])


def test_bytes_that_are_not_utf8_give_a_strict_utf8_result(tmp_path, monkeypatch):
    """ansible-core 2.19 refuses a result with a lone surrogate ("Refusing to deserialize an
    invalid UTF8 string value"): config, `haproxy -c` output and log lines are all Latin-1 here."""
    _fake_host(tmp_path, monkeypatch)
    config = tmp_path / "x.cfg"
    config.write_bytes(b"global\n    log /dev/log local0\nbackend web\n    option httpchk\n"
                       b"    http-check send hdr Host caf\xe9\n    server web1 198.18.0.11:8080 check\n")
    log = tmp_path / "haproxy.log"
    # HAProxy's stderr shape without a date: never outside the window
    log.write_bytes(b"[WARNING]  (812) : Server web/web1 is DOWN, "
                    b"reason: Layer7 wrong status, code: 503, info: \"Service Unavailable caf\xe9\", check "
                    b"duration: 1ms. 0 active and 0 backup servers left.\n")
    result = run_module({"config": [str(config)], "runtime": False, "resolve": False, "mac": False,
                         "firewall": False, "log_files": [str(log)]})
    assert isinstance(result, Exit), result.args
    json.dumps(result.args[0], ensure_ascii=False).encode("utf-8")
    conf = result.args[0]["ansible_facts"]["lbdoctor_haproxy"]["config"]
    assert [(w["file"], w["line"], w["code"]) for w in conf["warnings"]] == [(str(config), 5, "encoding")]
    assert conf["backends"][0]["httpchk"]["host"] == "caf\ufffd"
    check = [e for e in conf["errors"] if e["origin"] == "haproxy -c"]
    assert [(e["file"], e["line"], e["message"]) for e in check] == [
        (str(config), 6, "unknown keyword 'caf\ufffd' in 'backend' section")]
    logs = result.args[0]["ansible_facts"]["lbdoctor_haproxy"]["logs"]
    assert logs["servers"]["web/web1"]["last_info"] == "Service Unavailable caf\ufffd"


def test_binary_garbage_is_a_clear_error_not_a_failed_task(tmp_path, monkeypatch):
    _fake_host(tmp_path, monkeypatch)
    junk = tmp_path / "junk.cfg"
    junk.write_bytes(bytes(bytearray((i * 151 + 7) % 255 + 1 for i in range(3000))))
    result = run_module({"config": [str(junk)], "runtime": False, "resolve": False, "mac": False,
                         "firewall": False, "logs": False, "validate": False})
    assert isinstance(result, Exit), result.args
    json.dumps(result.args[0], ensure_ascii=False).encode("utf-8")
    conf = result.args[0]["ansible_facts"]["lbdoctor_haproxy"]["config"]
    assert [(e["file"], e["line"], e["code"]) for e in conf["errors"]] == [(str(junk), 1, "binary")]
    assert conf["backends"] == [] and os.path.basename(conf["files"][0]) == "junk.cfg"


def test_a_path_option_that_is_not_utf8_comes_back_as_strict_utf8(tmp_path, monkeypatch):
    """`-a config=/tmp/caf<E9>` on the command line: the path opens, and neither the facts nor
    the `invocation` echo of the parameters carries the byte as a lone surrogate."""
    _fake_host(tmp_path, monkeypatch)

    def exit_with_invocation(module, **kwargs):
        kwargs["invocation"] = {"module_args": dict(module.params)}  # what the real exit_json adds
        raise Exit(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_with_invocation)
    directory = os.path.join(os.fsencode(str(tmp_path)), b"caf\xe9")
    os.mkdir(directory)
    with open(os.path.join(directory, b"a.cfg"), "wb") as handle:
        handle.write(b"backend web\n    server web1 198.18.0.11:8080 check\n")
    path = os.fsdecode(directory)  # str with a lone surrogate, as the module gets it from the controller
    args = {"config": [path], "runtime": False, "resolve": False, "mac": False, "firewall": False, "logs": False,
            "validate": False}
    # patch_module_args' strict JSON cannot carry the surrogate: hand the parameters over directly
    monkeypatch.setattr(basic, "_load_params", lambda: dict(args))
    result = run_module({})
    assert isinstance(result, Exit), result.args
    json.dumps(result.args[0], ensure_ascii=False).encode("utf-8")
    conf = result.args[0]["ansible_facts"]["lbdoctor_haproxy"]["config"]
    shown = str(tmp_path) + "/caf\ufffd"
    assert conf["files"] == [shown + "/a.cfg"]
    assert conf["backends"][0]["servers"][0]["address"] == "198.18.0.11"
    assert result.args[0]["invocation"]["module_args"]["config"] == [shown]


class _LogFS(object):
    """The files the module may read (bytes by path); nothing else exists."""

    def __init__(self, files):
        self.files = files

    def listdir(self, path):
        prefix = path.rstrip("/") + "/"
        names = sorted(set(p[len(prefix):].split("/")[0] for p in self.files if p.startswith(prefix)))
        if not names:
            raise OSError(2, "No such file or directory")
        return names

    def isdir(self, path):
        return any(p.startswith(path.rstrip("/") + "/") for p in self.files)

    def isfile(self, path):
        return path in self.files

    def read_bytes(self, path):
        if path not in self.files:
            raise OSError(2, "No such file or directory")
        return self.files[path]


def test_logs_follow_the_config_log_lines_through_rsyslog(tmp_path, monkeypatch, fixture_text):
    """The module hands the parsed config to the log collector: `log /dev/log local0` at line 2
    of the config leads, through Debian's rsyslog files (fixtures), to /var/log/haproxy.log."""
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("global\n    log /dev/log local0\nbackend web\n    server web1 198.18.0.11:8080 check\n")
    fs = _LogFS({
        "/etc/rsyslog.conf": fixture_text("haproxy/rsyslog/debian12-rsyslog.conf").encode(),
        "/etc/rsyslog.d/49-haproxy.conf": fixture_text("haproxy/rsyslog/debian12-49-haproxy.conf").encode(),
        "/var/log/haproxy.log": b"",
        str(cfg): cfg.read_bytes(),
    })
    monkeypatch.setattr(haproxy_locate, "LocalFS", lambda: fs)
    monkeypatch.setattr(haproxy_locate, "find_haproxy_processes", lambda fs, proc="/proc": [])
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **kw: "/usr/bin/" + name)
    commands = []

    def run_command(self, argv, **kw):
        commands.append(argv)
        return (0, "", "") if argv[0] == "journalctl" else (127, "", "not here")

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    result = run_module({"config": [str(cfg)], "runtime": False, "validate": False, "resolve": False,
                         "mac": False, "firewall": False})
    assert isinstance(result, Exit)
    logs = result.args[0]["ansible_facts"]["lbdoctor_haproxy"]["logs"]
    assert logs["sources"] == ["journalctl -u haproxy.service -o short-iso", "/var/log/haproxy.log"]
    assert logs["source_reason"] == ('local0 from %s:2 -> /etc/rsyslog.d/49-haproxy.conf:7 '
                                     '(:programname, startswith, "haproxy")' % cfg)
    assert logs["routes"][0]["files"][0]["path"] == "/var/log/haproxy.log"
    assert [c[0] for c in commands].count("journalctl") == 1
