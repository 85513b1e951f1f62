"""``claw init``: creates the three things, is idempotent, never overwrites anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from claw.cli.init_cmd import CLAW_MD, init_project, run
from tests.cli.headless_helpers import ROOT


def snapshot(root):
    """Every path under ``root`` with its bytes (or its link target), to compare before/after."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path))
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    out[rel] = ("file", f.read(), os.stat(path).st_mode)
            else:
                out[rel] = ("dir",)
    return out


def test_creates_settings_instructions_and_gitignore(tmp_path):
    actions = init_project(tmp_path)
    assert len(actions) == 3
    settings = json.loads((tmp_path / ".claw" / "settings.json").read_text())
    assert settings == {"permissions": {"allow": [], "deny": [], "ask": []}}
    assert (tmp_path / "CLAW.md").read_text() == CLAW_MD
    assert (tmp_path / ".gitignore").read_text() == "# claw\n.claw/settings.local.json\n.claw/sessions/\n"
    assert not [p for p in os.listdir(tmp_path / ".claw") if p.endswith(".tmp")]


def test_the_settings_it_writes_load_cleanly(tmp_path):
    from claw.config.loader import load_settings

    init_project(tmp_path)
    loaded = load_settings(str(tmp_path), {"CLAW_CONFIG_HOME": str(tmp_path / "home")}, None)
    assert not loaded.errors and not loaded.warnings
    assert any(".claw/settings.json" in s.describe() for s in loaded.sources)


def test_running_twice_changes_nothing(tmp_path):
    init_project(tmp_path)
    before = snapshot(tmp_path)
    assert init_project(tmp_path) == []
    assert snapshot(tmp_path) == before


def test_never_overwrites_existing_files(tmp_path):
    (tmp_path / ".claw").mkdir()
    (tmp_path / ".claw" / "settings.json").write_text('{"model": "opus"}\n')
    (tmp_path / "CLAW.md").write_text("my instructions\n")
    (tmp_path / ".gitignore").write_bytes(b"node_modules/\r\n.claw/sessions/\r\n*.log")  # CRLF, no final newline
    before = snapshot(tmp_path)
    actions = init_project(tmp_path)
    assert actions == ["added .claw/settings.local.json to .gitignore"]
    after = snapshot(tmp_path)
    assert after[".claw/settings.json"] == before[".claw/settings.json"]
    assert after["CLAW.md"] == before["CLAW.md"]
    # .gitignore only grew: the old bytes are a prefix, the new lines use its line ending
    assert (tmp_path / ".gitignore").read_bytes() == (
        b"node_modules/\r\n.claw/sessions/\r\n*.log\r\n# claw\r\n.claw/settings.local.json\r\n")


@pytest.mark.parametrize("existing", ["CLAUDE.md", "AGENTS.md", ".claude/CLAUDE.md"])
def test_another_instruction_file_is_enough(tmp_path, existing):
    (tmp_path / existing).parent.mkdir(exist_ok=True)
    (tmp_path / existing).write_text("rules\n")
    init_project(tmp_path)
    assert not (tmp_path / "CLAW.md").exists()


def test_memory_file_claude_md_writes_claude_code_s_file_instead(tmp_path, capsys):
    from claw.cli.init_cmd import run

    assert run(["--cwd", str(tmp_path), "--memory-file", "CLAUDE.md"]) == 0
    assert "created CLAUDE.md" in capsys.readouterr().out
    assert (tmp_path / "CLAUDE.md").read_text().startswith("# Project instructions for claw and Claude Code")
    assert not (tmp_path / "CLAW.md").exists()
    assert run(["--cwd", str(tmp_path), "--memory-file", "CLAW.md"]) == 0  # one instruction file is enough
    assert not (tmp_path / "CLAW.md").exists()


def test_a_toml_settings_file_is_kept_alone(tmp_path):
    (tmp_path / ".claw").mkdir()
    (tmp_path / ".claw" / "settings.toml").write_text('model = "opus"\n')
    init_project(tmp_path)
    assert not (tmp_path / ".claw" / "settings.json").exists()


def test_a_dangling_symlink_is_not_replaced(tmp_path):
    (tmp_path / "CLAW.md").symlink_to(tmp_path / "elsewhere.md")
    init_project(tmp_path)
    assert os.readlink(tmp_path / "CLAW.md") == str(tmp_path / "elsewhere.md")
    assert not (tmp_path / "elsewhere.md").exists()


@pytest.mark.parametrize("line", ["/.claw/sessions/", ".claw/sessions", ".claw/", "/.claw"])
def test_equivalent_gitignore_entries_count(tmp_path, line):
    (tmp_path / ".gitignore").write_text(f"{line}\n.claw/settings.local.json\n")
    before = (tmp_path / ".gitignore").read_text()
    init_project(tmp_path)
    assert (tmp_path / ".gitignore").read_text() == before


def test_run_reports_what_it_did(tmp_path, capsys):
    assert run(["--cwd", str(tmp_path)]) == 0
    first = capsys.readouterr().out
    assert "created .claw/settings.json" in first and "created CLAW.md" in first and ".gitignore" in first
    assert run(["--cwd", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "already set up: nothing to do\n"


def test_run_fails_cleanly(tmp_path, capsys):
    assert run(["--cwd", str(tmp_path / "missing")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    (tmp_path / ".claw").write_text("a file where the directory should be")
    assert run(["--cwd", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("claw init: ") and "hint: check that the project directory is writable" in err
    assert "Traceback" not in err


def test_claw_init_from_the_command_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), CLAW_CONFIG_HOME=str(tmp_path / "home"))
    proc = subprocess.run([sys.executable, "-m", "claw", "init"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / ".claw" / "settings.json").is_file() and (tmp_path / "CLAW.md").is_file()
    again = subprocess.run([sys.executable, "-m", "claw", "init"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and again.stdout == "already set up: nothing to do\n"
