"""Tests for claw.proto.jsonrpc: parsing every message kind, rejecting malformed ones with the id
kept when it is readable, batches, round trips through to_dict, and id allocation."""

from __future__ import annotations

import pytest

from claw.errors import NetworkError
from claw.proto.jsonrpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    ErrorResponse,
    IdAllocator,
    InvalidMessage,
    Notification,
    Request,
    Response,
    parse,
    parse_message,
    to_dict,
)


def test_standard_error_codes():
    assert (PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR) == (
        -32700,
        -32600,
        -32601,
        -32602,
        -32603,
    )


@pytest.mark.parametrize(
    "obj, expected",
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, Request(1, "tools/list")),
        (
            {"jsonrpc": "2.0", "id": "a", "method": "tools/call", "params": {"name": "x"}},
            Request("a", "tools/call", {"name": "x"}),
        ),
        ({"jsonrpc": "2.0", "id": 0, "method": "sum", "params": [1, 2]}, Request(0, "sum", [1, 2])),
        ({"jsonrpc": "2.0", "method": "notifications/initialized"}, Notification("notifications/initialized")),
        ({"jsonrpc": "2.0", "method": "n", "params": None}, Notification("n")),
        ({"jsonrpc": "2.0", "id": 7, "result": {"tools": []}}, Response(7, {"tools": []})),
        ({"jsonrpc": "2.0", "id": 7, "result": None}, Response(7, None)),
        (
            {"jsonrpc": "2.0", "id": 7, "error": {"code": -32601, "message": "Method not found"}},
            ErrorResponse(7, -32601, "Method not found"),
        ),
        (
            {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error", "data": "x"}},
            ErrorResponse(None, -32700, "Parse error", "x"),
        ),
        ({"jsonrpc": "2.0", "id": 1, "method": "m", "extra": True}, Request(1, "m")),
    ],
)
def test_parse_valid_messages_and_round_trip(obj, expected):
    message = parse_message(obj)
    assert message == expected
    assert parse_message(to_dict(message)) == message
    if "extra" not in obj and obj.get("params", 1) is not None:
        assert to_dict(message) == obj


@pytest.mark.parametrize(
    "obj, expected_id",
    [
        ([1], None),
        ("text", None),
        ({"id": 1, "method": "m"}, 1),  # no jsonrpc
        ({"jsonrpc": "1.0", "id": "x", "method": "m"}, "x"),
        ({"jsonrpc": "2.0", "id": 1, "method": 5}, 1),
        ({"jsonrpc": "2.0", "id": 1, "method": "m", "params": "p"}, 1),
        ({"jsonrpc": "2.0", "id": 1, "method": "m", "params": 3}, 1),
        ({"jsonrpc": "2.0", "id": True, "method": "m"}, None),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "m"}, None),
        ({"jsonrpc": "2.0", "id": None, "method": "m"}, None),
        ({"jsonrpc": "2.0", "id": [1], "method": "m"}, None),
        ({"jsonrpc": "2.0"}, None),
        ({"jsonrpc": "2.0", "id": 3}, 3),  # neither result nor error
        ({"jsonrpc": "2.0", "id": 3, "result": 1, "error": {"code": 1, "message": "m"}}, 3),
        ({"jsonrpc": "2.0", "id": None, "result": 1}, None),
        ({"jsonrpc": "2.0", "id": 4, "error": "boom"}, 4),
        ({"jsonrpc": "2.0", "id": 4, "error": {"code": "1", "message": "m"}}, 4),
        ({"jsonrpc": "2.0", "id": 4, "error": {"code": True, "message": "m"}}, 4),
        ({"jsonrpc": "2.0", "id": 4, "error": {"code": 1}}, 4),
        ({"jsonrpc": "2.0", "id": {"a": 1}, "error": {"code": 1, "message": "m"}}, None),
    ],
)
def test_malformed_messages_raise_with_the_readable_id(obj, expected_id):
    with pytest.raises(InvalidMessage) as info:
        parse_message(obj)
    error = info.value
    assert error.id == expected_id
    assert error.code == INVALID_REQUEST
    assert isinstance(error, NetworkError) and isinstance(error, ValueError) and error.kind == "protocol"
    response = error.to_response()
    assert response.id == expected_id and response.code == INVALID_REQUEST
    assert to_dict(response)["error"]["message"] == "Invalid Request"


def test_batch_parses_each_element():
    items = parse(
        [
            {"jsonrpc": "2.0", "id": 1, "method": "a"},
            {"jsonrpc": "2.0", "method": "b"},
            {"foo": "bar"},
            {"jsonrpc": "2.0", "id": 2, "result": 5},
        ]
    )
    assert items[0] == Request(1, "a")
    assert items[1] == Notification("b")
    assert isinstance(items[2], InvalidMessage) and items[2].id is None
    assert items[3] == Response(2, 5)


def test_empty_batch_is_invalid_and_single_messages_pass_through():
    with pytest.raises(InvalidMessage):
        parse([])
    assert parse({"jsonrpc": "2.0", "method": "x"}) == Notification("x")


def test_to_dict_omits_absent_parts():
    assert to_dict(Request(1, "m")) == {"jsonrpc": "2.0", "id": 1, "method": "m"}
    assert to_dict(Notification("n", {"a": 1})) == {"jsonrpc": "2.0", "method": "n", "params": {"a": 1}}
    assert to_dict(ErrorResponse(1, -1, "x")) == {"jsonrpc": "2.0", "id": 1, "error": {"code": -1, "message": "x"}}
    with pytest.raises(TypeError):
        to_dict({"jsonrpc": "2.0"})  # type: ignore[arg-type]


def test_messages_are_immutable():
    message = Request(1, "m")
    with pytest.raises(Exception):
        message.id = 2  # type: ignore[misc]


def test_id_allocator_increases_and_never_repeats():
    ids = IdAllocator()
    assert [ids.next(), ids.next(), ids(), next(ids)] == [1, 2, 3, 4]
    other = IdAllocator(start=100)
    assert other.next() == 100
    assert len({ids.next() for _ in range(1000)}) == 1000
