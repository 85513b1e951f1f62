"""``${VAR}`` and ``${VAR:-default}`` expansion in MCP server entries, as Claude Code's ``.mcp.json``
has it.

``expand(text, env)`` replaces ``${NAME}`` with the variable's value and ``${NAME:-default}`` with the
value, or with ``default`` when the variable is unset or empty (the shell's ``:-``). A ``${NAME}`` whose
variable is unset expands to nothing and its name is recorded, so the caller can refuse to start
that server with a message naming the variable. ``$NAME`` without braces and ``$$`` are left as they
are (commands and URLs legitimately contain ``$``). Defaults do not nest.

``expand_entry(entry, env)`` applies it to the fields that take it: ``command``, ``args``, ``env``
values, ``url``, ``headers`` values and ``cwd``; other fields are copied unchanged.

Pure functions: no I/O, and ``env`` is never modified.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand(text: str, env: Mapping[str, str], missing: Optional[List[str]] = None) -> str:
    """``text`` with every ``${VAR}`` / ``${VAR:-default}`` replaced (see the module docstring).
    Names of unset variables without a default are appended to ``missing`` (once each)."""
    if "${" not in text:
        return text

    def replace(match: "re.Match[str]") -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if default is not None:
            return value if value else default
        if value is None:
            if missing is not None and name not in missing:
                missing.append(name)
            return ""
        return value

    return _PATTERN.sub(replace, text)


def expand_entry(entry: Mapping[str, Any], env: Mapping[str, str]) -> Tuple[Dict[str, Any], List[str]]:
    """A copy of one raw ``mcpServers`` entry with variables expanded, and the unset variables
    (without defaults) it referred to. Values of the wrong type are copied as they are, for the
    schema to report."""
    missing: List[str] = []
    out: Dict[str, Any] = dict(entry)
    for key in ("command", "url", "cwd"):
        value = out.get(key)
        if isinstance(value, str):
            out[key] = expand(value, env, missing)
    args = out.get("args")
    if isinstance(args, list):
        out["args"] = [expand(a, env, missing) if isinstance(a, str) else a for a in args]
    for key in ("env", "headers"):
        mapping = out.get(key)
        if isinstance(mapping, dict):
            out[key] = {k: expand(v, env, missing) if isinstance(v, str) else v for k, v in mapping.items()}
    return out, missing
