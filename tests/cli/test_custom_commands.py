"""Custom slash commands, MCP prompts as commands and skills, end to end against the fake model server:
``claw -p "/name args"`` and stream-json user messages that name a command, what the model receives
(the expanded prompt), what the command's frontmatter changes for its turn, folder trust and
``--disable-slash-commands``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.cli.headless_helpers import ROOT, isolated_env, run_inprocess
from tests.fakes.model_server import ModelServer, reply, tool_use


@pytest.fixture
def work(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def user_texts(request: Dict[str, Any]) -> List[str]:
    """The text blocks of the request's user messages."""
    out = []
    for message in request["messages"]:
        if message["role"] != "user":
            continue
        content = message["content"]
        if isinstance(content, str):
            out.append(content)
        else:
            out += [b["text"] for b in content if b.get("type") == "text"]
    return out


def tool_results(request: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [b for m in request["messages"] if isinstance(m["content"], list) for b in m["content"]
            if b.get("type") == "tool_result"]


FIX = """---
description: Fix an issue
argument-hint: <issue> <priority>
allowed-tools: Bash(echo allowed:*)
---
Fix issue #$1 with priority $2 (all: $ARGUMENTS).
"""


def test_command_with_arguments_and_allowed_tools_in_print_mode(work, home, monkeypatch):
    write(work / ".claude" / "commands" / "fix.md", FIX)
    bash = tool_use("bash", {"command": "echo allowed here"})
    with ModelServer([reply(tool_uses=[bash]), reply(text="fixed")]) as srv:
        run = run_inprocess(["-p", "/fix 123 high", "--permission-mode", "default", "--output-format", "json"],
                            isolated_env(srv.env(), home), monkeypatch, work)
        first, second = srv.requests[0].json, srv.requests[1].json
    assert run.code == 0, run.stderr
    assert user_texts(first) == ["Fix issue #123 with priority high (all: 123 high).\n"]
    result = tool_results(second)[0]
    assert result.get("is_error") is not True and "allowed here" in str(result["content"])
    assert run.json["permission_denials"] == []


def test_without_the_command_the_same_call_needs_approval(work, home, monkeypatch):
    bash = tool_use("bash", {"command": "echo allowed here"})
    with ModelServer([reply(tool_uses=[bash]), reply(text="no")]) as srv:
        run = run_inprocess(["-p", "fix 123", "--permission-mode", "default", "--output-format", "json"],
                            isolated_env(srv.env(), home), monkeypatch, work)
    assert run.code == 0, run.stderr
    assert [d["tool_name"] for d in run.json["permission_denials"]] == ["bash"]


def test_a_namespaced_command_is_called_by_its_file_name(work, home, monkeypatch):
    write(work / ".claw" / "commands" / "frontend" / "component.md", "Make a React component named $ARGUMENTS.")
    with ModelServer([reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "/component Button"], isolated_env(srv.env(), home), monkeypatch, work)
        request = srv.requests[0].json
    assert run.code == 0, run.stderr
    assert user_texts(request) == ["Make a React component named Button."]


def test_file_inclusion_and_shell_pre_execution(work, home, monkeypatch):
    write(work / "notes.txt", "the notes say 42\n")
    write(work / ".claude" / "commands" / "ctx.md", "Notes: @notes.txt\nBranch: !`echo from-$((6*7))`\nGo.")
    with ModelServer([reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "/ctx"], isolated_env(srv.env(), home), monkeypatch, work)
        text = user_texts(srv.requests[0].json)[0]
    assert run.code == 0, run.stderr
    assert "the notes say 42" in text and '<file path="notes.txt">' in text
    assert "Branch: from-42\nGo." in text and "!`" not in text


def test_a_denied_shell_command_fails_the_command_before_any_request(work, home, monkeypatch):
    write(work / ".claude" / "commands" / "ctx.md", "Status: !`echo secret-step`")
    with ModelServer([reply(text="never")]) as srv:
        run = run_inprocess(["-p", "/ctx", "--disallowedTools", "Bash(echo:*)", "--output-format", "json"],
                            isolated_env(srv.env(), home), monkeypatch, work)
        sent = len(srv.requests)
    assert run.code == 1 and sent == 0
    assert run.json["is_error"] is True
    assert "/ctx: the command `echo secret-step` was not allowed" in run.json["result"]


def test_a_shell_command_that_would_ask_is_denied_without_a_prompter(work, home, monkeypatch):
    write(work / ".claude" / "commands" / "ctx.md", "Status: !`touch made-by-command`")
    with ModelServer([reply(text="never")]) as srv:
        run = run_inprocess(["-p", "/ctx", "--permission-mode", "default"], isolated_env(srv.env(), home),
                            monkeypatch, work)
    assert run.code == 1
    assert "no way to ask for approval" in run.stderr and not (work / "made-by-command").exists()


def test_a_pre_tool_use_hook_blocks_a_commands_shell_step(work, home, monkeypatch):
    settings = {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [
        {"type": "command", "command": "echo 'no shell today' >&2; exit 2"}]}]}}
    write(work / ".claw" / "settings.json", json.dumps(settings))
    write(work / ".claw" / "commands" / "mk.md", "Made: !`touch hooked`")
    env = isolated_env({}, home, ANTHROPIC_API_KEY="k", ANTHROPIC_BASE_URL="http://127.0.0.1:9")
    run = run_inprocess(["-p", "/mk"], env, monkeypatch, work)
    assert run.code == 1 and not (work / "hooked").exists()
    assert "/mk: the command `touch hooked` was blocked by a PreToolUse hook: no shell today" in run.stderr


