"""dns_mismatch on a real HAProxy: a server named by hostname, resolved by HAProxy at start; the
name then moves to another host (the application moved, its old unit was stopped) while HAProxy
keeps connecting to the old address."""

import os
import time

import pytest

from conftest import REPO, running_lab

NAME = "api.lab.test"
BACKEND = "\nbackend api\n    mode http\n    server api1 %s:8080 check\n" % NAME


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def api1_status(lab):
    out = lab.exec("lb", "socat", "-t", "2", "stdio", "unix-connect:/run/haproxy/admin.sock", input_text="show stat\n")
    for line in out.splitlines():
        if line.startswith("api,api1,"):
            return line.split(",")[17]
    return None


@pytest.fixture(scope="module")
def dns_lab():
    with running_lab("dns.yml", os.path.join(REPO, ".lab-integration-dns")) as lab:
        yield lab


def test_a_name_that_moved_while_haproxy_kept_the_old_address(dns_lab, tmp_path):
    old, new = dns_lab.host_address("old"), dns_lab.host_address("new")
    dns_lab.exec("lb", "sh", "-c", "echo '%s %s' >> /etc/hosts" % (old, NAME))
    dns_lab.exec("lb", "sh", "-c", "printf '%s' >> /etc/haproxy/haproxy.cfg" % BACKEND.replace("\n", "\\n"))
    dns_lab.exec("lb", "systemctl", "reload", "haproxy.service")
    assert wait_for(lambda: (api1_status(dns_lab) or "").startswith("UP")), api1_status(dns_lab)

    # The application moves: its old unit stops, the name now points at the new host.
    dns_lab.exec("old", "systemctl", "stop", dns_lab.server("old-8080")["service"]["unit"])
    dns_lab.exec("lb", "sed", "-i", "s/^%s %s$/%s %s/" % (old.replace(".", "\\."), NAME, new, NAME), "/etc/hosts")
    assert wait_for(lambda: (api1_status(dns_lab) or "").startswith("DOWN")), api1_status(dns_lab)

    report, _out = dns_lab.diagnose(tmp_path / "report")
    api1 = [s for s in report["servers"] if s["server"] == "api1"][0]
    assert api1["address"] == old  # what HAProxy still uses
    assert api1["host"] == "old"
    assert [f["cause"] for f in api1["findings"]] == ["dns_mismatch", "service_stopped"]
    assert new in api1["findings"][0]["summary"]
