"""claw's MCP client against FastMCP servers from the ``mcp`` package over streamable HTTP (SSE and
JSON answers, SSE polling with Last-Event-ID) and legacy HTTP+SSE (chosen, and detected from a 4xx),
plus servers written here for 401, silence, and a real proxy (tinyproxy) in the path."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from claw.errors import ToolFailure
from claw.mcp.tools import McpTool
from claw.tools.base import ToolContext
from tests.fakes import tinyproxy as tinyproxy_module
from tests.mcp.helpers import REPO, HttpServerProcess, names, run, server, tool_text


@pytest.fixture(scope="module")
def streamable():
    process = HttpServerProcess("streamable-http")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def legacy():
    process = HttpServerProcess("sse")
    yield process
    process.stop()


def test_streamable_http_end_to_end(streamable, tmp_path):
    marker = str(tmp_path / "marker")

    async def main():
        updates, changes = [], []
        remote = server("remote", {"type": "http", "url": streamable.url, "timeout": 0.8},
                        on_progress=updates.append, on_change=changes.append)
        try:
            await remote.connect()
            assert remote.status == "connected", (remote.error, remote.diagnostics())
            assert remote.transport_used == "http" and remote.protocol_version == "2025-11-25"
            session_id = remote.transport.session_id
            assert session_id
            ctx = ToolContext(cwd=REPO)
            tools = {t["name"]: McpTool(remote, t) for t in remote.tools}
            assert (await tools["echo"].run({"text": "over http"}, ctx)).content == "echo: over http"
            failed = await tools["fail"].run({"message": "h"}, ctx)
            assert failed.is_error and "failed on purpose: h" in failed.content
            # progress over the POST's SSE stream keeps a call alive past the 0.8 s timeout
            assert tool_text(await remote.call_tool("slow", {"seconds": 1.5})) == "slept 1.5"
            assert updates and updates[-1].progress == updates[-1].total
            # interrupting a call tells the server, which cancels it
            call = asyncio.ensure_future(tools["slow"].run({"seconds": 30, "marker": marker}, ctx))
            await asyncio.sleep(0.5)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            for _ in range(100):
                if (tmp_path / "marker").exists():
                    break
                await asyncio.sleep(0.05)
            assert (tmp_path / "marker").read_text() == "cancelled"
            # no progress for longer than the timeout: the call fails and the server cancels it
            stalled = await tools["stall"].run({"seconds": 30, "marker": marker + "2"}, ctx)
            assert stalled.is_error and "no answer within 0.8s" in stalled.content
            for _ in range(100):
                if (tmp_path / "marker2").exists():
                    break
                await asyncio.sleep(0.05)
            assert (tmp_path / "marker2").read_text() == "cancelled"
            # list_changed reaches the client and the tools are re-listed
            assert tool_text(await remote.call_tool("grow", {})) == "grown"
            for _ in range(100):
                if "late" in names(remote.tools):
                    break
                await asyncio.sleep(0.05)
            assert "late" in names(remote.tools) and changes
            assert [r["uri"] for r in await remote.list_resources()] == ["memo://hello"]
            assert (await remote.get_prompt("review", {"code": "y"}))["messages"]
        finally:
            await remote.aclose()
        return session_id

    session_id = run(main())
    # the session was DELETEd on close: the server no longer knows it
    assert post_status(streamable.port, "/mcp", session_id) == 404


def post_status(port: int, path: str, session_id: str) -> int:
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1:" + str(port).encode()
                     + b"\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                     + b"Mcp-Session-Id: " + session_id.encode() + b"\r\nMCP-Protocol-Version: 2025-11-25\r\n"
                     + b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        head = sock.recv(4096).decode("latin-1")
    return int(head.split(" ")[1])


def test_json_responses_and_polling_resume():
    process = HttpServerProcess("streamable-http", "--event-store", "--json-response")
    polling = HttpServerProcess("streamable-http", "--event-store")
    try:
        async def main():
            plain = server("plain", {"type": "http", "url": process.url})
            poll = server("poll", {"type": "http", "url": polling.url})
            try:
                await asyncio.gather(plain.connect(), poll.connect())
                assert plain.status == "connected", plain.error
                assert tool_text(await plain.call_tool("echo", {"text": "json"})) == "echo: json"
                assert poll.status == "connected", poll.error
                # the server closes the SSE stream mid-call; the client resumes it with Last-Event-ID
                result = await poll.call_tool("poll", {})
                assert tool_text(result) == "answered after the reconnect"
                assert "resumed a response stream" in poll.diagnostics()
            finally:
                await asyncio.gather(plain.aclose(), poll.aclose())

        run(main())
    finally:
        process.stop()
        polling.stop()


def test_legacy_sse_chosen_and_detected(legacy):
    async def main():
        chosen = server("chosen", {"type": "sse", "url": legacy.url})
        detected = server("detected", {"type": "http", "url": legacy.url})
        try:
            await asyncio.gather(chosen.connect(), detected.connect())
            for remote in (chosen, detected):
                assert remote.status == "connected", (remote.name, remote.error)
                assert remote.transport_used == "sse"
                assert "echo" in names(remote.tools)
                assert tool_text(await remote.call_tool("echo", {"text": remote.name})) == f"echo: {remote.name}"
                failed = await remote.call_tool("fail", {"message": "s"})
                assert failed["isError"] is True
            assert (await chosen.read_resource("memo://hello"))["contents"][0]["text"] == "hello resource"
        finally:
            await asyncio.gather(chosen.aclose(), detected.aclose())

    run(main())


def test_crash_mid_call_over_http():
    process = HttpServerProcess("streamable-http")
    try:
        async def main():
            remote = server("remote", {"type": "http", "url": process.url})
            try:
                await remote.connect()
                assert remote.status == "connected", remote.error
                tool = McpTool(remote, next(t for t in remote.tools if t["name"] == "crash"))
                result = await tool.run({}, ToolContext(cwd=REPO))
                assert result.is_error and "remote" in result.content
                started = time.monotonic()
                with pytest.raises(ToolFailure):
                    await remote.call_tool("echo", {"text": "gone"})
                assert time.monotonic() - started < 10
            finally:
                await remote.aclose()

        run(main())
    finally:
        process.stop()


class _TokenHandler(BaseHTTPRequestHandler):
    """A minimal streamable-HTTP server answering with JSON bodies, behind a bearer token."""

    protocol_version = "HTTP/1.1"
    seen = []

    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", content_type="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._send(405)

    def do_DELETE(self):
        type(self).seen.append(("DELETE", self.headers.get("Mcp-Session-Id")))
        self._send(200)

    def do_POST(self):
        import json

        message = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((message.get("method"), self.headers.get("Mcp-Session-Id"),
                                self.headers.get("MCP-Protocol-Version"), self.headers.get("X-Team")))
        if self.headers.get("Authorization") != "Bearer s3cret":
            return self._send(401)
        if "id" not in message:
            return self._send(202)
        if message["method"] == "initialize":
            result = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                      "serverInfo": {"name": "token", "version": "1"}}
            headers = [("Mcp-Session-Id", "session-42")]
        elif message["method"] == "tools/list":
            result, headers = {"tools": [{"name": "whoami", "inputSchema": {"type": "object"}}]}, []
        else:
            result, headers = {"content": [{"type": "text", "text": "you"}]}, []
        body = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode()
        self._send(200, body, headers=headers)


def test_headers_with_expanded_variables_and_session_id():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _TokenHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/mcp"
    try:
        async def main():
            remote = server("token", {"type": "http", "url": url, "headers": {
                "Authorization": "Bearer ${MCP_TEST_TOKEN}", "X-Team": "${MCP_TEST_TEAM:-core}"}},
                env={"MCP_TEST_TOKEN": "s3cret"})
            wrong = server("wrong", {"type": "http", "url": url, "headers": {"Authorization": "Bearer nope"}})
            try:
                await asyncio.gather(remote.connect(), wrong.connect())
                assert remote.status == "connected", remote.error
                assert wrong.status == "needs-auth"
                assert tool_text(await remote.call_tool("whoami", {})) == "you"
            finally:
                await asyncio.gather(remote.aclose(), wrong.aclose())

        run(main())
    finally:
        httpd.shutdown()
        httpd.server_close()
    seen = _TokenHandler.seen
    assert ("initialize", None, None, "core") in seen
    assert ("notifications/initialized", "session-42", "2025-06-18", "core") in seen
    assert ("tools/call", "session-42", "2025-06-18", "core") in seen
    assert ("DELETE", "session-42") in seen


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _unauthorized(self):
        body = b'{"error":"invalid_token"}'
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Bearer resource_metadata="http://127.0.0.1/.well-known/x"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _unauthorized


def test_401_means_needs_auth():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/mcp"
    try:
        async def main():
            servers = [server("oauth", {"type": "http", "url": url}),
                       server("oauth-sse", {"type": "sse", "url": url})]
            await asyncio.gather(*(s.connect() for s in servers))
            return servers

        for remote in run(main()):
            assert remote.status == "needs-auth", (remote.name, remote.error)
            assert "HTTP 401" in remote.error and "advertises OAuth" in remote.error
            assert "headers" in remote.hint
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_silent_http_server_is_bounded():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        async def main():
            silent = [server("silent", {"type": "http", "url": f"http://127.0.0.1:{port}/mcp"}, connect_timeout=1.0),
                      server("silent-sse", {"type": "sse", "url": f"http://127.0.0.1:{port}/sse"},
                             connect_timeout=1.0)]
            started = time.monotonic()
            await asyncio.gather(*(s.connect() for s in silent))
            assert time.monotonic() - started < 8
            return silent

        for remote in run(main()):
            assert remote.status == "failed" and "no answer within 1s" in remote.error
    finally:
        listener.close()


@pytest.mark.peer
@pytest.mark.skipif(not tinyproxy_module.available(), reason="tinyproxy is not installed")
def test_http_server_through_a_real_proxy_and_no_proxy(streamable, tmp_path):
    from tests.fakes.tinyproxy import Tinyproxy

    with Tinyproxy(tmp_path) as proxy:
        async def main():
            via_proxy = server("viaproxy", {"type": "http", "url": streamable.url},
                               env={"HTTP_PROXY": proxy.url, "CLAW_PROXY_LOOPBACK": "1", "NO_PROXY": ""})
            # NO_PROXY wins over a proxy that does not even exist
            bypass = server("bypass", {"type": "http", "url": streamable.url},
                            env={"HTTP_PROXY": "http://127.0.0.1:9", "CLAW_PROXY_LOOPBACK": "1",
                                 "NO_PROXY": "127.0.0.1"})
            try:
                await asyncio.gather(via_proxy.connect(), bypass.connect())
                for remote in (via_proxy, bypass):
                    assert remote.status == "connected", (remote.name, remote.error)
                    assert tool_text(await remote.call_tool("echo", {"text": "p"})) == "echo: p"
            finally:
                await asyncio.gather(via_proxy.aclose(), bypass.aclose())

        run(main())
        log = proxy.log()
    assert f"127.0.0.1:{streamable.port}/mcp" in log