def test_a_denied_or_missing_file_is_a_clear_error(work, home, monkeypatch):
    write(work / "secret.env", "TOKEN=x\n")
    write(work / ".claude" / "commands" / "leak.md", "Here: @secret.env")
    write(work / ".claude" / "commands" / "gone.md", "Here: @missing.txt")
    env = isolated_env({}, home, ANTHROPIC_API_KEY="k", ANTHROPIC_BASE_URL="http://127.0.0.1:9")
    denied = run_inprocess(["-p", "/leak", "--disallowedTools", "Read(./secret.env)"], env, monkeypatch, work)
    missing = run_inprocess(["-p", "/gone"], env, monkeypatch, work)
    assert denied.code == 1 and "/leak: reading @secret.env was not allowed" in denied.stderr
    assert missing.code == 1 and "/gone: cannot read @missing.txt" in missing.stderr


def test_malformed_frontmatter_is_a_warning_and_the_command_still_runs(work, home, monkeypatch):
    write(work / ".claude" / "commands" / "odd.md", "---\ndescription Fix things\n---\nDo the odd thing.")
    with ModelServer([reply(text="ok")]) as srv:
        run = run_inprocess(["-p", "/odd"], isolated_env(srv.env(), home), monkeypatch, work)
        text = user_texts(srv.requests[0].json)[0]
    assert run.code == 0 and text == "Do the odd thing."
    assert "odd.md: the frontmatter is not valid (line 2" in run.stderr


def test_project_command_wins_over_a_user_command_of_the_same_name(work, home, monkeypatch):
    write(work / ".claw" / "commands" / "hi.md", "project hi")
    write(home / ".claude" / "commands" / "hi.md", "user hi")
    write(home / ".claude" / "commands" / "bye.md", "user bye $ARGUMENTS")
    with ModelServer([reply(text="a"), reply(text="b")]) as srv:
        first = run_inprocess(["-p", "/hi"], isolated_env(srv.env(), home), monkeypatch, work)
        second = run_inprocess(["-p", "/bye now"], isolated_env(srv.env(), home), monkeypatch, work)
        texts = [user_texts(r.json)[0] for r in srv.requests]
    assert first.code == 0 and second.code == 0
    assert texts == ["project hi", "user bye now"]
    assert "/hi from" in first.stderr and "is used;" in first.stderr


