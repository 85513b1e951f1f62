"""The OpenAI-compatible provider: ``POST {base}/chat/completions`` streaming, for OpenAI, xAI,
OpenRouter, vLLM, LM Studio and Ollama.

The base URL includes the API version path (``https://api.openai.com/v1``, ``https://api.x.ai/v1``,
``http://127.0.0.1:11434/v1``); auth is ``Authorization: Bearer <key>`` when a key is configured and
nothing otherwise (local servers). Requests and responses are translated by claw.api.openai_translate,
so the agent loop only ever sees Anthropic-shaped messages and events. The official OpenAI endpoint gets
``max_completion_tokens`` (its reasoning models reject ``max_tokens``); every other server gets
``max_tokens``, which they all understand.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from claw.api.openai_translate import ChatStreamTranslator, chat_body, completion_events
from claw.api.provider import Provider, StreamTranslator
from claw.api.types import ModelRequest

OPENAI_BASE_URL = "https://api.openai.com/v1"
XAI_BASE_URL = "https://api.x.ai/v1"

LABELS = {"openai": "OpenAI", "xai": "xAI", "ollama": "Ollama", "local": "the local model server"}


class OpenAICompatProvider(Provider):
    name = "openai"
    label = "OpenAI"

    def __init__(self, *, provider: str = "openai", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = provider
        self.label = LABELS.get(provider, provider)
        official = self.base_url.startswith("https://api.openai.com")
        self.max_tokens_field = "max_completion_tokens" if official else "max_tokens"

    def endpoint(self) -> str:
        return self.base_url + "/chat/completions"

    def build_body(self, request: ModelRequest, *, max_tokens: int, stream: bool) -> Dict[str, Any]:
        return chat_body(request, model=self.model.id, max_tokens=max_tokens, stream=stream,
                         max_tokens_field=self.max_tokens_field)

    async def build_headers(self, request: ModelRequest, streaming: bool) -> List[Tuple[str, str]]:
        headers = [
            ("content-type", "application/json"),
            ("accept", "text/event-stream" if streaming else "application/json"),
        ]
        headers.extend(await self.auth.headers())
        if self.extra_headers:  # settings customHeaders (claw.api.request_headers)
            from claw.api.request_headers import apply

            headers = apply(headers, self.extra_headers)
        return headers

    def stream_translator(self) -> StreamTranslator:
        return _ChatEvents(self.label, self.model.id)

    def events_from_response(self, message: Dict[str, Any]) -> List[Dict[str, Any]]:
        if "error" in message and not message.get("choices"):
            err = message["error"]
            return [{"type": "error", "error": err if isinstance(err, dict) else {"message": str(err)}}]
        return completion_events(message, self.model.id)


class _ChatEvents(StreamTranslator):
    def __init__(self, label: str, model: str) -> None:
        super().__init__(label)
        self._chunks = ChatStreamTranslator(model)

    def feed(self, event: str, data: str) -> List[Dict[str, Any]]:
        if not data:
            return []
        if data == "[DONE]":
            return self._chunks.finish()
        value = self.parse(data)
        if event == "error" and isinstance(value, dict) and "error" not in value:
            value = {"error": value}
        return self._chunks.feed(value) if isinstance(value, dict) else []

    def finish(self) -> List[Dict[str, Any]]:
        return self._chunks.finish()
