"""Choose and build the provider for a model string and an environment.

Model strings (``--model``, ANTHROPIC_MODEL/CLAW_MODEL, settings ``model``):
  - aliases ``opus``, ``sonnet``, ``haiku`` -> the newest model of the family (claw.api.registry), or
    ANTHROPIC_DEFAULT_OPUS_MODEL / ANTHROPIC_DEFAULT_SONNET_MODEL / ANTHROPIC_DEFAULT_HAIKU_MODEL;
  - user aliases from settings ``aliases`` (``{"fast": "openai/gpt-5-mini"}``) are applied first;
  - provider prefixes: ``anthropic/``, ``openai/``, ``xai/``, ``ollama/``, ``local/``;
  - an unprefixed name goes by its look: ``claude-*`` Anthropic, ``gpt-*``/``o3``/``o4-*`` OpenAI,
    ``grok-*`` xAI, anything else Anthropic (gateways behind ANTHROPIC_BASE_URL serve other names).

Endpoints and credentials:
  anthropic  ANTHROPIC_BASE_URL (default https://api.anthropic.com); ANTHROPIC_API_KEY and/or
             ANTHROPIC_AUTH_TOKEN, else the saved OAuth login, else ``missing_credentials``
  openai     OPENAI_BASE_URL (default https://api.openai.com/v1); OPENAI_API_KEY (required only for
             the official endpoint)
  xai        https://api.x.ai/v1; XAI_API_KEY (required)
  ollama     OLLAMA_HOST (default 127.0.0.1:11434) + /v1; no key
  local      OPENAI_BASE_URL (required); OPENAI_API_KEY if set
  bedrock    CLAUDE_CODE_USE_BEDROCK=1 or a ``bedrock/`` prefix: claw.api.bedrock (AWS credentials, region,
             ANTHROPIC_BEDROCK_BASE_URL) with model names from claw.api.bedrock_models
  vertex     CLAUDE_CODE_USE_VERTEX=1 sends Claude models (unprefixed names and aliases) to Google
             Vertex AI, as does a ``vertex/`` prefix; project, region, endpoint and Google credentials
             in claw.api.vertex and claw.auth.gcp_auth
Timeouts and retries: CLAW_API_TIMEOUT (seconds, default 600) bounds a non-streamed request;
CLAW_STREAM_IDLE_TIMEOUT (seconds, default 90; read by claw.net.config) aborts a silent stream;
CLAW_MAX_RETRIES (default 8). Explicit arguments (from settings ``network.timeout``/``maxRetries``)
win over the environment.
Prompt caching (Anthropic): on unless DISABLE_PROMPT_CACHING=1 or settings ``promptCaching: false``.
Extra headers: ANTHROPIC_CUSTOM_HEADERS, ANTHROPIC_BETAS and settings ``customHeaders``
(claw.api.request_headers).

Nothing is sent here: building a provider opens no connection.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Tuple

from claw.auth.headers import AuthSource, OAuthTokenSource, bearer_or_none
from claw.api.provider import DEFAULT_API_TIMEOUT, Provider
from claw.api.registry import (DEFAULT_MODEL, FAMILY_ALIASES, PROVIDERS, ModelInfo, guess_provider, lookup,
                               vertex_model_id)
from claw.api.retry import RetryPolicy, parse_seconds_env
from claw.errors import ConfigError, UsageError

_ALIAS_ENV = {
    "opus": "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "sonnet": "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "haiku": "ANTHROPIC_DEFAULT_HAIKU_MODEL",
}


@dataclass(frozen=True)
class ResolvedModel:
    """A model name as the user wrote it, resolved to a provider, its wire id and registry entry."""

    requested: str  # what the user wrote
    provider: str  # one of PROVIDERS
    model: str  # the id sent on the wire
    info: ModelInfo

    @property
    def qualified(self) -> str:
        """``provider/model``, e.g. for status lines."""
        return f"{self.provider}/{self.model}"


def resolve_model(name: Optional[str], env: Optional[Mapping[str, str]] = None, *,
                  aliases: Optional[Mapping[str, str]] = None) -> ResolvedModel:
    env = os.environ if env is None else env
    requested = (name or "").strip() or DEFAULT_MODEL
    current = requested
    seen = set()
    while aliases and current in aliases and current not in seen:
        seen.add(current)
        current = str(aliases[current]).strip()
    provider: Optional[str] = None
    model = current
    head, sep, rest = current.partition("/")
    if sep and head.lower() in PROVIDERS:
        provider, model = head.lower(), rest.strip()
        if not model:
            raise UsageError(f"model {requested!r} names a provider but no model",
                             hint=f"write e.g. {head}/<model-name>")
    if provider == "bedrock" or (provider is None and _use_bedrock(env)):  # Amazon Bedrock (claw.api.bedrock)
        from claw.api.bedrock_models import bedrock_model_id, lookup_bedrock
        from claw.auth.aws import region_of

        model = bedrock_model_id(model, env, region_of(env)[0])
        return ResolvedModel(requested, "bedrock", model, lookup_bedrock(model))
    if provider in (None, "anthropic", "vertex") and model.lower() in FAMILY_ALIASES:
        family = model.lower()
        model = (env.get(_ALIAS_ENV[family]) or "").strip() or FAMILY_ALIASES[family]
    if provider is None:
        provider = guess_provider(model)
        if provider == "anthropic" and _on_vertex(env):  # CLAUDE_CODE_USE_VERTEX=1: Claude via Vertex AI
            provider = "vertex"
    if provider == "vertex":
        model = vertex_model_id(model)
    return ResolvedModel(requested, provider, model, lookup(model, provider))


def _use_bedrock(env: Mapping[str, str]) -> bool:
    return (env.get("CLAUDE_CODE_USE_BEDROCK") or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ApiSettings:
    """Timeouts, retry limits, prompt caching and extra headers of model requests (from settings and the
    environment)."""

    api_timeout: float = DEFAULT_API_TIMEOUT
    idle_timeout: Optional[float] = None  # None: NetConfig.read_timeout (CLAW_STREAM_IDLE_TIMEOUT)
    max_retries: int = 8
    prompt_caching: bool = True  # off: DISABLE_PROMPT_CACHING=1 or settings promptCaching: false
    anthropic_headers: Tuple[Tuple[str, str], ...] = ()  # ANTHROPIC_CUSTOM_HEADERS over customHeaders
    common_headers: Tuple[Tuple[str, str], ...] = ()  # settings customHeaders: every provider
    betas: Tuple[str, ...] = ()  # ANTHROPIC_BETAS

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None, *, timeout: Optional[float] = None,
                 idle_timeout: Optional[float] = None, max_retries: Optional[int] = None,
                 prompt_caching: Optional[bool] = None,
                 custom_headers: Optional[Mapping[str, str]] = None) -> "ApiSettings":
        """``prompt_caching`` / ``custom_headers``: settings ``promptCaching`` / ``customHeaders``.
        Raises ConfigError for a header claw refuses to send (claw.api.request_headers)."""
        from claw.api.caching import caching_disabled
        from claw.api import request_headers as rh

        env = os.environ if env is None else env
        if timeout is None:
            timeout = parse_seconds_env(env, "CLAW_API_TIMEOUT", DEFAULT_API_TIMEOUT)
        policy = RetryPolicy.from_env(env, max_retries=max_retries)
        from_settings = rh.parse_header_map(custom_headers) if custom_headers else []
        from_env = rh.parse_header_lines(env.get("ANTHROPIC_CUSTOM_HEADERS") or "")
        anthropic = rh.combine(from_env, from_settings)
        return cls(api_timeout=float(timeout), idle_timeout=idle_timeout, max_retries=policy.max_retries,
                   prompt_caching=prompt_caching is not False and not caching_disabled(env),
                   anthropic_headers=anthropic, common_headers=tuple(from_settings),
                   betas=rh.parse_betas(env.get("ANTHROPIC_BETAS") or ""))

    def secrets(self) -> List[str]:
        """Header values that look like credentials: the run's redactor hides them everywhere."""
        from claw.api.request_headers import secret_values

        return list(dict.fromkeys(secret_values(self.anthropic_headers + self.common_headers)))


