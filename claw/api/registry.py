"""The model registry: which provider serves a model, its context window, output limit and prices.

Figures are per model (no family guessing for prices). Sources, read on 2026-11-22:
  - Anthropic: platform.claude.com/docs/en/about-claude/pricing ("Model pricing" table: base input,
    5-minute cache writes, cache hits, output) and the per-model overview pages
    (platform.claude.com/docs/en/models/<model>/overview: model id, context window, max output).
    Claude Sonnet 5.5 cache reads were cut to $0.10/MTok on 2026-10-07; Claude Haiku 5.5 is priced in
    two bands by prompt length (<= 100,000 tokens / above).
  - OpenAI: platform.openai.com/docs/pricing and the model pages (context window, max output tokens,
    cached-input price). OpenAI bills no cache-write premium: cache writes cost the input price.
  - xAI: docs.x.ai/docs/models (context window, input / cached input / output price).
  - Local models (ollama/, local/): context windows from the model cards; they cost nothing.
Prices are USD per million tokens. "Cache write" is the 5-minute prompt-cache write price.

Unknown models: the provider is guessed from the name, ``max_output_tokens`` falls back to a safe
default, ``context_window`` is None (the local preflight is skipped and the server is the judge), and
``pricing`` is None so cost is reported as unknown (``cost_usd`` returns None), never a silent 0.

This module is pure data and lookups; choosing credentials and endpoints is claw.api.client's job.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Optional, Tuple

from claw.api.types import Usage

PROVIDERS = ("anthropic", "openai", "xai", "ollama", "local", "bedrock", "vertex")


@dataclass(frozen=True)
class Pricing:
    """USD per million tokens. ``long_prompt`` applies to a request whose prompt (input + cache
    writes + cache reads) exceeds ``long_prompt_threshold`` tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float
    long_prompt_threshold: Optional[int] = None
    long_prompt: Optional["Pricing"] = None

    def cost(self, usage: Usage) -> float:
        rates = self
        if self.long_prompt is not None and self.long_prompt_threshold is not None:
            if usage.prompt_tokens > self.long_prompt_threshold:
                rates = self.long_prompt
        return (
            usage.input_tokens * rates.input
            + usage.output_tokens * rates.output
            + usage.cache_creation_input_tokens * rates.cache_write
            + usage.cache_read_input_tokens * rates.cache_read
        ) / 1_000_000


