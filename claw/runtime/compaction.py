"""Compaction: replace the older part of a long conversation with a summary, keep recent turns verbatim.

Triggered by ``/compact`` (manual) or by the loop when the estimated prompt passes a share of the
model's context window (``CLAW_AUTOCOMPACT_PCT``, default 80). The cut is only ever made just before a
user message that is a real prompt (not a tool_result message), so a tool_use is never separated from
its tool_result. The summary is written by the model itself, in one request without tools; when that
request fails, a deterministic summary (the prompts, the tools used, the files touched, the last
answer) takes its place, so compaction never fails because the model could not be reached. The session
file records the compaction, and resuming sees the compacted history.

Not here: deciding *when* in the loop (the Agent calls ``maybe_compact`` before each request) and
rendering (the CLI shows the ``Notice``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

from claw.api.preflight import estimate_tokens
from claw.api.types import MessageDone, ModelRequest

DEFAULT_THRESHOLD_PCT = 80
KEEP_RECENT_PROMPTS = 2  # user prompts (with everything after them) kept verbatim
SUMMARY_MAX_TOKENS = 4096
TRANSCRIPT_CHAR_BUDGET = 400_000  # what the summarisation request may carry of the old history
SUMMARY_PREFIX = "[Summary of the earlier conversation, written when it was compacted]\n\n"

SUMMARY_INSTRUCTIONS = """\
You are compacting a coding-agent conversation so it can continue with less context. Write a summary \
that lets the agent carry on without the original messages. Include, in this order:
1. The user's goals and every explicit request or constraint, in their words where it matters.
2. What was done: files read, created or changed (with paths), commands run and their outcomes.
3. Key facts learned about the code and environment (names, paths, versions, errors).
4. Open problems and the next steps that were planned.
Be specific and complete but concise. Do not invent anything. Output only the summary."""


@dataclass(frozen=True)
class CompactionResult:
    """A compaction's summary message and what it replaced."""

    summary_message: Dict[str, Any]
    replaced: int  # how many messages the summary replaced
    kept: int
    by_model: bool  # False: the deterministic fallback was used
    tokens_before: int
    tokens_after: int


def threshold_pct(env: Mapping[str, str]) -> int:
    value = (env.get("CLAW_AUTOCOMPACT_PCT") or "").strip()
    try:
        pct = int(value) if value else DEFAULT_THRESHOLD_PCT
    except ValueError:
        return DEFAULT_THRESHOLD_PCT
    return min(max(pct, 1), 100)


def needs_compaction(used_tokens: int, context_window: Optional[int], pct: int) -> bool:
    return bool(context_window) and used_tokens * 100 >= context_window * pct  # type: ignore[operator]


def split_point(messages: Sequence[Dict[str, Any]], keep_prompts: int = KEEP_RECENT_PROMPTS) -> int:
    """Index of the first message kept verbatim: the ``keep_prompts``-th real user prompt from the end.

    0 means nothing can be compacted (too few prompts). A real prompt is a user message that carries
    no tool_result, so cutting before it never splits a tool_use from its result.
    """
    prompts = [i for i, m in enumerate(messages) if _is_prompt(m)]
    if len(prompts) <= keep_prompts:
        # Not enough whole turns: keep only the last prompt if that still leaves something to summarise.
        return prompts[-1] if len(prompts) >= 2 else 0
    return prompts[-keep_prompts]


async def compact(provider: Any, model: str, messages: Sequence[Dict[str, Any]], *,
                  keep_prompts: int = KEEP_RECENT_PROMPTS, instructions: str = "") -> Optional[CompactionResult]:
    """Summarise ``messages[:split]``; None when there is nothing worth compacting."""
    cut = split_point(messages, keep_prompts)
    if cut <= 0:
        return None
    old, kept = list(messages[:cut]), list(messages[cut:])
    before = estimate_tokens({"messages": list(messages)})
    summary_text: Optional[str] = None
    try:
        summary_text = await _summarise_with_model(provider, model, old, instructions)
    except Exception:  # any failure (network, auth, context window) falls back; compaction must not fail
        summary_text = None
    by_model = bool(summary_text and summary_text.strip())
    if not by_model:
        summary_text = fallback_summary(old)
    summary = {"role": "user", "content": [{"type": "text", "text": SUMMARY_PREFIX + summary_text.strip()}]}
    after = estimate_tokens({"messages": [summary] + kept})
    return CompactionResult(summary, replaced=len(old), kept=len(kept), by_model=by_model,
                            tokens_before=before, tokens_after=after)


