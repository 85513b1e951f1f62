"""The ``write_file`` tool.

Input (docs/TOOLS.md): ``path``, ``content``. Parent directories are created. The new content goes to a
temporary file in the same directory, is flushed and fsynced, takes the mode of the file it replaces
(or the umask default for a new file), and is moved over the target with ``os.replace``: a reader sees
the old file or the new one, never a part, and a failed write leaves the old file untouched. A path
that is a symlink writes through to the file it points at (the link stays a link).

It writes exactly the resolved path the permission policy approved, reached without following any
symlink (``claw.tools.safe_fs``): a directory swapped for a symlink after the check is an error for
the call, never a write elsewhere. It does not keep backups.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolResult, ToolSpec
from claw.tools.paths import approved_path, display_path, target_path
from claw.tools.safe_fs import PathChanged, changed_message, replace_file
from claw.tools.schema import check_input

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "Path of the file to write (absolute or relative to the "
                 "working directory). Parent directories are created."},
        "content": {"type": "string", "description": "The complete new content of the file."},
    },
    "required": ["path", "content"],
    "additionalProperties": False,
}

class WriteFileTool(Tool):
    spec = ToolSpec(
        name="write_file",
        description=(
            "Write a file with the given content, replacing it if it exists (atomically). Creates parent "
            "directories. Prefer edit_file to change part of an existing file."
        ),
        input_schema=SCHEMA,
        permission=PermissionLevel.WORKSPACE_WRITE,
        read_only=False,
    )

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        return check_input(SCHEMA, tool_input, aliases={"file_path": "path"})

    def target_paths(self, tool_input: Mapping[str, Any], cwd: Optional[Path] = None) -> List[Path]:
        return [target_path(tool_input["path"], cwd)]

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        path = approved_path(tool_input["path"], ctx)
        return await asyncio.get_running_loop().run_in_executor(None, self._write, tool_input, path, ctx.cwd)

    def _write(self, data: Mapping[str, Any], path: Path, cwd: Path) -> ToolResult:
        shown = display_path(path, cwd)
        body = data["content"].encode("utf-8", "surrogateescape")
        try:
            existed = replace_file(str(path), body, make_dirs=True)
        except PathChanged:
            return ToolResult.error(changed_message(shown))
        except IsADirectoryError:
            return ToolResult.error(f"{shown} is a directory; give a file path.")
        except OSError as exc:
            return ToolResult.error(f"Could not write {shown}: {exc.strerror or exc}")
        lines = data["content"].count("\n") + (0 if data["content"].endswith("\n") or not data["content"] else 1)
        verb = "Updated" if existed else "Created"
        return ToolResult(
            f"{verb} {shown} ({lines} line{'s' if lines != 1 else ''}, {len(body)} bytes)",
            metadata={"path": str(path), "created": not existed, "bytes": len(body)},
        )
