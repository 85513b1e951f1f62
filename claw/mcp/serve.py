"""``claw mcp serve``: claw's own tools offered to an MCP client over stdio.

``ToolServer(tools, context=..., decide=..., listed=...)`` answers newline-delimited JSON-RPC on
stdin/stdout: ``initialize`` (it echoes the client's protocol version when it is one claw speaks,
else offers ``LATEST_VERSION``; capability ``tools``), ``ping``, ``tools/list`` (one page: the tools
``listed`` admits, with ``readOnlyHint``/``destructiveHint`` annotations from their permission level),
``tools/call`` (input validated, then ``decide`` — the caller's permission policy — then the tool
runs; a refusal or a tool failure is a result with ``isError: true``; an unknown tool is JSON-RPC
error -32602), ``notifications/cancelled`` (cancels that call's task: bash stops its process group)
and ``logging/setLevel`` (accepted). Anything else is -32601, a line that is not JSON -32700.
Requests run concurrently; answers go out as they complete.

The host (the MCP client) is expected to ask its user before calling a tool; claw still applies its
own policy so that an unattended host cannot do more than the mode allows. Which mode is the CLI's
decision (see docs/MCP.md).

stdout carries only protocol messages: while serving, ``sys.stdout`` points at stderr, so a stray
print cannot corrupt the stream. The server stops at end of input.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from claw.mcp.client import LATEST_VERSION, SUPPORTED_VERSIONS
from claw.proto.jsonrpc import (INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND, PARSE_ERROR, ErrorResponse,
                                InvalidMessage, Notification, Request, Response, parse_message, to_dict)

# (tool, input, resolved target paths) -> (denial reason or None, the resolved paths the tool acts on)
Decide = Callable[[Any, Dict[str, Any], List[Any]], Tuple[Optional[str], Sequence[Any]]]


class ToolServer:
    def __init__(self, tools: Mapping[str, Any], *, context: Any, decide: Decide,
                 listed: Optional[Callable[[Any], bool]] = None, name: str = "claw",
                 instructions: Optional[str] = None) -> None:
        self.tools = dict(tools)
        self.context = context
        self.decide = decide
        self.listed = listed or (lambda tool: True)
        self.name = name
        self.instructions = instructions
        self.initialized = False
        self.client_info: Dict[str, Any] = {}
        self._running: Dict[Any, "asyncio.Task[None]"] = {}

    # -- the protocol ---------------------------------------------------------------------------

    async def handle(self, value: Any) -> Optional[Dict[str, Any]]:
        """One decoded message; the answer to send (None for notifications)."""
        try:
            message = parse_message(value)
        except InvalidMessage as exc:
            return to_dict(exc.to_response())
        if isinstance(message, Notification):
            self._notification(message)
            return None
        if not isinstance(message, Request):
            return None  # a response: claw sends no requests to its client
        try:
            result = await self._request(message)
            return to_dict(Response(message.id, result))
        except _Error as exc:
            return to_dict(ErrorResponse(message.id, exc.code, exc.message))
        except Exception as exc:  # noqa: BLE001 - always answer
            return to_dict(ErrorResponse(message.id, INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"))

    def _notification(self, message: Notification) -> None:
        params = message.params if isinstance(message.params, dict) else {}
        if message.method == "notifications/initialized":
            self.initialized = True
        elif message.method == "notifications/cancelled":
            task = self._running.get(params.get("requestId"))
            if task is not None:
                task.cancel()

    async def _request(self, request: Request) -> Any:
        params = request.params if isinstance(request.params, dict) else {}
        method = request.method
        if method == "initialize":
            return self._initialize(params)
        if method == "ping":
            return {}
        if method == "tools/list":
            return {"tools": [describe_tool(t) for t in self.tools.values() if self.listed(t)]}
        if method == "tools/call":
            return await self._call(params)
        if method == "logging/setLevel":
            return {}
        raise _Error(METHOD_NOT_FOUND, f"Method not found: {method}")

    def _initialize(self, params: Mapping[str, Any]) -> Dict[str, Any]:
        from claw import __version__

        asked = params.get("protocolVersion")
        info = params.get("clientInfo")
        self.client_info = dict(info) if isinstance(info, dict) else {}
        result: Dict[str, Any] = {
            "protocolVersion": asked if asked in SUPPORTED_VERSIONS else LATEST_VERSION,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": self.name, "version": __version__},
        }
        if self.instructions:
            result["instructions"] = self.instructions
        return result

    async def _call(self, params: Mapping[str, Any]) -> Dict[str, Any]:
        name = params.get("name")
        tool = self.tools.get(name) if isinstance(name, str) else None
        if tool is None or not self.listed(tool):
            raise _Error(INVALID_PARAMS, f"Unknown tool: {name!r}")
        arguments = params.get("arguments")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            return _result("Tool arguments must be a JSON object.", True)
        try:
            clean = tool.validate(arguments)
        except Exception as exc:  # ToolInputError and anything a validator raises
            return _result(f"Invalid input for {name}: {getattr(exc, 'message', exc)}", True)
        try:  # resolved once: the policy checks these paths and the tool acts on exactly them
            getter = getattr(tool, "target_paths", None)
            targets = list(getter(clean, cwd=getattr(self.context, "cwd", None))) if getter else []
            denial, approved = self.decide(tool, clean, targets)
        except Exception as exc:  # a path that vanished or changed while it was resolved
            return _result(f"{name} was not run: its path could not be checked ({exc}). Nothing was done.", True)
        if denial is not None:
            return _result(f"Permission denied: {denial}", True)
        try:
            outcome = await tool.run(clean, self.context.for_approved(approved))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a tool bug is the caller's error result
            return _result(f"{name} failed: {type(exc).__name__}: {exc}", True)
        content = outcome.content if isinstance(outcome.content, str) else str(outcome.content)
        return _result(content, bool(outcome.is_error))

    # -- stdio -----------------------------------------------------------------------------------

    async def serve_stdio(self, stdin: Any = None, stdout: Any = None) -> None:
        """Serve until end of input. ``stdin``/``stdout`` are binary file objects (default: the
        process's own)."""
        from claw.proto.ndjson import NDJSONDecoder, NDJSONError, encode_line

        out = stdout if stdout is not None else sys.stdout.buffer
        saved = sys.stdout
        sys.stdout = sys.stderr  # nothing but protocol messages on the real stdout

        def write(message: Dict[str, Any]) -> None:
            out.write(encode_line(message))
            out.flush()

        decoder = NDJSONDecoder()
        try:
            async for chunk in _read_chunks(stdin if stdin is not None else sys.stdin.buffer):
                data = chunk
                while True:
                    try:
                        values = decoder.feed(data)
                    except NDJSONError as exc:
                        for value in exc.values:
                            self._dispatch(value, write)
                        write(to_dict(ErrorResponse(None, PARSE_ERROR, "Parse error", exc.message)))
                        data = b""
                        continue
                    for value in values:
                        self._dispatch(value, write)
                    break
            running = list(self._running.values())
            if running:
                await asyncio.wait(running, timeout=5.0)
        finally:
            for task in list(self._running.values()):
                task.cancel()
            sys.stdout = saved

    def _dispatch(self, value: Any, write: Callable[[Dict[str, Any]], None]) -> None:
        request_id = value.get("id") if isinstance(value, dict) and "method" in value else None

        async def run() -> None:
            try:
                answer = await self.handle(value)
            except asyncio.CancelledError:
                # the client cancelled: the spec says send no answer
                self._running.pop(request_id, None)
                return
            self._running.pop(request_id, None)
            if answer is not None:
                try:
                    write(answer)
                except (BrokenPipeError, OSError):
                    pass

        task = asyncio.ensure_future(run())
        if request_id is not None:
            self._running[request_id] = task


class _Error(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _result(text: str, is_error: bool) -> Dict[str, Any]:
    result: Dict[str, Any] = {"content": [{"type": "text", "text": text}]}
    if is_error:
        result["isError"] = True
    return result


def describe_tool(tool: Any) -> Dict[str, Any]:
    """A claw tool as an MCP ``Tool`` definition."""
    from claw.tools.base import PermissionLevel

    spec = tool.spec
    level = PermissionLevel(spec.permission)
    annotations: Dict[str, Any] = {"readOnlyHint": level == PermissionLevel.READ_ONLY}
    if level != PermissionLevel.READ_ONLY:
        annotations["destructiveHint"] = True
    if spec.name in ("web_fetch", "web_search"):
        annotations["openWorldHint"] = True
    return {"name": spec.name, "description": spec.description, "inputSchema": spec.input_schema,
            "annotations": annotations}


async def _read_chunks(stream: Any):
    """Chunks of a binary input stream, without blocking the event loop: a pipe is read through
    the loop; anything else (a file, a terminal) in a worker thread."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2 ** 24)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stream)
    except (ValueError, OSError):
        fd = stream.fileno()
        while True:
            data = await loop.run_in_executor(None, os.read, fd, 65536)
            if not data:
                return
            yield data
    while True:
        data = await reader.read(65536)
        if not data:
            return
        yield data

