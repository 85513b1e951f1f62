"""How a classified error looks to a person on a terminal.

Three shapes, all returned as text for the caller to write to stderr:

- usage and configuration errors: one line and a hint (``claw: ...`` / ``hint: ...``);
- a context-window failure (the local preflight's or the provider's): a block naming the failure
  class, the model, the estimate against the window when known, the session and request ids, and the
  three ways to recover (``/compact``; ``claw --resume <id>`` then ``/compact``; a fresh session);
- every other failure (provider, transport, tool, I/O): class, message, request id and session id on
  one line, then the hint.

It prints nothing and decides no exit code. Messages are the errors' own; nothing here adds secrets.
"""

from __future__ import annotations

from typing import Any, List, Optional

from claw.errors import ClawError


def render_short(error: ClawError) -> str:
    """``claw: message`` and ``hint: ...`` on the next line: usage and configuration errors, and
    every error of a subcommand that manages files (``claw config``, ``mcp``, ``plugin``)."""
    message = error.message if error.message.startswith("claw") else f"claw: {error.message}"
    return message + (f"\nhint: {error.hint}" if error.hint else "")


def render_error(error: ClawError, *, session_id: Optional[str] = None, model: Optional[str] = None) -> str:
    """The text for ``error``; ``session_id`` and ``model`` (the run's) fill in what the error lacks."""
    if error.failure_class in ("usage", "config"):
        return render_short(error)
    if error.failure_class == "context_window":
        return render_context_window(error, session_id=session_id, model=model)
    return render_failure_line(error, session_id=session_id)


def render_failure_line(error: ClawError, *, session_id: Optional[str] = None) -> str:
    """``error [class]: message (request id: R, session id: S)`` and the hint on the next line."""
    ids = []
    if error.request_id:
        ids.append(f"request id: {error.request_id}")
    if session_id:
        ids.append(f"session id: {session_id}")
    line = f"error [{error.failure_class}]: {error.message}"
    if ids:
        line += f" ({', '.join(ids)})"
    hint = error.hint
    if hint and session_id:
        hint = hint.replace("<session-id>", session_id)
    return line + (f"\nhint: {hint}" if hint else "")


def _attr(error: BaseException, name: str) -> Any:
    """``error.name``, else the same attribute of the error it wraps (``retries_exhausted``)."""
    value = getattr(error, name, None)
    if value is None and error.__cause__ is not None:
        value = getattr(error.__cause__, name, None)
    return value


def estimate_line(estimate: Optional[int], window: Optional[int], reserved: Optional[int]) -> Optional[str]:
    """``~25,010 prompt tokens + 8,192 reserved for the answer > 16,384-token window``, as far as known."""
    if estimate is None and window is None:
        return None
    parts: List[str] = []
    if estimate is not None:
        parts.append(f"~{estimate:,} prompt tokens")
        if reserved:
            parts.append(f" + {reserved:,} reserved for the answer")
    else:
        parts.append("the prompt")
    if window is not None:
        total = (estimate or 0) + (reserved or 0)
        parts.append(f" {'>' if estimate is not None and total > window else 'against'} the "
                     f"{window:,}-token context window")
    else:
        parts.append(" (context window unknown)")
    return "".join(parts)


def render_context_window(error: ClawError, *, session_id: Optional[str] = None,
                          model: Optional[str] = None) -> str:
    """The recovery block for a conversation that does not fit the model's context window."""
    model = _attr(error, "model") or model
    lines = [f"error [{error.failure_class}]: {error.message}"]
    rows = [("model", model),
            ("estimate", estimate_line(_attr(error, "estimate"), _attr(error, "window"), _attr(error, "reserved"))),
            ("session id", session_id),
            ("request id", error.request_id)]
    lines.extend(f"  {label + ':':<12}{value}" for label, value in rows if value)
    lines.append("to recover, shorten what is sent:")
    lines.append("  - in the REPL, run /compact (the older turns become a summary)")
    if session_id:
        lines.append(f"  - from a shell: claw --resume {session_id}, then /compact")
    else:
        lines.append("  - from a shell: claw --continue, then /compact")
    lines.append("  - or start a fresh session (claw without --resume/--continue), "
                 "with less pasted text or fewer attachments")
    return "\n".join(lines)
