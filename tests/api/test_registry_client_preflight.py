"""Model registry, model-string resolution, provider construction and the local preflight (no network)."""

from __future__ import annotations

import pytest

from claw.api.client import ApiSettings, create_provider, ollama_base_url, resolve_model
from claw.api.preflight import BINARY_BLOCK_TOKENS, TokenEstimate, check, estimate, estimate_tokens
from claw.api.registry import FAMILY_ALIASES, known_models, lookup
from claw.api.types import Usage
from claw.errors import ConfigError, ProviderError, UsageError


def test_every_known_model_has_its_own_figures():
    ids = set()
    for m in known_models():
        assert m.id not in ids
        ids.add(m.id)
        assert m.context_window and m.context_window >= 100_000
        assert 0 < m.default_max_tokens <= m.max_output_tokens
        p = m.pricing
        assert p is not None and p.output > p.input > 0 and p.cache_read < p.input
        assert m.provider in ("anthropic", "openai", "xai")


def test_claude_prices_and_limits():
    opus41 = lookup("claude-opus-4-1")
    assert (opus41.pricing.input, opus41.pricing.output, opus41.pricing.cache_write, opus41.pricing.cache_read) \
        == (15.0, 75.0, 18.75, 1.50)
    assert opus41.context_window == 200_000 and opus41.max_output_tokens == 32_000
    sonnet45 = lookup("claude-sonnet-4-5-20250929")
    assert (sonnet45.pricing.input, sonnet45.pricing.output) == (3.0, 15.0)
    haiku45 = lookup("claude-haiku-4-5")
    assert haiku45.id == "claude-haiku-4-5" and haiku45.pricing.input == 1.0 and haiku45.max_output_tokens == 64_000
    assert lookup("claude-opus-4-5").pricing.input == 5.0


def test_cost_is_per_model_and_unknown_is_none():
    u = Usage(input_tokens=1_000_000, output_tokens=1_000_000, cache_creation_input_tokens=1_000_000,
              cache_read_input_tokens=1_000_000)
    assert lookup("claude-sonnet-4-5").cost_usd(u) == pytest.approx(3 + 15 + 3.75 + 0.30)
    assert lookup("gpt-4o").cost_usd(u) == pytest.approx(2.5 + 10 + 2.5 + 1.25)
    unknown = lookup("my-private-model")
    assert unknown.pricing is None and unknown.cost_usd(u) is None and not unknown.known
    assert unknown.context_window is None  # preflight skipped, server decides
    assert lookup("llama3.3", "ollama").cost_usd(u) == 0.0


def test_long_prompt_pricing_band():
    h = lookup("claude-haiku-5-5")
    small = Usage(input_tokens=50_000, output_tokens=1_000)
    big = Usage(input_tokens=50_000, output_tokens=1_000, cache_read_input_tokens=60_000)
    assert h.cost_usd(small) == pytest.approx((50_000 * 0.10 + 1_000 * 0.50) / 1e6)
    assert h.cost_usd(big) == pytest.approx((50_000 * 0.50 + 1_000 * 2.50 + 60_000 * 0.05) / 1e6)


def test_dated_snapshots_resolve_to_their_base():
    assert lookup("gpt-4o-2024-08-06").pricing == lookup("gpt-4o").pricing
    assert lookup("claude-sonnet-4-5").context_window == 200_000


@pytest.mark.parametrize("name,provider,model", [
    ("opus", "anthropic", FAMILY_ALIASES["opus"]),
    ("sonnet", "anthropic", FAMILY_ALIASES["sonnet"]),
    ("haiku", "anthropic", FAMILY_ALIASES["haiku"]),
    ("anthropic/haiku", "anthropic", FAMILY_ALIASES["haiku"]),
    ("claude-opus-4-1", "anthropic", "claude-opus-4-1"),
    ("openai/gpt-5", "openai", "gpt-5"),
    ("gpt-4.1", "openai", "gpt-4.1"),
    ("o4-mini", "openai", "o4-mini"),
    ("xai/grok-4", "xai", "grok-4"),
    ("grok-code-fast-1", "xai", "grok-code-fast-1"),
    ("ollama/llama3.1:8b", "ollama", "llama3.1:8b"),
    ("local/Qwen/Qwen3-Coder-30B", "local", "Qwen/Qwen3-Coder-30B"),
    ("some-gateway-model", "anthropic", "some-gateway-model"),
    ("", "anthropic", FAMILY_ALIASES["sonnet"]),
])
def test_resolve_model(name, provider, model):
    r = resolve_model(name, {})
    assert (r.provider, r.model) == (provider, model)
    assert r.info.id == model


