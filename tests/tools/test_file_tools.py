"""read_file, write_file and edit_file round trips at the tool level."""

from __future__ import annotations

import os
import stat

import pytest

from claw.tools import read_file as read_mod
from claw.tools.base import ToolInputError
from claw.tools.registry import get_tool
from tests.tools.helpers import call, make_ctx


@pytest.fixture
def ctx(tmp_path):
    return make_ctx(tmp_path)


# --- read_file ------------------------------------------------------------------------------------

def test_read_numbers_lines_like_cat_n(tmp_path, ctx):
    (tmp_path / "a.txt").write_text("alpha\nbeta\r\ngamma")
    r = call("read_file", {"path": "a.txt"}, ctx)
    assert not r.is_error
    assert r.content == "     1\talpha\n     2\tbeta\n     3\tgamma"
    assert r.metadata["lines"] == 3


def test_read_offset_limit_and_continuation_note(tmp_path, ctx):
    (tmp_path / "n.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    r = call("read_file", {"path": str(tmp_path / "n.txt"), "offset": 4, "limit": 3}, ctx)
    assert r.content.splitlines()[:3] == ["     4\tline 4", "     5\tline 5", "     6\tline 6"]
    assert "showing lines 4-6 of 10; continue with offset 7" in r.content
    r = call("read_file", {"path": "n.txt", "offset": 11}, ctx)
    assert r.is_error and "has 10 lines; offset 11 is past the end" in r.content
    assert call("read_file", {"path": "n.txt", "offset": 0, "limit": 1}, ctx).content.startswith("     1\tline 1")


def test_read_default_limit_is_2000_lines(tmp_path, ctx):
    (tmp_path / "big.txt").write_text("x\n" * 2500)
    r = call("read_file", {"path": "big.txt"}, ctx)
    lines = r.content.splitlines()
    assert lines[1999] == "  2000\tx"
    assert "showing lines 1-2000 of 2500; continue with offset 2001" in r.content


def test_read_truncates_long_lines_and_caps_output(tmp_path, ctx, monkeypatch):
    (tmp_path / "wide.txt").write_text("y" * 5000 + "\nshort\n")
    r = call("read_file", {"path": "wide.txt"}, ctx)
    first = r.content.splitlines()[0]
    assert first.startswith("     1\t" + "y" * 2000) and "3000 more characters" in first
    monkeypatch.setattr(read_mod, "MAX_OUTPUT_CHARS", 100)
    (tmp_path / "many.txt").write_text("".join(f"row {i}\n" for i in range(50)))
    r = call("read_file", {"path": "many.txt"}, ctx)
    assert "output limit reached" in r.content and "continue with offset" in r.content
    assert len(r.content) < 300


@pytest.mark.parametrize("name,data,word", [
    ("old.bmp", b"BM" + b"\0" * 20, "image in a format"),
    ("doc.pdf", b"not really\n...", "PDF"),
    ("blob.bin", b"abc\0def", "binary file"),
])
def test_read_refuses_other_images_broken_pdfs_and_binaries_with_a_reason(tmp_path, ctx, name, data, word):
    (tmp_path / name).write_bytes(data)
    r = call("read_file", {"path": name}, ctx)
    assert r.is_error and word in r.content and "cannot show it" in r.content


def test_read_directory_missing_and_empty(tmp_path, ctx):
    (tmp_path / "d").mkdir()
    r = call("read_file", {"path": "d"}, ctx)
    assert r.is_error and "is a directory" in r.content and "glob_search" in r.content
    r = call("read_file", {"path": "nope.txt"}, ctx)
    assert r.is_error and "does not exist" in r.content
    (tmp_path / "e.txt").write_text("")
    assert "empty" in call("read_file", {"path": "e.txt"}, ctx).content


def test_read_size_limit_needs_offset_or_limit(tmp_path, ctx, monkeypatch):
    monkeypatch.setattr(read_mod, "MAX_FILE_BYTES", 100)
    (tmp_path / "large.log").write_text("z\n" * 200)
    r = call("read_file", {"path": "large.log"}, ctx)
    assert r.is_error and "offset and limit" in r.content
    r = call("read_file", {"path": "large.log", "limit": 5}, ctx)
    assert not r.is_error and r.content.startswith("     1\tz")


def test_read_accepts_claude_code_file_path_and_rejects_bad_input(tmp_path, ctx):
    (tmp_path / "f").write_text("hi\n")
    assert call("read_file", {"file_path": "f"}, ctx).content.startswith("     1\thi")
    tool = get_tool("read_file")
    for bad, words in [({}, "missing required property 'path'"),
                       ({"path": 3}, "'path' must be a string"),
                       ({"path": "f", "limit": 0}, "'limit' must be at least 1"),
                       ({"path": "f", "limit": "ten"}, "'limit' must be an integer"),
                       ({"path": "f", "colour": 1}, "unknown property 'colour'")]:
        with pytest.raises(ToolInputError) as info:
            tool.validate(bad)
        assert words in info.value.message
    r = call("read_file", {"path": "f", "limit": "many"}, ctx)
    assert r.is_error and r.content.startswith("Invalid input for read_file:")
    assert tool.validate({"path": "f", "limit": "5"})["limit"] == 5


# --- write_file -----------------------------------------------------------------------------------

def test_write_creates_parents_and_reports(tmp_path, ctx):
    r = call("write_file", {"path": "deep/er/new.txt", "content": "one\ntwo\n"}, ctx)
    assert not r.is_error and r.content.startswith("Created deep/er/new.txt (2 lines")
    assert (tmp_path / "deep/er/new.txt").read_text() == "one\ntwo\n"
    r = call("write_file", {"path": "deep/er/new.txt", "content": "three"}, ctx)
    assert r.content.startswith("Updated") and (tmp_path / "deep/er/new.txt").read_text() == "three"


def test_write_preserves_mode_and_new_files_follow_umask(tmp_path, ctx):
    target = tmp_path / "script.sh"
    target.write_text("old")
    os.chmod(target, 0o751)
    call("write_file", {"path": "script.sh", "content": "#!/bin/sh\n"}, ctx)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o751
    call("write_file", {"path": "fresh.txt", "content": "x"}, ctx)
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "fresh.txt").st_mode) == 0o666 & ~umask


