"""What a project's settings lose in an untrusted folder: the keys that can run code or send credentials
and traffic elsewhere.

A cloned repository's ``.claw.json``, ``.claw/settings*`` and ``.mcp.json`` are written by whoever
wrote the repository. In a folder that is not trusted (``claw.config.trust``) these keys of those files
are ignored (``GATED``), each for a reason:

- ``hooks``, ``statusLine``: shell commands claw runs;
- ``mcpServers`` (and every server of ``.mcp.json``): stdio servers are programs claw starts; http
  servers receive headers that ``${VAR}`` expands from the user's environment;
- ``env``: ``ANTHROPIC_BASE_URL`` & co. send the API key elsewhere, ``PATH``/``LD_PRELOAD`` run code;
- ``apiKeyHelper``: a command claw runs;
- ``customHeaders``: headers on every model request (an ``Authorization`` of the repository's choosing
  would send the user's work under someone else's account);
- ``permissions.allow``, ``permissions.additionalDirectories``: widen what tools may do;
- ``permissions.defaultMode`` when wider than the mode that would apply without the project files
  (the user's or ``--settings`` mode, else the built-in default);
- ``oauth``: token and authorize URLs receive refresh tokens and codes; the client and scopes shape
  the login;
- ``network.proxy``, ``network.noProxy``, ``network.caFiles``, ``network.clientCert``,
  ``network.clientKey``: a proxy plus a CA of the repository's choosing reads every request, API key
  included;
- ``enabledPlugins``: an installed plugin's hooks, MCP servers and tools are programs claw runs.
- ``sandbox``: turning the user's bash sandbox off (or excluding commands from it) lets bash out of
  it, and ``autoAllowBashIfSandboxed`` lets bash run without asking.
- ``null`` at ``permissions``, ``permissions.deny``, ``permissions.ask`` or any key above: it would
  remove what the user set (deny rules, a narrower mode, a guard hook).

What stays: ``model`` and ``aliases`` (they choose among the providers the user's environment
configures; base URLs and keys come only from the environment), ``permissions.deny``/``ask``,
a ``defaultMode`` no wider than the baseline, ``network.timeout``/``maxRetries``, ``promptCaching``.

Pure: dicts in, dicts out.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from claw.config.keypath import KeyPath

BUILTIN_DEFAULT_MODE = "danger-full-access"  # what a fresh session runs in without any setting

GATED: Tuple[KeyPath, ...] = (
    ("hooks",),
    ("statusLine",),
    ("mcpServers",),
    ("env",),
    ("apiKeyHelper",),
    ("customHeaders",),
    ("permissions", "allow"),
    ("permissions", "additionalDirectories"),
    ("oauth",),
    ("network", "proxy"),
    ("network", "noProxy"),
    ("network", "caFiles"),
    ("network", "clientCert"),
    ("network", "clientKey"),
    ("enabledPlugins",),
    ("sandbox",),
)
# Removing these (null) would widen what the user set.
NULL_GATED: Tuple[KeyPath, ...] = (("permissions",), ("permissions", "deny"), ("permissions", "ask"),
                                   ("permissions", "defaultMode"), ("network",))

_RANK = {
    "read-only": 0, "plan": 0, "dontAsk": 0,
    "default": 1,
    "workspace-write": 2, "acceptEdits": 2,
    "danger-full-access": 3, "bypassPermissions": 3,
}


def mode_rank(mode: Optional[str]) -> int:
    """How much a permission mode lets run without asking (higher: wider)."""
    return _RANK.get(mode or "", _RANK[BUILTIN_DEFAULT_MODE])


def is_wider(mode: Any, baseline: Optional[str]) -> bool:
    """``mode`` lets more run than ``baseline`` (None: the built-in default)."""
    return isinstance(mode, str) and mode_rank(mode) > mode_rank(baseline or BUILTIN_DEFAULT_MODE)


def _get(data: Any, path: KeyPath) -> Tuple[bool, Any]:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return False, None
        data = data[key]
    return True, data


def _drop(data: dict, path: KeyPath) -> dict:
    """``data`` without ``path``: the containers on the way are copied (shallow), nothing else."""
    key = path[0]
    if len(path) == 1:
        return {k: v for k, v in data.items() if k != key}
    inner = data.get(key)
    if not isinstance(inner, dict):
        return data
    out = dict(data)
    out[key] = _drop(inner, path[1:])
    return out


def gate(data: dict, baseline_mode: Optional[str]) -> Tuple[dict, List[KeyPath]]:
    """``data`` (one project file's object, cleaned or as written) without what an untrusted folder
    may not set, and the key paths that were dropped. ``data`` itself is not changed (and is returned
    as is when nothing is dropped: a file of 20,000 rules is not copied)."""
    dropped: List[KeyPath] = []
    for path in GATED:
        if _get(data, path)[0]:
            dropped.append(path)
    for path in NULL_GATED:
        present, value = _get(data, path)
        if present and value is None and path not in dropped:
            dropped.append(path)
    present, mode = _get(data, ("permissions", "defaultMode"))
    if present and is_wider(mode, baseline_mode) and ("permissions", "defaultMode") not in dropped:
        dropped.append(("permissions", "defaultMode"))
    out = data
    for path in dropped:
        out = _drop(out, path)
    # an emptied section must not stay behind as {} (it would read as "set" in claw config list)
    for section in ("permissions", "network"):
        if out.get(section) == {} and data.get(section) != {}:
            out = _drop(out, (section,))
    return out, dropped
