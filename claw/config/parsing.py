"""Reading one settings source into a plain dict: JSON or TOML, with file, line and column in errors.

JSON goes through the standard ``json`` module (duplicate keys are reported as warnings: the last one
wins, as in JSON parsers generally); TOML through ``tomllib`` on Python 3.11+ and the vendored ``tomli``
below, both imported only when a file of that format exists. A file that is empty or only whitespace
counts as an empty object. A UTF-8 byte order mark is accepted.

Limits: a source larger than ``MAX_SETTINGS_BYTES`` (16 MiB) or nested deeper than ``MAX_DEPTH`` (64
levels of objects and lists) is an error naming the source, never a traceback (``RecursionError`` of
the parsers on absurd nesting included); every Python version answers the same.

This module checks syntax and that the top level is an object; what the keys mean is the schema's job.
"""

from __future__ import annotations

import re

from claw.config.problems import ERROR, WARNING, Problem
from claw.config.sources import SCOPE_FLAG, SettingsSource

JSON_HINT = "JSON allows no comments or trailing commas; fix the file, or write it as TOML (settings.toml)"
TOML_HINT = "fix the TOML syntax (https://toml.io); quote keys and strings, one key = value per line"

MAX_SETTINGS_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64
SIZE_HINT = "settings files are small; keep long lists (permission rules) under 16 MiB per file"
DEPTH_HINT = f"settings are nested a few levels deep; flatten the structure (at most {MAX_DEPTH} levels)"

_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


def load_toml_module():
    """``tomllib`` on 3.11+, else the vendored (or installed) ``tomli``."""
    try:
        import tomllib  # type: ignore[import-not-found]
    except ModuleNotFoundError:
        from claw._vendor import tomli as tomllib  # type: ignore[no-redef]
    return tomllib


def _type_name(value) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    return type(value).__name__


def read_source(source: SettingsSource) -> tuple[dict | None, list[Problem]]:
    """Read and parse ``source``. Returns ``(None, [])`` when the file does not exist (a missing
    ``--settings`` file is an error), ``(None, [problem])`` when it cannot be used, else the object
    and any warnings."""
    if source.inline_text is not None:
        if len(source.inline_text) > MAX_SETTINGS_BYTES:
            return None, [_too_large(source)]
        return _parse(source, source.inline_text)
    assert source.path is not None
    try:
        with open(source.path, "rb") as fh:
            data = fh.read(MAX_SETTINGS_BYTES + 1)
    except FileNotFoundError:
        if source.scope == SCOPE_FLAG:
            return None, [
                Problem(
                    ERROR,
                    f"--settings: file not found: {source.path}",
                    "pass an existing file, or inline JSON starting with '{'",
                    source,
                )
            ]
        return None, []
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        return None, [Problem(ERROR, f"cannot read {source.path}: {reason}", "check the file's permissions", source)]
    if len(data) > MAX_SETTINGS_BYTES:
        return None, [_too_large(source)]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [
            Problem(
                ERROR,
                f"{source.path}, line {line} column {col}: not UTF-8 text (byte 0x{data[exc.start]:02x})",
                "save the file as UTF-8",
                source,
            )
        ]
    return _parse(source, text)


def _too_large(source: SettingsSource) -> Problem:
    return Problem(ERROR, f"{source.name}: larger than {MAX_SETTINGS_BYTES // (1024 * 1024)} MiB", SIZE_HINT, source)


def _too_deep_problem(source: SettingsSource) -> Problem:
    return Problem(ERROR, f"{source.name}: nested more than {MAX_DEPTH} levels deep", DEPTH_HINT, source)


def nesting_exceeds(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether objects and lists in ``value`` nest deeper than ``limit`` levels (iterative: any depth)."""
    stack = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        for child in children:
            if isinstance(child, (dict, list)):
                push((child, depth + 1))
    return False


def _parse(source: SettingsSource, text: str) -> tuple[dict | None, list[Problem]]:
    if not text.strip():
        return {}, []
    try:
        if source.format == "toml":
            value, problems = _parse_toml(source, text)
        else:
            value, problems = _parse_json(source, text)
    except RecursionError:  # nesting the parser's recursion cannot follow: far beyond the limit
        return None, [_too_deep_problem(source)]
    if value is not None and nesting_exceeds(value):
        return None, [p for p in problems if p.level != ERROR] + [_too_deep_problem(source)]
    return value, problems


def _parse_json(source: SettingsSource, text: str) -> tuple[dict | None, list[Problem]]:
    import json

    duplicates: list[str] = []

    def pairs_hook(pairs):
        obj = {}
        for key, value in pairs:
            if key in obj:
                duplicates.append(key)
            obj[key] = value
        return obj

    try:
        value = json.loads(text, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as exc:
        return None, [
            Problem(
                ERROR,
                f"invalid JSON in {source.name}, line {exc.lineno} column {exc.colno}: {exc.msg}",
                JSON_HINT,
                source,
            )
        ]
    problems = [
        Problem(WARNING, f"{source.name}: duplicate key {key!r} (the last one wins)", None, source)
        for key in dict.fromkeys(duplicates)
    ]
    if not isinstance(value, dict):
        problems.append(
            Problem(
                ERROR,
                f"{source.name}: expected an object at the top level, got {_type_name(value)}",
                'settings are one JSON object, e.g. {"model": "sonnet"}',
                source,
            )
        )
        return None, problems
    return value, problems


def _parse_toml(source: SettingsSource, text: str) -> tuple[dict | None, list[Problem]]:
    tomllib = load_toml_module()
    try:
        return tomllib.loads(text), []
    except tomllib.TOMLDecodeError as exc:
        line, col, msg = _toml_position(exc, text)
        return None, [
            Problem(ERROR, f"invalid TOML in {source.name}, line {line} column {col}: {msg}", TOML_HINT, source)
        ]


def _toml_position(exc: Exception, text: str) -> tuple[int, int, str]:
    """(line, column, message) from a TOMLDecodeError of any tomli/tomllib version: newer ones carry
    ``lineno``/``colno``/``msg``; older ones only say ``(at line L, column C)`` or ``(at end of
    document)`` at the end of the message."""
    full = str(exc)
    msg = getattr(exc, "msg", None)
    line = getattr(exc, "lineno", None)
    col = getattr(exc, "colno", None)
    at = _AT.search(full)
    end = None if at else _AT_END.search(full)
    if at:
        line = line or int(at.group(1))
        col = col or int(at.group(2))
    if msg is None:
        cut = at or end
        msg = full[: cut.start()] if cut else full
    if line is None:
        lines = text.split("\n")
        if len(lines) > 1 and lines[-1] == "":
            lines.pop()
        line, col = len(lines), len(lines[-1]) + 1
    return line, col or 1, msg
