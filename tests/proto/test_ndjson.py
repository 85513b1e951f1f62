"""Tests for claw.proto.ndjson: framing at every split, errors with line numbers and recovery,
limits, end of stream, and the encoder's one-line guarantee."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claw.errors import NetworkError
from claw.proto.ndjson import NDJSONDecoder, NDJSONError, encode_line


def decode(chunks, **kwargs):
    decoder = NDJSONDecoder(**kwargs)
    values = []
    for chunk in chunks:
        values += decoder.feed(chunk)
    values += decoder.close()
    return values


def every_split(stream: bytes):
    yield [stream]
    yield [stream[i : i + 1] for i in range(len(stream))]
    for i in range(len(stream) + 1):
        yield [stream[:i], stream[i:]]


STREAM = (
    b'{"type":"user","message":{"role":"user","content":"hi"}}\n'
    b"\n"
    b"[1,2,3]\r\n"
    b"   \n"
    b'"caf\xc3\xa9 \xe2\x9c\x93"\n'
    b"\r\n"
    b"42\n"
    b"null\n"
)
EXPECTED = [
    {"type": "user", "message": {"role": "user", "content": "hi"}},
    [1, 2, 3],
    "caf\u00e9 \u2713",
    42,
    None,
]


def test_values_blank_lines_and_crlf_at_every_split():
    for chunks in every_split(STREAM):
        assert decode(chunks) == EXPECTED, chunks


def test_bom_at_stream_start_is_dropped():
    for chunks in every_split(b"\xef\xbb\xbf{}\n[]\n"):
        assert decode(chunks) == [{}, []]


def test_bad_line_reports_number_and_excerpt_and_decoding_continues():
    decoder = NDJSONDecoder()
    with pytest.raises(NDJSONError) as info:
        decoder.feed(b'{"a":1}\n\n{"b":\n[2]\n')
    error = info.value
    assert error.lineno == 3
    assert error.excerpt == '{"b":'
    assert error.values == [{"a": 1}]  # decoded before the bad line, not lost
    assert "line 3" in error.message and "not valid JSON" in error.message
    assert isinstance(error, NetworkError) and isinstance(error, ValueError)
    assert error.kind == "protocol"
    assert decoder.feed(b"") == [[2]]  # the line after the bad one
    assert decoder.feed(b"3\n") == [3]
    assert decoder.lineno == 5


def test_bad_lines_across_feeds_keep_counting_lines():
    decoder = NDJSONDecoder()
    seen, errors = [], []
    chunks = [b"1\nnot json\n2\n", b"{\n", b"3\n[\n4\n"]
    for chunk in chunks:
        while True:
            try:
                seen += decoder.feed(chunk)
                break
            except NDJSONError as exc:
                seen += exc.values
                errors.append(exc.lineno)
                chunk = b""
    assert seen == [1, 2, 3, 4]
    assert errors == [2, 4, 6]


def test_excerpt_is_short():
    decoder = NDJSONDecoder()
    with pytest.raises(NDJSONError) as info:
        decoder.feed(b"x" * 1000 + b"\n")
    assert len(info.value.excerpt) <= 63


def test_invalid_utf8_line_is_named_and_others_survive():
    decoder = NDJSONDecoder()
    with pytest.raises(NDJSONError) as info:
        decoder.feed(b'"ok"\n"\xff"\n"also ok"\n')
    assert info.value.lineno == 2 and "UTF-8" in info.value.message
    assert info.value.values == ["ok"]
    assert decoder.feed(b"") == ["also ok"]


def test_utf16_is_not_accepted():
    decoder = NDJSONDecoder()
    with pytest.raises(NDJSONError):
        decoder.feed('"x"'.encode("utf-16-le") + b"\n")


def test_deep_nesting_is_an_error_not_a_crash():
    decoder = NDJSONDecoder()
    with pytest.raises(NDJSONError, match="nested too deeply"):
        decoder.feed(b"[" * 100000 + b"]" * 100000 + b"\n")
    assert decoder.feed(b"1\n") == [1]


def test_line_limit_in_one_feed_and_across_feeds():
    decoder = NDJSONDecoder(max_line_size=10)
    with pytest.raises(NDJSONError) as info:
        decoder.feed(b"1\n" + b"[" + b"1," * 20 + b"1]\n2\n")
    assert info.value.lineno == 2 and info.value.values == [1]
    assert decoder.feed(b"") == [2]

    decoder = NDJSONDecoder(max_line_size=10)
    assert decoder.feed(b"1\n\"aaaa") == [1]
    with pytest.raises(NDJSONError) as info:
        decoder.feed(b"aaaaaaaa")  # the unterminated line passes the limit: not buffered further
    assert info.value.lineno == 2
    assert not decoder.pending
    assert decoder.feed(b"bbbbbbbbbbbbbbbbbbbb") == []  # still inside the oversized line: dropped
    assert decoder.feed(b'bb"\n3\n') == [3]
    assert decoder.lineno == 3


def test_limit_hit_after_complete_lines_in_the_same_feed_keeps_their_values():
    decoder = NDJSONDecoder(max_line_size=10)
    with pytest.raises(NDJSONError) as info:
        decoder.feed(b"1\n2\n" + b"x" * 20)
    assert info.value.values == [1, 2]
    assert info.value.lineno == 3


def test_close_flags_a_trailing_partial_line():
    decoder = NDJSONDecoder()
    assert decoder.feed(b'1\n{"a":') == [1]
    assert decoder.pending
    with pytest.raises(NDJSONError) as info:
        decoder.close()
    assert info.value.truncated and info.value.lineno == 2 and info.value.excerpt == '{"a":'
    assert decoder.truncated


def test_close_can_accept_an_unterminated_final_line():
    decoder = NDJSONDecoder()
    assert decoder.feed(b'1\n{"a":2}') == [1]
    assert decoder.close(accept_unterminated=True) == [{"a": 2}]

    decoder = NDJSONDecoder()
    decoder.feed(b'{"a":')
    with pytest.raises(NDJSONError) as info:
        decoder.close(accept_unterminated=True)
    assert info.value.truncated


def test_close_without_trailing_data_and_with_trailing_whitespace():
    decoder = NDJSONDecoder()
    decoder.feed(b"1\n  ")
    assert decoder.close() == []
    assert not decoder.truncated
    with pytest.raises(NDJSONError):
        decoder.feed(b"2\n")


def test_large_line_in_small_chunks():
    payload = json.dumps({"text": "a" * (4 * 1024 * 1024)}).encode() + b"\n"
    decoder = NDJSONDecoder()
    values = []
    for i in range(0, len(payload), 1024):
        values += decoder.feed(payload[i : i + 1024])
    assert values == [{"text": "a" * (4 * 1024 * 1024)}]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(json_values, max_size=10),
    st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=10, max_size=10),
    st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
)
def test_property_encode_then_decode_in_any_chunking(values, endings, cuts):
    parts = []
    for value, ending in zip(values, endings):
        line = encode_line(value)
        assert line.count(b"\n") == 1 and line.endswith(b"\n")
        parts.append(line[:-1] + ending)
    stream = b"".join(parts)
    points = sorted({min(c, len(stream)) for c in cuts})
    chunks, prev = [], 0
    for p in points:
        chunks.append(stream[prev:p])
        prev = p
    chunks.append(stream[prev:])
    assert decode(chunks) == values


def test_encode_line_is_compact_utf8_and_one_line():
    line = encode_line({"a": "caf\u00e9\nnext", "b": [1, 2]})
    assert line == '{"a":"caf\u00e9\\nnext","b":[1,2]}\n'.encode()
    line = encode_line({"sep": "a\u2028b\u2029c\x85d\r"})
    assert line == b'{"sep":"a\\u2028b\\u2029c\\u0085d\\r"}\n'
    assert len(line.decode().splitlines()) == 1
    assert json.loads(line) == {"sep": "a\u2028b\u2029c\x85d\r"}


def test_encode_line_lone_surrogate_falls_back_to_ascii_escapes():
    line = encode_line({"s": "\ud800x\u00e9"})
    assert line == b'{"s":"\\ud800x\\u00e9"}\n'
    assert json.loads(line) == {"s": "\ud800x\u00e9"}


def test_encode_line_rejects_nan():
    with pytest.raises(ValueError):
        encode_line({"x": float("nan")})
