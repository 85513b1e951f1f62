"""Claude Code's vocabulary at the stream-json boundary: one table, both directions.

An embedding host (the Agent SDKs, or any program written for Claude Code) sees Claude Code's tool
names and input field names, permission modes and API key sources; the model, the session file and
claw's other outputs keep claw's own. The table:

=====================  ======================  ==============================================
claw tool              host tool               input fields renamed (claw -> host)
=====================  ======================  ==============================================
bash                   Bash                    -
read_file              Read                    path -> file_path
write_file             Write                   path -> file_path
edit_file              Edit                    path -> file_path
edit_file (+ edits)    MultiEdit               path -> file_path
glob_search            Glob                    -
grep_search            Grep                    -
web_fetch              WebFetch                -
web_search             WebSearch               -
todo_write             TodoWrite               -
bash_output            BashOutput              -
kill_shell             TaskStop                -
agent                  Agent                   -
exit_plan_mode         ExitPlanMode            -
ask_user_question      AskUserQuestion         -
list_mcp_resources     ListMcpResourcesTool    -
read_mcp_resource      ReadMcpResourceTool     -
mcp__server__tool      (unchanged)             -
=====================  ======================  ==============================================

The names come from claw.tools.registry's ``ALIASES`` (the first Claude Code name of a tool is the one
hosts see; the same table makes ``--allowedTools Bash(git:*)`` and hook matchers accept them), so
there is one source for names. Outgoing: ``host_message`` (system/init, assistant tool_use blocks,
stream_event ``content_block_start``, result ``permission_denials``/``tool_uses``/``tool_results``,
system/status), ``can_use_tool_fields`` and ``hook_input``. Incoming: ``permission_answer`` (an
``updatedInput``) and ``hook_answer`` (``hookSpecificOutput.updatedInput``) go back to claw's names.

Permission modes: read-only -> plan, workspace-write -> acceptEdits, danger-full-access ->
bypassPermissions, default and dontAsk unchanged; ``claw_permission_mode`` carries claw's own name
beside. API key sources map claw's credential description onto the SDK's ``ApiKeySource`` values.

Deliberately not here: the field deltas of partial ``input_json_delta`` stream events (they stay as
the model wrote them: JSON split at arbitrary points cannot be renamed reliably), the shapes of tool
results (claw.cli.sdk_shapes) and command hooks from settings files (they get claw's names with a
``claude_code_tool_name`` beside, as before).
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Mapping, Optional, Tuple

# Input fields claw names differently from Claude Code, per claw tool: claw field -> host field.
FIELD_RENAMES: Dict[str, Dict[str, str]] = {
    "read_file": {"path": "file_path"},
    "write_file": {"path": "file_path"},
    "edit_file": {"path": "file_path"},
}
# claw's MCP resource tools (claw.mcp.manager) under Claude Code's names.
_MCP_RESOURCE_TOOLS = {"list_mcp_resources": "ListMcpResourcesTool", "read_mcp_resource": "ReadMcpResourceTool"}
MULTI_EDIT = "MultiEdit"
# The SDK's ApiKeySource values claw reports (tests/sdk checks them against the SDK's typings).
API_KEY_SOURCES = ("ANTHROPIC_API_KEY", "apiKeyHelper", "oauth", "user", "none")

# claw's permission modes -> the SDK's PermissionMode (the nearest where claw has its own).
_HOST_MODES = {
    "read-only": "plan",
    "workspace-write": "acceptEdits",
    "danger-full-access": "bypassPermissions",
    "default": "default",
    "dontAsk": "dontAsk",
}


def _names() -> Tuple[Dict[str, str], Dict[str, str]]:
    from claw.tools.registry import ALIASES

    to_host: Dict[str, str] = {}
    for alias, canonical in ALIASES.items():
        to_host.setdefault(canonical, alias)  # the first alias of a tool is its Claude Code name
    to_host.update(_MCP_RESOURCE_TOOLS)
    to_claw = {alias: canonical for alias, canonical in ALIASES.items()}
    to_claw.update({host: claw for claw, host in _MCP_RESOURCE_TOOLS.items()})
    return to_host, to_claw


_TO_HOST, _TO_CLAW = _names()


# -- tools ----------------------------------------------------------------------------------------

def host_tool_name(name: str, tool_input: Optional[Mapping[str, Any]] = None) -> str:
    """Claude Code's name for claw's tool ``name`` (``edit_file`` with ``edits`` is ``MultiEdit``);
    MCP tools and names claw does not know pass unchanged."""
    if name == "edit_file" and isinstance(tool_input, Mapping) and tool_input.get("edits") is not None:
        return MULTI_EDIT
    return _TO_HOST.get(name, name)


def claw_tool_name(name: str) -> str:
    """claw's name for a host's tool name (claw's own names and MCP names pass unchanged)."""
    return _TO_CLAW.get(name, name)


def host_input(name: str, tool_input: Any) -> Any:
    """A copy of claw's tool input with Claude Code's field names (``name`` is claw's tool name)."""
    renames = FIELD_RENAMES.get(name)
    if not renames or not isinstance(tool_input, Mapping):
        return tool_input
    return {renames.get(key, key): value for key, value in tool_input.items()}


def claw_input(name: str, tool_input: Any) -> Any:
    """A host's tool input back in claw's field names (``name``: claw's or the host's tool name). A
    field given under both names keeps claw's."""
    renames = FIELD_RENAMES.get(claw_tool_name(name))
    if not renames or not isinstance(tool_input, Mapping):
        return tool_input
    back = {host: claw for claw, host in renames.items()}
    out: Dict[str, Any] = {}
    for key, value in tool_input.items():
        target = back.get(key, key)
        if target != key and target in tool_input:
            continue
        out[target] = value
    return out


def host_tool_use(block: Mapping[str, Any]) -> Dict[str, Any]:
    """A ``tool_use`` content block (or ``content_block_start`` block) in the host's vocabulary."""
    name = block.get("name")
    if not isinstance(name, str):
        return dict(block)
    out = dict(block)
    out["name"] = host_tool_name(name, block.get("input"))
    if "input" in block:
        out["input"] = host_input(name, block.get("input"))
    return out


# -- modes and credentials ------------------------------------------------------------------------

def host_permission_mode(mode: str) -> str:
    """The SDK's PermissionMode for claw's mode name (claw's or Claude Code's spelling)."""
    if mode in _HOST_MODES:
        return _HOST_MODES[mode]
    if mode in _HOST_MODES.values():
        return mode
    return "default"


def host_api_key_source(description: str) -> str:
    """The SDK's ``ApiKeySource`` for claw's credential description (``RunInfo.api_key_source``):
    the ``ANTHROPIC_API_KEY`` variable and ``apiKeyHelper`` by name, a saved OAuth login ``oauth``,
    no credentials (or only a bearer token from ``ANTHROPIC_AUTH_TOKEN``, as Claude Code reports it)
    ``none``, any other key (another provider's) ``user``."""
    if description in API_KEY_SOURCES:  # already the SDK's value
        return description
    parts = [part.strip() for part in (description or "").split(" + ") if part.strip()]
    for part in parts:
        if part.endswith("from ANTHROPIC_API_KEY"):
            return "ANTHROPIC_API_KEY"
    for part in parts:
        if part.endswith("from apiKeyHelper"):
            return "apiKeyHelper"
    for part in parts:
        if part.startswith("OAuth "):
            return "oauth"
    keys = [p for p in parts if p not in ("none", "no credentials") and not p.endswith("from ANTHROPIC_AUTH_TOKEN")]
    return "user" if keys else "none"


# -- outgoing messages ----------------------------------------------------------------------------

def host_message(obj: Dict[str, Any]) -> Dict[str, Any]:
    """An outgoing stream-json message in the host's vocabulary (a new object; others unchanged)."""
    kind = obj.get("type")
    if kind == "assistant":
        message = obj.get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), list):
            out = dict(obj)
            out["message"] = dict(message, content=[
                host_tool_use(b) if isinstance(b, dict) and b.get("type") == "tool_use" else b
                for b in message["content"]])
            return out
    elif kind == "stream_event":
        event = obj.get("event")
        block = event.get("content_block") if isinstance(event, dict) else None
        if isinstance(block, dict) and block.get("type") == "tool_use":
            return dict(obj, event=dict(event, content_block=host_tool_use(block)))
    elif kind == "result":
        return _host_result(obj)
    elif kind == "system" and obj.get("subtype") == "init":
        out = dict(obj)
        out["tools"] = [host_tool_name(t) for t in obj.get("tools") or ()]
        _host_mode_fields(out, "permissionMode")
        out["apiKeySource"] = host_api_key_source(str(obj.get("apiKeySource") or ""))
        if out["apiKeySource"] != obj.get("apiKeySource"):
            out["claw_api_key_source"] = obj.get("apiKeySource")
        return out
    elif kind == "system" and obj.get("subtype") == "status" and obj.get("permissionMode"):
        out = dict(obj)
        _host_mode_fields(out, "permissionMode")
        return out
    return obj


