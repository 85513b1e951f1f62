"""Claude on Vertex AI from the command line: a whole tool-using ``claw -p`` turn against the fake
Vertex endpoint (HTTPS, private trustme CA) and the fake Google token endpoint, directly and through
Debian's tinyproxy; secrets kept out of output and session files; ``claw status`` and ``claw doctor``."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("cryptography")
trustme = pytest.importorskip("trustme")

from tests.cli.headless_helpers import isolated_env, run_inprocess, run_subprocess  # noqa: E402
from tests.fakes import tinyproxy  # noqa: E402
from tests.fakes.google_server import GoogleServer, vertex_check  # noqa: E402
from tests.fakes.model_server import ModelServer, reply, tool_use  # noqa: E402

PROJECT = "proj-123"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca.issue_cert("localhost", "127.0.0.1"), str(path)


@pytest.fixture
def work(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "hello.txt").write_text("hi there\n")
    return ws


@pytest.fixture
def google():
    with GoogleServer() as srv:
        yield srv


@pytest.fixture
def vertex(tls, google):
    with ModelServer(tls=tls[0], handler=vertex_check(google, PROJECT, "europe-west1")) as srv:
        yield srv


def vertex_env(vertex, google, tls, home, tmp_path, **extra):
    sa, _ = google.service_account_file(tmp_path / "sa.json", project=PROJECT)
    server = {"CLAUDE_CODE_USE_VERTEX": "1", "GOOGLE_APPLICATION_CREDENTIALS": str(sa),
              "CLOUD_ML_REGION": "global", "VERTEX_REGION_CLAUDE_4_5_SONNET": "europe-west1",
              "ANTHROPIC_VERTEX_BASE_URL": f"https://localhost:{vertex.port}", "SSL_CERT_FILE": tls[1],
              "GCE_METADATA_HOST": "127.0.0.1:9"}
    env = isolated_env(server, home, **extra)
    for name in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CONFIG"):
        env.pop(name, None)
    return env, json.loads(sa.read_text())


def secrets_of(sa, google):
    key_lines = [line for line in sa["private_key"].splitlines() if line and not line.startswith("-----")]
    return key_lines + [sa["private_key_id"]] + list(google.tokens)


def assert_tool_turn(run, vertex, google, work, sa):
    assert run.code == 0, run.stderr
    obj = run.json
    assert obj["result"] == "It says hi." and obj["num_turns"] == 2
    assert obj["tool_results"][0]["tool_name"] == "read_file" and obj["tool_results"][0]["is_error"] is False
    first, second = vertex.requests
    assert first.path.startswith(f"/v1/projects/{PROJECT}/locations/europe-west1/publishers/anthropic/models/"
                                 "claude-sonnet-4-5@20250929:streamRawPredict")
    results = [b for m in second.json["messages"] for b in m["content"] if b.get("type") == "tool_result"]
    assert "hi there" in json.dumps(results)
    assert len(google.grants()) == 1  # one token for both requests
    written = run.stdout + run.stderr + "".join(p.read_text() for p in (work / ".claw").rglob("*.jsonl"))
    for secret in secrets_of(sa, google):
        assert secret not in written


SCRIPT = [reply(tool_uses=[tool_use("read_file", {"path": "hello.txt"})]), reply(text="It says hi.")]


def test_tool_using_turn_direct(vertex, google, tls, home, tmp_path, work, monkeypatch):
    vertex.enqueue(*SCRIPT)
    env, sa = vertex_env(vertex, google, tls, home, tmp_path)
    run = run_inprocess(["-p", "read hello.txt", "--model", "claude-sonnet-4-5", "--output-format", "json"],
                        env, monkeypatch, work)
    assert_tool_turn(run, vertex, google, work, sa)


@pytest.mark.peer
@pytest.mark.skipif(not tinyproxy.available(), reason="tinyproxy is not installed")
def test_tool_using_turn_through_tinyproxy(vertex, google, tls, home, tmp_path, work, monkeypatch):
    vertex.enqueue(*SCRIPT)
    with tinyproxy.Tinyproxy(tmp_path, connect_ports=[vertex.port]) as proxy:
        env, sa = vertex_env(vertex, google, tls, home, tmp_path, HTTPS_PROXY=proxy.url, HTTP_PROXY=proxy.url,
                             CLAW_PROXY_LOOPBACK="1")
        run = run_inprocess(["-p", "read hello.txt", "--model", "claude-sonnet-4-5", "--output-format", "json"],
                            env, monkeypatch, work)
        log = proxy.log()
    assert_tool_turn(run, vertex, google, work, sa)
    assert f"CONNECT localhost:{vertex.port}" in log  # the model requests, tunnelled
    assert f"{google.port}/token" in log  # the token request, forwarded


def test_a_leaked_token_in_model_output_is_redacted(vertex, google, tls, home, tmp_path, work, monkeypatch):
    env, sa = vertex_env(vertex, google, tls, home, tmp_path)

    def echo_token(req):  # a model that repeats the bearer token it was sent (and the key's first line)
        if req.header("authorization") and google.valid(req.header("authorization")[7:]):
            token = req.header("authorization")[7:]
            line = sa["private_key"].splitlines()[1]
            return reply(text=f"token {token} key {line}")
        return None

    checks = vertex_check(google, PROJECT, "europe-west1")
    vertex.handler = lambda req: checks(req) or echo_token(req)
    run = run_inprocess(["-p", "hi", "--model", "claude-sonnet-4-5"], env, monkeypatch, work)
    assert run.code == 0, run.stderr
    assert "token [REDACTED] key [REDACTED]" in run.stdout
    sessions = "".join(p.read_text() for p in (work / ".claw").rglob("*.jsonl"))
    assert "[REDACTED]" in sessions
    for secret in secrets_of(sa, google):
        assert secret not in run.stdout + sessions


def test_status_names_provider_endpoint_and_credential_source(vertex, google, tls, home, tmp_path, work):
    env, _ = vertex_env(vertex, google, tls, home, tmp_path)
    run = run_subprocess(["status", "--json", "--model", "claude-sonnet-4-5"], env, work)
    assert run.code == 0, run.stderr
    data = run.json
    assert data["model"]["provider"] == "vertex" and data["model"]["model"] == "claude-sonnet-4-5@20250929"
    creds = data["credentials"]
    assert creds["provider"] == "vertex" and creds["method"] == "google_adc" and creds["usable"]
    assert "service account claw-test@proj-123.iam.gserviceaccount.com" in creds["summary"]
    assert "GOOGLE_APPLICATION_CREDENTIALS" in creds["summary"]
    assert data["base_url"]["url"] == f"https://localhost:{vertex.port}/v1"
    assert "region europe-west1 from VERTEX_REGION_CLAUDE_4_5_SONNET" in data["base_url"]["source"]
    assert "project proj-123 from project_id in" in data["base_url"]["source"]
    assert data["requests"]["prompt_caching"] is True
    assert not google.requests  # status sends nothing


@pytest.mark.peer
@pytest.mark.skipif(not tinyproxy.available(), reason="tinyproxy is not installed")
def test_doctor_gets_a_token_and_reaches_vertex_through_the_proxy(vertex, google, tls, home, tmp_path, work):
    with tinyproxy.Tinyproxy(tmp_path, connect_ports=[vertex.port]) as proxy:
        env, sa = vertex_env(vertex, google, tls, home, tmp_path, HTTPS_PROXY=proxy.url, HTTP_PROXY=proxy.url,
                             CLAW_PROXY_LOOPBACK="1")
        run = run_subprocess(["doctor", "--json", "--model", "claude-sonnet-4-5"], env, work)
    checks = {c["name"]: c for c in run.json["checks"]}
    creds = checks["credentials"]
    assert creds["status"] == "ok", creds
    assert "claw-test@proj-123" in creds["summary"] and any("expires" in d for d in creds["details"])
    reach = checks["reachability"]
    assert reach["status"] == "ok", reach
    assert proxy.url.split("//")[1] in reach["summary"]
    assert any("certificate was verified" in d for d in reach["details"])
    assert f"localhost:{vertex.port}" in checks["proxy"]["summary"]
    for secret in secrets_of(sa, google):
        assert secret not in run.stdout + run.stderr


def test_doctor_reports_an_untrusted_certificate(vertex, google, tls, home, tmp_path, work):
    env, _ = vertex_env(vertex, google, tls, home, tmp_path)
    env.pop("SSL_CERT_FILE")
    run = run_subprocess(["doctor", "--json", "--model", "claude-sonnet-4-5"], env, work)
    checks = {c["name"]: c for c in run.json["checks"]}
    assert checks["credentials"]["status"] == "ok"  # the token endpoint is plain http here
    assert checks["reachability"]["status"] == "fail"
    assert "TLS verification failed" in checks["reachability"]["summary"]
    assert run.code == 1


def test_missing_project_and_bad_key_file_are_explained(home, tmp_path, work, monkeypatch):
    env = isolated_env({"CLAUDE_CODE_USE_VERTEX": "1", "CLOUDSDK_CONFIG": str(tmp_path / "no-gcloud"),
                        "GCE_METADATA_HOST": "127.0.0.1:9", "CLAUDE_CODE_SKIP_VERTEX_AUTH": "1"}, home)
    for name in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS"):
        env.pop(name, None)
    run = run_inprocess(["-p", "hi"], env, monkeypatch, work)
    assert run.code == 2 and "needs a Google Cloud project" in run.stderr
    assert "ANTHROPIC_VERTEX_PROJECT_ID" in run.stderr
    doctor = run_subprocess(["doctor", "--json", "--offline"], env, work)
    checks = {c["name"]: c for c in doctor.json["checks"]}
    assert checks["proxy"]["status"] == "fail" and "needs a Google Cloud project" in checks["proxy"]["summary"]
    assert checks["reachability"]["status"] == "fail"

    env.pop("CLAUDE_CODE_SKIP_VERTEX_AUTH")
    env.update(ANTHROPIC_VERTEX_PROJECT_ID="p1", GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "missing.json"))
    status = run_subprocess(["status", "--json"], env, work)
    creds = status.json["credentials"]
    assert creds["usable"] is False and "missing.json" in creds["summary"]
    run = run_inprocess(["-p", "hi"], env, monkeypatch, work)
    assert run.code == 2 and "missing.json" in run.stderr
