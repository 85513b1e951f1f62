"""The DER reader (claw.proto.der): lengths, tags, INTEGER, OID and PEM, and its refusals."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from claw.proto import der


def _int_der(value: int) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)
    body = value.to_bytes(size, "big", signed=True)
    return bytes([0x02]) + _length(len(body)) + body


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


@given(st.integers(min_value=-(2 ** 4096), max_value=2 ** 4096))
def test_integers_round_trip_through_minimal_encoding(value):
    data = _int_der(value)
    tlv = der.read(data)
    assert tlv.end == len(data)
    assert der.integer(data, tlv) == value


def test_long_form_lengths_and_nested_children():
    inner = _int_der(7) + bytes([0x04, 0x81, 0x80]) + b"x" * 0x80
    data = bytes([0x30]) + _length(len(inner)) + inner
    top = der.read(data)
    assert top.constructed and top.is_universal(der.SEQUENCE) and top.end == len(data)
    first, second = der.children(data, top)
    assert der.integer(data, first) == 7
    assert der.octets(data, second) == b"x" * 0x80


def test_context_tags_and_high_tag_numbers():
    data = bytes([0xA0, 0x03]) + _int_der(1) + bytes([0x9F, 0x81, 0x00, 0x00])
    ctx = der.read(data)
    assert (ctx.cls, ctx.constructed, ctx.number) == (der.CONTEXT, True, 0)
    high = der.read(data, ctx.end)
    assert (high.cls, high.number, high.start, high.end) == (der.CONTEXT, 128, len(data), len(data))


def test_oids_in_dotted_form():
    rsa = bytes.fromhex("06092a864886f70d010101")
    assert der.oid(rsa, der.read(rsa)) == "1.2.840.113549.1.1.1"
    joint = bytes.fromhex("0603883703")  # 2.999.3
    assert der.oid(joint, der.read(joint)) == "2.999.3"


@pytest.mark.parametrize("data, words", [
    (b"\x30\x80\x00\x00", "indefinite"),
    (b"\x02\x05\x01", "past the end"),
    (b"\x02\x81\x05" + b"\x01" * 5, "below 128"),
    (b"\x02\x82\x00\x85" + b"\x01" * 0x85, "shortest form"),
    (b"\x02\x02\x00\x01", "minimal"),
    (b"\x02\x00", "empty INTEGER"),
    (b"", "found the end"),
    (b"\x02", "length expected"),
])
def test_malformed_input_raises_der_error(data, words):
    with pytest.raises(der.DerError, match=words):
        tlv = der.read(data)
        der.integer(data, tlv)


def test_children_must_fill_the_container_and_types_are_checked():
    data = b"\x30\x03\x02\x05\x01"  # the child claims more than the parent holds
    with pytest.raises(der.DerError, match="past the end of its container"):
        der.children(data, der.read(data))
    with pytest.raises(der.DerError, match="not constructed"):
        der.children(b"\x02\x01\x01", der.read(b"\x02\x01\x01"))
    with pytest.raises(der.DerError, match="OCTET STRING expected"):
        der.octets(b"\x02\x01\x01", der.read(b"\x02\x01\x01"))


def test_pem_blocks_and_bad_base64():
    text = "junk\n-----BEGIN PRIVATE KEY-----\nAgEH\n-----END PRIVATE KEY-----\n" \
           "-----BEGIN CERTIFICATE-----\nAgEB\n-----END CERTIFICATE-----\n"
    assert der.pem_blocks(text) == [("PRIVATE KEY", b"\x02\x01\x07"), ("CERTIFICATE", b"\x02\x01\x01")]
    with pytest.raises(der.DerError, match="not valid base64"):
        der.pem_blocks("-----BEGIN PRIVATE KEY-----\nAgE\n-----END PRIVATE KEY-----")
