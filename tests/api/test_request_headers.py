"""Extra request headers (claw.api.request_headers): ANTHROPIC_CUSTOM_HEADERS, settings customHeaders,
ANTHROPIC_BETAS and --betas merged into one anthropic-beta, refusal of headers that would break the
request, and redaction of credential-looking values."""

from __future__ import annotations

import pytest

from claw.api import request_headers as rh
from claw.api.client import ApiSettings, create_provider
from claw.api.retry import RetryPolicy
from claw.errors import ConfigError
from tests.api.helpers import collect, request, run
from tests.fakes.model_server import reply


def test_header_lines_parse_in_order_skipping_blanks_and_comments():
    text = "X-Team: infra\n\n  # a comment\nX-Route: a: b\r\nx-team: platform\n"
    assert rh.parse_header_lines(text) == [("X-Route", "a: b"), ("x-team", "platform")]


@pytest.mark.parametrize("name", ["Host", "content-length", "Transfer-Encoding", "CONNECTION", "Upgrade"])
def test_headers_that_would_break_the_request_are_refused_by_name_without_the_value(name):
    with pytest.raises(ConfigError) as info:
        rh.parse_header_lines(f"X-Ok: 1\n{name}: s3cr3t-value")
    assert repr(name) in info.value.message and "ANTHROPIC_CUSTOM_HEADERS" in info.value.message
    assert "s3cr3t-value" not in info.value.message + (info.value.hint or "")


def test_malformed_lines_names_and_values_are_refused():
    with pytest.raises(ConfigError, match="line 2 is not 'Name: value'"):
        rh.parse_header_lines("X-A: 1\njust text")
    with pytest.raises(ConfigError, match="not a valid header name"):
        rh.parse_header_lines("Bad Name: 1")
    with pytest.raises(ConfigError, match="line break"):
        rh.parse_header_map({"X-A": "one\r\nX-Injected: two"})


def test_betas_merge_once_each_in_first_seen_order():
    assert rh.parse_betas("a, b  c,,a") == ("a", "b", "c")
    assert rh.merge_betas(["x,y"], ("y", "z"), ["x"]) == ["x", "y", "z"]


def test_apply_replaces_same_named_headers_and_merges_anthropic_beta():
    base = [("anthropic-version", "2023-06-01"), ("anthropic-beta", "one"), ("x-api-key", "k")]
    extra = (("Anthropic-Version", "2099-01-01"), ("anthropic-beta", "two,one"), ("X-Team", "t"))
    out = rh.apply(base, extra, ("three",))
    assert out == [("x-api-key", "k"), ("Anthropic-Version", "2099-01-01"), ("X-Team", "t"),
                   ("anthropic-beta", "one,three,two")]


def test_environment_wins_over_settings_and_settings_keep_their_own():
    env = rh.parse_header_lines("X-Team: env")
    settings = rh.parse_header_map({"X-Team": "settings", "X-Other": "o"})
    assert rh.combine(env, settings) == (("X-Other", "o"), ("X-Team", "env"))


def test_describe_and_the_redactor_hide_credential_values():
    headers = [("X-Gateway-Token", "gw-tok-123456789"), ("Authorization", "Basic dXNlcjpwYXNz"),
               ("X-Team", "infra")]
    assert rh.describe(headers) == ["X-Gateway-Token: [REDACTED]", "Authorization: [REDACTED]", "X-Team: infra"]
    assert rh.secret_values(headers) == ["gw-tok-123456789", "Basic dXNlcjpwYXNz"]
    api = ApiSettings.from_env({"ANTHROPIC_CUSTOM_HEADERS": "X-Gateway-Token: gw-tok-123456789"},
                               custom_headers={"X-Team": "infra", "Proxy-Authorization": "Basic cHJveHk6cHc="})
    assert sorted(api.secrets()) == ["Basic cHJveHk6cHc=", "gw-tok-123456789"]


def test_api_settings_read_env_and_settings():
    api = ApiSettings.from_env({"ANTHROPIC_CUSTOM_HEADERS": "X-A: 1", "ANTHROPIC_BETAS": "b1,b2"},
                               custom_headers={"X-B": "2"})
    assert api.anthropic_headers == (("X-B", "2"), ("X-A", "1"))
    assert api.common_headers == (("X-B", "2"),) and api.betas == ("b1", "b2")
    with pytest.raises(ConfigError, match="'Host'"):
        ApiSettings.from_env({}, custom_headers={"Host": "elsewhere"})


def _provider(model, env, **settings):
    return create_provider(model, env=env, retry=RetryPolicy(max_retries=0),
                           settings=ApiSettings.from_env(env, **settings))


def test_anthropic_requests_carry_the_headers_and_one_merged_beta_header(server):
    server.enqueue(reply("ok"))
    env = dict(server.env(), ANTHROPIC_CUSTOM_HEADERS="X-Team: infra\nanthropic-beta: custom-1",
               ANTHROPIC_BETAS="env-1, shared")
    p = _provider("claude-sonnet-4-5", env, custom_headers={"X-From-Settings": "yes"})
    run(collect(p, request(betas=("flag-1", "shared"))))
    rec = server.requests[0]
    assert rec.header("x-team") == "infra" and rec.header("x-from-settings") == "yes"
    assert rec.header("anthropic-beta") == "flag-1,shared,env-1,custom-1"  # one header, each value once
    assert rec.header("x-api-key") == "test-key"


def test_openai_compatible_requests_get_the_settings_headers_only(server):
    server.enqueue(reply("ok"))
    env = dict(server.env(), ANTHROPIC_CUSTOM_HEADERS="X-Anthropic-Only: 1", ANTHROPIC_BETAS="b")
    run(collect(_provider("openai/gpt-5-mini", env, custom_headers={"X-Gateway-Team": "infra"}), request()))
    rec = server.requests[0]
    assert rec.header("x-gateway-team") == "infra"
    assert rec.header("x-anthropic-only") is None and rec.header("anthropic-beta") is None
