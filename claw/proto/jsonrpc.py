"""JSON-RPC 2.0 message model: typed messages, validation of decoded JSON, and back to dicts.

``parse_message(obj)`` takes one decoded JSON value (framing is the transport's job: NDJSON over
stdio, HTTP bodies, WebSocket frames) and returns a ``Request``, ``Notification``, ``Response`` or
``ErrorResponse``; a malformed message raises ``InvalidMessage``, which carries the ``id`` when it
could be read, so the caller can answer with ``error.to_response()`` (code -32600). ``parse(obj)``
also accepts a batch (a JSON array) and returns a list in which each item is a message or the
``InvalidMessage`` for that element (not raised, so the valid ones can still be served). ``to_dict``
turns a message back into the JSON-ready dict. ``IdAllocator`` hands out request ids.

Rules applied (JSON-RPC 2.0, with MCP's stricter reading where the spec allows it): ``jsonrpc`` must
be ``"2.0"``; ids are strings or integers (not booleans, not fractional numbers; null only on an
error response whose request id could not be determined); ``method`` is a string; ``params``, when
present, is an object or an array (a null ``params`` is read as absent, as common peers send it); a
response has exactly one of ``result`` and ``error``; ``error`` has an integer ``code`` and a string
``message``. Unknown members are ignored.

Errors: ``InvalidMessage`` is a ``claw.errors.NetworkError`` with ``kind="protocol"`` (the peer broke
the protocol) and a ``ValueError``; the MCP layer may re-raise it with its own failure class.

What it deliberately does not do: no I/O, no JSON text parsing (callers hand in decoded values; a
text that is not JSON is their -32700 ``PARSE_ERROR``), no method dispatch, no request/response
matching beyond the ids it hands out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Union

from claw.errors import NetworkError

__all__ = [
    "ErrorResponse",
    "IdAllocator",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "InvalidMessage",
    "Message",
    "METHOD_NOT_FOUND",
    "Notification",
    "PARSE_ERROR",
    "Request",
    "Response",
    "parse",
    "parse_message",
    "to_dict",
]

VERSION = "2.0"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# -32000 to -32099 are reserved for implementation-defined server errors.
SERVER_ERROR_MIN = -32099
SERVER_ERROR_MAX = -32000

ERROR_MESSAGES = {
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
    INTERNAL_ERROR: "Internal error",
}

Id = Union[int, str]
Params = Union[Dict[str, Any], List[Any], None]


@dataclass(frozen=True)
class Request:
    """A call that expects an answer with the same ``id``."""

    id: Id
    method: str
    params: Params = None


@dataclass(frozen=True)
class Notification:
    """A call without an id: no answer is sent."""

    method: str
    params: Params = None


@dataclass(frozen=True)
class Response:
    """A successful answer; ``result`` is any JSON value, null included."""

    id: Id
    result: Any


@dataclass(frozen=True)
class ErrorResponse:
    """A failed answer. ``id`` is None when the request's id could not be determined. ``data`` is
    omitted from the wire form when None."""

    id: Optional[Id]
    code: int
    message: str
    data: Any = None


Message = Union[Request, Notification, Response, ErrorResponse]


class InvalidMessage(NetworkError, ValueError):
    """A value that is not a valid JSON-RPC 2.0 message. ``id`` is the message's id when it was
    readable (else None) and ``code`` the JSON-RPC error code to answer with."""

    kind = "protocol"

    def __init__(self, message: str, *, id: Id | None = None, code: int = INVALID_REQUEST) -> None:
        super().__init__(f"invalid JSON-RPC message: {message}")
        self.reason = message
        self.id = id
        self.code = code

    def to_response(self) -> ErrorResponse:
        """The error answer a server sends back for this message."""
        return ErrorResponse(self.id, self.code, ERROR_MESSAGES.get(self.code, "Invalid Request"), self.reason)


def _valid_id(value: Any) -> bool:
    return (type(value) is int) or isinstance(value, str)


def _readable_id(obj: dict) -> Id | None:
    value = obj.get("id")
    return value if _valid_id(value) else None


def parse_message(obj: Any) -> Message:
    """Validate one decoded JSON value as a JSON-RPC 2.0 message; raise ``InvalidMessage`` if it is
    not one."""
    if not isinstance(obj, dict):
        raise InvalidMessage(f"expected an object, got {_json_type(obj)}")
    if obj.get("jsonrpc") != VERSION:
        raise InvalidMessage('"jsonrpc" must be "2.0"', id=_readable_id(obj))
    if "method" in obj:
        method = obj["method"]
        has_id = "id" in obj
        msg_id = obj.get("id")
        if has_id and not _valid_id(msg_id):
            raise InvalidMessage('"id" must be a string or an integer')
        if not isinstance(method, str):
            raise InvalidMessage('"method" must be a string', id=msg_id)
        params = obj.get("params")
        if params is not None and not isinstance(params, (dict, list)):
            raise InvalidMessage('"params" must be an object or an array', id=msg_id)
        if has_id:
            return Request(msg_id, method, params)
        return Notification(method, params)
    if "id" not in obj:
        raise InvalidMessage('a message needs "method" or "id"')
    msg_id = obj["id"]
    has_result = "result" in obj
    has_error = "error" in obj
    if has_result == has_error:
        raise InvalidMessage('a response needs exactly one of "result" and "error"', id=_readable_id(obj))
    if has_result:
        if not _valid_id(msg_id):
            raise InvalidMessage('"id" must be a string or an integer')
        return Response(msg_id, obj["result"])
    if msg_id is not None and not _valid_id(msg_id):
        raise InvalidMessage('"id" must be a string, an integer or null')
    error = obj["error"]
    if not isinstance(error, dict):
        raise InvalidMessage('"error" must be an object', id=msg_id)
    code = error.get("code")
    message = error.get("message")
    if type(code) is not int:
        raise InvalidMessage('"error.code" must be an integer', id=msg_id)
    if not isinstance(message, str):
        raise InvalidMessage('"error.message" must be a string', id=msg_id)
    return ErrorResponse(msg_id, code, message, error.get("data"))


def parse(obj: Any) -> Message | list[Message | InvalidMessage]:
    """``parse_message`` for a single message; for a batch (a non-empty array), a list with one
    item per element: the message, or the ``InvalidMessage`` describing why it is not one."""
    if isinstance(obj, list):
        if not obj:
            raise InvalidMessage("empty batch")
        items: list[Message | InvalidMessage] = []
        for element in obj:
            try:
                items.append(parse_message(element))
            except InvalidMessage as exc:
                items.append(exc)
        return items
    return parse_message(obj)


def to_dict(msg: Message) -> dict[str, Any]:
    """The JSON-ready dict for a message (``params`` and ``error.data`` omitted when None)."""
    if isinstance(msg, Request):
        out: dict[str, Any] = {"jsonrpc": VERSION, "id": msg.id, "method": msg.method}
        if msg.params is not None:
            out["params"] = msg.params
        return out
    if isinstance(msg, Notification):
        out = {"jsonrpc": VERSION, "method": msg.method}
        if msg.params is not None:
            out["params"] = msg.params
        return out
    if isinstance(msg, Response):
        return {"jsonrpc": VERSION, "id": msg.id, "result": msg.result}
    if isinstance(msg, ErrorResponse):
        error: dict[str, Any] = {"code": msg.code, "message": msg.message}
        if msg.data is not None:
            error["data"] = msg.data
        return {"jsonrpc": VERSION, "id": msg.id, "error": error}
    raise TypeError(f"not a JSON-RPC message: {type(msg).__name__}")


class IdAllocator:
    """Request ids: increasing integers from ``start``, never reused within one allocator."""

    def __init__(self, start: int = 1) -> None:
        self._next = start

    def next(self) -> int:
        value = self._next
        self._next = value + 1
        return value

    __call__ = next

    def __iter__(self) -> IdAllocator:
        return self

    def __next__(self) -> int:
        return self.next()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
