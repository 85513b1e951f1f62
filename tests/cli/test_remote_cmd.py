"""`claw remote-control ...` as a subprocess (`python -m claw`) against the fake environments server:
the whole lifecycle with its state file, secrets never printed or persisted, the permission response,
failures and their exit codes, and serve/bridge-worker when their modules are missing."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from claw.remote.work_secret import encode_work_secret
from tests.fakes.environments_server import EnvironmentsServer

REPO = Path(__file__).resolve().parents[2]
TOKEN = "bridge-cli-token-0123456789abcdef"


@pytest.fixture
def server():
    with EnvironmentsServer(TOKEN) as running:
        yield running


@pytest.fixture
def project(tmp_path):
    path = tmp_path / "project"
    path.mkdir()
    return path


def claw(project: Path, *args: str, env=None, stdin: str = ""):
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("CLAW_", "ANTHROPIC_")) and k.upper() not in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")}
    environ.update({"PYTHONPATH": str(REPO), "CLAW_CONFIG_HOME": str(project.parent / "home"),
                    "CLAW_BRIDGE_TOKEN": TOKEN, "CLAW_MAX_RETRIES": "0"})
    environ.update(env or {})
    done = subprocess.run([sys.executable, "-m", "claw", "remote-control", *args], cwd=project, env=environ,
                          input=stdin, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


def assert_no_secret(*texts: str, secrets=()):
    for text in texts:
        for secret in (TOKEN, *secrets):
            assert secret not in text


def state(project: Path) -> dict:
    return json.loads((project / ".claw" / "remote.json").read_text())


def test_lifecycle_connect_status_poll_ack_heartbeat_stop_archive_disconnect(server, project):
    seen = []
    code, out, err = claw(project, "connect", "--base-url", server.url, "--name", "box", "--max-sessions", "2")
    seen += [out, err]
    assert code == 0, err
    path = project / ".claw" / "remote.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = state(project)
    env_id = saved["environment_id"]
    assert env_id in out and saved["base_url"] == server.url and saved["machine_name"] == "box"
    registration = server.requests[0].body
    assert registration["machine_name"] == "box" and registration["directory"] == str(project)
    assert registration["max_sessions"] == 2 and "environment_id" not in registration

    code, out, err = claw(project, "status")  # the persisted base URL is used from now on
    seen += [out, err]
    assert code == 0 and env_id in out and "serve: not running" in out and "CLAW_BRIDGE_TOKEN" in out

    code, out, err = claw(project, "poll-work")
    assert code == 0 and "no work" in out
    item = server.add_work(env_id, "session_life")
    code, out, err = claw(project, "poll-work", "--json")
    seen += [out, err]
    assert code == 0, err
    assert json.loads(out)["work"]["id"] == item.id and json.loads(out)["work"]["data"]["id"] == "session_life"
    assert state(project)["work"][item.id]["session_id"] == "session_life"

    code, out, err = claw(project, "ack-work", "--work-id", item.id)
    seen += [out, err]
    assert code == 0 and "acknowledged" in out and server.work[item.id].state == "running"
    code, out, err = claw(project, "heartbeat-work", "--work-id", item.id, "--json")
    seen += [out, err]
    assert code == 0 and json.loads(out)["lease_extended"] is True
    code, out, err = claw(project, "stop-work", "--work-id", item.id, "--force")
    seen += [out, err]
    assert code == 0 and server.work[item.id].stop_force is True and item.id not in state(project)["work"]
    code, out, err = claw(project, "heartbeat-work", "--work-id", item.id,
                          env={"CLAW_WORK_SECRET": item.secret})
    assert code == 1 and "lease_extended: false" in out  # stopped work: the lease is not renewed

    code, out, err = claw(project, "archive", "--session-id", "session_life")
    assert code == 0 and server.archived == ["session_life"] and "already_archived: false" in out
    code, out, err = claw(project, "archive", "--session-id", "session_life")
    assert code == 0 and "already_archived: true" in out

    code, out, err = claw(project, "continue")
    assert code == 0 and server.environments[env_id].reconnects == 1
    assert state(project)["environment_secret"] == server.environments[env_id].secret

    code, out, err = claw(project, "connect")  # connecting again re-uses the environment
    assert code == 0 and state(project)["environment_id"] == env_id
    assert server.requests[-1].body["environment_id"] == env_id

    code, out, err = claw(project, "disconnect")
    seen += [out, err]
    assert code == 0 and server.environments[env_id].deregistered and not path.exists()
    code, out, err = claw(project, "status")
    assert code == 0 and "none connected" in out
    assert_no_secret(*seen, secrets=[item.session_token])
    for rec in server.requests:
        assert rec.headers["anthropic-beta"] and rec.headers["x-environment-runner-version"].startswith("claw/")


def test_state_file_never_holds_the_bridge_token(server, project):
    assert claw(project, "connect", "--base-url", server.url)[0] == 0
    env_id = state(project)["environment_id"]
    server.add_work(env_id)
    assert claw(project, "poll-work")[0] == 0
    text = (project / ".claw" / "remote.json").read_text()
    assert TOKEN not in text and env_id in text


def test_decode_work_secret_never_prints_a_token(server, project):
    token = "sit-very-secret-session-token-42"
    secret = encode_work_secret({"version": 1, "session_ingress_token": token, "api_base_url": "https://api.example.com",
                                 "sources": [], "auth": [{"type": "oauth", "token": "oauth-inner-secret-99"}],
                                 "environment_variables": {"FOO": "bar-value-secret-1"}})
    code, out, err = claw(project, "decode-work-secret", "-", "--session-id", "s_9", stdin=secret)
    assert code == 0, err
    assert_no_secret(out, err, secrets=[token, "oauth-inner-secret-99", "bar-value-secret-1"])
    assert "wss://api.example.com/v1/session_ingress/ws/s_9" in out
    assert "https://api.example.com/v1/code/sessions/s_9" in out and "[REDACTED]" in out
    code, out, err = claw(project, "decode-work-secret", "--json", env={"CLAW_WORK_SECRET": secret})
    assert code == 0 and json.loads(out)["secret"]["session_ingress_token"] == "[REDACTED]"
    assert "{session_id}" in json.loads(out)["sdk_url"]
    code, out, err = claw(project, "decode-work-secret", "-", stdin="bm90IGpzb24")
    assert code == 1 and "does not decode" in err and "Traceback" not in err


def test_send_permission_response_posts_a_control_response(server, project):
    code, out, err = claw(project, "send-permission-response", "--base-url", server.url, "--session-id", "s_p",
                          "--request-id", "req_42", "--deny", "--message", "not on prod")
    assert code == 0, err
    assert server.events["s_p"] == [{"type": "control_response", "response": {
        "subtype": "success", "request_id": "req_42", "response": {"behavior": "deny", "message": "not on prod"}}}]
    rec = server.requests[-1]
    assert (rec.method, rec.path, rec.bearer) == ("POST", "/v1/sessions/s_p/events", TOKEN)
    code, out, err = claw(project, "send-permission-response", "--base-url", server.url, "--session-id", "s_p",
                          "--request-id", "req_43", "--allow", "--updated-input", '{"command": "ls"}')
    assert code == 0 and server.events["s_p"][1]["response"]["response"] == {"behavior": "allow",
                                                                             "updatedInput": {"command": "ls"}}
    code, out, err = claw(project, "send-permission-response", "--session-id", "s", "--request-id", "r")
    assert code == 2 and "--allow" in err


def test_register_worker_uses_the_work_secret_token(server, project):
    env = server.register()
    item = server.add_work(env.id, "s_w")
    code, out, err = claw(project, "register-worker", "--base-url", server.url, "--session-id", "s_w",
                          env={"CLAW_WORK_SECRET": item.secret})
    assert code == 0 and "worker_epoch: 1" in out and server.requests[-1].bearer == item.session_token
    assert_no_secret(out, err, secrets=[item.session_token])


def test_auth_failure_exit_1_with_hint_and_no_token(server, project):
    code, out, err = claw(project, "connect", "--base-url", server.url, env={"CLAW_BRIDGE_TOKEN": "wrong-token-xyz987654"})
    assert code == 1 and "HTTP 401" in err and "hint:" in err and "claw login" in err
    assert "wrong-token-xyz987654" not in out + err and "Traceback" not in err
    code, out, err = claw(project, "connect", "--base-url", server.url, "--json",
                          env={"CLAW_BRIDGE_TOKEN": "wrong-token-xyz987654"})
    assert code == 1 and json.loads(out)["error"]["failure_class"] == "provider_auth"


def test_no_credential_and_not_connected(server, project):
    code, out, err = claw(project, "bridge-credentials", env={"CLAW_BRIDGE_TOKEN": ""})
    assert code == 1 and "none" in out
    code, out, err = claw(project, "poll-work", "--base-url", server.url)
    assert code == 1 and "no environment connected" in err and "claw remote-control connect" in err
    code, out, err = claw(project, "connect", "--base-url", server.url, env={"CLAW_BRIDGE_TOKEN": ""})
    assert code == 1 and "no bridge credential" in err


def test_token_file_and_gone_environment(server, project):
    token_file = project.parent / "bridge-token"
    token_file.write_text(TOKEN + "\n")
    code, out, err = claw(project, "bridge-credentials", "--token-file", str(token_file), env={"CLAW_BRIDGE_TOKEN": ""})
    assert code == 0 and "--token-file" in out and TOKEN not in out
    code, out, err = claw(project, "connect", "--base-url", server.url, "--token-file", str(token_file),
                          env={"CLAW_BRIDGE_TOKEN": ""})
    assert code == 0
    env_id = state(project)["environment_id"]
    server.environments[env_id].deregistered = True
    code, out, err = claw(project, "poll-work")
    assert code == 1 and "HTTP 410" in err
    code, out, err = claw(project, "disconnect")  # gone already: forgetting it still works
    assert code == 0 and "already_gone: true" in out and not (project / ".claw" / "remote.json").exists()


def test_server_errors_are_classified(server, project):
    server.fail_next("POST", r"/v1/environments/bridge$", 503, count=2)
    code, out, err = claw(project, "connect", "--base-url", server.url, "--json", env={"CLAW_MAX_RETRIES": "1"})
    assert code == 1 and json.loads(out)["error"]["failure_class"] == "provider_internal"
    assert len(server.requests) == 2  # CLAW_MAX_RETRIES applies: one retry
    server.fail_next("POST", r"/v1/environments/bridge$", 429, count=1, headers={"Retry-After": "0"})
    assert claw(project, "connect", "--base-url", server.url, env={"CLAW_MAX_RETRIES": "1"})[0] == 0


def test_status_reads_the_serve_state_file(server, project):
    assert claw(project, "connect", "--base-url", server.url)[0] == 0
    serve = {"version": 1, "pid": os.getpid(), "environment_id": state(project)["environment_id"],
             "updated_at": 1_700_000_000_000,
             "items": [{"work_id": "work_a", "session_id": "session_a", "state": "running", "last_tool": "bash",
                        "lines": ["running the tests"], "permissions": [{"request_id": "r1", "tool_name": "bash"}]}]}
    (project / ".claw" / "remote-serve.json").write_text(json.dumps(serve))
    code, out, err = claw(project, "status")
    assert code == 0 and "serve: running" in out
    assert "session_a work work_a: running, last tool bash, permission pending: bash (request r1) | running the tests" in out
    code, out, err = claw(project, "status", "--json")
    assert json.loads(out)["serve_state"]["items"][0]["work_id"] == "work_a"
    serve["pid"] = 2 ** 22 + 12345  # no such process
    (project / ".claw" / "remote-serve.json").write_text(json.dumps(serve))
    assert "serve: not running (pid" in claw(project, "status")[1]


def test_help_and_lazy_subcommands(project):
    code, out, err = claw(project, "--help")
    assert code == 0
    for name in ("connect", "poll-work", "decode-work-secret", "send-permission-response", "serve", "bridge-worker"):
        assert name in out
    code, out, err = claw(project, "stop-work", "--help")
    assert code == 0 and "--force" in out and "--work-id" in out
    code, out, err = claw(project, "bogus")
    assert code == 2 and "invalid choice" in err


def test_missing_serve_module_says_not_available(project, monkeypatch):
    import importlib

    from claw.cli import remote_cmd

    real = importlib.import_module

    def fake_import(name, *args, **kwargs):
        if name == "claw.cli.remote_serve_cmd":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    assert remote_cmd.run(["serve", "--help"]) == 1


# -- claw doctor ---------------------------------------------------------------------------------------


def doctor_check(project: Path, *, offline: bool, env=None):
    from claw.cli.doctor import run_checks
    from claw.cli.doctor_context import build_context
    from claw.cli.doctor_remote import check_remote_control

    base = {"CLAW_CONFIG_HOME": str(project.parent / "home"), "CLAW_BRIDGE_TOKEN": TOKEN, **(env or {})}
    ctx = build_context(base, str(project), offline=offline)
    return run_checks(ctx, [check_remote_control])


def test_doctor_reports_the_connected_environment(server, project):
    assert doctor_check(project, offline=False) == []  # not connected: the check does not apply
    assert claw(project, "connect", "--base-url", server.url)[0] == 0
    env_id = state(project)["environment_id"]
    before = len(server.requests)
    [result] = doctor_check(project, offline=False)
    assert result.status == "ok" and env_id in result.summary and "answered HTTP" in result.summary
    assert any("bridge credential: CLAW_BRIDGE_TOKEN" in d for d in result.details)
    assert server.requests[before].method == "HEAD" and TOKEN not in repr(result)
    [offline] = doctor_check(project, offline=True)
    assert offline.status == "ok" and "--offline" in offline.summary and len(server.requests) == before + 1
    [none] = doctor_check(project, offline=True, env={"CLAW_BRIDGE_TOKEN": ""})
    assert none.status == "fail" and "no bridge credential" in none.summary
    server.stop()
    [down] = doctor_check(project, offline=False)
    assert down.status == "fail" and "cannot reach" in down.summary


def test_doctor_command_lists_the_remote_check(server, project):
    assert claw(project, "connect", "--base-url", server.url)[0] == 0
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("CLAW_", "ANTHROPIC_"))}
    environ.update({"PYTHONPATH": str(REPO), "CLAW_CONFIG_HOME": str(project.parent / "home"),
                    "CLAW_BRIDGE_TOKEN": TOKEN})
    done = subprocess.run([sys.executable, "-m", "claw", "doctor", "--json", "--offline"], cwd=project, env=environ,
                          capture_output=True, text=True, timeout=120)
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["remote control"]["status"] == "ok" and state(project)["environment_id"] in \
        checks["remote control"]["summary"]
    assert TOKEN not in done.stdout + done.stderr


def test_saved_login_is_the_credential_when_nothing_else_is_set(server, project):
    import time

    home = project.parent / "home"
    home.mkdir()
    expires = int((time.time() + 7200) * 1000)
    (home / "credentials.json").write_text(json.dumps({"oauth": {
        "accessToken": TOKEN, "refreshToken": "refresh-secret-0123456789", "expiresAt": expires,
        "scopes": ["user:inference"]}}))
    (home / "credentials.json").chmod(0o600)
    code, out, err = claw(project, "bridge-credentials", env={"CLAW_BRIDGE_TOKEN": ""})
    assert code == 0 and "saved login" in out and str(home / "credentials.json") in out and "expires" in out
    code, out, err = claw(project, "connect", "--base-url", server.url, env={"CLAW_BRIDGE_TOKEN": ""})
    assert code == 0, err
    assert server.requests[-1].bearer == TOKEN
    assert_no_secret(out, err, secrets=["refresh-secret-0123456789"])
