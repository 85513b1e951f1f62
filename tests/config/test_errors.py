"""Every settings error and warning: what it says, and that one broken entry does not break the rest."""

from __future__ import annotations

import pytest

from claw.errors import ConfigError


def _error(layout, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        layout.load(**kwargs)
    assert info.value.exit_code == 2
    return info.value


# -- syntax ----------------------------------------------------------------------------------------


def test_invalid_json_names_file_line_and_column(layout):
    path = layout.write("project", '{\n  "model": "opus"\n  "env": {}\n}\n')
    err = _error(layout)
    assert err.message == f"invalid JSON in {path}, line 3 column 3: Expecting ',' delimiter"
    assert "trailing commas" in err.hint and "settings.toml" in err.hint


def test_trailing_comma_in_json(layout):
    path = layout.write("local", '{"permissions": {"allow": ["Read",]}}')
    err = _error(layout)
    assert err.message.startswith(f"invalid JSON in {path}, line 1 column 35: ")


def test_invalid_inline_settings_json(layout):
    err = _error(layout, settings_arg='{"model": }')
    assert err.message == "invalid JSON in --settings (inline JSON), line 1 column 11: Expecting value"


def test_invalid_toml_names_file_line_and_column(layout):
    path = layout.write("user", 'model = "opus"\n[network]\nproxy = http://x\n', "toml")
    err = _error(layout)
    assert err.message.startswith(f"invalid TOML in {path}, line 3 column 9: ")
    assert "(at line" not in err.message
    assert "toml.io" in err.hint


def test_invalid_toml_at_end_of_document(layout):
    path = layout.write("project", 'model = "a"\nx = \n', "toml")
    err = _error(layout)
    assert err.message.startswith(f"invalid TOML in {path}, line 2 column ")
    assert "end of document" not in err.message


def test_duplicate_toml_table(layout):
    path = layout.write("project", "[env]\nA = '1'\n[env]\nB = '2'\n", "toml")
    assert _error(layout).message.startswith(f"invalid TOML in {path}, line 3 column ")


def test_not_utf8(layout):
    path = layout.path("project")
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{\n"model": "caf\xe9"}')
    err = _error(layout)
    assert err.message == f"{path}, line 2 column 14: not UTF-8 text (byte 0xe9)"


def test_utf8_bom_is_accepted(layout):
    path = layout.path("project")
    path.parent.mkdir(parents=True)
    path.write_bytes(b'\xef\xbb\xbf{"model": "bom"}')
    assert layout.load().settings.model == "bom"


def test_top_level_must_be_an_object(layout):
    path = layout.write("project", '["model"]')
    err = _error(layout)
    assert err.message == f"{path}: expected an object at the top level, got a list"


def test_unreadable_file(layout):
    layout.path("local").mkdir(parents=True)  # a directory where the file should be
    err = _error(layout)
    assert err.message.startswith(f"cannot read {layout.path('local')}: ")


def test_duplicate_json_key_warns(layout):
    path = layout.write("project", '{"model": "a", "model": "b"}')
    loaded = layout.load()
    assert loaded.settings.model == "b"
    assert [str(w) for w in loaded.warnings] == [f"{path}: duplicate key 'model' (the last one wins)"]


# -- types -----------------------------------------------------------------------------------------


def test_wrong_type_names_key_path_expected_type_and_value(layout):
    path = layout.write("project", {"permissions": {"allow": "Bash"}})
    err = _error(layout)
    assert err.message == f'{path}: permissions.allow: expected a list of strings, got "Bash" (string)'
    assert '"allow": ["Bash(npm run test:*)", "Read"]' in err.hint


@pytest.mark.parametrize(
    "content, key, expected",
    [
        ({"model": 42}, "model", "expected a non-empty string, got 42 (integer)"),
        ({"model": ""}, "model", 'expected a non-empty string, got "" (string)'),
        ({"permissions": {"allow": ["Read", 7]}}, "permissions.allow[1]", "expected a string, got 7 (integer)"),
        ({"permissions": []}, "permissions", "expected an object, got [] (list)"),
        ({"aliases": {"fast": ["x"]}}, "aliases.fast", 'expected a string, got ["x"] (list)'),
        ({"network": {"timeout": -1}}, "network.timeout",
         "expected a positive number of seconds or {connect, read}, got -1 (integer)"),
        ({"network": {"timeout": {"read": "slow"}}}, "network.timeout.read",
         'expected a positive number (seconds), got "slow" (string)'),
        ({"network": {"maxRetries": True}}, "network.maxRetries", "expected a whole number >= 0, got true (boolean)"),
        ({"network": {"caFiles": "/ca.pem"}}, "network.caFiles", 'expected a list of strings, got "/ca.pem" (string)'),
        ({"oauth": {"callbackPort": 70000}}, "oauth.callbackPort",
         "expected a port number 0-65535 (0: any free port), got 70000 (integer)"),
        ({"oauth": {"tokenUrl": "ftp://x"}}, "oauth.tokenUrl", 'expected an http:// or https:// URL, got "ftp://x" (string)'),
        ({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "x", "timeout": "5s"}]}]}},
         "hooks.Stop[0].hooks[0].timeout", 'expected a positive number (seconds), got "5s" (string)'),
        ({"hooks": {"Stop": [{"hooks": [{"type": "command"}]}]}}, "hooks.Stop[0].hooks[0]", "missing 'command'"),
        ({"hooks": {"PreToolUse": {"matcher": "Bash"}}}, "hooks.PreToolUse",
         'expected a list of matchers, got {"matcher": "Bash"} (object)'),
        ({"hooks": {"PreToolUse": [{"matcher": "Bash("}]}}, "hooks.PreToolUse[0].matcher",
         "'Bash(' is not a valid pattern: missing ), unterminated subpattern at position 4"),
        ({"apiKeyHelper": ["get-key"]}, "apiKeyHelper", 'expected a non-empty string, got ["get-key"] (list)'),
    ],
)
def test_type_errors(layout, content, key, expected):
    path = layout.write("local", content)
    err = _error(layout)
    assert err.message == f"{path}: {key}: {expected}"


