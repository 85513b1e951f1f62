"""Bad settings stay errors: absurd nesting or size in any settings source (JSON, TOML, inline
``--settings``, ``--mcp-config``) is a config error naming the source (exit 2, a hint, no traceback) on
every Python 3.9-3.13; and many permission rules load correctly (merge order, dedup, decisions).

Speed is measured by bench/permission_rules.py, never asserted here.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.headless_helpers import ROOT, isolated_env, run_subprocess

DEPTH_LIMIT = 64


def _deep_json(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def _deep_toml_arrays(levels: int) -> str:
    return "a = " + "[" * levels + "]" * levels + "\n"


def _deep_toml_tables(levels: int) -> str:
    return "[" + ".".join(["k"] * levels) + "]\nx = 1\n"


@pytest.fixture
def dirs(tmp_path: Path):
    home = tmp_path / "home"
    (home / ".claw").mkdir(parents=True)
    project = tmp_path / "project"
    (project / ".claw").mkdir(parents=True)
    env = isolated_env({"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}, home,
                       CLAW_TRUST_PROJECT="1")
    return home, project, env


def _assert_config_error(run, name: str) -> None:
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr and "RecursionError" not in run.stderr, run.stderr
    assert name in run.stderr, run.stderr
    assert "hint:" in run.stderr, run.stderr


# -- nesting -------------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [DEPTH_LIMIT + 1, 100_000])
@pytest.mark.parametrize("where", ["user", "project", "local"])
def test_deep_json_settings_file_is_a_config_error(dirs, where, levels):
    home, project, env = dirs
    path = {"user": home / "settings.json", "project": project / ".claw" / "settings.json",
            "local": project / ".claw" / "settings.local.json"}[where]
    path.write_text(_deep_json(levels))
    run = run_subprocess(["-p", "hi"], env, project)
    _assert_config_error(run, str(path))
    assert "nested more than" in run.stderr


@pytest.mark.parametrize("text", [_deep_toml_arrays(100_000), _deep_toml_arrays(DEPTH_LIMIT + 1),
                                  _deep_toml_tables(DEPTH_LIMIT + 5)])
def test_deep_toml_settings_file_is_a_config_error(dirs, text):
    home, project, env = dirs
    path = project / ".claw" / "settings.toml"
    path.write_text(text)
    run = run_subprocess(["-p", "hi"], env, project)
    _assert_config_error(run, str(path))


def test_deep_inline_settings_is_a_config_error_also_in_json_output(dirs):
    home, project, env = dirs
    run = run_subprocess(["-p", "hi", "--settings", _deep_json(15_000), "--output-format", "json"], env, project)
    assert run.code == 2
    assert "Traceback" not in run.stderr
    result = run.json
    assert result["is_error"] is True
    assert result["error"]["failure_class"] == "config"
    assert "--settings" in result["error"]["message"]


@pytest.mark.parametrize("inline", [True, False])
def test_deep_mcp_config_is_an_error(dirs, tmp_path, inline):
    home, project, env = dirs
    text = '{"mcpServers": ' + _deep_json(15_000) + "}"  # an argument holds at most 128 KiB
    if inline:
        arg = text
    else:
        arg = str(tmp_path / "mcp.json")
        Path(arg).write_text(text)
    run = run_subprocess(["-p", "hi", "--mcp-config", arg], env, project)
    assert run.code == 2, run.stderr
    assert "Traceback" not in run.stderr and "nested more than" in run.stderr


def test_deep_project_mcp_json_is_a_warning_not_a_crash(dirs):
    home, project, env = dirs
    (project / ".mcp.json").write_text('{"mcpServers": ' + _deep_json(100_000) + "}")
    run = run_subprocess(["mcp", "list"], env, project)
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert ".mcp.json: nested more than" in run.stderr


def test_nesting_up_to_the_limit_is_accepted():
    from claw.config.parsing import MAX_DEPTH, read_source
    from claw.config.sources import SettingsSource

    ok = SettingsSource("flag", "--settings", "json", ".", inline_text=_deep_json(MAX_DEPTH))
    data, problems = read_source(ok)
    assert data is not None and not [p for p in problems if p.level == "error"]
    bad = SettingsSource("flag", "--settings", "json", ".", inline_text=_deep_json(MAX_DEPTH + 1))
    data, problems = read_source(bad)
    assert data is None and "nested more than" in problems[0].message


# -- size ----------------------------------------------------------------------------------------


def test_oversized_settings_file_is_a_config_error(dirs):
    from claw.config.parsing import MAX_SETTINGS_BYTES

    home, project, env = dirs
    path = project / ".claw" / "settings.json"
    path.write_text('{"model": "sonnet"' + " " * MAX_SETTINGS_BYTES + "}")
    run = run_subprocess(["-p", "hi"], env, project)
    _assert_config_error(run, str(path))
    assert "MiB" in run.stderr


# -- every Python ------------------------------------------------------------------------------


def _pythons():
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip() \
        if _which("pyenv") else os.path.expanduser("~/.pyenv")
    found = []
    for minor in (9, 10, 11, 12, 13):
        hits = sorted(glob.glob(os.path.join(root, "versions", f"3.{minor}.*", "bin", f"python3.{minor}")))
        if hits:
            found.append(hits[-1])
    return found


def _which(name: str) -> bool:
    from shutil import which

    return which(name) is not None


def _pure_tomli(dest: Path):
    import zipfile

    for wheel in sorted(glob.glob(str(ROOT / "build" / "wheels" / "tomli-*-py3-none-any.whl"))):
        with zipfile.ZipFile(wheel) as whl:
            for name in whl.namelist():
                if name.startswith("tomli/"):
                    whl.extract(name, dest)
        return dest
    return None


SCRIPT = r"""
import sys
from claw.config.parsing import read_source
from claw.config.sources import SettingsSource
out = []
for fmt, text in (("json", sys.argv[1]), ("toml", sys.argv[2]), ("toml", sys.argv[3])):
    if fmt == "toml" and sys.version_info < (3, 11) and sys.argv[4] == "0":
        out.append("skipped")
        continue
    data, problems = read_source(SettingsSource("flag", "X", fmt, ".", inline_text=text))
    out.append(repr((data, [(p.level, p.message) for p in problems])))
