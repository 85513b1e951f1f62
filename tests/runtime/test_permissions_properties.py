"""Property tests for permission rule matching."""

from __future__ import annotations

import os
import tempfile

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from claw.runtime.permissions import ALLOW, ASK, DENY, PermissionPolicy
from claw.runtime.shell_commands import command_sequence
from claw.runtime.shell_syntax import analyse
from claw.tools.registry import get_tool

WORKSPACE = os.path.realpath(tempfile.mkdtemp(prefix="claw-perm-props-"))
BASH = get_tool("bash")
READ = get_tool("read_file")

WORD = st.sampled_from(["git", "status", "log", "npm", "run", "test", "rm", "-rf", "-s", "ls", "x", "a.txt",
                        "statusx", "--oneline"])
WORDS = st.lists(WORD, min_size=1, max_size=5)
RULE_POOL = st.sampled_from([
    "Bash", "Bash(git:*)", "Bash(git status:*)", "Bash(npm run test)", "Bash(rm:*)", "Bash(ls *)",
    "Bash(* -rf)", "Read", "Read(./x/**)", "Read(*.txt)", "Read(//etc/**)", "Edit", "WebFetch",
])
MODES = st.sampled_from(["read-only", "default", "workspace-write", "danger-full-access", "dontAsk"])


def bash_decision(policy, command):
    return policy.decide("bash", BASH.spec, {"command": command}, [])


def read_decision(policy, path):
    return policy.decide("read_file", READ.spec, {"path": path}, READ.target_paths({"path": path}, None))


@settings(max_examples=200, deadline=None)
@given(allow=st.lists(RULE_POOL, max_size=4), deny=st.lists(RULE_POOL, max_size=3), mode=MODES,
       words=WORDS, path=st.sampled_from(["x/a.txt", "y/b.py", "/etc/passwd", "a.txt", "x/y/z.md"]))
def test_deny_always_beats_allow(allow, deny, mode, words, path):
    full = PermissionPolicy(mode=mode, cwd=WORKSPACE, allow_rules=allow, deny_rules=deny)
    deny_only = PermissionPolicy(mode="danger-full-access", cwd=WORKSPACE, deny_rules=deny)
    command = " ".join(words)
    for decide in (lambda p: bash_decision(p, command), lambda p: read_decision(p, path)):
        if decide(deny_only).outcome == DENY:
            assert decide(full).outcome == DENY
    # and a rule listed as both allow and deny denies
    for rule in allow:
        both = PermissionPolicy(mode=mode, cwd=WORKSPACE, allow_rules=[rule], deny_rules=[rule])
        if rule.startswith("Bash") and PermissionPolicy(mode="danger-full-access", cwd=WORKSPACE,
                                                        deny_rules=[rule]).decide(
                "bash", BASH.spec, {"command": command}, []).outcome == DENY:
            assert bash_decision(both, command).outcome == DENY


@settings(max_examples=300, deadline=None)
@given(prefix=WORDS, words=WORDS)
def test_prefix_rule_matches_exactly_at_word_boundaries(prefix, words):
    policy = PermissionPolicy(mode="default", cwd=WORKSPACE, allowed=[f"Bash({' '.join(prefix)}:*)"])
    outcome = bash_decision(policy, " ".join(words)).outcome
    assert outcome == (ALLOW if words[: len(prefix)] == prefix else ASK)


@settings(max_examples=200, deadline=None)
@given(rule=WORDS, words=WORDS, spaces=st.sampled_from([" ", "  ", "\t"]))
def test_exact_rule_matches_only_the_same_words(rule, words, spaces):
    policy = PermissionPolicy(mode="default", cwd=WORKSPACE, allowed=[f"Bash({' '.join(rule)})"])
    outcome = bash_decision(policy, spaces.join(words)).outcome
    assert outcome == (ALLOW if words == rule else ASK)


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(WORDS, min_size=1, max_size=4),
       ops=st.lists(st.sampled_from([" && ", " || ", "; ", " | ", "\n", " & "]), min_size=3, max_size=3))
def test_compound_commands_split_into_their_parts(parts, ops):
    command = " ".join(parts[0])
    for i, part in enumerate(parts[1:]):
        command += ops[i % len(ops)] + " ".join(part)
    parsed = analyse(command)
    assert parsed.unknown is None and not parsed.problems and not parsed.redirects
    assert [list(p) for p in command_sequence(parsed)] == parts


@settings(max_examples=200, deadline=None)
@given(words=WORDS)
def test_quoting_does_not_change_words(words):
    quoted = " ".join(f"'{w}'" if i % 2 else f'"{w}"' for i, w in enumerate(words))
    assert [list(p) for p in command_sequence(analyse(quoted))] == [words]


@settings(max_examples=200, deadline=None)
@given(allowed=WORDS, other=WORDS)
def test_a_compound_command_is_allowed_only_when_every_part_is(allowed, other):
    assume(other[: len(allowed)] != allowed)
    policy = PermissionPolicy(mode="default", cwd=WORKSPACE, allowed=[f"Bash({' '.join(allowed)}:*)"])
    a, b = " ".join(allowed), " ".join(other)
    assert bash_decision(policy, f"{a} && {a}").outcome == ALLOW
    for joined in (f"{a} && {b}", f"{b}; {a}", f"{a} | {b}", f"{a} $({b})", f"{a} > out.txt"):
        assert bash_decision(policy, joined).outcome == ASK


SEGMENTS = st.lists(st.sampled_from(["src", "lib", "x", "deep", "a.py", "b.txt"]), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(rule_dir=st.lists(st.sampled_from(["src", "lib", "x"]), min_size=1, max_size=2), path=SEGMENTS)
def test_directory_path_rule_covers_exactly_what_is_below_it(rule_dir, path):
    policy = PermissionPolicy(mode="dontAsk", cwd=WORKSPACE, deny_rules=[f"Read(./{'/'.join(rule_dir)}/**)"])
    outcome = read_decision(policy, "/".join(path)).outcome
    below = len(path) > len(rule_dir) and path[: len(rule_dir)] == rule_dir
    # in dontAsk mode a read inside the workspace is allowed unless the rule denies it
    assert outcome == (DENY if below else ALLOW)
    assert outcome != ASK
