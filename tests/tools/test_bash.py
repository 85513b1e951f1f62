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
