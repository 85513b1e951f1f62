"""The bash tool: output, exit codes, timeouts and cancellation that kill the whole process group,
the output cap, background jobs."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from claw.tools import bash as bash_mod
from claw.tools.base import ToolInputError
from claw.tools.registry import get_tool
from tests.processes import wait_gone
from tests.tools.helpers import call, make_ctx


@pytest.fixture
def ctx(tmp_path):
    return make_ctx(tmp_path, output_dir=tmp_path / "bg")


def test_runs_in_cwd_with_env_and_merged_output(tmp_path, ctx):
    ctx.env["CLAW_TEST_VALUE"] = "from-env"
    r = call("bash", {"command": "pwd; echo $CLAW_TEST_VALUE; echo oops >&2", "description": "x"}, ctx)
    assert not r.is_error
    assert r.content.splitlines() == [str(tmp_path), "from-env", "oops"]
    assert r.metadata["exit_code"] == 0


def test_stdin_is_empty(ctx):
    r = call("bash", {"command": "cat; echo done"}, ctx)
    assert r.content == "done"


def test_nonzero_exit_is_reported_as_error(ctx):
    r = call("bash", {"command": "echo partial; exit 7"}, ctx)
    assert r.is_error and r.content == "partial\n[exit code 7]" and r.metadata["exit_code"] == 7
    r = call("bash", {"command": "true"}, ctx)
    assert r.content == "(no output)" and not r.is_error


def test_timeout_kills_the_process_group_including_children(tmp_path, ctx):
    pidfile = tmp_path / "child.pid"
    r = call("bash", {"command": f"sleep 60 & echo $! > {pidfile}; wait", "timeout": 300}, ctx)
    assert r.is_error and r.metadata["timed_out"]
    assert "timed out after 300 ms" in r.content
    child = int(pidfile.read_text())
    assert wait_gone(child), "the child sleep survived the timeout"


def test_sigterm_ignoring_child_gets_sigkill(tmp_path, ctx, monkeypatch):
    monkeypatch.setattr(bash_mod, "KILL_GRACE", 0.3)
    pidfile = tmp_path / "stubborn.pid"
    script = f"bash -c 'trap \"\" TERM; echo $$ > {pidfile}; while :; do sleep 0.05; done' & wait"
    r = call("bash", {"command": script, "timeout": 400}, ctx)
    assert r.metadata["timed_out"]
    assert wait_gone(int(pidfile.read_text()))


def test_cancel_event_interrupts_and_kills(tmp_path, ctx):
    pidfile = tmp_path / "c.pid"

    async def main():
        ctx.cancel = asyncio.Event()
        task = asyncio.ensure_future(get_tool("bash")({"command": f"sleep 60 & echo $! > {pidfile}; wait"}, ctx))
        while not pidfile.exists() or not pidfile.read_text().strip():
            await asyncio.sleep(0.02)
        ctx.cancel.set()
        return await task

    r = asyncio.run(main())
    assert r.is_error and r.metadata["interrupted"] and "interrupted" in r.content
    assert wait_gone(int(pidfile.read_text()))


def test_task_cancellation_kills_the_group(tmp_path, ctx):
    pidfile = tmp_path / "t.pid"

    async def main():
        task = asyncio.ensure_future(get_tool("bash")({"command": f"sleep 60 & echo $! > {pidfile}; wait"}, ctx))
        while not pidfile.exists() or not pidfile.read_text().strip():
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert wait_gone(int(pidfile.read_text()))


def test_already_cancelled_context_does_not_start(ctx):
    async def main():
        ctx.cancel = asyncio.Event()
        ctx.cancel.set()
        return await get_tool("bash")({"command": "echo should-not-run"}, ctx)

    r = asyncio.run(main())
    assert r.is_error and "should-not-run" not in r.content


def test_output_is_capped_keeping_head_and_tail(ctx):
    r = call("bash", {"command": "seq 1 100000"}, ctx)
    assert not r.is_error
    assert len(r.content) < bash_mod.MAX_OUTPUT_CHARS + 200
    assert r.content.startswith("1\n2\n3\n") and r.content.endswith("99999\n100000")
    assert "output truncated" in r.content and "bytes omitted" in r.content
    assert r.metadata["truncated_bytes"] == r.metadata["output_bytes"] - bash_mod.MAX_OUTPUT_CHARS


def test_leftover_background_child_does_not_hang_the_call(tmp_path, ctx, monkeypatch):
    monkeypatch.setattr(bash_mod, "DRAIN_GRACE", 0.2)
    pidfile = tmp_path / "left.pid"
    started = time.monotonic()
    r = call("bash", {"command": f"sleep 30 & echo $! > {pidfile}; echo started"}, ctx)
    assert time.monotonic() - started < 10
    assert r.content.startswith("started") and "run_in_background" in r.content
    os.kill(int(pidfile.read_text()), 9)


def test_background_job_writes_output_file_with_exit_code(tmp_path, ctx):
    r = call("bash", {"command": "echo one; echo two >&2; exit 3", "run_in_background": True}, ctx)
    assert not r.is_error and r.metadata["background"]
    out = Path(r.metadata["output_file"])
    assert out.parent == tmp_path / "bg" and str(out) in r.content and r.metadata["job_id"] in r.content
    deadline = time.monotonic() + 5
    while "[claw: exit code" not in out.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert out.read_text() == "one\ntwo\n\n[claw: exit code 3]\n"
    # the model can read it back with read_file
    back = call("read_file", {"path": str(out)}, ctx)
    assert "[claw: exit code 3]" in back.content


def test_background_jobs_can_be_terminated(tmp_path, ctx):
    r = call("bash", {"command": "sleep 60", "run_in_background": True}, ctx)
    pid = r.metadata["pid"]
    assert ctx.background.running() == [r.metadata["job_id"]]
    ctx.background.terminate_all()
    assert wait_gone(pid)


def test_validation_limits():
    tool = get_tool("bash")
    with pytest.raises(ToolInputError, match="at most 600000"):
        tool.validate({"command": "ls", "timeout": 600001})
    with pytest.raises(ToolInputError, match="at least 1"):
        tool.validate({"command": "ls", "timeout": 0})
    with pytest.raises(ToolInputError, match="must not be empty"):
        tool.validate({"command": "  "})
    with pytest.raises(ToolInputError, match="missing required property 'command'"):
        tool.validate({})
    assert tool.validate({"command": "ls", "timeout": "5000", "run_in_background": "false"}) == {
        "command": "ls", "timeout": 5000, "run_in_background": False}


# --- the working directory carries over between calls --------------------------------------------


@pytest.fixture
def ws(tmp_path):
    root = (tmp_path / "ws").resolve()
    (root / "sub" / "deeper").mkdir(parents=True)
    return make_ctx(root, output_dir=tmp_path / "bg")


def test_cd_carries_to_the_next_call_but_variables_do_not(ws):
    assert call("bash", {"command": "cd sub && export X=1"}, ws).content == "(no output)"
    assert call("bash", {"command": "pwd; echo x=$X"}, ws).content.splitlines() == [
        str(ws.cwd / "sub"), "x="]
    call("bash", {"command": "cd deeper; exit 3"}, ws)  # an early exit still reports
    assert call("bash", {"command": "pwd"}, ws).content == str(ws.cwd / "sub" / "deeper")


def test_exit_status_and_output_are_unchanged_by_the_report(ws):
    r = call("bash", {"command": "cd sub; echo out; false"}, ws)
    assert r.is_error and r.content == "out\n[exit code 1]" and r.metadata["exit_code"] == 1
    r = call("bash", {"command": "echo $LINENO; exit 0"}, ws)
    assert r.content == "1"  # the command's own line numbers


@pytest.mark.parametrize("command", [
    "cd sub; exec true",                   # exec: bash is gone before it could report
    "cd sub; trap - EXIT",                 # the report removed
    # every descriptor above stderr closed (the report's among them)
    "cd sub; for f in /proc/$$/fd/*; do n=${f##*/}; [ $n -gt 2 ] && eval \"exec $n>&-\"; done 2>/dev/null",
    "cd sub; sleep 5",                     # timed out and killed
])
def test_a_call_that_cannot_report_leaves_the_directory_unchanged(ws, command):
    r = call("bash", {"command": command, "timeout": 1000}, ws)
    assert ws.shell.cwd is None, r.content
    assert call("bash", {"command": "pwd"}, ws).content == str(ws.cwd)


def test_printed_marker_text_cannot_pose_as_the_report(ws):
    call("bash", {"command": "cd sub; echo /; echo " + str(ws.cwd / "sub" / "deeper")}, ws)
    assert call("bash", {"command": "pwd"}, ws).content == str(ws.cwd / "sub")


def test_leaving_the_workspace_resets_to_the_project_with_a_note(ws, tmp_path):
    (tmp_path / "outside").mkdir()
    r = call("bash", {"command": f"cd {tmp_path / 'outside'} && pwd"}, ws)
    assert r.content.startswith(str(tmp_path / "outside"))
    assert "outside the workspace" in r.content and f"reset to {ws.cwd}" in r.content
    assert call("bash", {"command": "pwd"}, ws).content == str(ws.cwd)
    os.symlink(tmp_path / "outside", ws.cwd / "link-out")
    r = call("bash", {"command": "cd link-out"}, ws)  # a symlink out is outside too
    assert "outside the workspace" in r.content and ws.shell.cwd is None


def test_added_directories_are_part_of_the_workspace(ws, tmp_path):
    extra = (tmp_path / "extra").resolve()
    extra.mkdir()
    ws.workspace_roots = (ws.cwd, extra)
    call("bash", {"command": f"cd {extra}"}, ws)
    assert call("bash", {"command": "pwd"}, ws).content == str(extra)


def test_a_directory_removed_meanwhile_resets_with_a_note(ws):
    call("bash", {"command": "cd sub/deeper"}, ws)
    os.rmdir(ws.cwd / "sub" / "deeper")
    r = call("bash", {"command": "pwd"}, ws)
    assert "no longer exists" in r.content and r.content.endswith(str(ws.cwd))


def test_background_shells_start_in_the_shell_directory(ws):
    call("bash", {"command": "cd sub"}, ws)
    r = call("bash", {"command": "pwd", "run_in_background": True}, ws)
    out = call("bash_output", {"bash_id": r.metadata["shell_id"], "block": True}, ws)
    ws.background.terminate_all()
    assert str(ws.cwd / "sub") in out.content


def test_a_cd_out_of_the_workspace_reaches_the_model_as_a_note_end_to_end(tmp_path, monkeypatch):
    from tests.cli.headless_helpers import isolated_env, run_inprocess
    from tests.fakes.model_server import ModelServer, reply, tool_use

    project, home = (tmp_path / "p").resolve(), tmp_path / "h"
    (project / "sub").mkdir(parents=True)
    home.mkdir()
    script = [reply(tool_uses=[tool_use("bash", {"command": "cd sub"}, id="b1")]),
              reply(tool_uses=[tool_use("bash", {"command": "cd ../.. && pwd"}, id="b2")]),
              reply(tool_uses=[tool_use("bash", {"command": "pwd"}, id="b3")]), reply(text="done")]
    with ModelServer(script) as srv:
        run = run_inprocess(["-p", "go", "--permission-mode", "bypassPermissions"],
                            isolated_env(srv.env(), home), monkeypatch, project)
        results = [r.json["messages"][-1]["content"][0]["content"] for r in srv.requests[1:]]
    assert run.code == 0, run.stderr
    assert results[1].startswith(str(tmp_path)) and "is outside the workspace" in results[1]
    assert f"it was reset to {project}" in results[1]
    assert results[2] == str(project)  # the next call starts in the workspace, not where the cd went
