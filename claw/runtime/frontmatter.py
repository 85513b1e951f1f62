"""The YAML frontmatter of a Markdown file (custom slash commands, skills): the small subset such files use.

``split_frontmatter(text)`` returns ``Frontmatter(meta, body, error)``. A file that starts with a line
``---`` has a frontmatter block up to the next ``---`` line; inside it, what is understood is:

- ``key: value`` lines; a value may be quoted (``'...'`` or ``"..."``), ``true``/``false``, an inline
  list ``[a, b]``, or empty followed by ``- item`` lines (a block list);
- ``#`` comment lines and blank lines;
- a value continued on indented lines (folded into one line with spaces).

Anything else (an unclosed block, a line that is not ``key: value``) makes ``error`` say what and
where; ``meta`` then holds nothing (the file is used with default settings and its body).

Deliberately not a YAML parser: no anchors, nested mappings, multi-document files or type coercion
beyond booleans; values are strings, booleans or lists of strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)\s*:(?:\s+(.*)|\s*)$")

Value = Union[str, bool, List[str]]


@dataclass(frozen=True)
class Frontmatter:
    """A Markdown file split into its frontmatter values and its body."""

    meta: Dict[str, Any] = field(default_factory=dict)
    body: str = ""
    error: Optional[str] = None  # why the frontmatter was not understood (``meta`` is then empty)


def split_frontmatter(text: str) -> Frontmatter:
    """``text`` split into frontmatter and body (see the module docstring)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return Frontmatter({}, text)
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        return Frontmatter({}, text, "the frontmatter opened by '---' on line 1 is never closed")
    body = "".join(lines[end + 1:])
    try:
        meta = _parse([line.rstrip("\r\n") for line in lines[1:end]])
    except ValueError as exc:
        return Frontmatter({}, body, str(exc))
    return Frontmatter(meta, body)


def _parse(lines: List[str]) -> Dict[str, Any]:
    meta: Dict[str, Any] = {}
    key: Optional[str] = None  # the key the following indented lines belong to
    for number, line in enumerate(lines, start=2):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[:1] in (" ", "\t") or stripped.startswith("- "):
            if key is None:
                raise ValueError(f"line {number}: an indented line or list item without a key before it")
            current = meta[key]
            if stripped.startswith("- ") or stripped == "-":
                if current == "":
                    current = meta[key] = []
                if not isinstance(current, list):
                    raise ValueError(f"line {number}: a list item under {key!r}, which already has a value")
                current.append(_scalar(stripped[1:].strip(), number))
            elif isinstance(current, str):
                meta[key] = f"{current} {stripped}".strip()
            else:
                raise ValueError(f"line {number}: cannot continue the value of {key!r}")
            continue
        match = _KEY.match(line)
        if match is None:
            raise ValueError(f"line {number}: expected 'key: value', got {stripped[:60]!r}")
        key = match.group(1)
        meta[key] = _value((match.group(2) or "").strip(), number)
    return meta


def _value(raw: str, number: int) -> Value:
    if raw.startswith("[") and raw.endswith("]"):
        inner = raw[1:-1].strip()
        return [_scalar(part.strip(), number) for part in _split_inline(inner)] if inner else []
    if raw.startswith("[") or raw.startswith("{"):
        raise ValueError(f"line {number}: unsupported value {raw[:60]!r}")
    value = _scalar(raw, number)
    if value in ("true", "True", "yes") and not _quoted(raw):
        return True
    if value in ("false", "False", "no") and not _quoted(raw):
        return False
    return value


def _quoted(raw: str) -> bool:
    return len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\""


def _scalar(raw: str, number: int) -> str:
    if raw[:1] in ("'", '"'):
        if not _quoted(raw):
            raise ValueError(f"line {number}: unterminated quoted value {raw[:60]!r}")
        inner = raw[1:-1]
        return inner.replace("''", "'") if raw[0] == "'" else inner.replace('\\"', '"').replace("\\\\", "\\")
    if " #" in raw:  # a trailing comment
        raw = raw.split(" #", 1)[0].rstrip()
    return raw


def _split_inline(inner: str) -> List[str]:
    """``a, "b, c", d`` -> three items (commas inside quotes kept)."""
    parts: List[str] = []
    current: List[str] = []
    quote = ""
    for ch in inner:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def as_list(value: Any) -> List[str]:
    """A frontmatter value as a list of strings: ``"Bash(git:*), Read"`` and ``[..]`` alike."""
    if value is None or value is False or value is True:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    from claw.tools.registry import split_tool_list

    return split_tool_list(str(value))