def test_model_frontmatter_switches_the_model_for_that_turn_only(work, home, monkeypatch):
    write(work / ".claw" / "commands" / "quick.md", "---\nmodel: claude-haiku-4-5\n---\nBe quick.")
    with ModelServer([reply(text="a")]) as srv:
        run = run_inprocess(["-p", "/quick", "--model", "claude-sonnet-4-5", "--output-format", "json"],
                            isolated_env(srv.env(), home), monkeypatch, work)
        model = srv.requests[0].json["model"]
    assert run.code == 0, run.stderr
    assert model == "claude-haiku-4-5"


def test_an_unknown_slash_word_is_sent_as_written(work, home, monkeypatch):
    write(work / ".claw" / "commands" / "hi.md", "hi")
    with ModelServer([reply(text="a")]) as srv:
        run = run_inprocess(["-p", "/etc/hosts holds what?"], isolated_env(srv.env(), home), monkeypatch, work)
        texts = user_texts(srv.requests[0].json)
    assert run.code == 0 and texts == ["/etc/hosts holds what?"]


SKILL = """---
name: pdf-forms
description: Fill in PDF forms with the bundled script
allowed-tools: Bash(echo skill-ok:*)
---
# PDF forms
Run scripts/fill.py with the form. Read reference.md first.
"""


def test_a_skill_is_listed_in_the_system_prompt_and_loaded_by_the_model(work, home, monkeypatch):
    skill_dir = work / ".claude" / "skills" / "pdf"
    write(skill_dir / "SKILL.md", SKILL)
    write(skill_dir / "reference.md", "details")
    calls = [reply(tool_uses=[tool_use("skill", {"skill": "pdf-forms"})]),
             reply(tool_uses=[tool_use("bash", {"command": "echo skill-ok now"})]), reply(text="done")]
    with ModelServer(calls) as srv:
        run = run_inprocess(["-p", "fill the form", "--permission-mode", "default", "--output-format", "json"],
                            isolated_env(srv.env(), home), monkeypatch, work)
        first, second, third = (r.json for r in srv.requests)
    assert run.code == 0, run.stderr
    system = json.dumps(first["system"])
    assert "pdf-forms: Fill in PDF forms with the bundled script" in system
    assert "Run scripts/fill.py" not in system  # the body only when asked for
    assert "skill" in [t["name"] for t in first["tools"]]
    body = str(tool_results(second)[0]["content"])
    assert "Run scripts/fill.py with the form" in body and str(skill_dir.resolve()) in body
    assert "skill-ok now" in str(tool_results(third)[-1]["content"])  # its allowed-tools applied
    assert run.json["permission_denials"] == []


def test_disable_slash_commands_turns_commands_and_skills_off(work, home, monkeypatch):
    write(work / ".claude" / "commands" / "fix.md", FIX)
    write(work / ".claude" / "skills" / "pdf" / "SKILL.md", SKILL)
    with ModelServer([reply(text="a")]) as srv:
        run = run_inprocess(["-p", "/fix 1 2", "--disable-slash-commands"], isolated_env(srv.env(), home),
                            monkeypatch, work)
        request = srv.requests[0].json
    assert run.code == 0, run.stderr
    assert user_texts(request) == ["/fix 1 2"]
    assert "pdf-forms" not in json.dumps(request["system"])
    assert not {"skill", "slash_command"} & {t["name"] for t in request["tools"]}


@pytest.mark.untrusted_folders
def test_an_untrusted_folder_loads_no_project_commands_or_skills(work, home, monkeypatch):
    write(work / ".claude" / "commands" / "fix.md", FIX)
    write(work / ".claude" / "skills" / "pdf" / "SKILL.md", SKILL)
    write(home / ".claude" / "commands" / "mine.md", "my own command")
    with ModelServer([reply(text="a"), reply(text="b")]) as srv:
        project = run_inprocess(["-p", "/fix 1 2"], isolated_env(srv.env(), home), monkeypatch, work)
        user = run_inprocess(["-p", "/mine"], isolated_env(srv.env(), home), monkeypatch, work)
        first, second = (r.json for r in srv.requests)
    assert project.code == 0 and user.code == 0
    assert user_texts(first) == ["/fix 1 2"] and "pdf-forms" not in json.dumps(first["system"])
    assert "this folder is not trusted, so its commands and skills" in project.stderr
    assert ".claude/commands" in project.stderr and "claw trust" in project.stderr
    assert user_texts(second) == ["my own command"]  # the user's own directory still loads
    trusted = run_inprocess(["-p", "/fix 1 2"], isolated_env({}, home, CLAW_TRUST_PROJECT="1",
                                                             ANTHROPIC_BASE_URL="http://127.0.0.1:9",
                                                             ANTHROPIC_API_KEY="k"), monkeypatch, work)
    assert "not trusted" not in trusted.stderr


