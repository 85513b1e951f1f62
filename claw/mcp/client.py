"""One MCP server: connect (transport + handshake), list, call, keep the lists fresh, report, close.

``McpServer(entry, ...)`` wraps a configured ``ServerEntry``. ``connect()`` never raises (except on
cancellation): it starts the transport, sends ``initialize`` offering the newest protocol version
claw implements (``LATEST_VERSION``) with the client capabilities (``roots``: the workspace
directories, answered to ``roots/list``), accepts the server's answer when it is one of
``SUPPORTED_VERSIONS``, sends ``notifications/initialized``, then lists tools and prompts (every
page of the cursor). The outcome is ``status``: ``connected``, ``failed`` (``error`` and ``hint``
say why), ``needs-auth`` (an HTTP 401: claw does not run MCP OAuth yet) — ``pending`` while it runs.
A 4xx answer to a streamable-HTTP ``initialize`` makes it try the legacy HTTP+SSE transport
(the spec's backwards-compatibility rule); ``"type": "sse"`` goes there directly.

Afterwards: ``notifications/tools/list_changed`` (and ``prompts/``) re-list and call ``on_change``;
``notifications/message`` lines go to the diagnostics; a server that exits or drops the connection
turns ``failed`` and its pending calls fail at once. The next call after such a failure reconnects
(at most ``MAX_RECONNECTS`` times), and an expired HTTP session is re-initialized and the call
retried once — so a crash fails one call, not the rest of the session.

Timeouts: ``connect_timeout`` bounds the whole connection (spawn/connect, handshake, listing);
tool calls use the entry's ``timeout`` (seconds), else ``MCP_TOOL_TIMEOUT``/``CLAW_MCP_TOOL_TIMEOUT``
(milliseconds), else ``DEFAULT_TOOL_TIMEOUT``; progress notifications restart that clock. Other
requests (lists, resource reads, prompts) wait at most ``min(tool timeout, 60 s)``.

Deliberately not here: turning tools into claw tools (``claw.mcp.tools``), choosing which servers
run and the start-up wait (``claw.mcp.manager``).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from claw.errors import ToolFailure
from claw.mcp.config import ServerEntry
from claw.mcp.rpc import RpcError, RpcSession
from claw.mcp.transport import Transport, mcp_error
from claw.proto.jsonrpc import METHOD_NOT_FOUND

LATEST_VERSION = "2025-11-25"
SUPPORTED_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
HEADER_VERSIONS = ("2025-11-25", "2025-06-18")  # versions that send MCP-Protocol-Version over HTTP

PENDING = "pending"
CONNECTED = "connected"
FAILED = "failed"
NEEDS_AUTH = "needs-auth"

DEFAULT_CONNECT_TIMEOUT = 30.0
DEFAULT_TOOL_TIMEOUT = 600.0
LIST_TIMEOUT = 60.0
MAX_PAGES = 100
MAX_RECONNECTS = 3

ProgressHandler = Callable[["ProgressUpdate"], None]


class ProgressUpdate:
    """One ``notifications/progress`` of a tool call, for the REPL's display."""

    __slots__ = ("server", "tool", "progress", "total", "message")

    def __init__(self, server: str, tool: str, progress: float, total: Optional[float],
                 message: Optional[str]) -> None:
        self.server = server
        self.tool = tool
        self.progress = progress
        self.total = total
        self.message = message

    def __repr__(self) -> str:
        return (f"ProgressUpdate({self.server!r}, {self.tool!r}, {self.progress!r}, {self.total!r}, "
                f"{self.message!r})")


def seconds_from_env(env: Mapping[str, str], names: Sequence[str]) -> Optional[float]:
    """The first of ``names`` set to a positive number of milliseconds, as seconds; None if none is."""
    for name in names:
        raw = (env.get(name) or "").strip()
        if raw:
            try:
                value = float(raw) / 1000.0
            except ValueError:
                continue
            if value > 0:
                return value
    return None


def tool_timeout_from_env(env: Mapping[str, str]) -> Optional[float]:
    """``MCP_TOOL_TIMEOUT`` / ``CLAW_MCP_TOOL_TIMEOUT`` in milliseconds, as seconds."""
    return seconds_from_env(env, ("CLAW_MCP_TOOL_TIMEOUT", "MCP_TOOL_TIMEOUT"))


