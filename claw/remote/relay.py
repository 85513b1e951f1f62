"""The upstream-proxy relay: a local HTTP CONNECT proxy whose every tunnel is a WebSocket to the session.

``UpstreamRelay(settings)`` listens on ``127.0.0.1`` (an ephemeral port by default). For each client:

1. it reads the CONNECT request head (at most ``MAX_HEAD_BYTES``; a bigger or malformed head gets
   ``400``, another method ``405``) and keeps any bytes the client sent after it (a TLS ClientHello often
   arrives in the same packet);
2. it opens a WebSocket to the session's ``/v1/code/upstreamproxy/ws`` through the one connection factory
   (``claw.net.ws``: an outer corporate proxy and claw's trust still apply), authenticated as
   ``claw.remote.relay_framing`` says, and sends the CONNECT chunk, then the kept bytes. A WebSocket that
   cannot be opened gets the client a ``502 Bad Gateway`` — and only that client;
3. it relays bytes both ways as binary chunk messages. The server's own answer to the CONNECT is part
   of what it relays. Back-pressure: the client is read only after the previous chunk was handed to
   the WebSocket connection and its send buffer drained; a chunk from the server is written to the
   client and drained before the next one is taken, and the WebSocket reader holds at most a few
   messages — so memory per tunnel stays bounded (see docs/REMOTE.md for the numbers). The hot paths
   copy as little as they can: what a client sends is taken as the socket gave it (``_Client``) and
   goes into the masked WebSocket frame with its chunk prefix in one pass (``WebSocket.send_bytes``
   with two parts); a chunk from the server is written to the client as a view of the message;
4. keep-alive: an empty chunk every ``keepalive_interval`` seconds plus WebSocket pings whose missing
   pong marks the tunnel dead;
5. ends: the server closing the WebSocket normally closes the client connection gracefully (FIN);
   before the server sent anything, the client gets ``502``; a tunnel that breaks mid-stream (an
   abnormal close, a malformed chunk, a lost connection) resets that one client connection and nothing
   else. A client's EOF (half-close) cannot be forwarded (the framing has no message for it): the relay
   stops reading that client and keeps delivering what the server sends until the server closes the
   tunnel, the client goes away, or the server has been silent for ``HALF_CLOSE_IDLE`` seconds (a
   client that closed completely looks the same as one that half-closed).

It deliberately does not serve plain-HTTP proxy requests (``GET http://...``), authenticate local
clients (it listens on loopback only), or retry a tunnel (a client retries by reconnecting). It logs
nothing: counters are in ``stats``.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field
from typing import Any, Deque, Optional, Set

from claw.errors import NetworkError
from claw.remote import relay_framing as framing

MAX_HEAD_BYTES = 8192
HEAD_TIMEOUT = 30.0  # seconds a client has to send its CONNECT request
CLIENT_READ = 256 * 1024  # bytes read from a client at a time (one chunk message)
CLIENT_BUFFER = 2 * CLIENT_READ  # received from a client and not yet sent: stop reading above this
HALF_CLOSE_IDLE = 10.0  # after a client's EOF: seconds of server silence that end the tunnel
_CLOSE_WAIT = 2.0
_ALLOCATOR_PRIME = 4 * 2**20  # see _settle_allocator


class RelayRequestError(Exception):
    """A client request the relay answers with an HTTP error status."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class ConnectTarget:
    """The host and port of a CONNECT request."""

    host: str
    port: int

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_connect_request(head: bytes) -> ConnectTarget:
    """The target of ``CONNECT host:port HTTP/1.x`` (header lines after it are ignored);
    ``RelayRequestError`` for anything else."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise RelayRequestError(400, "Bad Request", "undecodable request") from None
    line = text.split("\r\n", 1)[0].split("\n", 1)[0]
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise RelayRequestError(400, "Bad Request", "malformed request line")
    method, target, _version = parts
    if method != "CONNECT":
        raise RelayRequestError(405, "Method Not Allowed",
                                f"{method[:16]} is not supported: this proxy only tunnels (CONNECT)")
    if target.startswith("["):
        end = target.find("]")
        if end < 0 or target[end + 1:end + 2] != ":":
            raise RelayRequestError(400, "Bad Request", "malformed CONNECT target")
        host, port_text = target[1:end], target[end + 2:]
    else:
        host, sep, port_text = target.rpartition(":")
        if not sep:
            raise RelayRequestError(400, "Bad Request", "a CONNECT target needs host:port")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise RelayRequestError(400, "Bad Request", "a CONNECT target needs host:port")
    if any(ch in host for ch in " \t/\\@") or ":" in host and not target.startswith("["):
        raise RelayRequestError(400, "Bad Request", "malformed CONNECT host")
    return ConnectTarget(host, int(port_text))


def error_response(status: int, reason: str) -> bytes:
    extra = "Allow: CONNECT\r\n" if status == 405 else ""
    return (f"HTTP/1.1 {status} {reason}\r\n{extra}Content-Length: 0\r\n"
            f"Connection: close\r\n\r\n").encode("ascii")


@dataclass(frozen=True)
class RelaySettings:
    """Where tunnels go and how they authenticate. ``net_config`` is the ``NetConfig`` of claw's own
    (unshaped) environment, so an outer proxy applies to the WebSocket."""

    ws_url: str
    session_id: str
    token: str = field(repr=False)
    net_config: Any = field(repr=False)
    keepalive_interval: Optional[float] = framing.KEEPALIVE_INTERVAL
    connect_timeout: Optional[float] = None  # default: net_config.connect_timeout
    host: str = "127.0.0.1"
    port: int = 0


@dataclass
class RelayStats:
    """Counters since start (read them from the relay's own thread or after it stopped)."""

    tunnels_opened: int = 0  # CONNECTs whose WebSocket opened
    tunnels_failed: int = 0  # CONNECTs answered 502 because the WebSocket could not be opened
    tunnels_broken: int = 0  # tunnels that ended abnormally after opening
    tunnels_active: int = 0
    bad_requests: int = 0
    bytes_up: int = 0  # client -> server payload bytes
    bytes_down: int = 0  # server -> client payload bytes
    last_failure: Optional[str] = None  # the last tunnel failure, one line


class UpstreamRelay:
    """The listener and its tunnels; ``start()``, then ``url``; ``aclose()`` stops everything."""

    def __init__(self, settings: RelaySettings) -> None:
        self.settings = settings
        self.stats = RelayStats()
        self._server: Optional[asyncio.AbstractServer] = None
        self._tasks: Set["asyncio.Task[Any]"] = set()
        self._port: Optional[int] = None
        self.half_close_idle = HALF_CLOSE_IDLE

    async def start(self) -> None:
        _settle_allocator()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Client(self._serve_client),
                                                self.settings.host, self.settings.port)
        self._port = self._server.sockets[0].getsockname()[1]

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the relay is not started")
        return self._port

    @property
    def url(self) -> str:
        """The proxy URL children use: ``http://127.0.0.1:PORT``."""
        return f"http://{self.settings.host}:{self.port}"

    async def aclose(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            try:
                await asyncio.wait_for(server.wait_closed(), _CLOSE_WAIT)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - closing is best effort
                pass

    async def __aenter__(self) -> UpstreamRelay:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- one client ---------------------------------------------------------------------------------

    async def _serve_client(self, client: _Client) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._tunnel(client)
        except asyncio.CancelledError:  # the relay is closing: end quietly (asyncio would log it)
            client.abort()
        except Exception as exc:  # noqa: BLE001 - one broken tunnel must not touch the others
            self.stats.last_failure = f"{type(exc).__name__}: {exc}"
            client.abort()
        finally:
            if task is not None:
                self._tasks.discard(task)
            if not client.is_closing():
                client.close()

    async def _tunnel(self, client: _Client) -> None:
        try:
            head, rest = await asyncio.wait_for(_read_head(client), HEAD_TIMEOUT)
            target = parse_connect_request(head)
        except RelayRequestError as exc:
            self.stats.bad_requests += 1
            await _answer(client, exc.status, exc.reason)
            return
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError):
            self.stats.bad_requests += 1
            return
        ws = await self._open_websocket(target)
        if ws is None:
            await _answer(client, 502, "Bad Gateway")
            return
        self.stats.tunnels_opened += 1
        self.stats.tunnels_active += 1
        try:
            await ws.send_bytes(framing.encode_chunk(framing.tunnel_head(
                target.authority, self.settings.session_id, self.settings.token)))
            for message in framing.encode_chunks(rest) if rest else ():
                await ws.send_bytes(message)
            await self._pump(client, ws)
        except NetworkError as exc:  # the WebSocket died while sending the CONNECT chunk
            self._broken(f"tunnel to {target.authority}: {exc.message}")
            await _answer(client, 502, "Bad Gateway")
        finally:
            self.stats.tunnels_active -= 1
            if not ws.closed:
                try:
                    await asyncio.wait_for(ws.aclose(), _CLOSE_WAIT)
                except (asyncio.TimeoutError, Exception):  # noqa: BLE001
                    pass

    async def _open_websocket(self, target: ConnectTarget) -> Any:
        from claw.net.ws import connect_websocket

        settings = self.settings
        try:
            return await connect_websocket(
                settings.ws_url, settings.net_config,
                headers=framing.upgrade_headers(settings.token),
                max_message_size=framing.MAX_CHUNK_BYTES + 16,
                ping_interval=settings.keepalive_interval,
                connect_timeout=settings.connect_timeout)
        except NetworkError as exc:
            self.stats.tunnels_failed += 1
            self.stats.last_failure = f"tunnel to {target.authority}: {exc.message}"
            return None

    def _broken(self, text: str) -> None:
        self.stats.tunnels_broken += 1
        self.stats.last_failure = text

    async def _pump(self, client: _Client, ws: Any) -> None:
        progress = [False, 0]  # [the server has sent data, payload bytes it sent]
        up = asyncio.ensure_future(self._client_to_server(client, ws))
        down = asyncio.ensure_future(self._server_to_client(ws, client, progress))
        keepalive = None
        if self.settings.keepalive_interval:
            keepalive = asyncio.ensure_future(_keepalive(ws, self.settings.keepalive_interval))
        try:
            done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if down in done:
                outcome = down.result()
            else:
                how = up.result()
                if how == "eof":
                    # The client is done sending (a half-close, or a full close: TCP cannot tell).
                    # Deliver what the server sends until it closes, or until it has been silent
                    # for HALF_CLOSE_IDLE seconds.
                    seen = -1
                    while not down.done() and progress[1] != seen:
                        seen = progress[1]
                        await asyncio.wait({down}, timeout=self.half_close_idle)
                elif how == "closed":  # sending failed: the reader sees why the WebSocket ended
                    await asyncio.wait({down}, timeout=_CLOSE_WAIT)
                if down.done():
                    outcome = down.result()
                else:
                    outcome = "closed" if how == "closed" else "client"
        finally:
            for task in (up, down, keepalive):
                if task is not None and not task.done():
                    task.cancel()
            await asyncio.gather(*(t for t in (up, down, keepalive) if t is not None),
                                 return_exceptions=True)
        if outcome == "closed":
            code = ws.close_code
            if not progress[0]:
                await _answer(client, 502, "Bad Gateway")
            elif code in (1000, 1001):
                await _graceful_close(client)
            else:
                self._broken(f"tunnel closed by the server with code {code}")
                client.abort()
        elif outcome == "malformed":
            self._broken("the server sent a malformed tunnel message")
            client.abort()
            await ws.aclose(1002, "malformed chunk")
        else:  # the client went away (or reset): the tunnel ends quietly
            await ws.aclose(1000, "client closed")

    async def _client_to_server(self, client: _Client, ws: Any) -> str:
        """Client bytes to the server; returns ``eof`` (client half-closed), ``reset`` or ``closed``."""
        stats = self.stats
        prefix = framing.chunk_prefix
        while True:
            try:
                data = await client.read(CLIENT_READ)  # CLIENT_READ <= MAX_CHUNK_BYTES: one chunk
            except (ConnectionError, OSError):
                return "reset"
            if not data:
                return "eof"
            stats.bytes_up += len(data)
            try:
                # the chunk's prefix and the data go into the frame as they are: no joined copy
                await ws.send_bytes(prefix(len(data)), data)
            except NetworkError:
                return "closed"

    async def _server_to_client(self, ws: Any, client: _Client, progress: list) -> str:
        """Server chunks to the client; returns ``closed`` (the WebSocket ended), ``malformed`` or
        ``client`` (writing to the client failed)."""
        stats = self.stats
        offset_of = framing.data_offset
        write = client.write
        while True:
            try:
                message = await ws.recv()
            except NetworkError:
                return "closed"
            if isinstance(message, str):
                return "malformed"
            start = offset_of(message)
            if start < 0:
                return "malformed"
            size = len(message) - start
            if not size:
                continue  # keep-alive
            progress[0] = True
            progress[1] += size
            stats.bytes_down += size
            # no copy of the data: the transport sends from the view (or keeps it until it can)
            write(memoryview(message)[start:])
            try:
                await client.drain()
            except (ConnectionError, OSError):
                return "client"


