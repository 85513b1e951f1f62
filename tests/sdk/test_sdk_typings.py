"""Every message claw writes in stream-json, checked against the TypeScript Agent SDK's own typings.

tests/sdk/dts.py reads the installed ``sdk.d.ts`` and ``sdk-tools.d.ts`` (tests/sdk_ts, pinned); realistic
sessions of a real claw process (init, partial stream events, assistant tool_use, per-result user
messages with ``tool_use_result``, results success and error, control responses and requests, hook
events, status and session-state messages) are checked against the declarations: a required field
missing, a field that is neither declared nor one of claw's listed extensions below, or a value outside
a literal union (``permissionMode``, ``apiKeySource``, ``subtype``...) fails the test. Tool inputs in
``tool_use`` blocks and structured ``tool_use_result`` values are checked against the tools' input and
output types.

claw's extensions are listed here, once, with the reason for each; docs/EMBEDDING.md documents them.
Skipped when the typings are not installed, except in CI (scripts/test installs them).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from tests.fakes.claw_wrapper import ClawProcess
from tests.fakes.model_server import ModelServer, reply, tool_use
from tests.sdk.dts import Checker, read_declarations, sdk_typings_dir, union_members

ROOT = Path(__file__).resolve().parents[2]
TYPINGS = sdk_typings_dir(ROOT)
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
if not (TYPINGS / "sdk.d.ts").is_file() and not IN_CI:
    pytest.skip("the TypeScript SDK's typings are not installed (scripts/test runs npm ci)", allow_module_level=True)

# Fields claw writes beyond the SDK's declarations, per declared type: claw's own additions.
CLAW_EXTENSIONS: Dict[str, Tuple[str, ...]] = {
    # claw's version next to the protocol level; claw's own names beside the SDK's
    "SDKSystemMessage": ("claw_version", "claw_permission_mode", "claw_api_key_source"),
    "SDKStatusMessage": ("claw_permission_mode",),
    # the same result object as --output-format json (docs/CLI.md): the error object, the final text on
    # errors, the model, whether the cost is known, and every tool call and result of the turn
    "SDKResultError": ("error", "result", "model", "cost_known", "tool_uses", "tool_results"),
    "SDKResultSuccess": ("model", "cost_known", "tool_uses", "tool_results"),
    # the host-only marker of session state frames (CLAUDE_CODE_SDK_READS_SESSION_STATE)
    "SDKSessionStateChangedMessage": ("sdk_host_only",),
    # claw's tool name beside Claude Code's
    "SDKControlPermissionRequest": ("claw_tool_name",),
    "PreToolUseHookInput": ("claw_tool_name",),
    "PostToolUseHookInput": ("claw_tool_name",),
    "PostToolUseFailureHookInput": ("claw_tool_name",),
    # the initialize answer: claw's version, feature list, and what it applied
    "SDKControlInitializeResponse": ("claw_version", "claw_permission_mode", "capabilities", "session_id", "pid",
                                     "session_state", "hook_on_failure_supported", "hooks_applied",
                                     "mcp_servers_applied", "current_permission_mode", "claude_code_version"),
    "SDKControlSetPermissionModeResponse": ("claw_permission_mode",),
    "ControlErrorResponse": ("error_code",),
    # tool outputs: what claw adds to Claude Code's shapes
}
# Messages claw writes that the SDK does not declare (the SDK passes unknown system subtypes on).
CLAW_ONLY_MESSAGES = {("system", "notice")}
# Claude Code's tool name -> its input and output declarations in sdk-tools.d.ts
TOOL_TYPES = {
    "Bash": ("BashInput", "BashOutput"), "Read": ("FileReadInput", "FileReadOutput"),
    "Write": ("FileWriteInput", "FileWriteOutput"), "Edit": ("FileEditInput", "FileEditOutput"),
    "Glob": ("GlobInput", "GlobOutput"), "Grep": ("GrepInput", "GrepOutput"),
    "WebFetch": ("WebFetchInput", "WebFetchOutput"), "WebSearch": ("WebSearchInput", "WebSearchOutput"),
    "TodoWrite": ("TodoWriteInput", "TodoWriteOutput"), "TaskStop": ("TaskStopInput", "TaskStopOutput"),
    "Agent": ("AgentInput", "AgentOutput"), "NotebookEdit": ("NotebookEditInput", "NotebookEditOutput"),
    "ExitPlanMode": ("ExitPlanModeInput", "ExitPlanModeOutput"),
    "AskUserQuestion": ("AskUserQuestionInput", "AskUserQuestionOutput"),
}
# The answer to each host request, by the request's subtype.
RESPONSE_TYPES = {"initialize": "SDKControlInitializeResponse", "set_permission_mode":
                  "SDKControlSetPermissionModeResponse", "mcp_status": "SDKControlMcpStatusResponse",
                  "interrupt": "SDKControlInterruptResponse", "get_context_usage": "SDKControlGetContextUsageResponse",
                  "mcp_set_servers": "McpSetServersResult", "rewind_files": "RewindFilesResult"}
REQUEST_TYPES = {"can_use_tool": "SDKControlPermissionRequest", "hook_callback": "SDKHookCallbackRequest",
                 "mcp_message": "SDKControlMcpMessageRequest"}


@pytest.fixture(scope="module")
def checker() -> Checker:
    decls = read_declarations(TYPINGS / "sdk.d.ts", TYPINGS / "sdk-tools.d.ts")
    return Checker(decls, CLAW_EXTENSIONS)


class Problems:
    """Everything wrong with the messages of a session, in one list (one failure shows them all)."""

    def __init__(self, checker: Checker) -> None:
        self.checker = checker
        self.found: List[str] = []
        self.kinds: List[str] = []
        self.tool_names: Dict[str, str] = {}

    def message(self, msg: Dict[str, Any], sent: Dict[str, str]) -> None:
        kind = msg.get("type")
        label = f"{kind}/{msg.get('subtype') or (msg.get('request') or msg.get('response') or {}).get('subtype', '')}"
        self.kinds.append(label)
        if kind == "control_response":
            self._add(label, self.checker.check(msg, "SDKControlResponse"))
            response = msg.get("response") or {}
            subtype = sent.get(str(response.get("request_id")))
            if response.get("subtype") == "error":
                self._add(label, self.checker.check(response, "ControlErrorResponse"))
            elif subtype in RESPONSE_TYPES:
                self._add(f"{label} ({subtype})", self.checker.check(response.get("response") or {},
                                                                      RESPONSE_TYPES[subtype]))
            return
        if kind == "control_request":
            self._add(label, self.checker.check(msg, "SDKControlRequest"))
            request = msg.get("request") or {}
            if request.get("subtype") in REQUEST_TYPES:
                self._add(label, self.checker.check(request, REQUEST_TYPES[request["subtype"]]))
            if request.get("subtype") == "hook_callback":
                self._add(label + " input", self.checker.check(request.get("input"), "HookInput"))
            return
        members = union_members(self.checker.decls, "SDKMessage")
        fitting = [m for m in members if self._fits(msg, m)]
        if not fitting:
            if (kind, msg.get("subtype")) not in CLAW_ONLY_MESSAGES:
                self.found.append(f"{label}: no SDKMessage type has this type/subtype")
            return
        best = min((self.checker.check(msg, name) for name in fitting), key=len)
        self._add(label, best)
        if kind == "assistant":
            for block in msg["message"]["content"]:
                if block.get("type") == "tool_use":
                    self.tool_names[block["id"]] = block["name"]
                    if block["name"] in TOOL_TYPES:
                        self._add(f"tool_use {block['name']}", self.checker.check(block["input"],
                                                                                  TOOL_TYPES[block["name"]][0]))
        if kind == "user" and "tool_use_result" in msg:
            block = msg["message"]["content"][0]
            name = self.tool_names.get(block["tool_use_id"])
            result = msg["tool_use_result"]
            if name in TOOL_TYPES and not isinstance(result, str):
                self._add(f"tool_use_result {name}", self.checker.check(result, TOOL_TYPES[name][1]))

    def _fits(self, msg: Dict[str, Any], name: str) -> bool:
        fields = self.checker._fields(self.checker.decls[name])
        if fields is None:
            return False
        for key in ("type", "subtype"):
            spec = fields.fields.get(key)
            if spec is None:
                if key == "subtype" and "subtype" in msg:
                    return False
                continue
            allowed = self.checker.literals_of(spec[1])
            if allowed and msg.get(key) not in allowed:
                return False
        return True

    def _add(self, label: str, problems: List[str]) -> None:
        self.found += [f"{label}: {p}" for p in problems]


def _env(srv: ModelServer, work: Path, **extra: str) -> Dict[str, str]:
    return srv.env(CLAW_CONFIG_HOME=str(work.parent / "claw-home"), HOME=str(work.parent / "home"), **extra)


def _serve(claw: ClawProcess, *, allow: bool = True) -> None:
    """Play the host for one turn: allow (or deny) every can_use_tool, answer every hook_callback."""
    while True:
        message = claw.next()
        assert message is not None, claw.stderr
        if message["type"] == "control_request":
            request = message["request"]
            if request["subtype"] == "can_use_tool":
                answer = ({"behavior": "allow", "updatedInput": request["input"]} if allow
                          else {"behavior": "deny", "message": "no"})
            else:
                answer = {"hookSpecificOutput": {"hookEventName": request["input"]["hook_event_name"],
                                                 "additionalContext": "ok"}}
            claw.send({"type": "control_response", "response": {
                "subtype": "success", "request_id": message["request_id"], "response": answer}})
        if message["type"] == "result":
            return


def _control(claw: ClawProcess, sent: Dict[str, str], request_id: str, subtype: str, **fields: Any) -> None:
    sent[request_id] = subtype
    claw.control(request_id, subtype, **fields)
    claw.control_response(request_id)


def test_every_message_of_a_full_session_fits_the_sdk_typings(checker, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("alpha\nbeta\n")
    (work / "edit.txt").write_text("old text\n")
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"hooks": {"PostToolUse": [
        {"matcher": "Read", "hooks": [{"type": "command", "command": "echo post"}]}]}}))
    script = [
        reply(tool_uses=[tool_use("read_file", {"path": "notes.txt"}, id="r1"),
                         tool_use("glob_search", {"pattern": "*.txt"}, id="g1"),
                         tool_use("grep_search", {"pattern": "alpha"}, id="s1")]),
        reply(tool_uses=[tool_use("bash", {"command": "echo hi", "description": "greet"}, id="b1"),
                         tool_use("write_file", {"path": "new.txt", "content": "x\n"}, id="w1")]),
        reply(tool_uses=[tool_use("edit_file", {"path": "edit.txt", "old_string": "old", "new_string": "new"},
                                  id="e1"),
                         tool_use("todo_write", {"todos": [{"content": "a", "status": "pending",
                                                            "activeForm": "doing a"}]}, id="t1"),
                         tool_use("bash", {"command": "exit 3"}, id="b2")]),
        reply(text="all done"),
        reply(tool_uses=[tool_use("bash", {"command": "echo denied"}, id="b3")]),
        reply(text="second turn"),
    ] + [reply(tool_uses=[tool_use("bash", {"command": "echo 1"}, id=f"m{i}")]) for i in range(4)]
    sent: Dict[str, str] = {}
    with ModelServer(script) as srv, ClawProcess(["--permission-mode", "default", "--permission-prompt-tool", "stdio",
                           "--include-partial-messages", "--include-hook-events", "--settings", str(settings),
                           "--max-turns", "4"], env=_env(srv, work, CLAUDE_CODE_EMIT_SESSION_STATE_EVENTS="1"),
                          cwd=work) as claw:
        _control(claw, sent, "init", "initialize",
                 hooks={"PreToolUse": [{"matcher": "Bash", "hookCallbackIds": ["h1"], "timeout": 10}],
                        "UserPromptSubmit": [{"hookCallbackIds": ["h2"]}],
                        "PostToolUse": [{"matcher": "Write", "hookCallbackIds": ["h3"]}]})
        claw.user("work")
        _serve(claw)
        _control(claw, sent, "mode", "set_permission_mode", mode="acceptEdits")
        _control(claw, sent, "mcp", "mcp_status")
        _control(claw, sent, "nope", "no_such_request")
        _control(claw, sent, "int", "interrupt")
        claw.user("again")
        _serve(claw, allow=False)
        claw.user("loop")  # max turns (4) is reached: an error result
        _serve(claw)
        assert claw.wait() == 1, claw.stderr
    messages = [json.loads(line) for line in claw.lines]
    problems = Problems(checker)
    for message in messages:
        problems.message(message, sent)
    hook_events = {m["request"]["input"]["hook_event_name"] for m in messages
                   if m["type"] == "control_request" and m["request"]["subtype"] == "hook_callback"}
    assert hook_events == {"PreToolUse", "PostToolUse", "UserPromptSubmit"}
    kinds = set(problems.kinds)
    for expected in ("system/init", "stream_event/", "assistant/", "user/", "result/success",
                     "result/error_max_turns", "control_response/success", "control_response/error",
                     "control_request/can_use_tool", "control_request/hook_callback", "system/hook_started",
                     "system/hook_response", "system/status", "system/session_state_changed"):
        assert expected in kinds, f"the session wrote no {expected} message: {sorted(kinds)}"
    assert problems.found == [], "\n".join(problems.found)


def test_answers_to_live_run_controls_fit_the_typings(checker, tmp_path):
    """get_context_usage, mcp_set_servers, mcp_toggle, mcp_reconnect, mcp_status (with a disabled server)
    and set_max_thinking_tokens answers, and a rewind_files answer."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "CLAW.md").write_text("Be brief.\n")
    raw = {"command": sys.executable, "args": ["-m", "tests.mcp.servers.raw_stdio_server"], "cwd": str(ROOT)}
    sent: Dict[str, str] = {}
    with ModelServer([reply(text="one", usage={"input_tokens": 9000, "output_tokens": 5})]) as srv, \
            ClawProcess([], env=_env(srv, work), cwd=work) as claw:
        _control(claw, sent, "init", "initialize", hooks=None)
        _control(claw, sent, "ctx0", "get_context_usage")
        _control(claw, sent, "set", "mcp_set_servers", servers={"raw": raw, "bad": {"command": ""}})
        _control(claw, sent, "think", "set_max_thinking_tokens", max_thinking_tokens=2048)
        claw.user("hi")
        _serve(claw)
        _control(claw, sent, "ctx1", "get_context_usage", detail="full")
        _control(claw, sent, "off", "mcp_toggle", serverName="raw", enabled=False)
        _control(claw, sent, "st", "mcp_status")
        _control(claw, sent, "on", "mcp_toggle", serverName="raw", enabled=True)
        _control(claw, sent, "re", "mcp_reconnect", serverName="raw")
        _control(claw, sent, "rw", "rewind_files", user_message_id="u")
        assert claw.wait() == 0, claw.stderr
    messages = [json.loads(line) for line in claw.lines]
    problems = Problems(checker)
    for message in messages:
        problems.message(message, sent)
    answers = {m["response"]["request_id"]: m["response"] for m in messages if m["type"] == "control_response"}
    assert answers["set"]["response"]["added"] == ["raw", "bad"] and "bad" in answers["set"]["response"]["errors"]
    assert "disabled" in [s["status"] for s in answers["st"]["response"]["mcpServers"]]
    assert answers["rw"]["response"]["canRewind"] is False
    assert problems.found == [], "\n".join(problems.found)


