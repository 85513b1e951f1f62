"""Hooks: real shell commands on stdin/stdout/exit codes, matchers and aliases, timeouts, callbacks."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from claw.config.models import HookCommand, HookMatcher
from claw.runtime.hook_config import DEFAULT_TIMEOUT, HooksConfig, HookSpec, matcher_matches, tool_names_for_matching
from claw.runtime.hooks import HookRunner


def cmd(command, timeout=None):
    hook = {"type": "command", "command": command}
    if timeout is not None:
        hook["timeout"] = timeout
    return hook


def hooks_of(raw):
    """The HooksConfig of a ``hooks`` value written in the settings' shape, plus the host's callback
    forms (``hookCallbackIds`` groups, ``{"type": "callback"}`` items). Only well-formed values: the
    settings are validated by claw.config (tests/config), not here."""
    specs = []
    for event, groups in (raw or {}).items():
        for group in groups:
            matcher = group.get("matcher") or ""
            for callback_id in group.get("hookCallbackIds") or ():
                specs.append(HookSpec(event, matcher, "callback", callback_id=callback_id))
            for hook in group.get("hooks") or ():
                timeout = float(hook.get("timeout", DEFAULT_TIMEOUT))
                if hook.get("type", "command") == "command":
                    specs.append(HookSpec(event, matcher, "command", command=hook["command"], timeout=timeout))
                else:
                    specs.append(HookSpec(event, matcher, "callback", callback_id=hook["callback_id"], timeout=timeout))
    return HooksConfig().plus(specs)


def runner(tmp_path, config, **kw):
    kw.setdefault("session_id", "sess-1")
    kw.setdefault("transcript_path", str(tmp_path / "t.jsonl"))
    return HookRunner(hooks_of(config), project_dir=str(tmp_path), **kw)


def run(r, event, payload=None, **kw):
    return asyncio.run(r.run(event, payload or {}, **kw))


def group_gone(pgid, wait=5.0):
    """True once no live process is left in the group (SIGKILL is delivered asynchronously, so
    give the kernel a moment)."""
    import time

    deadline = time.monotonic() + wait
    while live_group_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def live_group_members(pgid):
    """Processes (not zombies) whose process group is ``pgid``, from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2:].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state not in ("Z", "X"):
            members.append(int(entry))
    return members


# -- exit codes and stdout -----------------------------------------------------------------------


def test_exit_2_blocks_with_stderr_as_reason(tmp_path):
    r = runner(tmp_path, {"PreToolUse": [{"matcher": "Bash", "hooks": [cmd("echo 'rm is not allowed' >&2; exit 2")]}]})
    out = run(r, "PreToolUse", {"tool_input": {"command": "rm -rf /"}, "tool_use_id": "t1"}, tool_name="bash")
    assert out.blocked and out.reason == "rm is not allowed"
    assert out.permission_decision == "deny"
    assert out.warnings == [] and out.ran == 1 and out.results[0].exit_code == 2


def test_exit_2_cannot_block_session_start(tmp_path):
    r = runner(tmp_path, {"SessionStart": [{"hooks": [cmd("echo nope >&2; exit 2")]}]})
    out = run(r, "SessionStart", {"source": "startup"})
    assert not out.blocked
    assert len(out.warnings) == 1 and "cannot block" in out.warnings[0] and "nope" in out.warnings[0]


def test_exit_1_is_a_non_blocking_error(tmp_path):
    r = runner(tmp_path, {"PostToolUse": [{"matcher": "*", "hooks": [cmd("echo oops >&2; exit 1")]}]})
    out = run(r, "PostToolUse", {"tool_response": "ok"}, tool_name="read_file")
    assert not out.blocked and out.continue_
    assert len(out.warnings) == 1 and "exit code 1" in out.warnings[0] and "oops" in out.warnings[0]


def test_updated_input(tmp_path):
    answer = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow",
                                     "permissionDecisionReason": "safe", "updatedInput": {"command": "ls -la"}}}
    r = runner(tmp_path, {"PreToolUse": [{"matcher": "Bash", "hooks": [cmd(f"echo '{json.dumps(answer)}'")]}]})
    out = run(r, "PreToolUse", {"tool_input": {"command": "ls"}}, tool_name="bash")
    assert out.updated_input == {"command": "ls -la"}
    assert out.permission_decision == "allow" and out.permission_decision_reason == "safe"
    assert not out.blocked and out.warnings == []


