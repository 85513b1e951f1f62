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
    assert problems == [f"enabledPlugins in {layout.path(scope)} ignored: this folder is not trusted "
                        "(run 'claw trust' in the folder)"]
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


# -- marketplaces and installing ---------------------------------------------------------------------

import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

from claw.errors import ClawError, UsageError  # noqa: E402
from claw.runtime import plugin_marketplace as pm  # noqa: E402
from claw.runtime import plugin_store as ps  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "plugins" / "marketplace"
MARKET = "claw-test-market"


@pytest.fixture
def market(tmp_path) -> Path:
    root = tmp_path / "mkt"
    shutil.copytree(FIXTURE, root, symlinks=True)
    return root


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "config-home"


def git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=cwd,
                   check=True, capture_output=True)


def git_repo(root: Path) -> Path:
    git("init", "-q", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-qm", "marketplace", cwd=root)
    return root


def add(spec, home, env=None):
    return pm.add_marketplace(str(spec), home, cwd="/", env=os.environ if env is None else env)


def record(home: Path) -> dict:
    return json.loads((home / "plugins" / "installed_plugins.json").read_text())["plugins"]


def test_a_directory_marketplace_is_used_in_place_and_both_plugins_install(market, home):
    found = add(market, home)
    assert (found.name, [e.name for e in found.plugins], found.problems) == (MARKET, ["cc-demo", "cc-tools"], ())
    known = pm.known_marketplaces(home)[MARKET]
    assert known["installLocation"] == str(market.resolve())
    assert known["source"] == {"source": "directory", "path": str(market.resolve())}
    demo = ps.install("cc-demo", home)  # NAME alone: exactly one marketplace lists it
    tools = ps.install(f"cc-tools@{MARKET}", home)
    assert demo.path == home / "plugins" / "cache" / MARKET / "cc-demo" / "1.0.0"
    assert tools.path == home / "plugins" / "cache" / MARKET / "cc-tools" / "0.2.0"
    assert (demo.path / "commands" / "hello.md").read_bytes() == (market / "cc-demo" / "commands" / "hello.md").read_bytes()
    assert os.access(demo.path / "hooks" / "mark.sh", os.X_OK)
    entry = record(home)[f"cc-demo@{MARKET}"]
    assert entry["version"] == "1.0.0" and entry["source"] == str(market.resolve() / "cc-demo")
    assert entry["installPath"] == str(demo.path) and entry["installedAt"].endswith("Z")
    assert oct((home / "plugins" / "installed_plugins.json").stat().st_mode & 0o777) == "0o600"


def test_a_git_marketplace_is_cloned_from_a_file_url(market, home):
    git_repo(market)
    found = add(f"file://{market}", home)
    clone = home / "plugins" / "marketplaces" / MARKET
    assert found.root == clone and (clone / ".git").is_dir()
    assert pm.known_marketplaces(home)[MARKET]["source"] == {"source": "git", "url": f"file://{market}"}
    shutil.rmtree(market)  # the clone is what installs
    assert ps.install(f"cc-tools@{MARKET}", home).path.is_dir()
    pm.remove_marketplace(MARKET, home)
    assert not clone.exists() and pm.known_marketplaces(home) == {}
    assert ps.installed_plugins(home)  # plugins installed from it stay installed


def test_a_file_url_of_a_plain_directory_is_used_in_place(market, home):
    assert add(f"file://{market}", home).root == market.resolve()


def test_a_bare_repository_path_is_cloned(market, tmp_path, home):
    git_repo(market)
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(market), str(bare)], check=True)
    assert add(bare, home).root == home / "plugins" / "marketplaces" / MARKET


def test_git_cannot_reach_the_network_even_through_a_url_rewrite(market, tmp_path, home):
    git_repo(market)
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(f'[url "https://example.invalid/"]\n\tinsteadOf = file://{market}\n')
    env = dict(os.environ, GIT_CONFIG_GLOBAL=str(gitconfig))
    with pytest.raises(ClawError, match="git clone of .* failed.*not allowed"):
        add(f"file://{market}", home, env)
    assert not (home / "plugins" / "known_marketplaces.json").exists()
    assert [p.name for p in (home / "plugins" / "marketplaces").iterdir()] == []


@pytest.mark.parametrize("url", ["https://github.com/acme/plugins", "http://example.com/m.git",
                                 "git@github.com:acme/plugins.git", "ssh://host/repo.git"])
