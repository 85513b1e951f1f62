"""The stream-json input protocol at the wire level, without the SDK: raw NDJSON over a claw subprocess
against the fake model server. Unknown control subtypes, malformed lines, interrupts, queued turns,
permission answers, start-up failures, and nothing but JSON on stdout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from claw import CLAUDE_CODE_PROTOCOL_VERSION
from tests.fakes.claw_wrapper import ClawProcess
from tests.fakes.model_server import ModelServer, reply, tool_use


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    return work


def _env(srv: ModelServer, work: Path, **extra: str) -> Dict[str, str]:
    return srv.env(CLAW_CONFIG_HOME=str(work.parent / "claw-home"), **extra)


def _types(messages: List[Dict[str, Any]]) -> List[str]:
    return [m["type"] + ("/" + m["subtype"] if m["type"] == "system" else "") for m in messages]


def _all_json(proc: ClawProcess) -> None:
    for line in proc.lines:
        assert isinstance(json.loads(line), dict), line


def test_initialize_then_two_turns_in_one_process(workspace):
    with ModelServer([reply(text="one"), reply(text="two")]) as srv, \
            ClawProcess(env=_env(srv, workspace), cwd=workspace) as claw:
        claw.control("init-1", "initialize", hooks=None)
        init = claw.control_response("init-1")
        assert init["subtype"] == "success"
        body = init["response"]
        assert body["claude_code_version"] == CLAUDE_CODE_PROTOCOL_VERSION
        assert {"commands", "output_style", "models", "account", "pid"} <= set(body)
        claw.user("first")
        first = claw.until_result()
        claw.user("second")
        second = claw.until_result()
        assert claw.wait() == 0
        assert srv.requests[1].json["messages"][1]["content"][0]["text"] == "one"
    assert _types(first) == ["system/init", "assistant", "result"]
    assert first[-1]["result"] == "one" and first[-1]["is_error"] is False
    assert second[-1]["result"] == "two" and second[-1]["num_turns"] == 1
    assert first[0]["session_id"] == second[-1]["session_id"]
    assert first[0]["claude_code_version"] == CLAUDE_CODE_PROTOCOL_VERSION
    _all_json(claw)


def test_unknown_control_subtype_gets_an_error_response_and_the_session_goes_on(workspace):
    with ModelServer([reply(text="still here")]) as srv, \
            ClawProcess(env=_env(srv, workspace), cwd=workspace) as claw:
        claw.control("x-1", "rewind_the_universe", target=42)
        answer = claw.control_response("x-1")
        assert answer["subtype"] == "error"
        assert "rewind_the_universe" in answer["error"]
        claw.control("x-2", "interrupt")  # nothing running: still a success
        assert claw.control_response("x-2")["subtype"] == "success"
        claw.user("hello?")
        assert claw.until_result()[-1]["result"] == "still here"
        assert claw.wait() == 0
    _all_json(claw)


def test_malformed_lines_are_reported_not_fatal(workspace):
    with ModelServer([reply(text="fine")]) as srv, \
            ClawProcess(env=_env(srv, workspace), cwd=workspace) as claw:
        claw.send_raw("this is not json")
        bad = claw.until_result()[-1]
        claw.send({"type": "user", "message": {"role": "user"}})  # no content
        bad_user = claw.until_result()[-1]
        claw.user("a real question")
        good = claw.until_result()[-1]
        claw.send_raw("{still broken")
        last = claw.until_result()[-1]
        code = claw.wait()
    for result in (bad, bad_user, last):
        assert result["is_error"] is True
        assert result["error"]["kind"] == "invalid_input" and result["error"]["failure_class"] == "usage"
    assert "not valid JSON" in bad["result"] and "line 1" in bad["result"]
    assert "content" in bad_user["result"]
    assert good["is_error"] is False and good["result"] == "fine"
    assert code == 2  # the last result was a usage error
    assert "stdin line 1 is not valid JSON" in claw.stderr
    assert "stdin line 4 is not valid JSON" in claw.stderr
    _all_json(claw)


def test_nothing_but_json_on_stdout_while_warnings_go_to_stderr(workspace):
    (workspace / ".claw").mkdir()
    (workspace / ".claw" / "settings.json").write_text(json.dumps({"notAKnownKey": 1}))
    script = [reply(tool_uses=[tool_use("bash", {"command": "echo to-the-model; echo err >&2"}, id="t1")]),
              reply(text="done")]
    with ModelServer(script) as srv, ClawProcess(["--include-partial-messages"], env=_env(srv, workspace),
                                                 cwd=workspace) as claw:
        claw.send({"type": "mystery_message"})
        claw.send({"type": "control_response", "response": {"subtype": "success", "request_id": "nobody"}})
        claw.user("run it")
        messages = claw.until_result()
        assert claw.wait() == 0
    kinds = set(_types(messages))
    assert {"system/init", "stream_event", "assistant", "user", "result"} <= kinds
    tool_result = next(m for m in messages if m["type"] == "user")["message"]["content"][0]
    assert "to-the-model" in tool_result["content"]
    assert "notAKnownKey" in claw.stderr and "mystery_message" in claw.stderr
    assert claw.lines and all(line.endswith(b"\n") for line in claw.lines)
    _all_json(claw)


def test_interrupt_ends_the_turn_with_an_interrupted_result(workspace):
    slow = reply(text="z" * 300, text_chunk=3, delay=0.03)
    with ModelServer([slow]) as srv, ClawProcess(["--include-partial-messages"], env=_env(srv, workspace),
                                                 cwd=workspace) as claw:
        claw.user("go slowly")
        claw.read_until(lambda m: m["type"] == "stream_event" and m["event"].get("type") == "content_block_delta")
        claw.control("int-1", "interrupt")
        seen = claw.until_result()
        code = claw.wait()
    answers = [m for m in seen if m["type"] == "control_response"]
    assert answers and answers[0]["response"]["subtype"] == "success"
    result = seen[-1]
    assert result["is_error"] is True and result["subtype"] == "error_during_execution"
    assert result["error"]["kind"] == "interrupted" and result["error"]["failure_class"] == "interrupted"
    assert code == 130
    assert not [m for m in seen if m["type"] == "assistant"]


def test_messages_queued_before_eof_all_run(workspace):
    with ModelServer([reply(text="a"), reply(text="b"), reply(text="c")]) as srv, \
            ClawProcess(env=_env(srv, workspace), cwd=workspace) as claw:
        for text in ("1", "2", "3"):
            claw.user(text)
        claw.close_stdin()
        results = [claw.until_result()[-1] for _ in range(3)]
        assert claw.wait() == 0
    assert [r["result"] for r in results] == ["a", "b", "c"]
    assert [r["text"] for r in (req.json["messages"][-1]["content"][0] for req in srv.requests)] == ["1", "2", "3"]


def test_set_permission_mode_and_set_model(workspace):
    with ModelServer([reply(text="ok")]) as srv, ClawProcess(env=_env(srv, workspace), cwd=workspace) as claw:
        claw.control("m-1", "set_permission_mode", mode="plan")
        answer = claw.control_response("m-1")
        assert answer["subtype"] == "success" and answer["response"]["mode"] == "plan"  # the SDK's name...
        assert answer["response"]["claw_permission_mode"] == "read-only"  # ...and claw's beside it
        claw.control("m-2", "set_permission_mode", mode="sideways")
        bad = claw.control_response("m-2")
        assert bad["subtype"] == "error" and "sideways" in bad["error"]
        claw.control("m-3", "set_model", model="haiku")
        model = claw.control_response("m-3")
        assert model["subtype"] == "success" and "haiku" in model["response"]["model"]
        claw.user("hi")
        messages = claw.until_result()
        assert claw.wait() == 0
    init = messages[0]
    assert init["permissionMode"] == "plan" and init["claw_permission_mode"] == "read-only"
    assert "haiku" in init["model"] and "haiku" in srv.requests[0].json["model"]


def _permission_host(claw: ClawProcess, answers: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Play the host for one turn: answer each can_use_tool with the next answer; return the turn."""
    seen: List[Dict[str, Any]] = []
    while True:
        message = claw.next()
        assert message is not None, claw.stderr
        seen.append(message)
        if message["type"] == "control_request" and message["request"]["subtype"] == "can_use_tool":
            claw.send({"type": "control_response", "response": {
                "subtype": "success", "request_id": message["request_id"], "response": answers.pop(0)}})
        if message["type"] == "result":
            return seen


