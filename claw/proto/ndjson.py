"""Sans-IO NDJSON (newline-delimited JSON) framing: bytes in, JSON values out, and back.

``NDJSONDecoder.feed(bytes)`` returns the JSON values of the lines the bytes completed. Lines end with
``\\n``; a ``\\r`` before it is tolerated (JSON whitespace), blank and whitespace-only lines are
skipped, a UTF-8 BOM at the start of the stream is dropped. Each line is UTF-8. A line that is not
valid JSON raises ``NDJSONError`` carrying its 1-based line number and a short excerpt; the decoder
stays usable: the values decoded before the bad line in that same call are on the error
(``error.values``), and the lines after it are kept, so the next ``feed()`` (``feed(b"")`` will do)
carries on with the line after the bad one. A line longer than ``max_line_size`` raises the same way
and is skipped up to its end, without being buffered.

``close()`` ends the stream. A trailing line without its ``\\n`` is flagged: by default it raises
``NDJSONError`` with ``truncated=True``; with ``close(accept_unterminated=True)`` it is decoded as a
last value, as line readers that yield a final unterminated line do.

``encode_line(obj)`` gives one compact line: ``separators=(",", ":")``, ``ensure_ascii=False``,
``allow_nan=False`` (NaN and Infinity are not JSON), ``\\n``-terminated. JSON escapes every control
character, so the line never contains a raw newline; ``U+2028``, ``U+2029`` and ``U+0085`` are
escaped as well, so readers that split on Unicode line boundaries (``str.splitlines``) see one line
too. Strings holding lone surrogates fall back to ASCII escapes instead of failing.

Errors are ``NDJSONError``: a ``claw.errors.NetworkError`` with ``kind="protocol"`` (the peer broke
the framing) and a ``ValueError``. The stream-json input layer may re-raise it as a usage error.

What it deliberately does not do: no I/O, no schema checks on the values (that is the caller's
protocol layer), no JSON text sequences (RFC 7464) or concatenated JSON without newlines.
``json`` is imported on first use, not at import time.
"""

from __future__ import annotations

from typing import Any

from claw.errors import NetworkError

__all__ = ["DEFAULT_MAX_LINE_SIZE", "NDJSONDecoder", "NDJSONError", "encode_line"]

DEFAULT_MAX_LINE_SIZE = 16 * 1024 * 1024
_EXCERPT = 60


