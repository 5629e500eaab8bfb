"""lab/lab.py's command line: clear errors before anything is touched, and the root-free `check`."""

import importlib.util
import json
import os

import pytest

from labkit import util
from labkit.errors import LabError

LAB_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "lab", "lab.py")
SCENARIOS = os.path.join(os.path.dirname(LAB_PY), "scenarios")


@pytest.fixture
def cli():
    spec = importlib.util.spec_from_file_location("lab_cli", LAB_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("command", [["down"], ["status"], ["up", os.path.join(SCENARIOS, "minimal.yml")],
                                     ["exec", "lb", "--", "true"]])
def test_every_command_that_changes_or_reads_the_lab_needs_root(cli, monkeypatch, capsys, command, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert cli.main(["--state", str(tmp_path / "s")] + command) == 2
    assert "the lab needs root" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_missing_tools_are_named_with_their_package(monkeypatch):
    monkeypatch.setattr(util, "SAFE_PATH", "/nonexistent")
    with pytest.raises(LabError, match=r"missing tools: systemd-nspawn \(Debian package systemd-container\), "
                                       r"mmdebstrap \(Debian package mmdebstrap\)"):
        util.require_tools(["systemd-nspawn", "mmdebstrap"])


def test_run_names_the_failed_command():
    with pytest.raises(LabError, match=r"probe failed \(rc=3\): sh -c echo oops >&2; exit 3: oops"):
        util.run(["sh", "-c", "echo oops >&2; exit 3"], what="probe")
    with pytest.raises(TypeError):
        util.run("echo a shell string")


def test_check_prints_the_resolved_scenario_without_root(cli, monkeypatch, capsys):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert cli.main(["--prefix", "lbx", "--subnet", "198.18.3.0/24", "check", os.path.join(SCENARIOS, "default.yml")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["prefix"] == "lbx" and data["hosts"][0]["address"] == "198.18.3.2"


def test_check_reports_an_invalid_subnet(cli, capsys):
    assert cli.main(["--subnet", "10.1.0.0/24", "check", os.path.join(SCENARIOS, "minimal.yml")]) == 1
    assert "lab: error: invalid subnet 10.1.0.0/24: it must lie inside 198.18.0.0/15" in capsys.readouterr().err


def test_lock_is_exclusive_and_leaves_no_file(tmp_path, monkeypatch):
    from labkit import state

    monkeypatch.setattr(state, "LOCK_DIR", str(tmp_path))
    with state.Lock("lbx"):
        assert os.path.exists(str(tmp_path / "lbdoctor-lab-lbx.lock"))
        with pytest.raises(LabError, match="another lab.py run holds"):
            with state.Lock("lbx"):
                pass
        with state.Lock("lby"):
            pass
    assert os.listdir(str(tmp_path)) == []
