"""The remote-session context: enablement, session id, base URL, token file, relay eligibility."""

from __future__ import annotations

import os

import pytest

from claw.remote.context import (DEFAULT_TOKEN_PATH, RemoteContext, is_truthy, read_session_token,
                                 sdk_url_token)
from claw.remote.endpoints import DEFAULT_BASE_URL


@pytest.mark.parametrize("value, expected", [
    ("1", True), ("true", True), ("TRUE", True), ("True", True), ("yes", True), ("YeS", True),
    ("on", True), ("ON", True), (" 1 ", True), ("\ttrue\n", True),
    ("0", False), ("false", False), ("no", False), ("off", False), ("", False), ("2", False),
    ("enabled", False), ("y", False), (None, False),
])
def test_truthy_table(value, expected):
    assert is_truthy(value) is expected


def _never(path):
    raise AssertionError(f"the token file {path} must not be read")


@pytest.mark.parametrize("env, enabled", [
    ({}, False),
    ({"CLAW_REMOTE": "1"}, True),
    ({"CLAUDE_CODE_REMOTE": "true"}, True),
    ({"CLAW_REMOTE": "0", "CLAUDE_CODE_REMOTE": "yes"}, True),
    ({"CLAW_REMOTE": "off"}, False),
])
def test_enablement(env, enabled):
    ctx = RemoteContext.from_env(env, read_token=_never)
    assert ctx.enabled is enabled
    assert ctx.upstream_proxy_enabled is False


def test_session_id_and_base_url_precedence():
    env = {"CLAW_REMOTE": "1", "CLAW_REMOTE_SESSION_ID": "claw-id", "CLAUDE_CODE_REMOTE_SESSION_ID": "cc-id",
           "ANTHROPIC_BASE_URL": "https://gw.internal/"}
    ctx = RemoteContext.from_env(env, read_token=_never)
    assert ctx.session_id == "claw-id"
    assert ctx.base_url == "https://gw.internal/"
    assert ctx.base_url_source == "ANTHROPIC_BASE_URL"
    assert ctx.ws_url == "wss://gw.internal/v1/code/upstreamproxy/ws"
    assert ctx.ca_url == "https://gw.internal/v1/code/upstreamproxy/ca-cert"
    env2 = dict(env, CLAW_REMOTE_SESSION_ID="  ", CLAW_REMOTE_BASE_URL="http://sessions.local:8080")
    ctx2 = RemoteContext.from_env(env2, read_token=_never)
    assert ctx2.session_id == "cc-id"
    assert ctx2.base_url_source == "CLAW_REMOTE_BASE_URL"
    assert ctx2.ws_url == "ws://sessions.local:8080/v1/code/upstreamproxy/ws"


def test_defaults():
    ctx = RemoteContext.from_env({"CLAW_REMOTE": "1"}, read_token=_never)
    assert ctx.base_url == DEFAULT_BASE_URL
    assert ctx.base_url_source == "default"
    assert ctx.token_path == DEFAULT_TOKEN_PATH == "/run/ccr/session_token"
    assert ctx.ws_url == "wss://api.anthropic.com/v1/code/upstreamproxy/ws"


def _env(tmp_path, **extra):
    env = {"CLAUDE_CODE_REMOTE": "1", "CCR_UPSTREAM_PROXY_ENABLED": "1",
           "CLAUDE_CODE_REMOTE_SESSION_ID": "sess-1", "CCR_SESSION_TOKEN_PATH": str(tmp_path / "token")}
    env.update(extra)
    return env


def test_relay_enabled_with_everything(tmp_path):
    (tmp_path / "token").write_text("  secret-token-value\n")
    ctx = RemoteContext.from_env(_env(tmp_path))
    assert ctx.token == "secret-token-value"
    assert ctx.upstream_proxy_reason is None
    assert ctx.upstream_proxy_enabled and ctx.wants_relay
    assert "secret-token-value" not in repr(ctx)
    assert not any("secret-token-value" in line for line in ctx.describe())


@pytest.mark.parametrize("content, fragment", [
    (None, "no session token file at"),
    ("", "is empty"),
    ("   \n\t", "is empty"),
    ("a\nb", "more than one line"),
])
def test_token_problems(tmp_path, content, fragment):
    if content is not None:
        (tmp_path / "token").write_text(content)
    ctx = RemoteContext.from_env(_env(tmp_path))
    assert ctx.token is None
    assert not ctx.upstream_proxy_enabled
    assert fragment in ctx.upstream_proxy_reason
    assert ctx.wants_relay  # wanted, so a failure is worth the one-line notice


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_token(tmp_path):
    path = tmp_path / "token"
    path.write_text("tok")
    path.chmod(0)
    token, problem = read_session_token(str(path))
    assert token is None and "permission denied" in problem


def test_token_directory(tmp_path):
    token, problem = read_session_token(str(tmp_path))
    assert token is None and "is a directory" in problem


@pytest.mark.parametrize("drop, fragment", [
    ("CLAUDE_CODE_REMOTE", "not a remote session"),
    ("CCR_UPSTREAM_PROXY_ENABLED", "CCR_UPSTREAM_PROXY_ENABLED is not set"),
    ("CLAUDE_CODE_REMOTE_SESSION_ID", "no remote session id"),
])
def test_each_requirement(tmp_path, drop, fragment):
    (tmp_path / "token").write_text("tok")
    env = _env(tmp_path)
    del env[drop]
    ctx = RemoteContext.from_env(env)
    assert fragment in ctx.upstream_proxy_reason
    assert not ctx.upstream_proxy_enabled


def test_token_not_read_unless_requested(tmp_path):
    env = _env(tmp_path)
    del env["CCR_UPSTREAM_PROXY_ENABLED"]
    ctx = RemoteContext.from_env(env, read_token=_never)
    assert ctx.token is None
    assert any("not read" in line for line in ctx.describe())


def test_describe_off():
    assert RemoteContext.from_env({}).describe() == ("remote session mode: off",)


def test_sdk_url_token(tmp_path):
    path = tmp_path / "token"
    env = {"CCR_SESSION_TOKEN_PATH": str(path)}
    assert sdk_url_token(env) is None
    path.write_text("from-file\n")
    assert sdk_url_token(env) == "from-file"
    assert sdk_url_token(dict(env, CLAUDE_CODE_SESSION_ACCESS_TOKEN="cc")) == "cc"
    assert sdk_url_token(dict(env, CLAUDE_CODE_SESSION_ACCESS_TOKEN="cc", CLAW_SESSION_ACCESS_TOKEN="claw")) == "claw"
