"""The host vocabulary table (claw.cli.host_vocabulary) against the Agent SDK's own typings and claw's
real tools: every name a host sees is one of Claude Code's tools, every field a host sees is one of
that tool's input fields, every input a host sends back in those fields is accepted by claw's tool,
and the names round-trip through the registry that resolves --allowedTools and permission rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from claw.cli import host_vocabulary as vocab
from claw.tools.registry import BUILTIN_NAMES, canonical_tool_name, get_tool, resolve_tool_names
from tests.sdk.dts import Checker, read_declarations, sdk_typings_dir

ROOT = Path(__file__).resolve().parents[2]
TYPINGS = sdk_typings_dir(ROOT)
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
needs_typings = pytest.mark.skipif(not (TYPINGS / "sdk.d.ts").is_file() and not IN_CI,
                                   reason="the TypeScript SDK's typings are not installed")

# Claude Code's input declaration of each host tool name (sdk-tools.d.ts)
INPUT_TYPES = {"Bash": "BashInput", "Read": "FileReadInput", "Write": "FileWriteInput", "Edit": "FileEditInput",
               "Glob": "GlobInput", "Grep": "GrepInput", "WebFetch": "WebFetchInput", "WebSearch": "WebSearchInput",
               "TodoWrite": "TodoWriteInput", "ListMcpResourcesTool": "ListMcpResourcesInput",
               "ReadMcpResourceTool": "ReadMcpResourceInput", "TaskStop": "TaskStopInput", "Agent": "AgentInput",
               "NotebookEdit": "NotebookEditInput", "ExitPlanMode": "ExitPlanModeInput",
               "AskUserQuestion": "AskUserQuestionInput"}
# claw tools whose Claude Code name is no longer in the SDK's list (Claude Code dropped BashOutput/
# TaskOutput): hosts see that older name, which the SDK passes through as any tool name.
NOT_IN_THE_SDK = {"bash_output"}
# Fields of claw's tools that Claude Code's tool lacks (documented in docs/EMBEDDING.md): the host
# sees them as they are.
CLAW_ONLY_FIELDS = {"edit_file": {"edits"}, "notebook_edit": {"cell_number"},
                    "exit_plan_mode": {"plan"}}  # plan: ExitPlanModeInput's [k: string]


@pytest.fixture(scope="module")
def checker() -> Checker:
    return Checker(read_declarations(TYPINGS / "sdk.d.ts", TYPINGS / "sdk-tools.d.ts"))


@needs_typings
def test_every_builtin_tool_has_a_claude_code_name_from_the_sdks_list(checker):
    text = (TYPINGS / "sdk.d.ts").read_text()
    builtin = text[text.index("BUILTIN_TOOL_NAMES"):].split("]", 1)[0]
    for name in BUILTIN_NAMES:
        host = vocab.host_tool_name(name)
        if name in NOT_IN_THE_SDK:
            assert host != name and f"'{host}'" not in builtin, (name, host)
            continue
        assert host != name and f"'{host}'" in builtin, (name, host)
        assert host in INPUT_TYPES


@needs_typings
def test_every_field_a_host_sees_is_a_field_of_claude_codes_tool(checker):
    for name in BUILTIN_NAMES:
        if name in NOT_IN_THE_SDK:
            continue
        host = vocab.host_tool_name(name)
        declared = checker.field_names(INPUT_TYPES[host])
        assert declared, host
        schema = get_tool(name).spec.input_schema["properties"]
        seen = set(vocab.host_input(name, {field: None for field in schema}))
        extra = seen - set(declared) - CLAW_ONLY_FIELDS.get(name, set())
        assert not extra, f"{name} -> {host}: fields {sorted(extra)} are not in {INPUT_TYPES[host]}"
        required = {f for f, optional in declared.items() if not optional}
        missing = required - seen - {"prompt"}  # WebFetch's prompt is optional in claw (it fetches the page)
        assert not missing, f"{host} requires {sorted(missing)}, which claw's {name} does not have"


@needs_typings
def test_the_sdks_permission_modes_and_key_sources_cover_what_claw_reports(checker):
    modes = checker.literals("PermissionMode")
    for mode in ("read-only", "workspace-write", "danger-full-access", "default", "dontAsk"):
        assert vocab.host_permission_mode(mode) in modes
    sources = checker.literals("ApiKeySource")
    assert set(vocab.API_KEY_SOURCES) <= set(sources)
    for description in ("x-api-key from ANTHROPIC_API_KEY", "x-api-key from apiKeyHelper",
                        "OAuth bearer token from saved login (/x/credentials.json)",
                        "bearer token from ANTHROPIC_AUTH_TOKEN", "no credentials", "none", "",
                        "bearer token from OPENAI_API_KEY",
                        "x-api-key from ANTHROPIC_API_KEY + bearer token from ANTHROPIC_AUTH_TOKEN"):
        assert vocab.host_api_key_source(description) in sources, description


def test_translating_twice_changes_nothing():
    init = {"type": "system", "subtype": "init", "tools": ["bash", "read_file"], "permissionMode": "read-only",
            "apiKeySource": "x-api-key from ANTHROPIC_API_KEY"}
    once = vocab.host_message(init)
    assert vocab.host_message(once) == once
    assert once["apiKeySource"] == "ANTHROPIC_API_KEY" and once["claw_permission_mode"] == "read-only"


def test_api_key_sources_map_as_claude_code_reports_them():
    assert vocab.host_api_key_source("x-api-key from ANTHROPIC_API_KEY") == "ANTHROPIC_API_KEY"
    assert vocab.host_api_key_source("bearer token from ANTHROPIC_AUTH_TOKEN") == "none"
    assert vocab.host_api_key_source("no credentials") == "none"
    assert vocab.host_api_key_source("x-api-key from apiKeyHelper") == "apiKeyHelper"
    assert vocab.host_api_key_source("OAuth bearer token from saved login (/x)") == "oauth"
    assert vocab.host_api_key_source("bearer token from OPENAI_API_KEY") == "user"


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_claws_tools_accept_the_input_a_host_sends_back(name, tmp_path):
    """A host's updatedInput, in Claude Code's fields, read back and validated by claw's real tool."""
    samples = {
        "bash": {"command": "true", "timeout": 1000, "description": "d", "run_in_background": False},
        "read_file": {"path": "a.txt", "offset": 1, "limit": 2},
        "write_file": {"path": "a.txt", "content": "x"},
        "edit_file": {"path": "a.txt", "old_string": "a", "new_string": "b", "replace_all": True},
        "notebook_edit": {"notebook_path": "n.ipynb", "cell_id": "c1", "new_source": "x", "cell_type": "code",
                          "edit_mode": "insert"},
        "glob_search": {"pattern": "*", "path": "."},
        "grep_search": {"pattern": "x", "path": ".", "glob": "*.py", "-i": True},
        "web_fetch": {"url": "https://example.com", "prompt": "p"},
        "web_search": {"query": "claw docs"},
        "todo_write": {"todos": [{"content": "a", "status": "pending", "activeForm": "doing a"}]},
        "bash_output": {"bash_id": "bash_1", "filter": "^x"},
        "kill_shell": {"shell_id": "bash_1"},
        "agent": {"description": "find it", "prompt": "find the config", "subagent_type": "general-purpose"},
        "exit_plan_mode": {"plan": "1. do it"},
        "ask_user_question": {"questions": [{"question": "Which?", "header": "Pick", "multiSelect": False,
                                             "options": [{"label": "a", "description": "A"},
                                                         {"label": "b", "description": "B"}]}],
                              "answers": {"Which?": "a"}},
    }
    original = samples[name]
    host = vocab.host_input(name, original)
    back = vocab.claw_input(vocab.host_tool_name(name, original), host)
    assert back == original
    tool = get_tool(name)
    assert tool.validate(host) == tool.validate(back)  # the tools read Claude Code's fields directly too


