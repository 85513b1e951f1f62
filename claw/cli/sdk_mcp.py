"""MCP servers that live inside the embedding host (``"type": "sdk"`` entries of ``--mcp-config``).

The Claude Agent SDK runs such servers in its own process (``create_sdk_mcp_server``) and passes only
their names to the CLI. claw reaches them with JSON-RPC carried in ``mcp_message`` control requests:
``initialize``, ``notifications/initialized`` and ``tools/list`` (every page) when the session starts,
then ``tools/call`` for each call the model makes. Each tool becomes a claw tool named
``mcp__<server>__<tool>`` (characters outside ``[A-Za-z0-9_-]`` replaced by ``_``), so permissions,
hooks and the result object treat it like any other tool.

A server that does not answer, answers with an error, or lists nothing is reported (status
``failed`` with the reason) and the session goes on without it.

Deliberately not here: MCP servers claw starts or connects to itself (stdio, HTTP, WebSocket — those
are claw.mcp), and the control-request plumbing (claw.cli.control).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Set

from claw import __version__
from claw.errors import ClawError, UsageError

if TYPE_CHECKING:
    from claw.runtime.run import Run

MCP_PROTOCOL_VERSION = "2025-06-18"
CONNECT_TIMEOUT = 30.0  # seconds for the whole handshake and listing of one server
MAX_LIST_PAGES = 100
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def sdk_server_names(mcp_config_values: List[str]) -> List[str]:
    """Names of the ``"type": "sdk"`` servers in ``--mcp-config`` values (each a file path or a JSON
    text with an ``mcpServers`` object, as Claude Code takes them). Other server types are left to
    claw.mcp. Raises UsageError for a value that cannot be read."""
    names: List[str] = []
    for value in mcp_config_values:
        data = _load_config(value)
        servers = data.get("mcpServers", {}) if isinstance(data, dict) else None
        if not isinstance(servers, dict):
            raise UsageError(f"--mcp-config {_clip(value)}: expected an object with \"mcpServers\"",
                             hint='e.g. {"mcpServers": {"name": {"type": "sdk", "name": "name"}}}')
        for name, entry in servers.items():
            if isinstance(entry, dict) and entry.get("type") == "sdk" and name not in names:
                names.append(str(name))
    return names


def _load_config(value: str) -> Any:
    text = value.strip()
    if not text.startswith("{"):
        try:
            text = Path(value).expanduser().read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise UsageError(f"cannot read --mcp-config {value!r}: {exc.strerror or exc}",
                             hint="pass a readable JSON file or the JSON text itself") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--mcp-config {_clip(value)} is not valid JSON: {exc}") from None


def _clip(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def tool_name(server: str, tool: str) -> str:
    return f"mcp__{_NAME_UNSAFE.sub('_', server)}__{_NAME_UNSAFE.sub('_', tool)}"


@dataclass
class SdkMcpServer:
    """One SDK-hosted server: its handshake state and the tools it listed."""

    name: str
    channel: Any  # claw.cli.control.ControlChannel
    status: str = "pending"  # pending | connected | failed
    error: Optional[str] = None
    server_info: Dict[str, Any] = field(default_factory=dict)
    tools: List[Dict[str, Any]] = field(default_factory=list)  # MCP tool definitions, as listed
    _next_id: int = 0

    async def connect(self) -> None:
        """Handshake and list the tools; on failure ``status`` is ``failed`` and ``error`` says why."""
        try:
            init = await self.rpc("initialize", {
                "protocolVersion": MCP_PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "claw", "version": __version__},
            })
            info = init.get("serverInfo")
            self.server_info = info if isinstance(info, dict) else {}
            await self.notify("notifications/initialized")
            tools: List[Dict[str, Any]] = []
            cursor: Optional[str] = None
            for _ in range(MAX_LIST_PAGES):
                page = await self.rpc("tools/list", {"cursor": cursor} if cursor else None)
                listed = page.get("tools")
                if isinstance(listed, list):
                    tools.extend(t for t in listed if isinstance(t, dict) and isinstance(t.get("name"), str))
                cursor = page.get("nextCursor")
                if not isinstance(cursor, str) or not cursor:
                    break
            self.tools = tools
            self.status = "connected"
        except ClawError as exc:
            self.status, self.error = "failed", exc.message

    async def rpc(self, method: str, params: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """One JSON-RPC request to the server; its ``result``, or ClawError for an error answer."""
        self._next_id += 1
        message: Dict[str, Any] = {"jsonrpc": "2.0", "id": self._next_id, "method": method}
        if params is not None:
            message["params"] = params
        answer = await self.channel.request("mcp_message", {"server_name": self.name, "message": message})
        reply = answer.get("mcp_response")
        if not isinstance(reply, dict):
            raise ClawError(f"MCP server {self.name!r} sent no JSON-RPC answer to {method}", kind="mcp_protocol")
        error = reply.get("error")
        if error is not None:
            text = error.get("message") if isinstance(error, dict) else str(error)
            code = error.get("code") if isinstance(error, dict) else None
            raise ClawError(f"MCP server {self.name!r}: {method} failed: {text}"
                            + (f" (code {code})" if code is not None else ""), kind="mcp_error")
        result = reply.get("result")
        return result if isinstance(result, dict) else {}

    async def notify(self, method: str, params: Optional[Dict[str, Any]] = None) -> None:
        message: Dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self.channel.request("mcp_message", {"server_name": self.name, "message": message})

    async def call_tool(self, tool: str, arguments: Dict[str, Any], tool_use_id: Optional[str] = None
                        ) -> Dict[str, Any]:
        params: Dict[str, Any] = {"name": tool, "arguments": arguments}
        if tool_use_id:
            params["_meta"] = {"claudecode/toolUseId": tool_use_id}
        return await self.rpc("tools/call", params)

    def status_entry(self) -> Dict[str, Any]:
        """The server as ``system/init`` and ``mcp_status`` describe it."""
        entry: Dict[str, Any] = {"name": self.name, "status": self.status, "source": "sdk"}
        if self.server_info:
            entry["serverInfo"] = self.server_info
        if self.error:
            entry["error"] = self.error
        if self.status == "connected":
            entry["tools"] = [{"name": t["name"], **({"description": t["description"]}
                                                      if isinstance(t.get("description"), str) else {})}
                              for t in self.tools]
        return entry


def result_text(result: Dict[str, Any]) -> str:
    """An MCP ``CallToolResult`` as the text the model reads."""
    parts: List[str] = []
    content = result.get("content")
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind in ("image", "audio"):
            parts.append(f"[{kind} content: {block.get('mimeType', 'unknown type')}, not shown]")
        elif kind == "resource":
            resource = block.get("resource") if isinstance(block.get("resource"), dict) else {}
            if isinstance(resource.get("text"), str):
                parts.append(resource["text"])
            else:
                parts.append(f"[resource {resource.get('uri', '')}]")
        elif kind == "resource_link":
            parts.append(f"[resource link {block.get('uri', '')}]")
        else:
            parts.append(json.dumps(block, ensure_ascii=False))
    if not parts and result.get("structuredContent") is not None:
        parts.append(json.dumps(result["structuredContent"], ensure_ascii=False))
    return "\n".join(parts)


def result_content(result: Dict[str, Any]) -> Any:
    """``result_text``, followed by the result's images as image blocks when it has any."""
    from claw.mcp.results import image_block

    content = result.get("content") if isinstance(result.get("content"), list) else []
    images = [image_block(b) for b in content]
    if not any(images):
        return result_text(result)
    text = result_text(dict(result, content=[b for b, i in zip(content, images) if i is None]))
    return [{"type": "text", "text": text}] + [i for i in images if i]


