"""An in-process, deterministic model: a ``ModelClient`` that replays scripted turns, no HTTP.

Each ``Turn`` is one model response: text, tool_use blocks, a stop reason, usage — or an error raised
before (or after) the content. The turn is rendered as Anthropic wire events and folded by the real
``MessageAccumulator``, so the loop sees exactly the events a provider would give it, ending with
``MessageDone``. Every request the loop sends is kept in ``requests`` for assertions.

For interrupt tests a turn can ``hang`` after its first content event: ``streaming`` is set, and the
stream waits until the task is cancelled. A script that runs out fails the test loudly.

Not a provider: no retries, no preflight, no HTTP (those are tested against tests/fakes/model_server.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Dict, List, Optional, Sequence

from claw.api.accumulator import MessageAccumulator, events_from_message
from claw.api.types import MessageDone, ModelRequest, StreamEvent, Usage


@dataclass
class ToolUse:
    """A tool call the scripted model makes."""

    name: str
    input: Dict[str, Any]
    id: Optional[str] = None


@dataclass
class Turn:
    """One scripted model response."""

    text: str = ""
    tool_uses: Sequence[ToolUse] = ()
    stop_reason: Optional[str] = None  # default: tool_use when there are tool uses, else end_turn
    usage: Usage = field(default_factory=lambda: Usage(input_tokens=10, output_tokens=5))
    error: Optional[BaseException] = None  # raised instead of (or, with error_after_text, after) the content
    error_after_text: bool = False
    hang: bool = False  # after the first content event, wait until cancelled
    thinking: Optional[str] = None  # a thinking block first, signed "sig:<text>"
    redacted_thinking: Optional[str] = None  # a redacted_thinking block (its opaque data) after it


class ScriptedModel:
    """Replays ``turns`` in order, one per request (``stream``)."""

    def __init__(self, turns: Sequence[Turn], *, model: str = "scripted-model") -> None:
        self.turns: List[Turn] = list(turns)
        self.model = model
        self.requests: List[ModelRequest] = []
        self.streaming: Optional[asyncio.Event] = None  # set when a hanging turn has started streaming
        self._ids = 0

    @property
    def remaining(self) -> int:
        return len(self.turns)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        if not self.turns:
            raise AssertionError(f"the scripted model has no turn left for request {len(self.requests)}")
        turn = self.turns.pop(0)
        if turn.error is not None and not turn.error_after_text:
            raise turn.error
        acc = MessageAccumulator(provider="scripted")
        last_raw: Optional[Dict[str, Any]] = None
        raws = events_from_message(self._message(turn))
        for raw in raws:
            if turn.error is not None and raw.get("type") == "message_delta":
                raise turn.error  # the text went out, the message never finished
            if raw.get("type") == "message_stop":
                last_raw = raw
            for event in acc.feed(raw):
                yield event
            if turn.hang and acc.content_started:
                if self.streaming is None:
                    self.streaming = asyncio.Event()
                self.streaming.set()
                await asyncio.Event().wait()  # until the task is cancelled
            await asyncio.sleep(0)  # a real stream gives the loop a chance between events
        yield MessageDone(acc.finish(), last_raw)

    def _message(self, turn: Turn) -> Dict[str, Any]:
        self._ids += 1
        content: List[Dict[str, Any]] = []
        if turn.thinking is not None:
            content.append({"type": "thinking", "thinking": turn.thinking, "signature": "sig:" + turn.thinking})
        if turn.redacted_thinking is not None:
            content.append({"type": "redacted_thinking", "data": turn.redacted_thinking})
        if turn.text:
            content.append({"type": "text", "text": turn.text})
        for i, use in enumerate(turn.tool_uses):
            content.append({"type": "tool_use", "id": use.id or f"toolu_{self._ids:02d}_{i}", "name": use.name,
                            "input": dict(use.input)})
        stop = turn.stop_reason or ("tool_use" if turn.tool_uses else "end_turn")
        return {"id": f"msg_scripted_{self._ids:02d}", "type": "message", "role": "assistant",
                "model": self.model, "content": content, "stop_reason": stop, "stop_sequence": None,
                "usage": turn.usage.to_dict()}