def test_a_one_shot_stream_json_run_fits_the_typings(checker, tmp_path):
    """``claw -p --output-format stream-json``: the same messages without a host on stdin."""
    work = tmp_path / "work"
    work.mkdir()
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"hooks": {"PreToolUse": [
        {"matcher": "WebSearch", "hooks": [{"type": "command",  # blocks the search: no network
                                            "command": "echo no searching >&2; exit 2"}]}]}}))
    script = [reply(tool_uses=[tool_use("web_search", {"query": "claw docs"}, id="ws1")]), reply(text="ok")]
    with ModelServer(script) as srv, ClawProcess(["-p", "search", "--output-format", "stream-json", "--verbose",
                                                  "--include-partial-messages", "--include-hook-events",
                                                  "--settings", str(settings)], env=_env(srv, work), cwd=work,
                                                 stream_flags=False) as claw:
        assert claw.wait() == 0, claw.stderr
    messages = [json.loads(line) for line in claw.lines]
    problems = Problems(checker)
    for message in messages:
        problems.message(message, {})
    assert {"system/init", "assistant/", "user/", "result/success", "system/hook_started",
            "system/hook_response"} <= set(problems.kinds)
    response = next(m for m in messages if m.get("subtype") == "hook_response")
    assert response["hook_name"] == "PreToolUse:WebSearch"
    assert response["exit_code"] == 2 and response["outcome"] == "error" and response["stderr"] == "no searching\n"
    starts = [m["event"]["content_block"] for m in messages if m["type"] == "stream_event"
              and m["event"].get("type") == "content_block_start"]
    assert [b["name"] for b in starts if b["type"] == "tool_use"] == ["WebSearch"]
    assert problems.found == [], "\n".join(problems.found)


