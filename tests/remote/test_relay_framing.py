"""The relay <-> upstream framing: UpstreamProxyChunk messages, the CONNECT chunk, the handshake headers."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claw.remote import relay_framing as framing
from tests.fakes.relay_server import pb_decode, pb_encode


@pytest.mark.parametrize("size, header", [
    (0, b"\x0a\x00"),
    (1, b"\x0a\x01"),
    (127, b"\x0a\x7f"),
    (128, b"\x0a\x80\x01"),
    (300, b"\x0a\xac\x02"),
    (16383, b"\x0a\xff\x7f"),
    (16384, b"\x0a\x80\x80\x01"),
    (512 * 1024, b"\x0a\x80\x80\x20"),
])
def test_encode_header_bytes(size, header):
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    message = framing.encode_chunk(data)
    assert message[:len(header)] == header
    assert message[len(header):] == data
    assert framing.decode_chunk(message) == data


def test_keepalive():
    assert framing.KEEPALIVE_MESSAGE == b"\x0a\x00"
    assert framing.decode_chunk(b"") == b""
    assert framing.decode_chunk(framing.KEEPALIVE_MESSAGE) == b""


def test_chunk_limit():
    with pytest.raises(ValueError):
        framing.encode_chunk(bytes(framing.MAX_CHUNK_BYTES + 1))
    big = bytes(range(256)) * 5000  # 1.28 MB
    messages = list(framing.encode_chunks(big))
    assert len(messages) == 3
    assert b"".join(framing.decode_chunk(m) for m in messages) == big
    assert all(len(framing.decode_chunk(m)) <= framing.MAX_CHUNK_BYTES for m in messages)


@pytest.mark.parametrize("message", [
    b"\x0b\x01a",  # wrong tag
    b"\x12\x01a",  # field 2
    b"\x0a",  # no length
    b"\x0a\x05abc",  # short data
    b"\x0a\x01ab",  # trailing bytes
    b"\x0a\x80",  # unterminated varint
    b"\x0a\x80\x80\x80\x80\x80\x01",  # varint too long
    b"\x0a\xff\xff\xff\xff\x0f",  # absurd length
])
def test_malformed(message):
    assert framing.decode_chunk(message) is None


@given(st.binary(max_size=70000))
@settings(max_examples=150, deadline=None)
def test_roundtrip_and_independent_codec(data):
    message = framing.encode_chunk(data)
    assert framing.decode_chunk(message) == data
    assert pb_decode(message) == data  # the test server's own decoder agrees
    assert framing.decode_chunk(pb_encode(data)) == data


def test_tunnel_head():
    head = framing.tunnel_head("example.com:443", "sess-1", "tok")
    expected_auth = "Basic " + base64.b64encode(b"sess-1:tok").decode()
    assert head == (b"CONNECT example.com:443 HTTP/1.1\r\n"
                    b"Proxy-Authorization: " + expected_auth.encode() + b"\r\n\r\n")
    assert framing.tunnel_head("[::1]:8443", "s", "t").startswith(b"CONNECT [::1]:8443 HTTP/1.1\r\n")
    with pytest.raises(ValueError):
        framing.tunnel_head("evil.com:443\r\nX-Injected: 1", "s", "t")


def test_upgrade_headers():
    assert framing.upgrade_headers("tok") == [("Authorization", "Bearer tok"),
                                              ("Content-Type", "application/proto")]


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16383, 16384, 256 * 1024, framing.MAX_CHUNK_BYTES])
def test_chunk_prefix(size):
    data = bytes(size)
    prefix = framing.chunk_prefix(size)
    assert prefix + data == framing.encode_chunk(data)
    assert framing.data_offset(prefix + data) == len(prefix)


def test_chunk_prefix_limits():
    for size in (-1, framing.MAX_CHUNK_BYTES + 1):
        with pytest.raises(ValueError):
            framing.chunk_prefix(size)
