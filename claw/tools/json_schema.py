"""A JSON Schema subset validator in the standard library, for structured output (``--json-schema``).

Two steps, so a host learns at once that a schema cannot be honoured instead of getting values that
were never checked:

- ``check_schema(schema)`` refuses, with ``SchemaError`` naming the keyword and where it is, any
  keyword outside the subset below, a keyword with a value of the wrong kind, and a ``$ref`` that does
  not point inside the schema.
- ``validate(schema, value)`` returns the list of problems (empty: valid), each as
  ``"<where>: <what>"`` with ``where`` a JSON pointer into the value (``root`` for the whole), worded
  like Claude Code's messages (``/name: must be string``) so the model reads the same feedback.

The subset: ``type`` (a name or a list of names), ``enum``, ``const``, ``properties``, ``required``,
``additionalProperties`` (boolean or schema), ``minProperties``/``maxProperties``, ``items`` (one
schema), ``minItems``/``maxItems``, ``uniqueItems``, ``minLength``/``maxLength``, ``pattern`` (Python's
``re``, searched), ``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum`` (numbers),
``multipleOf``, ``anyOf``/``oneOf``/``allOf``/``not``, ``$ref`` to ``#`` or a JSON pointer inside the
schema (``#/$defs/x``, ``#/definitions/x``), and the boolean schemas ``true``/``false``. Annotations
are accepted and never checked: ``title``, ``description``, ``default``, ``examples``, ``$schema``,
``$id``, ``$comment``, ``$defs``/``definitions`` (as containers), ``readOnly``, ``writeOnly``,
``deprecated`` and ``format`` (an annotation by default since draft 2019-09: ``"format": "email"`` is
not checked).

Deliberately not here: remote ``$ref``, ``$anchor``/``$dynamicRef``, ``prefixItems``/tuple ``items``,
``patternProperties``, ``propertyNames``, ``dependent*``, ``if``/``then``/``else``, ``contains``,
``unevaluated*`` — each is refused by name. Lengths count code points (as the specification says), not
UTF-16 units. No I/O, no imports beyond ``re`` and ``math``.
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, List

TYPES = ("string", "number", "integer", "boolean", "object", "array", "null")
ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$schema", "$id", "$comment",
                         "$defs", "definitions", "readOnly", "writeOnly", "deprecated", "format"})
_NON_NEGATIVE = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")
_NUMBERS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf")
KEYWORDS = frozenset({"type", "enum", "const", "properties", "required", "additionalProperties", "items",
                      "uniqueItems", "pattern", "multipleOf", "not", "$ref"} | set(_NON_NEGATIVE)
                     | set(_NUMBERS) | set(_SUBSCHEMA_LISTS))
MAX_DEPTH = 64  # $ref chains that never consume any of the value end here instead of recursing forever


class SchemaError(ValueError):
    """A schema claw cannot check (an unsupported keyword, a malformed value); the message names it."""


def check_schema(schema: Any) -> None:
    """Raise ``SchemaError`` unless every part of ``schema`` is in the supported subset."""
    _check(schema, schema, "#")


def _check(node: Any, root: Any, where: str) -> None:
    if isinstance(node, bool):
        return
    if not isinstance(node, dict):
        raise SchemaError(f"the schema at {where} must be an object or a boolean, not {_kind(node)}")
    for key, value in node.items():
        at = f"{where}/{key}"
        if key in ANNOTATIONS:
            if key in ("$defs", "definitions"):
                if not isinstance(value, dict):
                    raise SchemaError(f"{at} must be an object of schemas")
                for name, sub in value.items():
                    _check(sub, root, f"{at}/{name}")
            continue
        if key not in KEYWORDS:
            raise SchemaError(f"the keyword {key!r} (at {at}) is not supported: claw checks a subset of "
                              "JSON Schema and would not check it")
        if key == "type":
            names = value if isinstance(value, list) else [value]
            if not names or any(n not in TYPES for n in names):
                raise SchemaError(f"{at} must be one of {', '.join(TYPES)} or a list of them, not {value!r}")
        elif key in ("enum",):
            if not isinstance(value, list) or not value:
                raise SchemaError(f"{at} must be a non-empty array")
        elif key == "properties":
            if not isinstance(value, dict):
                raise SchemaError(f"{at} must be an object of schemas")
            for name, sub in value.items():
                _check(sub, root, f"{at}/{name}")
        elif key == "required":
            if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
                raise SchemaError(f"{at} must be an array of property names")
        elif key in ("additionalProperties", "items", "not"):
            if key == "items" and isinstance(value, list):
                raise SchemaError(f"{at}: tuple-form 'items' (an array of schemas) is not supported")
            _check(value, root, at)
        elif key in _SUBSCHEMA_LISTS:
            if not isinstance(value, list) or not value:
                raise SchemaError(f"{at} must be a non-empty array of schemas")
            for i, sub in enumerate(value):
                _check(sub, root, f"{at}/{i}")
        elif key in _NON_NEGATIVE:
            if not _is_int(value) or value < 0:
                raise SchemaError(f"{at} must be a non-negative integer, not {value!r}")
        elif key in _NUMBERS:
            if not _is_number(value):
                raise SchemaError(f"{at} must be a number, not {value!r}")
        elif key == "multipleOf":
            if not _is_number(value) or value <= 0:
                raise SchemaError(f"{at} must be a number above 0, not {value!r}")
        elif key == "uniqueItems":
            if not isinstance(value, bool):
                raise SchemaError(f"{at} must be true or false")
        elif key == "pattern":
            if not isinstance(value, str):
                raise SchemaError(f"{at} must be a string")
            try:
                re.compile(value)
            except re.error as exc:
                raise SchemaError(f"{at} is not a regular expression claw can use: {exc}") from None
        elif key == "$ref":
            if not isinstance(value, str) or _resolve(root, value) is _MISSING:
                raise SchemaError(f"{at}: {value!r} does not point inside the schema (only local "
                                  "references such as '#/$defs/name' are supported)")


_MISSING = object()


def _resolve(root: Any, ref: str) -> Any:
    """The schema ``ref`` (``#`` or ``#/a/b``, JSON pointer escapes honoured) points at, or _MISSING."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return _MISSING
    node = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node if isinstance(node, (dict, bool)) else _MISSING


def validate(schema: Any, value: Any) -> List[str]:
    """The problems of ``value`` against ``schema`` (checked with ``check_schema`` first); [] when valid."""
    errors: List[str] = []
    _validate(schema, schema, value, "", errors, 0)
    return errors


def _validate(node: Any, root: Any, value: Any, path: str, errors: List[str], depth: int) -> None:
    where = path or "root"
    if depth > MAX_DEPTH:
        errors.append(f"{where}: the schema nests too deeply (a $ref loop?)")
        return
    if node is True:
        return
    if node is False:
        errors.append(f"{where}: no value is allowed here")
        return
    if "$ref" in node:
        _validate(_resolve(root, node["$ref"]), root, value, path, errors, depth + 1)
    if "type" in node:
        names = node["type"] if isinstance(node["type"], list) else [node["type"]]
        if not any(_is_type(value, n) for n in names):
            errors.append(f"{where}: must be {','.join(names)}")
            return  # the other keywords would only repeat the same problem
    if "enum" in node and not any(_equal(value, option) for option in node["enum"]):
        errors.append(f"{where}: must be equal to one of the allowed values "
                      f"({', '.join(_short(o) for o in node['enum'])})")
    if "const" in node and not _equal(value, node["const"]):
        errors.append(f"{where}: must be equal to constant {_short(node['const'])}")
    if isinstance(value, dict):
        _object(node, root, value, path, errors, depth)
    elif isinstance(value, list):
        _array(node, root, value, path, errors, depth)
    elif isinstance(value, str):
        _string(node, value, where, errors)
    elif _is_number(value):
        _number(node, value, where, errors)
    for sub in node.get("allOf", ()):
        _validate(sub, root, value, path, errors, depth + 1)
    if "anyOf" in node and not any(_valid(s, root, value, depth) for s in node["anyOf"]):
        errors.append(f"{where}: must match a schema in anyOf")
    if "oneOf" in node:
        matched = sum(1 for s in node["oneOf"] if _valid(s, root, value, depth))
        if matched != 1:
            errors.append(f"{where}: must match exactly one schema in oneOf (matched {matched})")
    if "not" in node and _valid(node["not"], root, value, depth):
        errors.append(f"{where}: must NOT be valid against the schema in 'not'")


def _valid(node: Any, root: Any, value: Any, depth: int) -> bool:
    errors: List[str] = []
    _validate(node, root, value, "", errors, depth + 1)
    return not errors


def _object(node: Dict[str, Any], root: Any, value: Dict[str, Any], path: str, errors: List[str],
            depth: int) -> None:
    where = path or "root"
    for name in node.get("required", ()):
        if name not in value:
            errors.append(f"{where}: must have required property '{name}'")
    if "minProperties" in node and len(value) < node["minProperties"]:
        errors.append(f"{where}: must NOT have fewer than {node['minProperties']} properties")
    if "maxProperties" in node and len(value) > node["maxProperties"]:
        errors.append(f"{where}: must NOT have more than {node['maxProperties']} properties")
    props = node.get("properties", {})
    extra = node.get("additionalProperties", True)
    for name, item in value.items():
        sub_path = f"{path}/{_escape(name)}"
        if name in props:
            _validate(props[name], root, item, sub_path, errors, depth + 1)
        elif extra is False:
            errors.append(f"{where}: must NOT have additional properties ('{name}')")
        elif extra is not True:
            _validate(extra, root, item, sub_path, errors, depth + 1)


def _array(node: Dict[str, Any], root: Any, value: List[Any], path: str, errors: List[str], depth: int) -> None:
    where = path or "root"
    if "minItems" in node and len(value) < node["minItems"]:
        errors.append(f"{where}: must NOT have fewer than {node['minItems']} items")
    if "maxItems" in node and len(value) > node["maxItems"]:
        errors.append(f"{where}: must NOT have more than {node['maxItems']} items")
    if node.get("uniqueItems"):
        for i in range(len(value)):
            for j in range(i):
                if _equal(value[i], value[j]):
                    errors.append(f"{where}: must NOT have duplicate items (items ## {j} and {i} are identical)")
                    break
            else:
                continue
            break
    if "items" in node:
        for i, item in enumerate(value):
            _validate(node["items"], root, item, f"{path}/{i}", errors, depth + 1)


def _string(node: Dict[str, Any], value: str, where: str, errors: List[str]) -> None:
    if "minLength" in node and len(value) < node["minLength"]:
        errors.append(f"{where}: must NOT have fewer than {node['minLength']} characters")
    if "maxLength" in node and len(value) > node["maxLength"]:
        errors.append(f"{where}: must NOT have more than {node['maxLength']} characters")
    if "pattern" in node and re.search(node["pattern"], value) is None:
        errors.append(f'{where}: must match pattern "{node["pattern"]}"')


def _number(node: Dict[str, Any], value: Any, where: str, errors: List[str]) -> None:
    if "minimum" in node and value < node["minimum"]:
        errors.append(f"{where}: must be >= {node['minimum']}")
    if "maximum" in node and value > node["maximum"]:
        errors.append(f"{where}: must be <= {node['maximum']}")
    if "exclusiveMinimum" in node and value <= node["exclusiveMinimum"]:
        errors.append(f"{where}: must be > {node['exclusiveMinimum']}")
    if "exclusiveMaximum" in node and value >= node["exclusiveMaximum"]:
        errors.append(f"{where}: must be < {node['exclusiveMaximum']}")
    if "multipleOf" in node:
        quotient = value / node["multipleOf"]
        if not math.isfinite(quotient) or abs(quotient - round(quotient)) > 1e-9:
            errors.append(f"{where}: must be multiple of {node['multipleOf']}")


def _is_type(value: Any, name: str) -> bool:
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return _is_int(value) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return _is_number(value)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: ``1 == 1.0`` but ``true != 1``; objects by keys, arrays in order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _short(value: Any, limit: int = 40) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__)


def describe_errors(errors: List[str], limit: int = 20) -> str:
    """The problems as one line for the model: the first ``limit``, then how many more."""
    shown = ", ".join(errors[:limit])
    more = len(errors) - limit
    return shown + (f" (and {more} more)" if more > 0 else "")

