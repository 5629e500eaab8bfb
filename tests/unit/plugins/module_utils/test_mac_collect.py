"""Tests of collect_mac: which sources it reads, in which order, and what it reports missing.

Hosts are fakes built from captured output (tests/unit/fixtures/mac/README.md, the shared
corpus): a dict of files and a dict of commands. The fake ``run`` records every argv so that the
tests can assert what was (and was not) run.
"""

import errno

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_collect import collect_mac

from fake_host import FakeHost


def _eacces(path):
    return IOError(errno.EACCES, "Permission denied", path)


def test_kernel_without_selinux_or_apparmor_asks_getenforce_only():
    host = FakeHost()
    mac = collect_mac(host.run, host.read, processes=[{"pid": 321, "process": "haproxy"}], ports=[8080])
    assert mac["selinux"]["present"] is False and mac["selinux"]["mode"] == "disabled"
    assert mac["selinux"]["mode_source"] == "/sys/fs/selinux"
    assert mac["apparmor"]["enabled"] is False
    assert mac["unavailable"] == []
    assert host.ran == [["getenforce"]]     # not installed here: nothing else runs
    host = FakeHost(commands={("getenforce",): (0, "Disabled\n", "")})
    assert collect_mac(host.run, host.read)["selinux"]["mode"] == "disabled"


def test_standin_tools_without_selinuxfs(fixture_text, corpus_text):
    """lab/standins: getenforce & co. on a kernel without SELinux; their word is taken."""
    host = _rhel_lb(fixture_text, corpus_text)
    for path in list(host.files):
        if path.startswith("/sys/fs/selinux"):
            del host.files[path]
    host.commands[("getenforce",)] = (0, "Enforcing\n", "")
    host.commands[("getsebool", "haproxy_connect_any", "httpd_can_network_connect", "nis_enabled")] = (
        0, "haproxy_connect_any --> off\nhttpd_can_network_connect --> off\nnis_enabled --> off\n", "")
    mac = collect_mac(host.run, host.read, processes=[{"pid": 321, "process": "haproxy"}], ports=[8081])
    selinux = mac["selinux"]
    assert (selinux["present"], selinux["mode"], selinux["mode_source"]) == (False, "enforcing", "getenforce")
    assert selinux["booleans"] == {"haproxy_connect_any": False, "httpd_can_network_connect": False,
                                   "nis_enabled": False}
    assert selinux["ports"][0]["type"] == "transproxy_port_t"
    assert selinux["processes"] == []           # no contexts without selinuxfs
    assert mac["unavailable"] == []


def _rhel_lb(fixture_text, corpus_text, **extra_files):
    files = {
        "/sys/fs/selinux/enforce": "1",
        "/sys/fs/selinux/booleans/haproxy_connect_any": "0 0",
        "/sys/fs/selinux/booleans/httpd_can_network_connect": "0 0",
        "/sys/fs/selinux/booleans/nis_enabled": "0 0",
        "/proc/321/attr/current": "system_u:system_r:haproxy_t:s0\x00",
    }
    files.update(extra_files)
    commands = {
        ("sestatus",): (0, fixture_text("mac/sestatus-fedora-enforcing.txt"), ""),
        ("semanage", "port", "-l", "-n"): (0, fixture_text("mac/semanage-port-l-n-centos7-modified-8008.txt"), ""),
        ("semanage", "port", "-l", "-C", "-n"): (0, corpus_text("selinux/ao-selinux-semanage-port-l-local.txt"), ""),
        ("ausearch", "-m", "AVC", "-ts", "recent"): (1, "", "<no matches>\n"),
    }
    return FakeHost(files, commands)


def test_enforcing_lb_facts(fixture_text, corpus_text):
    host = _rhel_lb(fixture_text, corpus_text)
    mac = collect_mac(host.run, host.read, processes=[{"pid": 321, "process": "haproxy"}],
                      ports=[8081, 8008, 8081])
    selinux = mac["selinux"]
    assert (selinux["present"], selinux["mode"], selinux["mode_source"]) == (True, "enforcing", "/sys/fs/selinux/enforce")
    assert selinux["policy"] == "targeted" and selinux["config_mode"] == "enforcing"
    assert selinux["booleans"] == {"haproxy_connect_any": False, "httpd_can_network_connect": False,
                                   "nis_enabled": False}
    assert [(p["port"], p["type"], p["source"]) for p in selinux["ports"]] == [
        (8008, "ssh_port_t", "local"), (8081, "transproxy_port_t", "policy")]
    assert selinux["local_ports"][0]["type"] == "ssh_port_t"
    assert selinux["processes"] == [{"pid": 321, "process": "haproxy", "context": "system_u:system_r:haproxy_t:s0",
                                     "type": "haproxy_t"}]
    assert selinux["denials"] == [] and selinux["denials_source"] == "ausearch -m AVC -ts recent"
    assert mac["unavailable"] == []
    # semanage ran once per listing, whatever the number of ports; no getsebool (selinuxfs answered)
    assert host.ran.count(["semanage", "port", "-l", "-n"]) == 1
    assert not any(argv[0] in ("getsebool", "getenforce") for argv in host.ran)


def test_ports_not_asked_means_no_semanage(fixture_text, corpus_text):
    host = _rhel_lb(fixture_text, corpus_text)
    collect_mac(host.run, host.read, processes=[321])
    assert not any(argv[0] == "semanage" for argv in host.ran)


