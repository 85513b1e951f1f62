"""The pieces under the stream-json host loop, without a model: NDJSON stdio transport, control
request/response matching, and the SDK MCP client over a scripted host."""

from __future__ import annotations

import asyncio
import io
import json
import os

import pytest

from claw.cli.control import ControlChannel
from claw.cli.sdk_mcp import SdkMcpServer, result_content, result_text, sdk_server_names, tool_name
from claw.cli.transport import StdioTransport, encode_line
from claw.errors import ClawError, UsageError


class _ListTransport:
    """Collects what is written; the tests play the host."""

    def __init__(self) -> None:
        self.sent = []
        self.closed = False

    def write_nowait(self, obj):
        self.sent.append(json.loads(json.dumps(obj)))

    async def write(self, obj):
        self.write_nowait(obj)


# -- NDJSON lines ------------------------------------------------------------------------------------


def test_encode_line_is_one_utf8_json_line_even_with_newlines_and_surrogates():
    line = encode_line({"text": "a\nb\u2028c", "bad": "x\udcffy", "emoji": "🦀"})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    back = json.loads(line.decode("utf-8"))
    assert back["text"] == "a\nb\u2028c" and back["emoji"] == "🦀"
    assert back["bad"] == "x\udcffy"  # the lone surrogate survives as a JSON escape


def _read_all(data: bytes, chunks: int = 0):
    """Every read() result (objects, UsageErrors) until the end of input."""

    class Chunked(io.BytesIO):
        def read1(self, n=-1):
            return super().read1(chunks or n)

    async def main():
        t = StdioTransport(Chunked(data), io.StringIO())
        out = []
        while True:
            try:
                obj = await t.read()
            except UsageError as exc:
                out.append(exc)
                continue
            if obj is None:
                return out
            out.append(obj)

    return asyncio.run(main())


@pytest.mark.parametrize("raw, problem", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "not an object"),
    (b"\xff\xfe{}", "not valid UTF-8"),
    (b'"just a string"', "not an object"),
])
@pytest.mark.parametrize("chunk", [0, 1])
def test_bad_lines_are_usage_errors_and_reading_goes_on(raw, problem, chunk):
    got = _read_all(b'{"a":1}\n\n' + raw + b'\n{"b":2}\r\n', chunk)
    assert got[0] == {"a": 1} and got[2] == {"b": 2} and len(got) == 3
    err = got[1]
    assert isinstance(err, UsageError) and problem in err.message
    assert err.kind == "invalid_input" and err.hint
    if "JSON" in problem or "UTF-8" in problem:
        assert "stdin line 3" in err.message  # physical line numbers, blank lines included


def test_a_last_line_without_newline_still_counts():
    assert _read_all(b'{"a":1}\n{"b":2}') == [{"a": 1}, {"b": 2}]


def test_stdio_transport_reads_a_pipe_without_blocking_the_loop():
    r, w = os.pipe()
    rf = os.fdopen(r, "rb", buffering=0)

    async def main():
        t = StdioTransport(rf, io.StringIO())
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        tick_task = asyncio.ensure_future(ticker())
        read_task = asyncio.ensure_future(t.read())
        await asyncio.sleep(0.2)
        assert not read_task.done()
        assert ticks >= 5  # the loop kept running while stdin was silent
        os.write(w, b'{"x": 1}\n')
        got = await asyncio.wait_for(read_task, 5)
        os.close(w)
        end = await asyncio.wait_for(t.read(), 5)
        tick_task.cancel()
        return got, end

    assert asyncio.run(main()) == ({"x": 1}, None)
    rf.close()


def test_stdio_transport_writes_utf8_lines_to_the_binary_layer_and_survives_a_closed_peer():
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii")  # an ASCII-only text layer must not break non-ASCII output
    t = StdioTransport(io.BytesIO(b""), out)
    t.write_nowait({"t": "héllo"})
    assert json.loads(raw.getvalue().decode("utf-8")) == {"t": "héllo"}

    class Broken(io.StringIO):
        def write(self, s):
            raise BrokenPipeError()

    t2 = StdioTransport(io.BytesIO(b""), Broken())
    t2.write_nowait({"x": 1})
    assert t2.closed
    t2.write_nowait({"x": 2})  # dropped silently


# -- control requests ----------------------------------------------------------------------------------


