"""The conversation loop (claw.runtime.agent) without HTTP: a scripted in-process model
(tests/fakes/scripted_model.py) drives the real tool pipeline, the real permission policy, real hook
processes and the real session store in tmp_path.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from claw.api.types import Usage
from claw.errors import ProviderError
from claw.runtime.agent import Agent, AgentSettings
from claw.runtime.compaction import SUMMARY_INSTRUCTIONS, SUMMARY_PREFIX
from claw.runtime.events import Notice, ToolFinished, ToolStarted
from claw.runtime.hooks import HookRunner
from claw.runtime.permissions import PermissionPolicy
from claw.runtime.ports import HookRunner as HookRunnerPort
from claw.runtime.ports import ModelClient, SessionLog, ToolSet
from claw.runtime.session_store import SessionStore
from claw.runtime.tool_calls import INTERRUPTED, ToolCallRunner
from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolResult, ToolSpec
from claw.tools.registry import build_tools
from tests.fakes.scripted_model import ScriptedModel, ToolUse, Turn


class Probe(Tool):
    """A test tool that records when each call starts and ends (to see which calls overlap)."""

    def __init__(self, name: str, *, read_only: bool, journal: List[str]) -> None:
        self.spec = ToolSpec(name=name, description="probe", input_schema={"type": "object"},
                             permission=PermissionLevel.READ_ONLY, read_only=read_only)
        self.journal = journal

    def validate(self, tool_input):
        return dict(tool_input)

    async def run(self, tool_input, ctx):
        tag = tool_input["tag"]
        self.journal.append(f"start {tag}")
        await asyncio.sleep(0.01)
        self.journal.append(f"end {tag}")
        return ToolResult(f"probe {tag}")


def _typed_hooks(hooks: Dict[str, Any], root: Path) -> Any:
    """Settings ``hooks`` as written, validated by claw.config as a settings file's would be."""
    from claw.config.models import Settings
    from claw.config.schema import clean_settings
    from claw.config.sources import SCOPE_FLAG, SettingsSource
    from claw.runtime.hook_config import HooksConfig

    cleaned, problems = clean_settings({"hooks": hooks}, SettingsSource(SCOPE_FLAG, None, "json", str(root)))
    assert not problems, problems
    return HooksConfig.from_settings(Settings.from_clean(cleaned).hooks)


class Harness:
    """An Agent wired to a ScriptedModel, real tools, policy, hooks and session store in ``root``."""

    def __init__(self, root: Path, turns: List[Turn], *, mode: str = "default", tools: Optional[Dict[str, Any]] = None,
                 hooks: Optional[Dict[str, Any]] = None, **settings: Any) -> None:
        self.root = root
        self.model = ScriptedModel(turns)
        self.store = SessionStore(root)
        self.session = self.store.create(model="scripted-model", cwd=str(root))
        self.events: List[Any] = []
        self.policy = PermissionPolicy(mode=mode, cwd=root, workspace_roots=[root], home=str(root / "home"),
                                       config_home=root / "home" / ".claw")
        self.hooks = None
        if hooks:
            self.hooks = HookRunner(_typed_hooks(hooks, root), project_dir=str(root), session_id=self.session.id,
                                    transcript_path=str(self.session.path))
        context = ToolContext(cwd=root, workspace_roots=(root,), is_read_denied=self.policy.read_denied_checker())
        self.runner = ToolCallRunner(tools=tools if tools is not None else build_tools(), policy=self.policy,
                                     context=context, sink=self.events.append, hooks=self.hooks)
        self.agent = Agent(provider=self.model, settings=AgentSettings(model="scripted-model", system_prompt="sys",
                                                                        **settings),
                           tool_runner=self.runner, session=self.session, hooks=self.hooks, sink=self.events.append,
                           cost_of=lambda model, usage: usage.output_tokens * 0.001)

    def run(self, prompt: str):
        return asyncio.run(self.agent.run(prompt))

    def reloaded(self) -> List[Dict[str, Any]]:
        """The history as a resumed session would see it."""
        self.session.sync()
        return self.store.open(self.session.id).messages


