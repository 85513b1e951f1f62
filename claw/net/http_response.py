"""A response of ``claw.net.http.HttpClient`` being read: its body stream, the idle-read and total
timeouts of the exchange, and handing its connection back to the client's pool (or closing it).

``HttpResponse`` is what ``HttpClient.request`` returns once the head has arrived; ``Exchange``
holds one request's timing (read deadline, total deadline) for the client while it sends and for the
response while its body streams. A body read to the end returns the connection to the pool with the
server's ``Keep-Alive: timeout``; a body left unread at ``aclose()`` is drained when it is small and
known to end soon (``DRAIN_LIMIT``), and the connection is closed otherwise.

It deliberately does not send anything, open connections or keep the pool (claw.net.http does), or
decode content itself (claw.net.content_encoding does, imported only for an encoded body).
"""

from __future__ import annotations

import asyncio
import collections
from typing import TYPE_CHECKING, Any, AsyncIterator, Deque, List, Optional, Tuple

from claw.errors import NetworkError
from claw.net.connection import READ_CHUNK, Connection

if TYPE_CHECKING:  # pragma: no cover
    from claw.net.http import HttpClient
    from claw.net.url import URL

DRAIN_LIMIT = 64 * 1024  # an unread body this small (and of known length) is read to reuse the socket
_DRAIN_TIMEOUT = 1.0


class Exchange:
    """Timing and identity of one request, shared by the client and its response."""

    __slots__ = ("loop", "origin", "read_timeout", "deadline", "total")

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: str, read_timeout: float,
                 total: Optional[float]) -> None:
        self.loop = loop
        self.origin = origin
        self.read_timeout = read_timeout
        self.total = total
        self.deadline = loop.time() + total if total is not None else None

    async def read(self, conn: Connection, what: str) -> bytes:
        timeout = self.read_timeout
        total_bound = False
        if self.deadline is not None:
            remaining = self.deadline - self.loop.time()
            if remaining <= 0:
                raise self.total_error()
            if remaining < timeout:
                timeout = remaining
                total_bound = True
        try:
            return await conn.read(READ_CHUNK, timeout=timeout)
        except NetworkError as exc:
            if exc.kind != "timeout":
                raise
            if total_bound:
                raise self.total_error() from None
            raise NetworkError(
                f"no data from {self.origin} for {self.read_timeout:g}s while {what}",
                kind="timeout", retryable=True,
                hint="the server or a proxy stalled; it is safe to try again. The idle limit is "
                     "CLAW_STREAM_IDLE_TIMEOUT (seconds)",
            ) from None

    async def write(self, conn: Connection, pieces: List[bytes]) -> None:
        timeout = self.read_timeout
        total_bound = False
        if self.deadline is not None:
            remaining = self.deadline - self.loop.time()
            if remaining <= 0:
                raise self.total_error()
            if remaining < timeout:
                timeout, total_bound = remaining, True
        try:
            await conn.writelines(pieces, timeout=timeout)
        except NetworkError as exc:
            if exc.kind == "timeout" and total_bound:
                raise self.total_error() from None
            raise

    def total_error(self) -> NetworkError:
        return NetworkError(
            f"the request to {self.origin} did not finish within {self.total:g}s",
            kind="timeout", retryable=True, hint="raise the request timeout (CLAW_API_TIMEOUT)",
        )

    def connect_timeout(self, configured: float) -> float:
        if self.deadline is None:
            return configured
        remaining = self.deadline - self.loop.time()
        if remaining <= 0:
            raise self.total_error()
        return min(configured, remaining)


