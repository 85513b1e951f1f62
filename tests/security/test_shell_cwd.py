"""The bash working directory carries over between calls, so the permission policy must judge a
command where it will run: after ``cd secret``, ``echo x > key`` writes ``secret/key``, and after
``cd .git``, ``echo x > config`` writes the protected ``.git/config``. These tests fail when the
policy resolves relative redirection targets against the session's cwd instead of the shell's."""

from __future__ import annotations

from pathlib import Path

import pytest

from claw.runtime.permissions import ALLOW, ASK, DENY, PermissionPolicy
from claw.tools.registry import get_tool
from tests.cli.headless_helpers import isolated_env, run_inprocess
from tests.fakes.model_server import ModelServer, reply, tool_use

BASH = get_tool("bash").spec


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = (tmp_path / "ws").resolve()
    (root / "secret").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    return root


def test_the_policy_resolves_relative_targets_in_the_shell_directory(ws):
    policy = PermissionPolicy(mode="bypassPermissions", cwd=ws, deny_rules=["Edit(./secret/**)"])
    command = {"command": "echo x > key"}
    assert policy.decide("bash", BASH, command, []).outcome == ALLOW
    assert policy.decide("bash", BASH, command, [], shell_cwd=ws / "secret").outcome == DENY
    assert policy.decide("bash", BASH, {"command": "echo x > ../secret/key"}, [],
                         shell_cwd=ws / ".git").outcome == DENY
    strict = PermissionPolicy(mode="acceptEdits", cwd=ws, allow_rules=["Bash(echo:*)"])
    assert strict.decide("bash", BASH, {"command": "echo x > config"}, []).outcome == ALLOW
    decision = strict.decide("bash", BASH, {"command": "echo x > config"}, [], shell_cwd=ws / ".git")
    assert decision.outcome == ASK and decision.protected


def _run(ws: Path, home: Path, monkeypatch, commands, argv):
    script = [reply(tool_uses=[tool_use("bash", {"command": c}, id=f"t{i}")]) for i, c in enumerate(commands)]
    with ModelServer(script + [reply(text="done")]) as srv:
        run = run_inprocess(["-p", "go", "--output-format", "json"] + argv, isolated_env(srv.env(), home),
                            monkeypatch, ws)
    assert run.code == 0, run.stderr
    return run.json


def test_a_deny_rule_sees_a_write_after_an_earlier_cd(ws, home, monkeypatch):
    result = _run(ws, home, monkeypatch, ["cd secret", "echo pwned > key"],
                  ["--permission-mode", "bypassPermissions", "--disallowedTools", "Edit(./secret/**)"])
    assert [d["tool_use_id"] for d in result["permission_denials"]] == ["t1"]
    assert not (ws / "secret" / "key").exists() and not (ws / "key").exists()


def test_a_protected_file_is_protected_after_an_earlier_cd(ws, home, monkeypatch):
    result = _run(ws, home, monkeypatch, ["cd .git", "echo '[alias] x = !id' > config", "pwd"],
                  ["--permission-mode", "acceptEdits", "--allowedTools", "Bash(cd:*) Bash(echo:*) Bash(pwd)"])
    assert [d["tool_use_id"] for d in result["permission_denials"]] == ["t1"]
    assert (ws / ".git" / "config").read_text() == "[core]\n"
    outputs = {r["tool_use_id"]: r["output"] for r in result["tool_results"]}
    assert outputs["t2"].strip() == str(ws / ".git")  # the cd did carry over


def test_claw_mcp_serve_judges_bash_in_the_shell_directory_too(ws):
    from tests.mcp.helpers import PY, run, server, tool_text

    async def main():
        me = server("claw", {"command": PY, "args": ["-m", "claw.cli.mcp_cmd", "serve", "--cwd", str(ws),
                                                     "--permission-mode", "danger-full-access",
                                                     "--disallowedTools", "Edit(./secret/**)"]},
                    env={"CLAW_CONFIG_HOME": str(ws.parent / "home"), "HOME": str(ws.parent)})
        try:
            await me.connect()
            assert me.status == "connected", (me.error, me.diagnostics())
            assert not (await me.call_tool("bash", {"command": "cd secret"})).get("isError")
            denied = await me.call_tool("bash", {"command": "echo pwned > key"})
            return denied
        finally:
            await me.aclose()

    denied = run(main())
    assert denied.get("isError") and "Permission denied" in tool_text(denied)
    assert not (ws / "secret" / "key").exists()
