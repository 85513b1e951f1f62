"""Sans-IO Server-Sent Events decoder (WHATWG HTML, "event stream interpretation").

``SSEDecoder.feed(bytes)`` takes whatever chunks the transport delivers and returns the events that
became complete; ``close()`` ends the stream. It implements the spec's parsing rules exactly: ``\\r``,
``\\n`` and ``\\r\\n`` line ends (a ``\\r\\n`` split across two chunks is one line end), a UTF-8 BOM at
the start of the stream, comment lines (``:``; counted in ``comments``, since keep-alive comments are
proof of liveness), fields without a colon, one leading space after the colon stripped, ``data`` lines
joined with ``\\n``, an empty ``event`` meaning ``message``, ``id`` values containing NUL ignored, the
last event id persisting across events, ``retry`` only when all ASCII digits, nothing dispatched for an
event without data, and an unterminated event at end of stream discarded (``close()`` reports it through
``truncated`` and ``pending`` instead of dispatching it).

Speed: bytes are searched only where the last search stopped (an unfinished line is kept as a list of
chunks and joined once), lines are split as bytes and decoded from UTF-8 a run or a column at a time,
never per byte (a line end is never part of a multi-byte sequence, so this equals per-line decoding),
and streams made of regular blocks (``event:``/``id:``/``data:`` lines in a fixed order, as the
Anthropic and OpenAI APIs send) are framed column-wise with C-level operations instead of a Python
loop per line. The complete field lines of an event whose blank line has not arrived yet are held
unparsed, so the next chunk starts on a block boundary and takes the fast path too (comments and
``retry`` lines are never held: they take effect as they arrive). Anything else takes the
line-by-line path, the plain reading of the spec; both paths are tested against a literal reference
implementation for every chunking.

Errors: a peer that exceeds the size limits raises ``SSEError``, which is a ``claw.errors.NetworkError``
with ``kind="protocol"`` (the peer broke the wire protocol; ``failure_class`` ``provider_transport``)
and also a ``ValueError``, so sans-IO callers can catch it either way. Callers at higher layers may
re-raise it with a more specific class.

What it deliberately does not do: no I/O, no reconnection (``last_event_id`` and ``retry`` are exposed
for the caller that reconnects), no JSON parsing of ``data``, no EventSource readyState.
"""

from __future__ import annotations

from itertools import repeat
from typing import NamedTuple, Optional

from claw.errors import NetworkError

__all__ = ["DEFAULT_MAX_SIZE", "SSEDecoder", "SSEError", "SSEEvent"]

DEFAULT_MAX_SIZE = 16 * 1024 * 1024

_tuple_new = tuple.__new__


class SSEError(NetworkError, ValueError):
    """The event stream broke a limit or the decoder was misused (fed after ``close()``). After a
    limit error the decoder's state is unspecified: drop the connection and the decoder."""

    kind = "protocol"


class SSEEvent(NamedTuple):
    """One dispatched event.

    ``event`` is the type (``"message"`` when the stream gave none or an empty one), ``data`` the data
    lines joined with ``\\n``, ``id`` the last event id in force when the event was dispatched (None
    until the stream sent an ``id`` field; ``""`` after an empty one resets it), ``retry`` the
    reconnection time in milliseconds given within this event's block, if any.

    A typed, immutable NamedTuple rather than a frozen dataclass: building a frozen dataclass costs
    about 1.4 microseconds, more than the whole per-event budget of the framer, while NamedTuple
    instances can be built in C. Compare events with ``==`` against other ``SSEEvent`` values.
    """

    event: str = "message"
    data: str = ""
    id: Optional[str] = None
    retry: Optional[int] = None


