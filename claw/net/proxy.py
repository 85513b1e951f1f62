"""Which proxy a request goes through: proxy URLs, NO_PROXY and the environment rules.

``ProxySettings.from_env`` reads ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY`` the way
curl does (either case, the upper-case name shadowing the lower-case one, an empty value meaning unset,
``ALL_PROXY`` when the scheme's own variable is unset), or takes explicit values from the settings file
(``network.proxy`` / ``network.noProxy``), which replace the environment. ``proxy_for(url)`` then says
which ``ProxyConfig`` a URL uses, or ``None`` for a direct connection.

Loopback destinations (``localhost``, ``*.localhost``, 127.0.0.0/8, ::1) bypass the proxy unless
``CLAW_PROXY_LOOPBACK=1``: a proxy cannot reach the user's own machine anyway.

This module only decides; it opens no sockets and resolves no names (a NO_PROXY IP or CIDR entry
matches IP-literal hosts only, as in curl). Proxy passwords are kept out of ``repr``, error messages
and ``redacted()``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Mapping, Optional, Tuple, Union
from urllib.parse import quote, unquote

from claw.errors import ConfigError
from claw.net.url import URL, redact_userinfo

PROXY_SCHEMES = ("http", "https", "socks5", "socks5h", "socks4", "socks4a")
PROXY_DEFAULT_PORTS = {
    "http": 80,
    "https": 443,
    "socks5": 1080,
    "socks5h": 1080,
    "socks4": 1080,
    "socks4a": 1080,
}
# Scheme spellings accepted as aliases (GNOME and some tools write socks://).
_SCHEME_ALIASES = {"socks": "socks5"}

SETTINGS_PROXY_SOURCE = "settings network.proxy"
SETTINGS_NO_PROXY_SOURCE = "settings network.noProxy"


@dataclass(frozen=True, repr=False)
class ProxyConfig:
    """One proxy server, with optional credentials (percent-decoded) and where it was configured."""

    scheme: str  # "http", "https", "socks5", "socks5h", "socks4", "socks4a"
    host: str  # lower-case; IPv6 without brackets
    port: int  # default 1080 for socks, 80 for http, 443 for https proxies
    username: Optional[str] = None
    password: Optional[str] = field(default=None, compare=True)
    source: str = "configuration"

    @property
    def is_socks(self) -> bool:
        return self.scheme.startswith("socks")

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def has_credentials(self) -> bool:
        return self.username is not None or self.password is not None

    def basic_auth_header(self) -> Optional[str]:
        """``Proxy-Authorization`` value ``Basic base64(user:pass)``, or None without credentials.

        Odd forms keep their meaning: ``user:@`` gives ``user:``, ``:pass@`` gives ``:pass``,
        ``user@`` gives ``user:``.
        """
        if not self.has_credentials:
            return None
        import base64

        raw = f"{self.username or ''}:{self.password or ''}".encode("utf-8")
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def redacted(self) -> str:
        """``scheme://user:***@host:port``: safe to print and log (the password never appears)."""
        userinfo = ""
        if self.has_credentials:
            userinfo = quote(self.username or "", safe="")
            if self.password is not None:
                userinfo += ":***"
            userinfo += "@"
        return f"{self.scheme}://{userinfo}{self.authority}"

    def __repr__(self) -> str:
        return f"ProxyConfig({self.redacted()!r}, source={self.source!r})"

    __str__ = redacted


