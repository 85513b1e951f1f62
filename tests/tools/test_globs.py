"""Glob translation: braces, path globs, gitignore lines."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claw.tools.globs import GitignoreFile, GitignoreLine, compile_path_glob, expand_braces, static_prefix


@pytest.mark.parametrize("pattern,expected", [
    ("a{b,c}d", ["abd", "acd"]),
    ("{a,b{c,d}}x", ["ax", "bcx", "bdx"]),
    ("*.{ts,tsx}", ["*.ts", "*.tsx"]),
    ("{a}", ["a"]),
    ("no-braces", ["no-braces"]),
    ("unbalanced{a,b", ["unbalanced{a,b"]),
    ("esc\\{a,b}", ["esc\\{a,b}"]),
    ("[{]x", ["[{]x"]),
])
def test_expand_braces(pattern, expected):
    assert expand_braces(pattern) == expected


@pytest.mark.parametrize("pattern,path,hit", [
    ("*.py", "a.py", True),
    ("*.py", "d/a.py", False),
    ("**/*.py", "a.py", True),
    ("**/*.py", "d/e/a.py", True),
    ("src/**/*.py", "src/a.py", True),
    ("src/**/*.py", "src/x/y/a.py", True),
    ("src/**/*.py", "other/src/a.py", False),
    ("src/**", "src/x/y", True),
    ("a?c", "abc", True),
    ("a?c", "a/c", False),
    ("[ab]*", "b.txt", True),
    ("[!ab]*", "b.txt", False),
    ("[!ab]*", "c.txt", True),
    ("x/[!a]", "x//", False),
    ("a**b", "axxb", True),
    ("a**b", "ax/xb", False),
    ("\\*lit", "*lit", True),
    ("\\*lit", "xlit", False),
    ("{a,b}/*.md", "b/r.md", True),
    (".*", ".hidden", True),
])
def test_path_glob(pattern, path, hit):
    assert bool(compile_path_glob(pattern).match(path)) is hit


@pytest.mark.parametrize("line,path,is_dir,verdict", [
    ("*.log", "a.log", False, True),
    ("*.log", "x/y/a.log", False, True),
    ("build/", "build", True, True),
    ("build/", "build", False, None),
    ("build/", "x/build", True, True),
    ("/vendor", "vendor", True, True),
    ("/vendor", "x/vendor", True, None),
    ("doc/*.md", "doc/a.md", False, True),
    ("doc/*.md", "x/doc/a.md", False, None),
    ("!keep.log", "keep.log", False, False),
    ("a/**", "a/b/c", False, True),
    ("a/**", "a", True, None),
    ("**/foo", "foo", False, True),
    ("**/foo", "x/y/foo", False, True),
    ("\\#hash", "#hash", False, True),
    ("trailing   ", "trailing", False, True),
    ("escaped\\ ", "escaped ", False, True),
])
def test_gitignore_lines(line, path, is_dir, verdict):
    assert GitignoreFile.from_text(line).match(path, is_dir) is verdict


def test_gitignore_last_line_wins_and_comments():
    rules = GitignoreFile.from_text("# comment\n\n*.log\n!keep.log\n")
    assert rules.match("x.log", False) is True
    assert rules.match("keep.log", False) is False
    assert rules.match("keep.txt", False) is None
    assert GitignoreLine.parse("# c") is None and GitignoreLine.parse("   ") is None


def test_static_prefix():
    assert static_prefix("src/**/*.py") == "src"
    assert static_prefix("/etc/*.conf") == "/etc"
    assert static_prefix("/*.conf") == "/"
    assert static_prefix("*.py") == ""
    assert static_prefix("a/b/c.txt") == "a/b"


SEGMENT = st.text(alphabet="abc.", min_size=1, max_size=4)


@given(st.lists(SEGMENT, min_size=1, max_size=4), st.text(alphabet="abc.*?", min_size=1, max_size=5))
def test_single_component_globs_agree_with_fnmatch(parts, pattern):
    # Within one path component our ``*`` and ``?`` mean what fnmatch means.
    name = parts[-1]
    ours = bool(compile_path_glob(pattern).match(name))
    assert ours == fnmatch.fnmatchcase(name, pattern)


@given(st.lists(st.sampled_from(["a", "b", "cd"]), min_size=1, max_size=3),
       st.lists(st.sampled_from(["x", "y"]), min_size=1, max_size=3))
def test_brace_expansion_is_the_product(left, right):
    pattern = "{" + ",".join(left) + "}-{" + ",".join(right) + "}"
    expected = []
    for a in left:
        for b in right:
            if f"{a}-{b}" not in expected:
                expected.append(f"{a}-{b}")
    assert expand_braces(pattern) == expected
