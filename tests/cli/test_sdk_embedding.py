"""claw behind the real Claude Agent SDK (claude_agent_sdk, installed in the test venv).

Each test points ``ClaudeAgentOptions(cli_path=...)`` at a wrapper script that runs the claw source
tree, and claw at the scripted fake model server, then drives it with the SDK's public API:
``query()`` one-shot, ``ClaudeSDKClient`` multi-turn, a ``can_use_tool`` callback, a PreToolUse hook
callback, ``interrupt()`` during a slow stream, and an in-process SDK MCP tool.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Dict, List

import pytest

from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    HookMatcher,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    SystemMessage,
    TextBlock,
    UserMessage,
    create_sdk_mcp_server,
    query,
    tool,
)
from claw import CLAUDE_CODE_PROTOCOL_VERSION, __version__
from tests.fakes.claw_wrapper import write_claw_wrapper
from tests.fakes.model_server import ModelServer, reply, tool_use

TIMEOUT = 60  # a hang fails the test instead of the suite


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    return work


@pytest.fixture
def claw_cli(tmp_path: Path) -> Path:
    return write_claw_wrapper(tmp_path / "bin")


def _options(cli: Path, srv: ModelServer, work: Path, stderr: List[str], **kw: Any) -> ClaudeAgentOptions:
    env = srv.env(CLAW_CONFIG_HOME=str(work.parent / "claw-home"))
    return ClaudeAgentOptions(cli_path=str(cli), cwd=str(work), env=env, stderr=stderr.append, **kw)


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def _tool_results(request_json: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """tool_use_id -> tool_result block, from the last user message of a recorded model request."""
    last = request_json["messages"][-1]
    return {b["tool_use_id"]: b for b in last["content"] if b.get("type") == "tool_result"}


def _text(block: Dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, list):
        return "".join(c.get("text", "") for c in content)
    return str(content)


def test_query_one_shot(claw_cli, workspace, caplog):
    stderr: List[str] = []
    caplog.set_level(logging.WARNING, logger="claude_agent_sdk")

    async def main():
        with ModelServer([reply(text="Hello from the fake model")]) as srv:
            messages = [m async for m in query(prompt="Say hello", options=_options(claw_cli, srv, workspace, stderr))]
            return messages, srv.requests

    messages, requests = _run(main())
    init = messages[0]
    assert isinstance(init, SystemMessage) and init.subtype == "init"
    assert init.data["claude_code_version"] == CLAUDE_CODE_PROTOCOL_VERSION
    assert init.data["claw_version"] == __version__
    assert init.data["cwd"] == str(workspace)
    texts = [b.text for m in messages if isinstance(m, AssistantMessage) for b in m.content if isinstance(b, TextBlock)]
    assert texts == ["Hello from the fake model"]
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    assert result.is_error is False and result.subtype == "success"
    assert result.result == "Hello from the fake model"
    assert result.session_id == init.data["session_id"] and result.num_turns == 1
    assert not any(isinstance(m, UserMessage) for m in messages)  # the prompt is not echoed back
    assert len(requests) == 1
    assert requests[0].json["messages"][0]["content"][0]["text"] == "Say hello"
    # the SDK accepted claw's version without a warning
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [r.getMessage() for r in caplog.records]


def test_client_multi_turn_keeps_history(claw_cli, workspace):
    stderr: List[str] = []

    async def main():
        with ModelServer([reply(text="first answer"), reply(text="second answer")]) as srv:
            async with ClaudeSDKClient(_options(claw_cli, srv, workspace, stderr)) as client:
                info = await client.get_server_info()
                await client.query("first question")
                first = [m async for m in client.receive_response()]
                await client.query("second question")
                second = [m async for m in client.receive_response()]
            return info, first, second, srv.requests

    info, first, second, requests = _run(main())
    assert info["claude_code_version"] == CLAUDE_CODE_PROTOCOL_VERSION
    assert isinstance(first[-1], ResultMessage) and first[-1].result == "first answer"
    assert isinstance(second[-1], ResultMessage) and second[-1].result == "second answer"
    assert first[-1].session_id == second[-1].session_id
    assert len(requests) == 2
    history = requests[1].json["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    assert history[0]["content"][0]["text"] == "first question"
    assert history[1]["content"][0]["text"] == "first answer"
    assert history[2]["content"][0]["text"] == "second question"


def test_can_use_tool_allows_one_tool_and_denies_another(claw_cli, workspace):
    stderr: List[str] = []
    asked: List[Dict[str, Any]] = []

    async def can_use_tool(name, tool_input, context):
        asked.append({"name": name, "input": tool_input, "tool_use_id": context.tool_use_id})
        if name == "Write":  # Claude Code's tool names, as a host written for Claude Code checks them
            return PermissionResultAllow()  # the SDK sends the input back: Claude Code's field names
        return PermissionResultDeny(message="no shell for you")

    script = [
        reply(tool_uses=[tool_use("write_file", {"path": "allowed.txt", "content": "written"}, id="toolu_write"),
                         tool_use("bash", {"command": "touch denied-marker"}, id="toolu_bash")]),
        reply(text="done"),
    ]

    async def main():
        with ModelServer(script) as srv:
            opts = _options(claw_cli, srv, workspace, stderr, permission_mode="default", can_use_tool=can_use_tool)
            async with ClaudeSDKClient(opts) as client:
                await client.query("write a file, then touch a marker")
                messages = [m async for m in client.receive_response()]
            return messages, srv.requests

    messages, requests = _run(main())
    assert [a["name"] for a in asked] == ["Write", "Bash"]
    assert asked[0]["input"] == {"file_path": "allowed.txt", "content": "written"}
    assert asked[0]["tool_use_id"] == "toolu_write" and asked[1]["input"] == {"command": "touch denied-marker"}
    assert (workspace / "allowed.txt").read_text() == "written"
    assert not (workspace / "denied-marker").exists()
    results = _tool_results(requests[1].json)
    assert not results["toolu_write"].get("is_error")
    assert results["toolu_bash"]["is_error"] is True
    assert "no shell for you" in _text(results["toolu_bash"])
    result = messages[-1]
    assert isinstance(result, ResultMessage) and result.result == "done"
    assert [d["tool_use_id"] for d in result.permission_denials] == ["toolu_bash"]
    # the SDK saw the tool results as user messages
    user_results = [b for m in messages if isinstance(m, UserMessage) and isinstance(m.content, list)
                    for b in m.content]
    assert {b.tool_use_id for b in user_results} == {"toolu_write", "toolu_bash"}


def test_pre_tool_use_hook_callback_blocks_a_tool(claw_cli, workspace):
    stderr: List[str] = []
    seen: List[Dict[str, Any]] = []

    async def guard(hook_input, tool_use_id, context):
        seen.append(dict(hook_input))
        if "rm" in hook_input["tool_input"].get("command", ""):
            return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                           "permissionDecisionReason": "rm is not allowed here"}}
        return {}

    (workspace / "precious.txt").write_text("keep me")
    script = [
        reply(tool_uses=[tool_use("bash", {"command": "rm precious.txt"}, id="toolu_rm")]),
        reply(tool_uses=[tool_use("bash", {"command": "echo fine > ok.txt"}, id="toolu_ok")]),
        reply(text="finished"),
    ]

    async def main():
        with ModelServer(script) as srv:
            opts = _options(claw_cli, srv, workspace, stderr, permission_mode="bypassPermissions",
                            hooks={"PreToolUse": [HookMatcher(matcher="Bash", hooks=[guard])]})
            messages = [m async for m in query(prompt="clean up", options=opts)]
            return messages, srv.requests

    messages, requests = _run(main())
    assert (workspace / "precious.txt").read_text() == "keep me"
    assert (workspace / "ok.txt").read_text().strip() == "fine"
    assert [s["tool_use_id"] for s in seen] == ["toolu_rm", "toolu_ok"]
    assert seen[0]["hook_event_name"] == "PreToolUse" and seen[0]["tool_name"] == "Bash"
    blocked = _tool_results(requests[1].json)["toolu_rm"]
    assert blocked["is_error"] is True and "rm is not allowed here" in _text(blocked)
    assert not _tool_results(requests[2].json)["toolu_ok"].get("is_error")
    result = messages[-1]
    assert isinstance(result, ResultMessage) and result.result == "finished" and not result.is_error


def test_a_hook_rewrites_reads_file_path_and_hook_events_reach_the_sdk(claw_cli, workspace):
    """A hook written for Claude Code reads and rewrites Read's file_path; with include_hook_events the
    SDK gets HookEventMessage objects; user messages carry the structured tool_use_result."""
    from claude_agent_sdk.types import HookEventMessage

    stderr: List[str] = []
    seen: List[Dict[str, Any]] = []
    (workspace / "asked.txt").write_text("what the model asked for\n")
    (workspace / "instead.txt").write_text("what the hook chose\n")

    async def redirect(hook_input, tool_use_id, context):
        seen.append(dict(hook_input))
        updated = dict(hook_input["tool_input"], file_path="instead.txt")
        return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "updatedInput": updated}}

    script = [reply(tool_uses=[tool_use("read_file", {"path": "asked.txt"}, id="toolu_read")]), reply(text="ok")]

    async def main():
        with ModelServer(script) as srv:
            opts = _options(claw_cli, srv, workspace, stderr, permission_mode="bypassPermissions",
                            include_hook_events=True,
                            hooks={"PreToolUse": [HookMatcher(matcher="Read", hooks=[redirect])]})
            messages = [m async for m in query(prompt="read it", options=opts)]
            return messages, srv.requests

    messages, requests = _run(main())
    assert seen[0]["tool_name"] == "Read" and seen[0]["tool_input"] == {"file_path": "asked.txt"}
    assert "what the hook chose" in _text(_tool_results(requests[1].json)["toolu_read"])
    events = [m for m in messages if isinstance(m, HookEventMessage)]
    assert [(e.subtype, e.hook_event_name) for e in events] == [("hook_started", "PreToolUse"),
                                                                ("hook_response", "PreToolUse")]
    [user] = [m for m in messages if isinstance(m, UserMessage)]
    assert user.tool_use_result["file"]["filePath"].endswith("instead.txt")


def test_interrupt_during_a_slow_stream(claw_cli, workspace):
    stderr: List[str] = []
    slow = reply(text="tick " * 400, text_chunk=5, delay=0.02)  # ~80 events, ~2 s if not interrupted

    async def main():
        with ModelServer([slow, reply(text="after the interrupt")]) as srv:
            opts = _options(claw_cli, srv, workspace, stderr, include_partial_messages=True)
            async with ClaudeSDKClient(opts) as client:
                await client.query("talk slowly")
                first: List[Any] = []
                async for message in client.receive_response():
                    first.append(message)
                    if sum(1 for m in first if type(m).__name__ == "StreamEvent") == 3:
                        await client.interrupt()
                await client.query("are you still there?")
                second = [m async for m in client.receive_response()]
            return first, second, srv.requests

    first, second, requests = _run(main())
    result = first[-1]
    assert isinstance(result, ResultMessage)
    assert result.is_error is True and result.subtype == "error_during_execution"
    assert "interrupted" in (result.result or "")
    assert not any(isinstance(m, AssistantMessage) for m in first)  # the stream never completed
    assert isinstance(second[-1], ResultMessage) and second[-1].result == "after the interrupt"
    assert not second[-1].is_error
    assert len(requests) == 2
    assert requests[1].json["messages"][-1]["content"][0]["text"] == "are you still there?"


def test_in_process_sdk_mcp_tool_called_by_the_model(claw_cli, workspace):
    stderr: List[str] = []
    calls: List[Dict[str, Any]] = []

    @tool("add", "Add two numbers", {"a": float, "b": float})
    async def add(args):
        calls.append(dict(args))
        return {"content": [{"type": "text", "text": f"sum={args['a'] + args['b']:g}"}]}

    calc = create_sdk_mcp_server("calc", tools=[add])
    script = [
        reply(tool_uses=[tool_use("mcp__calc__add", {"a": 2, "b": 3}, id="toolu_add")]),
        reply(text="2 + 3 = 5"),
    ]

    async def main():
        with ModelServer(script) as srv:
            opts = _options(claw_cli, srv, workspace, stderr, mcp_servers={"calc": calc},
                            allowed_tools=["mcp__calc__add"], permission_mode="default")
            messages = [m async for m in query(prompt="add 2 and 3", options=opts)]
            return messages, srv.requests

    messages, requests = _run(main())
    init = messages[0]
    assert isinstance(init, SystemMessage) and "mcp__calc__add" in init.data["tools"]
    assert init.data["mcp_servers"] == [{"name": "calc", "status": "connected"}]
    offered = {t["name"]: t for t in requests[0].json["tools"]}
    assert offered["mcp__calc__add"]["description"] == "Add two numbers"
    assert set(offered["mcp__calc__add"]["input_schema"]["properties"]) == {"a", "b"}
    assert calls == [{"a": 2, "b": 3}]
    block = _tool_results(requests[1].json)["toolu_add"]
    assert not block.get("is_error") and _text(block) == "sum=5"
    assert isinstance(messages[-1], ResultMessage) and messages[-1].result == "2 + 3 = 5"


def test_output_format_gives_structured_output(claw_cli, workspace):
    """The Python SDK's ``output_format`` (``--json-schema``): the model's StructuredOutput call is the
    result's ``structured_output``, and the SDK reads the terminal reason."""
    stderr: List[str] = []
    schema = {"type": "object", "properties": {"lines": {"type": "integer"}}, "required": ["lines"]}

    async def main():
        with ModelServer([reply(tool_uses=[tool_use("StructuredOutput", {"lines": 30})])]) as srv:
            options = _options(claw_cli, srv, workspace, stderr,
                               output_format={"type": "json_schema", "schema": schema})
            return [m async for m in query(prompt="Count the lines", options=options)], srv.requests

    messages, requests = _run(main())
    result = messages[-1]
    assert isinstance(result, ResultMessage) and result.subtype == "success", stderr
    assert result.structured_output == {"lines": 30} and result.terminal_reason == "completed"
    assert any(t["name"] == "StructuredOutput" and t["input_schema"] == schema for t in requests[0].json["tools"])