def test_audit_log_fallback_keeps_the_recent_window_and_the_process(fixture_text, corpus_text):
    log = "\n".join([
        corpus_text("selinux/issue-haproxy-2197-avc-raw.txt").rstrip("\n"),   # 1688017932
        corpus_text("selinux/issue-fedora-selinux-policy-pr2869-name_connect-econnrefused.txt").rstrip("\n"),
        fixture_text("mac/audit-openstack-haproxy-execute.txt").rstrip("\n"),  # 1655139472
    ]) + "\n"
    host = _rhel_lb(fixture_text, corpus_text, **{"/var/log/audit/audit.log": log})
    del host.commands[("ausearch", "-m", "AVC", "-ts", "recent")]  # not installed
    mac = collect_mac(host.run, host.read, processes=[{"pid": 321, "process": "haproxy"}], ports=[8081],
                      now=1688017932.590 + 60)
    denials = mac["selinux"]["denials"]
    assert [d["serial"] for d in denials] == [72923]          # the 2022 and 2025 records are out of window
    assert mac["selinux"]["denials_source"] == "/var/log/audit/audit.log"
    assert denials[0]["line"] == 1
    # a wider window keeps the haproxy records and every network denial, not ping-wrapper.sh's
    mac = collect_mac(host.run, host.read, processes=[{"pid": 321, "process": "haproxy"}], ports=[8081],
                      now=1749025962.758)
    assert [d["comm"] for d in mac["selinux"]["denials"]] == ["gnome-remote-de"]
    host_all = _rhel_lb(fixture_text, corpus_text, **{"/var/log/audit/audit.log": log})
    del host_all.commands[("ausearch", "-m", "AVC", "-ts", "recent")]
    from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_collect import collect_selinux
    facts = collect_selinux(host_all.run, host_all.read, processes=[{"pid": 321, "process": "haproxy"}],
                            now=1749025962.758, window=10 ** 9)
    assert [d["comm"] for d in facts["denials"]] == ["haproxy", "gnome-remote-de", "haproxy"]


def test_what_cannot_be_read_is_reported_and_the_rest_comes_back(fixture_text, corpus_text):
    host = _rhel_lb(fixture_text, corpus_text, **{
        "/sys/fs/selinux/booleans/haproxy_connect_any": _eacces("/sys/fs/selinux/booleans/haproxy_connect_any"),
        "/var/log/audit/audit.log": _eacces("/var/log/audit/audit.log"),
        "/proc/321/attr/current": _eacces("/proc/321/attr/current"),
    })
    host.commands[("ausearch", "-m", "AVC", "-ts", "recent")] = (
        255, "", "Error opening config file (Permission denied)\n")
    host.commands[("getsebool", "haproxy_connect_any")] = (0, "haproxy_connect_any --> on\n", "")
    del host.commands[("semanage", "port", "-l", "-C", "-n")]
    host.commands[("semanage", "port", "-l", "-C", "-n")] = (1, "", "ValueError: SELinux policy is not managed\n")
    mac = collect_mac(host.run, host.read, processes=[{"pid": 321, "process": "haproxy"}], ports=[8008])
    selinux = mac["selinux"]
    assert selinux["booleans"]["haproxy_connect_any"] is True       # from getsebool
    assert selinux["ports"][0]["source"] == "ambiguous"             # no local list to decide
    assert selinux["processes"] == [] and selinux["denials"] == []
    reasons = dict(((u["what"], u["source"]), u["reason"]) for u in mac["unavailable"])
    assert reasons[("selinux.denials", "ausearch -m AVC -ts recent")].startswith("rc=255: Error opening")
    assert reasons[("selinux.denials", "/var/log/audit/audit.log")].startswith("EACCES")
    assert reasons[("selinux.processes", "/proc/321/attr/current")].startswith("EACCES")
    assert reasons[("selinux.ports", "semanage port -l -C -n")].startswith("rc=1:")
    assert selinux["policy"] == "targeted"


def test_selinuxfs_unreadable_falls_back_to_getenforce():
    host = FakeHost({"/sys/fs/selinux/enforce": _eacces("/sys/fs/selinux/enforce")},
                    {("getenforce",): (0, "Permissive\n", "")})
    mac = collect_mac(host.run, host.read)
    assert (mac["selinux"]["mode"], mac["selinux"]["mode_source"]) == ("permissive", "getenforce")
    whats = [u["what"] for u in mac["unavailable"]]
    assert "selinux.mode" in whats and "selinux.policy" in whats   # sestatus missing on this fake


def test_boolean_missing_from_policy_is_none(fixture_text, corpus_text):
    host = _rhel_lb(fixture_text, corpus_text)
    del host.files["/sys/fs/selinux/booleans/haproxy_connect_any"]   # Debian's refpolicy has none
    mac = collect_mac(host.run, host.read)
    assert mac["selinux"]["booleans"]["haproxy_connect_any"] is None
    assert mac["unavailable"] == []


def test_ausearch_output_is_parsed_and_filtered(fixture_text, corpus_text):
    host = _rhel_lb(fixture_text, corpus_text)
    out = ("----\ntime->Thu Jun 29 05:52:12 2023\n" + corpus_text("selinux/issue-haproxy-2197-avc-raw.txt")
           + "----\n" + fixture_text("mac/audit-openstack-haproxy-execute.txt"))
    host.commands[("ausearch", "-m", "AVC", "-ts", "recent")] = (0, out, "")
    mac = collect_mac(host.run, host.read, processes=["haproxy"])
    assert [d["comm"] for d in mac["selinux"]["denials"]] == ["haproxy", "haproxy"]
