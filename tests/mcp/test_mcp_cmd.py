"""``claw mcp list|get|add|add-json|remove`` and every subcommand's --help."""

from __future__ import annotations

import json
import os

import pytest

from claw.cli.mcp_cmd import run
from tests.mcp.helpers import PY, REPO

RAW = ["-m", "tests.mcp.servers.raw_stdio_server"]


@pytest.fixture
def project(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, CLAW_CONFIG_HOME=str(tmp_path / "home"), HOME=str(tmp_path), PYTHONPATH=REPO)
    env.pop("CLAW_MCP_TIMEOUT", None)
    env.pop("MCP_TIMEOUT", None)

    def claw_mcp(*argv):
        return run(list(argv[:1]) + ["--cwd", str(work)] + list(argv[1:]), env)

    return work, tmp_path / "home", claw_mcp


def read(path):
    with open(path) as fh:
        return json.load(fh)


def test_add_to_each_scope_keeps_unrelated_keys(project, capsys):
    work, home, claw_mcp = project
    (work / ".mcp.json").write_text(json.dumps({"mcpServers": {"old": {"command": "x"}}, "note": "kept"}))
    (work / ".claw").mkdir()
    (work / ".claw" / "settings.local.json").write_text(json.dumps({"model": "opus"}))
    assert claw_mcp("add", "-e", "TZ=UTC", "-e", "EMPTY=", "time", "--", PY, "-m", "mcp_server_time") == 0
    assert claw_mcp("add", "--scope", "project", "docs", "https://mcp.example.com/mcp",
                    "-H", "Authorization: Bearer ${DOCS_TOKEN}") == 0
    assert claw_mcp("add", "-s", "user", "live", "wss://mcp.example.com/ws") == 0
    local = read(work / ".claw" / "settings.local.json")
    assert local == {"model": "opus", "mcpServers": {"time": {
        "type": "stdio", "command": PY, "args": ["-m", "mcp_server_time"], "env": {"TZ": "UTC", "EMPTY": ""}}}}
    shared = read(work / ".mcp.json")
    assert shared["note"] == "kept" and shared["mcpServers"]["old"] == {"command": "x"}
    assert shared["mcpServers"]["docs"] == {"type": "http", "url": "https://mcp.example.com/mcp",
                                           "headers": {"Authorization": "Bearer ${DOCS_TOKEN}"}}
    assert read(home / "settings.json")["mcpServers"]["live"] == {"type": "ws", "url": "wss://mcp.example.com/ws"}
    out = capsys.readouterr()
    assert "Added stdio MCP server 'time' to the local scope" in out.out
    assert "DOCS_TOKEN not set now" in out.err


def test_add_errors(project, capsys):
    work, home, claw_mcp = project
    assert claw_mcp("add", "time", "--", "uvx", "mcp-server-time") == 0
    assert claw_mcp("add", "time", "--", "other") == 2
    assert "already exists" in capsys.readouterr().err
    assert claw_mcp("add", "--force", "time", "--", "other") == 0
    assert read(work / ".claw" / "settings.local.json")["mcpServers"]["time"]["command"] == "other"
    assert claw_mcp("add", "--transport", "http", "bad", "ftp://x") == 2
    assert claw_mcp("add", "nothing") == 2
    assert claw_mcp("add", "-H", "A: b", "cmd", "--", "server") == 2
    assert claw_mcp("add", "bad name", "--", "x") == 2
    assert claw_mcp("add", "--transport", "http", "two", "http://a/mcp", "http://b/mcp") == 2
    err = capsys.readouterr().err
    assert "hint:" in err


def test_add_json_and_remove(project, capsys):
    work, home, claw_mcp = project
    assert claw_mcp("add-json", "api", '{"type": "http", "url": "https://api.example.com/mcp"}') == 0
    assert claw_mcp("add-json", "-s", "project", "api", '{"command": "x"}') == 0
    assert claw_mcp("add-json", "bad", "[1]") == 2
    assert claw_mcp("add-json", "sdk", '{"type": "sdk", "name": "sdk"}') == 2
    assert claw_mcp("remove", "api") == 2  # in two scopes: which one?
    assert "--scope" in capsys.readouterr().err
    assert claw_mcp("remove", "api", "--scope", "project") == 0
    assert read(work / ".mcp.json") == {"mcpServers": {}}
    assert claw_mcp("remove", "api") == 0
    assert "mcpServers" not in read(work / ".claw" / "settings.local.json")
    assert claw_mcp("remove", "api") == 1


def test_list_and_get(project, capsys):
    work, home, claw_mcp = project
    (work / ".mcp.json").write_text(json.dumps({"mcpServers": {
        "raw": {"command": PY, "args": RAW, "cwd": REPO},
        "broken": {"command": "no-such-binary-for-claw-tests"},
    }}))
    assert claw_mcp("list") == 0
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("raw: ") and line.endswith("connected (8 tools)") for line in out), out
    assert any(line.startswith("broken: no-such-binary-for-claw-tests (stdio, mcp.json: ")
               and "failed: command not found" in line for line in out), out
    assert claw_mcp("list", "--json") == 0
    items = {item["name"]: item for item in json.loads(capsys.readouterr().out)}
    assert items["raw"]["status"] == "connected" and len(items["raw"]["tools"]) == 8
    assert items["broken"]["status"] == "failed" and items["broken"]["source"].endswith(".mcp.json")
    assert claw_mcp("get", "raw") == 0
    out = capsys.readouterr().out
    assert "Status: connected" in out and "Tools: echo, pong, roots" in out and "/mcp__raw__greet" in out
    assert claw_mcp("get", "broken") == 1
    out = capsys.readouterr().out
    assert "failed: command not found" in out and "Hint:" in out
    assert claw_mcp("get", "nope") == 1
    assert "configured servers: raw, broken" in capsys.readouterr().err


def test_list_with_nothing_configured(project, capsys):
    work, home, claw_mcp = project
    assert claw_mcp("list") == 0
    assert "No MCP servers configured" in capsys.readouterr().out


@pytest.mark.parametrize("action", ["", "list", "get", "add", "add-json", "remove", "serve"])
def test_help(action, capsys):
    argv = ([action] if action else []) + ["--help"]
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: claw mcp")
