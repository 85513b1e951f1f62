"""Headless runs end to end against the scripted model server: output formats, exit codes, the
contract's result object, permissions, max turns, usage errors in JSON modes, sessions."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.cli.headless_helpers import ROOT, isolated_env, run_inprocess, run_subprocess
from tests.fakes.model_server import ModelServer, error, reply, tool_use

RESULT_KEYS = {"type", "subtype", "is_error", "result", "session_id", "num_turns", "duration_ms",
               "duration_api_ms", "total_cost_usd", "usage", "model", "permission_denials", "tool_uses",
               "tool_results"}


@pytest.fixture
def work(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "hello.txt").write_text("hi there\n")
    return ws


def test_text_output_streams_answer_and_summarises_tools_on_stderr(work, home, monkeypatch):
    with ModelServer([reply(tool_uses=[tool_use("read_file", {"path": "hello.txt"})]),
                      reply(text="It says hi.")]) as srv:
        run = run_inprocess(["-p", "read hello.txt"], isolated_env(srv.env(), home), monkeypatch, work)
        second = srv.requests[1].json
    assert run.code == 0, run.stderr
    assert run.stdout == "It says hi.\n"
    assert "read_file(hello.txt)" in run.stderr
    results = [b for m in second["messages"] for b in m["content"] if b.get("type") == "tool_result"]
    assert results and "hi there" in results[0]["content"]


def test_json_result_object_has_every_contract_field(work, home, monkeypatch):
    with ModelServer([reply(tool_uses=[tool_use("read_file", {"path": "hello.txt"})]),
                      reply(text="done", usage={"input_tokens": 10, "output_tokens": 5})]) as srv:
        run = run_inprocess(["-p", "go", "--output-format", "json"], isolated_env(srv.env(), home),
                            monkeypatch, work)
    assert run.code == 0, run.stderr
    obj = run.json
    assert RESULT_KEYS <= set(obj)
    assert obj["subtype"] == "success" and obj["is_error"] is False and obj["result"] == "done"
    assert obj["num_turns"] == 2
    assert obj["tool_uses"][0]["name"] == "read_file" and obj["tool_uses"][0]["input"] == {"path": "hello.txt"}
    assert obj["tool_results"][0]["tool_name"] == "read_file" and obj["tool_results"][0]["is_error"] is False
    assert set(obj["usage"]) == {"input_tokens", "output_tokens", "cache_creation_input_tokens",
                                 "cache_read_input_tokens"}
    assert run.stdout.count("\n") == 1  # exactly one object


def test_stream_json_lines_in_order_and_nothing_else(work, home, monkeypatch):
    with ModelServer([reply(tool_uses=[tool_use("read_file", {"path": "hello.txt"})]),
                      reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "go", "--output-format", "stream-json", "--include-partial-messages"],
                            isolated_env(srv.env(), home), monkeypatch, work)
    assert run.code == 0, run.stderr
    kinds = [line["type"] for line in run.lines]
    assert kinds[0] == "system" and run.lines[0]["subtype"] == "init"
    assert run.lines[0]["claude_code_version"] and run.lines[0]["claw_version"]
    assert kinds[-1] == "result"
    assert "stream_event" in kinds and "assistant" in kinds
    users = [line for line in run.lines if line["type"] == "user"]
    assert len(users) == 1 and users[0]["message"]["content"][0]["type"] == "tool_result"


def test_read_only_mode_denies_write_and_records_the_denial(work, home, monkeypatch):
    with ModelServer([reply(tool_uses=[tool_use("write_file", {"path": "new.txt", "content": "x"})]),
                      reply(text="could not write")]) as srv:
        run = run_inprocess(["-p", "write it", "--output-format", "json", "--permission-mode", "plan"],
                            isolated_env(srv.env(), home), monkeypatch, work)
    obj = run.json
    assert not (work / "new.txt").exists()
    assert obj["permission_denials"][0]["tool_name"] == "write_file"
    assert obj["permission_denials"][0]["tool_input"] == {"path": "new.txt", "content": "x"}
    assert obj["tool_results"][0]["is_error"] is True


def test_bash_in_workspace_write_is_denied_headless(work, home, monkeypatch):
    with ModelServer([reply(tool_uses=[tool_use("bash", {"command": "touch made-by-bash"})]),
                      reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "x", "--output-format", "json", "--permission-mode", "acceptEdits"],
                            isolated_env(srv.env(), home), monkeypatch, work)
    assert not (work / "made-by-bash").exists()
    assert run.json["permission_denials"][0]["tool_name"] == "bash"


def test_allowed_tools_pre_approve_a_bash_prefix_but_not_a_redirect(work, home, monkeypatch):
    with ModelServer([reply(tool_uses=[tool_use("bash", {"command": "echo hi-from-bash"}, id="t1"),
                                       tool_use("bash", {"command": "echo hi > made-by-bash"}, id="t2")]),
                      reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "x", "--output-format", "json", "--permission-mode", "default",
                             "--allowedTools", "Bash(echo:*)"], isolated_env(srv.env(), home), monkeypatch, work)
    results = {r["tool_use_id"]: r for r in run.json["tool_results"]}
    assert "hi-from-bash" in results["t1"]["output"] and not results["t1"]["is_error"]
    assert [d["tool_use_id"] for d in run.json["permission_denials"]] == ["t2"]
    assert not (work / "made-by-bash").exists()


def test_two_tool_uses_in_one_message_answered_in_order(work, home, monkeypatch):
    (work / "b.txt").write_text("bee\n")
    with ModelServer([reply(tool_uses=[tool_use("read_file", {"path": "hello.txt"}, id="t1"),
                                       tool_use("read_file", {"path": "b.txt"}, id="t2")]),
                      reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "x", "--output-format", "json"], isolated_env(srv.env(), home),
                            monkeypatch, work)
        sent = srv.requests[1].json["messages"][-1]["content"]
    assert run.code == 0
    assert [b["tool_use_id"] for b in sent] == ["t1", "t2"]
    assert "hi there" in sent[0]["content"] and "bee" in sent[1]["content"]


def test_unknown_tool_and_invalid_input_become_error_results(work, home, monkeypatch):
    with ModelServer([reply(tool_uses=[tool_use("no_such_tool", {}, id="t1"),
                                       tool_use("read_file", {"nope": 1}, id="t2")]),
                      reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "x", "--output-format", "json"], isolated_env(srv.env(), home),
                            monkeypatch, work)
        sent = srv.requests[1].json["messages"][-1]["content"]
    assert run.code == 0
    assert sent[0]["is_error"] and "Unknown tool" in sent[0]["content"]
    assert sent[1]["is_error"] and "read_file" in sent[1]["content"]


def test_max_turns_is_a_failure(work, home, monkeypatch):
    with ModelServer([reply(tool_uses=[tool_use("read_file", {"path": "hello.txt"})]),
                      reply(text="never reached")]) as srv:
        run = run_inprocess(["-p", "x", "--output-format", "json", "--max-turns", "1"],
                            isolated_env(srv.env(), home), monkeypatch, work)
    assert run.code == 1
    assert run.json["subtype"] == "error_max_turns" and run.json["is_error"] is True


def test_api_error_is_classified_and_exits_1(work, home, monkeypatch):
    with ModelServer([error(401, "authentication_error", "invalid x-api-key")]) as srv:
        run = run_inprocess(["-p", "x", "--output-format", "json"], isolated_env(srv.env(), home),
                            monkeypatch, work)
    assert run.code == 1
    assert run.json["is_error"] is True
    assert run.json["error"]["failure_class"] == "provider_auth"
    assert "test-key" not in run.stdout + run.stderr


def test_missing_credentials_json(work, home, monkeypatch):
    env = isolated_env({}, home)
    run = run_inprocess(["-p", "x", "--output-format", "json"], env, monkeypatch, work)
    assert run.code == 1
    assert run.json["error"]["kind"] == "missing_credentials"
    assert run.json["error"]["failure_class"] == "provider_auth"


@pytest.mark.parametrize("argv, needle", [
    (["-p", "x", "--output-format", "json", "--permission-mode", "sudo"], "permission"),
    (["-p", "x", "--output-format", "json", "--allowedTools", "Frobnicate"], "Frobnicate"),
    (["-p", "x", "--output-format", "json", "--no-such-flag"], "no-such-flag"),
    (["-p", "x", "--output-format", "json", "--settings", "/does/not/exist.json"], "exist"),
])
def test_usage_errors_are_one_json_result_and_exit_2(work, home, monkeypatch, argv, needle):
    with ModelServer([]) as srv:
        run = run_inprocess(argv, isolated_env(srv.env(), home), monkeypatch, work)
        assert srv.requests == []
    assert run.code == 2, (run.stdout, run.stderr)
    obj = run.json
    assert obj["type"] == "result" and obj["is_error"] is True
    assert needle.lower() in json.dumps(obj).lower()
    assert obj["error"]["failure_class"] in ("usage", "config")


def test_usage_error_in_text_mode_has_a_hint(work, home, monkeypatch):
    run = run_inprocess(["-p", "x", "--permission-mode", "sudo"], isolated_env({}, home), monkeypatch, work)
    assert run.code == 2 and run.stdout == ""
    assert "hint:" in run.stderr and "Traceback" not in run.stderr


def test_prompt_from_stdin(work, home, monkeypatch):
    with ModelServer([reply(text="piped ok")]) as srv:
        run = run_inprocess(["-p"], isolated_env(srv.env(), home), monkeypatch, work, stdin="from stdin\n")
        sent = srv.requests[0].json["messages"][0]["content"][0]["text"]
    assert run.code == 0 and run.stdout == "piped ok\n"
    assert sent.strip() == "from stdin"


def test_no_prompt_is_a_usage_error(work, home, monkeypatch):
    run = run_inprocess(["-p"], isolated_env({}, home), monkeypatch, work, stdin="")
    assert run.code == 2 and "no prompt" in run.stderr


def test_continue_and_resume_carry_history(work, home, monkeypatch):
    with ModelServer([reply(text="first answer"), reply(text="second answer"), reply(text="third")]) as srv:
        env = isolated_env(srv.env(), home)
        first = run_inprocess(["-p", "one", "--output-format", "json"], env, monkeypatch, work)
        sid = first.json["session_id"]
        second = run_inprocess(["-p", "two", "--continue", "--output-format", "json"], env, monkeypatch, work)
        third = run_inprocess(["-p", "three", "--resume", sid[:8], "--output-format", "json"], env,
                              monkeypatch, work)
        msgs2 = srv.requests[1].json["messages"]
        msgs3 = srv.requests[2].json["messages"]
    assert second.json["session_id"] == sid == third.json["session_id"]
    assert [m["role"] for m in msgs2] == ["user", "assistant", "user"]
    assert msgs2[1]["content"][0]["text"] == "first answer"
    assert len(msgs3) == 5


def test_session_file_never_holds_the_api_key(work, home, monkeypatch):
    with ModelServer([reply(text="the key is sk-ant-api03-abcdefghijklmnopqrstuvwxyz")]) as srv:
        env = isolated_env(srv.env(ANTHROPIC_API_KEY="sk-ant-real-secret-value-123456"), home)
        run = run_inprocess(["-p", "my key is sk-ant-real-secret-value-123456", "--output-format", "json"],
                            env, monkeypatch, work)
    files = list((work / ".claw" / "sessions").glob("*.jsonl"))
    assert run.code == 0 and files
    text = files[0].read_text()
    assert "sk-ant-real-secret-value-123456" not in text
    assert "abcdefghijklmnopqrstuvwxyz" not in text


def test_pre_tool_use_hook_blocks_a_tool(work, home, monkeypatch):
    settings = {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [
        {"type": "command", "command": "echo 'no shell today' >&2; exit 2"}]}]}}
    (work / ".claw").mkdir()
    (work / ".claw" / "settings.json").write_text(json.dumps(settings))
    with ModelServer([reply(tool_uses=[tool_use("bash", {"command": "touch hooked"})]), reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "x", "--output-format", "json"], isolated_env(srv.env(), home),
                            monkeypatch, work)
        sent = srv.requests[1].json["messages"][-1]["content"][0]
    assert not (work / "hooked").exists()
    assert sent["is_error"] and "no shell today" in sent["content"]
    assert run.json["permission_denials"][0]["tool_name"] == "bash"


def test_invalid_tool_json_from_the_model_goes_back_as_an_error(work, home, monkeypatch):
    events = [
        {"type": "message_start", "message": {"id": "m1", "type": "message", "role": "assistant",
                                              "model": "x", "content": [], "usage": {"input_tokens": 1}}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "tool_use", "id": "t1", "name": "read_file", "input": {}}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "input_json_delta", "partial_json": "{\"path\": \"hel"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 3}},
        {"type": "message_stop"},
    ]
    with ModelServer([{"events": events}, reply(text="sorry")]) as srv:
        run = run_inprocess(["-p", "x", "--output-format", "json"], isolated_env(srv.env(), home),
                            monkeypatch, work)
        sent = srv.requests[1].json["messages"][-1]["content"][0]
    assert run.code == 0
    assert sent["tool_use_id"] == "t1" and sent["is_error"]


def test_sigint_mid_stream_exits_130_and_leaves_a_resumable_session(work, home):
    slow = reply(text="x" * 400, text_chunk=4, delay=0.05)
    with ModelServer([slow, reply(text="resumed fine")]) as srv:
        env = isolated_env(srv.env(), home, PYTHONPATH=str(ROOT))
        proc = subprocess.Popen([sys.executable, "-m", "claw", "-p", "talk", "--output-format", "json"],
                                cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        srv.wait_for_requests(1, timeout=30)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        obj = json.loads(out)
        assert obj["is_error"] and obj["error"]["kind"] == "interrupted"
        again = run_subprocess(["-p", "go on", "--continue", "--output-format", "json"], env, work)
    assert again.code == 0, again.stderr
    assert again.json["result"] == "resumed fine"


def _settings(work, hooks):
    (work / ".claw").mkdir(exist_ok=True)
    (work / ".claw" / "settings.json").write_text(json.dumps({"hooks": hooks}))


def test_a_prompt_blocked_by_a_hook_is_a_failed_run(work, home, monkeypatch):
    _settings(work, {"UserPromptSubmit": [{"hooks": [
        {"type": "command", "command": "echo 'secrets are not allowed in prompts' >&2; exit 2"}]}]})
    with ModelServer([reply(text="never")]) as srv:
        run = run_inprocess(["-p", "x", "--output-format", "json"], isolated_env(srv.env(), home),
                            monkeypatch, work)
        assert srv.requests == []
    assert run.code == 1
    assert run.json["is_error"] and run.json["error"]["kind"] == "hook_blocked"
    assert "secrets are not allowed" in run.json["error"]["message"]


def test_a_hook_that_stops_the_run_is_a_failed_run(work, home, monkeypatch):
    answer = json.dumps({"continue": False, "stopReason": "maintenance window"})
    _settings(work, {"PreToolUse": [{"matcher": "*", "hooks": [{"type": "command", "command": f"echo '{answer}'"}]}]})
    with ModelServer([reply(tool_uses=[tool_use("read_file", {"path": "hello.txt"})]), reply(text="never")]) as srv:
        run = run_inprocess(["-p", "x", "--output-format", "json"], isolated_env(srv.env(), home),
                            monkeypatch, work)
        assert len(srv.requests) == 1
    assert run.code == 1
    assert run.json["error"]["kind"] == "stopped" and "maintenance window" in run.json["error"]["message"]


@pytest.mark.parametrize("fmt", ["json", "stream-json", "text"])
def test_a_secret_a_tool_prints_never_reaches_the_output(work, home, monkeypatch, fmt):
    secret = "sk-ant-api03-supersecretvalue-0123456789"
    with ModelServer([reply(tool_uses=[tool_use("bash", {"command": "echo key=$ANTHROPIC_API_KEY"})]),
                      reply(text="done")]) as srv:
        run = run_inprocess(["-p", "x", "--output-format", fmt], isolated_env(srv.env(ANTHROPIC_API_KEY=secret), home),
                            monkeypatch, work)
        sent = srv.requests[1].json["messages"][-1]["content"][0]["content"]
    assert run.code == 0, run.stderr
    assert secret in sent  # the model sees what the tool printed; nothing claw writes does
    assert secret not in run.stdout and secret not in run.stderr
    assert "[REDACTED]" in run.stdout + run.stderr


def test_model_usage_is_kept_per_model_that_answered(work, home, monkeypatch):
    """``modelUsage`` as the Agent SDKs read it: tokens and dollars per model id the responses named."""
    with ModelServer([reply(tool_uses=[tool_use("read_file", {"path": "hello.txt"})], model="claude-sonnet-4-5",
                            usage={"input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 7}),
                      reply(text="done", model="claude-haiku-4-5",
                            usage={"input_tokens": 30, "output_tokens": 4})]) as srv:
        run = run_inprocess(["-p", "go", "--output-format", "json"], isolated_env(srv.env(), home),
                            monkeypatch, work)
    assert run.code == 0, run.stderr
    obj = run.json
    usage = obj["modelUsage"]
    assert set(usage) == {"claude-sonnet-4-5", "claude-haiku-4-5"}
    sonnet = usage["claude-sonnet-4-5"]
    assert (sonnet["inputTokens"], sonnet["outputTokens"], sonnet["cacheReadInputTokens"]) == (100, 20, 7)
    assert usage["claude-haiku-4-5"]["inputTokens"] == 30
    assert sonnet["contextWindow"] > 0 and sonnet["maxOutputTokens"] > 0
    assert set(sonnet) >= {"cacheCreationInputTokens", "webSearchRequests", "costUSD"}
    assert round(sum(u["costUSD"] for u in usage.values()), 9) == round(obj["total_cost_usd"], 9)
    assert obj["usage"]["input_tokens"] == 130
    assert obj["stop_reason"] == "end_turn" and "errors" not in obj


def test_an_error_result_carries_errors_and_a_stop_reason(work, home, monkeypatch):
    with ModelServer([reply(tool_uses=[tool_use("read_file", {"path": "hello.txt"})]),
                      reply(text="never reached")]) as srv:
        run = run_inprocess(["-p", "x", "--output-format", "json", "--max-turns", "1"],
                            isolated_env(srv.env(), home), monkeypatch, work)
    obj = run.json
    assert run.code == 1 and obj["subtype"] == "error_max_turns"
    assert obj["errors"] == [obj["error"]["message"]] and "maximum of 1 turns" in obj["errors"][0]
    assert "stop_reason" in obj


@pytest.mark.parametrize("script, argv, reason, status", [
    ([reply(text="done")], [], "completed", None),
    ([reply(tool_uses=[tool_use("read_file", {"path": "hello.txt"})])], ["--max-turns", "1"], "max_turns", "absent"),
    ([error(400, "invalid_request_error", "bad prompt")], [], "api_error", 400),
])
def test_terminal_reason_and_api_error_status_as_claude_code_writes_them(work, home, monkeypatch, script, argv,
                                                                         reason, status):
    with ModelServer(script) as srv:
        run = run_inprocess(["-p", "x", "--output-format", "json", *argv], isolated_env(srv.env(), home),
                            monkeypatch, work)
    obj = run.json
    assert obj["terminal_reason"] == reason
    assert obj.get("api_error_status", "absent") == status


def test_stream_json_messages_carry_a_timestamp_and_the_request_id(work, home, monkeypatch):
    with ModelServer([reply(tool_uses=[tool_use("read_file", {"path": "hello.txt"})], request_id="req_abc"),
                      reply(text="done")]) as srv:
        run = run_inprocess(["-p", "x", "--output-format", "stream-json"], isolated_env(srv.env(), home),
                            monkeypatch, work)
    assistant, user = run.lines[1], run.lines[2]
    assert assistant["type"] == "assistant" and assistant["request_id"] == "req_abc"
    for line in (assistant, user):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["timestamp"]), line["timestamp"]