def create_provider(
    model: Optional[str] = None,
    *,
    env: Optional[Mapping[str, str]] = None,
    net_config: Any = None,
    http: Any = None,
    oauth: Optional[OAuthTokenSource] = None,
    auth: Optional[AuthSource] = None,
    aliases: Optional[Mapping[str, str]] = None,
    settings: Optional[ApiSettings] = None,
    retry: Optional[RetryPolicy] = None,
) -> Provider:
    """The provider for ``model`` (an alias, a prefixed or a plain name).

    Raises ``ProviderError(kind="missing_credentials")`` when the provider needs a key that is not
    there, ``ConfigError`` for an unusable base URL, ``UsageError`` for a malformed model string.
    ``net_config``: a ``claw.net.config.NetConfig`` (default: ``NetConfig.from_env(env)``);
    ``http``: a shared ``claw.net.http.HttpClient`` (the provider then does not close it).
    Anthropic credentials: ``auth`` (a ready AuthSource, e.g. claw.auth.sources.anthropic_auth_for,
    which adds apiKeyHelper and the saved login) wins; otherwise ANTHROPIC_API_KEY /
    ANTHROPIC_AUTH_TOKEN from ``env``, then ``oauth``, in claw.auth.sources' order.
    For the OpenAI-compatible providers ``auth`` replaces the key from the environment.
    """
    env = os.environ if env is None else env
    resolved = resolve_model(model, env, aliases=aliases)
    settings = settings or ApiSettings.from_env(env)
    retry = retry or RetryPolicy(max_retries=settings.max_retries)
    if net_config is None and http is None:
        from claw.net.config import NetConfig  # cheap: no ssl until the first TLS connection

        net_config = NetConfig.from_env(env)
    common = dict(model=resolved.info, net_config=net_config, http=http, retry=retry,
                  api_timeout=settings.api_timeout, idle_timeout=settings.idle_timeout)
    p = resolved.provider
    if p == "bedrock":
        from claw.api.bedrock import create_bedrock_provider

        provider = create_bedrock_provider(env, auth=auth, **common)
        provider.prompt_caching = settings.prompt_caching
        provider.extra_headers, provider.extra_betas = settings.anthropic_headers, settings.betas
        return provider
    if p == "anthropic":
        from claw.api.anthropic import DEFAULT_BASE_URL, AnthropicProvider

        base = _base_url(env, "ANTHROPIC_BASE_URL", DEFAULT_BASE_URL)
        if auth is None:
            from claw.auth.sources import anthropic_auth, oauth_login

            auth = anthropic_auth(env, login=oauth_login(oauth))
        provider: Provider = AnthropicProvider(base_url=base, auth=auth, **common)
        provider.prompt_caching = settings.prompt_caching
        provider.extra_headers, provider.extra_betas = settings.anthropic_headers, settings.betas
        return provider

    if p == "vertex":
        from claw.api.vertex import create_vertex_provider

        return create_vertex_provider(env, settings, auth=auth, **common)

    from claw.api.openai_compat import OPENAI_BASE_URL, XAI_BASE_URL, OpenAICompatProvider

    given = auth
    if p == "openai":
        base = _base_url(env, "OPENAI_BASE_URL", OPENAI_BASE_URL)
        required = base.rstrip("/") == OPENAI_BASE_URL and given is None
        auth = bearer_or_none(env, "OPENAI_API_KEY", required=required, provider="openai")
    elif p == "xai":
        base = _base_url(env, "XAI_BASE_URL", XAI_BASE_URL)
        auth = bearer_or_none(env, "XAI_API_KEY", required=given is None, provider="xai")
    elif p == "ollama":
        base = ollama_base_url(env.get("OLLAMA_HOST") or "")
        auth = bearer_or_none(env, "OLLAMA_API_KEY", required=False, provider="ollama")
    else:  # local
        if not (env.get("OPENAI_BASE_URL") or "").strip():
            raise ConfigError(
                f"model {resolved.requested!r} needs OPENAI_BASE_URL: the address of the local "
                "OpenAI-compatible server",
                hint="e.g. OPENAI_BASE_URL=http://127.0.0.1:8000/v1 (vLLM) or http://127.0.0.1:1234/v1 "
                     "(LM Studio); for Ollama use --model ollama/<model>",
            )
        base = _base_url(env, "OPENAI_BASE_URL", "")
        auth = bearer_or_none(env, "OPENAI_API_KEY", required=False, provider="local")
    provider = OpenAICompatProvider(provider=p, base_url=base, auth=given or auth, **common)
    provider.extra_headers = settings.common_headers
    return provider


