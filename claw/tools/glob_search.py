"""The ``glob_search`` tool: find files by name pattern, newest first.

Input (docs/TOOLS.md): ``pattern`` (``**`` spans directories, ``{a,b}`` alternatives, ``*``/``?``/``[...]``
within one name), ``path?`` (the directory the pattern is relative to; default the working directory).
An absolute pattern, or one starting with ``../``, starts its walk at its own fixed leading directories
(``target_paths`` reports that directory so the policy checks it). Results are files (not directories),
sorted by modification time, newest first, capped at ``MAX_RESULTS`` with a note.

It skips version-control directories and ``node_modules``, does not follow symlinked directories and
does not read .gitignore (use grep_search for that).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolInputError, ToolResult, ToolSpec
from claw.tools.globs import compile_path_glob, expand_braces, static_prefix
from claw.tools.paths import display_path, expand_path, resolve_path, target_path
from claw.tools.schema import check_input

MAX_RESULTS = 100
SKIP_DIRS = frozenset({".git", ".svn", ".hg", ".bzr", ".jj", ".sl", "_darcs", "CVS", "node_modules"})

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "pattern": {
            "type": "string",
            "description": 'Glob pattern, e.g. "**/*.py", "src/**/*.{ts,tsx}", "*.md".',
        },
        "path": {
            "type": "string",
            "description": "Directory to search in (the pattern is relative to it). Defaults to the "
            "current working directory.",
        },
    },
    "required": ["pattern"],
    "additionalProperties": False,
}


class GlobSearchTool(Tool):
    spec = ToolSpec(
        name="glob_search",
        description=(
            "Find files by glob pattern (** spans directories, {a,b} alternatives). Returns matching "
            f"file paths, newest first, at most {MAX_RESULTS}. Skips .git, node_modules and other "
            "version-control directories."
        ),
        input_schema=SCHEMA,
        permission=PermissionLevel.READ_ONLY,
        read_only=True,
    )

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        data = check_input(SCHEMA, tool_input)
        if not data["pattern"].strip():
            raise ToolInputError("'pattern' must not be empty")
        return data

    def plan(self, data: Mapping[str, Any], cwd: Optional[Path]) -> List[Tuple[Path, List[str]]]:
        """(walk root, patterns relative to it): the brace alternatives grouped by where they start.
        Without ``cwd`` relative roots stay relative (see Tool.target_paths)."""
        base = os.path.expanduser(data.get("path") or ".")
        if cwd is not None:
            base = expand_path(base, cwd)
        plans: Dict[Path, List[str]] = {}
        for alt in expand_braces(data["pattern"]):
            alt = os.path.expanduser(alt)
            full = alt if os.path.isabs(alt) else os.path.join(base, alt)
            prefix = static_prefix(full)
            rest = full[len(prefix) :].lstrip("/") if prefix else full
            root = target_path(prefix or ".", cwd)
            plans.setdefault(root, []).append(rest)
        return list(plans.items())

    def target_paths(self, tool_input: Mapping[str, Any], cwd: Optional[Path] = None) -> List[Path]:
        return [root for root, _ in self.plan(tool_input, cwd)]

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        plans = self.plan(tool_input, ctx.cwd)
        base = resolve_path(tool_input.get("path") or ".", ctx.cwd)
        if tool_input.get("path") and not base.is_dir():
            what = "does not exist" if not base.exists() else "is not a directory"
            return ToolResult.error(f"Path {display_path(base, ctx.cwd)} {what}")
        found = await asyncio.get_running_loop().run_in_executor(None, _search, plans, ctx)
        if ctx.is_read_denied is not None:
            found = [f for f in found if not ctx.is_read_denied(Path(f[1]))]
        if not found:
            return ToolResult("No files found", metadata={"count": 0})
        found.sort(key=lambda f: (-f[0], f[1]))
        shown = [display_path(path, ctx.cwd) for _, path in found[:MAX_RESULTS]]
        text = "\n".join(shown)
        if len(found) > MAX_RESULTS:
            text += (
                f"\n[showing the {MAX_RESULTS} most recently modified of {len(found)} files; "
                "use a more specific pattern or path]"
            )
        return ToolResult(text, metadata={"count": len(found)})


def _is_plain(pattern: str) -> bool:
    return not any(ch in pattern for ch in "*?[\\")


def _search(plans: List[Tuple[Path, List[str]]], ctx: ToolContext) -> List[Tuple[int, str]]:
    """(mtime_ns, absolute path) of every matching file."""
    seen = set()
    out: List[Tuple[int, str]] = []

    def add(full: str) -> None:
        if full not in seen:
            seen.add(full)
            out.append((_mtime(full), full))

    for root, patterns in plans:
        for plain in [p for p in patterns if _is_plain(p)]:
            # a plain path: no walk needed
            full = os.path.join(str(root), plain) if plain else str(root)
            if os.path.isfile(full):
                add(full)
        patterns = [p for p in patterns if not _is_plain(p)]
        if not patterns:
            continue
        regexes = [compile_path_glob(p) for p in patterns]
        deep = any("**" in p or "/" in p for p in patterns)
        for dirpath, dirnames, filenames in os.walk(str(root)):
            if ctx.cancelled:
                break
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            rel_dir = os.path.relpath(dirpath, str(root))
            rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
            for name in filenames:
                rel = f"{rel_dir}/{name}" if rel_dir else name
                if any(r.match(rel) for r in regexes):
                    add(os.path.join(dirpath, name))
            if not deep:
                dirnames[:] = []
    return out


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0
