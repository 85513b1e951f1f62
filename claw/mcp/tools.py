"""MCP tools as claw tools (the ``claw.tools.base`` interface), and the two resource tools.

Names: ``mcp__<server>__<tool>``, each part with characters outside ``[A-Za-z0-9_-]`` replaced by
``_`` (the Messages API's tool-name alphabet). A name longer than 64 characters is cut to 55 and
given ``_`` plus 8 hex digits of a hash of the full name, so two long names stay distinct and the
same tool always gets the same name. Permission rules and hook matchers see these names.

Permission levels, from the tool's annotations: ``readOnlyHint: true`` -> READ_ONLY (runs in every
mode, and concurrently with other read-only calls); anything else, ``destructiveHint`` or no hint ->
DANGER_FULL_ACCESS, so in ``default``/``workspace-write`` modes the user (or the embedding host) is
asked, as Claude Code asks for MCP tools, and ``read-only`` mode denies it. An MCP tool can do
anything its server can; claw cannot confine it to the workspace. ``--allowedTools mcp__server`` /
settings ``permissions.allow`` pre-approve them.

Input: the tool's ``inputSchema`` is what the model sees (a schema that is not an object schema is
replaced by an empty object schema); claw checks only that the input is an object with the
``required`` properties and leaves the rest to the server.

``list_mcp_resources`` (``{server?}``) and ``read_mcp_resource`` (``{server, uri}``) are Claude Code's
``ListMcpResourcesTool`` and ``ReadMcpResourceTool``: read-only, offered when at least one connected
server has the ``resources`` capability.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Dict, List, Mapping

from claw.errors import ClawError
from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolInputError, ToolResult, ToolSpec

MAX_NAME = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
LIST_RESOURCES = "list_mcp_resources"
READ_RESOURCE = "read_mcp_resource"


def safe_part(text: str) -> str:
    return _UNSAFE.sub("_", text)


def tool_name(server: str, tool: str) -> str:
    """``mcp__<server>__<tool>``, API-safe and at most 64 characters (see the module docstring)."""
    name = f"mcp__{safe_part(server)}__{safe_part(tool)}"
    if len(name) <= MAX_NAME:
        return name
    import hashlib

    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{name[:MAX_NAME - 9]}_{digest}"


def _object_schema(schema: Any) -> Dict[str, Any]:
    if isinstance(schema, dict) and schema.get("type") == "object":
        return schema
    return {"type": "object", "properties": {}}


def _required_present(schema: Mapping[str, Any], tool_input: Any) -> Dict[str, Any]:
    if not isinstance(tool_input, dict):
        raise ToolInputError("input must be a JSON object")
    required = schema.get("required")
    missing = [k for k in required if isinstance(k, str) and k not in tool_input] if isinstance(required, list) else []
    if missing:
        noun = "property" if len(missing) == 1 else "properties"
        raise ToolInputError(f"missing required {noun}: {', '.join(missing)}")
    return dict(tool_input)


async def _until_cancelled(ctx: ToolContext, work: "asyncio.Future[Any]") -> Any:
    """Await ``work``; cancel it when ``ctx.cancel`` (an asyncio.Event) is set first."""
    event = getattr(ctx, "cancel", None)
    if event is None or not hasattr(event, "wait"):
        return await work
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({work, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if work in done:
            return work.result()
        work.cancel()
        try:
            await work
        except (asyncio.CancelledError, Exception):
            pass
        raise asyncio.CancelledError()
    finally:
        waiter.cancel()
        if not work.done():
            work.cancel()


class McpTool(Tool):
    """One tool of a connected MCP server; a call is ``tools/call`` on that server."""

    def __init__(self, server: Any, definition: Mapping[str, Any]) -> None:
        self.server = server
        self.tool = str(definition["name"])
        self.definition = dict(definition)
        annotations = definition.get("annotations") if isinstance(definition.get("annotations"), dict) else {}
        read_only = annotations.get("readOnlyHint") is True
        description = definition.get("description")
        title = definition.get("title") or annotations.get("title")
        if not (isinstance(description, str) and description.strip()):
            description = f"{title or self.tool} (a tool of the {server.name} MCP server)"
        self.spec = ToolSpec(
            name=tool_name(server.name, self.tool),
            description=description,
            input_schema=_object_schema(definition.get("inputSchema")),
            permission=PermissionLevel.READ_ONLY if read_only else PermissionLevel.DANGER_FULL_ACCESS,
            read_only=read_only,
        )

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        return _required_present(self.spec.input_schema, tool_input)

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        from claw.mcp.results import tool_result_content

        call = asyncio.ensure_future(self.server.call_tool(self.tool, tool_input))
        try:
            result = await _until_cancelled(ctx, call)
        except ClawError as exc:
            hint = f" ({exc.hint})" if exc.hint else ""
            return ToolResult.error(f"MCP tool {self.tool!r} of server {self.server.name!r} failed: "
                                    f"{exc.message}{hint}", mcp_server=self.server.name, mcp_tool=self.tool)
        text, is_error = tool_result_content(result, getattr(ctx, "env", None))
        return ToolResult(content=text, is_error=is_error,
                          metadata={"mcp_server": self.server.name, "mcp_tool": self.tool})


class ListMcpResourcesTool(Tool):
    spec = ToolSpec(
        name=LIST_RESOURCES,
        description=("List the resources (files, documents, data) that the connected MCP servers offer. "
                     "Give `server` to list one server's resources. Read one with read_mcp_resource."),
        input_schema={"type": "object", "properties": {
            "server": {"type": "string", "description": "Only this MCP server's resources"}},
            "additionalProperties": False},
        permission=PermissionLevel.READ_ONLY,
        read_only=True,
    )

    def __init__(self, manager: Any) -> None:
        self.manager = manager

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        if not isinstance(tool_input, dict):
            raise ToolInputError("input must be a JSON object")
        server = tool_input.get("server")
        if server is not None and not isinstance(server, str):
            raise ToolInputError("server must be a string")
        return {"server": server} if server else {}

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        import json

        wanted = tool_input.get("server")
        servers = self.manager.resource_servers()
        if wanted is not None:
            servers = [s for s in servers if s.name == wanted]
            if not servers:
                names = ", ".join(s.name for s in self.manager.resource_servers()) or "none"
                return ToolResult.error(f"No connected MCP server {wanted!r} offers resources "
                                        f"(servers with resources: {names}).")
        listing: List[Dict[str, Any]] = []
        errors: List[str] = []
        for server in servers:
            try:
                resources = await server.list_resources()
            except ClawError as exc:
                errors.append(f"{server.name}: {exc.message}")
                continue
            for resource in resources:
                item = {"server": server.name, "uri": resource.get("uri"), "name": resource.get("name")}
                for key in ("title", "description", "mimeType", "size"):
                    if resource.get(key) is not None:
                        item[key] = resource[key]
                listing.append(item)
        text = json.dumps(listing, ensure_ascii=False, indent=1)
        if errors:
            text += "\n\nErrors: " + "; ".join(errors)
        return ToolResult(content=text, is_error=bool(errors) and not listing)


class ReadMcpResourceTool(Tool):
    spec = ToolSpec(
        name=READ_RESOURCE,
        description="Read one resource of an MCP server by its URI (see list_mcp_resources).",
        input_schema={"type": "object", "properties": {
            "server": {"type": "string", "description": "The MCP server's name"},
            "uri": {"type": "string", "description": "The resource URI"}},
            "required": ["server", "uri"], "additionalProperties": False},
        permission=PermissionLevel.READ_ONLY,
        read_only=True,
    )

    def __init__(self, manager: Any) -> None:
        self.manager = manager

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        clean = _required_present(self.spec.input_schema, tool_input)
        for key in ("server", "uri"):
            if not isinstance(clean.get(key), str) or not clean[key]:
                raise ToolInputError(f"{key} must be a non-empty string")
        return {"server": clean["server"], "uri": clean["uri"]}

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        from claw.mcp.results import limit_output, resource_text

        server = self.manager.server(tool_input["server"])
        if server is None:
            names = ", ".join(s.name for s in self.manager.resource_servers()) or "none"
            return ToolResult.error(f"No MCP server named {tool_input['server']!r} (servers with resources: "
                                    f"{names}).")
        try:
            result = await _until_cancelled(ctx, asyncio.ensure_future(server.read_resource(tool_input["uri"])))
        except ClawError as exc:
            return ToolResult.error(f"Reading {tool_input['uri']} from {server.name!r} failed: {exc.message}")
        contents = result.get("contents")
        parts = [resource_text(c) for c in contents if isinstance(c, dict)] if isinstance(contents, list) else []
        text = "\n".join(parts) if parts else "(the resource is empty)"
        return ToolResult(content=limit_output(text, getattr(ctx, "env", None)),
                          metadata={"mcp_server": server.name, "uri": tool_input["uri"]})
