"""What hooks answered, and what the hooks of one event decided together.

``HookResult`` is what one hook did (exit code, output, timing, a callback's answer); ``HookOutcome`` is
the combined answer of every hook of one event (blocked, permission decision, updated input, extra
context, stop...). ``verdict_for_command`` / ``verdict_for_callback`` read one result in Claude Code's
protocol (exit 2 blocks with stderr as the reason; JSON on stdout: ``decision``, ``reason``,
``continue``, ``stopReason``, ``suppressOutput``, ``systemMessage``, ``hookSpecificOutput``; plain stdout is
context for ``UserPromptSubmit`` and ``SessionStart``); ``combine`` folds them.

Pure: no processes, no I/O. It does not decide what an outcome means for the run (the agent loop does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Sequence

from claw.runtime.hook_config import BLOCKING_EVENTS, STDOUT_CONTEXT_EVENTS, HookSpec

REASON_LIMIT = 10_000  # characters of stderr used as a block reason


@dataclass
class HookResult:
    """What one hook did (for verbose output and debugging)."""

    hook: HookSpec
    exit_code: Optional[int] = None
    stdout: str = ""
    stderr: str = ""
    duration_ms: int = 0
    timed_out: bool = False
    error: Optional[str] = None  # could not start / callback raised
    pid: Optional[int] = None  # also the process group id of a command hook
    answer: Optional[dict] = None  # a callback's answer


@dataclass
class HookOutcome:
    """The combined answer of every hook that ran for one event.

    - ``blocked``: a hook said no (exit 2, ``"decision": "block"``, ``permissionDecision: "deny"``).
      PreToolUse: do not run the tool, send ``reason`` as its error result. PostToolUse(Failure):
      feed ``reason`` to the model. UserPromptSubmit: drop the prompt, show ``reason`` to the user.
      Stop: do not stop, continue with ``reason`` as the next user message. Other events never block.
    - ``permission_decision`` (PreToolUse): ``allow`` skips the permission prompt, ``ask`` forces it,
      ``deny`` blocks; deny wins over ask over allow.
    - ``updated_input`` (PreToolUse): the tool input to use instead (from the last hook that gave one).
    - PermissionRequest: ``hookSpecificOutput.decision`` ``{"behavior": "allow"|"deny", "message"?,
      "updatedInput"?, "interrupt"?}`` answers the permission question for the user: ``allow`` sets
      ``permission_decision`` (and ``updated_input``), ``deny`` blocks with ``message`` as the reason
      (exit 2 too); ``interrupt`` stops the run as ``continue: false`` does.
    - ``additional_context``: text for the model, every hook's joined in configuration order.
    - ``continue_`` false: stop the whole run after this step with ``stop_reason``.
    - ``system_message``: text for the user (not the model); ``output``: plain stdout of hooks.
    - ``warnings``: hooks that failed, timed out or answered nonsense - reported, never raised.
    """

    event: str = ""
    blocked: bool = False
    reason: Optional[str] = None
    permission_decision: Optional[str] = None
    permission_decision_reason: Optional[str] = None
    updated_input: Optional[dict] = None
    additional_context: Optional[str] = None
    continue_: bool = True
    stop_reason: Optional[str] = None
    system_message: Optional[str] = None
    suppress_output: bool = False
    output: Optional[str] = None
    warnings: List[str] = field(default_factory=list)
    results: List[HookResult] = field(default_factory=list)

    @property
    def ran(self) -> int:
        return len(self.results)


@dataclass
class _Verdict:
    """What the hooks of one event decided together."""

    blocked: bool = False
    reasons: List[str] = field(default_factory=list)
    decision: Optional[str] = None
    decision_reason: Optional[str] = None
    updated_input: Optional[dict] = None
    context: List[str] = field(default_factory=list)
    stop: bool = False
    stop_reason: Optional[str] = None
    system_message: Optional[str] = None
    suppress: bool = False
    output: Optional[str] = None
    warnings: List[str] = field(default_factory=list)


_DECISION_RANK = {None: 0, "allow": 1, "ask": 2, "deny": 3}


def combine(event: str, verdicts: Sequence[_Verdict], results: List[HookResult], extra_warnings: Sequence[str]) -> HookOutcome:
    outcome = HookOutcome(event=event, results=results, warnings=list(extra_warnings))
    reasons: List[str] = []
    contexts: List[str] = []
    messages: List[str] = []
    outputs: List[str] = []
    for v in verdicts:
        outcome.warnings.extend(v.warnings)
        if v.blocked:
            outcome.blocked = True
            reasons.extend(r for r in v.reasons if r)
        if _DECISION_RANK[v.decision] > _DECISION_RANK[outcome.permission_decision]:
            outcome.permission_decision = v.decision
            outcome.permission_decision_reason = v.decision_reason
        if v.updated_input is not None:
            outcome.updated_input = v.updated_input
        contexts.extend(c for c in v.context if c)
        if v.stop:
            outcome.continue_ = False
            if outcome.stop_reason is None and v.stop_reason:
                outcome.stop_reason = v.stop_reason
        if v.system_message:
            messages.append(v.system_message)
        if v.suppress:
            outcome.suppress_output = True
        if v.output:
            outputs.append(v.output)
    if outcome.blocked:
        outcome.reason = "\n".join(reasons) or f"blocked by a {event} hook"
    outcome.additional_context = "\n\n".join(contexts) or None
    outcome.system_message = "\n".join(messages) or None
    outcome.output = "\n".join(outputs) or None
    return outcome


def _str_field(obj: Mapping, key: str, label: str, warnings: List[str]) -> Optional[str]:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    warnings.append(f"hook {label}: '{key}' must be a string; ignored")
    return None


def _apply_answer(event: str, label: str, answer: Mapping, v: _Verdict) -> None:
    """Read a hook's JSON answer (command stdout on exit 0, or a callback's return value)."""
    w = v.warnings
    if answer.get("continue") is False or answer.get("continue_") is False:
        v.stop = True
        v.stop_reason = _str_field(answer, "stopReason", label, w)
    if answer.get("suppressOutput") is True:
        v.suppress = True
    v.system_message = _str_field(answer, "systemMessage", label, w)
    reason = _str_field(answer, "reason", label, w)
    decision = answer.get("decision")
    if decision is not None:
        if decision in ("block", "deny"):
            if event in BLOCKING_EVENTS:
                v.blocked = True
                v.reasons.append(reason or f"blocked by hook {label}")
                if event == "PreToolUse":
                    v.decision = "deny"
            else:
                w.append(f"hook {label}: a {event} hook cannot block; 'decision' ignored")
        elif decision in ("approve", "allow"):
            if event == "PreToolUse":
                v.decision = "allow"
                v.decision_reason = reason
        else:
            w.append(f"hook {label}: unknown decision {decision!r} ignored (block or approve)")
    specific = answer.get("hookSpecificOutput")
    if specific is None:
        return
    if not isinstance(specific, Mapping):
        w.append(f"hook {label}: 'hookSpecificOutput' must be an object; ignored")
        return
    name = specific.get("hookEventName")
    if name is not None and name != event:
        w.append(f"hook {label}: hookSpecificOutput is for {name!r}, not {event!r}; ignored")
        return
    if event == "PermissionRequest" and "decision" in specific:
        _apply_permission_request(specific.get("decision"), label, reason, v)
    permission = specific.get("permissionDecision")
    if permission is not None:
        if event != "PreToolUse":
            w.append(f"hook {label}: permissionDecision only applies to PreToolUse; ignored")
        elif permission in ("allow", "deny", "ask"):
            v.decision = permission
            v.decision_reason = _str_field(specific, "permissionDecisionReason", label, w)
            if permission == "deny":
                v.blocked = True
                v.reasons.append(v.decision_reason or reason or f"denied by hook {label}")
        elif permission != "defer":
            w.append(f"hook {label}: permissionDecision {permission!r} is not allow, deny or ask; ignored")
    if "updatedInput" in specific:
        updated = specific.get("updatedInput")
        if event != "PreToolUse":
            w.append(f"hook {label}: updatedInput only applies to PreToolUse; ignored")
        elif isinstance(updated, dict):
            v.updated_input = updated
        else:
            w.append(f"hook {label}: updatedInput must be an object; ignored")
    context = _str_field(specific, "additionalContext", label, w)
    if context:
        v.context.append(context)


def _apply_permission_request(decision: object, label: str, reason: Optional[str], v: _Verdict) -> None:
    """A PermissionRequest hook's ``decision`` object: the answer to the permission question."""
    w = v.warnings
    if not isinstance(decision, Mapping) or decision.get("behavior") not in ("allow", "deny"):
        w.append(f"hook {label}: PermissionRequest 'decision' must be an object with behavior allow or deny; "
                 "ignored")
        return
    message = _str_field(decision, "message", label, w)
    if decision["behavior"] == "deny":
        v.blocked = True
        v.decision = "deny"
        v.reasons.append(message or reason or f"denied by hook {label}")
        if decision.get("interrupt") is True:
            v.stop, v.stop_reason = True, message or f"interrupted by hook {label}"
        return
    v.decision, v.decision_reason = "allow", message
    updated = decision.get("updatedInput")
    if isinstance(updated, dict):
        v.updated_input = updated
    elif updated is not None:
        w.append(f"hook {label}: updatedInput must be an object; ignored")


