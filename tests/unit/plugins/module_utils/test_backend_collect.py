"""Tests of the backend_facts orchestrator with a fake `run`, a fake `read` and a /proc tree
built in tmp_path.

Inputs: /proc/net/tcp*, ip -j addr show, ss captures from tests/unit/fixtures/backend/netns1
(real, Debian 12, see README); systemctl show / journal from tests/unit/fixtures/backend/systemd
(show-app-failed.txt HAND-MADE in systemd 252's format for states no lab scenario produces; the
journals and systemctl-show-no-pid1.stderr real, see its README) and backend/lab (real).
"""

import errno
import json

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils import backend_collect
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_collect import (
    collect,
    healthy_mapping,
    resolve_subsets,
)

from test_backend_sockets import make_process  # same folder, pytest rootdir import mode

SHOW_PROPS = ",".join(backend_collect.systemd.SHOW_PROPERTIES)


class FakeHost(object):
    """Answers `run` from a table of argv tuples and `read` from a dict of paths."""

    def __init__(self, fixture_text, commands=None, files=None, dirs=None, binaries=()):
        net = "backend/netns1/"
        self.files = {
            "/proc/net/tcp": fixture_text(net + "proc_net_tcp.txt"),
            "/proc/net/tcp6": fixture_text(net + "proc_net_tcp6.txt"),
            "/proc/sys/net/ipv6/bindv6only": "0\n",
            "/proc/sys/kernel/hostname": "web1\n",
        }
        self.files.update(files or {})
        self.commands = {("ip", "-j", "addr", "show"): (0, fixture_text(net + "ip-j-addr-show.json"), "")}
        self.commands.update(commands or {})
        self.dirs = dirs or {}
        self.binaries = set(binaries)
        self.calls = []

    def run(self, argv):
        assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
        self.calls.append(list(argv))
        for key, answer in self.commands.items():
            if tuple(argv) == key:
                return answer
        return 127, "", "%s: not in the fake host" % argv[0]

    def read(self, path):
        if path in self.files:
            value = self.files[path]
            if isinstance(value, Exception):
                raise value
            return value
        raise IOError(errno.ENOENT, "No such file or directory", path)

    def list_dir(self, path):
        if path in self.dirs:
            return self.dirs[path]
        raise OSError(errno.ENOENT, "No such file or directory", path)

    def which(self, name):
        return "/usr/bin/" + name if name in self.binaries else None


def netlink_ok():
    return {12036: False, 12037: True, 12038: True}, None


def netlink_broken():
    return {}, "NETLINK_SOCK_DIAG dump failed: [Errno 93] Protocol not supported"


@pytest.fixture
def proc(tmp_path):
    make_process(tmp_path, 7157, fds=["socket:[12034]", "socket:[12035]", "socket:[12036]",
                                      "socket:[12037]", "socket:[12038]", "socket:[12039]"],
                 comm="python3", cmdline=("python3", "listen.py"), uid=0,
                 cgroup="0::/system.slice/app.service\n")
    make_process(tmp_path, 7200, fds=["socket:[12034]"], comm="python3",
                 cmdline=("python3", "listen.py"), cgroup="0::/system.slice/app.service\n")
    return str(tmp_path)