def test_can_use_tool_answers_are_applied(workspace):
    script = [
        reply(tool_uses=[tool_use("write_file", {"path": "a.txt", "content": "from the model"}, id="w1"),
                         tool_use("bash", {"command": "touch never"}, id="b1")]),
        reply(text="over"),
    ]
    with ModelServer(script) as srv, ClawProcess(["--permission-prompt-tool", "stdio", "--permission-mode",
                                                  "default"], env=_env(srv, workspace), cwd=workspace) as claw:
        claw.user("do things")
        seen = _permission_host(claw, [
            {"behavior": "allow", "updatedInput": {"file_path": "b.txt", "content": "rewritten by the host"}},
            {"behavior": "deny", "message": "not today"},
        ])
        assert claw.wait() == 0
    asks = [m["request"] for m in seen if m["type"] == "control_request"]
    # The host sees Claude Code's names (claw's beside), and its updatedInput is read in them.
    assert [a["tool_name"] for a in asks] == ["Write", "Bash"]
    assert [a["claw_tool_name"] for a in asks] == ["write_file", "bash"]
    assert asks[0]["input"] == {"file_path": "a.txt", "content": "from the model"}
    assert asks[1]["tool_use_id"] == "b1"
    assert not (workspace / "a.txt").exists()
    assert (workspace / "b.txt").read_text() == "rewritten by the host"
    assert not (workspace / "never").exists()
    results = {b["tool_use_id"]: b for b in srv.requests[1].json["messages"][-1]["content"]}
    assert "not today" in results["b1"]["content"] and results["b1"]["is_error"] is True
    assert seen[-1]["permission_denials"] == [{"tool_name": "Bash", "tool_use_id": "b1",
                                               "tool_input": {"command": "touch never"}}]


