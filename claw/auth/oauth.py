"""OAuth 2.0 authorization-code + PKCE, sans-IO: configuration, URLs, request bodies, parsing.

What is here, all pure (the caller supplies the clock and does the I/O through claw.net):
  - ``OAuthConfig`` and ``resolve_oauth_config``: defaults (claw.auth.defaults) < the settings
    ``oauth`` block < ``CLAW_OAUTH_AUTHORIZE_URL`` / ``CLAW_OAUTH_TOKEN_URL`` / ``CLAW_OAUTH_CLIENT_ID``;
  - ``authorization_url``: the sign-in URL (response_type=code, S256 challenge, state);
  - ``authorization_code_request`` / ``refresh_request``: the token-endpoint POSTs. Bodies are
    ``application/x-www-form-urlencoded`` (RFC 6749 §4.1.3, §6) for any identity provider, and JSON
    for Anthropic's hosted endpoint, which is what Claude Code sends it (``token_body_format``);
  - ``parse_token_response``: a ``TokenSet`` with an absolute expiry (epoch ms), or a classified
    ClawError (``invalid_grant`` is told apart: it means "sign in again");
  - ``parse_callback`` / ``parse_pasted`` / ``checked_code``: the redirect's ``code``/``state``/
    ``error``, from the loopback request, a pasted redirect URL, ``code#state`` or a bare code.

Deliberately not here: sockets, files, printing, browsers. Secrets (tokens, the verifier, codes)
never appear in reprs or error messages; error descriptions from servers are cut short.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit

from claw.auth import defaults
from claw.auth.pkce import Pkce
from claw.errors import ClawError, ConfigError

LOGIN_HINT = "run `claw login` to sign in again"
MAX_DESCRIPTION = 200


def auth_error(message: str, *, kind: str, hint: Optional[str] = LOGIN_HINT, status: Optional[int] = None,
               retryable: bool = False) -> ClawError:
    """A sign-in / token failure: failure_class ``provider_auth``, exit 1."""
    return ClawError(message, hint=hint, kind=kind, failure_class="provider_auth", status=status,
                     retryable=retryable)


# -- configuration ---------------------------------------------------------------------------------


def is_anthropic_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return any(host == s or host.endswith("." + s) for s in defaults.ANTHROPIC_HOST_SUFFIXES)


def token_body_format(token_url: str) -> str:
    """``"json"`` for Anthropic's hosted token endpoint, ``"form"`` (RFC 6749) for everything else."""
    return "json" if is_anthropic_host(token_url) else "form"


@dataclass(frozen=True)
class OAuthConfig:
    """The OAuth client and endpoints claw signs in with (defaults, overridden by settings)."""

    client_id: str = defaults.CLIENT_ID
    authorize_url: str = defaults.AUTHORIZE_URL
    token_url: str = defaults.TOKEN_URL
    scopes: Tuple[str, ...] = defaults.SCOPES
    callback_port: int = defaults.CALLBACK_PORT
    # The provider's own "show the code" page for --no-browser (Anthropic's only), else None: the
    # user then pastes the loopback redirect URL from the browser's address bar.
    manual_redirect_url: Optional[str] = None
    token_body: str = "json"  # "json" | "form"
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)  # key -> "default" | "settings" | ENV

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)


def _check_url(value: str, origin: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{origin} must be an http:// or https:// URL, not {value!r}",
                          hint=f"set {origin} to e.g. https://auth.example.com/oauth/token, or unset it")
    return value


