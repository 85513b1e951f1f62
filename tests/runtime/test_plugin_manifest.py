"""The plugin manifest reader: Claude Code's plugin.json, claw-code's tools, and clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from claw.errors import ClawError
from claw.runtime.plugin_manifest import PluginError, read_plugin, validate_plugin

MARKET = Path(__file__).resolve().parents[1] / "fixtures" / "plugins" / "marketplace"


def _plugin(tmp_path: Path, manifest, files=None, name="p") -> Path:
    root = tmp_path / name
    (root / ".claude-plugin").mkdir(parents=True)
    if manifest is not None:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        (root / ".claude-plugin" / "plugin.json").write_text(text)
    for rel, content in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return root


def test_the_claude_code_fixture_reads_with_every_default_component():
    plugin = read_plugin(MARKET / "cc-demo")
    root = (MARKET / "cc-demo").resolve()
    assert (plugin.name, plugin.version, plugin.author) == ("cc-demo", "1.0.0", "claw tests")
    assert plugin.commands == (root / "commands",) and plugin.agents == (root / "agents",)
    assert plugin.skills == (root / "skills",)
    assert plugin.hooks["PostToolUse"][0]["hooks"][0]["command"] == 'sh "${CLAUDE_PLUGIN_ROOT}/hooks/mark.sh"'
    assert plugin.mcp_servers["demo"]["args"] == ["${CLAUDE_PLUGIN_ROOT}/server.py"]
    assert plugin.extra == {"license": "MIT"} and plugin.tools == ()
    assert validate_plugin(MARKET / "cc-demo") == []


def test_the_claw_code_fixture_reads_its_tools():
    plugin = read_plugin(MARKET / "cc-tools")
    tools = {t.name: t for t in plugin.tools}
    assert list(tools) == ["word_count", "plugin_env", "nap", "fail", "write_note"]
    count = tools["word_count"]
    assert (count.command, count.args, count.required_permission) == ("python3", ("tools/tool.py", "count"), "read-only")
    assert count.input_schema["required"] == ["text"] and count.timeout == 120.0
    assert tools["nap"].timeout == 1.0 and tools["write_note"].required_permission == "workspace-write"
    assert tools["fail"].command == str((MARKET / "cc-tools" / "tools" / "tool.py").resolve())  # './' resolved


def test_manifest_paths_add_to_the_default_directories_and_inline_components(tmp_path):
    root = _plugin(tmp_path, {
        "name": "extra", "commands": ["./more-commands/", "./one.md"], "skills": "./packs",
        "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "true"}]}]},
        "mcpServers": {"srv": {"command": "srv-bin"}},
    }, {"commands/a.md": "a", "more-commands/b.md": "b", "one.md": "c", "packs/x/SKILL.md": "x",
        "hooks/hooks.json": {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "echo stop"}]}]}}})
    plugin = read_plugin(root)
    root = root.resolve()
    assert plugin.commands == (root / "commands", root / "more-commands", root / "one.md")
    assert plugin.skills == (root / "packs",)
    assert set(plugin.hooks) == {"PreToolUse", "Stop"}
    assert plugin.mcp_servers == {"srv": {"command": "srv-bin"}}


def test_claw_code_hooks_and_a_root_manifest(tmp_path):
    root = tmp_path / "legacy"
    (root / "hooks").mkdir(parents=True)
    (root / "hooks" / "pre.sh").write_text("#!/bin/sh\n")
    (root / "plugin.json").write_text(json.dumps({"name": "legacy", "version": "0.1.0", "description": "d",
                                                   "hooks": {"PreToolUse": ["./hooks/pre.sh", "echo hi"]}}))
    plugin = read_plugin(root)
    commands = [g["hooks"][0]["command"] for g in plugin.hooks["PreToolUse"]]
    assert commands == [str(root.resolve() / "hooks" / "pre.sh"), "echo hi"]


def test_without_a_manifest_the_directory_names_the_plugin(tmp_path):
    root = tmp_path / "bare-plugin"
    (root / "commands").mkdir(parents=True)
    assert read_plugin(root).name == "bare-plugin"
    assert "kebab-case" in validate_plugin(_plugin(tmp_path, None, {"commands/x.md": "x"}, name="Bad_Name"))[0]


@pytest.mark.parametrize("manifest, expected", [
    ("{not json", "not valid JSON"),
    ("[1]", "must be a JSON object"),
    ({"version": "1"}, '"name" is required'),
    ({"name": "My Plugin"}, "must be kebab-case"),
    ({"name": "p", "version": 2}, '"version" must be a string'),
    ({"name": "p", "commands": "commands"}, "starting with './'"),
    ({"name": "p", "agents": "./../elsewhere"}, "points outside the plugin directory"),
    ({"name": "p", "skills": ["./missing"]}, "does not exist"),
    ({"name": "p", "hooks": {"PreToolUse": [{"matcher": "Bash"}]}}, "missing 'hooks'"),
    ({"name": "p", "hooks": {"OnLunch": []}}, "unknown hook event 'OnLunch'"),
    ({"name": "p", "mcpServers": {"s": {"args": []}}}, "needs 'command'"),
    ({"name": "p", "tools": {}}, '"tools" must be a list'),
    ({"name": "p", "tools": [{"name": "t", "description": "d", "inputSchema": {}, "command": "./nope"}]},
     '"tools"[0]: "command": \'./nope\' does not exist'),
    ({"name": "p", "tools": [{"name": "t", "description": "d", "inputSchema": {}, "command": "x",
                              "requiredPermission": "root"}]}, '"tools"[0]/requiredPermission: must be equal to one of the allowed values'),
    ({"name": "p", "tools": [{"name": "bad name", "description": "", "inputSchema": [], "command": ""}]},
     '"tools"[0]/name: must match pattern'),
])
def test_broken_manifests_give_clear_errors_naming_file_and_field(tmp_path, manifest, expected):
    root = _plugin(tmp_path, manifest)
    problems = validate_plugin(root)
    assert problems and any(expected in p for p in problems), problems
    assert all(str(root.resolve()) in p or str(root) in p for p in problems), problems
    with pytest.raises(PluginError) as caught:
        read_plugin(root)
    assert isinstance(caught.value, ClawError) and caught.value.failure_class == "config"
    assert "claw plugin validate" in caught.value.hint


def test_validate_lists_every_problem_and_read_names_how_many_more(tmp_path):
    root = _plugin(tmp_path, {"name": "p", "tools": [{"name": "bad name", "description": "", "inputSchema": [],
                                                      "command": "", "args": "x", "timeout": 0}]})
    problems = validate_plugin(root)
    assert len(problems) == 6, problems
    with pytest.raises(PluginError, match=r"and 5 more problems"):
        read_plugin(root)


def test_a_broken_hooks_file_and_mcp_file_are_reported(tmp_path):
    root = _plugin(tmp_path, {"name": "p"}, {"hooks/hooks.json": "{oops", ".mcp.json": {"mcpServers": []}})
    problems = validate_plugin(root)
    assert any("hooks.json: not valid JSON" in p for p in problems)
    assert any(".mcp.json: mcpServers: expected an object of servers" in p for p in problems)


def test_not_a_directory(tmp_path):
    assert "not a plugin directory" in validate_plugin(tmp_path / "nope")[0]
    os.symlink(MARKET / "cc-demo", tmp_path / "link")
    assert read_plugin(tmp_path / "link").root == (MARKET / "cc-demo").resolve()
