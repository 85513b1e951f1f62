"""The tool definitions open the prompt-cache prefix: their order must depend only on which tools there
are, not on the order MCP servers connected in (claw.runtime.tool_calls.ToolCallRunner.model_tools)."""

from __future__ import annotations

import json

from claw.runtime.tool_calls import ToolCallRunner
from claw.tools.base import PermissionLevel, Tool, ToolResult, ToolSpec
from claw.tools.registry import build_tools


class McpLike(Tool):
    def __init__(self, name: str) -> None:
        self.spec = ToolSpec(name=name, description=f"{name} tool", input_schema={"type": "object"},
                             permission=PermissionLevel.READ_ONLY, read_only=True)

    def validate(self, tool_input):
        return dict(tool_input)

    async def run(self, tool_input, ctx):  # pragma: no cover - never called here
        return ToolResult("")


def runner(order):
    tools = dict(build_tools())
    for name in order:
        tools[name] = McpLike(name)
    return ToolCallRunner(tools=tools, policy=None, context=None, sink=lambda e: None)


def test_mcp_tools_come_after_the_built_ins_sorted_whatever_order_they_joined_in():
    names = ["mcp__zeta__run", "mcp__alpha__b", "mcp__alpha__a"]
    first = runner(names).model_tools()
    second = runner(list(reversed(names))).model_tools()
    assert json.dumps(first) == json.dumps(second)
    builtin = list(build_tools())
    assert [t["name"] for t in first] == builtin + ["mcp__alpha__a", "mcp__alpha__b", "mcp__zeta__run"]
