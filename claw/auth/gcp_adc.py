"""Google Application Default Credentials (ADC): where they are, what they hold, and the token requests
they make — everything but the I/O of sending them (claw.auth.gcp_auth).

Where claw looks, in Google's own order:
  1. ``GOOGLE_APPLICATION_CREDENTIALS``: a JSON credential file (an error when it names a file that is
     missing or unusable: claw never falls through silently past a file the user named);
  2. gcloud's ADC file, written by ``gcloud auth application-default login``:
     ``$CLOUDSDK_CONFIG/application_default_credentials.json``, by default under
     ``~/.config/gcloud`` (``%APPDATA%\\gcloud`` on Windows);
  3. the GCE metadata server (``GCE_METADATA_HOST`` overrides ``metadata.google.internal``);
  4. ``gcloud auth print-access-token`` as a last resort.
Files of type ``service_account`` (a JWT assertion signed RS256 with the file's key, exchanged at its
``token_uri``) and ``authorized_user`` (a refresh-token grant) are supported; other types
(``external_account``, ``impersonated_service_account``, ...) are refused with a clear message.

The project a request names comes from ``project_for`` (claw.api.vertex decides the precedence).

Nothing here opens a socket or starts a process. Secrets (the private key, the client secret, the
refresh token) never appear in a repr or an error message; ``secrets()`` lists them for the run's
redactor.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Tuple
from urllib.parse import urlencode

from claw.errors import ClawError, ConfigError

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
METADATA_HOST = "metadata.google.internal"
METADATA_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
JWT_LIFETIME = 3600  # seconds: Google's maximum for a self-signed assertion
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ADC_FILE = "application_default_credentials.json"
MAX_FILE = 1024 * 1024

SERVICE_ACCOUNT = "service_account"
AUTHORIZED_USER = "authorized_user"


@dataclass(frozen=True)
class CredentialFile:
    """A parsed ADC JSON file. Secret fields are left out of the repr."""

    kind: str  # service_account | authorized_user
    path: str
    origin: str  # "GOOGLE_APPLICATION_CREDENTIALS" | "gcloud ADC file"
    token_uri: str = DEFAULT_TOKEN_URI
    client_email: Optional[str] = None  # service_account
    private_key: str = field(default="", repr=False)  # service_account (PEM)
    private_key_id: Optional[str] = field(default=None, repr=False)
    client_id: Optional[str] = None  # authorized_user
    client_secret: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    project_id: Optional[str] = None
    quota_project_id: Optional[str] = None

    def describe(self) -> str:
        """Which credential, from where (no secret)."""
        if self.kind == SERVICE_ACCOUNT:
            who = f"service account {self.client_email}"
        else:
            who = "user credentials (authorized_user)"
        return f"{who} from {self.origin} ({self.path})"

    def secrets(self) -> List[str]:
        """Values the run's redactor must hide: the key (each base64 line of it too, since a line is
        what usually leaks), the key id, the client secret and the refresh token."""
        out = [s for s in (self.private_key.strip(), self.private_key_id, self.client_secret,
                           self.refresh_token) if s]
        for line in self.private_key.splitlines():
            line = line.strip()
            if line and not line.startswith("-----") and len(line) >= 16:
                out.append(line)
        return out


def gcloud_config_dir(env: Mapping[str, str]) -> str:
    """gcloud's configuration directory: ``CLOUDSDK_CONFIG``, else ``~/.config/gcloud`` (Windows:
    ``%APPDATA%\\gcloud``)."""
    configured = (env.get("CLOUDSDK_CONFIG") or "").strip()
    if configured:
        return os.path.expanduser(configured)
    if sys.platform == "win32" and env.get("APPDATA"):
        return os.path.join(env["APPDATA"], "gcloud")
    home = env.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, ".config", "gcloud")


def find_credential_file(env: Mapping[str, str]) -> Optional[Tuple[str, str]]:
    """``(path, origin)`` of the ADC file to use, or None (then the metadata server and gcloud are
    tried). ``GOOGLE_APPLICATION_CREDENTIALS`` is returned even when the file is missing, so that
    loading it reports the mistake."""
    named = (env.get("GOOGLE_APPLICATION_CREDENTIALS") or "").strip()
    if named:
        return os.path.expanduser(named), "GOOGLE_APPLICATION_CREDENTIALS"
    path = os.path.join(gcloud_config_dir(env), ADC_FILE)
    if os.path.isfile(path):
        return path, "gcloud ADC file"
    return None


def load_credential_file(path: str, origin: str) -> CredentialFile:
    """The credential in ``path``; ConfigError (naming the file, never its content) otherwise."""
    hint = ("point GOOGLE_APPLICATION_CREDENTIALS at a service-account key or run "
            "`gcloud auth application-default login`")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read the Google credentials {path} (from {origin}): {exc.strerror}",
                          hint=hint) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None
    if len(raw) > MAX_FILE or not isinstance(data, dict):
        raise ConfigError(f"the Google credentials {path} (from {origin}) are not a JSON object", hint=hint)
    kind = data.get("type")

    def text(key: str) -> Optional[str]:
        value = data.get(key)
        return value.strip() if isinstance(value, str) and value.strip() else None

    token_uri = text("token_uri") or DEFAULT_TOKEN_URI
    common = dict(path=path, origin=origin, token_uri=token_uri, project_id=text("project_id"),
                  quota_project_id=text("quota_project_id"))
    if kind == SERVICE_ACCOUNT:
        missing = [k for k in ("client_email", "private_key") if not text(k)]
        if missing:
            raise ConfigError(f"the service-account file {path} lacks {', '.join(missing)}", hint=hint)
        return CredentialFile(SERVICE_ACCOUNT, client_email=text("client_email"),
                              private_key=data["private_key"], private_key_id=text("private_key_id"), **common)
    if kind == AUTHORIZED_USER:
        missing = [k for k in ("client_id", "client_secret", "refresh_token") if not text(k)]
        if missing:
            raise ConfigError(f"the user credentials {path} lack {', '.join(missing)}",
                              hint="run `gcloud auth application-default login` again")
        return CredentialFile(AUTHORIZED_USER, client_id=text("client_id"), client_secret=text("client_secret") or "",
                              refresh_token=text("refresh_token") or "", **common)
    shown = kind if isinstance(kind, str) else "no type"
    raise ConfigError(f"the Google credentials {path} (from {origin}) are of type {shown!r}; claw supports "
                      "service_account and authorized_user files",
                      hint="use a service-account key file, `gcloud auth application-default login`, or "
                           "an access token from a gateway with CLAUDE_CODE_SKIP_VERTEX_AUTH=1")


def gcloud_project(env: Mapping[str, str]) -> Optional[str]:
    """The ``core/project`` of gcloud's active configuration, or None."""
    import configparser

    base = gcloud_config_dir(env)
    active = (env.get("CLOUDSDK_ACTIVE_CONFIG_NAME") or "").strip()
    if not active:
        try:
            with open(os.path.join(base, "active_config"), encoding="utf-8") as fh:
                active = fh.read().strip()
        except OSError:
            active = ""
    parser = configparser.ConfigParser()
    try:
        parser.read(os.path.join(base, "configurations", f"config_{active or 'default'}"), encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    value = parser.get("core", "project", fallback="").strip()
    return value or None


def metadata_base(env: Mapping[str, str]) -> str:
    """``http://HOST`` of the metadata server (``GCE_METADATA_HOST`` for tests and emulators)."""
    host = (env.get("GCE_METADATA_HOST") or "").strip() or METADATA_HOST
    return "http://" + host


# -- requests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenPost:
    """A POST to a Google token endpoint. The body carries secrets and is left out of the repr."""

    url: str
    body: bytes = field(repr=False)
    headers: Tuple[Tuple[str, str], ...] = (("content-type", "application/x-www-form-urlencoded"),
                                            ("accept", "application/json"))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_assertion(cred: CredentialFile, now: int, *, scope: str = SCOPE) -> str:
    """The signed JWT a service account exchanges for an access token (RFC 7523)."""
    from claw.auth.rsa import load_private_key, sign_rs256

    header = {"alg": "RS256", "typ": "JWT"}
    if cred.private_key_id:
        header["kid"] = cred.private_key_id
    claims = {"iss": cred.client_email, "scope": scope, "aud": cred.token_uri, "iat": now,
              "exp": now + JWT_LIFETIME}
    signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                     + _b64url(json.dumps(claims, separators=(",", ":")).encode()))
    key = load_private_key(cred.private_key, source=f"the private_key of {cred.path}")
    return signing_input + "." + _b64url(sign_rs256(key, signing_input.encode("ascii")))


