"""The display policy for settings values: which settings are secret as a whole, and their marker.

Values under ``env``, ``headers`` and ``customHeaders`` whose name looks secret (KEY, TOKEN, SECRET, PASSWORD, AUTH,
COOKIE, CREDENTIAL: wider than claw.redact's rule, because here the key path says the value is a
setting's credential) and ``apiKey``/``accessToken``/``refreshToken`` become ``<redacted>``. Every
other string goes through claw.redact, the one implementation of the text rules: URL passwords are
shown as ``user:***@`` (``hide_url_password``), then a redactor (the caller's, which may also know
the settings' own secrets, or the process environment's: keys it knows from the environment, ``sk-ant-...`` keys, bearer tokens, ``X_TOKEN=...`` assignments), so a literal key inside
an ``apiKeyHelper`` command is not shown either. This is display hygiene for ``claw config``,
``claw status`` and error messages; it does not change what claw uses.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

from claw.config.keypath import KeyPath

if TYPE_CHECKING:
    from claw.redact import Redactor

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(r"(?i)(key|token|secret|passw|auth|cookie|credential)")
_SECRET_PARENTS = ("env", "headers", "customHeaders")


def is_secret_path(path: KeyPath) -> bool:
    """True for ``env.ANTHROPIC_API_KEY``, ``mcpServers.x.headers.Authorization`` and the like."""
    for i, segment in enumerate(path[:-1]):
        if segment in _SECRET_PARENTS:
            name = path[i + 1]
            if isinstance(name, str) and _SECRET_NAME.search(name):
                return True
    return bool(path) and isinstance(path[-1], str) and path[-1] in ("apiKey", "accessToken", "refreshToken")


def redact_text(text: str, redactor: Optional["Redactor"] = None) -> str:
    """A settings string safe to print: URL passwords as ``***``, then claw.redact's text rules (with
    the exact secrets ``redactor`` knows; the process environment's by default)."""
    from claw.redact import default_redactor, hide_url_password

    return (redactor or default_redactor()).redact_text(hide_url_password(text), urls=False)


def redact(path: KeyPath, value, redactor: Optional["Redactor"] = None):
    """A copy of ``value`` (found at ``path``) that is safe to print."""
    if is_secret_path(path):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(path + (k,), v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(path + (i,), v, redactor) for i, v in enumerate(value)]
    if isinstance(value, str):
        return redact_text(value, redactor)
    return value
