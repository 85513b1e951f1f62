"""The Anthropic provider end to end against the scripted fake model server on 127.0.0.1."""

from __future__ import annotations

import email.utils
import time

import pytest

from claw.api.types import (
    MessageDone,
    MessageStarted,
    RetryScheduled,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    ToolUseStarted,
)
from claw.errors import ClawError, NetworkError, ProviderError
from tests.api.helpers import collect, request, run, user
from tests.fakes.model_server import empty, error, events, reply, tool_use


def done(evts) -> MessageDone:
    assert isinstance(evts[-1], MessageDone), evts[-1]
    return evts[-1]


def kinds(evts):
    return [type(e).__name__ for e in evts]


# -- happy paths ------------------------------------------------------------------------------------


def test_text_stream_and_request_shape(server, provider_for):
    server.enqueue(reply("Hello there, how can I help?", text_chunk=5, request_id="req_text_1"))
    p = provider_for("sonnet")
    req = request(system="be brief", temperature=0.2, stop_sequences=("STOP",), metadata={"user_id": "u1"})
    evts = run(collect(p, req))
    response = done(evts).response
    assert response.text == "Hello there, how can I help?"
    assert response.stop_reason == "end_turn"
    assert response.request_id == "req_text_1"
    assert response.content == [{"type": "text", "text": "Hello there, how can I help?"}]
    assert isinstance(evts[0], MessageStarted)
    deltas = [e.text for e in evts if isinstance(e, TextDelta)]
    assert len(deltas) == 6 and "".join(deltas) == response.text
    # every event except the final one carries the raw wire event for stream_event lines
    assert all(e.raw is not None for e in evts[:-1])
    assert done(evts).raw == {"type": "message_stop"}

    (rec,) = server.requests
    assert rec.method == "POST" and rec.path == "/v1/messages"
    assert rec.header("anthropic-version") == "2023-06-01"
    assert rec.header("content-type") == "application/json"
    assert rec.header("x-api-key") == "test-key"
    assert rec.header("user-agent").startswith("claw/")
    assert rec.header("anthropic-beta") is None
    body = rec.json
    assert body["model"] == "claude-sonnet-5-5"
    assert body["stream"] is True
    assert body["max_tokens"] == 32000  # registry default for the model
    # prompt caching (on by default): the system prompt as blocks, breakpoints on it and the newest message
    assert body["system"] == [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]
    assert body["temperature"] == 0.2
    assert body["stop_sequences"] == ["STOP"]
    assert body["metadata"] == {"user_id": "u1"}
    assert body["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}]}]
    assert "tools" not in body and "thinking" not in body


def test_tool_use_input_split_across_many_deltas(server, provider_for):
    args = {"command": "grep -rn 'needle' src/ | head -50", "timeout": 120, "description": "search"}
    server.enqueue(reply("Let me look.", tool_uses=[tool_use("bash", args, id="toolu_1")], json_chunk=3))
    tools = [{"name": "bash", "description": "run", "input_schema": {"type": "object"}}]
    evts = run(collect(provider_for(), request(tools=tools, tool_choice={"type": "auto"})))
    response = done(evts).response
    assert response.stop_reason == "tool_use"
    assert response.tool_uses == [{"type": "tool_use", "id": "toolu_1", "name": "bash", "input": args}]
    assert sum(isinstance(e, ToolInputDelta) for e in evts) > 10
    started = [e for e in evts if isinstance(e, ToolUseStarted)]
    assert [(s.id, s.name, s.index) for s in started] == [("toolu_1", "bash", 1)]
    body = server.requests[0].json
    assert body["tools"] == [dict(tools[0], cache_control={"type": "ephemeral"})]  # the tools' breakpoint
    assert body["tool_choice"] == {"type": "auto"}


def test_two_tool_use_blocks_in_one_message(server, provider_for):
    server.enqueue(reply(tool_uses=[tool_use("read_file", {"path": "a.py"}, id="t1"),
                                    tool_use("read_file", {"path": "b.py", "offset": 10}, id="t2")]))
    response = done(run(collect(provider_for(), request()))).response
    assert [(b["id"], b["input"]) for b in response.tool_uses] == [
        ("t1", {"path": "a.py"}), ("t2", {"path": "b.py", "offset": 10})]
    assert [b["type"] for b in response.content] == ["tool_use", "tool_use"]


def test_thinking_block_with_signature(server, provider_for):
    server.enqueue(reply("42", thinking="Let me think step by step about this.", thinking_chunk=7))
    req = request(thinking={"type": "enabled", "budget_tokens": 2048})
    evts = run(collect(provider_for("opus"), req))
    response = done(evts).response
    thinking = response.content[0]
    assert thinking["type"] == "thinking"
    assert thinking["thinking"] == "Let me think step by step about this."
    assert thinking["signature"].startswith("fakesig1.")
    assert response.content[1] == {"type": "text", "text": "42"}
    assert "".join(e.thinking for e in evts if isinstance(e, ThinkingDelta)) == thinking["thinking"]
    assert server.requests[0].json["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert server.requests[0].json["model"] == "claude-opus-5-5"


def test_usage_combines_message_start_and_message_delta(server, provider_for):
    server.enqueue(events([
        {"type": "message_start", "message": {"id": "msg_u", "type": "message", "role": "assistant",
                                              "model": "m", "content": [], "stop_reason": None,
                                              "usage": {"input_tokens": 120, "output_tokens": 1,
                                                        "cache_creation_input_tokens": 300,
                                                        "cache_read_input_tokens": 4000}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 57}},
        {"type": "message_stop"},
    ]))
    response = done(run(collect(provider_for(), request()))).response
    assert response.usage.to_dict() == {"input_tokens": 120, "output_tokens": 57,
                                        "cache_creation_input_tokens": 300, "cache_read_input_tokens": 4000}


def test_byte_at_a_time_with_crlf_and_keepalive_comments(server, provider_for):
    server.enqueue(reply("slow and steady", tool_uses=[tool_use("glob_search", {"pattern": "**/*.py"})],
                         chunking="bytes", crlf=True, comment=True))
    response = done(run(collect(provider_for(), request()))).response
    assert response.text == "slow and steady"
    assert response.tool_uses[0]["input"] == {"pattern": "**/*.py"}


def test_missing_message_stop_is_accepted(server, provider_for):
    server.enqueue(reply("no stop event here", omit_message_stop=True))
    evts = run(collect(provider_for(), request()))
    response = done(evts).response
    assert response.text == "no stop event here" and response.stop_reason == "end_turn"
    assert done(evts).raw is None
    assert len(server.requests) == 1


def test_complete_content_without_message_delta_infers_the_stop_reason(server, provider_for):
    server.enqueue(events([
        {"type": "message_start", "message": {"id": "m1", "model": "x", "content": [], "usage": {}}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "tool_use", "id": "t9", "name": "todo_write", "input": {}}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "input_json_delta", "partial_json": '{"todos": []}'}},
        {"type": "content_block_stop", "index": 0},
    ]))
    response = done(run(collect(provider_for(), request()))).response
    assert response.stop_reason == "tool_use"
    assert response.tool_uses[0]["input"] == {"todos": []}


