"""What a stream-json host sees, at the wire level: Claude Code's tool names and input fields, the SDK's
permission modes and API key sources, one user message per tool result with ``tool_use_result``, and
hook lifecycle messages with ``--include-hook-events`` — while the model and the session file keep
claw's own names. Real claw subprocesses against the fake model server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.fakes.claw_wrapper import ClawProcess
from tests.fakes.model_server import ModelServer, reply, tool_use


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("alpha\nbeta\n")
    return work


def _env(srv: ModelServer, work: Path, **extra: str) -> Dict[str, str]:
    return srv.env(CLAW_CONFIG_HOME=str(work.parent / "claw-home"), HOME=str(work.parent / "home"), **extra)


def _session_records(work: Path) -> str:
    files = list((work.parent / "claw-home").rglob("*.jsonl")) + list((work / ".claw").rglob("*.jsonl"))
    return "".join(f.read_text() for f in files)


def test_the_host_sees_claude_code_names_and_the_model_keeps_claws(workspace):
    script = [reply(tool_uses=[tool_use("read_file", {"path": "notes.txt"}, id="r1"),
                               tool_use("bash", {"command": "echo hi"}, id="b1")]),
              reply(text="done")]
    with ModelServer(script) as srv, ClawProcess(["--permission-mode", "bypassPermissions"],
                                                 env=_env(srv, workspace), cwd=workspace) as claw:
        claw.user("look")
        messages = claw.until_result()
        assert claw.wait() == 0
    init, assistant = messages[0], messages[1]
    assert {"Bash", "Read", "Write", "Edit", "Glob", "Grep", "WebFetch", "WebSearch", "TodoWrite"} <= set(init["tools"])
    assert init["permissionMode"] == "bypassPermissions" and init["claw_permission_mode"] == "danger-full-access"
    assert init["apiKeySource"] == "ANTHROPIC_API_KEY"  # as Claude Code reports a key from the environment
    blocks = assistant["message"]["content"]
    assert [(b["name"], b["input"]) for b in blocks] == [("Read", {"file_path": "notes.txt"}),
                                                         ("Bash", {"command": "echo hi"})]
    # One user message per tool result, each with the tool's structured output.
    users = [m for m in messages if m["type"] == "user"]
    assert [[b["tool_use_id"] for b in u["message"]["content"]] for u in users] == [["r1"], ["b1"]]
    read, bash = users[0]["tool_use_result"], users[1]["tool_use_result"]
    assert read["type"] == "text" and read["file"]["filePath"].endswith("notes.txt")
    assert "alpha" in read["file"]["content"] and read["file"]["totalLines"] == 2
    assert bash["stdout"].strip() == "hi" and bash["interrupted"] is False
    assert len({u["uuid"] for u in users}) == 2
    result = messages[-1]
    assert [u["name"] for u in result["tool_uses"]] == ["Read", "Bash"]
    # The model still sees claw's names, and the session file keeps them.
    offered = {t["name"] for t in srv.requests[0].json["tools"]}
    assert {"read_file", "bash"} <= offered and "Read" not in offered
    assert len(srv.requests[1].json["messages"][-1]["content"]) == 2  # one user message for the model
    records = _session_records(workspace)
    assert '"read_file"' in records and '"Read"' not in records


def test_a_failed_tool_call_has_an_error_string_as_tool_use_result(workspace):
    script = [reply(tool_uses=[tool_use("bash", {"command": "exit 3"}, id="b1")]), reply(text="ok")]
    with ModelServer(script) as srv, ClawProcess(["--permission-mode", "bypassPermissions"],
                                                 env=_env(srv, workspace), cwd=workspace) as claw:
        claw.user("fail")
        messages = claw.until_result()
        assert claw.wait() == 0
    user = next(m for m in messages if m["type"] == "user")
    assert user["tool_use_result"].startswith("Error: ") and "exit code 3" in user["tool_use_result"]


def test_claude_code_names_in_tool_lists_and_answers_reach_claws_tools(workspace):
    """--allowedTools 'Bash(echo:*)' pre-approves echo, --disallowedTools Write removes write_file."""
    script = [reply(tool_uses=[tool_use("bash", {"command": "echo approved"}, id="b1")]),
              reply(tool_uses=[tool_use("bash", {"command": "touch asked"}, id="b2")]),
              reply(text="over")]
    with ModelServer(script) as srv, ClawProcess(
            ["--permission-mode", "default", "--permission-prompt-tool", "stdio", "--allowedTools", "Bash(echo:*)",
             "--disallowedTools", "Write"], env=_env(srv, workspace), cwd=workspace) as claw:
        claw.user("go")
        asks: List[Dict[str, Any]] = []
        while True:
            message = claw.next()
            assert message is not None, claw.stderr
            if message["type"] == "control_request":
                asks.append(message["request"])
                claw.send({"type": "control_response", "response": {
                    "subtype": "success", "request_id": message["request_id"],
                    "response": {"behavior": "deny", "message": "no"}}})
            if message["type"] == "result":
                break
        assert claw.wait() == 0
    assert [a["input"]["command"] for a in asks] == ["touch asked"]  # echo was pre-approved
    assert asks[0]["tool_name"] == "Bash" and asks[0]["claw_tool_name"] == "bash"
    assert "permission_suggestions" not in asks[0] and "blocked_path" not in asks[0]
    assert "write_file" not in {t["name"] for t in srv.requests[0].json["tools"]}  # --disallowedTools Write
    assert message["permission_denials"] == [{"tool_name": "Bash", "tool_use_id": "b2",
                                              "tool_input": {"command": "touch asked"}}]


def test_a_denial_by_a_claude_code_rule_is_reported_in_claude_code_names(workspace):
    script = [reply(tool_uses=[tool_use("read_file", {"path": "notes.txt"}, id="r1")]), reply(text="over")]
    with ModelServer(script) as srv, ClawProcess(
            ["--permission-mode", "default", "--permission-prompt-tool", "stdio",
             "--disallowedTools", "Read(notes.txt)"],
            env=_env(srv, workspace), cwd=workspace) as claw:
        claw.user("go")
        messages = claw.until_result()
        assert claw.wait() == 0
    # A deny rule in Claude Code's names denies read_file without asking; reported in those names.
    assert messages[-1]["permission_denials"][0]["tool_name"] == "Read"
    assert messages[-1]["permission_denials"][0]["tool_input"] == {"file_path": "notes.txt"}


def test_can_use_tool_updated_input_uses_file_path(workspace):
    script = [reply(tool_uses=[tool_use("write_file", {"path": "a.txt", "content": "x"}, id="w1")]),
              reply(text="over")]
    with ModelServer(script) as srv, ClawProcess(
            ["--permission-mode", "default", "--permission-prompt-tool", "stdio"],
            env=_env(srv, workspace), cwd=workspace) as claw:
        claw.user("go")
        while True:
            message = claw.next()
            assert message is not None, claw.stderr
            if message["type"] == "control_request":
                request = message["request"]
                assert request["tool_name"] == "Write" and request["input"]["file_path"] == "a.txt"
                claw.send({"type": "control_response", "response": {
                    "subtype": "success", "request_id": message["request_id"],
                    "response": {"behavior": "allow", "updatedInput": dict(request["input"], file_path="b.txt")}}})
            if message["type"] == "result":
                break
        assert claw.wait() == 0
    assert (workspace / "b.txt").read_text() == "x" and not (workspace / "a.txt").exists()


def test_hook_callbacks_see_claude_code_names_and_their_updated_input_is_read_back(workspace):
    script = [reply(tool_uses=[tool_use("write_file", {"path": "a.txt", "content": "x"}, id="w1")]),
              reply(text="over")]
    with ModelServer(script) as srv, ClawProcess(["--permission-mode", "acceptEdits"],
                                                 env=_env(srv, workspace), cwd=workspace) as claw:
        claw.control("init", "initialize", hooks={"PreToolUse": [{"matcher": "Write", "hookCallbackIds": ["h"]}]})
        assert claw.control_response("init")["response"]["current_permission_mode"] == "acceptEdits"
        claw.user("go")
        seen = []
        while True:
            message = claw.next()
            assert message is not None, claw.stderr
            if message["type"] == "control_request":
                hook_input = message["request"]["input"]
                seen.append(hook_input)
                claw.send({"type": "control_response", "response": {
                    "subtype": "success", "request_id": message["request_id"], "response": {
                        "hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow",
                                               "updatedInput": dict(hook_input["tool_input"], file_path="c.txt")}}}})
            if message["type"] == "result":
                break
        assert claw.wait() == 0
    assert seen[0]["tool_name"] == "Write" and seen[0]["claw_tool_name"] == "write_file"
    assert seen[0]["tool_input"] == {"file_path": "a.txt", "content": "x"}
    assert seen[0]["permission_mode"] == "acceptEdits" and "claude_code_tool_name" not in seen[0]
    assert (workspace / "c.txt").read_text() == "x" and not (workspace / "a.txt").exists()


@pytest.mark.parametrize("mode,host", [("read-only", "plan"), ("workspace-write", "acceptEdits"),
                                       ("default", "default"), ("dontAsk", "dontAsk"),
                                       ("plan", "plan")])
def test_permission_modes_are_reported_in_the_sdks_names(workspace, mode, host):
    with ModelServer([reply(text="ok")]) as srv, ClawProcess(["--permission-mode", mode],
                                                             env=_env(srv, workspace), cwd=workspace) as claw:
        claw.user("hi")
        init = claw.until_result()[0]
        assert claw.wait() == 0
    assert init["permissionMode"] == host
    assert init["claw_permission_mode"] == {"plan": "read-only"}.get(mode, mode)


def test_api_key_source_without_a_key_is_none(workspace):
    with ModelServer([reply(text="ok")]) as srv:
        env = _env(srv, workspace, ANTHROPIC_API_KEY="", ANTHROPIC_AUTH_TOKEN="tok")
        with ClawProcess([], env=env, cwd=workspace) as claw:
            claw.user("hi")
            init = claw.until_result()[0]
            claw.wait()
    assert init["apiKeySource"] == "none"  # a bearer token is not an API key, as Claude Code reports it
    assert init["claw_api_key_source"] == "bearer token from ANTHROPIC_AUTH_TOKEN"


def test_include_hook_events_writes_hook_started_and_hook_response(workspace, tmp_path):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"hooks": {"PreToolUse": [
        {"matcher": "Bash", "hooks": [{"type": "command", "command": "echo hook-out; echo hook-err >&2"}]}]}}))
    script = [reply(tool_uses=[tool_use("bash", {"command": "echo hi"}, id="b1")]), reply(text="ok")]
    for flags, expect in ((["--include-hook-events"], True), ([], False)):
        with ModelServer(list(script)) as srv, ClawProcess(
                ["--permission-mode", "bypassPermissions", "--settings", str(settings)] + flags,
                env=_env(srv, workspace), cwd=workspace) as claw:
            claw.user("go")
            messages = claw.until_result()
            assert claw.wait() == 0
        hooks = [m for m in messages if m["type"] == "system" and m["subtype"].startswith("hook_")]
        if not expect:
            assert hooks == []
            continue
        started, response = hooks
        assert started["subtype"] == "hook_started" and response["subtype"] == "hook_response"
        assert started["hook_id"] == response["hook_id"]
        assert started["hook_name"] == "PreToolUse:Bash" and started["hook_event"] == "PreToolUse"
        assert response["stdout"] == "hook-out\n" and response["stderr"] == "hook-err\n"
        assert response["exit_code"] == 0 and response["outcome"] == "success"
        kinds = [m["type"] + "/" + m.get("subtype", "") for m in messages]
        assert kinds.index("system/hook_response") < kinds.index("user/")


def test_a_post_tool_use_callback_gets_claude_codes_tool_response_and_a_command_hook_does_not(workspace, tmp_path):
    seen_by_command = tmp_path / "command-hook.json"
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"hooks": {"PostToolUse": [
        {"matcher": "Bash", "hooks": [{"type": "command", "command": f"cat > {seen_by_command}"}]}]}}))
    script = [reply(tool_uses=[tool_use("bash", {"command": "echo out"}, id="b1")]), reply(text="ok")]
    with ModelServer(script) as srv, ClawProcess(["--permission-mode", "bypassPermissions", "--settings",
                                                  str(settings)], env=_env(srv, workspace), cwd=workspace) as claw:
        claw.control("init", "initialize", hooks={"PostToolUse": [{"matcher": "Bash", "hookCallbackIds": ["p"]}]})
        claw.control_response("init")
        claw.user("go")
        seen = []
        while True:
            message = claw.next()
            assert message is not None, claw.stderr
            if message["type"] == "control_request":
                seen.append(message["request"]["input"])
                claw.send({"type": "control_response", "response": {
                    "subtype": "success", "request_id": message["request_id"], "response": {}}})
            if message["type"] == "result":
                break
        assert claw.wait() == 0
    [post] = seen
    assert post["hook_event_name"] == "PostToolUse" and post["tool_name"] == "Bash"
    assert post["tool_response"]["stdout"].strip() == "out" and post["tool_response"]["interrupted"] is False
    assert not any(key.startswith("_claw") for key in post)
    command = json.loads(seen_by_command.read_text())  # settings hooks keep claw's payload
    assert command["tool_name"] == "bash" and command["tool_response"]["output"].strip() == "out"
    assert not any(key.startswith("_claw") for key in command)
