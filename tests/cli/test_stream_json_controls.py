"""Control requests that change or inspect a live run, at the wire level: a real claw process over
stdin/stdout against the fake model server, with real stdio MCP server processes
(tests.mcp.servers.raw_stdio_server, which writes its pid to a file so a test can watch it).

set_max_thinking_tokens, get_context_usage, mcp_toggle, mcp_reconnect, mcp_set_servers, rewind_files."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.fakes.claw_wrapper import ROOT, ClawProcess
from tests.fakes.model_server import ModelServer, reply, tool_use


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    return work


def _env(srv: ModelServer, work: Path, **extra: str) -> Dict[str, str]:
    return srv.env(CLAW_CONFIG_HOME=str(work.parent / "claw-home"), HOME=str(work.parent / "home"), **extra)


def _raw(pidfile: Path) -> Dict[str, Any]:
    return {"command": sys.executable, "args": ["-m", "tests.mcp.servers.raw_stdio_server", "--pidfile", str(pidfile)],
            "cwd": str(ROOT)}


def _pid(path: Path, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise TimeoutError(f"no pid in {path}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by claw) is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _ask(claw: ClawProcess, request_id: str, subtype: str, **fields: Any) -> Dict[str, Any]:
    claw.control(request_id, subtype, **fields)
    return claw.control_response(request_id, timeout=40)


def _turn(claw: ClawProcess, text: str = "go") -> List[Dict[str, Any]]:
    claw.user(text)
    return claw.until_result(timeout=40)


def _offered(srv: ModelServer) -> List[str]:
    return [t["name"] for t in srv.requests[-1].json.get("tools", [])]


def test_set_max_thinking_tokens_reaches_the_next_request(workspace):
    with ModelServer([reply(text=str(i)) for i in range(5)]) as srv, \
            ClawProcess(["--max-thinking-tokens", "3000"], env=_env(srv, workspace), cwd=workspace) as claw:
        _turn(claw)
        assert _ask(claw, "t1", "set_max_thinking_tokens", max_thinking_tokens=5000,
                    thinking_display="summarized")["subtype"] == "success"
        _turn(claw)
        _ask(claw, "t2", "set_max_thinking_tokens", max_thinking_tokens=0)
        _turn(claw)
        _ask(claw, "t3", "set_max_thinking_tokens", thinking_display="omitted")  # no budget given: unchanged
        _turn(claw)
        _ask(claw, "t4", "set_max_thinking_tokens", max_thinking_tokens=None)
        _turn(claw)
        bad = _ask(claw, "t5", "set_max_thinking_tokens", max_thinking_tokens=-5)
        assert claw.wait() == 0
    sent = [r.json.get("thinking") for r in srv.requests]
    assert sent == [{"type": "enabled", "budget_tokens": 3000}, {"type": "enabled", "budget_tokens": 5000},
                    None, None, {"type": "enabled", "budget_tokens": 3000}]
    assert bad["subtype"] == "error" and "max_thinking_tokens" in bad["error"]


def test_context_usage_adds_up_and_follows_the_conversation(workspace, tmp_path):
    (workspace / "CLAW.md").write_text("Always answer in haiku.\n" * 40)
    config = json.dumps({"mcpServers": {"raw": _raw(tmp_path / "raw.pid")}})
    script = [reply(text="first answer", usage={"input_tokens": 60_000, "output_tokens": 40})]
    with ModelServer(script) as srv, ClawProcess(["--mcp-config", config], env=_env(srv, workspace),
                                                 cwd=workspace) as claw:
        before = _ask(claw, "c1", "get_context_usage")["response"]
        _turn(claw)
        after = _ask(claw, "c2", "get_context_usage", detail="summary")["response"]
        assert claw.wait() == 0
    for usage in (before, after):
        by_id = {c["id"]: c for c in usage["categories"]}
        assert {"system_prompt", "system_tools", "mcp_tools", "memory_files", "messages", "free_space",
                "autocompact_buffer"} <= set(by_id)
        used = sum(c["tokens"] for c in usage["categories"] if c["kind"] == "used")
        assert used == usage["totalTokens"]
        assert used + by_id["free_space"]["tokens"] + by_id["autocompact_buffer"]["tokens"] == usage["maxTokens"]
        assert usage["maxTokens"] == usage["rawMaxTokens"] == 1_000_000  # the default model's window
        assert usage["percentage"] == round(used * 100 / usage["maxTokens"], 1)
        assert len(usage["gridRows"]) == 10 and all(len(row) == 10 for row in usage["gridRows"])
        assert usage["gridRows"][-1][-1]["categoryName"] == "Autocompact buffer"
        assert usage["model"] == "claude-sonnet-5-5"
        [memory] = usage["memoryFiles"]
        assert memory["path"] == str(workspace / "CLAW.md") and memory["type"] == "Project"
        assert memory["tokens"] == len(("Always answer in haiku.\n" * 40).strip()) // 4
        assert by_id["memory_files"]["tokens"] == memory["tokens"]
        tools = {t["name"]: t for t in usage["mcpTools"]}
        assert tools["mcp__raw__echo"]["serverName"] == "raw" and tools["mcp__raw__echo"]["tokens"] > 0
        assert by_id["mcp_tools"]["tokens"] == sum(t["tokens"] for t in usage["mcpTools"])
    before_ids = {c["id"]: c["tokens"] for c in before["categories"]}
    after_ids = {c["id"]: c["tokens"] for c in after["categories"]}
    assert before["apiUsage"] is None and after["apiUsage"]["input_tokens"] == 60_000
    # after the turn the messages are the provider's count (prompt + output) less system prompt and tools
    counted = 60_040 - (after_ids["system_prompt"] + after_ids["memory_files"] + after_ids["system_tools"]
                        + after_ids["mcp_tools"])
    assert abs(after_ids["messages"] - counted) < 10
    assert before_ids["messages"] < 100 < after_ids["messages"]
    assert after["totalTokens"] > before["totalTokens"]


def test_context_usage_lists_the_background_shells(workspace):
    script = [reply(tool_uses=[tool_use("bash", {"command": "sleep 60", "run_in_background": True}, id="b1"),
                               tool_use("bash", {"command": "exit 3", "run_in_background": True}, id="b2")]),
              reply(text="started")]
    with ModelServer(script) as srv, ClawProcess(["--dangerously-skip-permissions"], env=_env(srv, workspace),
                                                 cwd=workspace) as claw:
        assert "backgroundTasks" not in _ask(claw, "c0", "get_context_usage")["response"]
        _turn(claw)
        deadline = time.monotonic() + 10
        while True:
            tasks = _ask(claw, "c1", "get_context_usage")["response"]["backgroundTasks"]
            if tasks[1]["status"] != "running" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert claw.wait() == 0
    assert tasks == [
        {"id": "bash_1", "type": "shell", "status": "running", "description": "sleep 60", "command": "sleep 60"},
        {"id": "bash_2", "type": "shell", "status": "failed", "description": "exit 3", "command": "exit 3"}]


def test_toggle_off_kills_the_server_and_its_tools_leave_toggle_on_brings_them_back(workspace, tmp_path):
    pidfile = tmp_path / "raw.pid"
    config = json.dumps({"mcpServers": {"raw": _raw(pidfile)}})
    with ModelServer([reply(text="1"), reply(text="2"), reply(text="3")]) as srv, \
            ClawProcess(["--mcp-config", config], env=_env(srv, workspace), cwd=workspace) as claw:
        _turn(claw)
        assert "mcp__raw__echo" in _offered(srv)
        first = _pid(pidfile)
        pidfile.unlink()
        off = _ask(claw, "off", "mcp_toggle", serverName="raw", enabled=False)
        assert _gone(first), "the server process still runs after mcp_toggle off"
        status = _ask(claw, "st", "mcp_status")["response"]["mcpServers"]
        init = _turn(claw)[0]
        offered_off = _offered(srv)
        on = _ask(claw, "on", "mcp_toggle", serverName="raw", enabled=True)
        second = _pid(pidfile)
        _turn(claw)
        unknown = _ask(claw, "x", "mcp_toggle", serverName="nope", enabled=False)
        assert claw.wait() == 0
    assert off["subtype"] == "success" and on["subtype"] == "success"
    assert [(s["name"], s["status"]) for s in status] == [("raw", "disabled")]
    assert not [n for n in offered_off if n.startswith("mcp__raw__")]
    assert {"name": "raw", "status": "disabled"} in init["mcp_servers"]
    assert not [n for n in init["tools"] if n.startswith("mcp__raw__")]
    assert second != first and "mcp__raw__echo" in _offered(srv)
    assert unknown["subtype"] == "error" and "'nope'" in unknown["error"] and "raw" in unknown["error"]


def test_reconnect_after_the_server_was_killed(workspace, tmp_path):
    pidfile = tmp_path / "raw.pid"
    config = json.dumps({"mcpServers": {"raw": _raw(pidfile)}})
    script = [reply(text="1"), reply(tool_uses=[tool_use("mcp__raw__echo", {"text": "after reconnect"}, id="e1")]),
              reply(text="done")]
    with ModelServer(script) as srv, ClawProcess(["--mcp-config", config, "--allowedTools", "mcp__raw__echo"],
                                                 env=_env(srv, workspace), cwd=workspace) as claw:
        _turn(claw)
        first = _pid(pidfile)
        pidfile.unlink()
        os.kill(first, signal.SIGKILL)
        assert _gone(first)
        deadline = time.monotonic() + 10
        while True:  # claw notices the dead process
            status = _ask(claw, f"s{time.monotonic()}", "mcp_status")["response"]["mcpServers"]
            if status[0]["status"] == "failed" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        again = _ask(claw, "re", "mcp_reconnect", serverName="raw")
        second = _pid(pidfile)
        after = _ask(claw, "st", "mcp_status")["response"]["mcpServers"]
        messages = _turn(claw)
        unknown = _ask(claw, "x", "mcp_reconnect", serverName="ghost")
        assert claw.wait() == 0
    assert status[0]["status"] == "failed"
    assert again["subtype"] == "success" and second != first and _alive(second) is False  # claw closed it on exit
    assert after[0]["status"] == "connected" and "echo" in [t["name"] for t in after[0]["tools"]]
    result = next(m for m in messages if m["type"] == "user")["message"]["content"][0]
    assert "after reconnect" in json.dumps(result["content"]) and not result.get("is_error")
    assert "mcp__raw__echo" in _offered(srv)
    assert unknown["subtype"] == "error" and "'ghost'" in unknown["error"]


def test_set_servers_adds_keeps_and_removes_dynamic_servers_only(workspace, tmp_path):
    configured = json.dumps({"mcpServers": {"conf": _raw(tmp_path / "conf.pid")}})
    a, b = _raw(tmp_path / "a.pid"), _raw(tmp_path / "b.pid")
    with ModelServer([reply(text=str(i)) for i in range(3)]) as srv, \
            ClawProcess(["--mcp-config", configured, "--disallowedTools", "mcp__a__tool_0"],
                        env=_env(srv, workspace), cwd=workspace) as claw:
        one = _ask(claw, "s1", "mcp_set_servers", servers={"a": a})["response"]
        a_pid = _pid(tmp_path / "a.pid")
        (tmp_path / "a.pid").unlink()
        init_one = _turn(claw)[0]
        offered_one = _offered(srv)
        two = _ask(claw, "s2", "mcp_set_servers", servers={"a": a, "b": b, "conf": b})["response"]
        b_pid = _pid(tmp_path / "b.pid")
        a_kept = not (tmp_path / "a.pid").exists() and _alive(a_pid)
        three = _ask(claw, "s3", "mcp_set_servers", servers={"b": b})["response"]
        a_gone = _gone(a_pid)
        init_three = _turn(claw)[0]
        offered_three = _offered(srv)
        status = _ask(claw, "st", "mcp_status")["response"]["mcpServers"]
        four = _ask(claw, "s4", "mcp_set_servers", servers={})["response"]
        b_gone = _gone(b_pid)
        init_four = _turn(claw)[0]
        assert claw.wait() == 0
    assert one == {"added": ["a"], "removed": [], "errors": {}}
    assert "mcp__a__echo" in offered_one and "mcp__a__tool_0" not in offered_one  # --disallowedTools applies
    assert "mcp__a__echo" in init_one["tools"] and "mcp__conf__echo" in offered_one
    assert two["added"] == ["b"] and two["removed"] == [] and "already configured" in two["errors"]["conf"]
    assert a_kept  # the same process: not restarted
    assert three == {"added": [], "removed": ["a"], "errors": {}} and a_gone
    assert "mcp__b__echo" in offered_three and not [n for n in offered_three if n.startswith("mcp__a__")]
    assert [s["name"] for s in init_three["mcp_servers"]] == ["conf", "b"]
    assert {s["name"]: s["scope"] for s in status} == {"conf": "mcp-config", "b": "dynamic"}
    assert four == {"added": [], "removed": ["b"], "errors": {}} and b_gone
    assert [s["name"] for s in init_four["mcp_servers"]] == ["conf"]
    assert not [n for n in init_four["tools"] if n.startswith("mcp__b__")]


def test_set_servers_kept_server_is_not_restarted(workspace, tmp_path):
    a = _raw(tmp_path / "a.pid")
    with ModelServer([]) as srv, ClawProcess([], env=_env(srv, workspace), cwd=workspace) as claw:
        _ask(claw, "s1", "mcp_set_servers", servers={"a": a})
        first = _pid(tmp_path / "a.pid")
        (tmp_path / "a.pid").unlink()
        again = _ask(claw, "s2", "mcp_set_servers", servers={"a": a})["response"]
        changed = _ask(claw, "s3", "mcp_set_servers", servers={"a": dict(a, env={"X": "1"})})["response"]
        second = _pid(tmp_path / "a.pid")
        assert claw.wait() == 0
    assert again == {"added": [], "removed": [], "errors": {}}
    assert changed == {"added": ["a"], "removed": ["a"], "errors": {}}
    assert second != first and _gone(first)


def test_rewind_files_puts_back_what_changed_since_the_hosts_prompt(workspace):
    notes = workspace / "notes.txt"
    notes.write_text("first\n")
    script = [reply(tool_uses=[tool_use("write_file", {"path": "notes.txt", "content": "second\n"})]),
              reply(tool_uses=[tool_use("write_file", {"path": "new.txt", "content": "made\n"})]),
              reply(text="done")]
    args = ["--permission-mode", "acceptEdits"]
    with ModelServer(script) as srv, ClawProcess(args, env=_env(srv, workspace), cwd=workspace) as claw:
        claw.user("change it", uuid="host-prompt-1")
        claw.until_result(timeout=40)
        assert notes.read_text() == "second\n" and (workspace / "new.txt").exists()
        preview = _ask(claw, "p", "rewind_files", user_message_id="host-prompt-1", dry_run=True)
        assert notes.read_text() == "second\n"  # a dry run changes nothing
        done = _ask(claw, "r", "rewind_files", user_message_id="host-prompt-1")
        unknown = _ask(claw, "u", "rewind_files", user_message_id="no-such-prompt")
        missing = _ask(claw, "m", "rewind_files")
        other = _ask(claw, "g", "get_usage")
        assert claw.wait() == 0
    assert preview["response"]["canRewind"] is True and sorted(preview["response"]["filesChanged"]) == sorted([
        str(notes), str(workspace / "new.txt")])
    assert done["response"]["canRewind"] is True
    assert notes.read_text() == "first\n" and not (workspace / "new.txt").exists()
    assert unknown["response"]["canRewind"] is False and unknown["response"]["error"]
    assert missing["subtype"] == "error" and "user_message_id" in missing["error"]
    assert other["error"] == "Unsupported control request subtype: get_usage"


def _answer_sdk_server(claw: ClawProcess, request_id: str, rpc: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Play an SDK host with one in-process server ("notes", tool "save") until the answer to
    ``request_id`` arrives."""
    while True:
        message = claw.next(timeout=30)
        assert message is not None, claw.stderr
        if message["type"] == "control_response" and message["response"].get("request_id") == request_id:
            return message["response"]
        if message["type"] != "control_request" or message["request"]["subtype"] != "mcp_message":
            continue
        body = message["request"]["message"]
        rpc.append(dict(body, server_name=message["request"]["server_name"]))
        result: Dict[str, Any] = {}
        if body.get("method") == "initialize":
            result = {"protocolVersion": body["params"]["protocolVersion"], "capabilities": {"tools": {}},
                      "serverInfo": {"name": "notes", "version": "1"}}
        elif body.get("method") == "tools/list":
            result = {"tools": [{"name": "save", "inputSchema": {"type": "object"}}]}
        claw.send({"type": "control_response", "response": {
            "subtype": "success", "request_id": message["request_id"],
            "response": {"mcp_response": {"jsonrpc": "2.0", "id": body.get("id"), "result": result}}}})


