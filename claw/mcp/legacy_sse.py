"""The legacy HTTP+SSE transport (MCP 2024-11-05), still served by many deployed servers.

``start()`` GETs the SSE URL (``Accept: text/event-stream`` plus the configured headers) and waits,
bounded, for the ``endpoint`` event, whose data is the URL to POST messages to (resolved against the
SSE URL; it must stay on the same origin, so a server cannot send claw's headers elsewhere). Every
message is then POSTed there (``202 Accepted`` expected); everything the server sends — responses,
requests, notifications — arrives as ``message`` events on the one SSE stream. When that stream ends,
the session is over (``on_closed``).

Chosen with ``"type": "sse"``, or by the client when a streamable-HTTP ``initialize`` POST gets a 4xx.
Statuses are reported as in ``claw.mcp.streamable_http`` (401: needs authentication).
"""

from __future__ import annotations

import asyncio
from typing import Any, Mapping, Optional

from claw.errors import NetworkError
from claw.mcp.streamable_http import STREAM_READ_TIMEOUT, status_error
from claw.mcp.transport import NetworkTransport, encode_json, mcp_error, stop_reader

ENDPOINT_TIMEOUT = 10.0


class LegacySseTransport(NetworkTransport):
    kind = "sse"

    def __init__(self, url: str, headers: Mapping[str, str], net_config: Any, *,
                 endpoint_timeout: float = ENDPOINT_TIMEOUT) -> None:
        super().__init__(url, headers, net_config)
        self.endpoint_timeout = endpoint_timeout
        self.endpoint: Any = None
        self._client: Any = None
        self._stream: Any = None
        self._reader: Optional["asyncio.Task[None]"] = None
        self._endpoint_ready: Optional["asyncio.Future[Any]"] = None
        self._closed = False

    async def start(self) -> None:
        from claw.net.http import HttpClient, Timeouts

        self._client = HttpClient(self.net_config)
        headers = list(self.headers) + [("Accept", "text/event-stream")]
        try:
            response = await self._client.request("GET", self.url, headers=headers,
                                                  timeouts=Timeouts(read=STREAM_READ_TIMEOUT))
        except NetworkError as exc:
            raise mcp_error(f"cannot reach {self.describe()}: {exc.message}", "mcp_http", hint=exc.hint) from None
        if response.status != 200 or "text/event-stream" not in (response.header("content-type") or "").lower():
            try:
                body = await asyncio.wait_for(response.read(), 2.0) if response.status != 200 else b""
            except (asyncio.TimeoutError, Exception):
                body = b""
            await response.aclose()
            if response.status == 200:
                raise mcp_error(f"{self.describe()} is not an SSE stream "
                                f"(Content-Type {response.header('content-type')!r})", "mcp_http",
                                hint="check the URL: legacy SSE servers usually serve /sse")
            raise status_error(response.status, self.describe(), body, response.header("www-authenticate"))
        self._stream = response
        self._endpoint_ready = asyncio.get_running_loop().create_future()
        self._reader = asyncio.ensure_future(self._read())
        try:
            self.endpoint = await asyncio.wait_for(asyncio.shield(self._endpoint_ready), self.endpoint_timeout)
        except asyncio.TimeoutError:
            raise mcp_error(f"{self.describe()} sent no 'endpoint' event within {self.endpoint_timeout:g}s",
                            "mcp_timeout", hint="is this a legacy HTTP+SSE MCP server?") from None

    async def _read(self) -> None:
        from claw.proto.sse import SSEDecoder, SSEError

        decoder = SSEDecoder()
        reason = "the server closed its SSE stream"
        try:
            async for chunk in self._stream.iter_bytes():
                for event in decoder.feed(chunk):
                    if event.event == "endpoint":
                        self._set_endpoint(event.data.strip())
                    elif event.event == "message" and event.data.strip():
                        self._deliver_json(event.data)
        except asyncio.CancelledError:
            raise
        except (NetworkError, SSEError) as exc:
            reason = f"the SSE stream broke: {exc.message}"
        except Exception as exc:  # noqa: BLE001
            reason = f"the SSE stream failed: {exc}"
        error = mcp_error(reason, "mcp_closed", retryable=True)
        if self._endpoint_ready is not None and not self._endpoint_ready.done():
            self._endpoint_ready.set_exception(error)
        if not self._closed:
            self.on_closed(error)

    def _set_endpoint(self, data: str) -> None:
        from claw.net.url import parse_url

        future = self._endpoint_ready
        if future is None or future.done():
            return
        try:
            target = _resolve(self.url, data)
            endpoint = parse_url(target)
        except ValueError as exc:
            future.set_exception(mcp_error(f"the server sent a bad endpoint {data!r}: {exc}", "mcp_protocol"))
            return
        if endpoint.origin != self.url.origin:
            future.set_exception(mcp_error(
                f"the server's endpoint {endpoint.origin} is not on {self.url.origin}; refused", "mcp_protocol",
                hint="a legacy SSE server must take messages on its own origin"))
            return
        future.set_result(endpoint)

    async def send(self, message: dict) -> None:
        from claw.net.http import Timeouts

        if self._closed or self.endpoint is None:
            raise mcp_error("the SSE session is closed", "mcp_closed")
        headers = list(self.headers) + [("Content-Type", "application/json")]
        if self.protocol_version is not None:
            headers.append(("MCP-Protocol-Version", self.protocol_version))
        try:
            response = await self._client.request("POST", self.endpoint, headers=headers,
                                                  body=encode_json(message), timeouts=Timeouts(read=30.0))
        except NetworkError as exc:
            raise mcp_error(f"cannot reach {self.describe()}: {exc.message}", "mcp_http", hint=exc.hint) from None
        try:
            if response.status not in (200, 201, 202, 204):
                body = await asyncio.wait_for(response.read(), 2.0)
                raise status_error(response.status, self.describe(), body, response.header("www-authenticate"))
            await response.read()
        finally:
            await response.aclose()

    async def close(self, graceful: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        await stop_reader(self._reader)
        if self._stream is not None:
            try:
                await self._stream.aclose()
            except Exception:  # noqa: BLE001
                pass
        if self._client is not None:
            try:
                await self._client.aclose()
            except Exception:  # noqa: BLE001
                pass


def _resolve(base: Any, reference: str) -> str:
    from urllib.parse import urljoin

    return urljoin(f"{base.origin}{base.target}", reference)
