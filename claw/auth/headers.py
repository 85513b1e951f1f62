"""How credentials become request headers: the ``AuthSource`` abstraction every provider uses.

An ``AuthSource`` turns into request headers and may be refreshable:
  - ``ApiKeyAuth``: ANTHROPIC_API_KEY -> ``x-api-key``;
  - ``BearerAuth``: ANTHROPIC_AUTH_TOKEN (or OPENAI_API_KEY / XAI_API_KEY) -> ``Authorization: Bearer``;
  - ``OAuthAuth``: a bearer token from an ``OAuthTokenSource`` (the saved login of claw.auth.refresh
    implements that Protocol) plus the ``anthropic-beta: oauth-2025-04-20`` flag; on a 401 the
    provider calls ``refresh()`` once and retries;
  - ``CombinedAuth``: several at once (both ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN set: both
    headers are sent);
  - ``NoAuth``: a local server that needs no key.
``bearer_or_none`` is the whole rule of the OpenAI-compatible providers; ``missing_credentials`` is the
classified error when a provider has nothing to send. Secrets never appear in reprs: ``describe()``
names the source (the variable), never the value.

Deliberately not here: which Anthropic credentials win (claw.auth.sources, the one place that
precedence is written), reading settings or credential files, any I/O.
"""

from __future__ import annotations

from typing import List, Mapping, Protocol, Sequence, Tuple

from claw.errors import ProviderError

Header = Tuple[str, str]
OAUTH_BETA = "oauth-2025-04-20"


class OAuthTokenSource(Protocol):
    """What the credential store (OAuth issue) must provide.

    ``get_token`` returns a currently valid access token — refreshing it first when it is expired or
    about to expire, never returning an expired one — or raises a ClawError (kind
    ``missing_credentials``/``oauth_expired``, failure_class ``provider_auth``) telling the user to run
    ``claw login``. ``refresh`` forces a refresh (the server rejected the token) and returns the new one.
    Both may do network I/O through claw.net, hence async.
    """

    async def get_token(self) -> str: ...

    async def refresh(self) -> str: ...


class AuthSource:
    """Base: headers for one request, and an optional refresh after a 401."""

    def describe(self) -> str:
        raise NotImplementedError

    async def headers(self) -> List[Header]:
        raise NotImplementedError

    @property
    def refreshable(self) -> bool:
        return False

    async def refresh(self) -> bool:
        """Try to get fresh credentials; True when the request is worth sending again."""
        return False

    def betas(self) -> Sequence[str]:
        return ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


class NoAuth(AuthSource):
    """A local server that needs no key."""

    def describe(self) -> str:
        return "no credentials"

    async def headers(self) -> List[Header]:
        return []


class ApiKeyAuth(AuthSource):
    def __init__(self, key: str, source: str = "ANTHROPIC_API_KEY", header: str = "x-api-key") -> None:
        self._key = key
        self.source = source
        self.header = header

    def describe(self) -> str:
        return f"{self.header} from {self.source}"

    async def headers(self) -> List[Header]:
        return [(self.header, self._key)]


class BearerAuth(AuthSource):
    def __init__(self, token: str, source: str = "ANTHROPIC_AUTH_TOKEN") -> None:
        self._token = token
        self.source = source

    def describe(self) -> str:
        return f"bearer token from {self.source}"

    async def headers(self) -> List[Header]:
        return [("authorization", f"Bearer {self._token}")]


class OAuthAuth(AuthSource):
    def __init__(self, tokens: OAuthTokenSource, source: str = "saved login") -> None:
        self._tokens = tokens
        self.source = source

    def describe(self) -> str:
        return f"OAuth bearer token from {self.source}"

    async def headers(self) -> List[Header]:
        token = await self._tokens.get_token()
        return [("authorization", f"Bearer {token}")]

    @property
    def refreshable(self) -> bool:
        return True

    async def refresh(self) -> bool:
        # The provider calls this at most once per request: a second 401 is a real failure.
        await self._tokens.refresh()
        return True

    def betas(self) -> Sequence[str]:
        return (OAUTH_BETA,)


class CombinedAuth(AuthSource):
    def __init__(self, sources: Sequence[AuthSource]) -> None:
        self.sources = list(sources)

    def describe(self) -> str:
        return " + ".join(s.describe() for s in self.sources)

    async def headers(self) -> List[Header]:
        out: List[Header] = []
        for s in self.sources:
            out.extend(await s.headers())
        return out

    @property
    def refreshable(self) -> bool:
        return any(s.refreshable for s in self.sources)

    async def refresh(self) -> bool:
        done = False
        for s in self.sources:
            if s.refreshable:
                done = await s.refresh() or done
        return done

    def betas(self) -> Sequence[str]:
        return tuple(b for s in self.sources for b in s.betas())



def bearer_or_none(env: Mapping[str, str], variable: str, *, required: bool, provider: str) -> AuthSource:
    """OpenAI-compatible providers: ``Authorization: Bearer $VARIABLE``; no key is fine for local servers."""
    key = (env.get(variable) or "").strip()
    if key:
        return BearerAuth(key, variable)
    if required:
        raise missing_credentials(env, provider=provider)
    return NoAuth()


def missing_credentials(env: Mapping[str, str], *, provider: str = "anthropic") -> ProviderError:
    """No credentials for the chosen provider: exit 1, kind missing_credentials, class provider_auth."""
    if provider == "anthropic":
        message = "no Anthropic credentials: ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN are unset and no saved login"
        hint = "set ANTHROPIC_API_KEY (x-api-key) or ANTHROPIC_AUTH_TOKEN (bearer), or run `claw login`"
        others = []
        if env.get("OPENAI_API_KEY"):
            others.append("OPENAI_API_KEY is set: use --model openai/<model> (e.g. openai/gpt-5)")
        if env.get("XAI_API_KEY"):
            others.append("XAI_API_KEY is set: use --model xai/<model> (e.g. xai/grok-4)")
        if env.get("OPENAI_BASE_URL") and not env.get("OPENAI_API_KEY"):
            others.append("OPENAI_BASE_URL is set: for a local OpenAI-compatible server use "
                          "--model local/<model> (no key needed)")
        if env.get("OLLAMA_HOST"):
            others.append("OLLAMA_HOST is set: use --model ollama/<model>")
        if others:
            hint += "; " + "; ".join(others)
    elif provider == "xai":
        message = "no xAI credentials: XAI_API_KEY is unset"
        hint = "set XAI_API_KEY, or choose another provider with --model"
    else:
        message = f"no {provider} credentials: OPENAI_API_KEY is unset"
        hint = (
            "set OPENAI_API_KEY, or point OPENAI_BASE_URL at a local OpenAI-compatible server "
            "(then no key is needed), or use --model ollama/<model>"
        )
    return ProviderError(message, hint=hint, kind="missing_credentials", failure_class="provider_auth",
                         retryable=False)
