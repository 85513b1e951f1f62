"""Output formats of a run: text, json, stream-json.

Each format is an ``OutputWriter``: it receives the agent's events (claw.runtime.events) as they happen
and the final ``TurnOutcome``, and writes to the streams it was given. In the JSON formats nothing but
JSON ever reaches stdout — notices, retries and warnings go to stderr — and stream-json flushes every
line as it is written. The shapes follow Claude Code's stream-json messages (system/init, assistant,
user, stream_event, result), which the Agent SDKs parse.

This module formats; it does not decide exit codes or run anything.
"""

from __future__ import annotations

import json
import sys
from typing import IO, TYPE_CHECKING, Any, Dict, Optional

from claw import CLAUDE_CODE_PROTOCOL_VERSION, __version__
from claw.api.types import ModelFallback, RetryScheduled, TextDelta, ToolUseStarted
from claw.errors import ClawError
from claw.ids import uuid4
from claw.runtime.run import RunInfo  # re-exported: the writers' view of the run
from claw.runtime.events import (
    AssistantMessage,
    ModelStreamEvent,
    Notice,
    SubagentEvent,
    ToolFinished,
    ToolStarted,
    TurnOutcome,
    UserMessage,
)

if TYPE_CHECKING:
    from claw.redact import Redactor


def round_cost(cost: Optional[float]) -> float:
    """Dollars to 10 decimal places (far below any token's price): sums of per-response costs carry
    binary float noise (0.00016199999999999998) that no reader should see."""
    return round(cost or 0.0, 10)


def result_object(outcome: Optional[TurnOutcome], info: RunInfo, *, duration_ms: int,
                  error: Optional[ClawError] = None) -> Dict[str, Any]:
    """The contract's result object (json output, and the last line of stream-json)."""
    if error is None and outcome is not None and isinstance(outcome.error, ClawError):
        error = outcome.error
    subtype = outcome.subtype if outcome is not None else "error_during_execution"
    is_error = error is not None or subtype != "success"
    usage = outcome.usage.to_dict() if outcome is not None else {
        "input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    obj: Dict[str, Any] = {
        "type": "result",
        "subtype": subtype,
        "is_error": is_error,
        "duration_ms": duration_ms,
        "duration_api_ms": outcome.duration_api_ms if outcome is not None else 0,
        "num_turns": outcome.num_turns if outcome is not None else 0,
        "result": (outcome.result if outcome is not None else (error.message if error else "")),
        "session_id": info.session_id,
        "total_cost_usd": round_cost(outcome.cost_usd) if outcome is not None else 0.0,
        "cost_known": outcome is None or outcome.cost_usd is not None,
        "usage": usage,
        "modelUsage": model_usage(outcome),
        "model": info.model,
        "permission_denials": [d.to_dict() for d in outcome.permission_denials] if outcome else [],
        "tool_uses": list(outcome.tool_uses) if outcome else [],
        "tool_results": list(outcome.tool_results) if outcome else [],
        "uuid": uuid4(),
    }
    obj["stop_reason"] = outcome.stop_reason if outcome is not None else None
    if outcome is not None and outcome.structured_output is not None:  # --json-schema / outputFormat
        obj["structured_output"] = outcome.structured_output.value
    reason = terminal_reason(subtype, error)
    if reason is not None:
        obj["terminal_reason"] = reason
    if subtype == "success" or getattr(error, "status", None) is not None:  # as Claude Code
        obj["api_error_status"] = getattr(error, "status", None)
    if outcome is not None and outcome.fallback_model:
        obj["fallback_model"] = outcome.fallback_model  # the --fallback-model answered (some of) this run
    if error is not None:
        obj["error"] = error.to_dict()
        if obj["error"]["hint"] and info.session_id:
            obj["error"]["hint"] = obj["error"]["hint"].replace("<session-id>", info.session_id)
        if not obj["result"]:
            obj["result"] = error.message
    elif is_error:
        obj["error"] = {"kind": subtype, "message": obj["result"], "hint": _hint_for(subtype),
                        "failure_class": "usage" if subtype in _LIMITS else "runtime_io",
                        "request_id": None}
    if is_error:  # the Agent SDKs build the error they throw from these
        obj["errors"] = [obj["error"]["message"]]
    return obj


_TERMINAL_BY_SUBTYPE = {"success": "completed", "error_max_turns": "max_turns",
                        "error_max_structured_output_retries": "structured_output_retry_exhausted"}
_TERMINAL_BY_KIND = {"interrupted": "aborted_streaming", "hook_blocked": "hook_stopped", "stopped": "hook_stopped"}


