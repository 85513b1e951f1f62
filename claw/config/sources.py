"""Where settings come from: the candidate files in precedence order, and the config home.

Order (later wins): ``$CLAUDE_CONFIG_DIR/settings.json`` (default ``~/.claude``) then
``$CLAW_CONFIG_HOME/settings.{toml,json}`` (scope ``user``), ``./.claw.json`` (``project-root``),
``./.claude/settings.json`` then ``./.claw/settings.{toml,json}`` (``project``),
``./.claude/settings.local.json`` then ``./.claw/settings.local.{toml,json}`` (``local``), then
``--settings FILE|JSON`` (``flag``). Claude Code's files (``family == "claude"``) are layers just below
claw's own file of the same scope, so claw's file wins a key both set. Within one location the TOML twin
is read first and the JSON twin second, so JSON wins a key both set: ``claw config set`` writes JSON, and
its changes must take effect. "./" is the project directory, which callers pass in; nothing here reads the process's
working directory or environment on its own.

This module only names files; it neither reads nor parses them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

SCOPE_USER = "user"
SCOPE_PROJECT_ROOT = "project-root"
SCOPE_PROJECT = "project"
SCOPE_LOCAL = "local"
SCOPE_FLAG = "flag"
SCOPES = (SCOPE_USER, SCOPE_PROJECT_ROOT, SCOPE_PROJECT, SCOPE_LOCAL, SCOPE_FLAG)

FAMILY_CLAW = "claw"
FAMILY_CLAUDE = "claude"  # Claude Code's .claude/settings*.json and ~/.claude/settings.json

# Scopes that `claw config set` can write (each to its JSON file).
WRITABLE_SCOPES = (SCOPE_USER, SCOPE_PROJECT, SCOPE_LOCAL)


@dataclass(frozen=True)
class SettingsSource:
    """One settings file (or the inline ``--settings`` JSON), as a place in the precedence order."""

    scope: str
    path: str | None  # absolute path; None for inline JSON given to --settings
    format: str  # "json" | "toml"
    base_dir: str  # relative paths written in this source resolve against this directory
    inline_text: str | None = field(default=None, repr=False, compare=False)
    family: str = FAMILY_CLAW  # FAMILY_CLAUDE: a Claude Code settings file, read in its dialect

    @property
    def label(self) -> str:
        """The scope, marked for a Claude Code file: ``project``, ``project (.claude)``."""
        return self.scope if self.family == FAMILY_CLAW else f"{self.scope} (.claude)"

    @property
    def name(self) -> str:
        """What messages call this source: the file path, or ``--settings (inline JSON)``."""
        return self.path if self.path is not None else "--settings (inline JSON)"

    def describe(self) -> str:
        return f"{self.scope}: {self.name}"


def expand_user(text: str, env: Mapping[str, str]) -> str:
    """``~`` and ``~/x`` against ``env["HOME"]`` when set; anything else as the OS expands it."""
    home = env.get("HOME")
    if home and (text == "~" or text.startswith("~/")):
        return home + text[1:]
    return os.path.expanduser(text)


def config_home(env: Mapping[str, str], cwd: str) -> str:
    """``$CLAW_CONFIG_HOME`` (empty means unset; relative is taken from ``cwd``), else ``~/.claw``."""
    value = env.get("CLAW_CONFIG_HOME") or ""
    if value:
        return os.path.normpath(os.path.join(cwd, expand_user(value, env)))
    return os.path.join(expand_user("~", env), ".claw")


def claude_home(env: Mapping[str, str], cwd: str) -> str:
    """Claude Code's user directory: ``$CLAUDE_CONFIG_DIR`` (empty means unset; relative is taken from
    ``cwd``), else ``~/.claude``."""
    value = env.get("CLAUDE_CONFIG_DIR") or ""
    if value:
        return os.path.normpath(os.path.join(cwd, expand_user(value, env)))
    return os.path.join(expand_user("~", env), ".claude")


def _claude(scope: str, path: str, base_dir: str) -> SettingsSource:
    return SettingsSource(scope, path, "json", base_dir, family=FAMILY_CLAUDE)


def _twins(scope: str, stem: str, base_dir: str) -> list[SettingsSource]:
    return [
        SettingsSource(scope, stem + ".toml", "toml", base_dir),
        SettingsSource(scope, stem + ".json", "json", base_dir),
    ]


def scope_file(scope: str, cwd: str, env: Mapping[str, str], fmt: str = "json") -> str:
    """The file ``claw config --scope SCOPE`` reads and writes (JSON unless ``fmt='toml'``)."""
    cwd = os.path.abspath(cwd)
    if scope == SCOPE_USER:
        stem = os.path.join(config_home(env, cwd), "settings")
    elif scope == SCOPE_PROJECT:
        stem = os.path.join(cwd, ".claw", "settings")
    elif scope == SCOPE_LOCAL:
        stem = os.path.join(cwd, ".claw", "settings.local")
    else:
        raise ValueError(f"not a writable scope: {scope!r}")
    return f"{stem}.{fmt}"


def flag_source(value: str, cwd: str, env: Mapping[str, str] | None = None) -> SettingsSource:
    """The source for ``--settings VALUE``: inline JSON when it starts with ``{``, else a file path
    (TOML when it ends in ``.toml``, JSON otherwise)."""
    cwd = os.path.abspath(cwd)
    if value.lstrip().startswith("{"):
        return SettingsSource(SCOPE_FLAG, None, "json", cwd, inline_text=value)
    path = os.path.normpath(os.path.join(cwd, expand_user(value, env or {})))
    fmt = "toml" if path.lower().endswith(".toml") else "json"
    return SettingsSource(SCOPE_FLAG, path, fmt, cwd)


def candidate_sources(
    cwd: str, env: Mapping[str, str], settings_arg: str | None = None
) -> list[SettingsSource]:
    """Every place settings may come from, lowest precedence first (files may not exist)."""
    cwd = os.path.abspath(cwd)
    home = config_home(env, cwd)
    claude = claude_home(env, cwd)
    out = [_claude(SCOPE_USER, os.path.join(claude, "settings.json"), claude)]
    out += _twins(SCOPE_USER, os.path.join(home, "settings"), home)
    out.append(SettingsSource(SCOPE_PROJECT_ROOT, os.path.join(cwd, ".claw.json"), "json", cwd))
    out.append(_claude(SCOPE_PROJECT, os.path.join(cwd, ".claude", "settings.json"), cwd))
    out += _twins(SCOPE_PROJECT, os.path.join(cwd, ".claw", "settings"), cwd)
    out.append(_claude(SCOPE_LOCAL, os.path.join(cwd, ".claude", "settings.local.json"), cwd))
    out += _twins(SCOPE_LOCAL, os.path.join(cwd, ".claw", "settings.local"), cwd)
    if settings_arg is not None:
        out.append(flag_source(settings_arg, cwd, env))
    return out
