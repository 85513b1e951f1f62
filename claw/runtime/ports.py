"""The small interfaces the conversation loop needs from what it is given: typed ``Protocol``s.

``Agent`` (claw.runtime.agent) talks to four things it does not build: a model (``ModelClient``: the
providers of claw.api, or a test's scripted model), a session log (``SessionLog``: claw.runtime's
session store), a tool set (``ToolSet``: claw.runtime.tool_calls.ToolCallRunner) and hooks
(``HookRunner``: claw.runtime.hooks). Each Protocol lists exactly what the loop calls, so another
implementation — an in-process fake, a child run's session — needs nothing more.

Deliberately not here: implementations, and any import that costs time at run time (the types named
in annotations are imported for type checkers only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator, Dict, List, Mapping, Optional, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:
    from claw.api.types import Message, ModelRequest, StreamEvent
    from claw.runtime.events import PermissionDenial
    from claw.runtime.tool_calls import BatchResult

JsonObject = Dict[str, Any]  # a JSON object as decoded: message blocks, tool inputs, hook payloads


@runtime_checkable
class ModelClient(Protocol):
    """A model: one request in, stream events out, ending with ``MessageDone`` (or raising a ClawError)."""

    def stream(self, request: "ModelRequest") -> AsyncIterator["StreamEvent"]: ...


@runtime_checkable
class SessionLog(Protocol):
    """The conversation as the loop keeps it: the history, and records appended to it."""

    @property
    def messages(self) -> List["Message"]: ...

    def append_message(self, message: "Message", usage: Optional[Dict[str, int]] = None) -> str: ...

    def append_compaction(self, summary_message: "Message", *, upto: Optional[int] = None,
                          trigger: Optional[str] = None) -> str: ...


class ToolCallLog(Protocol):
    """Where the tool pipeline reports each call, result and permission denial of a run."""

    def use(self, tool_use_id: str, name: str, tool_input: JsonObject) -> None: ...

    def result(self, tool_use_id: str, name: str, output: str, is_error: bool) -> None: ...

    def denial(self, denial: "PermissionDenial") -> None: ...


@runtime_checkable
class ToolSet(Protocol):
    """The tools offered to the model, and the runner of one assistant message's tool calls."""

    def model_tools(self) -> List[JsonObject]: ...

    async def run_all(self, blocks: Sequence[JsonObject], invalid_inputs: Dict[str, str],
                      log: ToolCallLog) -> "BatchResult": ...


class HookVerdict(Protocol):
    """What the hooks of one event decided together (the fields the loop reads)."""

    @property
    def blocked(self) -> bool: ...

    @property
    def continue_(self) -> bool: ...

    @property
    def reason(self) -> Optional[str]: ...

    @property
    def stop_reason(self) -> Optional[str]: ...

    @property
    def additional_context(self) -> Optional[str]: ...

    @property
    def system_message(self) -> Optional[str]: ...

    @property
    def warnings(self) -> List[str]: ...


@runtime_checkable
class HookRunner(Protocol):
    """Runs the configured hooks of an event and combines their answers."""

    async def run(self, event_name: str, payload: Optional[Mapping[str, Any]] = None, *,
                  tool_name: Optional[str] = None) -> HookVerdict: ...