def _on_vertex(env: Mapping[str, str]) -> bool:
    return (env.get("CLAUDE_CODE_USE_VERTEX") or "").strip().lower() in ("1", "true", "yes", "on")


def ollama_base_url(host: str) -> str:
    """OLLAMA_HOST as Ollama itself reads it (``host``, ``host:port``, ``scheme://host:port/path``;
    ``0.0.0.0`` means this machine; the port defaults to 11434 for http) + ``/v1``."""
    host = host.strip() or OLLAMA_DEFAULT
    if "://" not in host:
        host = "http://" + host
    scheme, rest = host.split("://", 1)
    netloc, _, path = rest.partition("/")
    if netloc.startswith("["):
        end = netloc.find("]")
        hostname = netloc[: end + 1]
        port = netloc[end + 2:] if netloc[end + 1: end + 2] == ":" else ""
    else:
        hostname, _, port = netloc.partition(":")
    if hostname in ("", "0.0.0.0"):
        hostname = "127.0.0.1"
    elif hostname == "[::]":
        hostname = "[::1]"
    if not port:
        port = "11434" if scheme == "http" else "443"
    base = f"{scheme}://{hostname}:{port}" + (f"/{path}" if path else "")
    base = base.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    _check_url(base, "OLLAMA_HOST")
    return base


OLLAMA_DEFAULT = "127.0.0.1:11434"


def _base_url(env: Mapping[str, str], name: str, default: str) -> str:
    raw = (env.get(name) or "").strip() or default
    base = raw.rstrip("/")
    _check_url(base, name)
    return base


def _check_url(url: str, name: str) -> None:
    from claw.net.url import parse_url

    try:
        parsed = parse_url(url)
    except ValueError as exc:
        raise ConfigError(f"{name} is not a usable URL: {exc}",
                          hint=f"set {name} to e.g. https://host[:port][/path]") from None
    if parsed.scheme not in ("http", "https"):
        raise ConfigError(f"{name} must be an http:// or https:// URL, not {parsed.scheme}://",
                          hint=f"set {name} to e.g. https://host[:port][/path]")
