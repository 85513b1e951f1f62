"""The tool registry: canonical names, Claude Code aliases, list splitting, the offered set."""

from __future__ import annotations

import pytest

from claw.errors import UsageError
from claw.tools.base import PermissionLevel
from claw.tools.registry import (ALIASES, BUILTIN_NAMES, RUN_TOOLS, build_tools, canonical_tool_name, offers,
                                 parse_tools_flag, resolve_tool_names, split_tool_list)

PINNED_SCHEMAS = {
    "bash": ({"command"}, {"timeout", "run_in_background", "description"}),
    "read_file": ({"path"}, {"offset", "limit", "pages"}),
    "write_file": ({"path", "content"}, set()),
    "edit_file": ({"path", "old_string", "new_string"}, {"replace_all", "edits"}),
    "notebook_edit": ({"notebook_path", "new_source"}, {"cell_id", "cell_number", "cell_type", "edit_mode"}),
    "glob_search": ({"pattern"}, {"path"}),
    "grep_search": ({"pattern"}, {"path", "glob", "type", "output_mode", "-i", "-n", "-A", "-B", "-C",
                                  "head_limit"}),
    "web_fetch": ({"url"}, {"prompt"}),
    "web_search": ({"query"}, {"allowed_domains", "blocked_domains"}),
    "todo_write": ({"todos"}, set()),
    "bash_output": (set(), {"bash_id", "task_id", "shell_id", "filter", "block", "timeout"}),
    "kill_shell": (set(), {"shell_id", "task_id"}),
    "agent": ({"description", "prompt"}, {"subagent_type", "model"}),
    "exit_plan_mode": ({"plan"}, set()),
    "ask_user_question": ({"questions"}, {"answers"}),
}


def test_every_builtin_has_the_contract_schema_and_level():
    tools = build_tools()
    assert list(tools) == list(BUILTIN_NAMES)
    for name, tool in tools.items():
        assert tool.spec.name == name
        props = set(tool.spec.input_schema["properties"])
        pinned, optional = PINNED_SCHEMAS[name]
        assert pinned | optional == props, name
        assert tool.spec.input_schema["type"] == "object"
    levels = {n: t.spec.permission for n, t in tools.items()}
    assert levels["bash"] is PermissionLevel.DANGER_FULL_ACCESS
    assert levels["write_file"] is levels["edit_file"] is levels["notebook_edit"] is PermissionLevel.WORKSPACE_WRITE
    for name in ("read_file", "glob_search", "grep_search", "web_fetch", "web_search", "todo_write",
                 "bash_output", "kill_shell", "agent", "exit_plan_mode", "ask_user_question"):
        assert levels[name] is PermissionLevel.READ_ONLY
    assert not tools["bash"].spec.read_only and tools["read_file"].spec.read_only


def test_aliases_resolve_to_canonical_names():
    assert canonical_tool_name("MultiEdit") == "edit_file"
    assert resolve_tool_names(["Bash", "Read", "Write", "Edit", "MultiEdit", "Glob", "Grep", "WebFetch",
                               "WebSearch", "TodoWrite", "bash"]) == [
        "bash", "read_file", "write_file", "edit_file", "glob_search", "grep_search", "web_fetch",
        "web_search", "todo_write"]
    assert set(ALIASES.values()) == set(BUILTIN_NAMES) | set(RUN_TOOLS)


def test_run_tools_have_claude_code_names_and_follow_the_tool_flags():
    assert resolve_tool_names(["Skill", "SlashCommand"]) == ["skill", "slash_command"]
    assert "skill" not in build_tools()  # the run builds it when it has skills
    assert offers("skill", None, ()) and offers("skill", "Skill,Read", ())
    assert not offers("skill", "Read", ()) and not offers("slash_command", None, ["SlashCommand"])


def test_unknown_name_is_a_usage_error_listing_valid_names():
    with pytest.raises(UsageError) as info:
        resolve_tool_names(["Bash", "Shell"])
    assert "Shell" in info.value.message
    assert "read_file" in info.value.hint and "WebFetch" in info.value.hint


def test_mcp_names_pass_only_when_allowed():
    assert resolve_tool_names(["mcp__git__status"], allow_mcp=True) == ["mcp__git__status"]
    with pytest.raises(UsageError):
        resolve_tool_names(["mcp__git__status"])


def test_claude_code_only_tools_are_skipped_with_a_warning():
    warnings = []
    assert resolve_tool_names(["NotebookRead", "Read"], warnings=warnings) == ["read_file"]
    assert "NotebookRead" in warnings[0]


def test_the_subagent_tool_answers_to_claude_codes_names():
    assert resolve_tool_names(["Agent", "Task", "agent"]) == ["agent"]


@pytest.mark.parametrize("value,expected", [
    ("Bash,Read", ["Bash", "Read"]),
    ("Bash Read  Edit", ["Bash", "Read", "Edit"]),
    ("Bash(git status:*), Read", ["Bash(git status:*)", "Read"]),
    ('Bash(npm run test) Bash(git log:*),Edit(./src/**)', ["Bash(npm run test)", "Bash(git log:*)",
                                                          "Edit(./src/**)"]),
    ("", []),
])
def test_split_tool_list_keeps_patterns_whole(value, expected):
    assert split_tool_list(value) == expected


def test_split_tool_list_takes_repeated_flags_and_rejects_unbalanced():
    assert split_tool_list(["Bash", "Read,Write"]) == ["Bash", "Read", "Write"]
    with pytest.raises(UsageError):
        split_tool_list("Bash(git status")
    with pytest.raises(UsageError):
        split_tool_list("Bash)")


def test_tools_flag_default_all_empty_none():
    assert parse_tools_flag(None) is None
    assert parse_tools_flag("default") is None
    assert parse_tools_flag("") == []
    assert list(build_tools("")) == []
    assert list(build_tools("Read Grep")) == ["read_file", "grep_search"]


def test_disallowed_bare_names_are_removed_patterns_are_not():
    tools = build_tools(None, ["Bash", "Edit(./x)", "Write(./y) WebSearch"])
    assert "bash" not in tools and "web_search" not in tools
    assert "edit_file" in tools and "write_file" in tools


def test_tools_md_names_every_tool_with_all_its_claude_code_names():
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "TOOLS.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)`\s*\| ([^|]*)\|", doc, re.M)}
    for name in BUILTIN_NAMES + RUN_TOOLS:
        assert name in rows, f"docs/TOOLS.md's tool table has no row for {name}"
        documented = set(re.findall(r"`(\w+)`", rows[name]))
        assert documented == {alias for alias, canonical in ALIASES.items() if canonical == name}, name
        assert name in RUN_TOOLS or re.search(rf"^### {name}$", doc, re.M), f"docs/TOOLS.md: no section for {name}"
    assert len(BUILTIN_NAMES) == 15 and "works through fifteen built-in tools" in doc  # the doc's count
