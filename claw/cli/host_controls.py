"""The control requests by which an embedding host changes or inspects a live run (docs/EMBEDDING.md).

``HostControls(session).handler(subtype)`` is the coroutine answering one request of the host session
(claw.cli.stream_json.HostSession), or None for a subtype claw does not answer:

- ``set_permission_mode``, ``set_model``: the run's mode and model;
- ``set_max_thinking_tokens``: the thinking budget of the following requests (``0`` off, ``null`` the
  run's start-up setting); ``thinking_display`` is accepted and ignored: claw has no display modes;
- ``get_context_usage``: claw's token accounting (claw.cli.context_usage);
- ``mcp_status``, ``mcp_reconnect``, ``mcp_toggle``, ``mcp_set_servers``: the run's MCP servers, both
  those claw runs (claw.mcp.manager) and the host's own SDK servers (claw.cli.sdk_mcp). The set that
  ``mcp_set_servers`` replaces is the servers earlier ``mcp_set_servers`` calls added (scope
  ``dynamic``); servers from settings, ``.mcp.json``, ``--mcp-config`` or ``initialize`` are never
  touched by it. A host is trusted: folder trust does not apply to its servers, ``--disallowedTools``
  and deny rules do;
- ``rewind_files``: the files changed since a prompt (claw's message uuid or the host's id for it) put
  back from the run's checkpoints (``Run.rewind_files``; ``dry_run`` only counts), in the SDK's
  ``RewindFilesResult`` shape.

Changes to the MCP servers are serialized (one at a time) and keep ``system/init``'s ``tools`` and
``mcp_servers`` current. Deliberately not here: the host loop and the other requests
(``initialize``, ``interrupt``: claw.cli.stream_json), the request/response plumbing (claw.cli.control).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Optional

from claw.errors import ClawError, UsageError
from claw.ids import uuid4

if TYPE_CHECKING:
    from claw.cli.stream_json import HostSession

Handler = Callable[[Dict[str, Any]], Awaitable[Dict[str, Any]]]
CONNECTED = "connected"
DISABLED = "disabled"


class HostControls:
    """The handlers of one host session, and the state they keep: which SDK servers ``mcp_set_servers``
    added."""

    def __init__(self, session: "HostSession") -> None:
        self.session = session
        self._dynamic_sdk: List[str] = []
        self._lock: Optional[asyncio.Lock] = None

    def handler(self, subtype: str) -> Optional[Handler]:
        return {
            "set_permission_mode": self.set_permission_mode,
            "set_model": self.set_model,
            "set_max_thinking_tokens": self.set_max_thinking_tokens,
            "get_context_usage": self.get_context_usage,
            "mcp_status": self.mcp_status,
            "mcp_reconnect": self.mcp_reconnect,
            "mcp_toggle": self.mcp_toggle,
            "mcp_set_servers": self.mcp_set_servers,
            "rewind_files": self.rewind_files,
        }.get(subtype)

    @property
    def run(self) -> Any:
        return self.session.run

    # -- mode, model, thinking, context ----------------------------------------------------------

    async def set_permission_mode(self, request: Dict[str, Any]) -> Dict[str, Any]:
        from claw.cli.host_vocabulary import host_permission_mode

        mode = request.get("mode")
        if not isinstance(mode, str) or not mode:
            raise UsageError("set_permission_mode needs a 'mode'")
        canonical = self.mode_changed(self.run.set_permission_mode(mode))
        return {"mode": host_permission_mode(canonical), "claw_permission_mode": canonical}

    def mode_changed(self, canonical: str) -> str:
        """A ``system/status`` message with the mode now in force; returns it."""
        from claw.cli.host_vocabulary import host_message

        self.session.transport.write_nowait(host_message({
            "type": "system", "subtype": "status", "status": None, "permissionMode": canonical,
            "uuid": uuid4(), "session_id": self.run.info.session_id}))
        return canonical

    def plan_approved(self, answer: Dict[str, Any]) -> None:
        """``can_use_tool`` allowed ExitPlanMode: the mode a ``setMode`` in ``updatedPermissions`` names,
        else the one before plan mode (claw.runtime.run.Run.leave_plan), reported in a status message."""
        modes = [p.get("mode") for p in answer.get("updatedPermissions") or () if isinstance(p, dict)
                 and p.get("type") == "setMode" and isinstance(p.get("mode"), str)]
        self.mode_changed(self.run.leave_plan(modes[-1] if modes else None))

    async def set_model(self, request: Dict[str, Any]) -> Dict[str, Any]:
        from claw.api.client import resolve_model

        model = request.get("model")
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise UsageError("set_model: 'model' must be a model name, or null for the default")
        if model in ("default",):
            model = None
        session = self.session
        if session._turn is not None and not session._turn.done():
            # The running turn keeps its provider; the next one starts on the new model.
            resolved = resolve_model(model, self.run.env, aliases=self.run.loaded.settings.aliases)
            session._pending_model = (model,)
            return {"model": resolved.model, "applies": "next_turn"}
        session._pending_model = None
        return {"model": await self.run.switch_model(model)}

    async def set_max_thinking_tokens(self, request: Dict[str, Any]) -> Dict[str, Any]:
        if "max_thinking_tokens" not in request:  # thinking_display alone: nothing claw can change
            return {"thinking": self.run.agent.settings.thinking}
        value = request["max_thinking_tokens"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or value < 0 or int(value) != value):
            raise UsageError(f"set_max_thinking_tokens: 'max_thinking_tokens' must be a whole number of tokens "
                             f"(0 turns thinking off) or null, not {value!r}")
        return {"thinking": self.run.set_max_thinking_tokens(None if value is None else int(value))}

    async def get_context_usage(self, request: Dict[str, Any]) -> Dict[str, Any]:
        from claw.cli.context_usage import context_usage

        return context_usage(self.run)

    async def rewind_files(self, request: Dict[str, Any]) -> Dict[str, Any]:
        message_id = request.get("user_message_id")
        if not isinstance(message_id, str) or not message_id:
            raise UsageError("rewind_files needs a 'user_message_id' (the uuid of the prompt to go back to)")
        return self.run.rewind_files(message_id, dry_run=request.get("dry_run") is True)

    # -- MCP servers ----------------------------------------------------------------------------

    async def mcp_status(self, request: Dict[str, Any]) -> Dict[str, Any]:
        manager = self.run.mcp
        hosted = manager.status(detail=True) if manager is not None else []
        return {"mcpServers": hosted + [server.status_entry() for server in self.session._sdk_servers]}

    async def mcp_reconnect(self, request: Dict[str, Any]) -> Dict[str, Any]:
        name = _server_name(request, "mcp_reconnect")
        async with self._serialized():
            server = self._hosted(name)
            sdk = None if server is not None else self._sdk(name, "mcp_reconnect")
            if (server or sdk).status == DISABLED:
                raise UsageError(f"mcp_reconnect: MCP server {name!r} is disabled",
                                 hint="enable it with mcp_toggle (enabled: true)")
            if server is not None:
                server = await self.run.mcp.reconnect(name)
                status, error = server.status, server.error
            else:
                sdk = await self._sdk_connect(name)
                status, error = sdk.status, sdk.error
            self.run.refresh_mcp_info()
        if status != CONNECTED:
            raise ClawError(f"MCP server {name!r} did not reconnect ({status}" + (f": {error}" if error else "")
                            + ")", kind="mcp_failed")
        return {}

    async def mcp_toggle(self, request: Dict[str, Any]) -> Dict[str, Any]:
        name = _server_name(request, "mcp_toggle")
        enabled = request.get("enabled")
        if not isinstance(enabled, bool):
            raise UsageError("mcp_toggle needs 'enabled': true or false")
        async with self._serialized():
            server = self._hosted(name)
            if server is not None:
                if not enabled:
                    await self.run.mcp.disable(name)
                elif server.status != CONNECTED:
                    await self.run.mcp.reconnect(name)
            else:
                sdk = self._sdk(name, "mcp_toggle")
                if not enabled:
                    self.run.remove_tools(_sdk_tool_names(sdk))
                    sdk.status, sdk.error = DISABLED, None
                elif sdk.status != CONNECTED:
                    await self._sdk_connect(name)
            self.run.refresh_mcp_info()
            self._sdk_info()
        return {}

    async def mcp_set_servers(self, request: Dict[str, Any]) -> Dict[str, Any]:
        """Replace the servers earlier calls added: ``{added, removed, errors}``."""
        from claw.mcp.config import SCOPE_DYNAMIC, dynamic_entry

        servers = request.get("servers")
        if not isinstance(servers, dict):
            raise UsageError("mcp_set_servers needs 'servers': an object of server configs by name")
        added: List[str] = []
        removed: List[str] = []
        errors: Dict[str, str] = {}
        async with self._serialized():
            run = self.run
            manager = run.mcp
            hosted = manager.servers if manager is not None else {}
            wanted_sdk = [n for n, raw in servers.items() if isinstance(raw, dict) and raw.get("type") == "sdk"]
            wanted = {n: raw for n, raw in servers.items() if n not in wanted_sdk}
            for name in [n for n, s in hosted.items() if s.entry.scope == SCOPE_DYNAMIC and n not in wanted]:
                await manager.remove(name)
                removed.append(name)
            for name in [n for n in self._dynamic_sdk if n not in wanted_sdk]:
                self._sdk_remove(name)
                removed.append(name)
            entries = []
            for name, raw in wanted.items():
                existing = hosted.get(name)
                if existing is not None and existing.entry.scope != SCOPE_DYNAMIC:
                    errors[name] = (f"an MCP server named {name!r} is already configured ({existing.entry.scope}: "
                                    f"{existing.entry.source}); not replaced")
                    continue
                entry, _warnings = dynamic_entry(name, raw, str(run.options.cwd), run.env)
                if existing is not None and dict(existing.entry.raw) == dict(entry.raw):
                    continue  # unchanged: the connection is kept
                if existing is not None:
                    removed.append(name)
                entries.append(entry)
            if entries:
                manager = run.ensure_mcp()
                for server in await asyncio.gather(*(manager.add(entry) for entry in entries)):
                    added.append(server.name)
                    if server.status != CONNECTED:
                        errors[server.name] = server.error or server.status
            for name in wanted_sdk:
                if name in self._dynamic_sdk or name in self.session._sdk_server_names:
                    continue  # already there (from initialize or --mcp-config, or an earlier call)
                await self._sdk_ready()
                server = await self._sdk_connect(name)
                self._dynamic_sdk.append(name)
                added.append(name)
                if server.status != CONNECTED:
                    errors[name] = server.error or server.status
            run.refresh_mcp_info(gone=[n for n in removed if n not in added])
            self._sdk_info()
        return {"added": added, "removed": removed, "errors": errors}

    # -- helpers --------------------------------------------------------------------------------

    def _serialized(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def _hosted(self, name: str) -> Any:
        manager = self.run.mcp
        return manager.servers.get(name) if manager is not None else None

    def _sdk(self, name: str, request: str) -> Any:
        server = next((s for s in self.session._sdk_servers if s.name == name), None)
        if server is None:
            manager = self.run.mcp
            known = sorted(list(manager.servers) if manager is not None else []) + [
                s.name for s in self.session._sdk_servers]
            raise UsageError(f"{request}: no MCP server named {name!r}",
                             hint="the run's MCP servers: " + (", ".join(known) or "none"), kind="unknown_mcp_server")
        return server

    async def _sdk_ready(self) -> None:
        """The SDK servers named at start-up are connected (they connect before the first turn)."""
        session = self.session
        if session._sdk_server_names and session._ready_task is None:
            session._ready_task = asyncio.ensure_future(session._connect_sdk_servers())
        if session._ready_task is not None:
            await asyncio.shield(session._ready_task)

    async def _sdk_connect(self, name: str) -> Any:
        """(Re)connect the host's server ``name`` through the control channel; its tools replace
        the old ones."""
        from claw.cli.sdk_mcp import connect_sdk_servers
        from claw.cli.stream_json import _disallowed

        session = self.session
        old = next((s for s in session._sdk_servers if s.name == name), None)
        if old is not None:
            self.run.remove_tools(_sdk_tool_names(old))
        [server] = await connect_sdk_servers([name], session.channel, self.run,
                                             disallowed=_disallowed(session.args.disallowed_tools),
                                             warn=session._warn)
        session._sdk_servers = [s for s in session._sdk_servers if s.name != name] + [server]
        return server

    def _sdk_remove(self, name: str) -> None:
        session = self.session
        for server in [s for s in session._sdk_servers if s.name == name]:
            self.run.remove_tools(_sdk_tool_names(server))
        session._sdk_servers = [s for s in session._sdk_servers if s.name != name]
        self._dynamic_sdk.remove(name)

    def _sdk_info(self) -> None:
        """The SDK servers' statuses in ``system/init``'s ``mcp_servers``."""
        info = self.run.info
        sdk = {s.name: s.status for s in self.session._sdk_servers}
        info.mcp_servers = [dict(entry, status=sdk[entry["name"]]) if entry.get("name") in sdk else entry
                            for entry in info.mcp_servers]


def _server_name(request: Dict[str, Any], subtype: str) -> str:
    name = request.get("serverName")
    if not isinstance(name, str) or not name:
        raise UsageError(f"{subtype} needs a 'serverName'")
    return name


def _sdk_tool_names(server: Any) -> List[str]:
    from claw.cli.sdk_mcp import tool_name

    return [tool_name(server.name, t["name"]) for t in server.tools]
