"""Google access tokens for Vertex AI: an ``AuthSource`` over Application Default Credentials.

``GoogleAuth`` sends ``Authorization: Bearer <token>`` (and ``x-goog-user-project`` when the
credential file names a quota project). The token comes from the first source that exists, in the
order of claw.auth.gcp_adc: a credential file (service account: JWT-bearer grant; authorized user:
refresh-token grant, both POSTed to the file's ``token_uri``), else the GCE metadata server, else
``gcloud auth print-access-token``. Once a source has produced a token, later tokens come from it.

Tokens are cached with their expiry and replaced ``margin`` seconds (5 minutes) before it (half their
lifetime before, for a token issued with less than 10 minutes left); a token without a stated
lifetime (gcloud's) is kept for ``UNKNOWN_LIFETIME`` seconds. On a 401 the provider
calls ``refresh()`` once, which fetches a new token whatever the cache says. Concurrent requests share
one fetch (an asyncio lock).

All HTTP goes through claw.net (``HttpClient`` with the run's ``NetConfig``: proxy, NO_PROXY, CA
rules, timeouts) — except that the metadata server, a link-local service of the VM itself, is always
reached directly, never through a proxy. gcloud runs as a subprocess with a timeout and the run's
environment; its stderr is cut short in errors.

Secrets: the credential file's key, client secret and refresh token, and every access token fetched,
are handed to the sinks registered with ``share_secrets`` (the run's redactor), the moment they are
known. They never appear in reprs or error messages.

Deliberately not here: parsing files and building the token requests (claw.auth.gcp_adc), choosing
the project, region or endpoint (claw.api.vertex), printing.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable, List, Mapping, Optional

from claw.auth.gcp_adc import (
    AccessToken,
    CredentialFile,
    METADATA_TOKEN_PATH,
    find_credential_file,
    load_credential_file,
    metadata_base,
    parse_token_response,
    token_request,
)
from claw.auth.headers import AuthSource, Header
from claw.errors import ClawError, NetworkError

REFRESH_MARGIN = 300.0  # seconds before expiry a token is replaced
UNKNOWN_LIFETIME = 600.0  # seconds a token without an expiry is used (gcloud's)
METADATA_TIMEOUT = 3.0  # connect timeout of the metadata probe: off GCE it fails fast
GCLOUD_TIMEOUT = 30.0
MAX_STDERR = 300

METADATA = "GCE metadata server"
GCLOUD = "gcloud auth print-access-token"

SKIP_VARIABLE = "CLAUDE_CODE_SKIP_VERTEX_AUTH"
ADC_HINT = ("set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, run "
            "`gcloud auth application-default login`, or (behind a gateway that authenticates) set "
            "CLAUDE_CODE_SKIP_VERTEX_AUTH=1")


class SkippedGoogleAuth(AuthSource):
    """``CLAUDE_CODE_SKIP_VERTEX_AUTH=1``: no credentials; a gateway in front adds its own."""

    def describe(self) -> str:
        return f"no Google credentials ({SKIP_VARIABLE}=1: the gateway authenticates)"

    async def headers(self) -> List[Header]:
        return []


class GoogleAuth(AuthSource):
    """Application Default Credentials as request headers, with a cached, refreshed access token."""

    def __init__(self, env: Mapping[str, str], *, net_config: Any = None, http: Any = None,
                 clock: Callable[[], float] = time.time, margin: float = REFRESH_MARGIN,
                 gcloud_timeout: float = GCLOUD_TIMEOUT) -> None:
        """Reads the credential file now (ConfigError when the one named is unusable); sends nothing."""
        self._env = dict(env)
        located = find_credential_file(env)
        self.file: Optional[CredentialFile] = load_credential_file(*located) if located else None
        self._net_config = net_config
        self._http = http
        self._clock = clock
        self.margin = margin
        self.gcloud_timeout = gcloud_timeout
        self._token: Optional[AccessToken] = None
        self._fetched_at = 0.0
        self._chosen: Optional[str] = None  # METADATA | GCLOUD once one worked (no credential file)
        self._sinks: List[Callable[[str], None]] = []
        self._lock: Any = None
        self._lock_loop: Any = None
        self.fetches = 0  # tokens fetched (diagnostics, tests)

    # -- AuthSource ---------------------------------------------------------------------------------

    def describe(self) -> str:
        if self.file is not None:
            return f"Google access token: {self.file.describe()}"
        if self._chosen is not None:
            return f"Google access token from the {self._chosen}" if self._chosen == METADATA else \
                f"Google access token from `{self._chosen}`"
        return f"Google access token from the {METADATA} or `{GCLOUD}` (no credential file)"

    @property
    def source(self) -> str:
        """The credential source in a few words (for hints and ``claw status``)."""
        if self.file is not None:
            return self.file.describe()
        if self._chosen is not None:
            return self._chosen
        return f"the {METADATA}, else `{GCLOUD}` (no ADC file found)"

    async def headers(self) -> List[Header]:
        token = await self.token()
        out: List[Header] = [("authorization", f"Bearer {token.token}")]
        quota = self.file.quota_project_id if self.file is not None else None
        if quota:
            out.append(("x-goog-user-project", quota))
        return out

    @property
    def refreshable(self) -> bool:
        return True

    async def refresh(self) -> bool:
        await self.token(force=True)
        return True

    # -- secrets -------------------------------------------------------------------------------------

    def secrets(self) -> List[str]:
        out = list(self.file.secrets()) if self.file is not None else []
        if self._token is not None:
            out.append(self._token.token)
        return out

    def share_secrets(self, sink: Callable[[str], None]) -> None:
        """Hand every secret known now, and every access token fetched later, to ``sink``."""
        for secret in self.secrets():
            sink(secret)
        self._sinks.append(sink)

    # -- tokens --------------------------------------------------------------------------------------

    @property
    def expires_at(self) -> Optional[float]:
        return self._token.expires_at if self._token is not None else None

    async def token(self, *, force: bool = False) -> AccessToken:
        """A token valid for at least ``margin`` more seconds (a fresh one when ``force``)."""
        async with self._local_lock():
            current = self._token
            if current is not None and not force and not self._stale(current):
                return current
            self._fetched_at = self._clock()
            token = await self._fetch()
            if token.expires_at is None:
                token = replace(token, expires_at=self._clock() + UNKNOWN_LIFETIME)
            self._token = token
            self.fetches += 1
            for sink in self._sinks:
                sink(token.token)
            return token

    def _stale(self, token: AccessToken) -> bool:
        """Within ``margin`` of expiry — or of half the token's lifetime, for a token issued with
        less than twice the margin left (the metadata server hands out tokens near their end)."""
        if token.expires_at is None:
            return False
        margin = min(self.margin, max(0.0, token.expires_at - self._fetched_at) / 2)
        return token.expires_at - self._clock() <= margin

    def _local_lock(self) -> Any:
        import asyncio

        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock = asyncio.Lock()
            self._lock_loop = loop
        return self._lock

    async def _fetch(self) -> AccessToken:
        if self.file is not None:
            return await self._from_file(self.file)
        if self._chosen == GCLOUD:
            return await self._from_gcloud()
        if self._chosen == METADATA:
            return await self._from_metadata()
        tried: List[str] = []
        try:
            token = await self._from_metadata()
            self._chosen = METADATA
            return token
        except ClawError as exc:
            tried.append(f"{METADATA}: {exc.message}")
        try:
            token = await self._from_gcloud()
            self._chosen = GCLOUD
            return token
        except ClawError as exc:
            tried.append(f"{GCLOUD}: {exc.message}")
        raise ClawError("no Google credentials for Vertex AI: no GOOGLE_APPLICATION_CREDENTIALS, no gcloud ADC "
                        "file, and " + "; ".join(tried), hint=ADC_HINT, kind="missing_credentials",
                        failure_class="provider_auth")

    async def _from_file(self, cred: CredentialFile) -> AccessToken:
        from claw.auth.exchange import post

        now = self._clock()
        request = token_request(cred, int(now))
        what = (f"the token request for {cred.client_email}" if cred.client_email else
                "the refresh of the gcloud user credentials")
        hint = (f"check {cred.path} (from {cred.origin}): the key may be revoked or disabled" if cred.client_email
                else "run `gcloud auth application-default login` again")
        status, body = await post(request, net_config=self._net(), http=self._http)  # type: ignore[arg-type]
        return parse_token_response(status, body, now=now, what=what, hint=hint)

    def _net(self) -> Any:
        if self._net_config is None:
            from claw.net.config import NetConfig

            self._net_config = NetConfig.from_env(self._env)
        return self._net_config

    async def _from_metadata(self) -> AccessToken:
        from claw.net.http import HttpClient, Timeouts
        from claw.net.proxy import ProxySettings

        direct = replace(self._net(), proxies=ProxySettings.direct())  # never through a proxy
        url = metadata_base(self._env) + METADATA_TOKEN_PATH
        now = self._clock()
        async with HttpClient(direct) as client:
            try:
                response = await client.request(
                    "GET", url, headers=[("metadata-flavor", "Google")],
                    timeouts=Timeouts(connect=METADATA_TIMEOUT, read=METADATA_TIMEOUT * 2,
                                      total=METADATA_TIMEOUT * 4))
                try:
                    body = await response.read()
                finally:
                    await response.aclose()
            except NetworkError as exc:
                raise NetworkError(f"not reachable ({exc.kind})", kind=exc.kind, retryable=exc.retryable) from None
        if response.header("metadata-flavor") != "Google" and response.status == 200:
            raise ClawError("the answer did not come from a metadata server (no Metadata-Flavor: Google)",
                            kind="gcp_token_error", failure_class="provider_auth")
        return parse_token_response(response.status, body, now=now, what=f"the {METADATA}",
                                    hint="check the VM's service account and its scopes")

    async def _from_gcloud(self) -> AccessToken:
        import asyncio
        import shutil

        path = shutil.which("gcloud", path=self._env.get("PATH"))
        if path is None:
            raise ClawError("gcloud is not on PATH", kind="missing_credentials", failure_class="provider_auth",
                            hint=ADC_HINT)
        now = self._clock()
        try:
            proc = await asyncio.create_subprocess_exec(
                path, "auth", "print-access-token", stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=self._env)
        except OSError as exc:
            raise ClawError(f"cannot run gcloud: {exc.strerror}", kind="missing_credentials",
                            failure_class="provider_auth", hint=ADC_HINT) from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.gcloud_timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise ClawError(f"gcloud did not answer within {self.gcloud_timeout:g} s", kind="gcp_token_error",
                            failure_class="provider_auth", hint=ADC_HINT) from None
        lines = [line.strip() for line in out.decode("utf-8", "replace").splitlines() if line.strip()]
        if proc.returncode != 0 or not lines:
            why = " ".join(err.decode("utf-8", "replace").split())[:MAX_STDERR] or f"exit status {proc.returncode}"
            raise ClawError(f"gcloud failed: {why}", kind="missing_credentials", failure_class="provider_auth",
                            hint="run `gcloud auth login`, or use " + ADC_HINT.split(", ", 1)[0])
        return AccessToken(lines[-1], now + UNKNOWN_LIFETIME)


def google_auth(env: Mapping[str, str], *, net_config: Any = None, http: Any = None) -> AuthSource:
    """The Vertex AI auth source for ``env``: skipped with CLAUDE_CODE_SKIP_VERTEX_AUTH, else ADC."""
    if truthy(env.get(SKIP_VARIABLE)):
        return SkippedGoogleAuth()
    return GoogleAuth(env, net_config=net_config, http=http)


def truthy(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")

