"""Subagents from the command line: ``--agents``, ``--agent``, and what each output format shows of a
subagent (headless, in-process, against the fake model server)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli.headless_helpers import ROOT, isolated_env, run_inprocess
from tests.fakes.model_server import ModelServer, by_system_prompt, reply, tool_use

USAGE = {"input_tokens": 1000, "output_tokens": 100}
AGENTS = json.dumps({"scout": {"description": "Finds files", "prompt": "MARKER_SCOUT Find files.",
                               "tools": ["Glob", "Read"], "model": "inherit"}})


@pytest.fixture
def work(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def _script():
    call = tool_use("agent", {"description": "scout", "prompt": "find the files", "subagent_type": "scout"},
                    id="toolu_scout")
    return ([reply(tool_uses=[call], usage=USAGE), reply(text="The scout found nothing.", usage=USAGE)],
            {"MARKER_SCOUT": [reply(text="SCOUT REPORT: nothing", usage=USAGE)]})


def test_text_output_shows_the_parents_answer_and_the_agent_call(work, home, monkeypatch):
    script, routes = _script()
    with ModelServer(script, handler=by_system_prompt(routes)) as srv:
        run = run_inprocess(["-p", "find files", "--agents", AGENTS], isolated_env(srv.env(), home), monkeypatch, work)
    assert run.code == 0, run.stderr
    assert run.stdout == "The scout found nothing.\n"  # the subagent's own text is its tool result only
    assert "SCOUT REPORT" not in run.stdout and "agent(" in run.stderr


def test_json_result_counts_the_subagents_cost(work, home, monkeypatch):
    script, routes = _script()
    with ModelServer(script, handler=by_system_prompt(routes)) as srv:
        run = run_inprocess(["-p", "find files", "--agents", AGENTS, "--output-format", "json"],
                            isolated_env(srv.env(), home), monkeypatch, work)
    assert run.code == 0, run.stderr
    result = run.json
    assert result["usage"]["input_tokens"] == 3000 and result["usage"]["output_tokens"] == 300
    with ModelServer([reply(text="x", usage=USAGE)]) as srv:
        single = run_inprocess(["-p", "x", "--output-format", "json"], isolated_env(srv.env(), home), monkeypatch,
                               work).json
    assert single["total_cost_usd"] > 0
    assert result["total_cost_usd"] == pytest.approx(3 * single["total_cost_usd"], rel=1e-3)


def test_stream_json_tags_the_subagents_messages(work, home, monkeypatch):
    script, routes = _script()
    with ModelServer(script, handler=by_system_prompt(routes)) as srv:
        run = run_inprocess(["-p", "find files", "--agents", AGENTS, "--output-format", "stream-json", "--verbose"],
                            isolated_env(srv.env(), home), monkeypatch, work)
    assert run.code == 0, run.stderr
    lines = run.lines
    assert lines[0]["agents"] == ["general-purpose", "scout"]
    tagged = [(m["type"], m["parent_tool_use_id"]) for m in lines if m["type"] in ("user", "assistant")]
    assert tagged == [("assistant", None), ("user", "toolu_scout"), ("assistant", "toolu_scout"), ("user", None),
                      ("assistant", None)]


def test_agent_flag_runs_the_main_thread_as_that_agent(work, home, monkeypatch):
    with ModelServer([reply(text="scouted")]) as srv:
        run = run_inprocess(["-p", "go", "--agents", AGENTS, "--agent", "scout"], isolated_env(srv.env(), home),
                            monkeypatch, work)
    assert run.code == 0, run.stderr
    request = srv.requests[0].json
    assert "MARKER_SCOUT" in json.dumps(request["system"])
    assert {t["name"] for t in request["tools"]} == {"glob_search", "read_file"}


@pytest.mark.parametrize("argv,message", [
    (["--agents", "{not json"], "--agents is not valid JSON"),
    (["--agents", '{"x": {"prompt": "p"}}'], "'description' (a string) is required"),
    (["--agent", "nobody"], "--agent: no agent named 'nobody'"),
])
def test_bad_agent_flags_are_usage_errors(work, home, monkeypatch, argv, message):
    with ModelServer([]) as srv:
        run = run_inprocess(["-p", "go", *argv], isolated_env(srv.env(), home), monkeypatch, work)
        assert srv.requests == []
    assert run.code == 2 and message in run.stderr


def test_a_run_without_agent_definitions_imports_none_of_the_subagent_modules(work, home):
    # The built-in agent is described without them; they load at the first agent call. Likewise the
    # checkpoint store (and hashlib) at the first file change of a session.
    code = ("import sys, io; from claw.cli.headless import run; "
            "rc = run(['-p', 'hi', '--output-format', 'json'], stdin=io.StringIO(''), stdout=io.StringIO(), "
            "stderr=sys.stderr); "
            "print(rc, sorted(m for m in sys.modules if m in LAZY))")
    lazy = ("claw.runtime.agent_defs", "claw.runtime.subagents", "claw.runtime.checkpoints", "hashlib")
    with ModelServer([reply(text="a")]) as srv:
        env = isolated_env(srv.env(), home, PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, "-c", f"LAZY = {lazy!r}; " + code], cwd=work, env=env,
                              capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "0 []", proc.stdout + proc.stderr