def token_request(cred: CredentialFile, now: int) -> TokenPost:
    """The token-endpoint POST for a credential file: a JWT-bearer grant (service account) or a
    refresh-token grant (authorized user)."""
    if cred.kind == SERVICE_ACCOUNT:
        fields = [("grant_type", JWT_BEARER_GRANT), ("assertion", jwt_assertion(cred, now))]
    else:
        fields = [("grant_type", "refresh_token"), ("client_id", cred.client_id or ""),
                  ("client_secret", cred.client_secret), ("refresh_token", cred.refresh_token)]
    return TokenPost(cred.token_uri, urlencode(fields).encode("ascii"))


@dataclass(frozen=True)
class AccessToken:
    """An access token and when it expires (epoch seconds; None: unknown). The repr hides the token."""

    token: str = field(repr=False)
    expires_at: Optional[float] = None


def parse_token_response(status: int, body: bytes, *, now: float, what: str, hint: str) -> AccessToken:
    """The token in a Google token (or metadata) response; a ClawError of class ``provider_auth``
    otherwise (retryable for 429 and 5xx). Error descriptions are cut short; tokens are never quoted."""
    try:
        data = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError):
        data = None
    if not 200 <= status < 300:
        detail = ""
        if isinstance(data, dict):
            err = data.get("error")
            desc = data.get("error_description")
            if isinstance(err, dict):  # {"error": {"code", "message", "status"}}
                err, desc = err.get("status"), err.get("message")
            parts = [str(p) for p in (err, desc) if isinstance(p, (str, int)) and p != ""]
            detail = ": " + " ".join(parts)[:200] if parts else ""
        retryable = status == 429 or status >= 500
        raise ClawError(f"{what} failed (HTTP {status}{detail})", hint=hint, kind="gcp_token_error",
                        failure_class="provider_auth", status=status, retryable=retryable)
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise ClawError(f"{what} answered HTTP {status} without an access_token", hint=hint,
                        kind="gcp_token_error", failure_class="provider_auth", status=status)
    expires_in = data.get("expires_in")
    expires_at = None
    if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) and expires_in > 0:
        expires_at = now + float(expires_in)
    elif isinstance(expires_in, str) and expires_in.strip().isdigit():
        expires_at = now + float(expires_in.strip())
    return AccessToken(token, expires_at)
