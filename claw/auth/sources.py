"""Which Anthropic credentials a run uses, in the documented order, as a ``claw.auth.headers.AuthSource``.

Precedence (docs/AUTH.md):
  1. an API key, sent as ``x-api-key``: ``ANTHROPIC_API_KEY``, else the settings ``apiKeyHelper``
     (the helper runs only when the variable is unset, and only when a request is about to be sent);
  2. ``ANTHROPIC_AUTH_TOKEN``, sent as ``Authorization: Bearer`` — together with the key of step 1
     when both are set (both headers are sent, as the contract pins);
  3. only when neither 1 nor 2 gives anything: ``CLAUDE_CODE_OAUTH_TOKEN``, an OAuth access token sent as
     ``Authorization: Bearer`` with the OAuth beta flag (not refreshable: a bridge worker puts its
     session token there when the work secret says to use it for the model API); else the saved ``claw login`` in
     ``$CLAW_CONFIG_HOME/credentials.json`` (refreshed when about to expire, and once on a 401;
     a failed refresh says to run ``claw login``, never falls back to the stale token);
  4. nothing: the ``missing_credentials`` error (exit 1, failure_class ``provider_auth``).

The order is written once, in ``anthropic_precedence`` (names of the sources that are used);
``anthropic_auth`` turns those names into an AuthSource, ``describe_anthropic_auth`` into a status.
``anthropic_auth_for`` builds the AuthSource for a run (no I/O beyond reading credentials.json when
step 3 is reached); ``describe_anthropic_auth`` says what would be used, for ``claw whoami`` and
``claw status``, without running the helper or touching the network. ``HelperKeyAuth`` is the
AuthSource of an apiKeyHelper: it asks the helper (cached, see claw.auth.api_key_helper) per request
and runs it again when the server rejects the key.

Deliberately not here: printing, the login flow, reading settings files (callers pass ``Settings``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from claw.auth.headers import (OAUTH_BETA, ApiKeyAuth, AuthSource, BearerAuth, CombinedAuth, Header, OAuthAuth,
                               OAuthTokenSource, missing_credentials)
from claw.auth.api_key_helper import ApiKeyHelper, helper_from_settings

# The saved-login modules (credentials, oauth, refresh) are imported where a saved login is looked
# at: a run with an API key never needs them, and they are a few milliseconds of start-up.
if TYPE_CHECKING:
    from claw.auth.credentials import CredentialStore
    from claw.auth.oauth import OAuthConfig, TokenSet
    from claw.auth.refresh import SavedLogin


class HelperKeyAuth(AuthSource):
    """``x-api-key`` from the settings ``apiKeyHelper``; refreshable (runs the helper again)."""

    def __init__(self, helper: ApiKeyHelper) -> None:
        self.helper = helper
        self.source = "apiKeyHelper"

    def describe(self) -> str:
        return "x-api-key from apiKeyHelper"

    async def headers(self) -> List[Header]:
        import asyncio

        key = await asyncio.to_thread(self.helper.get)
        return [("x-api-key", key)]

    @property
    def refreshable(self) -> bool:
        return True

    async def refresh(self) -> bool:
        import asyncio

        await asyncio.to_thread(lambda: self.helper.get(force=True))
        return True


class OAuthBearerAuth(BearerAuth):
    """An OAuth access token given as is (``CLAUDE_CODE_OAUTH_TOKEN``): the bearer header and the OAuth
    beta flag; nothing to refresh it with."""

    def betas(self) -> Sequence[str]:
        return (OAUTH_BETA,)


def _env_value(env: Mapping[str, str], name: str) -> str:
    return (env.get(name) or "").strip()


def saved_login_for(settings: Any, env: Mapping[str, str], *, net_config: Any = None, cwd: Optional[str] = None,
                    store: Optional[CredentialStore] = None, config: Optional[OAuthConfig] = None,
                    http: Any = None) -> Optional[SavedLogin]:
    """The saved login as an ``OAuthTokenSource``, or None when credentials.json holds none.
    (Also usable as ``create_provider(..., oauth=...)``.)"""
    from claw.auth.credentials import CredentialStore
    from claw.auth.oauth import resolve_oauth_config
    from claw.auth.refresh import SavedLogin

    store = store or CredentialStore.for_env(env, cwd)
    if store.read_oauth() is None:
        return None
    config = config or resolve_oauth_config(getattr(settings, "oauth", None), env)
    return SavedLogin(store, config, net_config=net_config, http=http)


API_KEY, HELPER, AUTH_TOKEN, SAVED_LOGIN = "ANTHROPIC_API_KEY", "apiKeyHelper", "ANTHROPIC_AUTH_TOKEN", "saved login"
OAUTH_TOKEN = "CLAUDE_CODE_OAUTH_TOKEN"


def anthropic_precedence(env: Mapping[str, str], *, helper: bool, saved_login: Callable[[], bool]) -> Tuple[str, ...]:
    """The credential sources Anthropic requests use, in order (the rule of the module docstring):
    ANTHROPIC_API_KEY, else the apiKeyHelper (when ``helper``); plus ANTHROPIC_AUTH_TOKEN; only when
    neither gives anything, CLAUDE_CODE_OAUTH_TOKEN, else the saved login (``saved_login()`` is asked
    only then). Empty: nothing."""
    used: List[str] = []
    if _env_value(env, API_KEY):
        used.append(API_KEY)
    elif helper:
        used.append(HELPER)
    if _env_value(env, AUTH_TOKEN):
        used.append(AUTH_TOKEN)
    if not used and _env_value(env, OAUTH_TOKEN):
        used.append(OAUTH_TOKEN)
    if not used and saved_login():
        used.append(SAVED_LOGIN)
    return tuple(used)


def anthropic_auth(env: Mapping[str, str], *, helper: Optional[AuthSource] = None,
                   login: Optional[Callable[[], Optional[AuthSource]]] = None) -> AuthSource:
    """The AuthSource for Anthropic requests per ``anthropic_precedence``, or the classified
    ``missing_credentials`` error. ``helper``: the key of the settings apiKeyHelper (used when
    ANTHROPIC_API_KEY is unset); ``login``: builds the saved-login source, or None when there is none
    (called only when nothing else applies)."""
    found: List[AuthSource] = []

    def has_login() -> bool:
        source = login() if login is not None else None
        if source is not None:
            found.append(source)
        return source is not None

    names = anthropic_precedence(env, helper=helper is not None, saved_login=has_login)
    make: Dict[str, Callable[[], AuthSource]] = {
        API_KEY: lambda: ApiKeyAuth(_env_value(env, API_KEY), API_KEY),
        HELPER: lambda: helper,  # type: ignore[return-value,arg-type]
        AUTH_TOKEN: lambda: BearerAuth(_env_value(env, AUTH_TOKEN), AUTH_TOKEN),
        OAUTH_TOKEN: lambda: OAuthBearerAuth(_env_value(env, OAUTH_TOKEN), OAUTH_TOKEN),
        SAVED_LOGIN: lambda: found[0],
    }
    sources = [make[name]() for name in names]
    if len(sources) == 1:
        return sources[0]
    if sources:
        return CombinedAuth(sources)
    raise missing_credentials(env, provider="anthropic")


def anthropic_auth_for(settings: Any, env: Mapping[str, str], *, net_config: Any = None,
                       cwd: Optional[str] = None, store: Optional[CredentialStore] = None,
                       config: Optional[OAuthConfig] = None, helper_origin: Optional[str] = None,
                       http: Any = None) -> AuthSource:
    """The AuthSource for Anthropic requests, per the precedence above; raises the classified
    ``missing_credentials`` ProviderError when there is nothing to use. ``settings``: a
    ``claw.config.models.Settings`` (or None); ``env``: the effective environment."""
    cwd = cwd or os.getcwd()
    helper: Optional[AuthSource] = None
    if not _env_value(env, API_KEY):
        found = helper_from_settings(getattr(settings, "api_key_helper", None), cwd=cwd, env=env,
                                     origin=helper_origin)
        helper = HelperKeyAuth(found) if found is not None else None

    def login() -> Optional[AuthSource]:
        saved = saved_login_for(settings, env, net_config=net_config, cwd=cwd, store=store, config=config,
                                http=http)
        return None if saved is None else OAuthAuth(saved, source=f"saved login ({saved.store.path})")

    return anthropic_auth(env, helper=helper, login=login)


def oauth_login(tokens: Optional[OAuthTokenSource]) -> Callable[[], Optional[AuthSource]]:
    """``anthropic_auth``'s ``login`` for a token source given by a caller (or none)."""
    return lambda: None if tokens is None else OAuthAuth(tokens)


