"""Hooks settings as the runtime uses them: events, matchers, and the list of hooks per event.

``parse_hooks_config`` reads the settings ``hooks`` value (Claude Code shape: an event maps to matcher
groups ``[{"matcher": "Bash|Write", "hooks": [{"type": "command", "command": "...", "timeout": 60}]}]``)
into ``HookSpec``s per event; ``matcher_matches`` and ``tool_names_for_matching`` say which hooks a tool
or an event value selects (tool names compared through claw.tools.registry's alias table).

It deliberately does not run anything (claw.runtime.hooks does) nor read what a hook answered
(claw.runtime.hook_verdicts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from claw.config.schema import HOOK_EVENTS
from claw.tools.registry import ALIASES, canonical_tool_name  # SubagentStop is accepted there but never fires here

TOOL_EVENTS = frozenset({"PreToolUse", "PostToolUse", "PostToolUseFailure"})
# Events where exit code 2 / "decision": "block" means something (see HookOutcome.blocked).
BLOCKING_EVENTS = frozenset({"PreToolUse", "PostToolUse", "PostToolUseFailure", "UserPromptSubmit", "Stop"})
# Events whose plain (non-JSON) stdout becomes context for the model, as in Claude Code.
STDOUT_CONTEXT_EVENTS = frozenset({"UserPromptSubmit", "SessionStart"})
# What the matcher is compared with, for events that are not about a tool.
MATCH_FIELDS = {"SessionStart": "source", "SessionEnd": "reason", "PreCompact": "trigger", "Notification": "notification_type"}

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

    @property
    def label(self) -> str:
        if self.type == "callback":
            return f"callback {self.callback_id}"
        text = " ".join((self.command or "").split())
        return text if len(text) <= 60 else text[:59] + "…"


@dataclass(frozen=True)
class HooksConfig:
    """Parsed ``hooks`` settings: specs per event, plus what could not be used (as warnings)."""

    by_event: Mapping[str, Tuple[HookSpec, ...]]
    warnings: Tuple[str, ...] = ()

    def for_event(self, event: str) -> Tuple[HookSpec, ...]:
        return tuple(self.by_event.get(event, ()))


def _parse_timeout(value: Any, where: str, warnings: List[str]) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        warnings.append(f"{where}: timeout must be a positive number of seconds; using {DEFAULT_TIMEOUT:g}")
        return DEFAULT_TIMEOUT
    return float(value)


def _as_group_mapping(group: Any) -> Any:
    """Accept the typed settings model (``claw.config.models.HookMatcher`` with ``HookCommand``
    items) as well as the raw JSON shape."""
    if isinstance(group, Mapping) or not hasattr(group, "hooks"):
        return group
    hooks = []
    for hook in getattr(group, "hooks", ()) or ():
        if isinstance(hook, Mapping):
            hooks.append(hook)
        else:
            item = {"type": getattr(hook, "type", "command") or "command", "command": getattr(hook, "command", None)}
            if getattr(hook, "timeout", None) is not None:
                item["timeout"] = hook.timeout
            if getattr(hook, "callback_id", None):
                item["callback_id"] = hook.callback_id
            hooks.append(item)
    return {"matcher": getattr(group, "matcher", "") or "", "hooks": hooks}


def parse_hooks_config(raw: Any) -> HooksConfig:
    """Read the settings ``hooks`` value (Claude Code shape). Never raises: unusable parts are
    skipped and listed in ``warnings``. Matchers that are not valid regexes are reported and never
    match."""
    warnings: List[str] = []
    by_event: Dict[str, List[HookSpec]] = {}
    if raw is None:
        return HooksConfig({}, ())
    if isinstance(raw, HooksConfig):
        return raw
    if not isinstance(raw, Mapping):
        return HooksConfig({}, ("hooks: expected an object mapping event names to matcher lists",))
    for event, groups in raw.items():
        if event not in HOOK_EVENTS:
            warnings.append(f"hooks: unknown event {event!r} ignored (known: {', '.join(HOOK_EVENTS)})")
            continue
        if groups is None:
            continue
        if not isinstance(groups, (list, tuple)):
            warnings.append(f"hooks.{event}: expected a list of matcher groups")
            continue
        specs = by_event.setdefault(event, [])
        for gi, group in enumerate(groups):
            where = f"hooks.{event}[{gi}]"
            group = _as_group_mapping(group)
            if not isinstance(group, Mapping):
                warnings.append(f"{where}: expected an object with 'matcher' and 'hooks'")
                continue
            matcher = group.get("matcher")
            if matcher is None:
                matcher = ""
            if not isinstance(matcher, str):
                warnings.append(f"{where}: matcher must be a string")
                continue
            matcher = matcher.strip()
            if matcher not in ("", "*") and not _EXACT_MATCHER.match(matcher):
                try:
                    re.compile(matcher)
                except re.error as exc:
                    warnings.append(f"{where}: matcher {matcher!r} is not a valid regex ({exc}); it matches nothing")
            group_timeout = group.get("timeout")
            for cid in group.get("hookCallbackIds") or ():  # the SDK's initialize form
                if isinstance(cid, str):
                    specs.append(HookSpec(event, matcher, "callback", callback_id=cid,
                                          timeout=_parse_timeout(group_timeout, where, warnings)))
            hooks = group.get("hooks")
            if hooks is None and group.get("hookCallbackIds"):
                continue
            if not isinstance(hooks, (list, tuple)):
                warnings.append(f"{where}: 'hooks' must be a list")
                continue
            for hi, hook in enumerate(hooks):
                hwhere = f"{where}.hooks[{hi}]"
                if not isinstance(hook, Mapping):
                    warnings.append(f"{hwhere}: expected an object")
                    continue
                kind = hook.get("type", "command")
                timeout = _parse_timeout(hook.get("timeout", group_timeout), hwhere, warnings)
                if kind == "command":
                    command = hook.get("command")
                    if not isinstance(command, str) or not command.strip():
                        warnings.append(f"{hwhere}: a command hook needs a non-empty 'command'")
                        continue
                    specs.append(HookSpec(event, matcher, "command", command=command, timeout=timeout))
                elif kind == "callback":
                    cid = hook.get("callback_id") or hook.get("callbackId")
                    if not isinstance(cid, str) or not cid:
                        warnings.append(f"{hwhere}: a callback hook needs a 'callback_id'")
                        continue
                    specs.append(HookSpec(event, matcher, "callback", callback_id=cid, timeout=timeout))
                else:
                    warnings.append(f"{hwhere}: hook type {kind!r} is not supported (command, callback); ignored")
    return HooksConfig({e: tuple(s) for e, s in by_event.items() if s}, tuple(warnings))


def combine_hooks_configs(*configs: Any) -> Dict[str, list]:
    """Concatenate raw ``hooks`` values (settings, then SDK-registered callbacks), per event."""
    out: Dict[str, list] = {}
    for config in configs:
        if isinstance(config, Mapping):
            for event, groups in config.items():
                if isinstance(groups, list):
                    out.setdefault(event, []).extend(groups)
    return out


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
