"""The stream-json protocol over one WebSocket (``claw --sdk-url ws(s)://...``), with resume after a drop.

``SdkUrlTransport`` has the interface of ``claw.cli.transport.Transport`` (``await read()``,
``write_nowait(obj)``, ``await write(obj)``, ``await close()``, ``closed``), so the stream-json host loop
serves a WebSocket exactly as it serves stdin/stdout. On the wire (docs/REMOTE.md is the reference):

- claw connects (through the one connection factory: proxies, CAs) with ``Authorization: Bearer
  <token>`` when a session token is known (``claw.remote.context.sdk_url_token``);
- each message is one NDJSON line sent as one TEXT WebSocket message; a message from the host may hold
  several lines;
- every object claw sends carries ``"seq"``: 1, 2, 3... for the whole process. The host acknowledges with
  ``{"type": "ack", "seq": N}`` (cumulative: everything up to N arrived); claw keeps what is not
  acknowledged, at most ``replay_limit`` messages (the oldest are dropped beyond that);
- the host may number its own messages with ``"seq"`` too: claw then drops a repeated number and answers
  ``{"type": "ack", "seq": N}`` (acks themselves carry no ``seq``);
- after a drop (anything but a normal close) claw reconnects with exponential back-off. Its first message
  on the new connection is ``{"type": "resume", "last_acked_seq": A, "last_received_seq": R,
  "replay_from_seq": F}``; then it sends again every message from ``F`` on (``F > A + 1`` means messages
  were dropped from the buffer), then carries on. The host drops repeated ``seq`` numbers and replays
  its own messages after ``R``;
- keep-alive: WebSocket pings every ``ping_interval`` seconds; a missing pong counts as a drop;
- a close with code 1000 from the host is the end of input (``read()`` returns None); codes that say
  retrying cannot help (1002, 1003, 1007, 1008, 1009, 1010, 4003) and a refused handshake (401, 403,
  404) end the session with an error, as does running out of reconnection attempts: ``read()`` raises
  that ``NetworkError`` once, then returns None, and further writes are dropped (``closed``).

Deliberately not here: what the messages mean (claw.cli.stream_json) and anything printed.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any, Deque, Dict, Iterable, List, Optional, Sequence, Tuple

from claw.errors import ClawError, NetworkError, UsageError

DEFAULT_PING_INTERVAL = 10.0
DEFAULT_RECONNECT_ATTEMPTS = 8
DEFAULT_REPLAY_LIMIT = 10000
MAX_MESSAGE_SIZE = 64 * 1024 * 1024
_FINAL_CODES = {1002, 1003, 1007, 1008, 1009, 1010, 4003}
_FINAL_STATUSES = {400, 401, 403, 404, 405}
_CLOSE_FLUSH = 5.0  # seconds close() waits for unsent messages to go out
_EOF = object()


def _line(obj: Dict[str, Any]) -> str:
    from claw.proto.ndjson import encode_line

    try:
        return encode_line(obj).decode("utf-8")
    except (TypeError, ValueError):
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":"), default=str) + "\n"


class SdkUrlTransport:
    """See the module docstring. Create, ``await connect()``, then use as a transport."""

    def __init__(self, url: str, net_config: Any, *, token: Optional[str] = None,
                 headers: Sequence[Tuple[str, str]] = (), ping_interval: Optional[float] = DEFAULT_PING_INTERVAL,
                 reconnect_attempts: int = DEFAULT_RECONNECT_ATTEMPTS, reconnect_delay: float = 0.5,
                 reconnect_max_delay: float = 10.0, replay_limit: int = DEFAULT_REPLAY_LIMIT,
                 connect_timeout: Optional[float] = None) -> None:
        from claw.net.url import parse_url

        try:
            parsed = parse_url(url)
        except ValueError as exc:
            raise UsageError(f"--sdk-url {url!r} is not a usable URL: {exc}",
                             hint="e.g. --sdk-url wss://host.example/session") from None
        if parsed.scheme not in ("ws", "wss", "http", "https"):
            raise UsageError(f"--sdk-url must be a ws:// or wss:// URL, not {parsed.scheme}://",
                             hint="e.g. --sdk-url wss://host.example/session")
        self.url = url
        self._net_config = net_config
        self._headers: List[Tuple[str, str]] = list(headers)
        if token:
            self._headers.append(("Authorization", f"Bearer {token}"))
        self._ping_interval = ping_interval
        self._attempts = max(1, reconnect_attempts)
        self._delay = reconnect_delay
        self._max_delay = reconnect_max_delay
        self._replay_limit = max(1, replay_limit)
        self._connect_timeout = connect_timeout
        self.closed = False
        self.connections = 0  # how many WebSocket connections were opened (1 + reconnections)
        self._ws: Any = None
        self._pending: Deque[Tuple[int, str]] = deque()  # (seq, line) not yet acknowledged
        self._next_seq = 1
        self._acked = 0  # highest seq the host acknowledged
        self._sent = 0  # highest seq sent on the current connection
        self._dropped_through = 0  # highest seq dropped from a full buffer
        self._received = 0  # highest seq of the host's numbered messages
        self._control: Deque[str] = deque()  # unnumbered lines to send first (resume, acks)
        self._inbox: Optional["asyncio.Queue[Any]"] = None
        self._wake: Optional[asyncio.Event] = None
        self._runner: Optional["asyncio.Task[None]"] = None
        self._closing = False

    # -- the transport interface --------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the first connection (retrying like a reconnection); ``NetworkError`` when it cannot."""
        self._inbox = asyncio.Queue()
        self._wake = asyncio.Event()
        ws = await self._open_with_retries(first=True)
        self._ws = ws
        self._runner = asyncio.ensure_future(self._run(ws))

    async def read(self) -> Optional[Dict[str, Any]]:
        if self._inbox is None:
            raise RuntimeError("SdkUrlTransport.read() before connect()")
        item = await self._inbox.get()
        if item is _EOF:
            self._inbox.put_nowait(_EOF)  # every later read() sees the end too
            return None
        if isinstance(item, ClawError):
            raise item
        return item

    def write_nowait(self, obj: Dict[str, Any]) -> None:
        if self.closed:
            return
        seq = self._next_seq
        self._next_seq += 1
        message = dict(obj)
        message["seq"] = seq
        self._pending.append((seq, _line(message)))
        while len(self._pending) > self._replay_limit:
            dropped, _ = self._pending.popleft()
            self._dropped_through = dropped
        if self._wake is not None:
            self._wake.set()

    async def write(self, obj: Dict[str, Any]) -> None:
        self.write_nowait(obj)

    async def close(self) -> None:
        """Send what is still unsent (bounded wait), close the WebSocket normally, stop."""
        if self._closing:
            return
        self._closing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _CLOSE_FLUSH
        while not self.closed and self._ws is not None and self._sent < self._next_seq - 1 \
                and loop.time() < deadline and self._runner is not None and not self._runner.done():
            await asyncio.sleep(0.01)
        self.closed = True
        runner, self._runner = self._runner, None
        if runner is not None and not runner.done():
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        ws, self._ws = self._ws, None
        if ws is not None and not ws.closed:
            try:
                await ws.aclose(1000, "claw is done")
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        if self._inbox is not None:
            self._inbox.put_nowait(_EOF)

    # -- state for tests and diagnostics --------------------------------------------------------------

    @property
    def unacknowledged(self) -> int:
        return len(self._pending)

    @property
    def last_acked_seq(self) -> int:
        return self._acked

    # -- connections --------------------------------------------------------------------------------

    async def _open(self) -> Any:
        from claw.net.ws import connect_websocket

        ws = await connect_websocket(self.url, self._net_config, headers=self._headers,
                                     max_message_size=MAX_MESSAGE_SIZE, ping_interval=self._ping_interval,
                                     connect_timeout=self._connect_timeout)
        self.connections += 1
        return ws

    async def _open_with_retries(self, *, first: bool) -> Any:
        delay = self._delay
        last: Optional[NetworkError] = None
        for attempt in range(self._attempts):
            if attempt or not first:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_delay)
            try:
                return await self._open()
            except NetworkError as exc:
                last = exc
                if exc.status in _FINAL_STATUSES or (exc.kind == "tls_verify"):
                    break
        assert last is not None
        what = "connect to" if first else "reconnect to"
        raise NetworkError(f"cannot {what} the --sdk-url host: {last.message}", kind=last.kind,
                           status=last.status, hint=last.hint or "check the --sdk-url host and the network",
                           retryable=False)

    async def _run(self, ws: Any) -> None:
        """Serve connections until the host ends the session, or reconnecting fails."""
        try:
            while True:
                reader = asyncio.ensure_future(self._reader(ws))
                sender = asyncio.ensure_future(self._sender(ws))
                try:
                    await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in (reader, sender):
                        if not task.done():
                            task.cancel()
                    await asyncio.gather(reader, sender, return_exceptions=True)
                if not ws.closed:  # the sender failed first: make sure the connection is gone
                    try:
                        await ws.aclose(1011, "send failed")
                    except Exception:  # noqa: BLE001
                        pass
                code = ws.close_code
                if code == 1000:
                    self._finish(None)
                    return
                if code in _FINAL_CODES:
                    reason = f" ({ws.close_reason})" if ws.close_reason else ""
                    self._finish(NetworkError(f"the --sdk-url host closed the connection with code "
                                              f"{code}{reason}", kind="closed", retryable=False))
                    return
                try:
                    ws = await self._open_with_retries(first=False)
                except NetworkError as exc:
                    self._finish(exc)
                    return
                self._ws = ws
                self._resume()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug here must end input, not hang the session
            self._finish(NetworkError(f"the --sdk-url connection failed: {type(exc).__name__}: {exc}",
                                      kind="closed"))

    def _resume(self) -> None:
        """After a reconnection: announce where things stand, then send every unacknowledged message."""
        first = self._pending[0][0] if self._pending else self._next_seq
        self._sent = first - 1
        self._control.clear()
        self._control.append(_line({"type": "resume", "last_acked_seq": self._acked,
                                    "last_received_seq": self._received, "replay_from_seq": first}))
        assert self._wake is not None
        self._wake.set()

    def _finish(self, error: Optional[NetworkError]) -> None:
        self.closed = True
        assert self._inbox is not None
        if error is not None:
            self._inbox.put_nowait(error)
        self._inbox.put_nowait(_EOF)

    # -- the two directions ---------------------------------------------------------------------------

    async def _sender(self, ws: Any) -> None:
        wake = self._wake
        assert wake is not None
        while True:
            wake.clear()
            while self._control:
                line = self._control[0]
                await ws.send_text(line)
                self._control.popleft()
            pending = self._pending
            while pending and self._sent < pending[-1][0]:
                index = self._sent + 1 - pending[0][0]
                if index < 0:  # dropped from a full buffer while disconnected
                    index = 0
                seq, line = pending[index]
                await ws.send_text(line)
                self._sent = seq
                if self._control:
                    break  # an ack to send meanwhile
            if self._control or (pending and self._sent < pending[-1][0]):
                continue
            await wake.wait()

    async def _reader(self, ws: Any) -> None:
        from claw.proto.ndjson import NDJSONDecoder, NDJSONError

        inbox = self._inbox
        assert inbox is not None
        while True:
            try:
                message = await ws.recv()
            except NetworkError:
                return
            data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
            decoder = NDJSONDecoder(max_line_size=MAX_MESSAGE_SIZE)
            try:
                values: Iterable[Any] = decoder.feed(data) + decoder.close(accept_unterminated=True)
            except NDJSONError as exc:
                values = list(exc.values)
                inbox.put_nowait(UsageError(f"the --sdk-url host sent a message that is not JSON: "
                                            f"{exc.excerpt!r}", kind="invalid_input",
                                            hint="send one JSON object per line (NDJSON)"))
            for value in values:
                self._incoming(value)

    def _incoming(self, value: Any) -> None:
        inbox = self._inbox
        assert inbox is not None
        if not isinstance(value, dict):
            inbox.put_nowait(UsageError(f"the --sdk-url host sent JSON that is not an object: "
                                        f"{json.dumps(value)[:80]}", kind="invalid_input",
                                        hint='every message is a JSON object with a "type" field'))
            return
        seq = value.get("seq")
        numbered = isinstance(seq, int) and not isinstance(seq, bool)
        if value.get("type") == "ack":
            if numbered:
                self._on_ack(seq)
            return
        if numbered:
            if seq <= self._received:
                return  # a message replayed after a reconnection: already delivered
            self._received = seq
            self._control.append(_line({"type": "ack", "seq": seq}))
            assert self._wake is not None
            self._wake.set()
        inbox.put_nowait(value)

    def _on_ack(self, seq: int) -> None:
        if seq <= self._acked:
            return
        self._acked = min(seq, self._next_seq - 1)
        pending = self._pending
        while pending and pending[0][0] <= self._acked:
            pending.popleft()