def test_a_host_that_closes_stdin_instead_of_answering_gets_a_denial_not_a_hang(workspace):
    script = [reply(tool_uses=[tool_use("bash", {"command": "touch never"}, id="b1")]), reply(text="gave up")]
    with ModelServer(script) as srv, ClawProcess(["--permission-prompt-tool", "stdio", "--permission-mode",
                                                  "default"], env=_env(srv, workspace), cwd=workspace) as claw:
        claw.user("try it")
        claw.read_until(lambda m: m["type"] == "control_request")
        claw.close_stdin()
        result = claw.until_result()[-1]
        assert claw.wait() == 0
    assert result["result"] == "gave up"
    assert [d["tool_use_id"] for d in result["permission_denials"]] == ["b1"]
    assert not (workspace / "never").exists()


def test_start_up_failures_are_one_error_result(workspace, tmp_path):
    with ModelServer([]) as srv:
        env = _env(srv, workspace)
        env.pop("ANTHROPIC_API_KEY")
        env["ANTHROPIC_API_KEY"] = ""
        with ClawProcess(env=env, cwd=workspace) as claw:
            result = claw.until_result()[-1]
            code = claw.wait()
        assert code == 1
        assert result["is_error"] is True and result["error"]["kind"] == "missing_credentials"
        with ClawProcess(["--permission-prompt-tool", "mcp__auth__prompt"], env=_env(srv, workspace),
                         cwd=workspace) as claw:
            result = claw.until_result()[-1]
            code = claw.wait()
        assert code == 2 and result["error"]["failure_class"] == "usage"
        assert "stdio" in (result["error"]["hint"] or "")
        assert len(claw.lines) == 1
        with ClawProcess(["a prompt on the command line"], env=_env(srv, workspace), cwd=workspace) as claw:
            result = claw.until_result()[-1]
            assert claw.wait() == 2
        assert "stdin" in result["error"]["hint"] and len(claw.lines) == 1


def test_session_state_frames_when_the_host_asks_for_them(workspace):
    script = [reply(tool_uses=[tool_use("bash", {"command": "true"}, id="b1")]), reply(text="ok")]
    env = {"CLAUDE_CODE_SDK_READS_SESSION_STATE": "1"}
    with ModelServer(script) as srv, ClawProcess(["--permission-prompt-tool", "stdio", "--permission-mode",
                                                  "default"], env=_env(srv, workspace, **env), cwd=workspace) as claw:
        claw.user("go")
        seen = _permission_host(claw, [{"behavior": "allow", "updatedInput": {"command": "true"}}])
        after = claw.next()
        assert claw.wait() == 0
    frames = [m for m in seen + [after] if m.get("subtype") == "session_state_changed"]
    assert [f["state"] for f in frames] == ["running", "requires_action", "running", "idle"]
    assert all(f["sdk_host_only"] is True for f in frames)
    assert after["state"] == "idle"  # after the result, since nothing was queued


