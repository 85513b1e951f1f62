"""glob_search: ** and braces, relative and absolute patterns, newest first, skipped dirs, the cap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from claw.tools import glob_search as glob_mod
from tests.tools.helpers import call, make_ctx


def touch(path, mtime):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    os.utime(path, (mtime, mtime))


@pytest.fixture
def tree(tmp_path):
    touch(tmp_path / "a.py", 1000)
    touch(tmp_path / "src/b.py", 3000)
    touch(tmp_path / "src/deep/c.py", 2000)
    touch(tmp_path / "src/deep/d.ts", 4000)
    touch(tmp_path / "src/deep/e.tsx", 5000)
    touch(tmp_path / ".hidden/f.py", 6000)
    touch(tmp_path / ".git/objects/g.py", 9000)
    touch(tmp_path / "node_modules/pkg/h.py", 9000)
    touch(tmp_path / "README.md", 500)
    return tmp_path


def lines(result):
    assert not result.is_error, result.content
    return result.content.splitlines()


def test_double_star_sorted_newest_first_skipping_vcs_and_node_modules(tree):
    ctx = make_ctx(tree)
    assert lines(call("glob_search", {"pattern": "**/*.py"}, ctx)) == [
        ".hidden/f.py", "src/b.py", "src/deep/c.py", "a.py"]


def test_single_star_stays_in_one_directory(tree):
    ctx = make_ctx(tree)
    assert lines(call("glob_search", {"pattern": "*.py"}, ctx)) == ["a.py"]
    assert lines(call("glob_search", {"pattern": "src/*.py"}, ctx)) == ["src/b.py"]
    assert lines(call("glob_search", {"pattern": "src/**/*.py"}, ctx)) == ["src/b.py", "src/deep/c.py"]


def test_braces_and_classes(tree):
    ctx = make_ctx(tree)
    assert lines(call("glob_search", {"pattern": "**/*.{ts,tsx}"}, ctx)) == ["src/deep/e.tsx", "src/deep/d.ts"]
    assert lines(call("glob_search", {"pattern": "{a.py,README.md}"}, ctx)) == ["a.py", "README.md"]
    assert lines(call("glob_search", {"pattern": "src/deep/[cd].*"}, ctx)) == ["src/deep/d.ts", "src/deep/c.py"]


def test_path_argument_and_absolute_and_parent_patterns(tree):
    ctx = make_ctx(tree / "src")
    assert lines(call("glob_search", {"pattern": "*.py", "path": str(tree)}, ctx)) == [str(tree / "a.py")]
    assert lines(call("glob_search", {"pattern": "../*.md"}, ctx)) == [str(tree / "README.md")]
    assert lines(call("glob_search", {"pattern": f"{tree}/src/deep/*.py"}, ctx)) == ["deep/c.py"]
    assert lines(call("glob_search", {"pattern": "deep/*.ts", "path": "."}, ctx)) == ["deep/d.ts"]


def test_target_paths_report_where_the_walk_starts(tree):
    tool = glob_mod.GlobSearchTool()
    assert tool.target_paths({"pattern": "**/*.py"}, tree) == [tree]
    assert tool.target_paths({"pattern": "../**"}, tree / "src") == [tree]
    assert tool.target_paths({"pattern": "/etc/*.conf"}, tree) == [Path(os.path.realpath("/etc"))]
    assert sorted(tool.target_paths({"pattern": "{src/*.py,/tmp/*.x}"}, tree)) == sorted(
        [tree / "src", Path(os.path.realpath("/tmp"))])


def test_no_match_missing_dir_and_cap(tree, monkeypatch):
    ctx = make_ctx(tree)
    assert call("glob_search", {"pattern": "**/*.rs"}, ctx).content == "No files found"
    r = call("glob_search", {"pattern": "*", "path": "missing"}, ctx)
    assert r.is_error and "does not exist" in r.content
    monkeypatch.setattr(glob_mod, "MAX_RESULTS", 2)
    r = call("glob_search", {"pattern": "**/*"}, ctx)
    assert r.content.splitlines()[:2] == [".hidden/f.py", "src/deep/e.tsx"]
    assert "showing the 2 most recently modified of 7 files" in r.content


def test_read_denied_paths_are_hidden(tree):
    ctx = make_ctx(tree, is_read_denied=lambda p: p.name == "b.py")
    assert "src/b.py" not in lines(call("glob_search", {"pattern": "**/*.py"}, ctx))
