"""Merging settings objects in precedence order, remembering which source set each key.

Rules (later sources win):
- objects merge key by key, recursively;
- a scalar, or a value of a different type, replaces what was there;
- ``null`` removes the key (and everything under it) set by earlier sources;
- lists replace, except these, which concatenate across sources with duplicates dropped (first
  occurrence kept): ``permissions.allow``, ``permissions.deny``, ``permissions.ask``,
  ``permissions.additionalDirectories``, ``network.caFiles`` and every ``hooks.<Event>`` list;
- an ``mcpServers.<name>`` entry is replaced as a whole (two half-definitions of one server never mix).

Provenance is kept per key path: for each object key and leaf the indices of the sources that
contributed to it, in order (several for merged objects and concatenated lists). Paths inside lists
are not tracked; ask for the list.

This module is pure: plain dicts in, plain dicts out; no validation.
"""

from __future__ import annotations

import copy
from typing import Dict, List

from claw.config.keypath import KeyPath

Origins = Dict[KeyPath, List[int]]

CONCAT_LISTS = frozenset(
    {
        ("permissions", "allow"),
        ("permissions", "deny"),
        ("permissions", "ask"),
        ("permissions", "additionalDirectories"),
        ("network", "caFiles"),
    }
)


def concatenates(path: KeyPath) -> bool:
    return path in CONCAT_LISTS or (len(path) == 2 and path[0] == "hooks")


def replaced_whole(path: KeyPath) -> bool:
    return len(path) == 2 and path[0] == "mcpServers"


def _dedup(items: list) -> list:
    """``items`` without repeats, first occurrence kept, in linear time for hashable items (rules are
    strings; hook entries, which are dicts, are few and compared one by one)."""
    out: list = []
    seen: set = set()
    unhashable: list = []
    for item in items:
        try:
            if item in seen:
                continue
            seen.add(item)
        except TypeError:
            if item in unhashable:
                continue
            unhashable.append(item)
        out.append(item)
    return out


def _strip_nulls(value):
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    return copy.deepcopy(value)


def _forget(origins: Origins, path: KeyPath) -> None:
    n = len(path)
    for key in [k for k in origins if k[:n] == path]:
        del origins[key]


def _note(origins: Origins, path: KeyPath, index: int) -> None:
    seen = origins.setdefault(path, [])
    if index not in seen:
        seen.append(index)


def _record_leaves(origins: Origins, path: KeyPath, value, index: int) -> None:
    origins[path] = [index]
    if isinstance(value, dict):
        for key, item in value.items():
            _record_leaves(origins, path + (key,), item, index)


def merge_into(target: dict, incoming: dict, index: int, origins: Origins, prefix: KeyPath = ()) -> None:
    """Merge ``incoming`` (from source number ``index``) into ``target`` in place."""
    for key, value in incoming.items():
        path = prefix + (key,)
        if value is None:
            target.pop(key, None)
            _forget(origins, path)
            continue
        current = target.get(key)
        if isinstance(value, dict) and not replaced_whole(path):
            if not isinstance(current, dict):
                target[key] = {}
                _forget(origins, path)
            _note(origins, path, index)
            merge_into(target[key], value, index, origins, path)
        elif isinstance(value, list) and isinstance(current, list) and concatenates(path):
            target[key] = _dedup(current + copy.deepcopy(value))
            _note(origins, path, index)
        else:
            if isinstance(value, list) and concatenates(path):
                value = _dedup(value)
            value = _strip_nulls(value)
            _forget(origins, path)
            target[key] = value
            _record_leaves(origins, path, value, index)


def merge_all(objects: list) -> tuple[dict, Origins]:
    """Merge ``objects`` (lowest precedence first); returns the result and its provenance."""
    result: dict = {}
    origins: Origins = {}
    for index, obj in enumerate(objects):
        merge_into(result, obj, index, origins)
    return result, origins
