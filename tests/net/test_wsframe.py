"""claw.proto.wsframe: masking, client frames and the server-frame reader, against wsproto and naive
references, at every length and offset, with the received bytes cut anywhere."""

from __future__ import annotations

import os
import struct
from typing import Any, List, Sequence, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claw.proto import wsframe
from claw.proto.wsframe import BINARY, RAW, FrameError, FrameReader

wsproto = pytest.importorskip("wsproto")
from wsproto.connection import Connection, ConnectionType  # noqa: E402
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage  # noqa: E402
from wsproto.frame_protocol import FrameProtocol, Opcode, XorMaskerSimple  # noqa: E402


def naive_mask(data: bytes, key: bytes, phase: int = 0) -> bytes:
    return bytes(b ^ key[(phase + i) % 4] for i, b in enumerate(data))


# -- masking ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", range(4))
def test_mask_every_length_and_phase(phase):
    key = b"\x9a\x00\x3c\xff"  # a zero byte too: that lane is skipped
    data = bytes(range(256)) * 2
    for length in range(0, 300):
        assert wsframe.mask(data[:length], key, phase) == naive_mask(data[:length], key, phase), length


def test_mask_matches_wsproto_at_every_length():
    data = os.urandom(1100)
    for length in list(range(0, 70)) + [125, 126, 127, 1023, 1024, 1025, 1100]:
        key = os.urandom(4)
        assert wsframe.mask(data[:length], key) == XorMaskerSimple(key).process(data[:length])


@given(st.binary(max_size=5000), st.binary(min_size=4, max_size=4), st.integers(0, 3),
       st.integers(0, 40))
@settings(max_examples=200, deadline=None)
def test_mask_in_place_from_any_offset(data, key, phase, start):
    buffer = bytearray(os.urandom(start)) + bytearray(data)
    before = bytes(buffer[:start])
    wsframe.mask_in_place(buffer, key, start, phase)
    assert bytes(buffer[:start]) == before  # nothing before start is touched
    assert bytes(buffer[start:]) == naive_mask(data, key, phase)
    wsframe.mask_in_place(buffer, key, start, phase)  # its own inverse
    assert bytes(buffer[start:]) == data


def test_mask_continues_across_pieces():
    data, key = os.urandom(1001), os.urandom(4)
    cut = 333  # masking a message in two pieces: the second starts at key byte 333 % 4
    assert wsframe.mask(data[:cut], key) + wsframe.mask(data[cut:], key, cut % 4) == \
        naive_mask(data, key)


def test_mask_rejects_a_wrong_key():
    with pytest.raises(ValueError):
        wsframe.mask(b"abc", b"\x01\x02\x03")


# -- client frames ------------------------------------------------------------------------------------


def server_side_read(data: bytes) -> List[Any]:
    """What a wsproto server makes of these bytes: (opcode, payload, fin) per frame."""
    proto = FrameProtocol(client=False, extensions=[])
    proto.receive_bytes(data)
    return [(frame.opcode, bytes(frame.payload), frame.message_finished)
            for frame in proto.received_frames()]


@pytest.mark.parametrize("length", [0, 1, 2, 3, 4, 5, 124, 125, 126, 127, 65535, 65536, 65537, 300001])
def test_client_frame_read_back_by_wsproto(length):
    data = os.urandom(length)
    frame = wsframe.client_frame([data])
    assert frame[0] == 0x82  # FIN, binary
    assert frame[1] & 0x80  # masked
    assert server_side_read(bytes(frame)) == [(Opcode.BINARY, data, True)]


@given(st.lists(st.binary(max_size=3000), max_size=6), st.binary(min_size=4, max_size=4))
@settings(max_examples=200, deadline=None)
def test_client_frame_parts_and_key(parts, key):
    frame = wsframe.client_frame(parts, key=key)
    payload = b"".join(parts)
    header = wsframe.frame_header(wsframe.OP_BINARY, len(payload), masked=True)
    assert bytes(frame) == header + key + naive_mask(payload, key)
    assert server_side_read(bytes(frame)) == [(Opcode.BINARY, payload, True)]


def test_client_frame_of_a_wide_memoryview():
    words = memoryview(bytes(range(16))).cast("I")  # 4 items, 16 bytes
    assert server_side_read(bytes(wsframe.client_frame([b"x", words]))) == \
        [(Opcode.BINARY, b"x" + bytes(range(16)), True)]


def test_client_frame_of_memoryviews_and_text_opcode():
    frame = wsframe.client_frame([memoryview(b"he"), bytearray(b"llo")], wsframe.OP_TEXT)
    proto = FrameProtocol(client=False, extensions=[])
    proto.receive_bytes(bytes(frame))
    [frame_read] = list(proto.received_frames())
    assert frame_read.opcode is Opcode.TEXT and frame_read.payload == "hello"


