"""Tests of the AppArmor parsers and of the AppArmor half of collect_mac and the assessment.

Inputs are captures from public reports in tests/unit/fixtures/mac (README.md names each).
"""

import errno
import json

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_apparmor import (
    MacParseError,
    parse_aa_status,
    parse_aa_status_json,
    parse_apparmor_denials,
    parse_kernel_profiles,
    parse_label,
    parse_proc_attr_current,
    profile_file_name,
)
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_assess import apparmor_assessment
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_collect import collect_mac


def test_labels_from_proc_and_profiles_file():
    # psutil#483: a hat of a prefork Apache, as /proc/PID/attr/current shows it
    assert parse_proc_attr_current("/usr/sbin/httpd.prefork//HAT_owner_22753 (enforce)\n") == {
        "profile": "/usr/sbin/httpd.prefork//HAT_owner_22753", "mode": "enforce"}
    assert parse_proc_attr_current("unconfined\n") == {"profile": "unconfined", "mode": "unconfined"}
    assert parse_label("docker-default (enforce)\x00") == {"profile": "docker-default", "mode": "enforce"}
    profiles = parse_kernel_profiles("/usr/sbin/ntpd (enforce)\nsnap.lxd.lxc (complain)\n")
    assert profiles == {"/usr/sbin/ntpd": "enforce", "snap.lxd.lxc": "complain"}
    with pytest.raises(MacParseError) as excinfo:
        parse_kernel_profiles("/usr/sbin/ntpd (enforce)\n/usr/sbin/x enforce\n", "/sys/kernel/security/apparmor/profiles")
    assert str(excinfo.value).startswith("/sys/kernel/security/apparmor/profiles:2:")


def test_aa_status_text_lxd(fixture_text):
    status = parse_aa_status(fixture_text("mac/aa-status-lxd-unconfined-with-profile.txt"))
    assert status["loaded"] is True and len(status["profiles"]) == 22
    assert status["profiles"]["/usr/sbin/ntpd"] == "enforce"
    assert status["processes"] == [
        {"pid": 1408, "exe": "/sbin/dhclient", "profile": "/sbin/dhclient", "status": "unconfined"},
        {"pid": 1535, "exe": "/usr/sbin/ntpd", "profile": "/usr/sbin/ntpd", "status": "unconfined"}]
    assert parse_aa_status(fixture_text("mac/aa-status-not-loaded.txt"))["loaded"] is False


def test_aa_status_text_process_with_other_profile_and_garbage():
    text = ("apparmor module is loaded.\n1 profiles are loaded.\n1 profiles are in enforce mode.\n"
            "   /usr/bin/securedrop-client\n1 processes have profiles defined.\n1 processes are in enforce mode.\n"
            "   /usr/bin/python3.9 (10944) /usr/bin/securedrop-client\n")
    (proc,) = parse_aa_status(text)["processes"]
    assert (proc["exe"], proc["profile"], proc["status"]) == ("/usr/bin/python3.9", "/usr/bin/securedrop-client",
                                                              "enforce")
    with pytest.raises(MacParseError) as excinfo:
        parse_aa_status("apparmor module is loaded.\nsomething else\n", "aa-status")
    assert str(excinfo.value).startswith("aa-status:2:")


def _aa_status_json(enforce, complain, processes_by_mode):
    """Output exactly as apparmor binutils/aa_status.c detailed_output() writes it with --json
    (hand-written JSON: the separators are the C code's, including its defects)."""
    out = '{"version": "2", "profiles": {'
    statuses = ("enforce", "complain")
    for i, names in enumerate((enforce, complain)):
        for j, name in enumerate(names):
            out += '%s"%s": "%s"' % ("" if i == 0 and j == 0 else ", ", name, statuses[i])
    out += '}, "processes": {'
    for mode, procs in processes_by_mode:
        for j, (exe, pid) in enumerate(procs):
            out += '%s"%s": [{"profile": "%s", "pid": "%s", "status": "%s"}' % (
                "" if j == 0 else "], ", exe, exe, pid, mode)
        if procs:
            out += "]"
    return out + "}}\n"