def parse_proxy_url(text: str, source: str) -> ProxyConfig:
    """Parse a proxy URL (``[scheme://][user[:pass]@]host[:port][/]``); no scheme means ``http://``.

    Raises ``ConfigError`` naming ``source`` (the variable or setting) with the password hidden.
    """
    raw = text.strip()
    shown = repr(redact_userinfo(raw))
    if not raw:
        raise ConfigError(f"{source} is empty", hint=f"set {source} to a URL like http://proxy:3128")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in raw):
        raise ConfigError(
            f"{source} proxy URL {shown} contains spaces or control characters",
            hint="write it as scheme://[user:password@]host:port, percent-encoding special characters",
        )
    scheme = "http"
    rest = raw
    if "://" in raw:
        scheme, _, rest = raw.partition("://")
        scheme = scheme.lower()
        scheme = _SCHEME_ALIASES.get(scheme, scheme)
        if scheme not in PROXY_SCHEMES:
            raise ConfigError(
                f"{source} proxy URL {shown} has unsupported scheme {scheme!r}",
                hint="use one of: " + ", ".join(s + "://" for s in PROXY_SCHEMES),
            )
    # The authority ends at the first "/", "?" or "#"; a path after it is ignored, as in curl.
    end = len(rest)
    for sep in "/?#":
        pos = rest.find(sep)
        if pos >= 0:
            end = min(end, pos)
    authority = rest[:end]
    username: Optional[str] = None
    password: Optional[str] = None
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
        user_part, colon, pass_part = userinfo.partition(":")
        username = unquote(user_part)
        if colon:
            password = unquote(pass_part)
    host, port = _split_host_port(authority, source, shown, PROXY_DEFAULT_PORTS[scheme])
    return ProxyConfig(scheme, host, port, username, password, source)


def _split_host_port(authority: str, source: str, shown: str, default_port: int) -> Tuple[str, int]:
    port_text = ""
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise ConfigError(f"{source} proxy URL {shown} has an unclosed IPv6 bracket")
        host = authority[1:close]
        after = authority[close + 1:]
        if after:
            if not after.startswith(":"):
                raise ConfigError(f"{source} proxy URL {shown} has text after the IPv6 address")
            port_text = after[1:]
        try:
            host = ipaddress.IPv6Address(host).compressed
        except ValueError:
            raise ConfigError(f"{source} proxy URL {shown} has an invalid IPv6 address") from None
    else:
        host, colon, port_text = authority.rpartition(":")
        if not colon:
            host, port_text = authority, ""
    host = host.rstrip(".").lower()
    if not host:
        raise ConfigError(
            f"{source} proxy URL {shown} has no host",
            hint="write it as scheme://[user:password@]host:port",
        )
    if ":" in host and not authority.startswith("["):
        raise ConfigError(
            f"{source} proxy URL {shown} has an unbracketed IPv6 address or a stray ':'",
            hint="write IPv6 proxies as http://[::1]:3128",
        )
    if port_text == "":
        return host, default_port
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise ConfigError(
            f"{source} proxy URL {shown} has an invalid port {port_text!r}",
            hint="the port must be a number from 1 to 65535",
        )
    return host, int(port_text)


# --------------------------------------------------------------------------------------------------
# NO_PROXY

_Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@dataclass(frozen=True)
class NoProxyEntry:
    """One parsed NO_PROXY entry. ``text`` is the entry as the user wrote it."""

    text: str
    kind: str  # "all", "domain", "suffix", "ip", "cidr"
    value: str  # normalised domain / suffix / address text ("" for "all")
    port: Optional[int] = None  # only this port when set
    network: Optional[_Network] = field(default=None, compare=False)

    def matches(self, host: str, addr: Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]],
                port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.kind == "all":
            return True
        if self.kind in ("ip", "cidr"):
            return addr is not None and self.network is not None and addr in self.network
        if addr is not None:  # a name entry never matches an IP-literal host
            return False
        if self.kind == "domain":
            return host == self.value or host.endswith("." + self.value)
        # suffix ".example.com": its subdomains, and example.com itself (curl's rule)
        return host.endswith(self.value) or host == self.value[1:]


