"""Extended thinking, the fallback model and the spending cap end to end: claw headless (in-process)
against the fake model server, which signs thinking and refuses a continuation that alters or drops it."""

from __future__ import annotations

import json

import pytest

from tests.cli.headless_helpers import isolated_env, run_inprocess
from tests.fakes.model_server import ModelServer, error, reply, tool_use

FAST_529 = {"retry-after-ms": "1"}


@pytest.fixture
def work(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "hello.txt").write_text("hi there\n")
    return ws


def _thinking_turn():
    return reply(thinking="I should read hello.txt first.", tool_uses=[tool_use("read_file", {"path": "hello.txt"})])


# -- thinking -------------------------------------------------------------------------------------------


def test_stream_json_shows_thinking_blocks_and_the_tool_continuation_is_accepted(work, home, monkeypatch):
    with ModelServer([_thinking_turn(), reply(text="It says hi.")]) as srv:
        run = run_inprocess(["-p", "read it", "--output-format", "stream-json", "--verbose",
                             "--max-thinking-tokens", "2048"], isolated_env(srv.env(), home), monkeypatch, work)
        sent = [r.json for r in srv.requests]
    assert run.code == 0, run.stderr
    assert run.lines[-1]["subtype"] == "success" and run.lines[-1]["result"] == "It says hi."
    first = next(m for m in run.lines if m["type"] == "assistant")
    block = first["message"]["content"][0]
    assert block["type"] == "thinking" and block["thinking"] == "I should read hello.txt first."
    assert block["signature"].startswith("fakesig1.")
    assert sent[0]["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent[1]["messages"][1]["content"][0] == block  # went back exactly as received


def test_thinking_survives_resume_in_the_middle_of_a_tool_call(work, home, monkeypatch):
    with ModelServer([_thinking_turn(), reply(text="resumed fine")]) as srv:
        env = isolated_env(srv.env(), home)
        first = run_inprocess(["-p", "read it", "--output-format", "json", "--max-turns", "1",
                               "--thinking", "enabled"], env, monkeypatch, work)
        assert first.json["subtype"] == "error_max_turns"  # stopped after the tool ran, before the continuation
        sid = first.json["session_id"]
        second = run_inprocess(["-p", "go on", "--resume", sid, "--output-format", "json", "--thinking", "enabled"],
                               env, monkeypatch, work)
        sent = srv.requests[-1].json
    assert second.code == 0, second.stdout + second.stderr  # the fake refuses an altered or missing thinking block
    assert second.json["result"] == "resumed fine"
    assert sent["messages"][1]["content"][0]["type"] == "thinking"


def test_thinking_from_the_environment_and_from_settings(work, home, monkeypatch):
    with ModelServer([reply(text="a"), reply(text="b"), reply(text="c")]) as srv:
        env = isolated_env(srv.env(), home)  # before a run puts MAX_THINKING_TOKENS in os.environ
        run_inprocess(["-p", "x", "--model", "claude-sonnet-4-5"], dict(env, MAX_THINKING_TOKENS="3000"),
                      monkeypatch, work)
        run_inprocess(["-p", "x", "--settings", json.dumps({"alwaysThinkingEnabled": True})], env, monkeypatch, work)
        run_inprocess(["-p", "x", "--thinking", "disabled", "--settings", json.dumps({"alwaysThinkingEnabled": True})],
                      env, monkeypatch, work)
        sent = [r for r in srv.requests]
    assert sent[0].json["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    assert "interleaved-thinking-2025-05-14" in sent[0].header("anthropic-beta")
    assert sent[1].json["thinking"] == {"type": "adaptive"}  # the default model has adaptive thinking
    assert "thinking" not in sent[2].json


# -- fallback model -------------------------------------------------------------------------------------


def test_fallback_notice_model_usage_and_result_when_the_model_stays_overloaded(work, home, monkeypatch):
    script = [error(529, "overloaded_error", "Overloaded", headers=FAST_529)] * 2 + [reply(text="from haiku")]
    with ModelServer(script) as srv:
        env = isolated_env(srv.env(CLAW_MAX_RETRIES="1"), home)
        run = run_inprocess(["-p", "hi", "--output-format", "stream-json", "--verbose", "--model", "sonnet",
                             "--fallback-model", "haiku"], env, monkeypatch, work)
        models = [r.json["model"] for r in srv.requests]
    assert run.code == 0, run.stderr
    assert models == ["claude-sonnet-5-5", "claude-sonnet-5-5", "claude-haiku-5-5"]
    notice = next(m for m in run.lines if m["type"] == "system" and m.get("subtype") == "model_fallback")
    assert (notice["trigger"], notice["original_model"], notice["fallback_model"]) == (
        "overloaded", "claude-sonnet-5-5", "claude-haiku-5-5")
    assert notice["session_id"] == run.lines[0]["session_id"]
    result = run.lines[-1]
    assert result["subtype"] == "success" and result["result"] == "from haiku"
    assert set(result["modelUsage"]) == {"claude-sonnet-5-5", "claude-haiku-5-5"}
    assert result["modelUsage"]["claude-sonnet-5-5"]["outputTokens"] == 0
    assert result["modelUsage"]["claude-haiku-5-5"]["costUSD"] == result["total_cost_usd"] > 0
    assert result["fallback_model"] == "claude-haiku-5-5"
    assert "falling back to claude-haiku-5-5" in run.stderr


def test_a_missing_model_falls_back_from_settings_and_the_rest_of_the_turn_stays_there(work, home, monkeypatch):
    with ModelServer([error(404, "not_found_error", "model: claude-opus-5-5"),
                      reply(tool_uses=[tool_use("read_file", {"path": "hello.txt"})]), reply(text="done")]) as srv:
        env = isolated_env(srv.env(), home)
        run = run_inprocess(["-p", "hi", "--output-format", "json", "--model", "opus",
                             "--settings", json.dumps({"fallbackModel": ["sonnet"]})], env, monkeypatch, work)
        models = [r.json["model"] for r in srv.requests]
    assert run.code == 0, run.stderr
    assert models == ["claude-opus-5-5", "claude-sonnet-5-5", "claude-sonnet-5-5"]
    assert run.json["fallback_model"] == "claude-sonnet-5-5"


@pytest.mark.parametrize("argv", [["--model", "sonnet", "--fallback-model", "sonnet"],
                                  ["--model", "sonnet", "--fallback-model", "claude-sonnet-5-5"]])
def test_a_fallback_equal_to_the_model_is_refused(work, home, monkeypatch, argv):
    with ModelServer([]) as srv:
        run = run_inprocess(["-p", "hi", "--output-format", "json"] + argv, isolated_env(srv.env(), home),
                            monkeypatch, work)
        assert not srv.requests
    assert run.code == 2 and run.json["is_error"] is True and "fallback" in run.json["result"]


# -- budget -------------------------------------------------------------------------------------------------


def test_budget_result_exit_code_and_the_session_resumes(work, home, monkeypatch):
    usage = {"input_tokens": 1000, "output_tokens": 100}  # $0.003 on claude-sonnet-5-5 ($2 / $10 per MTok)
    with ModelServer([reply(tool_uses=[tool_use("read_file", {"path": "hello.txt"})], usage=usage),
                      reply(text="after resume", usage=usage)]) as srv:
        env = isolated_env(srv.env(), home)
        run = run_inprocess(["-p", "read it", "--output-format", "json", "--max-budget-usd", "0.001"],
                            env, monkeypatch, work)
        assert len(srv.requests) == 1
        obj = run.json
        again = run_inprocess(["-p", "go on", "--resume", obj["session_id"], "--output-format", "json",
                               "--max-budget-usd", "1"], env, monkeypatch, work)
        resumed = srv.requests[-1].json["messages"]
    assert run.code == 1
    assert (obj["subtype"], obj["is_error"], obj["num_turns"]) == ("error_max_budget_usd", True, 1)
    assert obj["errors"] == ["Reached maximum budget ($0.001)"]
    assert obj["total_cost_usd"] == pytest.approx(0.003)
    assert obj["tool_results"] and obj["tool_results"][0]["is_error"] is False
    assert again.code == 0 and again.json["result"] == "after resume"
    assert [m["role"] for m in resumed][:3] == ["user", "assistant", "user"]


def test_a_budget_for_a_model_without_a_known_price_is_refused(work, home, monkeypatch):
    with ModelServer([]) as srv:
        run = run_inprocess(["-p", "hi", "--output-format", "json", "--model", "gateway-model-x",
                             "--max-budget-usd", "5"], isolated_env(srv.env(), home), monkeypatch, work)
        assert not srv.requests
    assert run.code == 2 and "--max-budget-usd" in run.json["result"] and "price" in run.json["result"]


@pytest.mark.parametrize("value", ["0", "-1", "abc", "inf"])
def test_a_budget_must_be_a_positive_number(work, home, monkeypatch, value):
    with ModelServer([]) as srv:
        run = run_inprocess(["-p", "hi", "--output-format", "json", "--max-budget-usd", value],
                            isolated_env(srv.env(), home), monkeypatch, work)
    assert run.code == 2 and "greater than 0" in run.json["result"]


# -- a stream-json session: several turns in one process ----------------------------------------------


def test_the_budget_spans_the_turns_of_a_stream_json_session(work, home):
    from tests.fakes.claw_wrapper import ClawProcess

    usage = {"input_tokens": 1000, "output_tokens": 100}  # $0.003 each on claude-sonnet-5-5
    with ModelServer([reply(text="one", usage=usage), reply(text="two", usage=usage)]) as srv, \
            ClawProcess(["--max-budget-usd", "0.005"], env=srv.env(CLAW_CONFIG_HOME=str(home)), cwd=work) as claw:
        claw.user("first")
        first = claw.until_result()
        claw.user("second")
        second = claw.until_result()
        claw.user("third")
        third = claw.until_result()
        sent = len(srv.requests)
    assert first[-1]["subtype"] == "success" and second[-1]["subtype"] == "success"
    assert third[-1]["subtype"] == "error_max_budget_usd" and third[-1]["num_turns"] == 0
    assert sent == 2


def test_set_model_keeps_the_fallback_behind_the_new_model(work, home):
    from tests.fakes.claw_wrapper import ClawProcess

    with ModelServer([error(404, "not_found_error", "model: claude-sonnet-5-5"), reply(text="from haiku")]) as srv, \
            ClawProcess(["--model", "opus", "--fallback-model", "haiku"], env=srv.env(CLAW_CONFIG_HOME=str(home)),
                        cwd=work) as claw:
        claw.control("m", "set_model", model="sonnet")
        assert claw.control_response("m")["subtype"] == "success"
        claw.user("hi")
        messages = claw.until_result()
        models = [r.json["model"] for r in srv.requests]
    assert models == ["claude-sonnet-5-5", "claude-haiku-5-5"]
    assert messages[-1]["result"] == "from haiku"
    assert any(m["type"] == "system" and m.get("subtype") == "model_fallback" for m in messages)


def test_effort_flag_and_settings(work, home, monkeypatch):
    with ModelServer([reply(text="a"), reply(text="b")]) as srv:
        env = isolated_env(srv.env(), home)
        settings = json.dumps({"effortLevel": "low"})
        run_inprocess(["-p", "x", "--effort", "max", "--settings", settings], env, monkeypatch, work)
        run_inprocess(["-p", "x", "--settings", settings], env, monkeypatch, work)
        sent = [r.json for r in srv.requests]
    assert sent[0]["output_config"] == {"effort": "max"} and sent[1]["output_config"] == {"effort": "low"}
