"""The format of claw.pyz's bytecode files, with their one writer and one reader.

For each Python the build compiled claw with (tag ``cpXY``), the archive holds two entries:

``claw/_pyz/cpXY.boot`` (deflated by zip)
    The interpreter's magic number (4 bytes), then ``marshal.dumps(((name, is_package, code), ...))``
    for ``BOOT_MODULES``: the modules that install claw's importer, parents first. The generated
    ``__main__.py`` reads this entry itself (it can import nothing from the archive yet): if the
    magic number is the running interpreter's, it runs these modules, else it imports them from source.

``claw/_pyz/cpXY.pack`` (stored: its content is compressed already)
    The magic number (4 bytes), a header (marshal), then one compressed stream that runs to the end
    of the entry. Header: ``{"format": FORMAT, "codec": "zlib" | "lzma", "length": bytes of the
    stream, "size": bytes once decompressed, "members": {name: (offset, length, source_hash, crc32)}}``.
    A member is ``"claw/x.py"``, the marshalled code of that module (``source_hash`` the 8-byte hash
    that hash-based pycs record), or a start-up table (see tables.py; hash ``b""``). Members are
    stored one after another in the order the build chose (what a run imports first comes first);
    ``offset`` and ``length`` are positions in the decompressed stream, ``crc32`` the member's
    checksum (checked before the member is used: marshal is not safe against damaged data). The
    stream is raw deflate (``zlib``) or raw LZMA2 (``lzma``, ``dict_size`` in the header).

``PackReader`` decompresses the stream lazily, only as far as the last member asked for, so a run that
imports three modules inflates a few kilobytes. Any part that does not check out raises ``PackError``
and the importer then compiles the sources instead.

Code objects can only be marshalled and unmarshalled by the interpreter they belong to: the build
calls the writers from a child process of each target Python (compile_worker.py), and the reader's
``get`` returns marshalled bytes (the header itself holds only plain values, readable by any Python).
It deliberately knows nothing about imports, modules or tables.
"""

from __future__ import annotations

import _thread
import bisect
import marshal
TYPE_CHECKING = False  # typing is not imported at start-up (it costs ~10 ms)
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence, Tuple

FORMAT = 1
CODECS = ("zlib", "lzma")
BOOT_MODULES = ("claw", "claw._pyz", "claw._pyz.cpython", "claw._pyz.pack", "claw._pyz.importer")
_FIRST_STEP = 1 << 14  # compressed bytes decoded at first; doubled each time, up to _MAX_STEP
_MAX_STEP = 1 << 16


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


