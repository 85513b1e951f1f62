"""Key paths into the settings tree: parsing ``permissions.allow`` and printing ``hooks.Stop[0].matcher``.

A key path is a tuple of segments: strings for object keys, ints for list indices. The text form is
dotted, TOML-style: a segment that is empty or holds a character outside ``[A-Za-z0-9_$-]`` is written
in double quotes (``mcpServers."my.server".url``), and list indices are ``[n]``. ``format_key_path`` and
``parse_key_path`` round-trip, so what ``claw config list`` prints can be pasted into ``claw config get``.

This module knows nothing about which keys exist; the schema does.
"""

from __future__ import annotations

from typing import Tuple, Union

Segment = Union[str, int]
KeyPath = Tuple[Segment, ...]

_BARE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-$")


def _quote(segment: str) -> str:
    if segment and all(ch in _BARE for ch in segment):
        return segment
    return '"' + segment.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_key_path(path: KeyPath) -> str:
    """``("hooks", "Stop", 0, "matcher")`` -> ``hooks.Stop[0].matcher``; ``()`` -> ``(top level)``."""
    if not path:
        return "(top level)"
    out = []
    for segment in path:
        if isinstance(segment, int):
            out.append(f"[{segment}]")
        else:
            out.append(("." if out else "") + _quote(segment))
    return "".join(out)


def parse_key_path(text: str) -> KeyPath:
    """Parse a dotted key path. Raises ValueError with a readable message on bad syntax."""
    segments: list[Segment] = []
    i, n = 0, len(text)
    if not text.strip():
        raise ValueError("empty key")
    expect_segment = True
    while i < n:
        ch = text[i]
        if expect_segment:
            if ch == '"':
                i += 1
                buf = []
                while True:
                    if i >= n:
                        raise ValueError(f"unterminated quote in key {text!r}")
                    ch = text[i]
                    if ch == "\\" and i + 1 < n:
                        buf.append(text[i + 1])
                        i += 2
                        continue
                    if ch == '"':
                        i += 1
                        break
                    buf.append(ch)
                    i += 1
                segments.append("".join(buf))
            else:
                start = i
                while i < n and text[i] not in '.["':
                    i += 1
                segment = text[start:i]
                if not segment:
                    raise ValueError(f"empty segment in key {text!r}")
                if not all(ch in _BARE for ch in segment):
                    raise ValueError(f"put {segment!r} in double quotes in key {text!r}")
                segments.append(segment)
            expect_segment = False
        elif ch == ".":
            i += 1
            expect_segment = True
        elif ch == "[":
            end = text.find("]", i)
            index = text[i + 1 : end] if end != -1 else ""
            if not index.isdigit():
                raise ValueError(f"bad list index in key {text!r}: use [0], [1], ...")
            segments.append(int(index))
            i = end + 1
        else:
            raise ValueError(f"unexpected {ch!r} in key {text!r}")
    if expect_segment:
        raise ValueError(f"key {text!r} ends with '.'")
    return tuple(segments)
