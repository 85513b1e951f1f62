"""`claw status`: the model, permission mode, credentials source, base URL and route, settings files and
the file that won each key, MCP servers and the session --continue would resume; no network, no
credentials needed. In-process with a controlled environment, plus one run through `python -m claw`."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from claw.cli.status_cmd import run

REPO = Path(__file__).resolve().parents[2]
SECRET = "sk-ant-api-STATUS-SECRET"


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def status(project: Path, home: Path, *args: str, **env: str):
    base = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin")}
    base.update(env)
    out, err = io.StringIO(), io.StringIO()
    code = run(["--cwd", str(project), *args], env=base, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def status_json(project: Path, home: Path, *args: str, **env: str) -> dict:
    code, out, err = status(project, home, "--json", *args, **env)
    assert code == 0, out + err
    return json.loads(out)


def test_defaults_in_an_empty_project(project, home):
    data = status_json(project, home)
    assert data["cwd"] == str(project)
    assert data["model"]["qualified"] == "anthropic/claude-sonnet-5-5"
    assert data["model"]["source"] == "default (sonnet)" and data["model"]["context_window"] == 1_000_000
    assert data["permission_mode"] == {"mode": "danger-full-access", "requested": "danger-full-access",
                                       "source": "default for fresh sessions", "error": None}
    assert data["credentials"]["method"] == "none" and data["credentials"]["usable"] is False
    assert data["base_url"]["url"] == "https://api.anthropic.com" and data["base_url"]["source"] == "default"
    assert data["base_url"]["route"] == "direct"
    assert data["settings"]["files"] == [] and data["settings"]["keys"] == {}
    assert data["mcp_servers"] == [] and data["continue_session"] is None
    assert data["sessions_dir"] == str(project / ".claw" / "sessions")


def test_text_output_without_credentials_exits_0(project, home):
    code, out, err = status(project, home)
    assert code == 0, err
    assert "model:            anthropic/claude-sonnet-5-5 (Claude Sonnet 5.5, 1,000,000-token context window)" in out
    assert "chosen by: default (sonnet)" in out
    assert "credentials:      none" in out
    assert "--continue:       no session yet in" in out


def test_model_precedence_names_the_source(project, home):
    settings = write(project / ".claw" / "settings.json", {"model": "haiku"})
    data = status_json(project, home)
    assert data["model"]["qualified"] == "anthropic/claude-haiku-5-5"
    assert data["model"]["source"] == f"settings key model in {settings} (project)"
    data = status_json(project, home, ANTHROPIC_MODEL="opus")
    assert (data["model"]["requested"], data["model"]["source"]) == ("opus", "ANTHROPIC_MODEL")
    data = status_json(project, home, ANTHROPIC_MODEL="opus", CLAW_MODEL="openai/gpt-5")
    assert (data["model"]["qualified"], data["model"]["source"]) == ("openai/gpt-5", "CLAW_MODEL")
    data = status_json(project, home, "--model", "ollama/phi4", CLAW_MODEL="opus")
    assert data["model"]["source"] == "--model" and data["model"]["context_window"] == 16_384


def test_model_from_the_settings_env_block(project, home):
    local = write(project / ".claw" / "settings.local.json", {"env": {"CLAW_MODEL": "opus"}})
    write(project / ".claw" / "settings.json", {"model": "haiku"})
    data = status_json(project, home)
    assert data["model"]["source"] == f"CLAW_MODEL, set by env in {local} (local)"
    code, out, _ = status(project, home)
    assert "(not in effect: CLAW_MODEL wins)" in out


def test_aliases_and_unknown_models(project, home):
    write(project / ".claw.json", {"aliases": {"fast": "openai/gpt-5-mini"}, "model": "fast"})
    data = status_json(project, home)
    assert data["model"]["qualified"] == "openai/gpt-5-mini" and data["model"]["requested"] == "fast"
    data = status_json(project, home, "--model", "my-gateway-model")
    assert data["model"]["known"] is False and data["model"]["context_window"] is None


def test_bad_flags_are_usage_errors(project, home):
    code, _, err = status(project, home, "--model", "openai/")
    assert code == 2 and "names a provider but no model" in err and "hint:" in err
    code, _, err = status(project, home, "--permission-mode", "yolo")
    assert code == 2 and "unknown permission mode" in err
    code, _, err = status(project, home, "--bogus")
    assert code == 2 and "claw status" in err
    out, err = io.StringIO(), io.StringIO()
    assert run(["--cwd", str(project / "missing")], env={}, stdout=out, stderr=err) == 2
    assert "is not a directory" in err.getvalue()


def test_permission_mode_and_its_origin(project, home):
    settings = write(project / ".claw" / "settings.json", {"permissions": {"defaultMode": "plan"}})
    data = status_json(project, home)
    assert data["permission_mode"]["mode"] == "read-only" and data["permission_mode"]["requested"] == "plan"
    assert data["permission_mode"]["source"] == f"settings key permissions.defaultMode in {settings} (project)"
    data = status_json(project, home, "--permission-mode", "acceptEdits")
    assert data["permission_mode"]["mode"] == "workspace-write"
    assert data["permission_mode"]["source"] == "--permission-mode"
    code, out, _ = status(project, home)
    assert "permission mode:  read-only (written plan)" in out


def test_settings_files_in_order_and_the_winner_of_each_key(project, home):
    user = write(home / ".claw" / "settings.json", {"model": "opus", "permissions": {"allow": ["Read"]},
                                                     "apiKeyHelper": "echo x"})
    proj = write(project / ".claw" / "settings.toml", 'model = "haiku"\n[permissions]\ndeny = ["Bash"]\n')
    local = write(project / ".claw" / "settings.local.json", {"env": {"FOO": "1"}})
    data = status_json(project, home, "--settings", '{"model": "sonnet"}',
                       CLAW_CONFIG_HOME=str(home / ".claw"))
    files = data["settings"]["files"]
    assert [(f["scope"], f["path"]) for f in files] == [
        ("user", str(user)), ("project", str(proj)), ("local", str(local)), ("flag", "--settings (inline JSON)")]
    keys = data["settings"]["keys"]
    assert keys["model"]["scope"] == "flag"
    assert [c["scope"] for c in keys["model"]["contributors"]] == ["flag"]  # a later scalar replaces
    assert keys["permissions"]["file"] == str(proj)
    assert [c["scope"] for c in keys["permissions"]["contributors"]] == ["user", "project"]
    assert keys["apiKeyHelper"]["file"] == str(user) and keys["env"]["file"] == str(local)
    code, out, _ = status(project, home, CLAW_CONFIG_HOME=str(home / ".claw"))
    assert "settings files (lowest precedence first; later wins):" in out
    assert f"    permissions   project: {proj} (merged with user)" in out
    files_section = out[out.index("settings files ("):]
    assert files_section.index(str(user)) < files_section.index(str(proj)) < files_section.index(str(local))


def test_settings_error_exits_2_with_the_config_rendering(project, home):
    broken = write(project / ".claw" / "settings.json", '{"model": "opus",}')
    code, out, err = status(project, home)
    assert code == 2 and out == ""
    assert err.startswith(f"claw: invalid JSON in {broken}, line 1 column") and "\nhint: " in err
    code, out, err = status(project, home, "--json")
    data = json.loads(out)
    assert code == 2 and data["error"]["kind"] == "config" and data["error"]["failure_class"] == "config"


def test_warnings_are_shown_not_fatal(project, home):
    write(project / ".claw.json", {"modle": "opus"})
    code, out, err = status(project, home)
    assert code == 0 and "claw: warning:" in err and "did you mean 'model'" in err
    data = status_json(project, home)
    assert any("modle" in w for w in data["settings"]["warnings"])


def test_credentials_are_named_never_shown(project, home):
    data = status_json(project, home, ANTHROPIC_API_KEY=SECRET, ANTHROPIC_AUTH_TOKEN="tok-STATUS-SECRET")
    assert data["credentials"]["method"] == "api_key+auth_token"
    code, out, err = status(project, home, ANTHROPIC_API_KEY=SECRET, ANTHROPIC_AUTH_TOKEN="tok-STATUS-SECRET")
    assert "x-api-key and Authorization: Bearer from ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN" in out
    assert "SECRET" not in out + err + json.dumps(data)


def test_api_key_helper_is_described_not_run(project, home, tmp_path):
    marker = tmp_path / "helper-ran"
    settings = write(project / ".claw" / "settings.json", {"apiKeyHelper": f"touch {marker}; echo k"})
    code, out, _ = status(project, home)
    assert f"x-api-key from apiKeyHelper (set in {settings})" in out
    assert not marker.exists()


def test_saved_login_and_its_expiry(project, home):
    creds = home / ".claw" / "credentials.json"
    creds.write_text(json.dumps({"oauth": {"accessToken": "at-STATUS-SECRET", "refreshToken": "rt-STATUS-SECRET",
                                           "expiresAt": int((time.time() - 60) * 1000), "scopes": []}}))
    os.chmod(creds, 0o600)
    code, out, _ = status(project, home)
    assert f"the saved claw login (OAuth) from saved login in {creds} (expired: refreshed on the next request)" in out
    assert "SECRET" not in out


def test_base_url_and_proxy_route(project, home):
    env = {"ANTHROPIC_BASE_URL": "https://llm.gw.corp/anthropic/", "HTTPS_PROXY": "http://u:pw-SECRET@proxy.corp:3128"}
    data = status_json(project, home, **env)
    assert data["base_url"]["url"] == "https://llm.gw.corp/anthropic"
    assert data["base_url"]["source"] == "ANTHROPIC_BASE_URL"
    assert data["base_url"]["route"] == "http://u:***@proxy.corp:3128 (from HTTPS_PROXY)"
    data = status_json(project, home, NO_PROXY=".gw.corp", **env)
    assert data["base_url"]["route"] == "direct (NO_PROXY match: .gw.corp)"
    code, out, err = status(project, home, **env)
    assert "route:            http://u:***@proxy.corp:3128 (from HTTPS_PROXY)" in out
    assert "pw-SECRET" not in out + err
    data = status_json(project, home, "--model", "ollama/llama3.1", OLLAMA_HOST="0.0.0.0:5000")
    assert data["base_url"]["url"] == "http://127.0.0.1:5000/v1" and data["base_url"]["source"] == "OLLAMA_HOST"
    assert data["credentials"]["method"] == "not_needed"


def test_settings_network_proxy_is_the_route(project, home):
    write(project / ".claw" / "settings.json", {"network": {"proxy": "http://proxy.settings:8080"}})
    data = status_json(project, home)
    assert data["base_url"]["route"] == "http://proxy.settings:8080 (from settings network.proxy)"


def test_invalid_proxy_is_reported_not_fatal(project, home):
    code, out, _ = status(project, home, HTTPS_PROXY="http://proxy:port")
    assert code == 0 and "route:            unknown: " in out and "HTTPS_PROXY" in out


def test_mcp_servers_are_listed_without_connecting(project, home, tmp_path):
    marker = tmp_path / "server-started"
    write(project / ".mcp.json", {"mcpServers": {"time": {"command": "sh", "args": ["-c", f"touch {marker}"]}}})
    write(project / ".claw" / "settings.json", {"mcpServers": {
        "web": {"type": "http", "url": "http://127.0.0.1:9/mcp"}, "bad": {"type": "grpc", "url": "x"}}})
    data = status_json(project, home)
    servers = {s["name"]: s for s in data["mcp_servers"]}
    assert set(servers) == {"time", "web", "bad"}
    assert servers["time"]["transport"] == "stdio" and servers["time"]["scope"] == "mcp.json"
    assert servers["web"]["transport"] == "http" and servers["web"]["error"] is None
    assert servers["bad"]["error"]
    code, out, _ = status(project, home)
    assert "MCP servers (3, not connected by this command):" in out
    assert not marker.exists()


def test_the_session_continue_would_resume(project, home):
    from claw.runtime.session_store import SessionStore

    store = SessionStore(project)
    old = store.create(model="m", cwd=str(project))
    old.append_message({"role": "user", "content": "the old one"})
    old.close()
    os.utime(old.path, (time.time() - 100, time.time() - 100))
    new = store.create(model="m", cwd=str(project))
    new.append_message({"role": "user", "content": "the newest session"})
    new.append_message({"role": "assistant", "content": [{"type": "text", "text": "ok"}]})
    new.close()
    data = status_json(project, home)
    session = data["continue_session"]
    assert session["id"] == new.id and session["title"] == "the newest session" and session["messages"] == 2
    assert session["updated"].endswith("Z")
    assert store.latest().id == new.id
    code, out, _ = status(project, home)
    assert f'--continue:       {new.id} "the newest session"' in out


def test_no_network_access(project, home):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        port = listener.getsockname()[1]
        listener.setblocking(False)
        env = {"ANTHROPIC_BASE_URL": f"https://127.0.0.1:{port}", "HTTPS_PROXY": f"http://127.0.0.1:{port}",
               "CLAW_PROXY_LOOPBACK": "1"}
        assert status(project, home, **env)[0] == 0
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_through_the_main_entry_point(project, home):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "PYTHONPATH": str(REPO),
           "ANTHROPIC_API_KEY": SECRET}
    proc = subprocess.run([sys.executable, "-m", "claw", "status", "--json"], cwd=str(project), env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["cwd"] == str(project)
    assert SECRET not in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "claw", "status", "--help"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "--settings" in proc.stdout and "no network" in proc.stdout.lower()


def test_prompt_caching_and_extra_headers_with_credentials_redacted(project, home):
    write(home / ".claw" / "settings.json", {"customHeaders": {"X-Team": "infra", "X-Gateway-Token": "gw-STATUS-1"}})
    data = status_json(project, home, ANTHROPIC_CUSTOM_HEADERS="Authorization: Bearer STATUS-TOKEN-2",
                       ANTHROPIC_BETAS="b1,b2")
    assert data["requests"] == {"prompt_caching": True, "betas": ["b1", "b2"], "error": None,
                                "headers": ["X-Team: infra", "X-Gateway-Token: [REDACTED]",
                                            "Authorization: [REDACTED]"]}
    code, out, err = status(project, home, DISABLE_PROMPT_CACHING="1", ANTHROPIC_CUSTOM_HEADERS="Host: x")
    assert code == 0 and "prompt caching" not in out  # the header error hides the rest of the line
    assert "extra headers:    unusable: ANTHROPIC_CUSTOM_HEADERS: claw will not send a custom 'Host'" in out
    code, out, err = status(project, home, DISABLE_PROMPT_CACHING="1")
    assert "prompt caching:   off" in out
    assert "gw-STATUS-1" not in out and "STATUS-TOKEN-2" not in json.dumps(data)
