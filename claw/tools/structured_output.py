"""The ``StructuredOutput`` tool: how a run with a JSON schema (``--json-schema``, the SDKs'
``outputFormat``) returns its answer, as Claude Code does it.

The model is offered one more tool, ``StructuredOutput``, whose input schema *is* the host's schema, and
told to call it exactly once at the end. A call's input is checked with claw.tools.json_schema: a valid
one is kept (``accepted``) and answered "Structured output provided successfully"; an invalid one is an
error result listing the problems ("Output does not match required schema: /name: must be string"), so
the model can correct itself. The tool reads and writes nothing; it needs no permission beyond
read-only.

Deliberately not here: ending the turn once a value is accepted, reminding a model that answered
without calling the tool, and the retry limit (claw.runtime.structured_output).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolResult, ToolSpec
from claw.tools.json_schema import describe_errors, validate

NAME = "StructuredOutput"
DESCRIPTION = ("Use this tool to return your final response in the requested structured format. You MUST call "
               "this tool exactly once at the end of your response to provide the structured output.")
ACCEPTED = "Structured output provided successfully"


class StructuredOutputTool(Tool):
    """Checks the model's answer against the run's schema; ``accepted`` holds the valid answers and
    ``rejections`` the problems of the invalid ones, since the last ``reset``."""

    def __init__(self, schema: Dict[str, Any]) -> None:
        self.schema = schema
        self.spec = ToolSpec(name=NAME, description=DESCRIPTION, input_schema=schema,
                             permission=PermissionLevel.READ_ONLY, read_only=False)
        self.accepted: List[Any] = []
        self.rejections: List[str] = []

    def reset(self) -> None:
        self.accepted = []
        self.rejections = []

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        return dict(tool_input)  # checked in run(), so the model gets the schema's own wording

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        problems = validate(self.schema, tool_input)
        if problems:
            message = f"Output does not match required schema: {describe_errors(problems)}"
            self.rejections.append(message)
            return ToolResult.error(message)
        self.accepted.append(tool_input)
        return ToolResult(ACCEPTED)
