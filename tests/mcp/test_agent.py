"""MCP tools in a whole claw run: the scripted fake model asks for them, claw's loop calls them.

Runs ``python -m claw -p ... --output-format json|stream-json`` as a subprocess against
tests.fakes.model_server, with servers from ``--mcp-config`` and ``./.mcp.json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.fakes.model_server import ModelServer, reply
from tests.mcp.helpers import PY, REPO

RAW = {"command": PY, "args": ["-m", "tests.mcp.servers.raw_stdio_server"], "cwd": REPO}


@pytest.fixture
def work(tmp_path):
    path = tmp_path / "work"
    path.mkdir()
    return path


def claw(work, srv, *args, timeout=90, extra_env=None):
    env = dict(os.environ, **srv.env(), CLAW_CONFIG_HOME=str(work.parent / "home"), HOME=str(work.parent),
               PYTHONPATH=REPO)
    for name in ("CLAW_MCP_TIMEOUT", "MCP_TIMEOUT", "ANTHROPIC_AUTH_TOKEN"):
        env.pop(name, None)
    env.update(extra_env or {})
    done = subprocess.run([sys.executable, "-m", "claw", *args], cwd=str(work), env=env, capture_output=True,
                          text=True, timeout=timeout)
    return done


def config(**servers):
    return json.dumps({"mcpServers": servers})


def test_model_calls_the_time_server(work):
    script = [reply(tool_uses=[{"name": "mcp__time__get_current_time", "input": {"timezone": "UTC"}}]),
              reply(text="It is now.")]
    with ModelServer(script) as srv:
        done = claw(work, srv, "-p", "what time is it in UTC?", "--output-format", "json",
                    "--mcp-config", config(time={"command": PY, "args": ["-m", "mcp_server_time"]}))
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        first, second = srv.requests[0].json, srv.requests[1].json
    assert result["result"] == "It is now." and not result["is_error"]
    (tool_result,) = result["tool_results"]
    assert tool_result["tool_name"] == "mcp__time__get_current_time" and not tool_result["is_error"]
    assert json.loads(tool_result["output"])["timezone"] == "UTC"
    offered = {tool["name"]: tool for tool in first["tools"]}
    assert offered["mcp__time__get_current_time"]["input_schema"]["required"] == ["timezone"]
    assert "mcp__time__convert_time" in offered and "read_file" in offered
    sent = second["messages"][-1]["content"][0]
    assert sent["type"] == "tool_result" and "UTC" in json.dumps(sent["content"])


def test_stream_json_init_reports_servers_and_a_broken_one_does_not_break_the_run(work):
    (work / ".mcp.json").write_text(config(raw=RAW, broken={"command": "no-such-binary-for-claw-tests"}))
    script = [reply(tool_uses=[{"name": "mcp__raw__echo", "input": {"text": "ping"}}]), reply(text="done")]
    with ModelServer(script) as srv:
        done = claw(work, srv, "-p", "echo", "--output-format", "stream-json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    init = lines[0]
    assert init["type"] == "system" and init["subtype"] == "init"
    assert {s["name"]: s["status"] for s in init["mcp_servers"]} == {"raw": "connected", "broken": "failed"}
    # stream-json speaks Claude Code's tool names: claw's list_mcp_resources is ListMcpResourcesTool
    assert "mcp__raw__echo" in init["tools"] and "ListMcpResourcesTool" in init["tools"]
    assert lines[-1]["type"] == "result" and lines[-1]["tool_results"][0]["output"] == "ping"
    assert "MCP server 'broken' failed" in done.stderr


def test_permissions_apply_to_mcp_tools(work):
    (work / ".mcp.json").write_text(config(raw=RAW))
    uses = [{"name": "mcp__raw__echo", "input": {"text": "x"}}]
    with ModelServer([reply(tool_uses=uses), reply(text="denied")]) as srv:
        done = claw(work, srv, "-p", "echo", "--output-format", "json", "--permission-mode", "default")
    result = json.loads(done.stdout)
    assert result["permission_denials"][0]["tool_name"] == "mcp__raw__echo"
    assert result["tool_results"][0]["is_error"]
    with ModelServer([reply(tool_uses=uses), reply(text="allowed")]) as srv:
        done = claw(work, srv, "-p", "echo", "--output-format", "json", "--permission-mode", "default",
                    "--allowedTools", "mcp__raw")
    result = json.loads(done.stdout)
    assert result["permission_denials"] == [] and result["tool_results"][0]["output"] == "x"


def test_strict_mcp_config_and_disallowed_tools(work):
    (work / ".mcp.json").write_text(config(project=RAW))
    with ModelServer([reply(text="ok")]) as srv:
        done = claw(work, srv, "-p", "hi", "--output-format", "json", "--strict-mcp-config",
                    "--mcp-config", config(flag=RAW), "--disallowedTools", "mcp__flag__tool_1")
        assert done.returncode == 0, done.stderr
        offered = [tool["name"] for tool in srv.requests[0].json["tools"]]
    assert "mcp__flag__echo" in offered and "mcp__flag__tool_1" not in offered
    assert not any(name.startswith("mcp__project__") for name in offered)


def test_bad_mcp_config_is_a_usage_error(work):
    with ModelServer([reply(text="never")]) as srv:
        done = claw(work, srv, "-p", "hi", "--output-format", "json", "--mcp-config", "{not json")
        assert srv.requests == []
    assert done.returncode == 2
    result = json.loads(done.stdout)
    assert result["is_error"] and result["error"]["failure_class"] == "usage"


def test_a_slow_server_is_reported_pending_and_does_not_hold_the_run(work):
    slow = dict(RAW, args=RAW["args"] + ["--delay", "20"])
    with ModelServer([reply(text="answered")]) as srv:
        done = claw(work, srv, "-p", "hi", "--output-format", "stream-json", "--mcp-config",
                    config(slow=slow, raw=RAW), extra_env={"CLAW_MCP_TIMEOUT": "1500"})
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert {s["name"]: s["status"] for s in lines[0]["mcp_servers"]} == {"slow": "pending", "raw": "connected"}
    assert lines[-1]["result"] == "answered"
    assert "MCP server 'slow' is still connecting" in done.stderr
