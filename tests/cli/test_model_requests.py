"""`claw -p` end to end against the fake model server: prompt caching (breakpoints, cache pricing in the
result, turning it off), extra request headers and betas, and a dead local server failing fast."""

from __future__ import annotations

import json
import socket

import pytest

from tests.cli.headless_helpers import isolated_env, run_inprocess, run_subprocess
from tests.fakes.model_server import ModelServer, reply, tool_use
from tests.fakes.prompt_cache import PromptCache


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


# -- prompt caching --------------------------------------------------------------------------------

MODEL = "claude-sonnet-4-5"


def file_session(work, turns=3):
    for i in range(turns):
        (work / f"f{i}.txt").write_text(f"file {i}\n" * 50)
    return [reply(tool_uses=[tool_use("read_file", {"path": f"f{i}.txt"})]) for i in range(turns)] + [reply("done")]


def breakpoints(body):
    text = json.dumps(body)
    return text.count('"cache_control"')


def test_a_tool_session_reads_the_cache_and_the_result_prices_it(work, home, monkeypatch):
    from claw.api.registry import lookup
    from claw.api.types import Usage

    with ModelServer(file_session(work), cache=PromptCache()) as srv:
        run = run_inprocess(["-p", "read the files", "--model", MODEL, "--output-format", "json"],
                            isolated_env(srv.env(), home), monkeypatch, work)
        bodies = [r.json for r in srv.requests]
        log = list(srv.cache.log)
    assert run.code == 0, run.stderr
    result = run.json
    assert len(bodies) == 4 and all(1 <= breakpoints(b) <= 4 for b in bodies)
    assert all(b["system"][-1]["cache_control"] == {"type": "ephemeral"} for b in bodies)
    assert all(b["tools"][-1]["cache_control"] == {"type": "ephemeral"} for b in bodies)
    assert [e["cache_read_input_tokens"] > 0 for e in log] == [False, True, True, True]
    usage = result["usage"]
    assert usage["cache_read_input_tokens"] == sum(e["cache_read_input_tokens"] for e in log)
    assert usage["cache_creation_input_tokens"] == sum(e["cache_creation_input_tokens"] for e in log)
    expected = lookup(MODEL).cost_usd(Usage(**usage))
    assert result["total_cost_usd"] == pytest.approx(expected, rel=1e-6)
    tally = result["modelUsage"][MODEL]
    assert tally["cacheReadInputTokens"] == usage["cache_read_input_tokens"] > 0
    assert tally["cacheCreationInputTokens"] == usage["cache_creation_input_tokens"] > 0
    # the cache makes it cheaper than the same tokens at the input price
    full = lookup(MODEL).cost_usd(Usage(input_tokens=usage["input_tokens"] + usage["cache_read_input_tokens"]
                                        + usage["cache_creation_input_tokens"], output_tokens=usage["output_tokens"]))
    assert result["total_cost_usd"] < full


@pytest.mark.parametrize("how", ["env", "settings"])
def test_prompt_caching_can_be_turned_off(work, home, monkeypatch, how):
    extra = {"DISABLE_PROMPT_CACHING": "1"} if how == "env" else {}
    if how == "settings":
        (home / "settings.json").write_text('{"promptCaching": false}')
    with ModelServer(file_session(work, turns=1), cache=PromptCache()) as srv:
        run = run_inprocess(["-p", "read", "--model", MODEL, "--output-format", "json"],
                            isolated_env(srv.env(), home, **extra), monkeypatch, work)
        bodies = [r.json for r in srv.requests]
    assert run.code == 0, run.stderr
    assert [breakpoints(b) for b in bodies] == [0, 0] and all(isinstance(b["system"], str) for b in bodies)
    assert run.json["usage"]["cache_read_input_tokens"] == 0


def test_an_openai_compatible_server_reports_cached_tokens_as_cache_reads(work, home, monkeypatch):
    with ModelServer(file_session(work), cache=PromptCache()) as srv:
        run = run_inprocess(["-p", "read the files", "--model", "openai/gpt-5-mini", "--output-format", "json"],
                            isolated_env(srv.env(), home), monkeypatch, work)
    assert run.code == 0, run.stderr
    assert run.json["usage"]["cache_read_input_tokens"] > 0
    assert run.json["usage"]["cache_creation_input_tokens"] == 0


# -- headers ---------------------------------------------------------------------------------------


def test_custom_headers_and_betas_reach_the_server(work, home, monkeypatch):
    (home / "settings.json").write_text('{"customHeaders": {"X-From-Settings": "s", "X-Team": "settings"}}')
    env_extra = {"ANTHROPIC_CUSTOM_HEADERS": "X-Team: env\nX-Gateway-Token: gw-secret-123456",
                 "ANTHROPIC_BETAS": "beta-env,beta-shared"}
    with ModelServer([reply("ok")]) as srv:
        run = run_inprocess(["-p", "hi", "--model", MODEL, "--betas", "beta-flag,beta-shared"],
                            isolated_env(srv.env(), home, **env_extra), monkeypatch, work)
        rec = srv.requests[0]
    assert run.code == 0, run.stderr
    assert rec.header("x-team") == "env" and rec.header("x-from-settings") == "s"
    assert rec.header("x-gateway-token") == "gw-secret-123456"
    assert rec.header("anthropic-beta") == "beta-flag,beta-shared,beta-env"
    assert "gw-secret-123456" not in run.stdout + run.stderr


def test_a_header_that_would_break_the_request_is_refused_clearly(work, home):
    env = isolated_env({"ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "ANTHROPIC_API_KEY": "k",
                        "ANTHROPIC_CUSTOM_HEADERS": "Host: evil.example.com\nX-Token: tok-987654321"}, home)
    run = run_subprocess(["-p", "hi", "--model", MODEL], env, work)
    assert run.code != 0
    assert "ANTHROPIC_CUSTOM_HEADERS" in run.stderr and "'Host'" in run.stderr and "hint:" in run.stderr
    assert "Traceback" not in run.stderr
    assert "evil.example.com" not in run.stderr and "tok-987654321" not in run.stderr