def test_hook_callback_failures_warn_or_block_per_on_failure(workspace):
    script = [reply(tool_uses=[tool_use("bash", {"command": "touch warned"}, id="b1")]),
              reply(tool_uses=[tool_use("write_file", {"path": "blocked.txt", "content": "x"}, id="w1")]),
              reply(text="end")]
    with ModelServer(script) as srv, ClawProcess(env=_env(srv, workspace), cwd=workspace) as claw:
        claw.control("init", "initialize", hooks={"PreToolUse": [
            {"matcher": "Bash", "hookCallbackIds": ["hook_warn"]},
            {"matcher": "Write", "hookCallbackIds": ["hook_block"], "onFailure": "block", "timeout": 5},
        ]})
        assert claw.control_response("init")["response"]["hook_on_failure_supported"] is True
        claw.user("go")
        asked = []
        while True:
            message = claw.next()
            assert message is not None, claw.stderr
            if message["type"] == "control_request":
                asked.append(message["request"])
                claw.send({"type": "control_response", "response": {
                    "subtype": "error", "request_id": message["request_id"], "error": "callback raised"}})
            if message["type"] == "result":
                break
        assert claw.wait() == 0
    assert [(a["subtype"], a["callback_id"], a["input"]["tool_name"]) for a in asked] == [
        ("hook_callback", "hook_warn", "Bash"), ("hook_callback", "hook_block", "Write")]
    assert asked[0]["input"]["hook_event_name"] == "PreToolUse" and asked[0]["tool_use_id"] == "b1"
    assert (workspace / "warned").exists()  # a failed callback without onFailure is only a warning
    assert not (workspace / "blocked.txt").exists()
    blocked = srv.requests[2].json["messages"][-1]["content"][0]
    assert blocked["is_error"] is True and "callback raised" in blocked["content"]
    assert "hook_warn" in claw.stderr and "callback raised" in claw.stderr


def test_unusable_host_hooks_are_warnings(workspace):
    with ModelServer([reply(text="end")]) as srv, ClawProcess(env=_env(srv, workspace), cwd=workspace) as claw:
        claw.control("init", "initialize", hooks={"NotAnEvent": [{"hookCallbackIds": ["h0"]}],
                                                   "PreToolUse": [{"matcher": "(bad", "hookCallbackIds": ["h1"]},
                                                                  {"matcher": 7, "hookCallbackIds": ["h2"]}]})
        assert claw.control_response("init")["response"]["hook_on_failure_supported"] is True
        claw.user("go")
        while True:
            message = claw.next()
            assert message is not None, claw.stderr
            if message["type"] == "result":
                break
        assert claw.wait() == 0
    assert "hooks: unknown event 'NotAnEvent' ignored" in claw.stderr
    assert "hooks.PreToolUse[0]: matcher '(bad' is not a valid regex" in claw.stderr
    assert "hooks.PreToolUse[1]: matcher must be a string" in claw.stderr


def test_interrupt_while_waiting_for_the_host_cancels_the_request(workspace):
    script = [reply(tool_uses=[tool_use("bash", {"command": "touch never"}, id="b1")]), reply(text="next turn")]
    with ModelServer(script) as srv, ClawProcess(["--permission-prompt-tool", "stdio", "--permission-mode",
                                                  "default"], env=_env(srv, workspace), cwd=workspace) as claw:
        claw.user("try")
        ask = claw.read_until(lambda m: m["type"] == "control_request")[-1]
        claw.control("stop", "interrupt")
        seen = claw.until_result()
        claw.user("and now?")
        nxt = claw.until_result()[-1]
        assert claw.wait() == 0
    cancels = [m for m in seen if m["type"] == "control_cancel_request"]
    assert [c["request_id"] for c in cancels] == [ask["request_id"]]
    assert seen[-1]["error"]["kind"] == "interrupted"
    assert nxt["result"] == "next turn"
    history = srv.requests[1].json["messages"]
    # the interrupted tool call was answered, so the history the model gets is valid
    answered = [b for m in history if m["role"] == "user" for b in m["content"] if b.get("type") == "tool_result"]
    assert [b["tool_use_id"] for b in answered] == ["b1"] and answered[0]["is_error"] is True
    assert not (workspace / "never").exists()


def test_set_model_during_a_turn_applies_to_the_next(workspace):
    slow = reply(text="x" * 240, text_chunk=3, delay=0.02)
    with ModelServer([slow, reply(text="fast")]) as srv, \
            ClawProcess(["--include-partial-messages"], env=_env(srv, workspace), cwd=workspace) as claw:
        claw.user("slow one")
        claw.read_until(lambda m: m["type"] == "stream_event")
        claw.control("sm", "set_model", model="haiku")
        answer = claw.control_response("sm")
        first = claw.until_result()[-1]
        claw.user("quick one")
        second = claw.until_result()
        assert claw.wait() == 0
    assert answer["response"]["applies"] == "next_turn"
    assert first["is_error"] is False and "haiku" not in srv.requests[0].json["model"]
    assert "haiku" in srv.requests[1].json["model"] and "haiku" in second[0]["model"]


