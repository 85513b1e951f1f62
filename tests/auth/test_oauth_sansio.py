"""PKCE, configuration resolution, URL building, token request shaping and response parsing: pure."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claw.auth import defaults
from claw.auth.oauth import (CallbackParams, OAuthConfig, TokenSet, authorization_code_request, authorization_url,
                             checked_code, parse_callback, parse_pasted, parse_token_response, refresh_request,
                             resolve_oauth_config, token_body_format)
from claw.auth.pkce import Pkce, new_state, new_verifier, s256_challenge
from claw.config.models import OAuthSettings
from claw.errors import ClawError, ConfigError

NOW = 1_700_000_000_000


# -- PKCE ---------------------------------------------------------------------------------------------


def test_s256_matches_rfc7636_appendix_b():
    assert s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifier_and_state_are_random_and_well_formed():
    verifiers = {new_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    for v in verifiers:
        assert 43 <= len(v) <= 128 and re.fullmatch(r"[A-Za-z0-9._~-]+", v)
    assert new_state() != new_state()
    pkce = Pkce.new()
    assert pkce.challenge == s256_challenge(pkce.verifier) and pkce.method == "S256"
    assert pkce.verifier not in repr(pkce) and pkce.state != pkce.verifier


# -- configuration ------------------------------------------------------------------------------------


def test_defaults_when_nothing_is_configured():
    config = resolve_oauth_config(None, {})
    assert (config.client_id, config.authorize_url, config.token_url) == (
        defaults.CLIENT_ID, defaults.AUTHORIZE_URL, defaults.TOKEN_URL)
    assert config.scopes == defaults.SCOPES and config.callback_port == 0
    assert config.manual_redirect_url == defaults.MANUAL_REDIRECT_URL and config.token_body == "json"
    assert set(config.origins.values()) == {"default"}


def test_settings_override_defaults_and_env_overrides_settings():
    settings = OAuthSettings(client_id="set-client", authorize_url="https://sso.corp/authorize",
                             token_url="https://sso.corp/token", scopes=("a", "b"), callback_port=54545)
    config = resolve_oauth_config(settings, {})
    assert (config.client_id, config.authorize_url, config.token_url, config.scopes, config.callback_port) == (
        "set-client", "https://sso.corp/authorize", "https://sso.corp/token", ("a", "b"), 54545)
    assert config.manual_redirect_url is None and config.token_body == "form"
    env = {"CLAW_OAUTH_CLIENT_ID": "env-client", "CLAW_OAUTH_AUTHORIZE_URL": "http://127.0.0.1:1/authorize",
           "CLAW_OAUTH_TOKEN_URL": "http://127.0.0.1:1/token"}
    config = resolve_oauth_config(settings, env)
    assert (config.client_id, config.authorize_url, config.token_url) == (
        "env-client", "http://127.0.0.1:1/authorize", "http://127.0.0.1:1/token")
    assert config.origins["tokenUrl"] == "CLAW_OAUTH_TOKEN_URL" and config.origins["scopes"] == "settings"
    # empty variables mean unset
    config = resolve_oauth_config(settings, {"CLAW_OAUTH_CLIENT_ID": "  "})
    assert config.client_id == "set-client"


def test_bad_env_url_is_a_config_error_naming_the_variable():
    with pytest.raises(ConfigError) as err:
        resolve_oauth_config(None, {"CLAW_OAUTH_TOKEN_URL": "ftp://x/token"})
    assert "CLAW_OAUTH_TOKEN_URL" in err.value.message and err.value.exit_code == 2


def test_token_body_format_by_host():
    assert token_body_format("https://console.anthropic.com/v1/oauth/token") == "json"
    assert token_body_format("https://claude.ai/x") == "json"
    assert token_body_format("https://notanthropic.com/token") == "form"
    assert token_body_format("http://127.0.0.1:8080/token") == "form"


# -- the authorization URL ---------------------------------------------------------------------------


def test_authorization_url_carries_pkce_and_state():
    config = OAuthConfig(client_id="cid", authorize_url="https://idp.example/authorize?tenant=t1",
                         token_url="https://idp.example/token", scopes=("s1", "s2"), token_body="form")
    pkce = Pkce.new()
    url = authorization_url(config, pkce, "http://localhost:5555/callback")
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.netloc == "idp.example" and parts.path == "/authorize"
    assert q == {"tenant": "t1", "client_id": "cid", "response_type": "code",
                 "redirect_uri": "http://localhost:5555/callback", "scope": "s1 s2",
                 "code_challenge": pkce.challenge, "code_challenge_method": "S256", "state": pkce.state}
    assert pkce.verifier not in url


def test_anthropic_authorization_url_asks_for_the_code_page():
    url = authorization_url(resolve_oauth_config(None, {}), Pkce.new(), defaults.MANUAL_REDIRECT_URL)
    q = parse_qs(urlsplit(url).query)
    assert q["code"] == ["true"] and q["redirect_uri"] == [defaults.MANUAL_REDIRECT_URL]
    assert q["scope"] == [" ".join(defaults.SCOPES)]


# -- token requests -------------------------------------------------------------------------------------


def test_code_exchange_is_form_encoded_for_other_providers():
    config = OAuthConfig(client_id="cid", token_url="https://idp.example/token", token_body="form")
    pkce = Pkce.new()
    req = authorization_code_request(config, code="c0de", redirect_uri="http://localhost:1/callback", pkce=pkce)
    assert dict(req.headers)["content-type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(req.body.decode())) == {
        "grant_type": "authorization_code", "code": "c0de", "redirect_uri": "http://localhost:1/callback",
        "client_id": "cid", "code_verifier": pkce.verifier}
    assert "c0de" not in repr(req) and pkce.verifier not in repr(req)


def test_code_exchange_is_json_with_state_for_anthropic():
    config = resolve_oauth_config(None, {})
    pkce = Pkce.new()
    req = authorization_code_request(config, code="c0de", redirect_uri=defaults.MANUAL_REDIRECT_URL, pkce=pkce)
    assert req.url == defaults.TOKEN_URL and dict(req.headers)["content-type"] == "application/json"
    body = json.loads(req.body)
    assert body["state"] == pkce.state and body["code_verifier"] == pkce.verifier
    assert body["grant_type"] == "authorization_code" and body["client_id"] == defaults.CLIENT_ID


def test_refresh_request_shapes():
    form = refresh_request(OAuthConfig(client_id="cid", token_body="form"), "rt-1")
    assert dict(parse_qsl(form.body.decode())) == {"grant_type": "refresh_token", "refresh_token": "rt-1",
                                                    "client_id": "cid"}
    js = refresh_request(OAuthConfig(client_id="cid", token_body="json"), "rt-1")
    assert json.loads(js.body) == {"grant_type": "refresh_token", "refresh_token": "rt-1", "client_id": "cid"}


# -- token responses ---------------------------------------------------------------------------------


def _body(data) -> bytes:
    return json.dumps(data).encode()


def test_token_response_gives_absolute_expiry_and_scopes():
    tokens = parse_token_response(200, _body({"access_token": "SECRET-AT", "refresh_token": "SECRET-RT",
                                              "expires_in": 3600,
                                              "token_type": "Bearer", "scope": "a b",
                                              "account": {"email_address": "me@x", "uuid": "u1"}}), now_ms=NOW)
    assert tokens.expires_at == NOW + 3_600_000 and tokens.scopes == ("a", "b")
    assert tokens.account_email == "me@x" and tokens.account_uuid == "u1"
    assert not tokens.expired(NOW) and tokens.expired(NOW + 3_600_000) and tokens.expired(NOW, margin_ms=3_600_000)
    assert "SECRET" not in repr(tokens) and "SECRET" not in str(tokens)


def test_refresh_response_keeps_what_it_omits():
    previous = TokenSet("old-at", "old-rt", NOW, ("s",), "me@x", "u1")
    tokens = parse_token_response(200, _body({"access_token": "new-at"}), now_ms=NOW, previous=previous)
    assert tokens.refresh_token == "old-rt" and tokens.scopes == ("s",) and tokens.account_email == "me@x"
    assert tokens.expires_at is None and not tokens.expired(NOW + 10**12)


@pytest.mark.parametrize("status, body, kind, retryable", [
    (400, {"error": "invalid_grant", "error_description": "Refresh token revoked"}, "oauth_invalid_grant", False),
    (401, {"error": "invalid_client"}, "oauth_token_error", False),
    (400, {"error": {"type": "invalid_request_error", "message": "bad code"}}, "oauth_token_error", False),
    (503, b"<html>busy</html>", "oauth_token_error", True),
    (429, {}, "oauth_token_error", True),
    (200, b"<html>login page</html>", "oauth_bad_response", False),
    (200, {"token_type": "Bearer"}, "oauth_bad_response", False),
    (200, {"access_token": "x", "token_type": "mac"}, "oauth_bad_response", False),
])
def test_token_errors_are_classified(status, body, kind, retryable):
    raw = body if isinstance(body, bytes) else _body(body)
    with pytest.raises(ClawError) as err:
        parse_token_response(status, raw, now_ms=NOW, what="refresh")
    assert err.value.kind == kind and err.value.failure_class == "provider_auth"
    assert err.value.retryable is retryable and err.value.exit_code == 1
    assert "<html>" not in err.value.message


def test_token_error_message_is_short_and_names_the_error():
    with pytest.raises(ClawError) as err:
        parse_token_response(400, _body({"error": "invalid_grant", "error_description": "x" * 5000}), now_ms=NOW)
    assert "invalid_grant" in err.value.message and len(err.value.message) < 400
    assert "claw login" in err.value.hint


# -- the redirect and pasted input --------------------------------------------------------------------


@pytest.mark.parametrize("text, code, state", [
    ("http://localhost:5555/callback?code=abc&state=st1", "abc", "st1"),
    ("  https://console.anthropic.com/oauth/code/callback?code=abc&state=st1\n", "abc", "st1"),
    ("code=abc&state=st1", "abc", "st1"),
    ("?state=st1&code=abc", "abc", "st1"),
    ("abc#st1", "abc", "st1"),
    ("abc", "abc", None),
])
def test_parse_pasted_forms(text, code, state):
    params = parse_pasted(text)
    assert (params.code, params.state) == (code, state)


@pytest.mark.parametrize("text", ["", "   ", "http://localhost:1/callback", "two words"])
def test_unusable_pastes(text):
    with pytest.raises(ClawError) as err:
        parse_pasted(text)
    assert err.value.kind == "oauth_no_code"


@given(code=st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=40),
       state=st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=40))
def test_pasted_redirect_url_round_trips(code, state):
    url = "http://localhost:5555/callback?" + urlencode({"code": code, "state": state})
    params = parse_pasted(url)
    assert (params.code, params.state) == (code, state)
    assert checked_code(params, state) == code


def test_error_callback_is_a_clear_message():
    params = parse_callback("error=access_denied&error_description=The+user+said+no&state=s")
    with pytest.raises(ClawError) as err:
        checked_code(params, "s")
    assert err.value.kind == "oauth_denied" and "access_denied" in err.value.message
    assert "The user said no" in err.value.message


def test_state_is_checked():
    with pytest.raises(ClawError) as err:
        checked_code(CallbackParams(code="c", state="other"), "mine")
    assert err.value.kind == "oauth_state_mismatch" and "state mismatch" in err.value.message
    with pytest.raises(ClawError) as err:
        checked_code(CallbackParams(code="c"), "mine")
    assert err.value.kind == "oauth_state_mismatch"
    assert checked_code(CallbackParams(code="c"), "mine", require_state=False) == "c"
    # a state that is present must match even when not required
    with pytest.raises(ClawError):
        checked_code(CallbackParams(code="c", state="x"), "mine", require_state=False)
    assert "c0de-secret" not in repr(CallbackParams(code="c0de-secret"))


def test_token_set_json_round_trip_and_validation():
    tokens = TokenSet("at", "rt", NOW, ("a",), "me@x", None)
    data = tokens.to_json()
    assert data == {"accessToken": "at", "refreshToken": "rt", "expiresAt": NOW, "scopes": ["a"],
                    "account": {"email": "me@x"}}
    assert TokenSet.from_json(data) == tokens
    for bad in ([], {"accessToken": ""}, {"accessToken": "a", "expiresAt": "soon"},
                {"accessToken": "a", "scopes": [1]}, {"accessToken": "a", "refreshToken": 5}):
        with pytest.raises(ValueError):
            TokenSet.from_json(bad)
