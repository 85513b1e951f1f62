"""How failures read on a terminal: the context-window recovery block (local preflight and provider
400), provider failures on one line then the hint; unit-level, then through headless runs against the
fake model server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claw.api.failures import classify_http_error, classify_stream_error, context_window_error, retries_exhausted
from claw.api.preflight import TokenEstimate, check
from claw.cli.errors import estimate_line, render_error, render_failure_line
from claw.errors import ConfigError, NetworkError, ProviderError, UsageError
from tests.cli.headless_helpers import isolated_env, run_inprocess
from tests.fakes.model_server import ModelServer, error, reply

SID = "3f2b8c1e-4d5a-4e6f-9a7b-0c1d2e3f4a5b"


def body(etype: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": etype, "message": message}}).encode()


# -- unit ------------------------------------------------------------------------------------------


def test_failure_line_substitutes_the_session():
    err = classify_http_error(400, body("invalid_request_error", "prompt is too long"), request_id="req_r")
    text = render_failure_line(err, session_id="sess-42")
    assert text.splitlines()[0].startswith("error [context_window]:")
    assert "request id: req_r" in text and "session id: sess-42" in text
    assert "claw --resume sess-42" in text


def test_preflight_block_has_model_estimate_ids_and_recovery():
    with pytest.raises(ProviderError) as info:
        check(TokenEstimate(input_tokens=25_010, max_tokens=8_192, context_window=16_384, payload_bytes=100_040),
              model="phi4")
    err = info.value
    assert (err.model, err.estimate, err.window, err.reserved) == ("phi4", 25_010, 16_384, 8_192)
    text = render_error(err, session_id=SID)
    lines = text.splitlines()
    assert lines[0].startswith("error [context_window]: the prompt is about 25,010 tokens")
    assert lines[1:5] == [
        "  model:      phi4",
        "  estimate:   ~25,010 prompt tokens + 8,192 reserved for the answer > the 16,384-token context window",
        f"  session id: {SID}",
        "to recover, shorten what is sent:",
    ]
    assert lines[5] == "  - in the REPL, run /compact (the older turns become a summary)"
    assert lines[6] == f"  - from a shell: claw --resume {SID}, then /compact"
    assert lines[7].startswith("  - or start a fresh session")
    assert "request id" not in text  # nothing was sent


def test_provider_block_reads_the_counts_and_takes_the_run_model():
    err = classify_http_error(400, body("invalid_request_error", "prompt is too long: 212345 tokens > 200000 maximum"),
                              request_id="req_011", provider="Anthropic")
    assert (err.estimate, err.window, err.model) == (212_345, 200_000, None)
    text = render_error(err, session_id=SID, model="claude-sonnet-4-5")
    assert "  model:      claude-sonnet-4-5" in text
    assert "  estimate:   ~212,345 prompt tokens > the 200,000-token context window" in text
    assert f"  session id: {SID}\n  request id: req_011" in text
    assert f"claw --resume {SID}, then /compact" in text


def test_error_model_wins_over_the_run_model_and_unknown_counts_are_left_out():
    err = context_window_error("the gateway says: input is too long", model="gw-model", request_id="r1")
    text = render_error(err, session_id=None, model="other")
    assert "  model:      gw-model" in text and "estimate" not in text and "session id" not in text
    assert "  - from a shell: claw --continue, then /compact" in text


def test_openai_wording_and_stream_errors_are_read_too():
    msg = ("This model's maximum context length is 128000 tokens. However, your messages resulted in "
           "130512 tokens. Please reduce the length of the messages.")
    err = classify_http_error(400, json.dumps({"error": {"message": msg, "code": "context_length_exceeded"}}).encode())
    assert (err.estimate, err.window) == (130_512, 128_000)
    stream = classify_stream_error({"type": "error", "error": {"type": "invalid_request_error",
                                                               "message": "prompt is too long: 5 tokens > 4 maximum"}})
    assert (stream.failure_class, stream.estimate, stream.window) == ("context_window", 5, 4)


def test_estimate_line_variants():
    assert estimate_line(None, None, None) is None
    assert estimate_line(10, None, None) == "~10 prompt tokens (context window unknown)"
    assert estimate_line(None, 4096, None) == "the prompt against the 4,096-token context window"


def test_provider_failure_is_one_line_then_the_hint():
    err = classify_http_error(429, body("rate_limit_error", "Number of requests has exceeded your rate limit"),
                              request_id="req_429", provider="Anthropic")
    lines = render_error(err, session_id=SID).splitlines()
    assert lines == [
        "error [provider_rate_limit]: Anthropic returned 429: Number of requests has exceeded your "
        f"rate limit (request id: req_429, session id: {SID})",
        f"hint: {err.hint}",
    ]


def test_retries_exhausted_and_transport_failures_read_alike():
    last = classify_http_error(529, body("overloaded_error", "Overloaded"), request_id="req_9", provider="Anthropic")
    err = retries_exhausted(last, 3)
    first, hint = render_error(err, session_id=SID).splitlines()
    assert first.startswith("error [provider_overloaded]: gave up after 3 attempts: Anthropic returned 529")
    assert first.endswith(f"(request id: req_9, session id: {SID})") and hint.startswith("hint: ")
    net = NetworkError("cannot connect to https://api.example:443: connection refused", kind="connect",
                       hint="check the network")
    assert render_error(net) == ("error [provider_transport]: cannot connect to https://api.example:443: "
                                 "connection refused\nhint: check the network")


def test_usage_and_config_errors_stay_one_line_and_a_hint():
    assert render_error(UsageError("bad flag", hint="see --help")) == "claw: bad flag\nhint: see --help"
    assert render_error(ConfigError("claw: broken file")) == "claw: broken file"


def test_a_retries_exhausted_context_error_keeps_its_details():
    inner = context_window_error("prompt is too long: 9 tokens > 8 maximum", model="m")
    outer = retries_exhausted(inner, 1)
    text = render_error(outer, session_id=SID)
    assert "  model:      m" in text and "~9 prompt tokens > the 8-token context window" in text


# -- through a headless run --------------------------------------------------------------------------


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def test_provider_context_window_error_in_a_headless_run(work, home, monkeypatch):
    with ModelServer([error(400, "invalid_request_error", "prompt is too long: 212345 tokens > 200000 maximum",
                            request_id="req_ctx_1")]) as server:
        env = isolated_env(server.env(), home)
        run = run_inprocess(["-p", "summarise everything", "--model", "claude-sonnet-4-5"], env, monkeypatch, work)
    assert run.code == 1 and run.stdout == ""
    sessions = list((work / ".claw" / "sessions").glob("*.jsonl"))
    assert len(sessions) == 1
    sid = sessions[0].name[: -len(".jsonl")]
    err = run.stderr
    assert "error [context_window]: Anthropic says the prompt is too long (400)" in err
    assert "  model:      claude-sonnet-4-5\n" in err  # set by the provider on its context-window error
    assert "  estimate:   ~212,345 prompt tokens > the 200,000-token context window" in err
    assert f"  session id: {sid}" in err and "  request id: req_ctx_1" in err
    assert f"claw --resume {sid}, then /compact" in err
    assert "test-key" not in err


def test_provider_context_window_error_in_json_output(work, home, monkeypatch):
    with ModelServer([error(400, "invalid_request_error", "prompt is too long: 212345 tokens > 200000 maximum",
                            request_id="req_ctx_2")]) as server:
        env = isolated_env(server.env(), home)
        run = run_inprocess(["-p", "hi", "--output-format", "json"], env, monkeypatch, work)
    result = run.json
    assert run.code == 1 and result["is_error"] is True
    assert result["error"]["failure_class"] == "context_window" and result["error"]["request_id"] == "req_ctx_2"
    assert "/compact" in result["error"]["hint"]


@pytest.mark.parametrize("how", ["flag", "ANTHROPIC_MODEL"])
def test_local_preflight_refuses_a_prompt_too_large_for_a_small_window(work, home, monkeypatch, how):
    huge = "lorem ipsum " * 9_000  # ~108,000 characters: ~27,000 tokens, over phi4's 16,384 window
    with ModelServer([reply(text="never sent")]) as server:
        extra = {"ANTHROPIC_MODEL": "ollama/phi4"} if how == "ANTHROPIC_MODEL" else {}
        env = isolated_env(server.env(), home, **extra)
        argv = ["-p", huge] + (["--model", "ollama/phi4"] if how == "flag" else [])
        run = run_inprocess(argv, env, monkeypatch, work)
        assert server.requests == []  # nothing left the process
    assert run.code == 1
    sid = next((work / ".claw" / "sessions").glob("*.jsonl")).name[: -len(".jsonl")]
    err = run.stderr
    assert "error [context_window]: the prompt is about " in err and "nothing was sent" in err
    assert "  model:      phi4" in err
    assert "reserved for the answer > the 16,384-token context window" in err
    assert f"  session id: {sid}" in err and "request id" not in err
    assert "  - in the REPL, run /compact" in err and f"claw --resume {sid}, then /compact" in err


def test_a_provider_failure_in_a_headless_run_is_one_line_then_the_hint(work, home, monkeypatch):
    with ModelServer([error(401, "authentication_error", "invalid x-api-key", request_id="req_auth")]) as server:
        env = isolated_env(server.env(), home)
        run = run_inprocess(["-p", "hi"], env, monkeypatch, work)
    assert run.code == 1
    sid = next((work / ".claw" / "sessions").glob("*.jsonl")).name[: -len(".jsonl")]
    lines = [line for line in run.stderr.splitlines() if line.startswith(("error [", "hint:"))]
    assert lines[0].startswith("error [provider_auth]: Anthropic returned 401: invalid x-api-key")
    assert lines[0].endswith(f"(request id: req_auth, session id: {sid})")
    assert lines[1].startswith("hint: ") and "claw login" in lines[1]


def test_total_cost_carries_no_float_noise():
    from claw.cli.output import round_cost

    noisy = 0.000054 + 0.000108  # 0.00016199999999999998 in binary floating point
    assert repr(round_cost(noisy)) == "0.000162"
    assert round_cost(None) == 0.0
