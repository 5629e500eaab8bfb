"""Lab fixtures for the integration tests: a real lab (network namespaces, systemd-nspawn hosts
with systemd, sshd, HAProxy and netfilter) brought up from a scenario file, and torn down after.

These tests need root on Debian 12 (as `make test` and CI run them). pytest-ansible, deprecated
upstream, is used here and nowhere else (pinned in requirements/python.txt).
"""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATE = os.path.join(REPO, ".lab-integration")

os.environ.setdefault("ANSIBLE_CONFIG", os.path.join(REPO, "ansible.cfg"))
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(REPO, ".build", "collections"))


def lab(*args):
    return subprocess.run([sys.executable, os.path.join(REPO, "lab", "lab.py"), "--state", STATE] + list(args),
                          check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout


class Lab(object):
    def __init__(self, scenario):
        self.scenario = scenario
        self.inventory = os.path.join(STATE, "inventory.ini")

    def server(self, name):
        return [s for s in self.scenario["servers"] if s["name"] == name][0]

    def exec(self, host, *argv):
        return lab("exec", host, "--", *argv)

    def diagnose(self, report_dir, *extra):
        """Run the playbook as a user would; return (report, stdout)."""
        argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", self.inventory,
                os.path.join(REPO, "playbooks", "diagnose_refused.yml"), "-e", "lbdoctor_report_dir=%s" % report_dir]
        proc = subprocess.run(argv + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, cwd=REPO, check=False)
        assert proc.returncode == 0, proc.stdout[-4000:]
        with open(os.path.join(str(report_dir), "report.json")) as handle:
            return json.load(handle), proc.stdout


@pytest.fixture(scope="module")
def two_causes_lab():
    if os.geteuid() != 0:
        pytest.fail("the integration tests need root: they build a lab of network namespaces and containers")
    lab("up", os.path.join(REPO, "lab", "scenarios", "two-causes.yml"))
    try:
        yield Lab(json.loads(lab("scenario-json")))
    finally:
        lab("down")
