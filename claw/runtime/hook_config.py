"""Hooks settings as the runtime uses them: events, matchers, and the list of hooks per event.

``HooksConfig.from_settings`` turns the settings ``hooks`` value, validated and typed once by claw.config
(Claude Code shape: an event maps to matcher groups ``[{"matcher": "Bash|Write", "hooks": [{"type":
"command", "command": "...", "timeout": 60}]}]``), into ``HookSpec``s per event; ``plus`` adds the
callback hooks of a stream-json host. ``matcher_matches`` and ``tool_names_for_matching`` say which hooks
a tool or an event value selects (tool names compared through claw.tools.registry's alias table).

It deliberately does not validate settings again (claw.config.schema did), run anything
(claw.runtime.hooks does) or read what a hook answered (claw.runtime.hook_verdicts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, Iterable, Mapping, Optional, Sequence, Tuple

from claw.tools.registry import ALIASES, canonical_tool_name

if TYPE_CHECKING:
    from claw.config.models import HookMatcher

TOOL_EVENTS = frozenset({"PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest"})
# Events where exit code 2 / "decision": "block" means something (see HookOutcome.blocked).
BLOCKING_EVENTS = frozenset({"PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest",
                             "UserPromptSubmit", "Stop", "SubagentStop"})
# Events whose plain (non-JSON) stdout becomes context for the model, as in Claude Code.
STDOUT_CONTEXT_EVENTS = frozenset({"UserPromptSubmit", "SessionStart"})
# What the matcher is compared with, for events that are not about a tool.
MATCH_FIELDS = {"SessionStart": "source", "SessionEnd": "reason", "PreCompact": "trigger", "Notification": "notification_type",
                "SubagentStart": "agent_type", "SubagentStop": "agent_type"}

DEFAULT_TIMEOUT = 60.0

# canonical tool name -> the Claude Code names users write in matchers (see docs/HOOKS.md).
CLAUDE_CODE_TOOL_NAMES: Dict[str, Tuple[str, ...]] = {}
for _alias, _name in ALIASES.items():
    CLAUDE_CODE_TOOL_NAMES[_name] = CLAUDE_CODE_TOOL_NAMES.get(_name, ()) + (_alias,)
_EXACT_MATCHER = re.compile(r"^[A-Za-z0-9_\-|, ]+$")


def tool_names_for_matching(name: str) -> Tuple[str, ...]:
    """Every name a tool answers to in a matcher: canonical first, then its Claude Code names."""
    canonical = canonical_tool_name(name) or name
    return (canonical,) + CLAUDE_CODE_TOOL_NAMES.get(canonical, ())


@dataclass(frozen=True)
class HookSpec:
    """One configured hook."""

    event: str
    matcher: str  # "" matches everything
    type: str  # "command" | "callback"
    command: Optional[str] = None
    callback_id: Optional[str] = None
    timeout: float = DEFAULT_TIMEOUT
    plugin_root: Optional[str] = None  # a plugin's hook: its directory, in the hook's environment

    @property
    def label(self) -> str:
        if self.type == "callback":
            return f"callback {self.callback_id}"
        text = " ".join((self.command or "").split())
        return text if len(text) <= 60 else text[:59] + "…"


@dataclass(frozen=True)
class HooksConfig:
    """The hooks of a run: specs per event, in the order they run (settings first, then callbacks)."""

    by_event: Mapping[str, Tuple[HookSpec, ...]] = field(default_factory=dict)

    def for_event(self, event: str) -> Tuple[HookSpec, ...]:
        return tuple(self.by_event.get(event, ()))

    @classmethod
    def from_settings(cls, hooks: Optional[Mapping[str, Optional[Sequence[HookMatcher]]]]) -> "HooksConfig":
        """The settings ``hooks`` value, as claw.config validated and typed it (known events, matchers
        that compile, non-empty commands, positive timeouts): converted, not checked again."""
        by_event: Dict[str, Tuple[HookSpec, ...]] = {}
        for event, matchers in (hooks or {}).items():
            specs = tuple(
                HookSpec(event, group.matcher.strip(), "command", command=hook.command,
                         timeout=DEFAULT_TIMEOUT if hook.timeout is None else float(hook.timeout),
                         plugin_root=hook.plugin_root)
                for group in matchers or ()
                for hook in group.hooks
            )
            if specs:
                by_event[event] = specs
        return cls(by_event)

    def plus(self, specs: Iterable[HookSpec]) -> "HooksConfig":
        """These hooks and then ``specs`` (the callback hooks a stream-json host registers)."""
        by_event = {event: list(found) for event, found in self.by_event.items()}
        for spec in specs:
            by_event.setdefault(spec.event, []).append(spec)
        return HooksConfig({event: tuple(found) for event, found in by_event.items() if found})


def matcher_matches(matcher: str, candidates: Sequence[str]) -> bool:
    """Claude Code's rules: ``""``/``"*"`` match all; a value of only letters, digits, ``_``, ``-``,
    spaces, ``|`` and ``,`` is a list of exact names; anything else is a regex searched (unanchored)
    in each candidate. Tool names are compared through the alias table, so ``Bash`` and ``bash``
    are the same tool."""
    if matcher in ("", "*"):
        return True
    if not candidates:
        return False
    if _EXACT_MATCHER.match(matcher):
        wanted = {canonical_tool_name(part.strip()) or part.strip() for part in re.split(r"[|,]", matcher)
                  if part.strip()}
        return any((canonical_tool_name(c) or c) in wanted for c in candidates)
    try:
        pattern = re.compile(matcher)
    except re.error:
        return False
    return any(pattern.search(c) for c in candidates)
