"""The v2 (code session) worker transport: SSE reads, batched POST writes, delivery acks, worker state.

``CodeSessionTransport`` has the interface of ``claw.cli.transport.Transport``. Against the session base
``<api>/v1/code/sessions/{id}`` (docs/REMOTE.md, "bridge-worker"), with ``Authorization: Bearer <session
token>`` and the ``worker_epoch`` the registration gave in every body:

- ``POST .../worker/register`` once (``{"worker_epoch": N}`` back), unless an epoch is given;
- reads: ``GET .../worker/events/stream`` (``text/event-stream``). Each ``client_event`` frame (``id:`` its
  sequence number, ``data:`` ``{"event_id", "sequence_num", "payload"}``) gives ``payload`` to the host
  loop. After a drop (an error, the end of the stream, ``liveness_timeout`` seconds without a byte —
  the server's ``:keepalive`` comments count) the stream is opened again with ``from_sequence_num`` and
  ``Last-Event-ID`` set to the last number seen; a number not above it is dropped (no duplicate
  processing). Back-off 0.5 s doubling to 10 s; 8 failed attempts in a row, or 401/403/404/409/410,
  end the session with an error;
- delivery acks: ``POST .../worker/events/delivery`` ``{"worker_epoch", "updates": [{"event_id",
  "status"}]}`` — ``received`` on arrival, ``processing`` when the host loop takes the event,
  ``processed`` when it is done with it (the next read for a control message; the session going idle
  for a user message), in order, through an uploader;
- writes: ``POST .../worker/events`` ``{"worker_epoch", "events": [{"payload": obj}]}`` through an
  uploader (claw.remote.event_uploader);
- state: ``PUT .../worker`` ``{"worker_epoch", "worker_status": "idle"|"running"|"requires_action"}``,
  coalesced: while one PUT is out, only the last state asked for is sent next;
- ``POST .../worker/heartbeat`` ``{"worker_epoch"}`` every ``heartbeat_interval`` seconds.

Deliberately not here: internal events (the transcript stays in claw's own session file), the v1
transport (claw.remote.session_ingress), the host loop.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from claw.errors import ClawError, NetworkError
from claw.remote.event_uploader import EventUploader, Failure
from claw.remote.session_ingress import (DRAIN_TIMEOUT, FATAL_STATUSES, UploadPump, describe_failure, refusal,
                                         request_json)

_EOF = object()


class CodeSessionTransport:
    """See the module docstring. ``await connect()``, use, ``await close()``."""

    def __init__(self, session_url: str, net_config: Any, *, token: str, epoch: Optional[int] = None,
                 heartbeat_interval: float = 20.0, liveness_timeout: float = 45.0, reconnect_attempts: int = 8,
                 reconnect_delay: float = 0.5, reconnect_max_delay: float = 10.0,
                 drain_timeout: float = DRAIN_TIMEOUT, warn: Callable[[str], None] = lambda text: None) -> None:
        self.base = session_url.rstrip("/")
        self._net_config = net_config
        self._token = token
        self.epoch = epoch
        self._heartbeat_interval = heartbeat_interval
        self._liveness = liveness_timeout
        self._attempts = max(1, reconnect_attempts)
        self._delay = reconnect_delay
        self._max_delay = reconnect_max_delay
        self._drain_timeout = drain_timeout
        self._warn = warn
        self.closed = False
        self.connections = 0  # SSE streams opened
        self.last_sequence_num = 0
        self._inbox: "asyncio.Queue[Any]" = None  # type: ignore[assignment]  # made on the running loop
        self._handed: Deque[Tuple[str, bool]] = deque()  # (event_id, is a user message) given to the host
        self._tasks: List["asyncio.Task[Any]"] = []
        self._state: Optional[str] = None  # the state wanted
        self._state_sent: Optional[str] = None
        self._state_task: Optional["asyncio.Task[None]"] = None
        self._http: Any = None
        self.events: Optional[UploadPump] = None
        self.deliveries: Optional[UploadPump] = None

    # -- lifecycle ----------------------------------------------------------------------------------

    async def connect(self) -> None:
        from claw.net.http import HttpClient

        self._http = HttpClient(self._net_config)
        self._inbox = asyncio.Queue()
        if self.epoch is None:
            try:
                status, _, body = await self._call("POST", "/worker/register", {})
            except NetworkError as exc:
                await self._http.aclose()
                raise NetworkError(f"cannot register the worker with the session: {exc.message}", kind=exc.kind,
                                   hint="check the session's API base URL and the network", retryable=False)
            epoch = body.get("worker_epoch") if isinstance(body, dict) else None
            if status != 200 and status != 201 or not isinstance(epoch, int):
                await self._http.aclose()
                raise refusal(status, "POST .../worker/register")
            self.epoch = epoch
        self.events = UploadPump(EventUploader(), self._send_events, self._refused("messages"))
        self.deliveries = UploadPump(EventUploader(), self._send_acks, self._refused("delivery acks"))
        self.events.start()
        self.deliveries.start()
        self._tasks = [asyncio.ensure_future(self._stream_loop()), asyncio.ensure_future(self._heartbeats())]
        self.report_state("idle")

    async def close(self) -> None:
        if self.closed and self._http is None:
            return
        self._ack_all_processed()
        self.closed = True
        left: List[Any] = []
        for pump in (self.events, self.deliveries):
            if pump is not None:
                left += await pump.drain(self._drain_timeout)
        if left:
            self._warn(f"{len(left)} messages and acks could not be sent to the session before exit")
        if self._state_task is not None and not self._state_task.done():  # the last state, if it can go
            await asyncio.wait({self._state_task}, timeout=self._drain_timeout)
        for task in self._tasks + ([self._state_task] if self._state_task is not None else []):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._inbox is not None:
            self._inbox.put_nowait(_EOF)

    # -- the transport interface --------------------------------------------------------------------

    async def read(self) -> Optional[Dict[str, Any]]:
        while self._handed and not self._handed[-1][1]:  # the host loop handled the control message
            self._ack(self._handed.pop()[0], "processed")
        item = await self._inbox.get()
        if item is _EOF:
            self._inbox.put_nowait(_EOF)
            return None
        if isinstance(item, ClawError):
            raise item
        event_id, payload = item
        if event_id is not None:
            self._ack(event_id, "processing")
            self._handed.append((event_id, payload.get("type") == "user"))
        return payload

    def write_nowait(self, obj: Dict[str, Any]) -> None:
        if not self.closed and self.events is not None:
            self.events.put({"payload": obj})

    async def write(self, obj: Dict[str, Any]) -> None:
        if self.events is not None:
            await self.events.wait_room()
        self.write_nowait(obj)

    def report_state(self, state: str) -> None:
        """The host loop's state (``idle``, ``running``, ``requires_action``): one PUT at a time, the
        latest wins."""
        if state == "idle":
            self._ack_all_processed()
        self._state = state
        if self._http is not None and (self._state_task is None or self._state_task.done()):
            self._state_task = asyncio.ensure_future(self._put_states())

    # -- outbound -----------------------------------------------------------------------------------

    async def _call(self, method: str, path: str, body: Dict[str, Any]) -> Tuple[int, Optional[float], Any]:
        if self.epoch is not None:
            body = dict(body, worker_epoch=self.epoch)
        return await request_json(self._http, method, self.base + path, self._token, body)

    async def _send_events(self, events: List[Any]) -> Tuple[Optional[int], Optional[float]]:
        status, retry_after, _ = await self._call("POST", "/worker/events", {"events": events})
        return status, retry_after

    async def _send_acks(self, updates: List[Any]) -> Tuple[Optional[int], Optional[float]]:
        status, retry_after, _ = await self._call("POST", "/worker/events/delivery", {"updates": updates})
        return status, retry_after

    def _ack(self, event_id: str, status: str) -> None:
        if self.deliveries is not None and not self.closed:
            self.deliveries.put({"event_id": event_id, "status": status})

    def _ack_all_processed(self) -> None:
        while self._handed:
            self._ack(self._handed.popleft()[0], "processed")

    def _refused(self, what: str) -> Callable[[Failure, bool], None]:
        def refused(failure: Failure, fatal: bool) -> None:
            self._warn(describe_failure(failure, what))
            if fatal:
                self._fail(refusal(failure.status, f"the session's {what} endpoint"))
        return refused

    async def _put_states(self) -> None:
        delay = self._delay
        while self._state != self._state_sent:
            state = self._state
            try:
                status, retry_after, _ = await self._call("PUT", "/worker", {"worker_status": state})
            except NetworkError:
                status, retry_after = None, None
            if status is not None and 200 <= status < 300:
                self._state_sent = state
                delay = self._delay
                continue
            if status in FATAL_STATUSES:
                self._fail(refusal(status, "PUT .../worker"))
                return
            await asyncio.sleep(retry_after if retry_after is not None else delay)
            delay = min(delay * 2, self._max_delay)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            try:
                status, _, _ = await self._call("POST", "/worker/heartbeat", {})
            except NetworkError:
                continue
            if status in FATAL_STATUSES:
                self._fail(refusal(status, "POST .../worker/heartbeat"))
                return

    # -- inbound ------------------------------------------------------------------------------------

    async def _stream_loop(self) -> None:
        failures = 0
        delay = self._delay
        while not self.closed:
            try:
                if await self._stream_once():
                    failures, delay = 0, self._delay
            except NetworkError as exc:
                if exc.status in FATAL_STATUSES:
                    self._fail(refusal(exc.status, "GET .../worker/events/stream"))
                    return
                last: NetworkError = exc
                failures += 1
                if failures >= self._attempts:
                    self._fail(NetworkError(f"cannot reach the session's event stream: {last.message}",
                                            kind=last.kind, retryable=False))
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_delay)

    async def _stream_once(self) -> bool:
        """One SSE connection until it ends; True when it was opened (a 200)."""
        from claw.net.http import Timeouts
        from claw.proto.sse import SSEDecoder

        url = self.base + "/worker/events/stream"
        headers = [("Accept", "text/event-stream"), ("Authorization", f"Bearer {self._token}")]
        if self.last_sequence_num:
            url += f"?from_sequence_num={self.last_sequence_num}"
            headers.append(("Last-Event-ID", str(self.last_sequence_num)))
        response = await self._http.request("GET", url, headers=headers, timeouts=Timeouts(read=self._liveness))
        try:
            if response.status != 200:
                raise NetworkError(f"HTTP {response.status}", kind="closed", status=response.status)
            self.connections += 1
            decoder = SSEDecoder()
            try:
                async for chunk in response.iter_bytes():
                    for event in decoder.feed(chunk):
                        if event.event == "client_event":
                            self._client_event(event.id, event.data)
            except NetworkError:
                pass  # a drop: resume from the last number
            return True
        finally:
            await response.aclose()

    def _client_event(self, frame_id: Optional[str], data: str) -> None:
        try:
            body = json.loads(data)
        except ValueError:
            self._warn("the session sent a client_event that is not JSON; ignored")
            return
        if not isinstance(body, dict) or not isinstance(body.get("payload"), dict):
            return
        seq = body.get("sequence_num")
        if not isinstance(seq, int) and frame_id and frame_id.isdigit():
            seq = int(frame_id)
        if isinstance(seq, int):
            if seq <= self.last_sequence_num:
                return  # a repeat after a resume: processed once already
            self.last_sequence_num = seq
        event_id = body.get("event_id")
        event_id = str(event_id) if event_id is not None else None
        if event_id is not None:
            self._ack(event_id, "received")
        self._inbox.put_nowait((event_id, body["payload"]))

    def _fail(self, error: ClawError) -> None:
        if not self.closed and self._inbox is not None:
            self.closed = True
            self._inbox.put_nowait(error)
            self._inbox.put_nowait(_EOF)
