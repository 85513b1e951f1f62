"""The connection factory through real proxies on 127.0.0.1: Debian's tinyproxy (CONNECT tunnels,
absolute-form forwarding, Basic auth and its 407), an https:// proxy (a TLS terminator written here
in front of tinyproxy: TLS-in-TLS with the origin's SNI), SOCKS5/5h/4a (a small server written here),
and a WebSocket through a tinyproxy tunnel."""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import struct
import sys

import pytest

from claw.errors import NetworkError
from claw.net.config import NetConfig
from claw.net.connect import open_connection
from claw.net.http import HttpClient
from claw.net.url import parse_url
from tests.fakes import tinyproxy as tinyproxy_module
from tests.fakes.tinyproxy import Tinyproxy, free_port
from tests.fakes.tls_server import ScriptedHttpServer, make_tls

pytestmark = [
    pytest.mark.peer,
    pytest.mark.skipif(not tinyproxy_module.available(), reason="tinyproxy is not installed"),
]

USER, PASSWORD = "claw-user", "s3cret.pa_ss-word"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    with Tinyproxy(tmp_path_factory.mktemp("tinyproxy")) as running:
        yield running


@pytest.fixture(scope="module")
def auth_proxy(tmp_path_factory):
    with Tinyproxy(tmp_path_factory.mktemp("tinyproxy-auth"), basic_auth=(USER, PASSWORD)) as running:
        yield running


def net_config(tls, proxy_url, **env):
    environ = {"HTTPS_PROXY": proxy_url, "HTTP_PROXY": proxy_url, "CLAW_PROXY_LOOPBACK": "1"}
    environ.update(env)
    return NetConfig.from_env(environ, ca_files=[tls.ca_path], connect_timeout=5, read_timeout=5)


def run(coro):
    return asyncio.run(coro)


async def echo_handler(request, responder):
    via = request.header("via") or "-"
    await responder.send(200, f"{request.method} {request.target} via={via}".encode())


async def get(config, url, **kwargs):
    async with HttpClient(config) as client:
        async with await client.request("GET", url, **kwargs) as response:
            return response.status, await response.read()


# ---------------------------------------------------------------------------------------------
# tinyproxy: CONNECT and absolute-form


def test_https_origin_through_tinyproxy_connect(proxy, tls):
    config = net_config(tls, proxy.url)

    async def main():
        async with ScriptedHttpServer(echo_handler, ssl_context=tls.server_context) as server:
            url = parse_url(server.url("/tunnelled"))
            conn = await open_connection(url, config)
            info = conn.info
            await conn.aclose()
            status, body = await get(config, server.url("/tunnelled"))
            return info, status, body

    info, status, body = run(main())
    assert info.proxy == proxy.url and info.tls_version and not info.absolute_form
    # inside a CONNECT tunnel the proxy cannot add headers: the origin sees no Via
    assert (status, body) == (200, b"GET /tunnelled via=-")
    assert "CONNECT" in proxy.log()


def test_plain_http_origin_through_tinyproxy_uses_absolute_form(proxy, tls):
    config = net_config(tls, proxy.url)

    async def main():
        async with ScriptedHttpServer(echo_handler) as server:
            conn = await open_connection(parse_url(server.url()), config)
            absolute = conn.info.absolute_form
            await conn.aclose()
            return absolute, await get(config, server.url("/plain?x=1"))

    absolute, (status, body) = run(main())
    assert absolute
    assert status == 200
    assert body.startswith(b"GET /plain?x=1 via=") and b"tinyproxy" in body


def test_loopback_bypasses_the_proxy_unless_asked(proxy, tls):
    config = NetConfig.from_env({"HTTP_PROXY": proxy.url}, connect_timeout=5)

    async def main():
        async with ScriptedHttpServer(echo_handler) as server:
            return await get(config, server.url("/direct"))

    assert run(main()) == (200, b"GET /direct via=-")


def test_connect_refused_by_proxy_rules_names_proxy_and_status(tmp_path, tls):
    with Tinyproxy(tmp_path, connect_ports=[443]) as strict:
        config = net_config(tls, strict.url)

        async def main():
            async with ScriptedHttpServer(echo_handler, ssl_context=tls.server_context) as server:
                await get(config, server.url())

        with pytest.raises(NetworkError) as info:
            run(main())
    error = info.value
    assert error.kind == "proxy" and error.status == 403
    assert strict.url in error.message and "403" in error.message