# -- describing, for whoami / status -------------------------------------------------------------------


@dataclass(frozen=True)
class AuthStatus:
    """What Anthropic requests would authenticate with. Holds no secret."""

    method: str  # "api_key" | "auth_token" | "api_key+auth_token" | "oauth" | "none"
    sources: Tuple[str, ...] = ()  # "ANTHROPIC_API_KEY", "apiKeyHelper", "ANTHROPIC_AUTH_TOKEN", "saved login"
    helper_command: Optional[str] = None
    helper_origin: Optional[str] = None
    credentials_path: str = ""
    oauth_expires_at: Optional[int] = None  # epoch ms
    oauth_expired: Optional[bool] = None
    oauth_refreshable: Optional[bool] = None
    oauth_scopes: Tuple[str, ...] = ()
    oauth_account: Optional[str] = None
    unused: Tuple[str, ...] = ()  # lower-precedence credentials that are present but not used
    problems: Tuple[str, ...] = field(default=())  # e.g. a credentials file that cannot be read

    @property
    def authenticated(self) -> bool:
        return self.method != "none"

    def to_json(self) -> dict:
        data: dict = {
            "authenticated": self.authenticated,
            "method": self.method,
            "sources": list(self.sources),
            "credentialsFile": self.credentials_path,
        }
        if self.helper_command is not None:
            data["apiKeyHelper"] = {"command": self.helper_command, "setIn": self.helper_origin}
        if self.method == "oauth" or self.oauth_expires_at is not None or self.oauth_account:
            data["oauth"] = {
                "expiresAt": self.oauth_expires_at,
                "expired": self.oauth_expired,
                "refreshable": self.oauth_refreshable,
                "scopes": list(self.oauth_scopes),
                "account": self.oauth_account,
            }
        if self.unused:
            data["unused"] = list(self.unused)
        if self.problems:
            data["problems"] = list(self.problems)
        return data


