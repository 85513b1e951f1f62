"""Settings: discovery, parsing (JSON and TOML), validation, merge with provenance, typed models,
the effective environment, and writing one scope's file for ``claw config``.

The names below are imported lazily, so ``import claw.config`` costs nothing until one is used.
Modules: sources (where), parsing (read one file), schema (validate one file), merge (combine),
models (typed result), loader (all of it), environment (env overlay, NetConfig), writer (edit a
scope's file), keypath, problems, redact.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "load_settings": "loader",
    "LoadedSettings": "loader",
    "get_path": "loader",
    "Settings": "models",
    "PermissionSettings": "models",
    "HookMatcher": "models",
    "HookCommand": "models",
    "StdioServerConfig": "models",
    "HttpServerConfig": "models",
    "WebSocketServerConfig": "models",
    "OAuthSettings": "models",
    "NetworkSettings": "models",
    "mcp_server_from_clean": "models",
    "Problem": "problems",
    "SettingsSource": "sources",
    "config_home": "sources",
    "candidate_sources": "sources",
    "scope_file": "sources",
    "effective_env": "environment",
    "network_config": "environment",
    "clean_mcp_servers": "schema",
    "format_key_path": "keypath",
    "parse_key_path": "keypath",
    "redact": "redact",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'claw.config' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