def test_client_frames_get_fresh_keys():
    keys = {bytes(wsframe.client_frame([b"x" * 200])[4:8]) for _ in range(50)}
    assert len(keys) > 45


@pytest.mark.parametrize("length, header", [
    (0, b"\x82\x80"),
    (125, b"\x82\xfd"),
    (126, b"\x82\xfe\x00\x7e"),
    (65535, b"\x82\xfe\xff\xff"),
    (65536, b"\x82\xff" + struct.pack("!Q", 65536)),
    (2**32, b"\x82\xff" + struct.pack("!Q", 2**32)),
])
def test_frame_header(length, header):
    assert wsframe.frame_header(wsframe.OP_BINARY, length, masked=True) == header
    assert wsframe.frame_header(wsframe.OP_BINARY, length, masked=False) == \
        header[:1] + bytes((header[1] & 0x7F,)) + header[2:]


def test_frame_header_limits():
    with pytest.raises(ValueError):
        wsframe.frame_header(wsframe.OP_PING, 126, masked=True)
    with pytest.raises(ValueError):
        wsframe.frame_header(0x3, 1, masked=True)
    with pytest.raises(ValueError):
        wsframe.frame_header(wsframe.OP_BINARY, 2**63, masked=True)


# -- the frame reader ---------------------------------------------------------------------------------


def server_frame(opcode: int, payload: bytes, fin: bool = True, first: int = None,
                 masked: bool = False) -> bytes:
    """A server frame, written independently of both wsproto and the module under test."""
    byte0 = (0x80 if fin else 0) | opcode if first is None else first
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head = bytes((byte0, mask_bit | n))
    elif n < 65536:
        head = bytes((byte0, mask_bit | 126)) + struct.pack("!H", n)
    else:
        head = bytes((byte0, mask_bit | 127)) + struct.pack("!Q", n)
    if masked:
        key = b"\x01\x02\x03\x04"
        return head + key + naive_mask(payload, key)
    return head + payload


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()


def summarize(events: Sequence[Any]) -> List[Tuple]:
    """wsproto events as comparable tuples, data messages joined."""
    out: List[Tuple] = []
    pending: List[Any] = []
    for event in events:
        if isinstance(event, (BytesMessage, TextMessage)):
            pending.append(event.data)
            if event.message_finished:
                if isinstance(event, TextMessage):
                    out.append(("text", "".join(pending)))
                else:
                    out.append(("bytes", b"".join(bytes(p) for p in pending)))
                pending = []
        elif isinstance(event, (Ping, Pong)):
            out.append((type(event).__name__.lower(), bytes(event.payload)))
        elif isinstance(event, CloseConnection):
            out.append(("close", int(event.code), event.reason))
    return out


def wsproto_alone(stream: bytes) -> List[Tuple]:
    conn = Connection(ConnectionType.CLIENT)
    conn.receive_data(stream)
    events: List[Any] = []
    for event in conn.events():
        events.append(event)
        if isinstance(event, CloseConnection):
            break
    return summarize(events)


def with_reader(chunks: Sequence[bytes]) -> List[Tuple]:
    """The reader in front of wsproto, as claw.net.ws uses it (which stops at a close)."""
    reader = FrameReader()
    conn = Connection(ConnectionType.CLIENT)
    events: List[Any] = []
    try:
        for chunk in chunks:
            for kind, piece, finished in reader.feed(chunk):
                if kind is BINARY:
                    events.append(BytesMessage(data=bytes(piece), frame_finished=True,
                                               message_finished=finished))
                else:
                    assert kind is RAW
                    conn.receive_data(bytes(piece))
                    for event in conn.events():
                        events.append(event)
                        if isinstance(event, CloseConnection):
                            return summarize(events)
    except FrameError as exc:
        events.append(CloseConnection(code=exc.code, reason=exc.reason))
    return summarize(events)


def cut(stream: bytes, points: Sequence[int]) -> List[bytes]:
    points = sorted({p % (len(stream) + 1) for p in points})
    chunks, last = [], 0
    for point in points + [len(stream)]:
        chunks.append(stream[last:point])
        last = point
    return [c for c in chunks if c]


BIG = os.urandom(70000)
STREAM = b"".join([
    server_frame(0x2, b"one"),
    server_frame(0x2, b""),  # an empty message
    server_frame(0x9, b"are you there"),  # ping
    server_frame(0x2, BIG[:300], fin=False),  # a fragmented binary message...
    server_frame(0xA, b"pong-payload"),  # ...with control frames in between...
    server_frame(0x0, b"", fin=False),
    server_frame(0x0, BIG[300:]),  # ...and an 8-byte length
    server_frame(0x1, "héllo".encode(), fin=False),  # a fragmented text message
    server_frame(0x9, b""),
    server_frame(0x0, " wörld".encode()),
    server_frame(0x2, BIG[:1000]),  # a 2-byte length
    server_frame(0x1, b"x" * 200),
    server_frame(0x8, close_payload(4001, "bye now")),
    server_frame(0x2, b"after the close: ignored"),
])


