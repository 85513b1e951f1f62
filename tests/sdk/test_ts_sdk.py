"""claw behind the real TypeScript Agent SDK (@anthropic-ai/claude-agent-sdk, pinned in tests/sdk_ts).

Each test writes a JSON spec for tests/sdk_ts/run_query.mjs, which calls the SDK's ``query()`` with
``pathToClaudeCodeExecutable`` pointing at a wrapper script that runs the claw source tree (the SDK spawns
a path without a .js/.mjs suffix directly), and the fake model server's address in the SDK's ``env``
option. The options covered are the ones a new user reaches for first: a one-shot prompt, ``maxTurns``,
``permissionMode``, ``allowedTools``, ``canUseTool``, ``mcpServers`` (sent in ``initialize`` behind
``--await-initialize``), ``persistSession: false``, ``allowDangerouslySkipPermissions``, the
``systemPrompt`` forms, and options claw refuses by name.

The module is skipped when node, npm or the installed SDK is missing, except in CI (scripts/test
installs the SDK; there a missing one fails).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from tests.fakes.claw_wrapper import write_claw_wrapper
from tests.fakes.model_server import ModelServer, by_system_prompt, reply, tool_use

ROOT = Path(__file__).resolve().parents[2]
SDK_DIR = ROOT / "tests" / "sdk_ts"
RUNNER = SDK_DIR / "run_query.mjs"
SDK_PACKAGE = SDK_DIR / "node_modules" / "@anthropic-ai" / "claude-agent-sdk" / "sdk.mjs"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
TIMEOUT = 60

_missing = [what for what, ok in (("node", shutil.which("node")), ("npm", shutil.which("npm")),
                                  ("the installed TypeScript SDK (scripts/test runs npm ci)", SDK_PACKAGE.is_file()))
            if not ok]
if _missing and not IN_CI:
    pytest.skip("missing " + ", ".join(_missing), allow_module_level=True)

BASE_PROMPT_START = "You are claw, a coding agent"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def run_ts(tmp_path: Path, srv: ModelServer, work: Path, prompt: str = "hi", *,
           can_use_tool: Optional[Dict[str, Any]] = None, executable: Optional[Path] = None,
           sdk_server: Optional[str] = None, steps: Optional[List[Dict[str, Any]]] = None,
           **options: Any) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    """Run one query(); returns (SDK messages, the final {"kind": "end"|"error", ...} line); the
    ``can_use_tool`` calls are kept in ``run_ts.calls``, the answers of Query method ``steps`` in
    ``run_ts.method_calls``. ``executable``: what the SDK starts instead of the wrapper that runs the
    source tree."""
    wrapper = executable or write_claw_wrapper(tmp_path / "bin")
    env = srv.env(CLAW_CONFIG_HOME=str(tmp_path / "claw-home"), HOME=str(tmp_path / "home"),
                  PATH=os.environ.get("PATH", "/usr/bin:/bin"))
    spec = {"prompt": prompt, "options": dict({"pathToClaudeCodeExecutable": str(wrapper), "cwd": str(work),
                                               "env": env}, **options)}
    if can_use_tool is not None:
        spec["canUseTool"] = can_use_tool
    if sdk_server is not None:
        spec["sdkServer"] = sdk_server
    if steps is not None:
        spec["steps"] = steps
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    proc = subprocess.run(["node", str(RUNNER), str(spec_path)], cwd=str(SDK_DIR), capture_output=True,
                          text=True, timeout=TIMEOUT)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert lines, f"the runner printed nothing; stderr: {proc.stderr[-2000:]}"
    run_ts.calls = [line for line in lines if line["kind"] == "can_use_tool"]
    run_ts.sdk_calls = [line for line in lines if line["kind"] == "sdk_tool"]
    run_ts.method_calls = [line for line in lines if line["kind"] == "call"]
    return [line["message"] for line in lines if line["kind"] == "message"], lines[-1]


def _result(messages: List[Dict[str, Any]]) -> Dict[str, Any]:
    results = [m for m in messages if m.get("type") == "result"]
    assert results, [m.get("type") for m in messages]
    return results[-1]


def _tool_results(messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [block for m in messages if m.get("type") == "user"
            for block in (m["message"].get("content") or []) if isinstance(block, dict)
            and block.get("type") == "tool_result"]


def _text(block: Dict[str, Any]) -> str:
    content = block.get("content")
    return content if isinstance(content, str) else json.dumps(content)


def test_one_shot_prompt(tmp_path: Path, work: Path) -> None:
    with ModelServer([reply(text="hello from the fake")]) as srv:
        messages, end = run_ts(tmp_path, srv, work, "say hello")
    assert end["kind"] == "end", end
    assert messages[0]["type"] == "system" and messages[0]["subtype"] == "init"
    result = _result(messages)
    assert result["subtype"] == "success" and result["result"] == "hello from the fake"
    assert srv.requests[0].json["messages"][0]["content"][0]["text"] == "say hello"


def test_the_sdk_starts_the_built_pyz_directly(tmp_path: Path, work: Path) -> None:
    """``pathToClaudeCodeExecutable: "claw.pyz"``: the SDK spawns a path without a .js/.mjs suffix as an
    executable, and the .pyz is one (a python3 shebang, mode 755)."""
    pyz = ROOT / "dist" / "claw.pyz"
    if not pyz.is_file():
        if IN_CI:
            pytest.fail("dist/claw.pyz is missing (scripts/test builds it)")
        pytest.skip("dist/claw.pyz is not built")
    with ModelServer([reply(text="from the pyz")]) as srv:
        messages, end = run_ts(tmp_path, srv, work, executable=pyz)
    assert end["kind"] == "end", end
    assert _result(messages)["result"] == "from the pyz"


def test_max_turns_stops_the_run(tmp_path: Path, work: Path) -> None:
    script = [reply(tool_uses=[tool_use("bash", {"command": "echo one"})])] * 3
    with ModelServer(script) as srv:
        messages, end = run_ts(tmp_path, srv, work, maxTurns=1, permissionMode="bypassPermissions",
                               allowDangerouslySkipPermissions=True)
    assert "--max-turns=1" not in end.get("message", "")  # the flag itself was accepted
    result = _result(messages)
    assert result["is_error"] is True and result["subtype"] == "error_max_turns"
    assert len(srv.requests) == 1


def test_permission_mode_and_allow_dangerously_skip_permissions(tmp_path: Path, work: Path) -> None:
    script = [reply(tool_uses=[tool_use("bash", {"command": "echo ran-it > proof.txt"})]), reply(text="done")]
    with ModelServer(script) as srv:
        messages, end = run_ts(tmp_path, srv, work, permissionMode="bypassPermissions",
                               allowDangerouslySkipPermissions=True,
                               can_use_tool={"behavior": "deny"})
    assert end["kind"] == "end", end
    assert (work / "proof.txt").read_text().strip() == "ran-it"
    assert run_ts.calls == []  # bypassPermissions: the host is never asked
    assert _result(messages)["subtype"] == "success"


def test_allowed_tools_skip_the_host(tmp_path: Path, work: Path) -> None:
    script = [reply(tool_uses=[tool_use("bash", {"command": "echo allowed"})]), reply(text="done")]
    with ModelServer(script) as srv:
        messages, end = run_ts(tmp_path, srv, work, permissionMode="default", allowedTools=["Bash(echo:*)"],
                               can_use_tool={"behavior": "deny"})
    assert end["kind"] == "end", end
    [result] = _tool_results(messages)
    assert _text(result).strip() == "allowed" and not result.get("is_error")
    assert run_ts.calls == []  # pre-approved: the host is not asked


def test_can_use_tool_denies(tmp_path: Path, work: Path) -> None:
    script = [reply(tool_uses=[tool_use("bash", {"command": "echo no > denied.txt"})]), reply(text="ok")]
    with ModelServer(script) as srv:
        messages, end = run_ts(tmp_path, srv, work, permissionMode="default",
                               can_use_tool={"behavior": "deny", "message": "not today"})
    assert end["kind"] == "end", end
    assert [c["input"]["command"] for c in run_ts.calls] == ["echo no > denied.txt"]
    assert not (work / "denied.txt").exists()
    [result] = _tool_results(messages)
    assert result.get("is_error") and "not today" in _text(result)


def test_a_host_written_for_claude_code_sees_bash_and_its_command(tmp_path: Path, work: Path) -> None:
    """canUseTool checks toolName === "Bash" and reads input.command, as with Claude Code."""
    script = [reply(tool_uses=[tool_use("bash", {"command": "echo host-approved"}, id="b1"),
                               tool_use("bash", {"command": "touch refused.txt"}, id="b2")]),
              reply(text="done")]
    with ModelServer(script) as srv:
        messages, end = run_ts(tmp_path, srv, work, permissionMode="default",
                               can_use_tool={"behavior": "claude-code-host"})
    assert end["kind"] == "end", end
    assert [(c["toolName"], c["input"]["command"]) for c in run_ts.calls] == [
        ("Bash", "echo host-approved"), ("Bash", "touch refused.txt")]
    results = {r["tool_use_id"]: r for r in _tool_results(messages)}
    assert _text(results["b1"]).strip() == "host-approved" and not results["b1"].get("is_error")
    assert results["b2"].get("is_error") and "does not allow Bash" in _text(results["b2"])
    assert not (work / "refused.txt").exists()
    tool_uses = [b for m in messages if m["type"] == "assistant" for b in m["message"]["content"]
                 if b["type"] == "tool_use"]
    assert {b["name"] for b in tool_uses} == {"Bash"}
    assert _result(messages)["permission_denials"][0]["tool_name"] == "Bash"
    assert messages[0]["permissionMode"] == "default" and "Bash" in messages[0]["tools"]


def test_a_host_written_for_claude_code_reads_and_rewrites_reads_file_path(tmp_path: Path, work: Path) -> None:
    """Read's file_path reaches the host, and the file_path it sends back is the one read."""
    outside, instead = tmp_path / "outside.txt", tmp_path / "instead.txt"
    outside.write_text("the model's choice\n")
    instead.write_text("the host's choice\n")
    script = [reply(tool_uses=[tool_use("read_file", {"path": str(outside)}, id="r1")]), reply(text="done")]
    with ModelServer(script) as srv:
        messages, end = run_ts(tmp_path, srv, work, permissionMode="default",
                               can_use_tool={"behavior": "claude-code-host", "readInstead": str(instead)})
    assert end["kind"] == "end", end
    assert [(c["toolName"], c["input"]) for c in run_ts.calls] == [("Read", {"file_path": str(outside)})]
    [result] = _tool_results(messages)
    assert "the host's choice" in _text(result) and not result.get("is_error")
    user = next(m for m in messages if m["type"] == "user" and "tool_use_result" in m)
    assert user["tool_use_result"]["file"]["filePath"] == str(instead)


