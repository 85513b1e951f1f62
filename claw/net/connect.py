"""The one connection factory of claw: every outbound byte (model API, OAuth, MCP over HTTP or
WebSocket, web fetch, relay) goes through ``open_connection``.

``open_connection(url, config)`` returns a ``Connection`` (claw.net.connection): a byte stream to the URL's origin, already
through whatever proxy ``config.proxies.proxy_for(url)`` names and already TLS-wrapped when the origin
is https/wss:

- direct: TCP to every address getaddrinfo returns (asyncio's happy eyeballs), then TLS with SNI;
- an ``http://`` proxy: an HTTP ``CONNECT host:port`` tunnel (``Proxy-Authorization: Basic`` from the
  proxy URL's userinfo) for https, ws and wss origins; for a plain ``http://`` origin no tunnel, the
  connection goes to the proxy and ``info.absolute_form`` tells http.py to send absolute-form targets;
- an ``https://`` proxy: TLS to the proxy first (SNI = proxy host). A TLS origin inside it is
  TLS-in-TLS, which asyncio supports from Python 3.11; below that a clear ``NetworkError``;
- ``socks5`` / ``socks5h`` / ``socks4`` / ``socks4a``: the SOCKS handshake (``claw.net.socks``).

Every failure is a ``NetworkError`` whose ``kind`` is one of ``connect`` (DNS, refused - then with
``refused_host`` set -, unreachable, a TLS handshake that breaks), ``timeout``, ``tls_verify`` (built by ``tls.describe_verify_failure``
with the certificate chain the server presented), ``proxy`` (the proxy refused the tunnel),
``proxy_auth`` (407), ``protocol`` or ``closed``. A proxy is named only by ``ProxyConfig.redacted()``:
passwords never reach a message.

It deliberately does not speak HTTP beyond CONNECT (http.py), pool or retry connections (callers do),
decide which proxy or which trust store applies (proxy.py, tls.py), or ever fall back to a direct
connection when a configured proxy cannot be used.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, List, Optional

from claw.errors import NetworkError
from claw.net.connection import READ_CHUNK, Connection, ConnectionInfo, StreamProtocol, format_seconds, os_reason

if TYPE_CHECKING:  # pragma: no cover
    from claw.net.config import NetConfig
    from claw.net.proxy import ProxyConfig
    from claw.net.url import URL

_HAPPY_EYEBALLS_DELAY = 0.25
_MAX_CONNECT_RESPONSE_HEAD = 64 * 1024

HAS_TLS_IN_TLS = sys.version_info >= (3, 11)


# --------------------------------------------------------------------------------------------------
# the factory


class _VerifyFailed(Exception):
    """A certificate verification failure at one hop (the origin or an https proxy)."""

    def __init__(self, exc: ssl.SSLCertVerificationError, host: str, port: int,
                 proxy_hop: bool) -> None:
        super().__init__(str(exc))
        self.exc = exc
        self.host = host
        self.port = port
        self.proxy_hop = proxy_hop


async def open_connection(url: URL, config: NetConfig, *, connect_timeout: Optional[float] = None,
                          tls: Optional[bool] = None) -> Connection:
    """A ``Connection`` to ``url``'s origin, through the proxy ``config`` names for it.

    ``connect_timeout`` (default ``config.connect_timeout``) bounds everything up to a usable
    stream: DNS, TCP, proxy handshake and TLS. ``tls`` overrides ``url.is_tls``.
    """
    timeout = config.connect_timeout if connect_timeout is None else connect_timeout
    use_tls = url.is_tls if tls is None else tls
    proxy = config.proxies.proxy_for(url)
    if (proxy is not None and proxy.scheme == "https" and use_tls and not HAS_TLS_IN_TLS):
        raise NetworkError(
            f"cannot reach {url.origin} through the https:// proxy {proxy.redacted()} "
            f"(from {proxy.source}): TLS inside TLS needs Python 3.11 or newer, this is "
            f"{sys.version_info[0]}.{sys.version_info[1]}",
            kind="proxy",
            hint=f"run claw with Python 3.11+, or use an http:// proxy URL "
                 f"(http://{proxy.authority}) if the proxy also accepts plain HTTP",
        )
    try:
        return await _with_timeout(_open(url, config, proxy, use_tls, verify=True), timeout,
                                   url, proxy)
    except _VerifyFailed as failed:
        chain = await _presented_chain(url, config, proxy, use_tls, failed, timeout)
        from claw.net.tls import describe_verify_failure

        error = describe_verify_failure(failed.host, failed.port, failed.exc, chain, config.tls)
        raise error from None


async def _with_timeout(coro, timeout: Optional[float], url: URL,
                        proxy: Optional[ProxyConfig]) -> Connection:
    if timeout is None:
        return await coro
    try:
        return await asyncio.wait_for(coro, timeout)
    except asyncio.TimeoutError:
        via = f" through proxy {proxy.redacted()}" if proxy is not None else ""
        raise NetworkError(
            f"connecting to {url.origin}{via} timed out after {format_seconds(timeout)}",
            kind="timeout", retryable=True,
            hint="check the network, the host name and the proxy settings "
                 "(HTTPS_PROXY / HTTP_PROXY / NO_PROXY)",
        ) from None


async def _open(url: URL, config: NetConfig, proxy: Optional[ProxyConfig], use_tls: bool, *,
                verify: bool) -> Connection:
    origin = url.origin
    if proxy is None:
        conn = await _tcp(url.host, url.port, ConnectionInfo(origin=origin), proxy=None)
    elif proxy.scheme in ("http", "https") or proxy.is_socks:
        conn = await _tcp(proxy.host, proxy.port, ConnectionInfo(origin=origin,
                                                                 proxy=proxy.redacted()), proxy)
    else:  # never a silent direct connection
        raise NetworkError(
            f"unsupported proxy scheme {proxy.scheme!r} in {proxy.redacted()} (from {proxy.source})",
            kind="proxy", hint="use an http://, https://, socks5:// or socks5h:// proxy URL",
        )
    try:
        if proxy is not None and proxy.scheme in ("http", "https"):
            if proxy.scheme == "https":
                try:
                    await conn._start_tls(config.ssl_context(), proxy.host)
                except ssl.SSLCertVerificationError as exc:
                    raise _VerifyFailed(exc, proxy.host, proxy.port, proxy_hop=True) from None
                except (ssl.SSLError, OSError) as exc:
                    raise _tls_error(exc, proxy.host, proxy.port, f"the https proxy "
                                     f"{proxy.redacted()}") from None
            if not use_tls and url.scheme == "http":
                conn.info = replace(conn.info, absolute_form=True)
                return conn
            await _http_connect(conn, url, proxy)
        elif proxy is not None:
            from claw.net.socks import socks_handshake

            await socks_handshake(conn, proxy, url.host, url.port)
        if use_tls:
            context = config.ssl_context() if verify else _no_verify_context()
            try:
                await conn._start_tls(context, url.host)
            except ssl.SSLCertVerificationError as exc:
                raise _VerifyFailed(exc, url.host, url.port, proxy_hop=False) from None
            except (ssl.SSLError, OSError) as exc:
                raise _tls_error(exc, url.host, url.port, origin) from None
            conn.info = replace(conn.info, tls_version=conn._tls_version())
        return conn
    except BaseException:
        conn.abort()
        raise


async def _tcp(host: str, port: int, info: ConnectionInfo,
               proxy: Optional[ProxyConfig]) -> Connection:
    loop = asyncio.get_running_loop()
    what = f"proxy {proxy.redacted()} (from {proxy.source})" if proxy is not None else info.origin
    try:
        transport, protocol = await loop.create_connection(
            lambda: StreamProtocol(loop), host, port,
            happy_eyeballs_delay=_HAPPY_EYEBALLS_DELAY,
        )
    except socket.gaierror as exc:
        raise NetworkError(
            f"cannot resolve host {host!r} for {what}: {exc.strerror or exc}",
            kind="connect", retryable=exc.errno == socket.EAI_AGAIN,
            hint=(f"check the proxy host name in {proxy.source}" if proxy is not None
                  else "check the host name and DNS; if only a proxy can reach it, set "
                       "HTTPS_PROXY"),
        ) from None
    except ConnectionRefusedError:
        err = NetworkError(
            f"connection refused by {what} ({_addr(host, port)})", kind="connect", retryable=True,
            hint=(f"is the proxy running? check the proxy URL in {proxy.source}"
                  if proxy is not None else "is the server running and listening on that port?"),
        )
        err.refused_host = host  # type: ignore[attr-defined]  # for the retry table (claw.api.attempts)
        err.via_proxy = proxy is not None  # type: ignore[attr-defined]
        raise err from None
    except OSError as exc:
        raise NetworkError(
            f"cannot connect to {what} ({_addr(host, port)}): {os_reason(exc)}",
            kind="connect", retryable=True,
            hint=(f"check the proxy URL in {proxy.source} and the network"
                  if proxy is not None else "check the network and the host name"),
        ) from None
    peer = transport.get_extra_info("peername")
    peer_text = _addr(peer[0], peer[1]) if isinstance(peer, tuple) and len(peer) >= 2 else None
    return Connection(transport, protocol, replace(info, peer=peer_text), proxy)  # type: ignore


async def _http_connect(conn: Connection, url: URL, proxy: ProxyConfig) -> None:
    """Ask an HTTP proxy for a tunnel to ``url``'s host:port; return once it answered 2xx."""
    from claw._vendor import h11

    authority = url.authority
    headers = [("Host", authority), ("User-Agent", _user_agent())]
    auth = proxy.basic_auth_header()
    if auth is not None:
        headers.append(("Proxy-Authorization", auth))
    client = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_CONNECT_RESPONSE_HEAD)
    await conn.write(client.send(h11.Request(method="CONNECT", target=authority, headers=headers)))
    where = f"proxy {proxy.redacted()} (from {proxy.source})"
    while True:
        try:
            event = client.next_event()
        except h11.RemoteProtocolError as exc:
            raise NetworkError(f"{where} sent an invalid answer to CONNECT {authority}: {exc}",
                               kind="protocol") from None
        if event is h11.NEED_DATA:
            data = await conn.read(READ_CHUNK)
            if not data:
                raise NetworkError(
                    f"{where} closed the connection instead of answering CONNECT {authority}",
                    kind="proxy", retryable=True,
                    hint="check that the proxy URL points at an HTTP proxy",
                )
            client.receive_data(data)
            continue
        if isinstance(event, h11.InformationalResponse):
            continue
        if isinstance(event, h11.Response):
            break
        raise NetworkError(f"{where} answered CONNECT {authority} unexpectedly",  # pragma: no cover
                           kind="protocol")
    status = event.status_code
    if 200 <= status < 300:
        leftover, _closed = client.trailing_data
        conn.unread(leftover)
        return
    # An answer to CONNECT always comes from the proxy itself, so a 401 is about the proxy's
    # credentials too (tinyproxy answers wrong credentials with 401).
    raise proxy_refusal(proxy, status, event.reason.decode("latin-1", "replace"),
                        f"CONNECT {authority}", auth_statuses=(401, 407))


