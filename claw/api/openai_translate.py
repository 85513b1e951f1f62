"""Translate between claw's canonical (Anthropic Messages) shapes and OpenAI ``/chat/completions``: pure.

Requests: system prompt -> a ``system`` message; user text/images -> content parts; ``tool_result``
blocks -> ``tool`` messages (placed before any other user content of the same turn, as OpenAI requires;
a tool message carries text only, so a result's images follow as ``image_url`` parts of a user message
and a PDF becomes a note);
assistant ``tool_use`` blocks -> ``tool_calls``; thinking blocks are dropped (they are provider-private);
tools -> ``{"type": "function", ...}``; tool_choice auto/any/tool/none -> auto/required/function/none.

Responses: ``ChatStreamTranslator`` turns each streamed chunk into the Anthropic events the same
message would have produced (message_start, content_block_start/delta/stop, message_delta,
message_stop), so the accumulator, the renderers and ``stream_event`` lines cannot tell the providers
apart. Text, ``reasoning_content``/``reasoning`` (-> thinking blocks without signature), tool-call
argument deltas (-> input_json_delta), finish reasons and usage (cached prompt tokens -> cache reads)
are mapped; a complete non-streamed completion goes through the same translator as one chunk.

Nothing here does I/O; it never raises on odd chunks (servers differ) — unknown fields are ignored.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from claw.api.types import ModelRequest

FINISH_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
    "eos": "end_turn",
}


# -- requests -------------------------------------------------------------------------------------------


def chat_body(req: ModelRequest, *, model: str, max_tokens: int, stream: bool,
              max_tokens_field: str = "max_tokens") -> Dict[str, Any]:
    body: Dict[str, Any] = {"model": model, "messages": translate_messages(req.system, req.messages)}
    body[max_tokens_field] = max_tokens
    if req.tools:
        body["tools"] = [translate_tool(t) for t in req.tools]
        choice = translate_tool_choice(req.tool_choice)
        if choice is not None:
            body["tool_choice"] = choice
        if req.tool_choice and req.tool_choice.get("disable_parallel_tool_use"):
            body["parallel_tool_calls"] = False
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.stop_sequences:
        body["stop"] = list(req.stop_sequences)
    if req.metadata and isinstance(req.metadata.get("user_id"), str):
        body["user"] = req.metadata["user_id"]
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def translate_tool(tool: Dict[str, Any]) -> Dict[str, Any]:
    fn: Dict[str, Any] = {
        "name": tool.get("name", ""),
        "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
    }
    if tool.get("description"):
        fn["description"] = tool["description"]
    return {"type": "function", "function": fn}


def translate_tool_choice(choice: Optional[Dict[str, Any]]) -> Any:
    if not choice:
        return None
    t = choice.get("type")
    if t == "auto":
        return "auto"
    if t == "any":
        return "required"
    if t == "none":
        return "none"
    if t == "tool" and choice.get("name"):
        return {"type": "function", "function": {"name": choice["name"]}}
    return None


def translate_messages(system: Any, messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    system_text = _text_of(system)
    if system_text:
        out.append({"role": "system", "content": system_text})
    for msg in messages:
        role = msg.get("role")
        content = msg.get("content")
        if isinstance(content, str):
            out.append({"role": "assistant" if role == "assistant" else "user", "content": content})
            continue
        blocks = content or []
        if role == "assistant":
            out.append(_assistant(blocks))
        else:
            out.extend(_user(blocks))
    return out


def _assistant(blocks: List[Dict[str, Any]]) -> Dict[str, Any]:
    texts: List[str] = []
    calls: List[Dict[str, Any]] = []
    for b in blocks:
        t = b.get("type")
        if t == "text":
            texts.append(b.get("text", ""))
        elif t == "tool_use":
            calls.append({
                "id": b.get("id", ""),
                "type": "function",
                "function": {"name": b.get("name", ""), "arguments": json.dumps(b.get("input") or {})},
            })
    msg: Dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        msg["tool_calls"] = calls
    elif msg["content"] is None:
        msg["content"] = ""
    return msg


def _user(blocks: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    tool_msgs: List[Dict[str, Any]] = []
    parts: List[Dict[str, Any]] = []
    for b in blocks:
        t = b.get("type")
        if t == "tool_result":
            text = _text_of(b.get("content"))
            if b.get("is_error") and not text.startswith("Error"):
                text = f"Error: {text}"
            tool_msgs.append({"role": "tool", "tool_call_id": b.get("tool_use_id", ""), "content": text})
            for part in b.get("content") if isinstance(b.get("content"), list) else []:
                url = _image_url(part.get("source") or {}) if isinstance(part, dict) and part.get("type") == "image" else None
                if url:  # a tool message carries text only: the image follows in a user message
                    parts.append({"type": "image_url", "image_url": {"url": url}})
        elif t == "text":
            parts.append({"type": "text", "text": b.get("text", "")})
        elif t == "image":
            url = _image_url(b.get("source") or {})
            if url:
                parts.append({"type": "image_url", "image_url": {"url": url}})
        elif t == "document":
            parts.append({"type": "text", "text": _text_of(b) or "[document omitted]"})
    out = list(tool_msgs)
    if parts:
        if all(p["type"] == "text" for p in parts):
            out.append({"role": "user", "content": "".join(p["text"] for p in parts)})
        else:
            out.append({"role": "user", "content": parts})
    return out


def _image_url(source: Dict[str, Any]) -> Optional[str]:
    if source.get("type") == "base64":
        return f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    if source.get("type") == "url":
        return source.get("url")
    return None


def _text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if value.get("type") == "text":
            return value.get("text", "")
        src = value.get("source")
        if isinstance(src, dict) and src.get("type") == "text":
            return src.get("data", "")
        return ""
    if isinstance(value, list):
        pieces = []
        for b in value:
            if isinstance(b, dict) and b.get("type") in ("image", "document"):
                pieces.append(f"[{b['type']}: shown below]" if b["type"] == "image" else "[document: this provider cannot read PDFs]")
            else:
                pieces.append(_text_of(b))
        return "\n".join(p for p in pieces if p)
    return str(value)


# -- responses ------------------------------------------------------------------------------------------


class ChatStreamTranslator:
    """Chat-completion chunks in, Anthropic stream events out (see the module docstring)."""

    def __init__(self, model: str = "") -> None:
        self.model = model
        self.started = False
        self.finished = False
        self._next_index = 0
        self._text: Optional[int] = None  # open text block index
        self._thinking: Optional[int] = None  # open thinking block index
        self._tools: Dict[int, Dict[str, Any]] = {}  # tool_call index -> state
        self._open_tools: List[int] = []  # block indices of open tool_use blocks, in order
        self._finish: Optional[str] = None
        self._usage: Dict[str, int] = {}
        self._saw_tool = False

    def feed(self, chunk: Dict[str, Any]) -> List[Dict[str, Any]]:
        if not isinstance(chunk, dict):
            return []
        if "error" in chunk and not chunk.get("choices"):
            err = chunk["error"]
            if not isinstance(err, dict):
                err = {"message": str(err)}
            return [{"type": "error", "error": err}]
        out: List[Dict[str, Any]] = []
        if not self.started:
            out.append(self._start(chunk))
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = _usage(usage)
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if delta is None:
                delta = choice.get("message")  # a non-streamed completion fed as one chunk
            if isinstance(delta, dict):
                out.extend(self._delta(delta))
            reason = choice.get("finish_reason")
            if reason:
                self._finish = reason
                out.extend(self._close_all())
        return out

    def finish(self) -> List[Dict[str, Any]]:
        """Closing events at ``[DONE]`` or end of stream (idempotent). Nothing when nothing started."""
        if self.finished or not self.started:
            return []
        if self._finish is None and self._next_index == 0 and not self._usage:
            return []  # a stream that said nothing: let the accumulator call it empty
        self.finished = True
        out = self._close_all()
        stop = FINISH_REASONS.get(self._finish or "", "end_turn" if self._finish else None)
        if self._saw_tool and stop in ("end_turn", None):
            stop = "tool_use"  # servers that say "stop" after tool calls
        if stop is None:
            stop = "end_turn"
        usage = {"output_tokens": self._usage.get("output_tokens", 0)}
        for name in ("input_tokens", "cache_read_input_tokens"):
            if name in self._usage:
                usage[name] = self._usage[name]
        out.append({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": usage})
        out.append({"type": "message_stop"})
        return out

    # -- internals ---

    def _start(self, chunk: Dict[str, Any]) -> Dict[str, Any]:
        self.started = True
        mid = chunk.get("id") or f"msg_{os.urandom(12).hex()}"
        self.model = chunk.get("model") or self.model
        usage = _usage(chunk["usage"]) if isinstance(chunk.get("usage"), dict) else {}
        return {
            "type": "message_start",
            "message": {
                "id": mid, "type": "message", "role": "assistant", "model": self.model, "content": [],
                "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": usage.get("input_tokens", 0), "output_tokens": 0,
                          "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": usage.get("cache_read_input_tokens", 0)},
            },
        }

    def _delta(self, delta: Dict[str, Any]) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        reasoning = delta.get("reasoning_content")
        if reasoning is None:
            reasoning = delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            if self._thinking is None:
                out.extend(self._close_text())
                self._thinking = self._open({"type": "thinking", "thinking": "", "signature": ""}, out)
            out.append({"type": "content_block_delta", "index": self._thinking,
                        "delta": {"type": "thinking_delta", "thinking": reasoning}})
        text = delta.get("content")
        if isinstance(text, list):  # content parts (some servers)
            text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
        if isinstance(text, str) and text:
            out.extend(self._close_thinking())
            if self._text is None:
                self._text = self._open({"type": "text", "text": ""}, out)
            out.append({"type": "content_block_delta", "index": self._text,
                        "delta": {"type": "text_delta", "text": text}})
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for pos, call in enumerate(calls):
                if isinstance(call, dict):
                    out.extend(self._tool_delta(call, pos))
        return out

    def _tool_delta(self, call: Dict[str, Any], pos: int) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        key = call.get("index")
        if not isinstance(key, int):
            key = pos
        fn = call.get("function") or {}
        state = self._tools.get(key)
        if state is None:
            state = self._tools[key] = {"id": None, "name": "", "block": None, "pending": []}
        if call.get("id") and not state["id"]:
            state["id"] = call["id"]
        if fn.get("name") and state["block"] is None:
            state["name"] += fn["name"]
        args = fn.get("arguments")
        if isinstance(args, (dict, list)):
            args = json.dumps(args)
        if state["block"] is None and state["name"]:
            out.extend(self._close_text())
            out.extend(self._close_thinking())
            self._saw_tool = True
            tool_id = state["id"] or f"toolu_{os.urandom(12).hex()}"
            state["id"] = tool_id
            index = self._open({"type": "tool_use", "id": tool_id, "name": state["name"], "input": {}}, out)
            state["block"] = index
            self._open_tools.append(index)
            for pending in state["pending"]:
                out.append(_json_delta(index, pending))
            state["pending"] = []
        if isinstance(args, str) and args:
            if state["block"] is None:
                state["pending"].append(args)
            else:
                out.append(_json_delta(state["block"], args))
        return out

    def _open(self, block: Dict[str, Any], out: List[Dict[str, Any]]) -> int:
        index = self._next_index
        self._next_index += 1
        out.append({"type": "content_block_start", "index": index, "content_block": block})
        return index

    def _close_text(self) -> List[Dict[str, Any]]:
        if self._text is None:
            return []
        index, self._text = self._text, None
        return [{"type": "content_block_stop", "index": index}]

    def _close_thinking(self) -> List[Dict[str, Any]]:
        if self._thinking is None:
            return []
        index, self._thinking = self._thinking, None
        return [{"type": "content_block_stop", "index": index}]

    def _close_all(self) -> List[Dict[str, Any]]:
        out = self._close_thinking() + self._close_text()
        # A tool call whose name never arrived still becomes a block, so its arguments are not lost.
        for state in self._tools.values():
            if state["block"] is None and state["pending"]:
                state["name"] = state["name"] or "unknown_tool"
                tool_id = state["id"] or f"toolu_{os.urandom(12).hex()}"
                state["id"] = tool_id
                index = self._open({"type": "tool_use", "id": tool_id, "name": state["name"], "input": {}}, out)
                state["block"] = index
                self._saw_tool = True
                for pending in state["pending"]:
                    out.append(_json_delta(index, pending))
                out.append({"type": "content_block_stop", "index": index})
                state["pending"] = []
        for index in self._open_tools:
            out.append({"type": "content_block_stop", "index": index})
        self._open_tools = []
        return out


def _json_delta(index: int, partial: str) -> Dict[str, Any]:
    return {"type": "content_block_delta", "index": index,
            "delta": {"type": "input_json_delta", "partial_json": partial}}


def _usage(usage: Dict[str, Any]) -> Dict[str, int]:
    prompt = _int(usage.get("prompt_tokens"))
    details = usage.get("prompt_tokens_details") or {}
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    return {
        "input_tokens": max(0, prompt - cached),
        "output_tokens": _int(usage.get("completion_tokens")),
        "cache_read_input_tokens": cached,
    }


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def completion_events(completion: Dict[str, Any], model: str = "") -> List[Dict[str, Any]]:
    """The Anthropic events for a complete (non-streamed) chat completion."""
    tr = ChatStreamTranslator(model)
    chunk = dict(completion)
    choices = []
    for choice in completion.get("choices") or []:
        if isinstance(choice, dict):
            msg = dict(choice.get("message") or {})
            calls = msg.get("tool_calls")
            if isinstance(calls, list):
                msg["tool_calls"] = [dict(c, index=i) for i, c in enumerate(calls) if isinstance(c, dict)]
            choices.append({"index": choice.get("index", 0), "delta": msg,
                            "finish_reason": choice.get("finish_reason")})
    chunk["choices"] = choices
    return tr.feed(chunk) + tr.finish()
