"""``claw plugin`` end to end through ``run(argv)``: marketplaces, install, list, enable, disable,
uninstall, validate, and ``/plugin`` in the REPL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from claw.cli.plugin_cmd import run
from tests.config.conftest import Layout

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "plugins" / "marketplace"
MARKET = "claw-test-market"
DEMO, TOOLS = f"cc-demo@{MARKET}", f"cc-tools@{MARKET}"

pytestmark = pytest.mark.untrusted_folders  # project-scope enablement follows folder trust


@pytest.fixture
def layout(tmp_path, monkeypatch) -> Layout:
    for name in list(os.environ):
        if name.startswith("CLAW_"):
            monkeypatch.delenv(name)
    return Layout(tmp_path)


@pytest.fixture
def market(tmp_path) -> Path:
    root = tmp_path / "mkt"
    shutil.copytree(FIXTURE, root)
    return root


@pytest.fixture
def claw_plugin(layout, capsys):
    def call(*argv):
        code = run([*argv, "--cwd", str(layout.project)] if "--help" not in argv else list(argv), env=layout.env)
        out, err = capsys.readouterr()
        return code, out, err

    return call


def user_settings(layout) -> dict:
    return json.loads(layout.path("user").read_text())


def test_add_install_list_disable_enable_uninstall_reinstall(layout, market, claw_plugin):
    code, out, err = claw_plugin("marketplace", "add", str(market))
    assert (code, err) == (0, "") and out == f"added marketplace {MARKET} (2 plugins) at {market}\n"
    code, out, _ = claw_plugin("marketplace", "list")
    assert code == 0 and f"{DEMO}  1.0.0  A command" in out and f"{TOOLS}  0.2.0" in out

    code, out, err = claw_plugin("install", "cc-demo")
    cache = layout.home / "plugins" / "cache" / MARKET
    assert (code, err) == (0, "")
    assert out == (f"installed {DEMO} 1.0.0 into {cache / 'cc-demo' / '1.0.0'}\n"
                   f"enabled {DEMO} in {layout.path('user')} (user)\n")
    assert claw_plugin("install", TOOLS)[0] == 0
    assert user_settings(layout) == {"enabledPlugins": {DEMO: True, TOOLS: True}}

    code, out, _ = claw_plugin("list")
    assert code == 0
    assert f"{DEMO}  1.0.0  enabled (user)\n  installed from {market / 'cc-demo'} into {cache / 'cc-demo' / '1.0.0'}\n" in out
    assert f"{TOOLS}  0.2.0  enabled (user)\n" in out and "problem" not in out

    assert claw_plugin("disable", "cc-demo")[0] == 0
    assert user_settings(layout)["enabledPlugins"][DEMO] is False
    assert f"{DEMO}  1.0.0  disabled\n" in claw_plugin("list")[1]
    assert claw_plugin("enable", DEMO)[:2] == (0, f"enabled {DEMO} in {layout.path('user')} (user)\n")
    assert f"{DEMO}  1.0.0  enabled (user)\n" in claw_plugin("list")[1]

    assert claw_plugin("uninstall", DEMO)[:2] == (0, f"uninstalled {DEMO}\n")
    assert user_settings(layout) == {"enabledPlugins": {TOOLS: True}}
    assert not (cache / "cc-demo").exists() and DEMO not in claw_plugin("list")[1]
    assert claw_plugin("install", DEMO)[0] == 0
    assert f"{DEMO}  1.0.0  enabled (user)\n" in claw_plugin("list")[1]


def test_list_reports_an_enabled_plugin_that_is_not_installed_and_a_broken_copy(layout, market, claw_plugin):
    claw_plugin("marketplace", "add", str(market))
    claw_plugin("install", "cc-demo")
    layout.write("user", {"enabledPlugins": {DEMO: True, "ghost@elsewhere": True}})
    copy = layout.home / "plugins" / "cache" / MARKET / "cc-demo" / "1.0.0"
    (copy / ".claude-plugin" / "plugin.json").write_text("{broken")
    code, out, _ = claw_plugin("list")
    assert code == 0
    assert "problem: plugin ghost@elsewhere is enabled but is not installed" in out
    assert f"problem: plugin {DEMO} was not loaded: {copy.resolve() / '.claude-plugin' / 'plugin.json'}: not valid JSON" in out


def test_project_scope_enablement_is_ignored_in_an_untrusted_folder(layout, market, claw_plugin):
    claw_plugin("marketplace", "add", str(market))
    code, out, _ = claw_plugin("install", "cc-tools", "--scope", "project")
    assert code == 0 and f"enabled {TOOLS} in {layout.path('project')} (project)" in out
    code, out, _ = claw_plugin("list")
    assert f"{TOOLS}  0.2.0  disabled\n" in out
    assert f"problem: enabledPlugins in {layout.path('project')} ignored: this folder is not trusted" in out
    layout.env["CLAW_TRUST_PROJECT"] = "1"
    assert f"{TOOLS}  0.2.0  enabled (project)\n" in claw_plugin("list")[1]


def test_a_lower_scope_enable_under_a_higher_disable_is_noted(layout, market, claw_plugin):
    claw_plugin("marketplace", "add", str(market))
    claw_plugin("install", "cc-demo")
    layout.env["CLAW_TRUST_PROJECT"] = "1"
    claw_plugin("disable", "cc-demo", "--scope", "local")
    code, out, err = claw_plugin("enable", "cc-demo")
    assert code == 0 and f"enabledPlugins.{DEMO} is overridden by local" in err.replace('"', "")


def test_nothing_installed_and_no_marketplaces(claw_plugin):
    assert claw_plugin("list") == (0, "no plugins installed (see claw plugin --help)\n", "")
    assert claw_plugin("marketplace", "list") == (0, "no marketplaces (claw plugin marketplace add PATH)\n", "")


def test_enable_needs_an_installed_plugin(claw_plugin):
    code, out, err = claw_plugin("enable", "nope@mkt")
    assert code == 1 and out == ""
    assert err == ("claw: plugin 'nope@mkt' is not installed\n"
                   "hint: 'claw plugin list' shows the installed plugins as NAME@MARKETPLACE\n")


def test_install_of_an_invalid_plugin_lists_its_problems(market, claw_plugin, layout):
    (market / "cc-demo" / ".claude-plugin" / "plugin.json").write_text('{"name": "Bad Name"}')
    claw_plugin("marketplace", "add", str(market))
    code, out, err = claw_plugin("install", DEMO)
    assert code == 1 and out == ""
    assert err.startswith(f"claw: cannot install {DEMO}; nothing installed:\n  ")
    assert "must be kebab-case" in err and "hint: fix the plugin (claw plugin validate" in err
    assert not layout.path("user").exists()


@pytest.mark.parametrize("url", ["https://github.com/acme/plugins", "git@github.com:acme/plugins.git"])
def test_network_marketplaces_are_a_usage_error(url, claw_plugin, layout):
    code, out, err = claw_plugin("marketplace", "add", url)
    assert code == 2 and out == ""
    assert f"claw: {url}: not a local marketplace; claw never fetches plugins from the network" in err
    assert "hint: claw installs plugins without the network" in err


def test_marketplace_from_a_local_git_repository(market, claw_plugin, layout):
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "m"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=market,
                       check=True, capture_output=True)
    clone = layout.home / "plugins" / "marketplaces" / MARKET
    assert claw_plugin("marketplace", "add", f"file://{market}")[:2] == (
        0, f"added marketplace {MARKET} (2 plugins) at {clone}\n")
    assert claw_plugin("install", "cc-tools")[0] == 0
    assert claw_plugin("marketplace", "remove", MARKET)[:2] == (0, f"removed marketplace {MARKET}\n")
    assert not clone.exists()
    code, _, err = claw_plugin("marketplace", "remove", MARKET)
    assert code == 1 and "no marketplace named 'claw-test-market'" in err


def test_validate_a_good_marketplace_and_a_good_plugin(market, claw_plugin):
    assert claw_plugin("validate", str(market)) == (0, f"ok: {market} is a valid marketplace\n", "")
    assert claw_plugin("validate", str(market / "cc-tools")) == (0, f"ok: {market / 'cc-tools'} is a valid plugin\n", "")


def test_validate_prints_every_problem_and_exits_1(market, claw_plugin):
    (market / "cc-demo" / ".claude-plugin" / "plugin.json").write_text('{\n  "name": "cc-demo",\n  "version": 1,\n}')
    data = json.loads((market / ".claude-plugin" / "marketplace.json").read_text())
    data["plugins"].append({"name": "escape", "source": "../../etc"})
    (market / ".claude-plugin" / "marketplace.json").write_text(json.dumps(data))
    code, out, err = claw_plugin("validate", str(market))
    lines = out.splitlines()
    assert code == 1 and err == f"claw: 2 problems in {market}\n"
    assert lines[0].startswith("plugin cc-demo: ") and "line 4" in lines[0]  # in the marketplace's order
    assert lines[1] == "plugin escape: source '../../etc' leaves the marketplace directory"
    code, out, _ = claw_plugin("validate", str(market / "cc-demo"))
    assert code == 1 and "line 4" in out


def test_validate_reports_a_symlink_that_install_would_refuse(market, claw_plugin):
    os.symlink("/etc/hostname", market / "cc-tools" / "tools" / "host")
    for path in (market, market / "cc-tools"):
        code, out, _ = claw_plugin("validate", str(path))
        assert code == 1 and "tools/host: a symlink to /etc/hostname, outside the plugin" in out


def test_validate_a_directory_that_is_neither(tmp_path, claw_plugin):
    code, out, err = claw_plugin("validate", str(tmp_path))
    assert code == 1 and "no .claude-plugin/marketplace.json or .claude-plugin/plugin.json" in out


@pytest.mark.parametrize("argv", [["--help"], ["install", "--help"], ["list", "--help"], ["enable", "--help"],
                                  ["disable", "--help"], ["uninstall", "--help"], ["validate", "--help"],
                                  ["marketplace", "--help"], ["marketplace", "add", "--help"]])
def test_every_subcommand_has_help(argv, claw_plugin):
    code, out, err = claw_plugin(*argv)
    assert code == 0 and out.startswith("usage: claw plugin") and err == ""


def test_usage_errors_exit_2(claw_plugin):
    code, out, err = claw_plugin("install")
    assert code == 2 and "hint: run 'claw plugin install --help'" in err
    code, _, err = claw_plugin("enable", "x@m", "--scope", "everywhere")
    assert code == 2 and "invalid choice" in err


def test_claw_plugin_is_a_subcommand(layout, market):
    env = dict(os.environ, **layout.env)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, "-m", "claw", "--help"], env=env, capture_output=True, text=True)
    assert "  plugin      add local marketplaces" in done.stdout
    done = subprocess.run([sys.executable, "-m", "claw", "plugin", "validate", str(market)], env=env,
                          capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, f"ok: {market} is a valid marketplace\n")


def test_slash_plugin_in_the_repl_shows_the_list(layout, market, claw_plugin, monkeypatch, capsys):
    from claw.cli import slash

    claw_plugin("marketplace", "add", str(market))
    claw_plugin("install", "cc-demo")
    monkeypatch.setenv("CLAW_CONFIG_HOME", str(layout.home))
    monkeypatch.chdir(layout.project)
    slash.run_slash(object(), "/plugin")
    assert f"{DEMO}  1.0.0  enabled (user)" in capsys.readouterr().out
    slash.run_slash(object(), "/plugin disable cc-demo")
    assert f"disabled {DEMO}" in capsys.readouterr().out
    assert user_settings(layout)["enabledPlugins"][DEMO] is False


def test_installed_plugins_are_used_by_a_run_and_disabled_ones_are_not(tmp_path, market, monkeypatch):
    from tests.cli.headless_helpers import isolated_env, run_inprocess
    from tests.fakes.model_server import ModelServer, reply, tool_use

    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    base = isolated_env({}, home)
    for argv in (["marketplace", "add", str(market)], ["install", "cc-demo"], ["install", "cc-tools"]):
        assert run(argv + ["--cwd", str(work)], env=base) == 0
    shutil.rmtree(market)  # runs use the installed copies only
    script = [reply(tool_uses=[tool_use("word_count", {"text": "one two three"}, id="c")]), reply(text="hi Ann")]
    with ModelServer(script) as srv:
        done = run_inprocess(["-p", "/cc-demo:hello Ann", "--output-format", "json"],
                             isolated_env(srv.env(), home), monkeypatch, work)
        first, second = srv.requests[0].json, srv.requests[1].json
    assert done.code == 0, done.stderr
    content = first["messages"][0]["content"]
    assert [b["text"] for b in content] == ["Say hello to Ann from the cc-demo plugin.\n"]
    [result] = [b for m in second["messages"] if isinstance(m["content"], list) for b in m["content"]
                if b.get("type") == "tool_result"]
    text = result["content"] if isinstance(result["content"], str) else result["content"][0]["text"]
    assert text == "3 words"

    assert run(["disable", "cc-tools", "--cwd", str(work)], env=base) == 0
    with ModelServer([reply(text="ok")]) as srv:
        done = run_inprocess(["-p", "hi", "--output-format", "json"], isolated_env(srv.env(), home), monkeypatch, work)
        offered = {t["name"] for t in srv.requests[0].json["tools"]}
    assert done.code == 0 and "word_count" not in offered


def test_mcp_list_and_doctor_show_the_enabled_plugins_servers(layout, market, claw_plugin, capsys):
    from claw.cli import doctor
    from claw.cli.mcp_cmd import run as mcp_run

    assert claw_plugin("marketplace", "add", str(market))[0] == 0
    assert claw_plugin("install", "cc-demo")[0] == 0
    env = dict(layout.env, PLUGIN_PYTHON=sys.executable, PATH=os.environ["PATH"])
    copy = layout.home / "plugins" / "cache" / MARKET / "cc-demo" / "1.0.0"
    assert mcp_run(["list", "--cwd", str(layout.project), "--timeout", "60"], env=env) == 0
    out = capsys.readouterr().out
    assert out.startswith("plugin:cc-demo:demo: ") and f"(stdio, from plugin cc-demo: {copy}" in out, out
    assert "connected (" in out, out
    assert mcp_run(["list", "--cwd", str(layout.project), "--strict-mcp-config"], env=env) == 0
    assert "plugin:cc-demo" not in capsys.readouterr().out
    result = doctor.check_mcp(doctor.build_context(env, str(layout.project), offline=True))
    assert result.summary.endswith("plugin:cc-demo:demo") and any(
        line.startswith("plugin:cc-demo:demo: stdio") and "(from plugin cc-demo: " in line for line in result.details)
    assert claw_plugin("disable", "cc-demo")[0] == 0
    assert mcp_run(["list", "--cwd", str(layout.project)], env=env) == 0
    assert "plugin:cc-demo" not in capsys.readouterr().out
