"""The format of claw.pyz's bytecode files, with their one writer and one reader.

For each Python the build compiled claw with (tag ``cpXY``), the archive holds two entries:

``claw/_pyz/cpXY.boot`` (deflated by zip)
    The interpreter's magic number (4 bytes), then ``marshal.dumps(((name, is_package, code), ...))``
    for ``BOOT_MODULES``: the modules that install claw's importer, parents first. The generated
    ``__main__.py`` reads this entry itself (it can import nothing from the archive yet): if the
    magic number is the running interpreter's, it runs these modules, else it imports them from source.

``claw/_pyz/cpXY.pack`` (stored: its content is compressed already)
    The magic number (4 bytes), a header (marshal), then the compressed segments, which run to the
    end of the entry. Header::

        {"format": FORMAT, "codec": "zlib" | "lzma", "size": bytes of all members,
         "length": bytes of all compressed segments,
         "segments": ((length, compressed offset, compressed length), ...),
         "members": {name: (segment, offset, length, source_hash, crc32)}}

    Members are laid out one after another, in the order the build chose (what a run imports first
    comes first), and that layout is cut, between members, into segments of about ``SEGMENT_SIZE``
    bytes (a bigger member is a segment of its own; the build also cuts after what ``--version``
    needs), each compressed on its own as raw deflate (``zlib``) or raw LZMA2 (``lzma``,
    ``dict_size`` in the header); compressed offsets count from the end of the header. A member is
    ``"claw/x.py"``, the marshalled code of that module (``source_hash``: the 8-byte hash hash-based
    pycs record), or a start-up table (see tables.py; hash ``b""``), at ``offset`` in its segment;
    ``crc32`` is checked before a member is used (marshal is not safe against damaged data).

``PackReader`` decompresses a segment when one of its members is asked for (and keeps the last two),
so a run that imports three modules inflates one or two segments. Segments, rather than one stream, keep that true
for runs that skip around (``claw version``, the REPL); they cost 2 % of size against one stream.
Any part that does not check out raises ``PackError``, and the importer then compiles the sources.

Code objects can only be marshalled and unmarshalled by the interpreter they belong to: the build
calls the writers from a child process of each target Python (compile_worker.py), and the reader's
``get`` returns marshalled bytes (the header itself holds only plain values, readable by any Python).
It deliberately knows nothing about imports, modules or tables.
"""

from __future__ import annotations

import _thread
import marshal

TYPE_CHECKING = False  # typing is not imported at start-up (it costs ~10 ms)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

FORMAT = 3
CODECS = ("zlib", "lzma")
SEGMENT_SIZE = 1 << 17  # 128 KiB of members per segment: -2 % of size against one stream, ~0.5 ms to inflate
_HEAD = 1 << 15  # bytes read first for the header (it is ~10 KiB)
_KEEP = 2  # inflated segments kept (members are asked for in layout order, mostly): 256 KiB at most
BOOT_MODULES = ("claw", "claw._pyz", "claw._pyz.cpython", "claw._pyz.pack", "claw._pyz.importer")


class PackError(Exception):
    """A pack or boot entry that cannot be used (not for this interpreter, or damaged)."""


def boot_path(tag: str) -> str:
    """Path in the archive of the boot entry of Python ``tag`` (``"cp312"``)."""
    return f"claw/_pyz/{tag}.boot"


def pack_path(tag: str) -> str:
    """Path in the archive of the pack of Python ``tag``."""
    return f"claw/_pyz/{tag}.pack"


# --------------------------------------------------------------------------------------------------
# writing (run by each target interpreter at build time)


def write_boot(magic: bytes, modules: Sequence[Tuple[str, bool, Any]]) -> bytes:
    """The boot entry: ``magic`` then the marshalled ``(name, is_package, code)`` tuples."""
    return bytes(magic) + marshal.dumps(tuple(modules), 4)