def test_empty_stream_is_retried_once_without_streaming(server, provider_for):
    server.enqueue(empty(), reply("answer without streaming"))
    evts = run(collect(provider_for(), request()))
    response = done(evts).response
    assert response.text == "answer without streaming"
    assert [r.json.get("stream") for r in server.requests] == [True, None]
    assert server.requests[1].header("accept") == "application/json"
    # the replayed message looks like a stream to the caller
    assert "TextDelta" in kinds(evts) and "MessageStarted" in kinds(evts)
    assert not any(isinstance(e, RetryScheduled) for e in evts)


def test_empty_stream_then_empty_answer_is_a_classified_failure(server, provider_for):
    server.enqueue(empty(), empty(), empty(), empty())
    with pytest.raises(ProviderError) as info:
        run(collect(provider_for(max_retries=1), request()))
    err = info.value
    assert err.kind == "retries_exhausted" and err.failure_class == "provider_internal"
    assert "empty response" in err.message


def test_invalid_tool_json_becomes_a_tool_error_not_a_crash(server, provider_for):
    server.enqueue(events([
        {"type": "message_start", "message": {"id": "m", "model": "x", "content": [], "usage": {}}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "tool_use", "id": "bad1", "name": "edit_file", "input": {}}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "input_json_delta", "partial_json": '{"path": "a.py", "old_str'}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]))
    response = done(run(collect(provider_for(), request()))).response
    assert response.tool_uses[0]["input"] == {}
    assert "not valid JSON" in response.invalid_tool_inputs["bad1"]
    assert "edit_file" in response.invalid_tool_inputs["bad1"]


