"""claw.net.proxy: proxy URLs, NO_PROXY matching and the environment / settings precedence."""

from __future__ import annotations

import base64

import pytest

from claw.errors import ConfigError
from claw.net.proxy import NoProxy, ProxyConfig, ProxySettings, parse_proxy_url
from claw.net.url import parse_url

# --------------------------------------------------------------------------------------------------
# Proxy URLs


@pytest.mark.parametrize(
    "text, scheme, host, port, user, password",
    [
        ("http://proxy:3128", "http", "proxy", 3128, None, None),
        ("http://proxy:3128/", "http", "proxy", 3128, None, None),
        ("proxy:3128", "http", "proxy", 3128, None, None),
        ("proxy", "http", "proxy", 80, None, None),
        ("PROXY.Corp.Example.", "http", "proxy.corp.example", 80, None, None),
        ("https://proxy", "https", "proxy", 443, None, None),
        ("HTTPS://proxy:8443", "https", "proxy", 8443, None, None),
        ("socks5://127.0.0.1", "socks5", "127.0.0.1", 1080, None, None),
        ("socks5h://s:9050", "socks5h", "s", 9050, None, None),
        ("socks4://s", "socks4", "s", 1080, None, None),
        ("socks4a://s:1", "socks4a", "s", 1, None, None),
        ("socks://s:1081", "socks5", "s", 1081, None, None),
        ("http://[::1]:3128", "http", "::1", 3128, None, None),
        ("http://[2001:db8::1]", "http", "2001:db8::1", 80, None, None),
        ("http://user:pass@proxy:3128", "http", "proxy", 3128, "user", "pass"),
        ("http://us%40er:p%3Ass%2F@proxy:1", "http", "proxy", 1, "us@er", "p:ss/"),
        ("http://user:p@ss@proxy:1", "http", "proxy", 1, "user", "p@ss"),
        ("http://user:a:b@proxy:1", "http", "proxy", 1, "user", "a:b"),
        ("http://user:@proxy:1", "http", "proxy", 1, "user", ""),
        ("http://:pass@proxy:1", "http", "proxy", 1, "", "pass"),
        ("http://user@proxy:1", "http", "proxy", 1, "user", None),
        ("user:pass@proxy:8080", "http", "proxy", 8080, "user", "pass"),
        ("http://DOMAIN%5Cuser:pw@proxy", "http", "proxy", 80, "DOMAIN\\user", "pw"),
    ],
)
def test_parse_proxy_url(text, scheme, host, port, user, password):
    p = parse_proxy_url(text, "HTTPS_PROXY")
    assert (p.scheme, p.host, p.port, p.username, p.password) == (scheme, host, port, user, password)
    assert p.source == "HTTPS_PROXY"


@pytest.mark.parametrize(
    "text, words",
    [
        ("ftp://proxy:21", "unsupported scheme"),
        ("http://:3128", "no host"),
        ("http://user:secret@:3128", "no host"),
        ("http://proxy:notaport", "invalid port"),
        ("http://user:secret@proxy:99999", "invalid port"),
        ("http://proxy:0", "invalid port"),
        ("http://[::1", "IPv6"),
        ("http://[nope]:1", "IPv6"),
        ("http://::1:3128", "IPv6"),
        ("http://user:secret@pro xy:1", "spaces"),
    ],
)
def test_bad_proxy_url_names_variable_and_hides_password(text, words):
    with pytest.raises(ConfigError) as info:
        parse_proxy_url(text, "HTTPS_PROXY")
    err = info.value
    assert err.message.startswith("HTTPS_PROXY")
    assert words in err.message
    assert "secret" not in err.message and "secret" not in (err.hint or "")
    assert err.exit_code == 2


@pytest.mark.parametrize(
    "text, header",
    [
        ("http://user:pass@p", "user:pass"),
        ("http://user:@p", "user:"),
        ("http://user@p", "user:"),
        ("http://:pass@p", ":pass"),
        ("http://us%40er:p%C3%A4ss@p", "us@er:päss"),
    ],
)
def test_basic_auth_header(text, header):
    value = parse_proxy_url(text, "X").basic_auth_header()
    assert value is not None and value.startswith("Basic ")
    assert base64.b64decode(value[6:]).decode("utf-8") == header


