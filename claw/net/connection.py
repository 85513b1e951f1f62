"""An open byte stream to an origin: ``Connection``, what ``claw.net.connect.open_connection`` returns.

``Connection`` reads with back-pressure (reading from the socket pauses while 256 KiB are buffered and
unread), writes with ``drain``, upgrades to TLS in place (``start_tls``, also TLS-in-TLS on 3.11+) and
closes gracefully with a bounded wait (``aclose``). ``ConnectionInfo`` says where the bytes go, safe to
print. Failures are ``NetworkError(kind="closed"|"timeout"|...)``.

It deliberately does not open connections, pick proxies or trust stores, or speak any protocol
(claw.net.connect, proxy.py, tls.py, http.py and ws.py do).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Deque, List, Optional

from claw.errors import NetworkError

if TYPE_CHECKING:  # pragma: no cover
    from claw.net.proxy import ProxyConfig

READ_CHUNK = 65536


# Pause reading from the socket while this much is buffered and unread; resume below the low mark.
_HIGH_WATER = 4 * READ_CHUNK


_LOW_WATER = READ_CHUNK
_CLOSE_WAIT = 1.0  # seconds aclose() waits for a graceful close before aborting


@dataclass(frozen=True)
class ConnectionInfo:
    """What a ``Connection`` leads to; safe to print (the proxy is redacted)."""

    origin: str  # "https://host[:port]" the bytes are meant for
    proxy: Optional[str] = None  # redacted proxy URL, None for a direct connection
    tls_version: Optional[str] = None  # TLS to the origin ("TLSv1.3"), None when plain
    absolute_form: bool = False  # plain-http origin through an http(s) proxy: absolute-form targets
    peer: Optional[str] = None  # the socket's remote "address:port" (the proxy's when proxied)


class StreamProtocol(asyncio.Protocol):
    """Buffers received chunks (no copy, no per-byte work) and wakes one reader."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: Optional[asyncio.Transport] = None
        self.chunks: Deque[bytes] = collections.deque()
        self.size = 0
        self.eof = False
        self.lost = False
        self.error: Optional[BaseException] = None
        self.read_paused = False
        self.write_paused = False
        self._read_waiter: Optional[asyncio.Future] = None
        self._drain_waiters: List[asyncio.Future] = []
        self._lost_waiter: Optional[asyncio.Future] = None

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not data:
            return
        if type(data) is not bytes:
            data = bytes(data)
        self.chunks.append(data)
        self.size += len(data)
        self._wake_reader()
        if self.size > _HIGH_WATER and not self.read_paused and self.transport is not None:
            try:
                self.transport.pause_reading()
                self.read_paused = True
            except (AttributeError, NotImplementedError, RuntimeError):
                pass

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self.lost = True
        self.eof = True
        if exc is not None and self.error is None:
            self.error = exc
        self._wake_reader()
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()
        if self._lost_waiter is not None and not self._lost_waiter.done():
            self._lost_waiter.set_result(None)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()

    # helpers for Connection
    def _wake_reader(self) -> None:
        waiter = self._read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_readable(self, timeout: Optional[float]) -> bool:
        """Wait until data, EOF or loss; False when ``timeout`` passed first."""
        waiter = self._loop.create_future()
        self._read_waiter = waiter
        handle = None
        if timeout is not None:
            handle = self._loop.call_later(max(timeout, 0.0), _resolve, waiter, False)
        try:
            result = await waiter
        finally:
            self._read_waiter = None
            if handle is not None:
                handle.cancel()
        return result is not False

    def take(self, max_bytes: int) -> bytes:
        chunks = self.chunks
        first = chunks[0]
        if len(first) >= max_bytes:
            if len(first) == max_bytes:
                chunks.popleft()
                out = first
            else:
                out = first[:max_bytes]
                chunks[0] = first[max_bytes:]
        else:
            parts = [chunks.popleft()]
            got = len(first)
            while chunks and got < max_bytes:
                nxt = chunks[0]
                room = max_bytes - got
                if len(nxt) <= room:
                    parts.append(chunks.popleft())
                    got += len(nxt)
                else:
                    parts.append(nxt[:room])
                    chunks[0] = nxt[room:]
                    got = max_bytes
            out = parts[0] if len(parts) == 1 else b"".join(parts)
        self.size -= len(out)
        if self.read_paused and self.size <= _LOW_WATER and self.transport is not None:
            self.read_paused = False
            try:
                self.transport.resume_reading()
            except (AttributeError, NotImplementedError, RuntimeError):
                pass
        return out

    async def drain(self, timeout: Optional[float]) -> bool:
        """Wait until the transport takes more data; False when ``timeout`` passed first."""
        deadline = None if timeout is None else self._loop.time() + timeout
        while self.write_paused and not self.lost:
            waiter = self._loop.create_future()
            self._drain_waiters.append(waiter)
            handle = None
            if deadline is not None:
                handle = self._loop.call_at(deadline, _resolve, waiter, False)
            try:
                if (await waiter) is False:
                    return False
            finally:
                if handle is not None:
                    handle.cancel()
                if waiter in self._drain_waiters:
                    self._drain_waiters.remove(waiter)
        return True

    async def wait_lost(self, timeout: float) -> bool:
        if self.lost:
            return True
        self._lost_waiter = self._loop.create_future()
        handle = self._loop.call_later(timeout, _resolve, self._lost_waiter, False)
        try:
            return (await self._lost_waiter) is not False
        finally:
            handle.cancel()