def file_uri(path: str) -> str:
    from pathlib import Path

    return Path(path).resolve().as_uri()


class McpServer:
    def __init__(self, entry: ServerEntry, *, env: Optional[Mapping[str, str]] = None, net_config: Any = None,
                 cwd: Optional[str] = None, roots: Sequence[str] = (),
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 on_change: Optional[Callable[["McpServer"], None]] = None,
                 on_progress: Optional[ProgressHandler] = None) -> None:
        self.entry = entry
        self.name = entry.name
        self.env = dict(os.environ if env is None else env)
        self.net_config = net_config
        self.cwd = cwd or os.getcwd()
        self.roots = list(roots) or [self.cwd]
        self.connect_timeout = connect_timeout
        self.on_change = on_change
        self.on_progress = on_progress
        config = entry.config
        configured = getattr(config, "timeout", None)
        self.tool_timeout: Optional[float] = configured or tool_timeout_from_env(self.env) or DEFAULT_TOOL_TIMEOUT
        self.status = PENDING if entry.error is None else FAILED
        self.error: Optional[str] = entry.error
        self.hint: Optional[str] = entry.hint
        self.transport: Optional[Transport] = None
        self.session: Optional[RpcSession] = None
        self.protocol_version: Optional[str] = None
        self.server_info: Dict[str, Any] = {}
        self.capabilities: Dict[str, Any] = {}
        self.instructions: Optional[str] = None
        self.tools: List[Dict[str, Any]] = []
        self.prompts: List[Dict[str, Any]] = []
        self.transport_used: Optional[str] = None  # "http", "sse" (after a fallback too), "stdio", "ws"
        self._ever_connected = False
        self._reconnects = 0
        self._connect_lock: Optional[asyncio.Lock] = None
        self._launched: Optional[asyncio.Event] = None
        self._refresh: Dict[str, "asyncio.Task[None]"] = {}
        self._refresh_again: Dict[str, bool] = {}
        self._closing = False

    # -- connection ------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect, bounded by ``connect_timeout``; sets ``status`` (see the module docstring)."""
        if self.entry.config is None:
            self.status, self.error = FAILED, self.entry.error
            return
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        launched = self.launched_event()
        async with self._connect_lock:
            if self.status == CONNECTED or self._closing:
                launched.set()
                return
            self.status, self.error, self.hint = PENDING, None, None
            try:
                await asyncio.wait_for(self._connect_once(), self.connect_timeout)
            except asyncio.TimeoutError:
                await self._teardown(graceful=False)
                self._fail(mcp_error(f"no answer within {self.connect_timeout:g}s while connecting",
                                     "mcp_timeout", hint=self._diagnostic_hint()
                                     or "the server did not finish its handshake; is it an MCP server?"))
            except ToolFailure as exc:
                await self._teardown(graceful=False)
                self._fail(exc)
            except asyncio.CancelledError:
                await asyncio.shield(self._teardown(graceful=False))
                raise
            except Exception as exc:  # noqa: BLE001 - a server must never break the session
                await self._teardown(graceful=False)
                self._fail(mcp_error(f"{type(exc).__name__}: {exc}", "mcp_start"))
            else:
                self.status = CONNECTED
                self._ever_connected = True
            finally:
                launched.set()
        self._notify_change()

    def launched_event(self) -> asyncio.Event:
        """Set once the server process (or connection) is started and ``initialize`` is on its way,
        or the attempt is over: the manager's ``launch`` waits for it."""
        if self._launched is None:
            self._launched = asyncio.Event()
        return self._launched

    def _notify_change(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change(self)
            except Exception:  # noqa: BLE001 - a listener bug must not fail the connection
                pass

    async def _connect_once(self) -> None:
        config = self.entry.config
        kind = config.transport
        if kind == "http":
            try:
                await self._start(self._make_transport("http"))
                return
            except ToolFailure as exc:
                status = exc.status or 0
                if exc.kind != "mcp_http" or not 400 <= status < 500:
                    raise
                first = exc
            await self._teardown()
            try:
                await self._start(self._make_transport("sse"))
            except ToolFailure as exc:
                if exc.kind == "mcp_needs_auth":
                    raise
                raise mcp_error(f"{first.message}; as a legacy SSE server: {exc.message}", "mcp_http",
                                status=first.status, hint=first.hint) from None
            return
        await self._start(self._make_transport(kind))

    def _make_transport(self, kind: str) -> Transport:
        config = self.entry.config
        if kind == "stdio":
            from claw.mcp.stdio import StdioTransport, server_env

            return StdioTransport(config.command, config.args, env=server_env(self.env, config.env),
                                  cwd=config.cwd, name=self.name)
        if kind == "http":
            from claw.mcp.streamable_http import StreamableHttpTransport

            return StreamableHttpTransport(config.url, config.headers, self._net())
        if kind == "sse":
            from claw.mcp.legacy_sse import LegacySseTransport

            return LegacySseTransport(config.url, config.headers, self._net(), endpoint_timeout=self.connect_timeout)
        if kind == "ws":
            from claw.mcp.websocket import WebSocketTransport

            return WebSocketTransport(config.url, config.headers, self._net(), connect_timeout=self.connect_timeout)
        raise mcp_error(f"unknown transport {kind!r}", "mcp_start")

    def _net(self) -> Any:
        if self.net_config is None:
            from claw.net.config import NetConfig

            self.net_config = NetConfig.from_env(self.env)
        return self.net_config

    async def _start(self, transport: Transport) -> None:
        from claw import __version__

        self.transport = transport
        self.transport_used = transport.kind
        session = RpcSession(transport, request_handler=self._server_request,
                             notification_handler=self._notification)
        self.session = session
        on_closed = transport.on_closed

        def closed(error: ToolFailure) -> None:
            on_closed(error)
            self._on_closed(transport, error)

        transport.on_closed = closed
        await transport.start()
        initialize = asyncio.ensure_future(session.request("initialize", {
            "protocolVersion": LATEST_VERSION,
            "capabilities": {"roots": {"listChanged": False}},
            "clientInfo": {"name": "claw", "version": __version__},
        }, cancellable=False))
        await asyncio.sleep(0)  # let the request go out before signalling the launch
        self.launched_event().set()
        result = await initialize
        if not isinstance(result, dict):
            raise mcp_error("initialize: the answer is not an object", "mcp_protocol")
        version = result.get("protocolVersion")
        if version not in SUPPORTED_VERSIONS:
            raise mcp_error(f"the server speaks MCP protocol version {version!r}; claw supports "
                            + ", ".join(SUPPORTED_VERSIONS), "mcp_protocol",
                            hint="upgrade claw or use a server release that speaks one of these")
        self.protocol_version = version
        if version in HEADER_VERSIONS:
            transport.protocol_version = version
        info = result.get("serverInfo")
        self.server_info = dict(info) if isinstance(info, dict) else {}
        caps = result.get("capabilities")
        self.capabilities = dict(caps) if isinstance(caps, dict) else {}
        instructions = result.get("instructions")
        self.instructions = instructions if isinstance(instructions, str) else None
        await session.notify("notifications/initialized")
        await transport.after_initialized()
        self.tools = await self._list_tools() if "tools" in self.capabilities else []
        self.prompts = []
        if "prompts" in self.capabilities:
            try:
                self.prompts = await self._list_prompts()
            except ToolFailure as exc:  # prompts are a convenience; tools still work
                transport.diagnostics.note(f"[claw] prompts/list failed: {exc.message}")

    def _on_closed(self, transport: Transport, error: ToolFailure) -> None:
        if transport is not self.transport or self._closing:
            return
        if self.status == CONNECTED:
            self.status, self.error, self.hint = FAILED, error.message, error.hint
            self._notify_change()

    def _fail(self, exc: ToolFailure) -> None:
        self.status = NEEDS_AUTH if exc.kind == "mcp_needs_auth" else FAILED
        self.error = exc.message
        self.hint = exc.hint or self._diagnostic_hint()

    def _diagnostic_hint(self) -> Optional[str]:
        tail = self.transport.diagnostics.tail(3) if self.transport is not None else ""
        return f"its stderr ends with: {tail}" if tail else None

    async def _teardown(self, graceful: bool = True) -> None:
        transport, session = self.transport, self.session
        for task in self._refresh.values():
            task.cancel()
        self._refresh.clear()
        if session is not None:
            await session.aclose()
        if transport is not None:
            try:
                await transport.close(graceful=graceful)
            except Exception:  # noqa: BLE001
                pass

    async def aclose(self) -> None:
        """Shut the server down. One that never finished its handshake is stopped at once (it has
        nothing to save); a connected one gets the polite sequence first."""
        graceful = self.status == CONNECTED
        self._closing = True
        await self._teardown(graceful=graceful)

    async def _ready(self) -> RpcSession:
        """The live session; reconnects a server that failed after having worked."""
        if self.status != CONNECTED and self._ever_connected and not self._closing \
                and self._reconnects < MAX_RECONNECTS and self.entry.config is not None:
            self._reconnects += 1
            await self._teardown(graceful=False)
            await self.connect()
        if self.status != CONNECTED or self.session is None:
            raise mcp_error(f"MCP server {self.name!r} is not connected ({self.status}"
                            + (f": {self.error}" if self.error else "") + ")", "mcp_closed", hint=self.hint)
        return self.session

    async def _request(self, method: str, params: Optional[Dict[str, Any]], *, timeout: Optional[float],
                       on_progress: Any = None) -> Any:
        session = await self._ready()
        try:
            return await session.request(method, params, timeout=timeout, on_progress=on_progress)
        except ToolFailure as exc:
            if exc.kind != "mcp_session_expired" or self._closing:
                raise
        self.status = FAILED  # the server ended the HTTP session: initialize a new one, once
        self.error = "the server ended the MCP session"
        session = await self._ready()
        return await session.request(method, params, timeout=timeout, on_progress=on_progress)

    # -- requests ----------------------------------------------------------------------------------

    def _list_timeout(self) -> float:
        return min(self.tool_timeout or LIST_TIMEOUT, LIST_TIMEOUT)

    async def _list_all(self, session: RpcSession, method: str, key: str) -> List[Dict[str, Any]]:
        items: List[Dict[str, Any]] = []
        cursor: Optional[str] = None
        seen = set()
        for _ in range(MAX_PAGES):
            page = await session.request(method, {"cursor": cursor} if cursor else None,
                                         timeout=self._list_timeout())
            if not isinstance(page, dict):
                raise mcp_error(f"{method}: the answer is not an object", "mcp_protocol")
            listed = page.get(key)
            for item in listed if isinstance(listed, list) else []:
                if isinstance(item, dict) and isinstance(item.get("name" if key != "resources" else "uri"), str):
                    items.append(item)
                elif self.transport is not None:
                    self.transport.diagnostics.note(f"[claw] {method}: skipped a malformed entry")
            cursor = page.get("nextCursor")
            if not isinstance(cursor, str) or not cursor or cursor in seen:
                break
            seen.add(cursor)
        return items

    async def _list_tools(self) -> List[Dict[str, Any]]:
        assert self.session is not None
        return await self._list_all(self.session, "tools/list", "tools")

    async def _list_prompts(self) -> List[Dict[str, Any]]:
        assert self.session is not None
        return await self._list_all(self.session, "prompts/list", "prompts")

    async def call_tool(self, tool: str, arguments: Dict[str, Any], *,
                        meta: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """``tools/call``; the ``CallToolResult`` (``isError`` included), or ToolFailure."""
        params: Dict[str, Any] = {"name": tool, "arguments": arguments}
        if meta:
            params["_meta"] = dict(meta)
        on_progress = None
        if self.on_progress is not None:
            handler = self.on_progress

            def on_progress(progress: float, total: Optional[float], message: Optional[str]) -> None:
                handler(ProgressUpdate(self.name, tool, progress, total, message))

        result = await self._request("tools/call", params, timeout=self.tool_timeout, on_progress=on_progress)
        if not isinstance(result, dict):
            raise mcp_error("tools/call: the answer is not an object", "mcp_protocol")
        return result

    async def list_resources(self) -> List[Dict[str, Any]]:
        session = await self._ready()
        if "resources" not in self.capabilities:
            return []
        return await self._list_all(session, "resources/list", "resources")

    async def read_resource(self, uri: str) -> Dict[str, Any]:
        result = await self._request("resources/read", {"uri": uri}, timeout=self._list_timeout())
        if not isinstance(result, dict):
            raise mcp_error("resources/read: the answer is not an object", "mcp_protocol")
        return result

    async def get_prompt(self, name: str, arguments: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
        params: Dict[str, Any] = {"name": name}
        if arguments:
            params["arguments"] = arguments
        result = await self._request("prompts/get", params, timeout=self._list_timeout())
        if not isinstance(result, dict):
            raise mcp_error("prompts/get: the answer is not an object", "mcp_protocol")
        return result

    async def ping(self) -> None:
        await self._request("ping", None, timeout=self._list_timeout())

    # -- from the server ---------------------------------------------------------------------------

    async def _server_request(self, method: str, params: Any) -> Any:
        if method == "roots/list":
            return {"roots": [{"uri": file_uri(root), "name": os.path.basename(root.rstrip(os.sep)) or root}
                              for root in self.roots]}
        raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method} (claw does not offer it)")

    def _notification(self, method: str, params: Any) -> None:
        if method == "notifications/tools/list_changed":
            self._schedule_refresh("tools")
        elif method == "notifications/prompts/list_changed":
            self._schedule_refresh("prompts")
        elif method == "notifications/message" and isinstance(params, dict) and self.transport is not None:
            level = params.get("level", "info")
            logger = params.get("logger")
            data = params.get("data")
            text = data if isinstance(data, str) else repr(data)
            self.transport.diagnostics.note(f"[{level}]" + (f" {logger}:" if logger else "") + f" {text}")

    def _schedule_refresh(self, what: str) -> None:
        if self.status != CONNECTED:
            return
        running = self._refresh.get(what)
        if running is not None and not running.done():
            self._refresh_again[what] = True
            return
        self._refresh[what] = asyncio.ensure_future(self._refresh_list(what))

    async def _refresh_list(self, what: str) -> None:
        while True:
            self._refresh_again[what] = False
            try:
                if what == "tools":
                    self.tools = await self._list_tools()
                else:
                    self.prompts = await self._list_prompts()
            except ToolFailure as exc:
                if self.transport is not None:
                    self.transport.diagnostics.note(f"[claw] re-listing {what} failed: {exc.message}")
                return
            self._notify_change()
            if not self._refresh_again.get(what):
                return

    # -- reporting ---------------------------------------------------------------------------------

    def diagnostics(self) -> str:
        return self.transport.diagnostics.text() if self.transport is not None else ""

    def status_entry(self, *, detail: bool = True) -> Dict[str, Any]:
        """The server as stream-json ``system/init`` (``detail=False``: name and status) and the SDK's
        ``mcp_status`` (``McpServerStatus``: serverInfo, error, config, scope, tools) describe it."""
        entry: Dict[str, Any] = {"name": self.name, "status": self.status}
        if not detail:
            return entry
        from claw.mcp.results import tool_annotations

        if self.server_info:
            entry["serverInfo"] = {"name": str(self.server_info.get("name", "")),
                                   "version": str(self.server_info.get("version", ""))}
        if self.error:
            entry["error"] = self.error
        entry["config"] = public_config(self.entry)
        entry["scope"] = self.entry.scope
        if self.status == CONNECTED:
            tools = []
            for tool in self.tools:
                item: Dict[str, Any] = {"name": tool["name"]}
                if isinstance(tool.get("description"), str):
                    item["description"] = tool["description"]
                annotations = tool_annotations(tool)
                if annotations:
                    item["annotations"] = annotations
                tools.append(item)
            entry["tools"] = tools
        return entry


def public_config(entry: ServerEntry) -> Dict[str, Any]:
    """The parts of a server's config that are safe to show (no env values, no header values)."""
    out: Dict[str, Any] = {"type": entry.transport}
    raw = entry.raw if isinstance(entry.raw, Mapping) else {}
    if "command" in raw:
        out["command"] = raw.get("command")
        if isinstance(raw.get("args"), list):
            out["args"] = list(raw["args"])
    elif "url" in raw:
        out["url"] = raw.get("url")
    return out
