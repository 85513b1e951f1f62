"""Glob patterns compiled to regular expressions: brace expansion, shell-style globs, gitignore lines.

Three users, three flavours, one translator:
- ``glob_search``: a path glob matched against the whole path relative to the search base (``*`` and
  ``?`` stay within one path component, ``**`` spans components, ``{a,b}`` alternatives, ``[...]``).
- gitignore lines and ripgrep ``--glob`` overrides (``GitignoreLine``): a pattern without a slash matches
  the name at any depth, a leading or inner slash anchors it, a trailing slash means directories only,
  ``!`` negates — the rules of git and of ripgrep's ``ignore`` crate, which grep_search mirrors.
- permission rules for paths (``Read(./src/**)``) use the gitignore flavour.

It does not walk directories (callers do) and does not know about permissions.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import List, Optional, Pattern


def expand_braces(pattern: str) -> List[str]:
    """``a{b,c{d,e}}f`` -> ``[abf, acdf, acef]``. Unbalanced braces and escaped ones stay literal."""
    start = _find_brace_group(pattern)
    if start is None:
        return [pattern]
    open_at, close_at, parts = start
    prefix, suffix = pattern[:open_at], pattern[close_at + 1 :]
    out: List[str] = []
    for alt in parts:
        for tail in expand_braces(alt + suffix):
            out.append(prefix + tail)
    # keep order, drop duplicates
    seen = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def _find_brace_group(pattern: str):
    """First top-level ``{...}`` group with its comma-separated alternatives, or None."""
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            end = _class_end(pattern, i)
            if end is not None:
                i = end + 1
                continue
        if c == "{":
            depth = 0
            parts: List[str] = []
            last = i + 1
            j = i
            while j < n:
                d = pattern[j]
                if d == "\\":
                    j += 2
                    continue
                if d == "{":
                    depth += 1
                elif d == "}":
                    depth -= 1
                    if depth == 0:
                        parts.append(pattern[last:j])
                        return i, j, parts
                elif d == "," and depth == 1:
                    parts.append(pattern[last:j])
                    last = j + 1
                j += 1
            return None  # unbalanced: literal
        i += 1
    return None


def _class_end(pattern: str, start: int) -> Optional[int]:
    """Index of the ``]`` closing the class that opens at ``start``, or None when it does not close."""
    j = start + 1
    if j < len(pattern) and pattern[j] in "!^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern):
        if pattern[j] == "]":
            return j
        j += 1
    return None


def glob_to_regex(pattern: str) -> str:
    """Translate one brace-free glob to a regex source matching a whole ``/``-separated path.

    ``*`` matches within a component, ``**`` as a whole component matches any number of components
    (``a/**/b`` matches ``a/b``), ``**`` elsewhere is ``*``, ``?`` one non-slash character, ``[...]`` a
    class (``[!x]`` or ``[^x]`` negated; never matches ``/``), ``\\x`` the literal ``x``.
    """
    out: List[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                before_ok = i == 0 or pattern[i - 1] == "/"
                after = i + 2
                after_ok = after == n or pattern[after] == "/"
                if before_ok and after_ok:
                    if after == n:
                        # trailing "**" (or the whole pattern): anything, including nothing below a "/"
                        out.append(".*")
                        i = after
                    else:
                        # "**/": zero or more whole components
                        out.append("(?:[^/]*/)*")
                        i = after + 1
                    continue
                out.append("[^/]*")
                i += 2
                while i < n and pattern[i] == "*":
                    i += 1
                continue
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = _class_end(pattern, i)
            if end is None:
                out.append(re.escape(c))
                i += 1
                continue
            body = pattern[i + 1 : end]
            negate = body[:1] in ("!", "^")
            if negate:
                body = body[1:]
            body = body.replace("\\", "\\\\").replace("[", "\\[")
            if body.startswith("]"):
                body = "\\" + body
            out.append(f"[^/{body}]" if negate else f"(?!/)[{body}]")
            i = end + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


@lru_cache(maxsize=512)
def compile_path_glob(pattern: str, ignore_case: bool = False) -> Pattern[str]:
    """A glob (braces allowed) as one compiled regex that must match the whole relative path."""
    alternatives = [glob_to_regex(p) for p in expand_braces(pattern)]
    source = "(?:" + "|".join(alternatives) + r")\Z"
    return re.compile(source, re.IGNORECASE if ignore_case else 0)


def static_prefix(pattern: str) -> str:
    """The leading components of a glob that contain no glob syntax: the directory to start walking in.

    ``src/**/*.py`` -> ``src``; ``/etc/*.conf`` -> ``/etc``; ``*.py`` -> ``""``.
    """
    parts = pattern.split("/")
    static: List[str] = []
    for part in parts[:-1]:
        if any(ch in part for ch in "*?[{\\"):
            break
        static.append(part)
    if pattern.startswith("/") and not static:
        return "/"
    prefix = "/".join(static)
    if pattern.startswith("/") and prefix == "":
        return "/"
    return prefix


class GitignoreLine:
    """One line of a .gitignore (or one ripgrep ``--glob``), compiled.

    ``matches(rel, is_dir)`` tests a path relative to the directory the line belongs to. ``negated``
    says the line re-includes (``!pattern``). The regex is compiled on first use (``regex``): tens of
    thousands of permission rules are parsed at start-up and most are never consulted. A glob with a
    ``[...]`` class, which may not compile, is compiled at once so a bad one fails at parse time.
    """

    __slots__ = ("text", "negated", "dir_only", "glob", "ignore_case", "_regex")

    def __init__(self, text: str, negated: bool, dir_only: bool, regex: Optional[Pattern[str]] = None,
                 *, glob: str = "", ignore_case: bool = False) -> None:
        self.text = text
        self.negated = negated
        self.dir_only = dir_only
        self.glob = glob
        self.ignore_case = ignore_case
        self._regex = regex

    @property
    def regex(self) -> Pattern[str]:
        if self._regex is None:
            self._regex = compile_path_glob(self.glob, self.ignore_case)
        return self._regex

    @classmethod
    def parse(cls, line: str, *, ignore_case: bool = False) -> Optional["GitignoreLine"]:
        """Parse one line; None for blank lines and comments. Mirrors git and ripgrep's ``ignore``."""
        original = line
        line = line.rstrip("\r\n")
        if not line or line.startswith("#"):
            return None
        # trailing spaces are dropped unless escaped with a backslash
        stripped = line.rstrip(" ")
        if stripped != line and stripped.endswith("\\"):
            stripped += " "
        line = stripped
        if not line:
            return None
        negated = False
        if line.startswith("!"):
            negated = True
            line = line[1:]
        elif line.startswith("\\!") or line.startswith("\\#"):
            line = line[1:]
        dir_only = False
        if line.endswith("/") and len(line) > 1:
            dir_only = True
            line = line[:-1]
        anchored = False
        if line.startswith("/"):
            anchored = True
            line = line[1:]
        if not line:
            return None
        if not anchored and "/" not in line and not line.startswith("**/"):
            line = "**/" + line
        if line.endswith("/**"):
            line += "/*"
        eager = compile_path_glob(line, ignore_case) if "[" in line else None
        return cls(original, negated, dir_only, eager, glob=line, ignore_case=ignore_case)

    def matches(self, rel: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        return self.regex.match(rel) is not None


class GitignoreFile:
    """The lines of one ignore file (or one list of globs); the last matching line decides."""

    __slots__ = ("lines",)

    def __init__(self, lines: List[GitignoreLine]) -> None:
        self.lines = lines

    @classmethod
    def from_text(cls, text: str, *, ignore_case: bool = False) -> "GitignoreFile":
        lines = []
        for raw in text.splitlines():
            parsed = GitignoreLine.parse(raw, ignore_case=ignore_case)
            if parsed is not None:
                lines.append(parsed)
        return cls(lines)

    def match(self, rel: str, is_dir: bool) -> Optional[bool]:
        """True: ignored, False: explicitly re-included (``!``), None: no line matches."""
        for line in reversed(self.lines):
            if line.matches(rel, is_dir):
                return not line.negated
        return None

    def __bool__(self) -> bool:
        return bool(self.lines)
