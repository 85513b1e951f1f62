"""WebSocket frames (RFC 6455, section 5) on a client's bulk paths, sans-IO: bytes in, bytes out.

claw's WebSocket client (``claw.net.ws``) runs on wsproto, which does the opening handshake, text
messages, control frames and the closing handshake. wsproto masks and parses every payload in pure
Python through several copies, which made it most of the upstream-proxy relay's CPU time; this
module does the two bulk paths with as few passes over the bytes as Python allows:

- ``client_frame(parts)`` builds one complete, masked client frame (FIN set) whose payload is the
  concatenation of ``parts``, in a single buffer: the parts are copied in once and masked in place.
  The masking key is fresh from ``os.urandom`` for every frame (RFC 6455, 5.3);
- ``mask_in_place(buffer, key, start, phase)`` XORs ``buffer[start:]`` with the key repeated,
  starting at key byte ``phase``. It works one key byte at a time: the bytes that share a key byte
  are the strided slice ``buffer[start + i::4]``, mapped through a 256-byte XOR table by
  ``bytes.translate`` and assigned back — three C-level passes, no per-byte Python. (Measured
  against the alternatives on CPython 3.11: XOR through big integers — ``int.from_bytes``, the key
  tiled by multiplication, ``to_bytes`` — costs as much or more, and wsproto's own masker adds
  copies around the same translation; see docs/PERFORMANCE.md, "Relay");
- ``FrameReader`` splits what a server sends into frames without copying payloads: the payload of
  each binary data frame comes out as slices (memoryviews) of the received chunks, to be joined
  once per message by the caller. Everything else — text messages, control frames, anything
  malformed — comes out as raw bytes for wsproto, which parses them as before (so closing, pings,
  UTF-8 checks and protocol errors keep wsproto's behaviour). ``FrameError`` reports the one error
  only this reader can see: a data frame that interrupts its binary message.

Limits, on purpose: no extensions (claw offers none, so the RSV bits must be 0), client side only
(frames sent are masked, frames received must not be), no fragmentation of what is sent.
"""

from __future__ import annotations

import os
import struct
from typing import Any, List, Optional, Sequence, Tuple

__all__ = ["OP_CONTINUATION", "OP_TEXT", "OP_BINARY", "OP_CLOSE", "OP_PING", "OP_PONG",
           "BINARY", "RAW", "FrameError", "FrameReader", "client_frame", "frame_header",
           "mask", "mask_in_place"]

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
_OPCODES = frozenset((0x0, 0x1, 0x2, 0x8, 0x9, 0xA))
_MAX_HEADER = 14  # 2 + 8 (64-bit length) + 4 (masking key)

# what FrameReader.feed returns: (BINARY, payload piece, message finished) or (RAW, bytes, False)
BINARY = "binary"
RAW = "raw"

_HEADER, _PAYLOAD, _FORWARD = 0, 1, 2  # FrameReader states

_pack_16 = struct.Struct("!BBH").pack
_pack_64 = struct.Struct("!BBQ").pack
_XOR_TABLES: List[Optional[bytes]] = [None] * 256


