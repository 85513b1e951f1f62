"""The ``agent`` tool (Claude Code's ``Agent``/``Task``): hand a task to a subagent and get its report.

Input as Claude Code's: ``description`` (3-5 words), ``prompt`` (the task), ``subagent_type`` (which
definition; default ``general-purpose``) and an optional ``model`` (``sonnet``/``opus``/``haiku``).
The subagent is a child run with its own context; its final text is this tool's result.

This module only presents the tool and checks its input: starting the child run is the runtime's
(claw.runtime.subagents), reached through ``ToolContext.subagents``; the tool asks no permission of its
own (the child's tool calls are checked one by one, under a mode no wider than the parent's).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, Mapping, Sequence, Tuple

from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolResult, ToolSpec
from claw.tools.schema import check_input

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "description": {"type": "string", "description": "A short (3-5 word) description of the task"},
        "prompt": {"type": "string", "description": "The task for the agent to perform"},
        "subagent_type": {"type": "string", "description": "The type of specialized agent to use for this task"},
        "model": {"type": "string", "enum": ["sonnet", "opus", "haiku"],
                  "description": "Optional model for this agent; default: the agent definition's, else yours"},
    },
    "required": ["description", "prompt"],
}

# The built-in subagent (claw.runtime.agent_defs.BUILTIN), the default ``subagent_type``: here so that a
# run whose only agent it is can list it without loading the subagent modules (claw.runtime.run_open).
GENERAL_PURPOSE = "general-purpose"
GENERAL_PURPOSE_DESCRIPTION = (
    "General-purpose agent for researching complex questions, searching for code, and executing "
    "multi-step tasks. Use it when a search or a task may take several rounds of tool calls.")

DESCRIPTION = (
    "Launch a subagent to handle a complex, multi-step task on its own: it works in a fresh context with "
    "its own tools and returns one final report, which is all you see of its work. Launch several agents "
    "in one message to work in parallel. Give each a complete, self-contained prompt, and say whether it "
    "should write code or only research. The agent's result is not shown to the user: summarise it."
)


class AgentTool(Tool):
    spec = ToolSpec(
        name="agent",
        description=DESCRIPTION,
        input_schema=SCHEMA,
        permission=PermissionLevel.READ_ONLY,  # the child's own calls are checked, not this one
        read_only=False,  # scheduled by the tool pipeline in a bounded group of its own
    )

    def describe_agents(self, agents: Sequence[Tuple[str, str, str]]) -> None:
        """List the available agents (name, description, tools text) in the tool's description."""
        lines = [f"- {name}: {description} (Tools: {tools})" for name, description, tools in agents]
        text = DESCRIPTION + "\n\nAvailable agent types (subagent_type):\n" + "\n".join(lines)
        self.spec = replace(self.spec, description=text)

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        return check_input(SCHEMA, tool_input)

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        launcher = getattr(ctx, "subagents", None)
        if launcher is None:
            return ToolResult.error("Subagents are not available in this run.")
        return await launcher.launch(tool_input, getattr(ctx, "tool_use_id", None) or "")
