"""The wire format between claw's relay and the session's upstream-proxy WebSocket — all of it, here.

It follows the framing of Claude Code's CCR upstream proxy (documented in docs/REMOTE.md), so that a
claw relay can talk to the same server:

- the WebSocket opening handshake carries ``Authorization: Bearer <session token>`` and
  ``Content-Type: application/proto``;
- every WebSocket message is BINARY and holds one protobuf ``UpstreamProxyChunk { bytes data = 1; }``:
  the byte ``0x0A`` (field 1, wire type 2), the length of ``data`` as a base-128 varint, then ``data``.
  At most ``MAX_CHUNK_BYTES`` (512 KiB) of data per message; longer writes are split;
- the first chunk a tunnel sends is the CONNECT request the server acts on:
  ``CONNECT host:port HTTP/1.1\\r\\nProxy-Authorization: Basic base64(session_id:token)\\r\\n\\r\\n``;
- what the server sends back (its ``HTTP/1.1 200 ...`` answer, then the target's bytes) is relayed to
  the client unchanged; after that, chunks carry the tunnel's bytes both ways;
- a chunk with empty data (or an empty message) is a keep-alive and carries nothing; the relay sends one
  every ``KEEPALIVE_INTERVAL`` seconds so idle tunnels survive idle timeouts in between;
- a WebSocket close frame ends the tunnel (either side). The format has no half-close message: see
  docs/REMOTE.md for how the relay treats a client's EOF.

Pure: bytes in, bytes out; no I/O. ``decode_chunk`` returns None for a malformed message rather than
raising, and the relay ends that one tunnel.
"""

from __future__ import annotations

import base64
from typing import Iterator, List, Optional, Tuple

TAG = 0x0A  # field number 1, wire type 2 (length-delimited)
MAX_CHUNK_BYTES = 512 * 1024  # the server's per-message buffer cap
KEEPALIVE_INTERVAL = 30.0  # seconds between keep-alive chunks on a tunnel
CONTENT_TYPE = "application/proto"
_MAX_VARINT_BYTES = 5  # 35 bits: far above any chunk the server accepts
_TAG_BYTE = bytes((TAG,))


def _varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def chunk_prefix(length: int) -> bytes:
    """What precedes ``length`` bytes of data in a chunk message: the tag and the varint length.
    ``chunk_prefix(len(data)) + data`` is ``encode_chunk(data)``; the relay sends the two parts
    without joining them (``WebSocket.send_bytes(prefix, data)`` copies them into the frame)."""
    if not 0 <= length <= MAX_CHUNK_BYTES:
        raise ValueError(f"a chunk holds at most {MAX_CHUNK_BYTES} bytes, not {length}")
    return _TAG_BYTE + _varint(length)


def encode_chunk(data: bytes) -> bytes:
    """One ``UpstreamProxyChunk`` message carrying ``data`` (``len(data) <= MAX_CHUNK_BYTES``)."""
    return b"".join((chunk_prefix(len(data)), data))


KEEPALIVE_MESSAGE = encode_chunk(b"")


def encode_chunks(data: bytes, max_bytes: int = MAX_CHUNK_BYTES) -> Iterator[bytes]:
    """``data`` as one or more messages of at most ``max_bytes`` of data each."""
    if len(data) <= max_bytes:
        yield encode_chunk(data)
        return
    view = memoryview(data)
    for start in range(0, len(data), max_bytes):
        yield encode_chunk(bytes(view[start:start + max_bytes]))


def decode_chunk(message: bytes) -> Optional[bytes]:
    """The data of one message; ``b""`` for a keep-alive (an empty message or empty data); None when
    the message is not a well-formed ``UpstreamProxyChunk`` (wrong tag, bad varint, short data,
    trailing bytes)."""
    start = data_offset(message)
    if start < 0:
        return None
    return message[start:] if message else b""


def data_offset(message: bytes) -> int:
    """Where the data of one message starts (``len(message)`` for a keep-alive, 0 for an empty
    message), or -1 when the message is malformed — ``decode_chunk`` without copying the data, for
    the relay's hot path (``memoryview(message)[offset:]``)."""
    size = len(message)
    if size == 0:
        return 0
    if message[0] != TAG or size < 2:
        return -1
    length = 0
    shift = 0
    index = 1
    while True:
        if index >= size or index > _MAX_VARINT_BYTES:
            return -1
        byte = message[index]
        index += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    if index + length != size:
        return -1
    return index


def basic_credentials(session_id: str, token: str) -> str:
    """The ``Proxy-Authorization`` value of the tunnel's CONNECT: ``Basic base64(session_id:token)``."""
    raw = f"{session_id}:{token}".encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


def tunnel_head(authority: str, session_id: str, token: str) -> bytes:
    """The first chunk's data: the CONNECT request for ``authority`` (``host:port``, IPv6 in brackets)
    with the session's proxy credentials."""
    if any(ch in authority for ch in "\r\n \t"):
        raise ValueError("a CONNECT target cannot contain blanks or line breaks")
    return (f"CONNECT {authority} HTTP/1.1\r\n"
            f"Proxy-Authorization: {basic_credentials(session_id, token)}\r\n"
            f"\r\n").encode("utf-8")


def upgrade_headers(token: str) -> List[Tuple[str, str]]:
    """The extra headers of the WebSocket opening handshake."""
    return [("Authorization", f"Bearer {token}"), ("Content-Type", CONTENT_TYPE)]
