"""The environments API as data (claw.remote.environments) and work secrets (claw.remote.work_secret):
parsers, request bodies, error classes, secret decoding and the derived URLs."""

from __future__ import annotations

import base64
import json

import pytest

from claw.remote.environments import (Environment, RemoteAuthError, RemoteControlError, RemoteGoneError,
                                      classify_status, parse_environment, parse_work, permission_response_event,
                                      registration_body)
from claw.remote.work_secret import code_session_url, decode_work_secret, encode_work_secret, sdk_url

TOKEN = "sit-secret-token-0123456789abcdef"
GOOD = {"version": 1, "session_ingress_token": TOKEN, "api_base_url": "https://api.example.com",
        "sources": [{"type": "git_repository", "git_info": {"type": "github", "repo": "o/r"}}],
        "auth": [{"type": "oauth", "token": "auth-secret-xyz123456"}], "claude_code_args": {"model": "opus"},
        "mcp_config": None, "environment_variables": {"GH_TOKEN": "ghp_envsecret123456"},
        "use_code_sessions": True}


def work_obj(**over):
    obj = {"id": "work_1", "type": "work", "environment_id": "env_1", "state": "queued",
           "data": {"type": "session", "id": "session_1"}, "secret": encode_work_secret(GOOD),
           "created_at": "2026-01-01T00:00:00Z"}
    obj.update(over)
    return obj


def test_parse_work_session_and_healthcheck():
    work = parse_work(work_obj())
    assert (work.id, work.environment_id, work.state, work.data_type, work.data_id) == \
        ("work_1", "env_1", "queued", "session", "session_1")
    assert work.created_at == "2026-01-01T00:00:00Z"
    assert work.secret == work_obj()["secret"] and work.secret not in repr(work)
    assert "secret" not in work.to_json()
    check = parse_work(work_obj(data={"type": "healthcheck", "id": "hc_1"}, secret=None))
    assert check.data_type == "healthcheck" and check.secret == ""


@pytest.mark.parametrize("obj, words", [
    ([], "not a JSON object"),
    (work_obj(type="job"), "not 'work'"),
    (work_obj(data="x"), "'data'"),
    (work_obj(data={"type": "deploy", "id": "x"}), "'deploy'"),
    (work_obj(id=""), "'id'"),
    (work_obj(environment_id=3), "'environment_id'"),
    (work_obj(secret=None), "'secret'"),
    (work_obj(data={"type": "session"}), "'id'"),
])
def test_parse_work_rejects_malformed(obj, words):
    with pytest.raises(RemoteControlError) as info:
        parse_work(obj)
    assert info.value.kind == "remote_protocol" and words in info.value.message
    assert info.value.failure_class == "provider_error"


def test_parse_environment():
    env = parse_environment({"environment_id": "env_9", "environment_secret": "envsecret-abcdef"})
    assert env == Environment("env_9", "envsecret-abcdef") and "envsecret" not in repr(env)
    assert parse_environment({"environment_id": "env_9"}).environment_secret == ""
    for bad in (None, {"environment_secret": "x"}, {"environment_id": ""}):
        with pytest.raises(RemoteControlError):
            parse_environment(bad)


def test_registration_body_and_reuse():
    body = registration_body(machine_name="m", directory="/d", branch="main", git_repo_url=None, max_sessions=2,
                             worker_type="claw")
    assert body == {"machine_name": "m", "directory": "/d", "branch": "main", "git_repo_url": None,
                    "max_sessions": 2, "metadata": {"worker_type": "claw"}}
    assert registration_body(machine_name="m", directory="/d", branch=None, git_repo_url=None, max_sessions=1,
                             worker_type="claw", reuse_environment_id="env_1")["environment_id"] == "env_1"


def test_permission_response_events():
    allow = permission_response_event("req_1", allow=True)
    assert allow == {"type": "control_response", "response": {"subtype": "success", "request_id": "req_1",
                                                              "response": {"behavior": "allow"}}}
    deny = permission_response_event("req_2", allow=False, message="no")
    assert deny["response"]["response"] == {"behavior": "deny", "message": "no"}
    edited = permission_response_event("r", allow=True, updated_input={"command": "ls"})
    assert edited["response"]["response"]["updatedInput"] == {"command": "ls"}


