"""Tests of the SELinux parsers (mode, sestatus, booleans, semanage port, AVC records).

Inputs: the shared corpus (../shared/corpus/selinux, see its SOURCES.md) and captures written
down from public reports in tests/unit/fixtures/mac (README.md there names each source).
"""

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_selinux import (
    MacParseError,
    context_type,
    logical_lines,
    parse_audit_stamp,
    parse_avc_denials,
    parse_boolean_file,
    parse_enforce,
    parse_getenforce,
    parse_getsebool,
    parse_semanage_ports,
    parse_sestatus,
    port_label,
    split_audit_records,
)


# --- mode and status ---------------------------------------------------------------------------

def test_enforce_file_and_getenforce():
    assert parse_enforce("1\n") == "enforcing"
    assert parse_enforce("0") == "permissive"
    assert parse_getenforce("Enforcing\n") == "enforcing"
    assert parse_getenforce("Disabled\n") == "disabled"


def test_mode_garbage_names_source_and_line():
    with pytest.raises(MacParseError) as excinfo:
        parse_enforce("2\n", "/sys/fs/selinux/enforce")
    assert str(excinfo.value).startswith("/sys/fs/selinux/enforce:1:")
    with pytest.raises(MacParseError) as excinfo:
        parse_getenforce("\nsomething else\n", "pasted")
    assert str(excinfo.value).startswith("pasted:2:")


def test_sestatus_fedora(fixture_text):
    status = parse_sestatus(fixture_text("mac/sestatus-fedora-enforcing.txt"))
    assert status["enabled"] is True
    assert status["mode"] == "enforcing"
    assert status["config_mode"] == "enforcing"
    assert status["policy"] == "targeted"
    assert status["mls"] is True
    assert status["max_kernel_policy_version"] == 33
    assert status["booleans"] == {}


def test_sestatus_b_with_elided_boolean_list_and_context_sections(fixture_text):
    status = parse_sestatus(fixture_text("mac/sestatus-b-rhel-elided.txt"))
    assert status["booleans"] == {"abrt_anon_write": False, "zoneminder_run_sudo": False}
    assert status["policy"] == "targeted"


def test_sestatus_squeezed_spaces_and_disabled(fixture_text):
    assert parse_sestatus(fixture_text("mac/sestatus-rhel7-squeezed.txt"))["max_kernel_policy_version"] == 31
    disabled = parse_sestatus(fixture_text("mac/sestatus-disabled.txt"))
    assert disabled["enabled"] is False and disabled["mode"] == "disabled" and disabled["policy"] is None


def test_sestatus_error_names_line():
    with pytest.raises(MacParseError) as excinfo:
        parse_sestatus("SELinux status: enabled\nthis line has no colon\n", "sestatus")
    assert str(excinfo.value).startswith("sestatus:2:")


# --- booleans ----------------------------------------------------------------------------------

def test_boolean_file():
    assert parse_boolean_file("0 1") == {"current": False, "pending": True}
    with pytest.raises(MacParseError):
        parse_boolean_file("on", "/sys/fs/selinux/booleans/nis_enabled")


def test_getsebool_corpus(corpus_text):
    booleans = parse_getsebool(corpus_text("selinux/insights-getsebool-a-excerpt.txt"))
    assert booleans["virt_use_nfs"] == {"current": True, "pending": True}
    assert booleans["varnishd_connect_any"] == {"current": False, "pending": False}
    assert len(booleans) == 20


def test_getsebool_pending_and_error():
    assert parse_getsebool("haproxy_connect_any --> off pending: on\n") == {
        "haproxy_connect_any": {"current": False, "pending": True}}
    with pytest.raises(MacParseError) as excinfo:
        parse_getsebool("a --> on\nb = on\n", "getsebool")
    assert str(excinfo.value).startswith("getsebool:2:")


# --- port labels -------------------------------------------------------------------------------

@pytest.fixture
def centos7_ports(fixture_text):
    return parse_semanage_ports(fixture_text("mac/semanage-port-l-n-centos7-modified-8008.txt"))


def test_semanage_ranges_and_lists(centos7_ports):
    by_key = dict(((e["type"], e["proto"]), e["ranges"]) for e in centos7_ports)
    assert by_key[("http_port_t", "tcp")] == [[80, 80], [81, 81], [443, 443], [488, 488], [8008, 8008],
                                              [8009, 8009], [8443, 8443], [9000, 9000]]
    assert by_key[("unreserved_port_t", "tcp")] == [[61001, 65535], [1024, 32767]]
    assert by_key[("http_cache_port_t", "tcp")][-1] == [10001, 10010]
    assert not any(e["local"] for e in centos7_ports)


