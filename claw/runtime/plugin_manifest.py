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
        return None, [f"{root}: not a plugin directory"]
    root = root.resolve()
    mpath = next((p for p in (root / MANIFEST, root / "plugin.json") if p.is_file()), None)
    data: Any = {}
    if mpath is not None:
        data = _json(mpath, errors)
        if not isinstance(data, dict):
            return None, errors or [f"{mpath}: the manifest must be a JSON object"]
    where = str(mpath or root)
    name = data.get("name", None if mpath else root.name)
    if not isinstance(name, str) or not NAME_RE.match(name):
        what = "is required" if name is None else f"{name!r} must be"
        errors.append(f"{where}: \"name\" {what} kebab-case (lowercase letters, digits and '-', like \"my-plugin\")")
    author = data.get("author", "")
    author = author.get("name", "") if isinstance(author, dict) else author
    meta = {k: data.get(k, "") for k in ("version", "description")}
    for key, value in dict(meta, author=author).items():
        if not isinstance(value, str):
            errors.append(f"{where}: \"{key}\" must be a string")
    dirs = {}
    for key in ("commands", "agents", "skills"):
        dirs[key], inline = _locate(root, where, key, data.get(key), key, errors)
        if inline:
            errors.append(f"{where}: \"{key}\": inline definitions are not supported; name a './' path")
    hooks: Dict[str, Any] = {}
    for label, found in _files(root, where, "hooks", data.get("hooks"), os.path.join("hooks", "hooks.json"), errors):
        if isinstance(found, dict) and isinstance(found.get("hooks"), dict):
            found = found["hooks"]  # hooks.json: {"description": ..., "hooks": {...}}
        for event, groups in (_claw_code_hooks(root, found) if isinstance(found, dict) else {None: 0}).items():
            cleaned = _clean(label, "hooks", {event: groups}, errors) if event else errors.append(
                f"{label}: hooks must be an object of events")
            hooks.setdefault(event, []).extend((cleaned or {}).get(event) or [])
    servers: Dict[str, Any] = {}
    for label, found in _files(root, where, "mcpServers", data.get("mcpServers"), ".mcp.json", errors):
        found = found.get("mcpServers", found) if isinstance(found, dict) else found
        before = len(errors)
        _clean(label, "mcpServers", found, errors)
        if len(errors) == before:
            servers.update(found)
    tools = _tools(root, where, data.get("tools"), errors)
    if errors:
        return None, errors
    known = ("name", "version", "description", "author", "commands", "agents", "skills", "hooks", "mcpServers", "tools")
    return PluginManifest(name=name, root=root, manifest_path=mpath, author=author, hooks=hooks, mcp_servers=servers,
                          tools=tools, extra={k: v for k, v in data.items() if k not in known}, **meta, **dirs), errors


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
    path = (root / str(value)).resolve()
    if not isinstance(value, str) or not value.startswith("./"):
        errors.append(f"{where}: \"{key}\": {value!r} must be a path relative to the plugin starting with './'")
    elif path != root and root not in path.parents:
        errors.append(f"{where}: \"{key}\": {value!r} points outside the plugin directory")
    elif not path.exists():
        errors.append(f"{where}: \"{key}\": {value!r} does not exist ({path})")
    else:
        return path
    return None


def _locate(root: Path, where: str, key: str, value: Any, default: str, errors: List[str]
            ) -> Tuple[Tuple[Path, ...], List[Any]]:
    """The default path (when it exists) and the ``./`` paths of field ``key``; its inline objects."""
    if value is not None and not isinstance(value, (str, dict, list)):
        errors.append(f"{where}: \"{key}\" must be a './' path or a list of them")
    items = value if isinstance(value, list) else [] if value is None else [value]
    paths = [root / default] if (root / default).exists() else []
    for item in items:
        path = None if isinstance(item, dict) else _inside(root, where, key, item, errors)
        if path is not None and path not in paths:
            paths.append(path)
    return tuple(paths), [i for i in items if isinstance(i, dict)]


def _files(root: Path, where: str, key: str, value: Any, default: str, errors: List[str]) -> List[Tuple[str, Any]]:
    """(label, JSON) of the default file, the files field ``key`` names and its inline objects."""
    paths, inline = _locate(root, where, key, value, default, errors)
    read = [(str(path), _json(path, errors)) for path in paths]
    return [(label, data) for label, data in read if data is not None] + [(where, item) for item in inline]


def _claw_code_hooks(root: Path, data: Dict[str, Any]) -> Dict[str, Any]:
    """claw-code's ``{"PreToolUse": ["./hooks/pre.sh"]}``: each string is one command hook (a ``./``
    path resolved against the plugin root)."""
    import shlex

    return {event: [{"hooks": [{"type": "command", "command": shlex.quote(str(root / g)) if g.startswith("./") else g}]}
                    if isinstance(g, str) else g for g in groups] if isinstance(groups, list) else groups
            for event, groups in data.items()}


def _clean(label: str, key: str, data: Any, errors: List[str]) -> Any:
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


_S = {"type": "string", "minLength": 1}
TOOL_SCHEMA = {"type": "object", "required": ["name", "description", "inputSchema", "command"], "properties": {
    "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}, "description": _S, "command": _S,
    "inputSchema": {"type": "object"}, "args": {"type": "array", "items": {"type": "string"}},
    "requiredPermission": {"enum": list(PERMISSIONS)}, "timeout": {"type": "number", "exclusiveMinimum": 0}}}


def _tools(root: Path, where: str, value: Any, errors: List[str]) -> Tuple[PluginTool, ...]:
    """claw-code's ``tools`` entries, each checked with ``TOOL_SCHEMA`` (problems name the field)."""
    from claw.tools.json_schema import validate

    if value is not None and not isinstance(value, list):
        errors.append(f"{where}: \"tools\" must be a list of tool objects")
    out: List[PluginTool] = []
    for index, spec in enumerate(value if isinstance(value, list) else []):
        at = f"{where}: \"tools\"[{index}]"
        problems = [f"{at}{p[4:] if p.startswith('root') else p}" for p in validate(TOOL_SCHEMA, spec)]
        if not problems and any(t.name == spec["name"] for t in out):
            problems.append(f"{at}/name: {spec['name']!r} is the name of another tool of this plugin")
        errors.extend(problems)
        command = spec.get("command") if not problems else None
        if command and command.startswith("./"):
            command = _inside(root, at, "command", command, errors)
        if command:
            out.append(PluginTool(spec["name"], spec["description"].strip(), spec["inputSchema"], str(command),
                                  tuple(spec.get("args", ())), spec.get("requiredPermission", "danger-full-access"),
                                  float(spec.get("timeout", DEFAULT_TOOL_TIMEOUT))))
    return tuple(out)