def test_a_model_may_run_a_command_with_the_slash_command_tool(work, home, monkeypatch):
    write(work / ".claw" / "commands" / "greet.md", "---\ndescription: Greet someone\n---\nSay hello to $1.")
    write(work / ".claw" / "commands" / "secret.md", "---\ndisable-model-invocation: true\n---\nNo.")
    calls = [reply(tool_uses=[tool_use("slash_command", {"command": "/greet Ada"}),
                              tool_use("slash_command", {"command": "/secret"})]), reply(text="done")]
    with ModelServer(calls) as srv:
        run = run_inprocess(["-p", "greet Ada"], isolated_env(srv.env(), home), monkeypatch, work)
        first, second = (r.json for r in srv.requests)
    assert run.code == 0, run.stderr
    tool = next(t for t in first["tools"] if t["name"] == "slash_command")
    assert "/greet: Greet someone (project)" in tool["description"] and "/secret" not in tool["description"]
    greet, secret = tool_results(second)
    assert "Say hello to Ada." in str(greet["content"])
    assert secret.get("is_error") is True and "/secret" in str(secret["content"])


def test_mcp_prompt_runs_as_a_command_in_print_mode(work, home, monkeypatch):
    config = json.dumps({"mcpServers": {"fm": {"command": sys.executable, "cwd": str(ROOT), "args": [
        "-m", "tests.mcp.servers.fastmcp_server", "stdio"]}}})
    with ModelServer([reply(text="reviewed")]) as srv:
        run = run_inprocess(["-p", '/mcp__fm__review "x = 1" terse', "--mcp-config", config],
                            isolated_env(srv.env(), home, PYTHONPATH=str(ROOT)), monkeypatch, work)
        texts = user_texts(srv.requests[0].json)
    assert run.code == 0, run.stderr
    assert texts == ["Please review this code in terse style:\nx = 1"]


def test_a_run_without_command_or_skill_directories_imports_none_of_their_modules(work, home):
    code = ("import sys, io; from claw.cli.headless import run; "
            "rc = run(['-p', 'hi', '--output-format', 'json'], stdin=io.StringIO(''), stdout=io.StringIO(), "
            "stderr=sys.stderr); "
            "print(rc, sorted(m for m in sys.modules if m.split('.')[-1] in ('extensions', 'commands', "
            "'skills', 'frontmatter', 'skill', 'slash_command')))")
    with ModelServer([reply(text="a")]) as srv:
        env = isolated_env(srv.env(), home, PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True,
                              timeout=60)
    assert proc.stdout.strip() == "0 []", proc.stdout + proc.stderr


# -- stream-json ----------------------------------------------------------------------------------------


def _stream_env(srv: ModelServer, work: Path) -> Dict[str, str]:
    home = work.parent / "stream-home"
    home.mkdir(exist_ok=True)
    return srv.env(CLAW_CONFIG_HOME=str(home / ".claw"), HOME=str(home))


