"""Bash permission rules that cannot be talked around: each known bypass, decided by the policy.

Allow rules must prove every part of a command covered (no substitution or code-running expansion
anywhere, no assignment, output redirections decided as file writes); deny rules must see through
paths, quoting, compound commands and the commands that run commands, and match when they cannot
see. Real runs of these forms are in test_bash_oracle.py.
"""

from __future__ import annotations

import pytest

from claw.runtime.permissions import ALLOW, ASK, DENY, PermissionPolicy
from claw.tools.registry import get_tool

BASH = get_tool("bash")
ALLOWED = ["Bash(git status:*)", "Bash(ls:*)", "Bash(echo:*)", "Bash(cat:*)", "Bash(printf:*)", "Bash(true)"]


@pytest.fixture
def ws(tmp_path):
    (tmp_path / "ws" / "secret").mkdir(parents=True)
    return (tmp_path / "ws").resolve()


def decide(policy, command):
    return policy.decide("bash", BASH.spec, {"command": command}, [])


def strict(ws, **kw):
    kw.setdefault("allow_rules", ALLOWED)
    kw.setdefault("deny_rules", ["Bash(rm:*)"])
    return PermissionPolicy(mode=kw.pop("mode", "dontAsk"), cwd=ws, **kw)


# --- allow rules: what they must not cover ----------------------------------------------------------

# bypasses: each of these ran under today's allow rules before
NOT_COVERED = [
    # input redirections are words too
    "git status <$(python3 -c 'import os; os.system(\"id\")')",
    "git status <`python3`",
    "git status < $(python3 -c 1)",
    # >& FILE writes the file
    "ls >& FILE",
    "ls >&FILE",
    # expansions that run code held in a variable
    "echo ${x@P}",
    "echo ${!x}",
    "echo ${arr[i]}",
    "echo ${x:i}",
    "echo $[a]",
    "printf -v 'a[$(id)]' x",
]
# and forms that were not covered before either, and must stay so
STILL_NOT_COVERED = [
    "git status <<< $(id)", "git status <<< `id`", "ls &>> log.txt", "ls > out.txt", "echo x 3> fd.txt",
    "PATH=/tmp/x git status", "GIT_SSH_COMMAND='sh -c id' git status", "LD_PRELOAD=/tmp/x.so ls",
    "PATH=.; git status", "PATH=. && git status", "for PATH in /tmp/evil; do ls; done", "{PATH}>/dev/null; ls",
    "coproc PATH { ls; }", "x='$(id)'; echo ${x@P}", "echo $((a))", "[[ $a -eq 1 ]] && ls", "[[ -v a[i] ]] && ls",
    "(( a )) && ls", "cat <<EOF\n$(id)\nEOF", "cat <<EOF\n`id`\nEOF", "echo ${ id; }", "ls ${x:-$(id)}",
    "case $(id) in x) ls;; esac", "if true; then ls; fi; echo ${x@P}",
]


@pytest.mark.parametrize("command", NOT_COVERED + STILL_NOT_COVERED)
def test_allow_rules_do_not_cover(ws, command):
    d = decide(strict(ws), command)
    assert d.outcome == DENY and not d.reason.startswith("allowed"), d  # dontAsk: not covered is denied
    # and in default mode it asks instead of running
    assert decide(strict(ws, mode="default", deny_rules=[]), command).outcome == ASK


@pytest.mark.parametrize("command", [
    "git status", "git status -s && ls -la", "if true; then ls; fi", "( ls ) | cat", "{ ls; echo x; }",
    "time -p git status", "! ls", "ls > /dev/null 2>&1", "ls 2>/dev/stderr >&2", "cat < README",
    "cat <<'EOF'\n$(id)\nEOF", "echo '$(id)' \"${HOME}\" $HOME", "echo ${HOME}x", "cat <<< hello",
    "git 'status'", "ls *.py", "ls & wait || true",
])
def test_allow_rules_still_cover_plain_commands(ws, command):
    policy = strict(ws, allow_rules=ALLOWED + ["Bash(wait)"])
    assert decide(policy, command).outcome == ALLOW, command