def test_write_through_a_symlink_keeps_the_link(tmp_path, ctx):
    (tmp_path / "real.txt").write_text("a")
    os.symlink("real.txt", tmp_path / "link.txt")
    call("write_file", {"path": "link.txt", "content": "b"}, ctx)
    assert os.path.islink(tmp_path / "link.txt")
    assert (tmp_path / "real.txt").read_text() == "b"


def test_write_failure_leaves_no_partial_file_and_no_temp(tmp_path, ctx, monkeypatch):
    target = tmp_path / "keep.txt"
    target.write_text("original")
    real_fdopen = os.fdopen

    class Exploding:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            self.fh.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode="r": Exploding(real_fdopen(fd, mode)))
    r = call("write_file", {"path": "keep.txt", "content": "new content that will not land"}, ctx)
    assert r.is_error and "No space left on device" in r.content
    assert target.read_text() == "original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_write_to_a_directory_is_an_error(tmp_path, ctx):
    (tmp_path / "d").mkdir()
    assert call("write_file", {"path": "d", "content": "x"}, ctx).is_error


# --- edit_file ------------------------------------------------------------------------------------

def test_edit_replaces_once_and_shows_a_snippet(tmp_path, ctx):
    (tmp_path / "m.py").write_text("a = 1\nb = 2\nc = 3\n")
    r = call("edit_file", {"path": "m.py", "old_string": "b = 2", "new_string": "b = 20"}, ctx)
    assert not r.is_error and "1 replacement" in r.content and "     2\tb = 20" in r.content
    assert (tmp_path / "m.py").read_text() == "a = 1\nb = 20\nc = 3\n"


def test_edit_errors_not_found_not_unique_identical(tmp_path, ctx):
    f = tmp_path / "t.txt"
    f.write_text("x x x\n    indented\n")
    r = call("edit_file", {"path": "t.txt", "old_string": "y", "new_string": "z"}, ctx)
    assert r.is_error and "not found" in r.content
    r = call("edit_file", {"path": "t.txt", "old_string": "indented\n  ", "new_string": "z"}, ctx)
    assert r.is_error and "whitespace" in r.content
    r = call("edit_file", {"path": "t.txt", "old_string": "x", "new_string": "z"}, ctx)
    assert r.is_error and "occurs 3 times" in r.content and "replace_all" in r.content
    r = call("edit_file", {"path": "t.txt", "old_string": "x", "new_string": "x"}, ctx)
    assert r.is_error and "identical" in r.content
    r = call("edit_file", {"path": "t.txt", "old_string": "", "new_string": "q"}, ctx)
    assert r.is_error and "empty" in r.content
    assert f.read_text() == "x x x\n    indented\n"
    r = call("edit_file", {"path": "t.txt", "old_string": "x", "new_string": "z", "replace_all": True}, ctx)
    assert "3 replacements" in r.content and f.read_text() == "z z z\n    indented\n"


