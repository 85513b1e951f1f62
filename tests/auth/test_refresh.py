"""The saved login in use: refresh on expiry (before the request), on a 401, failures that tell the user
to sign in again (never a stale token), and concurrent refreshes, in one process and across two."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time

import pytest

from claw.api.client import ApiSettings, create_provider
from claw.api.retry import RetryPolicy
from claw.auth.credentials import CredentialStore
from claw.auth.oauth import TokenSet, resolve_oauth_config
from claw.auth.refresh import SavedLogin
from claw.errors import ClawError, NetworkError
from tests.api.helpers import SleepRecorder, request
from tests.fakes.model_server import ModelServer, error, reply

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOW_MS = lambda: int(time.time() * 1000)  # noqa: E731


def seed(oauth, home, *, expires_in_ms: int, server_expires_in: int = 3600) -> TokenSet:
    """A saved login whose tokens the server issued; the file claims ``expires_in_ms`` from now."""
    issued = oauth.issue(expires_in=server_expires_in)
    tokens = TokenSet(issued["access_token"], issued["refresh_token"], NOW_MS() + expires_in_ms, ("user:inference",))
    CredentialStore(str(home / "credentials.json")).save_oauth(tokens)
    return tokens


def saved_login(env, net_config, home) -> SavedLogin:
    return SavedLogin(CredentialStore(str(home / "credentials.json")), resolve_oauth_config(None, env),
                      net_config=net_config)


def test_a_valid_token_is_used_as_is(env, oauth, home, net_config):
    tokens = seed(oauth, home, expires_in_ms=3_600_000)
    login = saved_login(env, net_config, home)
    assert asyncio.run(login.get_token()) == tokens.access_token
    assert oauth.token_requests() == []


@pytest.mark.parametrize("left_ms", [-60_000, 120_000])  # expired, or inside the 5-minute margin
def test_refresh_on_expiry_saves_the_new_tokens(env, oauth, home, net_config, left_ms):
    old = seed(oauth, home, expires_in_ms=left_ms)
    (home / "credentials.json").write_text(json.dumps({"keep": "me", **json.loads((home / "credentials.json").read_text())}))
    login = saved_login(env, net_config, home)
    token = asyncio.run(login.get_token())
    assert token != old.access_token and oauth.valid(token)
    assert oauth.refresh_count == 1 and login.refreshes == 1
    req = oauth.token_requests("refresh_token")[0]
    assert req.form["refresh_token"] == old.refresh_token and req.content_type == "application/x-www-form-urlencoded"
    data = json.loads((home / "credentials.json").read_text())
    assert data["keep"] == "me" and data["oauth"]["accessToken"] == token
    assert data["oauth"]["refreshToken"] != old.refresh_token  # rotated
    assert data["oauth"]["expiresAt"] > NOW_MS() + 3_000_000
    assert stat.S_IMODE(os.stat(home / "credentials.json").st_mode) == 0o600
    assert asyncio.run(login.get_token()) == token and oauth.refresh_count == 1


def test_not_signed_in(env, home, net_config):
    with pytest.raises(ClawError) as err:
        asyncio.run(saved_login(env, net_config, home).get_token())
    assert err.value.kind == "missing_credentials" and "claw login" in err.value.hint


# -- through the Anthropic provider -----------------------------------------------------------------------


@pytest.fixture
def model(oauth):
    """A model server that accepts only bearer tokens the OAuth server considers live."""

    def check(req):
        auth = req.header("authorization") or ""
        if not oauth.valid(auth[len("Bearer "):] if auth.startswith("Bearer ") else None):
            return error(401, "authentication_error", "invalid bearer token")
        return None

    srv = ModelServer(handler=check).start()
    srv.default = reply(text="hello from the model")
    try:
        yield srv
    finally:
        srv.stop()


def provider_for(model, env, login, max_retries=0):
    e = {k: v for k, v in model.env().items() if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")}
    e.update({k: v for k, v in env.items() if k.startswith("CLAW_")})
    retry = RetryPolicy(max_retries=max_retries, sleep=SleepRecorder(), rng=lambda: 0.0)
    return create_provider("claude-sonnet-4-5", env=e, oauth=login, retry=retry,
                           settings=ApiSettings(api_timeout=10.0, max_retries=max_retries))


async def complete(provider):
    try:
        return await provider.complete(request("claude-sonnet-4-5"))
    finally:
        await provider.aclose()


def bearer_tokens(model):
    return [r.header("authorization")[len("Bearer "):] for r in model.requests]


def test_expired_token_is_refreshed_before_the_request(env, oauth, home, net_config, model):
    old = seed(oauth, home, expires_in_ms=-1000, server_expires_in=-1)
    response = asyncio.run(complete(provider_for(model, env, saved_login(env, net_config, home))))
    assert "hello from the model" in json.dumps(response.content, default=str)
    sent = bearer_tokens(model)
    assert len(sent) == 1 and sent[0] != old.access_token and oauth.valid(sent[0])
    assert model.requests[0].header("anthropic-beta") and "oauth-2025-04-20" in model.requests[0].header("anthropic-beta")
    assert oauth.refresh_count == 1


def test_a_401_refreshes_once_and_resends(env, oauth, home, net_config, model):
    old = seed(oauth, home, expires_in_ms=3_600_000)
    oauth.revoke_access(old.access_token)  # the server forgot it; the file still thinks it is good
    asyncio.run(complete(provider_for(model, env, saved_login(env, net_config, home))))
    sent = bearer_tokens(model)
    assert sent[0] == old.access_token and len(sent) == 2 and oauth.valid(sent[1])
    assert oauth.refresh_count == 1
    assert json.loads((home / "credentials.json").read_text())["oauth"]["accessToken"] == sent[1]


def test_a_failed_refresh_says_to_sign_in_and_sends_no_stale_token(env, oauth, home, net_config, model):
    seed(oauth, home, expires_in_ms=-1000)
    oauth.fail_next("refresh_token", 400, "invalid_grant", "Refresh token revoked")
    with pytest.raises(ClawError) as err:
        asyncio.run(complete(provider_for(model, env, saved_login(env, net_config, home))))
    e = err.value
    assert e.kind == "oauth_expired" and e.failure_class == "provider_auth" and e.exit_code == 1
    assert "could not be renewed" in e.message and "invalid_grant" in e.message and "Refresh token revoked" in e.message
    assert "claw login" in e.hint
    assert model.requests == []  # never a silent fall back to the stale token


def test_a_token_endpoint_hiccup_before_the_request_is_retried(env, oauth, home, net_config, model):
    seed(oauth, home, expires_in_ms=-1000)
    oauth.fail_next("refresh_token", 503, "temporarily_unavailable", "try later")
    asyncio.run(complete(provider_for(model, env, saved_login(env, net_config, home), max_retries=2)))
    assert oauth.refresh_count == 2 and len(model.requests) == 1 and oauth.valid(bearer_tokens(model)[0])


def test_a_401_whose_refresh_fails(env, oauth, home, net_config, model):
    old = seed(oauth, home, expires_in_ms=3_600_000)
    oauth.revoke_access(old.access_token)
    oauth.fail_next("refresh_token", 400, "invalid_grant", "Refresh token revoked")
    with pytest.raises(ClawError) as err:
        asyncio.run(complete(provider_for(model, env, saved_login(env, net_config, home))))
    assert err.value.kind == "oauth_expired" and "claw login" in err.value.hint
    assert len(model.requests) == 1


def test_expired_without_refresh_token(env, oauth, home, net_config):
    CredentialStore(str(home / "credentials.json")).save_oauth(TokenSet("at-x", None, NOW_MS() - 1, ()))
    with pytest.raises(ClawError) as err:
        asyncio.run(saved_login(env, net_config, home).get_token())
    assert err.value.kind == "oauth_expired" and "no refresh token" in err.value.message
    assert oauth.token_requests() == []


def test_an_unreachable_token_endpoint_is_a_transport_error(env, oauth, home, net_config):
    seed(oauth, home, expires_in_ms=-1000)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    login = SavedLogin(CredentialStore(str(home / "credentials.json")),
                       resolve_oauth_config(None, dict(env, CLAW_OAUTH_TOKEN_URL=f"http://127.0.0.1:{dead}/token")),
                       net_config=net_config)
    with pytest.raises(NetworkError) as err:
        asyncio.run(login.get_token())
    assert f"token endpoint http://127.0.0.1:{dead}" in err.value.message and err.value.retryable


def test_a_server_error_during_refresh_stays_retryable(env, oauth, home, net_config):
    seed(oauth, home, expires_in_ms=-1000)
    oauth.fail_next("refresh_token", 503, "temporarily_unavailable", "try later")
    with pytest.raises(ClawError) as err:
        asyncio.run(saved_login(env, net_config, home).get_token())
    assert err.value.retryable and err.value.kind == "oauth_token_error"


# -- concurrency ---------------------------------------------------------------------------------------


def test_concurrent_requests_in_one_process_refresh_once(env, oauth, home, net_config):
    seed(oauth, home, expires_in_ms=-1000)
    login = saved_login(env, net_config, home)

    async def many():
        return await asyncio.gather(*(login.get_token() for _ in range(5)))

    tokens = asyncio.run(many())
    assert len(set(tokens)) == 1 and oauth.refresh_count == 1


def test_a_refresh_by_another_process_is_picked_up_instead_of_refreshing_again(env, oauth, home, net_config):
    old = seed(oauth, home, expires_in_ms=3_600_000)
    mine = saved_login(env, net_config, home)
    assert asyncio.run(mine.get_token()) == old.access_token  # loaded in memory
    other = saved_login(env, net_config, home)
    newer = asyncio.run(other.refresh())  # e.g. another claw got a 401 first
    # now this process gets a 401 with the old token: it must take the other's token, not refresh
    assert asyncio.run(mine.refresh()) == newer
    assert mine.refreshes == 0 and oauth.refresh_count == 1


WORKER = """
import asyncio, json, os, sys, time
from claw.auth.credentials import CredentialStore
from claw.auth.oauth import resolve_oauth_config
from claw.auth.refresh import SavedLogin
from claw.net.config import NetConfig

