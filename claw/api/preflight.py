"""Local preflight: estimate a request's prompt tokens and refuse what cannot fit, before any byte is sent.

The estimate is deliberately simple and costs no network round trip: the UTF-8 size of the serialized
payload (messages, system, tools) divided by 4 — about the number of characters per token of English
prose and JSON — plus a fixed charge for each binary attachment (an image or a base64 document counts as
``BINARY_BLOCK_TOKENS`` instead of its base64 length, since its real cost depends on pixels or pages that
the client does not decode). It is an estimate, not a tokenizer: it exists to catch conversations that
are clearly too large and say so with a recovery hint; borderline cases are left to the provider, whose
own context-window error is classified the same way (claw.api.failures).

Also refuses payloads over the provider's request-size limit (``request_size``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Optional

from claw.api.failures import REQUEST_SIZE_HINT, context_window_error
from claw.errors import ProviderError

BYTES_PER_TOKEN = 4
BINARY_BLOCK_TOKENS = 1_600
MAX_REQUEST_BYTES = 32 * 1024 * 1024  # Anthropic's documented Messages API request limit


@dataclass(frozen=True)
class TokenEstimate:
    """A local estimate of a request's size against the model's context window."""

    input_tokens: int  # estimated prompt tokens
    max_tokens: int  # requested output ceiling
    context_window: Optional[int]  # None: unknown model, not checked
    payload_bytes: int

    @property
    def fits(self) -> bool:
        return self.context_window is None or self.input_tokens + self.max_tokens <= self.context_window


def estimate_tokens(payload: Dict[str, Any]) -> int:
    """Estimated prompt tokens of a request body (Anthropic or OpenAI shape)."""
    counted = {k: v for k, v in payload.items() if k in ("system", "messages", "tools", "tool_choice")}
    stripped, binaries = _strip_binary(counted)
    size = len(json.dumps(stripped, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return size // BYTES_PER_TOKEN + binaries * BINARY_BLOCK_TOKENS


def estimate(payload: Dict[str, Any], *, max_tokens: int, context_window: Optional[int],
             body: Optional[bytes] = None) -> TokenEstimate:
    """The estimate for a request body; pass the already-serialized ``body`` to avoid encoding twice
    (when it holds no binary attachment its size is used directly — the few bytes of model name and
    parameters are noise)."""
    if body is not None and b'"base64"' not in body and b'"data:' not in body:
        tokens = len(body) // BYTES_PER_TOKEN
    else:
        tokens = estimate_tokens(payload)
    size = len(body) if body is not None else 0
    return TokenEstimate(tokens, max_tokens, context_window, size)


def check(est: TokenEstimate, *, model: str, max_request_bytes: Optional[int] = MAX_REQUEST_BYTES) -> None:
    """Raise the classified error when the request cannot succeed; return otherwise."""
    if max_request_bytes is not None and est.payload_bytes > max_request_bytes:
        raise ProviderError(
            f"the request is {est.payload_bytes / 1048576:.1f} MiB, over the "
            f"{max_request_bytes / 1048576:.0f} MiB limit; nothing was sent",
            hint=REQUEST_SIZE_HINT,
            kind="request_too_large",
            failure_class="request_size",
            retryable=False,
        )
    if not est.fits:
        raise context_window_error(
            f"the prompt is about {est.input_tokens:,} tokens and {est.max_tokens:,} more are reserved for "
            f"the answer, over the {est.context_window:,}-token context window of {model}; nothing was sent",
            model=model, estimate=est.input_tokens, window=est.context_window, reserved=est.max_tokens,
        )


def _strip_binary(value: Any):
    """A copy with base64 image/document data removed, and how many such blocks there were."""
    count = 0

    def walk(v: Any) -> Any:
        nonlocal count
        if isinstance(v, dict):
            t = v.get("type")
            if t in ("image", "document") and isinstance(v.get("source"), dict) and \
                    v["source"].get("type") == "base64":
                count += 1
                return {"type": t}
            if t == "image_url" and isinstance(v.get("image_url"), dict) and \
                    str(v["image_url"].get("url", "")).startswith("data:"):
                count += 1
                return {"type": t}
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(value), count