class SSEDecoder:
    """Incremental, sans-IO SSE decoder. See the module docstring for the rules it follows.

    ``max_line_size`` bounds the bytes of one unfinished line kept between feeds; ``max_event_size``
    bounds one event's data (the pending data plus the unfinished line while it is being received, and
    each dispatched event's ``data``). Exceeding either raises ``SSEError``.

    Public state, readable at any time: ``comments`` (comment lines seen), ``last_event_id`` (the
    spec's "last event ID string", updated at each blank line, for a ``Last-Event-ID`` header on
    reconnect), ``retry`` (the latest valid reconnection time in ms, or None), ``pending`` (True when
    an unfinished line or an undispatched event is held), ``truncated`` (after ``close()``: True when
    such trailing data was dropped), ``closed``.
    """

    def __init__(
        self, *, max_line_size: int = DEFAULT_MAX_SIZE, max_event_size: int = DEFAULT_MAX_SIZE
    ) -> None:
        if max_line_size <= 0 or max_event_size <= 0:
            raise ValueError("SSE size limits must be positive")
        self.max_line_size = max_line_size
        self.max_event_size = max_event_size
        self.comments = 0
        self.last_event_id: str | None = None
        self.retry: int | None = None
        self.truncated = False
        self.closed = False
        # Unfinished line: bytes after the last line end seen, kept as chunks (joined once).
        self._tail: list[bytes] = []
        self._tail_len = 0
        self._skip_lf = False  # the last chunk ended in "\r": a "\n" starting the next is its pair
        self._started = False  # the BOM check is done
        # The event being built (the spec's buffers).
        self._data: list[str] = []
        self._data_len = 0
        self._event = ""
        self._id: str | None = None  # last event ID buffer
        self._event_retry: int | None = None
        self._dirty = False  # a field line was parsed since the last blank line
        # Complete field lines of the event in progress, not parsed yet (see _process).
        self._held: list[bytes] = []
        self._held_len = 0
        self._names: dict[bytes, str] = {}  # b"event: X" line -> "X"

    @property
    def pending(self) -> bool:
        """True when an unfinished line or an event without its closing blank line is held."""
        return bool(self._tail) or bool(self._held) or self._dirty

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Add bytes from the stream; return the events they completed, in order."""
        if self.closed:
            raise SSEError("SSE stream fed after close()")
        if type(data) is not bytes:
            data = bytes(data)
        if not data:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if data[0] == 10:
                data = data[1:]
                if not data:
                    return []
        cr = data.rfind(b"\r")
        end = data.rfind(b"\n")
        if cr > end:
            end = cr
        if end < 0:
            self._tail.append(data)
            self._tail_len += len(data)
            self._check_retained()
            return []
        end += 1
        if self._tail:
            self._tail.append(data[:end])
            complete = b"".join(self._tail)
            self._tail = []
            self._tail_len = 0
        else:
            complete = data[:end]  # the same object when the chunk ends with a line end
        if end < len(data):
            rest = data[end:]
            self._tail.append(rest)
            self._tail_len = len(rest)
        elif cr == end - 1:
            self._skip_lf = True
        if not self._started:
            self._started = True
            if complete.startswith(b"\xef\xbb\xbf"):
                complete = complete[3:]
        if cr >= 0:
            complete = complete.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = complete.split(b"\n")
        lines.pop()  # complete ends with a line end
        events = self._process(lines)
        if self._tail or self._held or self._data:
            self._check_retained()
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream. Per the spec an event without its closing blank line is not dispatched, so
        this returns no events; ``truncated`` tells whether such trailing data was dropped."""
        if self.closed:
            return []
        if self._held:
            # Parse the held field lines for their side effects (the id buffer); no blank line
            # follows them, so nothing is dispatched.
            held, self._held, self._held_len = self._held, [], 0
            self._lines(held)
        self.truncated = self.pending
        self.closed = True
        self._tail = []
        self._tail_len = 0
        self._data = []
        self._data_len = 0
        self._dirty = False
        return []

    # -- internals ---------------------------------------------------------------------------

    def _check_retained(self) -> None:
        if self._tail_len > self.max_line_size:
            raise SSEError(
                f"SSE line longer than {self.max_line_size} bytes",
                hint="the server sent an unterminated or oversized line; raise the limit if expected",
            )
        if self._data_len + self._held_len + self._tail_len > self.max_event_size:
            self._event_too_big()

    def _event_too_big(self) -> None:
        raise SSEError(
            f"SSE event larger than {self.max_event_size} bytes",
            hint="the server sent an oversized event; raise the limit if expected",
        )

    def _process(self, lines: list[bytes]) -> list[SSEEvent]:
        """Interpret complete lines (bytes, line ends removed).

        Field lines after the last blank line (the start of the next event) are held unparsed until
        the rest of their event arrives, so that the next feed starts from a clean state and can be
        framed column-wise whole. Lines whose effect is not tied to a dispatch (comments, ``retry``)
        are never held; when they occur, the event in progress is parsed line by line instead.
        """
        if self._held:
            if b"" not in lines and self._holdable(lines):
                self._hold(lines)
                return []
            lines = self._held + lines
            self._held = []
            self._held_len = 0
        events: list[SSEEvent] = []
        if self._dirty:
            # Finish the event in progress line by line, up to and including its blank line.
            try:
                cut = lines.index(b"") + 1
            except ValueError:
                return self._lines(lines)
            events = self._lines(lines[:cut])
            lines = lines[cut:]
        if lines:
            fast = self._columns(lines)
            if fast is not None:
                events += fast[0]
                lines = lines[fast[1] :]
        if not lines:
            return events
        try:
            last_blank = len(lines) - lines[::-1].index(b"")
        except ValueError:
            last_blank = 0
        if last_blank:
            events += self._lines(lines[:last_blank])
            lines = lines[last_blank:]
        if lines:
            if self._holdable(lines):
                self._hold(lines)
            else:
                events += self._lines(lines)
        return events

    @staticmethod
    def _holdable(lines: list[bytes]) -> bool:
        for line in lines:
            if line[:1] == b":" or line.startswith(b"retry"):
                return False
        return True

    def _hold(self, lines: list[bytes]) -> None:
        self._held += lines
        self._held_len += sum(map(len, lines)) + len(lines)

    def _columns(self, lines: list[bytes]) -> tuple[list[SSEEvent], int] | None:
        """Frame a run of identically shaped blocks column-wise, from a clean state.

        The shape comes from the first block: one to three lines, each ``data: ``, ``event: `` or
        ``id: `` (each at most once, ``data`` required), then a blank line. Every following block must
        have the same shape. Returns the events and the number of lines consumed, or None when the run
        does not fit (the caller then takes the line-by-line path for all of it).
        """
        try:
            stride = lines.index(b"", 0, 4) + 1
        except ValueError:
            return None
        if stride < 2:
            return None
        shape = []
        for line in lines[: stride - 1]:
            if line.startswith(b"data: "):
                field = b"data: "
            elif line.startswith(b"event: "):
                field = b"event: "
            elif line.startswith(b"id: "):
                field = b"id: "
            else:
                return None
            if field in shape:
                return None
            shape.append(field)
        if b"data: " not in shape:
            return None
        n = len(lines) // stride * stride
        count = n // stride
        if any(lines[stride - 1 : n : stride]):
            return None
        names = ids = datas = None
        for j, field in enumerate(shape):
            column = lines[j:n:stride]
            if field == b"event: ":
                names = self._event_names(column)
                if names is None:
                    return None
                continue
            joined = b"\n".join(column)
            if field == b"id: " and b"\0" in joined:
                return None
            if field == b"data: " and len(joined) > self.max_event_size:
                if max(map(len, column)) - 6 > self.max_event_size:
                    self._event_too_big()
            values = joined.decode("utf-8", "replace").split("\n" + field.decode())
            if len(values) != count:
                return None
            values[0] = values[0][len(field) :]
            if field == b"id: ":
                ids = values
            else:
                datas = values
        if names is None:
            names = repeat("message", count)
        if ids is None:
            ids = repeat(self._id, count)
        else:
            self._id = ids[-1]
        self.last_event_id = self._id
        events = list(
            map(_tuple_new, repeat(SSEEvent, count), zip(names, datas, ids, repeat(None, count)))
        )
        return events, n

    def _event_names(self, column: list[bytes]) -> list[str] | None:
        """Decoded ``event`` values of a column of ``event: X`` lines, through a small cache (streams
        repeat a handful of types); None when a line is not of that form."""
        cache = self._names
        names = list(map(cache.get, column))
        if None in names:
            if len(cache) > 256:
                cache.clear()
            for i, line in enumerate(column):
                if names[i] is None:
                    if not line.startswith(b"event: "):
                        return None
                    name = line[7:].decode("utf-8", "replace") or "message"
                    cache[line] = names[i] = name
        return names

    def _lines(self, raw: list[bytes]) -> list[SSEEvent]:
        """The spec's line-by-line interpretation (the reference path), from any state."""
        if not raw:
            return []
        # One decode for the whole run (a line end is never inside a UTF-8 sequence).
        lines = b"\n".join(raw).decode("utf-8", "replace").split("\n")
        events: list[SSEEvent] = []
        append = events.append
        data = self._data
        data_len = self._data_len
        dirty = self._dirty
        event = self._event
        id_buffer = self._id
        retry = self._event_retry
        last_event_id = self.last_event_id
        limit = self.max_event_size
        for line in lines:
            if not line:
                # Blank line: dispatch.
                last_event_id = id_buffer
                if data:
                    joined = "\n".join(data)
                    if len(joined) > limit:
                        self._event_too_big()
                    append(_tuple_new(SSEEvent, (event or "message", joined, id_buffer, retry)))
                    data = []
                    data_len = 0
                event = ""
                retry = None
                dirty = False
                continue
            if line.startswith("data: "):  # the common cases first, without partition
                dirty = True
                value = line[6:]
                data.append(value)
                data_len += len(value) + 1
                if data_len > limit:
                    self._event_too_big()
                continue
            if line.startswith("event: "):
                dirty = True
                event = line[7:]
                continue
            field, colon, value = line.partition(":")
            if not field:
                self.comments += 1
                continue
            dirty = True
            if value[:1] == " ":
                value = value[1:]
            if field == "data":
                data.append(value)
                data_len += len(value) + 1
                if data_len > limit:
                    self._event_too_big()
            elif field == "event":
                event = value
            elif field == "id":
                if "\0" not in value:
                    id_buffer = value
            elif field == "retry":
                if value and value.isascii() and value.isdigit():
                    self.retry = retry = int(value)
            # any other field is ignored
        self._data = data
        self._data_len = data_len
        self._dirty = dirty
        self._event = event
        self._id = id_buffer
        self._event_retry = retry
        self.last_event_id = last_event_id
        return events