def test_a_subagent_from_the_sdks_agents_option(claw_cli, workspace):
    """``ClaudeAgentOptions(agents=...)``: the SDK sends the definitions in initialize; the model's agent
    call runs that subagent with its prompt and tools, its messages come tagged with the call's id and
    its cost is in the result."""
    from claude_agent_sdk import AgentDefinition

    from tests.fakes.model_server import by_system_prompt

    stderr: List[str] = []
    usage = {"input_tokens": 1000, "output_tokens": 100}
    agents = {"counter": AgentDefinition(description="Counts files", prompt="MARKER_COUNT You count files.",
                                         tools=["Glob"])}
    call = tool_use("agent", {"description": "count", "prompt": "count the files", "subagent_type": "counter"},
                    id="toolu_count")
    routes = {"MARKER_COUNT": [reply(tool_uses=[tool_use("glob_search", {"pattern": "*"})], usage=usage),
                               reply(text="there are no files", usage=usage)]}

    async def main():
        with ModelServer([reply(tool_uses=[call], usage=usage), reply(text="none", usage=usage)],
                         handler=by_system_prompt(routes)) as srv:
            options = _options(claw_cli, srv, workspace, stderr, agents=agents)
            messages = [m async for m in query(prompt="how many files?", options=options)]
            return messages, srv.requests

    messages, requests = _run(main())
    init = messages[0]
    assert "counter" in init.data["agents"]
    child = [m for m in messages if getattr(m, "parent_tool_use_id", None) == "toolu_count"]
    assert [type(m).__name__ for m in child] == ["UserMessage", "AssistantMessage", "UserMessage", "AssistantMessage"]
    assert child[-1].content[0].text == "there are no files"
    counted = [r for r in requests if "MARKER_COUNT" in str(r.json["system"])]
    assert len(counted) == 2 and [t["name"] for t in counted[0].json["tools"]] == ["glob_search"]
    tool_result = _tool_results(requests[-1].json)["toolu_count"]
    assert _text(tool_result) == "there are no files"
    result = messages[-1]
    assert isinstance(result, ResultMessage) and result.result == "none"
    assert result.usage["input_tokens"] == 4000  # the parent's two requests and the child's two
    parent_only = [m for m in messages if isinstance(m, AssistantMessage) and m.parent_tool_use_id is None]
    assert len(parent_only) == 2
    assert sum(u["inputTokens"] for u in result.model_usage.values()) == 4000


def test_the_plugins_option_loads_a_local_plugin(claw_cli, workspace):
    """``ClaudeAgentOptions(plugins=[{"type": "local", "path": ...}])`` arrives as ``--plugin-dir``: the
    init message lists the plugin and the model can call its manifest tool."""
    stderr: List[str] = []
    path = Path(__file__).resolve().parents[1] / "fixtures" / "plugins" / "marketplace" / "cc-tools"

    async def main():
        call = tool_use("word_count", {"text": "a b"}, id="toolu_wc")
        with ModelServer([reply(tool_uses=[call]), reply(text="done")]) as srv:
            options = _options(claw_cli, srv, workspace, stderr, plugins=[{"type": "local", "path": str(path)}])
            return [m async for m in query(prompt="count", options=options)], srv.requests

    messages, requests = _run(main())
    assert messages[0].data["plugins"] == [{"name": "cc-tools", "path": str(path.resolve())}], stderr
    assert _text(_tool_results(requests[1].json)["toolu_wc"]) == "2 words"
