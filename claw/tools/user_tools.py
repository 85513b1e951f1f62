"""``exit_plan_mode`` (ExitPlanMode) and ``ask_user_question`` (AskUserQuestion): tools whose work is
the user's answer.

The permission policy always asks for them, so the prompter (the terminal, or the SDK host's
``can_use_tool``) shows the plan or the questions; an approval runs the tool, which reports what was
decided (the answers come back in the input's ``answers``, as Claude Code's hosts send them). Without a
prompter the call is an error result with the tool's ``unanswered`` text (not a denial). Deliberately
not here: how the question is shown (claw.cli.tty_prompt, the host) and the mode switch itself
(``ToolContext.leave_plan``).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolInputError, ToolResult, ToolSpec
from claw.tools.schema import check_input

_S = {"type": "string"}
PLAN_SCHEMA: Dict[str, Any] = {"type": "object", "properties": {"plan": {
    "type": "string", "description": "The plan, in Markdown, concise."}}, "required": ["plan"]}
_OPTION = {"type": "object", "properties": {"label": _S, "description": _S}, "required": ["label", "description"]}
QUESTION_SCHEMA: Dict[str, Any] = {"type": "object", "properties": {
    "questions": {"type": "array", "minItems": 1, "maxItems": 4, "items": {"type": "object", "properties": {
        "question": _S, "header": {"type": "string", "description": "A short label (max 12 chars)."},
        "options": {"type": "array", "minItems": 2, "maxItems": 4, "items": _OPTION},
        "multiSelect": {"type": "boolean"}}, "required": ["question", "header", "options"]}},
    "answers": {"type": "object", "description": "Filled in by the user's client; leave out."}},
    "required": ["questions"], "additionalProperties": False}


class ExitPlanModeTool(Tool):
    spec = ToolSpec(
        name="exit_plan_mode",
        description=("In plan mode, when the plan is ready: present it to the user for approval. On approval "
                     "the mode changes and you implement the plan; declined, you stay in plan mode. Only for "
                     "tasks that change code, not for research."),
        input_schema=PLAN_SCHEMA, permission=PermissionLevel.READ_ONLY, read_only=False)
    unanswered = ("no user to approve the plan in this mode: the plan stays unapproved and nothing may change; "
                  "end your turn with the plan as your answer")

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        data = dict(tool_input)
        check_input(PLAN_SCHEMA, {"plan": data.get("plan")})
        return data

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        mode = ctx.leave_plan() if ctx.leave_plan else None
        return ToolResult(f"The user approved your plan{f'; the permission mode is now {mode}' if mode else ''}. "
                          "Start implementing it now.", metadata={"plan": tool_input["plan"], "mode": mode})


class AskUserQuestionTool(Tool):
    spec = ToolSpec(
        name="ask_user_question",
        description=("Ask the user 1-4 multiple-choice questions when you need their decision (preferences, "
                     "unclear requirements, a choice between approaches). Each question has 2-4 options; "
                     "the user may also answer in their own words, so add no 'Other' option."),
        input_schema=QUESTION_SCHEMA, permission=PermissionLevel.READ_ONLY, read_only=False)
    unanswered = "no user to ask in this mode; decide yourself, or stop and say what you need to know"

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        data = check_input(QUESTION_SCHEMA, tool_input)
        answers = data.get("answers")
        if answers is not None and not all(isinstance(v, str) for v in answers.values()):
            raise ToolInputError("answers must map each question to a string")
        return data

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        answers = tool_input.get("answers") or {}
        if not answers:
            return ToolResult.error("The questions came back without answers; decide yourself or ask in text.")
        said = ", ".join(f'"{q}"="{a}"' for q, a in answers.items())
        return ToolResult(f"The user answered your questions: {said}. Continue with these answers in mind.",
                          metadata={"questions": tool_input["questions"], "answers": answers})
