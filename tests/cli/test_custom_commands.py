"""Custom slash commands, MCP prompts as commands and skills, end to end against the fake model server:
``claw -p "/name args"`` and stream-json user messages that name a command, what the model receives
(the expanded prompt), what the command's frontmatter changes for its turn, folder trust and
``--disable-slash-commands``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.cli.headless_helpers import ROOT, isolated_env, run_inprocess
from tests.fakes.model_server import ModelServer, reply, tool_use


@pytest.fixture
def work(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def user_texts(request: Dict[str, Any]) -> List[str]:
    """The text blocks of the request's user messages."""
    out = []
    for message in request["messages"]:
        if message["role"] != "user":
            continue
        content = message["content"]
        if isinstance(content, str):
            out.append(content)
        else:
            out += [b["text"] for b in content if b.get("type") == "text"]
    return out


def tool_results(request: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [b for m in request["messages"] if isinstance(m["content"], list) for b in m["content"]
            if b.get("type") == "tool_result"]


FIX = """---
description: Fix an issue
argument-hint: <issue> <priority>
allowed-tools: Bash(echo allowed:*)
---
Fix issue #$1 with priority $2 (all: $ARGUMENTS).
"""


def test_command_with_arguments_and_allowed_tools_in_print_mode(work, home, monkeypatch):
    write(work / ".claude" / "commands" / "fix.md", FIX)
    bash = tool_use("bash", {"command": "echo allowed here"})
    with ModelServer([reply(tool_uses=[bash]), reply(text="fixed")]) as srv:
        run = run_inprocess(["-p", "/fix 123 high", "--permission-mode", "default", "--output-format", "json"],
                            isolated_env(srv.env(), home), monkeypatch, work)
        first, second = srv.requests[0].json, srv.requests[1].json
    assert run.code == 0, run.stderr
    assert user_texts(first) == ["Fix issue #123 with priority high (all: 123 high).\n"]
    result = tool_results(second)[0]
    assert result.get("is_error") is not True and "allowed here" in str(result["content"])
    assert run.json["permission_denials"] == []


def test_without_the_command_the_same_call_needs_approval(work, home, monkeypatch):
    bash = tool_use("bash", {"command": "echo allowed here"})
    with ModelServer([reply(tool_uses=[bash]), reply(text="no")]) as srv:
        run = run_inprocess(["-p", "fix 123", "--permission-mode", "default", "--output-format", "json"],
                            isolated_env(srv.env(), home), monkeypatch, work)
    assert run.code == 0, run.stderr
    assert [d["tool_name"] for d in run.json["permission_denials"]] == ["bash"]
