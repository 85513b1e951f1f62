"""A fake session-ingress host: what a remote-control session looks like to claw's bridge worker.

One asyncio server on 127.0.0.1 (a daemon thread, so subprocess tests can use it) serves, on one port,
everything the work secret's ``api_base_url`` leads to. It is written from the protocol (docs/REMOTE.md),
not from claw's code: raw HTTP/1.1 parsing here, ``wsproto`` for the WebSocket.

v1 (session ingress):
- a WebSocket upgrade on any path ending in the session id: claw's stream-json, with the host's
  messages numbered (``send(obj)`` gives each a ``seq``), the worker's acks and ``resume`` recorded
  (``resumes``), the host's messages after ``last_received_seq`` sent again on resume; ``drop()`` cuts
  the connection (no close frame);
- ``POST /v1/sessions/{id}/events`` ``{"events": [...]}``: each accepted batch in ``batches``; faults
  are scripted in ``faults`` (a FIFO of ``{"status": 429, "retry_after": "1"}``, ``{"status": 500}``,
  ``{"drop": True}`` (no answer), ``{"drop_after": True}`` (recorded, then no answer)); a batch of more
  than ``max_batch_events`` events gets 413. The same POST with the remote user's credential
  (``client_token``, as ``claw remote-control send-permission-response`` sends it) is the other
  direction: its events go to the worker (numbered over the WebSocket, or as v2 client events) and are
  recorded in ``client_posts``.

v2 (code sessions, under ``/v1/code/sessions/{id}``):
- ``POST worker/register`` -> ``{"worker_epoch": 1}``; ``PUT worker`` bodies in ``states`` (each PUT
  takes ``state_delay`` seconds, to see coalescing); ``POST worker/heartbeat`` counted; ``POST
  worker/events`` payloads in ``batches``; ``POST worker/events/delivery`` updates in ``deliveries``;
- ``GET worker/events/stream``: SSE. ``send(obj)`` (with ``v2=True``) appends a client event
  (``event_id`` ``ev-N``, ``sequence_num`` N); a stream gets every event after ``from_sequence_num`` and
  then new ones; ``streams`` records each request's ``from_sequence_num`` and ``Last-Event-ID``;
  ``drop()`` ends the open streams.

Every request needs ``Authorization: Bearer <token>`` (or ``<client_token>`` for the client's POST; else
401); every header set is in ``requests``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple


class SessionIngress:
    def __init__(self, *, session_id: str = "cse_test0001", token: str = "sk-ant-si-SESSIONTOKEN-SECRET-0123456789",
                 max_batch_events: int = 1000, state_delay: float = 0.0, resend_all: bool = False,
                 client_token: str = "sk-ant-oat-REMOTE-USER-0123456789") -> None:
        self.session_id = session_id
        self.token = token
        self.max_batch_events = max_batch_events
        self.state_delay = state_delay
        self.client_token = client_token
        self.client_posts: List[Any] = []
        self.v2 = False  # a worker registered: client events go to the SSE stream
        self.resend_all = resend_all  # on resume, send every message again (as if no ack had arrived)
        self.attempts: List[Tuple[float, int]] = []  # (time, status) of every events POST; 0: cut
        self.faults: Deque[Dict[str, Any]] = deque()
        self.requests: List[Tuple[str, str, Dict[str, str]]] = []
        self.batches: List[List[Any]] = []
        self.post_times: List[float] = []
        self.resumes: List[Dict[str, Any]] = []
        self.acks: List[int] = []
        self.keep_alives = 0
        self.ws_connections = 0
        self.states: List[Dict[str, Any]] = []
        self.heartbeats = 0
        self.deliveries: List[Dict[str, Any]] = []
        self.streams: List[Tuple[Optional[str], Optional[str]]] = []
        self._host: List[Tuple[int, Dict[str, Any]]] = []  # v1 numbered messages
        self._client_events: List[Dict[str, Any]] = []  # v2
        self._ws: Any = None
        self._sse: List[Tuple[Any, "asyncio.Queue[Any]"]] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="fake-session-ingress")
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self.loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"

    # -- test API (any thread) ------------------------------------------------------------------

    def send(self, obj: Dict[str, Any], *, v2: bool = False) -> None:
        self.loop.call_soon_threadsafe(self._send_v2 if v2 else self._send_v1, obj)

    def drop(self) -> None:
        self.loop.call_soon_threadsafe(self._drop)

    def end(self) -> None:
        """Close the v1 WebSocket normally (1000): the end of the session's input."""
        def close() -> None:
            from wsproto.events import CloseConnection

            if self._ws is not None:
                conn, writer = self._ws
                writer.write(conn.send(CloseConnection(code=1000)))
        self.loop.call_soon_threadsafe(close)

    def events(self) -> List[Any]:
        """Every event POSTed, in arrival order, repeats included."""
        return [e for batch in list(self.batches) for e in batch]

    def unique_events(self) -> List[Any]:
        """The events de-duplicated by ``seq`` (v1) in order of first arrival."""
        seen, out = set(), []
        for event in self.events():
            key = event.get("seq") if isinstance(event, dict) and "seq" in event else json.dumps(event, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(event)
        return out

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting on the fake session-ingress host")
            time.sleep(0.02)

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            self._drop()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def __enter__(self) -> "SessionIngress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- loop side ---------------------------------------------------------------------------------

    def _send_v1(self, obj: Dict[str, Any]) -> None:
        seq = len(self._host) + 1
        message = dict(obj, seq=seq)
        self._host.append((seq, message))
        if self._ws is not None:
            self._ws_send(message)

    def _send_v2(self, obj: Dict[str, Any]) -> None:
        n = len(self._client_events) + 1
        event = {"event_id": f"ev-{n}", "sequence_num": n, "event_type": "client_event", "payload": obj}
        self._client_events.append(event)
        for _, queue in self._sse:
            queue.put_nowait(event)

    def _drop(self) -> None:
        if self._ws is not None:
            self._ws[1].transport.abort()
            self._ws = None
        for _, queue in self._sse:
            queue.put_nowait(None)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if l)}
                self.requests.append((method, target, headers))
                client = headers.get("authorization") == f"Bearer {self.client_token}"
                if headers.get("authorization") != f"Bearer {self.token}" and not client:
                    await self._respond(writer, 401, {"error": "unauthorized"})
                    if headers.get("upgrade", "").lower() == "websocket":
                        return
                    continue
                if headers.get("upgrade", "").lower() == "websocket":
                    await self._websocket(head, reader, writer)
                    return
                length = int(headers.get("content-length") or 0)
                body = json.loads(await reader.readexactly(length)) if length else None
                path, _, query = target.partition("?")
                if path.endswith("/worker/events/stream"):
                    await self._stream(writer, query, headers)
                    return
                if client and path.endswith("/events") and method == "POST":
                    self.client_posts.extend(body["events"])
                    for event in body["events"]:
                        (self._send_v2 if self.v2 else self._send_v1)(event)
                    await self._respond(writer, 200, {"ok": True})
                    continue
                if not await self._route(writer, method, path, body):
                    return
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _respond(self, writer: asyncio.StreamWriter, status: int, body: Any,
                       extra: Tuple[Tuple[str, str], ...] = ()) -> None:
        data = json.dumps(body).encode()
        head = f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in extra) + "\r\n"
        writer.write(head.encode() + data)
        await writer.drain()

    async def _route(self, writer: asyncio.StreamWriter, method: str, path: str, body: Any) -> bool:
        """Answer one request; False when the connection was cut on purpose."""
        is_events = path.endswith("/events") and method == "POST"
        if is_events and self.faults:
            fault = self.faults.popleft()
            if fault.get("drop_after"):
                self._record_batch(path, body)
            self.attempts.append((time.monotonic(), fault.get("status", 0)))
            if fault.get("drop") or fault.get("drop_after"):
                writer.transport.abort()
                return False
            extra = (("retry-after", str(fault["retry_after"])),) if "retry_after" in fault else ()
            await self._respond(writer, fault["status"], {"error": "scripted"}, extra)
            return True
        if is_events:
            if len(body.get("events") or ()) > self.max_batch_events:
                self.attempts.append((time.monotonic(), 413))
                await self._respond(writer, 413, {"error": "too large"})
                return True
            self.attempts.append((time.monotonic(), 200))
            self._record_batch(path, body)
        elif path.endswith("/worker/register"):
            self.v2 = True
            await self._respond(writer, 200, {"worker_epoch": 1})
            return True
        elif path.endswith("/worker") and method == "PUT":
            self.states.append(dict(body, at=time.monotonic()))
            await asyncio.sleep(self.state_delay)
        elif path.endswith("/worker/heartbeat"):
            self.heartbeats += 1
        elif path.endswith("/worker/events/delivery"):
            self.deliveries.extend(body.get("updates") or ())
        else:
            await self._respond(writer, 404, {"error": f"no route {method} {path}"})
            return True
        await self._respond(writer, 200, {"ok": True})
        return True

    def _record_batch(self, path: str, body: Any) -> None:
        events = body.get("events") or []
        if "/worker/" in path:
            events = [e["payload"] for e in events]
        self.batches.append(events)
        self.post_times.append(time.monotonic())

    # -- v1 WebSocket --------------------------------------------------------------------------------

    async def _websocket(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from wsproto import ConnectionType, WSConnection
        from wsproto.events import AcceptConnection, CloseConnection, Ping, Request, TextMessage

        conn = WSConnection(ConnectionType.SERVER)
        conn.receive_data(head)
        for event in conn.events():
            if isinstance(event, Request):
                writer.write(conn.send(AcceptConnection()))
        self.ws_connections += 1
        self._ws = (conn, writer)
        me = self._ws
        text = ""
        while True:
            data = await reader.read(65536)
            if not data:
                break
            conn.receive_data(data)
            for event in conn.events():
                if isinstance(event, Ping):
                    writer.write(conn.send(event.response()))
                elif isinstance(event, CloseConnection):
                    if conn.state.name != "CLOSED":
                        writer.write(conn.send(event.response()))
                        await writer.drain()
                    if self._ws is me:
                        self._ws = None
                    return
                elif isinstance(event, TextMessage):
                    text += event.data
                    if event.message_finished:
                        for line in filter(None, text.split("\n")):
                            self._ws_message(json.loads(line))
                        text = ""
        if self._ws is me:
            self._ws = None

    def _ws_send(self, obj: Dict[str, Any]) -> None:
        from wsproto.events import TextMessage

        conn, writer = self._ws
        writer.write(conn.send(TextMessage(data=json.dumps(obj) + "\n")))

    def _ws_message(self, obj: Dict[str, Any]) -> None:
        kind = obj.get("type")
        if kind == "ack":
            self.acks.append(obj["seq"])
        elif kind == "keep_alive":
            self.keep_alives += 1
        elif kind == "resume":
            self.resumes.append(obj)
            for seq, message in self._host:
                if self.resend_all or seq > obj.get("last_received_seq", 0):
                    self._ws_send(message)

    # -- v2 SSE --------------------------------------------------------------------------------------

    async def _stream(self, writer: asyncio.StreamWriter, query: str, headers: Dict[str, str]) -> None:
        params = dict(p.partition("=")[::2] for p in query.split("&") if p)
        since = params.get("from_sequence_num")
        self.streams.append((since, headers.get("last-event-id")))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
                     b"connection: close\r\n\r\n: connected\n\n")
        queue: "asyncio.Queue[Any]" = asyncio.Queue()
        for event in self._client_events:
            if event["sequence_num"] > int(since or 0):
                queue.put_nowait(event)
        entry = (writer, queue)
        self._sse.append(entry)
        try:
            while True:
                event = await queue.get()
                if event is None:
                    writer.transport.abort()
                    return
                writer.write(f"event: client_event\nid: {event['sequence_num']}\ndata: {json.dumps(event)}\n\n"
                             .encode())
                await writer.drain()
        finally:
            self._sse.remove(entry)
