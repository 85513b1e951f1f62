"""Fold a stream of Anthropic Messages events into a complete assistant message: pure, no I/O (like h11).

Feed each decoded event dict (``message_start``, ``content_block_start``, ``content_block_delta``,
``content_block_stop``, ``message_delta``, ``message_stop``, ``ping``, ``error``) to
``MessageAccumulator.feed``; it returns the typed stream events to hand to the caller, each carrying the
wire dict as ``raw``. ``finish()`` returns the ``ModelResponse``.

Rules:
  - text, thinking, signature and citation deltas are appended to their block; tool input JSON
    (``input_json_delta``) is collected and parsed once, at ``content_block_stop``. The ``input: {}``
    placeholder of ``content_block_start`` is never concatenated with the deltas; with no deltas the
    start's own input is kept (so a real empty input stays ``{}``). Invalid JSON does not raise: the
    block gets ``input: {}`` and ``ModelResponse.invalid_tool_inputs`` says what was wrong, so the
    runtime can answer the model with a tool error.
  - usage: ``message_delta`` usage is cumulative; each field it carries replaces the ``message_start``
    value, fields it omits are kept (cache fields included).
  - tolerance: ``ping`` is ignored; unknown event types pass through as ``RawEvent``; a stream that
    ends after complete content without ``message_stop`` is accepted (stop_reason inferred when absent);
    a stream with nothing in it raises ``EmptyStream`` (the provider then retries without streaming);
    one that ends inside a block raises a retryable ``NetworkError(kind="protocol")``.
  - ``error`` events raise the classified ``ProviderError`` (claw.api.failures).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from claw.api.failures import classify_stream_error
from claw.api.types import (
    BlockStarted,
    BlockStopped,
    MessageStarted,
    ModelResponse,
    RawEvent,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    ToolUseStarted,
    Usage,
)
from claw.errors import NetworkError

_TOOL_BLOCKS = ("tool_use", "server_tool_use", "mcp_tool_use")


class EmptyStream(Exception):
    """The stream carried no message at all (no content, no stop reason)."""


class _Open:
    """A content block being assembled."""

    __slots__ = ("block", "parts", "json_parts", "field")

    def __init__(self, block: Dict[str, Any]) -> None:
        self.block = block
        self.parts: List[str] = []
        self.json_parts: List[str] = []
        t = block.get("type")
        self.field = "text" if t == "text" else "thinking" if t == "thinking" else None


class MessageAccumulator:
    def __init__(self, *, request_id: Optional[str] = None, provider: str = "anthropic") -> None:
        self.request_id = request_id
        self.provider = provider
        self.message_id = ""
        self.model = ""
        self.usage = Usage()
        self.stop_reason: Optional[str] = None
        self.stop_sequence: Optional[str] = None
        self.started = False  # message_start seen
        self.content_started = False  # a content block started (content is on its way to the user)
        self.stopped = False  # message_stop seen
        self.events = 0
        self._open: Dict[int, _Open] = {}
        self._blocks: Dict[int, Dict[str, Any]] = {}
        self._invalid: Dict[str, str] = {}
        self._last_index = -1
        self._dispatch = {
            "content_block_delta": self._delta,
            "content_block_start": self._block_start,
            "content_block_stop": self._block_stop,
            "message_start": self._message_start,
            "message_delta": self._message_delta,
            "message_stop": self._message_stop,
            "ping": _ignore,
            "error": self._error,
        }

    # -- feeding ------------------------------------------------------------------------------------

    def feed(self, event: Dict[str, Any]) -> List[StreamEvent]:
        self.events += 1
        handler = self._dispatch.get(event.get("type"))  # type: ignore[arg-type]
        if handler is None:
            return [RawEvent(str(event.get("type")), event)]
        return handler(event)

    def _message_start(self, event: Dict[str, Any]) -> List[StreamEvent]:
        msg = event.get("message") or {}
        self.started = True
        self.message_id = msg.get("id") or self.message_id
        self.model = msg.get("model") or self.model
        self.usage = self.usage.merged(msg.get("usage"))
        if msg.get("stop_reason"):
            self.stop_reason = msg["stop_reason"]
        return [MessageStarted(self.message_id, self.model, self.usage, event)]

    def _block_start(self, event: Dict[str, Any]) -> List[StreamEvent]:
        index = event.get("index")
        if not isinstance(index, int):
            index = self._last_index + 1
        self._last_index = max(self._last_index, index)
        block = dict(event.get("content_block") or {"type": "text", "text": ""})
        self._open[index] = _Open(block)
        self.content_started = True
        btype = block.get("type", "")
        if btype == "tool_use":
            return [ToolUseStarted(index, str(block.get("id", "")), str(block.get("name", "")), event)]
        return [BlockStarted(index, str(btype), event)]

    def _delta(self, event: Dict[str, Any]) -> List[StreamEvent]:
        index = event.get("index")
        if not isinstance(index, int):
            index = self._last_index
        cur = self._open.get(index)
        delta = event.get("delta") or {}
        dtype = delta.get("type")
        if cur is None:
            # A delta for a block that never started: open an implicit one so nothing is lost.
            cur = self._implicit(index, dtype)
        if dtype == "text_delta":
            text = delta.get("text", "")
            cur.parts.append(text)
            return [TextDelta(index, text, event)]
        if dtype == "input_json_delta":
            partial = delta.get("partial_json", "")
            cur.json_parts.append(partial)
            return [ToolInputDelta(index, partial, event)]
        if dtype == "thinking_delta":
            text = delta.get("thinking", "")
            cur.parts.append(text)
            return [ThinkingDelta(index, text, event)]
        if dtype == "signature_delta":
            cur.block["signature"] = (cur.block.get("signature") or "") + delta.get("signature", "")
        elif dtype == "citations_delta":
            citation = delta.get("citation")
            if citation is not None:
                cur.block.setdefault("citations", [])
                if cur.block["citations"] is None:
                    cur.block["citations"] = []
                cur.block["citations"].append(citation)
        return [RawEvent("content_block_delta", event)]

    def _implicit(self, index: int, dtype: Any) -> _Open:
        if dtype == "input_json_delta":
            block: Dict[str, Any] = {"type": "tool_use", "id": "", "name": "", "input": {}}
        elif dtype in ("thinking_delta", "signature_delta"):
            block = {"type": "thinking", "thinking": "", "signature": ""}
        else:
            block = {"type": "text", "text": ""}
        cur = self._open[index] = _Open(block)
        self._last_index = max(self._last_index, index)
        self.content_started = True
        return cur

    def _block_stop(self, event: Dict[str, Any]) -> List[StreamEvent]:
        index = event.get("index")
        if not isinstance(index, int):
            index = self._last_index
        cur = self._open.pop(index, None)
        if cur is None:
            return [RawEvent("content_block_stop", event)]
        block = self._finalize(cur)
        self._blocks[index] = block
        return [BlockStopped(index, block, event)]

    def _finalize(self, cur: _Open) -> Dict[str, Any]:
        block = cur.block
        if cur.field is not None:
            block[cur.field] = (block.get(cur.field) or "") + "".join(cur.parts)
        if block.get("type") in _TOOL_BLOCKS or cur.json_parts:
            raw = "".join(cur.json_parts)
            if raw.strip():
                try:
                    value = json.loads(raw)
                except ValueError as exc:
                    value = None
                    problem = f"not valid JSON ({exc})"
                else:
                    problem = None if isinstance(value, dict) else f"a JSON {type(value).__name__}, not an object"
                if problem is None:
                    block["input"] = value
                else:
                    block["input"] = {}
                    shown = raw if len(raw) <= 500 else raw[:500] + "..."
                    self._invalid[str(block.get("id", ""))] = (
                        f"The input for tool {block.get('name', '?')!r} was {problem}; the tool was not run. "
                        f"Received: {shown}. Call the tool again with a JSON object as its input."
                    )
            elif not isinstance(block.get("input"), dict):
                block["input"] = {}
        return block

    def _message_delta(self, event: Dict[str, Any]) -> List[StreamEvent]:
        delta = event.get("delta") or {}
        if delta.get("stop_reason") is not None:
            self.stop_reason = delta["stop_reason"]
        if "stop_sequence" in delta:
            self.stop_sequence = delta.get("stop_sequence")
        self.usage = self.usage.merged(event.get("usage"))
        return [RawEvent("message_delta", event)]

    def _message_stop(self, event: Dict[str, Any]) -> List[StreamEvent]:
        self.stopped = True
        return []  # the provider emits MessageDone(raw=this event) once the response is built

    def _error(self, event: Dict[str, Any]) -> List[StreamEvent]:
        raise classify_stream_error(event, request_id=self.request_id, provider=self.provider)

    # -- finishing ----------------------------------------------------------------------------------

    @property
    def has_content(self) -> bool:
        return bool(self._blocks or self._open)

    def finish(self) -> ModelResponse:
        """The complete message; raises EmptyStream or NetworkError(protocol) when there is none."""
        if not self.has_content and self.stop_reason is None and not self.stopped:
            raise EmptyStream()
        if self._open:
            if not self.stopped:
                raise NetworkError(
                    "the stream ended in the middle of a content block (connection cut?)",
                    hint="try again; if it keeps happening a proxy may be cutting long responses",
                    kind="protocol",
                    request_id=self.request_id,
                    retryable=True,
                )
            for index in sorted(self._open):
                self._blocks[index] = self._finalize(self._open.pop(index))
        content = [self._blocks[i] for i in sorted(self._blocks)]
        stop_reason = self.stop_reason
        if stop_reason is None:
            stop_reason = "tool_use" if any(b.get("type") == "tool_use" for b in content) else "end_turn"
        return ModelResponse(
            id=self.message_id or "msg_unknown",
            model=self.model,
            content=content,
            stop_reason=stop_reason,
            usage=self.usage,
            stop_sequence=self.stop_sequence,
            request_id=self.request_id,
            invalid_tool_inputs=dict(self._invalid),
        )

def _ignore(event: Dict[str, Any]) -> List[StreamEvent]:
    return []


def events_from_message(message: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Synthesise the Anthropic stream events of a complete (non-streamed) message, in wire order.

    Used when a request had to be answered without streaming, so callers and ``stream_event`` lines
    look the same either way.
    """
    usage = dict(message.get("usage") or {})
    start_msg = {
        "id": message.get("id", ""),
        "type": "message",
        "role": "assistant",
        "model": message.get("model", ""),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": min(1, int(usage.get("output_tokens") or 0))},
    }
    out: List[Dict[str, Any]] = [{"type": "message_start", "message": start_msg}]
    for index, block in enumerate(message.get("content") or []):
        btype = block.get("type")
        if btype == "text":
            start = {**block, "text": ""}
            out.append({"type": "content_block_start", "index": index, "content_block": start})
            if block.get("text"):
                out.append({"type": "content_block_delta", "index": index,
                            "delta": {"type": "text_delta", "text": block["text"]}})
        elif btype == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            out.append({"type": "content_block_start", "index": index, "content_block": start})
            if block.get("thinking"):
                out.append({"type": "content_block_delta", "index": index,
                            "delta": {"type": "thinking_delta", "thinking": block["thinking"]}})
            if block.get("signature"):
                out.append({"type": "content_block_delta", "index": index,
                            "delta": {"type": "signature_delta", "signature": block["signature"]}})
        elif btype in _TOOL_BLOCKS:
            start = {**block, "input": {}}
            out.append({"type": "content_block_start", "index": index, "content_block": start})
            if block.get("input"):
                out.append({"type": "content_block_delta", "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}})
        else:
            out.append({"type": "content_block_start", "index": index, "content_block": dict(block)})
        out.append({"type": "content_block_stop", "index": index})
    out.append({
        "type": "message_delta",
        "delta": {"stop_reason": message.get("stop_reason"), "stop_sequence": message.get("stop_sequence")},
        "usage": usage,
    })
    out.append({"type": "message_stop"})
    return out