print("\n".join(out))
"""


def test_every_python_reports_deep_settings_the_same(tmp_path):
    pythons = _pythons()
    if len(pythons) < 2:
        pytest.skip("needs several CPython versions under pyenv")
    tomli = _pure_tomli(tmp_path / "site")
    answers = {}
    for python in pythons:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + ([str(tomli)] if tomli else [])))
        proc = subprocess.run([python, "-c", SCRIPT, _deep_json(15_000), _deep_toml_arrays(15_000),
                               _deep_toml_tables(200), "1" if tomli else "0"],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, (python, proc.stderr)
        answers[python] = proc.stdout
        for line in proc.stdout.splitlines():
            assert line == "skipped" or "nested more than 64 levels deep" in line, (python, line)
    json_answers = {a.splitlines()[0] for a in answers.values()}
    assert len(json_answers) == 1, answers


# -- many rules ----------------------------------------------------------------------------------


def _mixed_rules(n: int, tag: str) -> list:
    out = []
    for i in range(n):
        kind = i % 4
        out.append([f"Bash(tool{tag}{i} --x:*)", f"Read(./src/{tag}{i}/**)", f"WebFetch(domain:h{tag}{i}.example.com)",
                    f"Edit(/srv/{tag}/{i}/*.txt)"][kind])
    return out


def test_twenty_thousand_rules_merge_and_decide_correctly(tmp_path, monkeypatch):
    from claw.config.loader import load_settings
    from claw.runtime.permissions import PermissionPolicy
    from claw.tools.registry import build_tools

    home = tmp_path / "home"
    (home / ".claw").mkdir(parents=True)
    project = tmp_path / "project"
    (project / ".claw").mkdir(parents=True)
    user_allow = _mixed_rules(10_000, "u")
    project_allow = user_allow[5_000:] + _mixed_rules(10_000, "p")  # half repeats the user's
    (home / ".claw" / "settings.json").write_text(json.dumps({"permissions": {"allow": user_allow}}))
    (project / ".claw" / "settings.json").write_text(json.dumps(
        {"permissions": {"allow": project_allow, "deny": ["Read(./src/p9/secret)", "Bash(toolp8 --x)", "WebFetch(domain:hp10.example.com)"]}}))
    env = {"HOME": str(home), "CLAW_CONFIG_HOME": str(home / ".claw"), "CLAW_TRUST_PROJECT": "1"}
    loaded = load_settings(str(project), env)
    allow = loaded.settings.permissions.allow
    expected = list(dict.fromkeys(user_allow + project_allow))
    assert list(allow) == expected and len(allow) == 20_000

    policy = PermissionPolicy(mode="default", cwd=project, allow_rules=allow,
                              deny_rules=loaded.settings.permissions.deny, home=str(home))
    tools = build_tools()
    read, bash, fetch = tools["read_file"].spec, tools["bash"].spec, tools["web_fetch"].spec
    (project / "src" / "p9" / "deep").mkdir(parents=True)

    def decide(name, spec, tool_input, paths=()):
        return policy.decide(name, spec, tool_input, paths).outcome

    assert decide("read_file", read, {}, [project / "src" / "p9" / "deep" / "f.py"]) == "allow"
    assert decide("read_file", read, {}, [project / "src" / "p9" / "secret"]) == "deny"
    write = tools["write_file"].spec
    assert decide("write_file", write, {}, ["/srv/p/9995/a.txt"]) == "allow"
    assert decide("write_file", write, {}, ["/srv/p/9996/a.txt"]) != "allow"
    assert decide("bash", bash, {"command": "toolp9996 --x run"}) == "allow"
    assert decide("bash", bash, {"command": "toolp8 --x"}) == "deny"
    assert decide("web_fetch", fetch, {"url": "https://hp9998.example.com/x"}) == "allow"
    assert decide("web_fetch", fetch, {"url": "https://hp10.example.com/x"}) == "deny"


def test_bad_character_class_in_a_path_rule_is_a_config_error(dirs):
    home, project, env = dirs
    run = run_subprocess(["-p", "hi", "--settings", '{"permissions": {"deny": ["Read(./[z-a])"]}}'], env, project)
    assert run.code == 2, run.stderr
    assert "Traceback" not in run.stderr and "Read(./[z-a])" in run.stderr


def test_lazily_compiled_path_rules_match_as_before(tmp_path):
    """The regex of a path rule is compiled on first use: same answers as an eager compile."""
    from claw.tools.globs import GitignoreLine, compile_path_glob

    cases = ["/src/**", "*.py", "a/**/b", "/x/*.txt", "**/node_modules", "dir/", "[ab]c/*", "!neg"]
    paths = ["src/a.py", "a/b", "a/x/y/b", "x/1.txt", "q/node_modules", "dir", "ac/z", "neg", "src"]
    for text in cases:
        line = GitignoreLine.parse(text)
        if line is None:
            continue
        eager = compile_path_glob(line.glob)
        for p in paths:
            for is_dir in (True, False):
                expected = not (line.dir_only and not is_dir) and eager.match(p) is not None
                assert line.matches(p, is_dir) == expected, (text, p)