def test_additional_context_json_and_plain_stdout(tmp_path):
    ctx = {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": "from json"}}
    r = runner(tmp_path, {
        "UserPromptSubmit": [{"hooks": [cmd("echo 'plain context'"), cmd(f"echo '{json.dumps(ctx)}'")]}],
        "SessionStart": [{"matcher": "startup", "hooks": [cmd("echo 'branch is main'")]}],
        "PreToolUse": [{"hooks": [cmd("echo 'just output'")]}],
    })
    out = run(r, "UserPromptSubmit", {"prompt": "hi"})
    assert out.additional_context == "plain context\n\nfrom json"
    assert run(r, "SessionStart", {"source": "startup"}).additional_context == "branch is main"
    assert run(r, "SessionStart", {"source": "resume"}).ran == 0
    pre = run(r, "PreToolUse", {}, tool_name="bash")
    assert pre.additional_context is None and pre.output == "just output"


def test_post_tool_use_additional_context(tmp_path):
    ctx = {"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": "lint: 2 warnings"}}
    r = runner(tmp_path, {"PostToolUse": [{"matcher": "Write|Edit", "hooks": [cmd(f"echo '{json.dumps(ctx)}'")]}]})
    assert run(r, "PostToolUse", {}, tool_name="write_file").additional_context == "lint: 2 warnings"


def test_invalid_json_is_reported_not_raised(tmp_path):
    r = runner(tmp_path, {"UserPromptSubmit": [{"hooks": [cmd("echo '{\"decision\": block}'"), cmd("echo '[1, 2]'")]}]})
    out = run(r, "UserPromptSubmit", {"prompt": "x"})
    assert not out.blocked and out.additional_context is None
    assert len(out.warnings) == 2
    assert "invalid JSON" in out.warnings[0] and "not an object" in out.warnings[1]


def test_wrongly_typed_fields_are_reported(tmp_path):
    bad = {"systemMessage": 5, "hookSpecificOutput": {"hookEventName": "PreToolUse", "updatedInput": "x",
                                                      "permissionDecision": "maybe"}}
    wrong_event = {"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": "no"}}
    r = runner(tmp_path, {"PreToolUse": [{"hooks": [cmd(f"echo '{json.dumps(bad)}'"),
                                                    cmd(f"echo '{json.dumps(wrong_event)}'")]}]})
    out = run(r, "PreToolUse", {}, tool_name="bash")
    text = " | ".join(out.warnings)
    assert "systemMessage" in text and "updatedInput" in text and "maybe" in text and "PostToolUse" in text
    assert out.updated_input is None and out.additional_context is None and out.system_message is None


def test_decision_block_continue_false_and_system_message(tmp_path):
    answer = {"decision": "block", "reason": "tests must pass first", "continue": False,
              "stopReason": "policy stop", "systemMessage": "hook says hi", "suppressOutput": True}
    r = runner(tmp_path, {"Stop": [{"hooks": [cmd(f"echo '{json.dumps(answer)}'")]}]})
    out = run(r, "Stop", {"stop_hook_active": False})
    assert out.blocked and out.reason == "tests must pass first"
    assert out.continue_ is False and out.stop_reason == "policy stop"
    assert out.system_message == "hook says hi" and out.suppress_output


def test_legacy_approve_decision_for_pre_tool_use(tmp_path):
    r = runner(tmp_path, {"PreToolUse": [{"hooks": [cmd("echo '{\"decision\": \"approve\", \"reason\": \"ok\"}'")]}]})
    out = run(r, "PreToolUse", {}, tool_name="bash")
    assert out.permission_decision == "allow" and not out.blocked


# -- timeouts and process groups -----------------------------------------------------------------


def test_timeout_kills_the_whole_process_group(tmp_path):
    r = runner(tmp_path, {"PreToolUse": [{"hooks": [cmd("sleep 30 & sleep 30; echo never", timeout=0.5)]}]})
    out = run(r, "PreToolUse", {}, tool_name="bash")
    assert not out.blocked
    assert len(out.warnings) == 1 and "timed out after 0.5s" in out.warnings[0]
    result = out.results[0]
    assert result.timed_out and result.pid
    assert group_gone(result.pid), live_group_members(result.pid)


