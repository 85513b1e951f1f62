"""``claw config list|get|set|unset|add|remove|path`` end to end through ``run(argv)``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from claw.cli.config_cmd import run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def claw_config(layout, capsys):
    def call(*argv):
        argv = list(argv)
        if argv and argv[0] not in ("-h", "--help"):
            argv += ["--cwd", str(layout.project)]  # the top-level parser takes only ACTION and --help
        code = run(argv, env=layout.env)
        out, err = capsys.readouterr()
        return code, out, err

    return call


def _read(path: Path):
    return json.loads(path.read_text())


def test_set_defaults_to_local_and_get_reads_it_back(layout, claw_config):
    code, out, err = claw_config("set", "model", "opus")
    assert (code, err) == (0, "")
    assert out == f'set model = "opus" in {layout.path("local")} (local)\n'
    assert _read(layout.path("local")) == {"model": "opus"}
    assert claw_config("get", "model") == (0, "opus\n", "")
    assert claw_config("get", "model", "--json") == (0, '"opus"\n', "")


def test_set_parses_json_values_else_strings(layout, claw_config):
    claw_config("set", "network.maxRetries", "3", "--scope", "user")
    claw_config("set", "permissions.allow", '["Read", "Bash(ls)"]', "--scope", "user")
    claw_config("set", "env.GREETING", "hello world", "--scope", "user")
    claw_config("set", "mcpServers.time", '{"command": "python3", "args": ["-m", "mcp_server_time"]}', "--scope", "user")
    assert _read(layout.path("user")) == {
        "network": {"maxRetries": 3},
        "permissions": {"allow": ["Read", "Bash(ls)"]},
        "env": {"GREETING": "hello world"},
        "mcpServers": {"time": {"command": "python3", "args": ["-m", "mcp_server_time"]}},
    }
    code, out, _ = claw_config("get", "permissions")
    assert code == 0 and json.loads(out) == {"allow": ["Read", "Bash(ls)"]}
    assert out.startswith("{\n  ")


def test_writes_preserve_unrelated_keys_order_and_format(layout, claw_config):
    original = {"zeta": {"keep": [1, 2]}, "model": "old", "env": {"B": "2", "A": "1"}, "apiKeyHelper": "h"}
    path = layout.write("project", json.dumps(original))
    claw_config("set", "model", "new", "--scope", "project")
    text = path.read_text()
    assert text == json.dumps({**original, "model": "new"}, indent=2) + "\n"
    claw_config("set", "env.C", "3", "--scope", "project")
    assert list(_read(path)["env"]) == ["B", "A", "C"]
    assert _read(path)["zeta"] == {"keep": [1, 2]}


def test_write_is_atomic_keeps_the_mode_and_leaves_no_temp_files(layout, claw_config):
    path = layout.write("project", {"model": "a"})
    os.chmod(path, 0o640)
    inode = path.stat().st_ino
    claw_config("set", "model", "b", "--scope", "project")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode  # replaced, not rewritten in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json"]


def test_new_files_and_directories_are_created_user_and_local_private(layout, claw_config):
    claw_config("set", "model", "u", "--scope", "user")
    claw_config("set", "model", "l", "--scope", "local")
    claw_config("set", "model", "p", "--scope", "project")
    assert stat.S_IMODE(layout.path("user").stat().st_mode) == 0o600
    assert stat.S_IMODE(layout.path("local").stat().st_mode) == 0o600
    assert stat.S_IMODE(layout.path("project").stat().st_mode) == 0o644


def test_a_symlinked_settings_file_stays_a_symlink(layout, claw_config, tmp_path):
    target = tmp_path / "dotfiles" / "claw-settings.json"
    target.parent.mkdir()
    target.write_text('{"model": "a"}')
    layout.home.mkdir(parents=True)
    layout.path("user").symlink_to(target)
    claw_config("set", "model", "b", "--scope", "user")
    assert layout.path("user").is_symlink()
    assert _read(target) == {"model": "b"}


def test_list_shows_sources_and_where_each_key_comes_from(layout, claw_config):
    layout.write("user", {"model": "opus", "permissions": {"allow": ["Read"]}})
    layout.write("project", 'apiKeyHelper = "get-key"\n', "toml")
    layout.write("local", {"permissions": {"allow": ["Edit"]}, "env": {"ANTHROPIC_API_KEY": "sk-ant-xyz",
                                                                        "HTTPS_PROXY": "http://u:pw@p:1"}})
    code, out, err = claw_config("list")
    assert code == 0 and err == ""
    assert out == (
        "# sources, lowest precedence first (later wins):\n"
        f"#   user     {layout.path('user')}\n"
        f"#   project  {layout.path('project', 'toml')}\n"
        f"#   local    {layout.path('local')}\n"
        'model = "opus"  # user\n'
        'permissions.allow = ["Read", "Edit"]  # user, local\n'
        'apiKeyHelper = "get-key"  # project\n'
        'env.ANTHROPIC_API_KEY = "<redacted>"  # local\n'
        'env.HTTPS_PROXY = "http://u:***@p:1"  # local\n'
    )
    code, out, _ = claw_config("list", "--json")
    assert json.loads(out)["env"] == {"ANTHROPIC_API_KEY": "<redacted>", "HTTPS_PROXY": "http://u:***@p:1"}
    code, out, _ = claw_config("list", "--scope", "user")
    assert "permissions.allow = [\"Read\"]  # user\n" in out and "apiKeyHelper" not in out


def test_list_with_nothing_configured(claw_config):
    code, out, _ = claw_config("list")
    assert code == 0 and "no settings files found" in out


def test_get_a_secret_is_redacted_with_a_note(layout, claw_config):
    layout.write("local", {"env": {"MY_TOKEN": "t0ken"}})
    code, out, err = claw_config("get", "env.MY_TOKEN")
    assert (code, out) == (0, "<redacted>\n")
    assert "looks secret" in err and str(layout.path("local")) in err and "t0ken" not in out + err


def test_a_settings_secret_copied_elsewhere_is_hidden_and_not_kept_for_later(layout, claw_config):
    from claw.redact import default_redactor

    key = "gw-live-gateway-0123456789abcdef"
    layout.write("local", {"env": {"GATEWAY_TOKEN": key}, "apiKeyHelper": f"printf %s {key}"})
    code, out, err = claw_config("list")
    assert code == 0 and "apiKeyHelper" in out and key not in out + err
    code, out, _ = claw_config("get", "apiKeyHelper")
    assert code == 0 and key not in out
    assert default_redactor().redact_text(key) == key  # the command's redactor was its own


def test_get_missing_and_unknown_keys(claw_config):
    assert claw_config("get", "model") == (1, "", "claw: model is not set\n")
    code, out, err = claw_config("get", "modle")
    assert code == 2 and out == ""
    assert err.startswith("claw: unknown key modle (did you mean 'model'?)\nhint: known keys: model, ")
    code, out, err = claw_config("get", "network.proxi")
    assert (code, out) == (2, "")
    assert err == ("claw: unknown key network.proxi (did you mean 'proxy'?)\n"
                   "hint: known keys here: proxy, noProxy, caFiles, clientCert, clientKey, timeout, maxRetries\n")
    assert claw_config("get", "env.ANYTHING")[0] == 1  # env names are free
    assert claw_config("get", "mcpServers.x.command")[0] == 1
    assert claw_config("get", "permissions.allow[0]")[0] == 1


def test_set_refuses_unknown_keys_and_bad_values_without_writing(layout, claw_config):
    code, _, err = claw_config("set", "permisions.allow", '["Read"]')
    assert code == 2 and "did you mean 'permissions'?" in err
    code, _, err = claw_config("set", "permissions.alow", '["Read"]')
    assert code == 2
    assert err.startswith("claw: unknown key permissions.alow (did you mean 'allow'?)\n")
    code, _, err = claw_config("set", "permissions.defaultMode", "yolo")
    assert code == 2 and "unknown permission mode 'yolo'" in err and "hint: one of: default," in err
    code, _, err = claw_config("set", "network.maxRetries", "many")
    assert code == 2
    assert err.startswith('claw: network.maxRetries: expected a whole number >= 0, got "many" (string); nothing written\n')
    code, _, err = claw_config("set", "mcpServers.x", '{"type": "grpc"}')
    assert code == 2 and "unknown transport 'grpc'" in err
    assert not layout.path("local").exists()


def test_set_under_a_scalar_is_an_error(layout, claw_config):
    layout.write("local", {"model": "x"})
    code, _, err = claw_config("set", "model.name", "y")
    assert code == 2 and "cannot set model.name: model is str, not an object" in err


def test_a_broken_target_file_is_never_overwritten(layout, claw_config):
    path = layout.write("local", '{"model": "x",}')
    code, out, err = claw_config("set", "model", "y")
    assert code == 2 and out == ""
    assert err.startswith(f"claw: invalid JSON in {path}, line 1 column 15: ")
    assert "will not overwrite" in err
    assert path.read_text() == '{"model": "x",}'


def test_a_broken_project_file_is_exit_2_not_a_traceback(layout, claw_config):
    path = layout.write("project", '{"model": [}')
    code, out, err = claw_config("list")
    assert code == 2 and out == ""
    assert err.startswith(f"claw: invalid JSON in {path}, line 1 column 12: ")
    assert "Traceback" not in err and "\nhint: " in err


def test_warnings_are_printed_once_on_stderr(layout, claw_config):
    path = layout.write("project", {"modle": "x", "mcpServers": {"bad": {"type": "nope"}}})
    code, out, err = claw_config("list")
    assert code == 0
    assert err.splitlines() == [
        f"claw: warning: {path}: unknown key modle (did you mean 'model'?); ignored",
        f"claw: warning: {path}: mcpServers.bad.type: unknown transport 'nope' (MCP server 'bad' is skipped)",
    ]


def test_set_notes_when_a_higher_scope_overrides(layout, claw_config):
    layout.write("local", {"model": "local-wins"})
    code, out, err = claw_config("set", "model", "ignored", "--scope", "user")
    assert code == 0
    assert err == f"claw: note: model is overridden by local: {layout.path('local')}, which wins over user\n"
    layout.write("local", {"permissions": {"allow": ["Read"]}})
    code, out, err = claw_config("set", "permissions.allow", '["Edit"]', "--scope", "user")
    assert (code, err) == (0, "")  # a concatenating list: both files' rules apply


def test_unset(layout, claw_config):
    layout.write("user", {"model": "user-model"})
    layout.write("local", {"model": "x", "permissions": {"defaultMode": "plan"}, "env": {"A": "1"}})
    code, out, err = claw_config("unset", "model")
    assert code == 0 and out == f"unset model in {layout.path('local')} (local)\n"
    assert err == f"claw: note: model is still set by user: {layout.path('user')}\n"
    claw_config("unset", "permissions.defaultMode")
    assert _read(layout.path("local")) == {"env": {"A": "1"}}  # emptied objects go too
    code, _, err = claw_config("unset", "apiKeyHelper")
    assert code == 0 and "not set in" in err


def test_unset_refuses_to_rewrite_toml(layout, claw_config):
    toml = layout.write("project", '# my comments\nmodel = "t"\n', "toml")
    code, _, err = claw_config("unset", "model", "--scope", "project")
    assert code == 2 and f"model is set in {toml}, and claw does not rewrite TOML files" in err
    assert toml.read_text() == '# my comments\nmodel = "t"\n'
    # set writes the JSON twin, which wins over the TOML one
    claw_config("set", "model", "j", "--scope", "project")
    assert toml.read_text() == '# my comments\nmodel = "t"\n'
    assert claw_config("get", "model")[1] == "j\n"
    code, _, err = claw_config("unset", "model", "--scope", "project")
    assert code == 0 and f"model is still set in {toml}" in err


def test_add_and_remove_list_values(layout, claw_config):
    layout.write("project", {"permissions": {"allow": ["Read"]}})
    code, out, _ = claw_config("add", "permissions.allow", "Edit", "Read", "Bash(ls)", "--scope", "project")
    assert code == 0 and out.startswith("added 2 value(s) to permissions.allow")
    assert _read(layout.path("project"))["permissions"]["allow"] == ["Read", "Edit", "Bash(ls)"]
    code, out, err = claw_config("remove", "permissions.allow", "Read", "Nope", "--scope", "project")
    assert code == 1 and out.startswith("removed 1 value(s)") and err == 'claw: not in permissions.allow: "Nope"\n'
    assert _read(layout.path("project"))["permissions"]["allow"] == ["Edit", "Bash(ls)"]
    code, _, err = claw_config("add", "permissions.allow", "Bash(rm")
    assert code == 2 and "is not a permission rule" in err
    code, _, err = claw_config("add", "model", "x", "--scope", "project")  # would make model a list
    assert code == 2 and "model: expected a non-empty string, got [\"x\"] (list); nothing written" in err
    layout.write("local", {"model": "m"})
    code, _, err = claw_config("add", "model", "x")
    assert code == 2 and "model is not a list" in err


def test_path_lists_every_location(layout, claw_config):
    layout.write("project", {})
    code, out, _ = claw_config("path")
    lines = [line.split("\t") for line in out.splitlines()]
    assert [(scope, state) for scope, _, state in lines] == [
        ("user", "missing"), ("user", "missing"), ("user", "missing"), ("project-root", "missing"),
        ("project", "missing"), ("project", "missing"), ("project", "exists"), ("local", "missing"),
        ("local", "missing"), ("local", "missing"),
    ]
    assert [Path(p).name for _, p, _ in lines if "/.claude/" in p] == [
        "settings.json", "settings.json", "settings.local.json"]  # Claude Code's, below claw's own
    code, out, _ = claw_config("path", "--scope", "user")
    assert out.splitlines()[2].split("\t")[1] == str(layout.path("user"))


def test_settings_flag_is_honoured(layout, claw_config):
    layout.write("local", {"model": "local"})
    code, out, _ = claw_config("get", "model", "--settings", '{"model": "flag"}')
    assert out == "flag\n"


def test_help_everywhere(claw_config):
    for argv in (["--help"], ["list", "--help"], ["get", "--help"], ["set", "--help"], ["unset", "--help"],
                 ["add", "--help"], ["remove", "--help"], ["path", "--help"], []):
        code, out, err = claw_config(*argv)
        assert code == 0 and out.startswith("usage: claw config") and err == "", argv


def test_usage_errors_exit_2_with_a_hint(claw_config):
    code, out, err = claw_config("set", "model")
    assert code == 2 and out == ""
    assert err == ("claw: config set: the following arguments are required: VALUE\n"
                   "hint: run 'claw config set --help'\n")
    code, _, err = claw_config("frobnicate")
    assert code == 2 and "invalid choice" in err
    code, _, err = claw_config("set", "model", "x", "--scope", "everywhere")
    assert code == 2 and "invalid choice" in err
    code, _, err = claw_config("get", "a..b")
    assert code == 2 and "empty segment" in err


def test_python_m_claw_config(layout):
    from claw.cli import main

    if "config" not in main.SUBCOMMANDS:
        pytest.skip("claw config is not wired into claw/cli/main.py yet")
    env = {**os.environ, **layout.env, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "claw", "config", "set", "model", "opus", "--scope", "project"],
                          cwd=layout.project, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "claw", "config", "get", "model"],
                          cwd=layout.project, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "opus\n")
    layout.write("local", "{")
    done = subprocess.run([sys.executable, "-m", "claw", "config", "list"],
                          cwd=layout.project, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "invalid JSON" in done.stderr and "Traceback" not in done.stderr