def test_reader_against_wsproto_whole_and_byte_by_byte():
    expected = wsproto_alone(STREAM)
    assert expected[0] == ("bytes", b"one") and expected[-1] == ("close", 4001, "bye now")
    assert with_reader([STREAM]) == expected
    assert with_reader([STREAM[i:i + 1] for i in range(len(STREAM))]) == expected


@given(st.lists(st.integers(min_value=0), max_size=30))
@settings(max_examples=300, deadline=None)
def test_reader_against_wsproto_cut_anywhere(points):
    assert with_reader(cut(STREAM, points)) == wsproto_alone(STREAM)


@given(st.lists(st.tuples(st.sampled_from(["binary", "text", "ping", "pong"]),
                          st.binary(max_size=300), st.integers(1, 3)), max_size=8),
       st.lists(st.integers(min_value=0), max_size=12))
@settings(max_examples=300, deadline=None)
def test_reader_random_streams(messages, points):
    frames = []
    for kind, payload, pieces in messages:
        if kind in ("ping", "pong"):
            frames.append(server_frame(0x9 if kind == "ping" else 0xA, payload[:125]))
            continue
        opcode = 0x2 if kind == "binary" else 0x1
        if kind == "text":
            payload = payload.decode("latin-1").encode("utf-8")
        step = max(1, len(payload) // pieces + 1)
        parts = [payload[i:i + step] for i in range(0, len(payload), step)] or [b""]
        for index, part in enumerate(parts):
            frames.append(server_frame(opcode if index == 0 else 0x0, part,
                                       fin=index == len(parts) - 1))
    stream = b"".join(frames) + server_frame(0x8, close_payload(1000))
    assert with_reader(cut(stream, points)) == wsproto_alone(stream)


def test_reader_pieces_are_views_without_copies():
    payload = os.urandom(1000)
    stream = server_frame(0x2, payload)
    first, second = stream[:300], stream[300:]
    reader = FrameReader()
    out = reader.feed(first) + reader.feed(second)
    assert [kind for kind, _, _ in out] == [BINARY, BINARY]
    assert isinstance(out[0][1], memoryview) and out[0][1].obj is first
    assert out[1][1] is second  # a whole chunk of payload is passed on as it is
    assert b"".join(piece for _, piece, _ in out) == payload
    assert [finished for _, _, finished in out] == [False, True]


@pytest.mark.parametrize("stream, code", [
    (server_frame(0x0, b"orphan"), 1002),  # a continuation with no message
    (server_frame(0x2, b"x", masked=True), 1002),  # a server must not mask
    (server_frame(0x2, b"x", first=0xC2), 1002),  # RSV1 without an extension
    (server_frame(0x3, b"x"), 1002),  # a reserved opcode
    (server_frame(0x9, b"x", fin=False), 1002),  # a fragmented control frame
    (b"\x89\x7e\x00\x7e" + b"x" * 126, 1002),  # a control frame over 125 bytes
    (b"\x82\x7e\x00\x05hello", 1002),  # a length that did not need 2 bytes
    (b"\x82\x7f" + struct.pack("!Q", 5) + b"hello", 1002),  # nor 8
    (server_frame(0x1, b"abc", fin=False) + server_frame(0x2, b"x"), 1002),  # binary inside text
    (server_frame(0x1, b"\xff\xfe"), 1007),  # not UTF-8
])
def test_reader_leaves_protocol_errors_to_wsproto(stream, code):
    stream = server_frame(0x2, b"fine") + stream + server_frame(0x2, b"never read")
    expected = wsproto_alone(stream)
    assert expected[0] == ("bytes", b"fine") and expected[-1][:2] == ("close", code)
    for chunks in ([stream], [stream[i:i + 1] for i in range(len(stream))]):
        assert with_reader(chunks) == expected


@pytest.mark.parametrize("second", [server_frame(0x2, b"new"), server_frame(0x1, b"new")])
def test_reader_error_a_message_inside_a_binary_message(second):
    stream = server_frame(0x2, b"start", fin=False) + second
    reader = FrameReader()
    with pytest.raises(FrameError) as info:
        reader.feed(stream)
    assert info.value.code == 1002 and "CONTINUATION" in info.value.reason


def test_reader_passthrough():
    stream = server_frame(0x2, b"abc")
    assert FrameReader(passthrough=True).feed(stream) == [(RAW, stream, False)]
    reader = FrameReader()
    out = reader.feed(server_frame(0x8, close_payload(1000)) + stream)
    assert reader.passthrough
    assert [kind for kind, _, _ in out] == [RAW, RAW]
    assert reader.feed(b"more") == [(RAW, b"more", False)]