class NoProxy:
    """A parsed NO_PROXY list: ``*``, ``host`` (and its subdomains), ``.suffix``, ``*.suffix``,
    IPv4/IPv6 literal, CIDR, ``host:port`` / ``ip:port`` / ``[v6]:port`` (that port only).

    Entries are separated by commas and/or whitespace; matching is case-insensitive and ignores
    trailing dots. ``loopback=True`` also matches localhost, ``*.localhost``, 127.0.0.0/8 and ::1.
    Unparseable entries are kept in ``invalid`` (ignored for matching) so doctor can show them.
    """

    __slots__ = ("entries", "invalid", "loopback", "source")

    def __init__(self, entries: Tuple[NoProxyEntry, ...] = (), *, invalid: Tuple[str, ...] = (),
                 loopback: bool = False, source: str = "NO_PROXY") -> None:
        self.entries = tuple(entries)
        self.invalid = tuple(invalid)
        self.loopback = loopback
        self.source = source

    @classmethod
    def parse(cls, text: str, *, loopback: bool = False, source: str = "NO_PROXY") -> NoProxy:
        entries = []
        invalid = []
        for item in (text or "").replace(",", " ").split():
            entry = _parse_no_proxy_entry(item)
            if entry is None:
                invalid.append(item)
            else:
                entries.append(entry)
        return cls(tuple(entries), invalid=tuple(invalid), loopback=loopback, source=source)

    def match(self, host: str, port: int) -> Optional[str]:
        """The entry that sends ``host:port`` direct (as written, or ``"loopback"``), else None."""
        host = _normalise_host(host)
        addr = _ip_or_none(host)
        for entry in self.entries:
            if entry.matches(host, addr, port):
                return entry.text
        if self.loopback and _is_loopback(host, addr):
            return "loopback"
        return None

    def matches(self, host: str, port: int) -> bool:
        return self.match(host, port) is not None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NoProxy):
            return NotImplemented
        return (self.entries, self.loopback) == (other.entries, other.loopback)

    def __hash__(self) -> int:
        return hash((self.entries, self.loopback))

    def __repr__(self) -> str:
        text = ",".join(e.text for e in self.entries)
        return f"NoProxy({text!r}, loopback={self.loopback})"


def _normalise_host(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".")


def _ip_or_none(host: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    try:
        return ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return None


_LOOPBACK_V4 = ipaddress.ip_network("127.0.0.0/8")


def _is_loopback(host: str, addr: Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]) -> bool:
    if addr is None:
        return host == "localhost" or host.endswith(".localhost")
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if isinstance(addr, ipaddress.IPv4Address):
        return addr in _LOOPBACK_V4
    return addr == ipaddress.IPv6Address("::1")


def _parse_no_proxy_entry(item: str) -> Optional[NoProxyEntry]:
    text = item
    item = item.strip().lower()
    if item == "*":
        return NoProxyEntry(text, "all", "")
    port: Optional[int] = None
    # [v6]:port or [v6]
    if item.startswith("["):
        close = item.find("]")
        if close < 0:
            return None
        rest = item[close + 1:]
        if rest:
            if not rest.startswith(":") or not _is_port(rest[1:]):
                return None
            port = int(rest[1:])
        item = item[1:close]
        return _ip_entry(text, item, port)
    # a bare IPv6 address or CIDR (several colons)
    if item.count(":") > 1:
        return _ip_entry(text, item, None)
    if ":" in item:
        item, _, port_text = item.partition(":")
        if not _is_port(port_text):
            return None
        port = int(port_text)
    if "/" in item or _ip_or_none(item) is not None:
        return _ip_entry(text, item, port)
    if item.startswith("*."):
        item = item[1:]
    item = item.rstrip(".")
    if not item or item == "." or "*" in item or "/" in item:
        return None
    if item.startswith("."):
        return NoProxyEntry(text, "suffix", item, port)
    return NoProxyEntry(text, "domain", item, port)


def _ip_entry(text: str, item: str, port: Optional[int]) -> Optional[NoProxyEntry]:
    try:
        if "/" in item:
            network = ipaddress.ip_network(item, strict=False)
            return NoProxyEntry(text, "cidr", str(network), port, network)
        addr = ipaddress.ip_address(item)
    except ValueError:
        return None
    return NoProxyEntry(text, "ip", str(addr), port, ipaddress.ip_network(addr))


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and 0 < int(text) < 65536