go = sys.argv[1]
login = SavedLogin(CredentialStore.for_env(os.environ), resolve_oauth_config(None, os.environ),
                   net_config=NetConfig.from_env(os.environ))
login.store.read_oauth()
while not os.path.exists(go):
    time.sleep(0.005)
token = asyncio.run(login.get_token())
print(json.dumps({"token": token, "refreshes": login.refreshes}))
"""


def test_two_processes_refreshing_at_once(env, oauth, home, tmp_path):
    """Both processes find the token expired at the same moment. Outcome (documented in docs/AUTH.md):
    the token endpoint sees exactly ONE refresh, both processes end up with the same valid token, and
    credentials.json stays valid JSON, mode 0600. (With refresh-token rotation, a second refresh with
    the spent refresh token would fail: the lock + re-read is what prevents it.)"""
    seed(oauth, home, expires_in_ms=-1000)
    oauth.refresh_delay = 0.3  # a slow token endpoint: the second process arrives mid-refresh
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(go)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    time.sleep(0.2)  # let both start and load the expired login (not an assertion)
    go.write_text("go")
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        results.append(json.loads(out))
    assert oauth.refresh_count == 1
    assert sorted(r["refreshes"] for r in results) == [0, 1]
    assert results[0]["token"] == results[1]["token"] and oauth.valid(results[0]["token"])
    data = json.loads((home / "credentials.json").read_text())
    assert data["oauth"]["accessToken"] == results[0]["token"]
    assert stat.S_IMODE(os.stat(home / "credentials.json").st_mode) == 0o600
    assert [p for p in os.listdir(home) if p.endswith(".tmp")] == []