@pytest.mark.parametrize("delay", [0, 0.3])  # while the process starts / while it runs
def test_cancellation_kills_the_hook_and_propagates(tmp_path, delay):
    marker = tmp_path / "started"
    r = runner(tmp_path, {"UserPromptSubmit": [{"hooks": [cmd(f"echo $$ > {marker}; sleep 60 & sleep 60")]}]})

    async def scenario():
        task = asyncio.ensure_future(r.run("UserPromptSubmit", {"prompt": "x"}))
        for _ in range(500):
            if marker.exists() and marker.read_text().strip():
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(delay)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=15)  # the hook itself would run for 60 s
        assert task in done, "cancelling did not stop the hook"
        with pytest.raises(asyncio.CancelledError):
            task.result()
        return int(marker.read_text())

    pgid = asyncio.run(scenario())
    assert group_gone(pgid), live_group_members(pgid)


def test_hooks_run_concurrently(tmp_path):
    # Each hook waits for the other's file: run one after the other, both would time out.
    wait_for = 'touch {mine}; i=0; while [ ! -f {other} ]; do i=$((i+1)); [ $i -gt 100 ] && exit 1; sleep 0.05; done'
    a = wait_for.format(mine=tmp_path / "a", other=tmp_path / "b")
    b = wait_for.format(mine=tmp_path / "b", other=tmp_path / "a")
    r = runner(tmp_path, {"PostToolUse": [{"hooks": [cmd(a, timeout=8)]}, {"hooks": [cmd(b, timeout=8)]}]})
    out = run(r, "PostToolUse", {}, tool_name="bash")
    assert out.ran == 2 and out.warnings == []
    assert [res.exit_code for res in out.results] == [0, 0]


def test_unstartable_hook_is_a_warning(tmp_path):
    r = HookRunner(hooks_of({"Stop": [{"hooks": [cmd("true")]}]}), project_dir=str(tmp_path / "missing-dir"),
                   session_id="s", transcript_path="t")
    out = run(r, "Stop", {})
    assert len(out.warnings) == 1 and "could not run" in out.warnings[0]


# -- stdin payload and environment -----------------------------------------------------------------


def test_payload_on_stdin_env_and_cwd(tmp_path):
    dump = tmp_path / "payload.json"
    envdump = tmp_path / "env.txt"
    command = (f'cat > {dump}; pwd > {envdump}; echo "$CLAW_PROJECT_DIR" >> {envdump}; '
               f'echo "$CLAUDE_PROJECT_DIR" >> {envdump}; echo "${{HOOK_TEST_VAR:-unset}}" >> {envdump}; '
               f'echo "${{HOME:-nohome}}" >> {envdump}')
    r = runner(tmp_path, {"PreToolUse": [{"matcher": "Read", "hooks": [cmd(command)]}]},
               env={"HOOK_TEST_VAR": "from-settings", "HOME": None}, permission_mode="read-only")
    out = run(r, "PreToolUse", {"tool_input": {"path": "a.py"}, "tool_use_id": "toolu_9"}, tool_name="read_file")
    assert out.warnings == []
    payload = json.loads(dump.read_text())
    assert payload == {
        "session_id": "sess-1",
        "transcript_path": str(tmp_path / "t.jsonl"),
        "cwd": str(tmp_path),
        "hook_event_name": "PreToolUse",
        "permission_mode": "read-only",
        "tool_name": "read_file",
        "tool_input": {"path": "a.py"},
        "tool_use_id": "toolu_9",
        "claude_code_tool_name": "Read",
    }
    lines = envdump.read_text().splitlines()
    assert lines[0] == os.path.realpath(tmp_path)
    assert lines[1] == lines[2] == str(tmp_path)
    assert lines[3] == "from-settings" and lines[4] == "nohome"


def test_identical_commands_run_once(tmp_path):
    log = tmp_path / "count"
    c = cmd(f"echo x >> {log}")
    r = runner(tmp_path, {"PostToolUse": [{"matcher": "Bash", "hooks": [c]}, {"matcher": "*", "hooks": [c]}]})
    run(r, "PostToolUse", {}, tool_name="bash")
    assert log.read_text().count("x") == 1


# -- combination -------------------------------------------------------------------------------------


def test_combination_deny_wins_last_updated_input_contexts_in_order(tmp_path):
    def hso(**fields):
        return "echo '" + json.dumps({"hookSpecificOutput": dict(hookEventName="PreToolUse", **fields)}) + "'"

    r = runner(tmp_path, {"PreToolUse": [
        {"hooks": [cmd(hso(permissionDecision="allow", updatedInput={"command": "a"}, additionalContext="one"))]},
        {"hooks": [cmd("sleep 0.2; " + hso(permissionDecision="deny", permissionDecisionReason="no way"))]},
        {"hooks": [cmd(hso(permissionDecision="ask", updatedInput={"command": "b"}, additionalContext="two"))]},
    ]})
    out = run(r, "PreToolUse", {}, tool_name="bash")
    assert out.blocked and out.permission_decision == "deny" and out.reason == "no way"
    assert out.updated_input == {"command": "b"}
    assert out.additional_context == "one\n\ntwo"


