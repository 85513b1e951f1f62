"""What the conversation loop tells its caller, as typed values.

The loop emits these to one ``EventSink`` (a callable). The CLI has one sink per output format (text
renderer, JSON result writer, stream-json writer); tests collect them in a list. Model stream events
(claw.api.types.StreamEvent) pass through unchanged inside ``ModelStreamEvent`` so a renderer can show
text as it arrives and ``--include-partial-messages`` can print the raw wire events.

This module holds data only: no I/O, no formatting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from claw.api.types import Message, StreamEvent, Usage


@dataclass(frozen=True)
class ModelStreamEvent:
    """A raw stream event of the model's response (for stream-json's partial messages)."""

    event: StreamEvent


@dataclass(frozen=True)
class AssistantMessage:
    """A complete assistant message, appended to the history."""

    message: Message
    message_id: str
    model: str
    usage: Usage
    stop_reason: Optional[str]
    uuid: str
    request_id: Optional[str] = None


@dataclass(frozen=True)
class UserMessage:
    """A user message appended to the history: the prompt, or the tool results of a turn."""

    message: Message
    uuid: str
    is_tool_results: bool = False
    synthetic: bool = False  # written by claw, not the user: a reminder (structured output)


@dataclass(frozen=True)
class ToolStarted:
    """A tool call is about to run."""

    tool_use_id: str
    name: str
    input: Dict[str, Any]


@dataclass(frozen=True)
class ToolFinished:
    """A tool call finished: its output, and whether it was an error."""

    tool_use_id: str
    name: str
    output: str
    is_error: bool
    metadata: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PermissionDenial:
    """Contract shape of ``permission_denials[]``."""

    tool_name: str
    tool_use_id: str
    tool_input: Dict[str, Any]
    reason: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return {"tool_name": self.tool_name, "tool_use_id": self.tool_use_id, "tool_input": self.tool_input}


@dataclass(frozen=True)
class Notice:
    """Something the user should see that is not part of the conversation (hook warnings, compaction,
    retries). ``level`` is info / warning."""

    text: str
    level: str = "info"


@dataclass(frozen=True)
class SubagentEvent:
    """An event of a subagent's run (claw.runtime.subagents), tagged with the parent's ``agent`` call:
    stream-json writes it with ``parent_tool_use_id``; the text formats show none of it."""

    parent_tool_use_id: str
    event: Any  # one of the events of this module (a SubagentEvent again for a grandchild)


@dataclass(frozen=True)
class ModelTally:
    """What the responses of one model added up to in a run: tokens, and dollars (None: unknown price)."""

    usage: Usage
    cost_usd: Optional[float]


@dataclass
class TurnOutcome:
    """How one ``Agent.run`` ended: the fields of the contract's result object."""

    subtype: str  # success | error_max_turns | error_max_budget_usd | error_max_structured_output_retries | error_during_execution

    result: str
    num_turns: int
    usage: Usage
    cost_usd: Optional[float]
    duration_api_ms: int
    stop_reason: Optional[str] = None
    error: Optional[Exception] = None
    permission_denials: List[PermissionDenial] = field(default_factory=list)
    tool_uses: List[Dict[str, Any]] = field(default_factory=list)
    tool_results: List[Dict[str, Any]] = field(default_factory=list)
    model_usage: Dict[str, ModelTally] = field(default_factory=dict)  # by the model that answered
    # with a JSON schema: the claw.runtime.structured_output.StructuredValue the model returned
    structured_output: Any = None
    fallback_model: Optional[str] = None  # set when the fallback model answered (--fallback-model)

    @property
    def is_error(self) -> bool:
        return self.subtype != "success"


AgentEvent = Any  # one of the dataclasses above
EventSink = Callable[[AgentEvent], None]
