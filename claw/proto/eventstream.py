"""The ``application/vnd.amazon.eventstream`` binary framing, sans-IO: bytes in, messages out.

Amazon's streaming APIs (Bedrock's ``InvokeModelWithResponseStream`` among them) frame each message as

    total length   u32 big-endian (the whole message, these 4 bytes and the final CRC included)
    headers length u32 big-endian
    prelude CRC    u32 big-endian: CRC32 of the 8 bytes above
    headers        repeated: name length u8, name (UTF-8), value type u8, value
    payload        total - headers - 16 bytes
    message CRC    u32 big-endian: CRC32 of everything before it

Header value types: 0 true, 1 false, 2 byte (i8), 3 short (i16), 4 integer (i32), 5 long (i64),
6 byte array (u16 length), 7 string (u16 length, UTF-8), 8 timestamp (i64 milliseconds, returned as
int), 9 UUID (16 bytes). The CRC is the standard (ISO-HDLC) CRC32 that ``zlib.crc32`` computes.

``EventStreamDecoder.feed(data)`` returns the complete ``EventMessage``s in ``data`` (a message may
arrive split anywhere, in any number of pieces); ``close()`` raises when the stream ended inside a
message. Every defect — a prelude or message CRC that does not match, a length out of range, a header
running past its block, an unknown value type — raises ``EventStreamError`` and the decoder stays broken
(a framing error cannot be resynchronised).

Deliberately not here: what the messages mean (``:message-type`` event / exception / error and the
payload's JSON are claw.api.bedrock_stream's business), encoding (only the tests build frames), I/O.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, Union

PRELUDE_LENGTH = 12
MIN_MESSAGE_LENGTH = PRELUDE_LENGTH + 4
MAX_MESSAGE_LENGTH = 24 * 1024 * 1024  # AWS limits a message to 16 MiB of payload and 128 KiB of headers
MAX_HEADERS_LENGTH = 128 * 1024

HeaderValue = Union[bool, int, bytes, str]


class EventStreamError(ValueError):
    """The bytes are not a valid event stream (CRC mismatch, bad length, truncation, bad header)."""


@dataclass(frozen=True)
class EventMessage:
    """One decoded message: its headers (name -> typed value) and its payload bytes."""

    headers: Dict[str, HeaderValue]
    payload: bytes

    def header(self, name: str) -> Optional[str]:
        """A header's value as text (None when absent)."""
        value = self.headers.get(name)
        if value is None:
            return None
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return str(value)


class EventStreamDecoder:
    """Incremental decoder; see the module docstring."""

    def __init__(self, *, max_message_length: int = MAX_MESSAGE_LENGTH) -> None:
        self._buffer = bytearray()
        self._max = max_message_length
        self._broken: Optional[str] = None
        self.messages_decoded = 0

    def feed(self, data: bytes) -> List[EventMessage]:
        if self._broken is not None:
            raise EventStreamError(self._broken)
        self._buffer += data
        out: List[EventMessage] = []
        try:
            while True:
                message = self._next()
                if message is None:
                    return out
                out.append(message)
        except EventStreamError as exc:
            self._broken = str(exc)
            raise

    def close(self) -> None:
        """The stream ended: raises when a message is incomplete."""
        if self._broken is not None:
            raise EventStreamError(self._broken)
        if self._buffer:
            self._broken = (f"the event stream ended inside a message ({len(self._buffer)} bytes of "
                            "an incomplete message)")
            raise EventStreamError(self._broken)

    def _next(self) -> Optional[EventMessage]:
        buf = self._buffer
        if len(buf) < PRELUDE_LENGTH:
            return None
        total, headers_length, prelude_crc = struct.unpack_from(">III", buf, 0)
        if zlib.crc32(bytes(buf[:8])) != prelude_crc:
            raise EventStreamError(f"event stream prelude CRC mismatch (message {self.messages_decoded + 1})")
        if total < MIN_MESSAGE_LENGTH or total > self._max:
            raise EventStreamError(f"event stream message length {total} is out of range")
        if headers_length > MAX_HEADERS_LENGTH or headers_length > total - MIN_MESSAGE_LENGTH:
            raise EventStreamError(f"event stream headers length {headers_length} does not fit the message")
        if len(buf) < total:
            return None
        frame = bytes(buf[:total])
        (message_crc,) = struct.unpack_from(">I", frame, total - 4)
        if zlib.crc32(frame[:-4]) != message_crc:
            raise EventStreamError(f"event stream message CRC mismatch (message {self.messages_decoded + 1})")
        headers = parse_headers(frame[PRELUDE_LENGTH:PRELUDE_LENGTH + headers_length])
        payload = frame[PRELUDE_LENGTH + headers_length:-4]
        del buf[:total]
        self.messages_decoded += 1
        return EventMessage(headers, payload)


_FIXED = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}


def parse_headers(block: bytes) -> Dict[str, HeaderValue]:
    headers: Dict[str, HeaderValue] = {}
    pos, end = 0, len(block)
    while pos < end:
        name_length = block[pos]
        pos += 1
        name_bytes, pos = _take(block, pos, name_length, "header name")
        if not name_bytes:
            raise EventStreamError("event stream header with an empty name")
        name = _text(name_bytes, "header name")
        if pos >= end:
            raise EventStreamError(f"event stream header {name!r} has no value type")
        kind = block[pos]
        pos += 1
        value: HeaderValue
        if kind == 0:
            value = True
        elif kind == 1:
            value = False
        elif kind in _FIXED:
            fmt = _FIXED[kind]
            raw, pos = _take(block, pos, struct.calcsize(fmt), f"header {name!r}")
            (value,) = struct.unpack(fmt, raw)
        elif kind in (6, 7):
            size_raw, pos = _take(block, pos, 2, f"header {name!r}")
            (size,) = struct.unpack(">H", size_raw)
            raw, pos = _take(block, pos, size, f"header {name!r}")
            value = raw if kind == 6 else _text(raw, f"header {name!r}")
        elif kind == 9:
            value, pos = _take(block, pos, 16, f"header {name!r}")
        else:
            raise EventStreamError(f"event stream header {name!r} has unknown value type {kind}")
        headers[name] = value
    return headers


def _take(block: bytes, pos: int, size: int, what: str) -> Tuple[bytes, int]:
    if pos + size > len(block):
        raise EventStreamError(f"event stream {what} runs past the headers block")
    return block[pos:pos + size], pos + size


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EventStreamError(f"event stream {what} is not UTF-8") from None
