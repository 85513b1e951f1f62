"""Which MCP servers a run gets: sources, precedence, strict mode, expansion, broken entries."""

from __future__ import annotations

import json
import os

import pytest

from claw.config.models import HttpServerConfig, StdioServerConfig, WebSocketServerConfig
from claw.errors import UsageError
from claw.mcp.config import load_mcp_config


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(data, fh)


@pytest.fixture
def project(tmp_path):
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    env = {"CLAW_CONFIG_HOME": str(home), "HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")}
    return work, home, env


def test_sources_and_precedence(project):
    work, home, env = project
    write(str(home / "settings.json"), {"mcpServers": {
        "a": {"command": "user-a"}, "b": {"command": "user-b"}, "c": {"command": "user-c"}}})
    write(str(work / ".mcp.json"), {"mcpServers": {"b": {"command": "project-b"}, "d": {"url": "ws://h/ws"}}})
    write(str(work / ".claw" / "settings.local.json"), {"mcpServers": {"c": {"command": "local-c"}, "a": None}})
    flag = json.dumps({"mcpServers": {"d": {"type": "sse", "url": "http://h/sse"}}})
    config = load_mcp_config(str(work), env, mcp_config=[flag])
    servers = config.servers
    assert set(servers) == {"b", "c", "d"}  # a removed by the local null
    assert servers["b"].config.command == "project-b" and servers["b"].scope == "mcp.json"
    assert servers["c"].config.command == "local-c" and servers["c"].scope == "local"
    assert isinstance(servers["d"].config, HttpServerConfig) and servers["d"].config.transport == "sse"
    assert servers["d"].scope == "mcp-config" and "inline" in servers["d"].source


def test_strict_uses_only_flag_servers(project):
    work, home, env = project
    write(str(work / ".mcp.json"), {"mcpServers": {"p": {"command": "x"}}})
    flag = json.dumps({"mcpServers": {"f": {"command": "y"}}})
    assert list(load_mcp_config(str(work), env, mcp_config=[flag], strict=True).servers) == ["f"]


def test_flag_file_and_errors(project, tmp_path):
    work, home, env = project
    path = tmp_path / "servers.json"
    write(str(path), {"mcpServers": {"ws": {"url": "wss://h/mcp", "headers": {"X": "1"}}}})
    config = load_mcp_config(str(work), env, mcp_config=[str(path)], strict=True)
    assert isinstance(config.servers["ws"].config, WebSocketServerConfig)
    assert config.servers["ws"].source == str(path)
    with pytest.raises(UsageError, match="not found"):
        load_mcp_config(str(work), env, mcp_config=[str(tmp_path / "missing.json")])
    with pytest.raises(UsageError):
        load_mcp_config(str(work), env, mcp_config=["{not json"])
    with pytest.raises(UsageError, match="mcpServers"):
        load_mcp_config(str(work), env, mcp_config=['{"servers": {}}'])


def test_expansion_with_effective_env(project):
    work, home, env = project
    env = dict(env, MCP_URL="https://mcp.example.com/mcp", TOKEN="abc")
    write(str(work / ".mcp.json"), {"mcpServers": {
        "api": {"type": "http", "url": "${MCP_URL}", "headers": {"Authorization": "Bearer ${TOKEN}"}},
        "tool": {"command": "${TOOL_BIN:-/usr/bin/tool}", "args": ["--token=${TOKEN}"], "env": {"K": "${TOKEN}"}},
        "broken": {"type": "http", "url": "${UNSET_URL}"}}})
    servers = load_mcp_config(str(work), env).servers
    api = servers["api"].config
    assert api.url == "https://mcp.example.com/mcp" and api.headers["Authorization"] == "Bearer abc"
    tool = servers["tool"].config
    assert tool.command == "/usr/bin/tool" and tool.args == ("--token=abc",) and tool.env == {"K": "abc"}
    assert servers["tool"].target == "${TOOL_BIN:-/usr/bin/tool} --token=${TOKEN}"  # shown as written
    assert servers["broken"].config is None and "UNSET_URL" in servers["broken"].error


def test_broken_entries_are_reported_not_dropped(project):
    work, home, env = project
    write(str(work / ".mcp.json"), {"mcpServers": {
        "bad": {"type": "grpc", "url": "x"}, "nourl": {"type": "http"}, "good": {"command": "ok", "extra": 1}}})
    config = load_mcp_config(str(work), env)
    assert config.servers["good"].config is not None
    assert config.servers["bad"].error and "grpc" in config.servers["bad"].error
    assert config.servers["nourl"].error
    assert any("extra" in w for w in config.warnings)


def test_sdk_entries_and_type_aliases(project):
    work, home, env = project
    flag = json.dumps({"mcpServers": {"inproc": {"type": "sdk", "name": "inproc"},
                                      "s": {"type": "streamable-http", "url": "http://h/mcp"},
                                      "w": {"type": "websocket", "url": "ws://h/"}}})
    config = load_mcp_config(str(work), env, mcp_config=[flag], strict=True)
    assert config.sdk_servers == ["inproc"] and "inproc" not in config.servers
    assert config.servers["s"].config.transport == "http"
    assert config.servers["w"].config.transport == "ws"


def test_broken_project_file_is_a_warning(project):
    work, home, env = project
    (work / ".mcp.json").write_text("{broken")
    config = load_mcp_config(str(work), env)
    assert config.servers == {} and config.warnings


def test_relative_cwd_resolves_against_the_file(project):
    work, home, env = project
    write(str(work / ".mcp.json"), {"mcpServers": {"s": {"command": "x", "cwd": "sub"}}})
    config = load_mcp_config(str(work), env)
    assert isinstance(config.servers["s"].config, StdioServerConfig)
    assert config.servers["s"].config.cwd == str(work / "sub")
