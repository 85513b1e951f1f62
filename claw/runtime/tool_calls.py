"""The pipeline of one assistant message's tool calls: check, ask, hook, run, report.

For each tool_use block, in order: a tool input the model streamed as invalid JSON, an unknown tool, or an
input that fails validation becomes an error result the model can read; PreToolUse hooks may block the
call, rewrite its input or decide its permission; the permission policy allows, denies or asks (the
``prompter`` answers asks — a TTY question or the embedding host's ``can_use_tool`` — and without one an
ask is a denial recorded in ``permission_denials``, or for a tool with an ``unanswered`` text that text as
an error result); the tool runs; PostToolUse / PostToolUseFailure hooks
see the result. Runs of consecutive read-only calls execute concurrently, and so do runs of consecutive
``agent`` calls (subagents), at most ``AGENT_CONCURRENCY`` at a time; results always go back in call
order. Nothing raised by a tool or a hook escapes: the model always gets a truthful tool_result.
A file tool's paths are resolved once, checked by the policy, and handed to the tool as approved
(``ToolContext.approved_paths``) so the tool acts on exactly what was checked; a path that vanishes or
changes while it is resolved makes that call an error result.

Deliberately not here: the tools themselves (claw.tools), the rules (claw.runtime.permissions), hook
processes (claw.runtime.hooks).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence

from claw.runtime.events import EventSink, PermissionDenial, ToolFinished, ToolStarted

INTERRUPTED = "Interrupted by the user: the tool call did not run to completion."
CHANGES_FILES = ("write_file", "edit_file", "notebook_edit")  # file tools whose paths are checkpointed
AGENT_CONCURRENCY = 4  # subagents of one assistant message that run at once
from claw.tools.base import CHILD_OUTCOME  # noqa: E402,F401 (a child's TurnOutcome, rolled up: usage, cost)


@dataclass(frozen=True)
class PermissionRequest:
    """A tool call that needs the user's (or the host's) approval."""

    tool_name: str
    tool_use_id: str
    input: Dict[str, Any]
    reason: str


@dataclass(frozen=True)
class PermissionAnswer:
    """The answer to a ``PermissionRequest``, optionally with a changed input."""

    allow: bool
    updated_input: Optional[Dict[str, Any]] = None
    message: str = ""
    interrupt: bool = False  # the host asked to stop the whole run (can_use_tool ``interrupt: true``)
    mode: Optional[str] = None  # an approved plan (exit_plan_mode): the permission mode to go on in


Prompter = Callable[[PermissionRequest], Awaitable[PermissionAnswer]]


@dataclass
class BatchResult:
    """The tool results of one assistant message, and whether the run must stop."""

    results: List[Dict[str, Any]]  # tool_result blocks in call order
    stop_reason: Optional[str] = None  # a hook or the host asked to stop the run


@dataclass
class _Call:
    """One tool call of a batch on its way through validation, hooks and permissions."""

    block: Dict[str, Any]
    tool: Any = None
    input: Dict[str, Any] = field(default_factory=dict)
    result: Optional[Dict[str, Any]] = None
    stop: Optional[str] = None
    blocks: Optional[List[Dict[str, Any]]] = None  # a tool's list content (images...), sent as it is
    text: str = ""  # the text form of ``blocks`` that hooks saw

    @property
    def id(self) -> str:
        return str(self.block.get("id", ""))

    @property
    def name(self) -> str:
        return str(self.block.get("name", ""))


class ToolCallRunner:
    def __init__(
        self,
        *,
        tools: Dict[str, Any],
        policy: Any,
        context: Any,
        sink: EventSink,
        hooks: Any = None,
        prompter: Optional[Prompter] = None,
    ) -> None:
        self.tools = tools  # canonical name -> tool (built-in and MCP)
        self.policy = policy
        self.context = context
        self.sink = sink
        self.hooks = hooks
        self.prompter = prompter
        self.checkpoints: Any = None  # claw.runtime.checkpoints.CheckpointStore: files kept before a change
        # makes ``checkpoints`` at the first change of a session that has none yet (a run that changes
        # no file never loads claw.runtime.checkpoints)
        self.checkpoint_factory: Optional[Callable[[], Any]] = None

    def model_tools(self) -> List[Dict[str, Any]]:
        """The tool definitions sent to the model, in an order that depends only on the set of tools:
        built-in tools as registered, then MCP tools sorted by name, whatever order their servers
        connected in. The tools open the prompt-cache prefix, so a reordering would cost the cache."""
        tools = list(self.tools.values())
        builtin = [t for t in tools if not t.spec.name.startswith("mcp__")]
        mcp = sorted((t for t in tools if t.spec.name.startswith("mcp__")), key=lambda t: t.spec.name)
        return [
            {"name": t.spec.name, "description": t.spec.description, "input_schema": t.spec.input_schema}
            for t in builtin + mcp
        ]

    async def run_all(self, blocks: Sequence[Dict[str, Any]], invalid_inputs: Dict[str, str], log: Any
                      ) -> BatchResult:
        calls = [_Call(block) for block in blocks]
        for call in calls:
            log.use(call.id, call.name, call.block.get("input") or {})
        i = 0
        # On cancellation the Agent answers the unanswered calls; nothing to clean up here.
        while i < len(calls):
            group = [calls[i]]
            kind = self._parallel_kind(calls[i])
            if kind is not None:
                while i + len(group) < len(calls) and self._parallel_kind(calls[i + len(group)]) == kind:
                    group.append(calls[i + len(group)])
            if kind == "agent":
                gate = asyncio.Semaphore(AGENT_CONCURRENCY)
                await asyncio.gather(*(self._gated(gate, c, invalid_inputs, log) for c in group))
            else:
                await asyncio.gather(*(self._one(c, invalid_inputs, log) for c in group))
            i += len(group)
            if any(c.stop for c in group):
                break
        stop = next((c.stop for c in calls if c.stop), None)
        for call in calls:
            if call.result is None:  # skipped after a stop
                call.result = _result_block(call.id, "Not run: the run was stopped before this call.", True)
        return BatchResult([c.result for c in calls], stop_reason=stop)

    def _parallel_kind(self, call: _Call) -> Optional[str]:
        """``read`` (a read-only tool), ``agent`` (a subagent) or None (runs alone)."""
        tool = self.tools.get(call.name)
        if tool is None:
            return None
        if tool.spec.name == "agent":
            return "agent"
        return "read" if getattr(tool.spec, "read_only", False) else None

    async def _gated(self, gate: asyncio.Semaphore, call: _Call, invalid_inputs: Dict[str, str], log: Any) -> None:
        async with gate:
            await self._one(call, invalid_inputs, log)

    async def _one(self, call: _Call, invalid_inputs: Dict[str, str], log: Any) -> None:
        raw_input = call.block.get("input")
        self.sink(ToolStarted(call.id, call.name, raw_input if isinstance(raw_input, dict) else {}))
        output, is_error, metadata = await self._execute(call, invalid_inputs, log)
        content: Any = output
        if call.blocks is not None:  # what hooks appended to the text form follows the blocks
            extra = output[len(call.text):] if output.startswith(call.text) else output
            content = call.blocks + ([{"type": "text", "text": extra.strip()}] if extra.strip() else [])
        call.result = _result_block(call.id, content, is_error)
        log.result(call.id, call.name, output, is_error)
        self.sink(ToolFinished(call.id, call.name, output, is_error, metadata))

    async def _execute(self, call: _Call, invalid_inputs: Dict[str, str], log: Any):
        if call.id in invalid_inputs:
            return invalid_inputs[call.id], True, {}
        call.tool = self.tools.get(call.name)
        if call.tool is None:
            names = ", ".join(sorted(self.tools))
            return f"Unknown tool {call.name!r}. Available tools: {names}.", True, {}
        tool_input = call.block.get("input")
        if not isinstance(tool_input, dict):
            return "Tool input must be a JSON object.", True, {}
        try:
            call.input = call.tool.validate(tool_input)
        except Exception as exc:  # ToolInputError and anything a validator raises
            return f"Invalid input for {call.name}: {exc}", True, {}

        decided_by_hook: Optional[str] = None
        if self.hooks is not None:
            pre = await self.hooks.run("PreToolUse", {"tool_name": call.name, "tool_input": call.input,
                                                      "tool_use_id": call.id}, tool_name=call.name)
            self._notices(pre)
            if not pre.continue_:
                call.stop = pre.stop_reason or "stopped by a PreToolUse hook"
                return f"Blocked by a PreToolUse hook: {call.stop}", True, {}
            if pre.blocked or pre.permission_decision == "deny":
                reason = pre.reason or "blocked by a PreToolUse hook"
                self._deny(call, reason, log)
                return f"Blocked by a PreToolUse hook: {reason}", True, {}
            if pre.updated_input is not None:
                try:
                    call.input = call.tool.validate(pre.updated_input)
                except Exception as exc:
                    return f"A PreToolUse hook rewrote the input into an invalid one: {exc}", True, {}
            decided_by_hook = pre.permission_decision  # "allow" skips the mode's ask; "ask" forces one

        try:  # a path that vanishes or changes while it is resolved is this call's error, not a crash
            decision = self.policy.decide(call.name, call.tool.spec, call.input, self._target_paths(call),
                                          **self._shell_cwd(call))
        except Exception as exc:
            return _check_failed(call.name, exc), True, {}
        targets = list(decision.paths)  # what the policy judged is what the tool acts on
        outcome = decision.outcome
        reason = decision.reason
        if decided_by_hook == "allow" and outcome == "ask" and _hook_may_approve(decision):
            outcome = "allow"
        elif decided_by_hook == "ask" and outcome == "allow":
            outcome, reason = "ask", "a PreToolUse hook asked for confirmation"
        if outcome == "ask":
            asked = call.input
            outcome, reason = await self._ask(call, reason, may_approve=_hook_may_approve(decision))
            if outcome == "allow" and call.input is not asked:  # the approver changed the input
                try:
                    targets = self._target_paths(call)
                except Exception as exc:
                    return _check_failed(call.name, exc), True, {}
        if outcome == "unanswered":  # nobody to ask: not a denial (Claude Code lists none either)
            return reason, True, {}
        if outcome != "allow":
            self._deny(call, reason, log)
            return f"Permission denied: {reason}", True, {}

        self._checkpoint(call, targets)
        try:
            context = _approved_context(self.context, targets)
            if call.tool.spec.name == "agent":
                context = context.for_call(call.id)
            result = await call.tool.run(call.input, context)
            output, is_error, metadata = _text_of(result.content), bool(result.is_error), dict(
                getattr(result, "metadata", None) or {})
            if isinstance(result.content, list):
                call.blocks, call.text = result.content, output
            child = metadata.pop(CHILD_OUTCOME, None)
            if child is not None and hasattr(log, "child"):
                log.child(child)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a tool bug must not end the session
            output, is_error, metadata = f"{call.name} failed: {type(exc).__name__}: {exc}", True, {}

        if self.hooks is not None:
            from claw.runtime.hooks import PRIVATE_METADATA  # loaded with the runner already

            event = "PostToolUseFailure" if is_error else "PostToolUse"
            payload = {"tool_name": call.name, "tool_input": call.input, "tool_use_id": call.id,
                       "tool_response": {"output": output, "is_error": is_error},
                       PRIVATE_METADATA: metadata}  # for callback hosts' structured tool_response only
            if is_error:
                payload["error"] = output
            post = await self.hooks.run(event, payload, tool_name=call.name)
            self._notices(post)
            if post.blocked and post.reason:
                output = f"{output}\n\n[PostToolUse hook] {post.reason}"
            if post.additional_context:
                output = f"{output}\n\n{post.additional_context}"
            if not post.continue_:
                call.stop = post.stop_reason or "stopped by a PostToolUse hook"
        return output, is_error, metadata

    async def _ask(self, call: _Call, reason: str, *, may_approve: bool):
        """The permission question: PermissionRequest hooks may answer it for the user (an allow only
        where ``may_approve``: not for a protected control file); else the prompter asks, after a
        ``permission_prompt`` Notification."""
        if self.hooks is not None:
            answered = await self._permission_hooks(call, reason, may_approve)
            if answered is not None:
                return answered
        if self.prompter is None:
            unanswered = getattr(call.tool, "unanswered", None)  # exit_plan_mode, ask_user_question
            return ("unanswered", unanswered) if unanswered else (
                "deny", f"{reason} (no way to ask for approval in this mode)")
        if self.hooks is not None:
            notified = await self.hooks.run("Notification", {
                "message": f"claw needs your permission to use {call.name}", "notification_type": "permission_prompt"})
            self._notices(notified)
        answer = await self.prompter(PermissionRequest(call.name, call.id, call.input, reason))
        if answer.interrupt:
            call.stop = answer.message or "interrupted by the permission prompt"
        if not answer.allow:
            return "deny", answer.message or "the user denied this tool call"
        leave = getattr(self.context, "leave_plan", None)
        if answer.mode and leave is not None:
            leave(answer.mode)
        if answer.updated_input is not None:
            try:
                call.input = call.tool.validate(answer.updated_input)
            except Exception as exc:
                return "deny", f"the approved input is not valid for {call.name}: {exc}"
        return "allow", ""

    async def _permission_hooks(self, call: _Call, reason: str, may_approve: bool):
        verdict = await self.hooks.run("PermissionRequest", {
            "tool_name": call.name, "tool_input": call.input, "tool_use_id": call.id,
            "permission_suggestions": [], "decision_reason": reason}, tool_name=call.name)
        self._notices(verdict)
        if not verdict.continue_:
            call.stop = verdict.stop_reason or "stopped by a PermissionRequest hook"
        if verdict.blocked:
            return "deny", verdict.reason or "denied by a PermissionRequest hook"
        if verdict.permission_decision != "allow" or not may_approve:
            return None  # no answer (or one a hook may not give): the question goes to the user
        if verdict.updated_input is not None:
            try:
                call.input = call.tool.validate(verdict.updated_input)
            except Exception as exc:
                return "deny", f"a PermissionRequest hook approved an input that is not valid for {call.name}: {exc}"
        return "allow", ""

    def _target_paths(self, call: _Call) -> List[Any]:
        getter = getattr(call.tool, "target_paths", None)  # file tools only
        return list(getter(call.input, cwd=getattr(self.context, "cwd", None))) if getter else []

    def _checkpoint(self, call: _Call, targets: List[Any]) -> None:
        """Keep the files this approved call may change (claw.runtime.checkpoints); never fails it."""
        if self.checkpoints is None and self.checkpoint_factory is None:
            return
        name = call.tool.spec.name
        try:
            if name in CHANGES_FILES:
                paths = targets
            elif name == "bash":
                from claw.runtime.checkpoints import bash_write_paths

                paths = bash_write_paths(str(call.input.get("command", "")),
                                         str(getattr(self.context, "shell_cwd", None) or self.context.cwd))
            else:
                return
            if paths:
                if self.checkpoints is None:
                    self.checkpoints = self.checkpoint_factory()
                self.checkpoints.snapshot(paths)
        except Exception:
            pass

    def _shell_cwd(self, call: _Call) -> Dict[str, Any]:
        """For bash: the directory the command will start in (a ``cd`` carries over between calls), so
        the policy judges its relative redirection targets where they will be written."""
        if call.tool is None or call.tool.spec.name != "bash":
            return {}
        where = getattr(self.context, "shell_cwd", None)
        return {"shell_cwd": where} if where is not None else {}

    def _deny(self, call: _Call, reason: str, log: Any) -> None:
        log.denial(PermissionDenial(call.name, call.id, call.input or call.block.get("input") or {}, reason))

    def _notices(self, result: Any) -> None:
        from claw.runtime.events import Notice

        for warning in getattr(result, "warnings", ()) or ():
            self.sink(Notice(warning, level="warning"))
        if getattr(result, "system_message", None):
            self.sink(Notice(result.system_message))


def _check_failed(name: str, exc: BaseException) -> str:
    if isinstance(exc, OSError):
        detail = exc.strerror or str(exc)
    else:
        detail = f"{type(exc).__name__}: {exc}"
    where = getattr(exc, "filename", None)
    return (f"{name} was not run: its path could not be checked ({detail}{f': {where}' if where else ''}); "
            "it may have changed or vanished meanwhile. Nothing was done.")


def _approved_context(context: Any, targets: List[Any]) -> Any:
    """The context for one call: with the resolved paths the policy approved, so a file tool acts on
    exactly those (claw.tools.paths.approved_path) instead of resolving the model's path a second time."""
    for_approved = getattr(context, "for_approved", None)  # a test's stand-in context may lack it
    return for_approved(targets) if for_approved is not None else context


def _hook_may_approve(decision: Any) -> bool:
    """Whether a PreToolUse ``allow`` answers this ``ask``. As in Claude Code, a hook's allow skips the
    prompt the permission mode would show, but deny rules still deny and ask rules still ask (a rule
    decided: ``decision.rule``); neither does it answer for a protected control file."""
    return decision.rule is None and not decision.protected


def _text_of(content: Any) -> str:
    if isinstance(content, (str, list)):
        from claw.tools.base import content_text

        return content_text(content)
    return json.dumps(content, ensure_ascii=False, default=str)


def _valid_text(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes a tool passed through, e.g. a Latin-1 file read
    as UTF-8) written as ``\\udcXX``: a request body must be valid Unicode."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _result_block(tool_use_id: str, output: Any, is_error: bool) -> Dict[str, Any]:
    if isinstance(output, str):
        output = _valid_text(output)
    elif isinstance(output, list):
        output = [dict(b, text=_valid_text(b["text"])) if b.get("type") == "text" and isinstance(b.get("text"), str)
                  else b for b in output]
    block: Dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id, "content": output}
    if is_error:
        block["is_error"] = True
    return block


def interrupted_results(calls: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [_result_block(str(c.get("id", "")), INTERRUPTED, True) for c in calls]
