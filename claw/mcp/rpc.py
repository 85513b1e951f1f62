"""JSON-RPC 2.0 over one MCP transport: requests with timeouts, cancellation and progress; server
requests and notifications dispatched.

``RpcSession.request(method, params, timeout=..., on_progress=...)`` sends a request and returns its
``result`` or raises:

- ``RpcError`` (a ``ToolFailure``, kind ``mcp_error``, with the JSON-RPC ``code`` and ``data``) when
  the server answered with an error;
- an ``mcp_timeout`` error when no answer came within ``timeout`` seconds. A progress notification
  for the request restarts the clock (the spec allows it; a long tool that reports progress is alive);
- the transport's error when the channel closed or the request could not be delivered.

When the waiting task is cancelled (the user interrupted) or times out, the server is told with
``notifications/cancelled`` (never for ``initialize``, as the spec requires) and the transport drops
what carries the request. ``on_progress(progress, total, message)`` receives the request's
``notifications/progress`` (a ``progressToken`` is added to ``params._meta``).

Server-to-client requests: ``ping`` is answered here with ``{}``; anything else goes to the
``request_handler`` given by the client (which raises ``RpcError(METHOD_NOT_FOUND)`` for methods it
does not serve); a handler failure is answered with an error, never left unanswered. A server's
``notifications/cancelled`` stops the matching handler. Other notifications go to
``notification_handler``.

Malformed input (not JSON-RPC, an answer to an unknown id) is noted in the transport's
diagnostics and otherwise ignored: one bad message never ends the session, and never affects
another server.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Optional, Set

from claw.errors import ToolFailure
from claw.mcp.transport import Transport, mcp_error
from claw.proto.jsonrpc import (INTERNAL_ERROR, METHOD_NOT_FOUND, ErrorResponse, IdAllocator, InvalidMessage,
                                Notification, Request, Response, parse_message, to_dict)

ProgressCallback = Callable[[float, Optional[float], Optional[str]], None]
RequestHandler = Callable[[str, Any], Awaitable[Any]]
NotificationHandler = Callable[[str, Any], None]


class RpcError(ToolFailure):
    """The server answered a request with a JSON-RPC error."""

    kind = "mcp_error"

    def __init__(self, code: int, message: str, data: Any = None, *, method: str = "") -> None:
        where = f"{method}: " if method else ""
        super().__init__(f"{where}{message} (JSON-RPC error {code})")
        self.code = code
        self.error_message = message
        self.data = data


@dataclass
class _Pending:
    """A request waiting for its response."""

    future: "asyncio.Future[Any]"
    method: str
    on_progress: Optional[ProgressCallback]
    last_activity: float


class RpcSession:
    def __init__(self, transport: Transport, *, request_handler: Optional[RequestHandler] = None,
                 notification_handler: Optional[NotificationHandler] = None) -> None:
        self.transport = transport
        self._request_handler = request_handler
        self._notification_handler = notification_handler
        self._ids = IdAllocator()
        self._pending: Dict[int, _Pending] = {}
        self._serving: Dict[Any, "asyncio.Task[None]"] = {}
        self._background: Set["asyncio.Future[Any]"] = set()
        self.closed_error: Optional[ToolFailure] = None
        transport.on_message = self._on_message
        transport.on_closed = self._on_closed
        transport.on_request_failed = self._on_request_failed

    # -- outgoing ---------------------------------------------------------------------------------

    async def request(self, method: str, params: Optional[Dict[str, Any]] = None, *,
                      timeout: Optional[float] = None, on_progress: Optional[ProgressCallback] = None,
                      cancellable: bool = True) -> Any:
        if self.closed_error is not None:
            raise self.closed_error
        loop = asyncio.get_running_loop()
        request_id = self._ids.next()
        pending = _Pending(loop.create_future(), method, on_progress, loop.time())
        self._pending[request_id] = pending
        message: Dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if on_progress is not None:
            params = dict(params or {})
            meta = dict(params.get("_meta") or {})
            meta["progressToken"] = request_id
            params["_meta"] = meta
        if params is not None:
            message["params"] = params
        try:
            await self.transport.send(message)
            return await self._wait(request_id, pending, timeout, cancellable)
        except asyncio.CancelledError:
            if cancellable and request_id in self._pending:
                self._cancel_remote(request_id, "The user interrupted the request")
            raise
        finally:
            self._pending.pop(request_id, None)

    async def notify(self, method: str, params: Optional[Dict[str, Any]] = None) -> None:
        if self.closed_error is not None:
            raise self.closed_error
        message: Dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self.transport.send(message)

    async def _wait(self, request_id: int, pending: _Pending, timeout: Optional[float],
                    cancellable: bool) -> Any:
        if timeout is None:
            return await pending.future
        loop = asyncio.get_running_loop()
        while True:
            remaining = pending.last_activity + timeout - loop.time()
            if remaining <= 0:
                if cancellable:
                    self._cancel_remote(request_id, f"No answer within {timeout:g}s")
                self._pending.pop(request_id, None)
                raise mcp_error(f"{pending.method}: no answer within {timeout:g}s", "mcp_timeout",
                                hint="the server may be stuck; raise the server's \"timeout\" (seconds) "
                                     "in its config, or MCP_TOOL_TIMEOUT (milliseconds)", retryable=True)
            try:
                return await asyncio.wait_for(asyncio.shield(pending.future), remaining)
            except asyncio.TimeoutError:
                continue

    def _cancel_remote(self, request_id: int, reason: str) -> None:
        self._pending.pop(request_id, None)
        self.transport.abandon(request_id)
        if self.closed_error is not None:
            return

        async def tell() -> None:
            try:
                await asyncio.wait_for(self.notify("notifications/cancelled",
                                                   {"requestId": request_id, "reason": reason}), 5.0)
            except (Exception, asyncio.CancelledError):  # the server may be gone; nothing to do
                pass

        self._spawn(tell())

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- incoming ---------------------------------------------------------------------------------

    def _on_message(self, value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                self._dispatch(item)
        else:
            self._dispatch(value)

    def _dispatch(self, value: Any) -> None:
        try:
            message = parse_message(value)
        except InvalidMessage as exc:
            self.transport.diagnostics.note(f"[claw] ignored a malformed message: {exc.reason}")
            if exc.id is not None and isinstance(value, dict) and "method" in value:
                self._spawn(self._send_quietly(to_dict(exc.to_response())))
            return
        if isinstance(message, (Response, ErrorResponse)):
            self._answer(message)
        elif isinstance(message, Request):
            self._serving[message.id] = asyncio.ensure_future(self._serve(message))
        elif isinstance(message, Notification):
            self._notification(message)

    def _answer(self, message: Any) -> None:
        key = message.id
        if isinstance(key, str) and key.isdigit():
            key = int(key)
        pending = self._pending.get(key) if key is not None else None
        if pending is None:
            if isinstance(message, ErrorResponse) and message.id is None:
                self.transport.diagnostics.note(f"[claw] server error without a request id: {message.message}")
            else:
                self.transport.diagnostics.note(f"[claw] ignored an answer to unknown request id {message.id!r}")
            return
        if pending.future.done():
            return
        if isinstance(message, Response):
            pending.future.set_result(message.result)
        else:
            pending.future.set_exception(RpcError(message.code, message.message, message.data,
                                                  method=pending.method))

    def _notification(self, message: Notification) -> None:
        params = message.params if isinstance(message.params, dict) else {}
        if message.method == "notifications/progress":
            token = params.get("progressToken")
            if isinstance(token, str) and token.isdigit():
                token = int(token)
            pending = self._pending.get(token) if isinstance(token, int) else None
            if pending is None:
                return
            pending.last_activity = asyncio.get_running_loop().time()
            if pending.on_progress is not None:
                progress = params.get("progress")
                total = params.get("total")
                text = params.get("message")
                try:
                    pending.on_progress(
                        float(progress) if isinstance(progress, (int, float)) else 0.0,
                        float(total) if isinstance(total, (int, float)) else None,
                        text if isinstance(text, str) else None,
                    )
                except Exception:  # a display callback must not break the session
                    pass
            return
        if message.method == "notifications/cancelled":
            task = self._serving.get(params.get("requestId"))
            if task is not None:
                task.cancel()
            return
        if self._notification_handler is not None:
            try:
                self._notification_handler(message.method, message.params)
            except Exception as exc:  # noqa: BLE001 - isolate handler bugs
                self.transport.diagnostics.note(f"[claw] {message.method} handler failed: {exc}")

    async def _serve(self, request: Request) -> None:
        try:
            if request.method == "ping":
                result: Any = {}
            elif self._request_handler is None:
                raise RpcError(METHOD_NOT_FOUND, f"Method not found: {request.method}")
            else:
                result = await self._request_handler(request.method, request.params)
            reply: Dict[str, Any] = to_dict(Response(request.id, result))
        except asyncio.CancelledError:
            self._serving.pop(request.id, None)
            return
        except RpcError as exc:
            reply = to_dict(ErrorResponse(request.id, exc.code, exc.error_message, exc.data))
        except Exception as exc:  # noqa: BLE001 - always answer
            reply = to_dict(ErrorResponse(request.id, INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"))
        self._serving.pop(request.id, None)
        await self._send_quietly(reply)

    async def _send_quietly(self, message: Dict[str, Any]) -> None:
        try:
            await self.transport.send(message)
        except Exception as exc:  # noqa: BLE001 - the channel may be gone
            self.transport.diagnostics.note(f"[claw] could not send a reply: {exc}")

    def _on_request_failed(self, request_id: Any, error: ToolFailure) -> None:
        pending = self._pending.get(request_id)
        if pending is not None and not pending.future.done():
            pending.future.set_exception(error)

    def _on_closed(self, error: ToolFailure) -> None:
        if self.closed_error is None:
            self.closed_error = error
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(error)
        for task in list(self._serving.values()):
            task.cancel()

    async def aclose(self) -> None:
        for task in list(self._serving.values()) + list(self._background):
            task.cancel()
        self._serving.clear()
