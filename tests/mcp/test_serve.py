"""``claw mcp serve`` driven by the ``mcp`` package's client (and by claw's own client): the
handshake, the tool list per permission mode, calls, refusals, errors and cancellation."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from tests.mcp.helpers import PY, REPO, run, server, tool_text

SERVE = ["-m", "claw.cli.mcp_cmd", "serve"]


@pytest.fixture
def workspace(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("first line\nsecond line\n")
    (work / "src").mkdir()
    (work / "src" / "app.py").write_text("print('hi')\n")
    return work


def params(workspace, *flags):
    env = {"PYTHONPATH": REPO, "CLAW_CONFIG_HOME": str(workspace.parent / "home"), "HOME": str(workspace.parent)}
    return StdioServerParameters(command=sys.executable, args=SERVE + ["--cwd", str(workspace), *flags],
                                 env=env, cwd=REPO)


def text_of(result):
    return "\n".join(block.text for block in result.content if block.type == "text")


def test_read_only_by_default_with_the_mcp_client(workspace):
    async def main():
        async with stdio_client(params(workspace), errlog=sys.stderr) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                assert init.server_info.name == "claw"
                assert init.protocol_version == "2025-11-25"
                listed = {tool.name: tool for tool in (await session.list_tools()).tools}
                assert "read_file" in listed and "grep_search" in listed
                assert "bash" not in listed and "write_file" not in listed and "edit_file" not in listed
                assert "bash_output" not in listed and "kill_shell" not in listed  # they come with bash
                assert listed["read_file"].annotations.read_only_hint is True
                assert listed["read_file"].input_schema["required"] == ["path"]
                read_result = await session.call_tool("read_file", {"path": "notes.txt"})
                assert not read_result.is_error and "second line" in text_of(read_result)
                globbed = await session.call_tool("glob_search", {"pattern": "**/*.py"})
                assert "app.py" in text_of(globbed)
                bad_input = await session.call_tool("read_file", {})
                assert bad_input.is_error and "path" in text_of(bad_input)
                missing = await session.call_tool("read_file", {"path": "nope.txt"})
                assert missing.is_error
                with pytest.raises(MCPError, match="Unknown tool"):
                    await session.call_tool("bash", {"command": "echo hi"})

    asyncio.run(main())
    assert not (workspace / "created.txt").exists()


def test_workspace_write_mode(workspace):
    async def main():
        async with stdio_client(params(workspace, "--permission-mode", "acceptEdits"),
                                errlog=sys.stderr) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                listed = {tool.name: tool for tool in (await session.list_tools()).tools}
                assert "write_file" in listed and "bash" not in listed
                assert listed["write_file"].annotations.destructive_hint is True
                created = await session.call_tool("write_file", {"path": "created.txt", "content": "made\n"})
                assert not created.is_error, text_of(created)
                outside = await session.call_tool("write_file", {"path": str(workspace.parent / "escape.txt"),
                                                                 "content": "no"})
                assert outside.is_error and "Permission denied" in text_of(outside)

    asyncio.run(main())
    assert (workspace / "created.txt").read_text() == "made\n"
    assert not (workspace.parent / "escape.txt").exists()


def test_claw_client_against_claw_server_with_cancellation(workspace):
    pidfile = workspace / "sleep.pid"

    async def main():
        me = server("claw", {"command": PY, "args": SERVE + ["--cwd", str(workspace), "--permission-mode",
                                                             "danger-full-access"]},
                    env={"CLAW_CONFIG_HOME": str(workspace.parent / "home")})
        try:
            await me.connect()
            assert me.status == "connected", (me.error, me.diagnostics())
            assert "bash" in [t["name"] for t in me.tools]
            done = await me.call_tool("bash", {"command": "echo from bash"})
            assert tool_text(done).strip() == "from bash" and not done.get("isError")
            call = asyncio.ensure_future(me.call_tool("bash", {"command": f"echo $$ > {pidfile}; sleep 30"}))
            for _ in range(200):
                if pidfile.exists() and pidfile.read_text().strip():
                    break
                await asyncio.sleep(0.05)
            pid = int(pidfile.read_text())
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the cancelled bash command is still running")
            # the server keeps serving after a cancellation
            assert tool_text(await me.call_tool("read_file", {"path": "notes.txt"})).count("line") == 2
        finally:
            await me.aclose()

    run(main())


def test_raw_protocol_errors(workspace):
    import subprocess

    lines = [
        "not json",
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                    "params": {"protocolVersion": "1999-01-01", "capabilities": {}}}),
        json.dumps({"jsonrpc": "2.0", "id": 2, "method": "resources/list"}),
        json.dumps({"jsonrpc": "2.0", "id": 3, "method": "ping"}),
        json.dumps({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "nope"}}),
    ]
    env = dict(os.environ, PYTHONPATH=REPO, CLAW_CONFIG_HOME=str(workspace.parent / "home"))
    done = subprocess.run([PY] + SERVE + ["--cwd", str(workspace)], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    by_id = {a.get("id"): a for a in answers}
    assert by_id[None]["error"]["code"] == -32700
    assert by_id[1]["result"]["protocolVersion"] == "2025-11-25"  # not one claw speaks: it offers its own
    assert by_id[2]["error"]["code"] == -32601
    assert by_id[3]["result"] == {}
    assert by_id[4]["error"]["code"] == -32602