def test_long_values_are_truncated(layout):
    layout.write("project", {"model": ["x" * 200]})
    err = _error(layout)
    shown = err.message.split("got ", 1)[1]
    assert shown == '["' + "x" * 55 + "... (list)"


def test_secret_values_are_not_shown(layout):
    layout.write("project", {"env": {"ANTHROPIC_API_KEY": ["sk-ant-secret"]}})
    err = _error(layout)
    assert err.message.endswith("env.ANTHROPIC_API_KEY: expected a string, got <redacted> (list)")
    assert "sk-ant" not in err.message
    layout.write("project", {"network": {"proxy": 5, "noProxy": {"u": "http://me:pw@proxy"}}})
    loaded = layout.load(strict=False)
    assert not any("pw" in p.message for p in loaded.problems)
    assert any("http://me:***@proxy" in p.message for p in loaded.problems)


def test_unknown_permission_mode_and_hook_event_suggest_the_right_name(layout):
    path = layout.write("project", {"permissions": {"defaultMode": "acceptedits"},
                                    "hooks": {"PreToolUs": [], "Stop": []}})
    loaded = layout.load(strict=False)
    assert [p.message for p in loaded.errors] == [
        f"{path}: permissions.defaultMode: unknown permission mode 'acceptedits' (did you mean 'acceptEdits'?)",
        f"{path}: hooks.PreToolUs: unknown hook event 'PreToolUs' (did you mean 'PreToolUse'?)",
    ]
    assert "PostToolUseFailure" in loaded.errors[1].hint
    assert loaded.settings.hooks == {"Stop": ()}


def test_bad_permission_rule(layout):
    path = layout.write("project", {"permissions": {"deny": ["Bash(rm", "Read"]}})
    err = _error(layout)
    assert err.message == f"{path}: permissions.deny[0]: 'Bash(rm' is not a permission rule"
    assert "Tool(specifier)" in err.hint


# -- unknown keys ----------------------------------------------------------------------------------


def test_unknown_keys_warn_with_did_you_mean(layout):
    path = layout.write("project", {"modle": "opus", "permissions": {"alow": ["Read"]},
                                    "network": {"proxi": "x"}, "mcpServers": {"s": {"command": "x", "arg": []}},
                                    "colour": "blue"})
    loaded = layout.load()  # warnings never raise
    assert [str(w) for w in loaded.warnings] == [
        f"{path}: unknown key modle (did you mean 'model'?); ignored",
        f"{path}: unknown key permissions.alow (did you mean 'allow'?); ignored",
        f"{path}: unknown key network.proxi (did you mean 'proxy'?); ignored",
        f"{path}: unknown key mcpServers.s.arg (did you mean 'args'?); ignored",
        f"{path}: unknown key colour; ignored",
    ]
    assert loaded.warnings[0].key_path == ("modle",)
    assert "allow" in loaded.warnings[1].hint
    assert loaded.settings.model is None and loaded.settings.permissions.allow == ()
    assert loaded.raw["modle"] == "opus"  # kept in the raw view
    assert loaded.settings.mcp_servers["s"].command == "x"


