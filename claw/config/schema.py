"""The settings schema: validating one file's object and returning a cleaned copy plus problems.

Each settings file is checked on its own, before merging, so every message names the file that is
wrong. Cleaning keeps the JSON shape but normalises values: relative paths (``caFiles``,
``clientCert``, ``clientKey``, ``additionalDirectories``, an MCP server's ``cwd``) become absolute
against the file's base directory, ``~`` is expanded, numbers in ``env`` become strings, ``noProxy``
lists become one comma-separated string, ``oauth.scopes`` strings become lists, ``network.timeout``
becomes ``{"connect": s, "read": s}``, and an MCP server without ``type`` gets the inferred one.
``null`` is kept: in the merge it removes the key set by lower-precedence files.

What is reported:
- a value of the wrong type, an unknown hook event or permission mode: ``error``, naming the key path,
  what was expected and the value (truncated; secrets redacted). The key is left out of the result.
- a broken ``mcpServers`` entry (unknown transport, missing command/url...): ``invalid``; only that
  server is left out.
- an unknown key: ``warning`` with a did-you-mean; the key is ignored.

This module does no I/O and builds no typed models (models.py does, from the merged cleaned data).
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Dict

from claw.config.keypath import KeyPath, format_key_path
from claw.config.problems import DOCS_HINT, ERROR, INVALID, WARNING, Problem, did_you_mean, problem_at
from claw.config.redact import REDACTED, is_secret_path, redact_text
from claw.config.sources import SettingsSource, expand_user

HOOK_EVENTS = (
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "UserPromptSubmit",
    "SessionStart",
    "SessionEnd",
    "Stop",
    "Notification",
    "PermissionRequest",
    "PreCompact",
    "SubagentStart",
    "SubagentStop",
)
HOOK_TYPES = ("command",)
PERMISSION_MODES = (
    "default",
    "read-only",
    "workspace-write",
    "danger-full-access",
    "plan",
    "acceptEdits",
    "bypassPermissions",
    "dontAsk",
)
MCP_TRANSPORTS = ("stdio", "http", "sse", "ws")
_MCP_FIELDS = {
    "stdio": ("type", "command", "args", "env", "cwd", "timeout"),
    "http": ("type", "url", "headers", "timeout"),
    "sse": ("type", "url", "headers", "timeout"),
    "ws": ("type", "url", "headers", "timeout"),
}
_URL_SCHEMES = {"http": ("http", "https"), "sse": ("http", "https"), "ws": ("ws", "wss")}

# Examples shown as hints, by key path (the longest matching prefix is used).
EXAMPLES: dict[KeyPath, str] = {
    ("model",): '"model": "sonnet"',
    ("alwaysThinkingEnabled",): '"alwaysThinkingEnabled": true',
    ("fallbackModel",): '"fallbackModel": ["sonnet"]',
    ("effortLevel",): '"effortLevel": "medium"',
    ("aliases",): '"aliases": {"fast": "claude-haiku-4-5"}',
    ("permissions",): '"permissions": {"defaultMode": "workspace-write", "allow": ["Bash(npm test)"]}',
    ("permissions", "defaultMode"): '"defaultMode": "workspace-write"',
    ("permissions", "allow"): '"allow": ["Bash(npm run test:*)", "Read"]',
    ("permissions", "deny"): '"deny": ["Bash(rm:*)", "Read(./.env)"]',
    ("permissions", "ask"): '"ask": ["Bash(git push:*)"]',
    ("permissions", "additionalDirectories"): '"additionalDirectories": ["../shared"]',
    ("hooks",): '"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./check.sh"}]}]}',
    ("env",): '"env": {"HTTPS_PROXY": "http://proxy:3128"}',
    ("mcpServers",): '"mcpServers": {"time": {"command": "python3", "args": ["-m", "mcp_server_time"]}}',
    ("oauth",): '"oauth": {"clientId": "...", "scopes": ["user:inference"], "callbackPort": 54545}',
    ("oauth", "scopes"): '"scopes": ["org:create_api_key", "user:profile"]',
    ("oauth", "callbackPort"): '"callbackPort": 54545',
    ("apiKeyHelper",): '"apiKeyHelper": "~/bin/get-anthropic-key"',
    ("network",): '"network": {"proxy": "http://proxy:3128", "caFiles": ["/etc/ssl/corp.pem"]}',
    ("network", "proxy"): '"proxy": "http://proxy.corp:3128"',
    ("network", "noProxy"): '"noProxy": ["localhost", ".corp.example"]',
    ("network", "caFiles"): '"caFiles": ["/etc/ssl/certs/corp-root.pem"]',
    ("network", "timeout"): '"timeout": 120  or  "timeout": {"connect": 10, "read": 300}',
    ("network", "maxRetries"): '"maxRetries": 3',
    ("promptCaching",): '"promptCaching": false',
    ("customHeaders",): '"customHeaders": {"X-Gateway-Team": "infra"}',
}


class _Bad(Exception):
    """A value that cannot be used; carries where and why (caught and turned into a Problem)."""

    def __init__(self, path: KeyPath, text: str, hint: str | None = None) -> None:
        super().__init__(text)
        self.path = path
        self.text = text
        self.hint = hint


def _example_hint(path: KeyPath) -> str:
    keys = tuple(s for s in path if isinstance(s, str))
    for n in range(len(keys), 0, -1):
        example = EXAMPLES.get(keys[:n])
        if example is not None:
            return f"expected like {example}; {DOCS_HINT}"
    return DOCS_HINT


_TYPE_NAMES = {str: "string", bool: "boolean", int: "integer", float: "number", list: "list", dict: "object"}


def describe_value(path: KeyPath, value: Any, limit: int = 60) -> str:
    """``"Bash" (string)`` / ``<redacted> (string)``: a short, safe rendering of a bad value."""
    kind = _TYPE_NAMES.get(type(value), type(value).__name__)
    if value is None:
        return "null"
    if is_secret_path(path):
        return f"{REDACTED} ({kind})"
    import json

    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    text = redact_text(text)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} ({kind})"


def _type_error(path: KeyPath, expected: str, value: Any) -> _Bad:
    return _Bad(path, f"expected {expected}, got {describe_value(path, value)}", _example_hint(path))


class _Ctx:
    def __init__(self, source: SettingsSource, home: str | None = None) -> None:
        self.source = source
        self.home = home
        self.problems: list[Problem] = []

    def expand_user(self, text: str) -> str:
        """``~`` and ``~/x`` against the HOME given to the loader; ``~user`` via the OS."""
        return expand_user(text, {"HOME": self.home} if self.home else {})

    def report(self, level: str, bad: _Bad, suffix: str = "") -> None:
        self.problems.append(problem_at(level, self.source, bad.path, bad.text + suffix, bad.hint))

    def unknown(self, path: KeyPath, key: str, known) -> None:
        full = path + (key,)
        guess = did_you_mean(key, known)
        text = f"{self.source.name}: unknown key {format_key_path(full)}"
        if guess:
            text += f" (did you mean {guess!r}?)"
        hint = f"known keys here: {', '.join(known)}" if len(known) <= 12 else DOCS_HINT
        self.problems.append(Problem(WARNING, text + "; ignored", hint, self.source, full))


# -- leaf validators: (value, path, ctx) -> cleaned value, or raise _Bad ---------------------------

Validator = Callable[[Any, KeyPath, _Ctx], Any]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _string(value, path, ctx):
    if not isinstance(value, str):
        raise _type_error(path, "a string", value)
    return value


def _nonempty_string(value, path, ctx):
    if not isinstance(value, str) or not value.strip():
        raise _type_error(path, "a non-empty string", value)
    return value


def _positive_number(value, path, ctx):
    if not _is_number(value) or value <= 0:
        raise _type_error(path, "a positive number (seconds)", value)
    return value


def _int_range(lo: int, hi: int, what: str) -> Validator:
    def check(value, path, ctx):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise _type_error(path, what, value)
        return value

    return check


def _boolean(value, path, ctx):
    if not isinstance(value, bool):
        raise _type_error(path, "true or false", value)
    return value


def _model_list(value, path, ctx):
    """A model name or a list of them (Claude Code's ``fallbackModel`` is a list), as a list."""
    if isinstance(value, str) and value.strip():
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return list(value)
    raise _type_error(path, "a model name or a list of model names", value)


def _string_list(value, path, ctx):
    if not isinstance(value, list):
        raise _type_error(path, "a list of strings", value)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _type_error(path + (i,), "a string", item)
    return list(value)


def _string_map(value, path, ctx):
    """An object of strings; numbers are accepted and turned into strings (TOML ``PORT = 8080``)."""
    if not isinstance(value, dict):
        raise _type_error(path, "an object of strings", value)
    out = {}
    for key, item in value.items():
        if not key or "=" in key or "\0" in key:
            raise _Bad(path + (key,), f"{key!r} is not a valid name", _example_hint(path))
        if item is None:
            out[key] = None
        elif isinstance(item, str):
            out[key] = item
        elif _is_number(item):
            out[key] = str(item)
        else:
            raise _type_error(path + (key,), "a string", item)
    return out


def _bool_map(value, path, ctx):
    """An object of booleans (``enabledPlugins``: ``{"name@marketplace": true}``)."""
    if not isinstance(value, dict):
        raise _type_error(path, "an object of true/false", value)
    for key, item in value.items():
        if item is not None and not isinstance(item, bool):
            raise _type_error(path + (key,), "true or false", item)
    return dict(value)


def _path(value, path, ctx):
    text = _nonempty_string(value, path, ctx)
    return os.path.normpath(os.path.join(ctx.source.base_dir, ctx.expand_user(text)))


def _path_list(value, path, ctx):
    return [_path(item, path + (i,), ctx) for i, item in enumerate(_string_list(value, path, ctx))]


def _url(schemes: tuple) -> Validator:
    def check(value, path, ctx):
        text = _nonempty_string(value, path, ctx)
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(text)
            ok = parts.scheme.lower() in schemes and bool(parts.hostname)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            ok = False
        if not ok:
            article = "an" if schemes[0] == "http" else "a"
            raise _Bad(
                path,
                f"expected {article} {' or '.join(s + '://' for s in schemes)} URL, got {describe_value(path, value)}",
                _example_hint(path),
            )
        return text

    return check


def _enum(choices: tuple, what: str) -> Validator:
    def check(value, path, ctx):
        if not isinstance(value, str):
            raise _type_error(path, f"a {what}", value)
        if value not in choices:
            guess = did_you_mean(value, choices)
            extra = f" (did you mean {guess!r}?)" if guess else ""
            raise _Bad(path, f"unknown {what} {value!r}{extra}", f"one of: {', '.join(choices)}")
        return value

    return check


_RULE_HINT = 'write Tool or Tool(specifier), e.g. "Bash(npm run test:*)", "Read(./src/**)", "WebFetch"'


def _rule_list(value, path, ctx):
    rules = _string_list(value, path, ctx)
    for i, rule in enumerate(rules):
        name, paren, rest = rule.partition("(")
        ok = bool(name) and all(ch.isalnum() or ch in "_-*." for ch in name)
        if paren and not rest.endswith(")"):
            ok = False
        if not ok:
            raise _Bad(path + (i,), f"{rule!r} is not a permission rule", _RULE_HINT)
    return rules


def _string_or_list_joined(value, path, ctx):
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join(_string_list(value, path, ctx))
    raise _type_error(path, "a string or a list of strings", value)


def _scopes(value, path, ctx):
    if isinstance(value, str):
        return value.split()
    return _string_list(value, path, ctx)


def _timeouts(value, path, ctx):
    if _is_number(value) and value > 0:
        return {"connect": value, "read": value}
    if isinstance(value, dict):
        return _object({"connect": _positive_number, "read": _positive_number})(value, path, ctx)
    raise _type_error(path, "a positive number of seconds or {connect, read}", value)


# -- objects ---------------------------------------------------------------------------------------


def _clean_fields(obj: dict, path: KeyPath, fields: Dict[str, Validator], ctx: _Ctx) -> dict:
    """Validate each known field; a bad one is reported as an error and left out; unknown ones warn."""
    out = {}
    for key, value in obj.items():
        if value is None:
            out[key] = None
            continue
        validator = fields.get(key)
        if validator is None:
            ctx.unknown(path, key, [k for k in fields if k != "$schema"])
            continue
        try:
            out[key] = validator(value, path + (key,), ctx)
        except _Bad as bad:
            ctx.report(ERROR, bad)
    return out


def _object(fields: Dict[str, Validator]) -> Validator:
    def check(value, path, ctx):
        if not isinstance(value, dict):
            raise _type_error(path, "an object", value)
        return _clean_fields(value, path, fields, ctx)

    return check


# -- hooks -----------------------------------------------------------------------------------------


def _hook_command(value, path, ctx):
    if not isinstance(value, dict):
        raise _type_error(path, 'an object like {"type": "command", "command": "..."}', value)
    out = {}
    for key, item in value.items():
        if key == "type":
            out["type"] = _enum(HOOK_TYPES, "hook type")(item, path + (key,), ctx)
        elif key == "command":
            out["command"] = _nonempty_string(item, path + (key,), ctx)
        elif key == "timeout":
            out["timeout"] = _positive_number(item, path + (key,), ctx)
        else:
            ctx.unknown(path, key, ["type", "command", "timeout"])
    out.setdefault("type", "command")
    if "command" not in out:
        raise _Bad(path, "missing 'command'", _example_hint(("hooks",)))
    return out


def _hook_matcher(value, path, ctx):
    if not isinstance(value, dict):
        raise _type_error(path, 'an object like {"matcher": "Bash", "hooks": [...]}', value)
    out: dict = {}
    for key, item in value.items():
        if key == "matcher":
            matcher = _string(item, path + (key,), ctx)
            if matcher not in ("", "*"):
                import re

                try:
                    re.compile(matcher)
                except re.error as exc:
                    raise _Bad(path + (key,), f"{matcher!r} is not a valid pattern: {exc}", 'e.g. "Bash", "Edit|Write", "mcp__.*", or "*"')
            out["matcher"] = matcher
        elif key == "hooks":
            if not isinstance(item, list):
                raise _type_error(path + (key,), "a list of hook commands", item)
            out["hooks"] = [_hook_command(h, path + (key, i), ctx) for i, h in enumerate(item)]
        else:
            ctx.unknown(path, key, ["matcher", "hooks"])
    if "hooks" not in out:
        raise _Bad(path, "missing 'hooks' (the list of commands to run)", _example_hint(("hooks",)))
    out.setdefault("matcher", "")
    return out


def _hooks(value, path, ctx):
    if not isinstance(value, dict):
        raise _type_error(path, "an object of hook events", value)
    out = {}
    for event, matchers in value.items():
        if matchers is None:
            out[event] = None
            continue
        if event not in HOOK_EVENTS:
            guess = did_you_mean(event, HOOK_EVENTS)
            extra = f" (did you mean {guess!r}?)" if guess else ""
            ctx.report(ERROR, _Bad(path + (event,), f"unknown hook event {event!r}{extra}", f"events: {', '.join(HOOK_EVENTS)}"))
            continue
        try:
            if not isinstance(matchers, list):
                raise _type_error(path + (event,), "a list of matchers", matchers)
            out[event] = [_hook_matcher(m, path + (event, i), ctx) for i, m in enumerate(matchers)]
        except _Bad as bad:
            ctx.report(ERROR, bad)
    return out


# -- MCP servers -----------------------------------------------------------------------------------


def clean_mcp_server(name: str, value: Any, path: KeyPath, ctx: _Ctx) -> dict:
    """One ``mcpServers`` entry, cleaned, with ``type`` filled in. Raises _Bad when unusable."""
    if not isinstance(value, dict):
        raise _type_error(path, "an object", value)
    transport = value.get("type")
    if transport is None:
        if "command" in value:
            transport = "stdio"
        elif isinstance(value.get("url"), str):
            transport = "ws" if value["url"].lower().startswith(("ws:", "wss:")) else "http"
        else:
            raise _Bad(path, "needs 'command' (a stdio server) or 'url' (an http, sse or ws server)", _example_hint(("mcpServers",)))
    elif not isinstance(transport, str):
        raise _type_error(path + ("type",), "a string", transport)
    elif transport not in MCP_TRANSPORTS:
        guess = did_you_mean(transport, MCP_TRANSPORTS)
        extra = f" (did you mean {guess!r}?)" if guess else ""
        raise _Bad(path + ("type",), f"unknown transport {transport!r}{extra}", f"one of: {', '.join(MCP_TRANSPORTS)}")
    fields = _MCP_FIELDS[transport]
    out: dict = {"type": transport}
    for key, item in value.items():
        sub = path + (key,)
        if key == "type":
            continue
        if key not in fields:
            ctx.unknown(path, key, list(fields))
            continue
        if item is None:
            continue
        if key == "command":
            out[key] = _nonempty_string(item, sub, ctx)
        elif key == "args":
            out[key] = _string_list(item, sub, ctx)
        elif key in ("env", "headers"):
            out[key] = {k: v for k, v in _string_map(item, sub, ctx).items() if v is not None}
        elif key == "cwd":
            out[key] = _path(item, sub, ctx)
        elif key == "timeout":
            out[key] = _positive_number(item, sub, ctx)
        elif key == "url":
            out[key] = _url(_URL_SCHEMES[transport])(item, sub, ctx)
    required = "command" if transport == "stdio" else "url"
    if required not in out:
        raise _Bad(path, f"a {transport} server needs {required!r}", _example_hint(("mcpServers",)))
    return out


def _mcp_servers(value, path, ctx):
    if not isinstance(value, dict):
        raise _type_error(path, "an object of servers by name", value)
    out = {}
    for name, entry in value.items():
        if entry is None:
            out[name] = None
            continue
        try:
            out[name] = clean_mcp_server(name, entry, path + (name,), ctx)
        except _Bad as bad:
            ctx.report(INVALID, bad, f" (MCP server {name!r} is skipped)")
    return out


# -- the top level ---------------------------------------------------------------------------------

PERMISSIONS_FIELDS: Dict[str, Validator] = {
    "defaultMode": _enum(PERMISSION_MODES, "permission mode"),
    "allow": _rule_list,
    "deny": _rule_list,
    "ask": _rule_list,
    "additionalDirectories": _path_list,
}
OAUTH_FIELDS: Dict[str, Validator] = {
    "clientId": _nonempty_string,
    "authorizeUrl": _url(("http", "https")),
    "tokenUrl": _url(("http", "https")),
    "scopes": _scopes,
    "callbackPort": _int_range(0, 65535, "a port number 0-65535 (0: any free port)"),
}
NETWORK_FIELDS: Dict[str, Validator] = {
    "proxy": _string,
    "noProxy": _string_or_list_joined,
    "caFiles": _path_list,
    "clientCert": _path,
    "clientKey": _path,
    "timeout": _timeouts,
    "maxRetries": _int_range(0, 1000, "a whole number >= 0"),
}
TOP_LEVEL_FIELDS: Dict[str, Validator] = {
    "$schema": _string,
    "model": _nonempty_string,
    "aliases": _string_map,
    "permissions": _object(PERMISSIONS_FIELDS),
    "hooks": _hooks,
    "env": _string_map,
    "mcpServers": _mcp_servers,
    "oauth": _object(OAUTH_FIELDS),
    "apiKeyHelper": _nonempty_string,
    "network": _object(NETWORK_FIELDS),
    "promptCaching": _boolean,
    "customHeaders": _string_map,
    "alwaysThinkingEnabled": _boolean,
    "fallbackModel": _model_list,
    "effortLevel": _enum(("low", "medium", "high", "xhigh", "max"), "effort level"),
    "enabledPlugins": _bool_map,
    "sandbox": _object({"enabled": _boolean, "autoAllowBashIfSandboxed": _boolean, "excludedCommands": _string_list,
                        "failIfUnavailable": _boolean}),
}
KNOWN_KEYS = tuple(k for k in TOP_LEVEL_FIELDS if k != "$schema")


def clean_settings(data: dict, source: SettingsSource, home: str | None = None) -> tuple[dict, list[Problem]]:
    """Validate one file's top-level object; returns (cleaned object, problems). ``home`` is what
    ``~`` in paths means (default: the OS's idea of the user's home)."""
    ctx = _Ctx(source, home)
    cleaned = _clean_fields(data, (), TOP_LEVEL_FIELDS, ctx)
    return cleaned, ctx.problems


def clean_mcp_servers(
    data: Any, source: SettingsSource, path: KeyPath = ("mcpServers",), home: str | None = None
) -> tuple[dict, list[Problem]]:
    """Validate an ``mcpServers`` object from anywhere (settings, ``.mcp.json``, ``--mcp-config``):
    returns (cleaned servers by name, problems); a broken entry is an ``invalid`` problem, dropped."""
    ctx = _Ctx(source, home)
    try:
        servers = _mcp_servers(data, path, ctx)
    except _Bad as bad:
        ctx.report(ERROR, bad)
        servers = {}
    return {k: v for k, v in servers.items() if v is not None}, ctx.problems
