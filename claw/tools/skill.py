"""The ``skill`` tool (Claude Code: ``Skill``): loads one skill's instructions when the model asks.

Input: ``{"skill": NAME, "args": optional text}`` (``command`` is accepted for ``skill``, as older
Claude Code versions named it). The skills themselves are listed in the system prompt; this tool
returns the chosen one's ``SKILL.md`` body (with its base directory, so the model reads the skill's
other files with the normal tools). The run gives the tool a ``load`` callable, which also applies the
skill's ``allowed-tools`` for the rest of the turn; this module knows neither skills nor permissions.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Mapping

from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolInputError, ToolResult, ToolSpec

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "skill": {"type": "string", "description": "The name of the skill, as listed in the system prompt."},
        "args": {"type": "string", "description": "Optional text for the skill (what to apply it to)."},
    },
    "required": ["skill"],
    "additionalProperties": False,
}


class SkillTool(Tool):
    """Built by the run when it has skills; ``load(name, args)`` returns the text or raises ``LookupError``."""

    def __init__(self, load: Callable[[str, str], Awaitable[str]], names: str = "") -> None:
        self._load = load
        self.spec = ToolSpec(
            name="skill",
            description=("Load a skill: its instructions for a particular kind of task. Call it with the name "
                         "of a skill listed under Skills in the system prompt when the task matches its "
                         "description, then follow the instructions it returns." +
                         (f" Skills: {names}." if names else "")),
            input_schema=SCHEMA,
            permission=PermissionLevel.READ_ONLY,
            read_only=False,  # loading may widen the turn's permission rules: one call at a time
        )

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        data = dict(tool_input)
        if "skill" not in data and isinstance(data.get("command"), str):
            data["skill"] = data.pop("command")
        name = data.get("skill")
        if not isinstance(name, str) or not name.strip():
            raise ToolInputError("'skill' must be the name of a skill")
        args = data.get("args", "")
        if not isinstance(args, str):
            raise ToolInputError("'args' must be text")
        return {"skill": name.strip().lstrip("/"), "args": args}

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            text = await self._load(tool_input["skill"], tool_input["args"])
        except LookupError as exc:
            return ToolResult.error(str(exc.args[0] if exc.args else exc))
        return ToolResult(text, metadata={"skill": tool_input["skill"]})
