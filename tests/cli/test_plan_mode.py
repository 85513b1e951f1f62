"""Plan mode as a workflow (exit_plan_mode), ask_user_question and web_fetch's prompt, end to end: claw
headless in-process, over stream-json as a subprocess, and the REPL on a pty, against the fake model
server (and a local HTTP server for web_fetch)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.cli.headless_helpers import isolated_env, run_inprocess
from tests.fakes.claw_wrapper import ClawProcess
from tests.fakes.model_server import ModelServer, error, reply, tool_use
from tests.tools.helpers import LocalHttpServer

PLAN = "# Plan\n\n1. Write `out.txt`\n2. Done"
QUESTIONS = [{"question": "Which colour?", "header": "Colour", "multiSelect": False,
              "options": [{"label": "red", "description": "warm"}, {"label": "blue", "description": "cool"}]}]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


def _results(request: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [b for b in request["messages"][-1]["content"] if b.get("type") == "tool_result"]


def _headless(work: Path, srv: ModelServer, monkeypatch: Any, *args: str) -> Dict[str, Any]:
    run = run_inprocess(["-p", "go", "--output-format", "json", *args],
                        isolated_env(srv.env(), work.parent / "home"), monkeypatch, work)
    assert run.code == 0, run.stderr
    return run.json


def test_plan_mode_denies_a_write_with_the_plan_mode_reason_even_under_an_allow_rule(work, monkeypatch):
    script = [reply(tool_uses=[tool_use("write_file", {"path": "out.txt", "content": "x"}, id="w1")]),
              reply(text="ok")]
    with ModelServer(script) as srv:
        result = _headless(work, srv, monkeypatch, "--permission-mode", "plan", "--allowedTools", "Write")
        denied = _results(srv.requests[1].json)[0]
    assert denied["is_error"] and "plan mode" in denied["content"] and "exit_plan_mode" in denied["content"]
    assert not (work / "out.txt").exists()
    assert [d["tool_name"] for d in result["permission_denials"]] == ["write_file"]


def test_headless_plan_and_question_are_denied_with_text_the_model_can_act_on(work, monkeypatch):
    script = [reply(tool_uses=[tool_use("exit_plan_mode", {"plan": PLAN}, id="p1"),
                               tool_use("ask_user_question", {"questions": QUESTIONS}, id="q1")]),
              reply(text=PLAN)]
    with ModelServer(script) as srv:
        result = _headless(work, srv, monkeypatch, "--permission-mode", "plan")
        plan, question = _results(srv.requests[1].json)
    assert plan["is_error"] and "no user to approve the plan" in plan["content"]
    assert question["is_error"] and "no user to ask in this mode; decide yourself" in question["content"]
    # As Claude Code's -p: the run ends normally with the plan as its answer; nobody was asked, so no denial.
    assert result["subtype"] == "success" and result["result"] == PLAN and result["permission_denials"] == []


def _answer(claw: ClawProcess, message: Dict[str, Any], response: Dict[str, Any]) -> None:
    claw.send({"type": "control_response", "response": {"subtype": "success", "request_id": message["request_id"],
                                                        "response": response}})


def test_exit_plan_mode_over_stream_json_declined_then_approved_with_set_mode(work):
    script = [reply(tool_uses=[tool_use("exit_plan_mode", {"plan": PLAN}, id="p1")]),
              reply(tool_uses=[tool_use("exit_plan_mode", {"plan": PLAN}, id="p2")]),
              reply(tool_uses=[tool_use("write_file", {"path": "out.txt", "content": "x"}, id="w1")]),
              reply(text="done")]
    asks, messages = [], []
    with ModelServer(script) as srv, ClawProcess(
            ["--permission-mode", "plan", "--permission-prompt-tool", "stdio"],
            env=srv.env(CLAW_CONFIG_HOME=str(work.parent / "home"), HOME=str(work.parent / "home")),
            cwd=work) as claw:
        claw.user("plan it")
        while True:
            message = claw.next()
            assert message is not None, claw.stderr
            messages.append(message)
            if message["type"] == "control_request":
                asks.append(message["request"])
                if len(asks) == 1:
                    _answer(claw, message, {"behavior": "deny", "message": "add tests first"})
                else:
                    _answer(claw, message, {"behavior": "allow", "updatedInput": message["request"]["input"],
                                            "updatedPermissions": [{"type": "setMode", "mode": "acceptEdits",
                                                                    "destination": "session"}]})
            if message["type"] == "result":
                break
        assert claw.wait() == 0
        declined, approved = _results(srv.requests[1].json)[0], _results(srv.requests[2].json)[0]
    assert [(a["tool_name"], a["input"]) for a in asks] == [("ExitPlanMode", {"plan": PLAN})] * 2  # no ask for Write
    assert declined["is_error"] and "add tests first" in declined["content"]
    assert "approved your plan" in approved["content"] and "workspace-write" in approved["content"]
    status = [m for m in messages if m.get("subtype") == "status"]
    assert [s["permissionMode"] for s in status] == ["acceptEdits"]
    assert (work / "out.txt").read_text() == "x"
    shaped = [m["tool_use_result"] for m in messages if m["type"] == "user" and "tool_use_result" in m]
    assert {"plan": PLAN, "isAgent": False} in shaped


def test_ask_user_question_over_stream_json_gets_the_hosts_answers(work):
    script = [reply(tool_uses=[tool_use("ask_user_question", {"questions": QUESTIONS}, id="q1")]),
              reply(text="blue it is")]
    with ModelServer(script) as srv, ClawProcess(
            ["--permission-prompt-tool", "stdio"],
            env=srv.env(CLAW_CONFIG_HOME=str(work.parent / "home"), HOME=str(work.parent / "home")),
            cwd=work) as claw:
        claw.user("ask me")
        messages = []
        while True:
            message = claw.next()
            assert message is not None, claw.stderr
            messages.append(message)
            if message["type"] == "control_request":
                request = message["request"]
                assert request["tool_name"] == "AskUserQuestion" and request["input"]["questions"] == QUESTIONS
                _answer(claw, message, {"behavior": "allow", "updatedInput": dict(
                    request["input"], answers={"Which colour?": "blue"})})
            if message["type"] == "result":
                break
        assert claw.wait() == 0
        answered = _results(srv.requests[1].json)[0]
    assert not answered.get("is_error") and '"Which colour?"="blue"' in answered["content"]
    shaped = next(m["tool_use_result"] for m in messages if m["type"] == "user" and "tool_use_result" in m)
    assert shaped["answers"] == {"Which colour?": "blue"} and shaped["questions"] == QUESTIONS


def _page(handler: Any):
    return 200, [("Content-Type", "text/html")], b"<html><body><p>The magic number is 42.</p></body></html>"


def test_web_fetch_prompt_is_answered_by_the_small_model_and_counted(work, monkeypatch):
    with LocalHttpServer({"/a": lambda h: (302, [("Location", "/page")], b""), "/page": _page}) as web:
        script = [reply(tool_uses=[tool_use("web_fetch", {"url": web.base + "/a", "prompt": "the number?"},
                                            id="f1")]),
                  reply(text="It is 42.", usage={"input_tokens": 1000, "output_tokens": 10}),
                  reply(text="done")]
        with ModelServer(script) as srv:
            result = _headless(work, srv, monkeypatch, "--permission-mode", "bypassPermissions",
                               "--model", "claude-sonnet-4-5")
            side, main = srv.requests[1].json, srv.requests[2].json
    assert "haiku" in side["model"] and "The magic number is 42." in json.dumps(side["messages"])
    assert "the number?" in json.dumps(side["messages"]) and not side.get("tools")
    answer = _results(main)[0]["content"]
    assert "It is 42." in answer and "magic number" not in answer and f"URL: {web.base}/page" in answer
    usage = result["modelUsage"]
    assert usage[side["model"]]["inputTokens"] == 1000 and usage[side["model"]]["costUSD"] > 0
    assert result["total_cost_usd"] == pytest.approx(sum(u["costUSD"] for u in usage.values()))


def test_web_fetch_side_call_counts_against_max_budget_usd(work, monkeypatch):
    with LocalHttpServer({"/page": _page}) as web:
        script = [reply(tool_uses=[tool_use("web_fetch", {"url": web.base + "/page", "prompt": "n?"}, id="f1")],
                        usage={"input_tokens": 10, "output_tokens": 10}),
                  reply(text="42", usage={"input_tokens": 200_000, "output_tokens": 10}),  # ~$0.20 at haiku prices
                  reply(text="never asked")]
        with ModelServer(script) as srv:
            run = run_inprocess(["-p", "go", "--output-format", "json", "--permission-mode", "bypassPermissions",
                                 "--model", "claude-sonnet-4-5", "--max-budget-usd", "0.1"],
                                isolated_env(srv.env(), work.parent / "home"), monkeypatch, work)
            asked = len(srv.requests)
    assert run.json["subtype"] == "error_max_budget_usd" and run.json["total_cost_usd"] > 0.1
    assert asked == 2  # the main model was not asked again once the side call spent the budget


def test_web_fetch_prompt_uses_the_main_model_for_other_providers(work, monkeypatch):
    with LocalHttpServer({"/page": _page}) as web:
        script = [reply(tool_uses=[tool_use("web_fetch", {"url": web.base + "/page", "prompt": "n?"}, id="f1")]),
                  reply(text="It is 42."), reply(text="done")]
        with ModelServer(script) as srv:
            _headless(work, srv, monkeypatch, "--permission-mode", "bypassPermissions", "--model", "openai/gpt-4.1")
            paths = [r.path for r in srv.requests]
            side, main = srv.requests[1].json, srv.requests[2].json
    assert all(p.endswith("/chat/completions") for p in paths) and side["model"] == "gpt-4.1"
    assert "The magic number is 42." in json.dumps(side["messages"]) and "It is 42." in json.dumps(main["messages"])


def test_web_fetch_prompt_falls_back_to_the_page_when_the_side_call_fails(work, monkeypatch):
    with LocalHttpServer({"/page": _page}) as web:
        script = [reply(tool_uses=[tool_use("web_fetch", {"url": web.base + "/page", "prompt": "n?"}, id="f1")]),
                  error(400, "invalid_request_error", "nope"), reply(text="done")]
        with ModelServer(script) as srv:
            _headless(work, srv, monkeypatch, "--permission-mode", "bypassPermissions")
            content = _results(srv.requests[2].json)[0]["content"]
    assert "The magic number is 42." in content and "Prompt: n?" in content and "model call failed" in content


def test_web_fetch_reports_a_cross_host_redirect_and_asks_no_side_call(work, monkeypatch):
    with LocalHttpServer({"/page": _page}) as other:
        target = f"http://localhost:{other.port}/page"
        with LocalHttpServer({"/go": lambda h: (301, [("Location", target)], b"")}) as web:
            script = [reply(tool_uses=[tool_use("web_fetch", {"url": web.base + "/go", "prompt": "n?"}, id="f1")]),
                      reply(text="done")]
            with ModelServer(script) as srv:
                _headless(work, srv, monkeypatch, "--permission-mode", "bypassPermissions")
                asked = len(srv.requests)
                content = _results(srv.requests[1].json)[0]["content"]
        assert other.requests == []  # not followed
    assert asked == 2 and f"redirects to a different host: {target}" in content and "magic number" not in content


def test_exit_plan_mode_in_the_repl_shows_the_plan_and_switches_to_accept_edits(tmp_path):
    from tests.cli.test_repl_pty import PROMPT, Rig, finish

    rig = Rig(tmp_path)
    try:
        rig.serve(reply(tool_uses=[tool_use("exit_plan_mode", {"plan": PLAN}, id="p1")]),
                  reply(tool_uses=[tool_use("write_file", {"path": "out.txt", "content": "x"}, id="w1")]),
                  reply(text="written"))
        proc = rig.start("--permission-mode", "plan")
        proc.sendline("plan then write")
        proc.expect("2. Done")
        proc.expect("3. No, keep planning")
        proc.sendline("1")
        proc.expect("written")
        proc.expect(PROMPT)
        assert "Approve this tool call" not in proc.text  # acceptEdits: the write needed no approval
        assert finish(proc) == 0
        assert (rig.workspace / "out.txt").read_text() == "x"
        assert "workspace-write" in _results(rig.requests()[1])[0]["content"]
    finally:
        rig.close()
