"""Where settings are found and which file wins."""

from __future__ import annotations

import json
import os

import pytest

from claw.config.loader import load_settings
from claw.config.sources import candidate_sources, config_home
from claw.errors import ConfigError

SCOPES_IN_ORDER = ["user", "project-root", "project", "local"]


def test_precedence_across_all_five_locations(layout, tmp_path):
    layout.write("user", {"model": "model-user", "apiKeyHelper": "helper-user"})
    layout.write("project-root", {"model": "model-project-root", "apiKeyHelper": "helper-project-root"})
    layout.write("project", {"model": "model-project"})
    layout.write("local", {"model": "model-local"})
    flag = tmp_path / "flag.json"
    flag.write_text(json.dumps({"model": "model-flag"}))

    # Each layer overrides every lower one: peel them off from the top.
    loaded = layout.load(str(flag))
    assert loaded.settings.model == "model-flag"
    assert [s.scope for s in loaded.sources] == SCOPES_IN_ORDER + ["flag"]
    assert loaded.origin("model").scope == "flag"
    assert loaded.origin("apiKeyHelper").scope == "project-root"
    assert loaded.settings.api_key_helper == "helper-project-root"

    expected = ["model-local", "model-project", "model-project-root", "model-user"]
    for scope, model in zip(reversed(SCOPES_IN_ORDER), expected):
        loaded = layout.load()
        assert loaded.settings.model == model
        assert loaded.origin("model").scope == scope
        assert loaded.origin("model").path == str(layout.path(scope))
        layout.path(scope).unlink()
    assert layout.load().settings.model is None
    assert layout.load().sources == ()


def test_keys_from_every_location_are_combined(layout):
    layout.write("user", {"model": "opus"})
    layout.write("project-root", {"aliases": {"fast": "haiku-x"}})
    layout.write("project", {"apiKeyHelper": "get-key"})
    layout.write("local", {"env": {"A": "1"}})
    loaded = layout.load('{"network": {"maxRetries": 2}}')
    s = loaded.settings
    assert (s.model, s.aliases, s.api_key_helper, s.env, s.network.max_retries) == (
        "opus", {"fast": "haiku-x"}, "get-key", {"A": "1"}, 2)
    assert {k: [src.scope for src in v] for k, v in loaded.top_level_origins().items()} == {
        "model": ["user"], "aliases": ["project-root"], "apiKeyHelper": ["project"], "env": ["local"],
        "network": ["flag"],
    }
    assert loaded.origin("network.maxRetries").name == "--settings (inline JSON)"


@pytest.mark.parametrize("scope", ["user", "project", "local"])
def test_toml_and_json_twins_are_both_loaded_and_json_wins(layout, scope):
    layout.write(scope, 'model = "from-toml"\napiKeyHelper = "toml-helper"\n[env]\nT = "toml"\n', "toml")
    layout.write(scope, {"model": "from-json", "env": {"J": "json"}})
    loaded = layout.load()
    assert loaded.settings.model == "from-json"
    assert loaded.settings.api_key_helper == "toml-helper"
    assert loaded.settings.env == {"T": "toml", "J": "json"}
    assert [(s.scope, s.format) for s in loaded.sources] == [(scope, "toml"), (scope, "json")]
    assert loaded.origin("model").format == "json"
    assert loaded.origin("apiKeyHelper").format == "toml"
    assert [s.format for s in loaded.contributors("env")] == ["toml", "json"]


def test_toml_alone_is_an_equal_citizen(layout):
    layout.write("user", 'model = "user-json"', "toml")
    layout.write("local", '[permissions]\ndefaultMode = "plan"\nallow = ["Read"]\n', "toml")
    loaded = layout.load()
    assert loaded.settings.model == "user-json"
    assert loaded.settings.permissions.default_mode == "plan"
    assert loaded.origin("permissions.allow").path == str(layout.path("local", "toml"))