def test_control_request_matched_by_id_and_error_answers_raise():
    transport = _ListTransport()

    async def main():
        ch = ControlChannel(transport)
        first = asyncio.ensure_future(ch.request("can_use_tool", {"tool_name": "bash"}))
        second = asyncio.ensure_future(ch.request("hook_callback", {"callback_id": "hook_0"}))
        await asyncio.sleep(0)
        req1, req2 = transport.sent
        assert req1["type"] == "control_request" and req1["request"] == {"subtype": "can_use_tool", "tool_name": "bash"}
        # answers arrive out of order
        assert ch.handle_response({"type": "control_response", "response": {
            "subtype": "error", "request_id": req2["request_id"], "error": "no such callback"}})
        assert ch.handle_response({"type": "control_response", "response": {
            "subtype": "success", "request_id": req1["request_id"], "response": {"behavior": "allow"}}})
        assert not ch.handle_response({"type": "control_response", "response": {
            "subtype": "success", "request_id": "unknown", "response": {}}})
        assert await first == {"behavior": "allow"}
        with pytest.raises(ClawError) as info:
            await second
        assert "no such callback" in info.value.message and info.value.kind == "host_error"
        assert ch.pending == 0

    asyncio.run(main())


def test_control_request_timeout_cancel_and_close_never_hang():
    transport = _ListTransport()

    async def main():
        ch = ControlChannel(transport)
        with pytest.raises(ClawError) as info:
            await ch.request("hook_callback", {}, timeout=0.05)
        assert info.value.kind == "host_timeout"
        assert transport.sent[-1] == {"type": "control_cancel_request", "request_id": transport.sent[0]["request_id"]}

        waiting = asyncio.ensure_future(ch.request("can_use_tool", {}))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert transport.sent[-1]["type"] == "control_cancel_request"

        blocked = asyncio.ensure_future(ch.request("mcp_message", {}))
        await asyncio.sleep(0)
        ch.close("the host closed stdin")
        with pytest.raises(ClawError) as info:
            await blocked
        assert info.value.kind == "host_closed"
        with pytest.raises(ClawError):
            await ch.request("mcp_message", {})  # after close: at once
        assert ch.pending == 0

    asyncio.run(main())


def test_responses_to_the_host_have_the_sdk_shapes():
    transport = _ListTransport()
    ch = ControlChannel(transport)
    ch.respond("r1", {"mode": "default"})
    ch.respond_error("r2", "Unsupported control request subtype: x", code="unsupported_request")
    assert transport.sent == [
        {"type": "control_response", "response": {"subtype": "success", "request_id": "r1",
                                                  "response": {"mode": "default"}}},
        {"type": "control_response", "response": {"subtype": "error", "request_id": "r2",
                                                  "error": "Unsupported control request subtype: x",
                                                  "error_code": "unsupported_request"}},
    ]


# -- SDK MCP servers -----------------------------------------------------------------------------------