def test_the_reason_names_what_was_not_covered(ws):
    d = decide(strict(ws), "git status <$(python3 -c 1)")
    assert "command substitution" in d.reason and "dontAsk" in d.reason
    d = decide(strict(ws), "git status && curl x")
    assert "no allow rule covers 'curl x'" in d.reason
    d = decide(strict(ws), "PATH=. git status")
    assert "sets the variable PATH" in d.reason


# --- output redirections are file writes ------------------------------------------------------------


def test_redirections_are_decided_as_file_writes(ws):
    policy = strict(ws, mode="workspace-write", deny_rules=["Bash(rm:*)", "Edit(./secret/**)"])
    assert decide(policy, "ls > out.txt").outcome == ALLOW
    assert decide(policy, "ls >& out.txt").outcome == ALLOW
    d = decide(policy, "ls > ../outside.txt")
    assert d.outcome == ASK and "outside the workspace" in d.reason
    d = decide(policy, "ls >> secret/log")
    assert d.outcome == DENY and "Edit(./secret/**)" in d.reason and "secret/log" in d.reason
    # a target that is not a literal may be anything: the Edit deny rule may match it
    assert decide(policy, 'ls > "$F"').outcome == DENY
    # relative targets after cd are not known paths
    cd = strict(ws, mode="workspace-write", allow_rules=ALLOWED + ["Bash(cd:*)"])
    assert decide(cd, "cd /etc && ls > passwd").outcome == ASK
    assert decide(cd, "cd sub && ls > /dev/null").outcome == ALLOW
    # default mode asks before writing
    assert decide(strict(ws, mode="default"), "ls > out.txt").outcome == ASK


def test_redirection_targets_under_home_and_network_paths(ws, monkeypatch):
    home = ws.parent / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    policy = PermissionPolicy(mode="danger-full-access", cwd=ws, home=str(home), deny_rules=["Edit(~/.bashrc)"])
    assert decide(policy, "echo x >> ~/.bashrc").outcome == DENY
    assert decide(policy, "echo x >> ~/notes.txt").outcome == ALLOW
    ww = strict(ws, mode="workspace-write")
    d = decide(ww, "git status < /dev/tcp/example.com/80")
    assert d.outcome == ASK and "/dev/tcp/example.com/80" in d.reason
    assert decide(ww, 'cat < "$F"').outcome == ASK
    assert decide(ww, "cat < in.txt").outcome == ALLOW


def test_write_deny_rules_reach_redirections_in_every_mode(ws):
    for mode in ("danger-full-access", "workspace-write", "default"):
        for allow in ([], ["Bash"], ALLOWED):
            policy = PermissionPolicy(mode=mode, cwd=ws, allow_rules=allow, deny_rules=["Edit(./secret/**)"])
            d = decide(policy, "echo x > secret/key")
            assert d.outcome == DENY and "Edit(./secret/**)" in d.reason, (mode, allow, d)
    bare = PermissionPolicy(mode="default", cwd=ws, allow_rules=["Bash"])
    assert decide(bare, "echo x > out.txt").outcome == ALLOW  # a bare Bash rule is all of bash
    full = PermissionPolicy(mode="danger-full-access", cwd=ws, ask_rules=["Write(./secret/**)"])
    assert decide(full, "echo x > secret/key").outcome == ASK


# --- deny rules: what they must see through ----------------------------------------------------------

