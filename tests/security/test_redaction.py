"""Consistent redaction: the text output mode hides the run's secrets as json and stream-json do, and
``claw config list`` / ``claw whoami --json`` hide a key written literally in an ``apiKeyHelper``.

Real ``python -m claw`` processes; the fake model echoes the API key in its answer (split across
stream deltas) and in a bash command.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.headless_helpers import isolated_env, run_subprocess
from tests.fakes.model_server import ModelServer, error, reply, tool_use

KEY = "sk-live-0123456789abcdefXYZ"  # not an sk-ant- key: only known because it is the key in use
LITERAL = "sk-ant-api03-" + "A1b2C3d4" * 6


@pytest.fixture
def dirs(home: Path, project: Path):
    return home, project


def _script():
    return [reply(tool_uses=[tool_use("bash", {"command": f"echo the key is {KEY}"})]),
            reply(text=f"Here it is: {KEY} and again {KEY}.\nDone.", text_chunk=3)]


@pytest.mark.parametrize("fmt", ["text", "json", "stream-json"])
def test_every_output_format_hides_the_key_the_model_repeats(dirs, fmt):
    home, project = dirs
    with ModelServer(_script()) as server:
        env = isolated_env(server.env(ANTHROPIC_API_KEY=KEY), home)
        argv = ["-p", "show me the key", "--allowedTools", "Bash", "--output-format", fmt]
        if fmt == "stream-json":
            argv.append("--verbose")
        run = run_subprocess(argv, env, project)
    assert run.code == 0, run.stderr
    assert KEY not in run.stdout and KEY not in run.stderr
    assert "[REDACTED]" in run.stdout
    if fmt == "text":
        assert "Here it is: [REDACTED] and again [REDACTED].\nDone." in run.stdout
        assert "bash(echo the key is [REDACTED])" in run.stderr


def test_text_mode_hides_the_key_in_an_error_on_stderr(dirs):
    home, project = dirs
    with ModelServer([error(400, "invalid_request_error", f"bad request for key {KEY}")]) as server:
        env = isolated_env(server.env(ANTHROPIC_API_KEY=KEY), home)
        run = run_subprocess(["-p", "hi"], env, project)
    assert run.code == 1
    assert "bad request for key [REDACTED]" in run.stderr
    assert KEY not in run.stderr + run.stdout


def _settings(home: Path, data: dict) -> None:
    (home / "settings.json").write_text(json.dumps(data))


@pytest.mark.parametrize("argv", [["config", "list"], ["config", "list", "--json"],
                                  ["config", "get", "apiKeyHelper"], ["whoami"], ["whoami", "--json"]])
def test_literal_key_in_api_key_helper_is_not_shown(dirs, argv):
    home, project = dirs
    _settings(home, {"apiKeyHelper": f"echo {LITERAL}"})
    run = run_subprocess(argv, isolated_env({}, home), project)
    assert run.code == 0, run.stderr
    assert LITERAL not in run.stdout + run.stderr
    assert "echo [REDACTED]" in run.stdout


@pytest.mark.parametrize("argv", [["config", "list"], ["config", "list", "--json"], ["whoami", "--json"]])
@pytest.mark.parametrize("where", ["environment", "settings env"])
def test_key_in_use_copied_into_api_key_helper_is_not_shown(dirs, argv, where):
    home, project = dirs
    secret = "abc123def456"  # no recognisable shape: hidden because it is the key in use
    data = {"apiKeyHelper": f"printf %s {secret}"}
    extra = {}
    if where == "environment":
        extra["ANTHROPIC_API_KEY"] = secret
    else:
        data["env"] = {"ANTHROPIC_API_KEY": secret}
    _settings(home, data)
    run = run_subprocess(argv, isolated_env({}, home, **extra), project)
    assert run.code == 0, run.stderr
    assert secret not in run.stdout + run.stderr
    assert "printf %s [REDACTED]" in run.stdout


def test_config_keeps_showing_proxy_users_with_starred_passwords(dirs):
    home, project = dirs
    _settings(home, {"env": {"HTTPS_PROXY": "http://alice:hunter2hunter2@proxy:3128"}})
    run = run_subprocess(["config", "list"], isolated_env({}, home), project)
    assert "http://alice:***@proxy:3128" in run.stdout and "hunter2" not in run.stdout
