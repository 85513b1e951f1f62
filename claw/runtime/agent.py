"""The conversation loop: send, stream, run the tools the model asked for, send the results, repeat.

One ``Agent`` per session. ``run(prompt)`` drives one user turn to its end — the model's end_turn,
``max_turns``, an error, or cancellation — and returns a ``TurnOutcome`` value; everything the user
sees on the way is an event given to the sink (claw.runtime.events). The tool-call pipeline of one call
is in claw.runtime.tool_calls.

What it deliberately does not do: print, parse flags, choose a provider or build tools. Those come in
already made. On cancellation (Ctrl-C, an SDK interrupt) it leaves the history consistent — every
tool_use answered by a tool_result — and re-raises ``asyncio.CancelledError``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple, Union

from claw.api.types import Block, Message, MessageDone, ModelFallback, ModelRequest, ModelResponse, Usage
from claw.errors import ClawError
from claw.runtime.events import (
    AssistantMessage,
    EventSink,
    ModelStreamEvent,
    ModelTally,
    Notice,
    TurnOutcome,
    UserMessage,
)
from claw.runtime.ports import HookRunner, HookVerdict, JsonObject, ModelClient, SessionLog, ToolSet
from claw.runtime.tool_calls import interrupted_results
from claw.ids import uuid4

if TYPE_CHECKING:
    from claw.runtime.compaction import CompactionResult
    from claw.runtime.structured_output import StructuredOutput, StructuredValue
    from claw.runtime.events import PermissionDenial

Prompt = Union[str, List[Block]]  # a user turn: text, or content blocks (text, images, documents)
CostOf = Callable[[str, Usage], Optional[float]]  # (model, usage) -> USD, None when the price is unknown


@dataclass
class AgentSettings:
    """Per-run knobs that can change between turns (``/model``, ``set_model``, ``set_permission_mode``)."""

    model: str
    system_prompt: str
    max_turns: Optional[int] = None
    max_tokens: Optional[int] = None
    thinking: Optional[JsonObject] = None
    betas: Tuple[str, ...] = ()  # extra anthropic-beta values (--betas)
    extra_context: List[str] = field(default_factory=list)
    context_window: Optional[int] = None  # of the model; None: unknown, no auto-compaction
    autocompact_pct: int = 80  # CLAW_AUTOCOMPACT_PCT; 100 turns auto-compaction off in practice
    max_budget_usd: Optional[float] = None  # --max-budget-usd: no request once the session cost reached it
    effort: Optional[str] = None  # --effort / settings effortLevel: low | medium | high | xhigh | max


class Agent:
    def __init__(
        self,
        *,
        provider: ModelClient,
        settings: AgentSettings,
        tool_runner: ToolSet,
        session: SessionLog,
        hooks: Optional[HookRunner] = None,
        sink: EventSink,
        cost_of: Optional[CostOf] = None,
    ) -> None:
        self.provider = provider
        self.settings = settings
        self.tools = tool_runner
        self.session = session
        self.hooks = hooks
        self.sink = sink
        self.cost_of = cost_of  # (model, Usage) -> float | None
        # (tokens, message count, last message) of the history the provider last counted
        self._known_prompt: Optional[Tuple[int, int, Message]] = None
        self.last_usage: Optional[Usage] = None  # of the last response
        # claw.runtime.structured_output.StructuredOutput with --json-schema (its enable() sets it)
        self.structured_output: Optional["StructuredOutput"] = None
        self.spent_usd: Optional[float] = 0.0  # what this process's runs of the session cost (None: unknown)
        self.turn_started: Optional[Callable[[str], None]] = None  # called with each prompt's message uuid

    @property
    def messages(self) -> List[Message]:
        return self.session.messages

    async def run(self, prompt: Prompt) -> TurnOutcome:
        """Run one user turn. ``prompt`` is a string or a list of content blocks."""
        outcome = _OutcomeBuilder(self)
        structured = self.structured_output
        if structured is not None:
            structured.start_turn()
        try:
            content = await self._user_prompt(prompt, outcome)
            if content is None:  # a failure for the caller: nothing it asked for was done
                return outcome.finish("error_during_execution", stop_reason="hook_blocked", error=ClawError(
                    f"the prompt was blocked by a UserPromptSubmit hook: {outcome.last_text}",
                    kind="hook_blocked", failure_class="tool",
                    hint="see the hooks in your settings (claw status lists the files)"))
            uid = self._append_user({"role": "user", "content": content})
            if self.turn_started is not None:  # file checkpoints are keyed to this message
                self.turn_started(uid)
            while True:
                if self.settings.max_turns is not None and outcome.num_turns >= self.settings.max_turns:
                    return outcome.finish("error_max_turns")
                if self.settings.max_budget_usd is not None:
                    least = self._least_cost(outcome)
                    if over_budget(self.settings.max_budget_usd, self.spent_usd, outcome.cost, least):
                        outcome.next_least = least
                        return outcome.finish("error_max_budget_usd")
                outcome.num_turns += 1
                await self._maybe_compact()
                response = await self._call_model(outcome)
                self._append_assistant(response)
                outcome.last_text = response.text or outcome.last_text
                calls = response.tool_uses
                if not calls:
                    stop = await self._stop_hook(active=outcome.stop_hook_continued)
                    if stop:
                        outcome.stop_hook_continued = True
                        self._append_user({"role": "user", "content": [{"type": "text", "text": stop}]})
                        continue
                    if structured is not None:  # no value yet: remind the model, or give up
                        reminder = structured.after_text()
                        if reminder is None:
                            return outcome.finish("error_max_structured_output_retries",
                                                  stop_reason=response.stop_reason, error=structured.error())
                        self._append_user({"role": "user", "content": [{"type": "text", "text": reminder}]},
                                          synthetic=True)
                        continue
                    return outcome.finish("success", stop_reason=response.stop_reason)
                batch = await self.tools.run_all(calls, response.invalid_tool_inputs, outcome.record)
                self._append_user({"role": "user", "content": batch.results}, tool_results=True)
                if batch.stop_reason:  # a hook or the host ended the run before the model finished
                    return outcome.finish("error_during_execution", stop_reason="hook_stopped", error=ClawError(
                        f"the run was stopped before the model finished: {batch.stop_reason}",
                        kind="stopped", failure_class="tool"))
                if structured is not None:
                    verdict = structured.after_tools(calls)
                    if verdict == "done":
                        return outcome.finish("success", stop_reason=response.stop_reason,
                                              structured=structured.value())
                    if verdict == "exhausted":
                        return outcome.finish("error_max_structured_output_retries", stop_reason=response.stop_reason,
                                              error=structured.error())
        except asyncio.CancelledError:
            self._close_open_tool_uses()
            raise
        except ClawError as exc:
            self._close_open_tool_uses()
            return outcome.finish("error_during_execution", error=exc)

    # -- steps -------------------------------------------------------------------------------------

    async def _user_prompt(self, prompt: Prompt, outcome: "_OutcomeBuilder") -> Optional[List[Block]]:
        content = [{"type": "text", "text": prompt}] if isinstance(prompt, str) else list(prompt)
        if self.hooks is None:
            return content
        text = prompt if isinstance(prompt, str) else "".join(b.get("text", "") for b in content)
        result = await self.hooks.run("UserPromptSubmit", {"prompt": text})
        self._hook_notices(result)
        if result.blocked or not result.continue_:
            outcome.last_text = result.reason or result.stop_reason or "prompt blocked by a UserPromptSubmit hook"
            return None
        if result.additional_context:
            content = content + [{"type": "text", "text": result.additional_context}]
        return content

    async def _call_model(self, outcome: "_OutcomeBuilder") -> ModelResponse:
        request = ModelRequest(
            # after a fallback the rest of the turn asks the fallback model (the provider sends it there)
            model=outcome.fallback_model or self.settings.model,
            messages=self.messages,
            system=self._system(),
            tools=self.tools.model_tools(),
            max_tokens=self.settings.max_tokens,
            thinking=self.settings.thinking,
            betas=tuple(self.settings.betas),
            effort=self.settings.effort,
        )
        started = time.monotonic()
        response: Optional[ModelResponse] = None
        priced_as = outcome.fallback_model
        try:
            async for event in self.provider.stream(request):
                if isinstance(event, MessageDone):
                    response = event.response
                elif isinstance(event, ModelFallback):
                    priced_as = outcome.fell_back(event)
                self.sink(ModelStreamEvent(event))
        finally:
            outcome.api_seconds += time.monotonic() - started
        if response is None:  # a provider must end with MessageDone or raise
            raise ClawError("the model stream ended without a message", kind="empty_response",
                            failure_class="provider_error")
        outcome.add_usage(response, priced_as=priced_as)
        return response

    def _least_cost(self, outcome: "_OutcomeBuilder") -> float:
        """The least the next request can cost: its prompt, all of it read from the cache at the
        cheapest rate, and no output (0 when the price is unknown)."""
        if self.cost_of is None:
            return 0.0
        model = outcome.fallback_model or self.settings.model
        return self.cost_of(model, Usage(cache_read_input_tokens=self._prompt_tokens())) or 0.0

    async def _maybe_compact(self) -> None:
        from claw.runtime.compaction import needs_compaction

        if self.settings.context_window and needs_compaction(self._prompt_tokens(), self.settings.context_window,
                                                             self.settings.autocompact_pct):
            await self.compact(trigger="auto")

    def _prompt_tokens(self) -> int:
        """The size of the next request's prompt: what the provider counted for the last response plus
        an estimate of what came after it, so a long session is not re-serialised every turn; a full
        estimate when nothing is known (first turn, after a compaction or a session switch)."""
        from claw.api.preflight import estimate_tokens

        messages = self.messages
        known = self._known_prompt
        if known is not None:
            tokens, count, last = known
            if 0 < count <= len(messages) and messages[count - 1] is last:
                return tokens + estimate_tokens({"messages": messages[count:]})
        return estimate_tokens({"system": self._system(), "messages": list(messages),
                                "tools": self.tools.model_tools()})

    async def compact(self, *, trigger: str = "manual", instructions: str = "") -> Optional["CompactionResult"]:
        """Summarise the older history (``/compact``); returns the CompactionResult or None."""
        from claw.runtime.compaction import compact

        if self.hooks is not None:
            self._hook_notices(await self.hooks.run("PreCompact", {"trigger": trigger,
                                                                    "custom_instructions": instructions}))
        result = await compact(self.provider, self.settings.model, self.messages, instructions=instructions)
        if result is None:
            if trigger == "manual":
                self.sink(Notice("nothing to compact yet"))
            return None
        self.session.append_compaction(result.summary_message, upto=result.replaced, trigger=trigger)
        how = "by the model" if result.by_model else "mechanically (the model could not be reached)"
        self.sink(Notice(f"compacted {result.replaced} messages into a summary written {how}: "
                         f"about {result.tokens_before:,} -> {result.tokens_after:,} tokens"))
        return result

    def _system(self) -> str:
        parts = [self.settings.system_prompt] + list(self.settings.extra_context)
        return "\n\n".join(p for p in parts if p)

    async def session_start(self, source: str) -> None:
        """SessionStart hooks (``source``: startup, resume, clear, compact); their output becomes
        context for the whole session."""
        if self.hooks is None:
            return
        result = await self.hooks.run("SessionStart", {"source": source})
        self._hook_notices(result)
        if result.additional_context:
            self.settings.extra_context.append(result.additional_context)

    async def session_end(self, reason: str) -> None:
        if self.hooks is not None:
            self._hook_notices(await self.hooks.run("SessionEnd", {"reason": reason}))

    async def _stop_hook(self, *, active: bool) -> Optional[str]:
        """Run Stop hooks; a hook that blocks stopping returns the reason to continue with.
        ``active``: a Stop hook already made this turn continue once (hooks use it to avoid loops)."""
        if self.hooks is None:
            return None
        result = await self.hooks.run("Stop", {"stop_hook_active": active})
        self._hook_notices(result)
        if result.blocked and result.reason:
            return result.reason
        return None

    def _hook_notices(self, result: HookVerdict) -> None:
        for warning in getattr(result, "warnings", ()) or ():
            self.sink(Notice(warning, level="warning"))
        if getattr(result, "system_message", None):
            self.sink(Notice(result.system_message))

    # -- history -----------------------------------------------------------------------------------

    def _append_user(self, message: Message, *, tool_results: bool = False, synthetic: bool = False) -> str:
        record_uuid = self.session.append_message(message) or uuid4()
        self.sink(UserMessage(message, uuid=record_uuid, is_tool_results=tool_results, synthetic=synthetic))
        return record_uuid

    def _append_assistant(self, response: ModelResponse) -> None:
        message = response.to_message()
        record_uuid = self.session.append_message(message, usage=response.usage.to_dict())
        warning = getattr(self.session, "last_warning", None)  # thinking left out of the session file
        if warning:
            self.sink(Notice(warning, level="warning"))
        counted = response.usage.prompt_tokens + response.usage.output_tokens
        self.last_usage = response.usage  # the SDK's get_context_usage reports it
        self._known_prompt = (counted, len(self.messages), self.messages[-1]) if counted else None
        self.sink(
            AssistantMessage(
                message=message,
                message_id=response.id,
                model=response.model,
                usage=response.usage,
                stop_reason=response.stop_reason,
                uuid=record_uuid or uuid4(),
                request_id=response.request_id,
            )
        )

    def _close_open_tool_uses(self) -> None:
        """After an interrupt or error mid-turn: answer every unanswered tool_use so the history stays
        valid for the next request (the API rejects a tool_use without its tool_result)."""
        messages = self.messages
        if not messages or messages[-1].get("role") != "assistant":
            return
        calls = [b for b in messages[-1].get("content", []) if b.get("type") == "tool_use"]
        if calls:
            self._append_user({"role": "user", "content": interrupted_results(calls)}, tool_results=True)


class _OutcomeBuilder:
    """Accumulates usage, cost and the tool log of one run, then makes the TurnOutcome."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.num_turns = 0
        self.usage = Usage()
        self.cost: Optional[float] = 0.0
        self.by_model: Dict[str, ModelTally] = {}
        self.api_seconds = 0.0
        self.last_text = ""
        self.stop_hook_continued = False
        self.record = _ToolLog(on_child=self.add_child)
        self.fallback_model: Optional[str] = None  # the model that answers since a fallback in this run
        self.next_least = 0.0  # when the budget stopped the run: the least the next request would have cost

    def fell_back(self, event: ModelFallback) -> str:
        """A fallback happened: the rest of the run asks the fallback model; the model that could not
        answer keeps a (zero) entry in modelUsage, so the result shows both."""
        self.fallback_model = event.fallback_model
        self.by_model.setdefault(event.original_model, ModelTally(Usage(), 0.0))
        return event.fallback_model

    def add_usage(self, response: ModelResponse, *, priced_as: Optional[str] = None) -> None:
        """Add a response's tokens and cost; ``priced_as``: the model whose prices apply (the fallback
        model that answered), else the response's own model."""
        model = response.model or priced_as or self.agent.settings.model
        self.usage = self.usage + response.usage
        cost = self.agent.cost_of(priced_as or model, response.usage) if self.agent.cost_of is not None else 0.0
        if self.cost is not None:
            self.cost = None if cost is None else self.cost + cost
        before = self.by_model.get(model)
        if before is None:
            self.by_model[model] = ModelTally(response.usage, cost)
        else:
            total = None if before.cost_usd is None or cost is None else before.cost_usd + cost
            self.by_model[model] = ModelTally(before.usage + response.usage, total)

    def add_child(self, child: TurnOutcome) -> None:
        """A subagent's run: its tokens and cost count as this run's (``total_cost_usd``, ``modelUsage``)."""
        self.usage = self.usage + child.usage
        if self.cost is not None:
            self.cost = None if child.cost_usd is None else self.cost + child.cost_usd
        self.api_seconds += child.duration_api_ms / 1000
        for model, tally in child.model_usage.items():
            before = self.by_model.get(model)
            if before is None:
                self.by_model[model] = tally
            else:
                total = None if before.cost_usd is None or tally.cost_usd is None else before.cost_usd + tally.cost_usd
                self.by_model[model] = ModelTally(before.usage + tally.usage, total)

    def finish(self, subtype: str, *, stop_reason: Optional[str] = None, error: Optional[Exception] = None,
               structured: Optional["StructuredValue"] = None) -> TurnOutcome:
        result = self.last_text
        if structured is not None:  # as Claude Code: the result text is the value as JSON
            result = structured.to_json()
        elif error is not None:
            result = str(error)
        elif subtype == "error_max_turns":
            result = f"reached the maximum of {self.agent.settings.max_turns} turns"
        elif subtype == "error_max_budget_usd":
            result = budget_message(self.agent.settings.max_budget_usd, self.agent.spent_usd, self.cost,
                                    self.next_least)
        spent = self.agent.spent_usd
        self.agent.spent_usd = None if spent is None or self.cost is None else spent + self.cost
        return TurnOutcome(
            subtype=subtype,
            result=result,
            num_turns=self.num_turns,
            usage=self.usage,
            cost_usd=self.cost,
            duration_api_ms=int(self.api_seconds * 1000),
            stop_reason=stop_reason,
            error=error,
            permission_denials=self.record.denials,
            tool_uses=self.record.uses,
            tool_results=self.record.results,
            model_usage=dict(self.by_model),
            structured_output=structured,
            fallback_model=self.fallback_model,
        )


