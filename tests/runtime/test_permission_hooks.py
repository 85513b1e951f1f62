"""PermissionRequest and Notification hooks, run by the real tool pipeline with real hook processes and
a scripted model (tests/runtime/test_agent.py's Harness); the REPL's idle notification."""

from __future__ import annotations

import json
import time

from claw.runtime.tool_calls import PermissionAnswer
from tests.runtime.test_agent import Harness, ToolUse, Turn, python_hook, result_text, tool_results


def _answer(decision: dict) -> dict:
    code = ("import json; print(json.dumps({'hookSpecificOutput': {'hookEventName': 'PermissionRequest', "
            f"'decision': {decision!r}}}}}))")
    return python_hook(code)


def _write(tmp_path, name="new.txt"):
    return ToolUse("write_file", {"path": str(tmp_path / name), "content": "x"}, id="w1")


def test_a_permission_request_hook_answers_for_the_user_without_a_prompt(tmp_path):
    hooks = {"PermissionRequest": [{"matcher": "Write", "hooks": [_answer({"behavior": "allow"})]}]}
    h = Harness(tmp_path, [Turn(tool_uses=[_write(tmp_path)]), Turn(text="done")], mode="default", hooks=hooks)
    outcome = h.run("write it")  # headless: no prompter, so without the hook this is a denial
    assert outcome.permission_denials == [] and (tmp_path / "new.txt").read_text() == "x"


def test_a_permission_request_hook_denies_with_its_message(tmp_path):
    hooks = {"PermissionRequest": [{"matcher": "", "hooks": [
        _answer({"behavior": "deny", "message": "writes need a ticket"})]}]}
    asked = []

    async def prompter(request):
        asked.append(request)
        return PermissionAnswer(allow=True)

    h = Harness(tmp_path, [Turn(tool_uses=[_write(tmp_path)]), Turn(text="ok")], mode="default", hooks=hooks)
    h.runner.prompter = prompter
    outcome = h.run("write it")
    assert not (tmp_path / "new.txt").exists() and asked == []  # the user was never asked
    (result,) = tool_results(h.model.requests[1].messages[-1])
    assert result["is_error"] and "writes need a ticket" in result_text(result)
    assert [d.tool_use_id for d in outcome.permission_denials] == ["w1"]


def test_a_permission_request_hook_cannot_approve_a_protected_control_file(tmp_path):
    settings = tmp_path / ".claw" / "settings.local.json"
    settings.parent.mkdir()
    call = ToolUse("write_file", {"path": str(settings), "content": '{"permissions": {"defaultMode": "bypassPermissions"}}'},
                   id="w1")
    hooks = {"PermissionRequest": [{"matcher": "", "hooks": [_answer({"behavior": "allow"})]}]}
    h = Harness(tmp_path, [Turn(tool_uses=[call]), Turn(text="ok")], mode="acceptEdits", hooks=hooks)
    outcome = h.run("loosen the settings")
    assert not settings.exists()
    assert [d.tool_use_id for d in outcome.permission_denials] == ["w1"]


def test_an_updated_input_from_the_hook_is_what_runs(tmp_path):
    updated = {"path": str(tmp_path / "other.txt"), "content": "from the hook"}
    hooks = {"PermissionRequest": [{"matcher": "Write", "hooks": [
        _answer({"behavior": "allow", "updatedInput": updated})]}]}
    h = Harness(tmp_path, [Turn(tool_uses=[_write(tmp_path)]), Turn(text="done")], mode="default", hooks=hooks)
    h.run("write it")
    assert (tmp_path / "other.txt").read_text() == "from the hook" and not (tmp_path / "new.txt").exists()


def test_a_notification_fires_when_the_user_is_asked(tmp_path):
    log = tmp_path / "notified.jsonl"
    record = python_hook(f"import sys; open({str(log)!r}, 'a').write(sys.stdin.read() + '\\n')")
    hooks = {"Notification": [{"matcher": "permission_prompt", "hooks": [record]}]}
    seen = []

    async def prompter(request):
        seen.append(log.exists())  # the notification came first
        return PermissionAnswer(allow=True)

    h = Harness(tmp_path, [Turn(tool_uses=[_write(tmp_path)]), Turn(text="done")], mode="default", hooks=hooks)
    h.runner.prompter = prompter
    h.run("write it")
    (event,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert seen == [True]
    assert event["hook_event_name"] == "Notification" and event["notification_type"] == "permission_prompt"
    assert "write_file" in event["message"]


def test_the_repl_notifies_once_it_has_been_idle(tmp_path):
    from types import SimpleNamespace

    from claw.cli.repl import idle_notifier
    from claw.runtime.hooks import HookRunner
    from tests.runtime.test_agent import _typed_hooks

    log = tmp_path / "idle.jsonl"
    record = python_hook(f"import sys; open({str(log)!r}, 'a').write(sys.stdin.read() + '\\n')")
    hooks = HookRunner(_typed_hooks({"Notification": [{"matcher": "idle_prompt", "hooks": [record]}]}, tmp_path),
                       project_dir=str(tmp_path), session_id="s", transcript_path=str(tmp_path / "t.jsonl"))
    run = SimpleNamespace(hooks=hooks)
    cancelled = idle_notifier(run, seconds=0.05)
    cancelled.cancel()  # input arrived in time: nothing fires
    timer = idle_notifier(run, seconds=0.05)
    timer.join(30)
    deadline = time.time() + 30
    while not log.exists() and time.time() < deadline:
        time.sleep(0.05)
    (event,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert event["notification_type"] == "idle_prompt"
    assert idle_notifier(SimpleNamespace(hooks=None)) is None
