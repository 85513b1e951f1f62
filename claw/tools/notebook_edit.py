"""The ``notebook_edit`` tool (Claude Code's ``NotebookEdit``): replace, insert or delete one cell of a
Jupyter notebook.

Input (docs/TOOLS.md): ``notebook_path``, ``cell_id`` (a cell's id, or ``cell-N`` / ``N`` for the
0-based position read_file shows), ``cell_number`` (a claw extra: the position), ``new_source``,
``cell_type`` (code|markdown; required to insert), ``edit_mode`` (replace|insert|delete). An insert goes
after the named cell, at the start without one. A replaced code cell loses its outputs and execution
count. The notebook is read and written like write_file does (``claw.tools.safe_fs``: the approved path,
no symlink swapped in, an atomic replace) and written back as Jupyter does (indent 1, keys sorted);
nbformat and metadata are kept. It does not validate against the nbformat schema or run cells.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolResult, ToolSpec
from claw.tools.media import cell_label, source_text
from claw.tools.paths import approved_path, display_path, target_path
from claw.tools.safe_fs import PathChanged, changed_message, open_for_read, replace_file
from claw.tools.schema import check_input

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "notebook_path": {"type": "string", "description": "Path of the .ipynb notebook."},
        "cell_id": {"type": "string", "description": "Id of the cell to edit (as read_file shows it; `cell-N` "
                    "is the N-th cell, from 0). An insert goes after this cell, at the start without one."},
        "cell_number": {"type": "integer", "minimum": 0, "description": "0-based position of the cell, "
                        "instead of cell_id."},
        "new_source": {"type": "string", "description": "The new source of the cell."},
        "cell_type": {"type": "string", "enum": ["code", "markdown"], "description": "The cell's type; "
                      "required for insert, default: unchanged."},
        "edit_mode": {"type": "string", "enum": ["replace", "insert", "delete"], "description": "Default replace."},
    },
    "required": ["notebook_path", "new_source"],
    "additionalProperties": False,
}
MAX_NOTEBOOK_BYTES = 40 * 1024 * 1024


class NotebookEditTool(Tool):
    spec = ToolSpec(
        name="notebook_edit",
        description=("Replace, insert or delete one cell of a Jupyter notebook (.ipynb). Read it first with "
                     "read_file to see cell ids. Replacing a code cell clears its outputs."),
        input_schema=SCHEMA,
        permission=PermissionLevel.WORKSPACE_WRITE,
        read_only=False,
    )

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        return check_input(SCHEMA, tool_input, aliases={"path": "notebook_path", "file_path": "notebook_path"})

    def target_paths(self, tool_input: Mapping[str, Any], cwd: Optional[Path] = None) -> List[Path]:
        return [target_path(tool_input["notebook_path"], cwd)]

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        path = approved_path(tool_input["notebook_path"], ctx)
        return await asyncio.get_running_loop().run_in_executor(None, _edit, tool_input, path, ctx.cwd)


def _edit(data: Mapping[str, Any], path: Path, cwd: Path) -> ToolResult:
    shown = display_path(path, cwd)
    try:
        with open(open_for_read(str(path)), "rb") as fh:
            raw = fh.read(MAX_NOTEBOOK_BYTES + 1)
    except PathChanged:
        return ToolResult.error(changed_message(shown, wrote=False))
    except FileNotFoundError:
        return ToolResult.error(f"Notebook does not exist: {shown}. Create it with write_file.")
    except OSError as exc:
        return ToolResult.error(f"Cannot read {shown}: {exc.strerror or exc}")
    if len(raw) > MAX_NOTEBOOK_BYTES:
        return ToolResult.error(f"{shown} is over {MAX_NOTEBOOK_BYTES:,} bytes; not edited.")
    try:
        nb = json.loads(raw.decode("utf-8"))
        cells = nb["cells"]
        assert isinstance(cells, list)
    except Exception:
        return ToolResult.error(f"{shown} is not a valid notebook (JSON with a cells list); not edited.")
    mode = data.get("edit_mode") or "replace"
    index = _find(cells, data)
    if index is None:
        ids = ", ".join(cell_label(i, c) for i, c in enumerate(cells[:30]) if isinstance(c, dict))
        return ToolResult.error(f"No cell {data.get('cell_id', data.get('cell_number'))!r} in {shown} "
                                f"({len(cells)} cells: {ids or 'none'}). Read the notebook to see cell ids.")
    if mode != "insert" and (index < 0 or index >= len(cells) or not isinstance(cells[index], dict)):
        return ToolResult.error(f"{mode} needs an existing cell: give cell_id or cell_number.")
    kind = data.get("cell_type")
    lang = str(((nb.get("metadata") or {}).get("language_info") or {}).get("name") or "python")
    out: Dict[str, Any] = {"new_source": data["new_source"], "edit_mode": mode, "notebook_path": str(path),
                           "language": lang, "original_file": raw.decode("utf-8")}
    if mode == "insert":
        if not kind:
            return ToolResult.error("cell_type (code or markdown) is required to insert a cell.")
        cell: Dict[str, Any] = {"cell_type": kind, "metadata": {}}
        if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) >= (4, 5):
            import secrets

            cell["id"] = secrets.token_hex(4)
        index += 1  # after the named cell; -1 (none named) is the start
        cells.insert(index, cell)
    else:
        cell = cells[index]
        out.update(old_source=source_text(cell.get("source")), old_cell_type=_type(cell))
    out["cell_id"] = cell_label(index, cell)
    if mode == "delete":
        del cells[index]
        out["cell_type"] = out["old_cell_type"] if out["old_cell_type"] != "raw" else "code"
    else:
        kind = kind or _type(cell)
        cell["cell_type"] = kind
        cell["source"] = data["new_source"].splitlines(True)
        if kind == "code":
            cell.update(outputs=[], execution_count=None)
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        out["cell_type"] = "markdown" if kind == "markdown" else "code"
    text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    try:
        replace_file(str(path), text.encode("utf-8"), make_dirs=False)
    except PathChanged:
        return ToolResult.error(changed_message(shown))
    except OSError as exc:
        return ToolResult.error(f"Could not write {shown}: {exc.strerror or exc}")
    out["updated_file"] = text
    verb = {"replace": "Replaced", "insert": "Inserted", "delete": "Deleted"}[mode]
    return ToolResult(f"{verb} cell {out['cell_id']} (number {index}) of {shown}; it has {len(cells)} cells.",
                      metadata={"path": str(path), "notebook": out})


def _type(cell: Dict[str, Any]) -> str:
    kind = cell.get("cell_type")
    return kind if kind in ("code", "markdown") else "raw"


def _find(cells: List[Any], data: Mapping[str, Any]) -> Optional[int]:
    """The index of the named cell; -1 when none is named; None when the name matches no cell."""
    if "cell_number" in data:
        n = data["cell_number"]
        return n if n < len(cells) else None
    cid = data.get("cell_id")
    if not cid:
        return -1
    for i, cell in enumerate(cells):
        if isinstance(cell, dict) and cell.get("id") == cid:
            return i
    m = re.fullmatch(r"(?:cell-)?(\d+)", cid.strip())
    return int(m.group(1)) if m and int(m.group(1)) < len(cells) else None
