"""Tool names the API accepts, permission levels from annotations, and results as text."""

from __future__ import annotations

import re

from claw.mcp.manager import tool_filter
from claw.mcp.prompts import split_prompt_args
from claw.mcp.results import base64_size, prompt_text, tool_result_text
from claw.mcp.tools import McpTool, tool_name
from claw.tools.base import PermissionLevel

API_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class FakeServer:
    name = "my server.v2"


def test_names_are_api_safe_and_stable():
    assert tool_name("time", "get_current_time") == "mcp__time__get_current_time"
    assert tool_name("my server.v2", "do/it!") == "mcp__my_server_v2__do_it_"
    long = tool_name("s" * 40, "t" * 40)
    assert API_NAME.match(long) and len(long) == 64
    assert long == tool_name("s" * 40, "t" * 40)
    assert long != tool_name("s" * 40, "t" * 39 + "u")


def test_annotations_set_permission():
    read = McpTool(FakeServer(), {"name": "r", "annotations": {"readOnlyHint": True}, "inputSchema": {
        "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}})
    assert read.spec.permission == PermissionLevel.READ_ONLY and read.spec.read_only
    assert read.spec.name == "mcp__my_server_v2__r"
    write = McpTool(FakeServer(), {"name": "w", "annotations": {"destructiveHint": True}})
    plain = McpTool(FakeServer(), {"name": "p", "inputSchema": {"type": "string"}})
    for tool in (write, plain):
        assert tool.spec.permission == PermissionLevel.DANGER_FULL_ACCESS and not tool.spec.read_only
    assert plain.spec.input_schema == {"type": "object", "properties": {}}
    assert "my server.v2" in plain.spec.description


def test_validate_checks_required_only():
    import pytest

    from claw.tools.base import ToolInputError

    tool = McpTool(FakeServer(), {"name": "r", "inputSchema": {"type": "object", "required": ["q"]}})
    assert tool.validate({"q": 1, "extra": True}) == {"q": 1, "extra": True}
    with pytest.raises(ToolInputError, match="q"):
        tool.validate({})


def test_result_text_blocks():
    result = {"content": [
        {"type": "text", "text": "hello"},
        {"type": "image", "mimeType": "image/png", "data": "iVBORw0KGgo="},
        {"type": "audio", "mimeType": "audio/wav", "data": "AAAA"},
        {"type": "resource", "resource": {"uri": "file:///a", "text": "inline text"}},
        {"type": "resource", "resource": {"uri": "file:///b", "mimeType": "application/pdf", "blob": "AAAAAA=="}},
        {"type": "resource_link", "uri": "file:///c", "name": "c"},
    ], "structuredContent": {"ignored": True}}
    text, is_error = tool_result_text(result)
    assert not is_error
    assert text.split("\n") == ["hello", "[image: image/png, 8 bytes]", "[audio: audio/wav, 3 bytes]",
                                "inline text", "[resource file:///b: application/pdf, 4 bytes]",
                                "[resource link: file:///c (c)]"]


def test_structured_content_when_no_text_and_errors():
    text, is_error = tool_result_text({"content": [], "structuredContent": {"a": 1}})
    assert text == '{"a":1}' and not is_error
    text, is_error = tool_result_text({"content": [{"type": "text", "text": "boom"}], "isError": True})
    assert (text, is_error) == ("boom", True)
    assert tool_result_text({"isError": True})[0].startswith("The tool reported an error")
    assert tool_result_text({})[0] == "(no output)"


def test_output_limit():
    text, _ = tool_result_text({"content": [{"type": "text", "text": "x" * 100}]}, {"MAX_MCP_OUTPUT_TOKENS": "10"})
    assert text.startswith("x" * 40) and "60 more characters" in text


def test_base64_size():
    assert base64_size("") == 0 and base64_size("AAAA") == 3 and base64_size("AAA=") == 2
    assert base64_size("AA==") == 1 and base64_size(None) == 0


def test_prompt_text():
    result = {"messages": [{"role": "user", "content": {"type": "text", "text": "Review this"}},
                           {"role": "assistant", "content": {"type": "text", "text": "Sure"}}]}
    assert prompt_text(result) == "Review this\n\n[assistant]\nSure"


def test_split_prompt_args():
    assert split_prompt_args("", 2) == []
    assert split_prompt_args("a b c d", 2) == ["a", "b c d"]
    assert split_prompt_args('"a b" c', 2) == ["a b", "c"]
    assert split_prompt_args("it's", 1) == ["it's"]  # unbalanced quote: plain words


def test_tool_filter():
    allow = tool_filter(disallowed=["mcp__git", "mcp__time__convert_time"], deny_rules=["Bash(rm:*)"])
    assert not allow("mcp__git__git_status")
    assert not allow("mcp__time__convert_time")
    assert allow("mcp__time__get_current_time") and allow("mcp__gitlab__x")
    only = tool_filter(tools_flag="Read, mcp__time__*, ListMcpResourcesTool")
    assert only("mcp__time__a") and only("list_mcp_resources") and not only("mcp__git__a")
    assert tool_filter(tools_flag="Read,Bash")("mcp__any__tool")  # no MCP names: every MCP tool