def test_ask_beats_allow(tmp_path):
    r = runner(tmp_path, {"PreToolUse": [{"hooks": [
        cmd("echo '{\"hookSpecificOutput\": {\"permissionDecision\": \"ask\", \"permissionDecisionReason\": \"check\"}}'"),
        cmd("echo '{\"hookSpecificOutput\": {\"permissionDecision\": \"allow\"}}'"),
    ]}]})
    out = run(r, "PreToolUse", {}, tool_name="bash")
    assert out.permission_decision == "ask" and out.permission_decision_reason == "check" and not out.blocked


def test_no_hooks_is_an_empty_outcome(tmp_path):
    r = runner(tmp_path, None)
    out = run(r, "PreToolUse", {}, tool_name="bash")
    assert out.ran == 0 and not out.blocked and out.continue_ and out.warnings == []
    assert not r.has_hooks("PreToolUse", tool_name="bash")


# -- matchers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "matcher, tool, expected",
    [
        ("Bash", "bash", True),
        ("bash", "bash", True),
        ("Bash", "Bash", True),
        ("Read", "read_file", True),
        ("read_file", "read_file", True),
        ("Edit", "edit_file", True),
        ("MultiEdit", "edit_file", True),
        ("Edit|Write", "write_file", True),
        ("Edit|Write", "bash", False),
        ("Edit, Write", "edit_file", True),
        ("Glob|Grep", "grep_search", True),
        ("WebFetch", "web_fetch", True),
        ("WebSearch", "web_search", True),
        ("TodoWrite", "todo_write", True),
        ("Write", "todo_write", False),  # exact names, not substrings
        ("Bash", "BashOutput", False),
        ("*", "anything", True),
        ("", "anything", True),
        ("mcp__git__.*", "mcp__git__status", True),
        ("mcp__git__.*", "mcp__time__now", False),
        ("mcp__git", "mcp__git__status", False),  # exact, as in Claude Code
        ("mcp__git__status", "mcp__git__status", True),
        ("^Notebook", "NotebookEdit", True),
        ("Web.*", "web_fetch", True),  # regex tried on the Claude Code name too
        ("^bash$", "bash", True),
        ("(unclosed", "bash", False),
    ],
)
def test_matcher_matches(matcher, tool, expected):
    assert matcher_matches(matcher, tool_names_for_matching(tool)) is expected


def test_alias_helpers():
    assert tool_names_for_matching("MultiEdit")[0] == "edit_file"
    assert tool_names_for_matching("mcp__a__b") == ("mcp__a__b",)
    assert tool_names_for_matching("Edit") == ("edit_file", "Edit", "MultiEdit")


def test_matching_through_the_runner(tmp_path):
    log = tmp_path / "log"
    r = runner(tmp_path, {"PreToolUse": [
        {"matcher": "Bash", "hooks": [cmd(f"echo bash >> {log}")]},
        {"matcher": "Write|Edit", "hooks": [cmd(f"echo edit >> {log}")]},
        {"matcher": "mcp__srv__.*", "hooks": [cmd(f"echo mcp >> {log}")]},
    ]})
    run(r, "PreToolUse", {}, tool_name="bash")
    run(r, "PreToolUse", {}, tool_name="edit_file")
    run(r, "PreToolUse", {"tool_name": "mcp__srv__do"})
    run(r, "PreToolUse", {}, tool_name="read_file")
    assert log.read_text().split() == ["bash", "edit", "mcp"]
    assert r.has_hooks("PreToolUse", tool_name="Write") and not r.has_hooks("PreToolUse", tool_name="glob_search")


def test_user_prompt_submit_ignores_matcher(tmp_path):
    r = runner(tmp_path, {"UserPromptSubmit": [{"matcher": "whatever", "hooks": [cmd("echo ctx")]}]})
    assert run(r, "UserPromptSubmit", {"prompt": "x"}).additional_context == "ctx"


# -- configuration -----------------------------------------------------------------------------------


