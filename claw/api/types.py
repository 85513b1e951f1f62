"""Typed data that crosses the api/ boundary: requests, responses, usage and stream events.

Messages stay in the Anthropic Messages wire shape (``{"role": ..., "content": [block, ...]}`` with block
dicts) as claw's canonical internal form; the OpenAI-compatible provider translates to and from it, so the
runtime never sees a provider difference. Stream events are small frozen dataclasses the caller can render
incrementally; every event that came from (or was synthesised as) an Anthropic wire event carries that
event dict in ``raw``, which is what ``--include-partial-messages`` prints as ``stream_event`` lines.

This module does no I/O and imports nothing heavy; it does not validate message content (the provider is
the judge of that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional, Tuple, Union

Block = Dict[str, Any]
Message = Dict[str, Any]

USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


# What the Messages API takes as an image or document block (tools and MCP results build them).
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
MAX_IMAGE_BYTES = 5 * 1024 * 1024 * 3 // 4  # raw bytes whose base64 is 5 MiB
MAX_PDF_BYTES = 20 * 1024 * 1024  # base64 ~27 MiB: fits the 32 MiB request limit


def binary_block(kind: str, media_type: str, data: str) -> Dict[str, Any]:
    """An ``image``/``document`` content block of base64 ``data``."""
    return {"type": kind, "source": {"type": "base64", "media_type": media_type, "data": data}}


@dataclass(frozen=True)
class Usage:
    """Token counts of one response (or a sum of several: ``a + b``)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    @property
    def prompt_tokens(self) -> int:
        """Everything the model read: fresh input plus cache writes and cache reads."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def to_dict(self) -> Dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        }

    def merged(self, update: Optional[Dict[str, Any]]) -> "Usage":
        """This usage with the fields present (and not null) in ``update`` replaced.

        Anthropic's ``message_delta`` usage is cumulative: a field it carries supersedes the value
        from ``message_start``; a field it omits keeps the earlier value.
        """
        if not update:
            return self
        values = self.to_dict()
        for name in USAGE_FIELDS:
            value = update.get(name)
            if value is not None:
                values[name] = _int(value)
        return Usage(**values)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class ModelRequest:
    """One call to a model. ``max_tokens=None`` means the registry default for the model."""

    model: str
    messages: List[Message]
    system: Union[str, List[Block], None] = None
    tools: List[Dict[str, Any]] = field(default_factory=list)  # Anthropic shape: name, description, input_schema
    max_tokens: Optional[int] = None
    tool_choice: Optional[Dict[str, Any]] = None  # {"type": "auto"|"any"|"tool"|"none", "name"?: str}
    thinking: Optional[Dict[str, Any]] = None  # {"type": "enabled", "budget_tokens": N} | {"type": "adaptive"}
    temperature: Optional[float] = None
    stop_sequences: Tuple[str, ...] = ()
    metadata: Optional[Dict[str, Any]] = None  # e.g. {"user_id": ...}
    betas: Tuple[str, ...] = ()  # extra anthropic-beta values
    cache: bool = True  # prompt-cache breakpoints (claw.api.caching); False for a one-off request
    effort: Optional[str] = None  # low | medium | high | xhigh | max (claw.api.effort adapts it per model)


@dataclass
class ModelResponse:
    """A complete assistant message in the Anthropic wire shape, plus what claw learned getting it.

    ``invalid_tool_inputs`` maps a tool_use id to an error text when the model streamed tool input that
    is not valid JSON: the block keeps ``input: {}`` and the runtime must answer that tool_use with an
    ``is_error`` tool_result carrying this text instead of running the tool.
    """

    id: str
    model: str
    content: List[Block]
    stop_reason: Optional[str]
    usage: Usage
    stop_sequence: Optional[str] = None
    request_id: Optional[str] = None
    invalid_tool_inputs: Dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "".join(b.get("text", "") for b in self.content if b.get("type") == "text")

    @property
    def tool_uses(self) -> List[Block]:
        return [b for b in self.content if b.get("type") == "tool_use"]

    def to_message(self) -> Message:
        """The message to append to the conversation history."""
        return {"role": "assistant", "content": [dict(b) for b in self.content]}

    def to_dict(self) -> Dict[str, Any]:
        """The Anthropic ``message`` object (as a non-streaming response would carry it)."""
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [dict(b) for b in self.content],
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            "usage": self.usage.to_dict(),
        }


# ---------------------------------------------------------------------------------------------------------
# Stream events. ``raw`` is the Anthropic wire event dict (None for events claw itself produces).
# They are plain (not frozen) dataclasses because a frozen one costs ~1.5 us to build, more than the
# rest of the per-event work; treat them as read-only.


class StreamEvent:
    """Base of every stream event; ``kind`` is a short stable name for dispatch."""

    kind: ClassVar[str] = "event"
    raw: Optional[Dict[str, Any]]


@dataclass(eq=True)
class MessageStarted(StreamEvent):
    """The first event of a response: its id, model and the initial usage."""

    kind: ClassVar[str] = "message_started"
    message_id: str
    model: str
    usage: Usage
    raw: Optional[Dict[str, Any]] = None


@dataclass(eq=True)
class BlockStarted(StreamEvent):
    """A content block began (text, thinking, redacted_thinking, server tool blocks...).

    tool_use blocks start with ``ToolUseStarted`` instead.
    """

    kind: ClassVar[str] = "block_started"
    index: int
    block_type: str
    raw: Optional[Dict[str, Any]] = None


@dataclass(eq=True)
class TextDelta(StreamEvent):
    """A piece of a text block's text."""

    kind: ClassVar[str] = "text_delta"
    index: int
    text: str
    raw: Optional[Dict[str, Any]] = None


