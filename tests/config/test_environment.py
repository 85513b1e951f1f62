"""The settings env block: the effective environment, tool subprocesses, proxy and CA resolution."""

from __future__ import annotations

import subprocess
import sys

import pytest

from claw.config.environment import effective_env, network_config
from claw.errors import ConfigError


def test_settings_env_overlays_the_process_env(layout):
    layout.write("user", {"env": {"A": "user", "B": "user"}})
    layout.write("local", {"env": {"B": "local", "PORT": 8080}})
    settings = layout.load().settings
    base = {"A": "process", "PATH": "/bin", "C": "process"}
    env = effective_env(settings, base)
    assert env == {"A": "user", "B": "local", "PORT": "8080", "PATH": "/bin", "C": "process"}
    assert base == {"A": "process", "PATH": "/bin", "C": "process"}  # not mutated


def test_default_base_is_the_process_env(layout, monkeypatch):
    monkeypatch.setenv("CLAW_TEST_MARKER", "from-process")
    layout.write("project", {"env": {"CLAW_TEST_OTHER": "x"}})
    env = effective_env(layout.load().settings)
    assert env["CLAW_TEST_MARKER"] == "from-process" and env["CLAW_TEST_OTHER"] == "x"
    assert effective_env(None, {"A": "1"}) == {"A": "1"}


def test_a_proxy_variable_in_settings_replaces_both_cases(layout):
    layout.write("project", {"env": {"https_proxy": "http://settings:1", "NO_PROXY": ".corp"}})
    env = effective_env(layout.load().settings, {"HTTPS_PROXY": "http://inherited:2", "no_proxy": "x",
                                                 "Path": "keep", "PATH": "keep-too"})
    assert env == {"https_proxy": "http://settings:1", "NO_PROXY": ".corp", "Path": "keep", "PATH": "keep-too"}


def test_env_reaches_a_tool_subprocess(layout):
    layout.write("project", {"env": {"CLAW_TOOL_VAR": "from settings"}})
    env = effective_env(layout.load().settings)
    out = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ['CLAW_TOOL_VAR'])"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    assert out == "from settings\n"


# -- network: the settings applied to proxy selection and CA trust ---------------------------------

net_config = pytest.importorskip("claw.net.config")


def _url(text):
    from claw.net.url import parse_url

    return parse_url(text)


def test_proxy_from_settings_env_block(layout):
    layout.write("user", {"env": {"HTTPS_PROXY": "http://corp-proxy:3128", "NO_PROXY": "internal.example"}})
    config = network_config(layout.load().settings, effective_env(layout.load().settings, {}))
    proxy = config.proxies.proxy_for(_url("https://api.anthropic.com/v1/messages"))
    assert (proxy.host, proxy.port) == ("corp-proxy", 3128)
    assert config.proxies.proxy_for(_url("https://internal.example/x")) is None


def test_empty_proxy_in_settings_env_turns_an_inherited_proxy_off(layout):
    layout.write("project", {"env": {"HTTPS_PROXY": ""}})
    settings = layout.load().settings
    inherited = {"https_proxy": "http://inherited:8080"}
    assert network_config(settings, effective_env(settings, inherited)).proxies.proxy_for(
        _url("https://api.anthropic.com/")) is None
    # without the settings, the inherited lower-case variable is used
    from claw.config.models import Settings

    plain = network_config(Settings(), dict(inherited))
    assert plain.proxies.proxy_for(_url("https://api.anthropic.com/")).host == "inherited"


def test_network_block_wins_over_the_environment(layout):
    layout.write("project", {"network": {"proxy": "http://settings-proxy:9000", "noProxy": ["gateway.corp"],
                                         "caFiles": ["certs/corp.pem"], "timeout": {"connect": 3, "read": 200}}})
    settings = layout.load().settings
    config = network_config(settings, {"HTTPS_PROXY": "http://env-proxy:1", "NO_PROXY": "*"})
    assert config.proxies.proxy_for(_url("https://api.anthropic.com/")).host == "settings-proxy"
    assert config.proxies.proxy_for(_url("https://gateway.corp/")) is None
    assert str(layout.project / "certs" / "corp.pem") in config.tls.extra_ca_files
    assert (config.connect_timeout, config.read_timeout) == (3, 200)


def test_network_config_computes_the_effective_env_itself(layout, monkeypatch):
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.delenv("ALL_PROXY", raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    layout.write("local", {"env": {"HTTPS_PROXY": "http://only-in-settings:3128", "SSL_CERT_FILE": "/corp/ca.pem"}})
    config = network_config(layout.load().settings)
    assert config.proxies.proxy_for(_url("https://api.anthropic.com/")).host == "only-in-settings"
    assert "/corp/ca.pem" in config.tls.extra_ca_files


def test_a_bad_proxy_in_settings_is_a_config_error_without_the_password(layout):
    layout.write("project", {"network": {"proxy": "http://user:s3cret@proxy:notaport"}})
    with pytest.raises(ConfigError) as info:
        network_config(layout.load().settings, {})
    assert "s3cret" not in info.value.message + (info.value.hint or "")