def test_image_pdf_and_notebook_results_fit_the_typings(checker, tmp_path):
    """Read of an image, a PDF and a notebook, and a NotebookEdit: ``tool_use_result`` as the SDK
    declares FileReadOutput and NotebookEditOutput."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "p.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    (work / "d.pdf").write_bytes(b"%PDF-1.4\n<< /Type /Page >>\n%%EOF\n")
    (work / "n.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": "c1", "metadata": {}, "source": "1", "outputs": [], "execution_count": None}]}))
    from tests.tools.test_pdf_pages import make_pdf, needs_pdftoppm

    (work / "pages.pdf").write_bytes(make_pdf([(300, 300)]))
    parts = [] if needs_pdftoppm.args[0] else [tool_use("read_file", {"path": "pages.pdf", "pages": "1"}, id="r3")]
    script = [reply(tool_uses=[tool_use("read_file", {"path": n}, id=f"r{i}")
                               for i, n in enumerate(("p.png", "d.pdf", "n.ipynb"))] + parts),
              reply(tool_uses=[tool_use("notebook_edit", {"notebook_path": "n.ipynb", "cell_id": "c1",
                                                          "new_source": "2"}, id="e1")]), reply(text="ok")]
    with ModelServer(script) as srv, ClawProcess(["-p", "look", "--output-format", "stream-json", "--verbose",
                                                  "--permission-mode", "acceptEdits"], env=_env(srv, work),
                                                 cwd=work, stream_flags=False) as claw:
        assert claw.wait() == 0, claw.stderr
    messages = [json.loads(line) for line in claw.lines]
    problems = Problems(checker)
    for message in messages:
        problems.message(message, {})
    results = [m["tool_use_result"] for m in messages if m["type"] == "user" and "tool_use_result" in m]
    assert [r.get("type") for r in results] == ["image", "pdf", "notebook"] + ["parts"] * len(parts) + [None], results
    assert results[-1]["cell_id"] == "c1" and results[-1]["old_source"] == "1"
    assert problems.found == [], "\n".join(problems.found)


def test_a_start_up_failure_result_fits_the_typings(checker, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    with ModelServer([]) as srv, ClawProcess(["--permission-mode", "sideways"], env=_env(srv, work),
                                             cwd=work) as claw:
        assert claw.wait() == 2
    messages = [json.loads(line) for line in claw.lines]
    problems = Problems(checker)
    for message in messages:
        problems.message(message, {})
    assert problems.kinds == ["result/error_during_execution"]
    assert problems.found == [], "\n".join(problems.found)


def test_the_checker_catches_what_it_is_meant_to(checker):
    """The checker itself: a missing required field, an unknown field and a value outside a literal
    union are each reported; a message of Claude Code's own passes."""
    good = {"type": "system", "subtype": "status", "status": None, "permissionMode": "plan",
            "uuid": "u", "session_id": "s"}
    assert checker.check(good, "SDKStatusMessage") == []
    missing = {k: v for k, v in good.items() if k != "session_id"}
    assert any("'session_id' is missing" in p for p in checker.check(missing, "SDKStatusMessage"))
    assert any("unknown field 'surprise'" in p for p in checker.check(dict(good, surprise=1), "SDKStatusMessage"))
    assert any("'read-only'" in p for p in checker.check(dict(good, permissionMode="read-only"), "SDKStatusMessage"))
    assert checker.literals("PermissionMode")[:5] == ["default", "acceptEdits", "bypassPermissions", "plan", "dontAsk"]


