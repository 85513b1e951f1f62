"""Where the environments API's bridge credential and base URL come from.

The credential, first found wins: ``--token-file FILE`` (one line, trimmed), ``CLAW_BRIDGE_TOKEN``,
then claw's saved login (``claw login``: ``$CLAW_CONFIG_HOME/credentials.json``, refreshed when it is
about to expire or the server answers 401). ``BridgeCredential`` says which (``source``, ``detail``)
without ever showing the secret.

The base URL: ``--base-url``, else ``CLAW_BRIDGE_BASE_URL``, else the URL the connected environment
was registered with (``.claw/remote.json``), else ``ANTHROPIC_BASE_URL``, else
``https://api.anthropic.com`` (the settings ``env`` block counts as environment).

Deliberately not here: HTTP, printing, the OAuth flow itself (claw.auth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from claw.errors import ConfigError

TOKEN_VARIABLE = "CLAW_BRIDGE_TOKEN"
BASE_URL_VARIABLE = "CLAW_BRIDGE_BASE_URL"


@dataclass(frozen=True)
class BridgeCredential:
    """A bridge credential: ``token`` is a string or a token source (the saved login)."""

    source: str  # "--token-file", "CLAW_BRIDGE_TOKEN" or "saved login"
    detail: str  # the file, or the login's expiry
    token: Any = field(repr=False, compare=False)


def read_token_file(path: str) -> str:
    try:
        with open(path, "r", encoding="utf-8") as fh:
            text = fh.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read --token-file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not text or "\n" in text:
        raise ConfigError(f"--token-file {path} must hold exactly one line (the token)")
    return text


def bridge_credential(env: Mapping[str, str], *, cwd: str, settings: Any = None, token_file: Optional[str] = None,
                      net_config: Any = None) -> Optional[BridgeCredential]:
    """The credential per the module docstring, or None when there is none."""
    if token_file:
        return BridgeCredential("--token-file", token_file, read_token_file(token_file))
    value = (env.get(TOKEN_VARIABLE) or "").strip()
    if value:
        return BridgeCredential(TOKEN_VARIABLE, "environment variable", value)
    from claw.auth.sources import saved_login_for

    login = saved_login_for(settings, env, net_config=net_config, cwd=cwd)
    if login is None:
        return None
    tokens = login.store.read_oauth()
    expires = getattr(tokens, "expires_at", None)
    detail = login.store.path
    if expires:
        import time

        detail += time.strftime(", expires %Y-%m-%d %H:%M UTC", time.gmtime(expires / 1000))
    return BridgeCredential("saved login", detail, login)


def bridge_base_url(env: Mapping[str, str], explicit: Optional[str] = None, persisted: Optional[str] = None) -> str:
    from claw.remote.endpoints import DEFAULT_BASE_URL

    for value in (explicit, env.get(BASE_URL_VARIABLE), persisted, env.get("ANTHROPIC_BASE_URL")):
        if value and value.strip():
            return value.strip().rstrip("/")
    return DEFAULT_BASE_URL