@pytest.mark.parametrize("status, cls, failure_class, retryable", [
    (401, RemoteAuthError, "provider_auth", False), (403, RemoteAuthError, "provider_auth", False),
    (404, RemoteGoneError, "provider_error", False), (410, RemoteGoneError, "provider_error", False),
    (429, RemoteControlError, "provider_rate_limit", True), (500, RemoteControlError, "provider_internal", True),
    (529, RemoteControlError, "provider_overloaded", True), (400, RemoteControlError, "provider_error", False),
])
def test_classify_status(status, cls, failure_class, retryable):
    error = classify_status(status, "GET /v1/x", "detail")
    assert type(error) is cls and error.failure_class == failure_class and bool(error.retryable) == retryable
    assert error.status == status and "HTTP %d: detail" % status in error.message
    assert error.exit_code == 1
    if cls is RemoteAuthError:
        assert "claw login" in error.hint and "CLAW_BRIDGE_TOKEN" in error.hint


# -- work secrets ---------------------------------------------------------------------------------------


def test_decode_round_trip_without_and_with_padding():
    text = encode_work_secret(GOOD)
    assert "=" not in text
    secret = decode_work_secret(text)
    assert secret.version == 1 and secret.session_ingress_token == TOKEN
    assert secret.api_base_url == "https://api.example.com" and secret.use_code_sessions is True
    assert secret.claude_code_args == {"model": "opus"} and secret.sources == GOOD["sources"]
    assert TOKEN not in repr(secret) and "ghp_envsecret" not in repr(secret)
    padded = base64.urlsafe_b64encode(json.dumps(GOOD).encode()).decode()
    assert padded.endswith("=") and decode_work_secret(padded) == secret
    assert decode_work_secret(f"  {text}\n") == secret


def test_decode_uses_the_url_safe_alphabet():
    obj = dict(GOOD, api_base_url="https://h/?>>>???")  # bytes whose base64 needs - and _
    text = encode_work_secret(obj)
    assert "-" in text or "_" in text
    assert decode_work_secret(text).api_base_url == obj["api_base_url"]
    standard = base64.b64encode(json.dumps(obj).encode()).decode()
    with pytest.raises(RemoteControlError, match="not base64url"):
        decode_work_secret(standard)


def b64(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("abc$def", "not base64url"),
    ("abcde", "not base64url"),  # a length no base64 text has
    ("ab=cd", "not base64url"),
    (b64(b"\xff\xfe not utf-8"), "does not decode"),
    (b64(b"not json"), "does not decode"),
    (b64([1, 2]), "not a JSON object"),
    (b64(dict(GOOD, version=2)), "unsupported work secret version 2"),
    (b64({k: v for k, v in GOOD.items() if k != "version"}), "version unknown"),
    (b64(dict(GOOD, version=True)), "version unknown"),
    (b64(dict(GOOD, session_ingress_token="")), "session_ingress_token"),
    (b64(dict(GOOD, api_base_url=None)), "api_base_url"),
])
def test_decode_rejects(text, words):
    with pytest.raises(RemoteControlError) as info:
        decode_work_secret(text)
    assert words in info.value.message and info.value.kind == "remote_protocol"
    assert TOKEN not in info.value.message


def test_to_json_redacts_tokens():
    shown = json.dumps(decode_work_secret(encode_work_secret(GOOD)).to_json())
    for secret in (TOKEN, "auth-secret-xyz123456", "ghp_envsecret123456"):
        assert secret not in shown
    assert "GH_TOKEN" in shown and "https://api.example.com" in shown


@pytest.mark.parametrize("base, ws, code", [
    ("https://api.example.com", "wss://api.example.com/v1/session_ingress/ws/s_1",
     "https://api.example.com/v1/code/sessions/s_1"),
    ("http://127.0.0.1:8080/", "ws://127.0.0.1:8080/v1/session_ingress/ws/s_1",
     "http://127.0.0.1:8080/v1/code/sessions/s_1"),
    ("api.example.com", "wss://api.example.com/v1/session_ingress/ws/s_1",
     "https://api.example.com/v1/code/sessions/s_1"),
])
def test_urls(base, ws, code):
    assert sdk_url(base, "s_1") == ws
    assert code_session_url(base, "s_1") == code


@pytest.mark.parametrize("bad", ["..", "a/b", "x/../../admin", "id?x=1", "%2e%2e", "", "a b", "é", "a" * 201])
def test_ids_that_could_steer_a_request_elsewhere_are_refused(bad):
    from claw.remote.environments import path_segment

    with pytest.raises(RemoteControlError) as info:
        path_segment(bad)
    assert info.value.kind == "remote_protocol"
    with pytest.raises(RemoteControlError):
        sdk_url("https://api.example", bad)


def test_ids_of_the_usual_shapes_pass():
    from claw.remote.environments import path_segment

    for good in ("env_01ABCdef", "session_7", "cse-123_x", "w1"):
        assert path_segment(good) == good