def proxy_refusal(proxy: ProxyConfig, status: int, reason: str, request: str, *,
                  auth_statuses: tuple = (407,)) -> NetworkError:
    """The error for a proxy that answered ``request`` with a non-2xx ``status``: 407 (and the
    other ``auth_statuses``) is ``proxy_auth`` with what to do about credentials, anything else
    ``proxy``."""
    where = f"proxy {proxy.redacted()} (from {proxy.source})"
    status_line = f"{status} {reason}".strip()
    if status in auth_statuses:
        if proxy.has_credentials:
            message = f"{where} rejected the credentials for {request} ({status_line})"
            hint = ("check the user name and password in the proxy URL; percent-encode special "
                    "characters in them (@ as %40, : as %3A, % as %25)")
        else:
            message = f"{where} requires authentication ({status_line})"
            hint = ("put the credentials in the proxy URL, as http://user:pass@host:port "
                    "(percent-encode special characters: @ as %40, : as %3A, % as %25)")
        return NetworkError(message, kind="proxy_auth", status=status, hint=hint)
    return NetworkError(
        f"{where} refused {request}: {status_line}",
        kind="proxy", status=status, retryable=status in (502, 503, 504),
        hint="the proxy may block this host or port; check its access rules, or add the host to "
             "NO_PROXY if it should be reached directly",
    )