def test_no_credentials_no_header():
    assert parse_proxy_url("http://p:1", "X").basic_auth_header() is None


@pytest.mark.parametrize(
    "text, shown",
    [
        ("http://user:secret@proxy:3128", "http://user:***@proxy:3128"),
        ("http://user:@proxy:3128", "http://user:***@proxy:3128"),
        ("http://user@proxy:3128", "http://user@proxy:3128"),
        ("http://:secret@proxy", "http://:***@proxy:80"),
        ("socks5://[::1]:1080", "socks5://[::1]:1080"),
        ("http://us%40er:secret@p:1", "http://us%40er:***@p:1"),
    ],
)
def test_redacted_and_repr_never_show_password(text, shown):
    p = parse_proxy_url(text, "HTTPS_PROXY")
    assert p.redacted() == shown
    assert str(p) == shown
    assert "secret" not in repr(p)
    assert "secret" not in repr(ProxySettings(p, p, NoProxy()))


# --------------------------------------------------------------------------------------------------
# NO_PROXY

NO_PROXY_TABLE = [
    # (NO_PROXY value, host, port, expected entry or None)
    ("*", "anything.example", 443, "*"),
    ("*", "10.1.2.3", 80, "*"),
    ("example.com", "example.com", 443, "example.com"),
    ("example.com", "api.example.com", 443, "example.com"),
    ("example.com", "a.b.example.com", 443, "example.com"),
    ("example.com", "notexample.com", 443, None),
    ("example.com", "example.com.evil.net", 443, None),
    ("example.com", "example.org", 443, None),
    (".example.com", "api.example.com", 443, ".example.com"),
    (".example.com", "example.com", 443, ".example.com"),
    (".example.com", "badexample.com", 443, None),
    ("*.example.com", "api.example.com", 443, "*.example.com"),
    ("*.example.com", "xexample.com", 443, None),
    ("EXAMPLE.COM", "Api.Example.Com", 443, "EXAMPLE.COM"),
    ("example.com.", "api.example.com", 443, "example.com."),
    ("example.com", "api.example.com.", 443, "example.com"),
    ("10.0.0.5", "10.0.0.5", 443, "10.0.0.5"),
    ("10.0.0.5", "10.0.0.50", 443, None),
    ("10.0.0.5", "ten.example", 443, None),
    ("10.0.0.0/8", "10.200.3.4", 443, "10.0.0.0/8"),
    ("10.0.0.0/8", "11.0.0.1", 443, None),
    ("192.168.1.7/24", "192.168.1.200", 443, "192.168.1.7/24"),
    ("2001:db8::1", "2001:db8::1", 443, "2001:db8::1"),
    ("2001:db8::1", "2001:db8:0:0::1", 443, "2001:db8::1"),
    ("[2001:db8::1]", "2001:db8::1", 443, "[2001:db8::1]"),
    ("2001:db8::/32", "2001:db8:ffff::5", 443, "2001:db8::/32"),
    ("2001:db8::/32", "2001:db9::5", 443, None),
    ("fd00::/8", "[fd12::1]", 443, "fd00::/8"),
    ("gateway.internal:8443", "gateway.internal", 8443, "gateway.internal:8443"),
    ("gateway.internal:8443", "gateway.internal", 443, None),
    ("gateway.internal:8443", "api.gateway.internal", 8443, "gateway.internal:8443"),
    ("10.1.1.1:8080", "10.1.1.1", 8080, "10.1.1.1:8080"),
    ("10.1.1.1:8080", "10.1.1.1", 80, None),
    ("[::1]:9000", "::1", 9000, "[::1]:9000"),
    ("[2001:db8::2]:9000", "2001:db8::2", 9001, None),
    ("a.example,b.example", "b.example", 443, "b.example"),
    ("a.example b.example", "b.example", 443, "b.example"),
    (" a.example , ,\tb.example\n", "b.example", 443, "b.example"),
    ("a.example,,b.example", "c.example", 443, None),
    ("", "example.com", 443, None),
    ("example.com", "127.0.0.1", 443, None),
]


@pytest.mark.parametrize("value, host, port, expected", NO_PROXY_TABLE)
def test_no_proxy_table(value, host, port, expected):
    no_proxy = NoProxy.parse(value)
    assert no_proxy.match(host, port) == expected
    assert no_proxy.matches(host, port) == (expected is not None)