def test_settings_hooks_come_before_host_callbacks():
    settings = {"PreToolUse": (HookMatcher("Bash", (HookCommand("a"),)),)}
    callbacks = [HookSpec("PreToolUse", "Bash", "callback", callback_id="hook_0"),
                 HookSpec("Stop", "", "callback", callback_id="hook_1")]
    config = HooksConfig.from_settings(settings).plus(callbacks)
    assert len(config.for_event("PreToolUse")) == 2 and len(config.for_event("Stop")) == 1
    specs = config.for_event("PreToolUse")
    assert [s.type for s in specs] == ["command", "callback"]
    assert specs[0].timeout == 60.0 and HooksConfig.from_settings(None).by_event == {}


# -- callbacks -------------------------------------------------------------------------------------


def test_callback_hooks(tmp_path):
    calls = []

    async def callback(callback_id, payload, tool_use_id):
        calls.append((callback_id, payload["hook_event_name"], payload["tool_input"], tool_use_id))
        if callback_id == "hook_0":
            return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                           "permissionDecisionReason": "host says no"}}
        return {"continue": True}

    r = runner(tmp_path, {"PreToolUse": [{"matcher": "Bash", "hookCallbackIds": ["hook_0"]},
                                          {"matcher": "Read", "hooks": [{"type": "callback", "callback_id": "hook_1"}]}]},
               callback=callback)
    out = run(r, "PreToolUse", {"tool_input": {"command": "x"}, "tool_use_id": "toolu_1"}, tool_name="bash")
    assert out.blocked and out.reason == "host says no"
    assert calls == [("hook_0", "PreToolUse", {"command": "x"}, "toolu_1")]
    out = run(r, "PreToolUse", {"tool_input": {"path": "p"}}, tool_name="read_file")
    assert not out.blocked and out.warnings == [] and calls[-1][0] == "hook_1"


def test_callback_failures_are_warnings(tmp_path):
    async def callback(callback_id, payload, tool_use_id):
        if callback_id == "boom":
            raise RuntimeError("host crashed")
        if callback_id == "slow":
            await asyncio.sleep(10)
        return "not a dict"

    config = {"Stop": [{"hooks": [{"type": "callback", "callback_id": c, "timeout": 0.2} for c in ("boom", "slow", "odd")]}]}
    out = run(runner(tmp_path, config, callback=callback), "Stop", {})
    text = " | ".join(out.warnings)
    assert len(out.warnings) == 3
    assert "host crashed" in text and "timed out" in text and "expected an object" in text
    out = run(runner(tmp_path, config), "Stop", {})
    assert len(out.warnings) == 3 and "no host registered callbacks" in out.warnings[0]


def test_unknown_event_is_a_warning(tmp_path):
    out = run(runner(tmp_path, {}), "NotAnEvent", {})
    assert out.warnings and not out.blocked


def test_typed_settings_model_is_accepted(tmp_path):
    models = pytest.importorskip("claw.config.models")
    typed = {"PreToolUse": (models.HookMatcher("Bash", (models.HookCommand("echo 'no' >&2; exit 2", "command", 5),)),),
             "SubagentStop": ()}
    config = HooksConfig.from_settings(typed)
    assert set(config.by_event) == {"PreToolUse"}
    assert [(s.matcher, s.command, s.timeout) for s in config.for_event("PreToolUse")] == [("Bash", "echo 'no' >&2; exit 2", 5.0)]
    out = run(HookRunner(config, project_dir=str(tmp_path), session_id="s", transcript_path="t"), "PreToolUse", {},
              tool_name="bash")
    assert out.blocked and out.reason == "no"


def test_huge_output_is_capped_and_large_stdin_is_delivered(tmp_path):
    from claw.runtime import hooks

    # 5 MB of stdout; the hook also reads a 2 MB payload fully before answering.
    command = "wc -c > /dev/null; head -c 5000000 /dev/zero | tr '\\0' 'a'; echo; echo done >&2"
    r = runner(tmp_path, {"PostToolUse": [{"hooks": [cmd(command)]}]})
    out = run(r, "PostToolUse", {"tool_response": "x" * 2_000_000}, tool_name="bash")
    result = out.results[0]
    assert result.exit_code == 0 and result.stderr.strip() == "done"
    assert len(result.stdout) == hooks.OUTPUT_LIMIT
    assert out.output is not None and out.warnings == []


def test_hook_that_ignores_a_large_stdin(tmp_path):
    r = runner(tmp_path, {"PostToolUse": [{"hooks": [cmd("echo ignored-input", timeout=20)]}]})
    out = run(r, "PostToolUse", {"tool_response": "y" * 3_000_000}, tool_name="bash")
    assert out.warnings == [] and out.output == "ignored-input"