async def _presented_chain(url: URL, config: NetConfig, proxy: Optional[ProxyConfig],
                           use_tls: bool, failed: _VerifyFailed,
                           timeout: Optional[float]) -> List[bytes]:
    """Handshake again without verification, only to read the certificates the peer presents."""
    budget = timeout if timeout is not None else 10.0
    try:
        if failed.proxy_hop:
            conn = await asyncio.wait_for(_tcp(failed.host, failed.port,
                                               ConnectionInfo(origin=url.origin), None), budget)
            try:
                await asyncio.wait_for(conn._start_tls(_no_verify_context(), failed.host), budget)
                return conn._peer_chain()
            finally:
                conn.abort()
        conn = await asyncio.wait_for(_open(url, config, proxy, use_tls, verify=False), budget)
        try:
            return conn._peer_chain()
        finally:
            conn.abort()
    except (Exception, asyncio.TimeoutError):
        return []


def _no_verify_context() -> ssl.SSLContext:
    from claw.net.tls import diagnostic_ssl_context

    return diagnostic_ssl_context()


def _tls_error(exc: BaseException, host: str, port: int, what: str) -> NetworkError:
    reason = getattr(exc, "reason", None) or os_reason(exc)
    eof = isinstance(exc, (ssl.SSLEOFError, ConnectionResetError, ssl.SSLZeroReturnError))
    hint = None
    if "WRONG_VERSION_NUMBER" in str(exc).upper() or reason == "WRONG_VERSION_NUMBER":
        hint = "the server did not answer with TLS: is it a plain http:// endpoint?"
    return NetworkError(f"TLS handshake with {what} ({_addr(host, port)}) failed: {reason}",
                        kind="connect", retryable=eof, hint=hint)


def _addr(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _user_agent() -> str:
    from claw import __version__

    return f"claw/{__version__}"
