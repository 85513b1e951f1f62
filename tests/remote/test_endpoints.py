"""WebSocket and CA endpoint derivation from the base URL (table-driven)."""

from __future__ import annotations

import pytest

from claw.remote.endpoints import ca_cert_url, upstream_proxy_ws_url


@pytest.mark.parametrize("base, expected", [
    ("https://api.anthropic.com", "wss://api.anthropic.com/v1/code/upstreamproxy/ws"),
    ("https://api.anthropic.com/", "wss://api.anthropic.com/v1/code/upstreamproxy/ws"),
    ("https://api.anthropic.com///", "wss://api.anthropic.com/v1/code/upstreamproxy/ws"),
    ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/v1/code/upstreamproxy/ws"),
    ("http://127.0.0.1:8080/", "ws://127.0.0.1:8080/v1/code/upstreamproxy/ws"),
    ("api.example.com", "wss://api.example.com/v1/code/upstreamproxy/ws"),
    ("api.example.com:8443/", "wss://api.example.com:8443/v1/code/upstreamproxy/ws"),
    ("https://gw.corp/anthropic", "wss://gw.corp/anthropic/v1/code/upstreamproxy/ws"),
    ("https://gw.corp/anthropic/", "wss://gw.corp/anthropic/v1/code/upstreamproxy/ws"),
    ("HTTPS://Upper.Example", "wss://Upper.Example/v1/code/upstreamproxy/ws"),
    ("  https://spaced.example  ", "wss://spaced.example/v1/code/upstreamproxy/ws"),
    ("https://[::1]:9000", "wss://[::1]:9000/v1/code/upstreamproxy/ws"),
    ("wss://already.ws", "wss://already.ws/v1/code/upstreamproxy/ws"),
    ("", "wss://api.anthropic.com/v1/code/upstreamproxy/ws"),
])
def test_ws_url(base, expected):
    assert upstream_proxy_ws_url(base) == expected


@pytest.mark.parametrize("base, expected", [
    ("https://api.anthropic.com/", "https://api.anthropic.com/v1/code/upstreamproxy/ca-cert"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1/code/upstreamproxy/ca-cert"),
    ("api.example.com", "https://api.example.com/v1/code/upstreamproxy/ca-cert"),
    ("https://gw.corp/anthropic//", "https://gw.corp/anthropic/v1/code/upstreamproxy/ca-cert"),
])
def test_ca_url(base, expected):
    assert ca_cert_url(base) == expected