def test_a_session_with_a_subagent_fits_the_typings(checker, tmp_path):
    """The agent call, the subagent's messages (tagged with ``parent_tool_use_id``) and the agent's
    ``tool_use_result`` (Claude Code's AgentOutput) as the SDK declares them."""
    from tests.fakes.model_server import by_system_prompt

    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("alpha\n")
    call = tool_use("agent", {"description": "read notes", "prompt": "read notes.txt", "subagent_type": "reader"},
                    id="a1")
    routes = {"MARKER_READER": [reply(tool_uses=[tool_use("read_file", {"path": "notes.txt"}, id="r1")]),
                                reply(text="it says alpha")]}
    agents = {"reader": {"description": "reads", "prompt": "MARKER_READER Read.", "tools": ["Read"]}}
    sent: Dict[str, str] = {}
    with ModelServer([reply(tool_uses=[call]), reply(text="alpha")], handler=by_system_prompt(routes)) as srv, \
            ClawProcess(["--include-partial-messages"], env=_env(srv, work), cwd=work) as claw:
        _control(claw, sent, "init", "initialize", agents=agents)
        claw.user("what do the notes say?")
        _serve(claw)
        assert claw.wait() == 0, claw.stderr
    messages = [json.loads(line) for line in claw.lines]
    problems = Problems(checker)
    for message in messages:
        problems.message(message, sent)
    assert problems.found == [], "\n".join(problems.found)
    results = [m for m in messages if m["type"] == "user" and m.get("tool_use_result")
               and m["message"]["content"][0]["tool_use_id"] == "a1"]
    assert results[0]["tool_use_result"]["agentType"] == "reader"
    assert results[0]["tool_use_result"]["content"] == [{"type": "text", "text": "it says alpha"}]
    assert {m["parent_tool_use_id"] for m in messages if m["type"] == "stream_event"} == {None, "a1"}


