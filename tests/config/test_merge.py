"""Deep merge, list semantics, null removal and provenance."""

from __future__ import annotations

from claw.config.merge import merge_all


def test_objects_merge_deeply_and_scalars_replace():
    merged, _ = merge_all([
        {"network": {"proxy": "http://a:1", "timeout": 5, "x": {"y": 1, "z": 2}}},
        {"network": {"timeout": 10, "x": {"z": 3}}},
    ])
    assert merged == {"network": {"proxy": "http://a:1", "timeout": 10, "x": {"y": 1, "z": 3}}}


def test_a_value_of_another_type_replaces():
    merged, _ = merge_all([{"network": {"timeout": {"read": 5}}}, {"network": {"timeout": 30}}])
    assert merged == {"network": {"timeout": 30}}
    merged, _ = merge_all([{"a": 1}, {"a": {"b": 2}}])
    assert merged == {"a": {"b": 2}}


def test_null_removes_what_lower_files_set():
    merged, origins = merge_all([
        {"model": "opus", "env": {"A": "1", "B": "2"}, "network": {"proxy": "http://p:1"}},
        {"model": None, "env": {"A": None}, "network": None},
    ])
    assert merged == {"env": {"B": "2"}}
    assert ("model",) not in origins and ("network", "proxy") not in origins
    # null in the first file that mentions a key is simply absent
    merged, _ = merge_all([{"env": {"A": None}}])
    assert merged == {"env": {}}


def test_permission_lists_ca_files_and_hooks_concatenate_without_duplicates():
    hook = {"matcher": "Bash", "hooks": [{"type": "command", "command": "a"}]}
    other = {"matcher": "", "hooks": [{"type": "command", "command": "b"}]}
    merged, origins = merge_all([
        {"permissions": {"allow": ["Read", "Bash(ls)"], "deny": ["Bash(rm:*)"], "ask": ["A"],
                         "additionalDirectories": ["/x"]},
         "network": {"caFiles": ["/ca1"]}, "hooks": {"Stop": [hook]}},
        {"permissions": {"allow": ["Bash(ls)", "Edit"], "deny": ["Bash(rm:*)"], "ask": ["B"],
                         "additionalDirectories": ["/y", "/x"]},
         "network": {"caFiles": ["/ca2", "/ca1"]}, "hooks": {"Stop": [hook, other]}},
    ])
    assert merged["permissions"] == {
        "allow": ["Read", "Bash(ls)", "Edit"], "deny": ["Bash(rm:*)"], "ask": ["A", "B"],
        "additionalDirectories": ["/x", "/y"],
    }
    assert merged["network"]["caFiles"] == ["/ca1", "/ca2"]
    assert merged["hooks"]["Stop"] == [hook, other]
    assert origins[("permissions", "allow")] == [0, 1]
    assert origins[("hooks", "Stop")] == [0, 1]


def test_a_single_file_list_that_concatenates_is_still_deduplicated():
    merged, _ = merge_all([{"permissions": {"allow": ["Read", "Read"]}}])
    assert merged["permissions"]["allow"] == ["Read"]


def test_other_lists_replace():
    merged, origins = merge_all([
        {"oauth": {"scopes": ["a", "b"]}, "mcpServers": {"s": {"command": "x", "args": ["1", "2"]}}},
        {"oauth": {"scopes": ["c"]}},
    ])
    assert merged["oauth"]["scopes"] == ["c"]
    assert origins[("oauth", "scopes")] == [1]
    merged, _ = merge_all([{"network": {"noProxy": ["a", "b"]}}, {"network": {"noProxy": ["c"]}}])
    assert merged["network"]["noProxy"] == ["c"]


def test_an_mcp_server_is_replaced_as_a_whole():
    merged, origins = merge_all([
        {"mcpServers": {"s": {"command": "old", "args": ["x"]}, "keep": {"url": "http://k"}}},
        {"mcpServers": {"s": {"url": "http://new", "headers": {"A": None}}}},
    ])
    assert merged["mcpServers"] == {"s": {"url": "http://new", "headers": {}}, "keep": {"url": "http://k"}}
    assert origins[("mcpServers", "s")] == [1]
    assert origins[("mcpServers", "s", "url")] == [1]
    assert ("mcpServers", "s", "command") not in origins
    assert origins[("mcpServers",)] == [0, 1]
    assert origins[("mcpServers", "keep")] == [0]


def test_provenance_of_leaves_and_objects():
    merged, origins = merge_all([
        {"model": "a", "env": {"X": "1"}},
        {"env": {"Y": "2"}},
        {"model": "c"},
    ])
    assert origins[("model",)] == [2]
    assert origins[("env",)] == [0, 1]
    assert origins[("env", "X")] == [0]
    assert origins[("env", "Y")] == [1]


def test_inputs_are_not_mutated():
    first = {"permissions": {"allow": ["A"]}, "env": {"X": "1"}}
    second = {"permissions": {"allow": ["B"]}, "env": {"X": "2"}}
    merged, _ = merge_all([first, second])
    merged["permissions"]["allow"].append("C")
    merged["env"]["X"] = "3"
    assert first == {"permissions": {"allow": ["A"]}, "env": {"X": "1"}}
    assert second == {"permissions": {"allow": ["B"]}, "env": {"X": "2"}}


def test_concatenation_and_provenance_through_the_loader(layout):
    layout.write("user", {"permissions": {"allow": ["Read"], "defaultMode": "plan"}})
    layout.write("project", {"permissions": {"allow": ["Bash(npm test)"], "deny": ["Bash(rm:*)"]}})
    layout.write("local", {"permissions": {"allow": ["Read", "Edit"]}, "model": None})
    loaded = layout.load()
    p = loaded.settings.permissions
    assert p.allow == ("Read", "Bash(npm test)", "Edit")
    assert p.deny == ("Bash(rm:*)",)
    assert p.default_mode == "plan"
    assert [s.scope for s in loaded.contributors("permissions.allow")] == ["user", "project", "local"]
    assert loaded.origin("permissions.allow").scope == "local"
    assert loaded.origin("permissions.defaultMode").scope == "user"
    assert loaded.origin("permissions.allow[1]").scope == "local"  # inside a list: the list's origin
    assert loaded.origin("permissions.allow[9]") is None
    assert loaded.origin("model") is None
    leaves = {path: [s.scope for s in sources] for path, _, sources in loaded.leaves()}
    assert leaves == {
        ("permissions", "allow"): ["user", "project", "local"],
        ("permissions", "defaultMode"): ["user"],
        ("permissions", "deny"): ["project"],
    }