def test_external_mcp_servers_arrive_with_await_initialize(tmp_path: Path, work: Path) -> None:
    servers = {"raw": {"type": "stdio", "command": sys.executable,
                       "args": ["-m", "tests.mcp.servers.raw_stdio_server"], "env": {"PYTHONPATH": str(ROOT)}}}
    script = [reply(tool_uses=[tool_use("mcp__raw__echo", {"text": "through-mcp"})]), reply(text="done")]
    with ModelServer(script) as srv:
        messages, end = run_ts(tmp_path, srv, work, mcpServers=servers, allowedTools=["mcp__raw__echo"])
    assert end["kind"] == "end", end
    assert "did not load the MCP servers" not in end["stderr"]
    init = messages[0]
    assert {"name": "raw", "status": "connected"}.items() <= next(
        s for s in init["mcp_servers"] if s["name"] == "raw").items()
    [result] = _tool_results(messages)
    assert "through-mcp" in _text(result) and not result.get("is_error")
    assert any(t["name"] == "mcp__raw__echo" for t in srv.requests[0].json["tools"])


def test_sdk_mcp_server_tool(tmp_path: Path, work: Path) -> None:
    script = [reply(tool_uses=[tool_use("mcp__loud__shout", {"text": "quiet words"})]), reply(text="done")]
    with ModelServer(script) as srv:
        messages, end = run_ts(tmp_path, srv, work, sdk_server="loud", allowedTools=["mcp__loud__shout"])
    assert end["kind"] == "end", end
    assert [c["text"] for c in run_ts.sdk_calls] == ["quiet words"]
    [result] = _tool_results(messages)
    assert "QUIET WORDS" in _text(result) and not result.get("is_error")