def test_network_marketplaces_are_refused(url, home):
    with pytest.raises(UsageError, match="never fetches plugins from the network") as caught:
        add(url, home)
    assert "directory" in caught.value.hint and not home.exists()


def test_a_directory_without_a_marketplace_is_refused(tmp_path, home):
    with pytest.raises(ClawError, match="no .claude-plugin/marketplace.json there"):
        add(tmp_path, home)


def test_install_names_the_marketplace_when_several_list_the_plugin(market, tmp_path, home):
    other = tmp_path / "other"
    shutil.copytree(market, other)
    data = json.loads((other / pm.MARKETPLACE_JSON).read_text())
    (other / pm.MARKETPLACE_JSON).write_text(json.dumps(dict(data, name="other")))
    add(market, home)
    add(other, home)
    with pytest.raises(ClawError, match="several marketplaces: claw-test-market, other"):
        ps.install("cc-demo", home)
    assert ps.install("cc-demo@other", home).key == "cc-demo@other"
    with pytest.raises(ClawError, match="no plugin 'nope' in marketplace 'other'"):
        ps.install("nope@other", home)
    with pytest.raises(ClawError, match="no marketplace named 'elsewhere'"):
        ps.install("cc-demo@elsewhere", home)


def test_an_invalid_plugin_is_refused_with_its_problems_and_nothing_installed(market, home):
    (market / "cc-demo" / ".claude-plugin" / "plugin.json").write_text('{"version": "1.0.0"}')
    add(market, home)
    with pytest.raises(ClawError) as caught:
        ps.install("cc-demo", home)
    assert "nothing installed" in caught.value.message and '"name" is required' in caught.value.message
    assert not (home / "plugins" / "cache").exists() and not (home / "plugins" / "installed_plugins.json").exists()


def test_symlinks_inside_the_plugin_are_copied_as_links(market, home):
    os.symlink("commands/hello.md", market / "cc-demo" / "hello-link.md")
    add(market, home)
    copy = ps.install("cc-demo", home).path
    assert os.readlink(copy / "hello-link.md") == "commands/hello.md"
    assert (copy / "hello-link.md").read_text() == (copy / "commands" / "hello.md").read_text()


@pytest.mark.parametrize("target", ["/etc/hostname", "../../cc-tools/tools/tool.py", "../../../outside"])
def test_symlinks_leading_outside_the_plugin_refuse_the_install(market, home, target):
    os.symlink(target, market / "cc-demo" / "commands" / "leak.md")
    add(market, home)
    with pytest.raises(ClawError, match=f"commands/leak.md: a symlink to {target}, outside the plugin"):
        ps.install("cc-demo", home)
    assert not (home / "plugins" / "cache").exists()


def test_a_failure_mid_copy_leaves_no_half_plugin_and_keeps_the_old_copy(market, home, monkeypatch):
    add(market, home)
    old = ps.install("cc-demo", home)
    before = record(home)
    manifest = market / "cc-demo" / ".claude-plugin" / "plugin.json"
    manifest.write_text(manifest.read_text().replace('"1.0.0"', '"1.1.0"'))
    copied = []
    real = shutil.copyfile

    def copy_then_fail(src, dst, **kw):
        if len(copied) == 3:
            raise OSError(28, "No space left on device")
        copied.append(src)
        return real(src, dst, **kw)

    monkeypatch.setattr(shutil, "copyfile", copy_then_fail)
    with pytest.raises(ClawError, match="cannot install cc-demo@claw-test-market: .*No space left"):
        ps.install("cc-demo", home)
    parent = old.path.parent
    assert sorted(p.name for p in parent.iterdir()) == ["1.0.0"]  # no 1.1.0, no temporary directory
    assert (old.path / "commands" / "hello.md").is_file() and record(home) == before


def test_reinstalling_a_new_version_replaces_the_old_copy(market, home):
    add(market, home)
    ps.install("cc-demo", home)
    manifest = market / "cc-demo" / ".claude-plugin" / "plugin.json"
    manifest.write_text(manifest.read_text().replace('"1.0.0"', '"1.1.0"'))
    new = ps.install("cc-demo", home)
    assert [p.name for p in new.path.parent.iterdir()] == ["1.1.0"]
    assert record(home)[f"cc-demo@{MARKET}"]["version"] == "1.1.0"


def test_uninstall_removes_the_copy_and_the_record(market, home):
    add(market, home)
    copy = ps.install("cc-demo", home).path
    ps.install("cc-tools", home)
    key = ps.resolve_installed("cc-demo", home)
    ps.uninstall(key, home)
    assert not copy.parent.exists() and list(record(home)) == [f"cc-tools@{MARKET}"]
    with pytest.raises(ClawError, match="not installed"):
        ps.resolve_installed("cc-demo", home)


