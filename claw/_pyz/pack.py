"""The format of claw.pyz's bytecode and sources entries, and their one reader (the writer:
pack_writer.py).

For each Python the build compiled claw with (tag ``cpXY``), the archive holds two entries, and two
more that all of them share (the sources index and the stream):

``claw/_pyz/cpXY.boot`` (deflated by zip)
    The interpreter's magic number (4 bytes), then ``marshal.dumps(((name, is_package, code), ...))``
    for ``BOOT_MODULES``: the modules that install claw's importer, parents first. The generated
    ``__main__.py`` reads this entry itself (it can import nothing from the archive yet): if the
    magic number is the running interpreter's, it runs these modules, else it imports them from source.

``claw/_pyz/cpXY.pack`` (deflated by zip; ~5 KiB): the index of that Python's *body*
    The magic number (4 bytes), then a header (``marshal`` version 2: plain values, no references,
    readable by any Python)::

        {"format": FORMAT, "size": bytes of the body, "digest": DIGEST of the whole body,
         "stream": offset of the body in the shared stream,
         "segments": ((offset, length, DIGEST of those bytes), ...),
         "members": {name: (segment, offset in the segment, length, source_hash)}}

    The body is the members one after another, in the order the build chose (what a run imports
    first comes first), cut between members into segments of about ``SEGMENT_SIZE`` bytes (a bigger
    member is a segment of its own; the build also cuts after what ``--version`` needs). A member is
    ``"claw/x.py"``, the marshalled code of that module (``MARSHAL_VERSION``; ``source_hash``: the
    8-byte hash hash-based pycs record), or a start-up table (see tables.py; hash ``b""``). A segment is checked against
    its digest before any member in it is used (marshal is not safe against damaged data, and the
    body may come from the per-user cache, cache.py).

``claw/_pyz/sources.pack`` (deflated by zip; ~4 KiB): the index of the *sources body*
    ``SOURCES_MAGIC``, then a header of the same form, for the files of the archive that are not
    plain zip members (``pack_writer.in_stream``: every ``.py`` but those the importer needs to
    start, and the ``claw help`` pages): the body is those files one after another, in sorted order
    (source hash ``b""``). Its ``members`` are what the importer looks names up in when this
    Python's pack does not have them.

``claw/_pyz/stream.xz`` (stored): the sources body, then the bodies of all Pythons, newest first,
    as one xz stream. One LZMA stream with a dictionary as large as all the bodies together: the five
    Pythons' code shares its names, strings and most of its structure, and the sources share their
    names and strings with the code, which only a window that large finds (1.8 MB against 2.4 MB for
    five separate streams and the sources as deflated zip members). Reading one body means inflating
    the stream up to its end (``read_body``): 20-30 ms for the sources (first), 40-120 ms for a
    Python's code, which is why the importer keeps the result in a cache file and reads that, not
    this, on later runs.

``PackReader`` serves members from a body in memory or from a cache file (``FileBody``), reading and
checking each segment when one of its members is first asked for. Any part that does not check out
raises ``PackError`` (the importer then recovers from the archive, or compiles the sources).

This module is the format and its one reader, which every start of the archive runs (it is in the
boot entry); its one writer, which only the build runs, is pack_writer.py. Code objects can only be
marshalled and unmarshalled by the interpreter they belong to: the build calls
``pack_writer.write_pack`` from a child process of each target Python (compile_worker.py) and
``pack_writer.join_packs`` itself; the reader's ``get`` returns marshalled bytes. It deliberately
knows nothing about imports, modules, tables or where cache files live.
"""

from __future__ import annotations

import _thread
import marshal

TYPE_CHECKING = False  # typing is not imported at start-up (it costs ~10 ms)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

