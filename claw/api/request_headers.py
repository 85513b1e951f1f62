"""Extra request headers for model requests: ANTHROPIC_CUSTOM_HEADERS, settings ``customHeaders``,
ANTHROPIC_BETAS and ``--betas``.

- ``ANTHROPIC_CUSTOM_HEADERS``: ``Name: value`` lines (newline-separated; blank lines and lines
  starting with ``#`` are skipped), added to Anthropic requests;
- settings ``customHeaders``: ``{"Name": "value"}``, added to every model request (any provider:
  gateways in front of OpenAI-compatible servers want them too); the environment wins on a name
  both give;
- ``ANTHROPIC_BETAS`` (comma- or space-separated) and ``--betas``: merged with the betas the request
  and the credentials ask for, and with an ``anthropic-beta`` custom header, into one
  ``anthropic-beta`` header, each value once, in first-seen order.

A custom header replaces a header claw would send under the same name (``anthropic-version``,
``user-agent``, even the credentials), except ``anthropic-beta`` (merged). Names that would break the
request or the connection (``Host``, ``Content-Length``, ``Transfer-Encoding``, ``Connection`` and the
other hop-by-hop headers) are refused with a ``ConfigError``, as are malformed names and values
holding a line break. Error messages name the header, never its value; ``describe`` shows headers
with credential-looking values redacted, and ``secret_values`` lists such values for the run's
redactor (claw.redact) so no log, error line or session file can show them.

No I/O here; claw.api.client reads the environment and settings and calls ``parse_*``.
"""

from __future__ import annotations

import re
from typing import Iterable, List, Mapping, Sequence, Tuple

from claw.errors import ConfigError

Header = Tuple[str, str]

# Framing and hop-by-hop headers: set by the HTTP layer for each request, never by a user.
REFUSED = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te",
                     "trailer", "upgrade", "proxy-connection", "expect"})
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_SECRET_NAME = re.compile(r"(?i)(key|token|secret|passw|auth|cookie|credential|session|signature)")
_EXAMPLE = "e.g. ANTHROPIC_CUSTOM_HEADERS='X-Gateway-Team: infra' (one 'Name: value' per line)"


def parse_header_lines(text: str, *, source: str = "ANTHROPIC_CUSTOM_HEADERS") -> List[Header]:
    """``Name: value`` lines as (name, value) pairs, in order; a later line with the same name wins."""
    out: List[Header] = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition(":")
        if not sep:
            raise ConfigError(f"{source}: line {number} is not 'Name: value'", hint=_EXAMPLE)
        out.append(_checked(name.strip(), value.strip(), source))
    return _last_wins(out)


def parse_header_map(headers: Mapping[str, str], *, source: str = "settings customHeaders") -> List[Header]:
    """A ``{"Name": "value"}`` mapping (settings) as checked (name, value) pairs."""
    return _last_wins([_checked(str(name).strip(), str(value).strip(), source)
                       for name, value in headers.items() if value is not None])


def parse_betas(text: str) -> Tuple[str, ...]:
    """``ANTHROPIC_BETAS``: beta names separated by commas and/or white space."""
    return tuple(merge_betas(re.split(r"[,\s]+", text or "")))


def merge_betas(*groups: Iterable[str]) -> List[str]:
    """Beta names from all groups (each may be an ``anthropic-beta`` value with commas), each once."""
    out: List[str] = []
    for group in groups:
        for item in group:
            for beta in str(item).split(","):
                beta = beta.strip()
                if beta and beta not in out:
                    out.append(beta)
    return out


def combine(env_headers: Sequence[Header], settings_headers: Sequence[Header]) -> Tuple[Header, ...]:
    """Settings headers, then the environment's; a name given by both keeps the environment's value."""
    return tuple(_last_wins(list(settings_headers) + list(env_headers)))


def apply(headers: List[Header], extra: Sequence[Header], betas: Sequence[str] = ()) -> List[Header]:
    """``headers`` (what a provider builds) with the extra headers laid over them: same-named headers
    replaced, ``anthropic-beta`` values merged with ``betas`` and the existing header into one."""
    if not extra and not betas:
        return headers
    names = {name.lower() for name, _ in extra if name.lower() != "anthropic-beta"}
    merged = merge_betas([v for n, v in headers if n.lower() == "anthropic-beta"], betas,
                         [v for n, v in extra if n.lower() == "anthropic-beta"])
    out = [(n, v) for n, v in headers if n.lower() not in names and n.lower() != "anthropic-beta"]
    out.extend((n, v) for n, v in extra if n.lower() != "anthropic-beta")
    if merged:
        out.append(("anthropic-beta", ",".join(merged)))
    return out


def looks_secret(name: str) -> bool:
    """A header whose value may be a credential (Authorization, X-Api-Key, X-Gateway-Token, Cookie...)."""
    return bool(_SECRET_NAME.search(name))


def describe(headers: Iterable[Header]) -> List[str]:
    """``Name: value`` lines safe to print: credential-looking values become ``[REDACTED]``."""
    from claw.redact import MARK, redact_text

    return [f"{name}: {MARK if looks_secret(name) else redact_text(value)}" for name, value in headers]


def secret_values(headers: Iterable[Header]) -> List[str]:
    """The credential-looking header values, for a redactor."""
    return [value for name, value in headers if looks_secret(name) and value]


def _checked(name: str, value: str, source: str) -> Header:
    if not name or not _TOKEN.match(name):
        raise ConfigError(f"{source}: {name[:60]!r} is not a valid header name",
                          hint="header names are letters, digits and - (e.g. X-Gateway-Team)")
    if name.lower() in REFUSED:
        raise ConfigError(
            f"{source}: claw will not send a custom {name!r} header: the HTTP layer sets it for each "
            "request, and another value would break the request",
            hint=f"remove {name} from {source}; to reach another host, set ANTHROPIC_BASE_URL "
                 "(or the proxy variables)")
    if any(c in value for c in "\r\n\0"):
        raise ConfigError(f"{source}: the value of {name!r} holds a line break",
                          hint="one header per line, its value on the same line")
    return name, value


def _last_wins(headers: List[Header]) -> List[Header]:
    """One header per name, the last value (``anthropic-beta`` values are all kept: they merge)."""
    out: List[Header] = []
    for name, value in headers:
        if name.lower() != "anthropic-beta":
            out = [(n, v) for n, v in out if n.lower() != name.lower()]
        out.append((name, value))
    return out
