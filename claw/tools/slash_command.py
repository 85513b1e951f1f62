"""The ``slash_command`` tool (Claude Code: ``SlashCommand``): the model runs a custom slash command.

Input: ``{"command": "/name arguments"}``. Only commands without ``disable-model-invocation`` are
offered; the description lists them. The run gives the tool a ``run_command`` callable that expands
the command (arguments, ``@file``, ``!`command``` through the permission policy) and applies its
``allowed-tools`` for the rest of the turn; the expanded text is the tool's result. A command's
``model`` does not apply here (the turn's model is already answering). This module knows neither
commands nor permissions.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Mapping, Sequence, Tuple

from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolInputError, ToolResult, ToolSpec

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "The slash command with its arguments, e.g. \"/review src/a.py\"."},
    },
    "required": ["command"],
    "additionalProperties": False,
}
LISTING_CAP = 8000  # characters of the command list in the description


def describe(commands: Sequence[Tuple[str, str, str]]) -> str:
    """The tool description for (name, argument hint, description) rows."""
    lines = []
    for name, hint, text in commands:
        lines.append(f"- /{name}{' ' + hint if hint else ''}: {text}".rstrip(": "))
    listing = "\n".join(lines)
    if len(listing) > LISTING_CAP:
        listing = listing[:LISTING_CAP].rsplit("\n", 1)[0] + "\n- ..."
    return ("Run a custom slash command of this project or user, when the user asks for one or the task "
            "matches it. The result is the command's instructions: follow them. Available commands:\n"
            + listing)


class SlashCommandTool(Tool):
    """Built by the run when it has commands the model may run; ``run_command(line)`` returns the text
    or raises ``LookupError`` (unknown command) / ``claw.errors.ClawError`` (a denied ``!`` or ``@``)."""

    def __init__(self, run_command: Callable[[str], Awaitable[str]], description: str) -> None:
        self._run_command = run_command
        self.spec = ToolSpec(name="slash_command", description=description, input_schema=SCHEMA,
                             permission=PermissionLevel.READ_ONLY, read_only=False)

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        command = tool_input.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ToolInputError("'command' must be a slash command such as \"/review src/a.py\"")
        command = command.strip()
        return {"command": command if command.startswith("/") else "/" + command}

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        from claw.errors import ClawError

        try:
            text = await self._run_command(tool_input["command"])
        except LookupError as exc:
            return ToolResult.error(str(exc.args[0] if exc.args else exc))
        except ClawError as exc:
            return ToolResult.error(exc.message)
        return ToolResult(text)
