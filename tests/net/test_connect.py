"""The connection factory and Connection's stream semantics, against real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from claw.errors import NetworkError
from claw.net.config import NetConfig
from claw.net.connect import open_connection
from claw.net.connection import Connection
from claw.net.url import parse_url


def run(coro):
    return asyncio.run(coro)


class RawServer:
    """Runs ``script(reader, writer)`` for each connection; cancels the scripts on exit."""

    def __init__(self, script, ssl_context=None):
        self.script = script
        self.ssl_context = ssl_context
        self.tasks = set()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0,
                                                 ssl=self.ssl_context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info):
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _handle(self, reader, writer):
        task = asyncio.current_task()
        self.tasks.add(task)
        try:
            await self.script(reader, writer)
        except (asyncio.CancelledError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.tasks.discard(task)
            writer.close()  # after what the script wrote has been sent


def test_direct_tls_connection_info_and_stream_reads(config, tls):
    async def script(reader, writer):
        writer.write(b"0123456789")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"abcdef")
        await writer.drain()
        data = await reader.readexactly(5)
        writer.write(data.upper())
        await writer.drain()
        writer.close()

    async def main():
        async with RawServer(script, tls.server_context) as server:
            conn = await open_connection(parse_url(f"https://localhost:{server.port}/"), config)
            first = await conn.read(4)
            rest = await conn.read_exactly(12)
            await conn.write(b"hello")
            echoed = await conn.read_exactly(5)
            eof = await conn.read()
            eof_again = await conn.read()
            info = conn.info
            await conn.aclose()
            return first, rest, echoed, eof, eof_again, info

    first, rest, echoed, eof, eof_again, info = run(main())
    assert (first, rest, echoed) == (b"0123", b"456789abcdef", b"HELLO")
    assert eof == eof_again == b""
    assert info.origin.startswith("https://localhost:")
    assert info.proxy is None and info.tls_version in ("TLSv1.2", "TLSv1.3")
    assert info.peer and not info.absolute_form


def test_localhost_tries_every_address(config):
    """localhost may resolve to ::1 first; the server listens on 127.0.0.1 only."""

    async def script(reader, writer):
        writer.write(b"hi")
        await writer.drain()

    async def main():
        async with RawServer(script) as server:
            conn = await open_connection(parse_url(f"http://localhost:{server.port}/"), config)
            data = await conn.read_exactly(2)
            await conn.aclose()
            return data

    assert run(main()) == b"hi"


def test_read_timeout_and_unread(config):
    async def script(reader, writer):
        writer.write(b"early")
        await writer.drain()
        await asyncio.sleep(30)

    async def main():
        async with RawServer(script) as server:
            conn = await open_connection(parse_url(f"http://127.0.0.1:{server.port}/"), config)
            data = await conn.read()
            conn.unread(data[2:])
            again = await conn.read()
            with pytest.raises(NetworkError) as info:
                await conn.read(timeout=0.1)
            await conn.aclose()
            return data, again, info.value

    data, again, error = run(main())
    assert (data, again) == (b"early", b"rly")
    assert error.kind == "timeout" and error.retryable and "0.1s" in error.message


def test_reading_and_writing_after_close(config):
    async def script(reader, writer):
        await asyncio.sleep(30)

    async def main():
        async with RawServer(script) as server:
            conn = await open_connection(parse_url(f"http://127.0.0.1:{server.port}/"), config)
            await conn.aclose()
            errors = []
            for op in (conn.write(b"x"), conn.read()):
                try:
                    await op
                except NetworkError as exc:
                    errors.append(exc.kind)
            return errors, conn.closed, conn.is_reusable()

    assert run(main()) == (["closed", "closed"], True, False)


def test_peer_reset_is_a_closed_error(config):
    async def script(reader, writer):
        await reader.read(1)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def main():
        async with RawServer(script) as server:
            conn = await open_connection(parse_url(f"http://127.0.0.1:{server.port}/"), config)
            await conn.write(b"x")
            with pytest.raises(NetworkError) as info:
                while True:
                    if not await conn.read():
                        raise AssertionError("EOF instead of a reset")
            await conn.aclose()
            return info.value

    error = run(main())
    assert error.kind == "closed" and error.retryable
    assert "reset" in error.message


def test_reading_is_paused_while_the_caller_does_not_read(config):
    """Back-pressure: an unread fast stream does not pile up in memory."""
    total = 16 * 2**20

    async def script(reader, writer):
        chunk = b"x" * 2**20
        for _ in range(total // len(chunk)):
            writer.write(chunk)
            await writer.drain()
        await reader.read()  # until the client closes: an abort now would drop unsent bytes

    async def main():
        async with RawServer(script) as server:
            conn = await open_connection(parse_url(f"http://127.0.0.1:{server.port}/"), config)
            await asyncio.sleep(0.3)
            buffered = conn.buffered
            received = 0
            while received < total:
                data = await conn.read()
                assert data and len(data) <= 65536
                received += len(data)
            await conn.aclose()
            return buffered, received

    buffered, received = run(main())
    assert received == total
    assert buffered <= 2**20


def test_tls_false_overrides_the_scheme(config):
    async def script(reader, writer):
        writer.write(b"plain")
        await writer.drain()

    async def main():
        async with RawServer(script) as server:
            conn = await open_connection(parse_url(f"https://127.0.0.1:{server.port}/"), config,
                                         tls=False)
            data = await conn.read_exactly(5)
            await conn.aclose()
            return data, conn.info.tls_version

    assert run(main()) == (b"plain", None)


def test_socks4a_sends_the_host_name(tls):
    seen = []

    async def socks4(reader, writer):
        header = await reader.readexactly(8)
        version, command, port = header[0], header[1], struct.unpack("!H", header[2:4])[0]
        user = (await reader.readuntil(b"\x00"))[:-1]
        host = (await reader.readuntil(b"\x00"))[:-1].decode()
        seen.append((version, command, port, header[4:8], user, host))
        writer.write(b"\x00\x5a" + header[2:8])
        await writer.drain()
        writer.write(b"tunnel-ok")
        await writer.drain()
        await asyncio.sleep(30)

    async def main():
        async with RawServer(socks4) as proxy:
            config = NetConfig.from_env({"HTTP_PROXY": f"socks4a://bob@127.0.0.1:{proxy.port}",
                                         "CLAW_PROXY_LOOPBACK": "1"}, connect_timeout=5)
            conn = await open_connection(parse_url("http://localhost:8080/"), config)
            data = await conn.read_exactly(9)
            info = conn.info
            await conn.aclose()
            return data, info

    data, info = run(main())
    assert data == b"tunnel-ok"
    assert info.proxy.startswith("socks4a://bob@127.0.0.1:")
    assert seen == [(4, 1, 8080, b"\x00\x00\x00\x01", b"bob", "localhost")]


def test_socks4_rejection_is_a_proxy_error(tls):
    async def socks4(reader, writer):
        await reader.readexactly(8)
        await reader.readuntil(b"\x00")
        writer.write(b"\x00\x5b" + bytes(6))
        await writer.drain()

    async def main():
        async with RawServer(socks4) as proxy:
            config = NetConfig.from_env({"HTTP_PROXY": f"socks4://127.0.0.1:{proxy.port}",
                                         "CLAW_PROXY_LOOPBACK": "1"}, connect_timeout=5)
            await open_connection(parse_url("http://127.0.0.1:8080/"), config)

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "proxy" and "rejected" in info.value.message


def test_proxy_that_is_not_http_is_a_clear_error(tls):
    async def not_a_proxy(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    async def main():
        async with RawServer(not_a_proxy) as proxy:
            config = NetConfig.from_env({"HTTPS_PROXY": f"http://127.0.0.1:{proxy.port}",
                                         "CLAW_PROXY_LOOPBACK": "1"}, connect_timeout=5)
            await open_connection(parse_url("https://127.0.0.1:9/"), config)

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "proxy" and "instead of answering CONNECT" in info.value.message


def test_connection_repr_hides_proxy_password(tls):
    async def script(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(30)

    async def main():
        async with RawServer(script) as proxy:
            config = NetConfig.from_env(
                {"HTTPS_PROXY": f"http://u:topsecret@127.0.0.1:{proxy.port}",
                 "CLAW_PROXY_LOOPBACK": "1"}, connect_timeout=5)
            conn = await open_connection(parse_url("https://127.0.0.1:9/"), config, tls=False)
            text = repr(conn) + repr(conn.info) + repr(conn.proxy)
            await conn.aclose()
            return text

    text = run(main())
    assert "topsecret" not in text and "u:***@" in text
    assert isinstance(Connection, type)