FORMAT = 4
SEGMENT_SIZE = 1 << 17  # 128 KiB of members per segment: what is checked (and read) at once
DIGEST_SIZE = 32  # BLAKE2b-256
STREAM_PATH = "claw/_pyz/stream.xz"
SOURCES_PATH = "claw/_pyz/sources.pack"
SOURCES_MAGIC = b"src\x00"  # where a Python's index has its magic number
SOURCES_TAG = "src"  # the sources body's name in the per-user cache
# Members are marshalled with version 2, which has no back-references: with them (versions 3+), the
# same string is written differently in each Python's code, and the shared stream is 12 % bigger
# (1496 against 1310 KiB). Unmarshalling is ~35 % slower (2-3 ms of a -p run, less than inflating
# the body each run cost before).
MARSHAL_VERSION = 2
_PIECE = 1 << 20  # bytes inflated at a time from the shared stream
_KEEP = 2  # segments kept of a body read from a file (members are asked for in layout order, mostly)
BOOT_MODULES = ("claw", "claw._pyz", "claw._pyz.cpython", "claw._pyz.pack", "claw._pyz.cache",
                "claw._pyz.importer")


class PackError(Exception):
    """A pack, boot entry or body that cannot be used (not for this interpreter, or damaged)."""


def boot_path(tag: str) -> str:
    """Path in the archive of the boot entry of Python ``tag`` (``"cp312"``)."""
    return f"claw/_pyz/{tag}.boot"


def pack_path(tag: str) -> str:
    """Path in the archive of the pack index of Python ``tag``."""
    return f"claw/_pyz/{tag}.pack"


def digest(data: Any) -> bytes:
    """The digest segments and bodies are checked with (BLAKE2b-256, without importing hashlib,
    whose OpenSSL half costs 2-7 ms at start-up)."""
    from claw._pyz import cpython

    return cpython.blake2b(data, DIGEST_SIZE)


# --------------------------------------------------------------------------------------------------
# reading


def read_boot(data: bytes, magic: bytes) -> tuple:
    """The ``(name, is_package, code)`` tuples of a boot entry made for ``magic``."""
    if bytes(data[:4]) != magic:
        raise PackError("boot entry made for another Python")
    try:
        modules = marshal.loads(memoryview(data)[4:])
    except (EOFError, ValueError, TypeError) as exc:
        raise PackError(f"boot entry damaged: {exc}") from None
    if type(modules) is not tuple:
        raise PackError("boot entry damaged")
    return modules


def _load_header(data: bytes, magic: Optional[bytes]) -> Dict[str, Any]:
    if len(data) < 5 or (magic is not None and bytes(data[:4]) != magic):
        raise PackError("sources index damaged" if magic == SOURCES_MAGIC else "pack made for another Python")
    try:
        header = marshal.loads(memoryview(data)[4:])
    except (EOFError, ValueError, TypeError) as exc:
        raise PackError(f"pack index damaged: {exc}") from None
    if (type(header) is not dict or header.get("format") != FORMAT or type(header.get("members")) is not dict
            or type(header.get("segments")) is not tuple or type(header.get("size")) is not int
            or type(header.get("stream")) is not int or type(header.get("digest")) is not bytes):
        raise PackError("not a claw bytecode pack index of format %d" % FORMAT)
    return header


def read_body(stream: Any, index: PackIndex) -> bytes:
    """Inflate the shared stream ``stream`` (the bytes of ``STREAM_PATH``) up to the end of the body
    ``index`` describes, and return that body, checked against its digest."""
    try:
        import lzma
    except ImportError:  # a Python built without _lzma
        raise PackError("this Python has no lzma module") from None
    end = index.stream + index.size
    parts, done, data = [], 0, stream
    decompressor = lzma.LZMADecompressor(lzma.FORMAT_XZ)
    try:
        while done < end:  # in pieces, keeping only this body: 3.9's is the last of ~15 MB
            piece = decompressor.decompress(data, max_length=min(_PIECE, end - done))
            data = b""
            if not piece:
                break
            if done + len(piece) > index.stream:
                parts.append(piece[max(0, index.stream - done):])
            done += len(piece)
    except (lzma.LZMAError, EOFError, ValueError, TypeError, MemoryError) as exc:
        raise PackError(f"the archive's stream is damaged: {exc}") from None
    body = b"".join(parts)
    if len(body) != index.size or digest(body) != index.digest:
        raise PackError("the archive's stream is damaged: a body does not match its digest")
    return body


