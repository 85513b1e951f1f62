"""The MCP part of a run's start-up, in two steps so the servers boot while claw prepares the rest.

1. ``launch_for_run(...)``: read the config; with no server (and nothing to report) return ``None`` —
   a run without MCP servers never imports the client, the transports or asyncio subprocess code.
   Otherwise build the ``McpManager`` and ``launch()`` it: every server is spawned (or connected
   to) and sent ``initialize``, without waiting for the answers.
2. ``finish_for_run(manager, tools=...)``: bind the run's tool dict (with the
   ``--disallowedTools`` / ``permissions.deny`` / ``--tools`` filter) and wait for the servers,
   bounded by the start-up wait counted from the launch.

``empty_for_run(...)`` is the manager of a run that started without servers and gets some later.

Nothing here prints; failures of servers are statuses, an unreadable ``--mcp-config`` is a
``UsageError`` from step 1.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping, Optional, Sequence


async def launch_for_run(*, cwd: str, env: Mapping[str, str], net_config: Any, loaded_settings: Any,
                         mcp_config: Sequence[str] = (), strict: bool = False, roots: Sequence[str] = (),
                         startup_wait: Optional[float] = None, extra: Sequence[Any] = ()) -> Any:
    """The run's ``McpManager`` with its servers launched, or None when there are none. ``extra``:
    the servers of the run's plugins (``claw.mcp.config.add_plugin_servers``)."""
    if not extra and not may_have_servers(cwd, loaded_settings, mcp_config, strict):
        return None
    from claw.mcp.config import add_plugin_servers, load_mcp_config

    config = load_mcp_config(cwd, env, loaded=loaded_settings, mcp_config=mcp_config, strict=strict)
    add_plugin_servers(config, extra, env)
    if not config.servers and not config.warnings:
        return None
    from claw.mcp.manager import McpManager

    manager = McpManager(config, env=env, net_config=net_config, cwd=cwd, roots=roots, startup_wait=startup_wait)
    if manager.servers:
        await manager.launch()
    return manager


async def finish_for_run(manager: Any, *, tools: Dict[str, Any], disallowed: Iterable[str] = (),
                         deny_rules: Iterable[str] = (), tools_flag: Optional[str] = None) -> Any:
    """Bind ``tools`` and wait (bounded) for the launched servers; returns ``manager``."""
    from claw.mcp.manager import tool_filter

    manager.bind(tools, allow=tool_filter(disallowed=disallowed, deny_rules=deny_rules, tools_flag=tools_flag))
    if manager.servers:
        await manager.start()
    return manager


def empty_for_run(*, env: Mapping[str, str], net_config: Any, cwd: str, roots: Sequence[str], tools: Dict[str, Any],
                  disallowed: Iterable[str] = (), deny_rules: Iterable[str] = (), tools_flag: Optional[str] = None
                  ) -> Any:
    """A manager without servers, bound to ``tools``: for a run that started without MCP servers and
    gets some while it lives (an SDK host's ``mcp_set_servers``)."""
    from claw.mcp.config import McpConfig
    from claw.mcp.manager import McpManager, tool_filter

    manager = McpManager(McpConfig(), env=env, net_config=net_config, cwd=cwd, roots=roots)
    manager.bind(tools, allow=tool_filter(disallowed=disallowed, deny_rules=deny_rules, tools_flag=tools_flag))
    return manager


def may_have_servers(cwd: str, loaded_settings: Any, mcp_config: Sequence[str] = (), strict: bool = False) -> bool:
    """Cheap check before importing anything: ``--mcp-config`` values, or (unless strict) a
    ``.mcp.json`` or an ``mcpServers`` key in the settings as written."""
    import os

    if mcp_config:
        return True
    if strict:
        return False
    if getattr(loaded_settings, "project_mcp", True) and os.path.exists(os.path.join(cwd, ".mcp.json")):
        return True
    raw = getattr(getattr(loaded_settings, "settings", None), "raw", None)
    return loaded_settings is None or bool(raw and raw.get("mcpServers"))
