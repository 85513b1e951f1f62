"""The installed plugin store: which installed plugins a run loads (enabledPlugins, folder trust),
installing from a marketplace (atomic, validated, symlink-safe), uninstalling."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from claw.runtime.plugin_source import PluginSource
from claw.runtime.plugin_store import enabled_plugin_sources
from tests.config.conftest import Layout

pytestmark = pytest.mark.untrusted_folders  # folder trust is part of what is tested here


@pytest.fixture
def layout(tmp_path, monkeypatch) -> Layout:
    for name in list(os.environ):
        if name.startswith("CLAW_"):
            monkeypatch.delenv(name)
    return Layout(tmp_path)


def fake_install(layout: Layout, key: str) -> Path:
    """A record of ``key`` installed, with its copy (what install writes), without a marketplace."""
    name, market = key.split("@")
    copy = layout.home / "plugins" / "cache" / market / name / "1.0.0"
    (copy / ".claude-plugin").mkdir(parents=True)
    (copy / ".claude-plugin" / "plugin.json").write_text(json.dumps({"name": name}))
    record = layout.home / "plugins" / "installed_plugins.json"
    data = json.loads(record.read_text()) if record.exists() else {"version": 1, "plugins": {}}
    data["plugins"][key] = {"version": "1.0.0", "source": "/src", "installPath": str(copy), "installedAt": "t"}
    record.write_text(json.dumps(data))
    return copy


def sources(layout: Layout, trusted=None, **load):
    loaded = layout.load(**load)
    problems: list = []
    found = enabled_plugin_sources(loaded, config_home=layout.home, problems=problems,
                                   trusted=loaded.project_trusted if trusted is None else trusted)
    return found, problems, loaded


def test_user_enabled_plugin_maps_to_its_installed_copy(layout):
    on = fake_install(layout, "demo@mkt")
    fake_install(layout, "off@mkt")
    layout.write("user", {"enabledPlugins": {"demo@mkt": True, "off@mkt": False}})
    found, problems, _ = sources(layout)
    assert found == [PluginSource(on, "installed", "demo@mkt", "user")]
    assert problems == []


def test_a_higher_scope_false_disables_a_user_enablement(layout, monkeypatch):
    fake_install(layout, "demo@mkt")
    layout.write("user", {"enabledPlugins": {"demo@mkt": True}})
    layout.write("local", {"enabledPlugins": {"demo@mkt": False}})
    layout.env["CLAW_TRUST_PROJECT"] = "1"
    assert sources(layout)[0] == []


def test_enabled_but_not_installed_is_a_problem_not_a_crash(layout):
    layout.write("user", {"enabledPlugins": {"ghost@mkt": True}})
    found, problems, _ = sources(layout)
    assert found == []
    assert problems == ["plugin ghost@mkt is enabled but is not installed (run 'claw plugin install ghost@mkt')"]


def test_an_installed_copy_that_vanished_is_a_problem(layout):
    import shutil

    shutil.rmtree(fake_install(layout, "demo@mkt"))
    layout.write("user", {"enabledPlugins": {"demo@mkt": True}})
    found, problems, _ = sources(layout)
    assert found == [] and "has no installed copy" in problems[0]


def test_a_corrupt_install_record_is_a_problem(layout):
    layout.write("user", {"enabledPlugins": {"demo@mkt": True}})
    (layout.home / "plugins").mkdir(parents=True)
    (layout.home / "plugins" / "installed_plugins.json").write_text("{not json")
    found, problems, _ = sources(layout)
    assert found == [] and "installed plugins record is not valid" in problems[0]


@pytest.mark.parametrize("scope", ["project", "local", "project-root"])
def test_project_enablement_is_ignored_in_an_untrusted_folder(layout, scope):
    fake_install(layout, "demo@mkt")
    layout.write(scope, {"enabledPlugins": {"demo@mkt": True}})
    found, problems, loaded = sources(layout)
    assert found == []
    warning = [p.message for p in loaded.warnings if "not trusted" in p.message]
    assert warning and "enabledPlugins" in warning[0]


def test_project_enablement_applies_in_a_trusted_folder(layout):
    copy = fake_install(layout, "demo@mkt")
    layout.write("project", {"enabledPlugins": {"demo@mkt": True}})
    layout.env["CLAW_TRUST_PROJECT"] = "1"
    found, problems, _ = sources(layout)
    assert found == [PluginSource(copy, "installed", "demo@mkt", "project")] and problems == []


def test_claude_code_project_settings_enable_plugins_when_trusted(layout):
    copy = fake_install(layout, "demo@mkt")
    (layout.project / ".claude").mkdir()
    (layout.project / ".claude" / "settings.json").write_text(json.dumps({"enabledPlugins": {"demo@mkt": True}}))
    layout.env["CLAW_TRUST_PROJECT"] = "1"
    found, _, loaded = sources(layout)
    assert found == [PluginSource(copy, "installed", "demo@mkt", "project")]
    assert not loaded.warnings


def test_project_scope_is_refused_when_the_caller_says_untrusted(layout):
    # defence in depth: whatever the load kept, an untrusted run never loads a project-enabled plugin
    fake_install(layout, "demo@mkt")
    layout.write("project", {"enabledPlugins": {"demo@mkt": True}})
    layout.env["CLAW_TRUST_PROJECT"] = "1"
    found, problems, _ = sources(layout, trusted=False)
    assert found == []
    assert "ignored: this folder is not trusted" in problems[0] and "demo@mkt" in problems[0]


def test_a_non_boolean_enablement_is_a_settings_error(layout):
    layout.write("user", {"enabledPlugins": {"demo@mkt": "yes"}})
    loaded = layout.load(strict=False)
    assert any("enabledPlugins" in p.message and "true or false" in p.message for p in loaded.errors)
