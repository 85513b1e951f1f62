"""A small ASN.1 DER reader and PEM unwrapper, sans-IO: bytes in, tag-length-value triples out.

``read(data, pos)`` returns the ``Tlv`` starting at ``pos`` (tag class and number, constructed flag,
where its content starts and ends); ``children(data, tlv)`` the TLVs inside a constructed one;
``integer`` / ``oid`` decode INTEGER and OBJECT IDENTIFIER contents; ``pem_blocks(text)`` finds
``-----BEGIN X-----`` blocks and returns their labels and DER bytes. It is what claw needs to read a
private key (claw.auth.rsa: PKCS#8 and PKCS#1 RSA keys), nothing more.

It deliberately reads DER only: definite lengths in their shortest form, no BER indefinite lengths,
no schema, no writing. Anything malformed raises ``DerError`` (a ``ValueError``) with the offset, never
another exception type and never the bytes themselves (they may be a secret key).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import List, Tuple

# Universal tag numbers used by the callers
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
SEQUENCE = 0x10

UNIVERSAL, APPLICATION, CONTEXT, PRIVATE = 0, 1, 2, 3

MAX_LENGTH_OCTETS = 4  # lengths up to 4 GiB: far beyond any key


class DerError(ValueError):
    """Malformed DER (or PEM) input."""


@dataclass(frozen=True)
class Tlv:
    """One DER element: its tag (class, constructed flag, number) and where its content lies."""

    cls: int  # UNIVERSAL | APPLICATION | CONTEXT | PRIVATE
    constructed: bool
    number: int
    start: int  # offset of the first content byte
    end: int  # offset just past the content (and so past the element)

    def is_universal(self, number: int) -> bool:
        return self.cls == UNIVERSAL and self.number == number


def read(data: bytes, pos: int = 0, limit: int = -1) -> Tlv:
    """The element starting at ``pos``; it must end at or before ``limit`` (default: the data's end)."""
    end_of_data = len(data) if limit < 0 else limit
    if pos >= end_of_data:
        raise DerError(f"DER: element expected at offset {pos}, found the end")
    first = data[pos]
    cls, constructed, number = first >> 6, bool(first & 0x20), first & 0x1F
    pos += 1
    if number == 0x1F:  # high tag number form, base 128
        number = 0
        while True:
            if pos >= end_of_data:
                raise DerError("DER: tag runs past the end")
            byte = data[pos]
            pos += 1
            if number == 0 and byte == 0x80:
                raise DerError(f"DER: tag number not in shortest form at offset {pos - 1}")
            number = (number << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
            if number > 0xFFFFFF:
                raise DerError("DER: tag number too large")
    if pos >= end_of_data:
        raise DerError(f"DER: length expected at offset {pos}")
    length = data[pos]
    pos += 1
    if length == 0x80:
        raise DerError(f"DER: indefinite length at offset {pos - 1} (BER, not DER)")
    if length & 0x80:
        count = length & 0x7F
        if count > MAX_LENGTH_OCTETS or pos + count > end_of_data:
            raise DerError(f"DER: bad long-form length at offset {pos - 1}")
        raw = data[pos:pos + count]
        if raw[0] == 0:
            raise DerError(f"DER: length not in shortest form at offset {pos}")
        length = int.from_bytes(raw, "big")
        if length < 0x80:
            raise DerError(f"DER: long-form length below 128 at offset {pos}")
        pos += count
    if pos + length > end_of_data:
        raise DerError(f"DER: element at offset {pos} is {length} bytes long, past the end of its container")
    return Tlv(cls, constructed, number, pos, pos + length)


def children(data: bytes, parent: Tlv) -> List[Tlv]:
    """The elements inside a constructed element, in order; they must fill it exactly."""
    if not parent.constructed:
        raise DerError(f"DER: element at offset {parent.start} is not constructed")
    out: List[Tlv] = []
    pos = parent.start
    while pos < parent.end:
        child = read(data, pos, parent.end)
        out.append(child)
        pos = child.end
    return out


def expect(tlv: Tlv, number: int, what: str) -> Tlv:
    """``tlv`` when it is the universal type ``number``; DerError naming ``what`` otherwise."""
    if not tlv.is_universal(number):
        raise DerError(f"DER: {what} expected at offset {tlv.start}")
    return tlv


def integer(data: bytes, tlv: Tlv) -> int:
    """The value of an INTEGER (two's complement, minimal encoding)."""
    expect(tlv, INTEGER, "INTEGER")
    raw = data[tlv.start:tlv.end]
    if not raw:
        raise DerError(f"DER: empty INTEGER at offset {tlv.start}")
    if len(raw) > 1 and ((raw[0] == 0 and not raw[1] & 0x80) or (raw[0] == 0xFF and raw[1] & 0x80)):
        raise DerError(f"DER: INTEGER not in minimal form at offset {tlv.start}")
    return int.from_bytes(raw, "big", signed=True)


def oid(data: bytes, tlv: Tlv) -> str:
    """An OBJECT IDENTIFIER in dotted form."""
    expect(tlv, OBJECT_IDENTIFIER, "OBJECT IDENTIFIER")
    raw = data[tlv.start:tlv.end]
    if not raw or raw[-1] & 0x80:
        raise DerError(f"DER: malformed OBJECT IDENTIFIER at offset {tlv.start}")
    arcs: List[int] = []
    value = 0
    for i, byte in enumerate(raw):
        if value == 0 and byte == 0x80 and (i == 0 or not raw[i - 1] & 0x80):
            raise DerError(f"DER: OBJECT IDENTIFIER arc not in shortest form at offset {tlv.start}")
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


def octets(data: bytes, tlv: Tlv) -> bytes:
    """The content of an OCTET STRING."""
    expect(tlv, OCTET_STRING, "OCTET STRING")
    return data[tlv.start:tlv.end]


_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]*?)-----END \1-----")


def pem_blocks(text: str) -> List[Tuple[str, bytes]]:
    """``(label, der)`` of every PEM block in ``text`` (``label``: e.g. ``PRIVATE KEY``). Blocks with
    headers (``Proc-Type: 4,ENCRYPTED``) do not match the pattern and are not returned."""
    out: List[Tuple[str, bytes]] = []
    for match in _PEM.finditer(text):
        body = "".join(match.group(2).split())
        try:
            out.append((match.group(1), base64.b64decode(body, validate=True)))
        except (binascii.Error, ValueError):
            raise DerError(f"PEM: the {match.group(1)} block is not valid base64") from None
    return out