def test_base_url_with_path_prefix_and_trailing_slash(server, provider_for):
    server.enqueue(reply("via gateway"))
    p = provider_for(env={"ANTHROPIC_BASE_URL": server.url + "/gateway/anthropic/"})
    assert done(run(collect(p, request()))).response.text == "via gateway"
    assert server.requests[0].path == "/gateway/anthropic/v1/messages"


# -- auth -------------------------------------------------------------------------------------------


def test_both_auth_headers_are_sent(server, provider_for):
    server.enqueue(reply("ok"))
    p = provider_for(env={"ANTHROPIC_AUTH_TOKEN": "bearer-tok"})
    run(collect(p, request()))
    rec = server.requests[0]
    assert rec.header("x-api-key") == "test-key"
    assert rec.header("authorization") == "Bearer bearer-tok"


def test_auth_token_alone_sends_only_bearer(server, provider_for):
    server.enqueue(reply("ok"))
    p = provider_for(env={"ANTHROPIC_AUTH_TOKEN": "only-bearer"}, drop=("ANTHROPIC_API_KEY",))
    run(collect(p, request()))
    rec = server.requests[0]
    assert rec.header("x-api-key") is None
    assert rec.header("authorization") == "Bearer only-bearer"


def test_missing_credentials_is_classified_and_names_the_routes(server, provider_for):
    with pytest.raises(ProviderError) as info:
        provider_for(drop=("ANTHROPIC_API_KEY",), env={"XAI_API_KEY": "x"})
    err = info.value
    assert err.kind == "missing_credentials" and err.failure_class == "provider_auth"
    for word in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "claw login", "OPENAI_API_KEY", "XAI_API_KEY"):
        assert word in err.hint
    assert server.requests == []


class FakeOAuth:
    def __init__(self) -> None:
        self.token = "old-token"
        self.refreshes = 0

    async def get_token(self) -> str:
        return self.token

    async def refresh(self) -> str:
        self.refreshes += 1
        self.token = "new-token"
        return self.token


def test_oauth_401_refreshes_once_and_resends(server, provider_for):
    server.enqueue(error(401, "authentication_error", "token expired"), reply("welcome back"))
    oauth = FakeOAuth()
    p = provider_for(drop=("ANTHROPIC_API_KEY",), oauth=oauth)
    evts = run(collect(p, request()))
    assert done(evts).response.text == "welcome back"
    assert oauth.refreshes == 1
    assert [r.header("authorization") for r in server.requests] == ["Bearer old-token", "Bearer new-token"]
    assert all("oauth-2025-04-20" in (r.header("anthropic-beta") or "") for r in server.requests)
    assert not any(isinstance(e, RetryScheduled) for e in evts)


