"""Secret redaction: the one place that removes secrets from text and JSON-like data before it is
logged, shown in an error, or written to a session file.

Rules, each replacing the secret with ``[REDACTED]``:
- exact values registered at run time (``Redactor.add_secret``: the API key in use, an OAuth token,
  a proxy password), longest first;
- values of environment variables whose names look secret: ``*_API_KEY`` (and ``API_KEY``),
  ``*_TOKEN`` (and ``TOKEN``), ``*BEARER_TOKEN*``, ``*SECRET*``, ``*PASSWORD*``, ``*PASSWD*``, plus the password and
  user name of a ``user:pass@`` proxy URL in ``*_PROXY`` variables (read by ``Redactor.from_env``);
- credentials in URLs: ``scheme://user:pass@host`` becomes ``scheme://[REDACTED]@host`` (for display,
  ``hide_url_password`` keeps the user name: ``scheme://user:***@host``; claw.config.redact, the
  settings display policy, uses it);
- Anthropic-style keys ``sk-ant-...``, other long ``sk-...`` and ``xai-...`` keys;
- bearer tokens: ``Bearer <token>`` keeps the word, loses the token;
- shell/env assignments to such names in text: ``ANTHROPIC_API_KEY=...``, ``export GH_TOKEN="..."``;
- secret headers written as text (``x-api-key: ...``, ``Authorization: ...``,
  ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie``, also as ``"name": "value"`` or ``name=value``):
  the value up to the end of the line or closing quote is replaced;
- in JSON-like data (``redact_obj``), a string under a key that names a secret (the headers above,
  ``api_key``/``apiKey``, ``access_token``, ``refresh_token``, ``id_token``, ``client_secret``,
  ``password``, ``secret``, ``token``, ``cookie``, or an env-style name matching the rules above) is
  replaced whole; every other string goes through the text rules. Keys are kept.

``redact_obj`` returns a deep copy (dicts, lists and tuples rebuilt; tuples become lists, as JSON
would make them); other values (numbers, None, bools) are returned as they are.

Speed: every text rule is guarded by a plain substring test (``"sk-" in text``, ``"://" in text``,
...) on the text or its lower-cased copy, so the common string that holds no secret costs a few
``in`` scans; regular expressions run only when their trigger is present, and they are compiled on
first use, not at import.

What it deliberately does not do: no entropy guessing (it would eat hashes and ids in tool output),
no redaction of secrets shorter than 4 characters (``MIN_SECRET_LEN``; 8 for values read from the
environment), no I/O other than reading the environment mapping it is given.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

__all__ = [
    "MARK",
    "Redactor",
    "default_redactor",
    "hide_url_password",
    "is_secret_env_name",
    "is_secret_key",
    "redact_obj",
    "redact_text",
]

MARK = "[REDACTED]"
MIN_SECRET_LEN = 4
MIN_ENV_SECRET_LEN = 8

_SECRET_HEADERS = ("x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie")
# Keys (lower-cased, "-" and "_" removed) whose string values are secrets as a whole.
_SECRET_KEYS = frozenset(
    {
        "xapikey",
        "apikey",
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "authtoken",
        "bearertoken",
        "clientsecret",
        "secret",
        "password",
        "passwd",
        "token",
        "privatekey",
    }
)


def is_secret_env_name(name: str) -> bool:
    """True for environment variable names whose values are treated as secrets."""
    upper = name.upper()
    return (
        upper == "API_KEY"
        or upper.endswith("_API_KEY")
        or upper == "TOKEN"
        or upper.endswith("_TOKEN")
        or "BEARER_TOKEN" in upper  # AWS_BEARER_TOKEN_BEDROCK
        or "SECRET" in upper
        or "PASSWORD" in upper
        or "PASSWD" in upper
    )


def is_secret_key(key: str) -> bool:
    """True for a mapping key (header, JSON member, env name) whose string value is a secret."""
    known = _key_cache.get(key)
    if known is None:
        known = key.replace("-", "").replace("_", "").lower() in _SECRET_KEYS or is_secret_env_name(key)
        if len(_key_cache) >= 4096:
            _key_cache.clear()
        _key_cache[key] = known
    return known


_key_cache: dict[str, bool] = {}


class _Patterns:
    """Compiled regular expressions, built on first use."""

    def __init__(self) -> None:
        import re

        self.url = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#\s@\"'<>]*)@")
        self.url_password = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*):[^/@\s]*@")
        self.key = re.compile(r"\b(?:sk-ant-[A-Za-z0-9_\-]{8,}|sk-[A-Za-z0-9_\-]{20,}|xai-[A-Za-z0-9_\-]{20,})")
        self.bearer = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9\-._~+/]+=*")
        names = "|".join(name.replace("-", "[-_]") for name in _SECRET_HEADERS)
        self.env = re.compile(
            r"(?<![A-Za-z0-9_])((?:[A-Z][A-Z0-9_]*_)?(?:API_KEY|TOKEN)|[A-Z0-9_]*(?:SECRET|PASSWORD|PASSWD)[A-Z0-9_]*)"
            r"(\s*=\s*)(?:\"[^\"\r\n]*\"|'[^'\r\n]*'|[^\s\"']+)"
        )
        # name (optionally quoted), ":" and the value up to the end of the line or its closing quote
        # (header values hold spaces: "Bearer x", "a=1; b=2"); or "=" and a value up to a space or a
        # query-string separator.
        self.header = re.compile(
            r"(?i)(\b(?:" + names + r")[\"']?\s*:\s*)(?:\"[^\"\r\n]*\"?|'[^'\r\n]*'?|[^\r\n\"',}]+)"
        )
        self.header_eq = re.compile(
            r"(?i)(\b(?:" + names + r")[\"']?\s*=\s*)(?:\"[^\"\r\n]*\"?|'[^'\r\n]*'?|[^\s&;\"',}]+)"
        )


_patterns: _Patterns | None = None


def _compiled() -> _Patterns:
    global _patterns
    if _patterns is None:
        _patterns = _Patterns()
    return _patterns


def _header_sub(match: Any) -> str:
    value = match.group(0)[len(match.group(1)) :]
    quote = value[:1] if value[:1] in ("'", '"') else ""
    return match.group(1) + quote + MARK + (quote if quote and len(value) > 1 and value.endswith(quote) else "")


class Redactor:
    """Applies the redaction rules; holds the exact secrets registered so far.

    ``Redactor()`` knows no exact values; ``Redactor.from_env(os.environ)`` also registers the values
    of secret-looking variables. Registering is cheap and can happen at any time (e.g. when an OAuth
    token is refreshed).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        for value in secrets:
            self.add_secret(value)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Redactor:
        redactor = cls()
        redactor.add_env(environ)
        return redactor

    @property
    def secrets_count(self) -> int:
        return len(self._secrets)

    def add_secret(self, value: str | None) -> None:
        """Redact every later occurrence of ``value`` (ignored when shorter than MIN_SECRET_LEN)."""
        if not value or not isinstance(value, str):
            return
        value = value.strip()
        if len(value) < MIN_SECRET_LEN or value in self._secrets:
            return
        self._secrets.append(value)
        self._secrets.sort(key=len, reverse=True)  # a secret containing another goes first

    def add_env(self, environ: Mapping[str, str]) -> None:
        """Register the values of secret-looking variables and proxy URL credentials."""
        for name, value in environ.items():
            if not value:
                continue
            if is_secret_env_name(name):
                if len(value.strip()) >= MIN_ENV_SECRET_LEN:
                    self.add_secret(value)
            elif name.upper().endswith("_PROXY") and "@" in value:
                self._add_url_credentials(value)

    def _add_url_credentials(self, url: str) -> None:
        from urllib.parse import unquote

        rest = url.split("://", 1)[-1]
        userinfo = rest.split("/", 1)[0].rpartition("@")[0]
        if not userinfo:
            return
        user, _, password = userinfo.partition(":")
        for part in (password, user):
            self.add_secret(part)
            self.add_secret(unquote(part))

    def redact_text(self, text: str, *, urls: bool = True) -> str:
        """``text`` with every secret the rules find replaced by ``[REDACTED]``. ``urls=False`` leaves
        URL credentials to the caller (``hide_url_password`` shows them as ``user:***@``)."""
        if not text:
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MARK)
        lower = None
        if urls and "://" in text and "@" in text:
            text = _compiled().url.sub(r"\1" + MARK + "@", text)
        if "sk-" in text or "xai-" in text:
            text = _compiled().key.sub(MARK, text)
        if "earer" in text or "EARER" in text:
            lower = text.lower()
            if "bearer" in lower:
                text = _compiled().bearer.sub(r"\1\2" + MARK, text)
                lower = None
        if "=" in text and (
            "API_KEY" in text or "TOKEN" in text or "SECRET" in text or "PASSW" in text
        ):
            text = _compiled().env.sub(r"\1\2" + MARK, text)
        if ":" in text or "=" in text:
            if lower is None:
                lower = text.lower()
            if (
                "authorization" in lower
                or "cookie" in lower
                or "api-key" in lower
                or "api_key" in lower
            ):
                patterns = _compiled()
                if ":" in text:
                    text = patterns.header.sub(_header_sub, text)
                if "=" in text:
                    text = patterns.header_eq.sub(_header_sub, text)
        return text

    def redact_obj(self, obj: Any) -> Any:
        """A deep copy of ``obj`` (dicts, lists, tuples) with secrets redacted; see the module doc."""
        kind = type(obj)
        if kind is str:
            return self.redact_text(obj)
        if kind is dict or isinstance(obj, dict):
            out = {}
            for key, value in obj.items():
                if isinstance(key, str) and isinstance(value, str) and value and is_secret_key(key):
                    out[key] = MARK
                else:
                    out[key] = self.redact_obj(value)
            return out
        if kind is list or kind is tuple or isinstance(obj, (list, tuple)):
            return [self.redact_obj(item) for item in obj]
        if isinstance(obj, str):
            return self.redact_text(str(obj))
        return obj


def hide_url_password(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` replaced by ``***`` and the user
    name kept (``http://jdoe:***@proxy:3128``): how settings and proxy routes are shown to their owner."""
    if "://" not in text or "@" not in text:
        return text
    return _compiled().url_password.sub(r"\1:***@", text)


_default: Redactor | None = None


def default_redactor() -> Redactor:
    """The process-wide redactor, created on first use from ``os.environ``: for what runs outside an
    agent run (commands such as ``claw config``, errors before a run could start). A run builds its
    own (``claw.runtime.run``) from its effective environment and passes it to what writes."""
    global _default
    if _default is None:
        import os

        _default = Redactor.from_env(os.environ)
    return _default


def redact_text(text: str, *, urls: bool = True) -> str:
    """``default_redactor().redact_text(text)``."""
    return default_redactor().redact_text(text, urls=urls)


def redact_obj(obj: Any) -> Any:
    """``default_redactor().redact_obj(obj)``."""
    return default_redactor().redact_obj(obj)
