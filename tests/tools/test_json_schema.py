"""claw.tools.json_schema: the subset validator of structured output.

Examples pin the wording the model reads (Claude Code's: ``/name: must be string``) and every refusal;
a hypothesis test compares the verdicts with the ``jsonschema`` package (a test dependency, through
``mcp``) on random schemas of the subset and random JSON values.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claw.tools.json_schema import SchemaError, check_schema, validate

PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
          "required": ["name", "n"], "additionalProperties": False}


def test_messages_name_the_place_and_the_problem() -> None:
    assert validate(PERSON, {"name": 5}) == ["root: must have required property 'n'", "/name: must be string"]
    assert validate(PERSON, {"name": "a", "n": 1, "x": 0}) == ["root: must NOT have additional properties ('x')"]
    assert validate(PERSON, {"name": "a", "n": 1}) == []
    assert validate(PERSON, ["a"]) == ["root: must be object"]


@pytest.mark.parametrize("schema, good, bad, message", [
    ({"type": ["string", "null"]}, None, 3, "root: must be string,null"),
    ({"type": "integer"}, 3.0, 3.5, "root: must be integer"),
    ({"type": "integer"}, -2, True, "root: must be integer"),
    ({"type": "number"}, 2.5, "2.5", "root: must be number"),
    ({"enum": ["a", 1]}, 1.0, True, "root: must be equal to one of the allowed values"),
    ({"const": {"a": [1]}}, {"a": [1.0]}, {"a": [True]}, "root: must be equal to constant"),
    ({"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 2}, [True], [1],
     "/0: must be boolean"),
    ({"type": "array", "minItems": 1}, [0], [], "root: must NOT have fewer than 1 items"),
    ({"type": "array", "maxItems": 1}, [0], [0, 1], "root: must NOT have more than 1 items"),
    ({"type": "array", "uniqueItems": True}, [1, True], [1, 1.0], "must NOT have duplicate items"),
    ({"type": "string", "minLength": 2, "maxLength": 3}, "éé", "a", "root: must NOT have fewer than 2 characters"),
    ({"type": "string", "maxLength": 1}, "😀", "ab", "root: must NOT have more than 1 characters"),
    ({"type": "string", "pattern": "^[a-z]+$"}, "abc", "ab1", 'root: must match pattern "^[a-z]+$"'),
    ({"minimum": 1, "maximum": 2}, 2, 0.5, "root: must be >= 1"),
    ({"exclusiveMaximum": 2}, 1.99, 2, "root: must be < 2"),
    ({"multipleOf": 0.5}, 1.5, 1.2, "root: must be multiple of 0.5"),
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, 1, 1.5, "root: must match a schema in anyOf"),
    ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, -1, 1, "root: must match exactly one schema in oneOf"),
    ({"allOf": [{"type": "integer"}, {"minimum": 0}]}, 1, -1, "root: must be >= 0"),
    ({"not": {"type": "null"}}, 0, None, "root: must NOT be valid"),
    ({"type": "object", "additionalProperties": {"type": "integer"}}, {"a": 1}, {"a": "1"}, "/a: must be integer"),
    ({"type": "object", "minProperties": 1}, {"a": 1}, {}, "root: must NOT have fewer than 1 properties"),
    ({"$defs": {"p": {"type": "integer"}}, "type": "object", "properties": {"a/b": {"$ref": "#/$defs/p"}}},
     {"a/b": 1}, {"a/b": "x"}, "/a~1b: must be integer"),
    ({"definitions": {"p": {"type": "string"}}, "items": {"$ref": "#/definitions/p"}}, ["x"], [1],
     "/0: must be string"),
    ({"properties": {"a": False}}, {"b": 1}, {"a": 1}, "/a: no value is allowed here"),
    ({"type": "string", "format": "email", "title": "t", "description": "d", "default": "x", "examples": ["x"]},
     "not an email", 1, "root: must be string"),
])
def test_each_keyword(schema, good, bad, message) -> None:
    check_schema(schema)
    assert validate(schema, good) == []
    problems = validate(schema, bad)
    assert problems and any(message in p for p in problems), problems


def test_recursive_references_follow_the_value_and_loops_end() -> None:
    tree = {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#"}}},
            "additionalProperties": False}
    check_schema(tree)
    assert validate(tree, {"kids": [{"kids": []}, {"kids": [{}]}]}) == []
    assert validate(tree, {"kids": [{"kids": [{"x": 1}]}]}) == [
        "/kids/0/kids/0: must NOT have additional properties ('x')"]
    assert validate({"$ref": "#"}, 1) == ["root: the schema nests too deeply (a $ref loop?)"]


@pytest.mark.parametrize("schema, words", [
    ({"patternProperties": {}}, "'patternProperties' (at #/patternProperties) is not supported"),
    ({"properties": {"a": {"if": {}}}}, "'if' (at #/properties/a/if)"),
    ({"items": [{"type": "string"}]}, "tuple-form 'items'"),
    ({"prefixItems": []}, "'prefixItems'"),
    ({"type": "float"}, "#/type must be one of"),
    ({"type": []}, "#/type must be one of"),
    ({"required": "a"}, "#/required must be an array"),
    ({"minLength": -1}, "#/minLength must be a non-negative integer"),
    ({"minimum": "1"}, "#/minimum must be a number"),
    ({"multipleOf": 0}, "#/multipleOf must be a number above 0"),
    ({"pattern": "("}, "#/pattern is not a regular expression"),
    ({"anyOf": []}, "#/anyOf must be a non-empty array"),
    ({"enum": []}, "#/enum must be a non-empty array"),
    ({"$ref": "#/$defs/missing"}, "does not point inside the schema"),
    ({"$ref": "other.json#/x"}, "does not point inside the schema"),
    ({"$defs": {"a": {"contains": {}}}}, "'contains' (at #/$defs/a/contains)"),
    ([], "must be an object or a boolean"),
])
def test_what_claw_cannot_check_is_refused_by_name(schema, words) -> None:
    with pytest.raises(SchemaError) as info:
        check_schema(schema)
    assert words in str(info.value)


# -- against the jsonschema package -----------------------------------------------------------------

jsonschema = pytest.importorskip("jsonschema")

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from([0.5, 2.0, -1.5]),
                     st.sampled_from(["", "a", "ab", "abc", "é", "a1"]))
values = st.recursive(_scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.dictionaries(st.sampled_from(["a", "b", "c"]), kids, max_size=3)), max_leaves=8)
_types = st.sampled_from(["string", "number", "integer", "boolean", "object", "array", "null"])
_leaf = st.one_of(
    st.builds(lambda t: {"type": t}, _types),
    st.builds(lambda ts: {"type": ts}, st.lists(_types, min_size=1, max_size=3, unique=True)),
    st.builds(lambda v: {"enum": v}, st.lists(_scalars, min_size=1, max_size=3)),
    st.builds(lambda v: {"const": v}, values),
    st.builds(lambda k, n: {k: n}, st.sampled_from(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]),
              st.integers(-3, 3)),
    st.builds(lambda k, n: {k: n}, st.sampled_from(["minLength", "maxLength", "minItems", "maxItems",
                                                    "minProperties", "maxProperties"]), st.integers(0, 3)),
    st.builds(lambda n: {"multipleOf": n}, st.integers(1, 3)),
    st.builds(lambda p: {"pattern": p}, st.sampled_from(["^a", "b$", "[0-9]", "^.{2}$"])),
    st.just({"uniqueItems": True}),
    st.booleans(),
)


def _compound(kids):
    return st.one_of(
        st.builds(lambda props, req, extra: {"type": "object", "properties": props, "required": req,
                                             "additionalProperties": extra},
                  st.dictionaries(st.sampled_from(["a", "b"]), kids, max_size=2),
                  st.lists(st.sampled_from(["a", "b", "c"]), max_size=2, unique=True),
                  st.one_of(st.booleans(), kids)),
        st.builds(lambda item: {"type": "array", "items": item}, kids),
        st.builds(lambda k, subs: {k: subs}, st.sampled_from(["anyOf", "oneOf", "allOf"]),
                  st.lists(kids, min_size=1, max_size=3)),
        st.builds(lambda sub: {"not": sub}, kids),
        st.builds(lambda a, b: {**a, **b} if isinstance(a, dict) and isinstance(b, dict) else a, kids, kids),
    )


schemas = st.recursive(_leaf, _compound, max_leaves=6)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas, values)
def test_verdicts_match_the_jsonschema_package(schema, value) -> None:
    check_schema(schema)
    expected = jsonschema.Draft202012Validator(schema).is_valid(value)
    assert (validate(schema, value) == []) == expected, (schema, value, validate(schema, value))
