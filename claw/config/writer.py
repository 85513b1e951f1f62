"""Editing one scope's settings file for ``claw config set|unset|add|remove``.

Writes go to the scope's JSON file only (``$CLAW_CONFIG_HOME/settings.json``, ``./.claw/settings.json``,
``./.claw/settings.local.json``): the file is read, changed in memory, and written back with 2-space
indentation and unrelated keys in their order, atomically (a temporary file in the same directory, then
``os.replace``), keeping the file's mode (new user and local files get 0600: they may hold secrets in
``env``) and following a symlink to its target. The directory is created when missing. A file that does
not parse is never overwritten. TOML files are never written: claw would lose their comments and
layout; since the JSON twin of a location wins over its TOML twin, a value set here takes effect anyway.

This module validates nothing about key names or types (the CLI checks with the schema before
writing) and prints nothing.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from claw.config.keypath import KeyPath, format_key_path
from claw.config.parsing import read_source
from claw.config.problems import ERROR
from claw.config.sources import SCOPE_PROJECT, SettingsSource
from claw.errors import ConfigError

NEW_FILE_MODE = {SCOPE_PROJECT: 0o644}
PRIVATE_MODE = 0o600


def read_object(source: SettingsSource) -> dict:
    """The object in ``source`` ({} when the file does not exist). Raises ConfigError when it
    cannot be read or parsed, so a broken file is never overwritten."""
    data, problems = read_source(source)
    for problem in problems:
        if problem.level == ERROR:
            raise ConfigError(
                problem.message,
                hint=f"{problem.hint}; claw config will not overwrite a file it cannot read" if problem.hint else None,
            )
    return {} if data is None else data


def _container_error(path: KeyPath, upto: int, found: Any) -> ConfigError:
    where = format_key_path(path[:upto])
    return ConfigError(
        f"cannot set {format_key_path(path)}: {where} is {type(found).__name__}, not an object",
        hint=f"unset {where} first, or set {where} as a whole",
    )


def set_value(data: dict, path: KeyPath, value: Any) -> dict:
    """A copy of ``data`` with ``path`` set to ``value`` (intermediate objects created)."""
    result = copy.deepcopy(data)
    node: Any = result
    for i, segment in enumerate(path[:-1]):
        if isinstance(segment, int):
            if not isinstance(node, list) or not 0 <= segment < len(node):
                raise ConfigError(f"cannot set {format_key_path(path)}: no item {format_key_path(path[: i + 1])}")
            node = node[segment]
            continue
        if not isinstance(node, dict):
            raise _container_error(path, i, node)
        child = node.get(segment)
        if child is None:
            child = node[segment] = {}
        node = child
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or not 0 <= last < len(node):
            raise ConfigError(f"cannot set {format_key_path(path)}: no such list item", hint="use 'claw config add' to append")
    elif not isinstance(node, dict):
        raise _container_error(path, len(path) - 1, node)
    node[last] = value
    return result


def unset_value(data: dict, path: KeyPath) -> tuple[dict, bool]:
    """A copy of ``data`` without ``path``, and whether it was there. Objects left empty by the
    removal are removed too."""
    result = copy.deepcopy(data)
    chain = [result]
    node: Any = result
    for segment in path[:-1]:
        if isinstance(node, dict) and isinstance(segment, str) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and isinstance(segment, int) and 0 <= segment < len(node):
            node = node[segment]
        else:
            return result, False
        chain.append(node)
    last = path[-1]
    if isinstance(node, dict) and isinstance(last, str) and last in node:
        del node[last]
    elif isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
        del node[last]
    else:
        return result, False
    for depth in range(len(path) - 1, 0, -1):
        parent, key = chain[depth - 1], path[depth - 1]
        if isinstance(chain[depth], dict) and not chain[depth] and isinstance(parent, dict):
            del parent[key]
        else:
            break
    return result, True


def write_object(source: SettingsSource, data: dict) -> str:
    """Write ``data`` as JSON to ``source.path`` atomically; returns the path written."""
    import json

    from claw.fsutil import atomic_write

    if source.path is None or source.format != "json":
        raise ConfigError(f"claw config writes JSON settings files only, not {source.name}")
    path = os.path.realpath(source.path)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    try:
        atomic_write(path, text.encode("utf-8"), new_file_mode=NEW_FILE_MODE.get(source.scope, PRIVATE_MODE),
                     make_dirs=0o777)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="check that the directory is writable",
        ) from None
    return path