class FrameError(Exception):
    """A server frame that breaks the protocol; ``code`` is the close code to answer with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _xor_table(byte: int) -> bytes:
    table = _XOR_TABLES[byte]
    if table is None:
        table = _XOR_TABLES[byte] = bytes([i ^ byte for i in range(256)])
    return table


def mask_in_place(buffer: bytearray, key: bytes, start: int = 0, phase: int = 0) -> None:
    """XOR ``buffer[start:]`` with ``key`` (4 bytes) repeated; ``key[phase % 4]`` applies to
    ``buffer[start]``. Masking is its own inverse."""
    if len(key) != 4:
        raise ValueError("a WebSocket masking key is 4 bytes")
    for lane in range(4):
        byte = key[(phase + lane) & 3]
        if byte:  # XOR with 0 changes nothing
            every_fourth = slice(start + lane, None, 4)
            buffer[every_fourth] = buffer[every_fourth].translate(_xor_table(byte))


def mask(data: Any, key: bytes, phase: int = 0) -> bytes:
    """``data`` (bytes-like) XORed with ``key`` repeated, starting at key byte ``phase``."""
    buffer = bytearray(data)
    mask_in_place(buffer, key, 0, phase)
    return bytes(buffer)


def frame_header(opcode: int, length: int, *, masked: bool) -> bytes:
    """The first 2, 4 or 10 bytes of a final (FIN) frame, without the masking key."""
    if opcode not in _OPCODES:
        raise ValueError(f"not a WebSocket opcode: {opcode:#x}")
    first = 0x80 | opcode
    bit = 0x80 if masked else 0
    if length < 126:
        return bytes((first, bit | length))
    if opcode >= OP_CLOSE:
        raise ValueError("a control frame carries at most 125 bytes")
    if length < 65536:
        return _pack_16(first, bit | 126, length)
    if length >> 63:
        raise ValueError("a WebSocket frame carries less than 2**63 bytes")
    return _pack_64(first, bit | 127, length)


def client_frame(parts: Sequence[Any], opcode: int = OP_BINARY,
                 key: Optional[bytes] = None) -> bytearray:
    """One complete masked frame (FIN set) carrying the concatenation of ``parts`` (bytes-like).
    ``key`` is for tests; by default every frame gets a fresh random key."""
    length = 0
    for part in parts:
        length += part.nbytes if type(part) is memoryview else len(part)
    if key is None:
        key = os.urandom(4)
    elif len(key) != 4:
        raise ValueError("a WebSocket masking key is 4 bytes")
    head = frame_header(opcode, length, masked=True) + key
    frame = bytearray().join((head, *parts))  # sized once, each part copied once
    mask_in_place(frame, key, len(head))
    return frame


def _parse_header(head: bytes) -> Optional[Tuple[int, int, int, int]]:
    """(first byte, second byte, payload length, header length) of the frame ``head`` starts, None
    when ``head`` is too short to tell, -1 in the length when wsproto must judge the header
    (reserved bits, masking, unknown opcodes, oversized control frames, overlong lengths)."""
    if len(head) < 2:
        return None
    first, second = head[0], head[1]
    length = second & 0x7F
    size = 2
    if length == 126:
        if len(head) < 4:
            return None
        length = (head[2] << 8) | head[3]
        size = 4
        if length < 126:
            length = -1
    elif length == 127:
        if len(head) < 10:
            return None
        length = int.from_bytes(head[2:10], "big")
        size = 10
        if length < 65536 or length >> 63:
            length = -1
    opcode = first & 0x0F
    if first & 0x70 or second & 0x80 or opcode not in _OPCODES or \
            opcode >= OP_CLOSE and (not first & 0x80 or size > 2):
        length = -1
    return first, second, length, size


class FrameReader:
    """Splits the bytes a client receives into binary payload pieces and raw bytes for wsproto.

    ``feed(data)`` returns a list of ``(BINARY, piece, message_finished)`` — a piece of a binary
    message's payload (``bytes`` or a ``memoryview`` of ``data``; empty for an empty frame) — and
    ``(RAW, data, False)`` — bytes to hand to wsproto unchanged (text messages, control frames,
    anything malformed), in stream order. After a close frame, or a header it does not judge itself,
    everything goes to wsproto (``passthrough``). ``FrameError`` for a text or binary frame that
    interrupts a binary message (wsproto cannot see that: it never saw the message start).
    With ``passthrough=True`` from the start, it hands everything to wsproto.
    """

    def __init__(self, *, passthrough: bool = False) -> None:
        self.passthrough = passthrough
        self._state = _HEADER
        self._head = b""  # the start of a header that a chunk boundary cut
        self._left = 0  # payload bytes (_PAYLOAD) or frame bytes (_FORWARD) still to come
        self._fin = False  # the binary frame being read ends its message
        self._message: Optional[int] = None  # the message in progress: OP_BINARY / OP_TEXT
        self._closing = False  # the frame being forwarded is a close frame

    def feed(self, data: bytes) -> List[Tuple[str, Any, bool]]:
        out: List[Tuple[str, Any, bool]] = []
        size = len(data)
        if self.passthrough:
            if size:
                out.append((RAW, data, False))
            return out
        pos = 0
        view: Optional[memoryview] = None
        while pos < size:
            state = self._state
            if state == _PAYLOAD:
                take = min(self._left, size - pos)
                if take == size:
                    piece: Any = data
                else:
                    if view is None:
                        view = memoryview(data)
                    piece = view[pos:pos + take]
                pos += take
                self._left -= take
                if not self._left:
                    self._state = _HEADER
                out.append((BINARY, piece, self._fin and not self._left))
            elif state == _FORWARD:
                take = min(self._left, size - pos)
                out.append((RAW, data if take == size else data[pos:pos + take], False))
                pos += take
                self._left -= take
                if not self._left:
                    self._state = _HEADER
                    if self._closing:  # nothing after a close frame is ours to read
                        self.passthrough = True
                        if pos < size:
                            out.append((RAW, data[pos:], False))
                        return out
            else:
                pos = self._header(data, pos, out)
        return out

    def _header(self, data: bytes, pos: int, out: List[Tuple[str, Any, bool]]) -> int:
        """Read the header at ``data[pos:]`` (after ``self._head``); returns the new position."""
        earlier = self._head
        head = earlier + data[pos:pos + _MAX_HEADER] if earlier else data[pos:pos + _MAX_HEADER]
        parsed = _parse_header(head)
        if parsed is None:  # the header goes on in the next chunk
            self._head = bytes(head)
            return len(data)
        first, _second, length, header_size = parsed
        self._head = b""
        opcode = first & 0x0F
        fin = bool(first & 0x80)
        message = self._message
        if length < 0 or opcode == OP_CONTINUATION and message is None or \
                message == OP_TEXT and opcode in (OP_TEXT, OP_BINARY):
            # wsproto judges it (and fails the connection, as it would have)
            self.passthrough = True
            out.append((RAW, earlier + data[pos:], False))
            return len(data)
        if opcode == OP_BINARY or opcode == OP_CONTINUATION and message == OP_BINARY:
            if opcode == OP_BINARY and message is not None:
                raise FrameError(1002, "expected a CONTINUATION frame, got BINARY")
            self._message = None if fin else OP_BINARY
            if not length:
                out.append((BINARY, b"", fin))
            else:
                self._state = _PAYLOAD
                self._left = length
                self._fin = fin
            return pos + header_size - len(earlier)
        if opcode == OP_TEXT and message == OP_BINARY:
            raise FrameError(1002, "expected a CONTINUATION frame, got TEXT")
        # text data and control frames: forwarded whole, header included, to wsproto
        if opcode < OP_CLOSE:
            self._message = None if fin else OP_TEXT
        self._closing = opcode == OP_CLOSE
        self._state = _FORWARD
        self._left = header_size + length
        if earlier:
            out.append((RAW, earlier, False))
            self._left -= len(earlier)
        return pos

