"""`claw -p` end to end against the fake model server: prompt caching (breakpoints, cache pricing in the
result, turning it off), extra request headers and betas, and a dead local server failing fast."""

from __future__ import annotations

import json
import socket

import pytest

from tests.cli.headless_helpers import isolated_env, run_inprocess, run_subprocess


@pytest.fixture
def work(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# -- a dead local server ---------------------------------------------------------------------------


@pytest.mark.parametrize("model, variable, path", [("local/qwen3", "OPENAI_BASE_URL", "/v1"),
                                                   ("claude-sonnet-4-5", "ANTHROPIC_BASE_URL", "")])
def test_a_refused_local_server_fails_after_one_quick_retry_naming_the_url(work, home, model, variable, path):
    url = f"http://127.0.0.1:{closed_port()}{path}"
    env = isolated_env({variable: url, "ANTHROPIC_API_KEY": "test-key"}, home)
    run = run_subprocess(["-p", "hi", "--model", model, "--output-format", "json"], env, work)
    assert run.code == 1
    result = json.loads(run.stdout)
    assert result["error"]["kind"] == "retries_exhausted"
    assert result["error"]["message"].startswith("gave up after 2 attempts: connection refused")
    assert f"is the server running at {url}?" in result["error"]["hint"]
    assert run.stderr.count("retrying in") == 1  # two connection attempts in all
