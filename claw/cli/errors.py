"""How a classified error looks to a person on a terminal.

Usage and configuration errors are one line and a hint. Everything else follows the provider-failure
format (class, message, request id, session id, then the hint) from claw.api.failures, so a
context-window failure, a 429 after retries and a TLS failure read alike. Returns text; the caller writes
it to stderr.
"""

from __future__ import annotations

from typing import Optional

from claw.errors import ClawError


def render_error(error: ClawError, *, session_id: Optional[str] = None) -> str:
    if error.failure_class in ("usage", "config"):
        message = error.message if error.message.startswith("claw") else f"claw: {error.message}"
        return message + (f"\nhint: {error.hint}" if error.hint else "")
    from claw.api.failures import render_failure

    return render_failure(error, session_id=session_id)
