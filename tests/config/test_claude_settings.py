"""Claude Code's settings files (``.claude/settings.json``, ``.claude/settings.local.json``,
``~/.claude/settings.json``): layers just below claw's own file of each scope, merged by claw's rules,
with provenance, read in Claude Code's dialect (its keys claw does not use are quiet; the rest is one
warning per file; a permissions value claw cannot read still stops the run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claw.config.loader import load_settings
from claw.errors import ConfigError
from tests.cli.headless_helpers import isolated_env, run_subprocess


def _write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_claw_file_wins_key_by_key_over_the_claude_file_of_the_same_scope(layout):
    claude = _write(layout.project / ".claude" / "settings.json", {
        "model": "from-claude", "env": {"A": "claude", "B": "claude"},
        "permissions": {"deny": ["Bash(rm:*)"], "defaultMode": "acceptEdits"}})
    layout.write("project", {"model": "from-claw", "env": {"B": "claw"}, "permissions": {"deny": ["Read(.env)"]}})
    loaded = layout.load()
    assert loaded.settings.model == "from-claw"
    assert loaded.raw["env"] == {"A": "claude", "B": "claw"}
    assert loaded.settings.permissions.deny == ("Bash(rm:*)", "Read(.env)")  # lists concatenate
    assert loaded.settings.permissions.default_mode == "acceptEdits"
    assert loaded.origin("model").path == str(layout.path("project"))
    assert loaded.origin(("env", "A")).path == str(claude)
    assert loaded.origin(("env", "A")).label == "project (.claude)"
    assert [s.path for s in loaded.contributors(("permissions", "deny"))] == [str(claude), str(layout.path("project"))]


def test_scope_order_claude_files_sit_inside_their_scope(layout):
    home = Path(layout.env["HOME"])
    _write(home / ".claude" / "settings.json", {"model": "claude-user", "env": {"U": "1"}})
    _write(layout.project / ".claude" / "settings.local.json", {"model": "claude-local"})
    layout.write("user", {"model": "claw-user"})
    layout.write("project", {"model": "claw-project"})
    loaded = layout.load()
    assert [(s.label, Path(s.path).parent.name) for s in loaded.sources] == [
        ("user (.claude)", ".claude"), ("user", ".claw"), ("project", ".claw"), ("local (.claude)", ".claude")]
    assert loaded.settings.model == "claude-local"  # local scope beats project, whichever family
    assert loaded.raw["env"] == {"U": "1"}


def test_claude_config_dir_moves_the_user_file(layout, tmp_path):
    other = tmp_path / "cc"
    _write(other / "settings.json", {"model": "from-cc-dir"})
    _write(Path(layout.env["HOME"]) / ".claude" / "settings.json", {"model": "from-home"})
    loaded = load_settings(str(layout.project), dict(layout.env, CLAUDE_CONFIG_DIR=str(other)))
    assert loaded.settings.model == "from-cc-dir"
    assert [s.path for s in loaded.sources] == [str(other / "settings.json")]


def test_setting_sources_selects_both_families(layout):
    home = Path(layout.env["HOME"])
    _write(home / ".claude" / "settings.json", {"permissions": {"deny": ["Bash(cu)"]}})
    layout.write("user", {"permissions": {"deny": ["Bash(u)"]}})
    _write(layout.project / ".claude" / "settings.json", {"permissions": {"deny": ["Bash(cp)"]}})
    layout.write("project", {"permissions": {"deny": ["Bash(p)"]}})
    _write(layout.project / ".claude" / "settings.local.json", {"permissions": {"deny": ["Bash(cl)"]}})

    def deny(sources):
        return layout.load(setting_sources=sources).settings.permissions.deny

    assert deny(["user"]) == ("Bash(cu)", "Bash(u)")
    assert deny(["project"]) == ("Bash(cp)", "Bash(p)")
    assert deny(["local"]) == ("Bash(cl)",)
    assert deny([]) == ()


def test_claude_code_keys_are_quiet_and_the_rest_is_one_warning_per_file(layout):
    claude = _write(Path(layout.env["HOME"]) / ".claude" / "settings.json", {
        "includeCoAuthoredBy": False, "cleanupPeriodDays": 20, "outputStyle": "Explanatory",
        "statusLine": {"type": "command", "command": "x"}, "enabledMcpjsonServers": ["a"],
        "notAClaudeKey": 1, "alsoUnknown": True,
        "permissions": {"deny": ["Bash(rm:*)"], "disableBypassPermissionsMode": "disable"},
        "hooks": {"Stop": [{"hooks": [{"type": "prompt", "prompt": "check"},
                                      {"type": "command", "command": "true"}]}],
                  "NoSuchEvent": [{"hooks": [{"type": "command", "command": "x"}]}]},
    })
    loaded = layout.load()  # strict: nothing here is an error
    warnings = [w.message for w in loaded.warnings]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"{claude}: Claude Code settings claw does not use (ignored): ")
    for key in ("notAClaudeKey", "alsoUnknown", "permissions.disableBypassPermissionsMode",
                "hooks.Stop[0].hooks[0] (type 'prompt')", "hooks.NoSuchEvent"):
        assert key in warnings[0], key
    for quiet in ("includeCoAuthoredBy", "cleanupPeriodDays", "outputStyle", "statusLine", "enabledMcpjsonServers"):
        assert quiet not in warnings[0]
    assert loaded.settings.permissions.deny == ("Bash(rm:*)",)
    stop = loaded.settings.hooks["Stop"]  # the command hook beside the prompt hook is kept
    assert [h.command for m in stop for h in m.hooks] == ["true"]


def test_claw_own_unknown_keys_still_warn_one_by_one(layout):
    layout.write("project", {"includeCoAuthoredBy": False, "other": 1})
    assert len(layout.load().warnings) == 2


def test_a_permissions_value_claw_cannot_read_stops_the_run(layout):
    _write(layout.project / ".claude" / "settings.json", {"permissions": {"deny": ["Bash(rm"]}})
    with pytest.raises(ConfigError) as info:
        layout.load()
    assert ".claude/settings.json: permissions.deny[0]" in info.value.message


def test_other_bad_values_in_a_claude_file_are_ignored_not_fatal(layout):
    _write(layout.project / ".claude" / "settings.json", {"model": 5, "env": {"A": "1"}})
    loaded = layout.load()
    assert loaded.settings.model is None and loaded.raw["env"] == {"A": "1"}
    assert "model" in loaded.warnings[0].message


def test_a_claude_file_that_does_not_parse_is_an_error(layout):
    _write(layout.project / ".claude" / "settings.json", '{"permissions": {"deny": ["Bash(rm:*)"],}}')
    with pytest.raises(ConfigError) as info:
        layout.load()
    assert "invalid JSON" in info.value.message and ".claude/settings.json" in info.value.message


def test_claw_status_and_config_list_show_which_file_set_each_key(tmp_path):
    work, home = tmp_path / "work", tmp_path / "home"
    home.mkdir()
    claude = _write(work / ".claude" / "settings.json", {"model": "claude-model", "env": {"X": "1"},
                                                         "permissions": {"deny": ["Bash(rm:*)"]}})
    claw = _write(work / ".claw" / "settings.json", {"model": "claw-model", "permissions": {"deny": ["Read(.env)"]}})
    env = isolated_env({"ANTHROPIC_API_KEY": "k"}, home, CLAW_TRUST_PROJECT="1")  # env is gated otherwise
    status = run_subprocess(["status"], env, work)
    assert status.code == 0, status.stderr
    assert f"project (.claude)  {claude}" in status.stdout
    assert f"env          project (.claude): {claude}" in status.stdout
    assert f"model        project: {claw}" in status.stdout
    assert "permissions  project: " in status.stdout and "(merged with project (.claude))" in status.stdout
    as_json = json.loads(run_subprocess(["status", "--json"], env, work).stdout)
    files = as_json["settings"]["files"]
    assert {"scope": "project", "path": str(claude), "family": "claude"} in files
    assert as_json["settings"]["keys"]["env"]["file"] == str(claude)
    listing = run_subprocess(["config", "list"], env, work)
    assert 'env.X = "1"  # project (.claude)' in listing.stdout
    assert 'permissions.deny = ["Bash(rm:*)", "Read(.env)"]  # project (.claude), project' in listing.stdout
