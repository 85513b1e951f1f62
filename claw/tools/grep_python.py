"""grep_search's pure-Python backend, for hosts without ``rg``: same files, same hits.

Files come from ``search_walk.walk_files`` (ripgrep's filtering rules). Each file is read as bytes; a
NUL byte in the first 64 KiB marks it binary and skips it (ripgrep's default for files found while
walking), a later NUL ends the searched part at the line before it. Lines are matched one by one with
Python's ``re`` (so ``^``/``$`` are line anchors and no match spans lines); a whole-file search runs first
to skip files quickly.

Known differences from ripgrep, documented in docs/TOOLS.md: the regex dialect is Python's (look-around
and back-references work here, ripgrep rejects them), UTF-16 files are not transcoded. It runs in a
worker thread; cancellation is checked between files.
"""

from __future__ import annotations

import os
import re
from typing import Callable, List, Optional, Pattern

from claw.tools.grep_core import BINARY_SNIFF_BYTES, FileHits, GrepQuery
from claw.tools.search_walk import walk_files


def compile_pattern(query: GrepQuery) -> Pattern[str]:
    """Raises re.error for a bad pattern."""
    flags = re.MULTILINE
    if query.ignore_case:
        flags |= re.IGNORECASE
    return re.compile(query.pattern, flags)


def _text_of(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    nul = data.find(b"\0")
    if nul != -1:
        if nul < BINARY_SNIFF_BYTES:
            return None
        data = data[: data.rfind(b"\n", 0, nul) + 1]
    return data.decode("utf-8", "replace")


def search_file(query: GrepQuery, regex: Pattern[str], path: str, rel: str) -> Optional[FileHits]:
    text = _text_of(path)
    if text is None:
        return None
    first = regex.search(text)
    if first is None:
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "" and text.endswith("\n"):
        lines.pop()
    start = text.count("\n", 0, first.start())
    if query.mode == "files_with_matches":
        for line in lines[start:]:
            if regex.search(line):
                return FileHits(rel=rel)
        return None
    matched = [i for i in range(start, len(lines)) if regex.search(lines[i])]
    if not matched:
        return None
    if query.mode == "count":
        return FileHits(rel=rel, count=len(matched))
    hits = FileHits(rel=rel)
    if not query.before and not query.after:
        hits.lines = [(i + 1, True, lines[i]) for i in matched]
        return hits
    is_match = set(matched)
    wanted = set()
    for i in matched:
        wanted.update(range(max(0, i - query.before), min(len(lines), i + query.after + 1)))
    hits.lines = [(i + 1, i in is_match, lines[i]) for i in sorted(wanted)]
    return hits


def search(query: GrepQuery, cancelled: Optional[Callable[[], bool]] = None) -> List[FileHits]:
    """Run the query in the calling thread. Raises re.error for a bad pattern, KeyError for an
    unknown type."""
    regex = compile_pattern(query)
    if query.single_file:
        found = search_file(query, regex, query.root, "")
        return [found] if found else []
    results: List[FileHits] = []
    for rel in walk_files(query.root, globs=query.all_globs, types=query.types, cancelled=cancelled):
        found = search_file(query, regex, os.path.join(query.root, rel), rel)
        if found is not None:
            results.append(found)
    return results
