#!/usr/bin/env python3
"""Size of dist/claw.pyz and where it goes: the plain zip members (``__main__.py``, the modules that
start the importer, certifi's CA bundle, licences), each Python's boot entry and pack index
(``claw/_pyz/cpXY.boot``, ``.pack``), the sources index (``sources.pack``) and the one LZMA stream
(``stream.xz``) that holds the sources body (claw's and the vendored sources, the ``claw help``
pages) and then every Python's bytecode body.

Usage: python3 bench/size.py [PATH]   (default dist/claw.pyz; build it first with build_zipapp.py)

Sizes are bytes in the archive: each entry's compressed data plus its zip headers (local and central
directory); for the stream also the size of each body once inflated (what the per-user cache holds).
It reads the archive only; it does not build or judge anything but the targets below (issue 2's
600 KiB, issue 13's 2.5 MB).
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from claw._pyz import pack, pack_writer  # noqa: E402

TARGET_KB = 600
TARGET_BYTES = 2_500_000
_PYC = re.compile(r"^claw/_pyz/(cp\d+)\.(pack|boot)$")
_STREAM = "stream (sources, then bytecode)"


def part_of(name: str) -> str:
    match = _PYC.match(name)
    if match:
        return "bytecode " + match.group(1) + " (boot, index)"
    if name == pack.STREAM_PATH:
        return _STREAM
    if name == pack.SOURCES_PATH:
        return "sources index"
    if name == "claw/_vendor/certifi/cacert.pem":
        return "certifi cacert.pem"
    if name.startswith("claw/_vendor/licenses/") or name == "claw/_vendor/vendor.txt":
        return "licences + vendor.txt"
    if name.startswith("claw/_vendor/") and name.count("/") >= 3:
        return "vendored code"
    return "plain: __main__, importer sources"


def breakdown(path: Path) -> dict:
    parts: dict = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            size = info.compress_size + 30 + 46 + 2 * len(info.filename.encode()) + len(info.extra)
            key = part_of(info.filename)
            total, raw, count = parts.get(key, (0, 0, 0))
            parts[key] = (total + size, raw + info.file_size, count + 1)
    return parts


def main(argv: list) -> int:
    path = Path(argv[1]) if len(argv) > 1 else ROOT / "dist" / "claw.pyz"
    if not path.exists():
        print(f"{path} not found; build it with: python3 build_zipapp.py", file=sys.stderr)
        return 2
    size = path.stat().st_size
    parts = breakdown(path)
    print(f"{path}: {size / 1024:.1f} KiB ({size} bytes); target <= {TARGET_KB} KiB: "
          f"{'OK' if size <= TARGET_KB * 1024 else 'OVER by %.1f KiB' % (size / 1024 - TARGET_KB)}; "
          f"<= {TARGET_BYTES / 1e6:.1f} MB: "
          f"{'OK' if size <= TARGET_BYTES else 'OVER by %.1f KiB' % ((size - TARGET_BYTES) / 1024)}")
    print(f"{'part':34} {'in archive':>11} {'uncompressed':>13} {'files':>6}")
    for key in sorted(parts, key=lambda k: (k.startswith("bytecode"), k == _STREAM, k)):
        total, raw, count = parts[key]
        print(f"{key:34} {total / 1024:8.1f} KiB {raw / 1024:10.1f} KiB {count:6d}")
    trees = sum(v[0] for k, v in parts.items() if k.startswith("bytecode"))
    print(f"{'boot entries + pack indexes':34} {trees / 1024:8.1f} KiB")
    with zipfile.ZipFile(path) as zf:
        for name in sorted(n for n in zf.namelist() if n.endswith(".pack")):
            try:
                index = pack.PackIndex(zf.read(name))
            except pack.PackError as exc:
                print(f"{name}: {exc}")
                continue
            print(f"{name}: {len(index.members)} members in {len(index.segments)} segments, body "
                  f"{index.size / 1024:.1f} KiB at {index.stream / 1024:.1f} KiB in the stream")
        if pack.SOURCES_PATH in zf.namelist():
            index = pack.PackIndex(zf.read(pack.SOURCES_PATH), pack.SOURCES_MAGIC)
            kinds: dict = {}
            for name, (_, _, length, _) in index.members.items():
                kind = ("claw help pages" if name.startswith("claw/_docs/") else
                        "vendored sources" if name.startswith("claw/_vendor/") else "claw sources")
                kinds[kind] = kinds.get(kind, 0) + length
            print("sources body: " + ", ".join(f"{k} {v / 1024:.1f} KiB" for k, v in sorted(kinds.items())))
            # The sources body is the start of the stream, so compressing it alone with the stream's
            # settings gives its share of the stream (LZMA encodes a prefix the same either way).
            stream = zf.read(pack.STREAM_PATH)
            body = pack.read_body(stream, index)
            alone = len(pack_writer.join_packs([], (zf.read(pack.SOURCES_PATH), body))[pack.STREAM_PATH])
            print(f"stream: sources ~{alone / 1024:.1f} KiB, bytecode of all Pythons ~{(len(stream) - alone) / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