def test_plan_and_question_tools_fit_the_typings(checker, tmp_path):
    """ExitPlanMode and AskUserQuestion: their can_use_tool requests, the status message of the mode
    switch, and their ``tool_use_result`` (ExitPlanModeOutput, AskUserQuestionOutput)."""
    work = tmp_path / "work"
    work.mkdir()
    questions = [{"question": "Which?", "header": "Pick", "multiSelect": True,
                  "options": [{"label": "a", "description": "A"}, {"label": "b", "description": "B"}]}]
    script = [reply(tool_uses=[tool_use("ask_user_question", {"questions": questions}, id="q1")]),
              reply(tool_uses=[tool_use("exit_plan_mode", {"plan": "1. do it"}, id="p1")]), reply(text="ok")]
    sent: Dict[str, str] = {}
    with ModelServer(script) as srv, ClawProcess(["--permission-mode", "plan", "--permission-prompt-tool", "stdio"],
                                                 env=_env(srv, work), cwd=work) as claw:
        claw.user("plan")
        while True:
            message = claw.next()
            assert message is not None, claw.stderr
            if message["type"] == "control_request":
                answer = dict(message["request"]["input"])
                if message["request"]["tool_name"] == "AskUserQuestion":
                    answer["answers"] = {"Which?": "a, b"}
                claw.send({"type": "control_response", "response": {
                    "subtype": "success", "request_id": message["request_id"],
                    "response": {"behavior": "allow", "updatedInput": answer}}})
            if message["type"] == "result":
                break
        assert claw.wait() == 0, claw.stderr
    messages = [json.loads(line) for line in claw.lines]
    problems = Problems(checker)
    for message in messages:
        problems.message(message, sent)
    assert problems.found == [], "\n".join(problems.found)
    shaped = [m["tool_use_result"] for m in messages if m["type"] == "user" and m.get("tool_use_result")]
    assert shaped[0]["answers"] == {"Which?": "a, b"} and shaped[1] == {"plan": "1. do it", "isAgent": False}
    assert [m["permissionMode"] for m in messages if m.get("subtype") == "status"] == ["default"]