def test_aa_status_json_well_formed():
    text = _aa_status_json(["/usr/sbin/haproxy"], [], [("enforce", [("/usr/sbin/haproxy", "700"),
                                                                    ("/usr/sbin/haproxy", "650")])])
    # two processes of one executable come out as two keys here; the parser joins them
    status = parse_aa_status_json(text)
    assert status["profiles"] == {"/usr/sbin/haproxy": "enforce"}
    assert [p["pid"] for p in status["processes"]] == [650, 700]


def test_aa_status_json_defects_are_repaired():
    # no enforce profile: the first complain entry starts with ", "; two process modes follow
    # each other without a comma
    text = _aa_status_json([], ["/usr/bin/man"], [("enforce", [("/usr/sbin/cupsd", "10")]),
                                                  ("complain", [("/usr/bin/man", "20")])])
    with pytest.raises(ValueError):
        json.loads(text)
    status = parse_aa_status_json(text)
    assert status["profiles"] == {"/usr/bin/man": "complain"}
    assert [(p["pid"], p["status"]) for p in status["processes"]] == [(10, "enforce"), (20, "complain")]
    with pytest.raises(MacParseError):
        parse_aa_status_json('{"version": nope}')


def test_denials_kernel_log_unspec_family_is_not_inet(fixture_text):
    (record,) = parse_apparmor_denials(fixture_text("mac/apparmor-ntpd-kernlog-create-unspec.txt"))
    assert record["epoch"] == pytest.approx(1502873744.476) and record["serial"] == 2009
    assert (record["operation"], record["family"], record["network"]) == ("create", "unspec", False)
    assert record["profile"] == "/usr/sbin/ntpd" and record["pid"] == 18273


def test_denials_without_stamp_inet_create(fixture_text):
    records = parse_apparmor_denials(fixture_text("mac/apparmor-tailscale-create-inet.txt"))
    assert [(r["family"], r["sock_type"], r["network"]) for r in records] == [
        ("inet", "stream", True), ("inet", "dgram", True), ("inet6", "dgram", True)]
    assert records[0]["stamp"] is None and records[0]["protocol"] == 6 and records[0]["pid"] is None
    (chronyd,) = parse_apparmor_denials(fixture_text("mac/apparmor-chronyd-create-class-net.txt"))
    assert chronyd["class"] == "net" and chronyd["network"] is True


def test_denials_wrapped_dmesg_and_journal(fixture_text):
    records = parse_apparmor_denials(fixture_text("mac/apparmor-nginx-open-dmesg-wrapped.txt"))
    assert [r["pid"] for r in records] == [27598, 32224, 3151]
    assert records[0]["name"] == "/config/nginx/config/nginx.conf" and records[0]["line"] == 1
    assert not any(r["network"] for r in records)
    (ntpd,) = parse_apparmor_denials(fixture_text("mac/apparmor-ntpd-journal-open.txt"))
    assert ntpd["operation"] == "open" and ntpd["serial"] == 26


def test_profile_file_name():
    assert profile_file_name("/usr/sbin/haproxy") == "/etc/apparmor.d/usr.sbin.haproxy"
    assert profile_file_name("/usr/sbin/httpd.prefork//HAT_x") == "/etc/apparmor.d/usr.sbin.httpd.prefork"
    assert profile_file_name("chronyd") == "/etc/apparmor.d/chronyd"


# --- collection and assessment ------------------------------------------------------------------

class FakeHost(object):
    def __init__(self, files, commands):
        self.files, self.commands, self.ran = files, commands, []

    def read(self, path):
        if path not in self.files:
            raise IOError(errno.ENOENT, "No such file or directory", path)
        return self.files[path]

    def run(self, argv):
        self.ran.append(list(argv))
        if tuple(argv) not in self.commands:
            raise OSError(errno.ENOENT, "No such file or directory", argv[0])
        return self.commands[tuple(argv)]


