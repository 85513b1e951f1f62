"""Subprocess environment shaping: the typed value, the NO_PROXY list, nested claw detection."""

from __future__ import annotations

import urllib.request

import pytest

from claw.net.proxy import NoProxy, ProxySettings
from claw.net.url import parse_url
from claw.remote.env_shaping import (CA_BUNDLE_VARIABLES, INHERITED_SHAPING, NO_SHAPING, SHAPED_VARIABLES,
                                     EnvShaping, inherited_from_parent, no_proxy_list, relay_shaping)

RELAY = "http://127.0.0.1:40123"
BUNDLE = "/home/u/.ccr/ca-bundle.crt"


def test_relay_shaping_sets_every_variable():
    base = {"PATH": "/bin", "HOME": "/home/u"}
    shaping = relay_shaping(base, RELAY, BUNDLE)
    assert shaping.mode == "relay" and shaping.active
    env = shaping.apply(base)
    assert env["PATH"] == "/bin" and base == {"PATH": "/bin", "HOME": "/home/u"}  # input untouched
    assert env["HTTPS_PROXY"] == env["https_proxy"] == RELAY
    assert env["NO_PROXY"] == env["no_proxy"]
    for name in CA_BUNDLE_VARIABLES:
        assert env[name] == BUNDLE
    assert set(shaping.as_dict()) == set(SHAPED_VARIABLES)
    assert "HTTP_PROXY" not in env


def test_relay_shaping_replaces_inherited_values():
    base = {"HTTPS_PROXY": "http://corp:3128", "SSL_CERT_FILE": "/old.pem", "NO_PROXY": "intranet.corp"}
    env = relay_shaping(base, RELAY, BUNDLE).apply(base)
    assert env["HTTPS_PROXY"] == RELAY and env["SSL_CERT_FILE"] == BUNDLE
    assert "intranet.corp" in env["NO_PROXY"].split(",")  # existing entries are kept


def test_frozen_value():
    shaping = relay_shaping({}, RELAY, BUNDLE)
    with pytest.raises(Exception):
        shaping.mode = "none"  # type: ignore[misc]
    assert shaping == relay_shaping({}, RELAY, BUNDLE)


@pytest.mark.parametrize("shaping", [NO_SHAPING, INHERITED_SHAPING, EnvShaping()])
def test_inactive_shapings_change_nothing(shaping):
    base = {"HTTPS_PROXY": "http://127.0.0.1:1", "SSL_CERT_FILE": "/x.pem", "A": "b"}
    assert not shaping.active
    assert shaping.apply(base) == base
    assert shaping.apply(base) is not base


@pytest.mark.parametrize("env, nested", [
    ({}, False),
    ({"HTTPS_PROXY": "http://127.0.0.1:1"}, False),
    ({"SSL_CERT_FILE": "/b.pem"}, False),
    ({"HTTPS_PROXY": "http://127.0.0.1:1", "SSL_CERT_FILE": "/b.pem"}, True),
    ({"https_proxy": "http://127.0.0.1:1", "SSL_CERT_FILE": "/b.pem"}, True),
    ({"HTTPS_PROXY": "", "SSL_CERT_FILE": "/b.pem"}, False),
    ({"HTTPS_PROXY": "http://127.0.0.1:1", "SSL_CERT_FILE": "  "}, False),
])
def test_inherited_detection(env, nested):
    assert inherited_from_parent(env) is nested


def test_no_proxy_contents():
    entries = no_proxy_list({"ANTHROPIC_BASE_URL": "https://gw.corp.example:8443/v1",
                             "OPENAI_BASE_URL": "http://llm.local:8000/v1",
                             "NO_PROXY": "a.internal, b.internal 127.0.0.1"}).split(",")
    for expected in ("localhost", "127.0.0.1", "::1", "169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12",
                     "192.168.0.0/16", "anthropic.com", ".anthropic.com", "*.anthropic.com",
                     "gw.corp.example", "llm.local", "pypi.org", "files.pythonhosted.org",
                     "registry.npmjs.org", "proxy.golang.org", "index.crates.io", "github.com",
                     "a.internal", "b.internal"):
        assert expected in entries
    assert len(entries) == len({e.lower() for e in entries})  # each entry once


def test_no_proxy_parses_in_claw_and_routes_as_expected():
    shaped = relay_shaping({"ANTHROPIC_BASE_URL": "https://gw.corp.example"}, RELAY, BUNDLE).apply({})
    assert NoProxy.parse(shaped["NO_PROXY"]).invalid == ()
    proxies = ProxySettings.from_env(shaped)
    direct = ["https://api.anthropic.com/v1/messages", "https://anthropic.com", "https://gw.corp.example",
              "https://127.0.0.1:9", "https://10.2.3.4", "https://169.254.169.254", "https://[::1]:8",
              "https://pypi.org/simple", "https://registry.npmjs.org/x", "https://172.20.0.1"]
    proxied = ["https://example.com", "https://api.datadoghq.com", "https://172.32.0.1",
               "https://evil-anthropic.com"]
    for url in direct:
        assert proxies.proxy_for(parse_url(url)) is None, url
    for url in proxied:
        proxy = proxies.proxy_for(parse_url(url))
        assert proxy is not None and proxy.port == 40123, url


def test_no_proxy_for_python_urllib():
    shaped = relay_shaping({}, RELAY, BUNDLE).apply({})
    proxies = {"no": shaped["no_proxy"]}
    assert urllib.request.proxy_bypass_environment("api.anthropic.com", proxies)
    assert urllib.request.proxy_bypass_environment("pypi.org", proxies)
    assert urllib.request.proxy_bypass_environment("localhost", proxies)
    assert not urllib.request.proxy_bypass_environment("example.com", proxies)
