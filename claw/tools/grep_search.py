"""The ``grep_search`` tool: regex search over file contents, with ripgrep when present.

Input (docs/TOOLS.md): ``pattern``, ``path?``, ``glob?``, ``type?``, ``output_mode?`` (content /
files_with_matches (default) / count), ``-i?``, ``-n?`` (default true), ``-A?``, ``-B?``, ``-C?``,
``head_limit?``. Uses ``rg`` when it is on PATH (``CLAW_GREP_BACKEND=python`` forces the fallback), the
pure-Python backend otherwise; both feed ``grep_core.format_hits`` so the output is the same.

It does not follow symlinks while walking, does not search binary files, and reads ignore files only
inside the searched tree (see search_walk).
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolInputError, ToolResult, ToolSpec
from claw.tools.grep_core import BINARY_SNIFF_BYTES, GrepQuery, format_hits, split_globs
from claw.tools.paths import display_path, resolve_path, target_path
from claw.tools.rg_types import RG_TYPES
from claw.tools.schema import check_input

_CONTEXT_DESC = 'Requires output_mode "content"; ignored otherwise.'

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "pattern": {
            "type": "string",
            "description": "Regular expression to search for in file contents (ripgrep syntax).",
        },
        "path": {
            "type": "string",
            "description": "File or directory to search in. Defaults to the current working directory.",
        },
        "glob": {
            "type": "string",
            "description": 'Glob to filter files, e.g. "*.js" or "*.{ts,tsx}" (ripgrep --glob; several '
            "separated by spaces or commas; a leading ! excludes).",
        },
        "type": {
            "type": "string",
            "description": 'File type to search (ripgrep --type), e.g. "py", "js", "rust".',
        },
        "output_mode": {
            "type": "string",
            "enum": ["content", "files_with_matches", "count"],
            "description": '"content" shows matching lines, "files_with_matches" (default) lists files '
            '(newest first), "count" gives match counts per file.',
        },
        "-i": {"type": "boolean", "description": "Case-insensitive search."},
        "-n": {"type": "boolean", "description": f"Show line numbers (default true). {_CONTEXT_DESC}"},
        "-A": {"type": "integer", "minimum": 0, "description": f"Lines of context after each match. {_CONTEXT_DESC}"},
        "-B": {"type": "integer", "minimum": 0, "description": f"Lines of context before each match. {_CONTEXT_DESC}"},
        "-C": {"type": "integer", "minimum": 0, "description": f"Lines of context around each match. {_CONTEXT_DESC}"},
        "head_limit": {
            "type": "integer",
            "minimum": 0,
            "description": "Show only the first N results (lines, files or count entries). 0 = no limit.",
        },
    },
    "required": ["pattern"],
    "additionalProperties": False,
}

DESCRIPTION = (
    "Search file contents with a regular expression (ripgrep). Searches hidden files, honours "
    ".gitignore/.ignore files in the searched tree, skips binary files and version-control directories. "
    "Filter with glob or type; choose output_mode content, files_with_matches (default) or count."
)


class GrepSearchTool(Tool):
    spec = ToolSpec(
        name="grep_search",
        description=DESCRIPTION,
        input_schema=SCHEMA,
        permission=PermissionLevel.READ_ONLY,
        read_only=True,
    )

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        data = check_input(SCHEMA, tool_input)
        if not data["pattern"]:
            raise ToolInputError("'pattern' must not be empty")
        if "\n" in data["pattern"]:
            raise ToolInputError("'pattern' cannot contain a newline: matches never span lines")
        return data

    def target_paths(self, tool_input: Mapping[str, Any], cwd: Optional[Path] = None) -> List[Path]:
        return [target_path(tool_input.get("path") or ".", cwd)]

    def build_query(self, data: Mapping[str, Any], cwd: Path) -> GrepQuery:
        root = resolve_path(data.get("path") or ".", cwd)
        context = data.get("-C")
        before = context if context is not None else data.get("-B", 0)
        after = context if context is not None else data.get("-A", 0)
        mode = data.get("output_mode", "files_with_matches")
        if mode != "content":
            before = after = 0
        return GrepQuery(
            pattern=data["pattern"],
            root=str(root),
            single_file=root.is_file(),
            globs=tuple(split_globs(data.get("glob") or "")),
            types=(data["type"],) if data.get("type") else (),
            ignore_case=bool(data.get("-i", False)),
            mode=mode,
            before=int(before or 0),
            after=int(after or 0),
            line_numbers=bool(data.get("-n", True)),
            head_limit=data.get("head_limit") or None,
        )

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        from claw.tools.grep_rg import RgError, find_rg, run_rg

        query = self.build_query(tool_input, ctx.cwd)
        root_shown = display_path(query.root, ctx.cwd)
        if not os.path.exists(query.root):
            return ToolResult.error(f"Path does not exist: {root_shown}")
        if query.single_file and _is_binary(query.root):
            return ToolResult(f"{root_shown} is a binary file; grep_search searches text files only.")
        rg = find_rg(ctx.env)
        backend = "rg" if rg else "python"
        try:
            if rg:
                hits = await run_rg(query, rg, ctx.env)
            else:
                hits = await _python_search(query, ctx)
        except RgError as exc:
            return ToolResult.error(f"grep_search failed: {exc}", backend=backend)
        except re.error as exc:
            return ToolResult.error(f"Invalid regular expression {query.pattern!r}: {exc}", backend=backend)
        except KeyError as exc:
            return ToolResult.error(
                f"Unknown file type {exc.args[0]!r}. Known types: {', '.join(sorted(RG_TYPES))}",
                backend=backend,
            )
        text, meta = format_hits(query, hits, str(ctx.cwd), hide=_hider(ctx))
        meta["backend"] = backend
        return ToolResult(text, metadata=meta)


async def _python_search(query: GrepQuery, ctx: ToolContext):
    """The Python backend in a worker thread; a cancelled task or ctx.cancel stops it between files."""
    import threading

    from claw.tools import grep_python

    stop = threading.Event()
    future = asyncio.get_running_loop().run_in_executor(
        None, lambda: grep_python.search(query, cancelled=lambda: stop.is_set() or ctx.cancelled)
    )
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        stop.set()
        raise


def _hider(ctx: ToolContext):
    if ctx.is_read_denied is None:
        return None
    check = ctx.is_read_denied
    return lambda path: check(Path(path))


def _is_binary(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return b"\0" in fh.read(BINARY_SNIFF_BYTES)
    except OSError:
        return False
