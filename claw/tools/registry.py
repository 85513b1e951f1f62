"""The built-in tools by canonical name, the Claude Code aliases, and the tool-list flag syntax.

- ``BUILTIN_NAMES``: the canonical names the model sees (docs/TOOLS.md), in presentation order.
- ``ALIASES``: Claude Code's names (``Bash``, ``Read``, ``Write``, ``Edit``, ``MultiEdit``, ``Glob``,
  ``Grep``, ``WebFetch``, ``WebSearch``, ``TodoWrite``, ``Agent``/``Task``, ``Skill``, ``SlashCommand``,
  ``BashOutput``/``TaskOutput``, ``TaskStop``/``KillShell``/``KillBash``, ``ExitPlanMode``,
  ``AskUserQuestion``) -> canonical.
- ``RUN_TOOLS``: ``skill`` and ``slash_command``, which the run builds when it has skills or custom
  commands (``claw.runtime.extensions``); ``offers`` says whether the flags let it offer one. ``MultiEdit`` is ``edit_file``, whose
  ``edits`` input is the multi-edit form.
- ``split_tool_list`` splits ``--tools`` / ``--allowedTools`` / ``--disallowedTools`` values on commas and
  whitespace, keeping ``Bash(git status:*)`` patterns whole.
- ``resolve_tool_names`` maps names to canonical ones; an unknown name is a ``UsageError`` listing the
  valid ones. Claude Code tools claw does not have (``NotebookRead``...) are skipped with a
  warning instead, so settings and SDK options written for Claude Code keep working.
- ``build_tools`` is the set offered to the model for ``--tools`` minus bare ``--disallowedTools`` names;
  ``bash_output`` and ``kill_shell`` are offered exactly when ``bash`` is (unless disallowed by name).

Permission rules (names with patterns) are parsed by ``claw.runtime.rules``; this module only knows names.
Tool modules are imported when a tool is built, not when this module is.
"""

from __future__ import annotations

import importlib
from typing import Dict, Iterable, List, Optional, Sequence, Union

from claw.errors import UsageError

BUILTIN_NAMES = (
    "bash",
    "read_file",
    "write_file",
    "edit_file",
    "notebook_edit",
    "glob_search",
    "grep_search",
    "web_fetch",
    "web_search",
    "todo_write",
    "bash_output",
    "kill_shell",
    "agent",
    "exit_plan_mode",
    "ask_user_question",
)

ALIASES = {
    "Bash": "bash",
    "Read": "read_file",
    "Write": "write_file",
    "Edit": "edit_file",
    "MultiEdit": "edit_file",
    "NotebookEdit": "notebook_edit",
    "Glob": "glob_search",
    "Grep": "grep_search",
    "WebFetch": "web_fetch",
    "WebSearch": "web_search",
    "TodoWrite": "todo_write",
    "Skill": "skill",
    "SlashCommand": "slash_command",
    "BashOutput": "bash_output",
    "TaskOutput": "bash_output",
    "TaskStop": "kill_shell",
    "KillShell": "kill_shell",
    "KillBash": "kill_shell",
    "Agent": "agent",  # Claude Code's current name of its subagent tool (the SDK's AgentInput)
    "Task": "agent",  # its older name
    "ExitPlanMode": "exit_plan_mode",
    "AskUserQuestion": "ask_user_question",
}

# Tools the run builds itself when it has something for them (skills, custom commands), not build_tools.
RUN_TOOLS = ("skill", "slash_command")
BASH_COMPANIONS = ("bash_output", "kill_shell")  # offered exactly when bash is

# Claude Code tools with no claw counterpart: named in a list, they are skipped with a warning.
CLAUDE_CODE_ONLY = frozenset({
    "NotebookRead", "LS",
    "ListMcpResourcesTool", "ReadMcpResourceTool", "EnterPlanMode",
})

_MODULES = {
    "bash": ("claw.tools.bash", "BashTool"),
    "read_file": ("claw.tools.read_file", "ReadFileTool"),
    "write_file": ("claw.tools.write_file", "WriteFileTool"),
    "edit_file": ("claw.tools.edit_file", "EditFileTool"),
    "notebook_edit": ("claw.tools.notebook_edit", "NotebookEditTool"),
    "glob_search": ("claw.tools.glob_search", "GlobSearchTool"),
    "grep_search": ("claw.tools.grep_search", "GrepSearchTool"),
    "web_fetch": ("claw.tools.web_fetch", "WebFetchTool"),
    "web_search": ("claw.tools.web_search", "WebSearchTool"),
    "todo_write": ("claw.tools.todo_write", "TodoWriteTool"),
    "bash_output": ("claw.tools.background_shells", "BashOutputTool"),
    "kill_shell": ("claw.tools.background_shells", "KillShellTool"),
    "agent": ("claw.tools.agent", "AgentTool"),
    "exit_plan_mode": ("claw.tools.user_tools", "ExitPlanModeTool"),
    "ask_user_question": ("claw.tools.user_tools", "AskUserQuestionTool"),
}


def is_mcp_name(name: str) -> bool:
    """``mcp__server`` or ``mcp__server__tool`` (or ``mcp__server__*``)."""
    return name.startswith("mcp__") and len(name) > len("mcp__")


def canonical_tool_name(name: str) -> Optional[str]:
    """The canonical name for a canonical name or an alias; None when unknown (MCP names included)."""
    if name in _MODULES or name in RUN_TOOLS:
        return name
    return ALIASES.get(name)