@dataclass(eq=True)
class ThinkingDelta(StreamEvent):
    """A piece of a thinking block's text."""

    kind: ClassVar[str] = "thinking_delta"
    index: int
    thinking: str
    raw: Optional[Dict[str, Any]] = None


@dataclass(eq=True)
class ToolUseStarted(StreamEvent):
    """A tool_use block begins: its id and the tool's name."""

    kind: ClassVar[str] = "tool_use_started"
    index: int
    id: str
    name: str
    raw: Optional[Dict[str, Any]] = None


@dataclass(eq=True)
class ToolInputDelta(StreamEvent):
    """A piece of a tool_use block's input JSON, as text."""

    kind: ClassVar[str] = "tool_input_delta"
    index: int
    partial_json: str
    raw: Optional[Dict[str, Any]] = None


@dataclass(eq=True)
class BlockStopped(StreamEvent):
    """A content block is complete; ``block`` is its final dict (tool input parsed)."""

    kind: ClassVar[str] = "block_stopped"
    index: int
    block: Block
    raw: Optional[Dict[str, Any]] = None


@dataclass(eq=True)
class RawEvent(StreamEvent):
    """Any other wire event (message_delta, signature/citation deltas, unknown future events)."""

    kind: ClassVar[str] = "raw"
    type: str
    raw: Optional[Dict[str, Any]] = None


@dataclass(eq=True)
class RetryScheduled(StreamEvent):
    """The request failed before any content reached the caller and will be sent again.

    The CLI renders it as e.g. ``retrying in 2.0 s (429 rate limit) — attempt 2/9``.
    """

    kind: ClassVar[str] = "retry"
    attempt: int  # the attempt that is about to start, 2-based (attempt 1 was the first request)
    max_attempts: int
    delay: float
    reason: str  # short: "429", "529 overloaded", "connection reset", "stream idle 90 s", ...
    failure_class: str
    status: Optional[int] = None
    request_id: Optional[str] = None
    raw: Optional[Dict[str, Any]] = None

    def describe(self) -> str:
        return f"retrying in {self.delay:.1f} s ({self.reason}) - attempt {self.attempt}/{self.max_attempts}"


@dataclass(eq=True)
class ModelFallback(StreamEvent):
    """The model could not answer (overloaded after its retries, or not found) and the same request
    now goes to the fallback model (``--fallback-model``). ``trigger``: ``overloaded`` |
    ``model_not_found`` (the names Claude Code's ``system``/``model_fallback`` message uses)."""

    kind: ClassVar[str] = "model_fallback"
    original_model: str
    fallback_model: str
    trigger: str
    reason: str  # short, as RetryScheduled's: "529 overloaded", "404 not found"
    raw: Optional[Dict[str, Any]] = None

    def describe(self) -> str:
        return (f"{self.original_model} is unavailable ({self.reason}); "
                f"falling back to {self.fallback_model}")


@dataclass(eq=True)
class MessageDone(StreamEvent):
    """Always the last event of a successful stream: the complete message."""

    kind: ClassVar[str] = "message_done"
    response: ModelResponse
    raw: Optional[Dict[str, Any]] = None
