"""The typed settings built from files: every key, JSON and TOML alike, paths, reprs."""

from __future__ import annotations

import os

from claw.config.models import (
    HookCommand,
    HookMatcher,
    HttpServerConfig,
    OAuthSettings,
    PermissionSettings,
    StdioServerConfig,
    WebSocketServerConfig,
)
from claw.config.schema import clean_mcp_servers
from claw.config.sources import SettingsSource

FULL_JSON = {
    "model": "sonnet",
    "aliases": {"fast": "claude-haiku-4-5"},
    "permissions": {
        "defaultMode": "acceptEdits",
        "allow": ["Bash(npm run test:*)", "Read"],
        "deny": ["Read(./.env)"],
        "ask": ["Bash(git push:*)"],
        "additionalDirectories": ["../shared", "/abs/dir"],
    },
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh", "timeout": 30}]},
        ],
        "Stop": [{"hooks": [{"command": "notify-send done"}]}],
    },
    "env": {"HTTPS_PROXY": "http://proxy:3128", "PORT": 8080},
    "mcpServers": {
        "time": {"command": "python3", "args": ["-m", "mcp_server_time"], "env": {"TZ": "UTC"}, "cwd": "tools",
                 "timeout": 20},
        "remote": {"type": "http", "url": "https://mcp.example/mcp", "headers": {"Authorization": "Bearer t0k"}},
        "legacy": {"type": "sse", "url": "http://127.0.0.1:9000/sse"},
        "socket": {"url": "wss://mcp.example/ws"},
        "inferred": {"url": "https://mcp.example/other"},
    },
    "oauth": {"clientId": "cid", "authorizeUrl": "https://auth.example/authorize",
              "tokenUrl": "https://auth.example/token", "scopes": "user:inference user:profile", "callbackPort": 54545},
    "apiKeyHelper": "~/bin/get-key",
    "network": {"proxy": "http://user:pw@proxy:3128", "noProxy": ["localhost", ".corp"], "caFiles": ["certs/ca.pem"],
                "clientCert": "~/client.pem", "clientKey": "/keys/client.key", "timeout": {"connect": 5, "read": 300},
                "maxRetries": 3},
}

FULL_TOML = """
model = "sonnet"
aliases = { fast = "claude-haiku-4-5" }
apiKeyHelper = "~/bin/get-key"

[permissions]
defaultMode = "acceptEdits"
allow = ["Bash(npm run test:*)", "Read"]
deny = ["Read(./.env)"]
ask = ["Bash(git push:*)"]
additionalDirectories = ["../shared", "/abs/dir"]

[[hooks.PreToolUse]]
matcher = "Bash"
hooks = [{ type = "command", command = "./guard.sh", timeout = 30 }]

[[hooks.Stop]]
hooks = [{ command = "notify-send done" }]

[env]
HTTPS_PROXY = "http://proxy:3128"
PORT = 8080

[mcpServers.time]
command = "python3"
args = ["-m", "mcp_server_time"]
env = { TZ = "UTC" }
cwd = "tools"
timeout = 20

[mcpServers.remote]
type = "http"
url = "https://mcp.example/mcp"
headers = { Authorization = "Bearer t0k" }

[mcpServers.legacy]
type = "sse"
url = "http://127.0.0.1:9000/sse"

[mcpServers.socket]
url = "wss://mcp.example/ws"

[mcpServers.inferred]
url = "https://mcp.example/other"

[oauth]
clientId = "cid"
authorizeUrl = "https://auth.example/authorize"
tokenUrl = "https://auth.example/token"
scopes = "user:inference user:profile"
callbackPort = 54545

[network]
proxy = "http://user:pw@proxy:3128"
noProxy = ["localhost", ".corp"]
caFiles = ["certs/ca.pem"]
clientCert = "~/client.pem"
clientKey = "/keys/client.key"
timeout = { connect = 5, read = 300 }
maxRetries = 3
"""


