"""`claw doctor` and `claw status` with Bedrock chosen: the provider, the credential source and its
expiry (credentials really fetched by doctor), and reachability through tinyproxy with the TLS verdict.
No secret is ever printed."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Dict

import pytest

from claw.cli.bedrock_status import check_bedrock_credentials, describe_bedrock_credentials
from claw.cli.doctor_context import DoctorContext
from claw.auth.aws import parse_expiration
from tests.fakes import tinyproxy
from tests.fakes.tls_server import ScriptedHttpServer, make_tls

REPO = Path(__file__).resolve().parents[2]
SECRET = "doctor-secret-access-key-abcdef0123"
TOKEN = "doctor-session-token-9876543210zyx"


def env_for(home: Path, **extra: str) -> Dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "PYTHONPATH": str(REPO),
           "NO_COLOR": "1", "CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "eu-west-1",
           "AWS_EC2_METADATA_DISABLED": "true"}
    env.update(extra)
    return env


def process_profile(home: Path, expiration: str) -> None:
    script = home / "creds.py"
    script.write_text("import json\nprint(json.dumps({'Version': 1, 'AccessKeyId': 'ASIAPROCESS', "
                      f"'SecretAccessKey': {SECRET!r}, 'SessionToken': {TOKEN!r}, 'Expiration': {expiration!r}}}))\n")
    (home / ".aws").mkdir(exist_ok=True)
    (home / ".aws" / "config").write_text(f"[profile dev]\ncredential_process = {sys.executable} {script}\n")


def test_status_names_the_provider_and_the_credential_source(tmp_path):
    from claw.cli.status_cmd import collect_status

    work = tmp_path / "w"
    work.mkdir()
    env = env_for(tmp_path, AWS_ACCESS_KEY_ID="AKIASTATUS", AWS_SECRET_ACCESS_KEY=SECRET, CLAW_CONFIG_HOME=str(tmp_path))
    report = collect_status(str(work), env)
    data = json.dumps(report.to_json())
    assert report.resolved.provider == "bedrock"
    assert report.credentials.summary == ("AWS SigV4 with environment (AWS_ACCESS_KEY_ID), "
                                          "region eu-west-1 (AWS_REGION)")
    assert report.base.url == "https://bedrock-runtime.eu-west-1.amazonaws.com"
    assert SECRET not in data


def test_status_with_an_api_key_and_with_nothing(tmp_path):
    assert describe_bedrock_credentials(env_for(tmp_path, AWS_BEARER_TOKEN_BEDROCK="k" * 20)).method == "bearer"
    none = describe_bedrock_credentials(env_for(tmp_path))
    assert none.method == "none" and not none.usable


def test_doctor_fetches_the_credentials_and_reports_the_expiry(tmp_path):
    process_profile(tmp_path, "2030-01-01T00:00:00Z")
    expiry = parse_expiration("2030-01-01T00:00:00Z")
    ctx = DoctorContext(env=env_for(tmp_path, AWS_PROFILE="dev"))
    ok = check_bedrock_credentials(ctx, clock=lambda: expiry - 86400)
    assert ok.status == "ok" and "credential_process of profile dev" in ok.summary
    assert "expires 2030-01-01 00:00 UTC" in ok.details and "source: credential_process of profile dev" in ok.details
    soon = check_bedrock_credentials(ctx, clock=lambda: expiry - 60)
    assert soon.status == "warn" and "expire in 1 min" in soon.hint
    gone = check_bedrock_credentials(ctx, clock=lambda: expiry + 60)
    assert gone.status == "fail" and "expired" in gone.summary
    text = json.dumps([r.to_dict() for r in (ok, soon, gone)])
    assert SECRET not in text and TOKEN not in text
    offline = check_bedrock_credentials(DoctorContext(env=ctx.env, offline=True))
    assert offline.status == "ok" and "not fetched" in offline.details[0]


def test_doctor_reports_a_failing_source(tmp_path):
    ctx = DoctorContext(env=env_for(tmp_path, AWS_PROFILE="missing"))
    result = check_bedrock_credentials(ctx)
    assert result.status == "fail" and "'missing' was not found" in result.details[0]


@pytest.mark.peer
@pytest.mark.skipif(not tinyproxy.available(), reason="tinyproxy is not installed")
def test_doctor_reaches_bedrock_through_tinyproxy_with_the_private_ca(tmp_path):
    tls = make_tls(tmp_path)
    work = tmp_path / "project"
    work.mkdir()

    async def not_found(request, responder) -> None:
        await responder.send(404, b"", headers=[("Content-Type", "text/plain")])

    async def scenario():
        async with ScriptedHttpServer(not_found, ssl_context=tls.server_context) as server:
            with tinyproxy.Tinyproxy(tmp_path, connect_ports=[server.port]) as proxy:
                env = env_for(tmp_path, ANTHROPIC_BEDROCK_BASE_URL=server.url(), HTTPS_PROXY=proxy.url,
                              CLAW_PROXY_LOOPBACK="1", SSL_CERT_FILE=tls.ca_path, AWS_ACCESS_KEY_ID="AKIADOCTOR",
                              AWS_SECRET_ACCESS_KEY=SECRET, AWS_SESSION_TOKEN=TOKEN)
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "claw", "doctor", "--json", env=env, cwd=str(work),
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                out, err = await asyncio.wait_for(proc.communicate(), 120)
                return server, proxy, proxy.log(), proc.returncode, out.decode(), err.decode()

    server, proxy, log, code, out, err = asyncio.run(scenario())
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["credentials"]["status"] == "ok", out
    assert checks["credentials"]["summary"].startswith("bedrock: AWS SigV4 with environment")
    assert checks["model"]["summary"].startswith("bedrock/eu.anthropic.claude-sonnet-4-5-20250929-v1:0")
    reach = checks["reachability"]
    assert reach["status"] == "ok" and reach["summary"].endswith(f"answered HTTP 404 via {proxy.url} (from HTTPS_PROXY)")
    assert "CONNECT" in log and server.requests[0].method == "HEAD"
    assert SECRET not in out + err and TOKEN not in out + err