def verdict_for_command(event: str, result: HookResult) -> _Verdict:
    v = _Verdict()
    label = f"`{result.hook.label}`"
    if result.error is not None:
        v.warnings.append(f"{event} hook {label} could not run: {result.error}")
        return v
    if result.timed_out:
        v.warnings.append(f"{event} hook {label} timed out after {result.hook.timeout:g}s and was killed")
        return v
    code = result.exit_code
    if code == 0:
        text = result.stdout.strip()
        if not text:
            return v
        if text[0] in "{[":
            try:
                answer = json.loads(text)
            except ValueError as exc:
                v.warnings.append(f"{event} hook {label} printed invalid JSON ({exc.msg} at char {exc.pos}); output ignored")
                return v
            if not isinstance(answer, dict):
                v.warnings.append(f"{event} hook {label} printed JSON that is not an object; output ignored")
                return v
            _apply_answer(event, label, answer, v)
            return v
        if event in STDOUT_CONTEXT_EVENTS:
            v.context.append(text)
        else:
            v.output = text
        return v
    stderr = result.stderr.strip()
    if code == 2:
        if event in BLOCKING_EVENTS:
            v.blocked = True
            v.reasons.append(stderr[:REASON_LIMIT] or f"blocked by {event} hook {label} (exit 2)")
            if event == "PreToolUse":
                v.decision = "deny"
        else:
            v.warnings.append(f"{event} hook {label} exited 2 (a {event} hook cannot block): {_first_line(stderr)}")
        return v
    detail = _first_line(stderr) or "no error output"
    v.warnings.append(f"{event} hook {label} failed with exit code {code}: {detail}")
    return v


def verdict_for_callback(event: str, result: HookResult) -> _Verdict:
    v = _Verdict()
    label = f"`{result.hook.label}`"
    if result.error is not None:
        v.warnings.append(f"{event} hook {label} failed: {result.error}")
    elif result.timed_out:
        v.warnings.append(f"{event} hook {label} timed out after {result.hook.timeout:g}s")
    elif result.answer is not None:
        _apply_answer(event, label, result.answer, v)
    return v


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""
