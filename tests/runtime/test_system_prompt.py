"""System prompt assembly: base/custom/append, environment, git context, instruction files."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from claw.runtime.git_context import collect_git_context, find_git_root
from claw.runtime.system_prompt import (
    BASE_PROMPT,
    build_system_prompt,
    find_instruction_files,
    instruction_dirs,
)

TODAY = datetime.date(2025, 3, 14)
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="T", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="T",
               GIT_COMMITTER_EMAIL="t@example.com", GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    subprocess.run(["git", *args], cwd=str(cwd), env=env, check=True, capture_output=True)


def make_repo(path: Path, commits=("first",)) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for i, subject in enumerate(commits):
        (path / f"f{i}.txt").write_text(subject)
        git(path, "add", ".")
        git(path, "commit", "-q", "-m", subject)
    return path


@pytest.fixture
def env(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "CLAW_CONFIG_HOME": str(home / ".claw"), "PATH": os.environ.get("PATH", ""),
            "SHELL": "/bin/zsh"}


def build(cwd, env, **kw):
    kw.setdefault("today", TODAY)
    kw.setdefault("platform_name", "testos")
    return build_system_prompt(cwd=cwd, env=env, **kw)


# -- base / custom / append / environment ------------------------------------------------------------


def test_base_environment_and_order(tmp_path, env):
    (tmp_path / "CLAUDE.md").write_text("Use tabs.")
    sp = build(tmp_path, env, model="claude-test", append_prompt="Always answer in French.")
    text = sp.text
    assert text.startswith(BASE_PROMPT.strip()[:60])
    for tool in ("bash", "read_file", "write_file", "edit_file", "glob_search", "grep_search", "web_fetch",
                 "web_search", "todo_write"):
        assert tool in text
    positions = [text.index(s) for s in ("You are claw", "# Environment", "# Instructions", "Use tabs.",
                                         "Always answer in French.")]
    assert positions == sorted(positions)
    assert f"Working directory: {tmp_path.resolve()}" in text
    assert "Platform: testos" in text and "Shell: zsh" in text
    assert "Today's date: 2025-03-14" in text and "Model: claude-test" in text
    assert "Git repository: no" in text and "# Git" not in text
    assert [s.kind for s in sp.sources] == ["base", "environment", "project_instructions", "append"]
    assert text.endswith("Always answer in French.\n")


def test_custom_prompt_replaces_only_the_base(tmp_path, env):
    (tmp_path / "AGENTS.md").write_text("Run make test.")
    sp = build(tmp_path, env, custom_prompt="You are a pirate.")
    assert sp.text.startswith("You are a pirate.")
    assert "You are claw" not in sp.text
    assert "# Environment" in sp.text and "Run make test." in sp.text
    assert sp.sources[0].kind == "custom"


def test_empty_custom_prompt_and_blank_append(tmp_path, env):
    sp = build(tmp_path, env, custom_prompt="", append_prompt="   ")
    assert sp.text.startswith("# Environment")
    assert [s.kind for s in sp.sources] == ["custom", "environment"]


def test_additional_dirs_listed(tmp_path, env):
    sp = build(tmp_path, env, additional_dirs=["/data/a", "/data/b"])
    assert "Additional working directories: /data/a, /data/b" in sp.text


def test_default_platform_and_date(tmp_path, env):
    sp = build_system_prompt(cwd=tmp_path, env=env)
    assert f"Today's date: {datetime.date.today().isoformat()}" in sp.text
    assert "Platform: " in sp.text


# -- git ----------------------------------------------------------------------------------------------


@needs_git
def test_git_context_branch_status_commits(tmp_path, env):
    repo = make_repo(tmp_path / "repo", commits=[f"commit {i}" for i in range(7)])
    (repo / "new.txt").write_text("x")
    (repo / "f0.txt").write_text("changed")
    sp = build(repo, env)
    text = sp.text
    assert f"Git repository: yes (root {repo.resolve()})" in text
    assert "# Git" in text and "Current branch: main" in text
    assert "?? new.txt" in text and " M f0.txt" in text
    commits = [line for line in text.splitlines() if line.startswith("  ") and "commit " in line]
    assert [c.split(" ", 3)[-1] for c in commits] == [f"commit {i}" for i in (6, 5, 4, 3, 2)]
    positions = [text.index(s) for s in ("# Environment", "# Git")]
    assert positions == sorted(positions)
    assert "git" in [s.kind for s in sp.sources]


@needs_git
def test_git_status_is_capped(tmp_path):
    repo = make_repo(tmp_path / "repo")
    for i in range(65):
        (repo / f"u{i:02}.txt").write_text("x")
    ctx = collect_git_context(repo)
    assert ctx is not None and ctx.complete
    assert len(ctx.status) == 40 and ctx.status_omitted == 25
    assert "... and 25 more changed paths" in ctx.render()


@needs_git
def test_git_empty_repo_and_subdirectory(tmp_path, env):
    repo = make_repo(tmp_path / "repo", commits=())
    sub = repo / "a" / "b"
    sub.mkdir(parents=True)
    assert find_git_root(sub) == repo.resolve()
    ctx = collect_git_context(sub)
    assert ctx is not None and "no commits yet" in (ctx.branch or "") and ctx.commits == ()
    sp = build(sub, env)
    assert "Current branch: main (no commits yet)" in sp.text


def test_git_missing_is_omitted(tmp_path, env):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    no_git_env = dict(env, PATH=str(tmp_path / "empty-bin"))
    sp = build(repo, no_git_env)
    assert "Git repository: yes" in sp.text and "# Git" not in sp.text
    assert collect_git_context(repo, env=no_git_env) is None


def test_git_timeout_returns_partial(tmp_path, env):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "git"
    fake.write_text("#!/bin/sh\nexec sleep 5\n")
    fake.chmod(0o755)
    ctx = collect_git_context(repo, timeout=0.2, git=str(fake))
    assert ctx is not None and not ctx.complete and ctx.status == () and ctx.commits == ()


def test_include_git_false(tmp_path, env):
    (tmp_path / ".git").mkdir()
    sp = build(tmp_path, env, include_git=False)
    assert "# Git" not in sp.text and "Git repository: yes" in sp.text


# -- instruction files --------------------------------------------------------------------------------


def test_instruction_files_from_git_root_down_to_cwd_and_user_file_first(tmp_path, env):
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    sub = root / "pkg" / "mod"
    sub.mkdir(parents=True)
    (tmp_path / "CLAUDE.md").write_text("ABOVE THE REPO")  # outside the repository: not read
    (root / "CLAUDE.md").write_text("root claude")
    (root / "AGENTS.md").write_text("root agents")
    (root / "CLAUDE.local.md").write_text("root local")
    (root / "pkg" / "CLAW.md").write_text("pkg claw")
    (sub / "CLAUDE.md").write_text("mod claude")
    (root / "other").mkdir()
    (root / "other" / "CLAUDE.md").write_text("SIBLING")  # not on the path to cwd
    user_dir = Path(env["CLAW_CONFIG_HOME"])
    user_dir.mkdir()
    (user_dir / "CLAW.md").write_text("user prefs")

    assert instruction_dirs(sub) == [root.resolve(), (root / "pkg").resolve(), sub.resolve()]
    sp = build(sub, env, include_git=False)
    order = ["user prefs", "root claude", "root agents", "root local", "pkg claw", "mod claude"]
    positions = [sp.text.index(s) for s in order]
    assert positions == sorted(positions)
    assert "ABOVE THE REPO" not in sp.text and "SIBLING" not in sp.text
    files = sp.instruction_files
    assert [Path(f.path).name for f in files] == ["CLAW.md", "CLAUDE.md", "AGENTS.md", "CLAUDE.local.md", "CLAW.md",
                                                   "CLAUDE.md"]
    assert [f.kind for f in files] == ["user_instructions", "project_instructions", "project_instructions",
                                       "local_instructions", "project_instructions", "project_instructions"]
    for f in files:
        assert f"Contents of {f.path} (" in sp.text
    assert [k for k, _ in find_instruction_files(sub, env=env)] == [f.kind for f in files]


def test_outside_a_repository_only_cwd_is_searched(tmp_path, env):
    (tmp_path / "CLAUDE.md").write_text("parent")
    cwd = tmp_path / "work"
    cwd.mkdir()
    (cwd / "CLAUDE.md").write_text("here")
    sp = build(cwd, env)
    assert "here" in sp.text and "parent" not in sp.text


def test_file_cap_truncates_with_note(tmp_path, env):
    (tmp_path / "CLAUDE.md").write_text(("line of instructions\n" * 3000) + "THE END")
    sp = build(tmp_path, env, file_cap=1000)
    source = sp.instruction_files[0]
    assert source.truncated and source.chars <= 1000 and source.size > 60000
    assert "THE END" not in sp.text
    assert f"[... truncated: {tmp_path.resolve() / 'CLAUDE.md'} is {source.size} bytes" in sp.text


def test_total_cap_keeps_files_closest_to_cwd(tmp_path, env):
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    sub = root / "a"
    sub.mkdir()
    (root / "CLAUDE.md").write_text("R" * 900)
    (root / "AGENTS.md").write_text("S" * 900)
    (sub / "CLAUDE.md").write_text("C" * 900)
    sp = build(sub, env, include_git=False, file_cap=1000, total_cap=2000)
    # cwd's file first gets 900, AGENTS.md the next 900, root CLAUDE.md only 200 of its 900
    by_name = {(Path(s.path).parent.name, Path(s.path).name): s for s in sp.instruction_files}
    assert by_name[("a", "CLAUDE.md")].chars == 900 and not by_name[("a", "CLAUDE.md")].truncated
    assert by_name[("repo", "AGENTS.md")].chars == 900
    assert by_name[("repo", "CLAUDE.md")].chars == 200 and by_name[("repo", "CLAUDE.md")].truncated
    assert sum(s.chars for s in sp.instruction_files) == 2000

    sp = build(sub, env, include_git=False, file_cap=1000, total_cap=1850)  # 50 left: omit, not a stub
    assert [Path(s.path).parent.name for s in sp.instruction_files] == ["repo", "a"]
    assert len(sp.skipped) == 1 and "omitted" in sp.skipped[0].note and "R" * 10 not in sp.text


def test_duplicates_by_content_removed(tmp_path, env):
    (tmp_path / "CLAUDE.md").write_text("Same rules.\n")
    (tmp_path / "AGENTS.md").write_text("Same   rules.")  # whitespace differences do not matter
    os.symlink(tmp_path / "CLAUDE.md", tmp_path / "CLAW.md")
    (tmp_path / "CLAUDE.local.md").write_text("")
    sp = build(tmp_path, env)
    assert sp.text.count("Same") == 1
    assert [Path(s.path).name for s in sp.instruction_files] == ["CLAUDE.md"]
    notes = {Path(s.path).name: s.note for s in sp.skipped}
    assert notes["CLAW.md"].startswith("same content as") and notes["AGENTS.md"].startswith("same content as")
    assert notes["CLAUDE.local.md"] == "empty"


def test_unreadable_file_is_a_warning(tmp_path, env):
    if os.geteuid() == 0:
        os.symlink(tmp_path / "missing-target", tmp_path / "CLAUDE.md")  # root reads anything: use a dangling link
        (tmp_path / "AGENTS.md").mkdir()  # a directory named like a file is skipped too
        sp = build(tmp_path, env)
        assert sp.instruction_files == () and sp.warnings == ()
        return
    p = tmp_path / "CLAUDE.md"
    p.write_text("secret")
    p.chmod(0)
    sp = build(tmp_path, env)
    assert sp.instruction_files == () and any("could not read" in w for w in sp.warnings)