def test_persist_session_false_writes_no_session_file(tmp_path: Path, work: Path) -> None:
    with ModelServer([reply(text="ephemeral")]) as srv:
        messages, end = run_ts(tmp_path, srv, work, persistSession=False)
    assert end["kind"] == "end", end
    assert _result(messages)["result"] == "ephemeral"
    sessions = work / ".claw" / "sessions"
    assert not sessions.exists() or not any(sessions.iterdir())


def test_system_prompt_string_replaces_the_base_prompt(tmp_path: Path, work: Path) -> None:
    with ModelServer([reply(text="ok")]) as srv:
        _, end = run_ts(tmp_path, srv, work, systemPrompt="You are a terse test bot.")
    assert end["kind"] == "end", end
    system = json.dumps(srv.requests[0].json["system"])
    assert "You are a terse test bot." in system and BASE_PROMPT_START not in system


def test_system_prompt_preset_with_append_keeps_the_base_prompt(tmp_path: Path, work: Path) -> None:
    with ModelServer([reply(text="ok")]) as srv:
        _, end = run_ts(tmp_path, srv, work,
                        systemPrompt={"type": "preset", "preset": "claude_code", "append": "Always answer in French."})
    assert end["kind"] == "end", end
    system = json.dumps(srv.requests[0].json["system"])
    assert BASE_PROMPT_START in system and "Always answer in French." in system


