"""Thinking blocks in session files: stored exactly as received, or not at all.

The API checks the signature of every thinking block sent back to it (and needs the thinking of an
assistant message whose tool calls are being answered), so a thinking block is only worth storing
unchanged. Redaction (claw.redact) must never edit one: when redacting a message's thinking,
redacted_thinking or signature would change it, that is, a thinking block holds a secret, the stored
copy of that message leaves out all its thinking and redacted_thinking blocks instead (the record is
marked ``thinking_dropped``) and the session gets a warning. The in-memory history keeps them, so the
running session goes on unaffected; a session resumed later in the middle of that tool call, with
thinking on, would be refused by the API — a rare case, preferred to writing the secret to disk.

Pure: no I/O; the session store calls ``thinking_for_storage`` before it writes a message.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

THINKING_TYPES = ("thinking", "redacted_thinking")

DROPPED_WARNING = ("a thinking block held what looks like a secret: it was left out of the session file "
                   "(the model keeps it for this run)")


def thinking_for_storage(message: dict, redact: Callable[[Any], Any]) -> Tuple[dict, Optional[str]]:
    """``(message to store, warning or None)``: ``message`` itself when its thinking blocks survive
    redaction unchanged, else a copy without them."""
    content = message.get("content")
    if message.get("role") != "assistant" or not isinstance(content, list):
        return message, None
    blocks = [b for b in content if isinstance(b, dict) and b.get("type") in THINKING_TYPES]
    if not blocks or all(redact(b) == b for b in blocks):
        return message, None
    kept = [b for b in content if not (isinstance(b, dict) and b.get("type") in THINKING_TYPES)]
    return {**message, "content": kept or [{"type": "text", "text": ""}]}, DROPPED_WARNING
