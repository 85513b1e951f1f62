"""claw.auth.aws: the AWS credential chain — environment, shared profiles, credential_process, the
container endpoint and IMDSv2 (fakes on 127.0.0.1, asked directly even with a proxy configured), with
expiry and refresh."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Dict

import pytest

from claw.auth.aws import AwsCredentialChain, REFRESH_MARGIN, parse_expiration, region_of
from claw.errors import ProviderError
from tests.fakes.tls_server import ScriptedHttpServer

CREDS = {"AccessKeyId": "ASIAMETADATA", "SecretAccessKey": "metadata-secret-key-123", "Token": "metadata-token-456",
         "Expiration": "2999-01-01T00:00:00Z"}


def base_env(tmp_path: Path, **extra: str) -> Dict[str, str]:
    env = {"HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true"}
    env.update(extra)
    return env


def get(chain: AwsCredentialChain):
    return asyncio.run(chain.get())


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_environment_keys(tmp_path):
    env = base_env(tmp_path, AWS_ACCESS_KEY_ID="AKIAENV", AWS_SECRET_ACCESS_KEY="env-secret", AWS_SESSION_TOKEN="tok")
    creds = get(AwsCredentialChain(env))
    assert (creds.keys.access_key_id, creds.keys.secret_access_key, creds.keys.session_token) == \
        ("AKIAENV", "env-secret", "tok")
    assert creds.source == "environment" and creds.expires_at is None


def test_half_set_environment_is_an_error(tmp_path):
    with pytest.raises(ProviderError, match="AWS_SECRET_ACCESS_KEY is unset"):
        get(AwsCredentialChain(base_env(tmp_path, AWS_ACCESS_KEY_ID="AKIAENV")))


def test_default_profile_from_the_credentials_file(tmp_path):
    write(tmp_path / ".aws" / "credentials", "[default]\naws_access_key_id = AKIADEF\naws_secret_access_key = def-secret\n"
          "[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = other-secret\n")
    assert get(AwsCredentialChain(base_env(tmp_path))).keys.access_key_id == "AKIADEF"
    chain = AwsCredentialChain(base_env(tmp_path, AWS_PROFILE="other"))
    assert get(chain).keys.secret_access_key == "other-secret"
    assert chain.source_name().startswith("profile other")


def test_profile_section_of_the_config_file_and_custom_paths(tmp_path):
    config = write(tmp_path / "conf" / "aws-config", "[profile work]\nregion = eu-central-1\n"
                   "aws_access_key_id = AKIAWORK\naws_secret_access_key = work-secret\n")
    env = base_env(tmp_path, AWS_PROFILE="work", AWS_CONFIG_FILE=str(config),
                   AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    assert get(AwsCredentialChain(env)).keys.access_key_id == "AKIAWORK"
    assert region_of(env) == ("eu-central-1", "profile work")
    assert region_of(dict(env, AWS_DEFAULT_REGION="us-west-2")) == ("us-west-2", "AWS_DEFAULT_REGION")
    assert region_of(base_env(tmp_path)) == ("us-east-1", "default")


def test_a_named_profile_that_does_not_exist(tmp_path):
    with pytest.raises(ProviderError) as info:
        get(AwsCredentialChain(base_env(tmp_path, AWS_PROFILE="nope")))
    assert "'nope' was not found" in info.value.message and info.value.failure_class == "provider_auth"


def test_an_sso_profile_says_how_to_use_it(tmp_path):
    write(tmp_path / ".aws" / "config", "[profile sso]\nsso_session = corp\nregion = us-east-1\n")
    with pytest.raises(ProviderError) as info:
        get(AwsCredentialChain(base_env(tmp_path, AWS_PROFILE="sso")))
    assert "sso_session" in info.value.message and "export-credentials --profile sso" in info.value.hint


def process_profile(tmp_path: Path, body: str) -> Dict[str, str]:
    script = write(tmp_path / "helper.py", body)
    write(tmp_path / ".aws" / "config", f"[default]\ncredential_process = {sys.executable} {script}\n")
    return base_env(tmp_path)


def test_credential_process_with_expiry_and_refresh_before_it(tmp_path):
    counter = tmp_path / "n"
    env = process_profile(tmp_path, (
        "import json, pathlib\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        "print(json.dumps({'Version': 1, 'AccessKeyId': 'ASIAPROC', 'SecretAccessKey': 'proc-secret-%d' % n,\n"
        "                  'SessionToken': 'proc-token-%d' % n, 'Expiration': '2030-01-01T00:00:00Z'}))\n"))
    expiry = parse_expiration("2030-01-01T00:00:00Z")
    now = [expiry - 3600]
    seen = []
    chain = AwsCredentialChain(env, clock=lambda: now[0])
    chain.watch_secrets(seen.append)
    first = get(chain)
    assert first.keys.session_token == "proc-token-1" and first.expires_at == expiry
    assert get(chain) is first  # cached while far from the expiry
    now[0] = expiry - REFRESH_MARGIN + 1  # inside the refresh margin: fetched again
    second = get(chain)
    assert second.keys.session_token == "proc-token-2" and chain.fetches == 2
    assert seen == ["proc-secret-1", "proc-token-1", "proc-secret-2", "proc-token-2"]
    assert chain.source_name() == "credential_process of profile default"


def test_credential_process_failure(tmp_path):
    env = process_profile(tmp_path, "import sys\nsys.stderr.write('token expired, run aws sso login\\n')\nsys.exit(3)\n")
    with pytest.raises(ProviderError) as info:
        get(AwsCredentialChain(env))
    assert "exited with status 3: token expired, run aws sso login" in info.value.message


def test_credential_process_that_prints_no_json(tmp_path):
    env = process_profile(tmp_path, "print('hello')\n")
    with pytest.raises(ProviderError, match="did not print JSON"):
        get(AwsCredentialChain(env))


def test_a_failed_refresh_keeps_still_valid_credentials(tmp_path):
    flag = tmp_path / "fail"
    env = process_profile(tmp_path, (
        "import json, pathlib, sys\n"
        f"if pathlib.Path({str(flag)!r}).exists(): sys.exit(1)\n"
        "print(json.dumps({'Version': 1, 'AccessKeyId': 'A', 'SecretAccessKey': 'secret-value',\n"
        "                  'Expiration': '2030-01-01T00:00:00Z'}))\n"))
    expiry = parse_expiration("2030-01-01T00:00:00Z")
    now = [expiry - 3600]
    chain = AwsCredentialChain(env, clock=lambda: now[0])
    first = get(chain)
    flag.write_text("1")
    now[0] = expiry - 10  # in the margin, not yet expired: the old ones still serve
    assert get(chain) is first
    now[0] = expiry + 1  # expired and no refresh possible
    with pytest.raises(ProviderError):
        get(chain)


def metadata_handler(seen: list, *, token: str = "imds-session-token"):
    async def handler(request, responder):
        seen.append((request.method, request.target, dict(request.headers)))
        if request.target == "/creds":
            if request.header("authorization") != "container-auth-token":
                return await responder.send(403, b"")
            return await responder.send(200, json.dumps(CREDS).encode())
        if request.method == "PUT" and request.target == "/latest/api/token":
            assert request.header("x-aws-ec2-metadata-token-ttl-seconds") == "21600"
            return await responder.send(200, token.encode())
        if request.header("x-aws-ec2-metadata-token") != token:
            return await responder.send(401, b"")  # IMDSv1 is off on this instance
        if request.target == "/latest/meta-data/iam/security-credentials/":
            return await responder.send(200, b"bedrock-role")
        if request.target == "/latest/meta-data/iam/security-credentials/bedrock-role":
            return await responder.send(200, json.dumps(dict(CREDS, Code="Success")).encode())
        await responder.send(404, b"")
    return handler


PROXIED = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "CLAW_PROXY_LOOPBACK": "1"}


def test_imdsv2_token_then_role_then_credentials_directly(tmp_path):
    """With a (dead) proxy configured and loopback not exempt, the metadata requests still go direct."""
    seen: list = []

    async def main():
        async with ScriptedHttpServer(metadata_handler(seen)) as srv:
            env = base_env(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=srv.url(""), **PROXIED)
            env.pop("AWS_EC2_METADATA_DISABLED")
            chain = AwsCredentialChain(env)
            assert chain.source_name() == "instance metadata (IMDSv2)"
            return await chain.get()

    creds = asyncio.run(main())
    assert creds.keys.session_token == "metadata-token-456" and "bedrock-role" in creds.source
    assert creds.expires_at == parse_expiration("2999-01-01T00:00:00Z")
    assert [(m, t) for m, t, _ in seen] == [("PUT", "/latest/api/token"),
                                           ("GET", "/latest/meta-data/iam/security-credentials/"),
                                           ("GET", "/latest/meta-data/iam/security-credentials/bedrock-role")]


def test_imds_that_refuses_a_token(tmp_path):
    async def handler(request, responder):
        await responder.send(403, b"")

    async def main():
        async with ScriptedHttpServer(handler) as srv:
            env = base_env(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=srv.url(""))
            env.pop("AWS_EC2_METADATA_DISABLED")
            return await AwsCredentialChain(env).get()

    with pytest.raises(ProviderError, match="refused a session token"):
        asyncio.run(main())


def test_container_endpoint_with_a_token_file(tmp_path):
    seen: list = []
    token_file = write(tmp_path / "token", "container-auth-token\n")

    async def main():
        async with ScriptedHttpServer(metadata_handler(seen)) as srv:
            env = base_env(tmp_path, AWS_CONTAINER_CREDENTIALS_FULL_URI=srv.url("/creds"),
                           AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(token_file), **PROXIED)
            chain = AwsCredentialChain(env)
            secrets: list = []
            chain.watch_secrets(secrets.append)
            creds = await chain.get()
            return chain, creds, secrets

    chain, creds, secrets = asyncio.run(main())
    assert creds.keys.access_key_id == "ASIAMETADATA" and creds.source == "container credentials endpoint"
    assert "container-auth-token" in secrets and "metadata-secret-key-123" in secrets


def test_container_full_uri_over_plain_http_to_a_remote_host_is_refused(tmp_path):
    env = base_env(tmp_path, AWS_CONTAINER_CREDENTIALS_FULL_URI="http://example.com/creds")
    with pytest.raises(ProviderError, match="plain http"):
        get(AwsCredentialChain(env))


def test_nothing_configured(tmp_path):
    with pytest.raises(ProviderError) as info:
        get(AwsCredentialChain(base_env(tmp_path)))
    assert info.value.kind == "missing_credentials" and "AWS_BEARER_TOKEN_BEDROCK" in info.value.hint


def test_expiration_formats():
    assert parse_expiration("2026-12-07T10:00:00Z") == parse_expiration("2026-12-07T11:00:00+01:00")
    assert parse_expiration("2026-12-07T10:00:00.5Z") == parse_expiration("2026-12-07T10:00:00Z") + 0.5
    assert parse_expiration("2026-12-07T11:00:00.123456789+01:00") == parse_expiration("2026-12-07T10:00:00.123456Z")
    assert parse_expiration(None) is None
    with pytest.raises(ProviderError):
        parse_expiration("tomorrow")
    assert time.time() < parse_expiration("2999-01-01T00:00:00Z")


def test_aws_secret_variables_are_secret_by_name():
    from claw.redact import Redactor, is_secret_env_name

    assert all(is_secret_env_name(n) for n in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                               "AWS_BEARER_TOKEN_BEDROCK", "AWS_CONTAINER_AUTHORIZATION_TOKEN"))
    red = Redactor.from_env({"AWS_BEARER_TOKEN_BEDROCK": "bedrock-key-0123456789"})
    assert "bedrock-key-0123456789" not in red.redact_text("key: bedrock-key-0123456789")