def terminal_reason(subtype: str, error: Optional[ClawError]) -> Optional[str]:
    """Why the turn ended, in the Agent SDKs' ``TerminalReason`` words; None when none of them fits."""
    if error is None or subtype != "error_during_execution":
        return _TERMINAL_BY_SUBTYPE.get(subtype)
    if error.kind in _TERMINAL_BY_KIND:
        return _TERMINAL_BY_KIND[error.kind]
    if error.failure_class == "context_window":
        return "prompt_too_long"
    if error.failure_class.startswith("provider_") or error.failure_class == "request_size":
        return "api_error"
    return None


def timestamp() -> str:
    """Now, as Claude Code stamps its messages: ISO 8601 in UTC with milliseconds (``...T09:00:56.101Z``)."""
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def model_usage(outcome: Optional[TurnOutcome]) -> Dict[str, Dict[str, Any]]:
    """``modelUsage`` as the Agent SDKs type it: per model that answered, its tokens, dollars, context
    window and output limit (from the model registry; 0 when unknown)."""
    if outcome is None or not outcome.model_usage:
        return {}
    from claw.api.registry import lookup

    out: Dict[str, Dict[str, Any]] = {}
    for model, tally in outcome.model_usage.items():
        info = lookup(model)
        out[model] = {
            "inputTokens": tally.usage.input_tokens,
            "outputTokens": tally.usage.output_tokens,
            "cacheReadInputTokens": tally.usage.cache_read_input_tokens,
            "cacheCreationInputTokens": tally.usage.cache_creation_input_tokens,
            "webSearchRequests": 0,
            "costUSD": round_cost(tally.cost_usd),
            "contextWindow": info.context_window or 0,
            "maxOutputTokens": info.max_output_tokens,
        }
    return out


_LIMITS = ("error_max_turns", "error_max_budget_usd")  # the run reached a limit the caller set


def _hint_for(subtype: str) -> Optional[str]:
    if subtype == "error_max_turns":
        return "raise --max-turns, or resume the session to continue"
    if subtype == "error_max_budget_usd":
        return "raise --max-budget-usd, or resume the session to continue"
    return None


def fallback_object(info: RunInfo, event: ModelFallback) -> Dict[str, Any]:
    """``{"type": "system", "subtype": "model_fallback", ...}``: the shape Claude Code gives the message
    that says a request went to the fallback model."""
    return {"type": "system", "subtype": "model_fallback", "trigger": event.trigger,
            "original_model": event.original_model, "fallback_model": event.fallback_model,
            "content": event.describe(), "uuid": uuid4(), "session_id": info.session_id}


class OutputWriter:
    """Base: ignores everything. Subclasses override what they show."""

    def __init__(self, info: RunInfo, *, stdout: IO[str] = None, stderr: IO[str] = None,
                 verbose: bool = False, redactor: Optional["Redactor"] = None) -> None:
        self.info = info
        self.out = stdout or sys.stdout
        self.err = stderr or sys.stderr
        self.verbose = verbose
        if redactor is None:  # before a run exists (an early usage error): the process environment's
            from claw.redact import default_redactor

            redactor = default_redactor()
        self.redactor = redactor  # the run's: its effective environment's secrets

    def start(self) -> None:
        pass

    def __call__(self, event: Any) -> None:
        pass

    def finish(self, outcome: Optional[TurnOutcome], *, duration_ms: int,
               error: Optional[ClawError] = None) -> None:
        pass

    def notice(self, text: str) -> None:
        self.err.write(self.redactor.redact_text(text.rstrip("\n")) + "\n")
        self.err.flush()

    def warning(self, text: str) -> None:
        """A warning about the run itself (a damaged session file): ``claw: warning: ...`` on stderr."""
        self.notice(f"claw: warning: {text}")


