"""Fixtures for the auth tests: a fake OAuth server, a private config home, an environment pointing
claw at both (and at nothing else), and a NetConfig without proxies."""

from __future__ import annotations

import os
from typing import Dict

import pytest

from tests.fakes.oauth_server import OAuthServer

# Variables of the developer's environment that would change what these tests see.
_CLEARED = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAW_API_KEY_HELPER_TTL_MS", "DISPLAY",
            "WAYLAND_DISPLAY", "BROWSER", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
            "ALL_PROXY", "all_proxy", "CLAW_OAUTH_AUTHORIZE_URL", "CLAW_OAUTH_TOKEN_URL", "CLAW_OAUTH_CLIENT_ID")


@pytest.fixture
def oauth():
    srv = OAuthServer(account_email="dev@example.com").start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "claw-home"
    path.mkdir()
    return path


@pytest.fixture
def project(tmp_path):
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def env(oauth, home, tmp_path, monkeypatch) -> Dict[str, str]:
    """A clean environment for claw: config home in tmp, OAuth endpoints on the fake server. Also
    applied to os.environ (for code that reads it) with the variables above removed."""
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    values = {"CLAW_CONFIG_HOME": str(home), "HOME": str(tmp_path), **oauth.env()}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    base = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    base.update(values)
    return base


@pytest.fixture
def net_config(env):
    from claw.net.config import NetConfig

    return NetConfig.from_env(env)


@pytest.fixture(autouse=True)
def _fresh_helper_cache():
    from claw.auth.api_key_helper import clear_cache

    clear_cache()
    yield
    clear_cache()
