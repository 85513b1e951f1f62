"""Loading settings: discover the files, parse, validate each, merge, build the typed model.

``load_settings(cwd, env, settings_arg)`` is the one entry point. By default it raises the first
``error`` problem as a ``ConfigError`` (exit 2) after looking at every file; with ``strict=False``
(``claw doctor``) it never raises for a settings problem and returns every problem, building the
settings from whatever was usable. ``invalid`` entries and warnings are returned, never raised.

Claude Code's settings files (``.claude/settings.json``, ``.claude/settings.local.json``,
``~/.claude/settings.json``) are layers of their scope just below claw's own file (``claw.config.sources``),
read in Claude Code's dialect (``claw.config.claude_dialect``); everything below applies to them alike.

Folder trust: in a folder that is not trusted (``claw.config.trust``) the project files
(``project-root``, ``project``, ``local``, ``.claude/`` ones included) lose the keys ``claw.config.trust_gate`` lists, and one
warning names them; ``trust``, ``ignored`` and ``project_mcp`` on the result tell the MCP loader,
``claw status`` and ``claw doctor``. ``setting_sources`` (``--setting-sources``) restricts the files to
the named sources; naming ``project`` or ``local`` trusts the folder for the load.

The result keeps provenance: ``sources`` (files loaded, lowest precedence first) and, for every key
path, which sources set it (``origin`` / ``contributors``), for ``claw status`` and ``claw config list``.

This module prints nothing and reads no process state except through its arguments (``env`` defaults
to ``os.environ`` only when not given).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Collection, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from claw.config.keypath import KeyPath, format_key_path, parse_key_path
from claw.config.merge import merge_all
from claw.config.models import Settings
from claw.config.parsing import read_source
from claw.config.problems import ERROR, INVALID, WARNING, Problem
from claw.config.schema import clean_settings
from claw.config.sources import (FAMILY_CLAUDE, SCOPE_FLAG, SCOPE_LOCAL, SCOPE_PROJECT, SCOPE_PROJECT_ROOT,
                                 SCOPE_USER, SettingsSource, candidate_sources)

PROJECT_SCOPES = (SCOPE_PROJECT_ROOT, SCOPE_PROJECT, SCOPE_LOCAL)
# --setting-sources names (Claude Code's) -> the scopes they load; --settings (flag) always loads.
SETTING_SOURCE_SCOPES = {
    "user": (SCOPE_USER,),
    "project": (SCOPE_PROJECT_ROOT, SCOPE_PROJECT),
    "local": (SCOPE_LOCAL,),
}
MCP_JSON = ".mcp.json"
UNTRUSTED_WARNING = "this folder is not trusted"  # how the one folder-trust warning starts

KeyLike = Union[str, Sequence[Union[str, int]]]


def _as_path(key: KeyLike) -> KeyPath:
    return parse_key_path(key) if isinstance(key, str) else tuple(key)


@dataclass(frozen=True)
class LoadedSettings:
    """The merged settings, the files they came from and which file won each key."""

    settings: Settings
    sources: Tuple[SettingsSource, ...] = ()  # loaded files, lowest precedence first
    problems: Tuple[Problem, ...] = ()
    origins: Mapping[KeyPath, Tuple[int, ...]] = field(default_factory=dict, repr=False)
    # Folder trust (claw.config.trust): None when nothing in the project needed it decided.
    trust: Any = None  # TrustState
    # (file, ignored key paths as text) for each project file an untrusted folder did not fully apply
    ignored: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    # ./.mcp.json may be used: the project source is on and the folder is trusted (or it was not needed)
    project_mcp: bool = True

    @property
    def project_trusted(self) -> bool:
        """Project files may use the gated keys (``claw.config.trust_gate``)."""
        return self.trust is None or self.trust.trusted

    @property
    def raw(self) -> Mapping[str, Any]:
        """The merged settings as written (before normalisation), for display."""
        return self.settings.raw

    @property
    def errors(self) -> Tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.level == ERROR)

    @property
    def invalid_entries(self) -> Tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.level == INVALID)

    @property
    def warnings(self) -> Tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.level == WARNING)

    def contributors(self, key: KeyLike) -> Tuple[SettingsSource, ...]:
        """Every source that set ``key`` (or, for a path inside a list or a replaced-whole entry,
        its nearest tracked ancestor), lowest precedence first; () when it is not set."""
        path = _as_path(key)
        for n in range(len(path), 0, -1):
            indices = self.origins.get(path[:n])
            if indices is not None:
                if n < len(path) and not _present(self.raw, path):
                    return ()
                return tuple(self.sources[i] for i in indices)
        return ()

    def origin(self, key: KeyLike) -> SettingsSource | None:
        """The source whose value of ``key`` is in effect (the last contributor), or None."""
        found = self.contributors(key)
        return found[-1] if found else None

    def top_level_origins(self) -> dict:
        """``{top-level key: (sources...)}`` in the merged order, for ``claw status``."""
        return {key: self.contributors((key,)) for key in self.raw}

    def leaves(self) -> Iterator[Tuple[KeyPath, Any, Tuple[SettingsSource, ...]]]:
        """Every leaf of the merged settings (lists count as leaves; empty objects too) with the
        sources that set it, in document order."""

        def walk(prefix: KeyPath, value):
            if isinstance(value, dict) and value:
                for key, item in value.items():
                    yield from walk(prefix + (key,), item)
            else:
                yield prefix, value, self.contributors(prefix)

        for key, value in self.raw.items():
            yield from walk((key,), value)


def _present(data: Any, path: KeyPath) -> bool:
    for segment in path:
        if isinstance(segment, int):
            if not isinstance(data, list) or not -len(data) <= segment < len(data):
                return False
        elif not isinstance(data, dict) or segment not in data:
            return False
        data = data[segment]
    return True


def get_path(data: Any, key: KeyLike, default: Any = None) -> Any:
    """The value at ``key`` in a plain settings dict, or ``default``."""
    path = _as_path(key)
    if not _present(data, path):
        return default
    for segment in path:
        data = data[segment]
    return data


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def load_settings(
    cwd: str,
    env: Mapping[str, str] | None = None,
    settings_arg: str | None = None,
    *,
    strict: bool = True,
    only_scopes: Collection[str] | None = None,
    setting_sources: Optional[Collection[str]] = None,
) -> LoadedSettings:
    """Load the settings that apply in project directory ``cwd``.

    ``env`` supplies ``CLAW_CONFIG_HOME``/``HOME`` (default: the process environment);
    ``settings_arg`` is the ``--settings`` value (a file path or inline JSON). Raises ``ConfigError``
    for the first ``error`` problem unless ``strict`` is False. ``only_scopes`` restricts loading to
    those scopes (``claw config list --scope project``).
    """
    env = os.environ if env is None else env
    loaded: list[SettingsSource] = []
    raws: list[dict] = []
    cleans: list[dict] = []
    problems: list[Problem] = []
    allowed_scopes = _scopes_for(setting_sources)
    for source in candidate_sources(cwd, env, settings_arg):
        if only_scopes is not None and source.scope not in only_scopes:
            continue
        if allowed_scopes is not None and source.scope not in allowed_scopes:
            continue
        if source.path is not None and any(s.path and _same_file(s.path, source.path) for s in loaded):
            continue  # e.g. run in $HOME: ~/.claw/settings.json is both the user and the project file
        data, found = read_source(source)
        problems.extend(found)
        if data is None:
            continue
        if source.family == FAMILY_CLAUDE:  # Claude Code's file, read in its dialect
            from claw.config.claude_dialect import clean_claude_settings

            cleaned, found = clean_claude_settings(data, source, env.get("HOME") or None)
        else:
            cleaned, found = clean_settings(data, source, env.get("HOME") or None)
        problems.extend(found)
        loaded.append(source)
        raws.append(data)
        cleans.append(cleaned)
    project_mcp = allowed_scopes is None or SCOPE_PROJECT in allowed_scopes
    trust, ignored, project_mcp = _apply_trust(cwd, env, setting_sources, loaded, raws, cleans, problems,
                                               project_mcp, strict)
    raw, origins = merge_all(raws)
    clean, _ = merge_all(cleans)
    problems = list(dict.fromkeys(problems))
    result = LoadedSettings(
        settings=Settings.from_clean(clean, raw),
        sources=tuple(loaded),
        problems=tuple(problems),
        origins={path: tuple(indices) for path, indices in origins.items()},
        trust=trust,
        ignored=ignored,
        project_mcp=project_mcp,
    )
    if strict:
        errors = result.errors
        if errors:
            error = errors[0].to_error()
            if len(errors) > 1:
                more = f"{len(errors) - 1} more settings problem{'s' if len(errors) > 2 else ''}: run 'claw doctor'"
                error.hint = f"{error.hint}; {more}" if error.hint else more
            raise error
    return result


def _scopes_for(setting_sources: Optional[Collection[str]]) -> Optional[Tuple[str, ...]]:
    """The scopes ``--setting-sources`` loads (None: all). Raises UsageError for an unknown name."""
    if setting_sources is None:
        return None
    scopes: List[str] = [SCOPE_FLAG]
    for name in setting_sources:
        if name not in SETTING_SOURCE_SCOPES:
            from claw.errors import UsageError

            raise UsageError(f"claw: --setting-sources: unknown source {name!r}",
                             hint="valid sources: " + ", ".join(SETTING_SOURCE_SCOPES) + " (comma-separated; "
                             "\"\" loads no settings files)")
        scopes.extend(SETTING_SOURCE_SCOPES[name])
    return tuple(scopes)


def _baseline_mode(loaded: Sequence[SettingsSource], cleans: Sequence[dict]) -> Optional[str]:
    """The permission mode the user and --settings files give, without the project's (None: unset)."""
    mode: Optional[str] = None
    for source, data in zip(loaded, cleans):
        if source.scope in PROJECT_SCOPES:
            continue
        perms = data.get("permissions", False)
        if perms is None:
            mode = None
        elif isinstance(perms, dict) and "defaultMode" in perms:
            mode = perms["defaultMode"]
    return mode