def test_set_servers_with_a_host_sdk_server_and_toggling_it(workspace):
    rpc: List[Dict[str, Any]] = []
    with ModelServer([reply(text="1"), reply(text="2"), reply(text="3")]) as srv, \
            ClawProcess([], env=_env(srv, workspace), cwd=workspace) as claw:
        claw.control("s1", "mcp_set_servers", servers={"notes": {"type": "sdk", "name": "notes"}})
        added = _answer_sdk_server(claw, "s1", rpc)["response"]
        init = _turn(claw)[0]
        offered = _offered(srv)
        off = _ask(claw, "off", "mcp_toggle", serverName="notes", enabled=False)
        status = _ask(claw, "st", "mcp_status")["response"]["mcpServers"]
        _turn(claw)
        offered_off = _offered(srv)
        claw.control("on", "mcp_toggle", serverName="notes", enabled=True)
        on = _answer_sdk_server(claw, "on", rpc)
        removed = _ask(claw, "s2", "mcp_set_servers", servers={})["response"]
        init_last = _turn(claw)[0]
        assert claw.wait() == 0
    assert added == {"added": ["notes"], "removed": [], "errors": {}}
    assert "mcp__notes__save" in offered and "mcp__notes__save" in init["tools"]
    assert {"name": "notes", "status": "connected"} in init["mcp_servers"]
    assert off["subtype"] == "success" and [(s["name"], s["status"]) for s in status] == [("notes", "disabled")]
    assert "mcp__notes__save" not in offered_off
    assert on["subtype"] == "success"
    assert [m["method"] for m in rpc if m["method"] == "initialize"] == ["initialize", "initialize"]
    assert removed == {"added": [], "removed": ["notes"], "errors": {}}
    assert init_last["mcp_servers"] == [] and "mcp__notes__save" not in init_last["tools"]
    assert "mcp__notes__save" not in _offered(srv)
