"""The Anthropic Messages API provider: ``POST {base}/v1/messages`` with ``stream: true``.

Base URL: ANTHROPIC_BASE_URL (default https://api.anthropic.com); it may carry a path prefix (a gateway
such as ``https://gw.example/anthropic``), a trailing ``/`` is trimmed. Headers: ``anthropic-version:
2023-06-01``, ``content-type``, ``accept``, a ``user-agent`` naming claw and its version, the auth
headers (claw.auth.headers) and ``anthropic-beta`` when the request or the auth source asks for betas;
then ANTHROPIC_CUSTOM_HEADERS / settings ``customHeaders`` and ANTHROPIC_BETAS (claw.api.request_headers).
Body: model, max_tokens, messages, system, tools, tool_choice, stream, and thinking / output_config
(effort) / temperature / stop_sequences / metadata when set. With prompt caching on (the default;
``prompt_caching`` off for DISABLE_PROMPT_CACHING or settings ``promptCaching: false``,
``ModelRequest.cache`` off for one-off requests) the system prompt goes as a list of text blocks and
claw.api.caching places the breakpoints.

Stream events are the wire events themselves (``data: [DONE]`` from gateways is ignored; an event
without a ``type`` takes the SSE event name). Everything else — retries, preflight, accumulation —
is the shared engine in claw.api.provider.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from claw.api.accumulator import events_from_message
from claw.api.caching import with_breakpoints
from claw.api.provider import Provider, StreamTranslator
from claw.api.request_headers import apply as apply_headers
from claw.api.types import ModelRequest

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_BASE_URL = "https://api.anthropic.com"


class AnthropicProvider(Provider):
    name = "anthropic"
    label = "Anthropic"
    sends_thinking = True

    def endpoint(self) -> str:
        return self.base_url + "/v1/messages"

    def build_body(self, request: ModelRequest, *, max_tokens: int, stream: bool) -> Dict[str, Any]:
        tools, system, messages = request.tools, request.system, _sendable(request.messages)
        if self.prompt_caching and request.cache:
            tools, system, messages = with_breakpoints(tools, system, messages)
        body: Dict[str, Any] = {
            "model": self.model.id,
            "max_tokens": max_tokens,
            "messages": messages,
        }
        if system:
            body["system"] = system
        if tools:
            body["tools"] = tools
            if request.tool_choice:
                body["tool_choice"] = request.tool_choice
        if request.thinking:
            body["thinking"] = request.thinking
        if request.effort:
            body["output_config"] = {"effort": request.effort}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop_sequences:
            body["stop_sequences"] = list(request.stop_sequences)
        if request.metadata:
            body["metadata"] = request.metadata
        if stream:
            body["stream"] = True
        return body

    async def build_headers(self, request: ModelRequest, streaming: bool) -> List[Tuple[str, str]]:
        headers = [
            ("anthropic-version", ANTHROPIC_VERSION),
            ("content-type", "application/json"),
            ("accept", "text/event-stream" if streaming else "application/json"),
        ]
        betas = list(request.betas)
        for beta in self.auth.betas():
            if beta not in betas:
                betas.append(beta)
        if betas:
            headers.append(("anthropic-beta", ",".join(betas)))
        headers.extend(await self.auth.headers())
        if self.extra_headers or self.extra_betas:
            headers = apply_headers(headers, self.extra_headers, self.extra_betas)
        return headers

    def stream_translator(self) -> StreamTranslator:
        return _AnthropicEvents(self.label)

    def events_from_response(self, message: Dict[str, Any]) -> List[Dict[str, Any]]:
        if message.get("type") == "error" or ("error" in message and "content" not in message):
            return [{"type": "error", "error": message.get("error", message)}]
        return events_from_message(message)


class _AnthropicEvents(StreamTranslator):
    def feed(self, event: str, data: str) -> List[Dict[str, Any]]:
        if not data or data == "[DONE]":
            return []
        value = self.parse(data)
        if not isinstance(value, dict):
            return []
        if "type" not in value and event:
            value["type"] = event
        return [value]


def _sendable(messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The messages as the API accepts them: thinking blocks without a signature (produced by an
    OpenAI-compatible model earlier in the session) are dropped, since Anthropic rejects them."""
    out = messages
    for i, msg in enumerate(messages):
        content = msg.get("content")
        if msg.get("role") != "assistant" or not isinstance(content, list):
            continue
        if any(b.get("type") == "thinking" and not b.get("signature") for b in content):
            if out is messages:
                out = list(messages)
            kept = [b for b in content if not (b.get("type") == "thinking" and not b.get("signature"))]
            out[i] = {**msg, "content": kept or [{"type": "text", "text": ""}]}
    return out
