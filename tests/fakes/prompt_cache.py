"""Prompt-cache emulation for the fake model server (tests/fakes/model_server.py): the usage a caching
API reports, so tests and bench/cache_cost.py can see what cache breakpoints are worth.

Used as ``ModelServer(cache=PromptCache())`` or ``python -m tests.fakes.model_server --emulate-cache``.
It does not answer requests itself; it only rewrites the usage of a scripted reply (or turns the
reply into the 400 the API gives for too many breakpoints).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any, Callable, Dict, List, Optional

Spec = Dict[str, Any]



class PromptCache:
    """Anthropic's prompt cache as the API documents it, for /v1/messages; OpenAI's automatic prefix
    cache for /chat/completions.

    A request is a sequence of blocks: each tool, each system block, each content block of each message
    (a string content is one block). The prefix up to block i is named by a running SHA-256 over the
    model and the canonical JSON (sorted keys, ``cache_control`` removed) of blocks 0..i, with the
    message index and role folded in. Token counts are a deterministic estimate: len(canonical JSON)
    // 4 per block (at least 1) - not Anthropic's tokenizer, but the same for every client.

    Anthropic: the blocks carrying ``cache_control`` are the breakpoints (more than 4: a 400, as the
    API answers). For each breakpoint the longest live entry at it or up to ``lookback`` (20) block
    boundaries before it is a hit: ``cache_read_input_tokens`` is the longest hit's prefix. Every
    breakpoint whose prefix has at least ``min_tokens`` (1024) tokens is stored (or refreshed) for
    ``ttl`` seconds (300): ``cache_creation_input_tokens`` is the last stored prefix minus what was
    read; ``input_tokens`` is what follows the last breakpoint (or everything not read/written).

    OpenAI: no breakpoints; every request stores all its block boundaries from ``min_tokens`` on, and
    ``cached_tokens`` (reported through cache_read_input_tokens) is the longest stored prefix of the
    request, rounded down to a multiple of 128 tokens as OpenAI does; writes cost nothing extra there.

    ``log`` keeps, per answered request, its path, breakpoints and usage.
    """

    MAX_BREAKPOINTS = 4

    def __init__(self, *, ttl: float = 300.0, min_tokens: int = 1024, lookback: int = 20,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.min_tokens = min_tokens
        self.lookback = lookback
        self.clock = clock
        self._entries: Dict[str, float] = {}  # prefix hash -> expiry
        self._lock = threading.Lock()
        self.log: List[Dict[str, Any]] = []

    @staticmethod
    def _canonical(value: Any) -> str:
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "cache_control"}
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def blocks(self, body: Dict[str, Any], openai: bool = False) -> List[tuple]:
        """(canonical text, has a breakpoint) per block, in prefix order."""
        out: List[tuple] = []
        for tool in body.get("tools") or []:
            out.append(("tool:" + self._canonical(tool), isinstance(tool, dict) and "cache_control" in tool))
        system = body.get("system")
        for block in ([{"type": "text", "text": system}] if isinstance(system, str) else system or []):
            out.append(("system:" + self._canonical(block), isinstance(block, dict) and "cache_control" in block))
        for i, message in enumerate(body.get("messages") or []):
            if not isinstance(message, dict):
                continue
            head = f"message {i} {message.get('role')}:"
            content = message.get("content")
            if openai or not isinstance(content, list):
                out.append((head + self._canonical(message if openai else content), False))
                continue
            for block in content:
                out.append((head + self._canonical(block), isinstance(block, dict) and "cache_control" in block))
        return out

    def usage(self, path: str, body: Dict[str, Any]) -> Dict[str, Any]:
        """The usage fields for this request (and the cache updated), or ``{"error": message}``."""
        openai = path.split("?")[0].rstrip("/").endswith("/chat/completions")
        blocks = self.blocks(body, openai)
        hashes: List[str] = []
        tokens: List[int] = []
        running = hashlib.sha256(str(body.get("model")).encode())
        total = 0
        for text, _ in blocks:
            running.update(text.encode("utf-8"))
            hashes.append(running.copy().hexdigest())
            total += max(1, len(text) // 4)
            tokens.append(total)
        breakpoints = [i for i, (_, marked) in enumerate(blocks) if marked]
        if len(breakpoints) > self.MAX_BREAKPOINTS:
            return {"error": f"A maximum of {self.MAX_BREAKPOINTS} blocks with cache_control may be "
                             f"provided. Found {len(breakpoints)}."}
        now = self.clock()
        read = written = 0
        with self._lock:
            self._entries = {h: t for h, t in self._entries.items() if t > now}
            if openai:
                for i in range(len(blocks) - 1, -1, -1):
                    if hashes[i] in self._entries:
                        read = tokens[i] // 128 * 128
                        break
                for i, h in enumerate(hashes):
                    if tokens[i] >= self.min_tokens:
                        self._entries[h] = now + self.ttl
                usage = {"input_tokens": total - read, "cache_read_input_tokens": read,
                         "cache_creation_input_tokens": 0}
            else:
                for b in breakpoints:
                    for j in range(b, max(-1, b - self.lookback - 1), -1):
                        if hashes[j] in self._entries:
                            self._entries[hashes[j]] = now + self.ttl
                            read = max(read, tokens[j])
                            break
                for b in breakpoints:
                    if tokens[b] >= self.min_tokens:
                        self._entries[hashes[b]] = now + self.ttl
                        written = max(written, tokens[b])
                covered = max(read, written)
                usage = {"input_tokens": total - covered, "cache_read_input_tokens": read,
                         "cache_creation_input_tokens": max(0, written - read)}
            self.log.append({"path": path, "tools": len(body.get("tools") or []), "breakpoints": len(breakpoints),
                             "blocks": len(blocks), **usage})
        return usage

    def apply(self, req: Any, spec: Optional[Spec]) -> Optional[Spec]:
        """``spec`` with the emulated usage (a reply), or a 400 (too many breakpoints); others as they are."""
        if not isinstance(spec, dict) or "reply" not in spec or not isinstance(req.json, dict):
            return spec
        if req.path.split("?")[0].rstrip("/").endswith("/count_tokens"):
            return spec
        usage = self.usage(req.path, req.json)
        if "error" in usage:
            return {"error": {"status": 400, "type": "invalid_request_error", "message": usage["error"]}}
        body = dict(spec["reply"])
        body["usage"] = {**usage, **(body.get("usage") or {})}
        return {**spec, "reply": body}
