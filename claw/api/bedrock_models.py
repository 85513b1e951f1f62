"""Model names on Amazon Bedrock: aliases, Anthropic ids and inference profiles to Bedrock model ids.

With Bedrock chosen (``CLAUDE_CODE_USE_BEDROCK=1``, or a ``bedrock/`` prefix) a model string becomes a
Bedrock model id:
  - ``opus`` / ``sonnet`` / ``haiku`` -> ANTHROPIC_DEFAULT_OPUS_MODEL / _SONNET_ / _HAIKU_MODEL (haiku also
    ANTHROPIC_SMALL_FAST_MODEL, Claude Code's older name), else the Bedrock defaults below (the models
    Claude Code uses on Bedrock) as a cross-region inference profile of the region's geography;
  - an Anthropic id claw knows (``claude-sonnet-4-5``, ``claude-opus-4-6``) -> its Bedrock id under the
    same profile prefix;
  - anything else (a Bedrock model id ``anthropic.claude-...-v1:0``, an inference profile id with a
    ``us.``/``eu.``/``apac.``/``jp.``/``au.``/``global.`` prefix, an inference profile or
    provisioned-throughput ARN) is sent as written.
Registry data (window, output limit, prices, thinking) come from the Anthropic model the Bedrock id names
(``[prefix.]anthropic.<model>[-vN[:M]]``); prices are Anthropic's list prices.

Model ids are from Anthropic's Bedrock model table (platform.claude.com, "Claude on Amazon Bedrock",
read 2026-12-07). Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Mapping, Optional

# Anthropic id in claw's registry -> the base Bedrock model id
BEDROCK_IDS = {
    "claude-opus-4-6": "anthropic.claude-opus-4-6-v1",
    "claude-sonnet-4-6": "anthropic.claude-sonnet-4-6",
    "claude-sonnet-4-5-20250929": "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "claude-opus-4-5-20251101": "anthropic.claude-opus-4-5-20251101-v1:0",
    "claude-opus-4-1-20250805": "anthropic.claude-opus-4-1-20250805-v1:0",
    "claude-opus-4-20250514": "anthropic.claude-opus-4-20250514-v1:0",
    "claude-sonnet-4-20250514": "anthropic.claude-sonnet-4-20250514-v1:0",
    "claude-haiku-4-5-20251001": "anthropic.claude-haiku-4-5-20251001-v1:0",
    "claude-3-7-sonnet-20250219": "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "claude-3-5-haiku-20241022": "anthropic.claude-3-5-haiku-20241022-v1:0",
}

# What the aliases mean on Bedrock (Claude Code's Bedrock defaults)
BEDROCK_FAMILY = {
    "opus": "claude-opus-4-6",
    "sonnet": "claude-sonnet-4-5-20250929",
    "haiku": "claude-haiku-4-5-20251001",
}

PROFILE_PREFIXES = ("us", "eu", "apac", "jp", "au", "ca", "us-gov", "global")
_ALIAS_ENV = {
    "opus": ("ANTHROPIC_DEFAULT_OPUS_MODEL",),
    "sonnet": ("ANTHROPIC_DEFAULT_SONNET_MODEL",),
    "haiku": ("ANTHROPIC_DEFAULT_HAIKU_MODEL", "ANTHROPIC_SMALL_FAST_MODEL"),
}
_BEDROCK_SHAPE = re.compile(r"^(?:(?P<prefix>[a-z-]+)\.)?anthropic\.(?P<model>claude-[a-z0-9.-]+?)(?:-v\d+(?::\d+)?)?$")


def profile_prefix(region: str) -> str:
    """The cross-region inference profile prefix for a region: ``us.`` in the US, ``eu.`` in Europe,
    ``global.`` elsewhere."""
    region = region.lower()
    if region.startswith("us-gov-"):
        return "us-gov."
    if region.startswith(("us-", "ca-")):
        return "us."
    if region.startswith("eu-"):
        return "eu."
    return "global."


def bedrock_model_id(name: str, env: Mapping[str, str], region: str) -> str:
    """The Bedrock id for a model string (see the module docstring)."""
    from claw.api.registry import _CLAUDE_ALIASES  # the undated Anthropic names

    text = name.strip()
    family = text.lower()
    if family in BEDROCK_FAMILY:
        for var in _ALIAS_ENV[family]:
            value = (env.get(var) or "").strip()
            if value:
                return bedrock_model_id(value, env, region) if value.lower() not in BEDROCK_FAMILY else value
        text = BEDROCK_FAMILY[family]
    anthropic_id = _CLAUDE_ALIASES.get(text, text)
    if anthropic_id in BEDROCK_IDS:
        return profile_prefix(region) + BEDROCK_IDS[anthropic_id]
    return text


def anthropic_model_of(bedrock_id: str) -> Optional[str]:
    """The Anthropic model a Bedrock id or inference profile id names (``us.anthropic.claude-x-v1:0`` ->
    ``claude-x``); None for an ARN or another vendor's model."""
    for base_anthropic, base_bedrock in BEDROCK_IDS.items():
        if bedrock_id == base_bedrock or bedrock_id.endswith("." + base_bedrock):
            return base_anthropic
    match = _BEDROCK_SHAPE.match(bedrock_id)
    if match is None:
        return None
    prefix = match.group("prefix")
    if prefix is not None and prefix not in PROFILE_PREFIXES:
        return None
    return match.group("model")


def lookup_bedrock(model: str):  # -> ModelInfo
    """Registry data for a Bedrock id: the Anthropic model's, with this id and provider ``bedrock``."""
    from claw.api.registry import _BY_ID, _CLAUDE_ALIASES, ModelInfo, UNKNOWN_CLAUDE_MAX_OUTPUT

    base = anthropic_model_of(model)
    if base is not None:
        info = _BY_ID.get(_CLAUDE_ALIASES.get(base, base))
        if info is not None:
            return replace(info, id=model, provider="bedrock")
    return ModelInfo(model, "bedrock", model, None, UNKNOWN_CLAUDE_MAX_OUTPUT, UNKNOWN_CLAUDE_MAX_OUTPUT, None,
                     known=False)