def test_proxy_not_running_is_a_connect_error_naming_the_proxy(tls):
    port = free_port()
    config = net_config(tls, f"http://{USER}:{PASSWORD}@127.0.0.1:{port}")
    with pytest.raises(NetworkError) as info:
        run(get(config, "https://127.0.0.1:9/"))
    error = info.value
    assert error.kind == "connect" and error.retryable
    assert f"127.0.0.1:{port}" in error.message and "HTTPS_PROXY" in error.message
    assert PASSWORD not in error.message and PASSWORD not in (error.hint or "")


# ---------------------------------------------------------------------------------------------
# proxy authentication


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_missing_credentials_give_proxy_auth_with_a_hint(auth_proxy, tls, scheme):
    config = net_config(tls, auth_proxy.url)

    async def main():
        context = tls.server_context if scheme == "https" else None
        async with ScriptedHttpServer(echo_handler, ssl_context=context) as server:
            await get(config, server.url())

    with pytest.raises(NetworkError) as info:
        run(main())
    error = info.value
    assert error.kind == "proxy_auth" and error.status == 407
    assert "requires authentication" in error.message
    assert "http://user:pass@host:port" in error.hint and "%40" in error.hint


def test_wrong_password_is_rejected_and_never_shown(auth_proxy, tls):
    config = net_config(tls, auth_proxy.url_with_credentials(f"{USER}:wrong-secret"))

    async def main():
        async with ScriptedHttpServer(echo_handler, ssl_context=tls.server_context) as server:
            await get(config, server.url())

    with pytest.raises(NetworkError) as info:
        run(main())
    error = info.value
    assert error.kind == "proxy_auth"
    assert "rejected the credentials" in error.message
    assert f"{USER}:***@" in error.message
    assert "wrong-secret" not in error.message + (error.hint or "") + repr(error)


def test_wrong_password_for_plain_http_origin_is_the_proxys_answer(auth_proxy, tls):
    """tinyproxy answers wrong credentials with 401 (not 407) and WWW-Authenticate; for an
    absolute-form request that cannot be told from the origin's own 401, so it is returned as
    the response rather than guessed into a proxy error."""
    config = net_config(tls, auth_proxy.url_with_credentials(f"{USER}:wrong-secret"))

    async def main():
        async with ScriptedHttpServer(echo_handler) as server:
            return await get(config, server.url())

    status, body = run(main())
    assert status == 401 and b"wrong-secret" not in body


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_percent_encoded_credentials_pass_tinyproxy(auth_proxy, tls, scheme):
    # every character percent-encoded, as a user would for special characters
    encoded_password = "".join(f"%{b:02X}" for b in PASSWORD.encode())
    config = net_config(tls, auth_proxy.url_with_credentials(f"claw%2Duser:{encoded_password}"))

    async def main():
        context = tls.server_context if scheme == "https" else None
        async with ScriptedHttpServer(echo_handler, ssl_context=context) as server:
            return await get(config, server.url("/authed"))

    status, body = run(main())
    assert status == 200 and body.startswith(b"GET /authed")


def test_special_characters_in_credentials_reach_the_proxy_decoded(tls):
    """tinyproxy cannot hold such a password in its config: a small CONNECT proxy checks it."""
    user, password = "dom\\us@r", "p@ss:w%rd/#?ü"
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    seen = []

    async def main():
        async with ConnectProxy(expected) as relay, \
                ScriptedHttpServer(echo_handler, ssl_context=tls.server_context) as server:
            from urllib.parse import quote

            url = f"http://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{relay.port}"
            result = await get(net_config(tls, url), server.url("/special"))
            seen.extend(relay.auth_seen)
            return result

    assert run(main()) == (200, b"GET /special via=-")
    assert seen == [expected]


