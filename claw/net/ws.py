"""WebSocket client (RFC 6455) on wsproto over ``claw.net.connect`` connections.

``connect_websocket(url, config)`` opens a connection with the one connection factory (so ws/wss go
through the configured proxy, always as a CONNECT tunnel, and trust the configured CAs), runs the
opening handshake (subprotocols, extra headers) and returns a ``WebSocket``:

- ``send_text`` / ``send_bytes`` send one message; ``recv`` returns the next whole message (``str``
  or ``bytes``; fragmented messages are reassembled) and raises ``NetworkError(kind="closed")``
  carrying the close code and reason once the connection has closed;
- a background reader answers pings at once, even while nobody calls ``recv``, and holds at most a
  few unread messages (then it stops reading: TCP back-pressure rather than unbounded memory);
- a message larger than ``max_message_size`` (bytes for binary, characters for text) closes the
  connection with 1009; a protocol violation by the server closes it with wsproto's code (1002/1007);
- ``ping()`` waits for the pong; with ``ping_interval`` a keep-alive ping is sent that often and a
  missing pong (``ping_timeout``) fails the connection, so a dead peer is noticed;
- ``aclose(code, reason)`` runs the closing handshake (bounded wait), a server's close is answered.

wsproto does the handshake, text messages, control frames and closing. Binary messages, the bulk of
the relay's traffic, take a shorter path (``claw.proto.wsframe``): ``send_bytes`` frames and masks
them itself in one buffer, and the reader splits the server's frames itself and hands wsproto only
what is not binary data, so a binary message's payload is copied once (when its pieces are joined)
instead of three times. The handshake feeds wsproto only the HTTP response head, so that frames
arriving with it reach that reader too.

It deliberately does not implement permessage-deflate or other extensions, streaming of partial
messages to the caller, automatic reconnection (the caller decides), or a server side.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Sequence, Tuple, Union

from claw.errors import NetworkError
from claw.net.connect import open_connection
from claw.net.connection import READ_CHUNK, Connection

# Large reads: the relay moves ~1.5x more per second through a tunnel than with 64 KiB reads.
WS_READ_CHUNK = 4 * READ_CHUNK

if TYPE_CHECKING:  # pragma: no cover
    from claw.net.config import NetConfig
    from claw.net.url import URL

DEFAULT_MAX_MESSAGE_SIZE = 16 * 2**20
_QUEUE_LIMIT = 16  # unread messages held before the reader stops reading
_CLOSE_TIMEOUT = 5.0  # seconds aclose() waits for the server's close frame
_REJECT_BODY_LIMIT = 2048
_SMALL_PIECE = 4096  # pieces of a message below this are gathered in one buffer as they come
_MAX_RESPONSE_HEAD = 64 * 1024  # beyond this, the handshake response goes to wsproto as it comes
_HEAD_END = re.compile(b"\n\r?\n")  # where h11 ends a head
_RESERVED_HEADERS = {"host", "upgrade", "connection", "sec-websocket-key",
                     "sec-websocket-version", "sec-websocket-protocol",
                     "sec-websocket-extensions"}
# codes after which reconnecting can help
_RETRYABLE_CLOSE = {1001, 1006, 1011, 1012, 1013, 1014}


def _wsproto() -> Any:
    """The vendored wsproto, imported on first use (its submodules are reached as attributes,
    which works both for the copy inside claw.pyz and for an installed one)."""
    from claw._vendor import wsproto

    return wsproto


class WebSocket:
    """An open WebSocket; made by ``connect_websocket``. Use ``async with`` or call ``aclose``."""

    def __init__(self, conn: Connection, ws_conn: Any, url: URL, subprotocol: Optional[str], *,
                 max_message_size: int, ping_interval: Optional[float],
                 ping_timeout: Optional[float], wsproto_holds_data: bool = False) -> None:
        from claw.proto.wsframe import FrameReader

        self.subprotocol = subprotocol
        self.url = url
        self.close_code: Optional[int] = None
        self.close_reason: Optional[str] = None
        self._conn = conn
        self._ws = ws_conn
        self._max_message_size = max_message_size
        self._ping_timeout = ping_timeout
        self._messages: Deque[Union[str, bytes]] = collections.deque()
        self._readable = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._discard = False
        self._closed: Optional[Tuple[str, bool, Optional[str]]] = None  # message, retryable, hint
        self._pings: Dict[bytes, asyncio.Future] = {}
        # once wsproto holds received frame bytes, it must read everything after them too
        self._frames = FrameReader(passthrough=wsproto_holds_data)
        self._fragments: List[Any] = []  # the pieces of the message being received
        self._size = 0  # their size
        self._reader = asyncio.ensure_future(self._read_loop())
        self._keepalive: Optional[asyncio.Future] = None
        if ping_interval:
            self._keepalive = asyncio.ensure_future(self._keepalive_loop(ping_interval))

    # the public API
    async def send_text(self, text: str) -> None:
        """Send one text message."""
        events = _wsproto().events

        await self._send(events.TextMessage(data=text))

    async def send_bytes(self, *parts: Any) -> None:
        """Send one binary message: the concatenation of ``parts`` (bytes-like), which are copied
        straight into the masked frame (no need to join them first)."""
        from claw.proto.wsframe import client_frame

        self._check_open()
        await self._conn.write(memoryview(client_frame(parts)))

    async def recv(self) -> Union[str, bytes]:
        """The next message; ``NetworkError(kind="closed")`` once closed and no message is left."""
        while not self._messages:
            if self._closed is not None:
                raise self._closed_error()
            self._readable.clear()
            await self._readable.wait()
        message = self._messages.popleft()
        if len(self._messages) < _QUEUE_LIMIT:
            self._space.set()
        return message

    async def ping(self) -> None:
        """Send a ping and wait for its pong (``NetworkError(kind="timeout")`` after
        ``ping_timeout`` seconds)."""
        events = _wsproto().events

        payload = os.urandom(4)
        waiter = asyncio.get_running_loop().create_future()
        self._pings[payload] = waiter
        try:
            if self._ping_timeout is None:
                await self._send(events.Ping(payload=payload))
                await waiter
            else:
                try:
                    # the timeout covers sending too: a peer that stopped reading blocks the send
                    await asyncio.wait_for(self._ping_and_wait(events.Ping(payload=payload), waiter),
                                           self._ping_timeout)
                except asyncio.TimeoutError:
                    raise NetworkError(
                        f"no pong from {self.url.origin} within {self._ping_timeout:g}s",
                        kind="timeout", retryable=True,
                        hint="the server or a proxy in between stopped answering",
                    ) from None
        finally:
            self._pings.pop(payload, None)

    async def _ping_and_wait(self, ping: Any, waiter: asyncio.Future) -> None:
        await self._send(ping)
        await waiter

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close: send a close frame, wait (briefly) for the server's, then close the socket."""
        events = _wsproto().events
        ConnectionState = _wsproto().ConnectionState

        self._discard = True
        self._space.set()
        if self._ws.state is ConnectionState.OPEN:
            try:
                await self._conn.write(self._ws.send(events.CloseConnection(code=code,
                                                                            reason=reason)))
            except NetworkError:
                pass
            self._set_closed(code, reason, by_server=False)
        if not self._reader.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._reader), _CLOSE_TIMEOUT)
            except (asyncio.TimeoutError, Exception):
                pass
        await self._shutdown()

    @property
    def closed(self) -> bool:
        return self._closed is not None

    async def __aenter__(self) -> WebSocket:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = f" closed {self.close_code}" if self._closed is not None else ""
        return f"<WebSocket {self.url}{state}>"

    # internals
    async def _send(self, event: Any) -> None:
        self._check_open()
        await self._conn.write(self._ws.send(event))

    def _check_open(self) -> None:
        if self._closed is not None or self._ws.state is not _wsproto().ConnectionState.OPEN:
            raise self._closed_error()

    def _closed_error(self) -> NetworkError:
        if self._closed is None:  # pragma: no cover - only called once closed
            return NetworkError(f"WebSocket {self.url} is closed", kind="closed")
        message, retryable, hint = self._closed
        error = NetworkError(message, kind="closed", retryable=retryable, hint=hint)
        error.close_code = self.close_code  # type: ignore[attr-defined]
        error.close_reason = self.close_reason  # type: ignore[attr-defined]
        return error

    def _set_closed(self, code: int, reason: Optional[str], *, by_server: bool,
                    message: Optional[str] = None, hint: Optional[str] = None) -> None:
        if self._closed is not None:
            return
        self.close_code = code
        self.close_reason = reason or ""
        if message is None:
            said = f" ({reason})" if reason else ""
            who = " by the server" if by_server else ""
            message = f"WebSocket {self.url} closed{who}: code {code}{said}"
        self._closed = (message, code in _RETRYABLE_CLOSE, hint)
        self._readable.set()
        for waiter in self._pings.values():
            if not waiter.done():
                waiter.set_exception(self._closed_error())
                waiter.exception()  # retrieved: no "never retrieved" warning if nobody waits

    async def _read_loop(self) -> None:
        from claw.proto.wsframe import BINARY, FrameError

        ws = self._ws
        frames = self._frames
        try:
            if await self._wsproto_events():  # what wsproto already holds comes first
                return
            while True:
                data = await self._conn.read(WS_READ_CHUNK)
                if not data:
                    ws.receive_data(None)
                    if await self._wsproto_events():
                        return
                    continue
                for kind, piece, finished in frames.feed(data):
                    if kind is BINARY:
                        if await self._data(piece, finished, bytes):
                            return
                    else:
                        ws.receive_data(piece)
                        if await self._wsproto_events():
                            return
        except FrameError as exc:
            await self._fail(exc.code, exc.reason,
                             f"WebSocket {self.url}: the server broke the protocol ({exc.reason}); "
                             f"closed with {exc.code}")
        except NetworkError as exc:
            self._set_closed(1006, "", by_server=True,
                             message=f"WebSocket {self.url}: {exc.message} (1006)", hint=exc.hint)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # wsproto refusing a state change: treat as a broken connection
            self._set_closed(1006, "", by_server=True,
                             message=f"WebSocket {self.url} failed: {exc} (1006)")
        finally:
            if self._closed is None:
                self._set_closed(1006, "", by_server=True)
            if not self._conn.closed:
                self._conn.abort()

    async def _wsproto_events(self) -> bool:
        """Act on wsproto's pending events; True when the connection is over."""
        events = _wsproto().events
        ConnectionState = _wsproto().ConnectionState

        ws = self._ws
        for event in ws.events():
            kind = type(event)
            if kind is events.BytesMessage:
                if await self._data(event.data, event.message_finished, bytes):
                    return True
            elif kind is events.TextMessage:
                if await self._data(event.data, event.message_finished, str):
                    return True
            elif kind is events.Ping:
                if ws.state is ConnectionState.OPEN:
                    await self._conn.write(ws.send(event.response()))
            elif kind is events.Pong:
                self._pong(bytes(event.payload))
            elif kind is events.CloseConnection:
                await self._on_close(event)
                return True
        return False

    async def _data(self, piece: Any, finished: bool, kind: type) -> bool:
        """A piece of a data message; queue the message when ``finished``. True when the message is
        too big (the connection is then failed with 1009)."""
        self._size += len(piece)
        if self._size > self._max_message_size:
            await self._fail(1009, "message too big",
                             f"a message from {self.url.origin} is larger than the limit of "
                             f"{self._max_message_size} bytes; closed with 1009")
            return True
        fragments = self._fragments
        if not finished:
            if kind is str or len(piece) >= _SMALL_PIECE:
                fragments.append(piece)
            elif fragments and type(fragments[-1]) is bytearray:
                fragments[-1] += piece  # small pieces share one buffer: no per-frame overhead
            else:
                fragments.append(bytearray(piece))
            return False
        if kind is str:
            message: Union[str, bytes] = "".join(fragments) + piece if fragments else piece
        elif fragments:
            fragments.append(piece)
            message = b"".join(fragments)
        else:
            message = piece if type(piece) is bytes else bytes(piece)
        fragments.clear()
        self._size = 0
        if not self._discard:
            self._messages.append(message)
            self._readable.set()
            if len(self._messages) >= _QUEUE_LIMIT:
                self._space.clear()
                await self._space.wait()
        return False

    async def _on_close(self, event: Any) -> None:
        ConnectionState = _wsproto().ConnectionState

        ws = self._ws
        code, reason = event.code, event.reason or ""
        if ws.state is ConnectionState.REMOTE_CLOSING:
            # the server closes: answer with the same code, then we are done
            try:
                await self._conn.write(ws.send(event.response()))
            except NetworkError:
                pass
            self._set_closed(code, reason, by_server=True)
        elif ws.state is ConnectionState.OPEN:
            # wsproto found a protocol violation in what the server sent (1002, 1007, ...)
            await self._fail(code, reason, f"WebSocket {self.url}: the server broke the protocol "
                                           f"({reason}); closed with {code}")
        elif code == 1006:
            self._set_closed(1006, "", by_server=True,
                             message=f"WebSocket {self.url}: the connection was lost without a "
                                     f"close frame (1006)")
        else:
            # the server's answer to our close frame
            self._set_closed(code, reason, by_server=False)
        await self._conn.aclose()

    async def _fail(self, code: int, reason: str, message: str) -> None:
        """Close from our side because of the server's data: send the close frame, record why."""
        events = _wsproto().events
        ConnectionState = _wsproto().ConnectionState

        self._set_closed(code, reason, by_server=False, message=message)
        if self._ws.state is ConnectionState.OPEN:
            try:
                await self._conn.write(self._ws.send(events.CloseConnection(code=code,
                                                                            reason=reason)))
            except NetworkError:
                pass
        await self._conn.aclose()

    def _pong(self, payload: bytes) -> None:
        # a pong answers its ping and every ping sent before it
        for key in list(self._pings):
            waiter = self._pings.pop(key)
            if not waiter.done():
                waiter.set_result(None)
            if key == payload:
                break

    async def _keepalive_loop(self, interval: float) -> None:
        while self._closed is None:
            await asyncio.sleep(interval)
            if self._closed is not None:
                return
            try:
                await self.ping()
            except NetworkError as exc:
                if exc.kind == "timeout" and self._closed is None:
                    self._set_closed(1011, "keepalive ping timeout", by_server=False,
                                     message=f"WebSocket {self.url}: {exc.message}; "
                                             f"the connection is considered dead (1011)",
                                     hint=exc.hint)
                    self._conn.abort()
                return

    async def _shutdown(self) -> None:
        for task in (self._keepalive, self._reader):
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        if self._closed is None:
            self._set_closed(1006, "", by_server=False)
        await self._conn.aclose()


