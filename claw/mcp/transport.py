"""What every MCP transport does, and the small shared pieces: errors, diagnostics, JSON decoding.

A ``Transport`` moves decoded JSON-RPC messages between claw and one server. The session layer
(``claw.mcp.rpc``) sets three callbacks before ``start()``:

- ``on_message(value)``: a decoded JSON value from the server (an object, or an array for a batch);
- ``on_closed(error)``: the channel is gone for good (process exit, stream end, socket close);
- ``on_request_failed(request_id, error)``: a request that was sent could not get its answer through
  this transport (an HTTP POST refused, an SSE response stream cut): only that request fails.

``send(message)`` takes a JSON-ready dict. ``close()`` is bounded and never raises.

Errors are ``claw.errors.ToolFailure`` with an MCP ``kind`` (``mcp_start``, ``mcp_closed``,
``mcp_http``, ``mcp_needs_auth``, ``mcp_session_expired``, ``mcp_protocol``, ``mcp_timeout``);
``status`` carries an HTTP status when there was one. ``Diagnostics`` keeps the last lines a server
wrote to stderr and the protocol oddities seen, bounded, for ``claw mcp get`` and failure messages.

Deliberately not here: request ids, matching, timeouts (rpc), the handshake (client).
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Deque, List, Mapping, Optional, Tuple

from claw.errors import ToolFailure

MAX_DIAGNOSTIC_LINES = 200
MAX_DIAGNOSTIC_LINE = 1000


def mcp_error(message: str, kind: str, *, hint: Optional[str] = None, status: Optional[int] = None,
              retryable: bool = False) -> ToolFailure:
    """The one error type of MCP failures (a ``ToolFailure`` with an ``mcp_*`` kind)."""
    return ToolFailure(message, kind=kind, hint=hint, status=status, retryable=retryable)


class Diagnostics:
    """A bounded ring of recent lines: a server's stderr and notes about its protocol errors."""

    def __init__(self, max_lines: int = MAX_DIAGNOSTIC_LINES) -> None:
        self.lines: Deque[str] = collections.deque(maxlen=max_lines)
        self._partial = ""

    def note(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if len(line) > MAX_DIAGNOSTIC_LINE:
            line = line[:MAX_DIAGNOSTIC_LINE] + "..."
        self.lines.append(line)

    def feed_stderr(self, data: bytes) -> None:
        """Add raw stderr bytes; complete lines become entries (a long partial line is cut)."""
        text = self._partial + data.decode("utf-8", "replace")
        parts = text.split("\n")
        self._partial = parts.pop()
        if len(self._partial) > MAX_DIAGNOSTIC_LINE:
            self.note(self._partial)
            self._partial = ""
        for part in parts:
            if part.strip():
                self.note(part)

    def flush(self) -> None:
        if self._partial.strip():
            self.note(self._partial)
        self._partial = ""

    def tail(self, count: int = 5) -> str:
        lines = list(self.lines)[-count:]
        return " | ".join(line.strip() for line in lines if line.strip())

    def text(self) -> str:
        return "\n".join(self.lines)


def _ignore(*_: Any) -> None:
    return None


async def stop_reader(task: Any) -> None:
    """Cancel a transport's background reader task and wait for it to end, whatever it raises."""
    if task is None:
        return
    import asyncio

    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass


class Transport:
    """Base class; see the module docstring."""

    kind = "?"

    def __init__(self) -> None:
        self.on_message: Callable[[Any], None] = _ignore
        self.on_closed: Callable[[ToolFailure], None] = _ignore
        self.on_request_failed: Callable[[Any, ToolFailure], None] = _ignore
        self.diagnostics = Diagnostics()
        self.protocol_version: Optional[str] = None  # set by the session once negotiated

    async def start(self) -> None:
        raise NotImplementedError

    async def send(self, message: dict) -> None:
        raise NotImplementedError

    def abandon(self, request_id: Any) -> None:
        """The session gave up on ``request_id`` (timeout, cancellation): drop what carries it."""

    async def after_initialized(self) -> None:
        """Called once the handshake is complete (HTTP opens its server-message stream here)."""

    async def close(self, graceful: bool = True) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return self.kind


def decode_json(data: "bytes | str") -> Any:
    """``json.loads`` that raises an ``mcp_protocol`` error with an excerpt instead of ValueError."""
    import json

    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        text = data if isinstance(data, str) else data[:200].decode("utf-8", "replace")
        excerpt = text.strip()[:80]
        raise mcp_error(f"not JSON ({exc.__class__.__name__}): {excerpt!r}", "mcp_protocol") from None


def encode_json(message: Any) -> bytes:
    """Compact UTF-8 JSON, one line (the NDJSON encoder, without its newline)."""
    from claw.proto.ndjson import encode_line

    return encode_line(message)[:-1]


class NetworkTransport(Transport):
    """Base of the transports that reach a server by URL (streamable HTTP, legacy SSE, WebSocket):
    the parsed URL, the configured headers and the network config every connection goes through."""

    def __init__(self, url: str, headers: Mapping[str, str], net_config: Any) -> None:
        super().__init__()
        from claw.net.url import parse_url

        try:
            self.url = parse_url(url)
        except ValueError as exc:
            raise mcp_error(f"bad URL {url!r}: {exc}", "mcp_start") from None
        self.headers: List[Tuple[str, str]] = [(str(k), str(v)) for k, v in headers.items()]
        self.net_config = net_config

    def describe(self) -> str:
        return f"{self.url.origin}{self.url.target}"

    def _deliver_json(self, data: "str | bytes") -> None:
        """Decode one message and hand it to ``on_message``; a message that does not decode, or whose
        handling fails, is noted in the diagnostics and dropped."""
        try:
            value = decode_json(data)
        except Exception as exc:  # noqa: BLE001
            self.diagnostics.note(f"[claw] ignored a message that is {getattr(exc, 'message', exc)}")
            return
        try:
            self.on_message(value)
        except Exception as exc:  # noqa: BLE001
            self.diagnostics.note(f"[claw] message handling failed: {exc}")
