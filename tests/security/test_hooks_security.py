"""Hooks: a hook is judged by its own exit (a background child holding its stdout neither loses its
answer nor hangs the run, and it is killed), and a PreToolUse ``allow`` answers only the permission
mode's question: deny rules still deny, ask rules still ask (as in Claude Code).

Real hook commands run by bash; the end-to-end cases run ``python -m claw -p`` against the fake model.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.cli.headless_helpers import isolated_env, run_subprocess
from tests.fakes.model_server import ModelServer, reply, tool_use
from tests.processes import wait_gone


def _run_hook(command: str, tmp_path: Path, timeout: float = 20):
    from claw.config.models import HookCommand, HookMatcher
    from claw.runtime.hook_config import HooksConfig
    from claw.runtime.hooks import HookRunner

    config = HooksConfig.from_settings({"PreToolUse": (HookMatcher("", (HookCommand(command, "command", timeout),)),)})
    runner = HookRunner(config, project_dir=str(tmp_path), session_id="s", transcript_path=str(tmp_path / "t"))
    return asyncio.run(runner.run("PreToolUse", {"tool_name": "bash", "tool_input": {"command": "ls"}}))


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_background_child_holding_output_does_not_lose_the_answer(tmp_path, stream):
    pidfile = tmp_path / "child.pid"
    redirect = "" if stream == "stdout" else " >/dev/null"  # the child keeps stdout or only stderr
    command = (f"sleep 60{redirect} & echo $! > {pidfile}; "
               """echo '{"decision":"block","reason":"kept answer"}'""")
    outcome = _run_hook(command, tmp_path)
    assert outcome.blocked, outcome.warnings
    assert outcome.reason == "kept answer"
    assert not outcome.warnings
    assert wait_gone(int(pidfile.read_text())), "the hook's background child outlived it"


def test_exit_code_2_with_a_background_child_still_blocks(tmp_path):
    outcome = _run_hook("sleep 60 & echo 'no rm here' >&2; exit 2", tmp_path)
    assert outcome.blocked and outcome.reason == "no rm here"


def test_hook_that_really_runs_too_long_still_times_out(tmp_path):
    outcome = _run_hook("sleep 60; echo '{}'", tmp_path, timeout=1)
    assert not outcome.blocked
    assert any("timed out" in w for w in outcome.warnings)


# -- end to end --------------------------------------------------------------------------------


@pytest.fixture
def dirs(home: Path, project: Path):
    return home, project


def _user_settings(home: Path, data: dict) -> None:
    (home / "settings.json").write_text(json.dumps(data))


def _hook(command: str) -> dict:
    return {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": command}]}]}


ALLOW = """echo '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"allow"}}'"""


def _run_touch(home: Path, project: Path, name: str):
    script = [reply(tool_uses=[tool_use("bash", {"command": f"touch {name}"})]), reply(text="done")]
    with ModelServer(script) as server:
        env = isolated_env(server.env(), home)
        return run_subprocess(["-p", "make the file", "--output-format", "json"], env, project)


def test_headless_run_is_not_held_up_by_a_hook_background_child(dirs, tmp_path):
    home, project = dirs
    pidfile = tmp_path / "child.pid"
    _user_settings(home, {"hooks": _hook(
        f"""sleep 60 & echo $! > {pidfile}; echo '{{"decision":"block","reason":"not today"}}'""")})
    run = _run_touch(home, project, "blocked.txt")
    assert run.code == 0, run.stderr
    assert not (project / "blocked.txt").exists()
    results = run.json["tool_results"]
    assert results and "not today" in results[0]["output"]
    assert wait_gone(int(pidfile.read_text()))


def test_hook_allow_skips_the_modes_question(dirs):
    home, project = dirs
    _user_settings(home, {"hooks": _hook(ALLOW)})
    run = _run_touch(home, project, "made.txt")  # default mode, headless: would be denied unasked
    assert run.code == 0, run.stderr
    assert (project / "made.txt").exists()
    assert run.json["permission_denials"] == []


def test_hook_allow_does_not_override_an_ask_rule(dirs):
    home, project = dirs
    _user_settings(home, {"hooks": _hook(ALLOW), "permissions": {"ask": ["Bash(touch:*)"]}})
    run = _run_touch(home, project, "asked.txt")  # headless: no one to ask, so denied
    assert run.code == 0, run.stderr
    assert not (project / "asked.txt").exists()
    assert [d["tool_name"] for d in run.json["permission_denials"]] == ["bash"]


def test_hook_allow_does_not_override_a_deny_rule(dirs):
    home, project = dirs
    _user_settings(home, {"hooks": _hook(ALLOW), "permissions": {"deny": ["Bash(touch:*)"]}})
    run = _run_touch(home, project, "denied.txt")
    assert not (project / "denied.txt").exists()
    assert [d["tool_name"] for d in run.json["permission_denials"]] == ["bash"]


def test_hook_allow_does_not_answer_for_a_protected_control_file(dirs):
    """A hook's allow skips the mode's question, never the one a control file's write asks."""
    home, project = dirs
    hook = {"PreToolUse": [{"matcher": "Write", "hooks": [{"type": "command", "command": ALLOW}]}]}
    _user_settings(home, {"hooks": hook})
    target = project / ".claw" / "settings.local.json"
    script = [reply(tool_uses=[tool_use("write_file", {"path": ".claw/settings.local.json",
                                                       "content": '{"permissions": {"allow": ["Bash"]}}'})]),
              reply(text="done")]
    with ModelServer(script) as server:
        env = isolated_env(server.env(), home)
        run = run_subprocess(["-p", "widen", "--output-format", "json", "--permission-mode", "acceptEdits"],
                             env, project)
    assert run.code == 0, run.stderr
    assert not target.exists()
    assert [d["tool_name"] for d in run.json["permission_denials"]] == ["write_file"]
