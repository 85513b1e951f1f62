"""The remote session's HTTP and WebSocket endpoints, derived from its base URL (pure string work).

- ``upstream_proxy_ws_url(base)``: ``https://`` becomes ``wss://``, ``http://`` becomes ``ws://``, a
  base without a scheme is taken as ``wss://``, trailing ``/`` are trimmed, then
  ``/v1/code/upstreamproxy/ws`` is appended (the WebSocket every relay tunnel opens);
- ``ca_cert_url(base)``: the same base as ``http(s)://`` plus ``/v1/code/upstreamproxy/ca-cert`` (the
  session CA, fetched once at start-up).

It does not validate host names or ports (the connection factory reports those when it connects) and
opens nothing.
"""

from __future__ import annotations

DEFAULT_BASE_URL = "https://api.anthropic.com"
UPSTREAM_PROXY_WS_PATH = "/v1/code/upstreamproxy/ws"
CA_CERT_PATH = "/v1/code/upstreamproxy/ca-cert"

_WS_SCHEMES = (("https://", "wss://"), ("http://", "ws://"), ("wss://", "wss://"), ("ws://", "ws://"))
_HTTP_SCHEMES = (("https://", "https://"), ("http://", "http://"), ("wss://", "https://"),
                 ("ws://", "http://"))


def _convert(base_url: str, table, default_scheme: str) -> str:
    base = (base_url or "").strip().rstrip("/")
    if not base:
        base = DEFAULT_BASE_URL
    lower = base.lower()
    for prefix, replacement in table:
        if lower.startswith(prefix):
            return replacement + base[len(prefix):]
    return default_scheme + base


def websocket_base(base_url: str) -> str:
    """``base_url`` with a WebSocket scheme and no trailing slash."""
    return _convert(base_url, _WS_SCHEMES, "wss://")


def http_base(base_url: str) -> str:
    """``base_url`` with an HTTP scheme (no scheme -> https) and no trailing slash."""
    return _convert(base_url, _HTTP_SCHEMES, "https://")


def upstream_proxy_ws_url(base_url: str) -> str:
    """The upstream-proxy WebSocket endpoint of the session whose API base is ``base_url``."""
    return websocket_base(base_url) + UPSTREAM_PROXY_WS_PATH


def ca_cert_url(base_url: str) -> str:
    """The session CA certificate endpoint of the session whose API base is ``base_url``."""
    return http_base(base_url) + CA_CERT_PATH
