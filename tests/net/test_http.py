"""HttpClient against a real scripted HTTP/1.1 server (plain and TLS with a trustme CA) on 127.0.0.1:
framing, decoding, keep-alive reuse and its retry rule, timeouts, resets, protocol errors."""

from __future__ import annotations

import asyncio
import socket
import zlib

import pytest

from claw.errors import NetworkError
from claw.net.config import NetConfig
from claw.net.http import HttpClient, Timeouts
from tests.fakes.tls_server import ScriptedHttpServer, make_tls


def run(coro):
    return asyncio.run(coro)


BIG = bytes(range(256)) * 4096  # 1 MiB, not compressible into nothing


async def fetch(config, url, method="GET", **kwargs):
    async with HttpClient(config) as client:
        async with await client.request(method, url, **kwargs) as response:
            return response, await response.read()


def test_content_length_over_tls_and_request_headers(config, tls):
    seen = {}

    async def handler(request, responder):
        seen["request"] = request
        await responder.send(200, b"hello", headers=[("X-Thing", "One"), ("Set-Cookie", "a=1"),
                                                     ("Set-Cookie", "b=2")])

    async def main():
        async with ScriptedHttpServer(handler, ssl_context=tls.server_context) as server:
            response, body = await fetch(config, server.url("/v1/x?q=1"))
            return server, response, body

    server, response, body = run(main())
    assert (response.status, response.reason, body) == (200, "OK", b"hello")
    assert ("x-thing", "One") in response.headers
    assert response.header("X-THING") == "One"
    assert response.header("set-cookie") == "a=1, b=2"
    request = seen["request"]
    assert request.target == "/v1/x?q=1"
    assert request.header("host") == f"127.0.0.1:{server.port}"
    assert request.header("accept-encoding") == "gzip, deflate"
    assert request.header("user-agent").startswith("claw/")


def test_large_chunked_body_streams_in_pieces(config, tls):
    async def handler(request, responder):
        await responder.send(200, BIG, chunked=True, chunk_size=10000)

    async def main():
        async with ScriptedHttpServer(handler, ssl_context=tls.server_context) as server:
            async with HttpClient(config) as client:
                response = await client.request("GET", server.url())
                chunks = [chunk async for chunk in response.iter_bytes()]
                await response.aclose()
                return chunks

    chunks = run(main())
    assert b"".join(chunks) == BIG
    assert len(chunks) > 1
    assert max(len(c) for c in chunks) <= 65536


@pytest.mark.parametrize("chunked", [False, True])
def test_gzip_body_is_decoded(config, chunked):
    seen = []

    async def handler(request, responder):
        seen.append(request.header("accept-encoding"))
        await responder.send(200, BIG, gzip=True, chunked=chunked)

    async def main():
        async with ScriptedHttpServer(handler) as server:
            return await fetch(config, server.url())

    response, body = run(main())
    assert body == BIG
    assert response.header("content-encoding") == "gzip"
    assert seen == ["gzip, deflate"]


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS])
def test_deflate_body_zlib_and_raw(config, wbits):
    compressor = zlib.compressobj(wbits=wbits)
    payload = compressor.compress(BIG) + compressor.flush()

    async def handler(request, responder):
        responder.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(payload) + payload)

    async def main():
        async with ScriptedHttpServer(handler) as server:
            return await fetch(config, server.url())

    assert run(main())[1] == BIG


def test_caller_accept_encoding_is_kept_and_unknown_coding_passes_through(config):
    seen = []

    async def handler(request, responder):
        seen.append(request.header("accept-encoding"))
        responder.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\nabc")

    async def main():
        async with ScriptedHttpServer(handler) as server:
            return await fetch(config, server.url(), headers={"Accept-Encoding": "br"})

    assert run(main())[1] == b"abc"
    assert seen == ["br"]


def test_corrupt_gzip_is_a_protocol_error(config):
    async def handler(request, responder):
        responder.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                        b"Content-Length: 10\r\n\r\nnot-gzip!!")

    async def main():
        async with ScriptedHttpServer(handler) as server:
            await fetch(config, server.url())

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "protocol"
    assert "gzip" in info.value.message