class _ScriptedHost:
    """A host serving one SDK MCP server over a ControlChannel, as the SDK's bridge does."""

    def __init__(self, tools_pages, call_result=None, error_on=None):
        self.transport = _ListTransport()
        self.channel = ControlChannel(self.transport)
        self.tools_pages = tools_pages
        self.call_result = call_result or {"content": [{"type": "text", "text": "ok"}]}
        self.error_on = error_on
        self.seen = []

    async def serve(self):
        handled = 0
        while True:
            await asyncio.sleep(0)
            while handled < len(self.transport.sent):
                req = self.transport.sent[handled]
                handled += 1
                if req.get("type") != "control_request":
                    continue
                msg = req["request"]["message"]
                self.seen.append(msg)
                method = msg.get("method")
                if "id" not in msg:
                    reply = {"jsonrpc": "2.0", "result": {}}
                elif method == self.error_on:
                    reply = {"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32603, "message": "boom"}}
                elif method == "initialize":
                    reply = {"jsonrpc": "2.0", "id": msg["id"], "result": {
                        "protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
                        "serverInfo": {"name": "calc", "version": "1.0"}}}
                elif method == "tools/list":
                    cursor = (msg.get("params") or {}).get("cursor")
                    index = int(cursor) if cursor else 0
                    page = {"tools": self.tools_pages[index]}
                    if index + 1 < len(self.tools_pages):
                        page["nextCursor"] = str(index + 1)
                    reply = {"jsonrpc": "2.0", "id": msg["id"], "result": page}
                else:
                    reply = {"jsonrpc": "2.0", "id": msg["id"], "result": self.call_result}
                self.channel.handle_response({"type": "control_response", "response": {
                    "subtype": "success", "request_id": req["request_id"], "response": {"mcp_response": reply}}})


def test_sdk_mcp_server_handshake_lists_every_page_and_calls_tools():
    host = _ScriptedHost([[{"name": "add", "description": "add", "inputSchema": {"type": "object"}}],
                          [{"name": "mul", "inputSchema": {"type": "object"}}]],
                         call_result={"content": [{"type": "text", "text": "5"}]})

    async def main():
        server_task = asyncio.ensure_future(host.serve())
        server = SdkMcpServer("calc", host.channel)
        await asyncio.wait_for(server.connect(), 5)
        result = await asyncio.wait_for(server.call_tool("add", {"a": 2, "b": 3}, "toolu_1"), 5)
        server_task.cancel()
        return server, result

    server, result = asyncio.run(main())
    assert server.status == "connected" and [t["name"] for t in server.tools] == ["add", "mul"]
    assert [m.get("method") for m in host.seen] == ["initialize", "notifications/initialized", "tools/list",
                                                    "tools/list", "tools/call"]
    call = host.seen[-1]
    assert call["params"] == {"name": "add", "arguments": {"a": 2, "b": 3}, "_meta": {"claudecode/toolUseId": "toolu_1"}}
    assert result_text(result) == "5"
    entry = server.status_entry()
    assert entry["status"] == "connected" and entry["serverInfo"]["name"] == "calc"
    assert [t["name"] for t in entry["tools"]] == ["add", "mul"]
    assert host.transport.sent[0]["request"]["subtype"] == "mcp_message"
    assert host.transport.sent[0]["request"]["server_name"] == "calc"


def test_sdk_mcp_server_failure_is_a_status_not_an_exception():
    host = _ScriptedHost([[]], error_on="tools/list")

    async def main():
        server_task = asyncio.ensure_future(host.serve())
        server = SdkMcpServer("calc", host.channel)
        await asyncio.wait_for(server.connect(), 5)
        server_task.cancel()
        return server

    server = asyncio.run(main())
    assert server.status == "failed" and "tools/list failed: boom" in server.error
    assert server.status_entry()["error"] == server.error


def test_mcp_result_text_and_tool_names():
    assert result_text({"content": [{"type": "text", "text": "a"}, {"type": "image", "mimeType": "image/png"},
                                    {"type": "resource", "resource": {"uri": "file:///x", "text": "body"}}]}) == \
        "a\n[image content: image/png, not shown]\nbody"
    assert result_text({"content": [], "structuredContent": {"n": 1}}) == '{"n": 1}'
    png = {"type": "image", "mimeType": "image/png", "data": "iVBORw0KGgo="}
    assert result_content({"content": [{"type": "text", "text": "a"}, png]}) == [
        {"type": "text", "text": "a"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]
    assert result_content({"content": [{"type": "text", "text": "a"}]}) == "a"
    assert tool_name("my server", "do.it") == "mcp__my_server__do_it"


def test_sdk_server_names_from_mcp_config_values(tmp_path):
    cfg = tmp_path / "mcp.json"
    cfg.write_text(json.dumps({"mcpServers": {"files": {"command": "x"}, "calc": {"type": "sdk", "name": "calc"}}}))
    inline = json.dumps({"mcpServers": {"notes": {"type": "sdk", "name": "notes"}, "calc": {"type": "sdk"}}})
    assert sdk_server_names([str(cfg), inline]) == ["calc", "notes"]
    with pytest.raises(UsageError):
        sdk_server_names(["{broken"])
    with pytest.raises(UsageError):
        sdk_server_names([str(tmp_path / "missing.json")])


def test_sdk_mcp_tool_is_a_claw_tool():
    from claw.cli.sdk_mcp import SdkMcpTool
    from claw.tools.base import PermissionLevel, ToolInputError

    host = _ScriptedHost([[]], call_result={"content": [{"type": "text", "text": "no such note"}], "isError": True})
    server = SdkMcpServer("my notes", host.channel)
    lookup = SdkMcpTool(server, {"name": "find", "inputSchema": {"type": "object", "required": ["q"]},
                                 "annotations": {"readOnlyHint": True}})
    delete = SdkMcpTool(server, {"name": "delete", "description": "Delete a note", "inputSchema": "nonsense"})
    assert lookup.spec.name == "mcp__my_notes__find" and lookup.spec.read_only
    assert lookup.spec.permission is PermissionLevel.READ_ONLY
    assert "my notes" in lookup.spec.description  # a description is made up when the server gives none
    assert delete.spec.permission is PermissionLevel.DANGER_FULL_ACCESS and not delete.spec.read_only
    assert delete.spec.input_schema == {"type": "object", "properties": {}}
    with pytest.raises(ToolInputError) as info:
        lookup.validate({"other": 1})
    assert "q" in info.value.message
    assert lookup.validate({"q": "x"}) == {"q": "x"}

    async def main():
        serving = asyncio.ensure_future(host.serve())
        found = await asyncio.wait_for(lookup.run({"q": "x"}, None), 5)
        serving.cancel()
        host.channel.close("gone")
        failed = await asyncio.wait_for(delete.run({}, None), 5)
        return found, failed

    found, failed = asyncio.run(main())
    assert found.is_error and found.content == "no such note"
    assert host.seen[-1]["params"] == {"name": "find", "arguments": {"q": "x"}}
    assert failed.is_error and "mcp__my_notes__delete failed" in failed.content
