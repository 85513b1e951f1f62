"""Session-ingress transports of the bridge worker: WebSocket reads, batched HTTP POST writes.

``HybridTransport`` is ``SdkUrlTransport`` (claw.remote.sdk_url: the WebSocket, the host's numbered
messages acknowledged, resume after a drop, pings) whose writes do not go down the WebSocket: each object
claw writes gets its ``"seq"`` (1, 2, 3...) and joins an ``EventUploader`` (claw.remote.event_uploader),
which ``UploadPump`` sends as ``POST <events_url>`` with ``{"events": [...]}`` — one POST at a time,
coalesced, split, retried (Retry-After), in order. Every ``keepalive_interval`` seconds a
``{"type": "keep_alive"}`` line goes down the WebSocket so idle proxies keep it open. The host closing the
WebSocket with 1000 ends the input only: what the queued turns write still goes out by POST.

``UploadPump`` is the I/O half of an uploader, shared with the v2 transport (claw.remote.code_session):
``put`` (never waits), ``wait_room`` (waits while the queue is full), ``drain(timeout)`` (everything sent,
or what was not is returned). A refused batch is reported to ``on_failure``; 401, 403, 404, 409 and 410
are fatal (the token is dead, the session is gone, another worker took over).

``request_json`` is the one HTTP exchange both transports make, through claw's connection factory
(proxies, CAs), with ``Authorization: Bearer <token>``; it returns the status, the Retry-After seconds and
the parsed body, and raises ``NetworkError`` only when no answer came.

Deliberately not here: the host loop (claw.cli.stream_json), reading work secrets, the v2 endpoints.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from claw.errors import NetworkError
from claw.remote.event_uploader import EventUploader, Failure
from claw.remote.sdk_url import _EOF, SdkUrlTransport, _line

FATAL_STATUSES = (401, 403, 404, 409, 410)
POST_TIMEOUT = 15.0
DRAIN_TIMEOUT = 10.0
Send = Callable[[List[Any]], Awaitable[Tuple[Optional[int], Optional[float]]]]


def retry_after_seconds(value: Optional[str]) -> Optional[float]:
    """``Retry-After`` in seconds (the delay form; an HTTP date is ignored)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


async def request_json(http: Any, method: str, url: str, token: Optional[str], body: Any = None, *,
                       timeout: float = POST_TIMEOUT) -> Tuple[int, Optional[float], Any]:
    """One exchange: ``(status, retry_after, parsed body or None)``; ``NetworkError`` without an answer."""
    from claw.net.http import Timeouts

    headers = [("Content-Type", "application/json"), ("Accept", "application/json")]
    if token:
        headers.append(("Authorization", f"Bearer {token}"))
    data = None if body is None else json.dumps(body, separators=(",", ":"), default=str).encode("utf-8")
    response = await http.request(method, url, headers=headers, body=data,
                                  timeouts=Timeouts(total=timeout))
    raw = await response.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return response.status, retry_after_seconds(response.header("retry-after")), parsed


