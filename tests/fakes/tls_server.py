"""A scripted HTTP/1.1 server on 127.0.0.1 (optionally TLS with a trustme CA) for net tests.

Each test gives a handler ``async def handler(request, responder)``: it sees the parsed request and
answers through the responder, either a whole response (``send``: Content-Length or chunked,
optionally gzip) or raw bytes, stalls, early closes and TCP resets, which is what the client's error
paths need. The server counts accepted connections (keep-alive tests) and records requests.

It runs in the test's own event loop (``async with ScriptedHttpServer(handler) as server``) and
cancels its handlers on exit. It is not a general HTTP server: no pipelining, no Expect, no
request trailers.
"""

from __future__ import annotations

import asyncio
import gzip as gzip_module
import socket
import ssl
import struct
from dataclasses import dataclass, field
from typing import Awaitable, Callable, List, Optional, Sequence, Tuple


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: List[Tuple[str, str]]  # names lower-case
    body: bytes = b""
    connection_index: int = 0  # which accepted connection it came on (0-based)

    def header(self, name: str) -> Optional[str]:
        for key, value in self.headers:
            if key == name.lower():
                return value
        return None


@dataclass
class Responder:
    writer: asyncio.StreamWriter
    closed: bool = False
    keep_alive: bool = True

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    async def drain(self) -> None:
        await self.writer.drain()

    async def send(self, status: int = 200, body: bytes = b"", *,
                   headers: Sequence[Tuple[str, str]] = (), reason: str = "OK",
                   chunked: bool = False, chunk_size: int = 16384, gzip: bool = False,
                   content_length: Optional[int] = None) -> None:
        """A whole response: Content-Length framing (or ``chunked``), body gzip-compressed on
        request. ``content_length`` overrides the header (to announce more than is sent)."""
        head = [f"HTTP/1.1 {status} {reason}"]
        payload = gzip_module.compress(body) if gzip else body
        if gzip:
            head.append("Content-Encoding: gzip")
        if chunked:
            head.append("Transfer-Encoding: chunked")
        elif status not in (204, 304):
            head.append(f"Content-Length: {len(payload) if content_length is None else content_length}")
        head.extend(f"{k}: {v}" for k, v in headers)
        self.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if chunked:
            for start in range(0, len(payload), chunk_size):
                piece = payload[start:start + chunk_size]
                self.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            self.write(b"0\r\n\r\n")
        else:
            self.write(payload)
        await self.drain()

    def close(self) -> None:
        """Close the connection after what was written (FIN)."""
        self.closed = True
        self.writer.close()

    def reset(self) -> None:
        """Abort the connection with a TCP RST."""
        self.closed = True
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Handler = Callable[[Request, Responder], Awaitable[None]]


@dataclass
class ScriptedHttpServer:
    handler: Handler
    ssl_context: Optional[ssl.SSLContext] = None
    host: str = "127.0.0.1"
    port: int = 0
    connections: int = 0
    requests: List[Request] = field(default_factory=list)
    _server: Optional[asyncio.AbstractServer] = None
    _tasks: set = field(default_factory=set)

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context is not None else "http"

    def url(self, path: str = "/", *, host: Optional[str] = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    async def __aenter__(self) -> ScriptedHttpServer:
        self._server = await asyncio.start_server(self._serve, self.host, self.port,
                                                  ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        index = self.connections
        self.connections += 1
        responder = Responder(writer)
        try:
            while not responder.closed:
                request = await _read_request(reader, index)
                if request is None:
                    break
                self.requests.append(request)
                await self.handler(request, responder)
                if request.header("connection") == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        except _BadRequest:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            responder.close()
        except asyncio.CancelledError:
            pass  # shutting down: end quietly (asyncio logs a cancelled connection callback)
        finally:
            self._tasks.discard(task)
            if not responder.closed:
                writer.transport.abort()


class _BadRequest(Exception):
    pass


async def _read_request(reader: asyncio.StreamReader, index: int) -> Optional[Request]:
    first = await reader.read(1)
    if not first:
        return None
    if not first.isalpha():  # not an HTTP request (a TLS ClientHello, say): 400, as servers do
        raise _BadRequest()
    try:
        head = first + await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
    request = Request(method, target, version, headers, connection_index=index)
    length = request.header("content-length")
    if request.header("transfer-encoding") == "chunked":
        parts = []
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                break
            parts.append(await reader.readexactly(size))
            await reader.readline()
        request.body = b"".join(parts)
    elif length:
        request.body = await reader.readexactly(int(length))
    return request


@dataclass
class TLSFixture:
    """A trustme CA, a server context for localhost/127.0.0.1/::1, and the CA as a PEM file."""

    ca_path: str
    server_context: ssl.SSLContext
    ca: object


def make_tls(tmp_path, names: Sequence[str] = ("localhost", "127.0.0.1", "::1")) -> TLSFixture:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert(*names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    path = tmp_path / f"ca-{id(ca)}.pem"
    ca.cert_pem.write_to_path(str(path))
    return TLSFixture(str(path), context, ca)
