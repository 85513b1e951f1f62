"""Protected control files: a write to claw's, Claude Code's, git's or the login shell's control files
asks in every mode but bypassPermissions, whatever the allow rules say, and is denied where nobody can
be asked (dontAsk, headless) — through the real policy and end to end through headless runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from claw.runtime.permissions import ALLOW, ASK, DENY, PermissionPolicy
from claw.runtime.protected import protection
from claw.tools.registry import build_tools
from tests.cli.headless_helpers import isolated_env, run_inprocess
from tests.fakes.model_server import ModelServer, reply, tool_use

TOOLS = build_tools(None, [])
WRITE = TOOLS["write_file"].spec
EDIT = TOOLS["edit_file"].spec


@pytest.fixture
def dirs(tmp_path: Path):
    work = tmp_path / "work"
    home = tmp_path / "home"
    conf = tmp_path / "confhome"
    for d in (work, home, conf):
        d.mkdir()
    return work, home, conf


def policy(work, home, conf, mode="acceptEdits", **kw):
    return PermissionPolicy(mode=mode, cwd=work, home=str(home), config_home=str(conf),
                            workspace_roots=[work, home, conf], **kw)


def decide(pol, tool, path):
    spec = WRITE if tool == "write_file" else EDIT
    return pol.decide(tool, spec, {"path": str(path)}, [str(path)])


PROTECTED = [".claw/settings.local.json", ".claw/settings.json", ".claude/settings.json", ".mcp.json",
             ".claw.json", ".git/hooks/pre-commit", ".git/config", "sub/.claw/settings.toml",
             "sub/.mcp.json"]


@pytest.mark.parametrize("rel", PROTECTED)
@pytest.mark.parametrize("tool", ["write_file", "edit_file"])
def test_project_control_files_ask_in_accept_edits_even_with_allow_rules(dirs, rel, tool):
    work, home, conf = dirs
    pol = policy(work, home, conf, allowed=["Edit", "Write", "Edit(./**)"], allow_rules=["Write(//**)"])
    d = decide(pol, tool, work / rel)
    assert d.outcome == ASK, d
    assert "control file" in d.reason or ".git" in d.reason or "MCP" in d.reason
    assert "bypassPermissions" in d.reason


@pytest.mark.parametrize("mode", ["dontAsk", "default"])
def test_dont_ask_denies_and_default_asks(dirs, mode):
    work, home, conf = dirs
    d = decide(policy(work, home, conf, mode=mode, allowed=["Edit"]), "write_file", work / ".claw/settings.json")
    assert d.outcome == (DENY if mode == "dontAsk" else ASK)


def test_read_only_still_denies(dirs):
    work, home, conf = dirs
    assert decide(policy(work, home, conf, mode="plan"), "edit_file", work / ".git/config").outcome == DENY


@pytest.mark.parametrize("mode", ["bypassPermissions", "danger-full-access"])
def test_bypass_permissions_allows(dirs, mode):
    work, home, conf = dirs
    assert decide(policy(work, home, conf, mode=mode), "write_file", work / ".claw/settings.json").outcome == ALLOW


def test_deny_rules_still_win(dirs):
    work, home, conf = dirs
    d = decide(policy(work, home, conf, deny_rules=["Edit(./.claw/**)"]), "write_file", work / ".claw/x.json")
    assert d.outcome == DENY and "denied by the rule" in d.reason


def test_ordinary_files_are_untouched(dirs):
    work, home, conf = dirs
    pol = policy(work, home, conf)
    for rel in ("src/main.py", "claw/settings.json", ".github/workflows/ci.yml", ".gitignore", "mcp.json"):
        assert decide(pol, "write_file", work / rel).outcome == ALLOW, rel


@pytest.mark.parametrize("rel", [".bashrc", ".bash_profile", ".profile", ".zshrc", ".zshenv",
                                 ".config/fish/config.fish", ".ssh/authorized_keys", ".gitconfig"])
def test_shell_startup_files_in_home(dirs, rel):
    work, home, conf = dirs
    d = decide(policy(work, home, conf, allow_rules=["Edit(~/**)"]), "write_file", home / rel)
    assert d.outcome == ASK and "home directory" in d.reason


def test_config_home_is_protected(dirs):
    work, home, conf = dirs
    d = decide(policy(work, home, conf, allow_rules=["Edit(//**)"]), "write_file", conf / "settings.json")
    assert d.outcome == ASK and "config home" in d.reason


def test_default_config_home_is_home_dot_claw(tmp_path):
    home = tmp_path / "h"
    (home / ".claw").mkdir(parents=True)
    pol = PermissionPolicy(mode="acceptEdits", cwd=tmp_path, home=str(home), workspace_roots=[home])
    assert decide(pol, "write_file", home / ".claw" / "trusted-folders.json").outcome == ASK


def test_symlink_to_a_control_file_is_caught_through_the_resolved_path(dirs):
    work, home, conf = dirs
    (work / ".claw").mkdir()
    (work / ".claw" / "settings.local.json").write_text("{}")
    os.symlink(".claw/settings.local.json", work / "innocent")
    d = decide(policy(work, home, conf, allowed=["Edit"]), "write_file", work / "innocent")
    assert d.outcome == ASK and "settings.local.json" in d.reason


@pytest.mark.parametrize("rel", ["CLAUDE.md", "CLAUDE.local.md", "CLAW.md", "AGENTS.md", "pkg/CLAUDE.md",
                                 ".claude/CLAUDE.md"])
def test_memory_files_ask_in_accept_edits(dirs, rel):
    work, home, conf = dirs
    d = decide(policy(work, home, conf, allowed=["Edit", "Write"]), "edit_file", work / rel)
    assert d.outcome == ASK, d
    assert "memory file" in d.reason or "Claude Code" in d.reason


def test_memory_file_names_are_exact():
    for name in ("README.md", "claude.md.bak", "CLAUDE.md.orig", "notes/CLAUDE.txt"):
        assert protection(f"/p/{name}") is None, name


def test_protection_is_a_pure_function_with_a_reason():
    assert protection("/p/.claw/settings.json") .startswith("/p/.claw/settings.json is a claw control file")
    assert "Claude Code" in protection("/p/.claude/settings.json")
    assert protection("/p/src/x.py") is None
    assert protection("/h/.bashrc", home="/h") and protection("/h/.bashrc") is None
    assert protection("/h/sub/.bashrc", home="/h") is None
    assert "config home" in protection("/c/anything", config_home="/c")


# --- end to end: headless runs against the scripted model server -----------------------------------

HOSTILE = json.dumps({"permissions": {"allow": ["Bash"]},
                      "hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": "touch pwned"}]}]}})


def _run(work, env, monkeypatch, calls, mode="acceptEdits", extra=()):
    with ModelServer([reply(tool_uses=calls), reply(text="done")]) as srv:
        run = run_inprocess(["-p", "go", "--output-format", "json", "--permission-mode", mode, *extra],
                            isolated_env(srv.env(), env["home"], **env["extra"]), monkeypatch, work)
    assert run.code == 0, run.stderr
    return run.json


def _e2e_cases(work: Path, home: Path, conf: Path):
    return [
        work / ".claw" / "settings.local.json",
        work / ".claude" / "settings.json",
        work / ".mcp.json",
        work / ".git" / "hooks" / "pre-commit",
        work / ".git" / "config",
        conf / "settings.json",
        home / ".bashrc",
        work / ".claude" / "settings.local.json",
        home / ".claude" / "settings.json",
        work / "CLAUDE.md",
        work / "sub" / "CLAUDE.local.md",
        home / ".claude" / "CLAUDE.md",
    ]


@pytest.mark.parametrize("mode", ["acceptEdits", "workspace-write"])
@pytest.mark.parametrize("index", range(12))
def test_headless_write_and_edit_of_control_files_are_denied(tmp_path, monkeypatch, mode, index):
    work, home, conf = tmp_path / "work", tmp_path / "home", tmp_path / "conf"
    target = _e2e_cases(work, home, conf)[index]
    for d in (work, home, conf, target.parent):
        d.mkdir(parents=True, exist_ok=True)
    target.write_text('{"old": true}\n')
    env = {"home": home, "extra": {"CLAW_CONFIG_HOME": str(conf), "HOME": str(home)}}
    calls = [tool_use("write_file", {"path": str(target), "content": HOSTILE}, id="w"),
             tool_use("edit_file", {"path": str(target), "old_string": '"old": true', "new_string": '"old": 1'},
                      id="e")]
    # --add-dir puts home and the config home inside the workspace, and the allow rules would cover
    # every write: only the protection stands between the model and the file.
    obj = _run(work, env, monkeypatch, calls, mode=mode,
               extra=["--add-dir", str(home), "--add-dir", str(conf), "--allowedTools", "Edit,Write,Edit(//**)"])
    assert sorted(d["tool_use_id"] for d in obj["permission_denials"]) == ["e", "w"]
    assert target.read_text() == '{"old": true}\n'
    assert all(r["is_error"] for r in obj["tool_results"])


def test_headless_symlink_to_settings_local_is_denied(tmp_path, monkeypatch):
    work, home = tmp_path / "work", tmp_path / "home"
    (work / ".claw").mkdir(parents=True)
    home.mkdir()
    (work / ".claw" / "settings.local.json").write_text("{}\n")
    os.symlink(".claw/settings.local.json", work / "innocent")
    env = {"home": home, "extra": {}}
    obj = _run(work, env, monkeypatch, [tool_use("write_file", {"path": "innocent", "content": HOSTILE}, id="w")],
               extra=["--allowedTools", "Write"])
    assert [d["tool_use_id"] for d in obj["permission_denials"]] == ["w"]
    assert (work / ".claw" / "settings.local.json").read_text() == "{}\n"


def test_headless_bypass_permissions_writes_the_control_file(tmp_path, monkeypatch):
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    env = {"home": home, "extra": {}}
    obj = _run(work, env, monkeypatch,
               [tool_use("write_file", {"path": ".claw/settings.local.json", "content": "{}"}, id="w")],
               mode="bypassPermissions")
    assert obj["permission_denials"] == []
    assert (work / ".claw" / "settings.local.json").read_text() == "{}"


# --- bash output redirections are writes too ----------------------------------------------------

BASH = TOOLS["bash"].spec


@pytest.mark.parametrize("mode, outcome", [("acceptEdits", ASK), ("dontAsk", DENY), ("default", ASK),
                                           ("bypassPermissions", ALLOW)])
@pytest.mark.parametrize("command", ["echo '{}' > .claw/settings.local.json",
                                     "echo x >> .git/hooks/pre-commit",
                                     "ls >& .mcp.json",
                                     "cat a 2> {home}/.bashrc"])
def test_a_redirection_into_a_control_file_is_a_protected_write(dirs, mode, outcome, command):
    work, home, conf = dirs
    pol = policy(work, home, conf, mode=mode, allowed=["Bash(echo:*)", "Bash(ls:*)", "Bash(cat:*)"])
    d = pol.decide("bash", BASH, {"command": command.replace("{home}", str(home))})
    assert d.outcome == outcome, d
    assert d.protected == (outcome != ALLOW)


def test_a_bare_bash_allow_rule_does_not_lift_the_protection_of_a_redirect_target(dirs):
    work, home, conf = dirs
    d = policy(work, home, conf, mode="dontAsk", allowed=["Bash"]).decide(
        "bash", BASH, {"command": "echo '{\"permissions\":{\"allow\":[\"Bash\"]}}' > .claw/settings.local.json"})
    assert d.outcome == DENY and d.protected


def test_headless_bash_redirect_into_settings_is_denied_even_when_a_hook_allows(tmp_path, monkeypatch):
    """A hook's allow answers the mode's question, never the one a control file's write asks — and
    the redirection really does not happen."""
    work, home = tmp_path / "work", tmp_path / "home"
    (work / ".claw").mkdir(parents=True)
    home.mkdir()
    allow = """echo '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"allow"}}'"""
    (home / "settings.json").write_text(json.dumps(
        {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": allow}]}]}}))
    env = {"home": home, "extra": {"CLAW_CONFIG_HOME": str(home)}}
    command = "echo '{\"permissions\":{\"allow\":[\"Bash\"]}}' > .claw/settings.local.json"
    obj = _run(work, env, monkeypatch, [tool_use("bash", {"command": command}, id="b")],
               extra=["--allowedTools", "Bash(echo:*)"])
    assert [d["tool_use_id"] for d in obj["permission_denials"]] == ["b"]
    assert not (work / ".claw" / "settings.local.json").exists()


@pytest.mark.parametrize("link, points_to", [
    (".claw/settings.local.json", "conf/app.json"),
    (".mcp.json", "conf/servers.json"),
    (".git/hooks/pre-commit", "scripts/hook.sh"),
])
def test_a_file_that_a_control_file_links_to_is_protected_too(dirs, link, points_to):
    """A repository may ship a control file as a symlink to an ordinary file; writing that file changes
    the control file, so it asks like the control file itself."""
    work, home, conf = dirs
    (work / points_to).parent.mkdir(parents=True, exist_ok=True)
    (work / points_to).write_text("{}\n")
    (work / link).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(work / points_to, (work / link).parent), work / link)
    d = decide(policy(work, home, conf, allowed=["Edit", "Write"]), "write_file", work / points_to)
    assert d.outcome == ASK and d.protected and link in d.reason
    assert decide(policy(work, home, conf), "write_file", work / "conf" / "other.json").outcome == ALLOW
