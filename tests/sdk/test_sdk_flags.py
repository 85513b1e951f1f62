"""The Agent SDK flags claw now acts on or refuses, at the wire level (no SDK, no node): raw NDJSON or a
``-p`` run against the fake model server. --await-initialize (MCP servers and the system prompt from
``initialize``, messages sent before it kept in order), the ``initialize`` system prompt without it,
--no-session-persistence, --append-system-prompt-file, --betas, --thinking, a required sandbox, and the
early error on stderr in the JSON formats."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.fakes.claw_wrapper import ClawProcess
from tests.processes import alive, wait_gone
from tests.fakes.model_server import ModelServer, by_system_prompt, reply, tool_use

ROOT = Path(__file__).resolve().parents[2]
BASE_PROMPT_START = "You are claw, a coding agent"
RAW_SERVER = {"type": "stdio", "command": sys.executable, "args": ["-m", "tests.mcp.servers.raw_stdio_server"],
              "env": {"PYTHONPATH": str(ROOT)}}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def _env(srv: ModelServer, work: Path) -> Dict[str, str]:
    return srv.env(CLAW_CONFIG_HOME=str(work.parent / "claw-home"))


def _system(srv: ModelServer, index: int = 0) -> str:
    return json.dumps(srv.requests[index].json["system"])


def _one_shot(srv: ModelServer, work: Path, *argv: str) -> tuple:
    """``claw -p hi --output-format json ARGV``: (result object, exit code, stderr)."""
    with ClawProcess(["-p", "hi", "--output-format", "json", *argv], env=_env(srv, work), cwd=work,
                     stream_flags=False) as claw:
        claw.close_stdin()  # -p reads piped stdin as more of the prompt
        result = claw.next(30)
        code = claw.wait(30)
        return result, code, claw.stderr


def test_await_initialize_starts_the_mcp_servers_of_initialize(work: Path) -> None:
    script = [reply(tool_uses=[tool_use("mcp__raw__echo", {"text": "via-initialize"})]), reply(text="done")]
    with ModelServer(script) as srv, \
            ClawProcess(["--await-initialize", "--allowedTools", "mcp__raw__echo"], env=_env(srv, work),
                        cwd=work) as claw:
        claw.user("before initialize")  # sent first: kept, and run once the session is ready
        claw.control("init", "initialize", mcpServers={"raw": RAW_SERVER}, systemPrompt=["Be brief."])
        answer = claw.control_response("init", 30)
        messages = claw.until_result(30)
        assert claw.wait(30) == 0
    assert answer["subtype"] == "success" and answer["response"]["mcp_servers_applied"] is True
    init = next(m for m in messages if m.get("subtype") == "init")
    assert {"name": "raw", "status": "connected"}.items() <= next(
        s for s in init["mcp_servers"] if s["name"] == "raw").items()
    assert srv.requests[0].json["messages"][0]["content"][0]["text"] == "before initialize"
    assert "Be brief." in _system(srv) and BASE_PROMPT_START not in _system(srv)
    results = [b for m in messages if m["type"] == "user" for b in m["message"]["content"]
               if isinstance(b, dict) and b.get("type") == "tool_result"]
    assert results and "via-initialize" in json.dumps(results[0]["content"])


def test_await_initialize_with_no_initialize_runs_at_end_of_input(work: Path) -> None:
    with ModelServer([reply(text="fine")]) as srv, \
            ClawProcess(["--await-initialize"], env=_env(srv, work), cwd=work) as claw:
        claw.user("hello")
        claw.close_stdin()
        messages = claw.until_result(30)
        assert claw.wait(30) == 0
    assert messages[-1]["result"] == "fine"


def test_initialize_mcp_servers_without_await_initialize_are_not_applied(work: Path) -> None:
    with ModelServer([reply(text="ok")]) as srv, ClawProcess([], env=_env(srv, work), cwd=work) as claw:
        claw.control("init", "initialize", mcpServers={"raw": RAW_SERVER})
        answer = claw.control_response("init", 30)
        assert claw.wait(30) == 0
    assert answer["response"]["mcp_servers_applied"] is False
    assert "read only with --await-initialize" in claw.stderr


@pytest.mark.parametrize("fields, present, absent", [
    ({"systemPrompt": ["You are a test bot."]}, ["You are a test bot."], [BASE_PROMPT_START]),
    ({"systemPrompt": [""]}, [], [BASE_PROMPT_START]),
    ({"appendSystemPrompt": "Answer in French."}, [BASE_PROMPT_START, "Answer in French."], []),
    ({}, [BASE_PROMPT_START], []),
])
def test_initialize_system_prompt_forms(work: Path, fields: Dict[str, Any], present: List[str],
                                        absent: List[str]) -> None:
    with ModelServer([reply(text="ok")]) as srv, ClawProcess([], env=_env(srv, work), cwd=work) as claw:
        claw.control("init", "initialize", **fields)
        assert claw.control_response("init", 30)["subtype"] == "success"
        claw.user("hi")
        claw.until_result(30)
        assert claw.wait(30) == 0
    system = _system(srv)
    assert all(text in system for text in present) and not any(text in system for text in absent)


def test_no_session_persistence_writes_no_session(work: Path) -> None:
    with ModelServer([reply(text="gone"), reply(text="kept")]) as srv:
        result, code, _ = _one_shot(srv, work, "--no-session-persistence")
        assert (code, result["result"]) == (0, "gone")
        assert not (work / ".claw" / "sessions").exists() or not any((work / ".claw" / "sessions").iterdir())
        result, code, _ = _one_shot(srv, work)  # the control: a normal run writes one
    assert code == 0 and len(list((work / ".claw" / "sessions").glob("*.jsonl"))) == 1


def test_no_session_persistence_with_resume_is_refused(work: Path) -> None:
    with ModelServer([]) as srv:
        result, code, stderr = _one_shot(srv, work, "--no-session-persistence", "--continue")
    assert code == 2 and result["is_error"]
    assert "--no-session-persistence with --resume/--continue is not supported" in result["result"]


def test_append_system_prompt_file(work: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra.md"
    extra.write_text("Always cite the file name.\n", encoding="utf-8")
    with ModelServer([reply(text="ok")]) as srv:
        _, code, _ = _one_shot(srv, work, "--append-system-prompt", "First addition.",
                               "--append-system-prompt-file", str(extra))
        system = _system(srv)
    assert code == 0
    assert BASE_PROMPT_START in system
    assert system.index("First addition.") < system.index("Always cite the file name.")


def test_unreadable_append_system_prompt_file_is_a_usage_error(work: Path, tmp_path: Path) -> None:
    with ModelServer([]) as srv:
        result, code, stderr = _one_shot(srv, work, "--append-system-prompt-file", str(tmp_path / "missing.md"))
    assert code == 2 and "cannot read --append-system-prompt-file" in result["result"]
    assert "cannot read --append-system-prompt-file" in stderr  # JSON formats: stderr too, for SDK errors


def test_betas_are_sent_as_anthropic_beta(work: Path) -> None:
    with ModelServer([reply(text="ok")]) as srv:
        _, code, _ = _one_shot(srv, work, "--betas", "context-1m-2025-08-07,other-beta")
        header = srv.requests[0].header("anthropic-beta") or ""
    assert code == 0
    assert "context-1m-2025-08-07" in header.split(",") and "other-beta" in header.split(",")


def test_thinking_disabled_and_adaptive_are_both_honoured(work: Path) -> None:
    with ModelServer([reply(text="ok"), reply(text="ok")]) as srv:
        _, code, _ = _one_shot(srv, work, "--thinking", "disabled")
        assert code == 0 and "thinking" not in srv.requests[0].json
        _, code, _ = _one_shot(srv, work, "--thinking=adaptive")  # the TS SDK's thinking: {type: "adaptive"}
        assert code == 0 and srv.requests[1].json["thinking"] == {"type": "adaptive"}


def test_required_sandbox_fails_at_start_where_none_can_be_made(work: Path) -> None:
    """The SDKs' ``sandbox`` option (``--settings`` with ``failIfUnavailable``) reaches the sandbox: with
    no bwrap on PATH the run fails before any request, saying why and what to install."""
    settings = json.dumps({"sandbox": {"enabled": True, "failIfUnavailable": True}})
    with ModelServer([reply(text="never")]) as srv, \
            ClawProcess(["-p", "hi", "--output-format", "json", "--settings", settings],
                        env=dict(_env(srv, work), PATH=str(work)), cwd=work, stream_flags=False) as claw:
        claw.close_stdin()
        result, code = claw.next(30), claw.wait(30)
        assert srv.requests == []
    assert code == 2 and "no sandbox can be made: bubblewrap (bwrap) is not installed" in result["result"]


def test_initialize_agents_join_the_run_and_tag_their_messages(work: Path) -> None:
    """The SDKs send ``agents`` in initialize: claw adds them before the first turn (the prompt follows
    without waiting for the answer), lists them in the answer and system/init, and the subagent's own
    messages carry the agent call's ``parent_tool_use_id``."""
    agents = {"reviewer": {"description": "reviews", "prompt": "MARKER_REVIEW Review.", "tools": ["Read"]}}
    call = tool_use("agent", {"description": "review", "prompt": "review it", "subagent_type": "reviewer"},
                    id="toolu_rev")
    routes = {"MARKER_REVIEW": [reply(text="looks fine")]}
    with ModelServer([reply(tool_uses=[call]), reply(text="reviewed")], handler=by_system_prompt(routes)) as srv, \
            ClawProcess([], env=_env(srv, work), cwd=work) as claw:
        claw.control("init", "initialize", agents=agents)
        claw.user("review my code")
        answer = claw.control_response("init", 30)
        messages = claw.until_result(30)
        assert claw.wait(30) == 0
    assert answer["subtype"] == "success"
    assert {"name": "reviewer", "description": "reviews"} in answer["response"]["agents"]
    assert "reviewer" in messages[0]["agents"] and "general-purpose" in messages[0]["agents"]
    assert "Agent" in messages[0]["tools"]  # Claude Code's name of the tool, for the host
    parent_calls = [b for m in messages if m["type"] == "assistant" and m["parent_tool_use_id"] is None
                    for b in m["message"]["content"] if b.get("type") == "tool_use"]
    assert [b["name"] for b in parent_calls] == ["Agent"]
    child = [m for m in messages if m.get("parent_tool_use_id") == "toolu_rev"]
    assert [m["type"] for m in child] == ["user", "assistant"]
    assert child[1]["message"]["content"][0]["text"] == "looks fine"
    assert messages[-1]["result"] == "reviewed"
    review = [r for r in srv.requests if "MARKER_REVIEW" in json.dumps(r.json["system"])]
    assert len(review) == 1 and [t["name"] for t in review[0].json["tools"]] == ["read_file"]


