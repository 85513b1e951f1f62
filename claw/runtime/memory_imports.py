"""``@path`` imports in memory files (``CLAUDE.md``, ``CLAW.md``...), as Claude Code documents them.

A memory file may name other files with ``@path`` (at the start of a line or after whitespace):
``@docs/style.md``, ``@./notes.md``, ``@../common/rules.md``, ``@~/.claude/my-rules.md``,
``@/abs/path.md``; a space in the path is written ``\\ ``. A relative path is taken from the directory of
the importing file, ``~/`` is the user's home, an absolute path is used as is. Imported files may import
in turn, at most ``MAX_DEPTH`` (5) levels below the file the session loaded.

What is not an import: text inside an inline code span (`` `@x` ``) or a fenced code block (```` ``` ````
or ``~~~``); ``user@example.com`` (no whitespace before ``@``). An import of a file that does not exist,
is not a regular file or looks binary is left as the literal text, without an error. A file already
imported in this session (a cycle, or a second import of the same file) is not imported again. At most
``MAX_IMPORTS`` files are followed per session.

Where an import may reach: a user-level memory file (``~/.claude/CLAUDE.md``, ``$CLAW_CONFIG_HOME/CLAW.md``)
anywhere; a project's memory file only inside the project (the directory tree the memory files were
looked for in, after resolving symlinks) unless the folder is trusted (``claw.config.trust``): a cloned
repository's ``CLAUDE.md`` must not pull ``@~/.ssh/id_rsa`` into the request. A refused import is left
as text and reported as a warning.

This module finds import targets and decides which to follow; reading them, capping their size and
placing them in the prompt is ``claw.runtime.system_prompt``'s job.
"""

from __future__ import annotations

import os
import re
from typing import Callable, List, Optional, Sequence

MAX_DEPTH = 5
MAX_IMPORTS = 100

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
_IMPORT = re.compile(r"(?:^|(?<=\s))@((?:[^\s\\]|\\ )+)")
_PARAGRAPHS = re.compile(r"(\n[ \t]*\n)")
_TRAILING = ".,;:!?)]}\"'"


def _blank(match: "re.Match[str]") -> str:
    return re.sub(r"[^\n]", " ", match.group(0))


def _blank_line(line: str) -> str:
    body = line.rstrip("\n")
    return " " * len(body) + line[len(body):]


def _outside_code(text: str) -> str:
    """``text`` with fenced code blocks and inline code spans blanked out (same length)."""
    out: List[str] = []
    fence: Optional[str] = None
    chunk: List[str] = []

    def flush() -> None:  # a code span never reaches past a blank line (the end of a paragraph)
        if chunk:
            out.extend(_SPAN.sub(_blank, part) for part in _PARAGRAPHS.split("".join(chunk)))
            chunk.clear()

    for line in text.splitlines(keepends=True):
        m = _FENCE.match(line)
        if fence is None and m:
            flush()
            fence = m.group(1)
            out.append(_blank_line(line))
        elif fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip()[len(m.group(1)):]:
                fence = None
            out.append(_blank_line(line))
        else:
            chunk.append(line)
    flush()
    return "".join(out)


def import_paths(text: str) -> List[str]:
    """The ``@path`` targets of ``text`` as written (``\\ `` unescaped), in order, outside code."""
    found: List[str] = []
    for match in _IMPORT.finditer(_outside_code(text)):
        raw = match.group(1).rstrip(_TRAILING).replace("\\ ", " ")
        if raw and raw[0] not in "@#" and raw not in found:
            found.append(raw)
    return found


def resolve(target: str, importer: str, home: Optional[str]) -> Optional[str]:
    """The absolute path ``target`` names, imported from the file ``importer`` (None: ``~`` without a
    home)."""
    if target == "~" or target.startswith("~/"):
        if not home:
            return None
        return os.path.normpath(home + target[1:])
    return os.path.normpath(os.path.join(os.path.dirname(importer), target))


def _under(path: str, base: str) -> bool:
    base = base.rstrip("/") or "/"
    return path == base or path.startswith(base if base == "/" else base + "/")


class ImportScope:
    """Where the imports of one session's memory files may reach, and what has been imported so far."""

    def __init__(self, project_root: str, home: Optional[str], trusted: Callable[[], bool]) -> None:
        self.project_root = os.path.realpath(project_root)
        self.home = home
        self._trusted = trusted
        self._trust: Optional[bool] = None
        self.seen: set = set()
        self.count = 0
        self.warnings: List[str] = []

    def trusted(self) -> bool:
        if self._trust is None:
            self._trust = bool(self._trusted())
        return self._trust

    def follow(self, target: str, importer: str, user_level: bool) -> Optional[str]:
        """The real path to read for ``@target`` in ``importer``, or None (missing, refused, seen)."""
        path = resolve(target, importer, self.home)
        if path is None or not os.path.isfile(path):
            return None
        real = os.path.realpath(path)
        if real in self.seen or self.count >= MAX_IMPORTS:
            return None
        if not user_level and not _under(real, self.project_root) and not self.trusted():
            self.warnings.append(f"{importer}: import @{target} is outside the project and the folder is not "
                                 "trusted; not imported (run 'claw trust' to allow it)")
            return None
        self.seen.add(real)
        self.count += 1
        return real


def expand(path: str, text: str, depth: int, scope: ImportScope, user_level: bool,
           read: Callable[[str], Optional[str]]) -> List[tuple]:
    """``[(path, text, depth, importer)]`` of the files ``text`` (the content of ``path``) imports,
    depth first, each followed by its own imports; ``read(path)`` returns a file's text or None."""
    out: List[tuple] = []
    if depth >= MAX_DEPTH:
        return out
    for target in import_paths(text):
        real = scope.follow(target, path, user_level)
        if real is None:
            continue
        body = read(real)
        if body is None:
            continue
        out.append((real, body, depth + 1, path))
        out.extend(expand(real, body, depth + 1, scope, user_level, read))
    return out


__all__: Sequence[str] = ("MAX_DEPTH", "MAX_IMPORTS", "ImportScope", "expand", "import_paths", "resolve")
