"""The stream accumulator: a pure fold over Anthropic events (unit and property tests)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claw.api.accumulator import EmptyStream, MessageAccumulator, events_from_message
from claw.api.types import BlockStarted, BlockStopped, MessageStarted, RawEvent, TextDelta, ToolUseStarted
from claw.errors import NetworkError, ProviderError
from claw.proto.sse import SSEDecoder
from tests.fakes.model_server import sse_bytes


def start(usage=None, mid="msg_1"):
    return {"type": "message_start", "message": {"id": mid, "type": "message", "role": "assistant",
                                                  "model": "claude-x", "content": [], "stop_reason": None,
                                                  "usage": usage or {"input_tokens": 5, "output_tokens": 1}}}


def block_start(i, block):
    return {"type": "content_block_start", "index": i, "content_block": block}


def delta(i, d):
    return {"type": "content_block_delta", "index": i, "delta": d}


def stop(i):
    return {"type": "content_block_stop", "index": i}


def fold(evts):
    acc = MessageAccumulator(request_id="req_x")
    out = []
    for e in evts:
        out.extend(acc.feed(e))
    return acc, out


def test_placeholder_braces_never_corrupt_inputs():
    evts = [
        start(),
        # a real empty input: no deltas at all
        block_start(0, {"type": "tool_use", "id": "a", "name": "todo_write", "input": {}}),
        stop(0),
        # deltas that rebuild the object: the {} placeholder must not be prefixed
        block_start(1, {"type": "tool_use", "id": "b", "name": "bash", "input": {}}),
        delta(1, {"type": "input_json_delta", "partial_json": ""}),
        delta(1, {"type": "input_json_delta", "partial_json": '{"command"'}),
        delta(1, {"type": "input_json_delta", "partial_json": ': "ls"}'}),
        stop(1),
        # an empty-object delta
        block_start(2, {"type": "tool_use", "id": "c", "name": "glob_search", "input": {}}),
        delta(2, {"type": "input_json_delta", "partial_json": "{}"}),
        stop(2),
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 3}},
        {"type": "message_stop"},
    ]
    acc, out = fold(evts)
    r = acc.finish()
    assert [b["input"] for b in r.content] == [{}, {"command": "ls"}, {}]
    assert r.invalid_tool_inputs == {}
    assert [type(e) for e in out].count(ToolUseStarted) == 3


def test_start_input_kept_when_no_deltas():
    acc, _ = fold([start(), block_start(0, {"type": "server_tool_use", "id": "s", "name": "web_search",
                                            "input": {"query": "x"}}), stop(0), {"type": "message_stop"}])
    assert acc.finish().content[0]["input"] == {"query": "x"}


def test_invalid_and_non_object_tool_json_are_reported_not_raised():
    acc, _ = fold([
        start(),
        block_start(0, {"type": "tool_use", "id": "t1", "name": "bash", "input": {}}),
        delta(0, {"type": "input_json_delta", "partial_json": '{"command": '}),
        stop(0),
        block_start(1, {"type": "tool_use", "id": "t2", "name": "bash", "input": {}}),
        delta(1, {"type": "input_json_delta", "partial_json": "[1, 2]"}),
        stop(1),
        {"type": "message_stop"},
    ])
    r = acc.finish()
    assert [b["input"] for b in r.content] == [{}, {}]
    assert "not valid JSON" in r.invalid_tool_inputs["t1"]
    assert "not an object" in r.invalid_tool_inputs["t2"]


def test_signature_citations_and_redacted_thinking():
    acc, out = fold([
        start(),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "a"}),
        delta(0, {"type": "thinking_delta", "thinking": "b"}),
        delta(0, {"type": "signature_delta", "signature": "SIG"}),
        stop(0),
        block_start(1, {"type": "redacted_thinking", "data": "opaque"}),
        stop(1),
        block_start(2, {"type": "text", "text": "", "citations": None}),
        delta(2, {"type": "text_delta", "text": "cited"}),
        delta(2, {"type": "citations_delta", "citation": {"type": "char_location", "cited_text": "x"}}),
        stop(2),
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    ])
    r = acc.finish()
    assert r.content[0] == {"type": "thinking", "thinking": "ab", "signature": "SIG"}
    assert r.content[1] == {"type": "redacted_thinking", "data": "opaque"}
    assert r.content[2] == {"type": "text", "text": "cited",
                            "citations": [{"type": "char_location", "cited_text": "x"}]}
    assert any(isinstance(e, BlockStarted) and e.block_type == "redacted_thinking" for e in out)


def test_ping_ignored_unknown_events_pass_through():
    acc, out = fold([start(), {"type": "ping"}, {"type": "future_event", "x": 1},
                     block_start(0, {"type": "text", "text": ""}), delta(0, {"type": "text_delta", "text": "hi"}),
                     stop(0), {"type": "message_stop"}])
    assert [type(e) for e in out] == [MessageStarted, RawEvent, BlockStarted, TextDelta, BlockStopped]
    assert out[1].type == "future_event"
    assert acc.finish().text == "hi"


def test_usage_merge_is_cumulative_per_field():
    acc, _ = fold([
        start({"input_tokens": 10, "output_tokens": 1, "cache_creation_input_tokens": 7,
               "cache_read_input_tokens": 100}),
        block_start(0, {"type": "text", "text": ""}), stop(0),
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
         "usage": {"output_tokens": 40, "input_tokens": 12, "cache_read_input_tokens": None}},
        {"type": "message_stop"},
    ])
    assert acc.finish().usage.to_dict() == {"input_tokens": 12, "output_tokens": 40,
                                            "cache_creation_input_tokens": 7, "cache_read_input_tokens": 100}


def test_empty_truncated_and_error_streams():
    with pytest.raises(EmptyStream):
        MessageAccumulator().finish()
    acc, _ = fold([start()])
    with pytest.raises(EmptyStream):
        acc.finish()
    acc, _ = fold([start(), block_start(0, {"type": "text", "text": ""}), delta(0, {"type": "text_delta", "text": "x"})])
    with pytest.raises(NetworkError) as info:
        acc.finish()
    assert info.value.kind == "protocol" and info.value.retryable
    with pytest.raises(ProviderError) as info:
        fold([start(), {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}])
    assert info.value.failure_class == "provider_overloaded" and info.value.retryable
    assert info.value.request_id == "req_x"


def test_an_empty_but_finished_message_is_a_valid_answer():
    acc, _ = fold([start(), {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}},
                   {"type": "message_stop"}])
    r = acc.finish()
    assert r.content == [] and r.stop_reason == "end_turn"


# -- property tests -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**9, 10**9) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)

blocks = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, st.text(max_size=60)),
    st.builds(lambda t, s: {"type": "thinking", "thinking": t, "signature": s},
              st.text(max_size=40), st.text(alphabet="abcdef0123456789", min_size=1, max_size=20)),
    st.builds(lambda i, n, inp: {"type": "tool_use", "id": "toolu_" + i, "name": n, "input": inp},
              st.text(alphabet="abc123", min_size=1, max_size=8), st.sampled_from(["bash", "read_file", "mcp__x__y"]),
              st.dictionaries(st.text(max_size=8), json_values, max_size=5)),
)

usage_dicts = st.fixed_dictionaries({
    "input_tokens": st.integers(0, 10**6), "output_tokens": st.integers(0, 10**5),
    "cache_creation_input_tokens": st.integers(0, 10**5), "cache_read_input_tokens": st.integers(0, 10**6)})


def split_events(message, cuts):
    """Anthropic events for ``message`` with every text/thinking/json payload cut at the drawn points."""
    out = [start(dict(message["usage"], output_tokens=1), mid=message["id"]), {"type": "ping"}]
    for i, block in enumerate(message["content"]):
        t = block["type"]
        if t == "text":
            payload, dtype, key = block["text"], "text_delta", "text"
            out.append(block_start(i, {"type": "text", "text": ""}))
        elif t == "thinking":
            payload, dtype, key = block["thinking"], "thinking_delta", "thinking"
            out.append(block_start(i, {"type": "thinking", "thinking": "", "signature": ""}))
        else:
            payload, dtype, key = json.dumps(block["input"]), "input_json_delta", "partial_json"
            out.append(block_start(i, {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}))
        points = sorted({c % (len(payload) + 1) for c in cuts})
        pieces = [payload[a:b] for a, b in zip([0] + points, points + [len(payload)])]
        for piece in pieces:
            out.append(delta(i, {"type": dtype, key: piece}))
        if t == "thinking":
            out.append(delta(i, {"type": "signature_delta", "signature": block["signature"]}))
        out.append(stop(i))
    out.append({"type": "message_delta", "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": message["usage"]["output_tokens"]}})
    out.append({"type": "message_stop"})
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.lists(blocks, max_size=5), usage=usage_dicts,
       stop_reason=st.sampled_from(["end_turn", "tool_use", "max_tokens", "stop_sequence"]),
       cuts=st.lists(st.integers(0, 10**6), max_size=6),
       byte_cuts=st.lists(st.integers(1, 10**6), max_size=12), crlf=st.booleans())
def test_random_valid_streams_split_arbitrarily_fold_to_the_message(content, usage, stop_reason, cuts,
                                                                    byte_cuts, crlf):
    message = {"id": "msg_p", "content": content, "usage": usage, "stop_reason": stop_reason}
    evts = split_events(message, cuts)
    wire = sse_bytes(evts, crlf=crlf)
    points = sorted({c % (len(wire) + 1) for c in byte_cuts})
    chunks = [wire[a:b] for a, b in zip([0] + points, points + [len(wire)])]

    decoder = SSEDecoder()
    acc = MessageAccumulator()
    texts = []
    for chunk in chunks:
        for sse in decoder.feed(chunk):
            for ev in acc.feed(json.loads(sse.data)):
                if isinstance(ev, TextDelta):
                    texts.append(ev.text)
    decoder.close()
    r = acc.finish()
    assert r.content == content
    assert r.usage.to_dict() == usage
    assert r.stop_reason == stop_reason and r.id == "msg_p"
    assert r.invalid_tool_inputs == {}
    assert "".join(texts) == "".join(b["text"] for b in content if b["type"] == "text")


@settings(max_examples=60, deadline=None)
@given(content=st.lists(blocks, max_size=4), usage=usage_dicts)
def test_events_from_message_replays_to_the_same_message(content, usage):
    message = {"id": "m", "type": "message", "role": "assistant", "model": "x", "content": content,
               "stop_reason": "end_turn", "stop_sequence": None, "usage": usage}
    acc, _ = fold(events_from_message(message))
    r = acc.finish()
    assert r.content == content and r.usage.to_dict() == usage and r.stop_reason == "end_turn"
