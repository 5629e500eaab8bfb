"""The lab tests build real containers: they run only as root with LBDOCTOR_LAB=1."""

import os

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "lab: needs root and LBDOCTOR_LAB=1; brings up the real lab")


def pytest_collection_modifyitems(config, items):
    reason = None
    if os.geteuid() != 0:
        reason = "the lab needs root"
    elif os.environ.get("LBDOCTOR_LAB") != "1":
        reason = "set LBDOCTOR_LAB=1 to run the lab tests (they build containers)"
    for item in items:
        if "tests/lab/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.lab)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
