"""Private background output: job logs go to a directory claw created 0700 and verifies on every use
(a real directory, owned by us, no group/other bits), under $XDG_RUNTIME_DIR or the session's
directory, never a shared predictable temp path; log files are 0600. An unsafe directory is refused."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from claw.tools.base import ToolContext
from tests.tools.helpers import call

OTHER_UID = 4242


def _ctx(tmp_path: Path, **kw) -> ToolContext:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": str(tmp_path / "tmp")}
    env.update(kw.pop("env", {}))
    return ToolContext(cwd=work, env=env, **kw)


def _xdg(tmp_path: Path) -> Path:
    runtime = tmp_path / "run-user"
    runtime.mkdir(mode=0o700)
    os.chmod(runtime, 0o700)
    return runtime


def _start(ctx: ToolContext):
    result = call("bash", {"command": "echo secret-output", "run_in_background": True}, ctx)
    ctx.background.terminate_all()
    return result


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_logs_are_private_under_xdg_runtime_dir(tmp_path):
    runtime = _xdg(tmp_path)
    ctx = _ctx(tmp_path, env={"XDG_RUNTIME_DIR": str(runtime)})
    result = _start(ctx)
    assert not result.is_error, result.content
    log = Path(result.metadata["output_file"])
    assert log.parent == runtime / "claw" / "bash"
    assert _mode(runtime / "claw") == 0o700 and _mode(runtime / "claw" / "bash") == 0o700
    assert _mode(log) == 0o600
    deadline = time.monotonic() + 5
    while "exit code" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_logs_go_below_the_session_directory_without_a_usable_runtime_dir(tmp_path):
    sessions = tmp_path / "work" / ".claw" / "sessions"
    sessions.mkdir(parents=True, mode=0o700)
    ctx = _ctx(tmp_path, session_dir=sessions / "1234", env={"XDG_RUNTIME_DIR": "relative/nope"})
    result = _start(ctx)
    assert not result.is_error, result.content
    log = Path(result.metadata["output_file"])
    assert log.parent == sessions / "1234" / "bash"
    assert _mode(sessions / "1234") == 0o700 and _mode(log.parent) == 0o700 and _mode(log) == 0o600
    assert not (tmp_path / "tmp").exists()  # never the shared $TMPDIR/claw-<uid>


def test_a_world_writable_runtime_dir_is_not_used(tmp_path):
    runtime = tmp_path / "shared"
    runtime.mkdir()
    os.chmod(runtime, 0o777)
    sessions = tmp_path / "work" / ".claw" / "sessions"
    sessions.mkdir(parents=True, mode=0o700)
    ctx = _ctx(tmp_path, session_dir=sessions / "s", env={"XDG_RUNTIME_DIR": str(runtime)})
    result = _start(ctx)
    assert not result.is_error, result.content
    assert not (runtime / "claw").exists()
    assert Path(result.metadata["output_file"]).parent == sessions / "s" / "bash"


def _prepare_bad(kind: str, candidate: Path, elsewhere: Path) -> None:
    if kind == "world-writable":
        candidate.mkdir()
        os.chmod(candidate, 0o777)
    elif kind == "symlink":
        elsewhere.mkdir(mode=0o700)
        candidate.symlink_to(elsewhere, target_is_directory=True)
    elif kind == "other-owner":
        candidate.mkdir(mode=0o700)
        os.chown(candidate, OTHER_UID, OTHER_UID)
    elif kind == "group-readable":
        candidate.mkdir()
        os.chmod(candidate, 0o750)


@pytest.mark.parametrize("kind", ["world-writable", "symlink", "other-owner", "group-readable"])
@pytest.mark.parametrize("level", ["claw", "bash"])
def test_an_unsafe_directory_at_the_xdg_candidate_is_refused(tmp_path, kind, level):
    if kind == "other-owner" and os.geteuid() != 0:
        pytest.skip("chown to another uid needs root")
    runtime = _xdg(tmp_path)
    candidate = runtime / "claw"
    if level == "bash":
        candidate.mkdir(mode=0o700)
        candidate = candidate / "bash"
    _prepare_bad(kind, candidate, tmp_path / "attacker")
    ctx = _ctx(tmp_path, env={"XDG_RUNTIME_DIR": str(runtime)})
    result = _start(ctx)
    assert result.is_error
    assert "Refusing to start the background job" in result.content and str(candidate) in result.content
    assert not (tmp_path / "attacker").exists() or os.listdir(tmp_path / "attacker") == []
    assert "metadata" not in result.content and result.metadata.get("pid") is None


@pytest.mark.parametrize("kind", ["world-writable", "symlink", "other-owner"])
def test_an_unsafe_directory_at_the_session_candidate_is_refused(tmp_path, kind):
    if kind == "other-owner" and os.geteuid() != 0:
        pytest.skip("chown to another uid needs root")
    sessions = tmp_path / "work" / ".claw" / "sessions"
    sessions.mkdir(parents=True, mode=0o700)
    (sessions / "s").mkdir(mode=0o700)
    _prepare_bad(kind, sessions / "s" / "bash", tmp_path / "attacker")
    ctx = _ctx(tmp_path, session_dir=sessions / "s")
    result = _start(ctx)
    assert result.is_error and "not private" in result.content
    assert not (tmp_path / "attacker").exists() or os.listdir(tmp_path / "attacker") == []


def test_the_old_shared_temp_path_is_never_used(tmp_path, monkeypatch):
    """Even with no runtime dir and no session dir, a pre-created world-writable $TMPDIR/claw-<uid>/bash
    (the old location) is not written to: claw makes its own private directory instead."""
    tmp = tmp_path / "tmp"
    shared = tmp / f"claw-{os.getuid()}" / "bash"
    shared.mkdir(parents=True)
    os.chmod(shared, 0o777)
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    try:
        from claw.tools import job_output
    except ImportError:  # the code before private output directories
        pass
    else:
        monkeypatch.setattr(job_output, "_fallback", [])
    result = _start(_ctx(tmp_path))
    assert not result.is_error, result.content
    log = Path(result.metadata["output_file"])
    assert os.listdir(shared) == []
    assert _mode(log.parent) == 0o700 and _mode(log) == 0o600
    assert os.lstat(log.parent).st_uid == os.geteuid()


def test_an_existing_log_name_is_never_reused_or_followed(tmp_path):
    from claw.tools import job_output

    directory = job_output.private_dir(tmp_path / "logs")
    (tmp_path / "victim").write_text("keep")
    os.symlink(tmp_path / "victim", directory / "bash-x.log")
    with pytest.raises(FileExistsError):
        job_output.create_log(directory, "bash-x.log")
    assert (tmp_path / "victim").read_text() == "keep"
