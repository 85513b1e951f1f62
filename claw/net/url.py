"""Parsed request URLs: the one shape every connection in claw is opened from.

``parse_url`` turns ``https://host[:port]/path?query`` (and ``http``, ``ws``, ``wss``) into a frozen
``URL`` with a lower-case scheme and host, an explicit port and a request target ready for the wire
(unsafe characters percent-encoded, the fragment dropped). Non-ASCII host names are IDNA-encoded.

It deliberately does not accept user information (``user:pass@``): credentials never travel inside
a request URL in claw (proxy credentials are parsed by ``claw.net.proxy``). It does not resolve names,
join relative references or normalise paths (``..`` stays as written, as servers expect).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
TLS_SCHEMES = ("https", "wss")

# Characters left as they are in a request target; everything else (spaces, controls, non-ASCII)
# is percent-encoded. Existing %XX escapes are kept (the same rule as requests' requote_uri).
_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~"


@dataclass(frozen=True)
class URL:
    """An absolute http/https/ws/wss URL split into the parts a connection needs."""

    scheme: str  # lower-case: http, https, ws, wss
    host: str  # lower-case; IPv6 without brackets
    port: int  # explicit or the scheme default (80/443)
    target: str  # path + "?" + query, at least "/"

    @property
    def is_tls(self) -> bool:
        return self.scheme in TLS_SCHEMES

    @property
    def default_port(self) -> int:
        return DEFAULT_PORTS[self.scheme]

    @property
    def bracketed_host(self) -> str:
        """The host as written in a URL authority: IPv6 literals in brackets."""
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def host_header(self) -> str:
        """The ``Host`` header value: ``host`` or ``host:port`` when the port is not the default."""
        if self.port == self.default_port:
            return self.bracketed_host
        return f"{self.bracketed_host}:{self.port}"

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` (no path), e.g. ``https://api.anthropic.com``."""
        return f"{self.scheme}://{self.host_header}"

    @property
    def authority(self) -> str:
        """``host:port`` with the port always present: the target of an HTTP CONNECT."""
        return f"{self.bracketed_host}:{self.port}"

    def with_target(self, target: str) -> URL:
        """The same origin with another request target (``/v1/messages?beta=true``)."""
        return URL(self.scheme, self.host, self.port, _normalise_target(target))

    def __str__(self) -> str:
        return self.origin + self.target


def parse_url(text: str) -> URL:
    """Parse an absolute http(s)/ws(s) URL; raise ``ValueError`` saying what is wrong with it."""
    if not isinstance(text, str):
        raise ValueError(f"a URL must be a string, not {type(text).__name__}")
    raw = text.strip()
    if not raw:
        raise ValueError("empty URL")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise ValueError(f"URL {_show(raw)} contains control characters")
    if "://" not in raw:
        raise ValueError(f"URL {_show(raw)} has no scheme: write it as https://{raw}")
    try:
        parts = urlsplit(raw)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL"
        raise ValueError(f"invalid URL {_show(raw)}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(
            f"URL {_show(raw)} has unsupported scheme {scheme!r}: use http, https, ws or wss"
        )
    netloc = parts.netloc
    if "@" in netloc:
        raise ValueError(
            f"URL {_show(raw)} contains user information (user@host), which is not allowed here"
        )
    host = _parse_host(netloc, raw)
    port = _parse_port(netloc, raw, DEFAULT_PORTS[scheme])
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return URL(scheme, host, port, _normalise_target(target))


def _parse_host(netloc: str, raw: str) -> str:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise ValueError(f"URL {_show(raw)} has an unclosed IPv6 bracket")
        literal = netloc[1:end]
        zone = ""
        if "%" in literal:  # fe80::1%eth0 (RFC 6874 writes it %25eth0)
            literal, _, zone = literal.partition("%")
            zone = zone[2:] if zone.startswith("25") else zone
        try:
            addr = ipaddress.IPv6Address(literal)
        except ValueError:
            raise ValueError(f"URL {_show(raw)} has an invalid IPv6 address [{literal}]") from None
        return addr.compressed + (f"%{zone}" if zone else "")
    host = netloc.rpartition(":")[0] if ":" in netloc else netloc
    if not host:
        raise ValueError(f"URL {_show(raw)} has no host")
    host = host.rstrip(".") if host != "." else host
    if not host:
        raise ValueError(f"URL {_show(raw)} has no host")
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"URL {_show(raw)} has an invalid host name {host!r}") from None
    host = host.lower()
    bad = set(host) - set("abcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=%")
    if bad:
        raise ValueError(
            f"URL {_show(raw)} has invalid characters in its host: {''.join(sorted(bad))!r}"
        )
    return host


def _parse_port(netloc: str, raw: str, default: int) -> int:
    tail = netloc[netloc.find("]") + 1:] if netloc.startswith("[") else netloc
    if ":" not in tail:
        if tail and netloc.startswith("["):
            raise ValueError(f"URL {_show(raw)} has text after the IPv6 address")
        return default
    text = tail.rpartition(":")[2]
    if text == "":
        return default
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"URL {_show(raw)} has an invalid port {text!r}")
    port = int(text)
    if not 0 < port < 65536:
        raise ValueError(f"URL {_show(raw)} has port {port} out of range 1-65535")
    return port


def _normalise_target(target: str) -> str:
    if not target:
        return "/"
    if not target.startswith("/"):
        target = "/" + target
    return quote(target, safe=_TARGET_SAFE)


def redact_userinfo(text: str) -> str:
    """``text`` with any ``user:pass@`` in its authority replaced by ``***@``: safe to show."""
    start = text.find("://")
    start = start + 3 if start >= 0 else 0
    end = len(text)
    for sep in "/?#":
        pos = text.find(sep, start)
        if pos >= 0:
            end = min(end, pos)
    at = text.rfind("@", start, end)
    if at < 0:
        return text
    return text[:start] + "***" + text[at:]


def _show(text: str, limit: int = 200) -> str:
    """A URL for an error message: credentials hidden, quoted, and cut when very long."""
    text = redact_userinfo(text)
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)
