"""``--json-schema``: claw -p against the fake model server, as Claude Code does structured output.

The model gets a ``StructuredOutput`` tool whose input schema is the host's schema; a valid call ends
the turn with ``structured_output`` on the result, an invalid one goes back to the model as a tool
error it can correct, prose without the call gets a reminder, and after five failed attempts the run
fails with ``error_max_structured_output_retries``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.headless_helpers import isolated_env, run_inprocess
from tests.fakes.model_server import ModelServer, reply, tool_use

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
          "required": ["name", "n"], "additionalProperties": False}
ENFORCE = "[structured-output-enforce] You MUST call the StructuredOutput tool"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def _run(srv: ModelServer, tmp_path: Path, work: Path, monkeypatch, *flags: str, schema=SCHEMA,
         fmt: str = "json"):
    env = isolated_env(srv.env(), tmp_path / "home")
    argv = ["-p", "give me the data", "--output-format", fmt, "--json-schema", json.dumps(schema), *flags]
    return run_inprocess(argv, env, monkeypatch, work)


def _so(value, **kw):
    return reply(tool_uses=[tool_use("StructuredOutput", value)], **kw)


def test_valid_first_call_ends_the_turn_with_structured_output(tmp_path, work, monkeypatch) -> None:
    with ModelServer([_so({"name": "x", "n": 3})]) as srv:
        run = _run(srv, tmp_path, work, monkeypatch)
    result = run.json
    assert run.code == 0, run.stderr
    assert result["subtype"] == "success" and result["is_error"] is False
    assert result["structured_output"] == {"name": "x", "n": 3}
    assert json.loads(result["result"]) == {"name": "x", "n": 3}
    assert len(srv.requests) == 1  # no request after the value was accepted
    tools = {t["name"]: t for t in srv.requests[0].json["tools"]}
    assert tools["StructuredOutput"]["input_schema"] == SCHEMA
    assert "exactly once" in tools["StructuredOutput"]["description"]


def test_invalid_call_goes_back_to_the_model_then_a_valid_one_wins(tmp_path, work, monkeypatch) -> None:
    with ModelServer([_so({"name": 5}), _so({"name": "ok", "n": 2})]) as srv:
        run = _run(srv, tmp_path, work, monkeypatch, fmt="stream-json")
    lines = run.lines
    assert run.code == 0, run.stderr
    error_result = srv.requests[1].json["messages"][-1]["content"][0]
    assert error_result["type"] == "tool_result" and error_result["is_error"] is True
    assert error_result["content"] == ("Output does not match required schema: root: must have required "
                                       "property 'n', /name: must be string")
    result = lines[-1]
    assert result["structured_output"] == {"name": "ok", "n": 2} and result["num_turns"] == 2
    assert "StructuredOutput" in lines[0]["tools"]


def test_prose_gets_the_reminder_then_the_call(tmp_path, work, monkeypatch) -> None:
    with ModelServer([reply(text="Here it is: x, 3"), _so({"name": "x", "n": 3})]) as srv:
        run = _run(srv, tmp_path, work, monkeypatch)
    assert run.code == 0 and run.json["structured_output"] == {"name": "x", "n": 3}
    reminder = srv.requests[1].json["messages"][-1]
    assert reminder["role"] == "user" and ENFORCE in json.dumps(reminder)


def test_never_valid_fails_after_five_attempts(tmp_path, work, monkeypatch) -> None:
    with ModelServer([_so({"name": 5})] * 3 + [reply(text="prose")] * 2 + [reply(text="unused")]) as srv:
        run = _run(srv, tmp_path, work, monkeypatch)
    result = run.json
    assert run.code == 1
    assert result["subtype"] == "error_max_structured_output_retries" and result["is_error"] is True
    assert "structured_output" not in result
    assert result["errors"][0].startswith("Failed to provide valid structured output after 5 attempts")
    assert len(srv.requests) == 5 and srv.remaining == 1


def test_attempts_follow_max_structured_output_retries(tmp_path, work, monkeypatch) -> None:
    with ModelServer([_so({"name": 5})] * 3) as srv:
        env = isolated_env(srv.env(), tmp_path / "home", MAX_STRUCTURED_OUTPUT_RETRIES="2")
        run = run_inprocess(["-p", "x", "--output-format", "json", "--json-schema", json.dumps(SCHEMA)], env,
                            monkeypatch, work)
    assert run.json["subtype"] == "error_max_structured_output_retries" and len(srv.requests) == 2


def test_text_mode_prints_only_the_value_on_stdout(tmp_path, work, monkeypatch) -> None:
    with ModelServer([reply(content=[{"type": "text", "text": "Working on it."},
                                     {"type": "tool_use", "id": "toolu_1", "name": "StructuredOutput",
                                      "input": {"name": "é", "n": 1}}])]) as srv:
        run = _run(srv, tmp_path, work, monkeypatch, fmt="text")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout) == {"name": "é", "n": 1} and run.stdout.count("\n") == 1
    assert "Working on it." in run.stderr


@pytest.mark.parametrize("schema, words", [
    ({"type": "object", "patternProperties": {"^x": {}}}, "'patternProperties'"),
    ({"type": "object", "properties": {"a": {"type": "string", "contentEncoding": "base64"}}}, "'contentEncoding'"),
    ({"type": "array"}, "must be a JSON schema of an object"),
    ({"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}}, "does not point inside"),
])
def test_a_schema_claw_cannot_check_is_refused_before_any_request(tmp_path, work, monkeypatch, schema,
                                                                  words) -> None:
    with ModelServer([reply(text="never")]) as srv:
        run = _run(srv, tmp_path, work, monkeypatch, schema=schema)
    assert run.code == 2 and srv.requests == []
    assert run.json["is_error"] and words in run.json["result"] and "--json-schema" in run.json["result"]


def test_malformed_json_is_a_usage_error(tmp_path, work, monkeypatch) -> None:
    with ModelServer([]) as srv:
        env = isolated_env(srv.env(), tmp_path / "home")
        run = run_inprocess(["-p", "x", "--json-schema", "{not json"], env, monkeypatch, work)
    assert run.code == 2 and "--json-schema is not valid JSON" in run.stderr


def test_the_reminder_is_a_synthetic_user_message_in_stream_json(tmp_path, work, monkeypatch) -> None:
    with ModelServer([reply(text="prose"), _so({"name": "x", "n": 3})]) as srv:
        run = _run(srv, tmp_path, work, monkeypatch, fmt="stream-json")
    kinds = [(line["type"], line.get("isSynthetic")) for line in run.lines]
    assert kinds == [("system", None), ("assistant", None), ("user", True), ("assistant", None), ("user", None),
                     ("result", None)]
    assert ENFORCE in run.lines[2]["message"]["content"][0]["text"]
