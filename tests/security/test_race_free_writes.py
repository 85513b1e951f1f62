"""Race-free file access: the file tools act on exactly the path the permission policy approved,
reached without following a symlink swapped in after the check, and a path that changes or vanishes
during the check is an error for that call, never a write elsewhere and never a crash."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest

from claw.runtime.permissions import PermissionPolicy, parse_permission_mode
from claw.runtime.tool_calls import ToolCallRunner
from claw.tools import safe_fs
from claw.tools.base import ToolContext
from claw.tools.registry import get_tool


class _Log:
    def __init__(self) -> None:
        self.denials: List[Any] = []

    def use(self, *a: Any) -> None:
        pass

    def result(self, *a: Any) -> None:
        pass

    def denial(self, denial: Any) -> None:
        self.denials.append(denial)


@pytest.fixture
def layout(tmp_path):
    """ws/ (the workspace) with ws/sub/, and outside/ beside it."""
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    return ws, outside


def _runner(ws: Path, policy: Any = None) -> ToolCallRunner:
    names = ("write_file", "edit_file", "read_file")
    policy = policy or PermissionPolicy(mode=parse_permission_mode("workspace-write"), workspace_roots=[ws], cwd=ws)
    return ToolCallRunner(tools={n: get_tool(n) for n in names}, policy=policy,
                          context=ToolContext(cwd=ws, env={}), sink=lambda event: None)


def _run(runner: ToolCallRunner, name: str, tool_input: Dict[str, Any]) -> Dict[str, Any]:
    block = {"type": "tool_use", "id": "t1", "name": name, "input": tool_input}
    return asyncio.run(runner.run_all([block], {}, _Log())).results[0]


def _swap_for_link(directory: Path, target: Path) -> None:
    shutil.rmtree(directory)
    directory.symlink_to(target, target_is_directory=True)


class _SwapAfterCheck:
    """A policy that decides like the real one, then swaps ws/sub for a symlink to outside/: the swap
    lands exactly between the check and the tool's open."""

    def __init__(self, real: PermissionPolicy, sub: Path, outside: Path) -> None:
        self.real, self.sub, self.outside = real, sub, outside

    def decide(self, *args: Any, **kw: Any) -> Any:
        decision = self.real.decide(*args, **kw)
        _swap_for_link(self.sub, self.outside)
        return decision


class _SwapDuringCheck:
    """A policy that judges a path the caller resolved a moment earlier while ``outside`` is, for the
    length of the check only, a symlink into the workspace: the policy sees a path inside."""

    def __init__(self, real: PermissionPolicy, outside: Path, inside: Path) -> None:
        self.real, self.outside, self.inside = real, outside, inside

    def decide(self, *args: Any, **kw: Any) -> Any:
        parked = self.outside.with_name("parked")
        os.rename(self.outside, parked)
        self.outside.symlink_to(self.inside, target_is_directory=True)
        try:
            return self.real.decide(*args, **kw)
        finally:
            self.outside.unlink()
            os.rename(parked, self.outside)


def test_the_tool_acts_on_the_path_the_policy_judged_not_on_an_earlier_resolution(layout):
    """The runner resolves outside/f.txt (a real directory then); during the check outside/ is a
    symlink into the workspace, so the policy judges ws/sub/f.txt and allows it; afterwards outside/
    is a real directory again. The write must land where the policy looked, never in outside/."""
    ws, outside = layout
    real = PermissionPolicy(mode=parse_permission_mode("workspace-write"), workspace_roots=[ws], cwd=ws)
    runner = _runner(ws, _SwapDuringCheck(real, outside, ws / "sub"))
    result = _run(runner, "write_file", {"path": str(outside / "f.txt"), "content": "x\n"})
    assert os.listdir(outside) == []
    assert result.get("is_error") is not True, result
    assert (ws / "sub" / "f.txt").read_text() == "x\n"


@pytest.mark.parametrize("name,tool_input", [
    ("write_file", {"path": "sub/f.txt", "content": "pwned\n"}),
    ("edit_file", {"path": "sub/f.txt", "old_string": "", "new_string": "pwned\n"}),
])
def test_directory_swapped_for_symlink_after_the_check_is_refused(layout, name, tool_input):
    ws, outside = layout
    real = PermissionPolicy(mode=parse_permission_mode("workspace-write"), workspace_roots=[ws], cwd=ws)
    runner = _runner(ws, _SwapAfterCheck(real, ws / "sub", outside))
    result = _run(runner, name, tool_input)
    assert result.get("is_error") is True
    assert "changed while it was being checked" in result["content"]
    assert "nothing was written" in result["content"]
    assert os.listdir(outside) == []


def test_existing_file_edit_through_a_swapped_parent_is_refused(layout):
    ws, outside = layout
    (ws / "sub" / "f.txt").write_text("safe\n")
    (outside / "f.txt").write_text("safe\n")
    real = PermissionPolicy(mode=parse_permission_mode("workspace-write"), workspace_roots=[ws], cwd=ws)
    runner = _runner(ws, _SwapAfterCheck(real, ws / "sub", outside))
    result = _run(runner, "edit_file", {"path": "sub/f.txt", "old_string": "safe", "new_string": "pwned"})
    assert result.get("is_error") is True and "changed while it was being checked" in result["content"]
    assert (outside / "f.txt").read_text() == "safe\n"


def test_read_through_a_swapped_parent_is_refused(layout):
    ws, outside = layout
    (ws / "sub" / "f.txt").write_text("inside\n")
    (outside / "f.txt").write_text("SECRET\n")
    real = PermissionPolicy(mode=parse_permission_mode("workspace-write"), workspace_roots=[ws], cwd=ws)
    runner = _runner(ws, _SwapAfterCheck(real, ws / "sub", outside))
    result = _run(runner, "read_file", {"path": "sub/f.txt"})
    assert result.get("is_error") is True and "SECRET" not in result["content"]
    assert "changed while it was being checked" in result["content"]


