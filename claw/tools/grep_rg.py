"""grep_search's ripgrep backend: build the argv (no shell), run ``rg``, parse its ``--null`` output.

ripgrep runs with its configuration file ignored and the filtering that ``search_walk`` mirrors:
hidden files searched, symlinks not followed, ignore files honoured inside the searched tree only
(``--no-require-git --no-ignore-parent --no-ignore-global --no-ignore-exclude``), version-control
directories excluded. For a directory it runs with the directory as its working directory and ``.`` as
the path, so ``--glob`` patterns are relative to the searched directory.

It does no formatting (``grep_core.format_hits`` does) and never falls back to Python by itself.
"""

from __future__ import annotations

import asyncio
import os
from typing import Dict, List, Optional, Tuple

from claw.tools.grep_core import FileHits, GrepQuery


class RgError(Exception):
    """ripgrep refused the search (bad regex, unknown type...); the message is rg's own."""


def find_rg(env: Optional[Dict[str, str]] = None) -> Optional[str]:
    """Path of ``rg`` on the PATH of ``env`` (or the process), unless CLAW_GREP_BACKEND=python."""
    environ = env if env is not None else os.environ
    if environ.get("CLAW_GREP_BACKEND", "").lower() == "python":
        return None
    import shutil  # here, not at the top: start-up does not need it

    return shutil.which("rg", path=environ.get("PATH", os.defpath))


def build_argv(query: GrepQuery, rg: str = "rg") -> Tuple[List[str], str]:
    """(argv, working directory) for the query."""
    argv = [
        rg,
        "--no-config",
        "--hidden",
        "--no-follow",
        "--no-require-git",
        "--no-ignore-parent",
        "--no-ignore-global",
        "--no-ignore-exclude",
        "--no-messages",
        "--color",
        "never",
        "--null",
    ]
    if query.ignore_case:
        argv.append("--ignore-case")
    else:
        argv.append("--case-sensitive")
    if query.mode == "files_with_matches":
        argv.append("--files-with-matches")
    elif query.mode == "count":
        argv += ["--count", "--with-filename"]
    else:
        argv += ["--line-number", "--with-filename", "--no-heading"]
        if query.before:
            argv += ["--before-context", str(query.before)]
        if query.after:
            argv += ["--after-context", str(query.after)]
    for name in query.types:
        argv += ["--type", name]
    if not query.single_file:
        for glob in query.all_globs:
            argv += ["--glob", glob]
    argv += ["--regexp", query.pattern, "--"]
    if query.single_file:
        argv.append(query.root)
        cwd = os.path.dirname(query.root) or "/"
    else:
        argv.append(".")
        cwd = query.root
    return argv, cwd


def _rel(query: GrepQuery, raw: bytes) -> str:
    if query.single_file:
        return ""
    text = os.fsdecode(raw)
    return text[2:] if text.startswith("./") else text


def parse_output(query: GrepQuery, out: bytes) -> List[FileHits]:
    """Turn rg's ``--null`` output for ``query.mode`` into hits."""
    hits: Dict[str, FileHits] = {}
    if query.mode == "files_with_matches":
        if query.single_file:
            return [FileHits("")] if out.strip(b"\0\n") else []
        names = os.fsdecode(out).split("\0")
        return [FileHits(n[2:] if n.startswith("./") else n) for n in names if n and n != "\n"]
    for raw_line in out.split(b"\n"):
        if not raw_line or raw_line == b"--":
            continue
        path_bytes, sep, rest = raw_line.partition(b"\0")
        if not sep:
            continue
        rel = _rel(query, path_bytes)
        entry = hits.get(rel)
        if entry is None:
            entry = hits[rel] = FileHits(rel=rel)
        if query.mode == "count":
            entry.count = int(rest or b"0")
            continue
        i = 0
        while i < len(rest) and 48 <= rest[i] <= 57:
            i += 1
        if i == 0 or i >= len(rest):
            continue
        is_match = rest[i : i + 1] == b":"
        text = rest[i + 1 :].decode("utf-8", "replace")
        entry.lines.append((int(rest[:i]), is_match, text))
    return list(hits.values())


async def run_rg(query: GrepQuery, rg: str, env: Optional[Dict[str, str]] = None) -> List[FileHits]:
    """Run ripgrep; kill it if the calling task is cancelled. Raises RgError when rg fails outright."""
    argv, cwd = build_argv(query, rg)
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await proc.communicate()
    except asyncio.CancelledError:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if proc.returncode == 1:
        return []
    if proc.returncode == 2 and not out:
        message = err.decode("utf-8", "replace").strip() or "ripgrep failed (exit code 2)"
        raise RgError(message)
    # exit 0, or 2 with results (some files unreadable): use what was found
    return parse_output(query, out)