class NDJSONError(NetworkError, ValueError):
    """A line that is not valid JSON, too long, or cut off at the end of the stream."""

    kind = "protocol"

    def __init__(
        self,
        message: str,
        *,
        lineno: int | None = None,
        excerpt: str = "",
        values: list | None = None,
        truncated: bool = False,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.lineno = lineno
        self.excerpt = excerpt
        self.values = values if values is not None else []
        self.truncated = truncated


def _excerpt(line: str | bytes) -> str:
    if isinstance(line, bytes):
        line = line[: _EXCERPT * 4].decode("utf-8", "replace")
    line = line.strip()
    return line if len(line) <= _EXCERPT else line[:_EXCERPT] + "..."


class NDJSONDecoder:
    """Incremental NDJSON decoder; see the module docstring.

    ``lineno`` is the number of lines completed so far (blank ones included), ``pending`` tells
    whether an unterminated line is held, ``truncated`` (after ``close()``) whether one was dropped.
    """

    def __init__(self, *, max_line_size: int = DEFAULT_MAX_LINE_SIZE) -> None:
        if max_line_size <= 0:
            raise ValueError("max_line_size must be positive")
        import json

        self._loads = json.loads
        self.max_line_size = max_line_size
        self.lineno = 0
        self.truncated = False
        self.closed = False
        self._tail: list[bytes] = []
        self._tail_len = 0
        self._skipping = False  # discarding the rest of an oversized line
        self._started = False  # BOM check done
        self._queue: list[str | bytes] = []  # complete lines not parsed yet
        self._pos = 0

    @property
    def pending(self) -> bool:
        """True when bytes of an unterminated line are held."""
        return bool(self._tail)

    def feed(self, data: bytes) -> list[Any]:
        """Add bytes; return the values of the lines they completed. See the module docstring for
        what happens on a bad line."""
        if self.closed:
            raise NDJSONError("NDJSON stream fed after close()")
        if type(data) is not bytes:
            data = bytes(data)
        if data:
            self._split(data)
        return self._drain()

    def close(self, *, accept_unterminated: bool = False) -> list[Any]:
        """End of stream: return the values of lines still queued, then deal with a trailing line
        that has no ``\\n`` (raise, or decode it with ``accept_unterminated=True``)."""
        if self.closed:
            return []
        values = self._drain()
        tail = b"".join(self._tail)
        self._tail = []
        self._tail_len = 0
        self.closed = True
        if self._skipping or not tail.strip():
            return values
        self.truncated = True
        self.lineno += 1
        if not accept_unterminated:
            raise NDJSONError(
                f"NDJSON stream ended inside line {self.lineno} (no final newline)",
                lineno=self.lineno,
                excerpt=_excerpt(tail),
                values=values,
                truncated=True,
                hint="the peer closed the stream in the middle of a message",
            )
        if not self._started and tail.startswith(b"\xef\xbb\xbf"):
            tail = tail[3:]
        value, error = self._parse(tail, self.lineno)
        if error is not None:
            error.values = values
            error.truncated = True
            raise error
        values.append(value)
        return values

    # -- internals ---------------------------------------------------------------------------

    def _split(self, data: bytes) -> None:
        """Move the complete lines of ``data`` (with any held tail) onto the queue."""
        if self._skipping:
            end = data.find(b"\n")
            if end < 0:
                return
            self._skipping = False
            self.lineno += 1  # the oversized line, already reported
            data = data[end + 1 :]
            if not data:
                return
        end = data.rfind(b"\n")
        if end < 0:
            self._tail.append(data)
            self._tail_len += len(data)
            if self._tail_len > self.max_line_size:
                self._drain_then_oversized()
            return
        end += 1
        if self._tail:
            self._tail.append(data[:end])
            complete = b"".join(self._tail)
            self._tail = []
            self._tail_len = 0
        else:
            complete = data[:end]
        if end < len(data):
            rest = data[end:]
            self._tail.append(rest)
            self._tail_len = len(rest)
        if not self._started:
            self._started = True
            if complete.startswith(b"\xef\xbb\xbf"):
                complete = complete[3:]
        try:
            lines: list[str | bytes] = complete.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            lines = complete.split(b"\n")  # decoded line by line, so the bad one can be named
        lines.pop()
        if self._pos >= len(self._queue):
            self._queue = lines
            self._pos = 0
        else:
            self._queue += lines
        if self._tail_len > self.max_line_size:
            self._drain_then_oversized()

    def _drain_then_oversized(self) -> None:
        # The unterminated line is already too long; report it after the complete lines before it.
        values = self._drain()
        self._oversized(values)

    def _oversized(self, values: list) -> None:
        excerpt = _excerpt(self._tail[0]) if self._tail else ""
        self._tail = []
        self._tail_len = 0
        self._skipping = True
        raise NDJSONError(
            f"NDJSON line {self.lineno + 1} longer than {self.max_line_size} bytes",
            lineno=self.lineno + 1,
            excerpt=excerpt,
            values=values,
            hint="the line is skipped; raise the limit if such messages are expected",
        )

    def _drain(self) -> list[Any]:
        queue = self._queue
        pos = self._pos
        end = len(queue)
        values: list[Any] = []
        loads = self._loads
        limit = self.max_line_size
        lineno = self.lineno
        try:
            while pos < end:
                line = queue[pos]
                pos += 1
                lineno += 1
                if not line:
                    continue
                if len(line) > limit:
                    raise NDJSONError(
                        f"NDJSON line {lineno} longer than {limit} bytes",
                        lineno=lineno,
                        excerpt=_excerpt(line),
                        values=values,
                        hint="the line is skipped; raise the limit if such messages are expected",
                    )
                if line.__class__ is str:
                    try:
                        values.append(loads(line))
                        continue
                    except Exception:  # noqa: BLE001 - parsed again below to classify
                        pass
                value, error = self._parse(line, lineno)
                if error is not None:
                    error.values = values
                    raise error
                if value is not _BLANK:
                    values.append(value)
        finally:
            self._pos = pos
            self.lineno = lineno
            if pos >= end:
                self._queue = []
                self._pos = 0
        return values

    def _parse(self, line: str | bytes, lineno: int) -> tuple[Any, NDJSONError | None]:
        """Decode one line slowly, returning (value, None), (_BLANK, None) or (None, error)."""
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return None, NDJSONError(
                    f"NDJSON line {lineno} is not valid UTF-8 (byte {exc.start})",
                    lineno=lineno,
                    excerpt=_excerpt(line),
                )
        if not line.strip():
            return _BLANK, None
        try:
            return self._loads(line), None
        except RecursionError:
            reason = "nested too deeply"
        except ValueError as exc:  # json.JSONDecodeError, or an integer too long to convert
            reason = getattr(exc, "msg", None) or str(exc)
            if hasattr(exc, "colno"):
                reason = f"{reason} at column {exc.colno}"
        return None, NDJSONError(
            f"NDJSON line {lineno} is not valid JSON: {reason}",
            lineno=lineno,
            excerpt=_excerpt(line),
        )


_BLANK = object()

_encoder: Any = None
_ascii_encoder: Any = None


def encode_line(obj: Any) -> bytes:
    """One NDJSON line for ``obj``: compact JSON, UTF-8, ``\\n``-terminated, never a raw newline."""
    global _encoder, _ascii_encoder
    if _encoder is None:
        import json

        _encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        _ascii_encoder = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    text = _encoder.encode(obj)
    if "\u2028" in text or "\u2029" in text or "\x85" in text:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085")
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only an ASCII escape can carry it
        return (_ascii_encoder.encode(obj) + "\n").encode("ascii")
