"""The Bedrock provider against the fake Bedrock runtime (HTTPS, a private CA): SigV4 checked by the
fake's own signer, event-stream frames, Bedrock's error shapes, retries and credential refresh."""

from __future__ import annotations

import sys
from typing import Any, Dict, Optional

import pytest

from claw.api.client import ApiSettings, create_provider, resolve_model
from claw.api.retry import RetryPolicy
from claw.api.types import MessageDone, RetryScheduled
from claw.errors import ProviderError
from tests.api.helpers import SleepRecorder, collect, request, run
from tests.fakes.bedrock_server import BedrockServer
from tests.fakes.model_server import tool_use
from tests.fakes.tls_server import make_tls

AKID = "AKIDEXAMPLE1234"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def bedrock(tls):
    srv = BedrockServer(keys={AKID: SECRET}, tls=tls.ca.issue_cert("127.0.0.1")).start()
    try:
        yield srv
    finally:
        srv.stop()


def bedrock_env(srv: BedrockServer, tls: Any, tmp_path, **extra: str) -> Dict[str, str]:
    env = {"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "us-east-1", "ANTHROPIC_BEDROCK_BASE_URL": srv.url,
           "AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET, "SSL_CERT_FILE": tls.ca_path,
           "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true", "NO_PROXY": "*"}
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def provider(env: Dict[str, str], model: str = "sonnet", sleeps: Optional[SleepRecorder] = None, retries: int = 3):
    retry = RetryPolicy(max_retries=retries, sleep=sleeps or SleepRecorder(), rng=lambda: 0.0)
    return create_provider(model, env=env, retry=retry, settings=ApiSettings(api_timeout=10.0, max_retries=retries))


