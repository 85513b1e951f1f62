"""Claude Code's memory files beside claw's (``~/.claude/CLAUDE.md``, ``.claude/CLAUDE.md``) and ``@path``
imports: relative to the importing file, ``~/`` and absolute allowed, at most 5 levels, cycles broken,
not inside code spans or fences, a missing file left as text, the same size caps, and a project's file
kept inside the project unless the folder is trusted. The last test reads the system prompt a real
headless run sent to the fake model server."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from claw.runtime.memory_imports import import_paths
from claw.runtime.system_prompt import build_system_prompt, find_instruction_files
from tests.cli.headless_helpers import isolated_env, run_inprocess
from tests.fakes.model_server import ModelServer, reply


@pytest.fixture
def env(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "CLAW_CONFIG_HOME": str(home / ".claw"), "PATH": os.environ.get("PATH", "")}


@pytest.fixture
def project(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    return work


def build(cwd, env, **kw):
    return build_system_prompt(cwd=cwd, env=env, include_git=False, today=datetime.date(2025, 1, 1),
                               platform_name="testos", **kw)


def test_claude_code_memory_files_sit_below_claw_s_own(project, env):
    home = Path(env["HOME"])
    (home / ".claude").mkdir()
    (home / ".claude" / "CLAUDE.md").write_text("claude user memory")
    (home / ".claw").mkdir()
    (home / ".claw" / "CLAW.md").write_text("claw user memory")
    (project / ".claude").mkdir()
    (project / ".claude" / "CLAUDE.md").write_text("dot claude memory")
    (project / "CLAUDE.md").write_text("root claude memory")
    (project / "CLAW.md").write_text("claw project memory")
    (project / "CLAUDE.local.md").write_text("local memory")
    order = ["claude user memory", "claw user memory", "root claude memory", "dot claude memory",
             "claw project memory", "local memory"]
    text = build(project, env).text
    positions = [text.index(s) for s in order]
    assert positions == sorted(positions)
    assert [k for k, _ in find_instruction_files(project, env=env)] == [
        "user_instructions", "user_instructions", "project_instructions", "project_instructions",
        "project_instructions", "local_instructions"]


def test_claude_config_dir_moves_the_user_memory_file(project, env, tmp_path):
    other = tmp_path / "cc"
    other.mkdir()
    (other / "CLAUDE.md").write_text("from CLAUDE_CONFIG_DIR")
    (Path(env["HOME"]) / ".claude").mkdir()
    (Path(env["HOME"]) / ".claude" / "CLAUDE.md").write_text("from ~/.claude")
    text = build(project, dict(env, CLAUDE_CONFIG_DIR=str(other))).text
    assert "from CLAUDE_CONFIG_DIR" in text and "from ~/.claude" not in text


def test_imports_relative_home_and_absolute(project, env, tmp_path):
    (project / "docs").mkdir()
    (project / "docs" / "style.md").write_text("STYLE @../more/deep.md")  # relative to docs/
    (project / "more").mkdir()
    (project / "more" / "deep.md").write_text("DEEP")
    (project / "abs.md").write_text("ABSOLUTE")
    home = Path(env["HOME"])
    (home / ".claude").mkdir()
    (home / ".claude" / "CLAUDE.md").write_text("user file @~/mine.md")
    (home / "mine.md").write_text("MINE FROM HOME")
    (project / "CLAUDE.md").write_text(f"Read @docs/style.md and @{project / 'abs.md'}.")
    sp = build(project, env)
    for text in ("STYLE", "DEEP", "ABSOLUTE", "MINE FROM HOME"):
        assert text in sp.text, text
    assert f"Contents of {project / 'docs' / 'style.md'} (project instructions, imported by {project / 'CLAUDE.md'})" \
        in sp.text
    notes = {Path(s.path).name: s.note for s in sp.instruction_files}
    assert notes["deep.md"] == f"imported by {project / 'docs' / 'style.md'}"
    assert sp.text.index("Read @docs/style.md") < sp.text.index("STYLE") < sp.text.index("DEEP")


def test_at_most_five_levels(project, env):
    for i in range(1, 8):
        (project / f"l{i}.md").write_text(f"LEVEL{i} @l{i + 1}.md")
    (project / "CLAUDE.md").write_text("top @l1.md")
    text = build(project, env).text
    assert all(f"LEVEL{i} " in text for i in range(1, 6))
    assert "LEVEL6" not in text and "LEVEL7" not in text


def test_cycles_are_broken_and_a_file_is_imported_once(project, env):
    (project / "a.md").write_text("AAA @b.md @a.md")
    (project / "b.md").write_text("BBB @a.md @CLAUDE.md")
    (project / "CLAUDE.md").write_text("top @a.md @b.md @a.md")
    sp = build(project, env)
    assert sp.text.count("AAA") == 1 and sp.text.count("BBB") == 1 and sp.text.count("top @a.md") == 1
    assert [Path(s.path).name for s in sp.instruction_files] == ["CLAUDE.md", "a.md", "b.md"]


def test_code_spans_fences_and_missing_files_are_left_as_text(project, env):
    for name in ("span.md", "fenced.md", "tilde.md", "mail.md"):
        (project / name).write_text(f"SHOULD NOT LOAD {name}")
    (project / "CLAUDE.md").write_text(
        "Use `@span.md` literally, and ``code @span.md``.\n"
        "```\n@fenced.md\n```\n"
        "~~~text\n@tilde.md\n~~~\n"
        "Mail me@mail.md. Missing: @nowhere.md\n")
    sp = build(project, env)
    assert "SHOULD NOT LOAD" not in sp.text
    assert "Missing: @nowhere.md" in sp.text and sp.warnings == ()
    # a stray backtick in one paragraph does not hide the next paragraph's import
    assert import_paths("a ` stray\n\n@x.md and `@y.md`\n\nanother ` stray") == ["x.md"]
    # trailing punctuation is not part of the path; "(@y.md)" has no whitespace before "@"; "\ " is a space
    assert import_paths("a @x.md, (@y.md) and @z\\ z.md") == ["x.md", "z z.md"]


def test_imported_files_share_the_size_caps(project, env):
    (project / "big.md").write_text("B" * 5000)
    (project / "CLAUDE.md").write_text("top @big.md")
    sp = build(project, env, file_cap=1000)
    big = [s for s in sp.instruction_files if s.path.endswith("big.md")][0]
    assert big.truncated and big.chars == 1000 and "B" * 1001 not in sp.text
    assert big.note.startswith("imported by ")
    sp = build(project, env, total_cap=600)  # the import is served first (latest), the importer gets what is left
    assert "B" * 601 not in sp.text


def test_a_project_file_cannot_import_from_outside_an_untrusted_folder(project, env, tmp_path):
    secret = tmp_path / "home" / "secret.txt"
    secret.write_text("THE SECRET")
    (project / "CLAUDE.md").write_text("@~/secret.txt and @../home/secret.txt")
    os.symlink(secret, project / "link.md")
    (project / "CLAUDE.local.md").write_text("@link.md")
    sp = build(project, env)
    assert "THE SECRET" not in sp.text
    assert len(sp.warnings) == 3 and all("outside the project" in w for w in sp.warnings)
    sp = build(project, dict(env, CLAW_TRUST_PROJECT="1"))
    assert sp.text.count("THE SECRET") == 1 and sp.warnings == ()


def test_an_import_in_claude_md_reaches_the_request(tmp_path, monkeypatch):
    work, home = tmp_path / "work", tmp_path / "home"
    (work / "docs").mkdir(parents=True)
    home.mkdir()
    (work / "CLAUDE.md").write_text("# Project\nSee @docs/conventions.md\n")
    (work / "docs" / "conventions.md").write_text("Always use tabs. @../rules/naming.md\n")
    (work / "rules").mkdir()
    (work / "rules" / "naming.md").write_text("Name things plainly.\n")
    with ModelServer([reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "hi", "--output-format", "json"], isolated_env(srv.env(), home), monkeypatch, work)
    assert run.code == 0, run.stderr
    system = srv.requests[0].json["system"]
    text = system if isinstance(system, str) else "".join(block["text"] for block in system)
    assert "See @docs/conventions.md" in text
    assert f"Contents of {(work / 'docs' / 'conventions.md').resolve()}" in text
    assert "Always use tabs." in text and "Name things plainly." in text