def test_no_system_prompt_option_means_no_base_prompt(tmp_path: Path, work: Path) -> None:
    """The SDK's default sends [""]: Claude Code then runs without its base prompt, and so does claw."""
    with ModelServer([reply(text="ok")]) as srv:
        _, end = run_ts(tmp_path, srv, work)
    assert end["kind"] == "end", end
    assert BASE_PROMPT_START not in json.dumps(srv.requests[0].json["system"])


@pytest.mark.parametrize("options, flag", [
    ({"taskBudget": {"total": 10000}}, "--task-budget"),
])
def test_unsupported_options_fail_naming_the_flag(tmp_path: Path, work: Path, options: Dict[str, Any],
                                                  flag: str) -> None:
    with ModelServer([reply(text="never")]) as srv:
        messages, end = run_ts(tmp_path, srv, work, **options)
    assert end["kind"] == "error"
    assert f"{flag} is not supported by this claw version yet" in end["message"]
    assert srv.requests == []  # refused before any request


def test_the_plugins_option_loads_a_local_plugin(tmp_path: Path, work: Path) -> None:
    """``plugins: [{type: "local", path}]`` arrives as ``--plugin-dir`` (``skipMcpDiscovery`` as
    ``--plugin-dir-no-mcp``): init lists the plugins and the plugin's command expands."""
    market = ROOT / "tests" / "fixtures" / "plugins" / "marketplace"
    plugins = [{"type": "local", "path": str(market / "cc-demo"), "skipMcpDiscovery": True},
               {"type": "local", "path": str(market / "cc-tools")}]
    with ModelServer([reply(text="hello")]) as srv:
        messages, end = run_ts(tmp_path, srv, work, "/cc-demo:hello Ts", plugins=plugins)
    assert end["kind"] == "end", end
    assert sorted(messages[0]["plugins"], key=lambda p: p["name"]) == [{"name": "cc-demo", "path": str((market / "cc-demo").resolve())},
                                      {"name": "cc-tools", "path": str((market / "cc-tools").resolve())}]
    assert messages[0]["mcp_servers"] == [] and "word_count" in messages[0]["tools"]
    assert srv.requests[0].json["messages"][0]["content"][0]["text"] == "Say hello to Ts from the cc-demo plugin.\n"


