"""The ``edit_file`` tool: exact string replacement in a file, one edit or several all-or-nothing.

Input: ``path``, ``old_string``, ``new_string``, ``replace_all?`` — or, instead of the
last three, ``edits: [{old_string, new_string, replace_all?}, ...]`` (Claude Code's MultiEdit, which is
why the ``MultiEdit`` alias resolves here): the edits apply in order, each to the result of the previous
one, and the file is written once, only if every edit applies.

Errors say what to do: old_string not found (with a hint when only whitespace differs), found N times
without replace_all, identical old and new strings, an empty old_string on a non-empty file. An empty
old_string on a missing (or empty) file creates it with new_string. In a CRLF file, ``\\n`` in the strings
also matches ``\\r\\n``. Bytes that are not UTF-8 are kept as they were. The write is atomic and keeps
the file mode; the file is read and replaced at exactly the path the permission policy approved,
without following a symlink swapped in meanwhile (``claw.tools.safe_fs``).

It does not do fuzzy matching or regex replacement.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolInputError, ToolResult, ToolSpec
from claw.tools.paths import approved_path, display_path, target_path
from claw.tools.safe_fs import PathChanged, changed_message, open_for_read, replace_file
from claw.tools.schema import check_input

SNIPPET_CONTEXT = 3
SNIPPET_MAX_LINES = 40

_EDIT_ITEM = {
    "type": "object",
    "properties": {
        "old_string": {"type": "string", "description": "Exact text to replace."},
        "new_string": {"type": "string", "description": "Replacement text."},
        "replace_all": {"type": "boolean", "description": "Replace every occurrence (default false)."},
    },
    "required": ["old_string", "new_string"],
    "additionalProperties": False,
}

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "Path of the file to edit."},
        "old_string": {"type": "string", "description": "Exact text to replace, including whitespace and "
                       "indentation; must occur exactly once unless replace_all is true."},
        "new_string": {"type": "string", "description": "Text to put in its place (must differ)."},
        "replace_all": {"type": "boolean", "description": "Replace every occurrence of old_string "
                        "(default false)."},
        "edits": {
            "type": "array",
            "items": _EDIT_ITEM,
            "minItems": 1,
            "description": "Several edits to apply in order, all or nothing (instead of "
            "old_string/new_string/replace_all).",
        },
    },
    "required": ["path"],
    "additionalProperties": False,
}


class EditError(Exception):
    pass


class EditFileTool(Tool):
    spec = ToolSpec(
        name="edit_file",
        description=(
            "Replace exact text in a file: old_string must match exactly once (or set replace_all). "
            "For several changes to one file pass edits: [{old_string, new_string, replace_all?}], applied "
            "in order, all or nothing. Read the file first so old_string matches byte for byte."
        ),
        input_schema=SCHEMA,
        permission=PermissionLevel.WORKSPACE_WRITE,
        read_only=False,
    )

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        data = check_input(SCHEMA, tool_input, aliases={"file_path": "path"})
        single = [k for k in ("old_string", "new_string", "replace_all") if k in data]
        if "edits" in data:
            if single:
                raise ToolInputError("give either old_string/new_string or edits, not both")
        else:
            for key in ("old_string", "new_string"):
                if key not in data:
                    raise ToolInputError(f"missing required property {key!r} (or give edits)")
            data["edits"] = [
                {
                    "old_string": data.pop("old_string"),
                    "new_string": data.pop("new_string"),
                    "replace_all": data.pop("replace_all", False),
                }
            ]
        for i, edit in enumerate(data["edits"], 1):
            if edit["old_string"] == edit["new_string"]:
                where = f"edit {i}: " if len(data["edits"]) > 1 else ""
                raise ToolInputError(f"{where}old_string and new_string are identical; nothing would change")
        return data

    def target_paths(self, tool_input: Mapping[str, Any], cwd: Optional[Path] = None) -> List[Path]:
        return [target_path(tool_input["path"], cwd)]

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        path = approved_path(tool_input["path"], ctx)
        return await asyncio.get_running_loop().run_in_executor(None, self._edit, tool_input, path, ctx.cwd)

    def _edit(self, data: Mapping[str, Any], path: Path, cwd: Path) -> ToolResult:
        shown = display_path(path, cwd)
        edits = data["edits"]
        try:
            raw = _read_regular(str(path))
        except PathChanged:
            return ToolResult.error(changed_message(shown))
        except IsADirectoryError:
            return ToolResult.error(f"{shown} is a directory, not a file.")
        except FileNotFoundError:
            raw = None
        except OSError as exc:
            return ToolResult.error(f"Cannot read {shown}: {exc.strerror or exc}")
        if raw is None:
            if len(edits) == 1 and edits[0]["old_string"] == "":
                try:
                    replace_file(str(path), edits[0]["new_string"].encode("utf-8", "surrogateescape"))
                except PathChanged:
                    return ToolResult.error(changed_message(shown))
                except OSError as exc:
                    return ToolResult.error(f"Could not create {shown}: {exc.strerror or exc}")
                return ToolResult(f"Created {shown}", metadata={"path": str(path), "created": True})
            return ToolResult.error(
                f"File does not exist: {shown}. To create a file use write_file (or edit_file with an "
                "empty old_string)."
            )
        if b"\0" in raw[:8192]:
            return ToolResult.error(f"{shown} is a binary file; edit_file edits text files only.")
        original = raw.decode("utf-8", "surrogateescape")
        try:
            content, replaced = apply_edits(original, edits, shown)
        except EditError as exc:
            prefix = "No changes were made. " if len(edits) > 1 else ""
            return ToolResult.error(prefix + str(exc))
        try:
            replace_file(str(path), content.encode("utf-8", "surrogateescape"), make_dirs=False)
        except PathChanged:
            return ToolResult.error(changed_message(shown))
        except OSError as exc:
            return ToolResult.error(f"Could not write {shown}: {exc.strerror or exc}")
        summary = f"Edited {shown}: {replaced} replacement{'s' if replaced != 1 else ''}"
        if len(edits) > 1:
            summary += f" from {len(edits)} edits"
        snippet = changed_snippet(original, content)
        text = summary + (f"\n{snippet}" if snippet else "")
        return ToolResult(text, metadata={"path": str(path), "replacements": replaced})


def _read_regular(path: str) -> bytes:
    """The whole file at the resolved ``path``, opened without following a symlink (safe_fs)."""
    import stat

    fd = open_for_read(path)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "is a directory", path)
        raise OSError(22, "not a regular file", path)
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def apply_edits(content: str, edits: List[Mapping[str, Any]], shown: str) -> Tuple[str, int]:
    """Apply the edits in order to ``content``; raise EditError naming the failing edit."""
    crlf = "\r\n" in content
    total = 0
    many = len(edits) > 1
    for i, edit in enumerate(edits, 1):
        where = f"edit {i} of {len(edits)}: " if many else ""
        old, new = edit["old_string"], edit["new_string"]
        if old == "":
            if content == "":
                content, total = new, total + 1
                continue
            raise EditError(
                f"{where}old_string is empty, which would match everywhere in {shown}. Quote the exact "
                "text to replace, or use write_file to replace the whole file."
            )
        count = content.count(old)
        if count == 0 and crlf and "\n" in old and "\r\n" not in old:
            old, new = old.replace("\n", "\r\n"), new.replace("\n", "\r\n")
            count = content.count(old)
        if count == 0:
            raise EditError(f"{where}old_string not found in {shown}. {_not_found_hint(content, old)}")
        if count > 1 and not edit.get("replace_all"):
            raise EditError(
                f"{where}old_string occurs {count} times in {shown}. Include more surrounding lines to "
                "make it unique, or set replace_all to true to replace every occurrence."
            )
        content = content.replace(old, new) if edit.get("replace_all") else content.replace(old, new, 1)
        total += count if edit.get("replace_all") else 1
    return content, total


def _not_found_hint(content: str, old: str) -> str:
    stripped = old.strip()
    if stripped and stripped != old and stripped in content:
        return ("The text occurs with different leading/trailing whitespace; copy old_string exactly from "
                "a fresh read_file (indentation is part of the match).")
    squashed = " ".join(old.split())
    if squashed and squashed in " ".join(content.split()):
        return ("The text occurs with different whitespace or line breaks; copy old_string exactly from a "
                "fresh read_file.")
    return "It must match exactly, including whitespace and indentation; read the file again with read_file."


def changed_snippet(before: str, after: str) -> str:
    """The changed region of ``after`` with a few lines of context, numbered like read_file."""
    if before == after:
        return ""
    start = 0
    limit = min(len(before), len(after))
    while start < limit and before[start] == after[start]:
        start += 1
    end_b, end_a = len(before), len(after)
    while end_b > start and end_a > start and before[end_b - 1] == after[end_a - 1]:
        end_b -= 1
        end_a -= 1
    lines = after.split("\n")
    first = after.count("\n", 0, start)
    last = after.count("\n", 0, max(start, end_a - 1)) if end_a > start else first
    lo = max(0, first - SNIPPET_CONTEXT)
    hi = min(len(lines), last + SNIPPET_CONTEXT + 1)
    if hi - lo > SNIPPET_MAX_LINES:
        hi = lo + SNIPPET_MAX_LINES
    out = [f"{n + 1:6d}\t{lines[n].rstrip(chr(13))}" for n in range(lo, hi)]
    return "\n".join(out)
