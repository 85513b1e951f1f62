"""Tests for claw.proto.sse: the spec's rules, every chunking, property tests against a literal
reference implementation of the WHATWG algorithm, limits and end-of-stream behaviour."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claw.errors import ClawError, NetworkError
from claw.proto.sse import SSEDecoder, SSEError, SSEEvent

# ---------------------------------------------------------------------------------------------
# A deliberately literal reading of the spec ("event stream interpretation"), used as the oracle.


def reference(stream: bytes) -> list[SSEEvent]:
    text = stream.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = re.split("\r\n|\r|\n", text)[:-1]  # the last piece has no line end: never processed
    events = []
    data, event_type, id_buffer, retry = "", "", None, None
    for line in lines:
        if line == "":
            if data == "":
                event_type, retry = "", None
                continue
            if data.endswith("\n"):
                data = data[:-1]
            events.append(SSEEvent(event_type or "message", data, id_buffer, retry))
            data, event_type, retry = "", "", None
            continue
        if line.startswith(":"):
            continue
        if ":" in line:
            field, value = line.split(":", 1)
            if value.startswith(" "):
                value = value[1:]
        else:
            field, value = line, ""
        if field == "event":
            event_type = value
        elif field == "data":
            data += value + "\n"
        elif field == "id":
            if "\0" not in value:
                id_buffer = value
        elif field == "retry":
            if value and all(c in "0123456789" for c in value):
                retry = int(value)
    return events


def decode(chunks, **kwargs) -> list[SSEEvent]:
    decoder = SSEDecoder(**kwargs)
    events = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.close()
    return events


def all_splits(stream: bytes):
    """The stream whole, byte at a time, and cut in two and in three at every offset."""
    yield [stream]
    yield [stream[i : i + 1] for i in range(len(stream))]
    for i in range(len(stream) + 1):
        yield [stream[:i], stream[i:]]
    step = max(1, len(stream) // 12)
    for i in range(0, len(stream) + 1, step):
        for j in range(i, len(stream) + 1, step):
            yield [stream[:i], stream[i:j], stream[j:]]


def check_every_split(stream: bytes, expected: list[SSEEvent]) -> None:
    assert reference(stream) == expected, "the oracle disagrees with the test's expectation"
    for chunks in all_splits(stream):
        assert decode(chunks) == expected, chunks


# ---------------------------------------------------------------------------------------------
# The spec's own examples and edge cases.


def test_spec_example_multiline_data():
    check_every_split(
        b"data: YHOO\ndata: +2\ndata: 10\n\n", [SSEEvent("message", "YHOO\n+2\n10", None, None)]
    )


def test_spec_example_ids_and_comment():
    stream = (
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
    )
    check_every_split(
        stream,
        [
            SSEEvent("message", "first event", "1", None),
            SSEEvent("message", "second event", "", None),
            SSEEvent("message", " third event", "", None),
        ],
    )


def test_spec_example_fields_without_colon_and_unterminated_end():
    check_every_split(
        b"data\n\ndata\ndata\n\ndata:", [SSEEvent("message", ""), SSEEvent("message", "\n")]
    )


def test_spec_example_one_space_stripped():
    check_every_split(b"data:test\n\ndata: test\n\n", [SSEEvent(data="test"), SSEEvent(data="test")])


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_every_line_ending(eol):
    stream = eol.join([b"event: add", b"data: 73857293", b"", b"event: remove", b"data: 2153", b"", b""])
    check_every_split(stream, [SSEEvent("add", "73857293"), SSEEvent("remove", "2153")])


def test_mixed_line_endings():
    stream = b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r"
    check_every_split(stream, [SSEEvent(data="a\nb\nc"), SSEEvent(data="d")])


def test_crlf_split_across_feeds_is_one_line_end():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r") == []
    # The "\n" completes the "\r\n" of the first line; it is not a blank line.
    assert decoder.feed(b"\n") == []
    assert decoder.pending
    assert decoder.feed(b"\r\n") == [SSEEvent(data="x")]


def test_cr_at_chunk_end_then_cr_is_a_blank_line():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r") == []
    assert decoder.feed(b"") == []  # an empty feed keeps the pending "\r\n" pairing
    assert decoder.feed(b"\r") == [SSEEvent(data="x")]


def test_bom_stripped_once_at_stream_start_only():
    check_every_split(b"\xef\xbb\xbfdata: a\n\n", [SSEEvent(data="a")])
    # A second BOM is part of the field name, which is then unknown and ignored.
    check_every_split(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n", [SSEEvent(data="b")])
    # A BOM later in the stream is data like any other character.
    check_every_split(b"data: a\n\ndata: \xef\xbb\xbfb\n\n", [SSEEvent(data="a"), SSEEvent(data="\ufeffb")])


def test_comments_are_counted_and_not_events():
    decoder = SSEDecoder()
    assert decoder.feed(b": keep-alive\n\n:\n: another\ndata: x\n\n") == [SSEEvent(data="x")]
    assert decoder.comments == 3
    assert decoder.feed(b":ping\r\n") == []
    assert decoder.comments == 4
    assert not decoder.pending


def test_event_type_defaults_and_resets():
    stream = b"event: custom\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\nevent: lost\n\ndata: 4\n\n"
    check_every_split(
        stream,
        [SSEEvent("custom", "1"), SSEEvent("message", "2"), SSEEvent("message", "3"), SSEEvent("message", "4")],
    )


def test_event_without_data_is_not_dispatched():
    check_every_split(b"event: a\nid: 7\nretry: 5\n\ndata: x\n\n", [SSEEvent("message", "x", "7", None)])


def test_id_persists_resets_and_ignores_nul():
    stream = b"id: 1\ndata: a\n\ndata: b\n\nid: 2\x00x\ndata: c\n\nid\ndata: d\n\nid: 3\ndata: e\n\n"
    check_every_split(
        stream,
        [
            SSEEvent(data="a", id="1"),
            SSEEvent(data="b", id="1"),
            SSEEvent(data="c", id="1"),
            SSEEvent(data="d", id=""),
            SSEEvent(data="e", id="3"),
        ],
    )


def test_last_event_id_is_updated_at_blank_lines_only():
    decoder = SSEDecoder()
    decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n")
    assert decoder.last_event_id == "1"  # the event with id 2 was never completed
    decoder.close()
    assert decoder.truncated
    assert decoder.last_event_id == "1"


def test_retry_rules():
    stream = b"retry: 1000\ndata: a\n\nretry: 12a\ndata: b\n\nretry:\ndata: c\n\nretry: -5\nretry:  7\ndata: d\n\n"
    expected = [SSEEvent(data="a", retry=1000), SSEEvent(data="b"), SSEEvent(data="c"), SSEEvent(data="d")]
    check_every_split(stream, expected)
    decoder = SSEDecoder()
    decoder.feed(stream)
    assert decoder.retry == 1000
    decoder.feed(b"retry: 250\n\n")  # a retry alone dispatches nothing but is remembered
    assert decoder.retry == 250


def test_non_ascii_digits_in_retry_are_ignored():
    check_every_split("retry: \u0663\ndata: x\n\n".encode(), [SSEEvent(data="x")])


def test_unknown_fields_and_colon_in_value():
    check_every_split(b"foo: bar\ndata: a:b: c\nbaz\n\n", [SSEEvent(data="a:b: c")])


def test_utf8_split_across_chunks_and_invalid_bytes():
    stream = "data: caf\u00e9 \u2713 \U0001f600\n\n".encode() + b"data: \xff\xfe ok\n\n"
    check_every_split(stream, [SSEEvent(data="caf\u00e9 \u2713 \U0001f600"), SSEEvent(data="\ufffd\ufffd ok")])


def test_truncated_multibyte_sequence_before_line_end():
    stream = b"data: a\xe2\x82\ndata: b\n\n"
    check_every_split(stream, [SSEEvent(data="a\ufffd\nb")])


def test_accepts_bytearray_and_memoryview():
    decoder = SSEDecoder()
    assert decoder.feed(bytearray(b"data: a\n\n")) == [SSEEvent(data="a")]
    assert decoder.feed(memoryview(b"data: b\n\n")) == [SSEEvent(data="b")]


# ---------------------------------------------------------------------------------------------
# The column-wise fast path: regular streams of several shapes, and shapes it must refuse.

REGULAR_SHAPES = [
    [b"event: content_block_delta", b"data: {\"a\":1}"],
    [b"data: {\"a\":1}"],
    [b"id: 41", b"event: x", b"data: y"],
    [b"event: x", b"id: 41", b"data: y"],
    [b"data: y", b"id: 9"],
    [b"event: ", b"data: "],
    [b"id: ", b"data: z"],
]


@pytest.mark.parametrize("shape", REGULAR_SHAPES)
def test_regular_streams_match_the_reference(shape):
    block = b"\n".join(shape) + b"\n\n"
    stream = block * 7
    check_every_split(stream, reference(stream))
    assert len(reference(stream)) == 7


def test_fast_path_is_taken_for_regular_streams(monkeypatch):
    taken = []
    original = SSEDecoder._columns

    def spy(self, lines):
        result = original(self, lines)
        taken.append(result is not None)
        return result

    monkeypatch.setattr(SSEDecoder, "_columns", spy)
    decode([b"event: a\ndata: 1\n\n" * 50])
    assert taken == [True]


@pytest.mark.parametrize(
    "stream",
    [
        b"event: a\ndata: 1\n\nevent: b\ndata: 2\ndata: 3\n\nevent: c\ndata: 4\n\n",  # a block longer
        b"event: a\ndata: 1\n\n: ping\ndata: 2\n\nevent: c\ndata: 4\n\n",  # a comment
        b"event: a\ndata: 1\n\nevent: b\n\nevent: c\ndata: 4\n\n",  # a block without data
        b"event: a\ndata: 1\n\nevent:b\ndata: 2\n\n",  # no space after the colon
        b"event: a\ndata: 1\n\ndata: 2\nevent: b\n\n",  # another order
        b"data: 1\nid: 1\n\ndata: 2\nid: 2\x00\n\ndata: 3\nid: 3\n\n",  # NUL in an id
        b"event: a\ndata: 1\n\nevent: a\ndata: 1\n\n\nevent: a\ndata: 1\n\n",  # an extra blank
        b"data: 1\ndata: 2\n\ndata: 3\ndata: 4\n\n",  # a repeated field
        b"id: 1\nevent: a\ndata: 1\nretry: 5\n\n" * 3,  # four-line blocks
        b"data: 1\n\ndata: 2\n\nretry: 9\n\ndata: 3\n\n",
    ],
)
def test_irregular_streams_match_the_reference(stream):
    check_every_split(stream, reference(stream))


def test_event_name_cache_handles_many_names():
    stream = b"".join(b"event: e%d\ndata: %d\n\n" % (i, i) for i in range(600))
    events = decode([stream[i : i + 1000] for i in range(0, len(stream), 1000)])
    assert events == [SSEEvent("e%d" % i, str(i)) for i in range(600)]


# ---------------------------------------------------------------------------------------------
# Property tests: random event lists, random line endings, random chunkings.

names = st.sampled_from(["message", "content_block_delta", "ping", "error", "x:y", "\u00e9v\u00e9nement"])
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=30
)
retries = st.none() | st.integers(min_value=0, max_value=10**6)


@st.composite
def event_streams(draw):
    """Random events, encoded with random line endings, layouts and comments; returns the stream
    and the events a correct decoder must produce."""
    events = draw(
        st.lists(
            st.tuples(names, st.lists(texts, min_size=1, max_size=4), st.none() | texts, retries),
            max_size=12,
        )
    )
    eol = draw(st.sampled_from(["\n", "\r", "\r\n", "mixed"]))
    parts, expected = [], []
    last_id = None
    if draw(st.booleans()):
        parts.append("\ufeff")

    previous = [""]

    def line(text):
        if eol != "mixed":
            ending = eol
        elif text == "" and previous[0] == "\r":
            ending = "\r"  # "\r" then "\n" would be one CRLF, not a blank line
        else:
            ending = draw(st.sampled_from(["\n", "\r", "\r\n"]))
        previous[0] = ending
        parts.append(text + ending)

    for name, data_lines, id_, retry in events:
        if draw(st.booleans()) and name == "message":
            pass  # the default type: no event line
        else:
            line("event: " + name)
        if id_ is not None and "\0" not in id_:
            line("id: " + id_)
            last_id = id_
        if retry is not None:
            line("retry: %d" % retry)
        for value in data_lines:
            sep = draw(st.sampled_from([": ", ":"])) if not value.startswith(" ") else ": "
            line("data" + sep + value)
        if draw(st.integers(0, 5)) == 0:
            line(": comment")
        line("")
        expected.append(SSEEvent(name, "\n".join(data_lines), last_id, retry))
    return "".join(parts).encode("utf-8"), expected


def chunkings(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(stream)) for c in cuts})
    chunks, prev = [], 0
    for p in points:
        chunks.append(stream[prev:p])
        prev = p
    chunks.append(stream[prev:])
    return chunks


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_streams(), st.lists(st.integers(min_value=0, max_value=4000), max_size=20))
def test_property_random_events_any_chunking(case, cuts):
    stream, expected = case
    assert reference(stream) == expected
    assert decode(chunkings(stream, cuts)) == expected
    assert decode([stream[i : i + 1] for i in range(len(stream))]) == expected


fragments = st.sampled_from(
    [
        b"data: ", b"data:", b"data", b"event: ", b"event:", b"id: ", b"id:", b"retry: ", b"retry:",
        b":", b": c", b"\n", b"\n", b"\n", b"\r", b"\r\n", b"x", b"12", b" ", b"\x00", b"\xc3\xa9",
        b"\xc3", b"\xff", b"\xef\xbb\xbf", b"ping", b"{\"a\":1}", b"event: a\ndata: 1\n\n",
        b"data: z\n\n", b"id: 3\nevent: b\ndata: 2\n\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(fragments, max_size=40), st.lists(st.integers(min_value=0, max_value=400), max_size=10))
def test_property_arbitrary_bytes_match_the_reference(parts, cuts):
    stream = b"".join(parts)
    assert decode(chunkings(stream, cuts)) == reference(stream)


# ---------------------------------------------------------------------------------------------
# End of stream, limits, errors, scale.


def test_close_reports_dropped_trailing_data():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: complete\n\ndata: partial\n") == [SSEEvent(data="complete")]
    assert decoder.pending
    assert decoder.close() == []
    assert decoder.truncated and decoder.closed and not decoder.pending

    decoder = SSEDecoder()
    decoder.feed(b"data: complete\n\n: comment without newline")
    assert decoder.pending
    decoder.close()
    assert decoder.truncated

    decoder = SSEDecoder()
    decoder.feed(b"data: complete\n\n")
    assert not decoder.pending
    decoder.close()
    assert not decoder.truncated
    assert decoder.close() == []  # closing twice is harmless


def test_feed_after_close_raises():
    decoder = SSEDecoder()
    decoder.close()
    with pytest.raises(SSEError):
        decoder.feed(b"data: x\n\n")


def test_error_type_is_a_protocol_network_error_and_a_value_error():
    decoder = SSEDecoder(max_line_size=10)
    with pytest.raises(SSEError) as info:
        decoder.feed(b"data: 0123456789")
    error = info.value
    assert isinstance(error, NetworkError) and isinstance(error, ClawError)
    assert isinstance(error, ValueError)
    assert error.kind == "protocol" and error.failure_class == "provider_transport"
    assert error.hint


def test_line_limit_counts_bytes_kept_across_feeds():
    decoder = SSEDecoder(max_line_size=100)
    for _ in range(10):
        decoder.feed(b"x" * 10)
    with pytest.raises(SSEError):
        decoder.feed(b"x")


@pytest.mark.parametrize(
    "chunks",
    [
        [b"data: " + b"x" * 200 + b"\n\n"],  # one feed, fast path
        [b"event: a\ndata: " + b"x" * 200 + b"\n\n"],  # one feed, fast path with names
        [b": c\ndata: " + b"x" * 200 + b"\n\n"],  # one feed, line-by-line path
        [b"data: " + b"x" * 60 + b"\n"] * 5,  # data accumulated over feeds
        [b"data: " + b"x" * 60 + b"\n"] * 2 + [b"data: " + b"x" * 90],  # pending data + partial line
    ],
)
def test_event_limit(chunks):
    decoder = SSEDecoder(max_event_size=150)
    with pytest.raises(SSEError, match="larger than 150"):
        for chunk in chunks:
            decoder.feed(chunk)


def test_events_at_the_limit_pass():
    decoder = SSEDecoder(max_event_size=100, max_line_size=200)
    assert decoder.feed(b"data: " + b"x" * 100 + b"\n\n") == [SSEEvent(data="x" * 100)]


def test_limits_must_be_positive():
    with pytest.raises(ValueError):
        SSEDecoder(max_line_size=0)


def test_large_field_in_small_chunks_keeps_chunks_unjoined_until_the_line_ends():
    """An 8 MiB data field fed in 1 KiB chunks: the unfinished line is kept as a list of chunks and
    joined once (a decoder that re-joined or re-scanned its buffer per feed would do quadratic work)."""
    size = 8 * 1024 * 1024
    payload = b"data: " + b"a" * size + b"\n\n"
    decoder = SSEDecoder()
    events = []
    fed = 0
    for i in range(0, len(payload) - 2, 1024):
        events += decoder.feed(payload[i : min(i + 1024, len(payload) - 2)])
        fed += 1
        assert len(decoder._tail) == fed  # not joined yet
    events += decoder.feed(b"\n\n")
    assert len(events) == 1 and len(events[0].data) == size
    assert decoder._tail == []


def test_many_events_in_many_chunkings_agree():
    stream = b"".join(
        b"event: content_block_delta\ndata: {\"i\":%d,\"t\":\"caf\xc3\xa9 %d\"}\n\n" % (i, i) for i in range(2000)
    )
    expected = reference(stream)
    assert len(expected) == 2000
    for size in (1, 7, 100, 1000, 4096, 16384, len(stream)):
        assert decode([stream[i : i + size] for i in range(0, len(stream), size)]) == expected


def test_comment_and_retry_lines_take_effect_when_they_arrive():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.pending
    assert decoder.feed(b": keep-alive\n") == []
    assert decoder.comments == 1  # counted now, not when the event completes
    assert decoder.feed(b"retry: 500\n") == []
    assert decoder.retry == 500
    assert decoder.feed(b"data: b\n\n") == [SSEEvent(data="a\nb", retry=500)]
    assert not decoder.pending


def test_unfinished_event_held_at_close_updates_nothing_visible():
    decoder = SSEDecoder()
    decoder.feed(b"id: 1\ndata: a\n\nid: 9\ndata: x\n")
    assert decoder.last_event_id == "1"
    assert decoder.close() == []
    assert decoder.truncated
    assert decoder.last_event_id == "1"


def test_event_of_many_lines_over_many_feeds():
    lines = 100_000
    stream = b"event: big\n" + b"data: x\n" * lines + b"\n"
    decoder = SSEDecoder()
    events = []
    for i in range(0, len(stream), 1024):
        events += decoder.feed(stream[i : i + 1024])
    assert len(events) == 1
    assert events[0].event == "big" and events[0].data == "\n".join(["x"] * lines)


def test_event_limit_applies_to_lines_held_across_feeds():
    decoder = SSEDecoder(max_event_size=1000)
    with pytest.raises(SSEError, match="larger than 1000"):
        for _ in range(200):
            decoder.feed(b"data: 0123456789\n")
