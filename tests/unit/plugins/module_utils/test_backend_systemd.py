"""Tests of the systemd helpers: unit name checks, `systemctl show` blocks, journal lines.

show-app-failed.txt and journal-app.txt are HAND-MADE in systemd 252's output format (see
tests/unit/fixtures/backend/README.md); journal-empty.txt is real.
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
    lines = parse_journal(fixture_text("backend/systemd/journal-app.txt"))
    assert len(lines) == 5 and "Address already in use" in lines[2]
    assert parse_journal(fixture_text("backend/systemd/journal-empty.txt")) == []
    assert parse_journal(fixture_text("backend/lab/web2-journal-nosuch.txt")) == []
    assert parse_journal("-- Boot 1a2b --\nx\n") == ["x"]


def test_argv():
    assert show_argv(["a.service"], properties=("Id", "LoadState")) == \
        ["systemctl", "show", "--all", "-p", "Id,LoadState", "--", "a.service"]
    assert journal_argv("a.service", 10) == \
        ["journalctl", "-u", "a.service", "-n", "10", "-o", "short-iso", "--no-pager"]