def write_pack(magic: bytes, members: Sequence[Tuple[str, bytes, bytes]], codec: str = "zlib",
               segment_size: int = SEGMENT_SIZE, cut_before: Sequence[str] = ()) -> bytes:
    """The pack entry for ``members`` ``(name, data, source_hash)``, laid out in the order given,
    with a new segment at least before each member named in ``cut_before``."""
    import zlib

    if len(magic) != 4:
        raise ValueError("magic number must be 4 bytes")
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; one of {', '.join(CODECS)}")
    index: Dict[str, Tuple[int, int, int, bytes, int]] = {}
    cuts: List[List[bytes]] = [[]]
    offset = size = 0  # offset in the current segment, bytes of all members
    for name, data, source_hash in members:
        if name in index:
            raise ValueError(f"member {name!r} given twice")
        if cuts[-1] and (offset + len(data) > segment_size or name in cut_before):
            cuts.append([])
            offset = 0
        index[name] = (len(cuts) - 1, offset, len(data), bytes(source_hash), zlib.crc32(data))
        cuts[-1].append(bytes(data))
        offset += len(data)
        size += len(data)
    raws = [b"".join(parts) for parts in cuts]
    header: Dict[str, Any] = {"format": FORMAT, "codec": codec, "size": size, "members": index}
    compress = _compressor(codec, header, max(len(raw) for raw in raws))
    segments, stream = [], []
    stream_offset = 0
    for raw in raws:
        packed = compress(raw)
        segments.append((len(raw), stream_offset, len(packed)))
        stream.append(packed)
        stream_offset += len(packed)
    header["segments"] = tuple(segments)
    header["length"] = stream_offset
    return bytes(magic) + marshal.dumps(header, 4) + b"".join(stream)


def _compressor(codec: str, header: Dict[str, Any], largest: int) -> Callable[[bytes], bytes]:
    if codec == "zlib":
        import zlib

        def deflate(raw: bytes) -> bytes:
            packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
            return packer.compress(raw) + packer.flush()

        return deflate
    import lzma

    header["dict_size"] = _dict_size(largest)
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": header["dict_size"]}]
    return lambda raw: lzma.compress(raw, format=lzma.FORMAT_RAW, filters=filters)


def _dict_size(size: int) -> int:
    # The smallest power of two holding the largest segment: the decoder allocates this much.
    n = 1 << 16
    while n < size:
        n <<= 1
    return n


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


class FileSpan:
    """Part of a file (a stored zip entry), read piece by piece when needed instead of all at once."""

    def __init__(self, path: str, offset: int, size: int) -> None:
        self.path, self.offset, self.size = path, offset, size

    def __len__(self) -> int:
        return self.size

    def read(self, offset: int, length: int) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(self.offset + offset)
            return f.read(max(0, min(length, self.size - offset)))


class _BytesSpan:
    def __init__(self, data: bytes) -> None:
        self.view = memoryview(data)

    def read(self, offset: int, length: int) -> Any:
        return self.view[offset:offset + length]