def test_output_format_json_schema_gives_structured_output(tmp_path: Path, work: Path) -> None:
    """outputFormat arrives as --json-schema and as initialize's jsonSchema; the first answer breaks the
    schema, the model reads why and corrects it."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
              "required": ["city", "population"], "additionalProperties": False}
    script = [reply(tool_uses=[tool_use("StructuredOutput", {"city": "Paris", "population": "2M"})]),
              reply(tool_uses=[tool_use("StructuredOutput", {"city": "Paris", "population": 2102650})])]
    with ModelServer(script) as srv:
        messages, end = run_ts(tmp_path, srv, work, outputFormat={"type": "json_schema", "schema": schema})
    assert end["kind"] == "end", end
    result = _result(messages)
    assert result["subtype"] == "success" and result["structured_output"] == {"city": "Paris", "population": 2102650}
    retry = srv.requests[1].json["messages"][-1]["content"][0]
    assert retry["is_error"] is True and "/population: must be integer" in json.dumps(retry["content"])


def test_output_format_never_matched_is_an_error_the_sdk_reports(tmp_path: Path, work: Path) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    with ModelServer([reply(text="I would rather talk.")] * 5) as srv:
        messages, end = run_ts(tmp_path, srv, work, outputFormat={"type": "json_schema", "schema": schema})
    result = _result(messages)
    assert result["subtype"] == "error_max_structured_output_retries" and result["is_error"] is True
    assert "Failed to provide valid structured output after 5 attempts" in result["errors"][0]
    assert len(srv.requests) == 5
def test_max_budget_usd_ends_with_error_max_budget_usd(tmp_path: Path, work: Path) -> None:
    usage = {"input_tokens": 1000, "output_tokens": 100}  # $0.003 on the default model
    with ModelServer([reply(tool_uses=[tool_use("Bash", {"command": "true"})], usage=usage),
                      reply(text="never", usage=usage)]) as srv:
        messages, end = run_ts(tmp_path, srv, work, maxBudgetUsd=0.001, permissionMode="bypassPermissions",
                               allowDangerouslySkipPermissions=True)
        sent = len(srv.requests)
    result = _result(messages)
    assert result["subtype"] == "error_max_budget_usd" and result["is_error"] is True
    assert result["errors"] == ["Reached maximum budget ($0.001)"]
    assert sent == 1


def test_fallback_model_answers_when_the_model_is_not_found(tmp_path: Path, work: Path) -> None:
    from tests.fakes.model_server import error

    with ModelServer([error(404, "not_found_error", "model: claude-opus-5-5"), reply(text="from haiku")]) as srv:
        messages, end = run_ts(tmp_path, srv, work, model="opus", fallbackModel="haiku")
    notice = [m for m in messages if m.get("type") == "system" and m.get("subtype") == "model_fallback"]
    assert notice and notice[0]["fallback_model"] == "claude-haiku-5-5"
    result = _result(messages)
    assert result["subtype"] == "success" and result["result"] == "from haiku"
    assert set(result["modelUsage"]) == {"claude-opus-5-5", "claude-haiku-5-5"}


@pytest.mark.skipif(shutil.which("bwrap") is None and not os.environ.get("CI"), reason="needs bubblewrap")
def test_the_sandbox_option_confines_bash(tmp_path: Path, work: Path) -> None:
    """The SDK's ``sandbox`` option arrives as settings: bash runs in the sandbox, without asking
    (autoAllowBashIfSandboxed), and cannot write outside the workspace."""
    outside = Path("/etc") / f"claw-sdk-escape-{os.getpid()}"
    command = f"echo in > inside.txt; echo out > {outside}; echo status=$?"
    script = [reply(tool_uses=[tool_use("bash", {"command": command}, id="t1")]), reply(text="done")]
    try:
        with ModelServer(script) as srv:
            messages, end = run_ts(tmp_path, srv, work, sandbox={"enabled": True})
    finally:
        escaped = outside.exists()
        outside.unlink(missing_ok=True)
    assert end["kind"] == "end", end
    assert not escaped
    assert (work / "inside.txt").read_text() == "in\n"
    assert "Read-only file system" in json.dumps(srv.requests[1].json["messages"][-1])


def test_a_subagent_from_the_agents_option(tmp_path: Path, work: Path) -> None:
    """The TypeScript SDK's ``agents`` option arrives in initialize: the subagent runs with its own prompt
    and tools, and the SDK receives its messages with the agent call's ``parent_tool_use_id``."""
    agents = {"reviewer": {"description": "Reviews code", "prompt": "MARKER_TS_REVIEW You review code.",
                           "tools": ["Read", "Grep"]}}
    call = tool_use("agent", {"description": "review", "prompt": "review main.py", "subagent_type": "reviewer"},
                    id="toolu_ts_review")
    routes = {"MARKER_TS_REVIEW": [reply(text="main.py is fine")]}
    with ModelServer([reply(tool_uses=[call]), reply(text="reviewed: fine")], handler=by_system_prompt(routes)) as srv:
        messages, end = run_ts(tmp_path, srv, work, "review my code", agents=agents)
    assert end["kind"] == "end", end
    assert "reviewer" in messages[0]["agents"]
    child = [m for m in messages if m.get("parent_tool_use_id") == "toolu_ts_review"]
    assert [m["type"] for m in child] == ["user", "assistant"]
    assert child[-1]["message"]["content"][0]["text"] == "main.py is fine"
    assert _result(messages)["result"] == "reviewed: fine"
    review = [r for r in srv.requests if "MARKER_TS_REVIEW" in json.dumps(r.json["system"])]
    assert len(review) == 1 and {t["name"] for t in review[0].json["tools"]} == {"read_file", "grep_search"}


