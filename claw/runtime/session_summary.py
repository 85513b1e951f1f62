"""One row per session file for ``claw sessions`` and ``--resume`` hints, read cheaply.

``summarize_session_file`` counts message lines by their fixed prefix and parses only the first user
message and the (rare) ``meta`` lines, so listing a directory of long sessions stays fast.

It deliberately does not load a session (claw.runtime.session_store does) nor validate its records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from claw.runtime.session_records import MESSAGE_PREFIX, META_PREFIX, SUFFIX

TITLE_LIMIT = 80


@dataclass(frozen=True)
class SessionSummary:
    """One row of ``SessionStore.list()`` (for ``claw sessions`` and ``--resume`` hints)."""

    session_id: str
    title: str
    updated: float  # the file's mtime, epoch seconds
    message_count: int  # message records in the file (compacted ones included)
    size_bytes: int
    path: Path


def _first_user_text(message: dict) -> Optional[str]:
    if message.get("role") != "user":
        return None
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
                return block["text"]
    return None


def _shorten(text: str, limit: int = TITLE_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _line_starts(data: bytes, prefix: bytes) -> Iterable[int]:
    """Offsets of the lines of ``data`` that start with ``prefix`` (records begin with their type)."""
    if data.startswith(prefix):
        yield 0
    needle = b"\n" + prefix
    pos = data.find(needle)
    while pos >= 0:
        yield pos + 1
        pos = data.find(needle, pos + 1)


def _line_at(data: bytes, start: int) -> bytes:
    end = data.find(b"\n", start)
    return data[start : end if end >= 0 else len(data)]


def summarize_session_file(path: Path) -> SessionSummary:
    """A list row without parsing every record: counts message lines by their fixed prefix and only
    parses the first user message and the (rare) ``meta`` lines."""
    st = path.stat()
    with open(str(path), "rb") as f:
        data = f.read()
    count = data.count(b"\n" + MESSAGE_PREFIX) + (1 if data.startswith(MESSAGE_PREFIX) else 0)
    title: Optional[str] = None
    for start in _line_starts(data, MESSAGE_PREFIX):
        try:
            record = json.loads(_line_at(data, start))
            text = _first_user_text(record.get("message") or {})
        except (ValueError, AttributeError):
            continue
        if text and text.strip():
            title = _shorten(text)
            break
    for start in _line_starts(data, META_PREFIX):
        try:
            record = json.loads(_line_at(data, start))
            if isinstance(record.get("title"), str) and record["title"].strip():
                title = _shorten(record["title"])
        except (ValueError, AttributeError):
            continue
    return SessionSummary(
        session_id=path.name[: -len(SUFFIX)],
        title=title or "",
        updated=st.st_mtime,
        message_count=count,
        size_bytes=st.st_size,
        path=path,
    )
