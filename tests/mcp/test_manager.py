"""Every server of a run: parallel start with a bounded wait, late servers, tool sync and filters,
status lists, resource tools and prompts as slash commands."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from claw.errors import UsageError
from claw.mcp.config import load_mcp_config
from claw.mcp.manager import McpManager, startup_wait_from_env, tool_filter
from claw.tools.base import ToolContext
from tests.mcp.helpers import PY, REPO, silent_stdio_server

RAW = ["-m", "tests.mcp.servers.raw_stdio_server"]


def manager_for(servers, **kw):
    env = dict(os.environ, PYTHONPATH=REPO)
    config = load_mcp_config(REPO, env, mcp_config=[json.dumps({"mcpServers": servers})], strict=True)
    return McpManager(config, env=env, cwd=REPO, **kw)


def test_bounded_start_pending_then_late_connect(monkeypatch):
    monkeypatch.setattr("claw.mcp.stdio.EXIT_WAIT", 0.3)
    servers = {
        "fast": {"command": PY, "args": RAW, "cwd": REPO},
        "late": {"command": PY, "args": RAW + ["--delay", "1.5"], "cwd": REPO},
        "silent": silent_stdio_server(),
        "broken": {"type": "http", "url": "${NO_SUCH_VARIABLE_FOR_CLAW}"},
    }

    async def main():
        manager = manager_for(servers, startup_wait=0.8, connect_timeout=3.0)
        tools = {"read_file": object()}
        manager.bind(tools, allow=tool_filter(disallowed=["mcp__fast__tool_1"]))
        started = time.monotonic()
        await manager.start()
        elapsed = time.monotonic() - started
        try:
            assert elapsed < 3.0  # the wait is bounded; the slow ones do not hold it up
            status = {s["name"]: s["status"] for s in manager.status()}
            assert status == {"fast": "connected", "late": "pending", "silent": "pending", "broken": "failed"}
            assert "mcp__fast__echo" in tools and "mcp__fast__tool_1" not in tools
            assert "mcp__late__echo" not in tools
            assert "read_file" in tools and "list_mcp_resources" in tools
            await manager.wait_ready(10)
            status = {s["name"]: s["status"] for s in manager.status()}
            assert status["late"] == "connected" and status["silent"] == "failed"
            assert "mcp__late__echo" in tools  # joined the run's tool set when it connected
            detail = {s["name"]: s for s in manager.status(detail=True)}
            assert "NO_SUCH_VARIABLE_FOR_CLAW" in detail["broken"]["error"]
            assert detail["fast"]["config"] == {"type": "stdio", "command": PY, "args": RAW}
            assert "no answer within 3s" in detail["silent"]["error"]
        finally:
            await manager.aclose()

    asyncio.run(main())


def test_resource_tools_prompts_and_conflicts():
    async def main():
        manager = manager_for({"raw": {"command": PY, "args": RAW, "cwd": REPO}})
        tools = {"mcp__raw__echo": "a built-in that got there first"}
        manager.bind(tools)
        await manager.start()
        try:
            assert tools["mcp__raw__echo"] == "a built-in that got there first"
            assert any("mcp__raw__echo" in w for w in manager.warnings)
            ctx = ToolContext(cwd=REPO)
            listing = await tools["list_mcp_resources"].run({}, ctx)
            assert [r["uri"] for r in json.loads(listing.content)] == ["raw://notes", "raw://logo"]
            assert json.loads(listing.content)[0]["server"] == "raw"
            read = tools["read_mcp_resource"]
            assert (await read.run({"server": "raw", "uri": "raw://notes"}, ctx)).content == "the notes"
            blob = await read.run({"server": "raw", "uri": "raw://logo"}, ctx)
            assert blob.content == "[resource raw://logo: image/png, 3 bytes]"
            unknown = await read.run({"server": "nope", "uri": "x"}, ctx)
            assert unknown.is_error and "nope" in unknown.content
            commands = manager.prompt_commands()
            assert [c.name for c in commands] == ["mcp__raw__greet"]
            assert commands[0].usage == "/mcp__raw__greet <who> [tone]"
            text = await manager.run_prompt("/mcp__raw__greet", "Ada warm and kind")
            assert text == "Greet Ada in a warm and kind tone"
            with pytest.raises(UsageError, match="who"):
                await manager.run_prompt("mcp__raw__greet", "")
            with pytest.raises(UsageError):
                await manager.run_prompt("mcp__raw__nothing", "")
        finally:
            await manager.aclose()

    asyncio.run(main())


def test_startup_wait_from_env():
    assert startup_wait_from_env({}) == 10.0
    assert startup_wait_from_env({"MCP_TIMEOUT": "2500"}) == 2.5
    assert startup_wait_from_env({"CLAW_MCP_TIMEOUT": "1000", "MCP_TIMEOUT": "2500"}) == 1.0
    assert startup_wait_from_env({"MCP_TIMEOUT": "soon"}) == 10.0


def test_no_servers_costs_nothing():
    async def main():
        manager = manager_for({})
        tools = {}
        manager.bind(tools)
        await manager.start()
        await manager.aclose()
        return tools, manager.status()

    assert asyncio.run(main()) == ({}, [])