def test_a_swapping_thread_never_gets_a_write_outside(layout):
    """A thread flips ws/sub between a real directory and a symlink to outside/ while write_file runs
    through the real runner and policy many times: no file ever appears outside."""
    ws, outside = layout
    runner = _runner(ws)
    stop = threading.Event()
    sub = ws / "sub"
    parked = ws / "parked"

    def flip() -> None:
        while not stop.is_set():
            try:
                os.rename(sub, parked)
                os.symlink(outside, sub)
                os.unlink(sub)
                os.rename(parked, sub)
            except OSError:
                pass

    thread = threading.Thread(target=flip, daemon=True)
    thread.start()
    outcomes = set()
    try:
        for i in range(300):
            result = _run(runner, "write_file", {"path": f"sub/f{i}.txt", "content": "x"})
            outcomes.add(bool(result.get("is_error")))
            assert os.listdir(outside) == [], result
    finally:
        stop.set()
        thread.join()
    assert os.listdir(outside) == []


def test_a_path_that_vanishes_during_the_check_is_an_error_result_not_a_crash(layout, monkeypatch):
    """The symlink the model named disappears while realpath follows it (between its lstat and its
    readlink): that call fails, the run goes on."""
    ws, outside = layout
    link = ws / "link"
    link.symlink_to(outside, target_is_directory=True)
    real_readlink = os.readlink

    def vanishing_readlink(path, *a, **kw):
        if os.fspath(path) == str(link) and os.path.lexists(link):
            os.unlink(link)
        return real_readlink(path, *a, **kw)

    monkeypatch.setattr(os, "readlink", vanishing_readlink)
    result = _run(_runner(ws), "write_file", {"path": "link/f.txt", "content": "x"})
    assert isinstance(result, dict) and result["type"] == "tool_result"
    assert os.listdir(outside) == []


def test_a_tool_whose_target_check_raises_oserror_gets_an_error_result(layout, monkeypatch):
    ws, _ = layout
    tool = get_tool("write_file")

    def boom(*a: Any, **kw: Any) -> Any:
        raise FileNotFoundError(2, "No such file or directory", str(ws / "gone"))

    runner = _runner(ws)
    monkeypatch.setattr(type(tool), "target_paths", boom)
    result = _run(runner, "write_file", {"path": "gone/f.txt", "content": "x"})
    assert result.get("is_error") is True
    assert "could not be checked" in result["content"] and "Nothing was done" in result["content"]


def test_symlink_given_as_the_path_still_writes_through(layout):
    ws, _ = layout
    (ws / "real.txt").write_text("old\n")
    os.chmod(ws / "real.txt", 0o640)
    (ws / "alias.txt").symlink_to(ws / "real.txt")
    result = _run(_runner(ws), "write_file", {"path": "alias.txt", "content": "new\n"})
    assert not result.get("is_error"), result
    assert (ws / "alias.txt").is_symlink()
    assert (ws / "real.txt").read_text() == "new\n"
    assert stat.S_IMODE(os.stat(ws / "real.txt").st_mode) == 0o640


# --- the walk itself -------------------------------------------------------------------------------

def test_walk_refuses_a_symlink_in_the_middle(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "mid").symlink_to(tmp_path / "real", target_is_directory=True)
    with pytest.raises(safe_fs.PathChanged):
        safe_fs.replace_file(str(tmp_path / "mid" / "f.txt"), b"x")
    with pytest.raises(safe_fs.PathChanged):
        safe_fs.open_for_read(str(tmp_path / "mid" / "f.txt"))
    assert os.listdir(tmp_path / "real") == []


def test_walk_refuses_a_symlink_at_the_end(tmp_path):
    (tmp_path / "target.txt").write_text("keep")
    (tmp_path / "end.txt").symlink_to(tmp_path / "target.txt")
    with pytest.raises(safe_fs.PathChanged):
        safe_fs.replace_file(str(tmp_path / "end.txt"), b"x")
    with pytest.raises(safe_fs.PathChanged):
        safe_fs.open_for_read(str(tmp_path / "end.txt"))
    assert (tmp_path / "target.txt").read_text() == "keep"
    assert (tmp_path / "end.txt").is_symlink()


def test_walk_refuses_a_dangling_symlink_and_creates_nothing_at_its_target(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere" / "f.txt")
    with pytest.raises(safe_fs.PathChanged):
        safe_fs.replace_file(str(tmp_path / "dangling"), b"x")
    (tmp_path / "dangdir").symlink_to(tmp_path / "nodir", target_is_directory=True)
    with pytest.raises(safe_fs.PathChanged):
        safe_fs.replace_file(str(tmp_path / "dangdir" / "f.txt"), b"x")
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "nodir").exists()


def test_walk_creates_missing_directories_and_keeps_modes(tmp_path):
    target = tmp_path / "a" / "b" / "c.txt"
    assert safe_fs.replace_file(str(target), b"one") is False
    assert target.read_bytes() == b"one" and (tmp_path / "a" / "b").is_dir()
    os.chmod(target, 0o751)
    assert safe_fs.replace_file(str(target), b"two") is True
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o751
    assert [n for n in os.listdir(target.parent) if n.endswith(".tmp")] == []


def test_walk_without_make_dirs_reports_missing_and_not_a_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        safe_fs.replace_file(str(tmp_path / "missing" / "f.txt"), b"x", make_dirs=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        safe_fs.replace_file(str(tmp_path / "file" / "f.txt"), b"x")
    with pytest.raises(IsADirectoryError):
        safe_fs.replace_file(str(tmp_path), b"x")