def test_names_round_trip_through_the_registry():
    for name in BUILTIN_NAMES:
        host = vocab.host_tool_name(name)
        assert vocab.claw_tool_name(host) == name
        assert canonical_tool_name(host) == name  # --allowedTools, --tools, permission rules, hook matchers
    assert resolve_tool_names(["Bash", "Read", "MultiEdit"]) == ["bash", "read_file", "edit_file"]
    assert vocab.host_tool_name("edit_file", {"path": "a", "edits": []}) == "MultiEdit"
    assert vocab.host_tool_name("mcp__calc__add") == "mcp__calc__add" == vocab.claw_tool_name("mcp__calc__add")
    assert vocab.host_tool_name("read_mcp_resource") == "ReadMcpResourceTool"


def test_a_field_given_under_both_names_keeps_claws():
    assert vocab.claw_input("Read", {"file_path": "host", "path": "claw"}) == {"path": "claw"}
    assert vocab.claw_input("Bash", {"command": "x"}) == {"command": "x"}
    assert vocab.claw_input("Write", "not a dict") == "not a dict"


def test_outgoing_messages_are_translated_and_others_pass_unchanged():
    assistant = {"type": "assistant", "message": {"content": [
        {"type": "text", "text": "x"}, {"type": "tool_use", "id": "t", "name": "write_file",
                                        "input": {"path": "a", "content": "b"}}]}}
    out = vocab.host_message(assistant)
    assert out["message"]["content"][1] == {"type": "tool_use", "id": "t", "name": "Write",
                                            "input": {"file_path": "a", "content": "b"}}
    assert assistant["message"]["content"][1]["name"] == "write_file"  # the original is left alone
    start = {"type": "stream_event", "event": {"type": "content_block_start", "index": 0,
                                               "content_block": {"type": "tool_use", "id": "t", "name": "bash",
                                                                 "input": {}}}}
    assert vocab.host_message(start)["event"]["content_block"]["name"] == "Bash"
    result = {"type": "result", "permission_denials": [],
              "tool_uses": [{"id": "e", "name": "edit_file", "input": {"path": "a", "edits": []}}],
              "tool_results": [{"tool_use_id": "e", "tool_name": "edit_file", "output": "ok", "is_error": False}]}
    translated = vocab.host_message(result)
    assert translated["tool_uses"][0]["name"] == translated["tool_results"][0]["tool_name"] == "MultiEdit"
    other = {"type": "control_response", "response": {}}
    assert vocab.host_message(other) is other


@needs_typings
def test_the_structured_result_of_kill_shell_is_the_sdks_task_stop_output(checker):
    from claw.cli.sdk_shapes import tool_use_result

    result = tool_use_result("kill_shell", {"shell_id": "bash_1"}, "Killed shell bash_1 (sleep 9).",
                             {"shell_id": "bash_1", "command": "sleep 9"})
    assert checker.check(result, "TaskStopOutput") == []
    assert result["task_id"] == "bash_1" and result["command"] == "sleep 9"
