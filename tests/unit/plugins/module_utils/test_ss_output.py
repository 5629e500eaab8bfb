"""Tests of the ss/netstat parser.

Own captures: tests/unit/fixtures/backend/netns1 (see the README there: Debian 12, iproute2 6.1.0,
throwaway network namespace). Real-world inputs: ../shared/corpus/ss_netstat.
"""

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.ss_output import (
    SocketListingParseError,
    listeners_from_ss,
    parse_netstat,
    parse_ss,
    split_endpoint,
)


def _by_port(rows):
    return dict((r["port"], r) for r in rows)


def test_wildcards_tell_dual_stack_from_v6only(fixture_text):
    rows = _by_port(parse_ss(fixture_text("backend/netns1/ss-tlnH.txt")))
    assert sorted(rows) == [8080, 8081, 8082, 8083, 8084, 8085]
    assert (rows[8080]["family"], rows[8080]["address"], rows[8080]["v6only"]) == ("ipv4", "0.0.0.0", None)
    # `*:8082` is a `::` socket with IPV6_V6ONLY off, `[::]:8084` one with it on.
    assert (rows[8082]["family"], rows[8082]["address"], rows[8082]["v6only"]) == ("ipv6", "::", False)
    assert (rows[8084]["family"], rows[8084]["address"], rows[8084]["v6only"]) == ("ipv6", "::", True)
    # Without -e a specific IPv6 address says nothing about the option.
    assert rows[8083]["address"] == "::1" and rows[8083]["v6only"] is None


def test_extended_output_gives_inode_and_explicit_v6only(fixture_text):
    rows = _by_port(parse_ss(fixture_text("backend/netns1/ss-tlneH.txt")))
    assert [rows[p]["inode"] for p in sorted(rows)] == [12034, 12035, 12036, 12037, 12038, 12039]
    assert rows[8083]["v6only"] is True
    assert rows[8082]["v6only"] is False
    assert rows[8080]["users"] == []


def test_process_column(fixture_text):
    rows = _by_port(parse_ss(fixture_text("backend/netns1/ss-tlnpeH.txt")))
    assert rows[8085]["users"] == [{"process": "python3", "pid": 7157, "fd": 8}]
    assert rows[8085]["inode"] == 12039
    listeners = listeners_from_ss(parse_ss(fixture_text("backend/netns1/ss-tlnpH.txt")))
    assert len(listeners) == 6 and all(item["state"] == "LISTEN" for item in listeners)


def test_corpus_ss_tulpen_header_netid_and_interface_scoped_addresses(corpus_text):
    rows = parse_ss(corpus_text("ss_netstat/jc-ubuntu1804-ss-tulpen.txt"))
    resolver = [r for r in rows if r["netid"] == "tcp" and r["port"] == 53 and r["interface"] == "lo"]
    assert len(resolver) == 1
    assert resolver[0]["address"] == "127.0.0.53"
    assert resolver[0]["users"] == [{"process": "systemd-resolve", "pid": 1117, "fd": 13}]
    assert resolver[0]["uid"] == 101
    apache = [r for r in rows if r["netid"] == "tcp" and r["port"] == 80][0]
    assert [u["pid"] for u in apache["users"]] == [24795, 2157, 2156, 2155, 2154, 2153, 2079]
    assert apache["users"][0]["process"] == "/usr/sbin/apach"
    listeners = listeners_from_ss(rows)
    assert listeners and all(item["state"] == "LISTEN" for item in listeners)
    assert not [item for item in listeners if item["port"] == 68]  # udp rows are not listeners


def test_corpus_unix_sockets_from_ss_ap(corpus_text):
    rows = parse_ss(corpus_text("ss_netstat/issue-bigbluebutton-16705-ss-ap-grep-haproxy.txt"))
    assert [r["family"] for r in rows] == ["unix"] * 5
    listening = [r for r in rows if r["state"] == "LISTEN"]
    assert [r["address"] for r in listening] == ["/run/haproxy/admin.sock.1097.tmp",
                                                 "/run/haproxy-master.sock.1097.tmp"]
    assert listening[0]["inode"] == 31616
    assert {u["pid"] for u in rows[0]["users"]} == {1578, 1097}
    assert listeners_from_ss(rows) == []