FREE = Pricing(0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class ModelInfo:
    """What claw knows of one model: wire id, provider, context window, output limit and prices."""

    id: str  # the id sent on the wire
    provider: str  # one of PROVIDERS
    display_name: str
    context_window: Optional[int]  # tokens; None = unknown (preflight skipped)
    max_output_tokens: int  # the model's hard output limit
    default_max_tokens: int  # what claw asks for when the request does not say
    pricing: Optional[Pricing]  # None = unknown
    known: bool = True
    # Extended thinking: "adaptive" (understands thinking {type: adaptive}; interleaves by itself),
    # "interleaved" (a token budget; thinks between tool calls with the interleaved-thinking beta),
    # "budget" (a token budget, no interleaving), "" (no extended thinking, or not known)
    thinking: str = ""
    effort: Tuple[str, ...] = ()  # the output_config.effort levels it accepts (claw.api.effort)

    def cost_usd(self, usage: Usage) -> Optional[float]:
        """The cost of one response's usage, or None when the price is unknown."""
        if self.pricing is None:
            return None
        return self.pricing.cost(usage)


# Output ceiling claw asks for by default: large enough for agentic edits, small enough that the
# preflight (prompt + max_tokens <= window) does not refuse long conversations on 200K models.
DEFAULT_ASK = 32_000
UNKNOWN_MAX_OUTPUT = 8_192
UNKNOWN_CLAUDE_MAX_OUTPUT = 32_000

_M = 1_000_000
_K200 = 200_000


_E45 = ("low", "medium", "high")
_E46 = ("low", "medium", "high", "max")
_E47 = ("low", "medium", "high", "xhigh", "max")


def _claude(id_: str, name: str, window: int, max_out: int, p: Pricing, thinking: str = "interleaved",
            effort: Tuple[str, ...] = ()) -> ModelInfo:
    return ModelInfo(id_, "anthropic", name, window, max_out, min(max_out, DEFAULT_ASK), p, thinking=thinking,
                     effort=effort)


_HAIKU_55 = Pricing(
    0.10, 0.50, 0.125, 0.01,
    long_prompt_threshold=100_000,
    long_prompt=Pricing(0.50, 2.50, 0.625, 0.05),
)

_CLAUDE = (
    # Claude 5.x (current generation as of 2026-11)
    _claude("claude-opus-5-5", "Claude Opus 5.5", _M, 128_000, Pricing(4.0, 20.0, 5.0, 0.20), "adaptive", _E47),
    _claude("claude-opus-5", "Claude Opus 5", _M, 128_000, Pricing(5.0, 25.0, 6.25, 0.50), "adaptive", _E47),
    _claude("claude-sonnet-5-5", "Claude Sonnet 5.5", _M, 128_000, Pricing(2.0, 10.0, 2.50, 0.10), "adaptive", _E47),
    _claude("claude-sonnet-5", "Claude Sonnet 5", _M, 128_000, Pricing(2.0, 10.0, 2.50, 0.20), "adaptive", _E47),
    _claude("claude-haiku-5-5", "Claude Haiku 5.5", _M, 128_000, _HAIKU_55, "adaptive", _E47),
    # Claude 4.x
    _claude("claude-opus-4-8", "Claude Opus 4.8", _M, 128_000, Pricing(5.0, 25.0, 6.25, 0.50), "adaptive", _E47),
    _claude("claude-opus-4-7", "Claude Opus 4.7", _M, 128_000, Pricing(5.0, 25.0, 6.25, 0.50), "adaptive", _E47),
    _claude("claude-opus-4-6", "Claude Opus 4.6", _M, 128_000, Pricing(5.0, 25.0, 6.25, 0.50), "adaptive", _E46),
    _claude("claude-opus-4-5-20251101", "Claude Opus 4.5", _K200, 64_000, Pricing(5.0, 25.0, 6.25, 0.50),
            "interleaved", _E45),
    _claude("claude-opus-4-1-20250805", "Claude Opus 4.1", _K200, 32_000, Pricing(15.0, 75.0, 18.75, 1.50)),
    _claude("claude-opus-4-20250514", "Claude Opus 4", _K200, 32_000, Pricing(15.0, 75.0, 18.75, 1.50)),
    _claude("claude-sonnet-4-6", "Claude Sonnet 4.6", _M, 128_000, Pricing(3.0, 15.0, 3.75, 0.30), "adaptive", _E46),
    _claude("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", _K200, 64_000, Pricing(3.0, 15.0, 3.75, 0.30)),
    _claude("claude-sonnet-4-20250514", "Claude Sonnet 4", _K200, 64_000, Pricing(3.0, 15.0, 3.75, 0.30)),
    _claude("claude-haiku-4-5-20251001", "Claude Haiku 4.5", _K200, 64_000, Pricing(1.0, 5.0, 1.25, 0.10)),
    # Claude 3.x still reachable through some gateways
    _claude("claude-3-7-sonnet-20250219", "Claude Sonnet 3.7", _K200, 64_000, Pricing(3.0, 15.0, 3.75, 0.30), "budget"),
    _claude("claude-3-5-haiku-20241022", "Claude Haiku 3.5", _K200, 8_192, Pricing(0.80, 4.0, 1.0, 0.08), ""),
)

# Undated and "-0" names Anthropic accepts for the dated ids above.
_CLAUDE_ALIASES = {
    "claude-opus-4-5": "claude-opus-4-5-20251101",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-opus-4": "claude-opus-4-20250514",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
    "claude-sonnet-4": "claude-sonnet-4-20250514",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet-20250219",
    "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
}

# `opus` / `sonnet` / `haiku`: the newest model of each family, as Claude Code resolves them first-party
# (2026-11). ANTHROPIC_DEFAULT_{OPUS,SONNET,HAIKU}_MODEL and settings `aliases` override (client.py).
FAMILY_ALIASES = {
    "opus": "claude-opus-5-5",
    "sonnet": "claude-sonnet-5-5",
    "haiku": "claude-haiku-5-5",
}
DEFAULT_MODEL = "sonnet"


def _oai(id_: str, name: str, window: int, max_out: int, p: Pricing, provider: str = "openai") -> ModelInfo:
    return ModelInfo(id_, provider, name, window, max_out, min(max_out, DEFAULT_ASK), p)


def _oai_price(inp: float, cached: float, out: float) -> Pricing:
    return Pricing(inp, out, inp, cached)


_OPENAI = (
    _oai("gpt-5", "GPT-5", 400_000, 128_000, _oai_price(1.25, 0.125, 10.0)),
    _oai("gpt-5-mini", "GPT-5 mini", 400_000, 128_000, _oai_price(0.25, 0.025, 2.0)),
    _oai("gpt-5-nano", "GPT-5 nano", 400_000, 128_000, _oai_price(0.05, 0.005, 0.40)),
    _oai("gpt-4.1", "GPT-4.1", 1_047_576, 32_768, _oai_price(2.0, 0.50, 8.0)),
    _oai("gpt-4.1-mini", "GPT-4.1 mini", 1_047_576, 32_768, _oai_price(0.40, 0.10, 1.60)),
    _oai("gpt-4.1-nano", "GPT-4.1 nano", 1_047_576, 32_768, _oai_price(0.10, 0.025, 0.40)),
    _oai("gpt-4o", "GPT-4o", 128_000, 16_384, _oai_price(2.50, 1.25, 10.0)),
    _oai("gpt-4o-mini", "GPT-4o mini", 128_000, 16_384, _oai_price(0.15, 0.075, 0.60)),
    _oai("o3", "o3", 200_000, 100_000, _oai_price(2.0, 0.50, 8.0)),
    _oai("o4-mini", "o4-mini", 200_000, 100_000, _oai_price(1.10, 0.275, 4.40)),
    # xAI (OpenAI-compatible API at api.x.ai)
    _oai("grok-4.5", "Grok 4.5", 500_000, 64_000, _oai_price(2.0, 0.50, 6.0), "xai"),
    _oai("grok-4", "Grok 4", 256_000, 64_000, _oai_price(3.0, 0.75, 15.0), "xai"),
    _oai("grok-code-fast-1", "Grok Code Fast 1", 256_000, 64_000, _oai_price(0.20, 0.02, 1.50), "xai"),
    _oai("grok-3", "Grok 3", 131_072, 32_768, _oai_price(3.0, 0.75, 15.0), "xai"),
    _oai("grok-3-mini", "Grok 3 mini", 131_072, 32_768, _oai_price(0.30, 0.075, 0.50), "xai"),
)

# Self-hosted models (ollama/<name>, local/<name>): free; windows from the model cards. The window a
# server really uses depends on its own configuration (Ollama's num_ctx), so these only bound the
# preflight from above.
_LOCAL = {
    "llama3.1": 131_072,
    "llama3.2": 131_072,
    "llama3.3": 131_072,
    "qwen2.5-coder": 32_768,
    "qwen3": 40_960,
    "qwen3-coder": 262_144,
    "deepseek-r1": 131_072,
    "mistral": 32_768,
    "mistral-nemo": 131_072,
    "devstral": 131_072,
    "gemma3": 131_072,
    "gpt-oss": 131_072,
    "phi4": 16_384,
}

_BY_ID: Dict[str, ModelInfo] = {m.id: m for m in _CLAUDE + _OPENAI}


def known_models() -> Tuple[ModelInfo, ...]:
    return _CLAUDE + _OPENAI


def lookup(model: str, provider: Optional[str] = None) -> ModelInfo:
    """The registry entry for a wire model id (aliases resolved by the caller), or sensible defaults.

    ``provider`` is the provider already chosen from a prefix (``ollama``/``local`` make any model free).
    """
    if provider == "bedrock":  # Bedrock ids and inference profiles name Anthropic models
        from claw.api.bedrock_models import lookup_bedrock

        return lookup_bedrock(model)
    if provider == "vertex":
        return replace(lookup(anthropic_model_id(model), "anthropic"), id=model, provider="vertex")
    name = _CLAUDE_ALIASES.get(model, model)
    info = _BY_ID.get(name)
    if info is not None and (provider is None or provider == info.provider):
        if name != model:
            return replace(info, id=model)
        return info
    if info is None and provider in (None, "openai", "xai"):
        # Dated snapshots: gpt-4o-2024-08-06, claude-sonnet-4-5-20250929 handled above.
        base = _strip_date(model)
        if base != model and base in _BY_ID:
            b = _BY_ID[base]
            return replace(b, id=model)
    guessed = provider or guess_provider(model)
    if guessed in ("ollama", "local"):
        base = model.split(":", 1)[0].rsplit("/", 1)[-1]
        window = _LOCAL.get(base)
        return ModelInfo(model, guessed, model, window, UNKNOWN_MAX_OUTPUT, UNKNOWN_MAX_OUTPUT, FREE,
                         known=window is not None)
    if info is not None:  # a known model reached through another provider (e.g. a gateway): its limits
        return replace(info, id=model, provider=guessed)
    max_out = UNKNOWN_CLAUDE_MAX_OUTPUT if model.startswith("claude-") else UNKNOWN_MAX_OUTPUT
    return ModelInfo(model, guessed, model, None, max_out, max_out, None, known=False)


# Google Vertex AI names a dated Claude model with "@" before the date (claude-sonnet-4-5@20250929,
# claude-opus-4@20250514, claude-3-5-haiku@20241022); undated models keep their names (claude-opus-4-6).
# Source: platform.claude.com/docs/en/build-with-claude/claude-on-vertex-ai (model id table).
def vertex_model_id(model: str) -> str:
    """The Vertex AI id of an Anthropic model id or alias (``claude-sonnet-4-5`` -> ``claude-sonnet-4-5@20250929``)."""
    name = _CLAUDE_ALIASES.get(model, model)
    base, _, date = name.rpartition("-")
    if "@" not in name and base.startswith("claude") and len(date) == 8 and date.isdigit():
        return f"{base}@{date}"
    return name


def anthropic_model_id(model: str) -> str:
    """The Anthropic id of a Vertex AI model id (the inverse of ``vertex_model_id``)."""
    return model.replace("@", "-", 1)


def guess_provider(model: str) -> str:
    """The provider an unprefixed model name most likely belongs to (anthropic when unsure)."""
    m = model.lower()
    if m.startswith(("gpt-", "o1", "o3", "o4", "chatgpt-")):
        return "openai"
    if m.startswith("grok"):
        return "xai"
    return "anthropic"


def cost_usd(model: str, usage: Usage, provider: Optional[str] = None) -> Optional[float]:
    return lookup(model, provider).cost_usd(usage)


def _strip_date(model: str) -> str:
    parts = model.split("-")
    # gpt-4o-2024-08-06 -> gpt-4o ; claude-x-20250101 -> claude-x
    if len(parts) >= 4 and all(p.isdigit() for p in parts[-3:]) and len(parts[-3]) == 4:
        return "-".join(parts[:-3])
    if len(parts) >= 2 and parts[-1].isdigit() and len(parts[-1]) == 8:
        return "-".join(parts[:-1])
    return model
