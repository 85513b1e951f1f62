"""Input validation driven by a tool's own JSON Schema, with messages a model can act on.

Supports the subset the built-in tools use: an object with ``properties``, ``required``,
``additionalProperties: false``; property types string / integer / number / boolean / array / object;
``enum``, ``minimum``, ``maximum``, ``minLength``, array ``items`` (recursively). Light coercion for what
models commonly send: ``"5"`` for an integer, ``"true"`` for a boolean. Property aliases (Claude Code's
``file_path`` for our ``path``) are renamed before checking.

It is not a general JSON Schema validator (no $ref, oneOf, patterns, formats): tools check what the
schema cannot say in their own ``validate``.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from claw.tools.base import ToolInputError

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "an array",
    "object": "an object",
}


def check_input(
    schema: Mapping[str, Any],
    value: Any,
    *,
    aliases: Optional[Mapping[str, str]] = None,
    where: str = "input",
) -> Dict[str, Any]:
    """Validate ``value`` against an object ``schema``; return a new dict with coerced values."""
    if not isinstance(value, Mapping):
        raise ToolInputError(f"{where} must be a JSON object, got {_kind(value)}")
    data = dict(value)
    for alias, canonical in (aliases or {}).items():
        if alias in data:
            if canonical in data and data[canonical] != data[alias]:
                raise ToolInputError(f"give either {canonical!r} or {alias!r}, not both")
            data[canonical] = data.pop(alias)
    props: Mapping[str, Any] = schema.get("properties", {})
    if schema.get("additionalProperties") is False:
        unknown = sorted(k for k in data if k not in props)
        if unknown:
            raise ToolInputError(
                f"unknown {'property' if len(unknown) == 1 else 'properties'} "
                f"{', '.join(repr(k) for k in unknown)} in {where}; allowed: {', '.join(props)}"
            )
    for name in schema.get("required", ()):
        if name not in data or data[name] is None:
            raise ToolInputError(f"missing required property {name!r} in {where}")
    out: Dict[str, Any] = {}
    for name, item in data.items():
        if item is None and name not in schema.get("required", ()):
            continue  # an explicit null for an optional property means "not given"
        sub = props.get(name)
        out[name] = check_value(sub, item, f"{name!r}") if sub else item
    return out


def check_value(schema: Mapping[str, Any], value: Any, where: str) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        value = _as_integer(value, where)
    elif kind == "number":
        value = _as_number(value, where)
    elif kind == "boolean":
        value = _as_boolean(value, where)
    elif kind == "string":
        if not isinstance(value, str):
            raise ToolInputError(f"{where} must be a string, got {_kind(value)}")
        if len(value) < schema.get("minLength", 0):
            raise ToolInputError(f"{where} must not be empty")
    elif kind == "array":
        if not isinstance(value, list):
            raise ToolInputError(f"{where} must be an array, got {_kind(value)}")
        items = schema.get("items")
        if items:
            value = [check_value(items, v, f"{where}[{i}]") for i, v in enumerate(value)]
        if len(value) < schema.get("minItems", 0):
            raise ToolInputError(f"{where} needs at least {schema['minItems']} item(s)")
    elif kind == "object":
        value = check_input(schema, value, where=where)
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(repr(c) for c in schema["enum"])
        raise ToolInputError(f"{where} must be one of {choices}, got {value!r}")
    if "minimum" in schema and value < schema["minimum"]:
        raise ToolInputError(f"{where} must be at least {schema['minimum']}, got {value}")
    if "maximum" in schema and value > schema["maximum"]:
        raise ToolInputError(f"{where} must be at most {schema['maximum']}, got {value}")
    return value


def _as_integer(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise ToolInputError(f"{where} must be an integer, got {_kind(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ToolInputError(f"{where} must be an integer, got {_kind(value)} {value!r}")


def _as_number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise ToolInputError(f"{where} must be a number, got {_kind(value)}")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ToolInputError(f"{where} must be a number, got {_kind(value)} {value!r}")


def _as_boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ToolInputError(f"{where} must be true or false, got {_kind(value)} {value!r}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
