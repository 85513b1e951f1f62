"""Pure translation between Anthropic shapes and OpenAI chat completions."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from claw.api.accumulator import MessageAccumulator
from claw.api.openai_translate import ChatStreamTranslator, chat_body, completion_events, translate_messages
from claw.api.types import ModelRequest


def fold(events):
    acc = MessageAccumulator()
    for e in events:
        acc.feed(e)
    return acc.finish()


def test_request_translation():
    req = ModelRequest(
        model="x",
        system=[{"type": "text", "text": "You are claw."}, {"type": "text", "text": "Be brief."}],
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "see "},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}}]}],
        tools=[{"name": "bash", "input_schema": {"type": "object"}}],
        tool_choice={"type": "tool", "name": "bash", "disable_parallel_tool_use": True},
        temperature=0.0, stop_sequences=("END",), metadata={"user_id": "u"},
    )
    body = chat_body(req, model="gpt-4o", max_tokens=77, stream=False)
    assert body["messages"][0] == {"role": "system", "content": "You are claw.\nBe brief."}
    assert body["messages"][1]["content"] == [
        {"type": "text", "text": "see "},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}]
    assert body["tools"] == [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "bash"}}
    assert body["parallel_tool_calls"] is False
    assert body["max_tokens"] == 77 and body["temperature"] == 0.0 and body["stop"] == ["END"]
    assert body["user"] == "u" and "stream" not in body


def test_error_tool_results_and_string_content():
    msgs = translate_messages(None, [
        {"role": "user", "content": "plain"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c", "name": "bash", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c", "content": "boom", "is_error": True}]},
    ])
    assert msgs == [
        {"role": "user", "content": "plain"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "Error: boom"},
    ]


def test_completion_with_invalid_arguments_becomes_a_tool_error():
    completion = {"id": "x", "model": "m", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "bash", "arguments": "{not json"}}]}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2}}
    r = fold(completion_events(completion))
    assert r.tool_uses[0]["input"] == {} and "c1" in r.invalid_tool_inputs
    assert r.stop_reason == "tool_use" and r.usage.input_tokens == 10


def test_tool_call_arguments_before_name_are_kept():
    tr = ChatStreamTranslator("m")
    evts = tr.feed({"id": "a", "choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "function": {"arguments": '{"x": 1}'}}]}}]})
    evts += tr.feed({"id": "a", "choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "late", "function": {"name": "bash"}}]}, "finish_reason": "tool_calls"}]})
    evts += tr.finish()
    r = fold(evts)
    assert r.tool_uses == [{"type": "tool_use", "id": "late", "name": "bash", "input": {"x": 1}}]


@settings(max_examples=80, deadline=None)
@given(text=st.text(max_size=80), args=st.dictionaries(st.text(max_size=5), st.integers(), max_size=4),
       cuts=st.lists(st.integers(1, 200), max_size=8), with_tool=st.booleans())
def test_any_chunking_of_text_and_arguments_folds_to_the_same_message(text, args, cuts, with_tool):
    def pieces(s):
        points = sorted({c % (len(s) + 1) for c in cuts})
        return [s[a:b] for a, b in zip([0] + points, points + [len(s)])]

    chunks = [{"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
    for p in pieces(text):
        chunks.append({"id": "c", "choices": [{"index": 0, "delta": {"content": p}}]})
    if with_tool:
        chunks.append({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "t", "type": "function", "function": {"name": "f", "arguments": ""}}]}}]})
        for p in pieces(json.dumps(args)):
            chunks.append({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "function": {"arguments": p}}]}}]})
    chunks.append({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls" if with_tool else "stop"}]})
    chunks.append({"id": "c", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3,
                                                      "prompt_tokens_details": {"cached_tokens": 2}}})
    tr = ChatStreamTranslator()
    evts = [e for c in chunks for e in tr.feed(c)] + tr.finish()
    r = fold(evts)
    expected = ([{"type": "text", "text": text}] if text else []) + (
        [{"type": "tool_use", "id": "t", "name": "f", "input": args}] if with_tool else [])
    assert r.content == expected
    assert r.stop_reason == ("tool_use" if with_tool else "end_turn")
    assert r.usage.to_dict() == {"input_tokens": 5, "output_tokens": 3, "cache_creation_input_tokens": 0,
                                 "cache_read_input_tokens": 2}
