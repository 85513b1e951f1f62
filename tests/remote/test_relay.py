"""The relay against a real WebSocket server (websockets) that terminates tunnels to local servers."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from typing import Tuple

import pytest

from claw.net.config import NetConfig
from claw.remote.endpoints import upstream_proxy_ws_url
from claw.remote.relay import (ConnectTarget, RelayRequestError, RelaySettings, UpstreamRelay,
                               parse_connect_request)
from tests.fakes.relay_server import EchoServer, FakeUpstreamProxy, SourceServer

SESSION, TOKEN = "sess-42", "tok-secret-123"


@pytest.mark.parametrize("head, target", [
    (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", ConnectTarget("example.com", 443)),
    (b"CONNECT 10.0.0.1:8080 HTTP/1.0\r\n\r\n", ConnectTarget("10.0.0.1", 8080)),
    (b"CONNECT [::1]:8443 HTTP/1.1\r\n\r\n", ConnectTarget("::1", 8443)),
])
def test_parse_connect(head, target):
    assert parse_connect_request(head) == target
    assert target.authority in head.decode()


@pytest.mark.parametrize("head, status", [
    (b"GET http://example.com/ HTTP/1.1\r\n\r\n", 405),
    (b"CONNECT example.com HTTP/1.1\r\n\r\n", 400),
    (b"CONNECT example.com:0 HTTP/1.1\r\n\r\n", 400),
    (b"CONNECT example.com:70000 HTTP/1.1\r\n\r\n", 400),
    (b"CONNECT example.com:443\r\n\r\n", 400),
    (b"CONNECT ::1:443 HTTP/1.1\r\n\r\n", 400),
    (b"CONNECT [::1 HTTP/1.1\r\n\r\n", 400),
    (b"CONNECT a b:1 HTTP/1.1\r\n\r\n", 400),
    (b"\r\n\r\n", 400),
])
def test_parse_connect_rejects(head, status):
    with pytest.raises(RelayRequestError) as info:
        parse_connect_request(head)
    assert info.value.status == status


class Setup:
    """A fake upstream proxy, an echo target and a relay, in the test's loop."""

    def __init__(self, **fake_options) -> None:
        self.fake_options = fake_options

    async def __aenter__(self) -> "Setup":
        self.echo = await EchoServer().start()
        host_map = {"echo.test:443": ("127.0.0.1", self.echo.port)}
        host_map.update(self.fake_options.pop("host_map", {}))
        self.fake = await FakeUpstreamProxy(SESSION, TOKEN, "", host_map=host_map, **self.fake_options).start()
        self.relay = UpstreamRelay(RelaySettings(upstream_proxy_ws_url(self.fake.base_url), SESSION, TOKEN,
                                                 NetConfig.from_env({}), keepalive_interval=self.keepalive))
        await self.relay.start()
        return self

    keepalive = 30.0

    async def __aexit__(self, *exc) -> None:
        await self.relay.aclose()
        await self.fake.aclose()
        await self.echo.aclose()

    async def connect(self, target: str = "echo.test:443", extra: bytes = b"") -> Tuple[asyncio.StreamReader,
                                                                                        asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.relay.port, limit=1 << 20)
        writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode() + extra)
        return reader, writer


async def _status(reader: asyncio.StreamReader) -> bytes:
    return (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n", 1)[0]


def test_tunnel_roundtrip_and_auth():
    async def main():
        async with Setup() as s:
            reader, writer = await s.connect(extra=b"early bytes ")  # coalesced with the CONNECT head
            assert await _status(reader) == b"HTTP/1.1 200 Connection Established"
            writer.write(b"and more")
            assert await reader.readexactly(20) == b"early bytes and more"
            writer.close()
            await writer.wait_closed()
            handshake = s.fake.handshakes[-1]
            assert handshake["authorization"] == f"Bearer {TOKEN}"
            assert handshake["content-type"] == "application/proto"
            tunnel = s.fake.tunnels[-1]
            assert tunnel.target == "echo.test:443"
            assert tunnel.proxy_authorization == "Basic " + base64.b64encode(f"{SESSION}:{TOKEN}".encode()).decode()
            assert tunnel.authorized and tunnel.connected
            assert s.relay.stats.tunnels_opened == 1
            assert TOKEN not in repr(s.relay.settings)
    asyncio.run(main())


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", b"HTTP/1.1 405 Method Not Allowed"),
    (b"CONNECT nowhere HTTP/1.1\r\n\r\n", b"HTTP/1.1 400 Bad Request"),
    (b"CONNECT a.test:1 HTTP/1.1\r\n" + b"X-Filler: " + b"x" * 9000 + b"\r\n\r\n", b"HTTP/1.1 400 Bad Request"),
])
def test_bad_requests(request_bytes, status):
    async def main():
        async with Setup() as s:
            reader, writer = await asyncio.open_connection("127.0.0.1", s.relay.port)
            writer.write(request_bytes)
            assert await _status(reader) == status
            assert await reader.read() == b""  # and the connection is closed
            writer.close()
            assert s.fake.handshakes == []  # no WebSocket was opened
    asyncio.run(main())


