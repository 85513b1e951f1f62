"""The WebSocket client against a real `websockets` server on 127.0.0.1 (plain and wss with a
trustme CA): messages, fragmentation, ping/pong, close codes both ways, subprotocols, limits, and
a raw server that goes silent or drops the connection."""

from __future__ import annotations

import asyncio
import base64
import hashlib

import pytest
from websockets.asyncio.server import serve

from claw.errors import NetworkError
from claw.net.config import NetConfig
from claw.net.ws import connect_websocket
from tests.fakes.tls_server import make_tls


def run(coro):
    return asyncio.run(coro)


async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)


def port_of(server):
    return server.sockets[0].getsockname()[1]


@pytest.mark.parametrize("secure", [False, True])
def test_echo_text_and_binary(config, tls, secure):
    async def main():
        context = tls.server_context if secure else None
        async with serve(echo, "127.0.0.1", 0, ssl=context, ping_interval=None) as server:
            scheme = "wss" if secure else "ws"
            async with await connect_websocket(f"{scheme}://localhost:{port_of(server)}/e",
                                               config, ping_interval=None) as ws:
                await ws.send_text("héllo")
                await ws.send_bytes(b"\x00\x01binary")
                return await ws.recv(), await ws.recv(), ws.subprotocol

    assert run(main()) == ("héllo", b"\x00\x01binary", None)


def test_subprotocol_and_extra_headers(config):
    seen = {}

    async def handler(websocket):
        seen["authorization"] = websocket.request.headers.get("Authorization")
        seen["user-agent"] = websocket.request.headers.get("User-Agent")
        seen["path"] = websocket.request.path
        await websocket.send(websocket.subprotocol or "none")
        await websocket.wait_closed()

    async def main():
        async with serve(handler, "127.0.0.1", 0, subprotocols=["mcp", "chat"],
                         ping_interval=None) as server:
            ws = await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/p?q=1", config,
                                         subprotocols=["chat"],
                                         headers=[("Authorization", "Bearer t0ken")],
                                         ping_interval=None)
            first = await ws.recv()
            await ws.aclose()
            return ws.subprotocol, first

    assert run(main()) == ("chat", "chat")
    assert seen["authorization"] == "Bearer t0ken"
    assert seen["user-agent"].startswith("claw/")
    assert seen["path"] == "/p?q=1"


def test_large_fragmented_messages_both_ways(config):
    text_parts = ["α" * 50_000, "β" * 50_000, "γ" * 50_000]
    big = bytes(range(256)) * 20_000  # ~5 MiB

    async def handler(websocket):
        await websocket.send(text_parts)  # one message in three fragments
        await websocket.send([big[:1000], big[1000:]])
        received = await websocket.recv()
        await websocket.send(hashlib.sha256(received).hexdigest())
        await websocket.wait_closed()

    async def main():
        async with serve(handler, "127.0.0.1", 0, max_size=None, ping_interval=None) as server:
            async with await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                               ping_interval=None) as ws:
                text = await ws.recv()
                data = await ws.recv()
                await ws.send_bytes(big)
                digest = await ws.recv()
                return text, data, digest

    text, data, digest = run(main())
    assert text == "".join(text_parts)
    assert data == big
    assert digest == hashlib.sha256(big).hexdigest()


def test_ping_pong_both_ways(config):
    results = {}

    async def handler(websocket):
        pong_waiter = await websocket.ping(b"srv")
        await asyncio.wait_for(pong_waiter, 5)  # our client answered
        results["server_got_pong"] = True
        await websocket.send("after-ping")
        await websocket.wait_closed()

    async def main():
        async with serve(handler, "127.0.0.1", 0, ping_interval=None) as server:
            async with await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                               ping_interval=None) as ws:
                await ws.ping()  # returns once the server's pong arrived
                return await ws.recv()

    assert run(main()) == "after-ping"
    assert results == {"server_got_pong": True}