def test_edit_creates_a_missing_file_from_an_empty_old_string(tmp_path, ctx):
    r = call("edit_file", {"path": "sub/new.txt", "old_string": "", "new_string": "hello\n"}, ctx)
    assert not r.is_error and (tmp_path / "sub/new.txt").read_text() == "hello\n"
    r = call("edit_file", {"path": "other.txt", "old_string": "a", "new_string": "b"}, ctx)
    assert r.is_error and "does not exist" in r.content


def test_multi_edit_applies_in_order_all_or_nothing(tmp_path, ctx):
    f = tmp_path / "multi.txt"
    f.write_text("one two three\n")
    os.chmod(f, 0o640)
    edits = [{"old_string": "one", "new_string": "1"}, {"old_string": "1 two", "new_string": "12"}]
    r = call("edit_file", {"path": "multi.txt", "edits": edits}, ctx)
    assert not r.is_error and f.read_text() == "12 three\n" and "2 edits" in r.content
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o640
    bad = [{"old_string": "12", "new_string": "x"}, {"old_string": "missing", "new_string": "y"}]
    r = call("edit_file", {"path": "multi.txt", "edits": bad}, ctx)
    assert r.is_error and "edit 2 of 2" in r.content and "No changes were made" in r.content
    assert f.read_text() == "12 three\n"


def test_multi_edit_validation(tmp_path, ctx):
    tool = get_tool("MultiEdit")
    with pytest.raises(ToolInputError, match="not both"):
        tool.validate({"path": "f", "old_string": "a", "new_string": "b", "edits": [
            {"old_string": "a", "new_string": "b"}]})
    with pytest.raises(ToolInputError, match="at least 1"):
        tool.validate({"path": "f", "edits": []})
    with pytest.raises(ToolInputError, match="old_string"):
        tool.validate({"path": "f"})
    with pytest.raises(ToolInputError, match="edit 2: old_string and new_string are identical"):
        tool.validate({"path": "f", "edits": [{"old_string": "a", "new_string": "b"},
                                              {"old_string": "c", "new_string": "c"}]})


def test_edit_matches_lf_strings_in_a_crlf_file_and_keeps_other_bytes(tmp_path, ctx):
    f = tmp_path / "win.txt"
    f.write_bytes(b"first\r\nsecond\r\nlatin \xe9\r\n")
    r = call("edit_file", {"path": "win.txt", "old_string": "first\nsecond", "new_string": "1st\n2nd"}, ctx)
    assert not r.is_error
    assert f.read_bytes() == b"1st\r\n2nd\r\nlatin \xe9\r\n"


def test_edit_refuses_binary_files(tmp_path, ctx):
    (tmp_path / "b.bin").write_bytes(b"a\0b")
    r = call("edit_file", {"path": "b.bin", "old_string": "a", "new_string": "c"}, ctx)
    assert r.is_error and "binary" in r.content


# --- todo_write -----------------------------------------------------------------------------------

def test_todo_write_replaces_the_list_and_summarises(tmp_path, ctx):
    todos = [{"content": "Write tests", "status": "completed", "activeForm": "Writing tests"},
             {"content": "Fix bug", "status": "in_progress", "activeForm": "Fixing bug"},
             {"content": "Ship", "status": "pending", "id": "3", "priority": "high"}]
    r = call("todo_write", {"todos": todos}, ctx)
    assert not r.is_error
    assert r.content.splitlines() == [
        "Todo list updated: 3 items (1 completed, 1 in progress, 1 pending)",
        "[x] Write tests", "[~] Fix bug", "[ ] Ship"]
    assert [t.content for t in ctx.todos.items] == ["Write tests", "Fix bug", "Ship"]
    assert ctx.todos.items[2].priority == "high"
    r = call("todo_write", {"todos": []}, ctx)
    assert r.content == "Todo list cleared." and ctx.todos.items == []


def test_todo_write_validation(tmp_path, ctx):
    tool = get_tool("TodoWrite")
    with pytest.raises(ToolInputError, match="must be one of"):
        tool.validate({"todos": [{"content": "a", "status": "done"}]})
    with pytest.raises(ToolInputError, match="content"):
        tool.validate({"todos": [{"status": "pending"}]})
    with pytest.raises(ToolInputError, match="unique"):
        tool.validate({"todos": [{"content": "a", "status": "pending", "id": "1"},
                                 {"content": "b", "status": "pending", "id": "1"}]})
    with pytest.raises(ToolInputError, match="must be an array"):
        tool.validate({"todos": "a"})
