"""HTTP/1.1 client on h11 over ``claw.net.connect`` connections: the one way claw sends HTTP.

``HttpClient.request`` sends a request and returns an ``HttpResponse`` as soon as the response head
has arrived; the body is streamed with ``iter_bytes()`` (gzip/deflate decoded by
claw.net.content_encoding) or read whole with ``read()``. What it does:

- request bodies from ``bytes`` (Content-Length) or an (async) iterable of ``bytes`` (chunked);
  ``Host`` from the URL, ``User-Agent: claw/<version>`` and ``Accept-Encoding: gzip, deflate`` unless
  the caller sets them; absolute-form targets plus ``Proxy-Authorization`` when the connection goes to
  an http(s) proxy for a plain-http origin (a 407 there is ``NetworkError(kind="proxy_auth")``);
- keep-alive: a small pool of idle connections per (origin, proxy); a pooled connection that is
  closed, has received EOF or unexpected bytes, or outlived the server's ``Keep-Alive: timeout`` is
  dropped. A REUSED connection that fails before any response byte arrived is retried once on a fresh
  connection when the request body can be sent again (bytes or none) — whatever the method, as
  browsers and curl do, since the server cannot have seen the request;
- timeouts: connect, idle read (no byte for that long, between any two chunks) and total, all
  ``NetworkError(kind="timeout", retryable=True)``; a reset or an early close is
  ``kind="closed"`` (retryable), a peer breaking HTTP/1.1 is ``kind="protocol"``;
- response header names are lower-case; HEAD, 204 and 304 responses have no body; a body left unread
  at ``aclose()`` is drained when it is small and known to end soon, otherwise the connection is
  closed instead of reused.

It deliberately does not do HTTP/2, cookies, redirects (following one is the caller's decision),
authentication beyond the proxy's Basic, caching, ``Expect: 100-continue``, pipelining, retries of a
request that reached the server (the api layer decides those), or raising on 4xx/5xx statuses (the
caller reads ``status``). Content-Encodings other than gzip/deflate are passed through undecoded.

The response side (reading the body, timeouts while reading, handing the connection back) is
claw.net.http_response; this module sends requests and keeps the pool.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from claw.errors import NetworkError
from claw.net.connect import open_connection, proxy_refusal
from claw.net.connection import Connection
from claw.net.http_response import HttpResponse, Exchange

if TYPE_CHECKING:  # pragma: no cover
    from claw.net.config import NetConfig
    from claw.net.proxy import ProxyConfig
    from claw.net.url import URL

MAX_HEAD_SIZE = 256 * 1024  # response head (status line + headers)
MAX_IDLE_PER_ORIGIN = 4
DEFAULT_KEEP_ALIVE = 60.0  # seconds an idle connection is kept when the server does not say
_BODY_METHODS = ("POST", "PUT", "PATCH")

HeadersArg = Union[Mapping[str, str], Sequence[Tuple[str, str]]]


@dataclass(frozen=True)
class Timeouts:
    """Per-request timeouts in seconds; None means the ``NetConfig`` value (connect, read) or no
    limit (total). ``read`` is an idle timeout: the longest wait for the next byte."""

    connect: Optional[float] = None
    read: Optional[float] = None
    total: Optional[float] = None


class _NoResponse(Exception):
    """The exchange failed before any byte of the response arrived."""

    def __init__(self, error: NetworkError) -> None:
        super().__init__(error.message)
        self.error = error


class _Idle:
    __slots__ = ("conn", "expires")

    def __init__(self, conn: Connection, expires: float) -> None:
        self.conn = conn
        self.expires = expires


class HttpClient:
    """Sends HTTP/1.1 requests through the connection factory, with a keep-alive pool.

    One client serves many concurrent requests (one connection each). ``aclose()`` closes the idle
    connections; use ``async with HttpClient(config) as client``.
    """

    def __init__(self, config: NetConfig, *, user_agent: Optional[str] = None,
                 max_idle_per_origin: int = MAX_IDLE_PER_ORIGIN) -> None:
        self._config = config
        if user_agent is None:
            from claw import __version__

            user_agent = f"claw/{__version__}"
        self._user_agent = user_agent
        self._max_idle = max_idle_per_origin
        self._idle: Dict[tuple, List[_Idle]] = {}
        self._closed = False
        self.connections_opened = 0  # how many new connections this client opened (for diagnostics)

    async def request(self, method: str, url: Union[URL, str], *, headers: HeadersArg = (),
                      body: Union[bytes, Iterable[bytes], Any, None] = None,
                      timeouts: Optional[Timeouts] = None) -> HttpResponse:
        """Send a request; return once the response head arrived (the body streams after).

        ``body``: bytes, or an iterable / async iterable of bytes (sent chunked unless ``headers``
        carry a Content-Length). A ``str`` URL that does not parse raises ``ValueError``.
        """
        if self._closed:
            raise RuntimeError("this HttpClient is closed")
        if isinstance(url, str):
            from claw.net.url import parse_url

            url = parse_url(url)
        if url.scheme not in ("http", "https"):
            raise ValueError(f"HttpClient needs an http:// or https:// URL, not {url.scheme}://")
        method = method.upper()
        timeouts = timeouts or Timeouts()
        connect_timeout = (self._config.connect_timeout if timeouts.connect is None
                           else timeouts.connect)
        read_timeout = self._config.read_timeout if timeouts.read is None else timeouts.read
        loop = asyncio.get_running_loop()
        exchange = Exchange(loop, url.origin, read_timeout, timeouts.total)
        proxy = self._config.proxies.proxy_for(url)
        key = (url.scheme, url.host, url.port, proxy)
        header_list = _header_list(headers)
        if isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        replayable = body is None or isinstance(body, bytes)
        fresh_only = False
        while True:
            conn = None if fresh_only else self._checkout(key, loop)
            reused = conn is not None
            if conn is None:
                bounded = exchange.connect_timeout(connect_timeout)
                try:
                    conn = await open_connection(url, self._config, connect_timeout=bounded)
                except NetworkError as exc:
                    if exc.kind == "timeout" and bounded < connect_timeout:
                        raise exchange.total_error() from None
                    raise
                self.connections_opened += 1
            try:
                return await self._exchange(conn, key, exchange, method, url, header_list, body,
                                            proxy)
            except _NoResponse as failure:
                conn.abort()
                if reused and replayable:
                    fresh_only = True
                    continue
                raise failure.error from None
            except BaseException:
                conn.abort()
                raise

    async def aclose(self) -> None:
        """Close every idle connection (at once: no waiting for TLS close_notify answers, so
        that shutting down never stalls); responses still open close theirs when released."""
        self._closed = True
        idle = [entry.conn for stack in self._idle.values() for entry in stack]
        self._idle.clear()
        for conn in idle:
            conn.abort()
        if idle:
            await asyncio.sleep(0)  # let the transports finish closing before the loop might end

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # the pool
    def _checkout(self, key: tuple, loop: asyncio.AbstractEventLoop) -> Optional[Connection]:
        stack = self._idle.get(key)
        now = loop.time()
        while stack:
            entry = stack.pop()
            if entry.expires > now and entry.conn.is_reusable():
                return entry.conn
            entry.conn.abort()
        return None

    def _checkin(self, key: tuple, conn: Connection, keep_alive: Optional[float]) -> None:
        if self._closed or not conn.is_reusable():
            conn.abort()
            return
        ttl = DEFAULT_KEEP_ALIVE if keep_alive is None else keep_alive
        if ttl <= 0:
            conn.abort()
            return
        stack = self._idle.setdefault(key, [])
        if len(stack) >= self._max_idle:
            stack.pop(0).conn.abort()
        stack.append(_Idle(conn, asyncio.get_running_loop().time() + ttl))

    # one exchange
    async def _exchange(self, conn: Connection, key: tuple, exchange: Exchange, method: str,
                        url: URL, headers: List[Tuple[str, str]], body: Any,
                        proxy: Optional[ProxyConfig]) -> HttpResponse:
        from claw._vendor import h11

        h11_conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_SIZE)
        absolute = conn.info.absolute_form
        target = url.origin + url.target if absolute else url.target
        request_headers = self._request_headers(method, url, headers, body,
                                                conn.proxy if absolute else None)
        try:
            pieces = h11_conn.send_with_data_passthrough(
                h11.Request(method=method, target=target, headers=request_headers))
            if body is None or isinstance(body, bytes):
                if body:
                    pieces += h11_conn.send_with_data_passthrough(h11.Data(data=body))
                pieces += h11_conn.send_with_data_passthrough(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise ValueError(f"cannot send this request to {url.origin}: {exc}") from None
        try:
            await exchange.write(conn, pieces)
            if not (body is None or isinstance(body, bytes)):
                await self._send_stream(conn, h11_conn, body, url, exchange)
        except NetworkError as exc:
            if exc.kind == "timeout":
                raise
            raise _NoResponse(exc) from None

        # the response head
        got_bytes = False
        eof = False
        while True:
            try:
                event = h11_conn.next_event()
            except h11.RemoteProtocolError as exc:
                if eof:
                    raise NetworkError(
                        f"{url.origin} closed the connection in the middle of the response head",
                        kind="closed", retryable=True) from None
                raise NetworkError(f"{url.origin} sent an invalid HTTP response: {exc}",
                                   kind="protocol") from None
            if event is h11.NEED_DATA:
                try:
                    data = await exchange.read(conn, "waiting for the response")
                except NetworkError as exc:
                    if exc.kind == "closed" and not got_bytes:
                        raise _NoResponse(exc) from None
                    raise
                if not data:
                    if not got_bytes:
                        raise _NoResponse(NetworkError(
                            f"{url.origin} closed the connection before sending a response",
                            kind="closed", retryable=True,
                        ))
                    eof = True
                else:
                    got_bytes = True
                h11_conn.receive_data(data)
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                break
            raise NetworkError(f"{url.origin} closed the connection before sending a response",
                               kind="closed", retryable=True)

        status = event.status_code
        reason = event.reason.decode("latin-1", "replace")
        if absolute and status == 407 and conn.proxy is not None:
            raise proxy_refusal(conn.proxy, status, reason, f"{method} {url.origin}")
        response_headers = [(name.decode("latin-1"), value.decode("latin-1"))
                            for name, value in event.headers]
        response = HttpResponse(self, key, conn, h11_conn, exchange, url, method, status, reason,
                                response_headers, event.http_version.decode("ascii", "replace"))
        response._prime()
        return response

    async def _send_stream(self, conn: Connection, h11_conn: Any, body: Any, url: URL,
                           exchange: Exchange) -> None:
        from claw._vendor import h11

        try:
            if hasattr(body, "__aiter__"):
                async for chunk in body:
                    if chunk:
                        await exchange.write(conn, h11_conn.send_with_data_passthrough(
                            h11.Data(data=bytes(chunk))))
            else:
                for chunk in body:
                    if chunk:
                        await exchange.write(conn, h11_conn.send_with_data_passthrough(
                            h11.Data(data=bytes(chunk))))
            await exchange.write(conn, h11_conn.send_with_data_passthrough(h11.EndOfMessage()))
        except h11.LocalProtocolError as exc:
            raise ValueError(f"cannot send this request body to {url.origin}: {exc}") from None

    def _request_headers(self, method: str, url: URL, headers: List[Tuple[str, str]], body: Any,
                         proxy: Optional[ProxyConfig]) -> List[Tuple[str, str]]:
        names = {name.lower() for name, _ in headers}
        out: List[Tuple[str, str]] = []
        if "host" not in names:
            out.append(("Host", url.host_header))
        if "user-agent" not in names:
            out.append(("User-Agent", self._user_agent))
        if "accept-encoding" not in names:
            out.append(("Accept-Encoding", "gzip, deflate"))
        framed = "content-length" in names or "transfer-encoding" in names
        if not framed:
            if isinstance(body, bytes):
                if body or method in _BODY_METHODS:
                    out.append(("Content-Length", str(len(body))))
            elif body is None:
                if method in _BODY_METHODS:
                    out.append(("Content-Length", "0"))
            else:
                out.append(("Transfer-Encoding", "chunked"))
        if proxy is not None and "proxy-authorization" not in names:
            auth = proxy.basic_auth_header()
            if auth is not None:
                out.append(("Proxy-Authorization", auth))
        out.extend(headers)
        return out


def _header_list(headers: HeadersArg) -> List[Tuple[str, str]]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    out = []
    for name, value in items:
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        value = str(value)
        try:
            value.encode("latin-1")
            name.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError(f"header {name!r} has characters that HTTP/1.1 cannot carry") from None
        if "\r" in value or "\n" in value or "\0" in value or not name or ":" in name:
            # never show the value: it may be a credential
            raise ValueError(f"header {name!r} has a line break, NUL or invalid name")
        out.append((name, value))
    return out