@pytest.mark.parametrize("text,expected", [
    ("0.0.0.0:8080", ("ipv4", "0.0.0.0", None, 8080, None)),
    ("*:8082", ("ipv6", "::", None, 8082, "dual")),
    ("[::]:8084", ("ipv6", "::", None, 8084, "v6only")),
    ("[::1]:8083", ("ipv6", "::1", None, 8083, None)),
    ("127.0.0.53%lo:53", ("ipv4", "127.0.0.53", "lo", 53, None)),
    ("[fe80::1]%eth0:80", ("ipv6", "fe80::1", "eth0", 80, None)),
    ("0.0.0.0:*", ("ipv4", "0.0.0.0", None, None, None)),
    (":::8443", ("ipv6", "::", None, 8443, None)),
])
def test_split_endpoint(text, expected):
    assert split_endpoint(text) == expected


def test_bad_line_names_source_and_line():
    with pytest.raises(SocketListingParseError) as excinfo:
        parse_ss("LISTEN 0 16 0.0.0.0:8080 0.0.0.0:*\nLISTEN x y z w\n", source="pasted")
    assert str(excinfo.value).startswith("pasted:2:")
    with pytest.raises(SocketListingParseError) as excinfo:
        parse_ss("LISTEN 0 16 nonsense:80 0.0.0.0:*\n", source="pasted")
    assert str(excinfo.value).startswith("pasted:1: local address")


def test_corpus_netstat_program_names_with_spaces(corpus_text):
    rows = parse_netstat(corpus_text("ss_netstat/jc-ubuntu1804-netstat-lnp-space.txt"))
    sshd = [r for r in rows if r["port"] == 22 and r["proto"] == "tcp"][0]
    assert (sshd["pid"], sshd["program"], sshd["state"]) == (600, "sshd: /usr/sbin", "LISTEN")
    watchdog = [r for r in rows if r["port"] == 9000][0]
    assert watchdog["program"] == "pgpool: watchd"
    zabbix = [r for r in rows if r["port"] == 10050 and r["family"] == "ipv4"][0]
    assert zabbix["pid"] == 1817931
    dhclient = [r for r in rows if r["port"] == 68 and r["proto"] == "udp"][0]
    assert dhclient["state"] is None and dhclient["program"] == "dhclient"
    raw = [r for r in rows if r["proto"] == "raw6"][0]
    assert (raw["state"], raw["pid"]) == ("7", 867)


def test_corpus_netstat_neopa_user_inode_and_timer(corpus_text):
    rows = parse_netstat(corpus_text("ss_netstat/insights-netstat-neopa.txt"))
    assert [r["port"] for r in rows] == [53, 5672, 27017, 53644, 5646, 80]
    passenger = rows[3]
    assert (passenger["uid"], passenger["inode"], passenger["pid"], passenger["program"]) == \
        (995, 1154674, 12387, "Passenger Rac")
    syn = rows[5]
    assert (syn["state"], syn["pid"], syn["program"]) == ("SYN_RECV", None, None)


def test_corpus_netstat_without_header_and_without_pid(corpus_text):
    rows = parse_netstat(corpus_text("ss_netstat/insights-netstat-no-header.txt"))
    assert [(r["family"], r["address"], r["port"]) for r in rows] == [
        ("ipv4", "0.0.0.0", 7788), ("ipv6", "::1", 5432), ("ipv6", "::1", 25), ("ipv6", "::", 8443)]
    assert rows[3]["uid"] == 91 and rows[3]["program"] == "java"
    rows = parse_netstat(corpus_text("ss_netstat/issue-panteras-148-netstat-ano-listen.txt"))
    assert len(rows) == 12
    assert all(r["pid"] is None and r["state"] == "LISTEN" for r in rows)
    assert 81 not in [r["port"] for r in rows]