def test_oauth_second_401_is_an_auth_failure(server, provider_for):
    server.enqueue(error(401, "authentication_error", "bad token"), error(401, "authentication_error", "bad"))
    with pytest.raises(ProviderError) as info:
        run(collect(provider_for(drop=("ANTHROPIC_API_KEY",), oauth=FakeOAuth()), request()))
    assert info.value.failure_class == "provider_auth" and info.value.status == 401
    assert len(server.requests) == 2


# -- retries ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status,etype,failure_class", [
    (408, "timeout_error", "provider_transport"),
    (409, "invalid_request_error", "provider_error"),
    (429, "rate_limit_error", "provider_rate_limit"),
    (500, "api_error", "provider_internal"),
    (502, "api_error", "provider_internal"),
    (503, "api_error", "provider_overloaded"),
    (504, "api_error", "provider_internal"),
    (529, "overloaded_error", "provider_overloaded"),
])
def test_each_retryable_status_is_retried(server, provider_for, sleeps, status, etype, failure_class):
    server.enqueue(error(status, etype, "try later", request_id="req_a"), reply("recovered"))
    evts = run(collect(provider_for(), request()))
    assert done(evts).response.text == "recovered"
    (retry,) = [e for e in evts if isinstance(e, RetryScheduled)]
    assert retry.status == status and retry.attempt == 2 and retry.max_attempts == 9
    assert retry.request_id == "req_a"
    assert retry.failure_class == failure_class
    assert str(status) in retry.describe()
    assert sleeps.waits == [0.5]  # exponential backoff base, jitter pinned to 0 in the fixture
    assert isinstance(evts[0], RetryScheduled)  # nothing of the failed attempt reached the caller


def test_529_then_success_says_overloaded(server, provider_for):
    server.enqueue(error(529, "overloaded_error", "Overloaded"), error(529, "overloaded_error", "Overloaded"),
                   reply("finally"))
    evts = run(collect(provider_for(), request()))
    retries = [e for e in evts if isinstance(e, RetryScheduled)]
    assert [r.reason for r in retries] == ["529 overloaded", "529 overloaded"]
    assert done(evts).response.text == "finally"


@pytest.mark.parametrize("headers,expected", [
    ({"retry-after": "1"}, 1.0),
    ({"retry-after": "0"}, 0.0),
    ({"retry-after-ms": "250"}, 0.25),
    ({"retry-after-ms": "40", "retry-after": "7"}, 0.04),
])
def test_retry_after_forms(server, provider_for, sleeps, headers, expected):
    server.enqueue(error(429, "rate_limit_error", "slow down", headers=headers), reply("ok"))
    run(collect(provider_for(), request()))
    assert sleeps.waits == [pytest.approx(expected)]


def test_retry_after_http_date(server, provider_for, sleeps):
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    server.enqueue(error(503, "api_error", "maintenance", headers={"Retry-After": when}), reply("ok"))
    run(collect(provider_for(), request()))
    (wait,) = sleeps.waits
    assert 25 < wait <= 30.5


def test_retry_after_beyond_the_cap_falls_back_to_backoff(server, provider_for, sleeps):
    server.enqueue(error(429, "rate_limit_error", "x", headers={"retry-after": "3600"}), reply("ok"))
    run(collect(provider_for(), request()))
    assert sleeps.waits == [0.5]


def test_x_should_retry_false_vetoes_a_retry(server, provider_for):
    server.enqueue(error(503, "api_error", "do not retry", headers={"x-should-retry": "false"}), reply("no"))
    with pytest.raises(ProviderError) as info:
        run(collect(provider_for(), request()))
    assert info.value.status == 503 and info.value.kind != "retries_exhausted"
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_never_retried_statuses(server, provider_for, status):
    server.enqueue(error(status, "invalid_request_error", "nope", headers={"x-should-retry": "true"}),
                   reply("must not be used"))
    with pytest.raises(ProviderError) as info:
        run(collect(provider_for(), request()))
    assert info.value.status == status
    assert len(server.requests) == 1


