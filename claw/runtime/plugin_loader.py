"""What plugins contribute to a run: ``load_plugins(sources) -> Plugins``, then each part of the run
takes its share (``open_run`` calls this module only when ``--plugin-dir`` or ``enabledPlugins`` is
given; a run without either never imports it).

Names. Every component is namespaced by the plugin's name, as Claude Code does: the command
``commands/hello.md`` of ``cc-demo`` is ``/cc-demo:hello``; skills and agents are ``cc-demo:x``; the
MCP server ``demo`` is ``plugin:cc-demo:demo``, so its tools are ``mcp__plugin_cc-demo_demo__tool``.
Manifest tools (claw-code's ``tools``) keep their own names, as claw-code offers them.

Clashes are reported, never silently shadowed: a second plugin of a name already loaded is a load
error (the first one stays); a plugin command, skill or agent whose name is taken (by a project or
user one, or ``--agents``) is left out with a warning naming both; a manifest tool whose name is a
tool of the run already is left out with a warning.

Failures. A plugin that cannot be read (``claw.runtime.plugin_manifest``) is a ``PluginLoadError``
in ``Plugins.errors``, shown as a warning when the run starts and by ``claw doctor``; the run goes on
with the other plugins. ``load_errors(sources)`` gives the same list without a run.

``${CLAUDE_PLUGIN_ROOT}`` and ``${CLAW_PLUGIN_ROOT}`` (the plugin's directory) are expanded in hook
commands and in MCP server commands, args, env, url and headers, and set as environment variables of
the plugin's hooks and stdio MCP servers (as Claude Code sets ``CLAUDE_PLUGIN_ROOT``). Deliberately not here: which
plugins are enabled and trusted (``claw.runtime.plugin_store``), running a manifest tool
(``claw.runtime.plugin_tools``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Dict, List, Sequence, Tuple

from claw.runtime.plugin_manifest import PluginError, PluginManifest, read_plugin
from claw.runtime.plugin_source import PluginSource

if TYPE_CHECKING:
    from claw.runtime.agent_defs import AgentCatalog
    from claw.runtime.commands import CommandDir
    from claw.runtime.run import Run

ROOT_VARS = ("${CLAUDE_PLUGIN_ROOT}", "${CLAW_PLUGIN_ROOT}")


@dataclass(frozen=True)
class PluginLoadError:
    """A plugin that could not be loaded into the run, and why (``key``: ``name@marketplace`` for an
    installed plugin, else the directory)."""

    key: str
    path: str
    message: str
    hint: str = ""

    def text(self) -> str:
        return f"plugin {self.key} was not loaded: {self.message}" + (f" ({self.hint})" if self.hint else "")


@dataclass(frozen=True)
class LoadedPlugin:
    """One plugin of the run: its manifest and where it came from."""

    manifest: PluginManifest
    source: PluginSource


@dataclass
class Plugins:
    """The plugins loaded into one run, the ones that failed, and warnings about their components."""

    loaded: List[LoadedPlugin] = field(default_factory=list)
    errors: List[PluginLoadError] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)

    def info(self) -> List[Dict[str, str]]:
        """``[{name, path}]``: the stream-json init message's ``plugins``."""
        return [{"name": p.manifest.name, "path": str(p.manifest.root)} for p in self.loaded]

    def tool_names(self) -> List[str]:
        """The names of every manifest tool: rules and the tool flags may name them."""
        return [t.name for p in self.loaded for t in p.manifest.tools]

    def dirs(self, kind: str) -> List["CommandDir"]:
        """The ``commands`` or ``skills`` directories of every plugin, with the name prefix."""
        from claw.runtime.commands import CommandDir

        return [CommandDir(str(path), f"plugin:{p.manifest.name}", prefix=f"{p.manifest.name}:")
                for p in self.loaded for path in getattr(p.manifest, kind)]

    def add_agents(self, catalog: "AgentCatalog") -> None:
        """Every plugin agent as ``plugin:agent``, unless the name is taken (a warning then)."""
        from claw.errors import UsageError
        from claw.runtime.agent_defs import parse_agent_file

        for plugin in self.loaded:
            for base in plugin.manifest.agents:
                files = sorted(base.glob("*.md")) if base.is_dir() else [base]
                for path in files:
                    try:
                        definition = parse_agent_file(path, path.read_text(encoding="utf-8", errors="replace"), "plugin")
                    except (UsageError, OSError) as exc:
                        self.warnings.append(f"agent file {path} skipped: {getattr(exc, 'message', exc)}")
                        continue
                    name = f"{plugin.manifest.name}:{definition.name}"
                    taken = catalog.get(name)
                    if taken is None:
                        catalog.add([replace(definition, name=name)])
                    else:
                        self.warnings.append(f"the agent {name!r} ({path}) clashes with the {taken.source} agent of "
                                             f"that name ({taken.path or 'flag'}); the plugin's is not used")

    def hooks(self, settings_hooks: Any) -> Dict[str, Any]:
        """The settings' hooks followed by every plugin's, in the settings' typed shape."""
        from claw.config.models import HookCommand, HookMatcher

        merged = {event: tuple(groups or ()) for event, groups in (settings_hooks or {}).items()}
        for plugin in self.loaded:
            root = str(plugin.manifest.root)
            for event, groups in plugin.manifest.hooks.items():
                merged[event] = merged.get(event, ()) + tuple(
                    HookMatcher(g["matcher"], tuple(HookCommand(_expand(h["command"], root), h["type"], h.get("timeout"),
                                                                root)
                                                    for h in g["hooks"]))
                    for g in groups)
        return merged

    def mcp_servers(self) -> List[Tuple[str, Dict[str, Any], str]]:
        """``(plugin:name:server, entry with the plugin root expanded, manifest path)`` of every server."""
        out = []
        for plugin in self.loaded:
            manifest = plugin.manifest
            if plugin.source.origin == "plugin-dir-no-mcp":
                continue
            root = str(manifest.root)
            for server, entry in manifest.mcp_servers.items():
                entry = _expand_entry(entry, root)
                if isinstance(entry, dict) and "command" in entry and isinstance(entry.get("env", {}), dict):  # stdio: the root in its env
                    entry["env"] = {"CLAUDE_PLUGIN_ROOT": root, "CLAW_PLUGIN_ROOT": root, **entry.get("env", {})}
                out.append((f"plugin:{manifest.name}:{server}", entry, str(manifest.manifest_path or manifest.root)))
        return out