def test_malformed_initialize_agents_fail_the_session(work: Path) -> None:
    with ModelServer([]) as srv, ClawProcess([], env=_env(srv, work), cwd=work) as claw:
        claw.control("init", "initialize", agents={"bad": {"prompt": "no description"}})
        claw.user("sent without waiting for the answer, as the SDK does")
        answer = claw.control_response("init", 30)
        result = claw.until_result(30)[-1]
        assert claw.wait(30) == 2
        assert srv.requests == []
    assert answer["subtype"] == "error" and "'description'" in answer["error"]
    assert result["is_error"]


SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def test_initialize_json_schema_gives_structured_output(work: Path) -> None:
    """The TypeScript SDK sends outputFormat's schema in initialize (and as --json-schema): claw applies it
    before the first turn, even when the prompt follows without waiting for the answer."""
    script = [reply(tool_uses=[tool_use("StructuredOutput", {"n": 7})])]
    with ModelServer(script) as srv, ClawProcess([], env=_env(srv, work), cwd=work) as claw:
        claw.control("init", "initialize", jsonSchema=SCHEMA)
        claw.user("count")
        answer = claw.control_response("init", 30)
        messages = claw.until_result(30)
        assert claw.wait(30) == 0
    assert answer["subtype"] == "success"
    assert "StructuredOutput" in messages[0]["tools"]
    assert messages[-1]["structured_output"] == {"n": 7} and messages[-1]["subtype"] == "success"
    assert any(t["name"] == "StructuredOutput" and t["input_schema"] == SCHEMA for t in srv.requests[0].json["tools"])