class HttpResponse:
    """A response whose head has arrived; the body is read with ``iter_bytes`` / ``read``.

    Always ``aclose()`` it (or use ``async with``): that returns the connection to the pool when the
    body was read to the end, and closes it otherwise.
    """

    def __init__(self, client: HttpClient, key: tuple, conn: Connection, h11_conn: Any,
                 exchange: Exchange, url: URL, method: str, status: int, reason: str,
                 headers: List[Tuple[str, str]], http_version: str) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.http_version = http_version
        self.url = url
        self.method = method
        self._client = client
        self._key = key
        self._conn: Optional[Connection] = conn
        self._h11 = h11_conn
        self._exchange = exchange
        self._pending: Deque[bytes] = collections.deque()  # body bytes already received
        self._ended = False  # the whole body has been received
        self._released = False  # the connection went back to the pool or was closed
        self._streamed = False
        self._received = 0
        self._eof = False

    def header(self, name: str) -> Optional[str]:
        """The value of header ``name`` (any case); repeated headers joined with ", "."""
        name = name.lower()
        values = [value for key, value in self.headers if key == name]
        if not values:
            return None
        return values[0] if len(values) == 1 else ", ".join(values)

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """The body in chunks as they arrive, gzip/deflate decoded. Can be consumed once."""
        if self._streamed:
            raise RuntimeError("the response body has already been read")
        self._streamed = True
        encoding = self.header("content-encoding")
        decoder = None
        if encoding:  # most responses have none: the decoders are imported when one does
            from claw.net.content_encoding import decoder_for

            decoder = decoder_for(encoding)
        while True:
            raw = await self._next_raw()
            if raw is None:
                break
            if decoder is None:
                yield raw
            else:
                for piece in decoder.feed(raw, self._decode_error):
                    yield piece
        if decoder is not None:
            tail = decoder.finish(self._decode_error)
            if tail:
                yield tail

    async def read(self) -> bytes:
        """The whole (decoded) body; the connection is released afterwards."""
        parts = [chunk async for chunk in self.iter_bytes()]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def aclose(self) -> None:
        """Release the connection: back to the pool if the body was read (or is small and quick to
        drain), closed otherwise."""
        if self._released:
            return
        if not self._ended:
            remaining = self._remaining_length()
            if remaining is not None and remaining <= DRAIN_LIMIT and self._conn is not None:
                self._exchange.read_timeout = min(self._exchange.read_timeout, _DRAIN_TIMEOUT)
                try:
                    while await self._next_raw() is not None:
                        pass
                except Exception:
                    pass
        if not self._released:
            self._release(reuse=False)

    async def __aenter__(self) -> HttpResponse:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<HttpResponse {self.status} {self.reason} from {self._exchange.origin}>"

    # internals
    def _remaining_length(self) -> Optional[int]:
        value = self.header("content-length")
        if value is None or self.header("transfer-encoding"):
            return None
        try:
            return int(value.split(",")[0]) - self._received
        except ValueError:
            return None

    def _prime(self) -> None:
        """Look at what is already buffered: a body-less response ends (and frees the
        connection) without the caller reading."""
        from claw._vendor import h11

        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError:
                return  # reported when the body is read
            if type(event) is h11.Data:
                self._received += len(event.data)
                self._pending.append(bytes(event.data))
                continue
            if type(event) is h11.EndOfMessage:
                self._end()
            return

    async def _next_raw(self) -> Optional[bytes]:
        if self._pending:
            return self._pending.popleft()
        if self._ended or self._conn is None:
            return None
        from claw._vendor import h11

        h11_conn = self._h11
        conn = self._conn
        try:
            while True:
                try:
                    event = h11_conn.next_event()
                except h11.RemoteProtocolError as exc:
                    raise self._body_error(exc) from None
                if event is h11.NEED_DATA:
                    data = await self._exchange.read(conn, "reading the response body")
                    if not data:
                        self._eof = True
                    h11_conn.receive_data(data)
                    continue
                if type(event) is h11.Data:
                    self._received += len(event.data)
                    return bytes(event.data)
                if type(event) is h11.EndOfMessage:
                    self._end()
                    return None
                # ConnectionClosed / PAUSED: nothing more on this exchange
                self._ended = True
                self._release(reuse=False)
                return None
        except BaseException:
            self._release(reuse=False)
            raise

    def _body_error(self, exc: Exception) -> NetworkError:
        if self._eof:
            return NetworkError(
                f"{self._exchange.origin} closed the connection in the middle of the response "
                f"body ({exc})", kind="closed", retryable=True,
            )
        return NetworkError(f"{self._exchange.origin} sent an invalid HTTP response body: {exc}",
                            kind="protocol")

    def _decode_error(self, coding: str, exc: Exception) -> NetworkError:
        self._release(reuse=False)
        return NetworkError(
            f"{self._exchange.origin} sent a body that is not valid {coding}: {exc}",
            kind="protocol",
        )

    def _end(self) -> None:
        from claw._vendor import h11

        self._ended = True
        h11_conn = self._h11
        reuse = h11_conn.our_state is h11.DONE and h11_conn.their_state is h11.DONE
        if reuse:
            try:
                # bytes after the response (PAUSED) mean the peer is out of step: do not reuse
                reuse = h11_conn.next_event() is h11.NEED_DATA
            except h11.RemoteProtocolError:
                reuse = False
        self._release(reuse=reuse)

    def _release(self, *, reuse: bool) -> None:
        if self._released:
            return
        self._released = True
        self._ended = True
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if reuse:
            self._client._checkin(self._key, conn, _keep_alive_seconds(self.header("keep-alive")))
        else:
            conn.abort()


def _keep_alive_seconds(value: Optional[str]) -> Optional[float]:
    """Seconds to keep an idle connection from ``Keep-Alive: timeout=N`` (less a margin)."""
    if not value:
        return None
    for part in value.split(","):
        name, _, number = part.strip().partition("=")
        if name.strip().lower() == "timeout":
            try:
                seconds = float(number.strip())
            except ValueError:
                return None
            return max(seconds - 1.0, 0.0)
    return None