def _host_mode_fields(obj: Dict[str, Any], key: str) -> None:
    mode = obj.get(key)
    if isinstance(mode, str) and mode:
        obj[key] = host_permission_mode(mode)
        obj["claw_permission_mode"] = _claw_mode(mode)


def _claw_mode(mode: str) -> str:
    back = {host: claw for claw, host in _HOST_MODES.items()}
    return mode if mode in _HOST_MODES else back.get(mode, mode)


def _host_result(obj: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(obj)
    out["permission_denials"] = [
        dict(d, tool_name=host_tool_name(d.get("tool_name", ""), d.get("tool_input")),
             tool_input=host_input(d.get("tool_name", ""), d.get("tool_input")))
        if isinstance(d, dict) and isinstance(d.get("tool_name"), str) else d
        for d in obj.get("permission_denials") or ()]
    names: Dict[str, str] = {}  # tool_use id -> the host's name (MultiEdit needs the call's input)
    if "tool_uses" in obj:
        out["tool_uses"] = [host_tool_use(u) if isinstance(u, dict) else u for u in obj.get("tool_uses") or ()]
        names = {str(u.get("id")): u["name"] for u in out["tool_uses"] if isinstance(u, dict) and "name" in u}
    if "tool_results" in obj:
        out["tool_results"] = [
            dict(r, tool_name=names.get(str(r.get("tool_use_id")), host_tool_name(r["tool_name"])))
            if isinstance(r, dict) and isinstance(r.get("tool_name"), str) else r
            for r in obj.get("tool_results") or ()]
    return out


# -- control requests and their answers ----------------------------------------------------------

def can_use_tool_fields(tool_name: str, tool_input: Dict[str, Any], *, tool_use_id: str,
                        reason: Optional[str]) -> Dict[str, Any]:
    """The fields of a ``can_use_tool`` request for claw's tool call, in the host's vocabulary, with
    ``claw_tool_name`` beside."""
    fields = {
        "tool_name": host_tool_name(tool_name, tool_input),
        "input": host_input(tool_name, tool_input),
        "tool_use_id": tool_use_id,
        "display_name": host_tool_name(tool_name, tool_input),
        "claw_tool_name": tool_name,
    }
    if reason:  # optional fields are left out rather than null, as the SDK's types declare them
        fields["decision_reason"] = reason
    return fields


def permission_answer(tool_name: str, updated_input: Any) -> Any:
    """A ``can_use_tool`` answer's ``updatedInput`` back in claw's field names."""
    return claw_input(tool_name, updated_input) if isinstance(updated_input, dict) else updated_input


def hook_input(payload: Mapping[str, Any]) -> Dict[str, Any]:
    """A hook event's input as an SDK callback hook receives it: the tool's name and input in the
    host's vocabulary (``claw_tool_name`` beside), the permission mode in the SDK's, and a PostToolUse
    ``tool_response`` as Claude Code's structured output (claw.cli.sdk_shapes)."""
    from claw.runtime.hooks import PRIVATE_METADATA

    out = dict(payload)
    name = payload.get("tool_name")
    out.pop("claude_code_tool_name", None)
    metadata = out.pop(PRIVATE_METADATA, None)
    response = payload.get("tool_response")
    if (isinstance(name, str) and isinstance(metadata, dict) and isinstance(response, dict)
            and payload.get("hook_event_name") == "PostToolUse" and not response.get("is_error")):
        from claw.cli.sdk_shapes import tool_use_result

        tool_input = payload.get("tool_input") if isinstance(payload.get("tool_input"), dict) else {}
        out["tool_response"] = tool_use_result(name, tool_input, str(response.get("output", "")), metadata)
    if isinstance(name, str):
        out["tool_name"] = host_tool_name(name, payload.get("tool_input"))
        out["claw_tool_name"] = name
        if "tool_input" in payload:
            out["tool_input"] = host_input(name, payload.get("tool_input"))
    mode = payload.get("permission_mode")
    if isinstance(mode, str) and mode:
        out["permission_mode"] = host_permission_mode(mode)
    return out


def hook_callback_fields(callback_id: str, payload: Mapping[str, Any], tool_use_id: Optional[str]) -> Dict[str, Any]:
    """The fields of a ``hook_callback`` request: the input as ``hook_input`` makes it, and the
    tool_use_id only for a tool event."""
    fields: Dict[str, Any] = {"callback_id": callback_id, "input": hook_input(payload)}
    if tool_use_id:
        fields["tool_use_id"] = tool_use_id
    return fields


def hook_answer(payload: Mapping[str, Any], answer: Any) -> Any:
    """A callback hook's answer with ``hookSpecificOutput.updatedInput`` back in claw's field names
    (``payload``: the input claw built, in claw's names)."""
    name = payload.get("tool_name")
    if not isinstance(answer, dict) or not isinstance(name, str):
        return answer
    specific = answer.get("hookSpecificOutput")
    if not isinstance(specific, dict) or not isinstance(specific.get("updatedInput"), dict):
        return answer
    answer = copy.copy(answer)
    answer["hookSpecificOutput"] = dict(specific, updatedInput=claw_input(name, specific["updatedInput"]))
    return answer