@pytest.mark.parametrize(
    "host, port, expected",
    [
        ("localhost", 8080, "loopback"),
        ("LOCALHOST.", 8080, "loopback"),
        ("api.localhost", 80, "loopback"),
        ("127.0.0.1", 11434, "loopback"),
        ("127.1.2.3", 1, "loopback"),
        ("::1", 443, "loopback"),
        ("[::1]", 443, "loopback"),
        ("::ffff:127.0.0.1", 443, "loopback"),
        ("128.0.0.1", 443, None),
        ("localhost.example.com", 443, None),
        ("mylocalhost", 443, None),
    ],
)
def test_loopback_bypass(host, port, expected):
    assert NoProxy.parse("", loopback=True).match(host, port) == expected
    assert NoProxy.parse("", loopback=False).match(host, port) is None


def test_invalid_entries_are_kept_for_reporting_and_ignored():
    no_proxy = NoProxy.parse("good.example,10.0.0.0/99,host:notaport,[::1,ok.example")
    assert [e.text for e in no_proxy.entries] == ["good.example", "ok.example"]
    assert no_proxy.invalid == ("10.0.0.0/99", "host:notaport", "[::1")
    assert not no_proxy.matches("10.0.0.1", 80)


# --------------------------------------------------------------------------------------------------
# Environment precedence

HTTPS_URL = parse_url("https://api.anthropic.com/v1/messages")
HTTP_URL = parse_url("http://models.example/v1")
WSS_URL = parse_url("wss://relay.example/ws")
WS_URL = parse_url("ws://relay.example/ws")

PRECEDENCE_TABLE = [
    # (env, settings proxy, expected https proxy (host, source), expected http proxy (host, source))
    ({}, None, None, None),
    ({"HTTPS_PROXY": "http://up:1"}, None, ("up", "HTTPS_PROXY"), None),
    ({"https_proxy": "http://low:1"}, None, ("low", "https_proxy"), None),
    ({"HTTPS_PROXY": "http://up:1", "https_proxy": "http://low:1"}, None, ("up", "HTTPS_PROXY"), None),
    # an empty upper-case variable shadows the lower-case one (and means "unset")
    ({"HTTPS_PROXY": "", "https_proxy": "http://low:1"}, None, None, None),
    ({"HTTPS_PROXY": "  ", "https_proxy": "http://low:1"}, None, None, None),
    ({"HTTP_PROXY": "http://h:1"}, None, None, ("h", "HTTP_PROXY")),
    ({"http_proxy": "http://h:1", "HTTP_PROXY": "http://H:2"}, None, None, ("h", "HTTP_PROXY")),
    # ALL_PROXY applies when the scheme's own variable is unset (curl)
    ({"ALL_PROXY": "socks5h://s:1"}, None, ("s", "ALL_PROXY"), ("s", "ALL_PROXY")),
    ({"all_proxy": "socks5://s:1"}, None, ("s", "all_proxy"), ("s", "all_proxy")),
    ({"ALL_PROXY": "http://a:1", "all_proxy": "http://b:1"}, None, ("a", "ALL_PROXY"), ("a", "ALL_PROXY")),
    ({"ALL_PROXY": "http://a:1", "HTTPS_PROXY": "http://x:1"}, None, ("x", "HTTPS_PROXY"), ("a", "ALL_PROXY")),
    ({"ALL_PROXY": "http://a:1", "HTTPS_PROXY": ""}, None, ("a", "ALL_PROXY"), ("a", "ALL_PROXY")),
    ({"ALL_PROXY": "", "all_proxy": "http://b:1"}, None, None, None),
    # settings network.proxy replaces the environment for both schemes; "" means no proxy
    ({"HTTPS_PROXY": "http://env:1"}, "http://set:2", ("set", "settings network.proxy"),
     ("set", "settings network.proxy")),
    ({"HTTPS_PROXY": "http://env:1", "ALL_PROXY": "http://a:1"}, "", None, None),
    ({}, "   ", None, None),
]


@pytest.mark.parametrize("env, setting, https, http", PRECEDENCE_TABLE)
def test_precedence(env, setting, https, http):
    settings = ProxySettings.from_env(env, proxy=setting)
    got_https = (settings.https.host, settings.https.source) if settings.https else None
    got_http = (settings.http.host, settings.http.source) if settings.http else None
    assert (got_https, got_http) == (https, http)


