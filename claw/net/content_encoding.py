"""Content-Encoding for HTTP response bodies: gzip and deflate, undone piece by piece.

``decoder_for(content_encoding)`` gives a ``Decoder`` for a ``Content-Encoding`` header that lists only
gzip/x-gzip/deflate (in the order applied; they are undone in reverse), or None when there is nothing to
undo or a coding is unknown (the body is then passed through as it came). ``Decoder.feed`` yields the
decoded output in pieces of at most 256 KiB, so a small compressed body cannot fill memory at once;
concatenated gzip members and raw deflate without the zlib wrapper (old servers) are read too.

It deliberately does no I/O and raises nothing of its own: a corrupt body calls the ``on_error``
factory the caller passes (claw.net.http raises its protocol NetworkError with it).
"""

from __future__ import annotations

import zlib
from typing import Any, Iterable, Iterator, List, Optional

_DECODE_PIECE = 256 * 1024  # decompressed output per piece: bounds memory for a compressed body


class _ZlibStage:
    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._wbits = 16 + zlib.MAX_WBITS if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._inflate = zlib.decompressobj(self._wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        inflate = self._inflate
        if not self._started and data:
            self._started = True
            if self.coding == "deflate":
                try:
                    out = inflate.decompress(data, _DECODE_PIECE)
                except zlib.error:  # raw deflate without the zlib wrapper (old servers)
                    self._wbits = -zlib.MAX_WBITS
                    inflate = self._inflate = zlib.decompressobj(self._wbits)
                    out = inflate.decompress(data, _DECODE_PIECE)
                if out:
                    yield out
                data = inflate.unconsumed_tail
        while data:
            out = inflate.decompress(data, _DECODE_PIECE)
            if out:
                yield out
            data = inflate.unconsumed_tail
            if not data and inflate.eof and inflate.unused_data:
                # another gzip member follows (concatenated gzip)
                data = inflate.unused_data
                inflate = self._inflate = zlib.decompressobj(self._wbits)

    def finish(self) -> bytes:
        return self._inflate.flush()


class Decoder:
    """Undoes the codings of one response body, fed as it arrives."""

    def __init__(self, codings: List[str]) -> None:
        # Content-Encoding lists codings in the order applied; undo them in reverse.
        self._stages = [_ZlibStage(coding) for coding in reversed(codings)]

    def feed(self, data: bytes, on_error: Any) -> Iterator[bytes]:
        pieces: Iterable[bytes] = (data,)
        try:
            for stage in self._stages:
                pieces = _chain(stage, pieces)
            yield from pieces
        except zlib.error as exc:
            raise on_error("+".join(s.coding for s in self._stages), exc) from None

    def finish(self, on_error: Any) -> bytes:
        try:
            tail = b""
            for stage in self._stages:
                if tail:
                    tail = b"".join(stage.feed(tail))
                tail += stage.finish()
            return tail
        except zlib.error as exc:
            raise on_error("+".join(s.coding for s in self._stages), exc) from None


def _chain(stage: _ZlibStage, pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from stage.feed(piece)


def decoder_for(content_encoding: Optional[str]) -> Optional[Decoder]:
    if not content_encoding:
        return None
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings or any(c not in ("gzip", "x-gzip", "deflate") for c in codings):
        return None
    return Decoder(codings)