def test_stream_json_lists_commands_and_runs_one_whose_rules_last_one_turn(work):
    from tests.fakes.claw_wrapper import ClawProcess

    write(work / ".claude" / "commands" / "fix.md", FIX)
    write(work / ".claw" / "skills" / "pdf" / "SKILL.md", SKILL)
    bash = tool_use("bash", {"command": "echo allowed here"})
    script = [reply(tool_uses=[bash]), reply(text="fixed"), reply(tool_uses=[bash]), reply(text="denied")]
    with ModelServer(script) as srv, ClawProcess(["--permission-mode", "default"], env=_stream_env(srv, work),
                                                 cwd=work) as claw:
        claw.control("init-1", "initialize", hooks=None)
        answer = claw.control_response("init-1")["response"]
        claw.user("/fix 7 low")
        first = claw.until_result()
        claw.user("echo it again")
        second = claw.until_result()
        assert claw.wait() == 0
        expanded = user_texts(srv.requests[0].json)
    assert {"name": "fix", "description": "Fix an issue (project)", "argumentHint": "<issue> <priority>"} in \
        answer["commands"]
    init = first[0]
    assert init["subtype"] == "init" and "fix" in init["slash_commands"] and init["skills"] == ["pdf-forms"]
    assert "Skill" in init["tools"]  # the host's name for claw's skill tool
    assert expanded == ["Fix issue #7 with priority low (all: 7 low).\n"]
    assert first[-1]["is_error"] is False and first[-1]["permission_denials"] == []
    assert [d["tool_name"] for d in second[-1]["permission_denials"]] == ["Bash"]


def test_stream_json_host_approves_a_commands_shell_step(work):
    from tests.fakes.claw_wrapper import ClawProcess

    write(work / ".claw" / "commands" / "mk.md", "Made: !`touch made && echo made-it`")
    seen: List[Dict[str, Any]] = []
    with ModelServer([reply(text="ok")]) as srv, ClawProcess(
            ["--permission-prompt-tool", "stdio", "--permission-mode", "default"], env=_stream_env(srv, work),
            cwd=work) as claw:
        claw.user("/mk")
        while True:
            message = claw.next()
            assert message is not None, claw.stderr
            seen.append(message)
            if message["type"] == "control_request" and message["request"]["subtype"] == "can_use_tool":
                claw.send({"type": "control_response", "response": {
                    "subtype": "success", "request_id": message["request_id"],
                    "response": {"behavior": "allow"}}})
            if message["type"] == "result":
                break
        assert claw.wait() == 0
        text = user_texts(srv.requests[0].json)[0]
    ask = next(m["request"] for m in seen if m["type"] == "control_request")
    assert ask["tool_name"] == "Bash" and ask["input"]["command"] == "touch made && echo made-it"
    assert text == "Made: made-it" and (work / "made").exists()


def test_stream_json_client_composed_messages_are_never_run_as_commands(work):
    from tests.fakes.claw_wrapper import ClawProcess

    write(work / ".claude" / "commands" / "fix.md", FIX)
    with ModelServer([reply(text="as written")]) as srv, ClawProcess(env=_stream_env(srv, work), cwd=work) as claw:
        claw.send({"type": "user", "client_composed": True, "session_id": "",
                   "message": {"role": "user", "content": "/fix 1 2"}, "parent_tool_use_id": None})
        result = claw.until_result()[-1]
        assert claw.wait() == 0
        texts = user_texts(srv.requests[0].json)
    assert result["is_error"] is False and texts == ["/fix 1 2"]


def test_the_python_sdk_lists_and_runs_a_project_command(work, tmp_path):
    import asyncio

    from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, ResultMessage

    from tests.fakes.claw_wrapper import write_claw_wrapper

    write(work / ".claude" / "commands" / "fix.md", FIX)
    cli = write_claw_wrapper(tmp_path / "bin")

    async def main(srv: ModelServer) -> Any:
        options = ClaudeAgentOptions(cli_path=str(cli), cwd=str(work), env=_stream_env(srv, work),
                                     setting_sources=["project"])
        async with ClaudeSDKClient(options=options) as client:
            info = await client.get_server_info()
            await client.query("/fix 9 urgent")
            results = [m async for m in client.receive_response() if isinstance(m, ResultMessage)]
        return info, results

    with ModelServer([reply(text="on it")]) as srv:
        info, results = asyncio.run(asyncio.wait_for(main(srv), 60))
        texts = user_texts(srv.requests[0].json)
    assert {"name": "fix", "description": "Fix an issue (project)", "argumentHint": "<issue> <priority>"} in \
        info["commands"]
    assert results[-1].result == "on it"
    assert texts == ["Fix issue #9 with priority urgent (all: 9 urgent).\n"]