@pytest.mark.parametrize("schema, words", [
    ({"type": "object", "properties": {"n": {"type": "string"}}}, "differs from the --json-schema"),
    ({"type": "object", "dependentRequired": {}}, "'dependentRequired'"),
])
def test_initialize_json_schema_claw_cannot_use_fails_the_turns(work: Path, schema: Dict[str, Any],
                                                                 words: str) -> None:
    with ModelServer([]) as srv, \
            ClawProcess(["--json-schema", json.dumps(SCHEMA)], env=_env(srv, work), cwd=work) as claw:
        claw.control("init", "initialize", jsonSchema=schema)
        claw.user("count")
        answer = claw.control_response("init", 30)
        result = claw.until_result(30)[-1]
        code = claw.wait(30)
        assert srv.requests == []
    assert answer["subtype"] == "error" and words in answer["error"]
    assert result["is_error"] and words in result["result"] and code == 2


def test_an_interrupt_cancels_the_subagents_and_their_tools(work: Path, tmp_path: Path) -> None:
    marker = tmp_path / "child-finished"
    agents = {"sleeper": {"description": "sleeps", "prompt": "MARKER_SLEEP"}}
    calls = [tool_use("agent", {"description": "sleep", "prompt": "sleep", "subagent_type": "sleeper"}, id=f"toolu_{i}")
             for i in (1, 2)]
    pids = [tmp_path / "pid1", tmp_path / "pid2"]
    sleeps = [reply(tool_uses=[tool_use("bash", {"command": f"echo $$ > {pid}; sleep 20; touch {marker}"})])
              for pid in pids]
    with ModelServer([reply(tool_uses=calls)], handler=by_system_prompt({"MARKER_SLEEP": sleeps})) as srv, \
            ClawProcess(["--permission-mode", "bypassPermissions"], env=_env(srv, work), cwd=work) as claw:
        claw.control("init", "initialize", agents=agents)
        claw.user("sleep twice")
        seen = claw.read_until(lambda m: m["type"] == "assistant" and m["parent_tool_use_id"] is not None, 30)
        seen += claw.read_until(lambda m: m["type"] == "assistant" and m["parent_tool_use_id"] is not None, 30)
        deadline = time.monotonic() + 20
        while not all(p.exists() and p.read_text().strip() for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        shells = [int(p.read_text()) for p in pids]  # both children's bash calls are running
        assert all(alive(pid) for pid in shells)
        claw.control("int", "interrupt")
        seen += claw.until_result(30)
        assert claw.wait(30) == 130
    assert {m["parent_tool_use_id"] for m in seen if m["type"] == "assistant"} == {None, "toolu_1", "toolu_2"}
    assert seen[-1]["error"]["kind"] == "interrupted"
    for pid in shells:  # the children's tools were killed with them
        assert wait_gone(pid, 10)
    assert not marker.exists()