def _expand(text: str, root: str) -> str:
    for var in ROOT_VARS:
        text = text.replace(var, root)
    return text


def _expand_entry(value: Any, root: str) -> Any:
    import json

    return json.loads(_expand(json.dumps(value), json.dumps(root)[1:-1]))


def load_plugins(sources: Sequence[PluginSource]) -> Plugins:
    """Read every plugin of ``sources`` in order; never raises for a plugin (see the module docstring)."""
    plugins = Plugins()
    for source in sources:
        key = source.key or str(source.path)
        try:
            manifest = read_plugin(source.path)
        except (PluginError, OSError) as exc:
            plugins.errors.append(PluginLoadError(key, str(source.path), getattr(exc, "message", str(exc)),
                                                  getattr(exc, "hint", None) or ""))
            continue
        first = next((p for p in plugins.loaded if p.manifest.name == manifest.name), None)
        if first is not None:
            plugins.errors.append(PluginLoadError(
                key, str(source.path), f"a plugin named {manifest.name!r} is already loaded from {first.manifest.root}",
                "load one of them only (remove a --plugin-dir, or disable one in enabledPlugins)"))
            continue
        plugins.loaded.append(LoadedPlugin(manifest, source))
    return plugins


def load_errors(sources: Sequence[PluginSource]) -> List[PluginLoadError]:
    """The plugins of ``sources`` that would fail to load, and why (``claw plugin list``, ``/plugin``)."""
    return load_plugins(sources).errors


def sources_for(plugin_dirs: Sequence[str], loaded: Any, env: Dict[str, str], cwd: str,
                problems: List[str]) -> List[PluginSource]:
    """The plugins of a run: ``--plugin-dir`` directories (relative to ``cwd``; ``no-mcp:DIR`` is
    ``--plugin-dir-no-mcp``: origin ``plugin-dir-no-mcp``, its MCP servers not started), then the installed
    plugins ``enabledPlugins`` turns on (project-enabled ones only in a trusted folder)."""
    from claw.config.sources import config_home, expand_user

    from pathlib import Path

    out = []
    for d in plugin_dirs:
        bare = d[7:] if d.startswith("no-mcp:") else d
        out.append(PluginSource(Path(os.path.normpath(os.path.join(cwd, expand_user(bare, env)))),
                                "plugin-dir" if bare == d else "plugin-dir-no-mcp"))
    if getattr(loaded.settings, "enabled_plugins", None):
        from claw.runtime.plugin_store import enabled_plugin_sources

        out += enabled_plugin_sources(loaded, config_home=config_home(env, cwd), trusted=loaded.project_trusted,
                                      problems=problems)
    return out


def install_tools(run: "Run", plugins: Plugins) -> None:
    """Add every plugin's manifest tools to the run (under ``--tools`` only those it names; not those a
    bare deny rule removes); a name already taken is left out with a warning."""
    from claw.runtime.plugin_tools import ManifestTool
    from claw.tools.registry import offers

    removed, names = set(run.policy.removed_tools()), plugins.tool_names()
    disallowed = list(run.options.disallowed_tools)
    for plugin in plugins.loaded:
        for entry in plugin.manifest.tools:
            if entry.name in run.tools.tools:
                plugins.warnings.append(f"plugin {plugin.manifest.name}: the tool {entry.name!r} clashes with a tool "
                                        "of that name already in the run; the plugin's is not used")
            elif entry.name not in removed and offers(entry.name, run.options.tools, disallowed, names):
                run.tools.tools[entry.name] = ManifestTool(plugin.manifest, entry, plugin.source.key)
                run.info.tools.append(entry.name)


def add_enabled_servers(config: Any, loaded: Any, env: Dict[str, str], cwd: str) -> List[str]:
    """Add the MCP servers of the plugins ``enabledPlugins`` turns on to ``config`` (``claw mcp list``,
    ``claw doctor``); returns the plugins' load problems."""
    from claw.mcp.config import add_plugin_servers

    plugins = open_plugins((), loaded, env, cwd)
    add_plugin_servers(config, plugins.mcp_servers(), env)
    return [e.text() for e in plugins.errors] + plugins.warnings


def open_plugins(plugin_dirs: Sequence[str], loaded: Any, env: Dict[str, str], cwd: str) -> Plugins:
    """The plugins of a run (``sources_for``), loaded; problems of the store join the warnings."""
    problems: List[str] = []
    plugins = load_plugins(sources_for(plugin_dirs, loaded, env, cwd, problems))
    plugins.warnings[:0] = problems
    return plugins
