"""The tests' own encoder of ``application/vnd.amazon.eventstream`` frames (independent of claw's
decoder), and the Bedrock message shapes built with it: ``chunk`` events carrying base64 Anthropic
stream events, exception and error messages."""

from __future__ import annotations

import base64
import binascii
import json
import struct
from typing import Any, Dict, Iterable, List, Tuple

HeaderSpec = Tuple[str, int, Any]  # (name, type code, value)


def encode_header(name: str, kind: int, value: Any) -> bytes:
    raw_name = name.encode("utf-8")
    out = struct.pack("B", len(raw_name)) + raw_name + struct.pack("B", kind)
    if kind in (0, 1):
        return out
    if kind == 2:
        return out + struct.pack(">b", value)
    if kind == 3:
        return out + struct.pack(">h", value)
    if kind == 4:
        return out + struct.pack(">i", value)
    if kind in (5, 8):
        return out + struct.pack(">q", value)
    if kind in (6, 7):
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return out + struct.pack(">H", len(data)) + data
    if kind == 9:
        assert len(value) == 16
        return out + bytes(value)
    raise ValueError(kind)


def encode_message(headers: Iterable[HeaderSpec], payload: bytes = b"") -> bytes:
    block = b"".join(encode_header(*h) for h in headers)
    total = 12 + len(block) + len(payload) + 4
    prelude = struct.pack(">II", total, len(block))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + block + payload
    return body + struct.pack(">I", binascii.crc32(body) & 0xFFFFFFFF)


def chunk(event: Dict[str, Any]) -> bytes:
    """A Bedrock ``chunk`` event carrying one Anthropic stream event."""
    data = base64.b64encode(json.dumps(event).encode("utf-8")).decode("ascii")
    payload = json.dumps({"bytes": data, "p": "abcdefghij"}).encode("utf-8")
    return encode_message([(":event-type", 7, "chunk"), (":content-type", 7, "application/json"),
                           (":message-type", 7, "event")], payload)


def exception(kind: str, message: str) -> bytes:
    """An exception message (``throttlingException``, ``modelStreamErrorException``, ...)."""
    payload = json.dumps({"message": message}).encode("utf-8")
    return encode_message([(":exception-type", 7, kind), (":content-type", 7, "application/json"),
                           (":message-type", 7, "exception")], payload)


def error(code: str, message: str) -> bytes:
    return encode_message([(":error-code", 7, code), (":error-message", 7, message),
                           (":message-type", 7, "error")])


def chunks(events: List[Dict[str, Any]]) -> bytes:
    return b"".join(chunk(e) for e in events)