# ---------------------------------------------------------------------------------------------
# https:// proxies (TLS to the proxy; TLS-in-TLS for https origins on 3.11+)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="TLS-in-TLS needs Python 3.11")
def test_https_proxy_tls_in_tls_with_origin_sni(proxy, tls):
    names = []
    origin_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.ca.issue_cert("localhost", "127.0.0.1").configure_cert(origin_context)
    origin_context.sni_callback = lambda sslobj, name, ctx: names.append(name)

    async def main():
        async with TLSTerminator(proxy.port, tls.server_context) as front, \
                ScriptedHttpServer(echo_handler, ssl_context=origin_context) as server:
            config = net_config(tls, f"https://127.0.0.1:{front.port}")
            url = parse_url(server.url("/inner", host="localhost"))
            conn = await open_connection(url, config)
            info = conn.info
            await conn.aclose()
            return info, await get(config, server.url("/inner", host="localhost")), front.accepted

    info, (status, body), accepted = run(main())
    assert (status, body) == (200, b"GET /inner via=-")
    assert info.proxy.startswith("https://127.0.0.1:") and info.tls_version
    assert names and set(names) == {"localhost"}  # SNI of the inner handshake is the origin's
    assert accepted == 2


@pytest.mark.skipif(sys.version_info >= (3, 11), reason="only below Python 3.11")
def test_https_proxy_for_tls_origin_below_311_is_a_clear_error(tls):
    config = net_config(tls, "https://127.0.0.1:9")
    with pytest.raises(NetworkError) as info:
        run(get(config, "https://127.0.0.1:9/"))
    assert info.value.kind == "proxy"
    assert "3.11" in info.value.message and "http://" in info.value.hint


def test_https_proxy_for_plain_http_origin_works_on_every_python(proxy, tls):
    async def main():
        async with TLSTerminator(proxy.port, tls.server_context) as front, \
                ScriptedHttpServer(echo_handler) as server:
            config = net_config(tls, f"https://127.0.0.1:{front.port}")
            return await get(config, server.url("/via-tls-proxy"))

    status, body = run(main())
    assert status == 200 and body.startswith(b"GET /via-tls-proxy via=") and b"tinyproxy" in body


def test_https_proxy_with_untrusted_certificate_is_tls_verify_for_the_proxy(proxy, tls, tmp_path):
    other = make_tls(tmp_path)

    async def main():
        async with TLSTerminator(proxy.port, other.server_context) as front:
            config = net_config(tls, f"https://127.0.0.1:{front.port}")
            try:
                await get(config, "http://127.0.0.1:9/")
            finally:
                port = front.port
            return port

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "tls_verify"
    assert "127.0.0.1" in info.value.message


# ---------------------------------------------------------------------------------------------
# SOCKS


@pytest.mark.parametrize("scheme,expected_atyp", [("socks5h", 3), ("socks5", 1)])
def test_socks5_to_tls_origin(tls, scheme, expected_atyp):
    async def main():
        async with Socks5Server() as socks, \
                ScriptedHttpServer(echo_handler, ssl_context=tls.server_context) as server:
            config = net_config(tls, f"{scheme}://127.0.0.1:{socks.port}")
            result = await get(config, server.url("/socks", host="localhost"))
            return result, socks.requests, server.port

    (status, body), requests, port = run(main())
    assert (status, body) == (200, b"GET /socks via=-")
    atyp, host, requested_port = requests[0]
    assert atyp == expected_atyp and requested_port == port
    assert host == ("localhost" if expected_atyp == 3 else "127.0.0.1")


def test_socks5_username_password(tls):
    async def main(password):
        async with Socks5Server(credentials=("alice", "p@ss:wörd")) as socks, \
                ScriptedHttpServer(echo_handler) as server:
            from urllib.parse import quote

            config = net_config(tls, f"socks5h://alice:{quote(password, safe='')}@127.0.0.1:{socks.port}")
            return await get(config, server.url("/auth"))

    assert run(main("p@ss:wörd")) == (200, b"GET /auth via=-")
    with pytest.raises(NetworkError) as info:
        run(main("nope"))
    assert info.value.kind == "proxy_auth" and "nope" not in info.value.message


def test_socks5_without_credentials_when_required(tls):
    async def main():
        async with Socks5Server(credentials=("alice", "x")) as socks:
            config = net_config(tls, f"socks5://127.0.0.1:{socks.port}")
            await get(config, "http://127.0.0.1:9/")

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "proxy_auth" and "requires authentication" in info.value.message


def test_socks5_destination_refused_is_a_proxy_error(tls):
    closed_port = free_port()

    async def main():
        async with Socks5Server() as socks:
            config = net_config(tls, f"socks5h://127.0.0.1:{socks.port}")
            await get(config, f"http://127.0.0.1:{closed_port}/")

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "proxy" and "connection refused" in info.value.message


# ---------------------------------------------------------------------------------------------
# WebSocket through a tinyproxy CONNECT tunnel


