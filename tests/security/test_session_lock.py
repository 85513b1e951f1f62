"""One writer per session: a second process resuming a session in use fails before its first request,
a lock left by a killed process never blocks, and damaged lines of a resumed file are reported.

Real ``python -m claw`` processes against the fake model server; the first run's model answer is
stalled so that it holds the session while the second one starts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.headless_helpers import ROOT, isolated_env, run_subprocess
from tests.fakes.model_server import ModelServer, reply

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")


def _last_prompt(req) -> str:
    messages = (req.json or {}).get("messages") or [{}]
    content = messages[-1].get("content")
    if isinstance(content, list):
        return " ".join(b.get("text", "") for b in content if isinstance(b, dict))
    return str(content)


def _handler(req):
    if "SLOW" in _last_prompt(req):  # one event, then 60 s of silence: the run holds the session
        return reply(text="slow answer", stall_after=1, stall_seconds=60)
    return reply(text="quick answer")


@pytest.fixture
def setup(tmp_path: Path):
    home = tmp_path / "home"
    (home / ".claw").mkdir(parents=True)
    project = tmp_path / "project"
    project.mkdir()
    with ModelServer(handler=_handler) as server:
        env = isolated_env(server.env(), home)
        first = run_subprocess(["-p", "hello", "--output-format", "json"], env, project)
        assert first.code == 0, first.stderr
        yield server, env, project, first.json["session_id"]


def _start_slow(env, project, session_id, server) -> subprocess.Popen:
    before = len(server.requests)
    proc = subprocess.Popen([sys.executable, "-m", "claw", "-p", "SLOW", "--resume", session_id],
                            cwd=project, env=dict(env, PYTHONPATH=str(ROOT)), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while len(server.requests) == before:  # its request is in flight: it holds the session
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the first run never reached the model"
        time.sleep(0.05)
    return proc


def test_second_resume_fails_with_session_in_use_then_works_after_kill_9(setup):
    server, env, project, sid = setup
    slow = _start_slow(env, project, sid, server)
    try:
        before = len(server.requests)
        second = run_subprocess(["-p", "second", "--resume", sid, "--output-format", "json"], env, project)
        assert second.code == 1, second.stderr
        result = second.json
        assert result["is_error"] is True
        assert result["error"]["kind"] == "session_in_use"
        assert result["error"]["failure_class"] == "runtime_io"
        assert "--fork-session" in result["error"]["hint"]
        assert "Traceback" not in second.stderr
        assert len(server.requests) == before  # failed before its first request

        # --continue picks the same (most recent) session: refused the same way
        cont = run_subprocess(["-p", "again", "--continue"], env, project)
        assert cont.code == 1
        assert "in use" in cont.stderr and "--fork-session" in cont.stderr

        # forking only reads the original: it works while the session is in use
        fork = run_subprocess(["-p", "fork", "--resume", sid, "--fork-session", "--output-format", "json"],
                              env, project)
        assert fork.code == 0, fork.stderr
        assert fork.json["session_id"] != sid
    finally:
        os.kill(slow.pid, signal.SIGKILL)
        slow.communicate(timeout=30)
    # the killed process's lock died with it
    after = run_subprocess(["-p", "after the kill", "--resume", sid, "--output-format", "json"], env, project)
    assert after.code == 0, after.stdout + after.stderr
    assert after.json["result"] == "quick answer"
    history = server.requests[-1].json["messages"]
    assert [m["role"] for m in history[:2]] == ["user", "assistant"]  # resumed from the real history


def _damage(project: Path, sid: str) -> int:
    """Insert an invalid line after the header; returns its 1-based line number."""
    path = project / ".claw" / "sessions" / f"{sid}.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines.insert(1, b'{"type":"message","v":1,"uuid":"torn\n')
    path.write_bytes(b"".join(lines))
    return 2


def test_torn_line_warns_with_its_line_number_in_text_mode(setup):
    server, env, project, sid = setup
    line = _damage(project, sid)
    run = run_subprocess(["-p", "go on", "--resume", sid], env, project)
    assert run.code == 0, run.stderr
    assert f"line {line}" in run.stderr and "warning" in run.stderr


def test_torn_line_warns_as_a_stream_json_system_notice(setup):
    server, env, project, sid = setup
    line = _damage(project, sid)
    run = run_subprocess(["-p", "go on", "--resume", sid, "--output-format", "stream-json", "--verbose"],
                         env, project)
    assert run.code == 0, run.stderr
    notices = [m for m in run.lines if m.get("type") == "system" and m.get("subtype") == "notice"]
    assert any(f"line {line}" in n["text"] and n["level"] == "warning" for n in notices), run.lines
    assert f"line {line}" in run.stderr


def test_torn_line_warns_in_stream_json_input_mode(setup):
    server, env, project, sid = setup
    line = _damage(project, sid)
    prompt = json.dumps({"type": "user", "message": {"role": "user", "content": "go on"}})
    run = run_subprocess(["-p", "--resume", sid, "--input-format", "stream-json", "--output-format",
                          "stream-json", "--verbose"], env, project, stdin=prompt + "\n")
    assert run.code == 0, run.stderr
    notices = [m for m in run.lines if m.get("type") == "system" and m.get("subtype") == "notice"]
    assert any(f"line {line}" in n["text"] for n in notices), run.lines


def test_interleaved_writers_are_reported_not_silently_repaired(tmp_path: Path):
    """Records of two writers that continue an older message: the load says so."""
    from claw.runtime.session_store import SessionStore

    store = SessionStore(tmp_path)
    a = store.create(model="m", cwd=str(tmp_path))
    root = a.append_message({"role": "user", "content": "start"})
    a.close()
    path = a.path

    def record(uid: str, parent: str, role: str, content: object) -> str:
        return json.dumps({"type": "message", "v": 1, "uuid": uid, "parent_uuid": parent,
                           "timestamp": "2026-01-01T00:00:00.000Z", "message": {"role": role, "content": content}})

    use = lambda tid: [{"type": "tool_use", "id": tid, "name": "bash", "input": {"command": "true"}}]
    res = lambda tid: [{"type": "tool_result", "tool_use_id": tid, "content": "ok"}]
    u = ["%08d-0000-4000-8000-000000000000" % i for i in range(6)]
    with open(path, "a") as f:  # what two unlocked writers produced: A and B both continue `root`
        for line in (record(u[0], root, "assistant", use("ta")), record(u[1], root, "assistant", use("tb")),
                     record(u[2], u[0], "user", res("ta")), record(u[3], u[1], "user", res("tb"))):
            f.write(line + "\n")
    loaded = store.open(a.id)
    assert any("do not follow" in w for w in loaded.warnings), loaded.warnings
    # and the lock makes the race impossible for writers
    locked = store.open(a.id, lock=True)
    from claw.errors import SessionInUse

    with pytest.raises(SessionInUse):
        store.open(a.id, lock=True)
    locked.close()
    store.open(a.id, lock=True).close()
