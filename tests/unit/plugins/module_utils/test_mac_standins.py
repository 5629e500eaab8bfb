"""The lab stand-ins (lab/standins) seen through collect_mac and selinux_assessment.

install.sh writes the stand-in tools and data into a temporary root; ``run`` executes the
installed scripts with that root's paths and ``read`` reads files under the root, so the result
does not depend on whether the machine running the tests has SELinux.
"""

import os
import shutil
import subprocess

import pytest

from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_assess import apparmor_assessment, selinux_assessment
from ansible_collections.lbdoctor.haproxy.plugins.module_utils.mac_collect import collect_mac

STANDINS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "lab", "standins")

pytestmark = pytest.mark.skipif(shutil.which("sh") is None or shutil.which("awk") is None,
                                reason="needs sh and awk")


def _host(tmp_path, *install_args):
    root = str(tmp_path)
    subprocess.check_call(["sh", os.path.join(STANDINS, "install.sh"), "--root", root] + list(install_args),
                          stdout=subprocess.DEVNULL)
    sbin = os.path.join(root, "usr", "local", "sbin")
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C",
           "LBDOCTOR_STANDINS": os.path.join(root, "usr", "local", "share", "lbdoctor-standins"),
           "LBDOCTOR_AUDIT_LOG": os.path.join(root, "var", "log", "audit", "audit.log")}

    def run(argv):
        path = os.path.join(sbin, argv[0])
        if not os.path.exists(path):
            raise OSError(2, "No such file or directory", argv[0])
        proc = subprocess.run([path] + list(argv[1:]), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def read(path):
        with open(os.path.join(root, path.lstrip("/"))) as handle:
            return handle.read()

    return run, read


def test_lb_standins_give_an_observed_denial_and_the_port_fix(tmp_path):
    run, read = _host(tmp_path, "--side", "lb", "--port", "8081")
    mac = collect_mac(run, read, processes=["haproxy"], ports=[8081])
    selinux = mac["selinux"]
    assert (selinux["mode"], selinux["mode_source"], selinux["policy"]) == ("enforcing", "getenforce", "targeted")
    assert selinux["booleans"]["haproxy_connect_any"] is False
    assert selinux["ports"][0]["type"] == "transproxy_port_t"
    assert [d["permission"] for d in selinux["denials"]] == ["read", "name_connect"]
    assert mac["unavailable"] == []
    result = selinux_assessment(mac, side="lb", port=8081, process="haproxy")
    assert (result["cause"], result["confidence"], result["domain"]) == ("selinux_denied", "observed", "haproxy_t")
    assert result["fix"]["argv"] == ["semanage", "port", "-m", "-t", "http_port_t", "-p", "tcp", "8081"]
    assert "sysfs_t" in result["dismissed"][0]["reason"]
    assert result["denials"][0]["syscall"]["errno"] == "EACCES"


def test_backend_standins_name_bind(tmp_path):
    run, read = _host(tmp_path, "--side", "backend", "--port", "8500")
    mac = collect_mac(run, read, processes=["httpd"], ports=[8500])
    result = selinux_assessment(mac, side="backend", port=8500, process="httpd")
    assert result["cause"] == "selinux_denied" and result["port_type"] == "unreserved_port_t"
    assert result["fix"]["argv"] == ["semanage", "port", "-a", "-t", "http_port_t", "-p", "tcp", "8500"]
    assert selinux_assessment(mac, side="lb", port=8500, process="httpd")["cause"] is None


def test_apparmor_standin_gives_an_observed_denial_and_the_profile_rule(tmp_path):
    root = str(tmp_path)
    subprocess.check_call(["sh", os.path.join(STANDINS, "install-apparmor.sh"), "--root", root],
                          stdout=subprocess.DEVNULL)
    # what lbdoctor-apparmor-enable mounts inside a lab host
    enabled = tmp_path / "sys" / "module" / "apparmor" / "parameters" / "enabled"
    enabled.parent.mkdir(parents=True)
    enabled.write_text("Y\n")
    script = (tmp_path / "usr" / "local" / "sbin" / "lbdoctor-apparmor-enable").read_text()
    assert "mount -t tmpfs" in script and "/sys/module" in script

    def run(argv):
        raise OSError(2, "No such file or directory", argv[0])  # no aa-status, no journalctl

    def read(path):
        with open(os.path.join(root, path.lstrip("/"))) as handle:
            return handle.read()

    mac = collect_mac(run, read, processes=["nginx"], ports=[8800])
    apparmor = mac["apparmor"]
    assert apparmor["enabled"] is True
    assert [(d["operation"], d["profile"], d["family"], d["sock_type"]) for d in apparmor["denials"]] == [
        ("create", "/usr/sbin/nginx", "inet", "stream")]
    result = apparmor_assessment(mac, side="backend", port=8800)
    assert (result["cause"], result["profile"]) == ("apparmor_denied", "/usr/sbin/nginx")
    assert result["fix"]["rules"] == ["network inet stream,"]
    assert result["fix"]["argv"] == ["apparmor_parser", "-r", "/etc/apparmor.d/usr.sbin.nginx"]
