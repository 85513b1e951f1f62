"""Process lifetime: the process groups claw starts for tools die with claw, whichever way it ends —
a normal exit, SIGTERM, SIGHUP, SIGINT, or SIGKILL (the guard process) — leftovers of a finished
foreground call included; background jobs too, unless CLAW_KEEP_BACKGROUND_JOBS=1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from tests.cli.headless_helpers import ROOT, isolated_env
from tests.fakes.model_server import ModelServer, reply, tool_use
from tests.processes import alive, wait_until

LEFTOVER = "sleep 300 & echo $! > pidfile; echo started"


def _pid(work: Path, seconds: float = 30) -> int:
    path = work / "pidfile"
    assert wait_until(lambda: path.exists() and path.read_text().strip().isdigit(), seconds), "no pidfile"
    return int(path.read_text().strip())


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def pids():
    started: List[int] = []
    yield started
    for pid in started:  # never leave a sleep behind, whatever the test found
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _claw(work: Path, env: dict, prompt: str = "go", *flags: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "claw", "-p", prompt, "--output-format", "json", *flags],
                            cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _killed_once_pidfile_is_written(work: Path, home: Path, pids: List[int], script: list, *flags: str,
                                    also: str = "") -> List[int]:
    """Run claw until ``work/pidfile`` is written, then ``kill -9`` it; returns that pid (and the one in
    ``work/<also>``, written before it), recorded in ``pids`` for clean-up."""
    with ModelServer(script) as srv:
        proc = _claw(work, _env(srv, home), "go", *flags)
        try:
            found = [_pid(work)] + ([int((work / also).read_text())] if also else [])
            pids.extend(found)
            proc.kill()
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    return found


def _env(srv: ModelServer, home: Path, **extra: str) -> dict:
    return isolated_env(srv.env(), home, PYTHONPATH=str(ROOT), **extra)


def test_leftover_of_a_foreground_call_dies_when_claw_exits_normally(work, home, pids):
    script = [reply(tool_uses=[tool_use("bash", {"command": LEFTOVER}, id="t1")]), reply(text="done")]
    with ModelServer(script) as srv:
        proc = _claw(work, _env(srv, home))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    pid = _pid(work)
    pids.append(pid)
    assert wait_until(lambda: not alive(pid), 5), "the sleep left by the bash call outlived claw"


SLOW = reply(text="x" * 300, text_chunk=1, delay=0.1)  # the second turn keeps claw busy


def _stopped_mid_run(work: Path, home: Path, pids: List[int], tool_input: dict, stop) -> tuple:
    """Run claw until its second model request (the bash call has run), then ``stop(proc, pid)``;
    returns claw's process, the pid the command wrote, and claw's stderr."""
    script = [reply(tool_uses=[tool_use("bash", tool_input, id="t1")]), SLOW]
    with ModelServer(script) as srv:
        proc = _claw(work, _env(srv, home))
        try:
            pid = _pid(work)
            pids.append(pid)
            srv.wait_for_requests(2, timeout=30)
            stop(proc, pid)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    return proc, pid, err


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_leftover_dies_when_claw_is_stopped_by_a_signal_mid_run(work, home, pids, sig, code):
    def stop(proc, pid):
        assert alive(pid)
        proc.send_signal(sig)

    proc, pid, err = _stopped_mid_run(work, home, pids, {"command": LEFTOVER}, stop)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert wait_until(lambda: not alive(pid), 5), f"the sleep outlived claw stopped by {sig.name}"


def test_leftover_dies_after_claw_is_killed_with_sigkill(work, home, pids):
    proc, pid, _ = _stopped_mid_run(work, home, pids, {"command": LEFTOVER}, lambda proc, pid: proc.kill())
    assert proc.returncode == -signal.SIGKILL
    assert wait_until(lambda: not alive(pid), 8), "the sleep outlived a kill -9 of claw"


def test_a_running_foreground_command_dies_after_sigkill_of_claw(work, home, pids):
    """claw is killed while bash itself is still running the command (pdeathsig + the guard)."""
    script = [reply(tool_uses=[tool_use("bash", {"command": "echo $$ > pidfile; sleep 300"}, id="t1")])]
    [pid] = _killed_once_pidfile_is_written(work, home, pids, script)
    assert wait_until(lambda: not alive(pid), 8), "the running command outlived a kill -9 of claw"


BACKGROUND = "echo $$ > pidfile; exec sleep 300"


def _run_background(work: Path, home: Path, pids: List[int], **extra: str) -> int:
    # The foreground call waits for the job's pidfile: claw may otherwise end (and kill the job)
    # before the job's shell has written it.
    wait = "for i in $(seq 300); do [ -s pidfile ] && break; sleep 0.1; done"
    script = [reply(tool_uses=[tool_use("bash", {"command": BACKGROUND, "run_in_background": True}, id="t1")]),
              reply(tool_uses=[tool_use("bash", {"command": wait}, id="t2")]),
              reply(text="done")]
    with ModelServer(script) as srv:
        proc = _claw(work, _env(srv, home, **extra))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    pid = _pid(work)
    pids.append(pid)
    return pid


def test_a_background_job_is_killed_when_claw_exits(work, home, pids):
    pid = _run_background(work, home, pids)
    assert wait_until(lambda: not alive(pid), 5), "the background job outlived claw"


def test_a_background_job_is_kept_with_the_opt_out(work, home, pids):
    pid = _run_background(work, home, pids, CLAW_KEEP_BACKGROUND_JOBS="1")
    # Longer than the guard's grace: nothing (claw, pdeathsig, the guard) may kill it.
    assert not wait_until(lambda: not alive(pid), 3), "a kept background job was killed"


def test_a_background_job_dies_after_sigkill_of_claw(work, home, pids):
    _, pid, _ = _stopped_mid_run(work, home, pids, {"command": BACKGROUND, "run_in_background": True},
                                 lambda proc, pid: proc.kill())
    assert wait_until(lambda: not alive(pid), 8), "the background job outlived a kill -9 of claw"


def test_a_run_that_starts_no_process_starts_no_guard(work, home):
    """The guard is lazy: a plain answer imports nothing of the process bookkeeping."""
    code = ("import sys, runpy; sys.argv = ['claw', '-p', 'hi', '--output-format', 'json'];\n"
            "from claw.cli import main\n"
            "from claw.cli.headless import run\n"
            "rc = run(sys.argv[1:])\n"
            "print('LOADED' if 'claw.process_groups' in sys.modules else 'LAZY', file=sys.stderr)")
    with ModelServer([reply(text="hello")]) as srv:
        proc = subprocess.run([sys.executable, "-c", code], cwd=work, env=_env(srv, home), capture_output=True,
                              text=True, timeout=60)
    assert "LAZY" in proc.stderr, proc.stderr


@pytest.mark.parametrize("sig,code", [(signal.SIGHUP, 129), (signal.SIGTERM, 143)])
def test_the_repl_stopped_by_a_signal_kills_the_leftover(tmp_path, pids, sig, code):
    """The REPL at its prompt after a turn whose bash call left a child: SIGHUP (terminal closed) or
    SIGTERM ends claw with 128 + signo and the child dies."""
    from tests.cli.pty_harness import PtyProcess

    work, home = tmp_path / "ws", tmp_path / "home"
    work.mkdir()
    (home / ".claw").mkdir(parents=True)
    script = [reply(tool_uses=[tool_use("bash", {"command": LEFTOVER}, id="t1")]), reply(text="all done")]
    with ModelServer(script) as srv:
        env = isolated_env(srv.env(), home, PYTHONPATH=str(ROOT), TERM="xterm-256color", LANG="C.UTF-8")
        proc = PtyProcess.spawn([sys.executable, "-m", "claw", "--cwd", str(work)], env=env, cwd=str(work))
        try:
            proc.expect("Ctrl-D to exit")
            proc.sendline("start it")
            proc.expect("all done")
            pid = _pid(work)
            pids.append(pid)
            assert alive(pid)
            proc.proc.send_signal(sig)
            assert proc.wait() == code
        finally:
            proc.close()
    assert wait_until(lambda: not alive(pid), 5), f"the sleep outlived the REPL stopped by {sig.name}"


def test_a_swallowed_signal_exception_still_ends_claw_with_cleanup(tmp_path):
    """SIGTERM's exception can be lost (raised inside a __del__ or weakref callback); the watchdog then
    runs the cleanup and exits 143 anyway."""
    marker = tmp_path / "cleaned"
    code = (
        "import os, signal, sys, time\n"
        "from claw.cli import exit_signals\n"
        "exit_signals.install()\n"
        f"exit_signals.on_forced_exit(lambda: open({str(marker)!r}, 'w').write('x'))\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(1)\n"
        "except exit_signals.SignalExit:\n"
        "    pass  # swallowed, as Python does for an exception in a weakref callback\n"
        "time.sleep(30)\n"
        "sys.exit(7)\n"
    )
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert proc.returncode == 143
    assert marker.read_text() == "x"
    assert time.monotonic() - started < 20


def test_groups_are_forgotten_once_gone_and_kept_while_a_leftover_lives(tmp_path, pids):
    """A group claw saw empty is forgotten (its id may be reused by someone else's process); one with a
    leftover child stays recorded until it is killed."""
    from claw import process_groups
    from tests.tools.helpers import call, make_ctx

    ctx = make_ctx(tmp_path)
    clean = call("bash", {"command": "echo $$"}, ctx)
    assert int(clean.content.strip()) not in process_groups.recorded()
    left = call("bash", {"command": "sleep 300 & echo $! > pidfile; echo $$"}, ctx)
    pgid = int(left.content.splitlines()[0])
    pid = int((tmp_path / "pidfile").read_text())
    pids.append(pid)
    assert pgid in process_groups.recorded()
    process_groups.terminate([pgid])
    assert wait_until(lambda: not alive(pid), 5)
    assert pgid not in process_groups.recorded()


def test_a_running_hook_dies_after_sigkill_of_claw(work, home, pids):
    """A hook command (and what it forks) is recorded like a tool's process group: a ``kill -9`` of claw
    while the hook runs does not leave it behind."""
    hook = {"type": "command", "command": f"sleep 1; sleep 300 & echo $! > {work / 'pidfile'}; wait", "timeout": 600}
    settings = json.dumps({"hooks": {"PreToolUse": [{"matcher": "*", "hooks": [hook]}]}})
    script = [reply(tool_uses=[tool_use("bash", {"command": "true"}, id="t1")]), reply(text="done")]
    [pid] = _killed_once_pidfile_is_written(work, home, pids, script, "--settings", settings)
    assert wait_until(lambda: not alive(pid), 8), "the hook's child outlived a kill -9 of claw"


def test_an_mcp_stdio_server_and_its_children_die_after_sigkill_of_claw(work, home, pids):
    """An MCP server's process group is recorded like a tool's: a ``kill -9`` of claw while it waits
    for the server's handshake leaves neither the server nor what it forked."""
    # (the pause: claw records the group just after the spawn returns; a kill -9 in that instant
    # would leave a child forked at once)
    server = f"echo $$ > {work / 'leader'}; sleep 1; sleep 300 & echo $! > {work / 'pidfile'}; exec sleep 300"
    config = json.dumps({"mcpServers": {"stuck": {"command": "sh", "args": ["-c", server]}}})
    child, leader = _killed_once_pidfile_is_written(work, home, pids, [reply(text="done")], "--mcp-config", config,
                                                    also="leader")
    assert wait_until(lambda: not alive(child) and not alive(leader), 8), "the MCP server outlived a kill -9 of claw"
