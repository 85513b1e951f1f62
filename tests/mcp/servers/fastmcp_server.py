"""A test MCP server built with the ``mcp`` package's MCPServer (FastMCP in mcp 1.x).

    python -m tests.mcp.servers.fastmcp_server stdio
    python -m tests.mcp.servers.fastmcp_server streamable-http PORT [--event-store] [--json-response]
    python -m tests.mcp.servers.fastmcp_server sse PORT

Tools: echo, add (structured output), fail (raises: isError), slow (progress; writes "cancelled" to
``marker`` when cancelled), stall (no progress; same marker), crash (the process exits mid-call), picture (an image block), lookup
(read-only annotation), grow (registers the tool ``late`` and sends tools/list_changed), poll
(closes its SSE stream mid-call: the client must resume with Last-Event-ID; needs --event-store).
A resource ``memo://hello`` and a prompt ``review(code, style?)``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import List, Optional

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ImageContent, TextContent, ToolAnnotations

server = MCPServer("claw-test", version="1.0")


@server.tool(description="Echo the text back")
def echo(text: str) -> str:
    return f"echo: {text}"


@server.tool(description="Add two integers")
def add(a: int, b: int) -> int:
    return a + b


@server.tool(description="Always fails")
def fail(message: str) -> str:
    raise ToolError(f"failed on purpose: {message}")


@server.tool(description="Sleep, reporting progress")
async def slow(seconds: float, ctx: Context, marker: str = "") -> str:
    steps = max(1, int(seconds / 0.1))
    try:
        for i in range(steps):
            await ctx.report_progress(i + 1, steps, f"step {i + 1}")
            await asyncio.sleep(seconds / steps)
    except BaseException:
        if marker:
            with open(marker, "w") as fh:
                fh.write("cancelled")
        raise
    return f"slept {seconds}"


@server.tool(description="Sleep without reporting progress")
async def stall(seconds: float, marker: str = "") -> str:
    try:
        await asyncio.sleep(seconds)
    except BaseException:
        if marker:
            with open(marker, "w") as fh:
                fh.write("cancelled")
        raise
    return "stalled"


@server.tool(description="Exit the server process in the middle of the call")
def crash() -> str:
    sys.stderr.write("about to crash on purpose\n")
    sys.stderr.flush()
    os._exit(3)


@server.tool(description="A tiny picture")
def picture() -> List:
    return [TextContent(type="text", text="here it is"),
            ImageContent(type="image", data="iVBORw0KGgo=", mime_type="image/png")]


@server.tool(description="Look something up", annotations=ToolAnnotations(read_only_hint=True))
def lookup(key: str) -> str:
    return f"value of {key}"


@server.tool(description="Register the tool 'late' and announce it")
async def grow(ctx: Context) -> str:
    def late(x: str) -> str:
        return f"late {x}"

    server.add_tool(late, name="late", description="Added at run time")
    await ctx.session.send_tool_list_changed()
    return "grown"


@server.tool(description="Close the SSE stream mid-call, then answer")
async def poll(ctx: Context) -> str:
    await ctx.report_progress(1, 2, "before the break")
    await ctx.close_sse_stream()
    await asyncio.sleep(0.3)
    return "answered after the reconnect"


@server.resource("memo://hello", name="hello", description="A greeting", mime_type="text/plain")
def hello() -> str:
    return "hello resource"


@server.prompt(description="Review some code")
def review(code: str, style: Optional[str] = None) -> str:
    return f"Please review this code{' in ' + style + ' style' if style else ''}:\n{code}"


class MemoryEventStore:
    """The smallest EventStore: every event kept, replayed after an id."""

    def __init__(self) -> None:
        self.events = []  # (event_id, stream_id, message)

    async def store_event(self, stream_id, message):
        event_id = str(len(self.events) + 1)
        self.events.append((event_id, stream_id, message))
        return event_id

    async def replay_events_after(self, last_event_id, send_callback):
        from mcp.server.streamable_http import EventMessage

        index = next((i for i, e in enumerate(self.events) if e[0] == last_event_id), None)
        if index is None:
            return None
        stream_id = self.events[index][1]
        for event_id, sid, message in self.events[index + 1:]:
            if sid == stream_id and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream_id


def main(argv: List[str]) -> None:
    transport = argv[0] if argv else "stdio"
    if transport == "stdio":
        server.run("stdio")
        return
    port = int(argv[1])
    if transport == "sse":
        server.run("sse", host="127.0.0.1", port=port)
        return
    kwargs = {}
    if "--event-store" in argv:
        from mcp.server.streamable_http import EventStore

        EventStore.register(MemoryEventStore)
        kwargs["event_store"] = MemoryEventStore()
        kwargs["retry_interval"] = 100
    if "--json-response" in argv:
        kwargs["json_response"] = True
    server.run("streamable-http", host="127.0.0.1", port=port, **kwargs)


if __name__ == "__main__":
    main(sys.argv[1:])
