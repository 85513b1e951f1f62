"""The entry point: every subcommand takes --help, mistyped commands are caught, the fast paths."""

from __future__ import annotations

import subprocess
import sys

import pytest

from claw.cli.main import SUBCOMMANDS
from tests.cli.headless_helpers import ROOT


def _claw(*args: str, stdin: str = ""):
    return subprocess.run([sys.executable, "-m", "claw", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                                                      "HOME": "/nonexistent", "CLAW_CONFIG_HOME": "/nonexistent"})


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS) + ["-p", "help", "version"])
def test_every_command_takes_help(command):
    run = _claw(command, "--help")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() and "Traceback" not in run.stderr


def test_main_help_lists_every_command():
    text = _claw("--help").stdout
    for command in SUBCOMMANDS:
        assert f"\n  {command} " in text


@pytest.mark.parametrize("typo, meant", [("stauts", "status"), ("lgoin", "login"), ("doctr", "doctor")])
def test_a_mistyped_command_is_a_usage_error_not_a_prompt(typo, meant):
    run = _claw(typo)
    assert run.returncode == 2
    assert f"claw {meant}" in run.stderr


def test_version_fast_path():
    run = _claw("--version")
    assert run.returncode == 0 and run.stdout.startswith("0.") and "(claw)" in run.stdout


def test_version_details_agree_with_doctor_about_tomli():
    """On 3.11+ the standard library's tomllib is used: tomli is 'not needed', never 'not available'."""
    run = _claw("version")
    assert run.returncode == 0
    tomli_line = next(line for line in run.stdout.splitlines() if line.startswith("tomli"))
    if sys.version_info >= (3, 11):
        assert tomli_line == "tomli (not needed: tomllib)"
    else:
        assert "not available" not in tomli_line


def test_a_reader_that_goes_away_is_not_a_traceback():
    proc = subprocess.Popen([sys.executable, "-m", "claw", "--help"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    proc.stdout.close()  # before claw writes: its write meets a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) in (0, 141)
    assert "Traceback" not in err


def test_help_topic_prints_a_page_of_the_documentation():
    run = _claw("help", "cli")
    assert run.returncode == 0 and run.stdout.startswith("# The command line")
    assert _claw("help", "config").stdout == (ROOT / "docs" / "CONFIGURATION.md").read_text()
    listed = _claw("help", "topics").stdout.split()
    assert "tools" in listed and "embedding" in listed


def test_an_unknown_help_topic_is_a_usage_error_that_lists_the_topics():
    run = _claw("help", "nonsense")
    assert run.returncode == 2 and "no help topic 'nonsense'" in run.stderr and "tools" in run.stderr
    assert _claw("help", "../README").returncode == 2
