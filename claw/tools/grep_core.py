"""What grep_search's two backends share: the query, the raw hits, and the one formatter.

Both backends (``grep_rg`` runs ripgrep, ``grep_python`` searches in-process) turn a ``GrepQuery`` into a
list of ``FileHits``; ``format_hits`` alone turns hits into the text the model reads, so the two paths
cannot drift apart in presentation. Sorting: files_with_matches newest first (mtime, then path), content
and count by path.

No searching and no subprocesses here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

from claw.tools.paths import display_path

# Version-control directories never searched (as Claude Code); added after the user's globs so they win.
VCS_DIRS = (".git", ".svn", ".hg", ".bzr", ".jj", ".sl")

MAX_LINE_CHARS = 500
MAX_OUTPUT_CHARS = 30_000
BINARY_SNIFF_BYTES = 65_536


@dataclass(frozen=True)
class GrepQuery:
    """A ``grep_search`` call's options, validated."""

    pattern: str
    root: str  # absolute; a directory, or a file when single_file
    single_file: bool = False
    globs: Tuple[str, ...] = ()
    types: Tuple[str, ...] = ()
    ignore_case: bool = False
    mode: str = "files_with_matches"  # content | files_with_matches | count
    before: int = 0
    after: int = 0
    line_numbers: bool = True
    head_limit: Optional[int] = None

    @property
    def all_globs(self) -> Tuple[str, ...]:
        return self.globs + tuple("!" + d for d in VCS_DIRS)


class FileHits:
    """One file's results. ``rel`` is relative to the query root ("" for a single-file query);
    ``lines`` are (line number, is match, text) in content mode; ``count`` matching lines in count mode."""

    __slots__ = ("rel", "lines", "count")

    def __init__(self, rel: str, lines: Optional[List[Tuple[int, bool, str]]] = None, count: int = 0) -> None:
        self.rel = rel
        self.lines: List[Tuple[int, bool, str]] = lines if lines is not None else []
        self.count = count

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileHits) and (self.rel, self.lines, self.count) == (
            other.rel, other.lines, other.count)

    def __repr__(self) -> str:
        return f"FileHits({self.rel!r}, lines={len(self.lines)}, count={self.count})"


def absolute(query: GrepQuery, rel: str) -> str:
    return os.path.join(query.root, rel) if rel else query.root


def split_globs(text: str) -> List[str]:
    """The ``glob`` input as a list: separated by whitespace or by commas outside braces
    (``*.py,*.{ts,tsx}`` -> ``["*.py", "*.{ts,tsx}"]``), as Claude Code splits it."""
    out: List[str] = []
    for piece in text.split():
        depth = 0
        current = []
        for ch in piece:
            if ch == "{":
                depth += 1
            elif ch == "}" and depth:
                depth -= 1
            elif ch == "," and depth == 0:
                if current:
                    out.append("".join(current))
                current = []
                continue
            current.append(ch)
        if current:
            out.append("".join(current))
    return out


def _clip(text: str) -> str:
    if text.endswith("\r"):
        text = text[:-1]
    if len(text) > MAX_LINE_CHARS:
        return f"{text[:MAX_LINE_CHARS]} [... {len(text) - MAX_LINE_CHARS} more characters]"
    return text


class _Output:
    """Lines up to ``MAX_OUTPUT_CHARS``; past that, lines are only counted (and never formatted)."""

    def __init__(self) -> None:
        self.lines: List[str] = []
        self.size = 0
        self.dropped = 0

    @property
    def full(self) -> bool:
        return self.dropped > 0

    def skip(self) -> None:
        self.dropped += 1

    def add(self, line: str) -> None:
        if self.dropped or (self.lines and self.size + len(line) + 1 > MAX_OUTPUT_CHARS):
            self.dropped += 1
            return
        self.lines.append(line)
        self.size += len(line) + 1

    def text(self, unit: str, notes: Sequence[Optional[str]] = ()) -> str:
        out = "\n".join(self.lines)
        if self.dropped:
            advice = "head_limit, or a narrower pattern, path or glob"
            if unit == "lines":
                advice += ", or files_with_matches mode"
            out += (
                f"\n[output truncated at {MAX_OUTPUT_CHARS:,} characters: {self.dropped} more {unit} not shown; "
                f"use {advice}]"
            )
        for note in notes:
            if note:
                out += "\n" + note
        return out