def _ubuntu_backend(fixture_text, journal):
    files = {
        "/sys/module/apparmor/parameters/enabled": "Y\n",
        "/sys/kernel/security/apparmor/profiles": "chronyd (enforce)\n/usr/sbin/ntpd (enforce)\n",
        "/proc/900/attr/apparmor/current": "chronyd (enforce)\n",
    }
    commands = {("journalctl", "-k", "-o", "cat", "--no-pager", "--since=-10min"): (0, journal, "")}
    return FakeHost(files, commands)


def test_collect_apparmor_without_aa_status(fixture_text):
    journal = (fixture_text("mac/apparmor-ntpd-kernlog-create-unspec.txt")
               + fixture_text("mac/apparmor-chronyd-create-class-net.txt"))
    host = _ubuntu_backend(fixture_text, journal)
    mac = collect_mac(host.run, host.read, processes=[{"pid": 900, "process": "chronyd"}])
    apparmor = mac["apparmor"]
    assert apparmor["enabled"] is True
    assert apparmor["profiles_source"] == "/sys/kernel/security/apparmor/profiles"
    assert apparmor["processes"] == [{"profile": "chronyd", "mode": "enforce", "pid": 900, "process": "chronyd"}]
    # the ntpd create is of another process and not inet: filtered out; chronyd's stays
    assert [d["comm"] for d in apparmor["denials"]] == ["chronyd"]
    # aa-status is not installed but the kernel's profile list answered; no auditd, no audit.log
    assert mac["unavailable"] == []
    assert ["aa-status", "--json"] in host.ran
    assert mac["selinux"]["mode"] == "disabled"


def test_apparmor_assessment_backend_create_denied(fixture_text):
    host = _ubuntu_backend(fixture_text, fixture_text("mac/apparmor-chronyd-create-class-net.txt"))
    mac = collect_mac(host.run, host.read, processes=[{"pid": 900, "process": "chronyd"}])
    result = apparmor_assessment(mac, side="backend", port=8080, process="chronyd")
    assert (result["cause"], result["confidence"]) == ("apparmor_denied", "observed")
    assert result["profile"] == "chronyd" and result["profile_mode"] == "enforce"
    assert result["fix"]["rules"] == ["network inet stream,"]
    assert result["fix"]["argv"] == ["apparmor_parser", "-r", "/etc/apparmor.d/chronyd"]
    assert result["alternatives"][0]["argv"] == ["aa-complain", "chronyd"]


def test_apparmor_assessment_lb_inet_and_inet6_rules(fixture_text):
    denials = parse_apparmor_denials(fixture_text("mac/apparmor-tailscale-create-inet.txt"))
    facts = {"apparmor": {"enabled": True, "profiles": {}, "processes": [], "denials": denials}}
    result = apparmor_assessment(facts, side="lb", port=80, process="curl")
    assert result["cause"] == "apparmor_denied"
    assert result["fix"]["rules"] == ["network inet dgram,", "network inet stream,", "network inet6 dgram,",
                                      "network inet6 stream,"]


def test_apparmor_complain_and_file_denials_are_dismissed(fixture_text):
    denials = parse_apparmor_denials(fixture_text("mac/apparmor-nginx-open-dmesg-wrapped.txt"))
    allowed = parse_apparmor_denials(
        fixture_text("mac/apparmor-chronyd-create-class-net.txt").replace("DENIED", "ALLOWED"))
    facts = {"apparmor": {"enabled": True, "denials": denials + allowed}}
    assert apparmor_assessment(facts, "backend", 80, "nginx")["cause"] is None
    result = apparmor_assessment(facts, "backend", 80, "chronyd")
    assert result["cause"] is None and "complain mode" in result["dismissed"][0]["reason"]