def write_pack(magic: bytes, members: Sequence[Tuple[str, bytes, bytes]], codec: str = "zlib") -> bytes:
    """The pack entry for ``members`` ``(name, data, source_hash)``, stored in the order given."""
    if len(magic) != 4:
        raise ValueError("magic number must be 4 bytes")
    import zlib

    index: Dict[str, Tuple[int, int, bytes, int]] = {}
    chunks: List[bytes] = []
    offset = 0
    for name, data, source_hash in members:
        if name in index:
            raise ValueError(f"member {name!r} given twice")
        index[name] = (offset, len(data), bytes(source_hash), zlib.crc32(data))
        chunks.append(bytes(data))
        offset += len(data)
    raw = b"".join(chunks)
    header: Dict[str, Any] = {"format": FORMAT, "codec": codec, "size": len(raw), "members": index}
    if codec == "zlib":
        packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
        stream = packer.compress(raw) + packer.flush()
    elif codec == "lzma":
        import lzma

        header["dict_size"] = _dict_size(len(raw))
        stream = lzma.compress(raw, format=lzma.FORMAT_RAW, filters=[
            {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": header["dict_size"]}])
    else:
        raise ValueError(f"unknown codec {codec!r}; one of {', '.join(CODECS)}")
    header["length"] = len(stream)
    return bytes(magic) + marshal.dumps(header, 4) + stream


def _dict_size(size: int) -> int:
    # The smallest power of two holding the whole stream: the decoder allocates this much.
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


class PackReader:
    """One pack, checked at construction (raises ``PackError``), decompressed as members are asked for.

    ``magic`` None reads a pack of any Python (for tools and tests: ``get`` returns bytes anyway)."""

    def __init__(self, data: bytes, magic: Optional[bytes] = None) -> None:
        if len(data) < 5 or (magic is not None and bytes(data[:4]) != magic):
            raise PackError("pack made for another Python")
        view = memoryview(data)
        try:
            header = marshal.loads(view[4:])
        except (EOFError, ValueError, TypeError) as exc:
            raise PackError(f"pack header damaged: {exc}") from None
        if (type(header) is not dict or header.get("format") != FORMAT or header.get("codec") not in CODECS
                or type(header.get("members")) is not dict or type(header.get("length")) is not int
                or type(header.get("size")) is not int or not 0 < header["length"] <= len(data) - 5):
            raise PackError("not a claw bytecode pack of format %d" % FORMAT)
        for entry in header["members"].values():
            if (type(entry) is not tuple or len(entry) != 4 or entry[0] < 0 or entry[1] < 0
                    or entry[0] + entry[1] > header["size"]):
                raise PackError("pack index damaged")
        self.magic = bytes(data[:4])
        self.codec: str = header["codec"]
        self.size: int = header["size"]
        self.members: Dict[str, Tuple[int, int, bytes, int]] = header["members"]
        self.stream_offset = len(data) - header["length"]  # where the compressed stream starts
        self._stream = view[self.stream_offset:]
        self._decompress = _decompressor(self.codec, header)
        self._chunks: List[bytes] = []  # decompressed so far, in order (never joined: no reallocation)
        self._starts: List[int] = []  # offset of each chunk in the decompressed stream
        self._decoded = 0  # bytes decompressed so far
        self._pos = 0
        self._step = _FIRST_STEP
        self._lock = _thread.allocate_lock()  # modules may be imported from several threads at once

    def __contains__(self, name: str) -> bool:
        return name in self.members

    def source_hash(self, name: str) -> Optional[bytes]:
        entry = self.members.get(name)
        return None if entry is None else entry[2]

    def get(self, name: str) -> Optional[bytes]:
        """The bytes of member ``name`` (None if there is no such member)."""
        entry = self.members.get(name)
        if entry is None:
            return None
        offset, length, _, crc = entry
        if length == 0:
            return b""
        end = offset + length
        with self._lock:
            while self._decoded < end:
                if self._pos >= len(self._stream):
                    raise PackError("pack stream ends early")
                chunk = self._stream[self._pos:self._pos + self._step]
                self._pos += self._step
                self._step = min(self._step * 2, _MAX_STEP)
                try:
                    out = self._decompress(chunk)
                except Exception as exc:  # zlib.error, lzma.LZMAError: the stream is damaged
                    raise PackError(f"pack stream damaged: {exc}") from None
                if out:
                    self._chunks.append(out)
                    self._starts.append(self._decoded)
                    self._decoded += len(out)
            i = bisect.bisect_right(self._starts, offset) - 1
            start = self._starts[i]
            if end <= start + len(self._chunks[i]):
                data = self._chunks[i][offset - start:end - start]
            else:
                parts = [self._chunks[i][offset - start:]]
                while start + len(self._chunks[i]) < end:
                    i += 1
                    start = self._starts[i]
                    parts.append(self._chunks[i][:end - start])
                data = b"".join(parts)
        if _crc32(data) != crc:
            raise PackError(f"pack member {name} damaged")
        return data

    def items(self) -> List[Tuple[str, bytes]]:
        """Every member, in stream order (decompresses everything)."""
        order = sorted(self.members, key=lambda name: self.members[name][0])
        return [(name, self.get(name) or b"") for name in order]


def _crc32(data: bytes) -> int:
    import zlib

    return zlib.crc32(data)


def _decompressor(codec: str, header: Dict[str, Any]):
    if codec == "zlib":
        import zlib

        return zlib.decompressobj(-15).decompress
    try:
        import lzma
    except ImportError:  # a Python built without _lzma
        raise PackError("this Python has no lzma module") from None
    if type(header.get("dict_size")) is not int:
        raise PackError("pack header damaged: no dict_size")
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, None, [
        {"id": lzma.FILTER_LZMA2, "dict_size": header["dict_size"]}]).decompress