def test_proxy_for_picks_by_scheme():
    settings = ProxySettings.from_env({"HTTPS_PROXY": "http://s:1", "HTTP_PROXY": "http://p:2"})
    assert settings.proxy_for(HTTPS_URL).host == "s"
    assert settings.proxy_for(WSS_URL).host == "s"
    assert settings.proxy_for(HTTP_URL).host == "p"
    assert settings.proxy_for(WS_URL).host == "p"


NO_PROXY_ENV_TABLE = [
    # (env, settings noProxy, url, expected route description)
    ({"NO_PROXY": "anthropic.com"}, None, HTTPS_URL, "direct (NO_PROXY match: anthropic.com)"),
    ({"no_proxy": "anthropic.com"}, None, HTTPS_URL, "direct (NO_PROXY match: anthropic.com)"),
    ({"NO_PROXY": "other.com", "no_proxy": "anthropic.com"}, None, HTTPS_URL, "proxy"),
    ({"NO_PROXY": "", "no_proxy": "anthropic.com"}, None, HTTPS_URL, "proxy"),
    ({"NO_PROXY": "anthropic.com"}, "", HTTPS_URL, "proxy"),
    ({"NO_PROXY": "other.com"}, "api.anthropic.com", HTTPS_URL,
     "direct (NO_PROXY match: api.anthropic.com)"),
    ({}, None, parse_url("http://localhost:11434/v1"), "direct (NO_PROXY match: loopback)"),
    ({}, None, parse_url("https://127.0.0.1:8443/"), "direct (NO_PROXY match: loopback)"),
    ({}, None, parse_url("http://[::1]:8080/"), "direct (NO_PROXY match: loopback)"),
    ({"CLAW_PROXY_LOOPBACK": "1"}, None, parse_url("http://127.0.0.1:8080/"), "proxy"),
    ({"CLAW_PROXY_LOOPBACK": "1", "NO_PROXY": "127.0.0.1"}, None, parse_url("http://127.0.0.1:8/"),
     "direct (NO_PROXY match: 127.0.0.1)"),
]


@pytest.mark.parametrize("extra_env, setting, url, expected", NO_PROXY_ENV_TABLE)
def test_no_proxy_from_env_and_settings(extra_env, setting, url, expected):
    env = {"HTTPS_PROXY": "http://u:secret@proxy:3128", "HTTP_PROXY": "http://proxy:3128"}
    env.update(extra_env)
    settings = ProxySettings.from_env(env, no_proxy=setting)
    route = settings.route(url)
    if expected == "proxy":
        assert route.proxy is not None and route.proxy.host == "proxy"
        assert settings.proxy_for(url) == route.proxy
        assert "secret" not in route.describe()
    else:
        assert route.proxy is None and settings.proxy_for(url) is None
        assert route.describe() == expected


def test_direct_when_nothing_is_set():
    route = ProxySettings.from_env({}).route(HTTPS_URL)
    assert route.proxy is None and route.describe() == "direct"


def test_bad_env_proxy_names_the_variable():
    with pytest.raises(ConfigError) as info:
        ProxySettings.from_env({"https_proxy": "ftp://u:secret@p:1"})
    assert info.value.message.startswith("https_proxy ")
    assert "secret" not in info.value.message
    with pytest.raises(ConfigError) as info:
        ProxySettings.from_env({}, proxy="http://u:secret@:1")
    assert info.value.message.startswith("settings network.proxy ")
    assert "secret" not in info.value.message


def test_bad_proxy_in_unused_lowercase_variable_is_shadowed():
    settings = ProxySettings.from_env({"HTTPS_PROXY": "http://ok:1", "https_proxy": "::bad::"})
    assert settings.https == ProxyConfig("http", "ok", 1, None, None, "HTTPS_PROXY")


def test_settings_are_hashable_and_comparable():
    a = ProxySettings.from_env({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "x"})
    b = ProxySettings.from_env({"https_proxy": "http://p:1", "no_proxy": "x"})
    assert a.no_proxy == b.no_proxy
    assert hash(a.no_proxy) == hash(b.no_proxy)
