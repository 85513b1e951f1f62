"""Failure classification, rendering, and the retry policy (pure)."""

from __future__ import annotations

import email.utils
import json

import pytest

from claw.api.failures import (
    classify_http_error,
    classify_stream_error,
    is_context_window_message,
    retries_exhausted,
)
from claw.api.retry import RetryPolicy, parse_int_env, parse_seconds_env, server_delay
from claw.auth.headers import missing_credentials
from claw.errors import FAILURE_CLASSES, ConfigError, NetworkError


def body(etype, message):
    return json.dumps({"type": "error", "error": {"type": etype, "message": message}}).encode()


@pytest.mark.parametrize("status,etype,kind,failure_class,retryable", [
    (401, "authentication_error", "authentication_error", "provider_auth", False),
    (403, "permission_error", "permission_error", "provider_auth", False),
    (404, "not_found_error", "not_found", "provider_error", False),
    (413, "request_too_large", "request_too_large", "request_size", False),
    (429, "rate_limit_error", "rate_limit", "provider_rate_limit", True),
    (500, "api_error", "api_error", "provider_internal", True),
    (529, "overloaded_error", "overloaded", "provider_overloaded", True),
    (400, "invalid_request_error", "invalid_request", "provider_error", False),
    (400, "overloaded_error", "invalid_request", "provider_error", False),  # a 400 never becomes retryable
])
def test_http_classification(status, etype, kind, failure_class, retryable):
    err = classify_http_error(status, body(etype, "details here"), request_id="req_1", provider="Anthropic")
    assert (err.kind, err.failure_class, err.retryable, err.status) == (kind, failure_class, retryable, status)
    assert err.request_id == "req_1" and err.failure_class in FAILURE_CLASSES
    assert err.message.startswith(f"Anthropic returned {status}") and "details here" in err.message
    assert err.hint


@pytest.mark.parametrize("text", [
    "prompt is too long: 210000 tokens > 200000 maximum",
    "This model's maximum context length is 8192 tokens",
    "input length and max_tokens exceed context limit: 190000 + 32000 > 200000",
    "Too many tokens in request",
    "Input is too long for requested model.",
    "the request exceeds the context window of this model",
])
@pytest.mark.parametrize("status", [400, 413, 422])
def test_provider_context_window_errors_are_recognised(text, status):
    assert is_context_window_message(text)
    err = classify_http_error(status, body("invalid_request_error", text))
    assert err.kind == "context_window" and err.failure_class == "context_window" and not err.retryable
    assert "/compact" in err.hint and "claw --resume" in err.hint


def test_non_json_and_html_bodies_are_cut_to_one_line():
    err = classify_http_error(502, b"<html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>")
    assert err.failure_class == "provider_internal" and "\n" not in err.message
    assert "502 Bad Gateway" in err.message
    long = classify_http_error(500, b"x" * 5000)
    assert len(long.message) < 400


def test_generic_wrapper_is_an_internal_error():
    err = classify_http_error(500, body("api_error", "Something went wrong while processing your request."))
    assert err.kind == "internal_error" and err.failure_class == "provider_internal" and err.retryable
    assert classify_http_error(500, b"").kind == "internal_error"


def test_openai_error_shape():
    data = json.dumps({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})
    err = classify_http_error(429, data.encode(), provider="OpenAI")
    assert err.failure_class == "provider_rate_limit" and "rate_limit_exceeded" in err.message
    data = json.dumps({"error": {"message": "too big", "type": "invalid_request_error", "code": "context_length_exceeded"}})
    assert classify_http_error(400, data.encode()).failure_class == "context_window"


def test_stream_error_classification():
    err = classify_stream_error({"type": "error", "error": {"type": "api_error", "message": "Internal server error"}})
    assert err.failure_class == "provider_internal" and err.kind == "internal_error" and err.retryable
    err = classify_stream_error({"error": {"type": "weird", "message": "?"}})
    assert err.failure_class == "provider_error" and not err.retryable


