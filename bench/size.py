#!/usr/bin/env python3
"""Size of dist/claw.pyz and where it goes: claw's sources, the vendored libraries, certifi's CA
bundle, licences and metadata, and each per-Python bytecode tree.

Usage: python3 bench/size.py [PATH]   (default dist/claw.pyz; build it first with build_zipapp.py)

Sizes are bytes in the archive: each entry's compressed data plus its zip headers (local and central
directory). It reads the archive only; it does not build or judge anything but the target below.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_KB = 600


def part_of(name: str) -> str:
    if name.startswith("_pyc/"):
        return "bytecode " + name.split("/")[1].split(".")[0]
    if name == "claw/_vendor/certifi/cacert.pem":
        return "certifi cacert.pem"
    if name.startswith("claw/_vendor/licenses/") or name == "claw/_vendor/vendor.txt":
        return "licences + vendor.txt"
    if name.startswith("claw/_vendor/") and name.count("/") >= 3:
        return "vendored code"
    return "claw sources, __main__, importer"


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
          f"{'OK' if size <= TARGET_KB * 1024 else 'OVER by %.1f KiB' % (size / 1024 - TARGET_KB)}")
    print(f"{'part':34} {'in archive':>11} {'uncompressed':>13} {'files':>6}")
    for key in sorted(parts, key=lambda k: (k.startswith("bytecode"), k)):
        total, raw, count = parts[key]
        print(f"{key:34} {total / 1024:8.1f} KiB {raw / 1024:10.1f} KiB {count:6d}")
    trees = sum(v[0] for k, v in parts.items() if k.startswith("bytecode"))
    print(f"{'all bytecode trees':34} {trees / 1024:8.1f} KiB")
    print(f"{'everything but bytecode':34} {(size - trees) / 1024:8.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
