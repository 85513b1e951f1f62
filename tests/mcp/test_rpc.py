"""The JSON-RPC session over an in-memory peer: matching, malformed input, ping, progress,
timeouts, cancellation and server requests."""

from __future__ import annotations

import asyncio

import pytest

from claw.errors import ToolFailure
from claw.mcp.rpc import RpcError, RpcSession
from claw.mcp.transport import Transport, mcp_error


class Peer(Transport):
    """A transport whose far end is the test: ``sent`` holds what claw sent."""

    kind = "memory"

    def __init__(self):
        super().__init__()
        self.sent = []
        self.sent_event = asyncio.Event()
        self.abandoned = []

    async def start(self):
        pass

    async def send(self, message):
        self.sent.append(message)
        self.sent_event.set()

    def abandon(self, request_id):
        self.abandoned.append(request_id)

    async def close(self):
        pass

    async def next_sent(self):
        while not self.sent:
            self.sent_event.clear()
            await self.sent_event.wait()
        return self.sent.pop(0)


def test_request_response_error_and_malformed():
    async def main():
        peer = Peer()
        session = RpcSession(peer)
        call = asyncio.ensure_future(session.request("tools/list", {"cursor": None}))
        sent = await peer.next_sent()
        assert sent["method"] == "tools/list" and sent["jsonrpc"] == "2.0"
        peer.on_message("not a message")
        peer.on_message({"jsonrpc": "2.0", "id": 999, "result": {}})
        peer.on_message({"jsonrpc": "1.0", "id": sent["id"], "result": {}})
        peer.on_message({"jsonrpc": "2.0", "id": str(sent["id"]), "result": {"tools": []}})
        assert await call == {"tools": []}
        assert len(peer.diagnostics.lines) == 3
        call = asyncio.ensure_future(session.request("x"))
        sent = await peer.next_sent()
        peer.on_message([{"jsonrpc": "2.0", "id": sent["id"], "error": {"code": -32601, "message": "nope"}}])
        with pytest.raises(RpcError) as info:
            await call
        assert info.value.code == -32601 and "nope" in info.value.message

    asyncio.run(main())


def test_ping_answered_and_server_requests_dispatched():
    async def handler(method, params):
        if method == "roots/list":
            return {"roots": []}
        raise RpcError(-32601, "Method not found")

    async def main():
        peer = Peer()
        seen = []
        RpcSession(peer, request_handler=handler, notification_handler=lambda m, p: seen.append(m))
        peer.on_message({"jsonrpc": "2.0", "id": "p1", "method": "ping"})
        assert await peer.next_sent() == {"jsonrpc": "2.0", "id": "p1", "result": {}}
        peer.on_message({"jsonrpc": "2.0", "id": 7, "method": "roots/list"})
        assert (await peer.next_sent())["result"] == {"roots": []}
        peer.on_message({"jsonrpc": "2.0", "id": 8, "method": "sampling/createMessage"})
        assert (await peer.next_sent())["error"]["code"] == -32601
        peer.on_message({"jsonrpc": "2.0", "id": 9})  # neither method nor result: noted, not answered
        await asyncio.sleep(0.01)
        assert peer.sent == [] and "malformed" in peer.diagnostics.text()
        peer.on_message({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        assert seen == ["notifications/tools/list_changed"]

    asyncio.run(main())


def test_progress_restarts_the_timeout_and_timeout_cancels():
    async def main():
        peer = Peer()
        session = RpcSession(peer)
        updates = []
        call = asyncio.ensure_future(session.request("tools/call", {"name": "slow"}, timeout=0.3,
                                                     on_progress=lambda p, t, m: updates.append((p, t, m))))
        sent = await peer.next_sent()
        token = sent["params"]["_meta"]["progressToken"]
        for i in range(4):  # 0.8 s in all, more than the timeout, but progress keeps it alive
            await asyncio.sleep(0.2)
            peer.on_message({"jsonrpc": "2.0", "method": "notifications/progress",
                             "params": {"progressToken": token, "progress": i, "total": 4, "message": "m"}})
        peer.on_message({"jsonrpc": "2.0", "id": sent["id"], "result": {"ok": True}})
        assert await call == {"ok": True}
        assert updates[-1] == (3.0, 4.0, "m")

        call = asyncio.ensure_future(session.request("tools/call", {}, timeout=0.2))
        sent = await peer.next_sent()
        with pytest.raises(ToolFailure) as info:
            await call
        assert info.value.kind == "mcp_timeout"
        cancel = await peer.next_sent()
        assert cancel["method"] == "notifications/cancelled" and cancel["params"]["requestId"] == sent["id"]
        assert peer.abandoned == [sent["id"]]

    asyncio.run(main())


def test_task_cancellation_notifies_the_server_but_not_for_initialize():
    async def main():
        peer = Peer()
        session = RpcSession(peer)
        call = asyncio.ensure_future(session.request("tools/call", {}))
        sent = await peer.next_sent()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        cancel = await peer.next_sent()
        assert cancel["params"]["requestId"] == sent["id"]
        init = asyncio.ensure_future(session.request("initialize", {}, cancellable=False))
        await peer.next_sent()
        init.cancel()
        with pytest.raises(asyncio.CancelledError):
            await init
        await asyncio.sleep(0.05)
        assert peer.sent == []

    asyncio.run(main())


def test_closed_channel_fails_pending_and_later_requests():
    async def main():
        peer = Peer()
        session = RpcSession(peer)
        call = asyncio.ensure_future(session.request("tools/call", {}))
        await peer.next_sent()
        peer.on_closed(mcp_error("the server exited with code 3", "mcp_closed"))
        with pytest.raises(ToolFailure, match="code 3"):
            await call
        with pytest.raises(ToolFailure, match="code 3"):
            await session.request("tools/list")

    asyncio.run(main())


def test_server_cancels_its_own_request():
    async def main():
        gate = asyncio.Event()

        async def handler(method, params):
            gate.set()
            await asyncio.sleep(10)

        peer = Peer()
        RpcSession(peer, request_handler=handler)
        peer.on_message({"jsonrpc": "2.0", "id": 5, "method": "elicitation/create"})
        await gate.wait()
        peer.on_message({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}})
        await asyncio.sleep(0.05)
        assert peer.sent == []  # a cancelled request gets no answer

    asyncio.run(main())
