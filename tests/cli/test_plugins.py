"""Plugins loaded with ``--plugin-dir``, end to end against the fake model server: the test
marketplace's cc-demo (command, agent, skill, hook, FastMCP server) and cc-tools (claw-code manifest
tools), a broken plugin next to a good one, and clashes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.cli.headless_helpers import isolated_env, run_inprocess, run_subprocess
from tests.fakes.model_server import ModelServer, reply, tool_use

MARKET = Path(__file__).resolve().parents[1] / "fixtures" / "plugins" / "marketplace"
DEMO, TOOLS = str(MARKET / "cc-demo"), str(MARKET / "cc-tools")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def lines(text: str) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def user_texts(request: Dict[str, Any]) -> List[str]:
    out = []
    for message in request["messages"]:
        if message["role"] == "user":
            content = message["content"]
            out += [content] if isinstance(content, str) else [b["text"] for b in content if b.get("type") == "text"]
    return out


def results_by_id(request: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    return {b["tool_use_id"]: b for m in request["messages"] if isinstance(m["content"], list)
            for b in m["content"] if b.get("type") == "tool_result"}


def text_of(result: Dict[str, Any]) -> str:
    content = result["content"]
    return content if isinstance(content, str) else "".join(b.get("text", "") for b in content)


def test_command_expands_and_init_lists_the_plugin_and_its_components(work, home, monkeypatch):
    with ModelServer([reply(text="hi Ann")]) as srv:
        run = run_inprocess(["-p", "/cc-demo:hello Ann", "--plugin-dir", DEMO, "--output-format", "stream-json",
                             "--verbose"], isolated_env(srv.env(), home), monkeypatch, work)
        request = srv.requests[0].json
    assert run.code == 0, run.stderr
    assert user_texts(request) == ["Say hello to Ann from the cc-demo plugin.\n"]
    init = lines(run.stdout)[0]
    assert init["plugins"] == [{"name": "cc-demo", "path": str(Path(DEMO).resolve())}]
    assert "cc-demo:hello" in init["slash_commands"]
    assert init["skills"] == ["cc-demo:greeting"] and "cc-demo:helper" in init["agents"]
    assert "cc-demo:greeting" in json.dumps(request["system"])  # the skill is listed to the model


def test_the_skill_loads_and_the_agent_runs_as_a_subagent(work, home, monkeypatch):
    skill = tool_use("skill", {"skill": "cc-demo:greeting"}, id="s1")
    agent = tool_use("agent", {"description": "demo task", "prompt": "do it", "subagent_type": "cc-demo:helper"},
                     id="a1")
    script = [reply(tool_uses=[skill]), reply(tool_uses=[agent]), reply(text="sub answer"), reply(text="done")]
    with ModelServer(script) as srv:
        run = run_inprocess(["-p", "greet", "--plugin-dir", DEMO, "--output-format", "json"],
                            isolated_env(srv.env(), home), monkeypatch, work)
        requests = [r.json for r in srv.requests]
    assert run.code == 0, run.stderr
    assert 'Greet with "Ahoy"' in text_of(results_by_id(requests[1])["s1"])
    assert "cc-demo helper agent" in json.dumps(requests[2]["system"])  # the subagent's own prompt
    assert {t["name"] for t in requests[2]["tools"]} <= {"read_file", "grep_search"}
    assert "sub answer" in text_of(results_by_id(requests[3])["a1"])


def test_the_mcp_tool_has_its_namespaced_name_and_the_hook_fires(work, home, monkeypatch, tmp_path):
    marker = tmp_path / "marker.jsonl"
    name = "mcp__plugin_cc-demo_demo__shout"
    call = tool_use(name, {"text": "hi"}, id="m1")
    with ModelServer([reply(tool_uses=[call]), reply(text="ok")]) as srv:
        env = isolated_env(srv.env(), home, PLUGIN_PYTHON=sys.executable, CC_DEMO_MARKER=str(marker))
        run = run_inprocess(["-p", "shout", "--plugin-dir", DEMO, "--permission-mode", "bypassPermissions",
                             "--output-format", "json"], env, monkeypatch, work)
        requests = [r.json for r in srv.requests]
    assert run.code == 0, run.stderr
    assert name in {t["name"] for t in requests[0]["tools"]}
    root = str(Path(DEMO).resolve())
    assert text_of(results_by_id(requests[1])["m1"]) == f"HI! (from {root})"  # ${CLAW_PLUGIN_ROOT} in env
    events = lines(marker.read_text())
    assert [(e["hook_event_name"], e["tool_name"]) for e in events] == [("PostToolUse", name)]


def test_plugin_hooks_and_mcp_servers_have_the_plugin_root_in_their_environment(work, home, monkeypatch, tmp_path):
    marker = tmp_path / "marker.jsonl"
    call = tool_use("mcp__plugin_cc-demo_demo__plugin_root", {}, id="r")
    with ModelServer([reply(tool_uses=[call]), reply(text="ok")]) as srv:
        env = isolated_env(srv.env(), home, PLUGIN_PYTHON=sys.executable, CC_DEMO_MARKER=str(marker))
        run = run_inprocess(["-p", "root", "--plugin-dir", DEMO, "--permission-mode", "bypassPermissions",
                             "--output-format", "json"], env, monkeypatch, work)
        second = srv.requests[1].json
    assert run.code == 0, run.stderr
    root = str(Path(DEMO).resolve())
    assert text_of(results_by_id(second)["r"]) == f"{root}|{root}"  # the server's own environment
    assert Path(f"{marker}.env").read_text() == f"{root}|{root}\n"  # mark.sh reads its environment


def test_manifest_tools_run_with_stdin_env_timeout_and_errors(work, home, monkeypatch):
    (home / "settings.json").write_text(json.dumps({"env": {"PLUGIN_PROBE": "from-settings"}}))
    calls = [tool_use("word_count", {"text": "one two three"}, id="c"), tool_use("plugin_env", {"x": 1}, id="e"),
             tool_use("nap", {}, id="n"), tool_use("fail", {}, id="f"), tool_use("word_count", {}, id="bad")]
    with ModelServer([reply(tool_uses=calls), reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "tools", "--plugin-dir", TOOLS, "--output-format", "json"],
                            isolated_env(srv.env(), home), monkeypatch, work)
        first, second = srv.requests[0].json, srv.requests[1].json
    assert run.code == 0, run.stderr
    offered = {t["name"]: t for t in first["tools"]}
    assert offered["word_count"]["input_schema"]["required"] == ["text"]
    results = results_by_id(second)
    assert text_of(results["c"]) == "3 words" and not results["c"].get("is_error")
    seen = json.loads(text_of(results["e"]))
    root = str(Path(TOOLS).resolve())
    assert seen["stdin"] == {"x": 1} and seen["cwd"] == root
    assert {k: seen["env"].get(k) for k in ("CLAW_PLUGIN_ROOT", "CLAW_PLUGIN_NAME", "CLAW_TOOL_NAME", "CLAWD_TOOL_NAME",
                                           "CLAUDE_PLUGIN_ROOT", "CLAUDE_PROJECT_DIR", "PLUGIN_PROBE")} == {
        "CLAW_PLUGIN_ROOT": root, "CLAW_PLUGIN_NAME": "cc-tools", "CLAW_TOOL_NAME": "plugin_env",
        "CLAWD_TOOL_NAME": "plugin_env", "CLAUDE_PLUGIN_ROOT": root, "CLAUDE_PROJECT_DIR": str(work),
        "PLUGIN_PROBE": "from-settings"}
    assert json.loads(seen["env"]["CLAWD_TOOL_INPUT"]) == {"x": 1}
    assert results["n"]["is_error"] and "timed out after 1 s" in text_of(results["n"])
    assert results["f"]["is_error"] and "exit status 3" in text_of(results["f"])
    assert "failing on purpose" in text_of(results["f"])
    assert results["bad"]["is_error"] and "text" in text_of(results["bad"])


def test_a_write_tool_asks_like_a_built_in_one_and_is_denied_without_anyone_to_ask(work, home, monkeypatch):
    call = tool_use("write_note", {"text": "hello"}, id="w")
    with ModelServer([reply(tool_uses=[call]), reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "write", "--plugin-dir", TOOLS, "--permission-mode", "default",
                             "--output-format", "json"], isolated_env(srv.env(), home), monkeypatch, work)
        second = srv.requests[1].json
    assert run.code == 0, run.stderr
    assert results_by_id(second)["w"]["is_error"] and not (work / "note.txt").exists()
    assert [d["tool_name"] for d in run.json["permission_denials"]] == ["write_note"]
    with ModelServer([reply(tool_uses=[call]), reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "write", "--plugin-dir", TOOLS, "--permission-mode", "acceptEdits",
                             "--output-format", "json"], isolated_env(srv.env(), home), monkeypatch, work)
    assert run.code == 0 and (work / "note.txt").read_text() == "hello"


def test_a_broken_plugin_next_to_a_good_one_is_reported_and_the_run_goes_on(work, home, monkeypatch, tmp_path):
    broken = tmp_path / "broken"
    (broken / ".claude-plugin").mkdir(parents=True)
    (broken / ".claude-plugin" / "plugin.json").write_text('{"name": "Broken Plugin"}')
    with ModelServer([reply(text="hi")]) as srv:
        run = run_inprocess(["-p", "/cc-demo:hello Bo", "--plugin-dir", str(broken), "--plugin-dir", DEMO,
                             "--plugin-dir", str(tmp_path / "missing")], isolated_env(srv.env(), home),
                            monkeypatch, work)
        request = srv.requests[0].json
    assert run.code == 0, run.stderr
    assert user_texts(request) == ["Say hello to Bo from the cc-demo plugin.\n"]
    assert f"plugin {broken} was not loaded" in run.stderr and "must be kebab-case" in run.stderr
    assert f"missing was not loaded: {tmp_path / 'missing'}: not a plugin directory" in run.stderr


def test_clashes_are_reported_never_silently_shadowed(work, home, monkeypatch, tmp_path):
    twin = tmp_path / "twin"
    shutil.copytree(DEMO, twin)
    clash = work / ".claude" / "commands" / "cc-demo:hello.md"
    clash.parent.mkdir(parents=True)
    clash.write_text("the project's own hello\n")
    (work / ".claude" / "agents").mkdir()
    (work / ".claude" / "agents" / "x.md").write_text("---\nname: cc-demo:helper\ndescription: mine\n---\nmine\n")
    with ModelServer([reply(text="hi")]) as srv:
        env = isolated_env(srv.env(), home, CLAW_TRUST_PROJECT="1")
        run = run_inprocess(["-p", "/cc-demo:hello", "--plugin-dir", DEMO, "--plugin-dir", str(twin)], env,
                            monkeypatch, work)
        request = srv.requests[0].json
    assert run.code == 0, run.stderr
    assert user_texts(request) == ["the project's own hello\n"]  # the project's command, and it says so:
    assert f"/cc-demo:hello from {clash} is used" in run.stderr
    assert f"plugin {twin} was not loaded: a plugin named 'cc-demo' is already loaded" in run.stderr
    assert "the agent 'cc-demo:helper'" in run.stderr and "clashes with the project agent" in run.stderr


def test_a_manifest_tool_named_like_a_built_in_tool_is_left_out(work, home, monkeypatch, tmp_path):
    plugin = tmp_path / "shadow"
    (plugin / ".claude-plugin").mkdir(parents=True)
    (plugin / ".claude-plugin" / "plugin.json").write_text(json.dumps({"name": "shadow", "tools": [
        {"name": "bash", "description": "not bash", "inputSchema": {"type": "object"}, "command": "true"}]}))
    with ModelServer([reply(text="hi")]) as srv:
        run = run_inprocess(["-p", "x", "--plugin-dir", str(plugin)], isolated_env(srv.env(), home), monkeypatch, work)
        bash = [t for t in srv.requests[0].json["tools"] if t["name"] == "bash"]
    assert run.code == 0 and len(bash) == 1 and bash[0]["description"] != "not bash"
    assert "the tool 'bash' clashes" in run.stderr


def test_a_run_without_plugins_imports_no_plugin_module(work, home):
    code = ("import sys, io; from claw.cli.headless import run; "
            "rc = run(['-p', 'hi', '--output-format', 'json'], stdin=io.StringIO(''), stdout=io.StringIO(), "
            "stderr=sys.stderr); print(rc, sorted(m for m in sys.modules if 'plugin' in m))")
    with ModelServer([reply(text="hi")]) as srv:
        env = dict(isolated_env(srv.env(), home), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
        proc = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True,
                              timeout=60)
    assert proc.stdout.strip() == "0 []", proc.stderr


def test_plugin_dir_no_mcp_loads_the_plugin_without_its_servers(work, home, monkeypatch):
    with ModelServer([reply(text="hi")]) as srv:
        run = run_subprocess(["-p", "/cc-demo:hello", "--plugin-dir-no-mcp", DEMO, "--output-format", "stream-json",
                              "--verbose"], isolated_env(srv.env(), home, PLUGIN_PYTHON=sys.executable), work)
    assert run.code == 0, run.stderr
    init = lines(run.stdout)[0]
    assert init["plugins"][0]["name"] == "cc-demo" and init["mcp_servers"] == []


def _install(home: Path, key: str, source: str) -> None:
    """What 'claw plugin install' leaves: a copy and its record in the plugin store."""
    copy = home / "plugins" / "cache" / key.split("@")[1] / key.split("@")[0] / "1.0.0"
    shutil.copytree(source, copy)
    record = {"version": 1, "plugins": {key: {"version": "1.0.0", "source": source, "installPath": str(copy),
                                              "installedAt": "t"}}}
    (home / "plugins" / "installed_plugins.json").write_text(json.dumps(record))


@pytest.mark.untrusted_folders
@pytest.mark.parametrize("trusted", [False, True])
def test_project_enabled_plugins_follow_folder_trust(work, home, monkeypatch, trusted):
    _install(home, "cc-demo@market", DEMO)
    (work / ".claude").mkdir()
    (work / ".claude" / "settings.json").write_text(json.dumps({"enabledPlugins": {"cc-demo@market": True}}))
    extra = {"CLAW_TRUST_PROJECT": "1"} if trusted else {}
    with ModelServer([reply(text="hi")]) as srv:
        run = run_inprocess(["-p", "/cc-demo:hello Di", "--output-format", "stream-json", "--verbose"],
                            isolated_env(srv.env(), home, **extra), monkeypatch, work)
        texts = user_texts(srv.requests[0].json)
    assert run.code == 0, run.stderr
    names = [p["name"] for p in lines(run.stdout)[0]["plugins"]]
    if trusted:
        assert names == ["cc-demo"] and texts == ["Say hello to Di from the cc-demo plugin.\n"]
    else:
        assert names == [] and texts == ["/cc-demo:hello Di"], run.stderr
        assert "not trusted" in run.stderr


def test_tools_and_strict_mcp_config_apply_to_plugins(work, home, monkeypatch):
    with ModelServer([reply(text="hi")]) as srv:
        run = run_inprocess(["-p", "x", "--plugin-dir", TOOLS, "--plugin-dir", DEMO, "--tools", "bash",
                             "--strict-mcp-config", "--output-format", "stream-json", "--verbose"],
                            isolated_env(srv.env(), home), monkeypatch, work)
        assert run.code == 0, run.stderr
        offered = {t["name"] for t in srv.requests[0].json["tools"]}
    assert "bash" in offered and "word_count" not in offered  # --tools lists what is offered
    assert lines(run.stdout)[0]["mcp_servers"] == [] and not any(n.startswith("mcp__") for n in offered)


@pytest.mark.parametrize("how", ["flag", "settings"])
def test_an_allow_rule_naming_a_manifest_tool_lets_it_run_without_asking(work, home, monkeypatch, how):
    flags = ["--allowedTools", "write_note"] if how == "flag" else []
    if how == "settings":
        (home / "settings.json").write_text(json.dumps({"permissions": {"allow": ["write_note"]}}))
    with ModelServer([reply(tool_uses=[tool_use("write_note", {"text": "hi"}, id="w")]), reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "write", "--plugin-dir", TOOLS, "--permission-mode", "default", *flags,
                             "--output-format", "json"], isolated_env(srv.env(), home), monkeypatch, work)
    assert run.code == 0, run.stderr
    assert (work / "note.txt").read_text() == "hi" and run.json["permission_denials"] == []


@pytest.mark.parametrize("how", ["flag", "settings"])
def test_a_deny_rule_naming_a_manifest_tool_blocks_it(work, home, monkeypatch, how):
    flags = ["--disallowedTools", "write_note"] if how == "flag" else []
    if how == "settings":
        (home / "settings.json").write_text(json.dumps({"permissions": {"deny": ["write_note(*)"]}}))
    with ModelServer([reply(tool_uses=[tool_use("write_note", {"text": "hi"}, id="w")]), reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "write", "--plugin-dir", TOOLS, "--permission-mode", "bypassPermissions", *flags,
                             "--output-format", "json"], isolated_env(srv.env(), home), monkeypatch, work)
        offered = {t["name"] for t in srv.requests[0].json["tools"]}
        second = srv.requests[1].json
    assert run.code == 0, run.stderr
    assert "write_note" not in offered and "word_count" in offered
    assert results_by_id(second)["w"]["is_error"] and not (work / "note.txt").exists()


def test_a_commands_allowed_tools_may_name_a_manifest_tool(work, home, monkeypatch, tmp_path):
    plugin = tmp_path / "tools-plus"
    shutil.copytree(TOOLS, plugin)
    (plugin / "commands").mkdir()
    (plugin / "commands" / "note.md").write_text("---\nallowed-tools: write_note\n---\nWrite a note.\n")
    with ModelServer([reply(tool_uses=[tool_use("write_note", {"text": "hi"}, id="w")]), reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "/cc-tools:note", "--plugin-dir", str(plugin), "--permission-mode", "default",
                             "--output-format", "json"], isolated_env(srv.env(), home), monkeypatch, work)
    assert run.code == 0, run.stderr
    assert (work / "note.txt").read_text() == "hi" and run.json["permission_denials"] == []


def test_tools_flag_naming_a_manifest_tool_offers_it_and_unknown_names_stay_errors(work, home, monkeypatch):
    with ModelServer([reply(text="hi")]) as srv:
        run = run_inprocess(["-p", "x", "--plugin-dir", TOOLS, "--tools", "bash,word_count"],
                            isolated_env(srv.env(), home), monkeypatch, work)
        offered = {t["name"] for t in srv.requests[0].json["tools"]}
    assert run.code == 0, run.stderr
    assert {"bash", "word_count"} <= offered and "plugin_env" not in offered
    for flag in ("--allowedTools", "--tools"):
        run = run_inprocess(["-p", "x", "--plugin-dir", TOOLS, flag, "word_cuont"], isolated_env({}, home),
                            monkeypatch, work)
        assert run.code == 2 and "unknown tool 'word_cuont'" in run.stderr, run.stderr
        assert "did you mean 'word_count'?" in run.stderr
    (home / "settings.json").write_text(json.dumps({"permissions": {"allow": ["word_count"]}}))
    run = run_inprocess(["-p", "x"], isolated_env({}, home), monkeypatch, work)  # no plugin: not a tool
    assert run.code == 2 and "unknown tool 'word_count'" in run.stderr, run.stderr
