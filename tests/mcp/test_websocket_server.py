"""claw's MCP client over WebSocket against a server written here with ``websockets``: the ``mcp``
subprotocol, initialize, tools/list, tools/call, an error result, a timeout with cancellation, a
server that drops the connection mid-call, one that never answers, and a refused (401) handshake."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.server import serve

from claw.errors import ToolFailure
from claw.mcp.tools import McpTool
from claw.tools.base import ToolContext
from tests.mcp.helpers import REPO, names, server

TOOLS = [{"name": "echo", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                                          "required": ["text"]}, "annotations": {"readOnlyHint": True}},
         {"name": "fail", "inputSchema": {"type": "object"}},
         {"name": "slow", "inputSchema": {"type": "object"}},
         {"name": "drop", "inputSchema": {"type": "object"}}]


class McpWsServer:
    """Serves MCP on ws://127.0.0.1:PORT/<mode>; records what it received."""

    def __init__(self):
        self.received = []
        self.subprotocols = []
        self.server = None

    async def handler(self, ws):
        self.subprotocols.append(ws.subprotocol)
        path = ws.request.path
        async for text in ws:
            message = json.loads(text)
            self.received.append(message)
            if path == "/silent" or "id" not in message:
                continue
            method = message.get("method")
            if method == "initialize":
                result = {"protocolVersion": message["params"]["protocolVersion"],
                          "capabilities": {"tools": {}}, "serverInfo": {"name": "ws-test", "version": "1"}}
            elif method == "tools/list":
                result = {"tools": TOOLS}
            elif method == "tools/call":
                name = message["params"]["name"]
                if name == "slow":
                    continue  # never answered: the client times out and cancels
                if name == "drop":
                    await ws.close(1011, "going away mid-call")
                    return
                if name == "fail":
                    result = {"content": [{"type": "text", "text": "bad input"}], "isError": True}
                else:
                    result = {"content": [{"type": "text", "text": message["params"]["arguments"]["text"]}]}
            else:
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": message["id"],
                                          "error": {"code": -32601, "message": "Method not found"}}))
                continue
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}))

    def process_request(self, connection, request):
        if request.path == "/private":
            return connection.respond(401, "sign in first\n")
        return None

    async def __aenter__(self):
        self.server = await serve(self.handler, "127.0.0.1", 0, subprotocols=["mcp"],
                                  process_request=self.process_request)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"


def test_websocket_server_end_to_end():
    async def main():
        async with McpWsServer() as ws_server:
            remote = server("wsserver", {"type": "ws", "url": ws_server.url("/mcp"), "timeout": 0.5})
            try:
                await remote.connect()
                assert remote.status == "connected", (remote.error, remote.diagnostics())
                assert ws_server.subprotocols == ["mcp"]
                assert names(remote.tools) == ["drop", "echo", "fail", "slow"]
                methods = [m.get("method") for m in ws_server.received]
                assert methods[:3] == ["initialize", "notifications/initialized", "tools/list"]
                assert ws_server.received[0]["params"]["clientInfo"]["name"] == "claw"
                ctx = ToolContext(cwd=REPO)
                tools = {t["name"]: McpTool(remote, t) for t in remote.tools}
                assert tools["echo"].spec.read_only
                assert (await tools["echo"].run({"text": "über ws"}, ctx)).content == "über ws"
                failed = await tools["fail"].run({}, ctx)
                assert failed.is_error and failed.content == "bad input"
                timed_out = await tools["slow"].run({}, ctx)
                assert timed_out.is_error and "no answer within 0.5s" in timed_out.content
                for _ in range(50):
                    if any(m.get("method") == "notifications/cancelled" for m in ws_server.received):
                        break
                    await asyncio.sleep(0.02)
                cancelled = [m for m in ws_server.received if m.get("method") == "notifications/cancelled"]
                assert cancelled and cancelled[0]["params"]["requestId"] == ws_server.received[-2]["id"]
                dropped = await tools["drop"].run({}, ctx)
                assert dropped.is_error and "1011" in dropped.content
                # the next call reconnects
                assert (await tools["echo"].run({"text": "again"}, ctx)).content == "again"
            finally:
                await remote.aclose()

    asyncio.run(main())


def test_websocket_silent_and_refused():
    async def main():
        async with McpWsServer() as ws_server:
            silent = server("silent", {"type": "ws", "url": ws_server.url("/silent")}, connect_timeout=1.0)
            private = server("private", {"type": "ws", "url": ws_server.url("/private")})
            started = time.monotonic()
            await asyncio.gather(silent.connect(), private.connect())
            assert time.monotonic() - started < 8
            assert silent.status == "failed" and "no answer within 1s" in silent.error
            assert private.status == "needs-auth" and "401" in private.error
            with pytest.raises(ToolFailure):
                await silent.call_tool("echo", {"text": "x"})
            await asyncio.gather(silent.aclose(), private.aclose())

    asyncio.run(main())