class UploadPump:
    """Drives one ``EventUploader`` with ``send(events) -> (status, retry_after)``; see the module
    docstring. ``on_failure(failure, fatal)`` hears of every batch that could not be delivered."""

    def __init__(self, uploader: EventUploader, send: Send,
                 on_failure: Optional[Callable[[Failure, bool], None]] = None) -> None:
        self.uploader = uploader
        self._send = send
        self._on_failure = on_failure
        self._wake = asyncio.Event()
        self._task: Optional["asyncio.Task[None]"] = None
        self.posts = 0

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    def put(self, event: Any) -> None:
        self.uploader.enqueue(event)
        self._wake.set()

    async def wait_room(self) -> None:
        """Back-pressure for asynchronous writers: wait while the queue is full (and the pump runs)."""
        while not self.uploader.room and self._task is not None and not self._task.done():
            await asyncio.sleep(0.01)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        up = self.uploader
        while True:
            batch = up.next_batch(loop.time())
            if batch is None:
                wait = up.wait_time(loop.time())
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except asyncio.TimeoutError:
                    pass
                continue
            status = retry_after = error = None
            self.posts += 1
            try:
                status, retry_after = await self._send(batch.events)
            except NetworkError as exc:
                error = exc
            if up.done(batch, loop.time(), status=status, retry_after=retry_after, error=error) == "failed":
                fatal = status in FATAL_STATUSES
                if self._on_failure is not None:
                    self._on_failure(up.failed[-1], fatal)
                if fatal:
                    up.give_up(f"HTTP {status}")
                    return

    async def drain(self, timeout: float = DRAIN_TIMEOUT) -> List[Any]:
        """Wait until everything was sent (or ``timeout``); stop; return the events left unsent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.uploader.idle and loop.time() < deadline and self._task is not None \
                and not self._task.done():
            await asyncio.sleep(0.01)
        await self.stop()
        return self.uploader.give_up("not sent before the worker stopped")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def refusal(status: Optional[int], what: str) -> Any:
    """The classified error of the session refusing ``what`` for good (claw.remote.environments)."""
    from claw.remote.environments import classify_status

    error = classify_status(status or 0, what)
    error.hint = "the session token expired, the session is gone, or another worker took it over"
    return error


def describe_failure(failure: Failure, what: str) -> str:
    """A warning line for a refused batch (never its content: it may hold secrets)."""
    return f"{len(failure.events)} {what} not delivered ({failure.reason})"


class HybridTransport(SdkUrlTransport):
    """See the module docstring. ``connect()``, use, ``close()`` (which drains the uploader first)."""

    def __init__(self, ws_url: str, events_url: str, net_config: Any, *, token: Optional[str],
                 keepalive_interval: float = 120.0, drain_timeout: float = DRAIN_TIMEOUT,
                 uploader: Optional[EventUploader] = None, warn: Callable[[str], None] = lambda text: None,
                 **options: Any) -> None:
        super().__init__(ws_url, net_config, token=token, **options)
        from claw.net.http import HttpClient

        self._events_url = events_url
        self._token = token
        self._http = HttpClient(net_config)
        self._warn = warn
        self._keepalive_interval = keepalive_interval
        self._drain_timeout = drain_timeout
        self._keepalive: Optional["asyncio.Task[None]"] = None
        self._post_seq = 0
        self.undelivered: List[Any] = []
        self.pump = UploadPump(uploader or EventUploader(), self._post, self._refused)

    async def connect(self) -> None:
        await super().connect()
        self.pump.start()
        self._keepalive = asyncio.ensure_future(self._keep_alive())

    def write_nowait(self, obj: Dict[str, Any]) -> None:
        if self.closed:
            return
        self._post_seq += 1
        message = dict(obj)
        message["seq"] = self._post_seq
        self.pump.put(message)

    async def write(self, obj: Dict[str, Any]) -> None:
        await self.pump.wait_room()
        self.write_nowait(obj)

    def _finish(self, error: Any) -> None:
        if error is None and not self._closing:  # the host ended input (1000): the POSTs still carry our writes
            assert self._inbox is not None
            self._inbox.put_nowait(_EOF)
            return
        super()._finish(error)

    async def close(self) -> None:
        if self._closing:
            return
        self.undelivered = await self.pump.drain(self._drain_timeout)
        if self.undelivered:
            self._warn(f"{len(self.undelivered)} messages could not be sent to the session before exit")
        if self._keepalive is not None:
            self._keepalive.cancel()
        await super().close()
        await self._http.aclose()

    async def _post(self, events: List[Any]) -> Tuple[Optional[int], Optional[float]]:
        status, retry_after, _ = await request_json(self._http, "POST", self._events_url, self._token,
                                                    {"events": events})
        return status, retry_after

    def _refused(self, failure: Failure, fatal: bool) -> None:
        self._warn(describe_failure(failure, "messages"))
        if fatal and not self.closed:
            self._finish(refusal(failure.status, "POST /v1/sessions/{id}/events"))

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self._keepalive_interval)
            if self._ws is not None and not self.closed and self._wake is not None:
                self._control.append(_line({"type": "keep_alive"}))
                self._wake.set()
