"""claw.proto.eventstream: prelude, typed headers, payload, both CRC32s; split at every byte."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings, strategies as st

from claw.proto.eventstream import EventStreamDecoder, EventStreamError
from tests.fakes.eventstream_frames import chunk, encode_message, exception

ALL_TYPES = [
    ("t", 0, True), ("f", 1, False), ("b", 2, -7), ("s", 3, -300), ("i", 4, 70000), ("l", 5, -(2 ** 40)),
    ("raw", 6, b"\x00\xff"), ("str", 7, "h\u00e9llo"), ("ts", 8, 1700000000123), ("id", 9, bytes(range(16))),
]


def test_every_header_type_and_the_payload():
    frame = encode_message(ALL_TYPES, b'{"a":1}')
    [msg] = EventStreamDecoder().feed(frame)
    assert msg.headers == {"t": True, "f": False, "b": -7, "s": -300, "i": 70000, "l": -(2 ** 40),
                           "raw": b"\x00\xff", "str": "h\u00e9llo", "ts": 1700000000123, "id": bytes(range(16))}
    assert msg.payload == b'{"a":1}'
    assert msg.header("str") == "h\u00e9llo" and msg.header("missing") is None


def test_an_empty_message_is_sixteen_bytes():
    # A message with no headers and no payload is 16 bytes: length 16, headers 0, two CRCs.
    frame = encode_message([], b"")
    assert len(frame) == 16 and frame[:8] == struct.pack(">II", 16, 0)
    [msg] = EventStreamDecoder().feed(frame)
    assert msg.headers == {} and msg.payload == b""


def stream_bytes():
    return b"".join([chunk({"type": "message_start", "message": {"id": "m"}}),
                     encode_message(ALL_TYPES, b"x" * 300),
                     exception("throttlingException", "slow down")])


def test_split_at_every_byte():
    data = stream_bytes()
    whole = EventStreamDecoder().feed(data)
    assert len(whole) == 3
    for cut in range(len(data) + 1):
        dec = EventStreamDecoder()
        got = dec.feed(data[:cut]) + dec.feed(data[cut:])
        dec.close()
        assert got == whole


def test_one_byte_at_a_time():
    data = stream_bytes()
    dec = EventStreamDecoder()
    got = []
    for i in range(len(data)):
        got.extend(dec.feed(data[i:i + 1]))
    assert got == EventStreamDecoder().feed(data)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=1), min_size=0, max_size=2000),
       st.binary(max_size=200))
def test_any_split_gives_the_same_messages(cuts, payload):
    data = encode_message([("k", 7, "v")], payload) * 3
    positions = sorted({i for i, c in zip(range(len(data)), cuts) if c})
    dec = EventStreamDecoder()
    got, last = [], 0
    for p in positions + [len(data)]:
        got.extend(dec.feed(data[last:p]))
        last = p
    dec.close()
    assert [m.payload for m in got] == [payload] * 3


def test_bad_prelude_crc():
    frame = bytearray(encode_message([("k", 7, "v")], b"p"))
    frame[8] ^= 0xFF
    with pytest.raises(EventStreamError, match="prelude CRC"):
        EventStreamDecoder().feed(bytes(frame))


def test_bad_message_crc():
    frame = bytearray(encode_message([("k", 7, "v")], b"payload"))
    frame[-6] ^= 0x01  # a payload byte
    dec = EventStreamDecoder()
    with pytest.raises(EventStreamError, match="message CRC"):
        dec.feed(bytes(frame))
    with pytest.raises(EventStreamError):  # stays broken
        dec.feed(encode_message([], b""))


def test_truncated_stream():
    frame = encode_message([("k", 7, "v")], b"payload")
    dec = EventStreamDecoder()
    assert dec.feed(frame[:-3]) == []
    with pytest.raises(EventStreamError, match="ended inside a message"):
        dec.close()


def test_length_out_of_range():
    prelude = struct.pack(">II", 8, 0)
    import zlib
    with pytest.raises(EventStreamError, match="out of range"):
        EventStreamDecoder().feed(prelude + struct.pack(">I", zlib.crc32(prelude)) + b"\0" * 4)


def test_header_past_its_block_and_unknown_type():
    import zlib

    def framed(block: bytes) -> bytes:
        total = 16 + len(block)
        prelude = struct.pack(">II", total, len(block))
        prelude += struct.pack(">I", zlib.crc32(prelude))
        body = prelude + block
        return body + struct.pack(">I", zlib.crc32(body))

    with pytest.raises(EventStreamError, match="runs past"):
        EventStreamDecoder().feed(framed(b"\x01k\x07\x00\x09abc"))
    with pytest.raises(EventStreamError, match="unknown value type"):
        EventStreamDecoder().feed(framed(b"\x01k\x0c"))


# Three messages from the tests of awslabs/aws-c-event-stream (Apache-2.0), AWS's own implementation:
# an empty message, one with a payload, one with a string header and a payload.
AWS_VECTOR = bytes.fromhex(
    "00000010" "00000000" "05c248eb" "7d98c8ff"
    "0000001d" "00000000" "fd528c5a" + b"{'foo':'bar'}".hex() + "c3653936"
    "0000003d" "00000020" "07fd8396" "0c" + b"content-type".hex() + "070010" + b"application/json".hex()
    + b"{'foo':'bar'}".hex() + "8d9c08b1")


def test_aws_published_messages_at_every_split():
    expected = [({}, b""), ({}, b"{'foo':'bar'}"), ({"content-type": "application/json"}, b"{'foo':'bar'}")]
    for cut in range(len(AWS_VECTOR) + 1):
        dec = EventStreamDecoder()
        got = dec.feed(AWS_VECTOR[:cut]) + dec.feed(AWS_VECTOR[cut:])
        dec.close()
        assert [(m.headers, m.payload) for m in got] == expected


def test_aws_published_corrupted_prelude_crc():
    corrupted = bytes.fromhex("00000010" "00000000" "05c348eb" "7d98c8ff")  # one bit flipped in the CRC
    with pytest.raises(EventStreamError, match="prelude CRC"):
        EventStreamDecoder().feed(corrupted)
