"""Tests of the backend_facts module: option checks, run_command argv and environment,
check mode and record_healthy. The host is faked: collect() gets a fake read, an empty /proc
tree and a fake netlink answer, while commands go through AnsibleModule.run_command (mocked).
"""

import json
import os

import pytest
from ansible.module_utils import basic

from ansible_collections.lbdoctor.haproxy.plugins.module_utils import backend_collect
from ansible_collections.lbdoctor.haproxy.plugins.modules import backend_facts

from module_harness import Exit, Fail, run_main

TCP = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
       "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 555 1 0 100 0 0 10 0\n")


@pytest.fixture
def host(monkeypatch, tmp_path):
    proc = tmp_path / "proc"
    (proc / "42" / "fd").mkdir(parents=True)
    os.symlink("socket:[555]", str(proc / "42" / "fd" / "3"))
    (proc / "42" / "comm").write_text("app\n")
    (proc / "42" / "cmdline").write_bytes(b"/usr/bin/app\0--port\x008080\0")
    (proc / "42" / "status").write_text("Uid:\t0\t0\t0\t0\nPPid:\t1\n")
    (proc / "42" / "cgroup").write_text("0::/system.slice/app.service\n")
    files = {"/proc/net/tcp": TCP, "/proc/net/tcp6": "", "/proc/sys/net/ipv6/bindv6only": "0\n",
             "/proc/sys/kernel/hostname": "web1\n"}
    calls = []

    def read(path):
        if path in files:
            return files[path]
        with open(path) as handle:
            return handle.read()

    real_collect = backend_collect.collect

    def fake_collect(run, read_=None, options=None, **kwargs):
        return real_collect(run, read, options, proc_root=str(proc), inet_diag=lambda: ({}, None),
                            which=lambda name: None, list_dir=lambda path: [])

    def run_command(self, args, check_rc=False, environ_update=None, **kwargs):
        calls.append((list(args), dict(environ_update or {})))
        return 1, "", "System has not been booted with systemd as init system (PID 1). Can't operate."

    monkeypatch.setattr(backend_facts, "collect", fake_collect)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    return {"calls": calls, "tmp": tmp_path}


def run_module(args):
    ended = run_main(backend_facts.main, args)
    return type(ended), ended.args[0]


def test_gathers_with_lc_all_c_and_argv_lists(host):
    kind, result = run_module({"ports": [8080], "units": ["app"],
                               "gather_subset": ["all", "!containers", "!firewall", "!mac"]})
    assert kind is Exit
    assert result["changed"] is False
    facts = result["ansible_facts"]["lbdoctor_backend"]
    assert facts["listeners"][0]["unit"] == "app.service"
    assert facts["listeners"][0]["cmdline"] == "/usr/bin/app --port 8080"
    argvs = [[os.path.basename(argv[0])] + argv[1:] for argv, _env in host["calls"]]
    assert all(os.path.isabs(argv[0]) for argv, _env in host["calls"])  # resolved by get_bin_path
    assert argvs[0] == ["ip", "-j", "addr", "show"]
    assert argvs[2][:3] == ["systemctl", "show", "--all"]
    assert argvs[2][-3:] == ["app.service", "*.socket", "*.service"]
    assert all(env == {"LC_ALL": "C", "LANG": "C"} for _argv, env in host["calls"])
    assert facts["port_owners"]["8080"]["unit"] == "app.service"
    assert "units" in [u["what"] for u in facts["unavailable"]]


@pytest.mark.parametrize("args,message", [
    ({"gather_subset": ["hardware"]}, "unknown gather_subset 'hardware'"),
    ({"units": ["app;rm -rf /"]}, "invalid unit name"),
    ({"units": ["--help"]}, "must not start with '-'"),
    ({"unit_map": {"http": "app.service"}}, "is not a port number"),
    ({"unit_map": {"8080": "bad name.service"}}, "invalid unit name"),
    ({"ports": [70000]}, "70000 is not a TCP port"),
    ({"journal_lines": -1}, "journal_lines must be 0 or more"),
])
def test_bad_options_fail(host, args, message):
    kind, result = run_module(args)
    assert kind is Fail
    assert message in result["msg"]
    assert host["calls"] == []


def test_missing_tool_is_unavailable_not_a_failure(host, monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, *a, **k: None)
    kind, result = run_module({"gather_subset": ["addresses", "units"], "units": ["app"]})
    assert kind is Exit
    assert host["calls"] == []
    reasons = [u["reason"] for u in result["ansible_facts"]["lbdoctor_backend"]["unavailable"]]
    assert "exit 127: ip: command not found" in reasons
    assert "exit 127: systemctl: command not found" in reasons


def test_record_healthy_check_mode_writes_nothing(host):
    state = str(host["tmp"] / "state" / "last_healthy.json")
    kind, result = run_module({"ports": [8080], "record_healthy": True, "state_file": state,
                               "gather_subset": ["listeners"], "_ansible_check_mode": True})
    assert kind is Exit
    assert result["changed"] is True
    assert result["recorded"] == {"8080": {"unit": "app.service", "process": "app", "address": "0.0.0.0"}}
    assert not os.path.exists(state)


def test_record_healthy_writes_then_is_unchanged_and_backs_up(host):
    state = str(host["tmp"] / "state" / "last_healthy.json")
    args = {"ports": [8080], "record_healthy": True, "state_file": state, "gather_subset": ["listeners"]}
    kind, result = run_module(args)
    assert kind is Exit and result["changed"] is True and "backup_file" not in result
    with open(state) as handle:
        assert json.load(handle) == {"version": 1, "ports": {
            "8080": {"unit": "app.service", "process": "app", "address": "0.0.0.0"}}}
    kind, result = run_module(args)
    assert result["changed"] is False
    with open(state, "w") as handle:
        json.dump({"version": 1, "ports": {"8080": {"unit": "old.service"}}}, handle)
    kind, result = run_module(args)
    assert result["changed"] is True
    assert os.path.exists(result["backup_file"])


def test_record_healthy_keeps_the_last_healthy_unit_of_ports_that_are_down_now(host):
    state = str(host["tmp"] / "last_healthy.json")
    with open(state, "w") as handle:
        json.dump({"version": 1, "ports": {"9090": {"unit": "api.service"}}}, handle)
    kind, result = run_module({"ports": [8080], "record_healthy": True, "state_file": state,
                               "gather_subset": ["listeners"]})
    assert kind is Exit and result["changed"] is True
    with open(state) as handle:
        ports = json.load(handle)["ports"]
    assert ports["9090"] == {"unit": "api.service"}
    assert ports["8080"]["unit"] == "app.service"
