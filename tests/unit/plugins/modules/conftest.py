"""Module tests never let AnsibleModule exit the test process (see module_harness)."""

import pytest
from ansible.module_utils import basic

from module_harness import exit_json, fail_json


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
