"""Tests of the systemd helpers: unit name checks, `systemctl show` blocks, journal lines.

show-app-failed.txt is HAND-MADE in systemd 252's output format, kept for states no lab scenario
produces (a restart loop, a socket unit with two Listen=, a port only in Environment=);
show-app-8082-failed.txt, journal-app-8082.txt and journal-empty.txt are real (see
tests/unit/fixtures/backend/systemd/README.md).
"""

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.backend_systemd import (
    UnitNameError,
    journal_argv,
    listen_addresses,
    listen_port,
    needs_journal,
    parse_journal,
    parse_systemctl_show,
    ports_in_text,
    service_command_text,
    show_argv,
    validate_unit_name,
)


@pytest.mark.parametrize("name,expected", [
    ("app", "app.service"),
    ("app.service", "app.service"),
    ("app.socket", "app.socket"),
    ("getty@tty1.service", "getty@tty1.service"),
    ("system-app\\x2dweb.slice", "system-app\\x2dweb.slice"),
    ("app@8080", "app@8080.service"),
])
def test_valid_unit_names(name, expected):
    assert validate_unit_name(name) == expected


@pytest.mark.parametrize("name", [
    "", "-p", "--all", ".service", "app service", "app;reboot", "app/../x.service", "app@.service",
    "app@", "a" * 256 + ".service", "app.service\n", "ünit.service", "$(id).service",
])
def test_invalid_unit_names(name):
    with pytest.raises(UnitNameError):
        validate_unit_name(name)


def test_parse_show_blocks(fixture_text):
    blocks = parse_systemctl_show(fixture_text("backend/systemd/show-app-failed.txt"))
    assert [b["Id"] for b in blocks] == ["app.service", "app.socket", "api.service", "ghost.service", "web.service"]
    app, sock, api, ghost, _web = blocks
    assert (app["ActiveState"], app["Result"], app["ExecMainStatus"], app["NRestarts"]) == \
        ("failed", "exit-code", 1, 0)
    assert app["TriggeredBy"] == ["app.socket"]
    assert sock["Triggers"] == ["app.service"]
    assert listen_addresses(sock) == [{"address": "[::]:8080", "kind": "Stream"},
                                      {"address": "/run/app.sock", "kind": "Stream"}]
    assert api["NRestarts"] == 7 and api["SubState"] == "auto-restart"
    assert ghost["LoadState"] == "not-found" and ghost["UnitFileState"] is None
    assert ghost["ActiveEnterTimestamp"] is None
    assert service_command_text(app) == "/usr/bin/python3 -m http.server 8080 --bind 0.0.0.0"
    assert service_command_text(api) == "/usr/local/bin/api --listen :${API_PORT} API_PORT=9090 LOG_LEVEL=info"


def test_parse_real_show_where_type_properties_come_before_id(fixture_text):
    """Real capture, lab host web4 (systemd 252): `systemctl show --all -p ... -- units '*.socket'
    '*.service'`; each block starts with the Service/Socket properties, Id= comes later."""
    text = fixture_text("backend/lab/web4-systemctl-show-all.txt")
    assert text.startswith("MainPID=")
    blocks = dict((b["Id"], b) for b in parse_systemctl_show(text))
    assert len(blocks) == 69  # 72 blocks: the 3 units named explicitly come again through *.service
    journald = blocks["systemd-journald.socket"]
    assert listen_addresses(journald)[:2] == [{"address": "/run/systemd/journal/socket", "kind": "Datagram"},
                                              {"address": "/run/systemd/journal/stdout", "kind": "Stream"}]
    assert journald["Triggers"] == ["systemd-journald.service"] and journald["TriggeredBy"] == []
    assert blocks["syslog.socket"]["ActiveState"] == "inactive"  # only listed thanks to --all
    legacy = blocks["legacy-8082.service"]
    assert (legacy["ActiveState"], legacy["MainPID"], legacy["InactiveEnterTimestamp"]) == ("active", 33, None)
    assert blocks["auditd.service"]["LoadState"] == "not-found"
    assert blocks["ssh.service"]["Environment"] is None