def test_generic_wrapper_500_exhausts_retries_with_last_request_id(server, provider_for):
    msg = "Something went wrong while processing your request. Please try again later."
    server.enqueue(error(500, "api_error", msg, request_id="req_first"),
                   error(500, "api_error", msg, request_id="req_second"),
                   error(500, "api_error", msg, request_id="req_last"))
    with pytest.raises(ProviderError) as info:
        run(collect(provider_for(max_retries=2), request()))
    err = info.value
    assert err.kind == "retries_exhausted"
    assert err.failure_class == "provider_internal"
    assert err.status == 500
    assert err.request_id == "req_last"
    assert "3 attempts" in err.message and "Something went wrong" in err.message
    assert err.to_dict()["request_id"] == "req_last"
    assert err.__cause__.kind == "internal_error"


def test_max_retries_zero_means_one_attempt(server, provider_for):
    server.enqueue(error(429, "rate_limit_error", "x"), reply("unused"))
    with pytest.raises(ProviderError) as info:
        run(collect(provider_for(max_retries=0), request()))
    assert info.value.kind == "retries_exhausted" and info.value.failure_class == "provider_rate_limit"
    assert len(server.requests) == 1


def test_connection_refused_by_a_local_server_gets_one_quick_retry(provider_for, sleeps):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    p = provider_for(env={"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}/gw"}, max_retries=8)
    with pytest.raises(ClawError) as info:
        run(collect(p, request()))
    err = info.value
    assert err.kind == "retries_exhausted" and err.failure_class == "provider_transport"
    assert sleeps.waits == [0.25]  # one quick retry, not eight backed-off ones
    assert err.message.startswith("gave up after 2 attempts: connection refused")
    assert f"is the server running at http://127.0.0.1:{port}/gw?" in err.hint


def test_connection_cut_before_content_is_retried(server, provider_for):
    server.enqueue(reply("lost", close_after=1), reply("second time lucky"))
    evts = run(collect(provider_for(), request()))
    assert done(evts).response.text == "second time lucky"
    assert sum(isinstance(e, RetryScheduled) for e in evts) == 1


# -- errors mid-stream ---------------------------------------------------------------------------


def _start():
    return {"type": "message_start", "message": {"id": "m", "model": "x", "content": [], "usage": {}}}


def test_error_event_before_content_is_retried(server, provider_for):
    server.enqueue(
        events([_start(), {"type": "ping"},
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}]),
        reply("after the storm"),
    )
    evts = run(collect(provider_for(), request()))
    (retry,) = [e for e in evts if isinstance(e, RetryScheduled)]
    assert retry.reason == "overloaded" and retry.failure_class == "provider_overloaded"
    assert done(evts).response.text == "after the storm"
    assert sum(isinstance(e, MessageStarted) for e in evts) == 1


def test_error_event_after_content_is_raised_classified(server, provider_for):
    server.enqueue(events([
        _start(),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "partial"}},
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    ], request_id="req_mid"), reply("must not be used"))
    seen = []

    async def consume():
        p = provider_for()
        try:
            async for ev in p.stream(request()):
                seen.append(ev)
        finally:
            await p.aclose()

    with pytest.raises(ProviderError) as info:
        run(consume())
    err = info.value
    assert err.failure_class == "provider_overloaded" and err.kind == "overloaded"
    assert err.request_id == "req_mid"
    assert [e.text for e in seen if isinstance(e, TextDelta)] == ["partial"]
    assert len(server.requests) == 1


def test_context_window_400_from_the_provider(server, provider_for):
    server.enqueue(error(400, "invalid_request_error", "prompt is too long: 212345 tokens > 200000 maximum",
                         request_id="req_ctx"))
    with pytest.raises(ProviderError) as info:
        run(collect(provider_for(), request()))
    err = info.value
    assert err.kind == "context_window" and err.failure_class == "context_window"
    assert err.request_id == "req_ctx" and err.status == 400
    assert "/compact" in err.hint and "claw --resume" in err.hint and "fresh session" in err.hint
    assert len(server.requests) == 1


