"""Message transports of the stream-json protocol: one JSON object in, one JSON object out.

An embedding host (the Claude Agent SDK, or any program) drives claw with NDJSON: one JSON object per
line in each direction. ``Transport`` is what the host loop (claw.cli.stream_json) talks to:

- ``await read()`` returns the next object, or ``None`` at end of input. A line that is not a JSON
  object raises ``UsageError`` (kind ``invalid_input``) naming the line; the transport stays usable and
  the next ``read()`` returns the following line.
- ``write_nowait(obj)`` writes one object at once, in order (event sinks are synchronous);
  ``await write(obj)`` does the same from coroutines. A peer that went away does not raise: the
  transport marks itself ``closed`` and drops further output.

``prompt_of(message)`` checks a ``user`` message's content (a string or content blocks).

``StdioTransport`` reads stdin on a daemon thread (regular files, pipes and terminals alike, without
blocking the event loop) and writes UTF-8 lines to stdout, flushed per line. A WebSocket transport
(``--sdk-url``) implements the same three methods.

Deliberately not here: what the messages mean (the host loop), and anything printed for people
(stderr belongs to the caller).
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections import deque
from typing import IO, Any, Deque, Dict, Optional

from claw.errors import UsageError
from claw.proto.ndjson import NDJSONDecoder, NDJSONError
from claw.proto.ndjson import encode_line as _ndjson_line

_EOF = object()
CHUNK = 64 * 1024
MAX_LINE_BYTES = 64 * 1024 * 1024  # a single message larger than this is refused, not buffered


class Transport:
    """The interface; see the module docstring."""

    closed: bool = False

    async def read(self) -> Optional[Dict[str, Any]]:  # pragma: no cover - interface
        raise NotImplementedError

    def write_nowait(self, obj: Dict[str, Any]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    async def write(self, obj: Dict[str, Any]) -> None:
        self.write_nowait(obj)

    async def close(self) -> None:
        self.closed = True


def encode_line(obj: Dict[str, Any]) -> bytes:
    """One NDJSON line (claw.proto.ndjson): compact UTF-8 JSON, never a raw newline. A value JSON cannot
    hold (a Path in some metadata) is written as its string rather than failing the message."""
    try:
        return _ndjson_line(obj)
    except (TypeError, ValueError):
        text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), default=str)
        return text.encode("ascii") + b"\n"


def _as_usage_error(exc: NDJSONError) -> UsageError:
    where = f"stdin line {exc.lineno}" if exc.lineno else "stdin"
    text = exc.message.replace(f"NDJSON line {exc.lineno}", where) if exc.lineno else exc.message
    if exc.excerpt:
        text = f"{text}: {exc.excerpt!r}"
    return UsageError(text, kind="invalid_input",
                      hint=exc.hint or "send one JSON object per line (NDJSON); see docs/EMBEDDING.md")


def _raw_reader(source: Any) -> Any:
    """A blocking ``read(n)`` for the reader thread. For a real file descriptor this is ``os.read``:
    a thread blocked in it holds no lock of the ``sys.stdin`` buffer object, so the interpreter can
    exit (SIGTERM, a host that keeps stdin open) without aborting on that lock."""
    try:
        fd = source.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    if fd is not None:
        import os

        return lambda n: os.read(fd, n)
    return getattr(source, "read1", None)


class StdioTransport(Transport):
    """NDJSON over a pair of streams (stdin/stdout of the process, or any file objects in tests)."""

    def __init__(self, stdin: IO[Any], stdout: IO[Any]) -> None:
        self._in = getattr(stdin, "buffer", stdin)
        text = isinstance(stdout, io.TextIOBase)
        self._out_text = stdout if text else None  # flushed first: it may hold earlier writes
        self._out_bytes = getattr(stdout, "buffer", None) if text else stdout
        self._chunks: Optional["asyncio.Queue[Any]"] = None
        self._thread: Optional[threading.Thread] = None
        self._decoder = NDJSONDecoder(max_line_size=MAX_LINE_BYTES)
        self._ready: Deque[Any] = deque()  # decoded values and errors, in stream order
        self._eof = False
        self.closed = False

    # -- reading --------------------------------------------------------------------------------

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._chunks = asyncio.Queue()
        chunks = self._chunks
        source = self._in
        read = _raw_reader(source)

        def put(item: Any) -> bool:
            try:
                loop.call_soon_threadsafe(chunks.put_nowait, item)
                return True
            except RuntimeError:  # the loop is closed: nobody is listening any more
                return False

        def pump() -> None:
            while True:
                try:
                    data = read(CHUNK) if read is not None else source.readline()
                except (OSError, ValueError):  # closed or broken stdin: end of input
                    data = b""
                if isinstance(data, str):
                    data = data.encode("utf-8", "surrogateescape")
                if not data:
                    put(_EOF)
                    return
                if not put(data):
                    return

        self._thread = threading.Thread(target=pump, name="claw-stdin", daemon=True)
        self._thread.start()

    def _decode(self, data: Any) -> None:
        try:
            if data is _EOF:
                values = self._decoder.close(accept_unterminated=True)
            else:
                values = self._decoder.feed(data)
        except NDJSONError as exc:
            self._ready.extend(exc.values)
            self._ready.append(_as_usage_error(exc))
            if data is not _EOF:
                self._decode(b"")  # the lines after the bad one, already received
            else:
                self._ready.append(_EOF)
            return
        self._ready.extend(values)
        if data is _EOF:
            self._ready.append(_EOF)

    async def read(self) -> Optional[Dict[str, Any]]:
        while True:
            while self._ready:
                item = self._ready.popleft()
                if item is _EOF:
                    self._eof = True
                    return None
                if isinstance(item, UsageError):
                    raise item
                if not isinstance(item, dict):
                    raise UsageError(f"a stdin line holds JSON that is not an object: {json.dumps(item)[:80]}",
                                     kind="invalid_input",
                                     hint='every message is a JSON object with a "type" field')
                return item
            if self._eof:
                return None
            if self._chunks is None:
                self._start()
            assert self._chunks is not None
            self._decode(await self._chunks.get())

    # -- writing --------------------------------------------------------------------------------

    def write_nowait(self, obj: Dict[str, Any]) -> None:
        if self.closed:
            return
        data = encode_line(obj)
        try:
            if self._out_bytes is not None:
                if self._out_text is not None:
                    self._out_text.flush()
                self._out_bytes.write(data)
                self._out_bytes.flush()
            else:  # a text stream without a binary layer (io.StringIO in tests)
                assert self._out_text is not None
                self._out_text.write(data.decode("utf-8"))
                self._out_text.flush()
        except (BrokenPipeError, ConnectionError, ValueError, OSError):
            # The host closed our stdout (or the stream is closed): nothing can reach it any more.
            self.closed = True


def prompt_of(message: Dict[str, Any]) -> Any:
    """The content of a ``user`` message (a string or a list of content blocks), or the ClawError that
    says what is wrong with it."""
    body = message.get("message")
    if not isinstance(body, dict):
        return UsageError("a user message needs a \"message\" object",
                          kind="invalid_input",
                          hint='send {"type": "user", "message": {"role": "user", "content": "..."}}')
    content = body.get("content")
    if isinstance(content, str):
        if not content.strip():
            return UsageError("a user message has empty content", kind="invalid_input")
        return content
    if isinstance(content, list) and content and all(isinstance(b, dict) and isinstance(b.get("type"), str)
                                                     for b in content):
        return content
    return UsageError("a user message's content must be a string or a non-empty list of content blocks",
                      kind="invalid_input",
                      hint='e.g. "content": "hello" or "content": [{"type": "text", "text": "hello"}]')