def resolve_oauth_config(settings: Any = None, env: Optional[Mapping[str, str]] = None) -> OAuthConfig:
    """Defaults, then ``settings`` (a ``claw.config.models.OAuthSettings`` or None), then the
    ``CLAW_OAUTH_*`` variables of ``env`` (empty means unset). Raises ConfigError for a bad URL."""
    env = env or {}
    origins: Dict[str, str] = {}

    def pick(key: str, setting: Optional[str], variable: Optional[str], default: str) -> str:
        value = (env.get(variable) or "").strip() if variable else ""
        if value:
            origins[key] = variable  # type: ignore[assignment]
            return value
        if setting:
            origins[key] = "settings"
            return setting
        origins[key] = "default"
        return default

    client_id = pick("clientId", getattr(settings, "client_id", None), defaults.ENV_CLIENT_ID, defaults.CLIENT_ID)
    authorize_url = pick("authorizeUrl", getattr(settings, "authorize_url", None), defaults.ENV_AUTHORIZE_URL,
                         defaults.AUTHORIZE_URL)
    token_url = pick("tokenUrl", getattr(settings, "token_url", None), defaults.ENV_TOKEN_URL, defaults.TOKEN_URL)
    authorize_url = _check_url(authorize_url, _origin_label(origins["authorizeUrl"], "oauth.authorizeUrl"))
    token_url = _check_url(token_url, _origin_label(origins["tokenUrl"], "oauth.tokenUrl"))
    scopes = getattr(settings, "scopes", None)
    origins["scopes"] = "settings" if scopes is not None else "default"
    port = getattr(settings, "callback_port", None)
    origins["callbackPort"] = "settings" if port is not None else "default"
    return OAuthConfig(
        client_id=client_id,
        authorize_url=authorize_url,
        token_url=token_url,
        scopes=tuple(scopes) if scopes is not None else defaults.SCOPES,
        callback_port=int(port) if port is not None else defaults.CALLBACK_PORT,
        manual_redirect_url=defaults.MANUAL_REDIRECT_URL if is_anthropic_host(authorize_url) else None,
        token_body=token_body_format(token_url),
        origins=origins,
    )


def _origin_label(origin: str, setting_key: str) -> str:
    return f"settings {setting_key}" if origin in ("settings", "default") else origin


def loopback_redirect_uri(port: int) -> str:
    return f"http://{defaults.REDIRECT_HOST}:{port}{defaults.REDIRECT_PATH}"


# -- the authorization request ---------------------------------------------------------------------


def authorization_url(config: OAuthConfig, pkce: Pkce, redirect_uri: str) -> str:
    params: List[Tuple[str, str]] = []
    if is_anthropic_host(config.authorize_url):
        params.append(("code", "true"))  # Anthropic: lets its page show the code for pasting
    params += [
        ("client_id", config.client_id),
        ("response_type", "code"),
        ("redirect_uri", redirect_uri),
        ("scope", config.scope),
        ("code_challenge", pkce.challenge),
        ("code_challenge_method", pkce.method),
        ("state", pkce.state),
    ]
    base = config.authorize_url
    sep = "&" if "?" in base else "?"
    if base.endswith(("?", "&")):
        sep = ""
    return base + sep + urlencode(params)


# -- token requests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenRequest:
    """A POST to the token endpoint. The repr leaves out the body (it carries secrets)."""

    url: str
    headers: Tuple[Tuple[str, str], ...]
    body: bytes = field(repr=False)
    grant_type: str = ""


def _token_request(config: OAuthConfig, fields: List[Tuple[str, str]]) -> TokenRequest:
    if config.token_body == "json":
        body = json.dumps(dict(fields)).encode("utf-8")
        content_type = "application/json"
    else:
        body = urlencode(fields).encode("ascii")
        content_type = "application/x-www-form-urlencoded"
    headers = (("content-type", content_type), ("accept", "application/json"))
    return TokenRequest(config.token_url, headers, body, dict(fields)["grant_type"])


def authorization_code_request(config: OAuthConfig, *, code: str, redirect_uri: str, pkce: Pkce) -> TokenRequest:
    fields = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", config.client_id),
        ("code_verifier", pkce.verifier),
    ]
    if config.token_body == "json":
        fields.append(("state", pkce.state))  # Anthropic's endpoint wants the state echoed
    return _token_request(config, fields)


def refresh_request(config: OAuthConfig, refresh_token: str) -> TokenRequest:
    return _token_request(config, [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", config.client_id),
    ])