class PackReader:
    """One pack, checked at construction (raises ``PackError``), decompressed as members are asked for.

    ``magic`` None reads a pack of any Python (for tools and tests: ``get`` returns bytes anyway).
    Safe to use from several threads. It keeps the last ``_KEEP`` inflated segments, not all: a run
    would otherwise hold ~2 MB it no longer needs."""

    def __init__(self, data: Any, magic: Optional[bytes] = None) -> None:
        """``data``: the pack's bytes, or a ``FileSpan`` to read its parts from when needed."""
        read = data.read if isinstance(data, FileSpan) else _BytesSpan(data).read
        size = len(data)
        head = read(0, min(size, _HEAD))
        if size < 5 or (magic is not None and bytes(head[:4]) != magic):
            raise PackError("pack made for another Python")
        header = None
        while header is None:
            try:
                header = marshal.loads(memoryview(head)[4:])
            except EOFError:  # a header longer than what was read
                if len(head) >= size:
                    raise PackError("pack header damaged: cut short") from None
                head = read(0, min(size, 2 * len(head)))
            except (ValueError, TypeError) as exc:
                raise PackError(f"pack header damaged: {exc}") from None
        if (type(header) is not dict or header.get("format") != FORMAT or header.get("codec") not in CODECS
                or type(header.get("members")) is not dict or type(header.get("segments")) is not tuple
                or type(header.get("length")) is not int or type(header.get("size")) is not int
                or not 0 <= header["length"] <= size - 5):
            raise PackError("not a claw bytecode pack of format %d" % FORMAT)
        self.stream_offset = size - header["length"]  # where the compressed segments start
        self.magic = bytes(head[:4])
        self.codec: str = header["codec"]
        self.size: int = header["size"]
        self.members: Dict[str, Tuple[int, int, int, bytes, int]] = header["members"]
        self.segments: Tuple[Tuple[int, int, int], ...] = header["segments"]
        self._length = header["length"]
        self._read = read
        self._decompress = _decompressor(self.codec, header)
        self._inflated: Dict[int, bytes] = {}  # segment number -> its members' bytes, least recent first
        self._lock = _thread.allocate_lock()  # modules may be imported from several threads at once

    def __contains__(self, name: str) -> bool:
        return name in self.members

    def source_hash(self, name: str) -> Optional[bytes]:
        entry = self.members.get(name)
        return None if entry is None else entry[3]

    def get(self, name: str) -> Optional[bytes]:
        """The bytes of member ``name`` (None if there is no such member)."""
        entry = self.members.get(name)
        if entry is None:
            return None
        try:  # the index is checked here, entry by entry, not all of it at every start
            i, offset, length, _, crc = entry
            if not 0 <= i < len(self.segments) or offset < 0 or length < 0:
                raise ValueError
        except (TypeError, ValueError):
            raise PackError("pack index damaged") from None
        with self._lock:
            raw = self._inflated.pop(i, None)
            if raw is None:
                raw = self._inflate(i)
                while len(self._inflated) >= _KEEP:  # drop the least recently used
                    del self._inflated[next(iter(self._inflated))]
            self._inflated[i] = raw
        data = raw[offset:offset + length]
        if len(data) != length or _crc32(data) != crc:
            raise PackError(f"pack member {name} damaged")
        return data

    def _inflate(self, i: int) -> bytes:
        try:
            length, stream_offset, stream_length = self.segments[i]
            if stream_offset < 0 or stream_length < 0 or stream_offset + stream_length > self._length:
                raise ValueError("outside the pack")
            packed = self._read(self.stream_offset + stream_offset, stream_length)
            if len(packed) != stream_length:
                raise ValueError("pack cut short")
            raw = self._decompress(packed, length)
        except Exception as exc:  # zlib.error, lzma.LZMAError, OSError, a damaged segment entry
            raise PackError(f"pack segment damaged: {exc}") from None
        if len(raw) != length:
            raise PackError("pack segment damaged: wrong length")
        return raw

    def items(self) -> List[Tuple[str, bytes]]:
        """Every member, in layout order (decompresses everything)."""
        order = sorted(self.members, key=lambda name: self.members[name][:2])
        return [(name, self.get(name) or b"") for name in order]


def _crc32(data: bytes) -> int:
    import zlib

    return zlib.crc32(data)


def _decompressor(codec: str, header: Dict[str, Any]) -> Callable[[Any, int], bytes]:
    if codec == "zlib":
        import zlib

        return lambda data, size: zlib.decompress(data, -15, max(size, 1))
    try:
        import lzma
    except ImportError:  # a Python built without _lzma
        raise PackError("this Python has no lzma module") from None
    if type(header.get("dict_size")) is not int:
        raise PackError("pack header damaged: no dict_size")
    filters = [{"id": lzma.FILTER_LZMA2, "dict_size": header["dict_size"]}]
    return lambda data, size: lzma.LZMADecompressor(lzma.FORMAT_RAW, None, filters).decompress(data)