def test_websocket_refused_gives_502_to_that_client_only():
    async def main():
        async with Setup(ws_status=403) as s:
            reader, writer = await s.connect()
            assert await _status(reader) == b"HTTP/1.1 502 Bad Gateway"
            assert await reader.read() == b""
            writer.close()
            assert s.relay.stats.tunnels_failed == 1
            assert "403" in s.relay.stats.last_failure
            assert TOKEN not in s.relay.stats.last_failure
            s.fake.ws_status = None  # the relay itself keeps serving
            reader, writer = await s.connect()
            assert await _status(reader) == b"HTTP/1.1 200 Connection Established"
            writer.close()
    asyncio.run(main())


def test_server_answer_is_relayed_verbatim():
    async def main():
        async with Setup() as s:
            reader, writer = await s.connect("unreachable.test:1")  # the fake cannot reach it
            assert await _status(reader) == b"HTTP/1.1 502 Bad Gateway"
            assert await reader.read() == b""
            writer.close()
            assert s.fake.tunnels[-1].ended == "unreachable"
    asyncio.run(main())


def test_half_close_still_delivers_the_answer():
    async def main():
        async with Setup() as s:
            reader, writer = await s.connect()
            assert await _status(reader) == b"HTTP/1.1 200 Connection Established"
            payload = os.urandom(300_000)
            writer.write(payload)
            writer.write_eof()  # the client is done sending, and still reads
            got = await reader.readexactly(len(payload))
            assert got == payload
            writer.close()
    asyncio.run(main())


def test_keepalive_chunks():
    async def main():
        Setup.keepalive = 0.05
        try:
            async with Setup() as s:
                reader, writer = await s.connect()
                assert await _status(reader) == b"HTTP/1.1 200 Connection Established"
                for _ in range(200):
                    if s.fake.tunnels[-1].keepalives >= 2:
                        break
                    await asyncio.sleep(0.02)
                assert s.fake.tunnels[-1].keepalives >= 2
                writer.write(b"still works")
                assert await reader.readexactly(11) == b"still works"
                writer.close()
        finally:
            Setup.keepalive = 30.0
    asyncio.run(main())


def test_tunnel_torn_down_mid_transfer_closes_only_that_client():
    async def main():
        async with Setup() as s:
            # a healthy tunnel, opened before the breakage, stays usable after it
            healthy_r, healthy_w = await s.connect()
            assert await _status(healthy_r) == b"HTTP/1.1 200 Connection Established"
            healthy_w.write(b"ping")
            assert await healthy_r.readexactly(4) == b"ping"

            s.fake.break_after = 200_000 + 100  # counting the tunnel's bytes down (after the 200 answer)
            reader, writer = await s.connect()
            assert await _status(reader) == b"HTTP/1.1 200 Connection Established"
            payload = os.urandom(1_000_000)
            writer.write(payload)
            received = bytearray()
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
                while True:
                    data = await reader.read(65536)
                    if not data:
                        raise asyncio.IncompleteReadError(bytes(received), None)
                    received += data
            assert len(received) < len(payload)  # the download did not look complete
            assert bytes(received) == payload[:len(received)]  # and what arrived is intact
            writer.close()
            s.fake.break_after = None

            healthy_w.write(b"pong")
            assert await healthy_r.readexactly(4) == b"pong"
            healthy_w.close()
            reader, writer = await s.connect()  # new tunnels open fine
            assert await _status(reader) == b"HTTP/1.1 200 Connection Established"
            writer.close()
            for _ in range(100):
                if s.relay.stats.tunnels_broken:
                    break
                await asyncio.sleep(0.01)
            assert s.relay.stats.tunnels_broken == 1
    asyncio.run(main())


