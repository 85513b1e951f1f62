"""claw's MCP client against real stdio servers: mcp-server-time, mcp-server-git, a FastMCP server
from the ``mcp`` package, and a hand-written server for protocol corner cases."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time

import pytest

from claw.errors import ToolFailure
from claw.mcp.tools import McpTool
from claw.tools.base import PermissionLevel, ToolContext
from tests.mcp.helpers import PY, REPO, names, run, server, silent_stdio_server, stdio_fastmcp, tool_text

RAW = [PY, "-m", "tests.mcp.servers.raw_stdio_server"]


def raw_server(*flags: str):
    return {"command": RAW[0], "args": RAW[1:] + list(flags), "cwd": REPO}


def wait_file(path: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.getsize(path):
            with open(path) as fh:
                return fh.read()
        time.sleep(0.05)
    raise AssertionError(f"{path} did not appear")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except OSError:
        return True


# -- mcp-server-time ------------------------------------------------------------------------------


def test_time_server_initialize_list_call_and_error():
    async def main():
        time_server = server("time", {"command": PY, "args": ["-m", "mcp_server_time"]})
        try:
            await time_server.connect()
            assert time_server.status == "connected", time_server.error
            assert time_server.protocol_version == "2025-11-25"
            assert time_server.server_info["name"] == "mcp-time"
            assert names(time_server.tools) == ["convert_time", "get_current_time"]
            tool = McpTool(time_server, next(t for t in time_server.tools if t["name"] == "get_current_time"))
            assert tool.spec.name == "mcp__time__get_current_time"
            assert tool.spec.permission == PermissionLevel.READ_ONLY  # readOnlyHint
            ok = await tool.run({"timezone": "UTC"}, ToolContext(cwd=REPO))
            assert not ok.is_error and json.loads(ok.content)["timezone"] == "UTC"
            bad = await tool.run({"timezone": "Not/AZone"}, ToolContext(cwd=REPO))
            assert bad.is_error and "Not/AZone" in bad.content
            entry = time_server.status_entry()
            assert entry["status"] == "connected" and entry["serverInfo"]["name"] == "mcp-time"
            assert {t["name"] for t in entry["tools"]} == {"get_current_time", "convert_time"}
        finally:
            await time_server.aclose()

    run(main())


# -- mcp-server-git -------------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path):
    path = tmp_path / "repo"
    path.mkdir()
    git_env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
                   GIT_COMMITTER_EMAIL="t@e")
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=git_env)
    (path / "README").write_text("hello\n")
    subprocess.run(["git", "-C", str(path), "add", "README"], check=True, env=git_env)
    subprocess.run(["git", "-C", str(path), "commit", "-q", "-m", "first commit"], check=True, env=git_env)
    (path / "README").write_text("hello again\n")
    return path


def test_git_server_status_log_and_error(repo):
    async def main():
        git = server("git", {"command": PY, "args": ["-m", "mcp_server_git", "--repository", str(repo)]})
        try:
            await git.connect()
            assert git.status == "connected", (git.error, git.diagnostics())
            listed = names(git.tools)
            assert "git_status" in listed and "git_log" in listed
            status = await git.call_tool("git_status", {"repo_path": str(repo)})
            assert not status.get("isError") and "README" in tool_text(status)
            log = await git.call_tool("git_log", {"repo_path": str(repo)})
            assert "first commit" in tool_text(log)
            bad = await git.call_tool("git_show", {"repo_path": str(repo), "revision": "no-such-revision"})
            assert bad.get("isError") is True
        finally:
            await git.aclose()

    run(main())


# -- FastMCP over stdio ---------------------------------------------------------------------------
# One server process serves several checks: each start costs over a second of CPU (pydantic, anyio).


async def check_results_resources_prompts(fast):
    ctx = ToolContext(cwd=REPO)
    tools = {t["name"]: McpTool(fast, t) for t in fast.tools}
    assert (await tools["echo"].run({"text": "hi"}, ctx)).content == "echo: hi"
    failed = await tools["fail"].run({"message": "x"}, ctx)
    assert failed.is_error and "failed on purpose: x" in failed.content
    picture = await tools["picture"].run({}, ctx)
    assert picture.content == [{"type": "text", "text": "here it is"}, {"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]
    assert (await tools["add"].run({"a": 2, "b": 3}, ctx)).content == "5"
    assert tools["lookup"].spec.read_only and not tools["echo"].spec.read_only
    resources = await fast.list_resources()
    assert [r["uri"] for r in resources] == ["memo://hello"]
    read = await fast.read_resource("memo://hello")
    assert read["contents"][0]["text"] == "hello resource"
    assert [p["name"] for p in fast.prompts] == ["review"]
    prompt = await fast.get_prompt("review", {"code": "x = 1"})
    assert "x = 1" in prompt["messages"][0]["content"]["text"]


async def check_progress(fast, updates):
    done = await fast.call_tool("slow", {"seconds": 0.3})
    assert tool_text(done) == "slept 0.3"
    last = updates[-1]
    assert last.tool == "slow" and last.server == "fast" and last.progress == last.total
    assert last.message == f"step {int(last.total)}"
    # longer than the server's 0.8 s timeout, but progress arrives every 0.1 s and restarts the clock
    assert tool_text(await fast.call_tool("slow", {"seconds": 1.5})) == "slept 1.5"


async def check_interrupt(fast, marker):
    tool = McpTool(fast, next(t for t in fast.tools if t["name"] == "slow"))
    call = asyncio.ensure_future(tool.run({"seconds": 30, "marker": marker}, ToolContext(cwd=REPO)))
    await asyncio.sleep(0.5)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await asyncio.get_running_loop().run_in_executor(None, wait_file, marker) == "cancelled"
    assert tool_text(await fast.call_tool("echo", {"text": "after"})) == "echo: after"


async def check_cancel_event(fast, marker):
    tool = McpTool(fast, next(t for t in fast.tools if t["name"] == "slow"))
    ctx = ToolContext(cwd=REPO, cancel=asyncio.Event())
    call = asyncio.ensure_future(tool.run({"seconds": 30, "marker": marker}, ctx))
    await asyncio.sleep(0.5)
    ctx.cancel.set()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await asyncio.get_running_loop().run_in_executor(None, wait_file, marker) == "cancelled"


async def check_list_changed(fast, changes):
    assert "late" not in names(fast.tools)
    assert tool_text(await fast.call_tool("grow", {})) == "grown"
    for _ in range(100):
        if "late" in names(fast.tools):
            break
        await asyncio.sleep(0.05)
    assert "late" in names(fast.tools) and changes
    assert tool_text(await fast.call_tool("late", {"x": "y"})) == "late y"


async def check_crash_then_reconnect(fast):
    tool = McpTool(fast, next(t for t in fast.tools if t["name"] == "crash"))
    result = await tool.run({}, ToolContext(cwd=REPO))
    assert result.is_error
    assert "exited with code 3" in result.content and "about to crash" in result.content
    assert fast.status == "failed"
    # the next call starts the server again
    assert tool_text(await fast.call_tool("echo", {"text": "back"})) == "echo: back"
    assert fast.status == "connected"


def test_fastmcp_over_stdio(tmp_path):
    async def main():
        updates, changes = [], []
        fast = server("fast", dict(stdio_fastmcp(), timeout=0.8), on_progress=updates.append,
                      on_change=changes.append)
        try:
            await fast.connect()
            assert fast.status == "connected", (fast.error, fast.diagnostics())
            await check_results_resources_prompts(fast)
            await check_progress(fast, updates)
            await check_interrupt(fast, str(tmp_path / "marker1"))
            await check_cancel_event(fast, str(tmp_path / "marker2"))
            await check_list_changed(fast, changes)
            await check_crash_then_reconnect(fast)
        finally:
            await fast.aclose()

    run(main())


def test_timeout_without_progress(tmp_path):
    marker = str(tmp_path / "marker")
    script = ("import sys, json, time\n"
              "for line in sys.stdin:\n"
              "    m = json.loads(line)\n"
              "    if m.get('method') == 'initialize':\n"
              "        print(json.dumps({'jsonrpc': '2.0', 'id': m['id'], 'result': {'protocolVersion': "
              "'2025-06-18', 'capabilities': {'tools': {}}, 'serverInfo': {'name': 's', 'version': '1'}}}), "
              "flush=True)\n"
              "    elif m.get('method') == 'tools/list':\n"
              "        print(json.dumps({'jsonrpc': '2.0', 'id': m['id'], 'result': {'tools': [{'name': 'hang'}]}}),"
              " flush=True)\n"
              f"    elif m.get('method') == 'notifications/cancelled':\n"
              f"        open({marker!r}, 'w').write(json.dumps(m['params']))\n")

    async def main():
        hang = server("hang", {"command": PY, "args": ["-c", script], "timeout": 0.5})
        try:
            await hang.connect()
            assert hang.status == "connected", hang.error
            started = time.monotonic()
            with pytest.raises(ToolFailure) as info:
                await hang.call_tool("hang", {})
            assert info.value.kind == "mcp_timeout" and "0.5s" in info.value.message
            assert time.monotonic() - started < 5
        finally:
            await asyncio.sleep(0.2)
            await hang.aclose()

    run(main())
    cancelled = json.loads(wait_file(marker))
    assert cancelled["requestId"] and "0.5s" in cancelled["reason"]


def test_server_that_never_answers_initialize_is_bounded_and_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr("claw.mcp.stdio.EXIT_WAIT", 0.3)
    async def main():
        silent = server("silent", silent_stdio_server(), connect_timeout=1.0)
        started = time.monotonic()
        await silent.connect()
        elapsed = time.monotonic() - started
        assert silent.status == "failed" and "no answer within 1s" in silent.error
        assert elapsed < 8
        process = silent.transport.process
        assert process.returncode is not None  # stopped, not left behind
        await silent.aclose()

    run(main())


def test_missing_command_and_bad_cwd():
    async def main():
        missing = server("missing", {"command": "no-such-mcp-server-binary"})
        await missing.connect()
        assert missing.status == "failed" and "not found" in missing.error
        badcwd = server("badcwd", {"command": PY, "cwd": "/no/such/dir"})
        await badcwd.connect()
        assert badcwd.status == "failed" and "not a directory" in badcwd.error

    run(main())


# -- protocol corner cases ------------------------------------------------------------------------


def test_junk_paging_ping_and_roots(tmp_path):
    async def main():
        raw = server("raw", raw_server("--junk", "--pages", "3"), roots=[str(tmp_path)])
        try:
            await raw.connect()
            assert raw.status == "connected", raw.error
            assert len(raw.tools) == 8  # three pages
            assert "not JSON" in raw.diagnostics() or "malformed" in raw.diagnostics()
            pong = json.loads(tool_text(await raw.call_tool("pong", {})))
            assert pong == {"jsonrpc": "2.0", "id": "srv-ping", "result": {}}
            roots = json.loads(tool_text(await raw.call_tool("roots", {})))
            assert roots["result"]["roots"] == [{"uri": tmp_path.resolve().as_uri(), "name": tmp_path.name}]
        finally:
            await raw.aclose()

    run(main())


def test_version_negotiation():
    async def main():
        old = server("old", raw_server("--version", "2024-11-05"))
        await old.connect()
        assert old.status == "connected" and old.protocol_version == "2024-11-05"
        await old.aclose()
        future = server("future", raw_server("--version", "2099-01-01"))
        await future.connect()
        assert future.status == "failed" and "2099-01-01" in future.error
        await future.aclose()

    run(main())


def test_shutdown_escalates_and_stops_the_process_group(tmp_path, monkeypatch):
    monkeypatch.setattr("claw.mcp.stdio.EXIT_WAIT", 0.3)
    pidfile = str(tmp_path / "child.pid")

    async def main():
        stubborn = server("stubborn", raw_server("--stubborn", "--child", pidfile))
        await stubborn.connect()
        assert stubborn.status == "connected"
        child = int(wait_file(pidfile))
        leader = stubborn.transport.process.pid
        started = time.monotonic()
        await stubborn.aclose()
        assert time.monotonic() - started < 10
        return leader, child

    leader, child = run(main())
    deadline = time.monotonic() + 5
    while (pid_alive(leader) or pid_alive(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(leader) and not pid_alive(child)


def test_environment_and_cwd_reach_the_server(tmp_path):
    script = ("import json, os, sys\n"
              "for line in sys.stdin:\n"
              "    m = json.loads(line)\n"
              "    if m.get('method') == 'initialize':\n"
              "        info = {'name': os.environ.get('FROM_ENTRY', '') + '|' + os.environ.get('FROM_RUN', ''),"
              " 'version': os.getcwd()}\n"
              "        print(json.dumps({'jsonrpc': '2.0', 'id': m['id'], 'result': {'protocolVersion': "
              "'2025-06-18', 'capabilities': {}, 'serverInfo': info}}), flush=True)\n")

    async def main():
        probe = server("probe", {"command": PY, "args": ["-c", script], "cwd": str(tmp_path),
                                 "env": {"FROM_ENTRY": "${FROM_RUN}-entry"}}, env={"FROM_RUN": "run"})
        await probe.connect()
        await probe.aclose()
        return probe

    probe = run(main())
    assert probe.status == "connected", probe.error
    assert probe.server_info == {"name": "run-entry|run", "version": str(tmp_path)}
