"""Google Application Default Credentials (claw.auth.gcp_auth, claw.auth.gcp_adc) against the fake
Google token endpoint and metadata server of tests/fakes/google_server.py and a fake ``gcloud``."""

from __future__ import annotations

import asyncio
import json
import stat
import time

import pytest

pytest.importorskip("cryptography")

from claw.auth.gcp_adc import load_credential_file  # noqa: E402
from claw.auth.gcp_auth import GoogleAuth, SkippedGoogleAuth, google_auth  # noqa: E402
from claw.errors import ClawError, ConfigError  # noqa: E402
from tests.fakes.google_server import GoogleServer, METADATA_PATH  # noqa: E402
from tests.fakes.tinyproxy import free_port  # noqa: E402


@pytest.fixture
def google():
    with GoogleServer() as srv:
        yield srv


@pytest.fixture
def base_env(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    # No ADC file, no gcloud, a metadata "server" that refuses connections.
    return {"HOME": str(home), "PATH": str(empty_bin), "GCE_METADATA_HOST": f"127.0.0.1:{free_port()}"}


def run(coro):
    return asyncio.run(coro)


def fake_gcloud(tmp_path, body: str):
    bindir = tmp_path / "gcloud-bin"
    bindir.mkdir(exist_ok=True)
    script = bindir / "gcloud"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bindir


def test_service_account_jwt_is_verified_and_the_token_cached(google, base_env, tmp_path):
    path, _ = google.service_account_file(tmp_path / "sa.json")
    auth = GoogleAuth(dict(base_env, GOOGLE_APPLICATION_CREDENTIALS=str(path)))

    async def twice():
        return await auth.headers(), await auth.headers()

    first, second = run(twice())
    token = first[0][1].split(" ", 1)[1]
    assert first == second == [("authorization", f"Bearer {token}")]
    assert google.valid(token)
    grants = google.grants("urn:ietf:params:oauth:grant-type:jwt-bearer")
    assert len(grants) == 1 and auth.fetches == 1
    assert grants[0].jwt_claims["iss"] == "claw-test@proj-123.iam.gserviceaccount.com"
    assert grants[0].jwt_header["kid"].startswith("kid-")
    assert "service account claw-test@proj-123" in auth.describe() and "GOOGLE_APPLICATION_CREDENTIALS" in auth.describe()


def test_a_signature_from_another_key_is_refused(google, base_env, tmp_path):
    from tests.fakes.google_server import new_rsa_key

    path, _ = google.service_account_file(tmp_path / "sa.json")
    google.add_service_account("claw-test@proj-123.iam.gserviceaccount.com", new_rsa_key())  # key rotated
    auth = GoogleAuth(dict(base_env, GOOGLE_APPLICATION_CREDENTIALS=str(path)))
    with pytest.raises(ClawError) as caught:
        run(auth.headers())
    assert caught.value.failure_class == "provider_auth" and caught.value.status == 400
    assert "Invalid JWT Signature" in caught.value.message and str(path) in caught.value.hint


def test_token_is_replaced_before_it_expires_and_on_demand(base_env, tmp_path):
    with GoogleServer(expires_in=700) as google:
        now = [time.time()]
        auth = GoogleAuth(dict(base_env, GCE_METADATA_HOST=google.metadata_host), clock=lambda: now[0])

        async def scenario():
            a = (await auth.token()).token
            now[0] += 350  # 350 s left: more than the 300 s margin
            b = (await auth.token()).token
            now[0] += 60  # 290 s left: replaced
            c = (await auth.token()).token
            assert await auth.refresh()  # a 401: replaced whatever the cache says
            d = (await auth.token()).token
            return a, b, c, d

        a, b, c, d = run(scenario())
    assert a == b and len({a, c, d}) == 3
    assert auth.fetches == 3


def test_concurrent_requests_share_one_fetch(google, base_env, tmp_path):
    path, _ = google.service_account_file(tmp_path / "sa.json")
    auth = GoogleAuth(dict(base_env, GOOGLE_APPLICATION_CREDENTIALS=str(path)))

    async def many():
        return await asyncio.gather(*(auth.headers() for _ in range(5)))

    results = run(many())
    assert len({r[0][1] for r in results}) == 1 and len(google.grants()) == 1


def test_authorized_user_refresh_grant_from_the_gcloud_adc_file(google, base_env, tmp_path):
    config = tmp_path / "gcloud-config"
    config.mkdir()
    google.user_file(config / "application_default_credentials.json", quota_project="billing-proj")
    auth = GoogleAuth(dict(base_env, CLOUDSDK_CONFIG=str(config)))
    headers = run(auth.headers())
    assert headers[0][0] == "authorization" and google.valid(headers[0][1][7:])
    assert ("x-goog-user-project", "billing-proj") in headers
    assert google.grants("refresh_token")[0].form["client_secret"].startswith("secret-")
    assert "gcloud ADC file" in auth.describe() and "authorized_user" in auth.describe()


def test_default_adc_location_is_under_home(google, base_env, tmp_path):
    adc = tmp_path / "home" / ".config" / "gcloud"
    adc.mkdir(parents=True)
    google.user_file(adc / "application_default_credentials.json")
    auth = GoogleAuth(base_env)
    assert auth.file is not None and auth.file.path == str(adc / "application_default_credentials.json")
    assert run(auth.headers())


def test_revoked_refresh_token_says_to_log_in_again_without_secrets(google, base_env, tmp_path):
    path = google.user_file(tmp_path / "user.json")
    secret = json.loads(path.read_text())["refresh_token"]
    google.users.clear()
    auth = GoogleAuth(dict(base_env, GOOGLE_APPLICATION_CREDENTIALS=str(path)))
    with pytest.raises(ClawError) as caught:
        run(auth.headers())
    err = caught.value
    assert "invalid_grant" in err.message and "application-default login" in err.hint
    assert secret not in err.message + err.hint and not err.retryable


def test_metadata_server_is_used_without_a_file_and_never_through_the_proxy(google, base_env):
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    env = dict(base_env, GCE_METADATA_HOST=google.metadata_host, HTTP_PROXY=dead_proxy,
               HTTPS_PROXY=dead_proxy, CLAW_PROXY_LOOPBACK="1")
    auth = GoogleAuth(env)
    headers = run(auth.headers())
    assert google.valid(headers[0][1][7:])
    req = [r for r in google.requests if r.path == METADATA_PATH][0]
    assert req.headers["metadata-flavor"] == "Google"
    assert "metadata server" in auth.describe()


def test_gcloud_is_the_last_resort(base_env, tmp_path):
    log = tmp_path / "gcloud.log"
    bindir = fake_gcloud(tmp_path, f'echo "$@" >> {log}\necho ya29.from-gcloud-token')
    auth = GoogleAuth(dict(base_env, PATH=str(bindir)))

    async def twice():
        return await auth.headers(), await auth.headers()

    first, second = run(twice())
    assert first == second == [("authorization", "Bearer ya29.from-gcloud-token")]
    assert log.read_text().splitlines() == ["auth print-access-token"]  # cached: one run
    assert "gcloud auth print-access-token" in auth.describe()


def test_gcloud_failure_and_timeout_are_reported(base_env, tmp_path):
    bindir = fake_gcloud(tmp_path, 'echo "ERROR: (gcloud.auth) You do not currently have an active account" >&2; exit 1')
    with pytest.raises(ClawError) as caught:
        run(GoogleAuth(dict(base_env, PATH=str(bindir))).headers())
    assert "active account" in caught.value.message and caught.value.kind == "missing_credentials"
    (tmp_path / "slow").mkdir()
    slow = fake_gcloud(tmp_path / "slow", "exec /bin/sleep 5")
    auth = GoogleAuth(dict(base_env, PATH=str(slow)), gcloud_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(ClawError, match="did not answer within"):
        run(auth.headers())
    assert time.monotonic() - started < 4


def test_no_credentials_anywhere(base_env):
    with pytest.raises(ClawError) as caught:
        run(GoogleAuth(base_env).headers())
    err = caught.value
    assert err.kind == "missing_credentials" and err.failure_class == "provider_auth"
    assert "metadata server" in err.message and "gcloud is not on PATH" in err.message
    assert "GOOGLE_APPLICATION_CREDENTIALS" in err.hint


def test_named_file_problems_are_configuration_errors(base_env, tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        GoogleAuth(dict(base_env, GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "missing.json")))
    other = tmp_path / "wif.json"
    other.write_text(json.dumps({"type": "external_account", "audience": "x"}))
    with pytest.raises(ConfigError, match="external_account"):
        load_credential_file(str(other), "GOOGLE_APPLICATION_CREDENTIALS")
    partial = tmp_path / "sa.json"
    partial.write_text(json.dumps({"type": "service_account", "client_email": "a@b"}))
    with pytest.raises(ConfigError, match="lacks private_key"):
        load_credential_file(str(partial), "GOOGLE_APPLICATION_CREDENTIALS")


def test_secrets_go_to_the_sink_now_and_as_tokens_arrive(google, base_env, tmp_path):
    path, _ = google.service_account_file(tmp_path / "sa.json")
    data = json.loads(path.read_text())
    auth = GoogleAuth(dict(base_env, GOOGLE_APPLICATION_CREDENTIALS=str(path)))
    seen = []
    auth.share_secrets(seen.append)
    key_lines = [line for line in data["private_key"].splitlines() if not line.startswith("-----")]
    assert data["private_key_id"] in seen and all(line in seen for line in key_lines if len(line) >= 16)
    token = run(auth.headers())[0][1][7:]
    assert seen[-1] == token
    assert data["private_key"] not in repr(auth.file) and token not in repr(auth._token)


def test_skip_variable_sends_no_credentials(base_env):
    auth = google_auth(dict(base_env, CLAUDE_CODE_SKIP_VERTEX_AUTH="1"))
    assert isinstance(auth, SkippedGoogleAuth) and run(auth.headers()) == []
    assert "CLAUDE_CODE_SKIP_VERTEX_AUTH" in auth.describe()


def test_a_short_lived_token_is_reused_for_half_its_life(base_env, tmp_path):
    with GoogleServer(expires_in=200) as google:  # less than the 5-minute margin
        now = [time.time()]
        auth = GoogleAuth(dict(base_env, GCE_METADATA_HOST=google.metadata_host), clock=lambda: now[0])

        async def scenario():
            a = (await auth.token()).token
            now[0] += 90
            b = (await auth.token()).token
            now[0] += 20
            c = (await auth.token()).token
            return a, b, c

        a, b, c = run(scenario())
    assert a == b != c and auth.fetches == 2