def _mtimes(query: GrepQuery, hits: Sequence[FileHits]) -> List[int]:
    """Modification times (ns) of the hit files; relative stat calls against the root when possible."""
    fd = None
    if not query.single_file and os.stat in os.supports_dir_fd:
        try:
            fd = os.open(query.root, os.O_RDONLY)
        except OSError:
            fd = None
    out = []
    try:
        for h in hits:
            try:
                if fd is not None:
                    out.append(os.stat(h.rel, dir_fd=fd, follow_symlinks=False).st_mtime_ns)
                else:
                    out.append(os.stat(absolute(query, h.rel)).st_mtime_ns)
            except OSError:
                out.append(0)
    finally:
        if fd is not None:
            os.close(fd)
    return out


def format_hits(
    query: GrepQuery,
    hits: Sequence[FileHits],
    cwd: str,
    *,
    hide: Optional[Callable[[str], bool]] = None,
) -> Tuple[str, dict]:
    """The model-facing text and UI metadata for ``hits``. ``hide(abs_path)`` drops files the policy
    does not let the model read."""
    if hide is not None:
        hits = [h for h in hits if not hide(absolute(query, h.rel))]

    def shown(h: FileHits) -> str:
        return display_path(absolute(query, h.rel), cwd)

    limit = query.head_limit if query.head_limit else None
    out = _Output()
    if query.mode == "files_with_matches":
        total = len(hits)
        if total == 0:
            return "No files found", {"files": 0}
        keyed = sorted(zip(_mtimes(query, hits), hits), key=lambda k: (-k[0], k[1].rel))
        chosen = keyed[:limit] if limit else keyed
        out.add(f"Found {total} file{'s' if total != 1 else ''}")
        for _, h in chosen:
            if out.full:
                out.skip()
            else:
                out.add(shown(h))
        note = None
        if len(chosen) < total:
            note = f"[showing {len(chosen)} of {total} files (head_limit={limit})]"
        return out.text("files", [note]), {"files": total}

    ordered = sorted(hits, key=lambda h: h.rel)
    if query.mode == "count":
        ordered = [h for h in ordered if h.count > 0]
        if not ordered:
            return "No matches found", {"files": 0, "matches": 0}
        total_lines = sum(h.count for h in ordered)
        chosen = ordered[:limit] if limit else ordered
        for h in chosen:
            if out.full:
                out.skip()
            else:
                out.add(f"{shown(h)}:{h.count}")
        summary = (
            f"\nFound {total_lines} matching line{'s' if total_lines != 1 else ''} in "
            f"{len(ordered)} file{'s' if len(ordered) != 1 else ''}"
        )
        note = None
        if len(chosen) < len(ordered):
            note = f"[showing {len(chosen)} of {len(ordered)} files (head_limit={limit})]"
        return out.text("files", [summary, note]), {"files": len(ordered), "matches": total_lines}

    # content
    context = query.before > 0 or query.after > 0
    emitted = 0
    total = 0
    matches = 0
    files = 0
    for h in ordered:
        if not h.lines:
            continue
        files += 1
        name = None
        prev = None
        for number, is_match, text in h.lines:
            total += 1
            matches += is_match
            if limit is not None and emitted >= limit:
                continue
            emitted += 1
            if out.full:
                out.skip()
                continue
            if name is None:
                name = shown(h)
            if context and out.lines and (prev is None or number != prev + 1):
                out.add("--")
            prev = number
            sep = ":" if is_match else "-"
            if query.line_numbers:
                out.add(f"{name}{sep}{number}{sep}{_clip(text)}")
            else:
                out.add(f"{name}{sep}{_clip(text)}")
    if total == 0:
        return "No matches found", {"files": 0, "matches": 0}
    note = None
    if emitted < total:
        note = f"[showing {emitted} of {total} lines (head_limit={limit})]"
    return out.text("lines", [note]), {"files": files, "matches": matches}