def test_schema_key_is_accepted(layout):
    layout.write("project", {"$schema": "https://example.invalid/claw.json", "model": "x"})
    assert layout.load().problems == ()


def test_each_warning_is_reported_once(layout):
    layout.write("project", {"modle": "x"})
    loaded = layout.load()
    assert len(loaded.warnings) == 1


# -- MCP entries -----------------------------------------------------------------------------------


def test_invalid_mcp_entries_do_not_break_the_others(layout):
    path = layout.write("project", {"mcpServers": {
        "good": {"command": "python3", "args": ["-m", "mcp_server_time"]},
        "grpc": {"type": "grpc", "url": "http://x"},
        "nothing": {"args": ["x"]},
        "badurl": {"type": "http", "url": "localhost:8080"},
        "wsbad": {"type": "ws", "url": "http://x"},
        "notobj": "python3 server.py",
        "badargs": {"command": "x", "args": "--flag"},
        "nourl": {"type": "sse"},
        "web": {"type": "http", "url": "https://mcp.example/mcp", "headers": {"X": "1"}},
    }})
    loaded = layout.load()  # no ConfigError: only those entries are skipped
    assert sorted(loaded.settings.mcp_servers) == ["good", "web"]
    assert loaded.errors == ()
    assert [p.message for p in loaded.invalid_entries] == [
        f"{path}: mcpServers.grpc.type: unknown transport 'grpc' (MCP server 'grpc' is skipped)",
        f"{path}: mcpServers.nothing: needs 'command' (a stdio server) or 'url' (an http, sse or ws server) (MCP server 'nothing' is skipped)",
        f'{path}: mcpServers.badurl.url: expected an http:// or https:// URL, got "localhost:8080" (string) (MCP server \'badurl\' is skipped)',
        f'{path}: mcpServers.wsbad.url: expected a ws:// or wss:// URL, got "http://x" (string) (MCP server \'wsbad\' is skipped)',
        f'{path}: mcpServers.notobj: expected an object, got "python3 server.py" (string) (MCP server \'notobj\' is skipped)',
        f'{path}: mcpServers.badargs.args: expected a list of strings, got "--flag" (string) (MCP server \'badargs\' is skipped)',
        f"{path}: mcpServers.nourl: a sse server needs 'url' (MCP server 'nourl' is skipped)",
    ]
    assert "one of: stdio, http, sse, ws" == loaded.invalid_entries[0].hint


def test_unknown_transport_with_a_near_miss(layout):
    layout.write("project", {"mcpServers": {"s": {"type": "htp", "url": "http://x"}}})
    (problem,) = layout.load().invalid_entries
    assert "unknown transport 'htp' (did you mean 'http'?)" in problem.message


# -- strict versus collect -------------------------------------------------------------------------


def test_strict_raises_the_first_error_and_counts_the_rest(layout):
    user = layout.write("user", '{"model": ')
    layout.write("project", {"model": 1, "apiKeyHelper": 2})
    err = _error(layout)
    assert err.message.startswith(f"invalid JSON in {user}")
    assert err.hint.endswith("; 2 more settings problems: run 'claw doctor'")


def test_collect_mode_returns_every_problem_and_uses_what_is_valid(layout):
    user = layout.write("user", '{"model": ')
    project = layout.write("project", {"model": 1, "apiKeyHelper": "helper", "env": {"A": "1"}, "modle": 2,
                                       "mcpServers": {"x": {"type": "ftp"}}})
    local = layout.write("local", 'x = = 1', "toml")
    loaded = layout.load(strict=False)
    assert [(p.level, p.source.path) for p in loaded.problems] == [
        ("error", str(user)),
        ("error", str(project)),
        ("warning", str(project)),
        ("invalid", str(project)),
        ("error", str(local)),
    ]
    assert len(loaded.errors) == 3
    assert [s.path for s in loaded.sources] == [str(project)]
    assert loaded.settings.api_key_helper == "helper"
    assert loaded.settings.env == {"A": "1"}
    assert loaded.settings.model is None


def test_problem_to_error(layout):
    layout.write("project", {"model": 1})
    (problem,) = layout.load(strict=False).errors
    err = problem.to_error()
    assert isinstance(err, ConfigError) and err.message == problem.message and err.hint == problem.hint
    assert problem.key == "model"