def _apply_trust(cwd: str, env: Mapping[str, str], setting_sources: Optional[Collection[str]],
                 loaded: List[SettingsSource], raws: List[dict], cleans: List[dict], problems: List[Problem],
                 project_mcp: bool, strict: bool):
    """Drop what an untrusted folder's project files may not set (``claw.config.trust_gate``), in place;
    add one warning naming it. Returns (TrustState or None, ignored, project_mcp)."""
    mcp_json = os.path.join(os.path.abspath(cwd), MCP_JSON)
    has_mcp_json = project_mcp and os.path.isfile(mcp_json)
    if not has_mcp_json and not any(source.scope in PROJECT_SCOPES for source in loaded):
        return None, (), project_mcp  # no project file: nothing to gate, nothing more to import
    from claw.config.trust_gate import gate

    baseline = _baseline_mode(loaded, cleans)
    pending = []
    for i, source in enumerate(loaded):
        if source.scope not in PROJECT_SCOPES:
            continue
        clean, dropped = gate(cleans[i], baseline)
        raw, _ = gate(raws[i], baseline)
        if dropped:
            pending.append((i, clean, raw, dropped))
    if not pending and not has_mcp_json:
        return None, (), project_mcp
    from claw.config.trust import HOW_TO_TRUST, TrustState, trust_state
    from claw.errors import ConfigError

    explicit = setting_sources is not None and bool({"project", "local"} & set(setting_sources))
    try:
        trust = trust_state(cwd, env, explicit_project=explicit)
    except ConfigError as exc:
        if strict:
            raise
        problems.append(Problem(ERROR, exc.message, exc.hint))
        trust = TrustState(os.path.realpath(cwd), False, "none", "not trusted (the trust store is not valid)")
    if trust.trusted:
        return trust, (), project_mcp
    ignored = []
    for i, clean, raw, dropped in pending:
        cleans[i], raws[i] = clean, raw
        ignored.append((loaded[i].name, tuple(format_key_path(p) for p in dropped)))
    if has_mcp_json:
        ignored.append((mcp_json, ("mcpServers",)))
    parts = "; ".join(f"{', '.join(keys)} in {name}" for name, keys in ignored)
    problems.append(Problem(
        WARNING,
        f"{UNTRUSTED_WARNING}, so its settings that can run code or redirect credentials are "
        f"ignored: {parts}; to apply them, {HOW_TO_TRUST}",
        HOW_TO_TRUST,
    ))
    return trust, tuple(ignored), False


def format_source_list(loaded: LoadedSettings) -> list[str]:
    """``["user: /home/me/.claw/settings.json", ...]``, lowest precedence first."""
    return [source.describe() for source in loaded.sources]


__all__ = ["LoadedSettings", "load_settings", "get_path", "format_key_path", "format_source_list"]