def test_local_preflight_fails_before_any_byte_is_sent(server, provider_for):
    big = "x" * 900_000  # ~225K tokens by the bytes/4 estimate, over a 200K window
    with pytest.raises(ProviderError) as info:
        run(collect(provider_for("claude-haiku-4-5"), request("claude-haiku-4-5", text=big)))
    err = info.value
    assert err.kind == "context_window" and err.failure_class == "context_window"
    assert "/compact" in err.hint
    assert server.requests == []


def test_estimate_helper(provider_for):
    p = provider_for("claude-haiku-4-5")
    est = p.estimate(request("claude-haiku-4-5", text="y" * 4000))
    assert 1000 <= est.input_tokens <= 1100
    assert est.context_window == 200_000 and est.max_tokens == 32_000 and est.fits


# -- idle streams -----------------------------------------------------------------------------------


def test_idle_stall_before_content_is_aborted_and_retried(server, provider_for):
    server.enqueue(reply("never finished", stall_after=2, stall_seconds=30), reply("fresh stream"))
    started = time.monotonic()
    evts = run(collect(provider_for(idle_timeout=0.3), request()))
    assert time.monotonic() - started < 10  # never hangs (the stalled attempt would take 30 s)
    (retry,) = [e for e in evts if isinstance(e, RetryScheduled)]
    assert retry.failure_class == "provider_transport" and retry.reason == "timed out"
    assert done(evts).response.text == "fresh stream"


def test_idle_stall_after_content_is_raised_not_hung(server, provider_for):
    server.enqueue(reply("some text then silence", stall_after=4, stall_seconds=30), reply("unused"))
    with pytest.raises(NetworkError) as info:
        run(collect(provider_for(idle_timeout=0.3), request()))
    assert info.value.kind == "timeout" and info.value.failure_class == "provider_transport"
    assert info.value.request_id is not None
    assert len(server.requests) == 1


def test_keepalive_comments_count_as_liveness(server, provider_for):
    # each event is preceded by a comment and 0.05 s apart: never 0.3 s of silence
    server.enqueue(reply("steady", comment=True, delay=0.05, text_chunk=1))
    response = done(run(collect(provider_for(idle_timeout=0.3), request()))).response
    assert response.text == "steady" and len(server.requests) == 1


def test_gateway_answering_a_stream_request_with_json_is_understood(server, provider_for):
    from tests.fakes.model_server import raw

    message = {"id": "msg_gw", "type": "message", "role": "assistant", "model": "m",
               "content": [{"type": "text", "text": "whole message"}], "stop_reason": "end_turn",
               "usage": {"input_tokens": 3, "output_tokens": 2}}
    server.enqueue(raw(__import__("json").dumps(message), content_type="application/json"))
    evts = run(collect(provider_for(), request()))
    assert done(evts).response.text == "whole message" and len(server.requests) == 1
    assert any(isinstance(e, TextDelta) for e in evts)


def test_html_from_a_captive_proxy_is_a_classified_failure(server, provider_for):
    from tests.fakes.model_server import raw

    page = "<html><body>Please sign in to the guest network</body></html>"
    server.enqueue(*[raw(page, content_type="text/html") for _ in range(4)])
    with pytest.raises(ClawError) as info:
        run(collect(provider_for(max_retries=1), request()))
    assert info.value.kind == "retries_exhausted" and info.value.failure_class == "provider_transport"
    assert "not JSON" in info.value.message


def test_an_explicit_auth_source_wins(server, provider_for):
    from claw.auth.headers import BearerAuth

    server.enqueue(reply("ok"))
    run(collect(provider_for(auth=BearerAuth("from-store", "saved login")), request()))
    rec = server.requests[0]
    assert rec.header("authorization") == "Bearer from-store" and rec.header("x-api-key") is None
