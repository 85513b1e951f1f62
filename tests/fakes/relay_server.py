"""A test upstream-proxy server — the session side of claw's relay — and the local targets it reaches.

``FakeUpstreamProxy`` is a real WebSocket server (the ``websockets`` package) that speaks the CCR
upstream-proxy protocol independently of claw's code (its framing is re-implemented here, so a bug in
claw's codec cannot hide itself):

- plain HTTP/WebSocket, or TLS with ``ssl_context`` (``base_url`` is then ``https://``);
- ``GET /v1/code/upstreamproxy/ca-cert`` answers the session CA (PEM) to ``Authorization: Bearer
  <token>``; ``ca_status`` makes it fail (e.g. 500);
- ``/v1/code/upstreamproxy/ws`` accepts the WebSocket handshake with the bearer token (``ws_status``
  refuses it, e.g. 403). The first binary message must be an ``UpstreamProxyChunk`` holding
  ``CONNECT host:port HTTP/1.1`` with ``Proxy-Authorization: Basic base64(session:token)``; the server
  connects to the target (through ``host_map``: ``"name:port" -> ("127.0.0.1", port)``, so tests can use
  host names that no resolver knows and that NO_PROXY does not cover), answers ``HTTP/1.1 200
  Connection Established`` in a chunk and pipes bytes both ways in chunks. Target EOF closes the
  WebSocket with 1000; a closed WebSocket closes the target connection;
- ``break_after`` (bytes sent down a tunnel) aborts that tunnel's TCP connection mid-stream, without a
  close frame; ``kill_all()`` does it to every open tunnel.

Everything is recorded: ``handshakes`` (header dicts), ``ca_requests``, ``tunnels`` (``TunnelRecord``).

``EchoServer`` echoes bytes; ``HttpsHelloServer`` is a TLS (trustme) HTTP/1.1 server that answers every
request with a fixed body. ``BackgroundLoop`` runs any of them on a daemon thread, for tests that block
(subprocesses, urllib) and for benchmarks.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

WS_PATH = "/v1/code/upstreamproxy/ws"
CA_PATH = "/v1/code/upstreamproxy/ca-cert"
MAX_CHUNK = 512 * 1024


# -- the framing, written independently of claw.remote.relay_framing ------------------------------


def pb_encode(data: bytes) -> bytes:
    n = len(data)
    out = bytearray(b"\x0a")
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            break
    return bytes(out) + data


def pb_decode(message: bytes) -> Optional[bytes]:
    if not message:
        return b""
    if message[0] != 0x0A:
        return None
    length = shift = 0
    pos = 1
    while pos < len(message):
        byte = message[pos]
        pos += 1
        length += (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
    else:
        return None
    if pos + length != len(message):
        return None
    return bytes(message[pos:])


# -- records -----------------------------------------------------------------------------------------


@dataclass
class TunnelRecord:
    target: str = ""  # host:port from the CONNECT
    proxy_authorization: Optional[str] = None
    authorized: bool = False
    connected: bool = False
    bytes_up: int = 0  # client -> target payload
    bytes_down: int = 0  # target -> client payload
    keepalives: int = 0
    ended: str = ""  # how it ended: "target-eof", "client-closed", "broken", "refused", ...


@dataclass
class FakeUpstreamProxy:
    session_id: str
    token: str
    ca_pem: str
    host_map: Dict[str, Tuple[str, int]] = field(default_factory=dict)
    ca_status: int = 200
    ws_status: Optional[int] = None  # refuse WebSocket handshakes with this HTTP status
    break_after: Optional[int] = None  # abort a tunnel after this many bytes went down
    read_size: int = 256 * 1024
    host: str = "127.0.0.1"
    ssl_context: Any = None  # serve https/wss with this server context (e.g. from trustme)

    handshakes: List[Dict[str, str]] = field(default_factory=list)
    ca_requests: List[Dict[str, str]] = field(default_factory=list)
    tunnels: List[TunnelRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server: Any = None
        self._live: List[Any] = []
        self.port = 0

    @property
    def base_url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    async def start(self) -> "FakeUpstreamProxy":
        from websockets.asyncio.server import serve

        self._server = await serve(self._handler, self.host, 0, process_request=self._process_request,
                                   compression=None, max_size=4 * MAX_CHUNK, ping_interval=None,
                                   ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> "FakeUpstreamProxy":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def kill_all(self) -> None:
        """Abort every open tunnel's TCP connection (no close frame): a tunnel dying mid-stream."""
        for ws in list(self._live):
            ws.transport.abort()

    # -- HTTP side --------------------------------------------------------------------------------

    def _authorized(self, request: Any) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def _process_request(self, connection: Any, request: Any) -> Any:
        headers = {k.lower(): v for k, v in request.headers.raw_items()}
        path = request.path.split("?", 1)[0]
        if path == CA_PATH:
            self.ca_requests.append(headers)
            if not self._authorized(request):
                return connection.respond(401, "unauthorized\n")
            if self.ca_status != 200:
                return connection.respond(self.ca_status, "the CA service failed\n")
            return connection.respond(200, self.ca_pem)
        if path != WS_PATH:
            return connection.respond(404, "not found\n")
        self.handshakes.append(headers)
        if self.ws_status is not None:
            return connection.respond(self.ws_status, "refused by the test\n")
        if not self._authorized(request):
            return connection.respond(401, "unauthorized\n")
        return None

    # -- tunnels ----------------------------------------------------------------------------------

    async def _handler(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        record = TunnelRecord()
        try:
            first = await ws.recv()
        except ConnectionClosed:
            return  # a probe: opened and closed
        self.tunnels.append(record)
        head = pb_decode(first) if isinstance(first, bytes) else None
        if head is None or not head.endswith(b"\r\n\r\n"):
            record.ended = "bad-first-chunk"
            await ws.close(1002, "expected a CONNECT chunk")
            return
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "proxy-authorization":
                record.proxy_authorization = value.strip()
        record.target = parts[1] if len(parts) == 3 and parts[0] == "CONNECT" else ""
        expected = "Basic " + base64.b64encode(f"{self.session_id}:{self.token}".encode()).decode()
        record.authorized = record.proxy_authorization == expected
        if not record.authorized:
            record.ended = "refused"
            await ws.send(pb_encode(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"))
            await ws.close(1000)
            return
        host, _, port = record.target.rpartition(":")
        address = self.host_map.get(record.target) or (host.strip("[]"), int(port or 0))
        try:
            reader, writer = await asyncio.open_connection(*address)
        except OSError:
            record.ended = "unreachable"
            await ws.send(pb_encode(b"HTTP/1.1 502 Bad Gateway\r\n\r\n"))
            await ws.close(1000)
            return
        record.connected = True
        await ws.send(pb_encode(b"HTTP/1.1 200 Connection Established\r\n\r\n"))
        self._live.append(ws)
        try:
            await self._pipe(ws, reader, writer, record)
        finally:
            self._live.remove(ws)
            writer.close()

    async def _pipe(self, ws: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    record: TunnelRecord) -> None:
        from websockets.exceptions import ConnectionClosed

        async def up() -> None:
            try:
                async for message in ws:
                    data = pb_decode(message) if isinstance(message, bytes) else None
                    if data is None:
                        record.ended = "malformed"
                        await ws.close(1002, "malformed chunk")
                        return
                    if not data:
                        record.keepalives += 1
                        continue
                    record.bytes_up += len(data)
                    writer.write(data)
                    await writer.drain()
            except (ConnectionClosed, ConnectionError):
                pass
            record.ended = record.ended or "client-closed"
            writer.close()

        async def down() -> None:
            try:
                while True:
                    data = await reader.read(self.read_size)
                    if not data:
                        break
                    if self.break_after is not None and record.bytes_down + len(data) > self.break_after:
                        data = data[:max(self.break_after - record.bytes_down, 0)]
                        if data:
                            record.bytes_down += len(data)
                            await ws.send(pb_encode(data))
                        record.ended = "broken"
                        ws.transport.abort()
                        return
                    record.bytes_down += len(data)
                    for start in range(0, len(data), MAX_CHUNK):
                        await ws.send(pb_encode(data[start:start + MAX_CHUNK]))
                record.ended = record.ended or "target-eof"
                await ws.close(1000)
            except (ConnectionClosed, ConnectionError):
                pass

        tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            # the other direction finishes on its own once the WebSocket or the target closes
            await asyncio.wait(tasks, timeout=10)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


# -- targets -----------------------------------------------------------------------------------------


class EchoServer:
    """Echoes every byte back; closes after echoing what arrived before the client's EOF."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.connections = 0
        self._server: Any = None

    async def start(self) -> "EchoServer":
        self._server = await asyncio.start_server(self._serve, self.host, 0, limit=256 * 1024)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                data = await reader.read(256 * 1024)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


class SourceServer:
    """Reads one line, then sends ``size`` bytes (``block`` repeated) and closes: a download."""

    def __init__(self, size: int, host: str = "127.0.0.1", block: bytes = b"") -> None:
        self.size = size
        self.host = host
        self.block = block or bytes(range(256)) * 1024  # 256 KiB
        self.port = 0
        self._server: Any = None

    def expected(self) -> bytes:
        whole, rest = divmod(self.size, len(self.block))
        return self.block * whole + self.block[:rest]

    async def start(self) -> "SourceServer":
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readline()
            sent = 0
            while sent < self.size:
                piece = self.block[:min(len(self.block), self.size - sent)]
                writer.write(piece)
                sent += len(piece)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


class HttpsHelloServer:
    """HTTP/1.1 over TLS (``ssl_context``, e.g. from trustme) answering every request with ``body``."""

    def __init__(self, ssl_context: Any, body: bytes = b"hello through the relay\n",
                 host: str = "127.0.0.1") -> None:
        self.ssl_context = ssl_context
        self.body = body
        self.host = host
        self.port = 0
        self.requests: List[str] = []
        self._server: Any = None

    async def start(self) -> "HttpsHelloServer":
        self._server = await asyncio.start_server(self._serve, self.host, 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.requests.append(head.decode("latin-1").split("\r\n", 1)[0])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n" % len(self.body) + self.body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            writer.close()


class BackgroundLoop:
    """An event loop on a daemon thread: ``call(coro)`` runs a coroutine there and returns its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-background-loop",
                                        daemon=True)
        self._thread.start()

    def call(self, coro: Awaitable[Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run_sync(self, fn: Callable[[], Any], timeout: float = 30.0) -> Any:
        async def wrapper() -> Any:
            return fn()

        return self.call(wrapper(), timeout)

    def close(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.call(cancel_all(), 10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    def __enter__(self) -> "BackgroundLoop":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HttpSourceServer:
    """Plain HTTP/1.1: ``GET /N`` answers N bytes (``block`` repeated), keep-alive; ``POST`` reads the
    body (Content-Length) and answers its size. For throughput benchmarks with curl or any client."""

    def __init__(self, host: str = "127.0.0.1", block: bytes = b"") -> None:
        self.host = host
        self.block = block or bytes(range(256)) * 1024  # 256 KiB
        self.port = 0
        self._server: Any = None

    async def start(self) -> "HttpSourceServer":
        self._server = await asyncio.start_server(self._serve, self.host, 0, limit=1 << 20)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0].split()
                method, target = line[0], line[1]
                if method == b"POST":
                    length = 0
                    for header in head.split(b"\r\n")[1:]:
                        name, _, value = header.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    left = length
                    while left:
                        data = await reader.read(min(left, 1 << 20))
                        if not data:
                            return
                        left -= len(data)
                    body = b"%d\n" % length
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                    await writer.drain()
                    continue
                size = int(target.strip(b"/") or b"0")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                             b"Content-Length: %d\r\n\r\n" % size)
                sent = 0
                while sent < size:
                    piece = self.block[:min(len(self.block), size - sent)]
                    writer.write(piece)
                    sent += len(piece)
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
            pass
        finally:
            writer.close()


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m tests.fakes.relay_server upstream --session S --token T [--map NAME:PORT=HOST:PORT]``
    or ``... http-source``: serve on 127.0.0.1, print one JSON line (``base_url`` / ``port``), run until
    stdin closes or SIGTERM."""
    import argparse
    import json
    import signal
    import sys

    parser = argparse.ArgumentParser(prog="relay_server")
    parser.add_argument("what", choices=("upstream", "http-source"))
    parser.add_argument("--session", default="bench-session")
    parser.add_argument("--token", default="bench-token")
    parser.add_argument("--ca-pem", default="")
    parser.add_argument("--map", action="append", default=[], metavar="NAME:PORT=HOST:PORT")
    args = parser.parse_args(argv)
    # Benchmarks run these processes: allocate and free one 4 MiB block so that glibc recycles the
    # large per-chunk buffers instead of page-faulting them in anew (claw's relay does the same).
    bytearray(4 << 20)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
        loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.buffer.read1(1 << 16) or
                        stop.done() or stop.set_result(None))
        if args.what == "upstream":
            host_map = {}
            for item in args.map:
                name, _, address = item.partition("=")
                host, _, port = address.rpartition(":")
                host_map[name] = (host, int(port))
            server: Any = FakeUpstreamProxy(args.session, args.token, args.ca_pem, host_map=host_map)
            await server.start()
            print(json.dumps({"base_url": server.base_url, "port": server.port}), flush=True)
        else:
            server = await HttpSourceServer().start()
            print(json.dumps({"port": server.port}), flush=True)
        await stop
        await server.aclose()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