def test_retries_exhausted_keeps_the_last_error():
    last = classify_http_error(529, body("overloaded_error", "Overloaded"), request_id="req_9")
    err = retries_exhausted(last, 9)
    assert err.kind == "retries_exhausted" and err.failure_class == "provider_overloaded"
    assert err.status == 529 and err.request_id == "req_9" and "9 attempts" in err.message
    net = NetworkError("connection refused", kind="connect", retryable=True)
    err = retries_exhausted(net, 3, request_id="req_seen")
    assert err.failure_class == "provider_transport" and err.request_id == "req_seen"


def test_missing_credentials_hint_mentions_other_routes_only_when_set():
    err = missing_credentials({})
    assert "claw login" in err.hint and "OPENAI" not in err.hint
    assert err.to_dict()["kind"] == "missing_credentials" and err.exit_code == 1
    assert "openai/" in missing_credentials({"OPENAI_API_KEY": "k"}).hint
    local = missing_credentials({"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}).hint
    assert "--model local/<model>" in local and "ollama" not in local
    assert "--model ollama/<model>" in missing_credentials({"OLLAMA_HOST": "127.0.0.1:11434"}).hint


def test_secrets_never_in_messages():
    err = classify_http_error(401, body("authentication_error", "invalid x-api-key"))
    assert "sk-" not in err.message
    r = repr(__import__("claw.auth.headers", fromlist=["ApiKeyAuth"]).ApiKeyAuth("sk-secret-value"))
    assert "sk-secret" not in r and "ANTHROPIC_API_KEY" in r


# -- retry policy ----------------------------------------------------------------------------------


def test_status_retryability():
    p = RetryPolicy()
    for status in (408, 409, 429, 500, 502, 503, 504, 529, 520):
        assert p.status_retryable(status)
    for status in (400, 401, 403, 404, 413, 422):
        assert not p.status_retryable(status)
        assert not p.status_retryable(status, [("x-should-retry", "true")])
    assert not p.status_retryable(503, [("X-Should-Retry", "false")])
    assert p.status_retryable(418, [("x-should-retry", "true")])
    assert not p.status_retryable(418)


def test_backoff_is_exponential_capped_and_jittered():
    p = RetryPolicy(rng=lambda: 0.0)
    assert [p.delay(i) for i in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    jittered = RetryPolicy(rng=lambda: 1.0)
    assert jittered.delay(0) == pytest.approx(0.375)
    assert RetryPolicy(max_wait=0.01).delay(5) == 0.01


def test_server_delay_forms():
    now = 1_700_000_000.0
    assert server_delay([("retry-after-ms", "1500")]) == 1.5
    assert server_delay([("Retry-After", "2")]) == 2.0
    date = email.utils.formatdate(now + 12, usegmt=True)
    assert server_delay([("retry-after", date)], now=now) == pytest.approx(12, abs=1)
    assert server_delay([("retry-after", "soon")]) is None
    assert server_delay([]) is None
    p = RetryPolicy(rng=lambda: 0.0)
    assert p.delay(0, [("retry-after", "61")]) == 0.5  # beyond max_retry_after: own backoff
    assert p.delay(3, [("retry-after", "0")]) == 0.0


def test_env_parsing():
    assert RetryPolicy.from_env({"CLAW_MAX_RETRIES": "0"}).max_attempts == 1
    assert RetryPolicy.from_env({}).max_retries == 8
    assert RetryPolicy.from_env({"CLAW_MAX_RETRIES": "3"}, max_retries=5).max_retries == 5
    with pytest.raises(ConfigError):
        parse_int_env({"CLAW_MAX_RETRIES": "lots"}, "CLAW_MAX_RETRIES", 8)
    with pytest.raises(ConfigError):
        parse_int_env({"CLAW_MAX_RETRIES": "-1"}, "CLAW_MAX_RETRIES", 8)
    assert parse_seconds_env({"CLAW_API_TIMEOUT": "2.5"}, "CLAW_API_TIMEOUT", 600) == 2.5
    with pytest.raises(ConfigError):
        parse_seconds_env({"CLAW_API_TIMEOUT": "0"}, "CLAW_API_TIMEOUT", 600)
