"""Key paths: the text form printed by ``claw config list`` parses back to the same path."""

from __future__ import annotations

import pytest

from claw.config.keypath import format_key_path, parse_key_path


@pytest.mark.parametrize(
    "path, text",
    [
        (("model",), "model"),
        (("permissions", "allow", 1), "permissions.allow[1]"),
        (("hooks", "PreToolUse", 0, "hooks", 2, "timeout"), "hooks.PreToolUse[0].hooks[2].timeout"),
        (("mcpServers", "my.server", "url"), 'mcpServers."my.server".url'),
        (("env", 'we"ird name'), 'env."we\\"ird name"'),
        (("$schema",), "$schema"),
        (("aliases", ""), 'aliases.""'),
    ],
)
def test_round_trip(path, text):
    assert format_key_path(path) == text
    assert parse_key_path(text) == path


def test_top_level_is_named():
    assert format_key_path(()) == "(top level)"


@pytest.mark.parametrize("text", ["", "a.", ".a", "a..b", "a[x]", "a[1", '"open', "a]b"])
def test_bad_keys(text):
    with pytest.raises(ValueError):
        parse_key_path(text)
