"""${VAR} and ${VAR:-default} expansion in MCP server entries."""

from __future__ import annotations

from claw.mcp.expand import expand, expand_entry


def test_plain_and_default_forms():
    env = {"HOST": "example.com", "EMPTY": ""}
    assert expand("https://${HOST}/mcp", env) == "https://example.com/mcp"
    assert expand("${PORT:-8080}", env) == "8080"
    assert expand("${HOST:-other}", env) == "example.com"
    assert expand("${EMPTY:-fallback}", env) == "fallback"  # empty counts as unset, as the shell's :-
    assert expand("${EMPTY}", env) == ""


def test_unset_variable_is_recorded_once():
    missing = []
    assert expand("${A}-${B}-${A}", {}, missing) == "--"
    assert missing == ["A", "B"]


def test_other_dollar_forms_are_left_alone():
    env = {"X": "1"}
    assert expand("$X and $$ and ${not valid} and ${X", env) == "$X and $$ and ${not valid} and ${X"
    assert expand("no variables", env) == "no variables"


def test_entry_fields_expanded_and_others_kept():
    env = {"TOKEN": "t0k", "BIN": "/opt/bin", "HOME": "/home/me"}
    raw = {"command": "${BIN}/server", "args": ["--token", "${TOKEN}", 3], "env": {"K": "${TOKEN}"},
           "url": "ignored-but-expanded-${TOKEN}", "headers": {"Authorization": "Bearer ${TOKEN}"},
           "cwd": "${HOME}/work", "timeout": 5, "type": "stdio"}
    out, missing = expand_entry(raw, env)
    assert missing == []
    assert out["command"] == "/opt/bin/server"
    assert out["args"] == ["--token", "t0k", 3]
    assert out["env"] == {"K": "t0k"}
    assert out["headers"] == {"Authorization": "Bearer t0k"}
    assert out["cwd"] == "/home/me/work"
    assert out["timeout"] == 5 and out["type"] == "stdio"
    assert raw["command"] == "${BIN}/server"  # the input is not modified


def test_entry_reports_missing():
    _, missing = expand_entry({"url": "https://${NOPE}/x", "headers": {"A": "${ALSO:-ok}"}}, {})
    assert missing == ["NOPE"]
