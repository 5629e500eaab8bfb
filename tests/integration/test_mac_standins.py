"""SELinux on both sides reaches the report (issue 6), on a real lab whose kernel has no SELinux:
lab/standins/ replaces the SELinux tools of two hosts with scripts printing captured output, and
the audit logs carry the denials (lab/scenarios/mac-standins.yml says which server gets what).

* lb: HAProxy (haproxy_t) denied name_connect to tcp/8500, unreserved_port_t, enforcing,
  haproxy_connect_any off; the server itself is healthy. Decoys in the same log: HAProxy's sysfs
  read (not a network permission) and a name_connect to tcp/8090 whose connect() ended in
  ECONNREFUSED (the backend's tcp-reset answered it: SELinux logged but did not refuse).
* web2: httpd_t denied name_bind on tcp/8600, whose unit is stopped: the denial stands behind
  the stopped unit.
* web3: the same bind record for tcp/8700 but permissive=1 (logged, not blocked); the service
  listens. tcp/8090 on web3 is rejected by iptables: the verdict stays firewall_reject.
* web4: the AppArmor stand-in (lab/standins/install-apparmor.sh): /sys/module/apparmor/parameters/
  enabled says Y inside that host, and nginx's profile was denied an inet stream socket; the unit
  is stopped.

Nothing is enforced: HAProxy sees web1-8500 UP. docs/mac.md ("What the lab proves and what it
cannot") says what that means for this test.
"""

import os
import subprocess
import time

import pytest

from conftest import REPO, running_lab

STATE = "/var/tmp/lbdoctor-integration-lbs"  # own state: the other integration labs may be up
STANDINS = os.path.join(REPO, "lab", "standins")
LABEL_FIX = ["semanage", "port", "-a", "-t", "http_port_t", "-p", "tcp"]


def install(host, side, port):
    subprocess.run([os.path.join(STANDINS, "install.sh"), "--root", os.path.join(STATE, "hosts", host, "root"),
                    "--side", side, "--port", str(port)], check=True, stdout=subprocess.PIPE)
    return os.path.join(STATE, "hosts", host, "root", "var", "log", "audit", "audit.log")


def econnrefused_trap(port):
    """HAProxy's name_connect record pair of audit-lb.log.in for ``port``, whose SYSCALL ended
    in ECONNREFUSED (exit=-111) as in fedora-selinux/selinux-policy PR #2869."""
    with open(os.path.join(STANDINS, "data", "audit-lb.log.in")) as handle:
        records = [line for line in handle if "@EPOCH@" in line]
    now = int(time.time())
    values = {"@EPOCH@": "%d.731" % now, "@SERIAL@": str(now % 100000 + 7), "@PID@": "4242", "@COMM@": "haproxy",
              "@DOMAIN@": "haproxy_t", "@EXE@": "/usr/sbin/haproxy", "@PORT@": str(port), "@TYPE@": "unreserved_port_t"}
    text = "".join(records)
    for key, value in values.items():
        text = text.replace(key, value)
    assert "exit=-13 " in text
    return text.replace("exit=-13 ", "exit=-111 ")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    with running_lab("mac-standins.yml", STATE) as lab:
        lb_log = install("lb", "lb", 8500)
        with open(lb_log, "a") as handle:
            handle.write(econnrefused_trap(8090))
        install("web2", "backend", 8600)
        web3_log = install("web3", "backend", 8700)
        with open(web3_log) as handle:
            text = handle.read()
        with open(web3_log, "w") as handle:
            handle.write(text.replace("permissive=0", "permissive=1"))
        assert lab.exec("lb", "getenforce").strip() == "Enforcing"
        subprocess.run([os.path.join(STANDINS, "install-apparmor.sh"), "--root",
                        os.path.join(STATE, "hosts", "web4", "root")], check=True, stdout=subprocess.PIPE)
        assert lab.exec("web4", "lbdoctor-apparmor-enable").strip() == "Y"
        data, _out = lab.diagnose(tmp_path_factory.mktemp("mac-report"))
        yield dict((s["server"], s) for s in data["servers"])


def causes(record):
    return [f["cause"] for f in record["findings"]]


def test_haproxy_name_connect_denial_on_the_lb_with_the_port_label_first(report):
    record = report["web1-8500"]
    assert record["verdict"] == "selinux_denied", record
    assert causes(record) == ["selinux_denied"]
    found = record["findings"][0]
    assert found["fix"]["host"] == "lb"
    texts = [e["text"] for e in found["evidence"]]
    assert any("name_connect" in t and "haproxy_t" in t and "tcp/8500" in t for t in texts), texts
    assert "tcp/8500 is unreserved_port_t" in texts
    assert found["fix"]["commands"] == [LABEL_FIX + ["8500"]]
    assert found["fix"]["automatic"] is True
    alternatives = [a["argv"] for a in found["fix"]["alternatives"]]
    assert alternatives[-1] == ["setsebool", "-P", "haproxy_connect_any", "1"], alternatives
    # HAProxy saw the server UP: the lab enforces nothing, and the finding says so
    assert record["haproxy"]["status"] == "UP"
    assert any("L4OK" in t for t in texts), texts


def test_backend_name_bind_denial_stands_behind_the_stopped_unit(report):
    record = report["web2-8600"]
    assert causes(record) == ["selinux_denied", "service_stopped"], record
    denial, stopped = record["findings"]
    assert denial["fix"]["host"] == "web2"
    assert any("name_bind" in e["text"] and "httpd_t" in e["text"] and "tcp/8600" in e["text"] for e in denial["evidence"])
    assert "cannot bind its port" in denial["summary"]
    assert denial["fix"]["commands"] == [LABEL_FIX + ["8600"]]
    assert stopped["fix"]["commands"][0] == ["systemctl", "start", "app-8600.service"]
    # the lb's SELinux is enforcing too, but HAProxy's check was refused by the peer: not the lb's denial
    assert all(f["fix"].get("host") != "lb" for f in record["findings"])


def test_decoys_are_not_blamed(report):
    # web3: permissive=1 name_bind for its port, the service listening
    assert report["web3-8700"]["verdict"] == "healthy", report["web3-8700"]
    # lb: name_connect to tcp/8090 that ended in ECONNREFUSED; the firewall's tcp-reset is the cause
    assert causes(report["web3-8090"]) == ["firewall_reject"], report["web3-8090"]
    # lb: the sysfs read of haproxy_t, and port 8080 (http_cache_port_t, reachable by haproxy_t)
    assert report["web1-8080"]["verdict"] == "healthy", report["web1-8080"]


def test_apparmor_denial_on_a_backend_names_the_profile_rule(report):
    record = report["web4-8800"]
    assert causes(record) == ["apparmor_denied", "service_stopped"], record
    denial = record["findings"][0]
    assert denial["fix"]["host"] == "web4"
    assert any("create" in e["text"] and "/usr/sbin/nginx" in e["text"] and "inet" in e["text"]
               for e in denial["evidence"]), denial["evidence"]
    assert "network inet stream," in denial["fix"]["description"]
    assert denial["fix"]["commands"] == [["apparmor_parser", "-r", "/etc/apparmor.d/usr.sbin.nginx"]]
    assert [a["argv"] for a in denial["fix"]["alternatives"]] == [["aa-complain", "/usr/sbin/nginx"]]