async def connect_websocket(url: Union[URL, str], config: NetConfig, *,
                            subprotocols: Sequence[str] = (),
                            headers: Sequence[Tuple[str, str]] = (),
                            max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
                            ping_interval: Optional[float] = 20.0,
                            ping_timeout: Optional[float] = None,
                            connect_timeout: Optional[float] = None) -> WebSocket:
    """Open a WebSocket to ``url`` (ws://, wss://; http(s):// are taken as ws(s)://).

    ``connect_timeout`` (default ``config.connect_timeout``) bounds the connection and, separately,
    the opening handshake. ``ping_timeout`` defaults to ``ping_interval`` (20 s when that is None).
    A refused handshake is ``NetworkError(kind="protocol", status=<HTTP status>)``.
    """
    wsproto = _wsproto()
    events = wsproto.events

    if isinstance(url, str):
        from claw.net.url import parse_url

        url = parse_url(url)
    if url.scheme in ("http", "https"):
        url = replace(url, scheme="wss" if url.scheme == "https" else "ws")
    if url.scheme not in ("ws", "wss"):
        raise ValueError(f"a WebSocket needs a ws:// or wss:// URL, not {url.scheme}://")
    extra = []
    names = set()
    for name, value in headers:
        lower = name.lower()
        if lower in _RESERVED_HEADERS:
            raise ValueError(f"header {name!r} is set by the WebSocket handshake itself")
        value = str(value)
        if "\r" in value or "\n" in value or "\0" in value:
            raise ValueError(f"header {name!r} has a line break or NUL")  # value may be secret
        names.add(lower)
        extra.append((name.encode("ascii"), value.encode("latin-1")))
    if "user-agent" not in names:
        from claw import __version__

        extra.append((b"User-Agent", f"claw/{__version__}".encode("ascii")))
    timeout = config.connect_timeout if connect_timeout is None else connect_timeout
    conn = await open_connection(url, config, connect_timeout=timeout)
    try:
        ws_conn = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        request = events.Request(host=url.host_header, target=url.target,
                                 subprotocols=list(subprotocols), extra_headers=extra)
        await conn.write(ws_conn.send(request))
        try:
            accepted, wsproto_holds_data = await asyncio.wait_for(_handshake(conn, ws_conn, url),
                                                                  timeout)
        except asyncio.TimeoutError:
            raise NetworkError(
                f"the WebSocket handshake with {url.origin} got no answer within {timeout:g}s",
                kind="timeout", retryable=True,
            ) from None
    except BaseException:
        conn.abort()
        raise
    return WebSocket(conn, ws_conn, url, accepted.subprotocol, max_message_size=max_message_size,
                     ping_interval=ping_interval,
                     ping_timeout=ping_timeout if ping_timeout is not None
                     else (ping_interval or 20.0), wsproto_holds_data=wsproto_holds_data)