async def _summarise_with_model(provider: Any, model: str, old: List[Dict[str, Any]], instructions: str) -> str:
    transcript = render_transcript(old, TRANSCRIPT_CHAR_BUDGET)
    ask = "Summarise this conversation as instructed."
    if instructions:
        ask += f" Focus on: {instructions}"
    request = ModelRequest(
        model=model,
        system=SUMMARY_INSTRUCTIONS,
        messages=[{"role": "user", "content": [{"type": "text", "text": f"{transcript}\n\n{ask}"}]}],
        max_tokens=SUMMARY_MAX_TOKENS,
        cache=False,  # asked once: a cache write would cost 1.25x for nothing
    )
    async for event in provider.stream(request):
        if isinstance(event, MessageDone):
            return event.response.text
    return ""


def render_transcript(messages: Sequence[Dict[str, Any]], budget: int) -> str:
    """The conversation as plain text for the summariser; when over ``budget`` characters, the middle
    of long tool outputs is cut first, then the oldest messages."""
    parts: List[str] = []
    for message in messages:
        role = message.get("role", "?")
        for block in _blocks(message):
            kind = block.get("type")
            if kind == "text":
                parts.append(f"{role.upper()}: {block.get('text', '')}")
            elif kind == "tool_use":
                parts.append(f"TOOL CALL {block.get('name')}: {json.dumps(block.get('input'), ensure_ascii=False)}")
            elif kind == "tool_result":
                text = _result_text(block)
                if len(text) > 4000:
                    text = text[:2000] + "\n[... cut ...]\n" + text[-1500:]
                flag = " (error)" if block.get("is_error") else ""
                parts.append(f"TOOL RESULT{flag}: {text}")
            elif kind == "thinking":
                continue
    out = "\n\n".join(parts)
    if len(out) > budget:
        out = "[... older messages cut ...]\n" + out[-budget:]
    return out


def fallback_summary(messages: Sequence[Dict[str, Any]]) -> str:
    """A summary built without a model: what was asked, which tools ran on what, the last answer."""
    prompts: List[str] = []
    actions: List[str] = []
    files: List[str] = []
    last_answer = ""
    for message in messages:
        for block in _blocks(message):
            kind = block.get("type")
            if kind == "text" and message.get("role") == "user" and _is_prompt(message):
                prompts.append(_clip(block.get("text", ""), 500))
            elif kind == "text" and message.get("role") == "assistant":
                last_answer = block.get("text", "") or last_answer
            elif kind == "tool_use":
                tool_input = block.get("input") or {}
                target = tool_input.get("path") or tool_input.get("command") or tool_input.get("pattern") or ""
                actions.append(f"{block.get('name')} {_clip(str(target), 160)}".strip())
                if tool_input.get("path") and block.get("name") in ("write_file", "edit_file", "read_file"):
                    files.append(str(tool_input["path"]))
    lines = ["(The model could not be reached to write this summary; it was assembled mechanically.)"]
    if prompts:
        lines.append("User requests, in order:")
        lines += [f"- {p}" for p in prompts]
    if actions:
        lines.append(f"Tool calls ({len(actions)}), most recent last:")
        lines += [f"- {a}" for a in actions[-40:]]
    if files:
        lines.append("Files touched: " + ", ".join(dict.fromkeys(files)))
    if last_answer:
        lines.append("Last answer before compaction:")
        lines.append(_clip(last_answer, 2000))
    return "\n".join(lines)


def _is_prompt(message: Dict[str, Any]) -> bool:
    if message.get("role") != "user":
        return False
    content = message.get("content")
    if isinstance(content, str):
        return True
    return not any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content or [])


def _blocks(message: Dict[str, Any]) -> List[Dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def _result_text(block: Dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