class _Client(asyncio.Protocol):
    """One local client connection, for the tunnel task that ``serve`` starts.

    What the client sends is kept as the chunks the socket gave (``read`` hands them out without
    copying; reading the socket stops while more than ``CLIENT_BUFFER`` bytes wait); ``write`` and
    ``drain`` send with the transport's flow control. The client's EOF leaves the connection open for
    writing (a half-close); ``read`` then returns b"", and raises once the connection was reset."""

    def __init__(self, serve: Any) -> None:
        self._serve = serve
        self.transport: Optional[asyncio.Transport] = None
        self._chunks: Deque[bytes] = collections.deque()
        self._size = 0
        self._paused = False
        self._eof = False
        self._lost = False
        self._error: Optional[BaseException] = None
        self._write_paused = False
        self._read_waiter: Optional[asyncio.Future] = None
        self._drain_waiter: Optional[asyncio.Future] = None
        self._closed: Optional[asyncio.Future] = None
        self._task: Optional["asyncio.Task[Any]"] = None

    # asyncio's callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        self._closed = loop.create_future()
        self._task = loop.create_task(self._serve(self))  # referenced: a task must not be collected

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        _wake(self._read_waiter)
        if self._size > CLIENT_BUFFER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self._eof = True
        _wake(self._read_waiter)
        return True  # keep the transport open: the client may still read (a half-close)

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self._lost = self._eof = True
        if exc is not None:
            self._error = exc
        _wake(self._read_waiter)
        _wake(self._drain_waiter)
        _wake(self._closed)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        _wake(self._drain_waiter)

    # for the tunnel task
    async def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` the client sent, b"" after its EOF; ``ConnectionError`` once it
        reset the connection (after what arrived before)."""
        chunks = self._chunks
        while not chunks:
            if self._error is not None:
                raise self._error if isinstance(self._error, (ConnectionError, OSError)) \
                    else ConnectionResetError(str(self._error))
            if self._eof:
                return b""
            self._read_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._read_waiter
            finally:
                self._read_waiter = None
        data = chunks.popleft()
        if len(data) > max_bytes:
            chunks.appendleft(data[max_bytes:])
            data = data[:max_bytes]
        self._size -= len(data)
        if self._paused and self._size <= CLIENT_READ and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def write(self, data: Any) -> None:
        if self.transport is not None:
            self.transport.write(data)

    async def drain(self) -> None:
        """Wait while the transport holds more than its high-water mark; ``ConnectionResetError``
        once the connection is lost."""
        while self._write_paused and not self._lost:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._drain_waiter
            finally:
                self._drain_waiter = None
        if self._lost:
            raise ConnectionResetError("the client connection was lost")

    def is_closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Reset the connection (RST): a tunnel that broke must not look like a clean end."""
        if self.transport is not None:
            self.transport.abort()

    async def wait_closed(self) -> None:
        if self._closed is not None:
            await asyncio.shield(self._closed)


def _wake(waiter: Optional[asyncio.Future]) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _settle_allocator() -> None:
    """Let the C allocator keep freed tunnel buffers instead of handing them back to the OS at once.

    Every relayed chunk passes through short-lived buffers of 64-512 KiB (reads, the masked frame and
    its masking temporaries, a joined message). glibc serves such sizes with mmap, or from a heap
    that it trims as soon as more than twice that is free, so each new buffer starts as untouched
    pages: measured, about 850 page faults per MB uploaded and twice the relay's CPU time. Freeing one
    mmapped block raises glibc's thresholds to its size, after which those buffers are recycled. This
    allocates and frees one such block; with other allocators it is a harmless 4 MiB allocation."""
    bytearray(_ALLOCATOR_PRIME)


async def _read_head(client: _Client):
    """(the request head up to and including the blank line, the bytes after it)."""
    buffer = b""
    while True:
        data = await client.read(MAX_HEAD_BYTES)
        if not data:
            raise asyncio.IncompleteReadError(buffer, None)
        buffer += data
        end = buffer.find(b"\r\n\r\n")
        if end >= 0 and end + 4 <= MAX_HEAD_BYTES:
            return buffer[:end + 4], buffer[end + 4:]
        if len(buffer) > MAX_HEAD_BYTES:
            raise RelayRequestError(400, "Bad Request", "the request head is too large")


async def _keepalive(ws: Any, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await ws.send_bytes(framing.KEEPALIVE_MESSAGE)
        except NetworkError:
            return


async def _answer(client: _Client, status: int, reason: str) -> None:
    try:
        client.write(error_response(status, reason))
        await asyncio.wait_for(client.drain(), _CLOSE_WAIT)
    except (ConnectionError, OSError, asyncio.TimeoutError):
        pass
    await _graceful_close(client)


async def _graceful_close(client: _Client) -> None:
    if client.is_closing():
        return
    client.close()
    try:
        await asyncio.wait_for(client.wait_closed(), _CLOSE_WAIT)
    except (ConnectionError, OSError, asyncio.TimeoutError):
        client.abort()