def describe_anthropic_auth(settings: Any, env: Mapping[str, str], *, cwd: Optional[str] = None,
                            store: Optional[CredentialStore] = None, helper_origin: Optional[str] = None,
                            now_ms: Optional[int] = None) -> AuthStatus:
    """The AuthStatus of this environment (no helper run, no network; credentials.json is read)."""
    from claw.auth.credentials import CredentialStore
    from claw.errors import ClawError

    store = store or CredentialStore.for_env(env, cwd)
    if now_ms is None:
        from claw.auth.exchange import now_ms as clock

        now_ms = clock()
    problems: List[str] = []
    saved: Optional[TokenSet] = None
    try:
        saved = store.read_oauth()
    except ClawError as exc:
        problems.append(exc.message)
    helper = getattr(settings, "api_key_helper", None) or None
    sources = list(anthropic_precedence(env, helper=bool(helper), saved_login=lambda: saved is not None))
    unused: List[str] = []
    if helper and HELPER not in sources:
        unused.append(HELPER)
    if saved is not None and SAVED_LOGIN not in sources:
        unused.append(SAVED_LOGIN)
    has_key = API_KEY in sources or HELPER in sources
    has_token = AUTH_TOKEN in sources
    if has_key and has_token:
        method = "api_key+auth_token"
    elif has_key:
        method = "api_key"
    elif has_token:
        method = "auth_token"
    elif SAVED_LOGIN in sources or OAUTH_TOKEN in sources:
        method = "oauth"
    else:
        method = "none"
    oauth_fields: dict = {}
    if saved is not None:
        oauth_fields = dict(
            oauth_expires_at=saved.expires_at,
            oauth_expired=saved.expired(now_ms),
            oauth_refreshable=bool(saved.refresh_token),
            oauth_scopes=saved.scopes,
            oauth_account=saved.account_email,
        )
    return AuthStatus(method=method, sources=tuple(sources), helper_command=helper,
                      helper_origin=helper_origin if helper else None, credentials_path=store.path,
                      unused=tuple(unused), problems=tuple(problems), **oauth_fields)