async def _handshake(conn: Connection, ws_conn: Any, url: URL) -> Tuple[Any, bool]:
    """(the AcceptConnection event, whether wsproto holds bytes received after the response head).

    wsproto is given the response head alone, and what came after it (the server's first frames) is
    put back into ``conn`` for the WebSocket's reader. Only an odd response (a head wsproto does not
    accept by itself, one larger than ``_MAX_RESPONSE_HEAD``) gets everything fed to wsproto."""
    events = _wsproto().events
    RemoteProtocolError = _wsproto().utilities.RemoteProtocolError

    rejected: Optional[Any] = None
    body = bytearray()
    head = b""  # the response head so far, not yet given to wsproto
    head_done = False
    exact = True  # wsproto was given the response head and nothing after it
    while True:
        data = await conn.read(READ_CHUNK)
        rest = b""
        if head_done:
            exact = False
        else:
            head += data
            end = _HEAD_END.search(head)
            if end is None and data and len(head) <= _MAX_RESPONSE_HEAD:
                continue  # wait for the whole head
            head_done = True
            if end is None:
                data, exact = head, False
            else:
                data, rest = head[:end.end()], head[end.end():]
            head = b""
        try:
            ws_conn.receive_data(data if data else None)
            pending = list(_until_accept(ws_conn))
            if rest and not any(isinstance(event, events.AcceptConnection) for event in pending):
                ws_conn.receive_data(rest)  # a rejection's body (or an odd head): wsproto reads it
                pending += list(_until_accept(ws_conn))
                rest, exact = b"", False
        except RemoteProtocolError as exc:
            raise NetworkError(f"{url.origin} answered the WebSocket handshake wrongly: {exc}",
                               kind="protocol") from None
        for event in pending:
            if isinstance(event, events.AcceptConnection):
                if rest:
                    conn.unread(rest)
                return event, not exact
            if isinstance(event, events.RejectConnection):
                rejected = event
                if not event.has_body:
                    raise _rejection(url, rejected, bytes(body))
            elif isinstance(event, events.RejectData):
                if len(body) < _REJECT_BODY_LIMIT:
                    body += event.data[:_REJECT_BODY_LIMIT - len(body)]
                if event.body_finished and rejected is not None:
                    raise _rejection(url, rejected, bytes(body))
        if not data:
            if rejected is not None:
                raise _rejection(url, rejected, bytes(body))
            raise NetworkError(f"{url.origin} closed the connection during the WebSocket handshake",
                               kind="closed", retryable=True)


def _until_accept(ws_conn: Any):
    """The handshake's events, stopping right after AcceptConnection so that frames which arrived
    with it stay queued in wsproto for the reader."""
    events = _wsproto().events

    for event in ws_conn.events():
        yield event
        if isinstance(event, (events.AcceptConnection, events.RejectConnection)) and \
                not getattr(event, "has_body", False):
            return


def _rejection(url: URL, event: Any, body: bytes) -> NetworkError:
    status = event.status_code
    text = body.decode("utf-8", "replace").strip()
    detail = f": {text[:300]}" if text else ""
    return NetworkError(
        f"{url.origin} refused the WebSocket handshake for {url.target} with HTTP {status}{detail}",
        kind="protocol", status=status, retryable=status in (429, 502, 503, 504),
        hint="check the URL, the subprotocol and any credentials in the headers"
        if status in (400, 401, 403, 404) else None,
    )
