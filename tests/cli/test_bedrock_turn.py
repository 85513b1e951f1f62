"""A whole ``claw -p`` tool-using turn on Amazon Bedrock, as a user runs it (a subprocess): the fake
Bedrock runtime over HTTPS with a private CA checks every signature; once direct, once through Debian's
tinyproxy (a CONNECT tunnel). Secrets stay out of the output and the session file."""

from __future__ import annotations

import pytest

from tests.cli.headless_helpers import isolated_env, run_subprocess
from tests.fakes import tinyproxy as tinyproxy_module
from tests.fakes.bedrock_server import BedrockServer
from tests.fakes.model_server import tool_use
from tests.fakes.tls_server import make_tls

AKID = "AKIDE2EEXAMPLE"
SECRET = "e2e-secret-access-key-0123456789abcdef"
TOKEN = "e2e-session-token-ZYXWVUTSRQ0987654321"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def work(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "hello.txt").write_text("hi there\n")
    return ws


def turn(tls, tmp_path, work, **proxy_env: str):
    script = [{"reply": {"tool_uses": [tool_use("read_file", {"path": "hello.txt"}, id="toolu_b1")]}},
              {"reply": {"text": "It says hi."}}]
    with BedrockServer(script=script, keys={AKID: SECRET}, region="eu-west-1",
                       tls=tls.ca.issue_cert("127.0.0.1")) as srv:
        env = isolated_env({}, tmp_path / "home", CLAUDE_CODE_USE_BEDROCK="1", AWS_REGION="eu-west-1",
                           ANTHROPIC_BEDROCK_BASE_URL=srv.url, AWS_ACCESS_KEY_ID=AKID,
                           AWS_SECRET_ACCESS_KEY=SECRET, AWS_SESSION_TOKEN=TOKEN, SSL_CERT_FILE=tls.ca_path,
                           AWS_EC2_METADATA_DISABLED="true", **proxy_env)
        for name in ("AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            env.pop(name, None)
        run = run_subprocess(["-p", "read hello.txt", "--output-format", "json"], env, work, timeout=120)
        requests = list(srv.requests)
    return run, requests


def check(run, requests, work):
    assert run.code == 0, run.stderr
    obj = run.json
    assert obj["result"] == "It says hi." and obj["num_turns"] == 2
    assert [r.auth for r in requests] == [f"sigv4:{AKID}"] * 2
    assert all(r.model_id == "eu.anthropic.claude-sonnet-4-5-20250929-v1:0" for r in requests)
    results = [b for m in requests[1].json["messages"] for b in m["content"] if b.get("type") == "tool_result"]
    assert "hi there" in str(results[0]["content"])
    sessions = "".join(p.read_text() for p in (work / ".claw").rglob("*.jsonl"))
    assert sessions and "bedrock/" in sessions
    for secret in (SECRET, TOKEN):
        assert secret not in run.stdout and secret not in run.stderr and secret not in sessions


def test_tool_using_turn_direct(tls, tmp_path, work):
    run, requests = turn(tls, tmp_path, work, NO_PROXY="127.0.0.1")
    check(run, requests, work)


@pytest.mark.peer
@pytest.mark.skipif(not tinyproxy_module.available(), reason="tinyproxy is not installed")
def test_tool_using_turn_through_tinyproxy(tls, tmp_path, work):
    with tinyproxy_module.Tinyproxy(tmp_path) as proxy:
        run, requests = turn(tls, tmp_path, work, HTTPS_PROXY=proxy.url, NO_PROXY="", CLAW_PROXY_LOOPBACK="1")
        log = proxy.log()
    check(run, requests, work)
    assert log.count("CONNECT") >= 1 and "127.0.0.1" in log


BEARER = "bedrock-api-key-SHOULD-NEVER-SHOW-123456"


def test_a_bedrock_api_key_a_tool_prints_is_redacted(tls, tmp_path, work):
    """AWS_BEARER_TOKEN_BEDROCK does not look like a secret by its name alone (it does not end in
    _TOKEN): the run's redactor learns it from the Bedrock auth, so a tool that prints it shows
    [REDACTED] in the output and the session file."""
    script = [{"reply": {"tool_uses": [tool_use("bash", {"command": "printenv AWS_BEARER_TOKEN_BEDROCK"},
                                                id="toolu_b2")]}},
              {"reply": {"text": "done"}}]
    with BedrockServer(script=script, bearer_tokens={BEARER}, tls=tls.ca.issue_cert("127.0.0.1")) as srv:
        env = isolated_env({}, tmp_path / "home", CLAUDE_CODE_USE_BEDROCK="1", AWS_REGION="us-east-1",
                           ANTHROPIC_BEDROCK_BASE_URL=srv.url, AWS_BEARER_TOKEN_BEDROCK=BEARER,
                           SSL_CERT_FILE=tls.ca_path, NO_PROXY="127.0.0.1")
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
            env.pop(name, None)
        run = run_subprocess(["-p", "show it", "--output-format", "json", "--permission-mode", "bypassPermissions"],
                             env, work, timeout=120)
        requests = list(srv.requests)
    assert run.code == 0, run.stderr
    assert [r.auth for r in requests] == ["bearer", "bearer"]
    obj = run.json
    assert obj["tool_results"] and "REDACTED" in str(obj["tool_results"][0])
    sessions = "".join(p.read_text() for p in (work / ".claw").rglob("*.jsonl"))
    assert BEARER not in run.stdout and BEARER not in run.stderr and BEARER not in sessions