def test_parse_real_show_failed_running_and_missing_units(fixture_text):
    """Real capture, lab host web4 (systemd 252), 2026-12-06: the collector's `systemctl show --all
    -p <SHOW_PROPERTIES> -- app-8082.service legacy-8082.service ghost.service`; app-8082 failed
    with EADDRINUSE (legacy-8082 holds the port), ghost.service does not exist."""
    text = fixture_text("backend/systemd/show-app-8082-failed.txt")
    assert text.startswith("MainPID=")  # Service properties first, Id= later
    blocks = parse_systemctl_show(text)
    assert [b["Id"] for b in blocks] == ["app-8082.service", "legacy-8082.service", "ghost.service"]
    failed, legacy, ghost = blocks
    assert (failed["ActiveState"], failed["SubState"], failed["Result"]) == ("failed", "failed", "exit-code")
    assert (failed["ExecMainCode"], failed["ExecMainStatus"], failed["ExecMainPID"], failed["MainPID"]) == \
        (1, 1, 39, 0)
    assert failed["NRestarts"] == 0 and failed["UnitFileState"] == "enabled"
    assert failed["ActiveEnterTimestamp"] is None  # "ActiveEnterTimestamp=": it never got active
    assert failed["InactiveEnterTimestamp"] == "Sun 2026-12-06 04:17:58 UTC"
    assert (failed["User"], failed["Environment"]) == (None, None)
    assert (failed["Triggers"], failed["TriggeredBy"]) == ([], [])
    assert failed["Description"] == "lab app app-8082 (haproxy backend web, server web4-8082)"
    assert service_command_text(failed) == "/usr/local/bin/lab-app --listen 0.0.0.0 --port 8082 --name web4-8082"
    assert (legacy["ActiveState"], legacy["SubState"], legacy["MainPID"]) == ("active", "running", 34)
    assert legacy["InactiveEnterTimestamp"] is None
    assert service_command_text(legacy) == "/usr/local/bin/lab-app --listen 127.0.0.1 --port 8082 --name legacy-8082"
    assert (ghost["LoadState"], ghost["ActiveState"], ghost["SubState"]) == ("not-found", "inactive", "dead")
    assert ghost["Description"] == "ghost.service" and ghost["UnitFileState"] is None
    assert "ExecStart" not in ghost and service_command_text(ghost) == ""
    assert [needs_journal(b) for b in blocks] == [True, False, False]


def test_needs_journal(fixture_text):
    blocks = dict((b["Id"], b) for b in parse_systemctl_show(fixture_text("backend/systemd/show-app-failed.txt")))
    assert needs_journal(blocks["app.service"]) is True
    assert needs_journal(blocks["api.service"]) is True
    assert needs_journal(blocks["web.service"]) is False
    assert needs_journal(blocks["app.socket"]) is False
    assert needs_journal(blocks["ghost.service"]) is False


@pytest.mark.parametrize("address,port", [
    ("8080", 8080), ("0.0.0.0:8080", 8080), ("[::]:8080", 8080), ("127.0.0.1%lo:80", 80),
    ("/run/app.sock", None), ("@abstract", None), ("vsock:2:8080", None),
])
def test_listen_port(address, port):
    assert listen_port(address) == port


def test_ports_in_text_are_whole_numbers():
    assert ports_in_text("--port 8080 --admin 18080", [8080, 80, 18080, 808]) == [8080, 18080]
    assert ports_in_text("LISTEN=:8080,", [8080]) == [8080]


def test_journal(fixture_text):
    lines = parse_journal(fixture_text("backend/systemd/journal-app-8082.txt"))
    assert len(lines) == 5
    assert lines[1].endswith(" web4 lab-app[39]: lab-app: cannot bind 0.0.0.0:8082: [Errno 98] Address already in use")
    assert lines[-1].endswith("Failed to start app-8082.service - lab app app-8082 (haproxy backend web, server web4-8082).")
    assert parse_journal(fixture_text("backend/systemd/journal-empty.txt")) == []
    assert parse_journal(fixture_text("backend/lab/web2-journal-nosuch.txt")) == []
    assert parse_journal("-- Boot 1a2b --\nx\n") == ["x"]


def test_argv():
    assert show_argv(["a.service"], properties=("Id", "LoadState")) == \
        ["systemctl", "show", "--all", "-p", "Id,LoadState", "--", "a.service"]
    assert journal_argv("a.service", 10) == \
        ["journalctl", "-u", "a.service", "-n", "10", "-o", "short-iso", "--no-pager"]