@pytest.mark.parametrize("port,expected_type,expected_range", [
    (8080, "http_cache_port_t", [8080, 8080]),
    (10005, "http_cache_port_t", [10001, 10010]),   # inside a listed range
    (8081, "transproxy_port_t", [8081, 8081]),      # the ceph-ansible#6319 trap: not an http type
    (8500, "unreserved_port_t", [1024, 32767]),     # second range of a list
    (62000, "unreserved_port_t", [61001, 65535]),
    (40000, "ephemeral_port_t", [32768, 61000]),
    (700, "hi_reserved_port_t", [512, 1023]),
])
def test_narrowest_range_wins(centos7_ports, port, expected_type, expected_range):
    label = port_label(centos7_ports, port)
    assert (label["type"], label["range"], label["source"]) == (expected_type, expected_range, "policy")


def test_port_listed_twice_is_ambiguous_until_local_list_says(centos7_ports, corpus_text):
    label = port_label(centos7_ports, 8008)
    assert label["source"] == "ambiguous" and label["type"] is None
    assert label["candidates"] == ["http_port_t", "ssh_port_t", "unreserved_port_t"]
    local = parse_semanage_ports(corpus_text("selinux/ao-selinux-semanage-port-l-local.txt"), local=True)
    assert local == [{"type": "ssh_port_t", "proto": "tcp", "ranges": [[8991, 8991], [8008, 8008]],
                      "local": True}]
    label = port_label(centos7_ports, 8008, local_entries=local)
    assert (label["type"], label["source"]) == ("ssh_port_t", "local")


def test_semanage_heading_skipped_and_errors():
    text = "SELinux Port Type              Proto    Port Number\n\nhttp_port_t  tcp  80, 443\n"
    assert parse_semanage_ports(text)[0]["ranges"] == [[80, 80], [443, 443]]
    with pytest.raises(MacParseError) as excinfo:
        parse_semanage_ports("http_port_t tcp 80\nhttp_port_t tcp 90-70\n", "semanage port -l")
    assert str(excinfo.value).startswith("semanage port -l:2:")
    with pytest.raises(MacParseError):
        parse_semanage_ports("garbage\n")


def test_unlisted_port_has_no_label():
    assert port_label([], 8080)["type"] is None


# --- audit records -----------------------------------------------------------------------------

def test_context_type():
    assert context_type("staff_u:staff_r:staff_t:s0-s0:c0.c1023") == "staff_t"
    assert context_type("garbage") is None


def test_stamps_raw_and_interpreted_in_three_locales():
    assert parse_audit_stamp("1688017932.590:72923")["epoch"] == pytest.approx(1688017932.59)
    assert parse_audit_stamp("07/28/2021 07:36:55.442:428")["time_local"] == "2021-07-28T07:36:55.442"
    assert parse_audit_stamp("01/10/22 10:30:09.991:359")["time_local"] == "2022-01-10T10:30:09.991"
    assert parse_audit_stamp("19.11.2024 15:26:24.707:3073")["time_local"] == "2024-11-19T15:26:24.707"
    odd = parse_audit_stamp("2024-11-19 15:26:24.707:3073")
    assert odd["time_local"] is None and odd["serial"] == 3073
    with pytest.raises(MacParseError):
        parse_audit_stamp("no serial here", "x", 3)


def test_raw_sysfs_denial_is_not_network(corpus_text):
    (denial,) = parse_avc_denials(corpus_text("selinux/issue-haproxy-2197-avc-raw.txt"), "haproxy-2197")
    assert denial["comm"] == "haproxy" and denial["pid"] == 324618
    assert (denial["stype"], denial["ttype"], denial["tclass"]) == ("haproxy_t", "sysfs_t", "dir")
    assert denial["permission"] == "read" and denial["permissive"] is False
    assert denial["network"] is False and denial["port"] is None
    assert denial["epoch"] == pytest.approx(1688017932.59) and denial["serial"] == 72923


def test_name_connect_with_econnrefused_syscall_on_the_same_line(corpus_text):
    text = corpus_text("selinux/issue-fedora-selinux-policy-pr2869-name_connect-econnrefused.txt")
    (denial,) = parse_avc_denials(text)
    assert denial["permission"] == "name_connect" and denial["dest_port"] == 2321 and denial["port"] == 2321
    assert denial["network"] is True and denial["permissive"] is True
    assert denial["comm"] == "gnome-remote-de"
    assert denial["syscall"]["name"] == "connect"
    assert denial["syscall"]["errno"] == "ECONNREFUSED" and denial["syscall"]["success"] is False
    assert denial["exe"] == "/usr/libexec/gnome-remote-desktop-daemon"


