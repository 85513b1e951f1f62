"""Which credentials a run uses: the precedence table across ANTHROPIC_API_KEY, the apiKeyHelper,
ANTHROPIC_AUTH_TOKEN and the saved login; the helper itself (cache, TTL, failures, no leaks)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest

from claw.auth.headers import OAuthAuth
from claw.auth.api_key_helper import ApiKeyHelper, helper_from_settings, ttl_ms_from_env
from claw.auth.credentials import CredentialStore
from claw.auth.oauth import TokenSet
from claw.auth.sources import HelperKeyAuth, anthropic_auth_for, describe_anthropic_auth
from claw.config.models import Settings
from claw.errors import ClawError, ConfigError

ENV_KEY = "sk-env-key-SECRET"
HELPER_KEY = "sk-helper-key-SECRET"
AUTH_TOKEN = "auth-token-SECRET"
SAVED = TokenSet("at-saved-SECRET", "rt-saved-SECRET", None, ("user:inference",))


def _case_id(case):
    return "+".join(name for name, on in zip(("env_key", "helper", "auth_token", "saved"), case) if on) or "nothing"


CASES = list(itertools.product([False, True], repeat=4))


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_precedence_table(case, env, home, project):
    env_key, helper, auth_token, saved = case
    e = dict(env, HELPER_OUTPUT=HELPER_KEY)
    if env_key:
        e["ANTHROPIC_API_KEY"] = ENV_KEY
    if auth_token:
        e["ANTHROPIC_AUTH_TOKEN"] = AUTH_TOKEN
    settings = Settings(api_key_helper='printf %s "$HELPER_OUTPUT"' if helper else None)
    store = CredentialStore(str(home / "credentials.json"))
    if saved:
        store.save_oauth(SAVED)

    expected = []
    if env_key:
        expected.append(("x-api-key", ENV_KEY))
    elif helper:
        expected.append(("x-api-key", HELPER_KEY))
    if auth_token:
        expected.append(("authorization", f"Bearer {AUTH_TOKEN}"))
    if not expected and saved:
        expected.append(("authorization", f"Bearer {SAVED.access_token}"))

    status = describe_anthropic_auth(settings, e, cwd=str(project), store=store)
    if not expected:
        with pytest.raises(ClawError) as err:
            anthropic_auth_for(settings, e, cwd=str(project), store=store)
        assert err.value.kind == "missing_credentials" and err.value.failure_class == "provider_auth"
        assert status.method == "none" and not status.authenticated
        return
    auth = anthropic_auth_for(settings, e, cwd=str(project), store=store)
    assert asyncio.run(auth.headers()) == expected
    assert isinstance(auth, OAuthAuth) == (expected[0][1] == f"Bearer {SAVED.access_token}")
    assert "SECRET" not in repr(auth) and "SECRET" not in auth.describe()
    key = env_key or helper
    assert status.method == {(True, True): "api_key+auth_token", (True, False): "api_key",
                             (False, True): "auth_token", (False, False): "oauth"}[(bool(key), auth_token)]
    assert ("saved login" in status.unused) == (saved and status.method != "oauth")
    assert ("apiKeyHelper" in status.unused) == (helper and env_key)
    assert "SECRET" not in json.dumps(status.to_json())


def test_the_helper_does_not_run_when_the_env_key_is_set(env, project, tmp_path):
    marker = tmp_path / "ran"
    settings = Settings(api_key_helper=f"touch {marker}; printf k")
    auth = anthropic_auth_for(settings, dict(env, ANTHROPIC_API_KEY="k1"), cwd=str(project))
    asyncio.run(auth.headers())
    assert not marker.exists()


def test_the_saved_login_is_not_read_when_a_key_is_set(env, home, project):
    (home / "credentials.json").write_text("{broken")
    auth = anthropic_auth_for(Settings(), dict(env, ANTHROPIC_AUTH_TOKEN="t"), cwd=str(project))
    assert asyncio.run(auth.headers()) == [("authorization", "Bearer t")]
    with pytest.raises(ConfigError):
        anthropic_auth_for(Settings(), env, cwd=str(project))


# -- the helper -------------------------------------------------------------------------------------------


def counting_helper(tmp_path, project, env, **kwargs) -> ApiKeyHelper:
    """A helper that prints key-<n>, n counting its runs (kept in a file)."""
    counter = tmp_path / "count"
    counter.write_text("0")
    command = f'n=$(($(cat {counter}) + 1)); echo $n > {counter}; printf "key-%s\\n" $n'
    return ApiKeyHelper(command=command, cwd=str(project), env=env, **kwargs)


def test_helper_output_is_cached_for_the_ttl(tmp_path, project, env):
    helper = counting_helper(tmp_path, project, env, ttl_ms=60_000)
    assert [helper.get(), helper.get()] == ["key-1", "key-1"]
    assert helper.get(force=True) == "key-2" and helper.get() == "key-2"
    # another object for the same command and directory shares the cache
    assert ApiKeyHelper(helper.command, helper.cwd, env, ttl_ms=60_000).get() == "key-2"


def test_helper_ttl_zero_runs_every_time(tmp_path, project, env):
    helper = counting_helper(tmp_path, project, env, ttl_ms=0)
    assert [helper.get(), helper.get()] == ["key-1", "key-2"]


def test_helper_ttl_expiry(tmp_path, project, env):
    helper = counting_helper(tmp_path, project, env, ttl_ms=1)
    assert helper.get() == "key-1"
    time.sleep(0.01)
    assert helper.get() == "key-2"


def test_ttl_from_the_environment():
    assert ttl_ms_from_env({}) == 300_000
    assert ttl_ms_from_env({"CLAW_API_KEY_HELPER_TTL_MS": "1500"}) == 1500
    for bad in ("-1", "soon", "1.5"):
        with pytest.raises(ConfigError) as err:
            ttl_ms_from_env({"CLAW_API_KEY_HELPER_TTL_MS": bad})
        assert "CLAW_API_KEY_HELPER_TTL_MS" in err.value.message


def test_helper_runs_in_the_project_with_the_effective_env(project, env):
    helper = helper_from_settings('printf "%s:%s" "$(basename "$PWD")" "$FROM_SETTINGS"', cwd=str(project),
                                  env=dict(env, FROM_SETTINGS="yes"))
    assert helper.get() == "project:yes"


@pytest.mark.parametrize("command, words", [
    ('echo "vault: permission denied" >&2; echo "$S1"; exit 3', "exited with status 3: vault: permission denied"),
    ('echo "$S1"; echo "rejected $S1" >&2; exit 1', "exited with status 1: rejected ****"),
    ("true", "printed nothing on stdout"),
    ('printf "%s\\n%s\\n" "$S1" "$S2"', "printed more than one line"),
    ("kill -9 $$", "was killed by signal 9"),
])
def test_helper_failures_name_the_helper_and_never_show_stdout(project, env, command, words):
    helper = ApiKeyHelper(command=command, cwd=str(project), env=dict(env, S1="sk-leak-SECRET-1", S2="sk-SECRET-2"),
                          origin="/x/settings.json")
    with pytest.raises(ClawError) as err:
        helper.get()
    e = err.value
    assert e.kind == "api_key_helper" and e.failure_class == "provider_auth" and e.exit_code == 1
    assert words in e.message and e.message.startswith("apiKeyHelper `")
    assert "SECRET" not in e.message + (e.hint or "")
    assert "/x/settings.json" in (e.hint or "")


def test_helper_timeout(project, env):
    helper = ApiKeyHelper(command="sleep 5", cwd=str(project), env=env, timeout=0.2)
    with pytest.raises(ClawError) as err:
        helper.get()
    assert "did not finish within 0.2 s" in err.value.message


def test_helper_key_is_fetched_again_after_a_401(tmp_path, project, env):
    """The key rotated while cached: the 401 makes claw ask the helper again, and the request is resent."""
    from claw.api.anthropic import AnthropicProvider
    from claw.api.client import resolve_model
    from claw.api.retry import RetryPolicy
    from tests.api.helpers import SleepRecorder, request
    from tests.fakes.model_server import ModelServer, error, reply

    current = tmp_path / "current-key"
    current.write_text("key-old")
    helper = ApiKeyHelper(command=f"cat {current}", cwd=str(project), env=env, ttl_ms=600_000)

    def check(req):
        return None if req.header("x-api-key") == current.read_text() else error(401, "authentication_error", "bad key")

    with ModelServer(handler=check) as srv:
        srv.default = reply(text="ok")
        provider = AnthropicProvider(model=resolve_model("claude-sonnet-4-5").info, base_url=srv.anthropic_base_url,
                                     auth=HelperKeyAuth(helper),
                                     retry=RetryPolicy(max_retries=0, sleep=SleepRecorder(), rng=lambda: 0.0))

        async def two_calls():
            try:
                await provider.complete(request("claude-sonnet-4-5"))
                current.write_text("key-new")  # rotated behind claw's back
                await provider.complete(request("claude-sonnet-4-5"))
            finally:
                await provider.aclose()

        asyncio.run(two_calls())
        assert [r.header("x-api-key") for r in srv.requests] == ["key-old", "key-old", "key-new"]


@pytest.mark.parametrize("others", ["", "api_key", "auth_token"])
def test_claude_code_oauth_token_is_an_oauth_bearer_below_keys_and_above_the_saved_login(others, env, home, project):
    e = dict(env, CLAUDE_CODE_OAUTH_TOKEN="sk-ant-oat-session-SECRET")
    if others == "api_key":
        e["ANTHROPIC_API_KEY"] = ENV_KEY
    if others == "auth_token":
        e["ANTHROPIC_AUTH_TOKEN"] = AUTH_TOKEN
    store = CredentialStore(str(home / "credentials.json"))
    store.save_oauth(SAVED)
    auth = anthropic_auth_for(Settings(), e, cwd=str(project), store=store)
    headers = asyncio.run(auth.headers())
    status = describe_anthropic_auth(Settings(), e, cwd=str(project), store=store)
    if others:
        assert ("authorization", "Bearer sk-ant-oat-session-SECRET") not in headers
        assert "CLAUDE_CODE_OAUTH_TOKEN" not in status.sources
    else:
        assert headers == [("authorization", "Bearer sk-ant-oat-session-SECRET")]
        assert "oauth-2025-04-20" in auth.betas() and not auth.refreshable
        assert status.method == "oauth" and status.sources == ("CLAUDE_CODE_OAUTH_TOKEN",)
        assert "SECRET" not in repr(auth)