def _resolve(future: asyncio.Future, value: object) -> None:
    if not future.done():
        future.set_result(value)


class Connection:
    """A byte stream to one origin (possibly through a proxy and TLS); made by ``open_connection``.

    ``read`` returns what has arrived, up to ``max_bytes`` (b"" at EOF); ``write`` queues bytes and
    waits only when the transport's buffer is full. One task reads at a time; writes from several
    tasks are kept in call order.
    """

    def __init__(self, transport: asyncio.Transport, protocol: StreamProtocol,
                 info: ConnectionInfo, proxy: Optional[ProxyConfig] = None) -> None:
        self._transport = transport
        self._protocol = protocol
        self.info = info
        self.proxy = proxy  # the ProxyConfig in use (its repr hides the password), or None
        self._closed = False

    # reading
    async def read(self, max_bytes: int = READ_CHUNK, *, timeout: Optional[float] = None) -> bytes:
        """Up to ``max_bytes`` received bytes; b"" at EOF. ``timeout``: seconds to wait for the
        first byte -> ``NetworkError(kind="timeout")``; a reset -> ``NetworkError(kind="closed")``."""
        proto = self._protocol
        if not proto.size:
            if not proto.eof and not self._closed:
                if not await proto.wait_readable(timeout):
                    raise NetworkError(
                        f"no data from {self._describe()} for {format_seconds(timeout)}",
                        kind="timeout", retryable=True,
                        hint="the server or a proxy stalled; try again, or raise the idle timeout "
                             "(CLAW_STREAM_IDLE_TIMEOUT)",
                    )
            if not proto.size:
                if self._closed:
                    raise self._closed_error()
                if proto.error is not None:
                    raise self._reset_error(proto.error)
                return b""
        return proto.take(max_bytes)

    async def read_exactly(self, count: int, *, timeout: Optional[float] = None) -> bytes:
        """Exactly ``count`` bytes; EOF first -> ``NetworkError(kind="closed")``."""
        parts = []
        need = count
        while need:
            data = await self.read(need, timeout=timeout)
            if not data:
                raise NetworkError(
                    f"{self._describe()} closed the connection in the middle of a message",
                    kind="closed", retryable=True,
                )
            parts.append(data)
            need -= len(data)
        return b"".join(parts)

    def unread(self, data: bytes) -> None:
        """Put ``data`` back in front of the received bytes (what a parser read too far)."""
        if data:
            self._protocol.chunks.appendleft(bytes(data))
            self._protocol.size += len(data)

    @property
    def buffered(self) -> int:
        """Bytes received and not read yet."""
        return self._protocol.size

    # writing
    async def write(self, data: bytes, *, timeout: Optional[float] = None) -> None:
        """Send ``data``; waits while the peer is not reading (flow control). ``timeout``: the
        longest wait for the peer to take more -> ``NetworkError(kind="timeout")``."""
        proto = self._protocol
        if self._closed:
            raise self._closed_error()
        if proto.lost or self._transport.is_closing():
            if proto.error is not None:
                raise self._reset_error(proto.error)
            raise NetworkError(f"the connection to {self._describe()} is closed",
                               kind="closed", retryable=True)
        if data:
            self._transport.write(data)
        if proto.write_paused:
            if not await proto.drain(timeout):
                raise NetworkError(
                    f"{self._describe()} took no data for {format_seconds(timeout)} (it is not reading)",
                    kind="timeout", retryable=True,
                )
            if proto.lost and proto.error is not None:
                raise self._reset_error(proto.error)

    async def writelines(self, pieces: List[bytes], *, timeout: Optional[float] = None) -> None:
        """Send several pieces as one write when they are small, one by one when large."""
        total = sum(len(p) for p in pieces)
        if total <= 4 * READ_CHUNK:
            await self.write(b"".join(pieces), timeout=timeout)
        else:
            for piece in pieces:
                await self.write(piece, timeout=timeout)

    # state
    def is_reusable(self) -> bool:
        """True when idle and healthy: open, no EOF, nothing unexpected received."""
        proto = self._protocol
        return not (self._closed or proto.eof or proto.lost or proto.size
                    or self._transport.is_closing())

    @property
    def closed(self) -> bool:
        return self._closed or self._protocol.lost

    def abort(self) -> None:
        """Close now, without a graceful TLS shutdown (a connection in an unknown state)."""
        self._closed = True
        self._transport.abort()

    async def aclose(self) -> None:
        """Close gracefully (TLS close_notify), abort if that takes longer than a second."""
        if self._closed and self._protocol.lost:
            return
        self._closed = True
        self._transport.close()
        try:
            done = await self._protocol.wait_lost(_CLOSE_WAIT)
        except asyncio.CancelledError:
            self._transport.abort()
            raise
        if not done:
            self._transport.abort()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        via = f" via {self.info.proxy}" if self.info.proxy else ""
        return f"<Connection to {self.info.origin}{via}{' closed' if self.closed else ''}>"

    # internals
    def _describe(self) -> str:
        if self.info.proxy:
            return f"{self.info.origin} (via proxy {self.info.proxy})"
        return self.info.origin

    def _closed_error(self) -> NetworkError:
        return NetworkError(f"the connection to {self._describe()} was closed",
                            kind="closed", retryable=True)

    def _reset_error(self, exc: BaseException) -> NetworkError:
        reason = os_reason(exc)
        return NetworkError(f"the connection to {self._describe()} was lost: {reason}",
                            kind="closed", retryable=True)

    async def _start_tls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """Wrap this (plain or already-TLS) stream in TLS; the handshake's errors propagate."""
        if self._protocol.size:
            raise NetworkError(
                f"{self._describe()} sent data before the TLS handshake",
                kind="protocol",
                hint="the proxy or server does not behave as a tunnel; check the proxy URL",
            )
        loop = asyncio.get_running_loop()
        new_transport = await loop.start_tls(
            self._transport, self._protocol, context, server_hostname=server_hostname
        )
        if new_transport is None:  # pragma: no cover - only when the loop is closing
            raise NetworkError(f"TLS to {self._describe()} could not start", kind="closed")
        self._transport = new_transport
        self._protocol.transport = new_transport

    def _tls_version(self) -> Optional[str]:
        ssl_object = self._transport.get_extra_info("ssl_object")
        return ssl_object.version() if ssl_object is not None else None

    def _peer_chain(self) -> List[bytes]:
        """The certificates the TLS peer presented (the whole chain on 3.13+, the leaf before)."""
        from claw.net.tls import peer_chain_der

        ssl_object = self._transport.get_extra_info("ssl_object")
        return peer_chain_der(ssl_object) if ssl_object is not None else []


def os_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, BrokenPipeError):
        return "broken pipe"
    strerror = getattr(exc, "strerror", None)
    if strerror:
        return strerror
    return str(exc) or type(exc).__name__


def format_seconds(value: Optional[float]) -> str:
    if value is None:
        return "ever"
    return f"{value:g}s"
