"""Control requests between claw and its embedding host, matched by ``request_id`` in both directions.

Requests claw sends (``can_use_tool``, ``hook_callback``, ``mcp_message``) go out through
``ControlChannel.request``, which waits for the host's ``control_response`` with the same id. A
``success`` response returns its ``response`` object; an ``error`` response, a timeout, or the host
closing its input (``close``) raise ``ClawError`` (kind ``host_error`` / ``host_timeout`` /
``host_closed``) so no caller ever waits forever. A caller cancelled while waiting (an interrupt)
tells the host with ``control_cancel_request``.

Responses to the host's own requests are written with ``respond`` / ``respond_error`` in the shapes
the Claude Agent SDK reads: ``{"type": "control_response", "response": {"subtype": "success",
"request_id": ..., "response": {...}}}`` or ``{"subtype": "error", "request_id": ..., "error": "..."}``.

Deliberately not here: what any request means (claw.cli.stream_json), and I/O (the transport).
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, Optional

from claw.errors import ClawError
from claw.ids import uuid4


class ControlChannel:
    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self._pending: Dict[str, "asyncio.Future[Dict[str, Any]]"] = {}
        self.closed_reason: Optional[str] = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def request(self, subtype: str, fields: Optional[Dict[str, Any]] = None, *,
                      timeout: Optional[float] = None) -> Dict[str, Any]:
        """Send ``{"subtype": subtype, **fields}`` to the host and return its answer's ``response``."""
        if self.closed_reason is not None:
            raise ClawError(f"cannot ask the host ({subtype}): {self.closed_reason}", kind="host_closed",
                            hint="keep stdin open until the last result has arrived")
        request_id = uuid4()
        future: "asyncio.Future[Dict[str, Any]]" = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        body: Dict[str, Any] = {"subtype": subtype}
        body.update(fields or {})
        self.transport.write_nowait({"type": "control_request", "request_id": request_id, "request": body})
        try:
            if timeout is None:
                return await future
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            self._cancel_remote(request_id)
            raise ClawError(f"the host did not answer {subtype} within {timeout:g}s", kind="host_timeout",
                            hint="the host must answer every control_request with a control_response") from None
        except asyncio.CancelledError:
            if not future.done() or future.cancelled():  # awaiting cancels the future along with us
                self._cancel_remote(request_id)
            raise
        finally:
            self._pending.pop(request_id, None)

    def _cancel_remote(self, request_id: str) -> None:
        self.transport.write_nowait({"type": "control_cancel_request", "request_id": request_id})

    def handle_response(self, message: Dict[str, Any]) -> bool:
        """Deliver a ``control_response`` from the host; False when no request is waiting for it."""
        response = message.get("response")
        if not isinstance(response, dict):
            return False
        future = self._pending.get(str(response.get("request_id")))
        if future is None or future.done():
            return False
        if response.get("subtype") == "error":
            text = response.get("error") or "no reason given"
            future.set_exception(ClawError(f"the host answered with an error: {text}", kind="host_error"))
        else:
            payload = response.get("response")
            future.set_result(payload if isinstance(payload, dict) else {})
        return True

    def close(self, reason: str) -> None:
        """The host can no longer answer: fail every waiting request now, and any later one at once."""
        self.closed_reason = reason
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(ClawError(f"no answer from the host: {reason}", kind="host_closed"))

    # -- answering the host's requests -----------------------------------------------------------

    def respond(self, request_id: Any, response: Optional[Dict[str, Any]] = None) -> None:
        self.transport.write_nowait({"type": "control_response", "response": {
            "subtype": "success", "request_id": request_id, "response": response or {}}})

    def respond_error(self, request_id: Any, error: str, *, code: Optional[str] = None) -> None:
        body: Dict[str, Any] = {"subtype": "error", "request_id": request_id, "error": error}
        if code:
            body["error_code"] = code
        self.transport.write_nowait({"type": "control_response", "response": body})