# -- tokens ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenSet:
    """Tokens as claw keeps them. ``expires_at``: epoch milliseconds, None when the server gave no
    lifetime (then only a 401 triggers a refresh). The repr never shows a token."""

    access_token: str = field(repr=False)
    refresh_token: Optional[str] = field(default=None, repr=False)
    expires_at: Optional[int] = None
    scopes: Tuple[str, ...] = ()
    account_email: Optional[str] = None
    account_uuid: Optional[str] = None

    def remaining_ms(self, now_ms: int) -> Optional[int]:
        return None if self.expires_at is None else self.expires_at - now_ms

    def expired(self, now_ms: int, margin_ms: int = 0) -> bool:
        left = self.remaining_ms(now_ms)
        return left is not None and left <= margin_ms

    def to_json(self) -> Dict[str, Any]:
        """The ``oauth`` entry of credentials.json (contract: accessToken, refreshToken, expiresAt,
        scopes; ``account`` when the server named one)."""
        data: Dict[str, Any] = {
            "accessToken": self.access_token,
            "refreshToken": self.refresh_token,
            "expiresAt": self.expires_at,
            "scopes": list(self.scopes),
        }
        account = {k: v for k, v in (("email", self.account_email), ("uuid", self.account_uuid)) if v}
        if account:
            data["account"] = account
        return data

    @classmethod
    def from_json(cls, data: Any) -> "TokenSet":
        """Raises ValueError (without values) when ``data`` is not a usable ``oauth`` entry."""
        if not isinstance(data, dict):
            raise ValueError("the oauth entry is not an object")
        access = data.get("accessToken")
        if not isinstance(access, str) or not access:
            raise ValueError("oauth.accessToken is missing or not a string")
        refresh = data.get("refreshToken")
        if refresh is not None and not isinstance(refresh, str):
            raise ValueError("oauth.refreshToken is not a string")
        expires = data.get("expiresAt")
        if expires is not None and (isinstance(expires, bool) or not isinstance(expires, (int, float))):
            raise ValueError("oauth.expiresAt is not a number (epoch milliseconds)")
        scopes = data.get("scopes") or []
        if isinstance(scopes, str):
            scopes = scopes.split()
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ValueError("oauth.scopes is not a list of strings")
        account = data.get("account") if isinstance(data.get("account"), dict) else {}
        return cls(access, refresh or None, None if expires is None else int(expires), tuple(scopes),
                   _str_or_none(account.get("email")), _str_or_none(account.get("uuid")))


def _str_or_none(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def _clean_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return text[:MAX_DESCRIPTION] + ("..." if len(text) > MAX_DESCRIPTION else "")


def _error_fields(data: Any) -> Tuple[Optional[str], Optional[str]]:
    """(error code, description) from RFC 6749 ``{"error", "error_description"}`` or Anthropic-style
    ``{"error": {"type", "message"}}``."""
    if not isinstance(data, dict):
        return None, None
    err = data.get("error")
    if isinstance(err, dict):
        return (_clean_text(err.get("type")) if err.get("type") else None,
                _clean_text(err.get("message")) if err.get("message") else None)
    code = _clean_text(err) if isinstance(err, str) and err else None
    desc = data.get("error_description") or data.get("message")
    return code, (_clean_text(desc) if desc else None)


def parse_token_response(status: int, body: bytes, *, now_ms: int, requested_scopes: Tuple[str, ...] = (),
                         previous: Optional[TokenSet] = None, what: str = "token request") -> TokenSet:
    """The TokenSet in a token-endpoint response, or a ClawError (kind ``oauth_invalid_grant`` for
    ``invalid_grant``: the code or refresh token is no longer good; ``oauth_token_error`` otherwise,
    retryable for 429/5xx; ``oauth_bad_response`` for a 2xx that is not a token).

    ``previous`` (a refresh): its refresh token and account are kept when the response omits them.
    """
    try:
        data = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError):
        data = None
    if not 200 <= status < 300:
        code, desc = _error_fields(data)
        detail = ": " + code if code else ""
        if desc:
            detail += f" ({desc})" if code else f": {desc}"
        if code == "invalid_grant":
            return_kind = "oauth_invalid_grant"
        else:
            return_kind = "oauth_token_error"
        raise auth_error(f"the token endpoint refused the {what} (HTTP {status}{detail})", kind=return_kind,
                         status=status, retryable=status == 429 or status >= 500,
                         hint=LOGIN_HINT if status < 500 else "try again in a moment; if it persists, "
                         "run `claw login`")
    if not isinstance(data, dict):
        raise auth_error(f"the token endpoint answered the {what} with HTTP {status} but no JSON object",
                         kind="oauth_bad_response", status=status,
                         hint="check oauth.tokenUrl / CLAW_OAUTH_TOKEN_URL points at the token endpoint")
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise auth_error(f"the token endpoint answered the {what} without an access_token",
                         kind="oauth_bad_response", status=status,
                         hint="check oauth.tokenUrl / CLAW_OAUTH_TOKEN_URL points at the token endpoint")
    token_type = data.get("token_type")
    if isinstance(token_type, str) and token_type.lower() not in ("bearer", ""):
        raise auth_error(f"the token endpoint issued a {_clean_text(token_type)!r} token; claw needs a Bearer token",
                         kind="oauth_bad_response", status=status, hint=None)
    refresh = data.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        refresh = previous.refresh_token if previous else None
    expires_at: Optional[int] = None
    expires_in = data.get("expires_in")
    if isinstance(expires_in, str):
        try:
            expires_in = float(expires_in)
        except ValueError:
            expires_in = None
    if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool):
        expires_at = int(now_ms + float(expires_in) * 1000)
    scope = data.get("scope")
    if isinstance(scope, str) and scope.strip():
        scopes = tuple(scope.split())
    elif isinstance(scope, list) and all(isinstance(s, str) for s in scope):
        scopes = tuple(scope)
    elif previous is not None and previous.scopes:
        scopes = previous.scopes
    else:
        scopes = tuple(requested_scopes)
    account = data.get("account") if isinstance(data.get("account"), dict) else {}
    email = _str_or_none(account.get("email_address") or account.get("email"))
    uuid = _str_or_none(account.get("uuid"))
    if previous is not None:
        email = email or previous.account_email
        uuid = uuid or previous.account_uuid
    return TokenSet(access, refresh, expires_at, scopes, email, uuid)