class PackIndex:
    """One Python's pack index (the ``cpXY.pack`` entry) or the sources index (``SOURCES_MAGIC``),
    checked at construction (``PackError``). ``magic`` None reads the index of any Python (for tools
    and tests)."""

    def __init__(self, data: bytes, magic: Optional[bytes] = None) -> None:
        header = _load_header(data, magic)
        self.magic = bytes(data[:4])
        self.size: int = header["size"]
        self.digest: bytes = header["digest"]
        self.stream: int = header["stream"]
        self.segments: Tuple[Tuple[int, int, bytes], ...] = header["segments"]
        self.members: Dict[str, Tuple[int, int, int, bytes]] = header["members"]


class FileBody:
    """A body in an open file (a cache file), read segment by segment with ``os.pread``."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, offset: int, length: int) -> bytes:
        import os

        return os.pread(self.fd, length, offset)


class PackReader:
    """Members of one Python's body, each segment checked against the index the first time one of
    its members is asked for. Safe to use from several threads.

    ``body``: the body's bytes, or a ``FileBody``. ``recover``, if given, is called (once) when a
    segment of ``body`` does not check out, and returns a body to use instead (the importer inflates
    it from the archive again and rewrites the cache file); without it the damage raises
    ``PackError``."""

    def __init__(self, index: PackIndex, body: Any, recover: Optional[Callable[[], Any]] = None) -> None:
        self.index = index
        self.members = index.members
        self.magic = index.magic
        self.size = index.size
        self.segments = index.segments
        self._body = body
        self._recover = recover
        self._checked: Dict[int, Any] = {}  # segment -> its bytes (memoryview into a body in memory)
        self._lock = _thread.allocate_lock()  # modules may be imported from several threads at once

    def __contains__(self, name: str) -> bool:
        return name in self.members

    def source_hash(self, name: str) -> Optional[bytes]:
        entry = self.members.get(name)
        return None if entry is None else entry[3]

    @property
    def from_file(self) -> bool:
        """Whether members are read from a file (else from a body in memory)."""
        return isinstance(self._body, FileBody)

    def get(self, name: str) -> Optional[bytes]:
        """The bytes of member ``name`` (None if there is no such member)."""
        entry = self.members.get(name)
        if entry is None:
            return None
        try:  # the index is checked here, entry by entry, not all of it at every start
            i, offset, length, _ = entry
            start, size, _ = self.segments[i]
            if i < 0 or offset < 0 or length < 0 or offset + length > size or start < 0:
                raise ValueError
        except (TypeError, ValueError, IndexError):
            raise PackError("pack index damaged") from None
        with self._lock:
            raw = self._checked.pop(i, None)
            if raw is None:
                raw = self._segment(i)
                if isinstance(self._body, FileBody):  # a body in memory is kept anyway
                    while len(self._checked) >= _KEEP:
                        del self._checked[next(iter(self._checked))]
            self._checked[i] = raw
        return bytes(raw[offset:offset + length])

    def _segment(self, i: int) -> Any:
        start, size, expected = self.segments[i]
        try:
            if isinstance(self._body, FileBody):
                raw = self._body.read(start, size)
            else:
                raw = memoryview(self._body)[start:start + size]
            ok = len(raw) == size and digest(raw) == expected
        except OSError:
            ok = False
        if ok:
            return raw
        if self._recover is None:
            raise PackError(f"pack segment {i} damaged")
        recover, self._recover = self._recover, None
        self._body = recover()
        self._checked.clear()
        return self._segment(i)

    def items(self) -> List[Tuple[str, bytes]]:
        """Every member, in layout order."""
        order = sorted(self.members, key=lambda name: self.members[name][:2])
        return [(name, self.get(name) or b"") for name in order]