class SdkMcpTool:
    """One tool of an SDK MCP server, as a claw tool (claw.tools.base interface): the model sees it as
    ``mcp__<server>__<tool>``; a call is ``tools/call`` through the host.

    It needs full access unless the server marks it ``readOnlyHint`` (the host wrote these tools and
    vouches for the hint), so in the asking modes the host's ``can_use_tool`` decides, as with Claude
    Code. Input checks are left to the server, except that required properties must be present.
    """

    def __init__(self, server: SdkMcpServer, definition: Dict[str, Any]) -> None:
        from claw.tools.base import PermissionLevel, ToolSpec

        self.server = server
        self.tool = str(definition["name"])
        schema = definition.get("inputSchema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            schema = {"type": "object", "properties": {}}
        annotations = definition.get("annotations") if isinstance(definition.get("annotations"), dict) else {}
        read_only = annotations.get("readOnlyHint") is True
        description = definition.get("description")
        self.spec = ToolSpec(
            name=tool_name(server.name, self.tool),
            description=description if isinstance(description, str) and description else
            f"{self.tool} (from the {server.name} MCP server)",
            input_schema=schema,
            permission=PermissionLevel.READ_ONLY if read_only else PermissionLevel.DANGER_FULL_ACCESS,
            read_only=read_only,
        )

    @property
    def name(self) -> str:
        return self.spec.name

    def validate(self, tool_input: Any) -> Dict[str, Any]:
        from claw.tools.base import ToolInputError

        if not isinstance(tool_input, dict):
            raise ToolInputError("input must be a JSON object")
        required = self.spec.input_schema.get("required")
        missing = [k for k in required if isinstance(k, str) and k not in tool_input] \
            if isinstance(required, list) else []
        if missing:
            raise ToolInputError(f"missing required {'property' if len(missing) == 1 else 'properties'}: "
                                 + ", ".join(missing))
        return dict(tool_input)

    def target_paths(self, tool_input: Any, cwd: Any = None) -> List[Any]:
        return []

    async def run(self, tool_input: Dict[str, Any], ctx: Any) -> Any:
        from claw.tools.base import ToolResult

        try:
            result = await self.server.call_tool(self.tool, tool_input)
        except ClawError as exc:
            return ToolResult.error(f"{self.spec.name} failed: {exc.message}")
        return ToolResult(content=result_content(result), is_error=result.get("isError") is True,
                          metadata={"mcp_server": self.server.name, "mcp_tool": self.tool})


async def connect_sdk_servers(names: List[str], channel: Any, run: "Run", *, disallowed: Set[str],
                              warn: Callable[[str], None]) -> List[SdkMcpServer]:
    """Connect the host's servers ``names`` through ``channel`` (each bounded by CONNECT_TIMEOUT) and
    add their tools to ``run`` (none that ``--disallowedTools`` names, by tool or by server); their
    statuses replace any earlier entry of the same name in ``run.info.mcp_servers``."""
    import asyncio

    servers = [SdkMcpServer(name, channel) for name in names]

    async def connect(server: SdkMcpServer) -> None:
        try:
            await asyncio.wait_for(server.connect(), CONNECT_TIMEOUT)
        except asyncio.TimeoutError:
            server.status, server.error = "failed", f"no answer within {CONNECT_TIMEOUT:g}s"

    await asyncio.gather(*(connect(s) for s in servers))
    for server in servers:
        if server.status != "connected":
            warn(f"SDK MCP server {server.name!r} is not available: {server.error}")
            continue
        tools: Dict[str, Any] = {}
        for definition in server.tools:
            tool = SdkMcpTool(server, definition)
            name = tool.spec.name
            if name in disallowed or f"mcp__{server.name}" in disallowed:
                continue
            if name in tools or name in run.tools.tools:
                warn(f"SDK MCP tool {name!r} is listed twice; keeping the first")
                continue
            tools[name] = tool
        run.add_tools(tools)
    names_now = {s.name for s in servers}
    run.info.mcp_servers = [m for m in run.info.mcp_servers if m.get("name") not in names_now] + [
        {"name": s.name, "status": s.status} for s in servers]
    return servers