# -- the redirect ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackParams:
    """What came back from the authorization server (the code is a secret: not in the repr)."""

    code: Optional[str] = field(default=None, repr=False)
    state: Optional[str] = None
    error: Optional[str] = None
    error_description: Optional[str] = None


def parse_callback(query: str) -> CallbackParams:
    """``code``/``state``/``error``/``error_description`` from a query string (without ``?``)."""
    params: Dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(key, value)
    return CallbackParams(
        code=params.get("code") or None,
        state=params.get("state") or None,
        error=_clean_text(params["error"]) if params.get("error") else None,
        error_description=_clean_text(params["error_description"]) if params.get("error_description") else None,
    )


def parse_pasted(text: str) -> CallbackParams:
    """What a user pasted: the whole redirect URL, its query string, ``code#state`` (Anthropic's
    code page) or a bare code. Raises a ClawError (kind ``oauth_no_code``) for an empty or unusable paste."""
    text = text.strip()
    if not text:
        raise auth_error("nothing was pasted", kind="oauth_no_code",
                         hint="paste the code shown after signing in, or the whole URL the browser was sent to")
    if "://" in text:
        parts = urlsplit(text)
        query = parts.query or ("" if "=" not in parts.fragment else parts.fragment)
        params = parse_callback(query)
        if params.code is None and params.error is None:
            raise auth_error("the pasted URL has no code= (or error=) parameter", kind="oauth_no_code",
                             hint="paste the URL of the page the browser landed on after signing in, "
                                  "or just the code")
        return params
    if "code=" in text or "error=" in text:
        return parse_callback(text.lstrip("?&"))
    if "#" in text:
        code, _, state = text.partition("#")
        return CallbackParams(code=code.strip() or None, state=state.strip() or None)
    if any(ch.isspace() for ch in text):
        raise auth_error("the pasted text is not a code (it contains spaces)", kind="oauth_no_code",
                         hint="paste only the code, or the whole redirect URL")
    return CallbackParams(code=text)


def checked_code(params: CallbackParams, expected_state: str, *, require_state: bool = True) -> str:
    """The authorization code, after checking the ``error`` and the ``state``.

    ``require_state=False`` accepts a bare pasted code without a state (PKCE still binds the code to
    this attempt: no one else holds the verifier); a state that is present must always match.
    """
    if params.error:
        detail = f" ({params.error_description})" if params.error_description else ""
        if params.error == "access_denied":
            message = f"sign-in was cancelled or refused: access_denied{detail}"
        else:
            message = f"the sign-in page returned an error: {params.error}{detail}"
        raise auth_error(message, kind="oauth_denied",
                         hint="run `claw login` again; if it keeps failing, check the oauth settings "
                              "(clientId, authorizeUrl, scopes) with `claw config get oauth`")
    if params.state is None:
        if require_state:
            raise auth_error("the redirect carried no state parameter, so it cannot be matched to this login",
                             kind="oauth_state_mismatch",
                             hint="run `claw login` again and use the URL it prints")
    elif not hmac.compare_digest(params.state.encode("utf-8", "replace"), expected_state.encode("utf-8", "replace")):
        raise auth_error("state mismatch: this code belongs to another sign-in attempt (or was tampered with)",
                         kind="oauth_state_mismatch",
                         hint="run `claw login` again and finish the sign-in from the URL this run printed")
    if not params.code:
        raise auth_error("the redirect carried no authorization code", kind="oauth_no_code",
                         hint="run `claw login` again")
    return params.code
