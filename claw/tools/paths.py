"""Path resolution shared by the file tools and the permission policy.

``resolve_path`` turns what the model wrote (relative, ``~``, ``..``, through symlinks, a file that does
not exist yet under a symlinked directory) into the one real absolute path the tool will act on, so the
workspace check and the tool see the same thing. ``is_within`` is the workspace test.

It does not decide anything about permissions and never touches file contents.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Union

PathLike = Union[str, "os.PathLike[str]"]


def expand_path(raw: PathLike, cwd: PathLike) -> str:
    """``~`` expanded and made absolute against ``cwd``; symlinks and ``..`` not yet resolved."""
    text = os.path.expanduser(os.fspath(raw))
    if not os.path.isabs(text):
        text = os.path.join(os.fspath(cwd), text)
    return text


def resolve_path(raw: PathLike, cwd: PathLike) -> Path:
    """The real absolute path: ``~`` expanded, relative to ``cwd``, every existing symlink followed
    (including a symlinked parent of a file that does not exist yet) and ``..`` applied after it."""
    return Path(os.path.realpath(expand_path(raw, cwd)))


def target_path(raw: PathLike, cwd: "PathLike | None") -> Path:
    """What ``Tool.target_paths`` reports: resolved when ``cwd`` is known, else ``~``-expanded only."""
    if cwd is None:
        return Path(os.path.expanduser(os.fspath(raw)))
    return resolve_path(raw, cwd)


def approved_path(raw: PathLike, ctx: Any) -> Path:
    """The path a file tool acts on: the one the permission policy approved when the tool-call runner
    handed it over (``ctx.approved_paths``), so a symlink swapped in after the check cannot redirect the
    call; else (a direct call) ``raw`` resolved now."""
    approved = getattr(ctx, "approved_paths", None)
    if approved:
        return Path(approved[0])
    return resolve_path(raw, ctx.cwd)


def is_within(path: PathLike, root: PathLike) -> bool:
    """True when ``path`` is ``root`` or below it. Both should already be resolved."""
    p = os.fspath(path)
    r = os.fspath(root)
    if p == r:
        return True
    if not r.endswith(os.sep):
        r += os.sep
    return p.startswith(r)


def within_any(path: PathLike, roots: Iterable[PathLike]) -> bool:
    return any(is_within(path, root) for root in roots)


def display_path(path: PathLike, cwd: PathLike) -> str:
    """``path`` relative to ``cwd`` when it is below it, else absolute: short, still unambiguous."""
    p = os.fspath(path)
    c = os.fspath(cwd)
    if p == c:
        return "."
    if is_within(p, c):
        return p[len(c.rstrip(os.sep)) + 1 :]
    return p
