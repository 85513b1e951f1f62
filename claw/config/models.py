"""Typed, immutable settings: what the rest of claw reads instead of raw dicts.

Built once, from the merged and already validated (``schema.py``) data, by ``Settings.from_clean``;
nothing here re-validates or raises. Values a file does not set are ``None`` (or empty), so callers
apply their own defaults and can tell "not configured" from "configured to the default". Lists are
tuples. Reprs leave out ``env``, headers and the raw data, which can hold secrets, and hide a proxy
password.

Deliberately not here: defaults for OAuth endpoints (auth/), permission-mode semantics (runtime/),
reading ``.mcp.json`` (mcp/, which can reuse ``schema.clean_mcp_servers`` and ``mcp_server_from_clean``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Tuple, Union


@dataclass(frozen=True)
class PermissionSettings:
    """The ``permissions`` section: default mode, rule lists and extra directories."""

    default_mode: Optional[str] = None  # as written: "plan", "workspace-write", ...
    allow: Tuple[str, ...] = ()
    deny: Tuple[str, ...] = ()
    ask: Tuple[str, ...] = ()
    additional_directories: Tuple[str, ...] = ()  # absolute paths


@dataclass(frozen=True)
class HookCommand:
    """One hook command with its optional timeout."""

    command: str
    type: str = "command"
    timeout: Optional[float] = None  # seconds; None: the runtime's default
    plugin_root: Optional[str] = None  # a plugin's hook: CLAUDE_PLUGIN_ROOT / CLAW_PLUGIN_ROOT in its environment


@dataclass(frozen=True)
class HookMatcher:
    """The hooks of one event that run for the tools ``matcher`` matches."""

    matcher: str  # "" or "*" match everything; otherwise a tool name or a regex ("Edit|Write")
    hooks: Tuple[HookCommand, ...]


@dataclass(frozen=True)
class StdioServerConfig:
    """An MCP server claw starts as a subprocess and talks to over stdin/stdout."""

    name: str
    command: str
    args: Tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    cwd: Optional[str] = None  # absolute
    timeout: Optional[float] = None
    transport: str = "stdio"


@dataclass(frozen=True)
class HttpServerConfig:
    """Streamable HTTP (``transport == "http"``) or legacy SSE (``"sse"``)."""

    name: str
    url: str
    transport: str = "http"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: Optional[float] = None


@dataclass(frozen=True)
class WebSocketServerConfig:
    """An MCP server reached over a WebSocket."""

    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: Optional[float] = None
    transport: str = "ws"


McpServerConfig = Union[StdioServerConfig, HttpServerConfig, WebSocketServerConfig]


@dataclass(frozen=True)
class OAuthSettings:
    """The ``oauth`` section: overrides of the OAuth client and endpoints."""

    client_id: Optional[str] = None
    authorize_url: Optional[str] = None
    token_url: Optional[str] = None
    scopes: Optional[Tuple[str, ...]] = None
    callback_port: Optional[int] = None  # 0: any free port


@dataclass(frozen=True)
class NetworkSettings:
    """The ``network`` section: proxy, CA bundles, client certificate, timeouts and retries."""

    proxy: Optional[str] = field(default=None, repr=False)  # "" means: no proxy, whatever the env says
    no_proxy: Optional[str] = None  # comma-separated
    ca_files: Tuple[str, ...] = ()  # absolute
    client_cert: Optional[str] = None
    client_key: Optional[str] = None
    connect_timeout: Optional[float] = None
    read_timeout: Optional[float] = None
    max_retries: Optional[int] = None

    def __repr__(self) -> str:
        from claw.redact import hide_url_password

        proxy = None if self.proxy is None else hide_url_password(self.proxy)
        return (
            f"NetworkSettings(proxy={proxy!r}, no_proxy={self.no_proxy!r}, ca_files={self.ca_files!r}, "
            f"client_cert={self.client_cert!r}, client_key={self.client_key!r}, "
            f"connect_timeout={self.connect_timeout!r}, read_timeout={self.read_timeout!r}, "
            f"max_retries={self.max_retries!r})"
        )


def _tuple(value) -> tuple:
    return tuple(value or ())


def mcp_server_from_clean(name: str, entry: Mapping[str, Any]) -> McpServerConfig:
    """The typed config of one cleaned ``mcpServers`` entry (see ``schema.clean_mcp_server``)."""
    transport = entry["type"]
    if transport == "stdio":
        return StdioServerConfig(
            name=name,
            command=entry["command"],
            args=_tuple(entry.get("args")),
            env=dict(entry.get("env") or {}),
            cwd=entry.get("cwd"),
            timeout=entry.get("timeout"),
        )
    if transport == "ws":
        return WebSocketServerConfig(name, entry["url"], dict(entry.get("headers") or {}), entry.get("timeout"))
    return HttpServerConfig(name, entry["url"], transport, dict(entry.get("headers") or {}), entry.get("timeout"))


@dataclass(frozen=True)
class Settings:
    """All settings, merged from every file; every field has a default."""

    model: Optional[str] = None
    aliases: Mapping[str, str] = field(default_factory=dict)
    permissions: PermissionSettings = field(default_factory=PermissionSettings)
    hooks: Mapping[str, Tuple[HookMatcher, ...]] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    mcp_servers: Mapping[str, McpServerConfig] = field(default_factory=dict)
    oauth: OAuthSettings = field(default_factory=OAuthSettings)
    api_key_helper: Optional[str] = None
    network: NetworkSettings = field(default_factory=NetworkSettings)
    prompt_caching: Optional[bool] = None  # promptCaching; None: on
    custom_headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # customHeaders
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)  # merged, as written
    always_thinking_enabled: Optional[bool] = None  # alwaysThinkingEnabled; None: not set
    fallback_models: Tuple[str, ...] = ()  # fallbackModel, in order (--fallback-model wins)
    effort_level: Optional[str] = None  # effortLevel (--effort wins)
    enabled_plugins: Mapping[str, bool] = field(default_factory=dict)  # enabledPlugins: "name@marketplace" -> on

    @classmethod
    def from_clean(cls, data: Mapping[str, Any], raw: Optional[Mapping[str, Any]] = None) -> "Settings":
        perms = data.get("permissions") or {}
        oauth = data.get("oauth") or {}
        net = data.get("network") or {}
        timeout = net.get("timeout") or {}
        scopes = oauth.get("scopes")
        return cls(
            model=data.get("model"),
            aliases=dict(data.get("aliases") or {}),
            permissions=PermissionSettings(
                default_mode=perms.get("defaultMode"),
                allow=_tuple(perms.get("allow")),
                deny=_tuple(perms.get("deny")),
                ask=_tuple(perms.get("ask")),
                additional_directories=_tuple(perms.get("additionalDirectories")),
            ),
            hooks={
                event: tuple(
                    HookMatcher(
                        m["matcher"],
                        tuple(HookCommand(h["command"], h["type"], h.get("timeout")) for h in m["hooks"]),
                    )
                    for m in matchers
                )
                for event, matchers in (data.get("hooks") or {}).items()
            },
            env=dict(data.get("env") or {}),
            mcp_servers={
                name: mcp_server_from_clean(name, entry) for name, entry in (data.get("mcpServers") or {}).items()
            },
            oauth=OAuthSettings(
                client_id=oauth.get("clientId"),
                authorize_url=oauth.get("authorizeUrl"),
                token_url=oauth.get("tokenUrl"),
                scopes=None if scopes is None else tuple(scopes),
                callback_port=oauth.get("callbackPort"),
            ),
            api_key_helper=data.get("apiKeyHelper"),
            network=NetworkSettings(
                proxy=net.get("proxy"),
                no_proxy=net.get("noProxy"),
                ca_files=_tuple(net.get("caFiles")),
                client_cert=net.get("clientCert"),
                client_key=net.get("clientKey"),
                connect_timeout=timeout.get("connect"),
                read_timeout=timeout.get("read"),
                max_retries=net.get("maxRetries"),
            ),
            prompt_caching=data.get("promptCaching"),
            custom_headers={k: v for k, v in (data.get("customHeaders") or {}).items() if v is not None},
            raw=dict(raw if raw is not None else data),
            always_thinking_enabled=data.get("alwaysThinkingEnabled"),
            fallback_models=_tuple(data.get("fallbackModel")),
            effort_level=data.get("effortLevel"),
            enabled_plugins={k: v for k, v in (data.get("enabledPlugins") or {}).items() if v is not None},
        )
