"""The e2e helpers' own rules: a missing interpreter fails under CI and skips elsewhere; the
environment given to claw is cleaned of machine-specific variables; importtime output is parsed."""

from __future__ import annotations

import pytest

from tests.e2e import util


def test_missing_python_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        util.python_for("3.99")


def test_missing_python_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="3.99"):
        util.python_for("3.99")


def test_clean_env_drops_machine_specific_variables(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setenv("https_proxy", "http://proxy:3128")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    monkeypatch.setenv("CLAW_CONFIG_HOME", "/home/x/.claw")
    monkeypatch.setenv("KEEP_ME", "1")
    env = util.clean_env({"CLAW_CONFIG_HOME": "/tmp/c", "KEEP_ME": None, "EXTRA": "2"})
    assert "ANTHROPIC_API_KEY" not in env and "https_proxy" not in env and "PYTHONPATH" not in env
    assert env["CLAW_CONFIG_HOME"] == "/tmp/c" and env["EXTRA"] == "2" and "KEEP_ME" not in env


def test_imported_modules_parses_importtime():
    stderr = ("import time: self [us] | cumulative | imported package\n"
              "import time:       120 |        120 |   _io\n"
              "import time:      1000 |       1300 | claw.cli.main\n"
              "0.1.0 (claw)\n")
    assert util.imported_modules(stderr) == {"_io", "claw.cli.main"}
