"""The model's extended thinking in the REPL: dimmed, under a ``Thinking`` header, as it streams.

Thinking text is shown a line at a time (so a secret split across two deltas is still recognised by
claw.redact) in the terminal's dim style when colour is on; a ``redacted_thinking`` block (encrypted
by the provider) is shown as one dimmed line saying so. Headless text output does not show thinking
(as Claude Code's print mode); stream-json carries the blocks in its assistant messages.

This module renders only; the REPL writer hands it the stream events.
"""

from __future__ import annotations

from typing import IO, Any

from claw.cli.markdown import DIM, RESET


class ThinkingView:
    """Renders the thinking blocks of a response to ``out``; ``feed`` says whether it took the event."""

    def __init__(self, out: IO[str], *, color: bool, fancy: bool = True) -> None:
        self.out = out
        self.color = color
        self.mark = "∴" if fancy else "*"
        self._open: Any = None  # index of the thinking block being shown
        self._held = ""

    def takes(self, event: Any) -> bool:
        """Whether ``event`` belongs to a thinking block (``feed`` then renders it)."""
        from claw.api.types import BlockStarted, BlockStopped, ThinkingDelta

        if isinstance(event, BlockStarted):
            return event.block_type in ("thinking", "redacted_thinking")
        if isinstance(event, (ThinkingDelta, BlockStopped)):
            return self._open is not None and event.index == self._open
        return False

    def feed(self, event: Any) -> bool:
        from claw.api.types import BlockStarted, BlockStopped, ThinkingDelta

        if isinstance(event, BlockStarted) and event.block_type in ("thinking", "redacted_thinking"):
            if event.block_type == "redacted_thinking":
                self._line(f"{self.mark} Thinking (redacted by the provider)")
                return True
            self._open = event.index
            self._line(f"{self.mark} Thinking…")
            return True
        if isinstance(event, ThinkingDelta) and event.index == self._open:
            held = self._held + event.thinking
            cut = held.rfind("\n") + 1
            for line in held[:cut].splitlines():
                self._line(line)
            self._held = held[cut:]
            return True
        if isinstance(event, BlockStopped) and event.index == self._open and self._open is not None:
            if self._held:
                self._line(self._held)
            self._held, self._open = "", None
            self._line("")
            return True
        return False

    def _line(self, text: str) -> None:
        from claw.redact import redact_text

        text = redact_text(text)
        self.out.write((f"{DIM}{text}{RESET}" if self.color and text else text) + "\n")
        self.out.flush()