def test_fifty_concurrent_tunnels_one_megabyte_each_way():
    async def one(s: Setup, index: int) -> None:
        reader, writer = await s.connect()
        assert await _status(reader) == b"HTTP/1.1 200 Connection Established"
        payload = os.urandom(1 << 20)

        async def send() -> None:
            view = memoryview(payload)
            for start in range(0, len(payload), 65536):
                writer.write(view[start:start + 65536])
                await writer.drain()

        sender = asyncio.ensure_future(send())
        got = await reader.readexactly(len(payload))
        await sender
        assert got == payload, f"tunnel {index} corrupted its data"
        writer.close()

    async def main():
        async with Setup() as s:
            await asyncio.gather(*(one(s, i) for i in range(50)))
            assert s.relay.stats.tunnels_opened == 50
            assert s.relay.stats.bytes_up == 50 << 20
            assert len([t for t in s.fake.tunnels if t.bytes_up == 1 << 20]) == 50
    asyncio.run(main())


def test_backpressure_bounds_what_a_slow_client_is_sent():
    total = 192 << 20

    async def main():
        source = await SourceServer(total).start()
        async with Setup(host_map={"source.test:443": ("127.0.0.1", source.port)}) as s:
            reader, writer = await s.connect("source.test:443")
            assert await _status(reader) == b"HTTP/1.1 200 Connection Established"
            writer.write(b"go\n")
            # the client reads nothing: the transfer must stall, not buffer the whole download
            last, still = -1, 0
            while still < 5:
                await asyncio.sleep(0.1)
                now = s.fake.tunnels[-1].bytes_down
                still = still + 1 if now == last else 0
                last = now
            assert last < total // 3, f"{last} bytes pulled from the target for a client that read nothing"
            # and it resumes when the client reads
            got = 0
            while True:
                data = await reader.read(1 << 20)
                if not data:
                    break
                got += len(data)
            assert got == total
            writer.close()
        await source.aclose()
    asyncio.run(main())


def test_relay_aclose_ends_open_tunnels():
    async def main():
        s = Setup()
        await s.__aenter__()
        reader, writer = await s.connect()
        assert await _status(reader) == b"HTTP/1.1 200 Connection Established"
        await s.relay.aclose()
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            data = await reader.read(10)
            if not data:
                raise asyncio.IncompleteReadError(b"", None)
        writer.close()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", s.relay.port), timeout=2).close()
        await s.fake.aclose()
        await s.echo.aclose()
    asyncio.run(main())


def test_early_bytes_larger_than_a_head_read():
    async def main():
        async with Setup() as s:
            early = os.urandom(300_000)  # sent with the CONNECT head: read in pieces, all forwarded
            reader, writer = await s.connect(extra=early)
            assert await _status(reader) == b"HTTP/1.1 200 Connection Established"
            assert await reader.readexactly(len(early)) == early
            writer.close()
    asyncio.run(main())


def test_backpressure_bounds_what_a_fast_client_sends_up():
    total = 192 << 20
    state = {"received": 0}

    async def main():
        go = asyncio.Event()  # the target starts reading

        async def slow_target(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await go.wait()  # reads nothing until released
            while True:
                data = await reader.read(1 << 20)
                if not data:
                    break
                state["received"] += len(data)
                if state["received"] >= total:
                    writer.write(b"done")
                    await writer.drain()
            writer.close()

        target = await asyncio.start_server(slow_target, "127.0.0.1", 0)
        port = target.sockets[0].getsockname()[1]
        async with Setup(host_map={"sink.test:443": ("127.0.0.1", port)}) as s:
            reader, writer = await s.connect("sink.test:443")
            assert await _status(reader) == b"HTTP/1.1 200 Connection Established"
            block = bytes(1 << 20)

            async def send() -> None:
                for _ in range(total >> 20):
                    writer.write(block)
                    await writer.drain()

            sender = asyncio.ensure_future(send())
            # the target reads nothing: the upload must stall, not pile up in the relay
            last, still = -1, 0
            while still < 5:
                await asyncio.sleep(0.1)
                now = s.relay.stats.bytes_up
                still = still + 1 if now == last else 0
                last = now
            assert not sender.done()
            assert last < total // 3, f"{last} bytes taken from a client whose target reads nothing"
            go.set()  # and it resumes when the target reads
            await sender
            assert await reader.readexactly(4) == b"done"
            assert state["received"] == total
            writer.close()
        target.close()
    asyncio.run(main())
