"""Prompt-cache breakpoints for the Anthropic Messages API.

The API caches a request's prefix (tools, then system, then messages, in that order) up to each block
marked ``cache_control: {"type": "ephemeral"}`` for five minutes; a later request whose prefix is the
same byte for byte reads it at a tenth of the input price instead of paying it again (a write costs
1.25x). At most four breakpoints per request. ``with_breakpoints`` places them as Claude Code does,
plus one:

  1. the last tool definition (the tools survive a change of the system prompt, e.g. ``/model``);
  2. the last block of the system prompt, sent as a list of text blocks;
  3. the last cacheable block of the message that ended the previous request (the user message before
     the newest assistant reply): an exact hit on what the previous turn wrote, however many blocks
     the newest turn added (the API looks back only about 20 blocks from a breakpoint);
  4. the last cacheable block of the newest message: the rolling breakpoint the next turn reads.

A block is cacheable unless it is a ``thinking``/``redacted_thinking`` block or an empty text block
(the API refuses ``cache_control`` on both). Breakpoints already in the tools or the system prompt are
kept and count against the four; those in messages (an SDK host may send user messages with them) are
dropped from the copy sent, since they would pile up in the history past the API's limit of four,
and the rolling breakpoints cover what they meant to.

Nothing is mutated: the blocks that get a breakpoint are copied, everything else is shared with the
caller's history. What this does not do: decide whether caching is on (``DISABLE_PROMPT_CACHING``,
settings ``promptCaching``: claw.api.client), keep the prefix stable (the runtime sends tools in a fixed
order and a system prompt built once per session), or count tokens.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

MAX_BREAKPOINTS = 4
EPHEMERAL: Dict[str, str] = {"type": "ephemeral"}
_UNCACHEABLE = ("thinking", "redacted_thinking")

Blocks = List[Dict[str, Any]]


def caching_disabled(env: Mapping[str, str]) -> bool:
    """``DISABLE_PROMPT_CACHING`` set to anything but empty, ``0`` or ``false``."""
    value = (env.get("DISABLE_PROMPT_CACHING") or "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def with_breakpoints(tools: List[Dict[str, Any]], system: Union[str, Blocks, None],
                     messages: List[Dict[str, Any]]
                     ) -> Tuple[List[Dict[str, Any]], Union[str, Blocks, None], List[Dict[str, Any]]]:
    """``(tools, system, messages)`` with cache breakpoints placed (see the module docstring)."""
    budget = MAX_BREAKPOINTS - _count(tools) - _count(system)
    messages = [_unmarked(m) for m in messages] if _count(messages) else messages
    system_blocks: Union[str, Blocks, None] = system
    if isinstance(system, str):
        system_blocks = [{"type": "text", "text": system}] if system else None
    # Most valuable first: the newest message, then the system prompt, the previous turn, the tools.
    out_messages = list(messages)
    wanted: List[str] = ["newest", "system", "previous", "tools"]
    out_tools = tools
    for what in wanted:
        if budget <= 0:
            break
        if what == "newest" and out_messages:
            budget -= _mark_message(out_messages, len(out_messages) - 1)
        elif what == "previous":
            index = _previous_turn_end(out_messages)
            if index is not None:
                budget -= _mark_message(out_messages, index)
        elif what == "system" and system_blocks:
            marked = _mark_last(system_blocks)  # type: ignore[arg-type]
            if marked is not None:
                system_blocks = marked
                budget -= 1
        elif what == "tools" and tools:
            marked = _mark_last(tools)
            if marked is not None:
                out_tools = marked
                budget -= 1
    return out_tools, system_blocks, out_messages


def _unmarked(message: Dict[str, Any]) -> Dict[str, Any]:
    """``message`` without cache_control on its blocks (or in a tool_result's content); copied only
    when it had one."""
    content = message.get("content")
    if not isinstance(content, list) or not _count(content):
        return message
    return {**message, "content": [_strip(b) for b in content]}


def _strip(block: Any) -> Any:
    if not isinstance(block, dict):
        return block
    out = {k: v for k, v in block.items() if k != "cache_control"}
    if isinstance(out.get("content"), list):
        out["content"] = [_strip(b) for b in out["content"]]
    return out


def _previous_turn_end(messages: List[Dict[str, Any]]) -> Optional[int]:
    """The index of the user message before the newest assistant reply (what ended the previous
    request), when the newest message is a user message that follows that reply."""
    if len(messages) < 3 or messages[-1].get("role") != "user" or messages[-2].get("role") != "assistant":
        return None
    return len(messages) - 3 if messages[-3].get("role") == "user" else None


def _mark_message(messages: List[Dict[str, Any]], index: int) -> int:
    """Put a breakpoint on message ``index``'s last cacheable block (copying it); 1 if placed."""
    message = messages[index]
    content = message.get("content")
    if isinstance(content, str):
        if not content:
            return 0
        messages[index] = {**message, "content": [{"type": "text", "text": content, "cache_control": EPHEMERAL}]}
        return 1
    if not isinstance(content, list):
        return 0
    marked = _mark_last(content)
    if marked is None:
        return 0
    messages[index] = {**message, "content": marked}
    return 1


def _mark_last(blocks: List[Dict[str, Any]]) -> Optional[List[Dict[str, Any]]]:
    """A copy of ``blocks`` with a breakpoint on the last cacheable one; None when none is."""
    for i in range(len(blocks) - 1, -1, -1):
        block = blocks[i]
        if not isinstance(block, dict) or not _cacheable(block):
            continue
        if "cache_control" in block:
            return None
        out = list(blocks)
        out[i] = {**block, "cache_control": EPHEMERAL}
        return out
    return None


def _cacheable(block: Dict[str, Any]) -> bool:
    kind = block.get("type")
    if kind in _UNCACHEABLE:
        return False
    if kind == "text" and not block.get("text"):
        return False
    return True


def _count(value: Any) -> int:
    """Breakpoints already present (in blocks, or in messages' blocks)."""
    if isinstance(value, dict):
        return (1 if "cache_control" in value else 0) + _count(value.get("content"))
    if isinstance(value, list):
        return sum(_count(v) for v in value)
    return 0