def test_set_max_thinking_tokens_through_the_query(tmp_path: Path, work: Path) -> None:
    steps = [{"prompt": "one"}, {"method": "setMaxThinkingTokens", "args": [4096]}, {"prompt": "two"},
             {"method": "setMaxThinkingTokens", "args": [0]}, {"prompt": "three"}]
    with ModelServer([reply(text="1"), reply(text="2"), reply(text="3")]) as srv:
        messages, end = run_ts(tmp_path, srv, work, steps=steps)
        sent = [r.json.get("thinking") for r in srv.requests]
    assert end["kind"] == "end", end
    assert [c.get("error") for c in run_ts.method_calls] == [None, None]
    assert sent == [None, {"type": "enabled", "budget_tokens": 4096}, None]


def test_get_context_usage_through_the_query(tmp_path: Path, work: Path) -> None:
    steps = [{"prompt": "one"}, {"method": "getContextUsage"}]
    with ModelServer([reply(text="1", usage={"input_tokens": 30_000, "output_tokens": 10})]) as srv:
        messages, end = run_ts(tmp_path, srv, work, steps=steps)
    assert end["kind"] == "end", end
    [call] = run_ts.method_calls
    usage = call["result"]
    messages_row = next(c for c in usage["categories"] if c["id"] == "messages")
    assert messages_row["tokens"] > 20_000  # the provider's count of the turn, not an estimate of "one"
    assert usage["totalTokens"] == sum(c["tokens"] for c in usage["categories"] if c["kind"] == "used")
    assert usage["apiUsage"]["input_tokens"] == 30_000


def test_mcp_server_controls_through_the_query(tmp_path: Path, work: Path) -> None:
    raw = {"type": "stdio", "command": sys.executable, "args": ["-m", "tests.mcp.servers.raw_stdio_server"],
           "env": {"PYTHONPATH": str(ROOT)}}
    steps = [{"method": "setMcpServers", "args": [{"raw": raw}]},
             {"method": "toggleMcpServer", "args": ["raw", False]},
             {"method": "mcpServerStatus"},
             {"prompt": "without"},
             {"method": "toggleMcpServer", "args": ["raw", True]},
             {"method": "reconnectMcpServer", "args": ["raw"]},
             {"method": "reconnectMcpServer", "args": ["missing"]},
             {"prompt": "with"},
             {"method": "setMcpServers", "args": [{}]},
             {"method": "mcpServerStatus"}]
    with ModelServer([reply(text="1"), reply(text="2")]) as srv:
        messages, end = run_ts(tmp_path, srv, work, steps=steps)
        offered = [[t["name"] for t in r.json.get("tools", [])] for r in srv.requests]
    assert end["kind"] == "end", end
    calls = run_ts.method_calls
    assert calls[0]["result"] == {"added": ["raw"], "removed": [], "errors": {}}
    assert [(s["name"], s["status"]) for s in calls[2]["result"]] == [("raw", "disabled")]
    assert "mcp__raw__echo" not in offered[0] and "mcp__raw__echo" in offered[1]
    assert calls[3].get("error") is None and calls[4].get("error") is None  # toggled on, reconnected
    assert "'missing'" in calls[5]["error"]
    assert calls[6]["result"] == {"added": [], "removed": ["raw"], "errors": {}} and calls[7]["result"] == []


def test_rewind_files_through_the_query(tmp_path: Path, work: Path) -> None:
    steps = [{"prompt": "one"}, {"method": "rewindFiles", "args": ["some-message", {"dryRun": True}]}]
    with ModelServer([reply(text="1")]) as srv:
        messages, end = run_ts(tmp_path, srv, work, steps=steps)
    assert end["kind"] == "end", end
    [call] = run_ts.method_calls
    assert call["result"]["canRewind"] is False and call["result"]["error"]  # no such prompt: said, not thrown