def test_keep_alive_reuses_one_connection(config, tls):
    async def handler(request, responder):
        await responder.send(200, request.target.encode())

    async def main():
        async with ScriptedHttpServer(handler, ssl_context=tls.server_context) as server:
            async with HttpClient(config) as client:
                bodies = []
                for i in range(5):
                    async with await client.request("GET", server.url(f"/{i}")) as response:
                        bodies.append(await response.read())
                # HEAD and 204 have no body and release the connection without a read
                head = await client.request("HEAD", server.url("/head"))
                await head.aclose()
                return bodies, server.connections, client.connections_opened, head

    bodies, accepted, opened, head = run(main())
    assert bodies == [f"/{i}".encode() for i in range(5)]
    assert (accepted, opened) == (1, 1)
    assert head.status == 200


def test_head_204_304_have_no_body(config):
    async def handler(request, responder):
        if request.target == "/204":
            responder.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        elif request.target == "/304":
            responder.write(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n")
        else:
            responder.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")

    async def main():
        async with ScriptedHttpServer(handler) as server:
            async with HttpClient(config) as client:
                out = []
                for method, path in [("HEAD", "/"), ("GET", "/204"), ("GET", "/304")]:
                    async with await client.request(method, server.url(path)) as response:
                        out.append((response.status, await response.read()))
                return out, server.connections

    out, accepted = run(main())
    assert out == [(200, b""), (204, b""), (304, b"")]
    assert accepted == 1


def test_connection_close_header_means_new_connection(config):
    async def handler(request, responder):
        await responder.send(200, b"x", headers=[("Connection", "close")])
        responder.close()

    async def main():
        async with ScriptedHttpServer(handler) as server:
            async with HttpClient(config) as client:
                for _ in range(3):
                    async with await client.request("GET", server.url()) as response:
                        assert await response.read() == b"x"
                return server.connections

    assert run(main()) == 3


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_reused_connection_closed_by_server_is_retried_once(config, method):
    """The keep-alive race: the server closes an idle connection just as a request goes out."""

    async def handler(request, responder):
        if request.connection_index == 0 and request.target == "/second":
            responder.close()  # read the request, answer nothing, FIN
            return
        await responder.send(200, request.target.encode() + b" " + request.body)

    async def main():
        async with ScriptedHttpServer(handler) as server:
            async with HttpClient(config) as client:
                async with await client.request(method, server.url("/first"), body=b"a") as r:
                    first = await r.read()
                async with await client.request(method, server.url("/second"), body=b"b") as r:
                    second = await r.read()
                return first, second, [(q.target, q.connection_index) for q in server.requests]

    first, second, requests = run(main())
    assert (first, second) == (b"/first a", b"/second b")
    assert requests == [("/first", 0), ("/second", 0), ("/second", 1)]


def test_fresh_connection_closed_before_response_is_not_retried(config):
    async def handler(request, responder):
        responder.close()

    async def main():
        async with ScriptedHttpServer(handler) as server:
            try:
                await fetch(config, server.url(), "POST", body=b"x")
            finally:
                assert len(server.requests) == 1

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "closed" and info.value.retryable
    assert "before sending a response" in info.value.message


def test_streamed_request_body_is_chunked_and_not_replayed(config):
    async def handler(request, responder):
        await responder.send(200, request.header("transfer-encoding").encode() + b":" + request.body)

    async def parts():
        for piece in (b"one,", b"two,", b"three"):
            await asyncio.sleep(0)
            yield piece

    async def main():
        async with ScriptedHttpServer(handler) as server:
            _, body1 = await fetch(config, server.url(), "POST", body=parts())
            _, body2 = await fetch(config, server.url(), "PUT", body=[b"x", b"y"])
            return body1, body2

    assert run(main()) == (b"chunked:one,two,three", b"chunked:xy")


def test_post_bytes_sends_content_length(config):
    async def handler(request, responder):
        await responder.send(200, f"{request.header('content-length')}:{len(request.body)}".encode())

    async def main():
        async with ScriptedHttpServer(handler) as server:
            _, with_body = await fetch(config, server.url(), "POST", body=BIG)
            _, empty = await fetch(config, server.url(), "POST")
            return with_body, empty

    assert run(main()) == (f"{len(BIG)}:{len(BIG)}".encode(), b"0:0")


def test_idle_read_timeout_between_chunks(config):
    async def handler(request, responder):
        responder.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome")
        await asyncio.sleep(30)

    async def main():
        async with ScriptedHttpServer(handler) as server:
            async with HttpClient(config) as client:
                response = await client.request("GET", server.url(),
                                                 timeouts=Timeouts(read=0.2))
                got = []
                try:
                    async for chunk in response.iter_bytes():
                        got.append(chunk)
                finally:
                    await response.aclose()

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "timeout" and info.value.retryable
    assert "no data from http://127.0.0.1" in info.value.message
    assert "0.2s" in info.value.message


def test_idle_timeout_waiting_for_the_head(config):
    async def handler(request, responder):
        await asyncio.sleep(30)

    async def main():
        async with ScriptedHttpServer(handler) as server:
            await fetch(config, server.url(), timeouts=Timeouts(read=0.2))

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "timeout"
    assert "waiting for the response" in info.value.message


def test_upload_to_a_server_that_stops_reading_times_out(config):
    async def main():
        async def deaf(reader, writer):
            try:
                await asyncio.sleep(30)  # reads nothing
            except asyncio.CancelledError:
                pass
            finally:
                writer.transport.abort()

        server = await asyncio.start_server(deaf, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            await fetch(config, f"http://127.0.0.1:{port}/upload", "POST", body=b"u" * 2**25,
                        timeouts=Timeouts(read=0.3))
        finally:
            server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "timeout" and "not reading" in info.value.message


def test_total_timeout_with_a_trickling_server(config):
    async def handler(request, responder):
        responder.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):
            responder.write(b"x")
            await asyncio.sleep(0.02)

    async def main():
        async with ScriptedHttpServer(handler) as server:
            await fetch(config, server.url(), timeouts=Timeouts(read=5, total=0.3))

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "timeout"
    assert "did not finish within 0.3s" in info.value.message


@pytest.mark.parametrize("how", ["reset", "close"])
def test_connection_lost_mid_body(config, tls, how):
    async def handler(request, responder):
        responder.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        await responder.drain()
        await asyncio.sleep(0.05)
        responder.reset() if how == "reset" else responder.close()

    async def main():
        async with ScriptedHttpServer(handler, ssl_context=tls.server_context) as server:
            await fetch(config, server.url())

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "closed" and info.value.retryable


def test_garbage_response_is_a_protocol_error(config):
    async def handler(request, responder):
        responder.write(b"SSH-2.0-OpenSSH_9.0\r\n\r\n")

    async def main():
        async with ScriptedHttpServer(handler) as server:
            await fetch(config, server.url())

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "protocol"


def test_unread_small_body_is_drained_large_body_closes(config):
    async def handler(request, responder):
        size = 100 if request.target == "/small" else 1_000_000
        await responder.send(200, b"z" * size)

    async def main():
        async with ScriptedHttpServer(handler) as server:
            async with HttpClient(config) as client:
                response = await client.request("GET", server.url("/small"))
                await response.aclose()
                # a small body that arrived with the head frees the connection even unread
                unread = await client.request("GET", server.url("/small"))
                after_small = server.connections
                big = await client.request("GET", server.url("/big"))
                await big.aclose()
                response = await client.request("GET", server.url("/small"))
                assert await response.read() == b"z" * 100
                assert await unread.read() == b"z" * 100
                return after_small, server.connections

    after_small, after_big = run(main())
    assert after_small == 1
    assert after_big == 2  # the unread 1 MB body was not drained: its connection was closed


def test_wrong_ca_names_host_and_certificate(tmp_path):
    other = make_tls(tmp_path)  # a server certificate from a CA the client does not trust

    async def handler(request, responder):
        await responder.send(200, b"never")

    async def main():
        config = NetConfig.from_env({}, connect_timeout=5)
        async with ScriptedHttpServer(handler, ssl_context=other.server_context) as server:
            await fetch(config, server.url(host="localhost"))

    with pytest.raises(NetworkError) as info:
        run(main())
    error = info.value
    assert error.kind == "tls_verify" and not error.retryable
    assert "localhost" in error.message
    assert "presented" in error.message  # the leaf certificate was fetched and described
    assert error.hint and "SSL_CERT_FILE" in error.hint


def test_hostname_mismatch_is_tls_verify(tmp_path):
    tls = make_tls(tmp_path, names=("other.example",))

    async def handler(request, responder):
        await responder.send(200, b"never")

    async def main():
        config = NetConfig.from_env({}, ca_files=[tls.ca_path], connect_timeout=5)
        async with ScriptedHttpServer(handler, ssl_context=tls.server_context) as server:
            await fetch(config, server.url())

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "tls_verify"
    assert "other.example" in info.value.hint


def test_connection_refused_is_retryable_connect_error(config):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(NetworkError) as info:
        run(fetch(config, f"http://127.0.0.1:{port}/"))
    assert info.value.kind == "connect" and info.value.retryable
    assert f"127.0.0.1:{port}" in info.value.message


def test_dns_failure_names_the_host(config):
    with pytest.raises(NetworkError) as info:
        run(fetch(config, "https://no-such-host.invalid/"))
    assert info.value.kind == "connect"
    assert "no-such-host.invalid" in info.value.message


def test_connect_timeout_when_tls_handshake_never_answers(config):
    async def silent(reader, writer):
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            pass
        finally:
            writer.transport.abort()

    async def main():
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            await fetch(config, f"https://127.0.0.1:{port}/", timeouts=Timeouts(connect=0.3))
        finally:
            server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "timeout" and info.value.retryable
    assert "timed out after 0.3s" in info.value.message


def test_plain_http_server_on_tls_url_is_a_clear_error(config):
    async def handler(request, responder):
        await responder.send(200, b"plain")

    async def main():
        async with ScriptedHttpServer(handler) as server:
            await fetch(config, f"https://127.0.0.1:{server.port}/")

    with pytest.raises(NetworkError) as info:
        run(main())
    assert info.value.kind == "connect"
    assert "TLS handshake" in info.value.message


def test_concurrent_requests_use_separate_connections(config):
    async def handler(request, responder):
        await asyncio.sleep(0.05)
        await responder.send(200, request.target.encode())

    async def main():
        async with ScriptedHttpServer(handler) as server:
            async with HttpClient(config) as client:
                async def one(i):
                    async with await client.request("GET", server.url(f"/{i}")) as response:
                        return await response.read()

                bodies = await asyncio.gather(*(one(i) for i in range(4)))
                # the pool now holds them; a second round reuses
                await asyncio.gather(*(one(i) for i in range(4)))
                return bodies, server.connections

    bodies, connections = run(main())
    assert bodies == [b"/0", b"/1", b"/2", b"/3"]
    assert connections == 4


def test_bad_header_value_is_rejected_before_sending(config):
    with pytest.raises(ValueError):
        run(fetch(config, "http://127.0.0.1:9/", headers=[("X-Bad", "a\r\nInjected: 1")]))


def test_http10_body_until_close(config):
    async def handler(request, responder):
        responder.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
        responder.close()

    async def main():
        async with ScriptedHttpServer(handler) as server:
            async with HttpClient(config) as client:
                bodies = []
                for _ in range(2):
                    async with await client.request("GET", server.url()) as response:
                        bodies.append((response.http_version, await response.read()))
                return bodies, server.connections

    bodies, connections = run(main())
    assert bodies == [("1.0", b"until the end")] * 2
    assert connections == 2


def test_short_keep_alive_timeout_is_honoured(config):
    async def handler(request, responder):
        await responder.send(200, b"k", headers=[("Keep-Alive", "timeout=1, max=5")])

    async def main():
        async with ScriptedHttpServer(handler) as server:
            async with HttpClient(config) as client:
                for _ in range(2):
                    async with await client.request("GET", server.url()) as response:
                        await response.read()
                return server.connections

    # timeout=1 leaves no safe margin (one second is kept back), so nothing is pooled
    assert run(main()) == 2