# -- checking a marketplace ----------------------------------------------------------------------------

def write_market(market: Path, plugins, **top):
    data = {"name": MARKET, "owner": {"name": "t"}, "plugins": plugins}
    data.update(top)
    (market / pm.MARKETPLACE_JSON).write_text(json.dumps(data, indent=2))


def test_check_marketplace_reports_bad_json_with_its_line(market):
    (market / pm.MARKETPLACE_JSON).write_text('{\n  "name": "m",\n  "plugins": [,]\n}\n')
    [problem] = pm.check_marketplace(market)
    assert problem.startswith(f"{market / pm.MARKETPLACE_JSON}: not valid JSON: ") and "line 3 column" in problem


def test_check_marketplace_reports_every_broken_entry(market, tmp_path):
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", market / "linked")
    write_market(market, [
        {"source": "./cc-demo"},
        {"name": "gone", "source": "./missing"},
        {"name": "up", "source": "../outside"},
        {"name": "linked", "source": "./linked"},
        {"name": "remote", "source": {"source": "github", "repo": "acme/x"}},
        {"name": "cc-tools", "source": "./cc-tools"},
        {"name": "nosource"},
    ], owner=None)
    problems = pm.check_marketplace(market)
    assert problems == [
        f"{market / pm.MARKETPLACE_JSON}: \"owner\" must be an object with a \"name\"",
        "plugins[0]: \"name\" must be letters, digits, '.', '_', '-' (got None)",
        f"plugin gone: source './missing': no such directory in {market}",
        "plugin up: source '../outside' leaves the marketplace directory",
        "plugin linked: source './linked' leaves the marketplace directory",
        "plugin remote: a source of type 'github' needs the network; claw installs from a path inside the "
        "marketplace (\"./plugins/x\")",
        "plugin nosource: \"source\" is missing (a path inside the marketplace, like \"./nosource\")",
    ]


def test_check_marketplace_includes_each_plugins_own_problems(market):
    (market / "cc-tools" / ".claude-plugin" / "plugin.json").write_text('{"name": "cc-tools", "version": 3}')
    problems = pm.check_marketplace(market)
    assert len(problems) == 1 and problems[0].startswith("plugin cc-tools: ") and '"version" must be a string' in problems[0]


def test_a_marketplace_without_a_name_cannot_be_added(market, home):
    write_market(market, [], name="bad name")
    with pytest.raises(ClawError, match='"name" must be letters, digits'):
        add(market, home)


def test_plugin_root_places_bare_sources(market):
    (market / "plugins").mkdir()
    shutil.move(str(market / "cc-demo"), str(market / "plugins" / "cc-demo"))
    write_market(market, [{"name": "cc-demo", "source": "cc-demo"}], metadata={"pluginRoot": "./plugins"})
    [entry] = pm.read_marketplace(market).plugins
    assert entry.path == (market / "plugins" / "cc-demo").resolve() and entry.problems == ()


def test_concurrent_installs_keep_every_record(tmp_path, home):
    """Two processes installing at once: each install's read-modify-write of the record holds the
    store's lock, so none drops the other's record (20 interleaved installs without it lose some)."""
    import sys

    root = tmp_path / "many"
    names = [f"p{i}" for i in range(20)]
    (root / ".claude-plugin").mkdir(parents=True)
    (root / ".claude-plugin" / "marketplace.json").write_text(json.dumps(
        {"name": "many", "owner": {"name": "t"}, "plugins": [{"name": n, "source": f"./{n}"} for n in names]}))
    for n in names:
        (root / n / ".claude-plugin").mkdir(parents=True)
        (root / n / ".claude-plugin" / "plugin.json").write_text(json.dumps({"name": n, "version": "1.0.0"}))
    add(root, home)
    go = tmp_path / "go"
    code = ("import os, sys, time\nfrom claw.runtime.plugin_store import install\n"
            "while not os.path.exists(sys.argv[1]): time.sleep(0.001)\n"
            "for key in sys.argv[3:]: install(key, sys.argv[2])\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    procs = [subprocess.Popen([sys.executable, "-c", code, str(go), str(home), *[f"{n}@many" for n in names[i::2]]],
                              env=env) for i in (0, 1)]
    time.sleep(1.0)  # both started and waiting
    go.touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert sorted(record(home)) == sorted(f"{n}@many" for n in names)