def test_flattened_interpreted_group(corpus_text):
    text = corpus_text("selinux/issue-fedora-selinux-policy-pr2179-haproxy-flattened.txt")
    records = split_audit_records(text)
    assert [r["type"] for r in records] == ["PROCTITLE", "MMAP", "SYSCALL", "AVC"]
    (denial,) = parse_avc_denials(text)
    assert denial["permission"] == "map" and denial["tclass"] == "file"
    assert denial["path"] == "/dev/shm/haproxy_startup_logs_21251"
    assert denial["syscall"]["name"] == "mmap" and denial["syscall"]["success"] is True
    assert denial["time_local"] == "2024-06-12T07:13:19.407"


def test_interpreted_group_takes_syscall_exit(corpus_text):
    (denial,) = parse_avc_denials(corpus_text("selinux/issue-fedora-selinux-policy-pr882-haproxy-ausearch-i.txt"))
    assert denial["line"] == 5
    assert denial["syscall"]["errno"] == "EACCES" and denial["syscall"]["name"] == "openat"
    assert denial["exe"] == "/usr/sbin/haproxy" and denial["network"] is False


def test_terminal_wrapped_records_are_rejoined(fixture_text):
    denials = parse_avc_denials(fixture_text("mac/audit-dataverse-httpd-name_connect-wrapped.txt"))
    assert len(denials) == 4
    assert {d["tclass"] for d in denials} == {"tcp_socket"}
    assert [d["line"] for d in denials] == [1, 3, 5, 7]
    assert all(d["permissive"] is False and d["dest_port"] == 8009 and d["ttype"] == "http_port_t"
               for d in denials)


def test_interpreted_two_digit_year_name_connect(fixture_text):
    (denial,) = parse_avc_denials(fixture_text("mac/ausearch-i-radiusd-name_connect.txt"))
    assert denial["port"] == 1813 and denial["ttype"] == "radacct_port_t" and denial["network"]
    assert denial["syscall"]["errno"] == "EACCES"


def test_name_bind_flattened_raw_with_syscall(fixture_text):
    (denial,) = parse_avc_denials(fixture_text("mac/audit-collectd-name_bind-flattened.txt"))
    assert (denial["permission"], denial["src_port"], denial["port"]) == ("name_bind", 9103, 9103)
    assert denial["syscall"]["name"] == "bind" and denial["syscall"]["errno"] == "EACCES"


def test_old_kernel_without_permissive_field(fixture_text):
    (denial,) = parse_avc_denials(fixture_text("mac/audit-cockpit-name_bind-no-permissive.txt"))
    assert denial["permissive"] is None and denial["comm"] == "systemd" and denial["port"] == 1001


def test_other_locale_and_sockaddr_record(fixture_text):
    (denial,) = parse_avc_denials(fixture_text("mac/ausearch-i-firefox-name_bind-de-locale.txt"))
    assert denial["time_local"] == "2024-11-19T15:26:24.707"
    assert denial["syscall"]["success"] is True and denial["permissive"] is True
    assert denial["stype"] == "staff_t"


def test_raw_hex_encoded_comm_is_decoded_but_numbers_are_not():
    line = ('type=AVC msg=audit(1700000000.000:1): avc:  denied  { name_connect } for  pid=1234 '
            'comm=686170726F7879 dest=8500 scontext=system_u:system_r:haproxy_t:s0 '
            'tcontext=system_u:object_r:unreserved_port_t:s0 tclass=tcp_socket permissive=0\n')
    # raw records print an untrusted comm either "quoted" or hex-encoded
    (denial,) = parse_avc_denials(line)
    assert denial["comm"] == "haproxy" and denial["pid"] == 1234 and denial["port"] == 8500


def test_kernel_log_and_ausearch_separators():
    text = ("----\ntime->Thu Jun 29 05:52:12 2023\n"
            "Jun 29 05:52:12 lb kernel: audit: type=1400 audit(1688017932.590:72923): avc:  denied  { read } "
            "for  pid=324618 comm=\"haproxy\" name=\"node\" dev=\"sysfs\" ino=2390 "
            "scontext=system_u:system_r:haproxy_t:s0 tcontext=system_u:object_r:sysfs_t:s0 tclass=dir permissive=0\n"
            "Jun 29 05:52:13 lb kernel: e1000: eth0 NIC Link is Up\n")
    (denial,) = parse_avc_denials(text)
    assert denial["line"] == 3 and denial["ttype"] == "sysfs_t"
    assert [n for n, _line in logical_lines(text)] == [1, 2, 3, 4]


def test_granted_records_only_when_asked():
    line = ('type=AVC msg=audit(1700000000.000:2): avc:  granted  { name_connect } for  pid=1 comm="x" dest=80 '
            'scontext=a:b:c_t:s0 tcontext=a:b:http_port_t:s0 tclass=tcp_socket\n')
    assert parse_avc_denials(line) == []
    assert parse_avc_denials(line, include_granted=True)[0]["result"] == "granted"
