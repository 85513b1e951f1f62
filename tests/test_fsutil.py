"""atomic_write: the one writer every part of claw uses for files a person relies on."""

from __future__ import annotations

import os
import stat

import pytest

from claw import fsutil
from claw.fsutil import atomic_write


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_gets_the_requested_new_mode(tmp_path):
    target = tmp_path / "a" / "b.json"
    atomic_write(target, b"{}", new_file_mode=0o600, make_dirs=0o700)
    assert target.read_bytes() == b"{}" and _mode(target) == 0o600


def test_existing_mode_is_kept_and_mode_wins(tmp_path):
    target = tmp_path / "f"
    target.write_text("old")
    os.chmod(target, 0o640)
    atomic_write(target, b"new")
    assert target.read_text() == "new" and _mode(target) == 0o640
    atomic_write(target, b"newer", mode=0o600)
    assert _mode(target) == 0o600


def test_symlink_is_written_through(tmp_path):
    (tmp_path / "real").write_text("old")
    os.symlink("real", tmp_path / "link")
    atomic_write(tmp_path / "link", b"new")
    assert os.path.islink(tmp_path / "link") and (tmp_path / "real").read_text() == "new"


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "f"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsutil.os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_default_mode_follows_the_umask():
    old = os.umask(0o022)
    os.umask(old)
    assert fsutil.default_file_mode() == 0o666 & ~old
