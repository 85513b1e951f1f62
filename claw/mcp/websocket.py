"""The WebSocket transport: one JSON-RPC message per text frame, subprotocol ``mcp``.

Opened with ``claw.net.ws.connect_websocket`` (so ``ws://``/``wss://`` go through the configured
proxy as a CONNECT tunnel and trust the configured CAs), offering the ``mcp`` subprotocol and the
configured headers. A server that picks no subprotocol is accepted (noted in the diagnostics); one
that picks another is refused. Binary frames are read as UTF-8 JSON too. A refused handshake with
401 is ``mcp_needs_auth``; the socket closing ends the session (``on_closed``).
"""

from __future__ import annotations

import asyncio
from typing import Any, Mapping, Optional

from claw.errors import NetworkError
from claw.mcp.transport import NetworkTransport, mcp_error, stop_reader

SUBPROTOCOL = "mcp"


class WebSocketTransport(NetworkTransport):
    kind = "ws"

    def __init__(self, url: str, headers: Mapping[str, str], net_config: Any, *,
                 connect_timeout: Optional[float] = None) -> None:
        super().__init__(url, headers, net_config)
        self.connect_timeout = connect_timeout
        self._ws: Any = None
        self._reader: Optional["asyncio.Task[None]"] = None
        self._closed = False

    def describe(self) -> str:
        return f"{self.url.scheme}://{self.url.host_header}{self.url.target}"

    async def start(self) -> None:
        from claw.net.ws import connect_websocket

        try:
            self._ws = await connect_websocket(self.url, self.net_config, subprotocols=(SUBPROTOCOL,),
                                               headers=self.headers, connect_timeout=self.connect_timeout)
        except NetworkError as exc:
            if exc.status == 401:
                from claw.mcp.streamable_http import status_error

                raise status_error(401, self.describe(), b"") from None
            raise mcp_error(f"cannot open {self.describe()}: {exc.message}", "mcp_http", hint=exc.hint,
                            status=exc.status) from None
        if self._ws.subprotocol is None:
            self.diagnostics.note("[claw] the server accepted the WebSocket without the 'mcp' subprotocol")
        elif self._ws.subprotocol != SUBPROTOCOL:
            chosen = self._ws.subprotocol
            await self._ws.aclose(1002, "mcp subprotocol required")
            raise mcp_error(f"{self.describe()} chose the WebSocket subprotocol {chosen!r}, not 'mcp'",
                            "mcp_protocol")
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        reason = "the server closed the WebSocket"
        try:
            while True:
                self._deliver_json(await self._ws.recv())
        except asyncio.CancelledError:
            raise
        except NetworkError as exc:
            reason = exc.message
        except Exception as exc:  # noqa: BLE001
            reason = f"the WebSocket failed: {exc}"
        if not self._closed:
            self.on_closed(mcp_error(reason, "mcp_closed", retryable=True))

    async def send(self, message: dict) -> None:
        from claw.proto.ndjson import encode_line

        if self._closed or self._ws is None:
            raise mcp_error("the WebSocket is closed", "mcp_closed")
        try:
            await self._ws.send_text(encode_line(message)[:-1].decode("utf-8"))
        except NetworkError as exc:
            raise mcp_error(f"cannot send to {self.describe()}: {exc.message}", "mcp_closed") from None

    async def close(self, graceful: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        await stop_reader(self._reader)
        if self._ws is not None:
            try:
                await asyncio.wait_for(self._ws.aclose(), 3.0)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001
                pass