class TextWriter(OutputWriter):
    """The assistant's text streamed to stdout; tool activity, notices and errors to stderr.

    Everything goes through claw.redact as in the JSON formats. So that a secret split across two
    stream deltas is still recognised, the assistant's text is written a line at a time (a line
    longer than ``HOLD_LIMIT`` is written up to its last space).
    """

    HOLD_LIMIT = 4096

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._at_line_start = True
        self._wrote_text = False
        self._held = ""

    def _text(self, text: str) -> None:
        held = self._held + text
        cut = held.rfind("\n") + 1
        if not cut and len(held) > self.HOLD_LIMIT:
            cut = held.rfind(" ") + 1 or len(held)
        if cut:
            self._write_text(held[:cut])
            held = held[cut:]
        self._held = held

    def _flush_text(self) -> None:
        if self._held:
            held, self._held = self._held, ""
            self._write_text(held)

    def _write_text(self, text: str) -> None:
        out = self.err if self.info.structured else self.out  # stdout is for the value alone
        out.write(self.redactor.redact_text(text))
        out.flush()
        self._at_line_start = text.endswith("\n")

    def __call__(self, event: Any) -> None:
        if isinstance(event, ModelStreamEvent):
            inner = event.event
            if isinstance(inner, TextDelta) and inner.text:
                self._text(inner.text)
                self._wrote_text = True
            elif isinstance(inner, (RetryScheduled, ModelFallback)):
                self.notice(f"claw: {inner.describe()}")
            elif isinstance(inner, ToolUseStarted):
                self._end_line()
        elif isinstance(event, ToolStarted):
            self._end_line()
            self.notice(f"> {event.name}({_summary(event.input)})")
        elif isinstance(event, ToolFinished):
            first = (event.output.strip().splitlines() or [""])[0]
            status = "error" if event.is_error else "ok"
            self.notice(f"  {status}: {_clip(first, 160)}")
        elif isinstance(event, Notice):
            self.notice(("claw: warning: " if event.level == "warning" else "claw: ") + event.text)
        elif isinstance(event, SubagentEvent) and isinstance(event.event, (Notice, SubagentEvent)):
            self(event.event)  # a subagent's warnings (its hooks, retries), not its conversation

    def notice(self, text: str) -> None:
        self._flush_text()  # the assistant's text so far comes first, as it did
        super().notice(text)

    def _end_line(self) -> None:
        self._flush_text()
        if not self._at_line_start:
            out = self.err if self.info.structured else self.out
            out.write("\n")
            out.flush()
            self._at_line_start = True

    def finish(self, outcome: Optional[TurnOutcome], *, duration_ms: int,
               error: Optional[ClawError] = None) -> None:
        self._end_line()
        if error is None and outcome is not None and isinstance(outcome.error, ClawError):
            error = outcome.error
        if error is not None:
            from claw.cli.errors import render_error

            self.notice(render_error(error, session_id=self.info.session_id))
        elif outcome is not None and outcome.is_error:
            self.notice(f"claw: {outcome.result}")
            hint = _hint_for(outcome.subtype)
            if hint:
                self.notice(f"hint: {hint}")
        elif outcome is not None and outcome.structured_output is not None:
            write_json_line(self.out, {"value": outcome.structured_output.value}, self.redactor, only="value")
        elif outcome is not None and not self._wrote_text and outcome.result:
            self._write_text(outcome.result.rstrip("\n") + "\n")


class JsonWriter(OutputWriter):
    """Exactly one result object on stdout, at the end."""

    def __call__(self, event: Any) -> None:
        if isinstance(event, ModelStreamEvent) and isinstance(event.event, (RetryScheduled, ModelFallback)):
            self.notice(f"claw: {event.event.describe()}")
        elif isinstance(event, Notice):
            self.notice("claw: " + event.text)
        elif isinstance(event, SubagentEvent) and isinstance(event.event, (Notice, SubagentEvent)):
            self(event.event)

    def finish(self, outcome: Optional[TurnOutcome], *, duration_ms: int,
               error: Optional[ClawError] = None) -> None:
        write_json_line(self.out, result_object(outcome, self.info, duration_ms=duration_ms, error=error),
                        self.redactor)


