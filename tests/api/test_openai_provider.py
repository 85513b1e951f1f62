"""The OpenAI-compatible provider against the fake server's /chat/completions: the agent loop must not be
able to tell it from the Anthropic provider."""

from __future__ import annotations

import json

import pytest

from claw.api.types import MessageDone, RetryScheduled, TextDelta, ToolUseStarted
from claw.errors import ProviderError
from tests.api.helpers import collect, request, run
from tests.fakes.model_server import error, openai_chunks, reply, tool_use

TOOLS = [
    {"name": "read_file", "description": "Read a file", "input_schema": {
        "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}},
    {"name": "bash", "description": "Run a command", "input_schema": {
        "type": "object", "properties": {"command": {"type": "string"}}}},
]


def done(evts):
    assert isinstance(evts[-1], MessageDone)
    return evts[-1].response


def test_streamed_tool_calls_translate_to_anthropic_blocks(server, provider_for):
    server.enqueue(reply("Reading both.", tool_uses=[
        tool_use("read_file", {"path": "src/app.py"}, id="call_1"),
        tool_use("bash", {"command": "git status --short"}, id="call_2"),
    ], json_chunk=4, usage={"input_tokens": 80, "cache_read_input_tokens": 20, "output_tokens": 33}))
    p = provider_for("openai/gpt-5")
    evts = run(collect(p, request("openai/gpt-5", tools=TOOLS, tool_choice={"type": "any"}, system="sys")))
    response = done(evts)
    assert response.content == [
        {"type": "text", "text": "Reading both."},
        {"type": "tool_use", "id": "call_1", "name": "read_file", "input": {"path": "src/app.py"}},
        {"type": "tool_use", "id": "call_2", "name": "bash", "input": {"command": "git status --short"}},
    ]
    assert response.stop_reason == "tool_use"
    assert response.usage.to_dict() == {"input_tokens": 80, "output_tokens": 33,
                                        "cache_creation_input_tokens": 0, "cache_read_input_tokens": 20}
    assert [e.name for e in evts if isinstance(e, ToolUseStarted)] == ["read_file", "bash"]
    # synthesized raw events look like Anthropic ones (stream_event lines)
    raw_types = [e.raw["type"] for e in evts if e.raw is not None]
    assert raw_types[0] == "message_start" and "content_block_delta" in raw_types and raw_types[-1] == "message_stop"

    (rec,) = server.requests
    assert rec.path == "/v1/chat/completions"
    assert rec.header("authorization") == "Bearer test-openai-key"
    body = rec.json
    assert body["model"] == "gpt-5"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 32000  # a non-official base URL gets max_tokens
    assert body["messages"][0] == {"role": "system", "content": "sys"}
    assert body["tool_choice"] == "required"
    assert body["tools"][0] == {"type": "function", "function": {
        "name": "read_file", "description": "Read a file", "parameters": TOOLS[0]["input_schema"]}}


def test_tool_results_round_trip_into_the_next_request(server, provider_for):
    server.enqueue(reply("done"))
    history = [
        {"role": "user", "content": [{"type": "text", "text": "list files"}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": ""},
            {"type": "text", "text": "Running ls."},
            {"type": "tool_use", "id": "call_9", "name": "bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_9", "content": [{"type": "text", "text": "a.py\nb.py"}]},
            {"type": "text", "text": "now summarise"}]},
    ]
    from claw.api.types import ModelRequest

    p = provider_for("local/qwen3-coder")
    run(collect(p, ModelRequest(model="local/qwen3-coder", messages=history, tools=TOOLS)))
    msgs = server.requests[0].json["messages"]
    assert msgs == [
        {"role": "user", "content": "list files"},
        {"role": "assistant", "content": "Running ls.", "tool_calls": [
            {"id": "call_9", "type": "function", "function": {"name": "bash", "arguments": '{"command": "ls"}'}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": "a.py\nb.py"},
        {"role": "user", "content": "now summarise"},
    ]


def test_local_server_needs_no_key(server, provider_for):
    server.enqueue(reply("local answer"))
    p = provider_for("local/llama3.3", drop=("OPENAI_API_KEY",))
    assert done(run(collect(p, request("local/llama3.3")))).text == "local answer"
    rec = server.requests[0]
    assert rec.header("authorization") is None
    assert rec.json["model"] == "llama3.3"


def test_ollama_prefix_uses_ollama_host(server, provider_for):
    server.enqueue(reply("from ollama"))
    p = provider_for("ollama/qwen2.5-coder:7b", drop=("OPENAI_API_KEY", "OPENAI_BASE_URL"))
    assert done(run(collect(p, request("ollama/qwen2.5-coder:7b")))).text == "from ollama"
    rec = server.requests[0]
    assert rec.path == "/v1/chat/completions" and rec.json["model"] == "qwen2.5-coder:7b"
    assert rec.header("authorization") is None


def test_raw_chunks_reasoning_parallel_calls_and_stop_finish_reason(server, provider_for):
    def ch(delta, finish=None):
        return {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    server.enqueue(openai_chunks([
        ch({"role": "assistant", "reasoning_content": "think "}),
        ch({"reasoning_content": "more"}),
        ch({"content": "Hi"}),
        ch({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "read_file", "arguments": '{"pa'}},
                           {"index": 1, "id": "b", "function": {"name": "bash", "arguments": ""}}]}),
        ch({"tool_calls": [{"index": 1, "function": {"arguments": '{"command":"pwd"}'}}]}),
        ch({"tool_calls": [{"index": 0, "function": {"arguments": 'th":"x"}'}}]}),
        ch({}, "stop"),  # some servers say "stop" after tool calls
    ]))
    response = done(run(collect(provider_for("openai/gpt-4o"), request("openai/gpt-4o"))))
    assert response.content[0] == {"type": "thinking", "thinking": "think more", "signature": ""}
    assert response.content[1] == {"type": "text", "text": "Hi"}
    assert [(b["id"], b["input"]) for b in response.tool_uses] == [("a", {"path": "x"}), ("b", {"command": "pwd"})]
    assert response.stop_reason == "tool_use"


def test_length_finish_reason_and_no_usage(server, provider_for):
    server.enqueue(openai_chunks([
        {"id": "c", "choices": [{"index": 0, "delta": {"content": "cut o"}, "finish_reason": None}]},
        {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
    ], done=False))
    response = done(run(collect(provider_for("openai/gpt-4o"), request("openai/gpt-4o"))))
    assert response.text == "cut o" and response.stop_reason == "max_tokens"


def test_rate_limit_is_retried_and_context_errors_are_classified(server, provider_for):
    server.enqueue(error(429, "rate_limit_exceeded", "Rate limit reached", headers={"retry-after": "0"}),
                   reply("ok after 429"))
    evts = run(collect(provider_for("openai/gpt-4.1"), request("openai/gpt-4.1")))
    assert sum(isinstance(e, RetryScheduled) for e in evts) == 1 and done(evts).text == "ok after 429"

    server.enqueue(error(400, "invalid_request_error",
                         "This model's maximum context length is 128000 tokens. However, your messages "
                         "resulted in 130000 tokens.", code="context_length_exceeded"))
    with pytest.raises(ProviderError) as info:
        run(collect(provider_for("openai/gpt-4o"), request("openai/gpt-4o")))
    assert info.value.failure_class == "context_window" and "/compact" in info.value.hint


def test_error_chunk_mid_stream_is_classified(server, provider_for):
    server.enqueue(openai_chunks([{"error": {"message": "server overloaded", "type": "overloaded_error"}}],
                                 done=False),
                   reply("second try"))
    evts = run(collect(provider_for("openai/gpt-4o"), request("openai/gpt-4o")))
    (retry,) = [e for e in evts if isinstance(e, RetryScheduled)]
    assert retry.failure_class == "provider_overloaded"
    assert done(evts).text == "second try"


def test_empty_stream_falls_back_to_a_non_streamed_completion(server, provider_for):
    server.enqueue(openai_chunks([], done=True), reply("whole answer", tool_uses=[tool_use("bash", {"command": "ls"})]))
    evts = run(collect(provider_for("openai/gpt-4o"), request("openai/gpt-4o")))
    response = done(evts)
    assert response.text == "whole answer" and response.tool_uses[0]["input"] == {"command": "ls"}
    assert [r.json.get("stream") for r in server.requests] == [True, None]
    assert any(isinstance(e, TextDelta) for e in evts)


def test_official_endpoint_needs_a_key_and_uses_max_completion_tokens(provider_for):
    with pytest.raises(ProviderError) as info:
        provider_for("openai/gpt-5", drop=("OPENAI_API_KEY", "OPENAI_BASE_URL"))
    assert info.value.kind == "missing_credentials" and "OPENAI_API_KEY" in info.value.hint
    p = provider_for("openai/gpt-5", drop=("OPENAI_BASE_URL",))
    body = p.build_body(request("openai/gpt-5"), max_tokens=100, stream=True)
    assert body["max_completion_tokens"] == 100 and "max_tokens" not in body
    assert json.loads(json.dumps(body))  # serialisable
