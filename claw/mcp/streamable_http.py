"""The streamable HTTP transport (MCP 2025-03-26 and later), over ``claw.net.http.HttpClient``.

Every message is POSTed to the server URL with ``Accept: application/json, text/event-stream``, the
configured headers, ``Mcp-Session-Id`` once the server assigned one and ``MCP-Protocol-Version`` once
negotiated. A request's POST runs in its own task: the answer comes back either as one JSON body or
as an SSE stream that may carry server requests and notifications before the response. If such a
stream ends before the response and the server gave event ids, the transport resumes it with a GET
carrying ``Last-Event-ID`` (the spec's SSE polling, honouring ``retry``), a bounded number of times.
Notifications and responses get ``202 Accepted``.

After the handshake a GET opens the server's own message stream when the server offers one (``405``
means it does not); it is re-opened with ``Last-Event-ID`` when it ends, and given up after repeated
failures. ``close()`` DELETEs the session (bounded; a ``405`` is fine).

Statuses: ``401`` is ``mcp_needs_auth`` (claw does no MCP OAuth yet: the hint says to put a token
in ``headers``); ``404`` on a request that carried a session id is ``mcp_session_expired`` (the
client re-initializes); other failures are ``mcp_http`` with the status and a short body excerpt.
The client treats a 4xx answer to ``initialize`` as "maybe a legacy HTTP+SSE server" and retries
with ``claw.mcp.legacy_sse``.

All traffic goes through ``claw.net`` (proxies, NO_PROXY, CA rules). Nothing else opens sockets.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Mapping, Optional, Tuple

from claw.errors import NetworkError
from claw.mcp.transport import NetworkTransport, decode_json, encode_json, mcp_error

STREAM_READ_TIMEOUT = 7 * 24 * 3600.0  # the session's own timeouts bound requests; streams may idle
MAX_RESUMES = 5
MAX_LISTEN_FAILURES = 3
MAX_RETRY_WAIT = 5.0
CLOSE_TIMEOUT = 2.0
EXCERPT = 300


class StreamableHttpTransport(NetworkTransport):
    kind = "http"

    def __init__(self, url: str, headers: Mapping[str, str], net_config: Any) -> None:
        super().__init__(url, headers, net_config)
        self.session_id: Optional[str] = None
        self._client: Any = None
        self._requests: Dict[Any, "asyncio.Task[None]"] = {}
        self._listener: Optional["asyncio.Task[None]"] = None
        self._closed = False

    async def start(self) -> None:
        from claw.net.http import HttpClient

        self._client = HttpClient(self.net_config)

    # -- sending ---------------------------------------------------------------------------------

    def _request_headers(self, accept: str, *, body: bool) -> List[Tuple[str, str]]:
        out = list(self.headers)
        out.append(("Accept", accept))
        if body:
            out.append(("Content-Type", "application/json"))
        if self.session_id is not None:
            out.append(("Mcp-Session-Id", self.session_id))
        if self.protocol_version is not None:
            out.append(("MCP-Protocol-Version", self.protocol_version))
        return out

    async def send(self, message: dict) -> None:
        if self._closed or self._client is None:
            raise mcp_error("the HTTP session is closed", "mcp_closed")
        if "method" in message and "id" in message:
            request_id = message["id"]
            task = asyncio.ensure_future(self._post_request(request_id, message))
            self._requests[request_id] = task
            task.add_done_callback(lambda _t, rid=request_id: self._requests.pop(rid, None))
            return
        await self._post_other(message)

    def abandon(self, request_id: Any) -> None:
        task = self._requests.pop(request_id, None)
        if task is not None:
            task.cancel()

    async def _post(self, message: dict) -> Any:
        from claw.net.http import Timeouts

        try:
            return await self._client.request(
                "POST", self.url, headers=self._request_headers("application/json, text/event-stream", body=True),
                body=encode_json(message), timeouts=Timeouts(read=STREAM_READ_TIMEOUT))
        except NetworkError as exc:
            raise mcp_error(f"cannot reach {self.describe()}: {exc.message}", "mcp_http", hint=exc.hint,
                            retryable=exc.retryable) from None

    async def _post_other(self, message: dict) -> None:
        response = await self._post(message)
        try:
            self._capture_session(response)
            if response.status in (200, 201, 202, 204):
                if _is_sse(response):
                    await self._read_sse(response, None)
                else:
                    body = await response.read()
                    if body.strip():
                        self._deliver_body(body)
                return
            raise await self._status_error(response, carried_session=self.session_id is not None)
        finally:
            await response.aclose()

    async def _post_request(self, request_id: Any, message: dict) -> None:
        try:
            response = await self._post(message)
        except Exception as exc:  # noqa: BLE001 - this request alone fails
            self.on_request_failed(request_id, _as_failure(exc))
            return
        had_session = self.session_id is not None
        try:
            self._capture_session(response)
            if response.status in (200, 201):
                if _is_sse(response):
                    answered, last_id, retry = await self._read_sse(response, request_id)
                    if not answered:
                        await self._resume(request_id, last_id, retry)
                else:
                    body = await response.read()
                    if not body.strip():
                        self.on_request_failed(request_id, mcp_error(
                            f"{message.get('method')}: the server sent an empty answer", "mcp_protocol"))
                        return
                    self._deliver_body(body)
            elif response.status == 202:
                pass  # answered later on the server's GET stream, if at all (the session times out)
            else:
                self.on_request_failed(request_id, await self._status_error(response, carried_session=had_session))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            self.on_request_failed(request_id, _as_failure(exc))
        finally:
            await response.aclose()

    async def _resume(self, request_id: Any, last_id: Optional[str], retry: Optional[float]) -> None:
        """The response stream ended without the answer: poll it back with Last-Event-ID."""
        from claw.net.http import Timeouts

        for _ in range(MAX_RESUMES):
            if last_id is None:
                break
            await asyncio.sleep(min(retry if retry is not None else 0.5, MAX_RETRY_WAIT))
            headers = self._request_headers("text/event-stream", body=False) + [("Last-Event-ID", last_id)]
            try:
                response = await self._client.request("GET", self.url, headers=headers,
                                                      timeouts=Timeouts(read=STREAM_READ_TIMEOUT))
            except NetworkError as exc:
                self.diagnostics.note(f"[claw] resuming a response stream failed: {exc.message}")
                continue
            try:
                if response.status != 200 or not _is_sse(response):
                    break
                self.diagnostics.note(f"[claw] resumed a response stream after event {last_id}")
                answered, new_id, new_retry = await self._read_sse(response, request_id)
                if answered:
                    return
                last_id = new_id or last_id
                retry = new_retry if new_retry is not None else retry
            finally:
                await response.aclose()
        self.on_request_failed(request_id, mcp_error(
            "the server closed the response stream without answering", "mcp_closed", retryable=True))

    # -- receiving -------------------------------------------------------------------------------

    async def _read_sse(self, response: Any, request_id: Any) -> Tuple[bool, Optional[str], Optional[float]]:
        """Deliver the messages of one SSE stream; (answered request_id, last event id, retry s)."""
        from claw.proto.sse import SSEDecoder, SSEError

        decoder = SSEDecoder()
        answered = False
        try:
            async for chunk in response.iter_bytes():
                for event in decoder.feed(chunk):
                    if event.event != "message" or not event.data.strip():
                        continue
                    if self._deliver_text(event.data, request_id):
                        answered = True
        except (NetworkError, SSEError) as exc:
            self.diagnostics.note(f"[claw] an SSE stream broke: {exc.message}")
        retry = decoder.retry / 1000.0 if decoder.retry is not None else None
        return answered, decoder.last_event_id or None, retry

    def _deliver_text(self, data: "str | bytes", request_id: Any = None) -> bool:
        """Decode and hand over one message; True when it answers ``request_id``."""
        try:
            value = decode_json(data)
        except Exception as exc:  # noqa: BLE001
            self.diagnostics.note(f"[claw] ignored a message that is {getattr(exc, 'message', exc)}")
            return False
        answered = request_id is not None and _answers(value, request_id)
        try:
            self.on_message(value)
        except Exception as exc:  # noqa: BLE001
            self.diagnostics.note(f"[claw] message handling failed: {exc}")
        return answered

    def _deliver_body(self, body: bytes) -> None:
        self._deliver_text(body)

    def _capture_session(self, response: Any) -> None:
        value = response.header("mcp-session-id")
        if value and self.session_id is None:
            self.session_id = value.strip()

    async def _status_error(self, response: Any, *, carried_session: bool) -> Exception:
        try:
            body = await asyncio.wait_for(response.read(), 2.0)
        except (asyncio.TimeoutError, Exception):
            body = b""
        return status_error(response.status, self.describe(), body, response.header("www-authenticate"),
                            carried_session=carried_session)

    # -- the server's own stream -----------------------------------------------------------------

    async def after_initialized(self) -> None:
        if self._listener is None and not self._closed:
            self._listener = asyncio.ensure_future(self._listen())

    async def _listen(self) -> None:
        from claw.net.http import Timeouts

        failures = 0
        last_id: Optional[str] = None
        retry = 1.0
        loop = asyncio.get_running_loop()
        while not self._closed and failures < MAX_LISTEN_FAILURES:
            headers = self._request_headers("text/event-stream", body=False)
            if last_id is not None:
                headers.append(("Last-Event-ID", last_id))
            opened = loop.time()
            try:
                response = await self._client.request("GET", self.url, headers=headers,
                                                      timeouts=Timeouts(read=STREAM_READ_TIMEOUT))
            except NetworkError as exc:
                failures += 1
                self.diagnostics.note(f"[claw] the server stream failed to open: {exc.message}")
                await asyncio.sleep(min(retry, MAX_RETRY_WAIT))
                continue
            try:
                if response.status != 200 or not _is_sse(response):
                    if response.status not in (405,):
                        self.diagnostics.note(f"[claw] no server stream (GET answered HTTP {response.status})")
                    return
                _, new_id, new_retry = await self._read_sse(response, None)
                last_id = new_id or last_id
                if new_retry is not None:
                    retry = new_retry
            finally:
                await response.aclose()
            failures = failures + 1 if loop.time() - opened < 1.0 else 0
            await asyncio.sleep(min(retry, MAX_RETRY_WAIT))

    # -- shutdown --------------------------------------------------------------------------------

    async def close(self, graceful: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        tasks = list(self._requests.values()) + ([self._listener] if self._listener else [])
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        client = self._client
        if client is None:
            return
        if self.session_id is not None:
            from claw.net.http import Timeouts

            try:
                response = await client.request("DELETE", self.url, headers=self._request_headers(
                    "application/json, text/event-stream", body=False), timeouts=Timeouts(total=CLOSE_TIMEOUT))
                await response.aclose()
            except (Exception, asyncio.CancelledError):  # noqa: BLE001 - best effort
                pass
        try:
            await client.aclose()
        except Exception:  # noqa: BLE001
            pass


def _is_sse(response: Any) -> bool:
    return "text/event-stream" in (response.header("content-type") or "").lower()


def _answers(value: Any, request_id: Any) -> bool:
    items = value if isinstance(value, list) else [value]
    return any(isinstance(item, dict) and item.get("id") == request_id and ("result" in item or "error" in item)
               for item in items)


def _as_failure(exc: Exception) -> Any:
    from claw.errors import ToolFailure

    if isinstance(exc, ToolFailure):
        return exc
    return mcp_error(f"{type(exc).__name__}: {exc}", "mcp_http")


def status_error(status: int, where: str, body: bytes, www_authenticate: Optional[str] = None, *,
                 carried_session: bool = False) -> Exception:
    """The error for an HTTP status an MCP server answered with (shared with the legacy transport)."""
    text = body[:EXCERPT * 2].decode("utf-8", "replace").strip().replace("\n", " ")
    detail = f": {text[:EXCERPT]}" if text else ""
    if status == 401:
        extra = ""
        if www_authenticate and "resource_metadata" in www_authenticate:
            extra = " (it advertises OAuth)"
        return mcp_error(
            f"{where} needs authentication (HTTP 401){extra}", "mcp_needs_auth", status=401,
            hint="claw does not run MCP OAuth sign-in yet; put a token in the server's \"headers\", "
                 "e.g. \"Authorization\": \"Bearer ${MY_TOKEN}\"")
    if status == 404 and carried_session:
        return mcp_error(f"{where}: the server ended the MCP session (HTTP 404)", "mcp_session_expired",
                         status=404, retryable=True)
    hint = None
    if status == 403:
        hint = "check the credentials in the server's \"headers\""
    elif status in (404, 405):
        hint = "check the server URL (streamable HTTP servers usually end in /mcp, legacy SSE ones in /sse)"
    return mcp_error(f"{where} answered HTTP {status}{detail}", "mcp_http", status=status, hint=hint,
                     retryable=status >= 500 or status == 429)
