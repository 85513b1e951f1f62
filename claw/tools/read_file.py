"""The ``read_file`` tool: a text file's lines, numbered like ``cat -n``.

Input (docs/TOOLS.md): ``path``, ``offset?`` (1-based first line; 0 is taken as 1), ``limit?`` (lines; default
``DEFAULT_LIMIT``). Lines longer than ``MAX_LINE_CHARS`` are cut with a note, the whole answer stops at
``MAX_OUTPUT_CHARS`` with a note saying which offset to continue from. PNG, JPEG, GIF and WebP images
and PDFs (by magic bytes) come back as image/document blocks, ``.ipynb`` notebooks as cells with outputs
(``claw.tools.media``; with offset/limit a notebook is read as text; ``pages`` renders a PDF's pages
as images). Refused with a reason: directories
(with a hint), other images, other binary files (a NUL byte in the first 8 KiB), device files, and files
past ``MAX_FILE_BYTES`` unless offset/limit narrow the read.

Text files are read line by line, never whole; text is decoded as UTF-8 with replacement characters.
It does not resize images or extract PDF text.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolResult, ToolSpec
from claw.tools.paths import approved_path, display_path, target_path
from claw.tools.media import sniff
from claw.tools.safe_fs import PathChanged, changed_message, open_for_read
from claw.tools.schema import check_input

DEFAULT_LIMIT = 2000
MAX_LINE_CHARS = 2000
MAX_OUTPUT_CHARS = 100_000
MAX_FILE_BYTES = 10 * 1024 * 1024  # whole-file reads above this need offset/limit
SNIFF_BYTES = 8192

IMAGE_EXTENSIONS = frozenset(
    ".png .jpg .jpeg .gif .webp .bmp .ico .tif .tiff .heic .avif .psd".split()
)

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "Path of the file to read (absolute or relative to "
                 "the working directory)."},
        "offset": {"type": "integer", "minimum": 0, "description": "Line number to start reading from "
                   "(1-based). Use with limit for large files."},
        "limit": {"type": "integer", "minimum": 1, "description": f"Number of lines to read (default "
                  f"{DEFAULT_LIMIT})."},
        "pages": {"type": "string", "description": "PDF files only: the pages to read, like \"3\" or \"1-5\" "
                  "(at most 20), each shown as an image. Use it for PDFs too large to read whole."},
    },
    "required": ["path"],
    "additionalProperties": False,
}

PATH_ALIASES = {"file_path": "path"}


class ReadFileTool(Tool):
    spec = ToolSpec(
        name="read_file",
        description=(
            "Read a file. Text comes back as lines numbered like `cat -n` (number, tab, text), at most "
            f"{DEFAULT_LIMIT} lines from offset (1-based); lines over {MAX_LINE_CHARS} characters are cut. "
            "PNG/JPEG/GIF/WebP images and PDFs are shown to you as such; Jupyter notebooks (.ipynb) as cells "
            "with their ids and outputs. Other binary files are refused; for directories use glob_search."
        ),
        input_schema=SCHEMA,
        permission=PermissionLevel.READ_ONLY,
        read_only=True,
    )

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        return check_input(SCHEMA, tool_input, aliases=PATH_ALIASES)

    def target_paths(self, tool_input: Mapping[str, Any], cwd: Optional[Path] = None) -> List[Path]:
        return [target_path(tool_input["path"], cwd)]

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        path = approved_path(tool_input["path"], ctx)
        return await asyncio.get_running_loop().run_in_executor(None, self._read, tool_input, path, ctx.cwd)

    def _read(self, data: Mapping[str, Any], path: Path, cwd: Path) -> ToolResult:
        shown = display_path(path, cwd)
        try:  # the approved path, opened without following a symlink swapped in since (safe_fs)
            fd = open_for_read(str(path))
        except PathChanged:
            return ToolResult.error(changed_message(shown, wrote=False))
        except FileNotFoundError:
            return ToolResult.error(f"File does not exist: {shown}")
        except OSError as exc:
            return ToolResult.error(f"Cannot read {shown}: {exc.strerror or exc}")
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            if stat.S_ISDIR(st.st_mode):
                return ToolResult.error(
                    f"{shown} is a directory, not a file. List it with glob_search (pattern \"*\", path "
                    f"\"{shown}\") or bash `ls`."
                )
            return ToolResult.error(f"{shown} is not a regular file (device, socket or pipe); not read.")
        with os.fdopen(fd, "rb") as fh:
            offset = max(1, data.get("offset") or 1)
            limit = data.get("limit") or DEFAULT_LIMIT
            narrowed = "offset" in data or "limit" in data
            head = fh.read(SNIFF_BYTES)
            kind = sniff(head) or (".ipynb" if path.suffix.lower() == ".ipynb" and not narrowed else None)
            if data.get("pages") and kind != "application/pdf":
                return ToolResult.error(f"'pages' applies to PDF files only; {shown} is not one.")
            if kind:
                return _media(fh, st.st_size, kind, path, shown, data.get("pages"))
            refusal = _refusal(path, head)
            if refusal:
                return ToolResult.error(f"{shown} is {refusal}; read_file cannot show it.")
            if st.st_size > MAX_FILE_BYTES and not narrowed:
                return ToolResult.error(
                    f"{shown} is {st.st_size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit for a whole "
                    f"read. Read a part with offset and limit (e.g. offset 1, limit {DEFAULT_LIMIT}), or "
                    "search it with grep_search."
                )
            if st.st_size == 0:
                return ToolResult(f"(file {shown} is empty)", metadata={"path": str(path), "lines": 0})
            fh.seek(0)
            return _numbered(fh, shown, path, offset, limit)


def _media(fh, size: int, kind: str, path: Path, shown: str, pages: Optional[str] = None) -> ToolResult:
    from claw.tools import media

    cap = {"application/pdf": media.MAX_PDF_BYTES * (5 if pages else 1), ".ipynb": 4 * MAX_FILE_BYTES}.get(kind, media.MAX_IMAGE_BYTES)
    fh.seek(0)
    data = fh.read(cap + 1)
    meta: Dict[str, Any] = {"path": str(path), "bytes": size}
    if kind == ".ipynb":
        import json

        if len(data) > cap:
            return ToolResult.error(f"{shown} is {size:,} bytes, over the {cap:,}-byte notebook limit. Read "
                                    "it as text with offset and limit, or search it with grep_search.")
        try:
            blocks, cells = media.notebook(json.loads(data.decode("utf-8", "replace")), shown)
        except ValueError as exc:
            return ToolResult.error(f"{shown} is not a readable notebook ({exc}). Read it as text with offset "
                                    "and limit.")
        meta.update(type="notebook", file={"filePath": str(path), "cells": cells})
        return ToolResult(blocks, metadata=meta)
    if pages:
        blocks, refusal, first = media.pdf_pages(data[:cap], pages, shown) if len(data) <= cap else (
            None, f"{shown} is {size:,} bytes, over the {cap:,}-byte limit for reading its pages.", 0)
        if blocks is None:
            return ToolResult.error(refusal, **meta)
        meta.update(type="parts", firstPage=first, file={"filePath": str(path), "originalSize": size,
                                                         "count": len(blocks) // 2, "outputDir": ""})
        return ToolResult(blocks, metadata=meta)
    if kind == "application/pdf":
        blocks, refusal = media.pdf(data, shown, size)
        file: Dict[str, Any] = {"filePath": str(path)}
    else:
        blocks, refusal = media.image(data, kind, shown, size)
        file = {"type": kind}
    if blocks is None:
        return ToolResult.error(refusal, **meta)
    file.update(base64=blocks[0]["source"]["data"], originalSize=size)
    meta.update(type="pdf" if kind == "application/pdf" else "image", file=file, media_type=kind)
    return ToolResult(blocks, metadata=meta)


def _refusal(path: Path, head: bytes) -> str:
    ext = path.suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return f"an image in a format that cannot be shown ({ext}; PNG, JPEG, GIF and WebP can)"
    if ext == ".pdf":
        return "not a valid PDF document (no %PDF- header)"
    if b"\0" in head:
        return "a binary file"
    return ""


def _numbered(fh, shown: str, path: Path, offset: int, limit: int) -> ToolResult:
    out: List[str] = []
    size = 0
    number = 0
    last = offset + limit - 1
    stopped_at = None  # line number where the output cap stopped us
    cut_lines = 0
    for raw in fh:
        number += 1
        if number < offset:
            continue
        if number > last or stopped_at is not None:
            # count the remaining lines cheaply
            number += sum(1 for _ in fh)
            break
        text = raw.decode("utf-8", "replace").rstrip("\n")
        if text.endswith("\r"):
            text = text[:-1]
        if len(text) > MAX_LINE_CHARS:
            text = f"{text[:MAX_LINE_CHARS]}... [line truncated: {len(text) - MAX_LINE_CHARS} more characters]"
            cut_lines += 1
        line = f"{number:6d}\t{text}"
        if size + len(line) + 1 > MAX_OUTPUT_CHARS and out:
            stopped_at = number
            number += sum(1 for _ in fh)
            break
        out.append(line)
        size += len(line) + 1
    total = number
    meta: Dict[str, Any] = {"path": str(path), "lines": total}
    if offset > total:
        return ToolResult.error(
            f"{shown} has {total} line{'s' if total != 1 else ''}; offset {offset} is past the end.",
            **meta,
        )
    text = "\n".join(out)
    shown_last = offset + len(out) - 1
    if stopped_at is not None:
        text += (
            f"\n[output limit reached: showing lines {offset}-{shown_last} of {total}; continue with "
            f"offset {stopped_at}]"
        )
    elif shown_last < total:
        text += (
            f"\n[showing lines {offset}-{shown_last} of {total}; continue with offset {shown_last + 1}]"
        )
    meta["shown"] = [offset, shown_last]
    if cut_lines:
        meta["truncated_lines"] = cut_lines
    return ToolResult(text, metadata=meta)