def test_keepalive_pings_keep_a_healthy_connection(config):
    async def handler(websocket):
        await asyncio.sleep(0.5)
        await websocket.send("still here")
        await websocket.wait_closed()

    async def main():
        async with serve(handler, "127.0.0.1", 0, ping_interval=None) as server:
            async with await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                               ping_interval=0.05, ping_timeout=2) as ws:
                return await ws.recv()

    assert run(main()) == "still here"


def test_server_close_code_and_reason_after_pending_messages(config):
    async def handler(websocket):
        await websocket.send("last words")
        await websocket.close(4001, "bye now")

    async def main():
        async with serve(handler, "127.0.0.1", 0, ping_interval=None) as server:
            ws = await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                         ping_interval=None)
            first = await ws.recv()
            with pytest.raises(NetworkError) as info:
                await ws.recv()
            with pytest.raises(NetworkError):
                await ws.send_text("too late")
            await ws.aclose()
            return first, info.value, ws

    first, error, ws = run(main())
    assert first == "last words"
    assert error.kind == "closed" and not error.retryable
    assert (error.close_code, error.close_reason) == (4001, "bye now")
    assert (ws.close_code, ws.close_reason) == (4001, "bye now")
    assert "4001" in error.message and "bye now" in error.message


def test_client_close_code_reaches_the_server(config):
    seen = {}

    async def handler(websocket):
        await websocket.wait_closed()
        seen["code"], seen["reason"] = websocket.close_code, websocket.close_reason

    async def main():
        async with serve(handler, "127.0.0.1", 0, ping_interval=None) as server:
            ws = await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                         ping_interval=None)
            await ws.aclose(4000, "done here")
            with pytest.raises(NetworkError) as info:
                await ws.recv()
            await asyncio.sleep(0.05)
            return info.value

    error = run(main())
    assert seen == {"code": 4000, "reason": "done here"}
    assert error.kind == "closed" and error.close_code == 4000


def test_oversize_message_closes_with_1009(config):
    seen = {}

    async def handler(websocket):
        await websocket.send(b"x" * 5000)
        await websocket.wait_closed()
        seen["code"] = websocket.close_code

    async def main():
        async with serve(handler, "127.0.0.1", 0, ping_interval=None) as server:
            ws = await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                         max_message_size=1000, ping_interval=None)
            with pytest.raises(NetworkError) as info:
                await ws.recv()
            await ws.aclose()
            await asyncio.sleep(0.05)
            return info.value

    error = run(main())
    assert error.kind == "closed" and error.close_code == 1009
    assert "1000 bytes" in error.message
    assert seen["code"] == 1009


def test_rejected_handshake_reports_the_status(config):
    from http import HTTPStatus

    def refuse(connection, request):
        return connection.respond(HTTPStatus.FORBIDDEN, "not for you\n")

    async def main():
        async with serve(echo, "127.0.0.1", 0, process_request=refuse,
                         ping_interval=None) as server:
            await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                    ping_interval=None)

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "protocol" and info.value.status == 403
    assert "not for you" in info.value.message


def test_server_without_our_subprotocol_gives_none(config):
    async def main():
        async with serve(echo, "127.0.0.1", 0, ping_interval=None) as server:
            # a server that supports none of the offered subprotocols leaves the header out
            ws = await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                         subprotocols=["x-unknown"], ping_interval=None)
            await ws.aclose()
            return ws.subprotocol

    assert run(main()) is None


# raw servers for the failure paths ---------------------------------------------------------------


def _accept_token(key: str) -> str:
    digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    return base64.b64encode(digest).decode()


async def _raw_handshake(reader, writer):
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    key = next(line.split(":", 1)[1].strip() for line in head.split("\r\n")
               if line.lower().startswith("sec-websocket-key:"))
    writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Accept: {_accept_token(key)}\r\n\r\n")
                 .encode())
    await writer.drain()