def tool_results(message: Dict[str, Any]) -> List[Dict[str, Any]]:
    assert message["role"] == "user"
    return [b for b in message["content"] if b.get("type") == "tool_result"]


def result_text(block: Dict[str, Any]) -> str:
    content = block["content"]
    return content if isinstance(content, str) else "".join(b.get("text", "") for b in content)


def assert_every_tool_use_answered(messages: List[Dict[str, Any]]) -> None:
    for i, message in enumerate(messages):
        uses = [b["id"] for b in message.get("content", []) if b.get("type") == "tool_use"]
        if uses:
            answered = [b["tool_use_id"] for b in tool_results(messages[i + 1])]
            assert answered == uses


def python_hook(code: str) -> Dict[str, Any]:
    return {"type": "command", "command": f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"}


# -- the fakes fit the ports ------------------------------------------------------------------------


def test_the_real_parts_and_the_fake_fit_the_ports(tmp_path):
    h = Harness(tmp_path, [], hooks={"Stop": [{"hooks": [{"type": "command", "command": "true"}]}]})
    assert isinstance(h.model, ModelClient)
    assert isinstance(h.session, SessionLog)
    assert isinstance(h.runner, ToolSet)
    assert isinstance(h.hooks, HookRunnerPort)
    assert not isinstance(object(), ModelClient)


# -- plain turns --------------------------------------------------------------------------------------


def test_a_text_answer_ends_the_turn_with_success(tmp_path):
    h = Harness(tmp_path, [Turn(text="hello there", usage=Usage(input_tokens=12, output_tokens=3))])
    outcome = h.run("hi")
    assert (outcome.subtype, outcome.result, outcome.num_turns, outcome.stop_reason) == (
        "success", "hello there", 1, "end_turn")
    assert outcome.usage == Usage(input_tokens=12, output_tokens=3)
    assert outcome.cost_usd == pytest.approx(0.003)
    request = h.model.requests[0]
    assert request.system == "sys" and request.messages[0]["content"] == [{"type": "text", "text": "hi"}]
    assert [m["role"] for m in h.reloaded()] == ["user", "assistant"]


def test_the_stop_reason_of_the_last_response_is_the_outcome_s(tmp_path):
    h = Harness(tmp_path, [Turn(text="cut short", stop_reason="max_tokens")])
    outcome = h.run("write a novel")
    assert (outcome.subtype, outcome.stop_reason, outcome.result) == ("success", "max_tokens", "cut short")


def test_tool_results_go_back_in_call_order_and_the_model_sees_them(tmp_path):
    (tmp_path / "a.txt").write_text("alpha\n")
    (tmp_path / "b.txt").write_text("beta\n")
    calls = [ToolUse("read_file", {"path": "b.txt"}, id="t1"), ToolUse("read_file", {"path": "a.txt"}, id="t2"),
             ToolUse("no_such_tool", {}, id="t3"), ToolUse("read_file", {"path": "missing.txt"}, id="t4")]
    h = Harness(tmp_path, [Turn(tool_uses=calls), Turn(text="read them")])
    outcome = h.run("read the files")
    assert outcome.subtype == "success" and outcome.num_turns == 2
    results = tool_results(h.model.requests[1].messages[-1])
    assert [r["tool_use_id"] for r in results] == ["t1", "t2", "t3", "t4"]
    assert "beta" in result_text(results[0]) and "alpha" in result_text(results[1])
    assert [bool(r.get("is_error")) for r in results] == [False, False, True, True]
    assert [u["id"] for u in outcome.tool_uses] == ["t1", "t2", "t3", "t4"]
    assert_every_tool_use_answered(h.reloaded())


def test_consecutive_read_only_calls_run_together_and_others_alone(tmp_path):
    journal: List[str] = []
    tools = {"look": Probe("look", read_only=True, journal=journal),
             "poke": Probe("poke", read_only=False, journal=journal)}
    calls = [ToolUse("look", {"tag": "1"}), ToolUse("look", {"tag": "2"}), ToolUse("poke", {"tag": "3"}),
             ToolUse("look", {"tag": "4"}), ToolUse("look", {"tag": "5"})]
    h = Harness(tmp_path, [Turn(tool_uses=calls), Turn(text="ok")], tools=tools)
    assert h.run("go").subtype == "success"
    assert journal[:2] == ["start 1", "start 2"]  # 1 and 2 overlap
    assert journal[4:6] == ["start 3", "end 3"]  # 3 runs alone, after both ended
    assert journal[6:8] == ["start 4", "start 5"]
    results = tool_results(h.model.requests[1].messages[-1])
    assert [result_text(r) for r in results] == ["probe 1", "probe 2", "probe 3", "probe 4", "probe 5"]
    started = [e.tool_use_id for e in h.events if isinstance(e, ToolStarted)]
    finished = [e for e in h.events if isinstance(e, ToolFinished)]
    assert len(started) == 5 and len(finished) == 5


# -- limits and outcomes --------------------------------------------------------------------------------


def test_max_turns_ends_with_error_max_turns_and_a_valid_history(tmp_path):
    (tmp_path / "a.txt").write_text("alpha\n")
    looping = [Turn(tool_uses=[ToolUse("read_file", {"path": "a.txt"})]) for _ in range(3)]
    h = Harness(tmp_path, looping, max_turns=2)
    outcome = h.run("loop")
    assert outcome.subtype == "error_max_turns" and outcome.is_error
    assert outcome.num_turns == 2 and "2 turns" in outcome.result
    assert h.model.remaining == 1  # the third request was never sent
    assert_every_tool_use_answered(h.reloaded())


def test_a_provider_error_ends_the_run_with_its_error(tmp_path):
    (tmp_path / "a.txt").write_text("alpha\n")
    error = ProviderError("gave up after 9 attempts: overloaded", kind="retries_exhausted",
                          failure_class="provider_overloaded", status=529, request_id="req_9")
    h = Harness(tmp_path, [Turn(tool_uses=[ToolUse("read_file", {"path": "a.txt"})]), Turn(error=error)])
    outcome = h.run("try")
    assert outcome.subtype == "error_during_execution" and outcome.error is error
    assert outcome.num_turns == 2 and "overloaded" in outcome.result
    messages = h.reloaded()
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert_every_tool_use_answered(messages)


def test_a_stream_failing_after_text_keeps_no_half_message(tmp_path):
    error = ProviderError("the stream broke", kind="protocol", failure_class="provider_transport")
    h = Harness(tmp_path, [Turn(text="partial answ", error=error, error_after_text=True)])
    outcome = h.run("go")
    assert outcome.subtype == "error_during_execution" and outcome.error is error
    assert [m["role"] for m in h.reloaded()] == ["user"]


# -- permissions --------------------------------------------------------------------------------------


def test_a_denied_call_is_recorded_and_answered_and_the_file_stays_untouched(tmp_path):
    target = tmp_path / "new.txt"
    call = ToolUse("write_file", {"path": str(target), "content": "x"}, id="w1")
    h = Harness(tmp_path, [Turn(tool_uses=[call]), Turn(text="could not write")], mode="default")
    outcome = h.run("write it")
    assert outcome.subtype == "success"
    assert not target.exists()
    assert [(d.tool_name, d.tool_use_id) for d in outcome.permission_denials] == [("write_file", "w1")]
    (result,) = tool_results(h.model.requests[1].messages[-1])
    assert result["is_error"] and "Permission denied" in result_text(result)


def test_the_same_call_runs_where_the_mode_allows_it(tmp_path):
    target = tmp_path / "new.txt"
    call = ToolUse("write_file", {"path": str(target), "content": "x"})
    h = Harness(tmp_path, [Turn(tool_uses=[call]), Turn(text="written")], mode="acceptEdits")
    outcome = h.run("write it")
    assert outcome.subtype == "success" and outcome.permission_denials == []
    assert target.read_text() == "x"


# -- hooks --------------------------------------------------------------------------------------------


def test_a_pre_tool_use_hook_blocks_the_call(tmp_path):
    target = tmp_path / "new.txt"
    block = {"type": "command", "command": "echo 'writes are reviewed elsewhere' >&2; exit 2"}
    hooks = {"PreToolUse": [{"matcher": "Write", "hooks": [block]}]}
    call = ToolUse("write_file", {"path": str(target), "content": "x"}, id="w1")
    h = Harness(tmp_path, [Turn(tool_uses=[call]), Turn(text="blocked")], mode="acceptEdits", hooks=hooks)
    outcome = h.run("write it")
    assert outcome.subtype == "success" and not target.exists()
    (result,) = tool_results(h.model.requests[1].messages[-1])
    assert result["is_error"] and "writes are reviewed elsewhere" in result_text(result)
    assert [d.tool_use_id for d in outcome.permission_denials] == ["w1"]


def test_a_stop_hook_makes_the_model_continue_once(tmp_path):
    code = ("import json, sys; p = json.load(sys.stdin); "
            "print(json.dumps({} if p['stop_hook_active'] else {'decision': 'block', 'reason': 'also say bye'}))")
    hooks = {"Stop": [{"hooks": [python_hook(code)]}]}
    h = Harness(tmp_path, [Turn(text="hello"), Turn(text="bye")], hooks=hooks)
    outcome = h.run("hi")
    assert (outcome.subtype, outcome.result, outcome.num_turns) == ("success", "bye", 2)
    assert h.model.requests[1].messages[-1] == {"role": "user", "content": [{"type": "text", "text": "also say bye"}]}


def test_a_user_prompt_submit_hook_block_sends_nothing(tmp_path):
    block = {"type": "command", "command": "echo 'no prompts today' >&2; exit 2"}
    h = Harness(tmp_path, [], hooks={"UserPromptSubmit": [{"hooks": [block]}]})
    outcome = h.run("hi")
    assert outcome.subtype == "error_during_execution" and outcome.stop_reason == "hook_blocked"
    assert "no prompts today" in outcome.result
    assert h.model.requests == [] and h.session.messages == []


# -- compaction ---------------------------------------------------------------------------------------


def _with_history(h: Harness, first_prompt: str) -> None:
    for message in ({"role": "user", "content": [{"type": "text", "text": first_prompt}]},
                    {"role": "assistant", "content": [{"type": "text", "text": "noted"}]},
                    {"role": "user", "content": [{"type": "text", "text": "second"}]},
                    {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}):
        h.session.append_message(message)


def test_auto_compaction_when_the_prompt_passes_the_threshold(tmp_path):
    turns = [Turn(text="the user pasted a long log"), Turn(text="done")]
    h = Harness(tmp_path, turns, tools={}, context_window=2000, autocompact_pct=50)
    _with_history(h, "log: " + "x" * 8000)  # ~2000 tokens: over 50 % of the window
    outcome = h.run("third")
    assert outcome.subtype == "success" and outcome.result == "done"
    summary_request, main_request = h.model.requests
    assert summary_request.system == SUMMARY_INSTRUCTIONS and not summary_request.tools
    assert summary_request.cache is False and main_request.cache is True  # a one-off request is not cached
    first = main_request.messages[0]["content"][0]["text"]
    assert first.startswith(SUMMARY_PREFIX) and "the user pasted a long log" in first
    assert all("x" * 100 not in json.dumps(m) for m in main_request.messages)
    assert h.reloaded()[0]["content"][0]["text"].startswith(SUMMARY_PREFIX)  # recorded in the session file
    assert any(isinstance(e, Notice) and e.text.startswith("compacted") for e in h.events)


def test_no_compaction_below_the_threshold(tmp_path):
    h = Harness(tmp_path, [Turn(text="done")], tools={}, context_window=200_000, autocompact_pct=50)
    _with_history(h, "log: " + "x" * 8000)
    assert h.run("third").subtype == "success"
    assert len(h.model.requests) == 1 and len(h.model.requests[0].messages) == 5


# -- cancellation ---------------------------------------------------------------------------------------


def test_cancel_mid_stream_leaves_the_history_valid(tmp_path):
    h = Harness(tmp_path, [Turn(text="a long answer", hang=True), Turn(text="fresh")])

    async def scenario():
        task = asyncio.ensure_future(h.agent.run("hi"))
        while h.model.streaming is None:
            await asyncio.sleep(0.005)
        await asyncio.wait_for(h.model.streaming.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await h.agent.run("again")  # the session is usable after the interrupt

    outcome = asyncio.run(scenario())
    assert outcome.result == "fresh"
    assert [m["role"] for m in h.reloaded()] == ["user", "user", "assistant"]


def test_cancel_mid_tool_answers_every_call_as_interrupted(tmp_path):
    pidfile = tmp_path / "sleep.pid"
    calls = [ToolUse("bash", {"command": f"echo $$ > {pidfile}; sleep 30"}, id="b1"),
             ToolUse("bash", {"command": "echo later"}, id="b2")]
    h = Harness(tmp_path, [Turn(tool_uses=calls)], mode="bypassPermissions")

    async def scenario():
        task = asyncio.ensure_future(h.agent.run("sleep"))
        for _ in range(1000):
            if pidfile.exists() and pidfile.read_text().strip():
                break
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):  # the tool's process did not outlive the interrupt
        os.kill(pid, 0)
    messages = h.reloaded()
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    results = tool_results(messages[-1])
    assert [r["tool_use_id"] for r in results] == ["b1", "b2"]
    assert all(r["is_error"] and INTERRUPTED in result_text(r) for r in results)


# -- extended thinking, the fallback model, the budget ---------------------------------------------


def _probe_tools() -> Dict[str, Any]:
    return {"Probe": Probe("Probe", read_only=True, journal=[])}


def test_thinking_blocks_go_back_to_the_model_and_into_the_session_exactly_as_received(tmp_path):
    h = Harness(tmp_path, [Turn(thinking="I will probe.", redacted_thinking="EncRypted+/==",
                                tool_uses=[ToolUse("Probe", {"tag": "a"})]), Turn(text="done")],
                tools=_probe_tools(), thinking={"type": "enabled", "budget_tokens": 2048})
    assert h.run("go").subtype == "success"
    received = [{"type": "thinking", "thinking": "I will probe.", "signature": "sig:I will probe."},
                {"type": "redacted_thinking", "data": "EncRypted+/=="}]
    continuation = h.model.requests[1]
    assert continuation.thinking == {"type": "enabled", "budget_tokens": 2048}
    assert continuation.messages[1]["content"][:2] == received
    assert h.reloaded()[1]["content"][:2] == received  # what --resume sends back


def test_a_thinking_block_holding_a_secret_is_left_out_of_the_session_file_not_altered(tmp_path):
    secret = "sk-ant-api03-" + "Q" * 40
    h = Harness(tmp_path, [Turn(thinking=f"the key is {secret}", tool_uses=[ToolUse("Probe", {"tag": "a"})]),
                           Turn(text="done")], tools=_probe_tools())
    assert h.run("go").subtype == "success"
    sent = h.model.requests[1].messages[1]["content"][0]
    assert sent["thinking"] == f"the key is {secret}"  # the running session keeps it for the model
    stored = h.reloaded()[1]["content"]
    assert [b["type"] for b in stored] == ["tool_use"]
    text = h.session.path.read_text()
    assert secret not in text and "thinking_dropped" in text
    assert any(isinstance(e, Notice) and e.level == "warning" and "thinking" in e.text for e in h.events)


def test_the_budget_stops_before_the_next_request_and_leaves_a_resumable_history(tmp_path):
    # each response costs 5 output tokens * $0.001 = $0.005
    h = Harness(tmp_path, [Turn(tool_uses=[ToolUse("Probe", {"tag": "a"})]), Turn(text="never sent")],
                tools=_probe_tools(), max_budget_usd=0.004)
    outcome = h.run("go")
    assert (outcome.subtype, outcome.is_error, outcome.num_turns) == ("error_max_budget_usd", True, 1)
    assert outcome.result == "Reached maximum budget ($0.004)"
    assert len(h.model.requests) == 1 and h.model.remaining == 1
    assert abs(outcome.cost_usd - 0.005) < 1e-12
    assert_every_tool_use_answered(h.reloaded())
    # the next turn of the same session is over the budget before its first request
    again = h.run("more")
    assert again.subtype == "error_max_budget_usd" and again.num_turns == 0 and len(h.model.requests) == 1


def test_a_budget_not_reached_lets_the_run_finish(tmp_path):
    h = Harness(tmp_path, [Turn(tool_uses=[ToolUse("Probe", {"tag": "a"})]), Turn(text="fine")],
                tools=_probe_tools(), max_budget_usd=0.011)
    assert h.run("go").subtype == "success"


def test_the_budget_counts_the_least_the_next_request_can_cost():
    from claw.runtime.agent import over_budget

    assert not over_budget(1.0, 0.5, 0.4, 0.09)
    assert over_budget(1.0, 0.5, 0.4, 0.2)  # even read from the cache, the next prompt passes the budget
    assert over_budget(1.0, 0.5, 0.5)
    assert over_budget(1.0, 0.0, None)  # an unknown cost cannot be held to a budget
    assert not over_budget(None, None, None)


class _FallingBack(ScriptedModel):
    """The first request is answered after a ModelFallback event, as the provider does after its retries."""

    async def stream(self, request):
        from claw.api.types import ModelFallback

        if len(self.requests) == 0:
            yield ModelFallback(original_model="main-model", fallback_model="spare-model", trigger="overloaded",
                                reason="529 overloaded")
        async for event in super().stream(request):
            yield event


def test_after_a_fallback_the_turn_keeps_asking_the_fallback_and_both_models_are_in_model_usage(tmp_path):
    h = Harness(tmp_path, [], tools=_probe_tools())
    h.agent.provider = h.model = _FallingBack([Turn(tool_uses=[ToolUse("Probe", {"tag": "a"})]), Turn(text="ok")],
                                              model="spare-model")
    h.agent.settings.model = "main-model"
    priced = []
    h.agent.cost_of = lambda model, usage: priced.append(model) or 0.5
    outcome = h.run("go")
    assert outcome.subtype == "success" and outcome.fallback_model == "spare-model"
    assert [r.model for r in h.model.requests] == ["main-model", "spare-model"]
    assert priced == ["spare-model", "spare-model"]
    assert outcome.model_usage["main-model"].usage == Usage() and outcome.model_usage["main-model"].cost_usd == 0.0
    assert outcome.model_usage["spare-model"].cost_usd == 1.0


def test_a_first_request_that_would_pass_the_budget_is_not_sent(tmp_path):
    h = Harness(tmp_path, [Turn(text="never")], tools={}, max_budget_usd=0.01)
    h.agent.cost_of = lambda model, usage: usage.cache_read_input_tokens * 0.001  # the prompt alone: > $0.01
    outcome = h.run("a prompt long enough to cost more than the budget " * 3)
    assert outcome.subtype == "error_max_budget_usd" and outcome.num_turns == 0 and not h.model.requests
    assert outcome.result.startswith("Reached maximum budget ($0.01): $0.0000 spent, and the next request")