@pytest.mark.parametrize("secure", [False, True])
def test_websocket_through_tinyproxy(proxy, tls, secure):
    from websockets.asyncio.server import serve

    from claw.net.ws import connect_websocket

    async def echo(websocket):
        async for message in websocket:
            await websocket.send(message)

    async def main():
        context = tls.server_context if secure else None
        async with serve(echo, "127.0.0.1", 0, ssl=context) as server:
            port = server.sockets[0].getsockname()[1]
            config = net_config(tls, proxy.url)
            ws = await connect_websocket(f"{'wss' if secure else 'ws'}://127.0.0.1:{port}/echo",
                                         config, ping_interval=None)
            await ws.send_text("through the tunnel")
            reply = await ws.recv()
            await ws.aclose()
            return reply

    assert run(main()) == "through the tunnel"
    assert "CONNECT" in proxy.log()


# ---------------------------------------------------------------------------------------------
# small peers written for these tests


async def _pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, ssl.SSLError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def _splice(reader, writer, up_reader, up_writer):
    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


class _Relay:
    """Base: an asyncio server on 127.0.0.1 whose connection tasks are cancelled on exit."""

    ssl_context = None

    def __init__(self):
        self.port = 0
        self.accepted = 0
        self._tasks = set()
        self._server = None

    async def __aenter__(self):
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0,
                                                  ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info):
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader, writer):
        task = asyncio.current_task()
        self._tasks.add(task)
        self.accepted += 1
        try:
            await self.serve(reader, writer)
        except (asyncio.CancelledError, asyncio.IncompleteReadError, ConnectionError,
                ssl.SSLError):
            pass
        finally:
            self._tasks.discard(task)
            writer.transport.abort()


class TLSTerminator(_Relay):
    """Accepts TLS and relays the plaintext to tinyproxy: together, an https:// proxy."""

    def __init__(self, target_port, ssl_context):
        super().__init__()
        self.target_port = target_port
        self.ssl_context = ssl_context

    async def serve(self, reader, writer):
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        try:
            await _splice(reader, writer, up_reader, up_writer)
        finally:
            up_writer.transport.abort()


class ConnectProxy(_Relay):
    """A minimal HTTP CONNECT proxy that demands one exact Proxy-Authorization value."""

    def __init__(self, expected_auth):
        super().__init__()
        self.expected_auth = expected_auth
        self.auth_seen = []

    async def serve(self, reader, writer):
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ")
        headers = dict((k.strip().lower(), v.strip())
                       for k, _, v in (line.partition(":") for line in head[1:] if line))
        auth = headers.get("proxy-authorization")
        self.auth_seen.append(auth)
        if method != "CONNECT" or auth != self.expected_auth:
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        host, _, port = target.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            await _splice(reader, writer, up_reader, up_writer)
        finally:
            up_writer.transport.abort()


class Socks5Server(_Relay):
    """RFC 1928 CONNECT with no auth or RFC 1929 username/password; records each request."""

    def __init__(self, credentials=None):
        super().__init__()
        self.credentials = credentials
        self.requests = []

    async def serve(self, reader, writer):
        version, count = await reader.readexactly(2)
        assert version == 5
        methods = await reader.readexactly(count)
        if self.credentials is not None:
            if 2 not in methods:
                writer.write(b"\x05\xff")
                await writer.drain()
                return
            writer.write(b"\x05\x02")
            _, ulen = await reader.readexactly(2)
            user = (await reader.readexactly(ulen)).decode()
            (plen,) = await reader.readexactly(1)
            password = (await reader.readexactly(plen)).decode()
            ok = (user, password) == self.credentials
            writer.write(b"\x01" + (b"\x00" if ok else b"\x01"))
            await writer.drain()
            if not ok:
                return
        else:
            writer.write(b"\x05\x00")
        _, command, _, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = socket.inet_ntoa(await reader.readexactly(4))
        elif atyp == 4:
            host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
        else:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode()
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        self.requests.append((atyp, host, port))
        try:
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1" if host == "localhost" else host, port)
        except OSError:
            writer.write(b"\x05\x05\x00\x01" + bytes(6))
            await writer.drain()
            return
        writer.write(b"\x05\x00\x00\x01\x7f\x00\x00\x01" + struct.pack("!H", port))
        try:
            await _splice(reader, writer, up_reader, up_writer)
        finally:
            up_writer.transport.abort()
