"""claw.net.url: parsing request URLs into scheme/host/port/target."""

from __future__ import annotations

import pytest

from claw.net.url import URL, parse_url, redact_userinfo


@pytest.mark.parametrize(
    "text, scheme, host, port, target",
    [
        ("https://api.anthropic.com", "https", "api.anthropic.com", 443, "/"),
        ("https://api.anthropic.com/", "https", "api.anthropic.com", 443, "/"),
        ("HTTPS://API.Anthropic.COM/v1/messages", "https", "api.anthropic.com", 443, "/v1/messages"),
        ("http://localhost:8080/v1?beta=true", "http", "localhost", 8080, "/v1?beta=true"),
        ("http://example.com:80/", "http", "example.com", 80, "/"),
        ("ws://127.0.0.1:9/socket", "ws", "127.0.0.1", 9, "/socket"),
        ("wss://relay.example.com/ws", "wss", "relay.example.com", 443, "/ws"),
        ("http://[::1]:8000/x", "http", "::1", 8000, "/x"),
        ("https://[2001:DB8:0::1]/", "https", "2001:db8::1", 443, "/"),
        ("https://example.com./p", "https", "example.com", 443, "/p"),
        ("https://example.com/a#frag", "https", "example.com", 443, "/a"),
        ("https://example.com?q=1", "https", "example.com", 443, "/?q=1"),
        ("https://example.com:/", "https", "example.com", 443, "/"),
        ("  https://example.com/  ", "https", "example.com", 443, "/"),
        ("https://bücher.example/", "https", "xn--bcher-kva.example", 443, "/"),
    ],
)
def test_parse(text, scheme, host, port, target):
    url = parse_url(text)
    assert (url.scheme, url.host, url.port, url.target) == (scheme, host, port, target)


def test_target_is_percent_encoded_but_escapes_kept():
    assert parse_url("https://h/a b/ü?x=%20y z").target == "/a%20b/%C3%BC?x=%20y%20z"


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "empty"),
        ("api.anthropic.com", "no scheme"),
        ("ftp://example.com/", "unsupported scheme"),
        ("https://", "no host"),
        ("https://:443/", "no host"),
        ("https://example.com:99999/", "out of range"),
        ("https://example.com:0/", "out of range"),
        ("https://example.com:abc/", "invalid port"),
        ("https://[::1/", "IPv6"),
        ("https://[zz::1]/", "zz::1"),
        ("https://user:secret@example.com/", "user information"),
        ("https://exa mple.com/", "invalid characters"),
        ("https://example.com/a\nb", "control characters"),
    ],
)
def test_rejects_with_readable_message(text, words):
    with pytest.raises(ValueError) as info:
        parse_url(text)
    assert words in str(info.value)


def test_error_never_echoes_a_password():
    with pytest.raises(ValueError) as info:
        parse_url("https://user:hunter2@example.com/")
    assert "hunter2" not in str(info.value)
    assert "***@example.com" in str(info.value)


@pytest.mark.parametrize(
    "text, host_header, origin, authority",
    [
        ("https://a.example/", "a.example", "https://a.example", "a.example:443"),
        ("https://a.example:8443/", "a.example:8443", "https://a.example:8443", "a.example:8443"),
        ("http://a.example:443/", "a.example:443", "http://a.example:443", "a.example:443"),
        ("ws://[::1]/", "[::1]", "ws://[::1]", "[::1]:80"),
        ("wss://[::1]:9000/", "[::1]:9000", "wss://[::1]:9000", "[::1]:9000"),
    ],
)
def test_host_header_origin_authority(text, host_header, origin, authority):
    url = parse_url(text)
    assert url.host_header == host_header
    assert url.origin == origin
    assert url.authority == authority


def test_is_tls():
    assert parse_url("https://x/").is_tls and parse_url("wss://x/").is_tls
    assert not parse_url("http://x/").is_tls and not parse_url("ws://x/").is_tls


def test_with_target_and_str():
    url = parse_url("https://api.example.com:8443/base")
    other = url.with_target("/v1/messages?beta=true")
    assert other == URL("https", "api.example.com", 8443, "/v1/messages?beta=true")
    assert url.with_target("v1").target == "/v1"
    assert url.with_target("").target == "/"
    assert str(other) == "https://api.example.com:8443/v1/messages?beta=true"


def test_url_is_hashable_and_frozen():
    url = parse_url("https://x/")
    assert {url: 1}[parse_url("https://X:443/")] == 1
    with pytest.raises(Exception):
        url.host = "y"  # type: ignore[misc]


@pytest.mark.parametrize(
    "text, shown",
    [
        ("http://u:p@h:1/x@y", "http://***@h:1/x@y"),
        ("u:p@h", "***@h"),
        ("http://h/", "http://h/"),
        ("http://a@b@h", "http://***@h"),
    ],
)
def test_redact_userinfo(text, shown):
    assert redact_userinfo(text) == shown