class _ToolLog:
    """What the tool pipeline reports back for the result object."""

    def __init__(self, on_child: Optional[Callable[[TurnOutcome], None]] = None) -> None:
        self.denials: List["PermissionDenial"] = []
        self.uses: List[JsonObject] = []
        self.results: List[JsonObject] = []
        self._on_child = on_child

    def child(self, outcome: TurnOutcome) -> None:
        """A subagent's outcome (claw.runtime.tool_calls.CHILD_OUTCOME): rolled up into this run's."""
        if self._on_child is not None:
            self._on_child(outcome)

    def use(self, tool_use_id: str, name: str, tool_input: JsonObject) -> None:
        self.uses.append({"id": tool_use_id, "name": name, "input": tool_input})

    def result(self, tool_use_id: str, name: str, output: str, is_error: bool) -> None:
        self.results.append({"tool_use_id": tool_use_id, "tool_name": name, "output": output,
                             "is_error": is_error})

    def denial(self, denial: "PermissionDenial") -> None:
        self.denials.append(denial)


def over_budget(budget: Optional[float], spent_before: Optional[float], spent_now: Optional[float],
                next_least: float = 0.0) -> bool:
    """True when a session under ``--max-budget-usd`` may send no more requests: what it cost so far
    (earlier runs of this process plus this one) reached the budget, or the least the next request can
    cost would pass it, or the cost cannot be known."""
    if budget is None:
        return False
    if spent_before is None or spent_now is None:
        return True
    spent = spent_before + spent_now
    return spent >= budget or spent + next_least > budget


def budget_message(budget: Optional[float], spent_before: Optional[float], spent_now: Optional[float],
                   next_least: float = 0.0) -> str:
    """The result text (and ``errors[]`` entry) of a run stopped by ``--max-budget-usd``: Claude Code's
    wording when the budget was reached, else why the next request would pass it."""
    if spent_before is None or spent_now is None:
        return (f"The session cost is not known (a model without a price answered); refusing to continue "
                f"under --max-budget-usd {budget:g}")
    spent = spent_before + spent_now
    if budget is not None and spent < budget:
        return (f"Reached maximum budget (${budget:g}): ${spent:.4f} spent, and the next request would cost at "
                f"least ${next_least:.4f} more")
    return f"Reached maximum budget (${budget:g})"


def last_assistant_text(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if message.get("role") == "assistant":
            return "".join(b.get("text", "") for b in message.get("content", []) if b.get("type") == "text")
    return ""
