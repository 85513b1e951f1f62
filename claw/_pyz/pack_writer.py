"""The writer of claw.pyz's bytecode and sources entries, whose format pack.py describes (and reads).

Build time only (build_zipapp.py, and compile_worker.py in each target interpreter): kept out of
pack.py so that the boot entry every start runs does not carry it. ``in_stream`` decides which files
of the archive go into the sources body instead of being plain zip members.
"""

from __future__ import annotations

import marshal
from typing import Any, Dict, List, Sequence, Tuple

from claw._pyz.pack import (FORMAT, SEGMENT_SIZE, SOURCES_MAGIC, SOURCES_PATH, SOURCES_TAG, STREAM_PATH,
                            _load_header, digest, pack_path)

# Plain zip members besides __main__.py: what the importer needs before it can read the stream.
BOOT_SOURCES = ("claw/__init__.py", "claw/_pyz/__init__.py", "claw/_pyz/cpython.py", "claw/_pyz/pack.py",
                "claw/_pyz/cache.py", "claw/_pyz/importer.py")


def in_stream(name: str) -> bool:
    """Whether the archive keeps file ``name`` in the sources body rather than as a plain zip member:
    every ``claw/**.py`` but ``BOOT_SOURCES``, and the ``claw help`` pages (``claw/_docs/``). Data read
    at run time by other means than the importer (certifi's ``cacert.pem``: ``importlib.resources``),
    licences and ``vendor.txt`` stay plain members."""
    if name in BOOT_SOURCES or not name.startswith("claw/"):
        return False
    return name.endswith(".py") or name.startswith("claw/_docs/")


def write_boot(magic: bytes, modules: Sequence[Tuple[str, bool, Any]]) -> bytes:
    """The boot entry: ``magic`` then the marshalled ``(name, is_package, code)`` tuples."""
    return bytes(magic) + marshal.dumps(tuple(modules), 4)


def write_pack(magic: bytes, members: Sequence[Tuple[str, bytes, bytes]], segment_size: int = SEGMENT_SIZE,
               cut_before: Sequence[str] = ()) -> Tuple[bytes, bytes]:
    """(index entry, body) for ``members`` ``(name, data, source_hash)``, laid out in the order
    given, with a new segment at least before each member named in ``cut_before``. The index's
    ``stream`` offset is 0 until ``join_packs`` sets it."""
    if len(magic) != 4:
        raise ValueError("magic number must be 4 bytes")
    index: Dict[str, Tuple[int, int, int, bytes]] = {}
    cuts: List[List[bytes]] = [[]]
    offset = 0  # in the current segment
    for name, data, source_hash in members:
        if name in index:
            raise ValueError(f"member {name!r} given twice")
        if cuts[-1] and (offset + len(data) > segment_size or name in cut_before):
            cuts.append([])
            offset = 0
        index[name] = (len(cuts) - 1, offset, len(data), bytes(source_hash))
        cuts[-1].append(bytes(data))
        offset += len(data)
    segments, start = [], 0
    for parts in cuts:
        raw = b"".join(parts)
        segments.append((start, len(raw), digest(raw)))
        start += len(raw)
    body = b"".join(b"".join(parts) for parts in cuts)
    header = {"format": FORMAT, "size": len(body), "digest": digest(body), "stream": 0,
              "segments": tuple(segments), "members": index}
    return bytes(magic) + marshal.dumps(header, 2), body


def write_sources(files: Dict[str, bytes]) -> Tuple[bytes, bytes]:
    """(index entry, body) of the sources body: ``files`` (``{archive path: bytes}``) in sorted order."""
    return write_pack(SOURCES_MAGIC, [(name, files[name], b"") for name in sorted(files)])


def join_packs(packs: Sequence[Tuple[str, bytes, bytes]],
               sources: Optional[Tuple[bytes, bytes]] = None) -> Dict[str, bytes]:
    """The archive entries for the ``(tag, index entry, body)`` of each Python and the sources'
    ``(index entry, body)`` (``write_sources``): each index with its body's place in the shared
    stream, and the stream (``STREAM_PATH``): the sources first (the no-bytecode fallback and a
    traceback inflate only them), then the bodies, newest Python first."""
    import lzma

    order = sorted(packs, key=lambda p: int(p[0][2:]) if p[0][2:].isdigit() else 0, reverse=True)
    if sources is not None:
        order.insert(0, (SOURCES_TAG, *sources))
    entries: Dict[str, bytes] = {}
    offset = 0
    for tag, index, body in order:
        magic, header = index[:4], _load_header(index, None)
        if header["size"] != len(body) or header["digest"] != digest(body):
            raise ValueError(f"the body given for {tag} is not the one its index describes")
        header["stream"] = offset
        entries[SOURCES_PATH if tag == SOURCES_TAG else pack_path(tag)] = magic + marshal.dumps(header, 2)
        offset += len(body)
    dict_size = 1 << 20
    while dict_size < offset:
        dict_size <<= 1
    # lc=4, lp=0, pb=0: bytecode is not aligned to 2 or 4 bytes within a body (-0.5 %).
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": dict_size,
                "lc": 4, "lp": 0, "pb": 0}]
    data = b"".join(body for _, _, body in order)
    entries[STREAM_PATH] = lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_NONE, filters=filters)
    return entries
