"""Lab fixtures for the integration tests: a real lab (network namespaces, systemd-nspawn hosts
with systemd, sshd, HAProxy and netfilter) brought up from a scenario file, and torn down after.

These tests need root on Debian 12 (as `make test` and CI run them). pytest-ansible, deprecated
upstream, is used here and nowhere else (pinned in requirements/python.txt).
"""

import contextlib
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATE = os.path.join(REPO, ".lab-integration")

os.environ.setdefault("ANSIBLE_CONFIG", os.path.join(REPO, "ansible.cfg"))
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(REPO, ".build", "collections"))


def lab(*args, state=STATE, input_text=None):
    return subprocess.run([sys.executable, os.path.join(REPO, "lab", "lab.py"), "--state", state] + list(args),
                          check=True, stdout=subprocess.PIPE, universal_newlines=True, input=input_text).stdout


class Lab(object):
    """A running lab: its resolved scenario, inventory, and the ways tests act on it."""

    def __init__(self, state):
        self.state = state
        self.inventory = os.path.join(state, "inventory.ini")
        self.scenario = None

    def up(self, scenario_file):
        lab("up", os.path.join(REPO, "lab", "scenarios", scenario_file), state=self.state)
        self.scenario = json.loads(lab("scenario-json", state=self.state))

    def down(self):
        lab("down", state=self.state)

    def server(self, name):
        return [s for s in self.scenario["servers"] if s["name"] == name][0]

    def host_address(self, name):
        return [h for h in self.scenario["hosts"] if h["name"] == name][0]["address"]

    def exec(self, host, *argv, input_text=None):
        return lab("exec", host, "--", *argv, state=self.state, input_text=input_text)

    def diagnose(self, report_dir, *extra):
        """Run the playbook as a user would; return (report, stdout)."""
        argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", self.inventory,
                os.path.join(REPO, "playbooks", "diagnose_refused.yml"), "-e", "lbdoctor_report_dir=%s" % report_dir]
        proc = subprocess.run(argv + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, cwd=REPO, check=False)
        assert proc.returncode == 0, proc.stdout[-4000:]
        with open(os.path.join(str(report_dir), "report.json")) as handle:
            return json.load(handle), proc.stdout


@contextlib.contextmanager
def running_lab(scenario_file, state):
    """A lab up for the duration of a block, down afterwards whatever happens."""
    if os.geteuid() != 0:
        pytest.fail("the integration tests need root: they build a lab of network namespaces and containers")
    running = Lab(state)
    try:
        running.up(scenario_file)
        yield running
    finally:
        running.down()


@pytest.fixture(scope="module")
def two_causes_lab():
    with running_lab("two-causes.yml", STATE) as running:
        yield running