class StreamJsonWriter(OutputWriter):
    """NDJSON: system/init, then assistant/user messages as they complete (stream_event lines with
    --include-partial-messages), and the result last."""

    def __init__(self, *args: Any, partial: bool = False, replay_user_messages: bool = False,
                 **kwargs: Any) -> None:
        from claw.cli.sdk_shapes import ToolResultMessages

        super().__init__(*args, **kwargs)
        self.partial = partial
        self.replay_user_messages = replay_user_messages
        self.tool_results = ToolResultMessages()
        self.parent_tool_use_id: Optional[str] = None  # while writing a subagent's event

    def start(self) -> None:
        self.emit(init_object(self.info))

    def emit(self, obj: Dict[str, Any]) -> None:
        from claw.cli.host_vocabulary import host_message

        write_json_line(self.out, host_message(obj), self.redactor)  # Claude Code's tool names for the host

    def warning(self, text: str) -> None:
        """On stderr as in every format, and as a ``system``/``notice`` message for the host."""
        super().warning(text)
        self.emit(notice_object(self.info, text, level="warning"))

    def __call__(self, event: Any) -> None:
        sid = self.info.session_id
        parent = self.parent_tool_use_id
        if isinstance(event, SubagentEvent):  # a subagent's messages, tagged with the agent call's id
            if isinstance(event.event, (SubagentEvent, AssistantMessage, UserMessage, ToolStarted, ToolFinished,
                                        Notice)) or (
                    isinstance(event.event, ModelStreamEvent) and self.partial):
                self.parent_tool_use_id = event.parent_tool_use_id
                try:
                    self(event.event)
                finally:
                    self.parent_tool_use_id = parent
            return
        if isinstance(event, ModelStreamEvent):
            inner = event.event
            if isinstance(inner, RetryScheduled):
                self.notice(f"claw: {inner.describe()}")
            elif isinstance(inner, ModelFallback):
                self.notice(f"claw: {inner.describe()}")
                self.emit(fallback_object(self.info, inner))
            elif self.partial and inner.raw is not None:
                self.emit({"type": "stream_event", "event": inner.raw, "session_id": sid,
                           "parent_tool_use_id": parent, "uuid": uuid4()})
        elif isinstance(event, AssistantMessage):
            message = {"id": event.message_id, "type": "message", "role": "assistant", "model": event.model,
                       "content": event.message["content"], "stop_reason": event.stop_reason,
                       "stop_sequence": None, "usage": event.usage.to_dict()}
            line = {"type": "assistant", "message": message, "parent_tool_use_id": parent,
                    "session_id": sid, "uuid": event.uuid, "timestamp": timestamp()}
            if event.request_id:
                line["request_id"] = event.request_id
            self.emit(line)
        elif isinstance(event, ToolStarted):
            self.tool_results.started(event.tool_use_id, event.name, event.input)
        elif isinstance(event, ToolFinished):
            self.tool_results.finished(event.tool_use_id, event.name, event.output, event.is_error, event.metadata)
        elif isinstance(event, UserMessage) and (event.is_tool_results or event.synthetic
                                                 or self.replay_user_messages or parent is not None):
            # As Claude Code: the prompt itself is echoed back only with --replay-user-messages, claw's
            # own reminders are written marked isSynthetic, and each tool result is a message of its
            # own with the tool's structured tool_use_result.
            line = {"type": "user", "message": event.message, "parent_tool_use_id": parent,
                    "session_id": sid, "uuid": event.uuid, "timestamp": timestamp()}
            if event.synthetic:
                line["isSynthetic"] = True
            for part in self.tool_results.split(line):
                self.emit(part)
        elif isinstance(event, Notice):
            self.notice("claw: " + event.text)

    def finish(self, outcome: Optional[TurnOutcome], *, duration_ms: int,
               error: Optional[ClawError] = None) -> None:
        self.emit(result_object(outcome, self.info, duration_ms=duration_ms, error=error))


def init_object(info: RunInfo) -> Dict[str, Any]:
    return {
        "type": "system",
        "subtype": "init",
        "cwd": info.cwd,
        "session_id": info.session_id,
        "tools": list(info.tools),
        "mcp_servers": list(info.mcp_servers),
        "model": info.model,
        "permissionMode": info.permission_mode,
        "slash_commands": [c["name"] for c in info.commands],
        "agents": list(info.agents),
        "skills": list(info.skills),
        "plugins": list(info.plugins),
        "apiKeySource": info.api_key_source,
        "output_style": "default",
        "claw_version": __version__,
        "claude_code_version": CLAUDE_CODE_PROTOCOL_VERSION,
        "uuid": uuid4(),
    }


def notice_object(info: RunInfo, text: str, *, level: str = "info") -> Dict[str, Any]:
    """``{"type": "system", "subtype": "notice", "level", "text"}``: something the host should know
    that is not part of the conversation (a skipped line of the resumed session file)."""
    return {"type": "system", "subtype": "notice", "level": level, "text": text,
            "session_id": info.session_id, "uuid": uuid4()}


def write_json_line(stream: IO[str], obj: Dict[str, Any], redactor: "Redactor", *, only: Optional[str] = None
                    ) -> None:
    """One NDJSON line, flushed, with secrets (keys, tokens, proxy passwords a tool may have printed)
    replaced: nothing claw writes may carry them, whatever the model or a tool produced. ``only``: write
    just that member of ``obj`` (any JSON value), redacted the same way."""
    clean = redactor.redact_obj(obj)
    if only is not None:
        clean = clean[only]
    stream.write(json.dumps(clean, ensure_ascii=False, separators=(",", ":"), default=str) + "\n")
    stream.flush()


def make_writer(fmt: str, info: RunInfo, *, partial: bool = False, verbose: bool = False,
                stdout: IO[str] = None, stderr: IO[str] = None, redactor: Optional["Redactor"] = None
                ) -> OutputWriter:
    common: Dict[str, Any] = {"stdout": stdout, "stderr": stderr, "verbose": verbose, "redactor": redactor}
    if fmt == "json":
        return JsonWriter(info, **common)
    if fmt == "stream-json":
        return StreamJsonWriter(info, partial=partial, **common)
    return TextWriter(info, **common)


def _summary(tool_input: Dict[str, Any]) -> str:
    for key in ("command", "path", "file_path", "pattern", "url", "query"):
        if key in tool_input:
            return _clip(str(tool_input[key]), 100)
    return _clip(json.dumps(tool_input, ensure_ascii=False), 100)


def _clip(text: str, limit: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
