"""Reading a Claude Code settings file (``.claude/settings*.json``, ``~/.claude/settings.json``) in
claw's schema, without failing on what Claude Code has and claw does not.

Claude Code's files carry many keys claw has no use for (``includeCoAuthoredBy``, ``outputStyle``,
``cleanupPeriodDays``...), hook events and hook types claw does not run, and values claw reads
differently. ``clean_claude_settings`` validates the file with ``claw.config.schema`` and then:

- a top-level key of Claude Code's schema (``CLAUDE_CODE_KEYS``) that claw does not use is accepted
  silently;
- every other unknown key, hook entry of a type other than ``command`` (``prompt``...) and value claw
  cannot use is left out, and the file gets ONE warning naming them all (not one per key: these files
  are not claw's, and a warning on every run per key would be noise);
- except under ``permissions``: a deny or ask rule, or a mode, claw cannot read stays an ``error`` (the
  run stops with the file and key named) so that a rule written to protect the user is never dropped
  in silence. A file that does not parse is an error too, as for claw's own files.

What folder trust removes from a project's file, and how the layers merge, is the loader's business;
this module only adapts one file's problems. Pure: dicts in, dicts out.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from claw.config.keypath import format_key_path
from claw.config.problems import ERROR, WARNING, Problem
from claw.config.schema import HOOK_TYPES, clean_settings
from claw.config.sources import SettingsSource

# Top-level keys of Claude Code's settings files that claw accepts without a word (it uses some of them,
# e.g. permissions, env, hooks, model, apiKeyHelper; the others have no meaning in claw).
CLAUDE_CODE_KEYS = frozenset({
    "$schema", "apiKeyHelper", "awsAuthRefresh", "awsCredentialExport", "cleanupPeriodDays",
    "companyAnnouncements", "env", "includeCoAuthoredBy", "includeGitInstructions", "attribution",
    "permissions", "hooks", "disableAllHooks", "allowManagedHooksOnly", "allowManagedPermissionRulesOnly",
    "model", "availableModels", "effortLevel", "alwaysThinkingEnabled", "otelHeadersHelper", "statusLine",
    "subagentStatusLine", "fileSuggestion", "respectGitignore", "outputStyle", "forceLoginMethod",
    "forceLoginOrgUUID", "enableAllProjectMcpServers", "enabledMcpjsonServers", "disabledMcpjsonServers",
    "allowedMcpServers", "deniedMcpServers", "mcpServers", "enabledPlugins", "extraKnownMarketplaces",
    "strictKnownMarketplaces", "sandbox", "spinnerTipsEnabled", "spinnerTipsOverride", "spinnerVerbs",
    "terminalProgressBarEnabled", "showTurnDuration", "language", "theme", "editorMode", "verbose",
    "autoUpdatesChannel", "feedbackSurveyRate", "plansDirectory", "prefersReducedMotion",
    "skipWebFetchPreflight", "autoCompactEnabled", "preferredNotifChannel", "fallbackModel", "agent",
})
HINT = ("claw reads the Claude Code settings it shares (permissions, env, hooks, model, apiKeyHelper...); "
        "see docs/CLAUDE-CODE.md")


def _drop_other_hook_types(data: dict) -> Tuple[dict, List[str]]:
    """``data`` without hook commands of a type claw does not run (Claude Code's ``prompt``...), and
    their key paths. ``data`` itself is not changed."""
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return data, []
    dropped: List[str] = []
    new_hooks: dict = {}
    for event, matchers in hooks.items():
        if not isinstance(matchers, list):
            new_hooks[event] = matchers
            continue
        kept_matchers = []
        for i, matcher in enumerate(matchers):
            entries = matcher.get("hooks") if isinstance(matcher, dict) else None
            if not isinstance(entries, list):
                kept_matchers.append(matcher)
                continue
            kept = []
            for j, entry in enumerate(entries):
                kind = entry.get("type") if isinstance(entry, dict) else None
                if isinstance(kind, str) and kind not in HOOK_TYPES:
                    dropped.append(f"{format_key_path(('hooks', event, i, 'hooks', j))} (type {kind!r})")
                else:
                    kept.append(entry)
            if kept:
                kept_matchers.append(dict(matcher, hooks=kept))
        new_hooks[event] = kept_matchers
    if not dropped:
        return data, []
    return dict(data, hooks=new_hooks), dropped


def _under_permissions(problem: Problem) -> bool:
    return bool(problem.key_path) and problem.key_path[0] == "permissions"


def clean_claude_settings(data: dict, source: SettingsSource,
                          home: Optional[str] = None) -> Tuple[dict, List[Problem]]:
    """``clean_settings`` for a Claude Code file: (cleaned object, problems), see the module docstring."""
    data, ignored = _drop_other_hook_types(data)
    cleaned, found = clean_settings(data, source, home)
    problems: List[Problem] = []
    for problem in found:
        path: Any = problem.key_path
        if problem.level == WARNING and path and len(path) == 1 and path[0] in CLAUDE_CODE_KEYS:
            continue  # a Claude Code key claw has no use for
        if problem.level == WARNING or (problem.level == ERROR and not _under_permissions(problem)):
            ignored.append(format_key_path(path) if path else problem.message)
            continue
        problems.append(problem)
    if ignored:
        problems.append(Problem(
            WARNING,
            f"{source.name}: Claude Code settings claw does not use (ignored): {', '.join(dict.fromkeys(ignored))}",
            HINT, source))
    return cleaned, problems