def test_subprotocol_we_did_not_offer_is_a_protocol_error(config):
    async def pushy(reader, writer):
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        key = next(line.split(":", 1)[1].strip() for line in head.split("\r\n")
                   if line.lower().startswith("sec-websocket-key:"))
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Accept: {_accept_token(key)}\r\n"
                      "Sec-WebSocket-Protocol: evil\r\n\r\n").encode())
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(pushy, "127.0.0.1", 0)
        async with server:
            await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                    subprotocols=["good"], ping_interval=None)

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "protocol" and "evil" in info.value.message


def test_missing_pong_fails_the_connection(config):
    async def silent(reader, writer):
        await _raw_handshake(reader, writer)
        try:
            await asyncio.sleep(30)  # never reads, never answers a ping
        except asyncio.CancelledError:
            pass
        finally:
            writer.transport.abort()

    async def main():
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        try:
            ws = await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                         ping_interval=0.05, ping_timeout=0.2)
            with pytest.raises(NetworkError) as info:
                await ws.recv()
            await ws.aclose()
            return info.value
        finally:
            server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

    error = run(main())
    assert error.kind == "closed" and error.retryable
    assert "no pong" in error.message


def test_connection_dropped_without_close_frame_is_1006(config):
    async def drop(reader, writer):
        await _raw_handshake(reader, writer)
        writer.write(b"\x81\x02hi")  # one unmasked text frame, then a plain TCP close
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(drop, "127.0.0.1", 0)
        async with server:
            ws = await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                         ping_interval=None)
            first = await ws.recv()
            with pytest.raises(NetworkError) as info:
                await ws.recv()
            await ws.aclose()
            return first, info.value

    first, error = run(main())
    assert first == "hi"
    assert error.kind == "closed" and error.retryable and error.close_code == 1006


def _first_recv_error(handler, config):
    """The NetworkError that the first ``recv()`` raises against a server running ``handler``."""
    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        async with server:
            ws = await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                         ping_interval=None)
            with pytest.raises(NetworkError) as info:
                await ws.recv()
            await ws.aclose()
            return info.value

    return run(main())


def test_protocol_violation_by_server_closes_with_its_code(config):
    async def bad(reader, writer):
        await _raw_handshake(reader, writer)
        writer.write(b"\x83\x00")  # reserved opcode 3
        await writer.drain()
        try:
            await reader.read(100)
        except asyncio.CancelledError:
            pass
        finally:
            writer.close()

    error = _first_recv_error(bad, config)
    assert error.kind == "closed" and error.close_code == 1002
    assert "broke the protocol" in error.message


def test_wss_with_untrusted_certificate(tmp_path):
    other = make_tls(tmp_path)

    async def main():
        async with serve(echo, "127.0.0.1", 0, ssl=other.server_context,
                         ping_interval=None) as server:
            config = NetConfig.from_env({}, connect_timeout=5)
            await connect_websocket(f"wss://127.0.0.1:{port_of(server)}/", config)

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "tls_verify"


# -- the binary fast paths (claw.proto.wsframe) ----------------------------------------------------


def _frame(opcode, payload, fin=True):
    """An unmasked server frame."""
    first = (0x80 if fin else 0) | opcode
    if len(payload) < 126:
        return bytes((first, len(payload))) + payload
    if len(payload) < 65536:
        return bytes((first, 126)) + len(payload).to_bytes(2, "big") + payload
    return bytes((first, 127)) + len(payload).to_bytes(8, "big") + payload


def _client_frames(data):
    """The frames a client sent, as a wsproto server reads them: (opcode, payload)."""
    from wsproto.frame_protocol import FrameProtocol

    proto = FrameProtocol(client=False, extensions=[])
    proto.receive_bytes(data)
    return [(int(f.opcode), f.payload if isinstance(f.payload, (str, tuple)) else bytes(f.payload))
            for f in proto.received_frames()]


async def _until_close(reader, writer):
    """Read the client's frames up to its close frame, answer that, close; the frames."""
    received = b""
    while True:
        data = await reader.read(65536)
        received += data
        frames = _client_frames(received)
        if not data or frames and frames[-1][0] == 0x8:
            break
    writer.write(_frame(0x8, b"\x03\xe8"))
    await writer.drain()
    writer.close()
    return frames