# bypasses: each of these ran under a Bash(rm:*) deny rule before
DENIED = [
    "/bin/rm x", "/usr/bin/rm -rf x", "./rm x", "$'\\x72m' x", "$'rm' x",
    "(rm x)", "{ rm x; }", "if true; then rm x; fi", "if false; then :; elif true; then rm x; fi",
    "! rm x", "for i in a; do rm x; done", "for ((i=0;i<1;i++)); do rm x; done", "while true; do rm x; done",
    "until false; do rm x; done", "case x in x) rm x;; esac", "select i in a; do rm x; done",
    "coproc rm x", "coproc N { rm x; }", "f() { rm x; }", "function f { rm x; }",
    "echo $(rm x)", "echo `rm x`", 'echo "$(rm x)"', "cat <(rm x)", "echo x > >(rm x)",
    "cat <<EOF\n$(rm x)\nEOF", "cat <<< $(rm x)", "A=$(rm x)", "echo ${x:-$(rm x)}",
    "exec -a name rm x", "env -u HOME rm x", "nice -n 5 rm x", "timeout 5 rm x", "timeout -s KILL 5 rm x",
    "timeout --signal=TERM -k 1 5 rm x", "stdbuf -o0 rm x", "stdbuf -o 0 -e L rm x", "setsid rm x",
    "setsid -f rm x", "ionice -c 3 rm x", "sudo -u root rm x", "sudo -n -u root -- rm x",
    "doas -u root rm x", "nice -n 5 env A=1 sudo rm x",
    "echo x | xargs rm", "xargs -n 1 rm", "xargs -0 -P 4 rm", "xargs -I{} rm {}", "xargs -d , rm",
    "echo rm | xargs -I R R x", "xargs sh -c 'rm \"$@\"' _",
    "eval rm x", "eval 'rm x'", 'eval "ls; rm x"', "bash -c 'rm x'", "sh -c 'rm x'", "bash -ec 'rm x'",
    "trap 'rm x' EXIT", "find . -exec rm {} +", "find . -name x -execdir /bin/rm -f {} \\;",
    # not literals: conservatively denied
    "$(echo rm) x", "`echo rm` x", "$X x", '"$X" x', "${X} x", "/bin/r? x", "{rm,x} y", "~/rm x",
    "eval $X", "env -S 'rm x'", "bash -c \"$X\"", "nice -n 5 $X", "xargs $X",
    "x='$(rm p)'; echo ${x@P}", "y='z[$(rm q)]'; echo $((y))", "read 'a[$(rm x)]' <<< x",
    "echo 'unterminated",
]
# forms denied before too, and must stay so
STILL_DENIED = [
    "\\rm x", "'rm' x", 'r"m" x', "time rm x", "time -p rm x", "ls | rm x", "ls |& rm x", "ls\nrm x",
    "ls & rm x", "command rm x", "command -p rm x", "builtin rm x", "exec rm x", "env rm x", "env A=1 B=2 rm x",
    "env -- rm x", "nice rm x", "nice -5 rm x", "nice --adjustment=5 rm x", "nohup rm x", "sudo rm x", "doas rm x",
]


@pytest.mark.parametrize("command", DENIED + STILL_DENIED)
def test_deny_rules_see_through(ws, command):
    d = decide(strict(ws), command)
    assert d.outcome == DENY and d.rule == "Bash(rm:*)", (command, d)
    asks = PermissionPolicy(mode="danger-full-access", cwd=ws, ask_rules=["Bash(rm:*)"])
    assert decide(asks, command).outcome == ASK, command


def test_a_conservative_denial_says_why(ws):
    d = decide(strict(ws), "$(echo rm) x")
    assert "$(echo rm)" in d.reason and "not a literal" in d.reason and "Bash(rm:*)" in d.reason


@pytest.mark.parametrize("command", [
    "echo 'rm is just text'", "git rm x", "ls rm", "command -v rm", "cat <<'EOF'\n$(rm x)\nEOF",
    "echo '$(rm x)'", "echo rm", "rmdir x", "ls $HOME", "echo x | xargs ls",
])
def test_deny_rules_do_not_match_what_does_not_run_the_program(ws, command):
    policy = PermissionPolicy(mode="danger-full-access", cwd=ws, deny_rules=["Bash(rm:*)"])
    assert decide(policy, command).outcome == ALLOW, command


def test_deny_rules_with_more_words_see_through_too(ws):
    policy = PermissionPolicy(mode="danger-full-access", cwd=ws, deny_rules=["Bash(git push:*)"])
    for command in ("sudo git push", "echo push | xargs git", "git $X", "\\git push --force", "(git push)"):
        assert decide(policy, command).outcome == DENY, command
    for command in ("git status", "git pull", "echo push | xargs ls", "git log push"):
        assert decide(policy, command).outcome == ALLOW, command
