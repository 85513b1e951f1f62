"""The ``todo_write`` tool: the model's task list for the session, replaced as a whole on each call.

Input (docs/TOOLS.md): ``todos``: ``[{content, status, activeForm?, id?, priority?}]`` — Claude Code's
TodoWrite shapes (the current one with ``activeForm``, the older one with ``id``/``priority``) are both
accepted. ``status`` is pending / in_progress / completed. The list lives in ``ctx.todos``; the result
is a summary the model can read back.

It does not persist the list (the session record of the tool call does) and does not enforce a single
in-progress item; it only notes when more than one is.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from claw.tools.base import PermissionLevel, TodoItem, Tool, ToolContext, ToolInputError, ToolResult, ToolSpec
from claw.tools.schema import check_input

STATUSES = ("pending", "in_progress", "completed")
MARKS = {"pending": "[ ]", "in_progress": "[~]", "completed": "[x]"}

_ITEM = {
    "type": "object",
    "properties": {
        "content": {"type": "string", "minLength": 1, "description": "What to do (imperative form)."},
        "status": {"type": "string", "enum": list(STATUSES)},
        "activeForm": {"type": "string", "description": "Present-continuous form shown while in progress, "
                       "e.g. \"Running the tests\"."},
        "id": {"type": "string"},
        "priority": {"type": "string", "enum": ["high", "medium", "low"]},
    },
    "required": ["content", "status"],
    "additionalProperties": False,
}

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "todos": {"type": "array", "items": _ITEM, "description": "The complete, updated todo list."},
    },
    "required": ["todos"],
    "additionalProperties": False,
}


class TodoWriteTool(Tool):
    spec = ToolSpec(
        name="todo_write",
        description=(
            "Create or update the task list for this session: pass the complete list each time. Each item "
            "has content, status (pending, in_progress, completed) and activeForm. Keep one item "
            "in_progress at a time and mark items completed as soon as they are done."
        ),
        input_schema=SCHEMA,
        permission=PermissionLevel.READ_ONLY,
        read_only=False,  # it mutates the session's list: never concurrently with another call
    )

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        data = check_input(SCHEMA, tool_input)
        ids = [t["id"] for t in data["todos"] if "id" in t]
        if len(ids) != len(set(ids)):
            raise ToolInputError("todo ids must be unique")
        for i, item in enumerate(data["todos"]):
            if not item["content"].strip():
                raise ToolInputError(f"'todos'[{i}].content must not be empty")
        return data

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        items = [
            TodoItem(
                content=t["content"],
                status=t["status"],
                active_form=t.get("activeForm"),
                id=t.get("id"),
                priority=t.get("priority"),
            )
            for t in tool_input["todos"]
        ]
        old = ctx.todos.replace(items)
        return ToolResult(summary(items), metadata={
            "todos": [t.to_dict() for t in items],
            "old_todos": [t.to_dict() for t in old],
        })


def summary(items: List[TodoItem]) -> str:
    if not items:
        return "Todo list cleared."
    counts = {s: sum(1 for t in items if t.status == s) for s in STATUSES}
    head = (
        f"Todo list updated: {len(items)} item{'s' if len(items) != 1 else ''} "
        f"({counts['completed']} completed, {counts['in_progress']} in progress, {counts['pending']} pending)"
    )
    lines = [head] + [f"{MARKS[t.status]} {t.content}" for t in items]
    if counts["in_progress"] > 1:
        lines.append("Note: more than one item is in progress; keep one at a time.")
    return "\n".join(lines)