def test_settings_flag_file_json_and_toml(layout, tmp_path):
    layout.write("local", {"model": "local"})
    (tmp_path / "extra.toml").write_text('model = "flag-toml"\n')
    (tmp_path / "extra.json").write_text('{"model": "flag-json"}')
    assert layout.load(str(tmp_path / "extra.toml")).settings.model == "flag-toml"
    assert layout.load(str(tmp_path / "extra.json")).settings.model == "flag-json"
    # A relative --settings path is taken from the project dir (the cwd argument).
    (layout.project / "rel.json").write_text('{"model": "relative"}')
    assert layout.load("rel.json").settings.model == "relative"
    loaded = layout.load('  {"model": "inline"}')
    assert loaded.settings.model == "inline"
    assert loaded.sources[-1].path is None and loaded.sources[-1].scope == "flag"


def test_settings_flag_missing_file_is_an_error(layout):
    with pytest.raises(ConfigError) as info:
        layout.load("nope.json")
    assert info.value.message == f"--settings: file not found: {layout.project / 'nope.json'}"
    assert info.value.exit_code == 2
    assert "inline JSON" in info.value.hint


def test_config_home_default_and_overrides(tmp_path):
    cwd = str(tmp_path)
    assert config_home({"HOME": "/h"}, cwd) == "/h/.claw"
    assert config_home({"HOME": "/h", "CLAW_CONFIG_HOME": ""}, cwd) == "/h/.claw"  # empty means unset
    assert config_home({"CLAW_CONFIG_HOME": "/etc/claw"}, cwd) == "/etc/claw"
    assert config_home({"CLAW_CONFIG_HOME": "conf"}, cwd) == os.path.join(cwd, "conf")


def test_default_home_is_used_when_claw_config_home_is_unset(tmp_path):
    home = tmp_path / "h"
    (home / ".claw").mkdir(parents=True)
    (home / ".claw" / "settings.json").write_text('{"model": "from-home"}')
    project = tmp_path / "p"
    project.mkdir()
    loaded = load_settings(str(project), {"HOME": str(home)})
    assert loaded.settings.model == "from-home"
    assert loaded.sources[0].scope == "user"


def test_file_that_is_both_user_and_project_is_loaded_once(tmp_path):
    # Running claw in the home directory: ~/.claw/settings.json is also ./.claw/settings.json.
    (tmp_path / ".claw").mkdir()
    (tmp_path / ".claw" / "settings.json").write_text('{"permissions": {"allow": ["Read"]}}')
    loaded = load_settings(str(tmp_path), {"HOME": str(tmp_path)})
    assert [s.scope for s in loaded.sources] == ["user"]
    assert loaded.settings.permissions.allow == ("Read",)


def test_project_dir_is_the_cwd_argument_not_the_process_cwd(layout):
    layout.write("project", {"model": "project-model"})
    assert os.getcwd() != str(layout.project)
    assert layout.load().settings.model == "project-model"
    assert load_settings(os.getcwd(), layout.env).settings.model is None


def test_candidate_order_is_documented_order(layout):
    names = [(s.scope, os.path.relpath(s.path, layout.root)) for s in candidate_sources(str(layout.project), layout.env)]
    assert names == [
        ("user", "home/.claude/settings.json"),
        ("user", "home/.claw/settings.toml"),
        ("user", "home/.claw/settings.json"),
        ("project-root", "project/.claw.json"),
        ("project", "project/.claude/settings.json"),
        ("project", "project/.claw/settings.toml"),
        ("project", "project/.claw/settings.json"),
        ("local", "project/.claude/settings.local.json"),
        ("local", "project/.claw/settings.local.toml"),
        ("local", "project/.claw/settings.local.json"),
    ]


def test_only_scopes_reads_just_those_files(layout):
    layout.write("user", {"model": "u"})
    layout.write("local", {"model": "l", "apiKeyHelper": "h"})
    loaded = layout.load(only_scopes=["user"])
    assert loaded.settings.model == "u" and loaded.settings.api_key_helper is None


def test_empty_file_counts_as_empty_object(layout):
    layout.write("project", "  \n")
    layout.write("local", "", "toml")
    loaded = layout.load()
    assert loaded.problems == ()
    assert len(loaded.sources) == 2
