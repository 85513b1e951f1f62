"""A plugin directory's manifest, read and checked: ``read_plugin(path) -> PluginManifest`` and
``validate_plugin(path) -> list[str]`` (every problem, for ``claw plugin validate``).

Two manifest dialects are one format here:

- Claude Code's ``.claude-plugin/plugin.json``: ``name`` (kebab-case), ``version``, ``description``,
  ``author`` (a string or ``{"name", "email", "url"}``), other metadata (``homepage``, ``license``...)
  kept as written, and component locations: ``commands``, ``agents``, ``skills`` (a ``./`` path or a
  list of them, added to the default ``commands/``, ``agents/``, ``skills/``), ``hooks`` (a path or
  list of paths to a ``hooks.json``, or the hooks object inline; default ``hooks/hooks.json``) and
  ``mcpServers`` (a path or list of paths to an ``.mcp.json``, or the servers inline; default
  ``.mcp.json``). The manifest is optional: without one the plugin is named after its directory.
- claw-code's extension: ``tools``, each ``{name, description, inputSchema, command, args?,
  requiredPermission?, timeout?}`` (``requiredPermission``: ``read-only``, ``workspace-write`` or
  ``danger-full-access``, the default), run as a subprocess by ``claw.runtime.plugin_tools``; hooks
  written as claw-code writes them (``{"PreToolUse": ["./hooks/pre.sh"]}``); and the manifest at the
  plugin root (``plugin.json``) instead of under ``.claude-plugin/``.

Paths must start with ``./`` and stay inside the plugin directory (symlinks resolved). Hooks and
MCP servers are checked with the settings schema (``claw.config.schema``), so a plugin's hook is
held to what a settings hook is. Commands, agents and skills are only located here; their files are
read when the plugin is loaded into a run (``claw.runtime.plugin_loader``). Deliberately not here:
``${CLAUDE_PLUGIN_ROOT}`` expansion, namespacing, clashes, trust (all the loader's).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from claw.errors import ConfigError

MANIFEST = os.path.join(".claude-plugin", "plugin.json")
NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PERMISSIONS = ("read-only", "workspace-write", "danger-full-access")
DEFAULT_TOOL_TIMEOUT = 120.0
_HINT = "fix it, then check with: claw plugin validate PATH"


class PluginError(ConfigError):
    """A plugin directory that cannot be loaded as written (bad manifest, missing component)."""

    kind = "plugin_invalid"


@dataclass(frozen=True)
class PluginTool:
    """One claw-code manifest tool: a program run with the JSON input on stdin."""

    name: str
    description: str
    input_schema: Dict[str, Any]
    command: str  # a ``./`` path resolved against the plugin root, else a program looked up on PATH
    args: Tuple[str, ...] = ()
    required_permission: str = "danger-full-access"
    timeout: float = DEFAULT_TOOL_TIMEOUT


@dataclass(frozen=True)
class PluginManifest:
    """A plugin directory, read: its metadata and where its components are (absolute paths)."""

    name: str
    root: Path
    manifest_path: Optional[Path] = None
    version: str = ""
    description: str = ""
    author: str = ""
    commands: Tuple[Path, ...] = ()  # directories (or single .md files) of commands
    agents: Tuple[Path, ...] = ()
    skills: Tuple[Path, ...] = ()  # directories holding skill directories (or one skill directory)
    hooks: Dict[str, Any] = field(default_factory=dict)  # event -> cleaned matcher groups (settings shape)
    mcp_servers: Dict[str, Any] = field(default_factory=dict)  # server name -> entry as written
    tools: Tuple[PluginTool, ...] = ()
    extra: Dict[str, Any] = field(default_factory=dict)  # other metadata, as written


def read_plugin(path: "str | Path") -> PluginManifest:
    """The plugin at ``path``; raises ``PluginError`` naming the file and field of the first problem."""
    manifest, errors = _read(Path(path))
    if errors:
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise PluginError(errors[0] + more, hint=_HINT)
    assert manifest is not None
    return manifest


def validate_plugin(path: "str | Path") -> List[str]:
    """Every problem of the plugin at ``path`` (empty: it loads), each naming its file and field."""
    return _read(Path(path))[1]


def _read(root: Path) -> Tuple[Optional[PluginManifest], List[str]]:
    errors: List[str] = []
    if not root.is_dir():
        return None, [f"{root}: not a plugin directory (no such directory)"]
    root = root.resolve()
    mpath = next((p for p in (root / MANIFEST, root / "plugin.json") if p.is_file()), None)
    data: Any = {}
    if mpath is not None:
        data = _json(mpath, errors)
        if data is None:
            return None, errors
        if not isinstance(data, dict):
            return None, [f"{mpath}: the manifest must be a JSON object"]
    where = str(mpath or root)
    name = data.get("name", None if mpath else root.name)
    if name is None:
        errors.append(f"{where}: \"name\" is required")
    elif not isinstance(name, str) or not NAME_RE.match(name):
        errors.append(f"{where}: \"name\" {name!r} must be kebab-case (lowercase letters, digits and '-', "
                      "like \"my-plugin\")")
    strings = {}
    for key in ("version", "description"):
        value = data.get(key, "")
        if not isinstance(value, str):
            errors.append(f"{where}: \"{key}\" must be a string")
        strings[key] = value if isinstance(value, str) else ""
    author = data.get("author", "")
    if isinstance(author, dict):
        author = author.get("name", "")
    if not isinstance(author, str):
        errors.append(f"{where}: \"author\" must be a string or an object with \"name\"")
        author = ""
    dirs = {key: _paths(root, where, key, data.get(key), key, errors) for key in ("commands", "agents", "skills")}
    hooks = _hooks(root, where, data.get("hooks"), errors)
    servers = _servers(root, where, data.get("mcpServers"), errors)
    tools = _tools(root, where, data.get("tools"), errors)
    known = {"name", "version", "description", "author", "commands", "agents", "skills", "hooks", "mcpServers",
             "tools"}
    if errors:
        return None, errors
    return PluginManifest(name=name, root=root, manifest_path=mpath, version=strings["version"],
                          description=strings["description"], author=author, commands=dirs["commands"],
                          agents=dirs["agents"], skills=dirs["skills"], hooks=hooks, mcp_servers=servers,
                          tools=tools, extra={k: v for k, v in data.items() if k not in known}), errors


def _json(path: Path, errors: List[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        errors.append(f"{path}: not valid JSON: {exc}")
    except OSError as exc:
        errors.append(f"{path}: cannot be read: {exc.strerror or exc}")
    return None


def _inside(root: Path, where: str, key: str, value: Any, errors: List[str]) -> Optional[Path]:
    """The path ``value`` (``./...``) of field ``key`` inside ``root``, or None with an error."""
    if not isinstance(value, str) or not value.startswith("./"):
        errors.append(f"{where}: \"{key}\": {value!r} must be a path relative to the plugin starting with './'")
        return None
    path = (root / value).resolve()
    if path != root and root not in path.parents:
        errors.append(f"{where}: \"{key}\": {value!r} points outside the plugin directory")
        return None
    if not path.exists():
        errors.append(f"{where}: \"{key}\": {value!r} does not exist ({path})")
        return None
    return path


def _listed(where: str, key: str, value: Any, errors: List[str]) -> List[Any]:
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        return [value]
    if isinstance(value, list):
        return value
    errors.append(f"{where}: \"{key}\" must be a './' path or a list of them")
    return []


def _paths(root: Path, where: str, key: str, value: Any, default: str, errors: List[str]) -> Tuple[Path, ...]:
    out = [root / default] if (root / default).is_dir() else []
    for item in _listed(where, key, value, errors):
        if isinstance(item, dict):
            errors.append(f"{where}: \"{key}\": inline definitions are not supported; put the files in a "
                          "directory and name it ('./extra-commands/')")
            continue
        path = _inside(root, where, key, item, errors)
        if path is not None and path not in out:
            out.append(path)
    return tuple(out)


def _hooks(root: Path, where: str, value: Any, errors: List[str]) -> Dict[str, Any]:
    """Every hooks object of the plugin merged by event, checked with the settings schema."""
    found: List[Tuple[str, Any]] = []
    default = root / "hooks" / "hooks.json"
    files = [default] if default.is_file() else []
    for item in _listed(where, "hooks", value, errors):
        if isinstance(item, dict):
            found.append((where, item))
            continue
        path = _inside(root, where, "hooks", item, errors)
        if path is not None and path not in files:
            files.append(path)
    for path in files:
        data = _json(path, errors)
        if data is not None:
            found.append((str(path), data))
    merged: Dict[str, Any] = {}
    for label, data in found:
        if isinstance(data, dict) and isinstance(data.get("hooks"), dict):
            data = data["hooks"]  # hooks.json: {"description": ..., "hooks": {...}}
        if not isinstance(data, dict):
            errors.append(f"{label}: hooks must be an object of events")
            continue
        for event, groups in _claw_code_hooks(root, data).items():
            cleaned = _clean(label, "hooks", {event: groups}, errors)
            merged.setdefault(event, []).extend((cleaned or {}).get(event) or [])
    return merged


def _claw_code_hooks(root: Path, data: Dict[str, Any]) -> Dict[str, Any]:
    """claw-code's ``{"PreToolUse": ["./hooks/pre.sh"]}``: each string is one command hook (a ``./``
    path resolved against the plugin root)."""
    out = {}
    for event, groups in data.items():
        if isinstance(groups, list):
            groups = [{"hooks": [{"type": "command", "command": _command(root, g)}]} if isinstance(g, str) else g
                      for g in groups]
        out[event] = groups
    return out


def _command(root: Path, text: str) -> str:
    import shlex

    return shlex.quote(str(root / text)) if text.startswith(("./", "../")) else text


def _clean(label: str, key: str, data: Dict[str, Any], errors: List[str]) -> Optional[Dict[str, Any]]:
    from claw.config.problems import WARNING
    from claw.config.schema import clean_mcp_servers, clean_settings
    from claw.config.sources import SettingsSource

    source = SettingsSource("plugin", label, "json", os.path.dirname(label))
    if key == "hooks":
        cleaned, problems = clean_settings({"hooks": data}, source)
        cleaned = cleaned.get("hooks")
    else:
        cleaned, problems = clean_mcp_servers(data, source)
    errors.extend(p.message for p in problems if p.level != WARNING)
    return cleaned


def _servers(root: Path, where: str, value: Any, errors: List[str]) -> Dict[str, Any]:
    default = root / ".mcp.json"
    files = [default] if default.is_file() else []
    found: List[Tuple[str, Any]] = []
    for item in _listed(where, "mcpServers", value, errors):
        if isinstance(item, dict):
            found.append((where, item))
            continue
        path = _inside(root, where, "mcpServers", item, errors)
        if path is not None and path not in files:
            files.append(path)
    for path in files:
        data = _json(path, errors)
        if data is not None:
            found.append((str(path), data.get("mcpServers", data) if isinstance(data, dict) else data))
    servers: Dict[str, Any] = {}
    for label, data in found:
        if not isinstance(data, dict):
            errors.append(f"{label}: \"mcpServers\" must be an object of servers by name")
            continue
        before = len(errors)
        _clean(label, "mcpServers", data, errors)
        if len(errors) == before:
            servers.update(data)
    return servers


def _tools(root: Path, where: str, value: Any, errors: List[str]) -> Tuple[PluginTool, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        errors.append(f"{where}: \"tools\" must be a list of tool objects")
        return ()
    out: List[PluginTool] = []
    for index, spec in enumerate(value):
        at = f"{where}: \"tools\"[{index}]"
        if not isinstance(spec, dict):
            errors.append(f"{at} must be an object with name, description, inputSchema and command")
            continue
        name, description, schema, command = (spec.get(k) for k in ("name", "description", "inputSchema", "command"))
        args = spec.get("args", [])
        permission = spec.get("requiredPermission", "danger-full-access")
        timeout = spec.get("timeout", DEFAULT_TOOL_TIMEOUT)
        bad = [
            (not isinstance(name, str) or not TOOL_NAME_RE.match(name), "\"name\" must be 1-64 letters, digits, '_' or '-'"),
            (any(t.name == name for t in out), f"\"name\" {name!r} is used by another tool of this plugin"),
            (not isinstance(description, str) or not description.strip(), "\"description\" (a string) is required"),
            (not isinstance(schema, dict), "\"inputSchema\" must be a JSON Schema object"),
            (not isinstance(command, str) or not command.strip(), "\"command\" (a string) is required"),
            (not isinstance(args, list) or not all(isinstance(a, str) for a in args), "\"args\" must be a list of strings"),
            (permission not in PERMISSIONS, f"\"requiredPermission\" must be one of {', '.join(PERMISSIONS)}"),
            (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0,
             "\"timeout\" must be a positive number of seconds"),
        ]
        problems = [text for failed, text in bad if failed]
        if isinstance(command, str) and command.startswith("./") and not problems:
            path = _inside(root, at, "command", command, errors)
            if path is None:
                continue
            command = str(path)
        if problems:
            errors.extend(f"{at}: {text}" for text in problems)
            continue
        out.append(PluginTool(name, description.strip(), schema, command, tuple(args), permission, float(timeout)))
    return tuple(out)
