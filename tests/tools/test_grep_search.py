"""grep_search: the ripgrep path and the pure-Python path give the same output on the same trees,
and the output itself is right (modes, context, filters, ignore files, limits)."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claw.tools import grep_core
from claw.tools.rg_types import RG_TYPES
from tests.tools.helpers import call, make_ctx

RG = shutil.which("rg")
needs_rg = pytest.mark.skipif(RG is None, reason="ripgrep (rg) is not installed")

WORDS = ["alpha", "beta", "gamma", "delta", "Needle", "needle", "hay", "stack", "foo_bar", "x=1", "TODO:",
         "fn main()", "def run():", "café", "日本"]


def build_tree(root: Path, seed: int) -> None:
    """A deterministic tree exercising what both backends must agree on."""
    rnd = random.Random(seed)
    dirs = ["", "src", "src/app", "src/app/deep", "docs", ".hidden", "build", "build/out", "vendor/lib",
            "node_modules/pkg", ".git/objects", "keep", "logs"]
    exts = [".py", ".js", ".ts", ".md", ".txt", ".rs", ".log", ".json", ""]
    mtime = 1_600_000_000
    for d in dirs:
        (root / d).mkdir(parents=True, exist_ok=True)
        for i in range(rnd.randint(2, 5)):
            name = f"f{i}{rnd.choice(exts)}"
            lines = [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 6))) for _ in range(rnd.randint(0, 30))]
            text = "\n".join(lines) + ("\n" if rnd.random() < 0.8 else "")
            if rnd.random() < 0.1:
                text = text.replace("\n", "\r\n")
            path = root / d / name
            path.write_text(text, encoding="utf-8")
            mtime += rnd.randint(1, 1000)
            os.utime(path, (mtime, mtime))
    (root / "Makefile").write_text("all:\n\techo needle\n")
    (root / "weird:name.txt").write_text("needle with colon path\n")
    (root / "src" / "bin.dat").write_bytes(b"needle\0binary")
    (root / "src" / "long.txt").write_text("needle " + "z" * 900 + "\n")
    (root / "src" / "bad-utf8.txt").write_bytes(b"needle \xff\xfe ok\n")
    (root / ".gitignore").write_text("build/\n*.log\n!keep.log\n/vendor\n")
    (root / "logs" / "keep.log").write_text("needle kept by negation\n")
    (root / "src" / ".gitignore").write_text("deep/f0*\n!deep/f0.keep\n")
    (root / "src" / "app" / "deep" / "f0.keep").write_text("needle re-included\n")
    (root / "docs" / ".ignore").write_text("f1*\n")
    (root / "docs" / ".rgignore").write_text("!f1.md\n")
    (root / "docs" / "f1.md").write_text("needle in docs\n")
    (root / ".git" / "objects" / "needle.txt").write_text("needle inside .git\n")
    (root / "symlinked.txt").symlink_to(root / "Makefile")


QUERIES = [
    {"pattern": "needle"},
    {"pattern": "needle", "-i": True},
    {"pattern": "needle", "output_mode": "content"},
    {"pattern": "needle", "output_mode": "content", "-n": False},
    {"pattern": "Needle|gamma", "output_mode": "content", "-C": 1},
    {"pattern": "beta", "output_mode": "content", "-A": 2, "-B": 1, "head_limit": 40},
    {"pattern": "needle", "output_mode": "count"},
    {"pattern": "^alpha", "output_mode": "count", "-i": True},
    {"pattern": "hay$", "output_mode": "content"},
    {"pattern": "needle", "glob": "*.py"},
    {"pattern": "needle", "glob": "*.{md,txt} !docs/**"},
    {"pattern": "needle", "glob": "src/**/*.py,*.log"},
    {"pattern": "needle", "type": "py"},
    {"pattern": "needle", "type": "make"},
    {"pattern": "needle", "type": "js", "glob": "*.md"},
    {"pattern": "needle", "path": "src"},
    {"pattern": "needle", "path": "src/app", "output_mode": "content", "-B": 2},
    {"pattern": "needle", "path": "Makefile", "output_mode": "content"},
    {"pattern": "caf.", "output_mode": "content"},
    {"pattern": "\\bx=1\\b", "output_mode": "files_with_matches", "head_limit": 3},
    {"pattern": "nothing-matches-this"},
    {"pattern": "needle", "path": "docs", "output_mode": "count"},
]


def both(query, root):
    out = {}
    for backend in ("rg", "python"):
        env = dict(os.environ, CLAW_GREP_BACKEND=backend)
        result = call("grep_search", query, make_ctx(root, env=env))
        assert result.metadata.get("backend", backend) == backend
        out[backend] = (result.is_error, result.content)
    return out


@needs_rg
@pytest.mark.parametrize("seed", [1, 2])
def test_rg_and_python_give_identical_output(tmp_path, seed):
    build_tree(tmp_path, seed)
    for query in QUERIES:
        out = both(query, tmp_path)
        assert out["rg"] == out["python"], query


def test_output_formats_and_filtering(tmp_path):
    build_tree(tmp_path, 3)
    env = dict(os.environ, CLAW_GREP_BACKEND="python")
    ctx = make_ctx(tmp_path, env=env)
    files = call("grep_search", {"pattern": "needle", "-i": True}, ctx).content.splitlines()
    assert files[0].startswith("Found ") and files[0].endswith(" files")
    listed = set(files[1:])
    assert {"Makefile", "weird:name.txt", "logs/keep.log", "src/app/deep/f0.keep", "docs/f1.md"} <= listed
    for hidden in ("src/bin.dat", ".git/objects/needle.txt", "symlinked.txt"):
        assert hidden not in listed
    assert not any(p.startswith(("build/", "vendor/")) or (p.endswith(".log") and p != "logs/keep.log")
                   for p in listed)
    content = call("grep_search", {"pattern": "needle", "output_mode": "content", "path": "src/long.txt"},
                   ctx).content
    assert content.startswith("src/long.txt:1:needle zz") and "more characters]" in content
    assert len(content) < 700
    ctx_lines = call("grep_search", {"pattern": "needle", "path": "Makefile", "output_mode": "content",
                                     "-B": 1}, ctx).content
    assert ctx_lines == "Makefile-1-all:\nMakefile:2:\techo needle"


def test_files_mode_sorts_newest_first(tmp_path):
    for i, name in enumerate(["old.txt", "mid.txt", "new.txt"]):
        (tmp_path / name).write_text("hit\n")
        os.utime(tmp_path / name, (1000 + i, 1000 + i))
    for backend in ("python",) + (("rg",) if RG else ()):
        ctx = make_ctx(tmp_path, env=dict(os.environ, CLAW_GREP_BACKEND=backend))
        assert call("grep_search", {"pattern": "hit"}, ctx).content.splitlines() == [
            "Found 3 files", "new.txt", "mid.txt", "old.txt"]
        limited = call("grep_search", {"pattern": "hit", "head_limit": 1}, ctx).content
        assert limited.splitlines() == ["Found 3 files", "new.txt", "[showing 1 of 3 files (head_limit=1)]"]


def test_errors_are_readable(tmp_path):
    (tmp_path / "a.txt").write_text("x\n")
    for backend in ("python",) + (("rg",) if RG else ()):
        ctx = make_ctx(tmp_path, env=dict(os.environ, CLAW_GREP_BACKEND=backend))
        r = call("grep_search", {"pattern": "(unclosed"}, ctx)
        assert r.is_error and "(unclosed" in r.content or "unclosed" in r.content
        r = call("grep_search", {"pattern": "x", "path": "missing"}, ctx)
        assert r.is_error and "does not exist" in r.content
        r = call("grep_search", {"pattern": "x", "type": "no-such-type"}, ctx)
        assert r.is_error
    (tmp_path / "b.bin").write_bytes(b"x\0y")
    r = call("grep_search", {"pattern": "x", "path": "b.bin"}, make_ctx(tmp_path))
    assert not r.is_error and "binary file" in r.content
    r = call("grep_search", {"pattern": "x", "output_mode": "lines"}, make_ctx(tmp_path))
    assert r.is_error and "must be one of" in r.content


def test_output_cap(tmp_path, monkeypatch):
    (tmp_path / "many.txt").write_text("match line\n" * 2000)
    monkeypatch.setattr(grep_core, "MAX_OUTPUT_CHARS", 500)
    ctx = make_ctx(tmp_path, env=dict(os.environ, CLAW_GREP_BACKEND="python"))
    r = call("grep_search", {"pattern": "match", "output_mode": "content"}, ctx)
    assert len(r.content) < 700 and "output truncated" in r.content


def test_read_denied_files_are_hidden(tmp_path):
    (tmp_path / "secret.env").write_text("token=1\n")
    (tmp_path / "ok.txt").write_text("token=2\n")
    ctx = make_ctx(tmp_path, is_read_denied=lambda p: p.suffix == ".env")
    assert call("grep_search", {"pattern": "token"}, ctx).content.splitlines() == ["Found 1 file", "ok.txt"]


@needs_rg
def test_type_table_matches_installed_ripgrep():
    out = subprocess.run([RG, "--type-list"], capture_output=True, text=True, check=True).stdout
    known = {}
    for line in out.splitlines():
        name, _, globs = line.partition(": ")
        known[name] = set(globs.split(", "))
    for name, globs in RG_TYPES.items():
        assert name in known, name
        # ripgrep versions add globs over time; ours must be ripgrep's, give or take .pyi
        assert set(globs) - {"*.pyi"} <= known[name] | {"*.pyi"}, name


def test_split_globs():
    assert grep_core.split_globs("*.py *.{ts,tsx},*.md") == ["*.py", "*.{ts,tsx}", "*.md"]
    assert grep_core.split_globs("!vendor/**") == ["!vendor/**"]


# --- generated trees: both paths agree ------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c.py", "d.txt", ".e", "f.log", "g.md"])
DIRS = st.sampled_from(["", "x", "x/y", ".h", "x/.h", "z"])
IGNORE_LINES = st.sampled_from(["*.log", "!f.log", "x/", "/z", "y", "*.py", "!c.py", ".e", "x/y/*", "**/b",
                                "# comment", "", "\\#x", "d.*", "!x/y/d.txt", "x/**", "**/y/", "*", "!*", "/x/y", "[cd].*",
                                "?.md", "a ", "!x", "x/*/d.txt", "**/x/**/c.py", "!.h/", "*.txt/", "y/**/a"])


@needs_rg
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.tuples(DIRS, NAMES, st.booleans()), min_size=1, max_size=12),
       ignores=st.lists(st.tuples(st.sampled_from(["", "x", "x/y"]), st.sampled_from([".gitignore", ".ignore"]),
                                  st.lists(IGNORE_LINES, max_size=4)), max_size=3),
       glob=st.sampled_from(["", "*.py", "!x/**", "*.{md,txt}", "x/**", "!*.log", "*.py !x/y/**", "y", "!y", "x/*", "/x"]),
       mode=st.sampled_from(["files_with_matches", "content", "count"]))
def test_generated_trees_agree(tmp_path_factory, files, ignores, glob, mode):
    root = tmp_path_factory.mktemp("gen")
    for d, name, hit in files:
        (root / d).mkdir(parents=True, exist_ok=True)
        target = root / d / name
        if target.is_dir():
            continue
        target.write_text(("one\nneedle here\n" if hit else "one\ntwo\n"))
    for d, fname, lines in ignores:
        (root / d).mkdir(parents=True, exist_ok=True)
        (root / d / fname).write_text("\n".join(lines) + "\n")
    query = {"pattern": "needle", "output_mode": mode}
    if glob:
        query["glob"] = glob
    out = both(query, root)
    assert out["rg"] == out["python"]
