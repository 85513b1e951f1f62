"""The file walk of grep_search's pure-Python path, with ripgrep's filtering rules.

grep_search runs ``rg --hidden --no-follow --no-require-git --no-ignore-parent --no-ignore-global
--no-ignore-exclude`` when rg is on PATH; this walker reproduces which files that command searches, so
both paths answer the same:
- ``--glob`` overrides first (last matching glob wins; ``!glob`` excludes; when any positive glob is
  given, a file matching none is skipped; an override decision skips every other rule),
- then ignore files in the searched tree — ``.rgignore`` over ``.ignore`` over ``.gitignore``, a deeper
  file over a shallower one, and ``.gitignore`` files above a directory holding ``.git`` not consulted,
- then ``--type`` selections (file names only),
- hidden files included, symlinks not followed (neither files nor directories), only regular files.

It does not read global git excludes, ``.git/info/exclude`` or ignore files above the search root
(the rg flags above switch those off too), and it does not search file contents.
"""

from __future__ import annotations

import os
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from claw.tools.globs import GitignoreFile, GitignoreLine, compile_path_glob
from claw.tools.rg_types import RG_TYPES

IGNORE_FILES = (".rgignore", ".ignore", ".gitignore")  # precedence: first wins

# a level of the walk: (directory path relative to the root ("" for the root), ignore matchers by
# IGNORE_FILES position, whether the directory holds .git)
_Level = Tuple[str, Tuple[Optional[GitignoreFile], ...], bool]


class Overrides:
    """ripgrep ``--glob`` overrides: gitignore-style globs with inverted meaning."""

    def __init__(self, globs: Sequence[str], *, ignore_case: bool = False) -> None:
        self.lines: List[GitignoreLine] = []
        self.whitelists = 0
        for glob in globs:
            # rg feeds "!x" to the gitignore parser as "x" (ignore) and "x" as "!x" (whitelist)
            text = glob[1:] if glob.startswith("!") else "!" + glob
            line = GitignoreLine.parse(text, ignore_case=ignore_case)
            if line is None:
                continue
            self.lines.append(line)
            if line.negated:
                self.whitelists += 1

    def decide(self, rel: str, is_dir: bool) -> Optional[bool]:
        """True: include, False: skip, None: no opinion (other rules decide)."""
        for line in reversed(self.lines):
            if line.matches(rel, is_dir):
                return line.negated
        if self.whitelists and not is_dir:
            return False
        return None

    def __bool__(self) -> bool:
        return bool(self.lines)


def type_matcher(types: Sequence[str]) -> Optional[Callable[[str], bool]]:
    """A predicate on a file name for ``--type`` selections; None when no type is selected.
    Raises KeyError naming the first unknown type."""
    if not types:
        return None
    regexes = []
    for name in types:
        for glob in RG_TYPES[name]:
            regexes.append(compile_path_glob(glob))

    def matches(file_name: str) -> bool:
        return any(r.match(file_name) for r in regexes)

    return matches


def _load_ignores(dir_path: str) -> Tuple[Tuple[Optional[GitignoreFile], ...], bool]:
    found: List[Optional[GitignoreFile]] = []
    for name in IGNORE_FILES:
        try:
            with open(os.path.join(dir_path, name), encoding="utf-8", errors="replace") as fh:
                parsed = GitignoreFile.from_text(fh.read())
            found.append(parsed if parsed else None)
        except OSError:
            found.append(None)
    has_git = os.path.exists(os.path.join(dir_path, ".git"))
    return tuple(found), has_git


def _ignored(levels: Sequence[_Level], rel: str, is_dir: bool) -> Optional[bool]:
    """The ignore-file verdict for ``rel``: True ignored, False whitelisted, None no match."""
    verdicts: List[Optional[bool]] = [None] * len(IGNORE_FILES)
    saw_git = False
    for dir_rel, matchers, has_git in reversed(levels):
        sub = rel[len(dir_rel) + 1 :] if dir_rel else rel
        for i, matcher in enumerate(matchers):
            if matcher is None or verdicts[i] is not None:
                continue
            if i == 2 and saw_git:
                continue
            verdicts[i] = matcher.match(sub, is_dir)
        saw_git = saw_git or has_git
    for verdict in verdicts:
        if verdict is not None:
            return verdict
    return None


def walk_files(
    root: str,
    *,
    globs: Sequence[str] = (),
    types: Sequence[str] = (),
    cancelled: Optional[Callable[[], bool]] = None,
) -> Iterator[str]:
    """Yield the paths (relative to ``root``, ``/``-separated) of the files rg would search."""
    overrides = Overrides(globs)
    type_ok = type_matcher(types)
    matchers, has_git = _load_ignores(root)
    stack: List[Tuple[str, List[_Level]]] = [("", [("", matchers, has_git)])]
    while stack:
        if cancelled is not None and cancelled():
            return
        dir_rel, levels = stack.pop()
        dir_abs = os.path.join(root, dir_rel) if dir_rel else root
        try:
            with os.scandir(dir_abs) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs: List[str] = []
        for entry in entries:
            rel = f"{dir_rel}/{entry.name}" if dir_rel else entry.name
            try:
                if entry.is_symlink():
                    continue
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = not is_dir and entry.is_file(follow_symlinks=False)
            except OSError:
                continue
            if not is_dir and not is_file:
                continue
            decision = overrides.decide(rel, is_dir) if overrides else None
            if decision is False:
                continue
            if decision is None:
                if _ignored(levels, rel, is_dir):
                    continue
                if is_file and type_ok is not None and not type_ok(entry.name):
                    continue
            if is_dir:
                subdirs.append(rel)
            else:
                yield rel
        for sub in reversed(subdirs):
            sub_matchers, sub_git = _load_ignores(os.path.join(root, sub))
            stack.append((sub, levels + [(sub, sub_matchers, sub_git)]))
