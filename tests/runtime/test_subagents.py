"""Subagents (claw.runtime.subagents): the agent tool's child runs, end to end against the fake model
server over HTTP. The parent's requests come from the fake's FIFO script; each child's are picked by a
marker in its system prompt (``by_system_prompt``), since concurrent children's requests interleave.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any, Dict, List

import pytest

from claw.runtime.events import AssistantMessage, SubagentEvent
from claw.runtime.run import RunOptions
from claw.runtime.run_open import open_run
from claw.runtime.session_store import SessionStore
from tests.fakes.model_server import ModelServer, by_system_prompt, reply, tool_use

USAGE = {"input_tokens": 1000, "output_tokens": 100}


def _env(srv: ModelServer, home: Path, **extra: str) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(srv.env())
    env.update({"HOME": str(home), "CLAW_CONFIG_HOME": str(home / ".claw")})
    env.pop("CLAW_TRUST_PROJECT", None)
    env.update(extra)
    return env


def _agents(**defs: Dict[str, Any]) -> str:
    return json.dumps(defs)


def _call(kind: str, prompt: str, id: str) -> Dict[str, Any]:
    return tool_use("agent", {"description": f"{kind} task", "prompt": prompt, "subagent_type": kind}, id=id)


def _system(req: Any) -> str:
    return json.dumps(req.json.get("system", ""))


def _results(req: Any) -> Dict[str, Dict[str, Any]]:
    last = req.json["messages"][-1]
    return {b["tool_use_id"]: b for b in last["content"] if b.get("type") == "tool_result"}


def _turn(options: RunOptions, prompt: str = "go", events: List[Any] = None):
    sink = (events.append if events is not None else (lambda e: None))

    async def go():
        async with await open_run(options, sink=sink) as run:
            outcome = await run.turn(prompt)
            return run, outcome

    return asyncio.run(asyncio.wait_for(go(), 60))


def test_two_subagents_run_concurrently_with_their_own_tools_and_their_costs_roll_up(home, project):
    agents = _agents(reader_a={"description": "reads", "prompt": "MARKER_A you read", "tools": ["Read", "Grep"]},
                     reader_b={"description": "globs", "prompt": "MARKER_B you glob", "tools": "Glob"})
    slow = {"delay": 0.15, "chunking": "events"}  # each child's answer takes over a second to stream
    routes = {"MARKER_A": [reply(text="A found it", usage=USAGE, **slow)],
              "MARKER_B": [reply(text="B found it", usage=USAGE, **slow)]}
    script = [reply(tool_uses=[_call("reader_a", "look at a", "toolu_A"), _call("reader_b", "look at b", "toolu_B")],
                    usage=USAGE),
              reply(text="both done", usage=USAGE)]
    events: List[Any] = []
    with ModelServer(script, handler=by_system_prompt(routes)) as srv:
        run, outcome = _turn(RunOptions(cwd=project, base_env=_env(srv, home), agents_json=agents), events=events)
    assert outcome.subtype == "success" and outcome.result == "both done"
    child_a = next(r for r in srv.requests if "MARKER_A" in _system(r))
    child_b = next(r for r in srv.requests if "MARKER_B" in _system(r))
    # concurrent: each child's request arrived before the other's answer had finished streaming
    assert child_a.time < child_b.finished and child_b.time < child_a.finished
    assert {t["name"] for t in child_a.json["tools"]} == {"read_file", "grep_search"}
    assert {t["name"] for t in child_b.json["tools"]} == {"glob_search"}
    # each child has its own context: its prompt, not the parent's conversation
    assert [(m["role"], [b["text"] for b in m["content"]]) for m in child_a.json["messages"]] == [
        ("user", ["look at a"])]
    results = _results(srv.requests[-1])
    assert results["toolu_A"]["content"] == "A found it" and results["toolu_B"]["content"] == "B found it"
    # four responses of 1000/100 tokens: the children's count in the parent's result
    assert outcome.usage.input_tokens == 4000 and outcome.usage.output_tokens == 400
    single = run.agent.cost_of(run.info.model, _usage(USAGE))
    assert single and outcome.cost_usd == pytest.approx(4 * single)
    assert sum(t.usage.input_tokens for t in outcome.model_usage.values()) == 4000
    tagged = [e for e in events if isinstance(e, SubagentEvent) and isinstance(e.event, AssistantMessage)]
    assert {e.parent_tool_use_id for e in tagged} == {"toolu_A", "toolu_B"}


def _usage(data: Dict[str, int]):
    from claw.api.types import Usage

    return Usage(input_tokens=data["input_tokens"], output_tokens=data["output_tokens"])


def test_a_child_is_never_wider_than_its_read_only_parent(home, project):
    agents = _agents(writer={"description": "writes", "prompt": "MARKER_W", "tools": ["Write", "Read"],
                             "permissionMode": "bypassPermissions"})
    routes = {"MARKER_W": [reply(tool_uses=[tool_use("write_file", {"path": "out.txt", "content": "x"})]),
                           reply(text="could not write")]}
    script = [reply(tool_uses=[_call("writer", "write out.txt", "toolu_W")]), reply(text="done")]
    with ModelServer(script, handler=by_system_prompt(routes)) as srv:
        _turn(RunOptions(cwd=project, base_env=_env(srv, home), agents_json=agents, permission_mode="read-only"))
    assert not (project / "out.txt").exists()
    child_second = [r for r in srv.requests if "MARKER_W" in _system(r)][1]
    (result,) = _results(child_second).values()
    assert result.get("is_error") and "Permission denied" in json.dumps(result["content"])


def test_deny_rules_of_the_settings_apply_to_children(home, project):
    (project / ".claw").mkdir()
    (project / ".claw" / "settings.json").write_text(json.dumps({"permissions": {"deny": ["Bash(touch:*)"]}}))
    routes = {"MARKER_D": [reply(tool_uses=[tool_use("bash", {"command": "touch made.txt"})]), reply(text="no")]}
    script = [reply(tool_uses=[_call("doer", "touch it", "toolu_D")]), reply(text="done")]
    agents = _agents(doer={"description": "does", "prompt": "MARKER_D"})
    with ModelServer(script, handler=by_system_prompt(routes)) as srv:
        _turn(RunOptions(cwd=project, base_env=_env(srv, home, CLAW_TRUST_PROJECT="1"), agents_json=agents))
    assert not (project / "made.txt").exists()
    (result,) = _results([r for r in srv.requests if "MARKER_D" in _system(r)][1]).values()
    assert "Permission denied" in json.dumps(result["content"])


def test_a_child_gets_no_agent_tool_unless_its_definition_lists_it(home, project):
    agents = _agents(plain={"description": "plain", "prompt": "MARKER_P"},
                     nester={"description": "nests", "prompt": "MARKER_N",
                             "tools": ["Read", "Agent(plain)", "Bash(git status:*)"]})
    routes = {"MARKER_P": [reply(text="p")],
              "MARKER_N": [reply(tool_uses=[_call("general-purpose", "x", "toolu_G")]), reply(text="n")]}
    script = [reply(tool_uses=[_call("plain", "x", "toolu_P"), _call("nester", "y", "toolu_N")]), reply(text="ok")]
    with ModelServer(script, handler=by_system_prompt(routes)) as srv:
        _turn(RunOptions(cwd=project, base_env=_env(srv, home), agents_json=agents))
    plain = next(r for r in srv.requests if "MARKER_P" in _system(r))
    nester = next(r for r in srv.requests if "MARKER_N" in _system(r))
    assert "agent" in {t["name"] for t in srv.requests[0].json["tools"]}
    assert "agent" not in {t["name"] for t in plain.json["tools"]}
    assert {t["name"] for t in nester.json["tools"]} == {"read_file", "agent"}  # no bash: it cannot be narrowed
    # Agent(plain): the nester may start only plain agents
    (refused,) = _results([r for r in srv.requests if "MARKER_N" in _system(r)][1]).values()
    assert refused["is_error"] and "Available agents: plain." in refused["content"]


def test_nesting_stops_at_the_maximum_depth(home, project):
    agents = _agents(nester={"description": "nests", "prompt": "MARKER_N", "tools": ["Agent"]})
    deeper = reply(tool_uses=[_call("nester", "deeper", "toolu_deeper")])
    routes = {"MARKER_N": [deeper] * 3 + [reply(text="up")] * 3}
    script = [reply(tool_uses=[_call("nester", "start", "toolu_top")]), reply(text="top done")]
    with ModelServer(script, handler=by_system_prompt(routes)) as srv:
        _, outcome = _turn(RunOptions(cwd=project, base_env=_env(srv, home), agents_json=agents))
    assert outcome.result == "top done"
    nested = [r for r in srv.requests if "MARKER_N" in _system(r)]
    # depths 1, 2 and 3 ran; the agent at depth 3 has no agent tool left, and its call of it failed
    assert [("agent" in {t["name"] for t in r.json.get("tools", [])}) for r in nested[:3]] == [True, True, False]
    (refused,) = _results(nested[3]).values()
    assert refused["is_error"] and "Unknown tool 'agent'" in refused["content"]
    assert len(nested) == 6


def test_interrupting_the_parent_cancels_its_children_and_their_tools(home, project, tmp_path):
    marker = tmp_path / "child-finished"
    routes = {"MARKER_S": [reply(tool_uses=[tool_use("bash", {"command": f"sleep 30; touch {marker}"})])]}
    script = [reply(tool_uses=[_call("sleeper", "sleep", "toolu_S")])]
    agents = _agents(sleeper={"description": "sleeps", "prompt": "MARKER_S"})
    events: List[Any] = []
    with ModelServer(script, handler=by_system_prompt(routes)) as srv:
        env = _env(srv, home)

        async def go():
            async with await open_run(RunOptions(cwd=project, base_env=env, agents_json=agents),
                                      sink=events.append) as run:
                task = asyncio.ensure_future(run.turn("go"))
                for _ in range(200):  # until the child's bash call started
                    if any(isinstance(e, SubagentEvent) and type(e.event).__name__ == "ToolStarted" for e in events):
                        break
                    await asyncio.sleep(0.05)
                else:
                    raise AssertionError("the child's tool never started")
                await asyncio.sleep(0.3)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                return run.session.id

        session_id = asyncio.run(asyncio.wait_for(go(), 30))
    assert not marker.exists()
    session = SessionStore(project).open(session_id)
    # the parent's history stays valid: the agent call is answered as interrupted
    assert session.messages[-1]["content"][0]["tool_use_id"] == "toolu_S"


def test_the_transcript_is_a_sidechain_that_resume_ignores(home, project):
    routes = {"MARKER_T": [reply(tool_uses=[tool_use("read_file", {"path": "f.txt"})]), reply(text="it says hi")]}
    (project / "f.txt").write_text("hi\n")
    script = [reply(tool_uses=[_call("t", "read f", "toolu_T")]), reply(text="done"), reply(text="resumed")]
    agents = _agents(t={"description": "reads", "prompt": "MARKER_T", "tools": ["Read"]})
    with ModelServer(script, handler=by_system_prompt(routes)) as srv:
        env = _env(srv, home)
        run, _ = _turn(RunOptions(cwd=project, base_env=env, agents_json=agents))
        lines = run.session.path.read_text().splitlines()
        records = [json.loads(line) for line in lines]
        # listed apart from the conversation's own messages (a listing counts lines by their prefix)
        assert sum(line.startswith('{"isSidechain":true,"type":"message"') for line in lines) == 4
        from claw.runtime.session_summary import summarize_session_file

        assert summarize_session_file(run.session.path).message_count == 4  # prompt, call, result, answer
        side = [r for r in records if r.get("isSidechain")]
        assert [r["message"]["role"] for r in side] == ["user", "assistant", "user", "assistant"]
        assert {r["parent_tool_use_id"] for r in side} == {"toolu_T"} and len({r["agentId"] for r in side}) == 1
        assert side[0]["message"]["content"][0]["text"] == "read f"
        _, outcome = _turn(RunOptions(cwd=project, base_env=env, resume=run.session.id), prompt="again")
    assert outcome.result == "resumed"
    history = srv.requests[-1].json["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant", "user"]
    assert "f.txt" not in json.dumps(history) and "it says hi" in json.dumps(history)  # only the result


def test_subagent_hooks_fire_with_the_agent_type(home, project, tmp_path):
    log = tmp_path / "hooks.log"
    hook = {"type": "command", "command": f"cat >> {log}; echo >> {log}"}
    settings = {"hooks": {"SubagentStart": [{"matcher": "helper", "hooks": [hook]}],
                          "SubagentStop": [{"hooks": [hook]}],
                          "UserPromptSubmit": [{"hooks": [hook]}]}}
    (home / ".claw" / "settings.json").write_text(json.dumps(settings))
    routes = {"MARKER_H": [reply(text="helped")]}
    script = [reply(tool_uses=[_call("helper", "help", "toolu_H")]), reply(text="done")]
    agents = _agents(helper={"description": "helps", "prompt": "MARKER_H"})
    with ModelServer(script, handler=by_system_prompt(routes)) as srv:
        _turn(RunOptions(cwd=project, base_env=_env(srv, home), agents_json=agents))
    events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    names = [e["hook_event_name"] for e in events]
    assert names == ["UserPromptSubmit", "SubagentStart", "SubagentStop"]  # the child's prompt fires none
    start, stop = events[1], events[2]
    assert start["agent_type"] == stop["agent_type"] == "helper" and start["agent_id"] == stop["agent_id"]
    assert stop["agent_transcript_path"] == stop["transcript_path"]


@pytest.mark.untrusted_folders
def test_project_agent_files_need_a_trusted_folder(home, project):
    agents_dir = project / ".claude" / "agents"
    agents_dir.mkdir(parents=True)
    (agents_dir / "rev.md").write_text("---\nname: reviewer\ndescription: Reviews code\ntools: Read, Grep\n"
                                       "model: inherit\n---\nYou review. MARKER_R\n")
    (home / ".claude" / "agents").mkdir(parents=True)
    (home / ".claude" / "agents" / "mine.md").write_text("---\ndescription: Mine\n---\nMine.\n")

    async def names(env):
        async with await open_run(RunOptions(cwd=project, base_env=env), sink=lambda e: None) as run:
            return run.info.agents, run.notices()

    with ModelServer([]) as srv:
        listed, notices = asyncio.run(names(_env(srv, home)))
        assert listed == ["general-purpose", "mine"]
        assert any("not trusted" in n and "reviewer" in n for n in notices)
        listed, _ = asyncio.run(names(_env(srv, home, CLAW_TRUST_PROJECT="1")))
        assert listed == ["general-purpose", "mine", "reviewer"]


def test_main_thread_as_an_agent(home, project):
    agents = _agents(lookout={"description": "looks", "prompt": "MARKER_L only look", "tools": ["Read", "Glob"]})
    with ModelServer([reply(text="looked")]) as srv:
        _turn(RunOptions(cwd=project, base_env=_env(srv, home), agents_json=agents, agent="lookout"))
    assert "MARKER_L only look" in _system(srv.requests[0])
    assert {t["name"] for t in srv.requests[0].json["tools"]} == {"read_file", "glob_search"}


def test_an_unknown_subagent_type_is_an_error_result_naming_the_agents(home, project):
    script = [reply(tool_uses=[_call("nope", "x", "toolu_X")]), reply(text="ok")]
    with ModelServer(script) as srv:
        _turn(RunOptions(cwd=project, base_env=_env(srv, home)))
    (result,) = _results(srv.requests[-1]).values()
    assert result["is_error"] and "general-purpose" in result["content"]


def test_childrens_permission_questions_go_to_the_parents_prompter_one_at_a_time(home, project):
    from claw.runtime.tool_calls import PermissionAnswer

    asked: List[str] = []
    active = {"now": 0, "most": 0}

    async def prompter(request):
        active["now"] += 1
        active["most"] = max(active["most"], active["now"])
        await asyncio.sleep(0.2)
        asked.append(request.input["path"])
        active["now"] -= 1
        return PermissionAnswer(allow=request.input["path"] == "yes.txt", message="no thanks")

    def writes(path):
        return [reply(tool_uses=[tool_use("write_file", {"path": path, "content": "x"})]), reply(text=f"wrote {path}")]

    routes = {"MARKER_Y": writes("yes.txt"), "MARKER_N": writes("no.txt")}
    agents = _agents(y={"description": "y", "prompt": "MARKER_Y"}, n={"description": "n", "prompt": "MARKER_N"})
    script = [reply(tool_uses=[_call("y", "write", "toolu_Y"), _call("n", "write", "toolu_N")]), reply(text="ok")]
    with ModelServer(script, handler=by_system_prompt(routes)) as srv:
        env = _env(srv, home)

        async def go():
            options = RunOptions(cwd=project, base_env=env, agents_json=agents, permission_mode="default")
            async with await open_run(options, sink=lambda e: None, prompter=prompter) as run:
                return await run.turn("go")

        outcome = asyncio.run(asyncio.wait_for(go(), 60))
    assert sorted(asked) == ["no.txt", "yes.txt"] and active["most"] == 1
    assert (project / "yes.txt").exists() and not (project / "no.txt").exists()
    assert outcome.result == "ok"


def test_a_blocking_subagent_stop_hook_makes_the_subagent_go_on(home, project, tmp_path):
    once = tmp_path / "blocked-once"
    command = f"if [ -e {once} ]; then exit 0; fi; touch {once}; echo 'also check the tests' >&2; exit 2"
    settings = {"hooks": {"SubagentStop": [{"matcher": "checker", "hooks": [{"type": "command", "command": command}]}]}}
    (home / ".claw" / "settings.json").write_text(json.dumps(settings))
    routes = {"MARKER_C": [reply(text="first answer"), reply(text="checked the tests too")]}
    script = [reply(tool_uses=[_call("checker", "check", "toolu_C")]), reply(text="done")]
    agents = _agents(checker={"description": "checks", "prompt": "MARKER_C"})
    with ModelServer(script, handler=by_system_prompt(routes)) as srv:
        _turn(RunOptions(cwd=project, base_env=_env(srv, home), agents_json=agents))
    child = [r for r in srv.requests if "MARKER_C" in _system(r)]
    assert len(child) == 2 and "also check the tests" in json.dumps(child[1].json["messages"][-1])
    assert _results(srv.requests[-1])["toolu_C"]["content"] == "checked the tests too"


def test_protected_files_are_protected_from_children_as_from_the_parent(home, project):
    routes = {"MARKER_E": [reply(tool_uses=[tool_use("write_file", {"path": ".claude/agents/evil.md", "content": "x"}),
                                            tool_use("write_file", {"path": "ok.txt", "content": "x"})]),
                           reply(text="tried")]}
    script = [reply(tool_uses=[_call("editor", "write", "toolu_E")]), reply(text="done")]
    agents = _agents(editor={"description": "edits", "prompt": "MARKER_E", "tools": ["Write"]})
    with ModelServer(script, handler=by_system_prompt(routes)) as srv:
        _turn(RunOptions(cwd=project, base_env=_env(srv, home), agents_json=agents, permission_mode="workspace-write"))
    assert (project / "ok.txt").exists() and not (project / ".claude").exists()
    results = _results([r for r in srv.requests if "MARKER_E" in _system(r)][1])
    assert [bool(b.get("is_error")) for b in results.values()] == [True, False]


def test_a_run_with_only_the_built_in_agent_shows_it_as_a_loaded_catalog_does(home, project):
    # No agent directory, --agents or --agent: the run describes the built-in agent without loading the
    # subagent modules; the model, the host and /agents see what a run that loaded its catalog sees.
    with ModelServer([reply(text="a"), reply(text="b")]) as srv:
        lazy, _ = _turn(RunOptions(cwd=project, base_env=_env(srv, home)))
        loaded, _ = _turn(RunOptions(cwd=project, base_env=_env(srv, home), agents_json="{}"))
    assert type(lazy.subagents).__name__ == "BuiltinSubagents"
    assert type(loaded.subagents).__name__ == "Subagents"
    described = [{t["name"]: t["description"] for t in req.json["tools"]}["agent"] for req in srv.requests]
    assert described[0] == described[1] and "- general-purpose: General-purpose agent" in described[0]
    assert lazy.info.agents == loaded.info.agents == ["general-purpose"]
    assert lazy.subagents.listing() == loaded.subagents.listing()
    assert list(lazy.subagents.catalog.agents.values()) == list(loaded.subagents.catalog.agents.values())


@pytest.mark.parametrize("where", ["project .claude", "project .claw", "user .claude", "user .claw"])
def test_an_agent_directory_anywhere_loads_the_catalog(home, project, where):
    scope, base = where.split()
    root = (project if scope == "project" else home) / base / "agents"
    root.mkdir(parents=True)
    (root / "mine.md").write_text("---\ndescription: mine\n---\nMARKER_M")
    with ModelServer([reply(text="a")]) as srv:
        run, _ = _turn(RunOptions(cwd=project, base_env=_env(srv, home, CLAW_TRUST_PROJECT="1")))
    assert type(run.subagents).__name__ == "Subagents"
    assert run.info.agents == ["general-purpose", "mine"]
