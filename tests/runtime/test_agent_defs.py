"""Subagent definitions (claw.runtime.agent_defs): agent files, their precedence, --agents JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claw.errors import UsageError
from claw.runtime.agent_defs import load_catalog, parse_agent_file, parse_agents_json, split_frontmatter


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def test_frontmatter_keys_lists_and_quotes():
    meta, body = split_frontmatter('---\nname: a\ntools: [Read, "Grep"]\ndescription: "Say: hi"\n---\n\nBody\n')
    assert meta == {"name": "a", "tools": ["Read", "Grep"], "description": "Say: hi"} and body == "Body"
    assert split_frontmatter("no frontmatter") == ({}, "no frontmatter")
    assert split_frontmatter("---\nname: a\nnever closed") == ({}, "---\nname: a\nnever closed")


def test_an_agent_file_with_claude_codes_keys(tmp_path):
    path = tmp_path / "code-reviewer.md"
    definition = parse_agent_file(path, "---\ndescription: Reviews\ntools: Read, Grep, Bash(git diff:*)\n"
                                        "model: inherit\npermissionMode: plan\nmaxTurns: 5\n"
                                        "disallowedTools: Write\n---\nYou review.\n", "project")
    assert definition.name == "code-reviewer"  # the file name when the frontmatter has none
    assert definition.tools == ("Read", "Grep", "Bash(git diff:*)") and definition.model is None
    assert definition.permission_mode == "read-only" and definition.max_turns == 5
    assert definition.disallowed_tools == ("Write",) and definition.prompt == "You review."
    assert definition.tools_flag() == "Read,Grep"  # --agent: a patterned tool is left out


def test_precedence_user_then_project_then_flag(tmp_path):
    home, project = tmp_path / "home", tmp_path / "project"
    project.mkdir()
    _write(home / ".claude" / "agents", "a.md", "---\nname: a\ndescription: user claude\n---\nU")
    _write(home / ".claw" / "agents", "a.md", "---\nname: a\ndescription: user claw\n---\nU")
    _write(home / ".claude" / "agents", "b.md", "---\nname: b\ndescription: user b\n---\nU")
    _write(project / ".claude" / "agents", "b.md", "---\nname: b\ndescription: project b\n---\nP")
    _write(project / ".claw" / "agents", "c.md", "---\nname: c\ndescription: project c\n---\nP")
    env = {"HOME": str(home), "CLAW_CONFIG_HOME": str(home / ".claw"), "CLAW_TRUST_PROJECT": "1"}
    flag = json.dumps({"c": {"description": "flag c", "prompt": "F"}})
    catalog = load_catalog(project, env, flag_json=flag)
    assert {n: catalog.get(n).description for n in catalog.names()} == {
        "general-purpose": catalog.get("general-purpose").description, "a": "user claw", "b": "project b",
        "c": "flag c"}
    assert catalog.get("c").source == "flag" and catalog.get("b").source == "project"
    only_user = load_catalog(project, env, setting_sources=["user"])
    assert sorted(only_user.names()) == ["a", "b", "general-purpose"] and only_user.get("b").description == "user b"
    assert load_catalog(project, env, setting_sources=[]).names() == ["general-purpose"]
    claude_dir = load_catalog(project, dict(env, CLAUDE_CONFIG_DIR=str(tmp_path / "none")))
    assert claude_dir.get("a").description == "user claw"


def test_a_bad_file_is_a_warning_not_an_error(tmp_path):
    home = tmp_path / "home"
    _write(home / ".claude" / "agents", "bad.md", "---\nname: bad\n---\nno description")
    catalog = load_catalog(tmp_path, {"HOME": str(home), "CLAW_CONFIG_HOME": str(tmp_path / "cfg")})
    assert catalog.names() == ["general-purpose"]
    assert len(catalog.warnings) == 1 and "'description'" in catalog.warnings[0] and "skipped" in catalog.warnings[0]


@pytest.mark.parametrize("value,message", [
    ("[]", "must be an object"),
    ({"a": "text"}, "must be an object with description and prompt"),
    ({"a": {"description": "d"}}, "'prompt'"),
    ({"a b": {"description": "d", "prompt": "p"}}, "the name must be"),
    ({"a": {"description": "d", "prompt": "p", "tools": 3}}, "'tools' must be"),
    ({"a": {"description": "d", "prompt": "p", "permissionMode": "sideways"}}, "unknown permission mode"),
])
def test_malformed_definitions_are_usage_errors(value, message):
    with pytest.raises(UsageError) as info:
        parse_agents_json(value, source="sdk")
    assert message in info.value.message


def test_sdk_definitions_with_null_fields():
    (definition,) = parse_agents_json({"r": {"description": "d", "prompt": "p", "tools": None, "model": None,
                                             "skills": None, "maxTurns": None}}, source="sdk")
    assert definition.tools is None and definition.model is None and definition.source == "sdk"
