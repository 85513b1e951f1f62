"""The saved login as a token source for model requests: valid tokens, refreshed when needed.

``SavedLogin`` satisfies ``claw.auth.headers.OAuthTokenSource``:
  - ``get_token()`` returns the saved access token while it has more than ``margin_ms`` (5 minutes)
    left; otherwise it refreshes first. It never returns an expired token: when the refresh fails the
    user is told to run ``claw login`` (kind ``oauth_expired``, failure_class ``provider_auth``);
  - ``refresh()`` forces a refresh (the server answered 401 to the current token).

Two claw processes refreshing at once: each refresh runs under the credential store's file lock and
re-reads the file first. When the file already holds a different, still valid access token, another
process refreshed meanwhile and that token is used: the token endpoint sees ONE refresh, and the
refresh token (which servers may rotate and invalidate on use) is never spent twice. Inside one process
an asyncio lock does the same for concurrent requests.

A transport failure while refreshing (connect, TLS, proxy) is raised as the NetworkError it is, naming
the token endpoint, and keeps its retryability; it is not reported as an expired login.

Deliberately not here: choosing between API key, auth token and the saved login (claw.auth.sources),
the login flow (claw.auth.login), printing.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from claw.auth import defaults
from claw.auth.credentials import CredentialStore
from claw.auth.exchange import now_ms, request_tokens
from claw.auth.oauth import LOGIN_HINT, OAuthConfig, TokenSet, auth_error, refresh_request
from claw.errors import ClawError


def not_signed_in(store: CredentialStore) -> ClawError:
    return auth_error(f"not signed in: {store.path} holds no saved login", kind="missing_credentials",
                      hint="run `claw login`, or set ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN")


class SavedLogin:
    """An ``OAuthTokenSource`` over a ``CredentialStore``. Secrets never appear in its repr."""

    def __init__(self, store: CredentialStore, config: OAuthConfig, *, net_config: Any = None,
                 http: Any = None, margin_ms: int = defaults.REFRESH_MARGIN_MS,
                 clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.config = config
        self._net_config = net_config
        self._http = http
        self.margin_ms = margin_ms
        self._clock = clock
        self._tokens: Optional[TokenSet] = None
        self._lock: Any = None
        self._lock_loop: Any = None
        self.refreshes = 0  # refreshes this object sent to the token endpoint (diagnostics, tests)

    def __repr__(self) -> str:
        return f"<SavedLogin {self.store.path}>"

    # -- OAuthTokenSource ------------------------------------------------------------------------------

    async def get_token(self) -> str:
        async with self._local_lock():
            tokens = self._tokens or self._load()
            if not tokens.expired(self._clock(), self.margin_ms):
                return tokens.access_token
            return (await self._refresh(tokens, forced=False)).access_token

    async def refresh(self) -> str:
        async with self._local_lock():
            tokens = self._tokens or self._load()
            return (await self._refresh(tokens, forced=True)).access_token

    # -- inside ----------------------------------------------------------------------------------------

    def _local_lock(self) -> Any:
        import asyncio

        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock = asyncio.Lock()
            self._lock_loop = loop
        return self._lock

    def _load(self) -> TokenSet:
        tokens = self.store.read_oauth()
        if tokens is None:
            raise not_signed_in(self.store)
        self._tokens = tokens
        return tokens

    async def _refresh(self, stale: TokenSet, *, forced: bool) -> TokenSet:
        async with self.store.alocked():
            on_disk = self.store.read_oauth()
            if on_disk is None:
                self._tokens = None
                raise auth_error(f"the saved login was removed from {self.store.path} (claw logout?)",
                                 kind="missing_credentials", hint=LOGIN_HINT)
            now = self._clock()
            if on_disk.access_token != stale.access_token and not on_disk.expired(now, 0 if forced else self.margin_ms):
                self._tokens = on_disk  # another process (or `claw login`) refreshed meanwhile
                return on_disk
            if not on_disk.refresh_token:
                raise auth_error("the saved login has expired and holds no refresh token"
                                 if on_disk.expired(now) else
                                 "the saved login was rejected and holds no refresh token to renew it",
                                 kind="oauth_expired")
            try:
                fresh = await request_tokens(refresh_request(self.config, on_disk.refresh_token),
                                             net_config=self._net_config, http=self._http,
                                             requested_scopes=on_disk.scopes, previous=on_disk,
                                             what="refresh of the saved login")
            except ClawError as exc:
                if exc.failure_class != "provider_auth" or exc.retryable:
                    raise  # transport trouble or a server hiccup: not an expired login
                raise auth_error(f"the saved login could not be renewed: {exc.message}", kind="oauth_expired",
                                 status=exc.status) from None
            self.refreshes += 1
            self.store.write_oauth_locked(fresh)
            self._tokens = fresh
            return fresh