def valid_names_hint(name: str = "", extra: Sequence[str] = ()) -> str:
    """The valid names (``extra``: the run's plugin manifest tools), after a did-you-mean for ``name``."""
    import difflib

    known = [*BUILTIN_NAMES, *RUN_TOOLS, *ALIASES, *extra]
    close = difflib.get_close_matches(name, known, 1) if name else []
    return (
        (f"did you mean {close[0]!r}? " if close else "")
        + "valid tools: " + ", ".join(BUILTIN_NAMES)
        + "; Claude Code names: " + ", ".join(ALIASES)
        + (f"; plugin tools: {', '.join(extra)}" if extra else "")
        + "; MCP tools as mcp__<server>__<tool>"
    )


def split_tool_list(values: Union[str, Iterable[str], None]) -> List[str]:
    """Split one or more flag values into items: commas and whitespace separate, except inside
    parentheses (``Bash(git log:*), Read`` -> ``["Bash(git log:*)", "Read"]``)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    items: List[str] = []
    for value in values:
        depth = 0
        current: List[str] = []
        for ch in value:
            if ch == "(":
                depth += 1
            elif ch == ")":
                if depth == 0:
                    raise UsageError(f"unbalanced ')' in tool list {value!r}",
                                     hint='write a rule as Tool(pattern), e.g. "Bash(git status:*)"')
                depth -= 1
            if depth == 0 and (ch == "," or ch.isspace()):
                if current:
                    items.append("".join(current))
                    current = []
                continue
            current.append(ch)
        if depth:
            raise UsageError(f"unbalanced '(' in tool list {value!r}",
                             hint='write a rule as Tool(pattern), e.g. "Bash(git status:*)"')
        if current:
            items.append("".join(current))
    return items


def resolve_tool_names(
    names: Iterable[str],
    *,
    allow_mcp: bool = False,
    warnings: Optional[List[str]] = None,
    extra: Sequence[str] = (),
) -> List[str]:
    """Canonical names for ``names`` (aliases resolved, duplicates dropped, order kept).

    ``mcp__...`` names pass through when ``allow_mcp``, and so do ``extra`` names (the run's plugin
    manifest tools, known once its plugins are loaded). Claude Code-only tools are skipped (a message is
    appended to ``warnings`` when given). Anything else raises UsageError listing the valid names.
    """
    out: List[str] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        canonical = canonical_tool_name(name)
        if canonical is None and (allow_mcp and is_mcp_name(name) or name in extra):
            canonical = name
        if canonical is None:
            if name in CLAUDE_CODE_ONLY:
                if warnings is not None:
                    warnings.append(f"tool {name!r} is a Claude Code tool that claw does not have; ignored")
                continue
            raise UsageError(f"unknown tool {name!r}", hint=valid_names_hint(name, extra))
        if canonical not in out:
            out.append(canonical)
    return out


def parse_tools_flag(value: Optional[str], *, warnings: Optional[List[str]] = None,
                     extra: Sequence[str] = ()) -> Optional[List[str]]:
    """``--tools``: None (flag absent) or ``"default"`` -> None meaning all built-ins; ``""`` -> none;
    otherwise the resolved list (``mcp__`` names included; the MCP layer may use them)."""
    if value is None:
        return None
    if value.strip() == "default":
        return None
    return resolve_tool_names(split_tool_list(value), allow_mcp=True, warnings=warnings, extra=extra)


def get_tool(name: str):
    """A new instance of the built-in tool ``name`` (canonical or alias)."""
    canonical = canonical_tool_name(name)
    if canonical is None:
        raise UsageError(f"unknown tool {name!r}", hint=valid_names_hint())
    if canonical not in _MODULES:
        raise UsageError(f"the tool {name!r} is built by the run, not on its own")
    module_name, class_name = _MODULES[canonical]
    return getattr(importlib.import_module(module_name), class_name)()


def bare_names(items: Sequence[str], *, warnings: Optional[List[str]] = None, extra: Sequence[str] = ()) -> List[str]:
    """The items without a ``(pattern)``, resolved: what ``--disallowedTools`` removes from the set."""
    names = []
    for item in items:
        if "(" in item:
            continue
        names.append(item)
    return resolve_tool_names(names, allow_mcp=True, warnings=warnings, extra=extra)


def build_tools(
    tools: Optional[str] = None,
    disallowed: Union[str, Sequence[str], None] = None,
    *,
    warnings: Optional[List[str]] = None,
    extra: Sequence[str] = (),
) -> Dict[str, object]:
    """The built-in tools offered to the model: ``--tools`` (None/"default" = all, "" = none) minus the
    bare names of ``--disallowedTools`` (``Bash(rm:*)`` patterns there are deny rules, not removals).
    ``extra``: plugin manifest tool names the flags may name too (the plugin loader adds those tools)."""
    selected = parse_tools_flag(tools, warnings=warnings, extra=extra)
    names = list(BUILTIN_NAMES) if selected is None else selected
    removed = set(bare_names(split_tool_list(disallowed), warnings=warnings, extra=extra))
    # bash_output and kill_shell come and go with bash: without it they have nothing to act on.
    if "bash" in names and "bash" not in removed:
        names = names + [n for n in BASH_COMPANIONS if n not in names]
    else:
        names = [n for n in names if n not in BASH_COMPANIONS]
    return {name: get_tool(name) for name in names if name in _MODULES and name not in removed}


def offers(name: str, tools: Optional[str], disallowed: Union[str, Sequence[str], None],
           extra: Sequence[str] = ()) -> bool:
    """Whether a run tool (``RUN_TOOLS``, or a plugin's tool of ``extra``) may be offered under ``--tools``
    and ``--disallowedTools``."""
    selected = parse_tools_flag(tools, extra=extra)
    return (selected is None or name in selected) and name not in bare_names(split_tool_list(disallowed), extra=extra)
