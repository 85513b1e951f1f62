"""What ``web_fetch`` and ``web_search`` share: the HTTP client, URL checks, bounded body reads,
domain matching and charset detection.

Every request goes through ``claw.net.http.HttpClient`` (the one connection factory: proxies, NO_PROXY,
CA bundles apply). The client comes from ``ctx.http_client_factory`` when the caller provides one, else
it is built from ``ctx.net_config`` or ``NetConfig.from_env(ctx.env)`` and closed after the call.

It does not follow redirects, convert HTML or format results (the tools do).
"""

from __future__ import annotations

import ipaddress
import re
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Iterable, Optional, Tuple
from urllib.parse import urlsplit

from claw.tools.base import ToolContext

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@asynccontextmanager
async def http_client(ctx: ToolContext) -> AsyncIterator[Any]:
    """The HttpClient to use for one tool call."""
    if ctx.http_client_factory is not None:
        client = ctx.http_client_factory()
        # a factory may hand out a shared client: the caller that owns it closes it
        yield client
        return
    from claw.net.config import NetConfig
    from claw.net.http import HttpClient

    config = ctx.net_config if ctx.net_config is not None else NetConfig.from_env(ctx.env)
    client = HttpClient(config)
    try:
        yield client
    finally:
        await client.aclose()


def is_loopback_host(host: str) -> bool:
    host = host.lower().strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(text: str) -> Tuple[str, str]:
    """(scheme, host) of an absolute http(s) URL; ValueError with a readable reason otherwise."""
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"only http:// and https:// URLs can be fetched, not {text!r}")
    if not parts.hostname:
        raise ValueError(f"the URL {text!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("URLs with user:password@ credentials are not fetched")
    return scheme, parts.hostname.lower()


def normalise_domain(domain: str) -> str:
    """``https://Example.com/x`` -> ``example.com``; ``*.example.com`` -> ``example.com``."""
    text = domain.strip().lower()
    if "://" in text:
        text = urlsplit(text).hostname or ""
    text = text.split("/", 1)[0]
    if text.startswith("*."):
        text = text[2:]
    return text.lstrip(".").rstrip(".")


def host_in_domains(host: str, domains: Iterable[str]) -> bool:
    """True when ``host`` is one of ``domains`` or a subdomain of one."""
    host = host.lower().rstrip(".")
    for domain in domains:
        d = normalise_domain(domain)
        if d and (host == d or host.endswith("." + d)):
            return True
    return False


async def read_limited(response: Any, limit: int) -> Tuple[bytes, bool]:
    """Up to ``limit`` bytes of the (decoded) body and whether more was left unread."""
    parts = []
    size = 0
    truncated = False
    async for chunk in response.iter_bytes():
        room = limit - size
        if len(chunk) > room:
            parts.append(chunk[:room])
            size = limit
            truncated = True
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts), truncated


def content_type(response: Any) -> Tuple[str, Optional[str]]:
    """(media type, charset) from Content-Type."""
    raw = response.header("content-type") or ""
    media, _, params = raw.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    return media.strip().lower(), charset


def decode_body(body: bytes, charset: Optional[str], *, html: bool = False) -> str:
    if charset is None and html:
        found = _META_CHARSET.search(body[:4096])
        if found:
            charset = found.group(1).decode("ascii", "replace")
    if charset is None and body.startswith(b"\xef\xbb\xbf"):
        charset = "utf-8-sig"
    try:
        return body.decode(charset or "utf-8", "replace")
    except LookupError:
        return body.decode("utf-8", "replace")