# --------------------------------------------------------------------------------------------------
# Environment and settings


@dataclass(frozen=True)
class ProxyRoute:
    """How one URL is reached: through ``proxy``, or direct (with the NO_PROXY entry that decided)."""

    proxy: Optional[ProxyConfig]
    no_proxy_entry: Optional[str] = None

    def describe(self) -> str:
        if self.proxy is not None:
            return f"{self.proxy.redacted()} (from {self.proxy.source})"
        if self.no_proxy_entry is not None:
            return f"direct (NO_PROXY match: {self.no_proxy_entry})"
        return "direct"


def env_value(env: Mapping[str, str], name: str) -> Tuple[Optional[str], Optional[str]]:
    """``(value, variable)`` of ``NAME``/``name`` with curl's rule: the upper-case variable, when
    present, shadows the lower-case one even when empty; an empty value means unset (None)."""
    upper, lower = name.upper(), name.lower()
    if upper in env:
        value, var = env[upper], upper
    elif lower in env:
        value, var = env[lower], lower
    else:
        return None, None
    if value is None or not value.strip():
        return None, var
    return value, var


@dataclass(frozen=True)
class ProxySettings:
    """The proxies for https/wss and http/ws URLs, and the NO_PROXY list."""

    https: Optional[ProxyConfig]
    http: Optional[ProxyConfig]
    no_proxy: NoProxy

    @classmethod
    def direct(cls) -> ProxySettings:
        """No proxy at all (loopback bypass included, for completeness)."""
        return cls(None, None, NoProxy((), loopback=True))

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, proxy: Optional[str] = None,
                 no_proxy: Optional[str] = None) -> ProxySettings:
        """Resolve the proxies from ``env`` and the settings values ``network.proxy`` /
        ``network.noProxy`` (``proxy`` / ``no_proxy``: they replace the environment; "" means none).

        Raises ``ConfigError`` naming the variable or setting when a proxy URL is invalid.
        """
        if proxy is not None:
            if proxy.strip():
                one = parse_proxy_url(proxy, SETTINGS_PROXY_SOURCE)
                https, http = one, one
            else:
                https = http = None
        else:
            all_value, all_var = env_value(env, "ALL_PROXY")
            https = cls._from_var(env, "HTTPS_PROXY", all_value, all_var)
            http = cls._from_var(env, "HTTP_PROXY", all_value, all_var)
        loopback = (env.get("CLAW_PROXY_LOOPBACK") or "").strip() != "1"
        if no_proxy is not None:
            parsed = NoProxy.parse(no_proxy, loopback=loopback, source=SETTINGS_NO_PROXY_SOURCE)
        else:
            value, var = env_value(env, "NO_PROXY")
            parsed = NoProxy.parse(value or "", loopback=loopback, source=var or "NO_PROXY")
        return cls(https, http, parsed)

    @staticmethod
    def _from_var(env: Mapping[str, str], name: str, all_value: Optional[str],
                  all_var: Optional[str]) -> Optional[ProxyConfig]:
        value, var = env_value(env, name)
        if value is not None and var is not None:
            return parse_proxy_url(value, var)
        if all_value is not None and all_var is not None:
            return parse_proxy_url(all_value, all_var)
        return None

    def route(self, url: URL) -> ProxyRoute:
        """The proxy for ``url``, or direct with the reason (the matching NO_PROXY entry)."""
        proxy = self.https if url.is_tls else self.http
        if proxy is None:
            return ProxyRoute(None)
        entry = self.no_proxy.match(url.host, url.port)
        if entry is not None:
            return ProxyRoute(None, entry)
        return ProxyRoute(proxy)

    def proxy_for(self, url: URL) -> Optional[ProxyConfig]:
        """https/wss URLs use ``https``, http/ws use ``http``; None when direct."""
        return self.route(url).proxy
