"""Each `claw doctor` check, on its ok / warn / fail paths, with a controlled environment and temporary
project and config directories (in-process: the checks are plain functions of a DoctorContext)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from claw.cli import doctor as d

SECRET = "sk-ant-api-SECRET-value"


def ctx_for(project: Path, home: Path, settings_arg=None, model=None, offline=True, **env):
    base = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin")}
    base.update(env)
    return d.build_context(base, str(project), settings_arg=settings_arg, model_arg=model, offline=offline)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def everything(result: d.CheckResult) -> str:
    return " ".join([result.summary, *result.details, result.hint or ""])


# -- settings ---------------------------------------------------------------------------------------


def test_settings_none_is_ok(project, home):
    result = d.check_settings(ctx_for(project, home))
    assert result.status == d.OK and result.summary == "no settings files (defaults apply)"


def test_settings_valid_files_are_listed(project, home):
    write(home / ".claw" / "settings.json", '{"model": "opus"}')
    write(project / ".claw" / "settings.toml", 'model = "haiku"\n')
    result = d.check_settings(ctx_for(project, home))
    assert result.status == d.OK and result.summary == "2 settings files, valid"
    assert result.details == (f"loaded user: {home / '.claw' / 'settings.json'}",
                              f"loaded project: {project / '.claw' / 'settings.toml'}")


def test_settings_unknown_key_warns_with_did_you_mean(project, home):
    write(project / ".claw.json", '{"modle": "opus"}')
    result = d.check_settings(ctx_for(project, home))
    assert result.status == d.WARN and result.summary == "1 warning in 1 settings file"
    assert any("modle" in line and "did you mean 'model'" in line for line in result.details)


def test_settings_invalid_mcp_entry_warns(project, home):
    write(project / ".claw" / "settings.json", '{"mcpServers": {"db": {"type": "grpc", "url": "x"}}}')
    result = d.check_settings(ctx_for(project, home))
    assert result.status == d.WARN and result.summary.startswith("1 invalid entry (skipped)")
    assert any(line.startswith("invalid entry: ") and "mcpServers.db.type" in line for line in result.details)


def test_settings_every_error_is_listed_with_file_line_and_key(project, home):
    broken = write(project / ".claw" / "settings.json", '{\n  "model": "opus"\n  "env": {}\n}')
    wrong = write(project / ".claw" / "settings.local.json", '{"permissions": {"allow": "Bash"}, "modle": 1}')
    toml = write(home / ".claw" / "settings.toml", 'model = \n')
    result = d.check_settings(ctx_for(project, home))
    assert result.status == d.FAIL
    assert result.summary.startswith("3 errors, 1 warning in ")
    errors = [line for line in result.details if line.startswith("error: ")]
    assert len(errors) == 3
    text = "\n".join(result.details)
    assert f"invalid JSON in {broken}, line 3 column 3" in text
    assert f"invalid TOML in {toml}, line 1" in text
    assert f"{wrong}: permissions.allow: expected a list of strings" in text
    assert "warning: " in text and "modle" in text
    assert "exit 2" in result.hint


def test_settings_bad_inline_flag_is_reported(project, home):
    result = d.check_settings(ctx_for(project, home, settings_arg='{"model": '))
    assert result.status == d.FAIL and "--settings (inline JSON)" in everything(result)


# -- credentials -----------------------------------------------------------------------------------


def save_login(home: Path, expires_in_s: float, refresh: bool = True, mode: int = 0o600) -> Path:
    path = home / ".claw" / "credentials.json"
    data = {"oauth": {"accessToken": "sk-ant-oat-ACCESS-SECRET", "expiresAt": int((time.time() + expires_in_s) * 1000),
                      "scopes": ["user:inference"]}}
    if refresh:
        data["oauth"]["refreshToken"] = "sk-ant-ort-REFRESH-SECRET"
    path.write_text(json.dumps(data))
    os.chmod(path, mode)
    return path


def test_credentials_api_key_is_named_never_shown(project, home):
    result = d.check_credentials(ctx_for(project, home, ANTHROPIC_API_KEY=SECRET))
    assert result.status == d.OK
    assert result.summary == "anthropic: x-api-key from ANTHROPIC_API_KEY"
    assert SECRET not in everything(result)


def test_credentials_missing_fails_with_login_hint(project, home):
    result = d.check_credentials(ctx_for(project, home))
    assert result.status == d.FAIL and "claw login" in result.hint
    assert result.summary.startswith("anthropic: none")


def test_credentials_saved_login_valid_is_ok(project, home):
    save_login(home, 3600)
    result = d.check_credentials(ctx_for(project, home))
    assert result.status == d.OK, result
    assert "saved claw login" in result.summary
    assert any(line.startswith("saved login expires ") for line in result.details)
    assert "SECRET" not in everything(result)


def test_credentials_expired_login_warns_with_login_hint(project, home):
    save_login(home, -60)
    result = d.check_credentials(ctx_for(project, home))
    assert result.status == d.WARN and "claw login" in result.hint and "refreshed" in result.hint
    save_login(home, -60, refresh=False)
    result = d.check_credentials(ctx_for(project, home))
    assert result.status == d.WARN and "cannot be refreshed: run `claw login`" in result.hint
    assert "SECRET" not in everything(result)


def test_credentials_unused_login_and_world_readable_file_warn(project, home):
    path = save_login(home, 3600, mode=0o644)
    result = d.check_credentials(ctx_for(project, home, ANTHROPIC_API_KEY=SECRET))
    assert result.status == d.WARN and f"{path} is readable" in result.hint
    assert "present but not used (lower precedence): saved login" in result.details


def test_credentials_broken_file_warns(project, home):
    (home / ".claw" / "credentials.json").write_text("{not json")
    result = d.check_credentials(ctx_for(project, home, ANTHROPIC_AUTH_TOKEN="tok-SECRET"))
    assert result.status == d.WARN
    assert any(line.startswith("problem: ") for line in result.details)
    assert "tok-SECRET" not in everything(result)


def test_credentials_follow_the_model_provider(project, home):
    ollama = d.check_credentials(ctx_for(project, home, model="ollama/llama3.1"))
    assert ollama.status == d.OK and ollama.summary == "ollama: none needed (Ollama)"
    openai = d.check_credentials(ctx_for(project, home, model="openai/gpt-5"))
    assert openai.status == d.FAIL and "OPENAI_API_KEY" in openai.hint
    local = d.check_credentials(ctx_for(project, home, model="openai/gpt-5",
                                        OPENAI_BASE_URL="http://127.0.0.1:9/v1"))
    assert local.status == d.OK and local.summary.startswith("openai: none needed")
    keyed = d.check_credentials(ctx_for(project, home, model="xai/grok-4", XAI_API_KEY="xai-SECRET"))
    assert keyed.status == d.OK and keyed.summary == "xai: Authorization: Bearer from XAI_API_KEY"


# -- model -----------------------------------------------------------------------------------------


def test_model_known_reports_the_window(project, home):
    result = d.check_model(ctx_for(project, home, model="claude-opus-4-1"))
    assert result.status == d.OK
    assert result.summary == "anthropic/claude-opus-4-1 (Claude Opus 4.1): 200,000-token context window"
    assert "chosen by: claude-opus-4-1 from --model" in result.details


def test_model_from_settings_and_env_says_where(project, home):
    write(project / ".claw" / "settings.json", '{"model": "haiku"}')
    result = d.check_model(ctx_for(project, home))
    assert f"chosen by: haiku from settings key model in {project / '.claw' / 'settings.json'} (project)" \
        in result.details
    result = d.check_model(ctx_for(project, home, ANTHROPIC_MODEL="opus"))
    assert "chosen by: opus from ANTHROPIC_MODEL" in result.details


def test_model_unknown_warns(project, home):
    result = d.check_model(ctx_for(project, home, model="my-gateway-model"))
    assert result.status == d.WARN and "not in claw's model list" in result.summary
    assert any("context window unknown" in line for line in result.details)


def test_model_malformed_fails(project, home):
    result = d.check_model(ctx_for(project, home, model="openai/"))
    assert result.status == d.FAIL and "names a provider but no model" in result.summary


# -- reachability without the network --------------------------------------------------------------


def test_reachability_offline_is_skipped(project, home):
    result = d.check_reachability(ctx_for(project, home, ANTHROPIC_BASE_URL="https://gw.corp/anthropic"))
    assert result.status == d.OK
    assert result.summary == "skipped (--offline): anthropic base URL https://gw.corp/anthropic " \
                             "(ANTHROPIC_BASE_URL) via direct"


def test_reachability_unusable_base_url_fails(project, home):
    result = d.check_reachability(ctx_for(project, home, model="local/qwen3"))
    assert result.status == d.FAIL and "OPENAI_BASE_URL is not set" in result.summary
    bad = d.check_reachability(ctx_for(project, home, ANTHROPIC_BASE_URL="ftp://x"))
    assert bad.status == d.FAIL and bad.summary.startswith("ANTHROPIC_BASE_URL is not a usable URL")
    ws = d.check_reachability(ctx_for(project, home, ANTHROPIC_BASE_URL="wss://x"))
    assert ws.status == d.FAIL and "http:// or https://" in ws.summary


# -- MCP servers -----------------------------------------------------------------------------------


def test_mcp_none(project, home):
    result = d.check_mcp(ctx_for(project, home))
    assert result.status == d.OK and result.summary == "none configured"


def test_mcp_servers_listed_without_connecting(project, home):
    write(project / ".mcp.json", json.dumps({"mcpServers": {
        "time": {"command": "definitely-not-installed-binary", "args": ["--x"]},
        "web": {"type": "http", "url": "http://127.0.0.1:9/mcp"}}}))
    result = d.check_mcp(ctx_for(project, home))
    assert result.status == d.OK
    assert result.summary == "2 configured (not connected by doctor): time, web"
    assert f"time: stdio definitely-not-installed-binary --x (mcp.json: {project / '.mcp.json'})" in result.details


def test_mcp_invalid_entries_warn(project, home):
    write(project / ".claw" / "settings.json", json.dumps({"mcpServers": {
        "good": {"command": "x"}, "bad": {"type": "grpc", "url": "x"},
        "unset": {"type": "http", "url": "${NOT_SET_ANYWHERE_123}"}}}))
    result = d.check_mcp(ctx_for(project, home))
    assert result.status == d.WARN and result.summary.endswith("; 2 invalid")
    assert any(line.startswith("bad: invalid: ") for line in result.details)
    assert any("NOT_SET_ANYWHERE_123" in line for line in result.details)


def test_mcp_broken_mcp_json_warns(project, home):
    write(project / ".mcp.json", "{broken")
    result = d.check_mcp(ctx_for(project, home))
    assert result.status == d.WARN and any(".mcp.json" in line for line in result.details)


# -- sessions directory ----------------------------------------------------------------------------


def test_sessions_dir_creatable_leaves_nothing_behind(project, home):
    result = d.check_sessions_dir(ctx_for(project, home))
    assert result.status == d.OK and "can be created" in result.summary
    assert not (project / ".claw").exists()


def test_sessions_dir_existing_is_counted(project, home):
    from claw.runtime.session_store import SessionStore

    session = SessionStore(project).create(model="m", cwd=str(project))
    session.append_message({"role": "user", "content": "hi"})
    session.close()
    before = sorted(os.listdir(project / ".claw" / "sessions"))
    result = d.check_sessions_dir(ctx_for(project, home))
    assert result.status == d.OK and result.summary.endswith("is writable (1 session)")
    assert sorted(os.listdir(project / ".claw" / "sessions")) == before


def test_sessions_dir_unwritable_fails_with_the_reason(project, home):
    (project / ".claw").write_text("a file where the directory should be")
    result = d.check_sessions_dir(ctx_for(project, home))
    assert result.status == d.FAIL and "Not a directory" in result.summary
    assert "--cwd" in result.hint


# -- the whole run ---------------------------------------------------------------------------------


def test_json_shape_and_exit_code(project, home, capsys, monkeypatch):
    monkeypatch.chdir(project)
    env = {"HOME": str(home), "ANTHROPIC_API_KEY": SECRET, "PATH": os.environ.get("PATH", "")}
    code = d.run(["--json", "--offline"], env=env)
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["ok"] is True and data["exit_code"] == 0
    assert all(set(c) == {"name", "status", "summary", "details", "hint"} for c in data["checks"])
    env.pop("ANTHROPIC_API_KEY")
    code = d.run(["--json", "--offline"], env=env)
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["ok"] is False and data["status"] == "fail"


def test_a_crashing_check_is_a_failure_not_a_traceback(project, home):
    def check_boom(ctx):
        raise RuntimeError("boom")

    results = d.run_checks(ctx_for(project, home), [check_boom])
    assert results[0].status == d.FAIL and "RuntimeError: boom" in results[0].summary


# -- plugins ---------------------------------------------------------------------------------------


def test_plugins_none_enabled(project, home):
    result = d.check_plugins(ctx_for(project, home))
    assert result.status == d.OK and result.summary == "none enabled"


def test_a_plugin_that_cannot_load_is_reported_next_to_the_good_one(project, home):
    import shutil

    market = Path(__file__).resolve().parents[1] / "fixtures" / "plugins" / "marketplace"
    config = home / ".claw"
    records = {}
    for key, source in (("cc-demo@m", market / "cc-demo"), ("cc-tools@m", market / "cc-tools")):
        copy = config / "plugins" / "cache" / "m" / key.split("@")[0] / "1"
        shutil.copytree(source, copy)
        records[key] = {"version": "1", "source": str(source), "installPath": str(copy), "installedAt": "t"}
    broken = config / "plugins" / "cache" / "m" / "cc-tools" / "1" / ".claude-plugin" / "plugin.json"
    broken.write_text('{"name": "cc-tools", "tools": [{"name": "x"}]}')
    write(config / "plugins" / "installed_plugins.json", json.dumps({"version": 1, "plugins": records}))
    write(config / "settings.json", json.dumps({"enabledPlugins": {"cc-demo@m": True, "cc-tools@m": True,
                                                                   "gone@m": True}}))
    result = d.check_plugins(ctx_for(project, home))
    assert result.status == d.WARN
    assert result.summary == "1 loaded, 1 cannot be loaded", everything(result)
    text = everything(result)
    assert "cc-demo@m: 1.0.0" in text
    assert (f'plugin cc-tools@m was not loaded: {broken}: "tools"[0]: must have required property '
            "'description' (and 2 more problems)") in text
    assert "gone@m is enabled but is not installed" in text and "claw plugin validate" in result.hint
