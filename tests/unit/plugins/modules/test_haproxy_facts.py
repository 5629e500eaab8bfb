"""Tests of the haproxy_facts module: argspec, option checks, check mode, and the command
runner (argv lists, LC_ALL=C, the HAProxy environment, a missing binary never failing the
module). AnsibleModule.exit_json/fail_json/run_command are mocked.
"""

import pytest
from ansible.module_utils import basic

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

        def run_command(self, argv, environ_update=None, check_rc=True):
            seen.append((argv, environ_update, check_rc))
            return 0, "out", ""

    run = haproxy_facts._runner(FakeModule())
    assert run(["haproxy", "-vv"]) == (0, "out", "")
    assert run(["haproxy", "-c", "-f", "/etc/haproxy/haproxy.cfg"], {"WEB1": "10.0.0.1", "LC_ALL": "fr_FR"}) == \
        (0, "out", "")
    assert seen[0] == (["haproxy", "-vv"], {"LC_ALL": "C", "LANG": "C"}, False)
    # the HAProxy environment is passed, but the locale stays C
    assert seen[1][1] == {"WEB1": "10.0.0.1", "LC_ALL": "C", "LANG": "C"}
    # a missing binary is a (127, ...) answer, never a module failure
    assert run(["systemctl", "show"])[0] == 127
    assert run(["/nonexistent/haproxy", "-vv"])[0] == 127
    assert len(seen) == 2