@pytest.mark.parametrize("split_head", [False, True])
def test_frames_that_come_with_the_handshake_answer(config, split_head):
    big = bytes(range(256)) * 300  # 76800 bytes: an 8-byte length
    frames = (_frame(0x2, b"first") + _frame(0x9, b"ping!") + _frame(0x1, "tëxt".encode())
              + _frame(0x2, big[:100], fin=False) + _frame(0x0, big[100:]))
    got = {}

    async def eager(reader, writer):
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        key = next(line.split(":", 1)[1].strip() for line in head.split("\r\n")
                   if line.lower().startswith("sec-websocket-key:"))
        answer = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade"
                  f"\r\nSec-WebSocket-Accept: {_accept_token(key)}\r\n\r\n").encode() + frames
        if split_head:  # the head in two packets, the second one carrying the frames too
            writer.write(answer[:40])
            await writer.drain()
            await asyncio.sleep(0.05)
            answer = answer[40:]
        writer.write(answer)  # the answer and the first frames in one packet
        await writer.drain()
        got["client"] = await _until_close(reader, writer)

    async def main():
        server = await asyncio.start_server(eager, "127.0.0.1", 0)
        async with server:
            ws = await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                         ping_interval=None)
            messages = [await ws.recv() for _ in range(3)]
            await ws.aclose()
            return messages

    assert run(main()) == [b"first", "tëxt", big]
    assert got["client"][0] == (0xA, b"ping!")  # the ping that came with the answer was answered
    assert got["client"][-1][0] == 0x8


def test_send_bytes_in_parts(config):
    big = bytes(range(256)) * 1200

    async def main():
        async with serve(echo, "127.0.0.1", 0, max_size=None, ping_interval=None) as server:
            async with await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                               ping_interval=None) as ws:
                await ws.send_bytes(b"\x0a", bytearray(b"abc"), memoryview(b"def"))
                await ws.send_bytes()
                await ws.send_bytes(big[:7], memoryview(big)[7:])
                return [await ws.recv() for _ in range(3)]

    assert run(main()) == [b"\x0aabcdef", b"", big]


def test_send_bytes_after_close_raises(config):
    async def main():
        async with serve(echo, "127.0.0.1", 0, ping_interval=None) as server:
            ws = await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                         ping_interval=None)
            await ws.aclose()
            with pytest.raises(NetworkError) as info:
                await ws.send_bytes(b"late")
            return info.value

    assert run(main()).kind == "closed"


def test_binary_message_interrupted_by_another_closes_with_1002(config):
    got = {}

    async def bad(reader, writer):
        await _raw_handshake(reader, writer)
        writer.write(_frame(0x2, b"part one", fin=False) + _frame(0x2, b"a new message"))
        await writer.drain()
        got["client"] = await _until_close(reader, writer)

    error = _first_recv_error(bad, config)
    assert error.kind == "closed" and error.close_code == 1002
    assert "CONTINUATION" in error.message
    assert got["client"][0][0] == 0x8 and got["client"][0][1][0] == 1002


def test_many_tiny_fragments_make_one_message(config):
    async def tiny(reader, writer):
        await _raw_handshake(reader, writer)
        payload = bytes(range(256)) * 40
        frames = [_frame(0x2 if i == 0 else 0x0, payload[i:i + 1], fin=i == len(payload) - 1)
                  for i in range(len(payload))]
        writer.write(b"".join(frames) + _frame(0x2, b"next"))
        await writer.drain()
        await _until_close(reader, writer)

    async def main():
        server = await asyncio.start_server(tiny, "127.0.0.1", 0)
        async with server:
            ws = await connect_websocket(f"ws://127.0.0.1:{port_of(server)}/", config,
                                         ping_interval=None)
            messages = [await ws.recv(), await ws.recv()]
            await ws.aclose()
            return messages

    assert run(main()) == [bytes(range(256)) * 40, b"next"]