def test_streamed_reply_signed_with_sigv4(bedrock, tls, tmp_path):
    bedrock.enqueue({"reply": {"text": "hello from bedrock", "text_chunk": 3}})
    env = bedrock_env(bedrock, tls, tmp_path, AWS_SESSION_TOKEN="session-token-123456")
    p = provider(env)
    events = run(collect(p, request()))
    done = events[-1]
    assert isinstance(done, MessageDone) and done.response.text == "hello from bedrock"
    [req] = bedrock.requests
    assert req.auth == f"sigv4:{AKID}" and req.session_token == "session-token-123456"
    assert req.path == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"
    assert req.json["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in req.json and "stream" not in req.json
    assert req.headers["accept"] == "application/vnd.amazon.eventstream"


def test_tool_use_arrives_through_the_frames(bedrock, tls, tmp_path):
    bedrock.enqueue({"reply": {"tool_uses": [tool_use("bash", {"command": "echo hi"}, id="toolu_1")]}})
    events = run(collect(provider(bedrock_env(bedrock, tls, tmp_path)), request()))
    blocks = events[-1].response.content
    assert blocks[-1]["type"] == "tool_use" and blocks[-1]["input"] == {"command": "echo hi"}


def test_throttling_is_retried(bedrock, tls, tmp_path):
    bedrock.enqueue({"http_error": [429, "ThrottlingException", "Too many requests, please wait"]},
                    {"exception": ["throttlingException", "slow down"]},
                    {"reply": {"text": "third time"}})
    sleeps = SleepRecorder()
    events = run(collect(provider(bedrock_env(bedrock, tls, tmp_path), sleeps=sleeps), request()))
    retries = [e for e in events if isinstance(e, RetryScheduled)]
    assert len(retries) == 2 and retries[0].status == 429 and retries[0].request_id == "req-1"
    assert retries[1].failure_class == "provider_overloaded" and retries[1].request_id == "req-2"
    assert events[-1].response.text == "third time" and len(sleeps.waits) == 2


def test_throttling_exhausts_the_retries(bedrock, tls, tmp_path):
    bedrock.enqueue(*[{"http_error": [429, "ThrottlingException", "Rate exceeded"]}] * 3)
    with pytest.raises(ProviderError) as info:
        run(collect(provider(bedrock_env(bedrock, tls, tmp_path), retries=2), request()))
    assert info.value.kind == "retries_exhausted" and len(bedrock.requests) == 3


def test_stream_error_after_content_is_raised_with_the_request_id(bedrock, tls, tmp_path):
    bedrock.enqueue({"reply": {"text": "partial answer here"}, "exception_after": 4,
                     "exception": ["modelStreamErrorException", "the model stream broke"]})
    with pytest.raises(ProviderError) as info:
        run(collect(provider(bedrock_env(bedrock, tls, tmp_path)), request()))
    err = info.value
    assert err.kind == "model_stream_error" and err.request_id == "req-1" and "stream broke" in err.message
    assert len(bedrock.requests) == 1


@pytest.mark.parametrize("status,etype,message,kind,failure_class", [
    (400, "ValidationException", "messages: field required", "invalid_request", "provider_error"),
    (400, "ValidationException", "prompt is too long: 250000 tokens > 200000 maximum", "context_window",
     "context_window"),
    (403, "AccessDeniedException", "You don't have access to the model", "permission_error", "provider_auth"),
])
def test_http_errors_map_to_failure_classes(bedrock, tls, tmp_path, status, etype, message, kind, failure_class):
    bedrock.enqueue({"http_error": [status, etype, message]})
    with pytest.raises(ProviderError) as info:
        run(collect(provider(bedrock_env(bedrock, tls, tmp_path)), request()))
    assert (info.value.kind, info.value.failure_class, info.value.request_id) == (kind, failure_class, "req-1")
    assert len(bedrock.requests) == 1


def test_a_wrong_secret_is_refused_by_the_signature_check(bedrock, tls, tmp_path):
    env = bedrock_env(bedrock, tls, tmp_path, AWS_SECRET_ACCESS_KEY="not-the-secret-at-all")
    with pytest.raises(ProviderError) as info:
        run(collect(provider(env), request()))
    assert info.value.failure_class == "provider_auth" and bedrock.rejected == ["InvalidSignatureException"]


def test_bearer_api_key(bedrock, tls, tmp_path):
    bedrock.bearer_tokens.add("bedrock-api-key-ABCDEFGH")
    bedrock.enqueue({"reply": {"text": "keyed"}})
    env = bedrock_env(bedrock, tls, tmp_path, AWS_BEARER_TOKEN_BEDROCK="bedrock-api-key-ABCDEFGH",
                      AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None)
    env.pop("AWS_ACCESS_KEY_ID", None)
    events = run(collect(provider(env), request()))
    assert events[-1].response.text == "keyed" and bedrock.requests[0].auth == "bearer"


def test_skip_auth_for_a_gateway(bedrock, tls, tmp_path):
    bedrock.require_auth = False
    bedrock.enqueue({"reply": {"text": "via gateway"}})
    env = bedrock_env(bedrock, tls, tmp_path, CLAUDE_CODE_SKIP_BEDROCK_AUTH="1")
    events = run(collect(provider(env), request()))
    req = bedrock.requests[0]
    assert events[-1].response.text == "via gateway" and "authorization" not in req.headers


def test_expired_credentials_are_fetched_again(bedrock, tls, tmp_path):
    """credential_process hands out an expired-on-the-server token first, then a good one: the 403
    ExpiredTokenException makes the provider fetch credentials again and resend once."""
    counter = tmp_path / "count"
    script = tmp_path / "creds.py"
    script.write_text(
        "import json, pathlib, sys\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        f"print(json.dumps({{'Version': 1, 'AccessKeyId': {AKID!r}, 'SecretAccessKey': {SECRET!r}, "
        "'SessionToken': 'token-%d' % n, 'Expiration': '2999-01-01T00:00:00Z'}))\n")
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text(
        f"[profile dev]\nregion = us-east-1\ncredential_process = {sys.executable} {script}\n")
    bedrock.expired_tokens.add("token-1")
    bedrock.enqueue({"reply": {"text": "fresh"}})
    env = bedrock_env(bedrock, tls, tmp_path, AWS_PROFILE="dev")
    env.pop("AWS_ACCESS_KEY_ID")
    env.pop("AWS_SECRET_ACCESS_KEY")
    events = run(collect(provider(env), request()))
    assert events[-1].response.text == "fresh"
    assert [r.session_token for r in bedrock.requests] == ["token-1", "token-2"]
    assert bedrock.rejected == ["ExpiredTokenException"]


def test_unstreamed_resend_uses_invoke(bedrock, tls, tmp_path):
    bedrock.enqueue({"reply": {"text": ""}, "exception_after": 0}, {"reply": {"text": "whole"}})
    events = run(collect(provider(bedrock_env(bedrock, tls, tmp_path)), request()))
    assert events[-1].response.text == "whole"
    assert bedrock.requests[1].path.endswith("/invoke")


def test_model_names_on_bedrock():
    env = {"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "eu-west-1"}
    assert resolve_model("sonnet", env).model == "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert resolve_model("opus", env).model == "eu.anthropic.claude-opus-4-6-v1"
    assert resolve_model("claude-haiku-4-5", dict(env, AWS_REGION="ap-northeast-1")).model == \
        "global.anthropic.claude-haiku-4-5-20251001-v1:0"
    haiku = resolve_model("haiku", dict(env, ANTHROPIC_SMALL_FAST_MODEL="us.anthropic.claude-3-5-haiku-20241022-v1:0"))
    assert haiku.model == "us.anthropic.claude-3-5-haiku-20241022-v1:0" and haiku.info.known
    profile = resolve_model("global.anthropic.claude-sonnet-4-6", env)
    assert profile.provider == "bedrock" and profile.info.context_window == 1_000_000
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
    assert resolve_model(arn, env).model == arn and not resolve_model(arn, env).info.known
    assert resolve_model("openai/gpt-5", env).provider == "openai"
    assert resolve_model("sonnet", {}).provider == "anthropic"
    assert resolve_model("bedrock/sonnet", {"AWS_REGION": "us-west-2"}).model == \
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