def test_listeners_with_owners_units_and_v6only(fixture_text, proc):
    host = FakeHost(fixture_text)
    facts = collect(host.run, host.read, {"gather_subset": ["listeners"]}, proc_root=proc,
                    inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    assert facts["hostname"] == "web1"
    assert facts["bindv6only"] == 0
    listeners = facts["listeners"]
    assert [(l["port"], l["family"], l["address"]) for l in listeners] == [
        (8080, "ipv4", "0.0.0.0"), (8081, "ipv4", "127.0.0.1"), (8082, "ipv6", "::"),
        (8083, "ipv6", "::1"), (8084, "ipv6", "::"), (8085, "ipv4", "198.18.0.11")]
    first = listeners[0]
    assert (first["pid"], first["pids"], first["process"], first["user"], first["unit"]) == \
        (7157, [7157, 7200], "python3", "root", "app.service")
    assert first["cmdline"] == "python3 listen.py"
    assert [(l["port"], l["v6only"], l["accepts_ipv4"]) for l in listeners] == [
        (8080, None, True), (8081, None, True), (8082, False, True), (8083, True, False),
        (8084, True, False), (8085, None, True)]
    assert facts["unavailable"] == []
    # /proc was readable: no subprocess at all for listeners.
    assert host.calls == []


def test_v6only_falls_back_to_one_ss_call(fixture_text, proc):
    host = FakeHost(fixture_text, commands={
        ("ss", "-tlneH"): (0, fixture_text("backend/netns1/ss-tlneH.txt"), "")})
    facts = collect(host.run, host.read, {"gather_subset": ["listeners"]}, proc_root=proc,
                    inet_diag=netlink_broken, which=host.which, list_dir=host.list_dir)
    assert host.calls == [["ss", "-tlneH"]]
    assert [l["v6only"] for l in facts["listeners"] if l["family"] == "ipv6"] == [False, True, True]
    assert facts["unavailable"] == []


def test_v6only_unknown_when_both_fail(fixture_text, proc):
    host = FakeHost(fixture_text)
    facts = collect(host.run, host.read, {"gather_subset": ["listeners"]}, proc_root=proc,
                    inet_diag=netlink_broken, which=host.which, list_dir=host.list_dir)
    dual = [l for l in facts["listeners"] if l["port"] == 8082][0]
    assert dual["v6only"] is None and dual["accepts_ipv4"] is None
    assert [u["what"] for u in facts["unavailable"]] == ["listeners.v6only"]
    assert "Protocol not supported" in facts["unavailable"][0]["reason"]


def test_ss_fallback_when_proc_is_unreadable(fixture_text, tmp_path):
    denied = IOError(errno.EACCES, "Permission denied")
    host = FakeHost(fixture_text, files={"/proc/net/tcp": denied, "/proc/net/tcp6": denied},
                    commands={("ss", "-tlnpeH"): (0, fixture_text("backend/netns1/ss-tlnpeH.txt"), "")})
    facts = collect(host.run, host.read, {"gather_subset": ["listeners"]}, proc_root=str(tmp_path),
                    inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    assert host.calls == [["ss", "-tlnpeH"]]
    by_port = dict((l["port"], l) for l in facts["listeners"])
    assert by_port[8082]["v6only"] is False and by_port[8084]["v6only"] is True
    assert by_port[8080]["pid"] == 7157 and by_port[8080]["process"] == "python3"
    assert by_port[8080]["source"] == "ss"
    assert [u["source"] for u in facts["unavailable"]] == ["/proc/net/tcp", "/proc/net/tcp6"]


def test_nothing_readable_still_returns(fixture_text, tmp_path):
    denied = IOError(errno.EACCES, "Permission denied")
    host = FakeHost(fixture_text, files={"/proc/net/tcp": denied, "/proc/net/tcp6": denied,
                                         "/proc/sys/net/ipv6/bindv6only": denied})
    host.commands = {}
    facts = collect(host.run, host.read, {}, proc_root=str(tmp_path), inet_diag=netlink_ok,
                    which=host.which, list_dir=host.list_dir)
    assert facts["listeners"] == [] and facts["addresses"] == []
    whats = [u["what"] for u in facts["unavailable"]]
    assert whats[:4] == ["listeners", "listeners", "listeners", "bindv6only"]
    assert "units" in whats and "iptables" in whats  # the firewall subset reports its own gaps
    assert facts["firewall"]["iptables"] is not None and "mac" in facts


def show_units_argv(units):
    return ("systemctl", "show", "--all", "-p", SHOW_PROPS, "--") + tuple(units)


def test_units_state_journal_and_port_owners(fixture_text, proc):
    show = fixture_text("backend/systemd/show-app-failed.txt")
    # Real journal of web4's app-8082.service (EADDRINUSE), served as the hand-made app.service's:
    # the collector passes journal lines through as they are.
    journal = fixture_text("backend/systemd/journal-app-8082.txt")
    host = FakeHost(fixture_text, commands={
        show_units_argv(["app.service", "old.service", "*.socket", "*.service"]): (0, show, ""),
        ("journalctl", "-u", "app.service", "-n", "5", "-o", "short-iso", "--no-pager"): (0, journal, ""),
        ("journalctl", "-u", "api.service", "-n", "5", "-o", "short-iso", "--no-pager"):
            (0, fixture_text("backend/systemd/journal-empty.txt"), ""),
        ("journalctl", "-u", "ghost.service", "-n", "5", "-o", "short-iso", "--no-pager"): (0, "", ""),
    }, files={"/var/lib/lbdoctor/last_healthy.json": json.dumps(
        {"version": 1, "ports": {"7000": {"unit": "old.service"}}})},
        dirs={"/etc/systemd/system": ["legacy.service", "multi-user.target.wants"]})
    host.files["/etc/systemd/system/legacy.service"] = "[Service]\nExecStart=/opt/legacy --port 9090\n"
    facts = collect(host.run, host.read,
                    {"gather_subset": ["listeners", "units"], "ports": [8080, 9090, 7000, 8081],
                     "journal_lines": 5},
                    proc_root=proc, inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    assert host.calls[0] == list(show_units_argv(["app.service", "old.service", "*.socket", "*.service"]))
    # legacy.service is only in a unit file nobody loaded: one more show call just for it.
    assert host.calls[1] == list(show_units_argv(["legacy.service"]))
    assert host.calls[2:] == [["journalctl", "-u", "api.service", "-n", "5", "-o", "short-iso", "--no-pager"],
                              ["journalctl", "-u", "app.service", "-n", "5", "-o", "short-iso", "--no-pager"]]
    app = facts["units"]["app.service"]
    assert (app["ActiveState"], app["SubState"], app["Result"], app["ExecMainStatus"]) == \
        ("failed", "failed", "exit-code", 1)
    assert app["TriggeredBy"] == ["app.socket"]
    assert app["ExecStart"] == ["/usr/bin/python3 -m http.server 8080 --bind 0.0.0.0"]
    assert app["journal"] == journal.splitlines()
    assert "[Errno 98] Address already in use" in app["journal"][1]
    assert facts["units"]["api.service"]["journal"] == []
    assert facts["units"]["api.service"]["NRestarts"] == 7
    assert "Environment" not in facts["units"]["api.service"]
    assert facts["units"]["old.service"]["found"] is False
    assert facts["socket_units"] == [{
        "unit": "app.socket", "listen": ["[::]:8080"], "ActiveState": "active", "SubState": "listening",
        "LoadState": "loaded", "UnitFileState": "enabled", "service": "app.service",
        "triggers": ["app.service"]}]
    owners = facts["port_owners"]
    assert owners["8080"]["unit"] == "app.socket" and owners["8080"]["source"] == "socket_unit"
    assert owners["8080"]["listening_units"] == ["app.service"]
    # app.service's ExecStart names 8080 too; web.service's 18080 must not count.
    assert [c["unit"] for c in owners["8080"]["candidates"]] == ["app.socket", "app.service"]
    assert owners["9090"]["unit"] == "api.service" and owners["9090"]["source"] == "unit_file"
    assert [c["unit"] for c in owners["9090"]["candidates"]] == ["api.service", "legacy.service"]
    assert owners["7000"] == {"unit": "old.service", "source": "last_healthy",
                              "candidates": [{"unit": "old.service", "source": "last_healthy"}],
                              "listening_units": []}
    assert owners["8081"]["unit"] is None
    assert facts["last_healthy"] == {"7000": "old.service"}
    assert "ghost.service" not in facts["units"]


def test_user_word_comes_first(fixture_text, proc):
    show = fixture_text("backend/systemd/show-app-failed.txt")
    host = FakeHost(fixture_text, commands={
        show_units_argv(["web.service", "app.service", "*.socket"]): (0, show, "")})
    facts = collect(host.run, host.read,
                    {"gather_subset": ["listeners", "units"], "unit_map": {8080: "web.service"},
                     "journal_lines": 0},
                    proc_root=proc, inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    assert host.calls == [list(show_units_argv(["web.service", "app.service", "*.socket"]))]
    assert facts["port_owners"]["8080"]["unit"] == "web.service"
    assert facts["port_owners"]["8080"]["source"] == "user"
    assert facts["units"]["app.service"]["journal"] is None  # journal_lines 0


def test_several_user_units_pick_the_one_listening(fixture_text, proc):
    host = FakeHost(fixture_text)
    facts = collect(host.run, host.read,
                    {"gather_subset": ["listeners", "units"], "ports": [8080, 8443],
                     "units": ["other.service", "app.service"]},
                    proc_root=proc, inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    assert facts["port_owners"]["8080"]["candidates"][0] == {"unit": "app.service", "source": "user"}
    assert facts["port_owners"]["8443"]["unit"] is None


def test_the_only_user_unit_is_not_tied_to_a_port_without_evidence(fixture_text, proc):
    # The diagnose role passes every lbdoctor_unit_map value as `units`; a unit of another
    # backend is not the owner of this host's other ports (it made a healthy server a
    # port_conflict when that unit had failed).
    assert backend_collect._user_units_for_port(9000, ["app.service"], [], {}) == []
    host = FakeHost(fixture_text)
    facts = collect(host.run, host.read,
                    {"gather_subset": ["listeners", "units"], "ports": [8080, 8443], "units": ["app.service"]},
                    proc_root=proc, inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    # app.service listens on 8080 (the proc fixture): evidence; nothing ties it to 8443.
    assert facts["port_owners"]["8080"]["candidates"][0] == {"unit": "app.service", "source": "user"}
    assert facts["port_owners"]["8443"] == {"unit": None, "source": None, "candidates": [], "listening_units": []}


def test_systemd_not_running(fixture_text, proc):
    stderr = fixture_text("backend/systemd/systemctl-show-no-pid1.stderr")
    host = FakeHost(fixture_text, commands={
        show_units_argv(["app.service", "*.socket"]): (1, "", stderr)})
    facts = collect(host.run, host.read, {"gather_subset": ["listeners", "units"], "units": ["app.service"]},
                    proc_root=proc, inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    assert [argv[:2] for argv in host.calls] == [["systemctl", "show"]]
    assert facts["units"]["app.service"]["found"] is False
    assert facts["units"]["app.service"]["ActiveState"] is None
    assert facts["unavailable"] == [{
        "what": "units", "source": "systemctl show ...",
        "reason": "exit 1: System has not been booted with systemd as init system (PID 1). "
                  "Can't operate.; Failed to connect to bus: Host is down"}]


def test_bad_state_file_is_reported_not_fatal(fixture_text, proc):
    host = FakeHost(fixture_text, files={"/tmp/state.json": "{not json"})
    facts = collect(host.run, host.read, {"gather_subset": ["units"], "state_file": "/tmp/state.json"},
                    proc_root=proc, inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    assert [u["what"] for u in facts["unavailable"]][0] == "last_healthy"
    assert facts["last_healthy"] == {}


def test_addresses_and_containers(fixture_text, proc):
    docker = ('{"ID":"%s","Image":"nginx:1.25","Names":"web","Ports":"0.0.0.0:8080->80/tcp, '
              ':::8080->80/tcp","State":"running","Status":"Up 2 hours"}\n' % ("a" * 64))
    host = FakeHost(fixture_text, binaries=["docker"], commands={
        ("docker", "ps", "--no-trunc", "--format", "{{json .}}"): (0, docker, "")})
    facts = collect(host.run, host.read, {"gather_subset": ["addresses", "containers"]},
                    proc_root=proc, inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    assert [c[0] for c in host.calls] == ["ip", "docker"]
    assert [(a["ifname"], a["address"]) for a in facts["addresses"]][:2] == [("lo", "127.0.0.1"), ("lo", "::1")]
    assert facts["containers"][0]["ports"] == [
        {"host_address": "0.0.0.0", "host_port": 8080, "container_port": 80, "protocol": "tcp"},
        {"host_address": "::", "host_port": 8080, "container_port": 80, "protocol": "tcp"}]
    assert "listeners" not in facts


def test_no_container_binary_no_call(fixture_text, proc):
    host = FakeHost(fixture_text)
    facts = collect(host.run, host.read, {"gather_subset": ["containers"]}, proc_root=proc,
                    inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    assert host.calls == [] and facts["containers"] == [] and facts["unavailable"] == []


@pytest.mark.parametrize("requested,expected", [
    (None, ["listeners", "addresses", "units", "containers", "firewall", "mac"]),
    (["all", "!containers", "!firewall", "!mac"], ["listeners", "addresses", "units"]),
    (["!units"], ["listeners", "addresses", "containers", "firewall", "mac"]),
    (["units", "listeners"], ["listeners", "units"]),
])
def test_resolve_subsets(requested, expected):
    assert resolve_subsets(requested) == expected


def test_resolve_subsets_rejects_unknown():
    with pytest.raises(ValueError, match="unknown gather_subset 'hardware'"):
        resolve_subsets(["hardware"])


def test_registry_rows_are_gathered_in_order(fixture_text, proc):
    assert [row[0] for row in backend_collect.SUBSETS] == [
        "listeners", "addresses", "units", "containers", "firewall", "mac"]
    assert all(callable(row[2]) for row in backend_collect.SUBSETS)


def test_mac_gets_the_listeners_of_the_requested_ports(fixture_text, proc, monkeypatch):
    seen = {}

    def collect_mac(run, read, processes=None, ports=None):
        seen["processes"] = [(p["port"], p["pid"]) for p in processes]
        seen["ports"] = ports
        return {"selinux": None, "apparmor": None, "unavailable": []}

    subsets = [row if row[0] != "mac" else
               ("mac", "mac", backend_collect._external(collect_mac, backend_collect._listener_arguments))
               for row in backend_collect.SUBSETS]
    monkeypatch.setattr(backend_collect, "SUBSETS", subsets)
    host = FakeHost(fixture_text)
    facts = collect(host.run, host.read, {"gather_subset": ["listeners", "mac"], "ports": [8080],
                                          "unit_map": {8082: "app.service"}},
                    proc_root=proc, inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    assert seen == {"processes": [(8080, 7157), (8082, 7157)], "ports": [8080, 8082]}
    assert facts["mac"] == {"selinux": None, "apparmor": None}


def test_a_crashing_subset_becomes_unavailable(fixture_text, proc, monkeypatch):
    def collect_firewall(run, read):
        raise KeyError("chains")

    subsets = [row if row[0] != "firewall" else ("firewall", "firewall", backend_collect._external(collect_firewall))
               for row in backend_collect.SUBSETS]
    monkeypatch.setattr(backend_collect, "SUBSETS", subsets)
    host = FakeHost(fixture_text)
    facts = collect(host.run, host.read, {"gather_subset": ["firewall", "addresses"]}, proc_root=proc,
                    inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    assert facts["unavailable"] == [{"what": "firewall", "reason": "collector failed: KeyError: 'chains'",
                                     "source": "test_backend_collect.collect_firewall"}]
    assert "firewall" not in facts and len(facts["addresses"]) == 6


def test_external_subset_adapter(fixture_text, proc, monkeypatch):
    def collect_firewall(run, read):
        return {"backend": "nftables", "unavailable": [{"what": "firewall.x", "reason": "r", "source": "s"}]}

    subsets = [row if row[0] != "firewall" else ("firewall", "firewall", backend_collect._external(collect_firewall))
               for row in backend_collect.SUBSETS]
    monkeypatch.setattr(backend_collect, "SUBSETS", subsets)
    host = FakeHost(fixture_text)
    facts = collect(host.run, host.read, {"gather_subset": ["firewall"]}, proc_root=proc,
                    inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    assert facts["firewall"] == {"backend": "nftables"}
    assert facts["unavailable"] == [{"what": "firewall.x", "reason": "r", "source": "s"}]


def test_healthy_mapping():
    listeners = [
        {"port": 22, "unit": "ssh.service", "socket_unit": None, "process": "sshd", "address": "0.0.0.0"},
        {"port": 8080, "unit": "init.scope", "socket_unit": "app.socket", "process": "systemd", "address": "::"},
        {"port": 9000, "unit": None, "socket_unit": None, "process": "x", "address": "0.0.0.0"},
    ]
    assert healthy_mapping(listeners, [8080, 9000]) == {
        "8080": {"unit": "app.socket", "process": "systemd", "address": "::"}}
    assert sorted(healthy_mapping(listeners, [])) == ["22", "8080"]


def test_an_inactive_socket_unit_is_found(fixture_text, proc):
    # `systemctl show '*.socket'` leaves out inactive socket units unless --all is given
    # (show-app-8082-socket-inactive.txt is real, from the lab's all-faults scenario).
    host = FakeHost(fixture_text, commands={
        show_units_argv(["app.service", "*.socket", "*.service"]):
            (0, fixture_text("backend/systemd/show-app-8082-socket-inactive.txt"), ""),
    })
    facts = collect(host.run, host.read, {"gather_subset": ["listeners", "units"], "ports": [8082]},
                    proc_root=proc, inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    assert host.calls[0][:3] == ["systemctl", "show", "--all"]
    assert facts["socket_units"] == [{
        "unit": "app-8082.socket", "listen": ["0.0.0.0:8082"], "ActiveState": "inactive", "SubState": "dead",
        "LoadState": "loaded", "UnitFileState": "enabled", "service": "app-8082.service",
        "triggers": ["app-8082.service"]}]
    assert facts["port_owners"]["8082"]["unit"] == "app-8082.socket"
    assert facts["port_owners"]["8082"]["source"] == "socket_unit"
    # the socket unit and the service it triggers are reported; unrelated socket units are not
    assert "app-8082.socket" in facts["units"]
    assert sorted(facts["units"]) == ["app-8082.service", "app-8082.socket", "app.service"]


SOCKET_ACTIVATED_SHOW = """Id=app.service
Names=app.service
LoadState=loaded
ActiveState=inactive
SubState=dead
Result=success
UnitFileState=static
TriggeredBy=app.socket
ExecStart={ path=/usr/bin/python3 ; argv[]=/usr/bin/python3 /opt/app/serve.py ; ignore_errors=no ; pid=0 ; code=(null) ; status=0/0 }

Id=app.socket
Names=app.socket
LoadState=loaded
ActiveState=active
SubState=listening
Result=success
UnitFileState=enabled
Triggers=app.service
Listen=[::]:8082 (Stream)
"""


@pytest.mark.parametrize("subsets,recorded", [
    # what roles/diagnose/tasks/record.yml asks for: the units subset names the socket unit
    (["listeners", "units"], {"8082": {"unit": "app.socket", "process": "systemd", "address": "::"}}),
    # listeners alone cannot tell which socket unit pid 1 holds the port for: not recorded
    (["listeners"], {}),
])
def test_a_socket_activated_port_is_recorded_under_its_socket_unit(fixture_text, tmp_path, subsets, recorded):
    """systemd (pid 1, init.scope) holds [::]:8082 for app.socket; app.service is idle. The
    `systemctl show` answer is hand-made in systemd 252's format."""
    make_process(tmp_path, 1, fds=["socket:[12036]"], comm="systemd", cmdline=("/sbin/init",),
                 cgroup="0::/init.scope\n")
    make_process(tmp_path, 7157, fds=["socket:[12034]"], comm="python3", cmdline=("python3", "listen.py"),
                 cgroup="0::/system.slice/web.service\n")
    host = FakeHost(fixture_text, commands={
        show_units_argv(["web.service", "*.socket", "*.service"]): (0, SOCKET_ACTIVATED_SHOW, "")})
    facts = collect(host.run, host.read, {"gather_subset": subsets, "ports": [8082], "journal_lines": 0},
                    proc_root=str(tmp_path), inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    held = [l for l in facts["listeners"] if l["port"] == 8082][0]
    assert (held["pid"], held["unit"]) == (1, "init.scope")
    assert held["socket_unit"] == ("app.socket" if "units" in subsets else None)
    assert healthy_mapping(facts["listeners"], [8082]) == recorded
    assert [argv[0] for argv in host.calls] == (["systemctl"] if "units" in subsets else [])


def lab_proc(tmp_path, fixture_text):
    """The processes of lab host web4 (lab/scenarios/default.yml) with their real cgroup files."""
    cgroup = fixture_text("backend/lab/web2-pid31-cgroup.txt")
    make_process(tmp_path, 31, fds=["socket:[558391]"], comm="lab-app",
                 cmdline=("/usr/bin/python3", "/usr/local/bin/lab-app", "--listen", "0.0.0.0", "--port", "8091",
                          "--name", "web4-8081"), cgroup=cgroup)
    make_process(tmp_path, 33, fds=["socket:[558437]"], comm="lab-app",
                 cmdline=("/usr/bin/python3", "/usr/local/bin/lab-app", "--listen", "127.0.0.1", "--port", "8082",
                          "--name", "legacy-8082"),
                 cgroup=cgroup.replace("app-8081.service", "legacy-8082.service"))
    make_process(tmp_path, 37, fds=["socket:[557629]", "socket:[557643]"], comm="sshd",
                 cmdline=("sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups",),
                 cgroup=cgroup.replace("app-8081.service", "ssh.service"))
    return str(tmp_path)


def test_lab_web4_port_conflict_and_wrong_port(fixture_text, tmp_path):
    """Real captures from lab host web4 (default scenario): app-8082 failed with EADDRINUSE
    because legacy-8082 holds 127.0.0.1:8082; app-8081 listens on 8091 instead of 8081."""
    lab = "backend/lab/"
    host = FakeHost(fixture_text, files={
        "/proc/net/tcp": fixture_text(lab + "web4-proc_net_tcp.txt"),
        "/proc/net/tcp6": fixture_text(lab + "web4-proc_net_tcp6.txt"),
        "/proc/sys/kernel/hostname": "web4\n",
    }, commands={
        show_units_argv(["app-8081.service", "legacy-8082.service", "ssh.service", "*.socket", "*.service"]):
            (0, fixture_text(lab + "web4-systemctl-show-all.txt"), ""),
        ("journalctl", "-u", "app-8082.service", "-n", "10", "-o", "short-iso", "--no-pager"):
            (0, fixture_text(lab + "web4-journal-app-8082.txt"), ""),
        ("journalctl", "-u", "app-8081.service", "-n", "10", "-o", "short-iso", "--no-pager"):
            (0, fixture_text(lab + "web4-journal-app-8081.txt"), ""),
    })
    facts = collect(host.run, host.read, {"gather_subset": ["listeners", "units"], "ports": [8080, 8081, 8082]},
                    proc_root=lab_proc(tmp_path, fixture_text), inet_diag=lambda: ({557643: True}, None),
                    which=host.which, list_dir=host.list_dir)
    assert [(l["address"], l["port"], l["unit"], l["pid"]) for l in facts["listeners"]] == [
        ("0.0.0.0", 22, "ssh.service", 37), ("::", 22, "ssh.service", 37),
        ("127.0.0.1", 8082, "legacy-8082.service", 33), ("0.0.0.0", 8091, "app-8081.service", 31)]
    owners = facts["port_owners"]
    assert owners["8082"]["candidates"] == [{"unit": "app-8082.service", "source": "unit_file"},
                                            {"unit": "legacy-8082.service", "source": "unit_file"}]
    assert owners["8082"]["listening_units"] == ["legacy-8082.service"]
    assert owners["8080"] == {"unit": None, "source": None, "candidates": [], "listening_units": []}
    failed = facts["units"]["app-8082.service"]
    assert (failed["ActiveState"], failed["Result"], failed["ExecMainStatus"]) == ("failed", "exit-code", 1)
    assert failed["ActiveEnterTimestamp"] is None  # "ActiveEnterTimestamp=" in the capture
    assert "[Errno 98] Address already in use" in failed["journal"][1]
    assert facts["units"]["ssh.service"]["Names"] == ["ssh.service", "sshd.service"]
    # app-8081 runs, owns port 8081 by its unit file, and nobody listens there: its journal
    # says where it listens instead. Running units that serve their port get no journal call.
    assert "lab-app: web4-8081 listening on 0.0.0.0:8091" in facts["units"]["app-8081.service"]["journal"][1]
    assert facts["units"]["legacy-8082.service"]["journal"] is None
    assert [c[:3] for c in host.calls] == [["systemctl", "show", "--all"],
                                           ["journalctl", "-u", "app-8081.service"],
                                           ["journalctl", "-u", "app-8082.service"]]
    assert "app-8082.service" in facts["known_units"] and "auditd.service" not in facts["known_units"]
    assert [s["unit"] for s in facts["socket_units"]] == []  # only unix/netlink sockets on web4


def test_lab_web2_stopped_unit(fixture_text, tmp_path):
    """Lab host web2: app-8080 stopped cleanly (inactive/dead, killed by SIGTERM)."""
    lab = "backend/lab/"
    host = FakeHost(fixture_text, files={
        "/proc/net/tcp": fixture_text(lab + "web2-proc_net_tcp.txt"),
        "/proc/net/tcp6": fixture_text(lab + "web2-proc_net_tcp6.txt"),
    }, commands={
        show_units_argv(["app-8080.service", "*.socket", "*.service"]):
            (0, fixture_text(lab + "web2-systemctl-show-all.txt"), ""),
        ("journalctl", "-u", "app-8080.service", "-n", "10", "-o", "short-iso", "--no-pager"):
            (0, fixture_text(lab + "web2-journal-app-8080.txt"), ""),
    })
    facts = collect(host.run, host.read, {"gather_subset": ["units"], "ports": [8080], "units": ["app-8080.service"]},
                    proc_root=str(tmp_path), inet_diag=netlink_ok, which=host.which, list_dir=host.list_dir)
    unit = facts["units"]["app-8080.service"]
    assert (unit["ActiveState"], unit["SubState"], unit["Result"]) == ("inactive", "dead", "success")
    assert (unit["ExecMainCode"], unit["ExecMainStatus"]) == (2, 15)
    assert unit["ExecStart"] == ["/usr/local/bin/lab-app --listen 0.0.0.0 --port 8080 --name web2-8080"]
    assert unit["journal"][-1].endswith("Stopped app-8080.service - lab app app-8080 (haproxy backend web, server web2-8080).")
    assert facts["port_owners"]["8080"]["candidates"][0] == {"unit": "app-8080.service", "source": "user"}
    assert facts["port_owners"]["8080"]["candidates"][1] == {"unit": "app-8080.service", "source": "unit_file"}