def test_sigterm_ends_the_running_turn_with_a_result(workspace):
    import signal

    slow = reply(text="y" * 300, text_chunk=3, delay=0.03)
    with ModelServer([slow]) as srv, ClawProcess(["--include-partial-messages"], env=_env(srv, workspace),
                                                 cwd=workspace) as claw:
        claw.user("one")
        claw.user("two (queued, dropped)")
        claw.read_until(lambda m: m["type"] == "stream_event")
        claw.proc.send_signal(signal.SIGTERM)
        result = claw.until_result()[-1]
        code = claw.proc.wait(15)
    assert code == 143 and result["error"]["kind"] == "interrupted"  # 128 + SIGTERM
    assert len(srv.requests) == 1


@pytest.mark.parametrize("declared_by", ["mcp-config", "initialize"])
def test_sdk_mcp_server_over_raw_messages_and_mcp_status(workspace, declared_by):
    config = json.dumps({"mcpServers": {"notes": {"type": "sdk", "name": "notes"}}})
    flags = ["--mcp-config", config] if declared_by == "mcp-config" else []
    script = [reply(tool_uses=[tool_use("mcp__notes__save", {"text": "remember"}, id="m1")]), reply(text="saved")]
    with ModelServer(script) as srv, ClawProcess(flags + ["--allowedTools", "mcp__notes__save"],
                                                 env=_env(srv, workspace), cwd=workspace) as claw:
        if declared_by == "initialize":
            claw.control("init", "initialize", hooks=None, sdkMcpServers=["notes"])
        else:
            claw.control("init", "initialize", hooks=None)
        claw.user("save a note")
        rpc = []
        while True:
            message = claw.next()
            assert message is not None, claw.stderr
            if message["type"] == "control_request":
                body = message["request"]["message"]
                rpc.append(body)
                result: Dict[str, Any] = {}
                if body.get("method") == "initialize":
                    result = {"protocolVersion": body["params"]["protocolVersion"], "capabilities": {"tools": {}},
                              "serverInfo": {"name": "notes", "version": "2"}}
                elif body.get("method") == "tools/list":
                    result = {"tools": [{"name": "save", "description": "Save a note",
                                         "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                                                         "required": ["text"]}}]}
                elif body.get("method") == "tools/call":
                    result = {"content": [{"type": "text", "text": "saved: " + body["params"]["arguments"]["text"]}]}
                claw.send({"type": "control_response", "response": {
                    "subtype": "success", "request_id": message["request_id"],
                    "response": {"mcp_response": {"jsonrpc": "2.0", "id": body.get("id"), "result": result}}}})
            if message["type"] == "system" and message["subtype"] == "init":
                init = message
            if message["type"] == "result":
                break
        claw.control("st", "mcp_status")
        status = claw.control_response("st")["response"]
        assert claw.wait() == 0
    assert [m.get("method") for m in rpc] == ["initialize", "notifications/initialized", "tools/list", "tools/call"]
    assert "mcp__notes__save" in init["tools"] and init["mcp_servers"] == [{"name": "notes", "status": "connected"}]
    assert srv.requests[1].json["messages"][-1]["content"][0]["content"] == "saved: remember"
    assert status["mcpServers"][0]["serverInfo"] == {"name": "notes", "version": "2"}
    assert status["mcpServers"][0]["tools"] == [{"name": "save", "description": "Save a note"}]


_NOISY_LAUNCHER = """
import os, subprocess, sys
from claw.cli import stream_json

_serve = stream_json.HostSession.serve

async def serve(self):  # misbehaving code inside the process, before and during the session
    print("stray print")
    os.write(1, b"stray fd write\\n")
    subprocess.run(["echo", "child output"])
    return await _serve(self)

stream_json.HostSession.serve = serve
from claw.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_stray_output_of_the_process_and_its_children_goes_to_stderr(workspace):
    with ModelServer([reply(text="clean")]) as srv, \
            ClawProcess(env=_env(srv, workspace), cwd=workspace, launcher=("-c", _NOISY_LAUNCHER)) as claw:
        claw.user("hi")
        result = claw.until_result()[-1]
        assert claw.wait() == 0
    assert result["result"] == "clean"
    _all_json(claw)
    for noise in ("stray print", "stray fd write", "child output"):
        assert noise in claw.stderr