def _check_full(settings, project: str, home: str) -> None:
    assert settings.model == "sonnet"
    assert settings.aliases == {"fast": "claude-haiku-4-5"}
    assert settings.permissions == PermissionSettings(
        default_mode="acceptEdits",
        allow=("Bash(npm run test:*)", "Read"),
        deny=("Read(./.env)",),
        ask=("Bash(git push:*)",),
        additional_directories=(os.path.join(os.path.dirname(project), "shared"), "/abs/dir"),
    )
    assert settings.hooks == {
        "PreToolUse": (HookMatcher("Bash", (HookCommand("./guard.sh", "command", 30),)),),
        "Stop": (HookMatcher("", (HookCommand("notify-send done"),)),),
    }
    assert settings.env == {"HTTPS_PROXY": "http://proxy:3128", "PORT": "8080"}
    assert settings.mcp_servers == {
        "time": StdioServerConfig("time", "python3", ("-m", "mcp_server_time"), {"TZ": "UTC"},
                                  os.path.join(project, "tools"), 20),
        "remote": HttpServerConfig("remote", "https://mcp.example/mcp", "http", {"Authorization": "Bearer t0k"}),
        "legacy": HttpServerConfig("legacy", "http://127.0.0.1:9000/sse", "sse"),
        "socket": WebSocketServerConfig("socket", "wss://mcp.example/ws"),
        "inferred": HttpServerConfig("inferred", "https://mcp.example/other", "http"),
    }
    assert settings.oauth == OAuthSettings("cid", "https://auth.example/authorize", "https://auth.example/token",
                                           ("user:inference", "user:profile"), 54545)
    assert settings.api_key_helper == "~/bin/get-key"  # a command: not a path, left as written
    net = settings.network
    assert net.proxy == "http://user:pw@proxy:3128"
    assert net.no_proxy == "localhost,.corp"
    assert net.ca_files == (os.path.join(project, "certs", "ca.pem"),)
    assert net.client_cert == os.path.join(home, "client.pem")
    assert net.client_key == "/keys/client.key"
    assert (net.connect_timeout, net.read_timeout, net.max_retries) == (5, 300, 3)


def test_every_key_from_json(layout):
    layout.write("project", FULL_JSON)
    loaded = layout.load()
    assert loaded.problems == ()
    _check_full(loaded.settings, str(layout.project), layout.env["HOME"])


def test_the_toml_twin_gives_the_same_settings(layout):
    layout.write("project", FULL_TOML, "toml")
    from_toml = layout.load()
    assert from_toml.problems == ()
    _check_full(from_toml.settings, str(layout.project), layout.env["HOME"])
    layout.path("project", "toml").unlink()
    layout.write("project", FULL_JSON)
    assert layout.load().settings == from_toml.settings


def test_relative_paths_resolve_against_the_file_scope(layout, tmp_path):
    layout.write("user", {"network": {"caFiles": ["user-ca.pem"]}})
    layout.write("local", {"network": {"caFiles": ["local-ca.pem", "~/home-ca.pem"]}})
    (tmp_path / "sub").mkdir()
    loaded = layout.load('{"network": {"clientCert": "c.pem"}}')
    assert loaded.settings.network.ca_files == (
        str(layout.home / "user-ca.pem"),
        str(layout.project / "local-ca.pem"),
        os.path.join(layout.env["HOME"], "home-ca.pem"),
    )
    assert loaded.settings.network.client_cert == str(layout.project / "c.pem")
    # the raw view keeps what was written
    assert loaded.raw["network"]["caFiles"] == ["user-ca.pem", "local-ca.pem", "~/home-ca.pem"]


def test_scalar_timeout_sets_both_and_later_files_refine_it(layout):
    layout.write("user", {"network": {"timeout": 30}})
    net = layout.load().settings.network
    assert (net.connect_timeout, net.read_timeout) == (30, 30)
    layout.write("local", {"network": {"timeout": {"read": 600}}})
    net = layout.load().settings.network
    assert (net.connect_timeout, net.read_timeout) == (30, 600)


def test_no_proxy_string_and_empty_proxy(layout):
    layout.write("project", {"network": {"proxy": "", "noProxy": "a.example, b.example"}})
    net = layout.load().settings.network
    assert net.proxy == "" and net.no_proxy == "a.example, b.example"


def test_defaults_when_nothing_is_configured(layout):
    s = layout.load().settings
    assert s.model is None and s.aliases == {} and s.hooks == {} and s.mcp_servers == {}
    assert s.permissions == PermissionSettings() and s.oauth == OAuthSettings()
    assert s.network.proxy is None and s.network.ca_files == () and s.network.max_retries is None
    assert s.api_key_helper is None and s.env == {} and s.raw == {}


def test_reprs_hide_secrets(layout):
    layout.write("project", FULL_JSON | {"env": {"ANTHROPIC_API_KEY": "sk-ant-123"}})
    loaded = layout.load()
    text = repr(loaded) + repr(loaded.settings) + repr(loaded.settings.mcp_servers)
    assert "sk-ant-123" not in text
    assert "t0k" not in text
    assert "pw@" not in text and "user:***@proxy" in repr(loaded.settings.network)


def test_models_are_frozen(layout):
    import dataclasses

    import pytest

    layout.write("project", {"model": "x"})
    settings = layout.load().settings
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.model = "y"  # type: ignore[misc]


def test_clean_mcp_servers_for_other_files(tmp_path):
    source = SettingsSource("mcp-json", str(tmp_path / ".mcp.json"), "json", str(tmp_path))
    servers, problems = clean_mcp_servers({"a": {"command": "x"}, "b": {"type": "nope"}}, source)
    assert servers == {"a": {"type": "stdio", "command": "x"}}
    assert [p.level for p in problems] == ["invalid"]
    assert problems[0].message.startswith(f"{tmp_path / '.mcp.json'}: mcpServers.b.type: unknown transport")
    servers, problems = clean_mcp_servers(["a"], source)
    assert servers == {} and problems[0].level == "error"
