"""Which MCP servers a run has: entries gathered from every config source, expanded and typed.

Sources, lowest precedence first (a later entry with the same name replaces an earlier one as a
whole; ``null`` removes it):

1. user settings (``$CLAW_CONFIG_HOME/settings.{toml,json}``),
2. ``./.mcp.json`` (Claude Code's project file: ``{"mcpServers": {...}}``),
3. the project's settings files (``./.claw.json``, ``./.claw/settings*``) and ``--settings``,
4. each ``--mcp-config`` value in order (a file, or inline JSON starting with ``{``).

With ``--strict-mcp-config`` only (4) counts. In a folder that is not trusted (``claw.config.trust``),
or when ``--setting-sources`` leaves the project out, (2) and the project's settings servers are
skipped (the ``LoadedSettings`` says so: ``project_mcp``, ``project_trusted``). This mirrors Claude Code, where a project's
``.mcp.json`` overrides user servers and local ones override the project's.

Each entry is expanded (``claw.mcp.expand``, against the effective environment) and then validated
with the settings schema (``claw.config.schema.clean_mcp_servers``), so ``${URL}`` can stand for a
whole URL. Type aliases other tools write are accepted: ``streamable-http``/``streamableHttp`` mean
``http``, ``websocket`` means ``ws``. An entry that cannot be used — a broken field, an unset
``${VAR}`` — is kept as a ``ServerEntry`` with ``error`` set, so it is reported ("failed") instead
of silently missing. Entries of type ``sdk`` (servers inside an embedding SDK host) are not ours:
their names are listed in ``sdk_servers`` and nothing else is done with them.

``dynamic_entry(name, raw, ...)`` makes the entry of a server an embedding host adds while the run
lives (scope ``dynamic``), through the same expansion and validation.

An unreadable ``--mcp-config`` is a ``UsageError`` (the user typed it); a broken ``.mcp.json`` is a
problem in the result, never an exception: a bad project file must not stop claw.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from claw.errors import UsageError

SCOPE_MCP_JSON = "mcp.json"
SCOPE_MCP_CONFIG = "mcp-config"
SCOPE_DYNAMIC = "dynamic"  # added while the run lives (the SDK's mcp_set_servers)
MCP_JSON = ".mcp.json"

TYPE_ALIASES = {
    "streamable-http": "http",
    "streamable_http": "http",
    "streamableHttp": "http",
    "streamablehttp": "http",
    "http-stream": "http",
    "websocket": "ws",
    "WebSocket": "ws",
}


@dataclass(frozen=True)
class ServerEntry:
    """One configured server: where it was written, and its typed, expanded config (``None`` when
    ``error`` says why it cannot be used)."""

    name: str
    scope: str  # user | project-root | project | local | flag | mcp.json | mcp-config
    source: str  # the file, or "--mcp-config (inline JSON)"
    config: Any = None  # claw.config.models.McpServerConfig
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)  # as written, unexpanded
    error: Optional[str] = None
    hint: Optional[str] = None

    @property
    def origin(self) -> str:
        """Where it is configured, for people: ``user: FILE``, ``from plugin cc-demo: FILE``."""
        if self.scope == "plugin":  # named plugin:NAME:server
            return f"from plugin {self.name.split(':')[1]}: {self.source}"
        return f"{self.scope}: {self.source}"

    @property
    def transport(self) -> str:
        if self.config is not None:
            return self.config.transport
        kind = self.raw.get("type") if isinstance(self.raw, Mapping) else None
        if isinstance(kind, str):
            return TYPE_ALIASES.get(kind, kind)
        return "stdio" if isinstance(self.raw, Mapping) and "command" in self.raw else "?"

    @property
    def target(self) -> str:
        """What it runs or where it connects, as written (``${VAR}`` unexpanded, so no secret that
        only the environment holds is shown)."""
        raw = self.raw if isinstance(self.raw, Mapping) else {}
        if "command" in raw:
            args = raw.get("args") if isinstance(raw.get("args"), list) else []
            return " ".join(str(part) for part in [raw.get("command")] + list(args))
        return str(raw.get("url", ""))


@dataclass
class McpConfig:
    """The MCP servers configured for a run, and warnings about the files they came from."""

    servers: Dict[str, ServerEntry] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)  # one-line messages (unknown keys, bad files)
    sdk_servers: List[str] = field(default_factory=list)  # "type": "sdk" entries, left to the SDK host


def load_mcp_config(
    cwd: str,
    env: Mapping[str, str],
    *,
    loaded: Any = None,
    settings_arg: Optional[str] = None,
    mcp_config: Sequence[str] = (),
    strict: bool = False,
) -> McpConfig:
    """The servers that apply in project directory ``cwd`` (see the module docstring).

    ``loaded`` is the run's ``LoadedSettings`` (loaded here, leniently, when None); ``env`` the
    effective environment used for ``${VAR}`` expansion and ``~``. Raises ``UsageError`` for an
    unreadable ``--mcp-config``.
    """
    from claw.config.sources import SCOPE_USER, SettingsSource

    cwd = os.path.abspath(cwd)
    result = McpConfig()
    layers: List[Tuple[Any, Any, bool]] = []  # (source, mcpServers value, report warnings)
    if not strict:
        if loaded is None:
            from claw.config.loader import load_settings

            loaded = load_settings(cwd, env, settings_arg, strict=False)
        from claw.config.loader import PROJECT_SCOPES

        project_file = SettingsSource(SCOPE_MCP_JSON, os.path.join(cwd, MCP_JSON), "json", cwd)
        # folder trust / --setting-sources: an untrusted project's servers are not started (the
        # settings loader already warned about them)
        use_mcp_json = getattr(loaded, "project_mcp", True)
        project_trusted = getattr(loaded, "project_trusted", True)
        placed = False
        for source in loaded.sources:
            if not placed and source.scope != SCOPE_USER:
                if use_mcp_json:
                    layers.append(_project_layer(project_file, result))
                placed = True
            if source.scope in PROJECT_SCOPES and not project_trusted:
                continue
            layers.append((source, _settings_servers(source), False))
        if not placed and use_mcp_json:
            layers.append(_project_layer(project_file, result))
    for value in mcp_config:
        layers.append(_flag_layer(value, cwd, env))
    for source, servers, report in layers:
        if servers is None:
            continue
        if not isinstance(servers, dict):
            result.warnings.append(f"{source.name}: \"mcpServers\" must be an object of servers by name; ignored")
            continue
        for name, raw in servers.items():
            _add_entry(result, str(name), raw, source, env, report)
    return result


def dynamic_entry(name: str, raw: Any, cwd: str, env: Mapping[str, str]) -> Tuple[Optional[ServerEntry], List[str]]:
    """One server a host adds while the run lives (scope ``dynamic``): expanded and validated like a
    ``--mcp-config`` entry; ``(entry, warnings)``, entry None for a ``"type": "sdk"`` one (the host's)."""
    from claw.config.sources import SettingsSource

    source = SettingsSource(SCOPE_DYNAMIC, "mcp_set_servers", "json", os.path.abspath(cwd), inline_text="{}")
    result = McpConfig()
    _add_entry(result, name, raw, source, env, True)
    return result.servers.get(name), result.warnings


def add_plugin_servers(config: McpConfig, servers: Sequence[Any], env: Mapping[str, str]) -> None:
    """Add the servers of the run's plugins (``(name, entry, manifest path)``, scope ``plugin``); a
    name already configured keeps its entry and a warning says so."""
    from claw.config.sources import SettingsSource

    for name, raw, where in servers:
        if name in config.servers:
            config.warnings.append(f"{where}: the MCP server {name!r} is already configured in "
                                   f"{config.servers[name].source}; the plugin's is not used")
            continue
        source = SettingsSource("plugin", where, "json", os.path.dirname(where))
        _add_entry(config, name, raw, source, env, True)


def _settings_servers(source: Any) -> Any:
    from claw.config.parsing import read_source

    data, _ = read_source(source)  # problems were reported when the settings were loaded
    return data.get("mcpServers") if isinstance(data, dict) else None


def _project_layer(source: Any, result: McpConfig) -> Tuple[Any, Any, bool]:
    from claw.config.parsing import read_source
    from claw.config.problems import ERROR

    data, problems = read_source(source)
    for problem in problems:
        suffix = "; its MCP servers are not used" if problem.level == ERROR else ""
        result.warnings.append(f"{problem.message}{suffix}")
    if data is None:
        return source, None, True
    if "mcpServers" not in data:
        result.warnings.append(f"{source.name}: no \"mcpServers\" object; nothing to load from it")
        return source, None, True
    return source, data["mcpServers"], True


def _flag_layer(value: str, cwd: str, env: Mapping[str, str]) -> Tuple[Any, Any, bool]:
    from claw.config.parsing import read_source
    from claw.config.problems import ERROR
    from claw.config.sources import SettingsSource, expand_user

    text = value.strip()
    if text.startswith("{"):
        # path is only a label here: read_source parses inline_text, and messages name the flag.
        source = SettingsSource(SCOPE_MCP_CONFIG, "--mcp-config (inline JSON)", "json", cwd, inline_text=value)
    else:
        path = os.path.normpath(os.path.join(cwd, expand_user(value, env)))
        if not os.path.isfile(path):
            raise UsageError(f"--mcp-config: file not found: {path}",
                             hint="pass a JSON file, or the JSON text itself starting with '{'")
        source = SettingsSource(SCOPE_MCP_CONFIG, path, "json", os.path.dirname(path))
    data, problems = read_source(source)
    for problem in problems:
        if problem.level == ERROR:
            raise UsageError(problem.message, hint=problem.hint or 'e.g. {"mcpServers": {"time": {"command": "uvx", '
                                                                   '"args": ["mcp-server-time"]}}}')
    if not isinstance(data, dict) or not isinstance(data.get("mcpServers"), dict):
        raise UsageError(f"{source.name}: expected an object with \"mcpServers\"",
                         hint='e.g. {"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}}}')
    return source, data["mcpServers"], True


def _add_entry(result: McpConfig, name: str, raw: Any, source: Any, env: Mapping[str, str], report: bool) -> None:
    from claw.config.models import mcp_server_from_clean
    from claw.config.problems import INVALID
    from claw.config.schema import clean_mcp_servers
    from claw.mcp.expand import expand_entry

    if raw is None:
        result.servers.pop(name, None)
        return
    if isinstance(raw, dict) and raw.get("type") == "sdk":
        result.servers.pop(name, None)
        if name not in result.sdk_servers:
            result.sdk_servers.append(name)
        return
    entry = dict(raw) if isinstance(raw, dict) else raw
    if isinstance(entry, dict) and isinstance(entry.get("type"), str):
        entry["type"] = TYPE_ALIASES.get(entry["type"], entry["type"])
    scope, where = source.scope, source.name
    if isinstance(entry, dict):
        expanded, missing = expand_entry(entry, env)
        if missing:
            plural = "s" if len(missing) > 1 else ""
            result.servers[name] = ServerEntry(
                name, scope, where, None, entry,
                error=f"environment variable{plural} {', '.join(missing)} not set (used in {where})",
                hint="set it, or write ${NAME:-default} in the entry",
            )
            return
    else:
        expanded = entry
    cleaned, problems = clean_mcp_servers({name: expanded}, source, home=env.get("HOME") or None)
    error = None
    for problem in problems:
        if problem.level == INVALID:
            error = error or problem.message
        elif report:
            result.warnings.append(problem.message)
    if name in cleaned:
        result.servers[name] = ServerEntry(name, scope, where, mcp_server_from_clean(name, cleaned[name]),
                                           entry if isinstance(entry, dict) else {})
    else:
        result.servers[name] = ServerEntry(name, scope, where, None, entry if isinstance(entry, dict) else {},
                                           error=error or f"{where}: MCP server {name!r} is not usable")
