"""Whole agent runs of the built dist/claw.pyz on every supported Python, against the scripted model
server: a tool round trip in each output format, the embedding protocol over stdin/stdout, a session
resumed by a second process, a TLS model endpoint trusted through SSL_CERT_FILE, and a settings file in
TOML (the vendored tomli on 3.9 and 3.10)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.util import SUPPORTED, python_for, run_claw
from tests.fakes.model_server import ModelServer, reply, tool_use


@pytest.fixture
def workspace(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("alpha\nbeta\n")
    return ws


def _env(srv, tmp_path, **extra):
    env = dict(srv.env(), CLAW_CONFIG_HOME=str(tmp_path / "home"), HOME=str(tmp_path / "home"))
    env.update(extra)
    return env


@pytest.mark.parametrize("version", SUPPORTED)
def test_tool_round_trip_json_and_resume(version, claw_pyz, workspace, tmp_path):
    python = python_for(version)
    script = [reply(tool_uses=[tool_use("read_file", {"path": "notes.txt"}),
                               tool_use("bash", {"command": "echo from-bash"})]),
              reply(text="notes say alpha"), reply(text="second turn")]
    with ModelServer(script) as srv:
        first = run_claw(python, "-p", "read the notes", "--output-format", "json", cwd=workspace,
                         env=_env(srv, tmp_path))
        assert first.returncode == 0, first.stderr
        obj = json.loads(first.stdout)
        assert obj["result"] == "notes say alpha" and obj["num_turns"] == 2
        outputs = {r["tool_name"]: r["output"] for r in obj["tool_results"]}
        assert "alpha" in outputs["read_file"] and "from-bash" in outputs["bash"]
        second = run_claw(python, "-p", "and then?", "--continue", "--output-format", "json", cwd=workspace,
                          env=_env(srv, tmp_path))
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout)["session_id"] == obj["session_id"]
        assert len(srv.requests[2].json["messages"]) == 5


@pytest.mark.parametrize("version", SUPPORTED)
def test_stream_json_in_and_out(version, claw_pyz, workspace, tmp_path):
    python = python_for(version)
    lines = [json.dumps({"type": "user", "message": {"role": "user", "content": "hi"}}),
             json.dumps({"type": "user", "message": {"role": "user", "content": "again"}})]
    with ModelServer([reply(text="one"), reply(text="two")]) as srv:
        run = run_claw(python, "--input-format", "stream-json", "--output-format", "stream-json",
                       cwd=workspace, env=_env(srv, tmp_path), input="\n".join(lines) + "\n")
    assert run.returncode == 0, run.stderr
    out = [json.loads(line) for line in run.stdout.splitlines()]
    results = [o for o in out if o["type"] == "result"]
    assert [r["result"] for r in results] == ["one", "two"]
    assert out[0]["type"] == "system" and out[0]["subtype"] == "init"


@pytest.mark.parametrize("version", SUPPORTED)
def test_tls_endpoint_with_private_ca_and_toml_settings(version, claw_pyz, workspace, tmp_path):
    trustme = pytest.importorskip("trustme")
    python = python_for(version)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file = tmp_path / "corp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    (workspace / ".claw").mkdir()
    (workspace / ".claw" / "settings.toml").write_text('model = "claude-sonnet-4-5"\n[env]\nCLAW_E2E = "1"\n')
    with ModelServer([reply(text="over tls")], tls=cert) as srv:
        run = run_claw(python, "-p", "hi", "--output-format", "json", cwd=workspace,
                       env=_env(srv, tmp_path, SSL_CERT_FILE=str(ca_file)))
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["model"] == "claude-sonnet-4-5"
        untrusted = run_claw(python, "-p", "hi", "--output-format", "json", cwd=workspace,
                             env=_env(srv, tmp_path, CLAW_MAX_RETRIES="0"))
    err = json.loads(untrusted.stdout)["error"]
    assert untrusted.returncode == 1
    assert err["failure_class"] == "provider_transport" and "127.0.0.1" in err["message"]


@pytest.mark.parametrize("version", SUPPORTED)
def test_vertex_ai_turn_with_a_service_account(version, claw_pyz, workspace, tmp_path):
    """Vertex AI from the .pyz: the service-account JWT signed by claw's own RSA code on this Python,
    verified by the fake Google token endpoint, and a tool round trip over HTTPS with a private CA."""
    pytest.importorskip("cryptography")
    trustme = pytest.importorskip("trustme")
    from tests.fakes.google_server import GoogleServer, vertex_check

    python = python_for(version)
    ca = trustme.CA()
    ca_file = tmp_path / "corp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    script = [reply(tool_uses=[tool_use("read_file", {"path": "notes.txt"})]), reply(text="alpha it is")]
    with GoogleServer() as google, ModelServer(script, tls=ca.issue_cert("localhost")) as srv:
        srv.handler = vertex_check(google, "proj-e2e", "us-east5")
        sa, _ = google.service_account_file(tmp_path / "sa.json", project="proj-e2e")
        env = {"CLAUDE_CODE_USE_VERTEX": "1", "GOOGLE_APPLICATION_CREDENTIALS": str(sa),
               "ANTHROPIC_VERTEX_BASE_URL": f"https://localhost:{srv.port}", "SSL_CERT_FILE": str(ca_file),
               "CLAW_CONFIG_HOME": str(tmp_path / "home"), "HOME": str(tmp_path / "home"),
               "NO_PROXY": "127.0.0.1,localhost", "CLOUD_ML_REGION": None, "GOOGLE_CLOUD_PROJECT": None,
               "GCLOUD_PROJECT": None, "VERTEX_REGION_CLAUDE_5_5_SONNET": None, "CLAUDE_CODE_SKIP_VERTEX_AUTH": None}
        run = run_claw(python, "-p", "read notes", "--output-format", "json", cwd=workspace, env=env)
    assert run.returncode == 0, run.stderr
    obj = json.loads(run.stdout)
    assert obj["result"] == "alpha it is" and obj["num_turns"] == 2
    assert len(google.grants()) == 1 and len(srv.requests) == 2


@pytest.mark.parametrize("version", SUPPORTED)
def test_a_plugin_manifest_tool_from_plugin_dir(version, claw_pyz, workspace, tmp_path):
    # The plugin loader and manifest tools run from the archive's bytecode on every Python.
    from tests.cli.headless_helpers import ROOT

    plugin = ROOT / "tests" / "fixtures" / "plugins" / "marketplace" / "cc-tools"
    script = [reply(tool_uses=[tool_use("word_count", {"text": "one two three"})]), reply(text="three words")]
    with ModelServer(script) as srv:
        run = run_claw(python_for(version), "-p", "count", "--output-format", "json", "--plugin-dir", str(plugin),
                       cwd=workspace, env=_env(srv, tmp_path))
    assert run.returncode == 0, run.stderr
    obj = json.loads(run.stdout)
    assert obj["result"] == "three words"
    assert [r["tool_name"] for r in obj["tool_results"]] == ["word_count"]
    assert "3" in obj["tool_results"][0]["output"]
    assert "word_count" in [t["name"] for t in srv.requests[0].json["tools"]]