def test_alias_overrides_from_env_and_settings():
    env = {"ANTHROPIC_DEFAULT_OPUS_MODEL": "claude-opus-4-1-20250805"}
    assert resolve_model("opus", env).model == "claude-opus-4-1-20250805"
    r = resolve_model("fast", {}, aliases={"fast": "cheap", "cheap": "openai/gpt-5-mini"})
    assert (r.provider, r.model) == ("openai", "gpt-5-mini")
    assert resolve_model("loop", {}, aliases={"loop": "loop"}).model == "loop"  # no infinite loop
    with pytest.raises(UsageError):
        resolve_model("openai/", {})


def test_create_provider_routes_and_credentials():
    env = {"ANTHROPIC_API_KEY": "k"}
    p = create_provider("haiku", env=env)
    assert p.name == "anthropic" and p.endpoint() == "https://api.anthropic.com/v1/messages"
    p = create_provider("xai/grok-4", env={"XAI_API_KEY": "x"})
    assert p.endpoint() == "https://api.x.ai/v1/chat/completions" and p.label == "xAI"
    with pytest.raises(ProviderError) as info:
        create_provider("xai/grok-4", env={})
    assert info.value.kind == "missing_credentials" and "XAI_API_KEY" in info.value.message
    with pytest.raises(ConfigError) as cinfo:
        create_provider("local/foo", env={})
    assert "OPENAI_BASE_URL" in cinfo.value.message
    with pytest.raises(ConfigError):
        create_provider("sonnet", env={"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "ftp://nope"})
    with pytest.raises(ConfigError):
        create_provider("sonnet", env={"ANTHROPIC_API_KEY": "k", "CLAW_API_TIMEOUT": "soon"})


@pytest.mark.parametrize("host,expected", [
    ("", "http://127.0.0.1:11434/v1"),
    ("0.0.0.0", "http://127.0.0.1:11434/v1"),
    ("gpu-box", "http://gpu-box:11434/v1"),
    ("gpu-box:8080", "http://gpu-box:8080/v1"),
    ("https://ollama.internal", "https://ollama.internal:443/v1"),
    ("http://[::1]:9999/", "http://[::1]:9999/v1"),
    ("http://host:1/v1", "http://host:1/v1"),
])
def test_ollama_host_forms(host, expected):
    assert ollama_base_url(host) == expected


def test_api_settings_from_env():
    s = ApiSettings.from_env({"CLAW_API_TIMEOUT": "30", "CLAW_MAX_RETRIES": "2"})
    assert (s.api_timeout, s.max_retries) == (30.0, 2)
    assert ApiSettings.from_env({"CLAW_MAX_RETRIES": "2"}, max_retries=4, timeout=5).max_retries == 4


# -- preflight ------------------------------------------------------------------------------------


def test_estimate_is_bytes_over_four_with_fixed_binary_charge():
    text = "z" * 40_000
    payload = {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}
    assert 10_000 <= estimate_tokens(payload) <= 10_030
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 4_000_000}}
    with_image = {"messages": [{"role": "user", "content": [image]}]}
    assert BINARY_BLOCK_TOKENS <= estimate_tokens(with_image) < BINARY_BLOCK_TOKENS + 100
    import json

    body = json.dumps(with_image).encode()
    assert estimate(with_image, max_tokens=1, context_window=10, body=body).input_tokens < BINARY_BLOCK_TOKENS + 100


def test_check_refuses_overflow_and_oversize():
    check(TokenEstimate(100, 50, 200, 10), model="m")
    check(TokenEstimate(10**9, 50, None, 10), model="m")  # unknown window: not checked
    with pytest.raises(ProviderError) as info:
        check(TokenEstimate(190_000, 32_000, 200_000, 10), model="claude-x")
    err = info.value
    assert err.kind == "context_window" and err.failure_class == "context_window"
    assert "nothing was sent" in err.message and "/compact" in err.hint
    with pytest.raises(ProviderError) as info:
        check(TokenEstimate(1, 1, None, 40 * 1024 * 1024), model="m")
    assert info.value.failure_class == "request_size"


def test_max_tokens_default_and_clamp():
    from claw.api.types import ModelRequest

    p = create_provider("claude-opus-4-1", env={"ANTHROPIC_API_KEY": "k"})
    msgs = [{"role": "user", "content": "x"}]
    assert p.max_tokens_for(ModelRequest(model="m", messages=msgs)) == 32_000
    assert p.max_tokens_for(ModelRequest(model="m", messages=msgs, max_tokens=100_000)) == 32_000
    assert p.max_tokens_for(ModelRequest(model="m", messages=msgs, max_tokens=500)) == 500
    unknown = create_provider("gateway-model", env={"ANTHROPIC_API_KEY": "k"})
    assert unknown.max_tokens_for(ModelRequest(model="m", messages=msgs)) == 8_192
    assert unknown.max_tokens_for(ModelRequest(model="m", messages=msgs, max_tokens=100_000)) == 100_000
