"""A differential oracle for bash permission rules: what the matcher decides against what bash runs.

Hypothesis builds shell commands from a grammar of the forms attackers use (paths, quoting, wrappers
with options, compound commands, functions, substitutions, heredocs, redirections, assignments,
pipes, xargs, eval, ``sh -c``) and runs each with the real ``bash -c`` in a scratch workspace whose
PATH holds only a directory of logging stubs: ``rm``, ``git``, ``ls``... are ``#!/bin/sh`` scripts
that append their name and arguments to a log; ``env``, ``nice``, ``nohup``, ``timeout``, ``stdbuf``,
``xargs``, ``setsid``, ``find``, ``bash`` and ``sh`` are symlinks to the real programs, so they run
the stubs through PATH. ``sudo`` and ``doas`` are not installed here: their stubs log themselves, skip their
options the way the real ones do and exec the rest.

Properties, for a dontAsk policy and a workspace-write policy with an Edit deny rule:
(a) when the matcher allows the command, every program bash ran matches one of the allow rules,
    and every file that changed is one the policy lets write_file write;
(b) when a deny rule matches a program bash ran, the matcher denied the command.
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from claw.runtime.permissions import ALLOW, DENY, PermissionPolicy
from claw.tools.registry import get_tool

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None or not os.path.exists("/bin/sh"), reason="needs bash and /bin/sh")

ROOT = Path(tempfile.mkdtemp(prefix="claw-bash-oracle-")).resolve()
atexit.register(shutil.rmtree, ROOT, True)
STUBS = ROOT / "stubs"
PROGRAMS = ("rm", "git", "ls", "cat", "touch", "python3", "mkdir")
REAL = ("env", "nice", "nohup", "timeout", "stdbuf", "xargs", "setsid", "bash", "sh", "find")
ALLOW_RULES = ["Bash(git status:*)", "Bash(ls:*)", "Bash(echo:*)", "Bash(cat:*)",
               # builtins and the functions the grammar defines, so that compound commands can be covered
               "Bash(true)", "Bash(false)", "Bash(:)", "Bash(wait)", "Bash(break)", "Bash(f)", "Bash(g)",
               "Bash(cd:*)"]
DENY_RULES = ["Bash(rm:*)", "Bash(python3:*)"]


def _containment() -> list:
    """The prefix that runs each generated command in a PID namespace of its own (util-linux
    ``unshare``; needs root, as CI has): when bash ends, the kernel kills everything it started, also
    what left its session (``setsid``). A generated command can fork without end
    (``x='$(rm ${x@P} ${x@P})'; echo ${x@P}``), and one such tree once outlived the test by an hour.
    Without it, the run's process group is killed after each command (see ``_run``)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    prefix = [unshare, "--pid", "--fork", "--kill-child"]
    try:
        ok = subprocess.run(prefix + ["true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return prefix if ok else []


CONTAIN = _containment()

# one write per run (records of programs running in parallel do not interleave)
STUB = """#!/bin/sh
us=$(printf '\\037')
r="${0##*/}"
for a in "$@"; do r="$r$us$a"; done
printf '%s\\036' "$r" >> "$ORACLE_LOG"
"""
# sudo/doas stand-ins: log, skip options (and those taking an argument), run the rest through PATH
RUNNER_STUB = STUB + """while [ $# -gt 0 ]; do
  case "$1" in
    -u|-g|-C|-D|-h|-p|-r|-t|-U|-T|-R) shift 2 ;;
    --) shift; break ;;
    -*) shift ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] && exec "$@"
"""


def _setup() -> None:
    STUBS.mkdir()
    for name in PROGRAMS:
        (STUBS / name).write_text(STUB)
    for name in ("sudo", "doas"):
        (STUBS / name).write_text(RUNNER_STUB)
    for path in STUBS.iterdir():
        path.chmod(0o755)
    for name in REAL:
        real = shutil.which(name, path="/usr/bin:/bin")
        if real:
            os.symlink(real, STUBS / name)


_setup()
S = str(STUBS)

# --- the grammar -----------------------------------------------------------------------------------

NAMES = st.sampled_from(PROGRAMS + ("echo", "git status", "git status", "ls", "echo", "cat"))


@st.composite
def program_word(draw):
    """A command word naming a program, in one of the spellings bash accepts."""
    name = draw(NAMES)
    form = draw(st.sampled_from(["plain"] * 8 + ["backslash", "single", "double", "split", "abs",
                                 "ansi", "subst", "backtick", "var", "glob", "brace"]))
    event(f"word:{form}")
    name, _, rest = name.partition(" ")
    rest = " " + rest if rest else ""
    return _spell(name, form) + rest


def _spell(name: str, form: str) -> str:
    if form == "backslash":
        return "\\" + name
    if form == "single":
        return f"'{name}'"
    if form == "double":
        return f'"{name}"'
    if form == "split":
        return f"{name[0]}'{name[1:]}'"
    if form == "abs":
        return f"{S}/{name}"
    if form == "ansi":
        return "$'" + "".join(f"\\x{ord(c):02x}" for c in name) + "'"
    if form == "subst":
        return f"$(echo {name})"
    if form == "backtick":
        return f"`echo {name}`"
    if form == "var":
        return f"P={name}; $P"
    if form == "glob":
        return f"{S}/{name[:-1]}?"
    if form == "brace":
        return f"{S}/{{{name},nothere}}"
    return name


WRAPPERS = st.sampled_from([
    "", "", "", "command ", "builtin ", "exec ", "env ", "env A=1 ", "env -u FOO ", "env -- ", "nice ",
    "nice -n 5 ", "nice -5 ", "nohup ", "env -- A=1 ", "timeout 5 ", "timeout -s KILL 5 ", "timeout --signal=TERM 5 ",
    "stdbuf -o0 ", "stdbuf -o 0 ", "setsid ", "sudo ", "sudo -u root ", "doas ", "doas -u root ", "time ",
    "time -p ", "! ", "nice -n 5 env A=1 ", "A=1 ", "PATH=$PATH ",
])
ARGS = st.sampled_from([
    "status", "-s", "x", "x", "-la", "'a b'", "\"q\"", "$HOME", "${HOME}", "*.txt", "-s", "x", "-rf", "'a b'",
    "$HOME", "$(echo hi)", "$((1+2))", "*.txt", "-la", "--",
    "$(rm sub)", "`rm tick`", "$(git status)", "\"$(python3 -c 1)\"", "<(rm procsub)", "${x@P}", "$((y))",
])
REDIRECTS = st.sampled_from([
    "", "", "", "> out.txt", ">> out.txt", ">| out.txt", "&> out.txt", "&>> out.txt", ">& out.txt",
    "2> err.txt", "> /dev/null", "2>&1", ">/dev/null 2>&1", "< in.txt", "<<< hi", "<<< $(rm here)",
    "< $(echo in.txt)", "<`rm tick`", "> protected/p.txt", "> ../outside/o.txt", "<> rw.txt",
    "{fd}> fd.txt", "> \"$(echo sub.txt)\"", "3> three.txt", "> $HOME/home.txt", f"> {ROOT}/ws/abs.txt",
    "> ~/tilde.txt", "> protected/../protected/q.txt", "> p.txt",
])


@st.composite
def simple(draw):
    """One simple command, maybe behind wrappers, with arguments and redirections."""
    word = draw(program_word())
    prefix = ""
    if word.startswith("P="):
        prefix, word = word.split(" ", 1)
        prefix += " "
    wrappers = "".join(draw(st.lists(WRAPPERS, max_size=2)))
    args = " ".join(draw(st.lists(ARGS, max_size=3)))
    redirect = draw(REDIRECTS)
    return f"{prefix}{wrappers}{word} {args} {redirect}".strip()


def _compound(inner):
    return st.one_of(
        st.tuples(st.just("( {} )"), inner), st.tuples(st.just("{{ {}; }}"), inner),
        st.tuples(st.just("if true; then {}; fi"), inner), st.tuples(st.just("if false; then :; else {}; fi"), inner),
        st.tuples(st.just("for i in a; do {}; done"), inner),
        st.tuples(st.just("while true; do {}; break; done"), inner),
        st.tuples(st.just("case x in x) {};; esac"), inner), st.tuples(st.just("f() {{ {}; }}; f"), inner),
        st.tuples(st.just("function g {{ {}; }}; g"), inner), st.tuples(st.just("coproc {}; wait"), inner),
        st.tuples(st.just("echo $({})"), inner), st.tuples(st.just("echo `{}`"), inner),
        st.tuples(st.just("cat <({})"), inner), st.tuples(st.just("{{ cat <<EOF\n$({})\nEOF\n}}"), inner),
        st.tuples(st.just("{{ cat <<'EOF'\n$({})\nEOF\n}}"), inner), st.tuples(st.just("{} & wait"), inner),
        st.tuples(st.just("eval {}"), inner.map(shlex.quote)), st.tuples(st.just("bash -c {}"), inner.map(shlex.quote)),
        st.tuples(st.just("sh -c {}"), inner.map(shlex.quote)),
        st.tuples(st.just("x={}; echo ${{x@P}}"), inner.map(lambda c: shlex.quote(f"$({c})"))),
        st.tuples(st.just("y={}; echo $((y))"), inner.map(lambda c: shlex.quote(f"z[$({c})]"))),
        st.tuples(st.just("echo x | xargs {}"), inner),
        st.tuples(st.just("cd protected && {}"), inner), st.tuples(st.just("cd .. && {}"), inner),
        st.tuples(st.just("trap {} EXIT"), inner.map(shlex.quote)),
        st.tuples(st.just("read {} <<< x"), inner.map(lambda c: shlex.quote(f"a[$({c})]"))),
    ).map(lambda t: t[0].format(t[1]))


FIND = NAMES.map(lambda name: f"find . -maxdepth 0 -exec {name} {{}} ';'")
XARGS = st.tuples(st.sampled_from(["", "-n 1 ", "-I R ", "-0 ", "-r ", "-P 2 ", "-d , ", "-L 1 "]), NAMES).map(
    lambda t: f"echo x | xargs {t[0]}{t[1]}{' R' if 'R' in t[0] else ''}")



def _commands(leaf):
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            _compound(inner),
            st.tuples(inner, st.sampled_from([" && ", " || ", "; ", " | ", " |& ", "\n"]), inner).map("".join),
        ),
        max_leaves=4,
    )


# commands the allow rules may well cover (so that property (a) is exercised often), with every redirection
BENIGN = st.tuples(
    st.sampled_from(["", "", "time ", "! ", "time -p "]),
    st.sampled_from(["git status", "ls", "echo", "cat", "'ls'", "\\ls", '"git" status', "git 'status'"]),
    st.lists(st.sampled_from(["-s", "x", "-la", "'a b'", "$HOME", "*.txt", "in.txt", "--"]), max_size=2).map(" ".join),
    REDIRECTS,
).map(lambda t: f"{t[0]}{t[1]} {t[2]} {t[3]}".strip())

COMMANDS = st.one_of(_commands(st.one_of(simple(), XARGS, FIND)), _commands(BENIGN))

# --- running it --------------------------------------------------------------------------------------

BASH_TOOL = get_tool("bash")
WRITE_TOOL = get_tool("write_file")


def _snapshot(root: Path) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            st_ = os.lstat(path)
            out[path] = (st_.st_size, st_.st_mtime_ns, st_.st_mode)
    return out


def _run(command: str):
    """Run ``command`` in a fresh workspace; the programs it ran (argv lists) and the paths it changed."""
    base = Path(tempfile.mkdtemp(dir=ROOT))
    ws, outside, home = base / "ws", base / "outside", base / "home"
    for d in (ws / "protected", outside, home):
        d.mkdir(parents=True)
    (ws / "in.txt").write_text("in\n")
    log = base / "log"
    log.write_text("")
    before = _snapshot(base)
    env = {"PATH": S, "ORACLE_LOG": str(log), "HOME": str(home), "LC_ALL": "C"}
    proc = subprocess.Popen(CONTAIN + [BASH, "-c", command], cwd=ws, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    finally:  # nothing the command started may outlive it
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
    ran = [entry.split("\x1f") for entry in log.read_text().split("\x1e") if entry]
    after = _snapshot(base)
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p) and p != str(log))
    shutil.rmtree(base, ignore_errors=True)
    return ws, ran, changed


def _policies(ws: Path):
    return [
        PermissionPolicy(mode="dontAsk", cwd=ws, allow_rules=ALLOW_RULES, deny_rules=DENY_RULES),
        PermissionPolicy(mode="workspace-write", cwd=ws, allow_rules=ALLOW_RULES,
                         deny_rules=DENY_RULES + ["Edit(./protected/**)"]),
        # allow rules alone: the deny rules above match code-running expansions conservatively, which
        # would hide an allow rule that vouched for one
        PermissionPolicy(mode="dontAsk", cwd=ws, allow_rules=ALLOW_RULES),
    ]


def check(command: str) -> None:
    ws, ran, changed = _run(command)
    for policy in _policies(ws):
        decision = policy.decide("bash", BASH_TOOL.spec, {"command": command}, [])
        event(f"outcome:{decision.outcome}")
        for argv in ran:
            for rule in policy.deny:
                if rule.bash is not None and rule.bash.matches_part(argv):
                    assert decision.outcome == DENY, (command, argv, rule.text, decision)
        if decision.outcome != ALLOW:
            continue
        allow = [r for r in policy.allow if r.bash is not None]
        for argv in ran:
            assert any(r.bash.matches_part(argv) for r in allow), (command, argv, decision)
        for path in changed:
            if os.path.isdir(path):
                continue
            verdict = policy.decide("write_file", WRITE_TOOL.spec, {"path": path}, [path])
            assert verdict.outcome == ALLOW, (command, path, decision, verdict)


@settings(max_examples=400, deadline=None, database=None, derandomize=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(COMMANDS)
@example("git status <$(python3 -c 1)")
@example("git status <`python3 -c 1`")
@example("git status < $(python3 -c 1)")
@example("ls >& FILE")
@example(f"{S}/rm x")
@example("\\rm x")
@example("(rm x)")
@example("{ rm x; }")
@example("if true; then rm x; fi")
@example("! rm x")
@example("for i in a; do rm x; done")
@example("coproc rm x; wait")
@example("nice -n 5 rm x")
@example("echo x | xargs rm")
@example("command rm x")
@example("$(echo rm) x")
@example("PATH=$PATH git status")
@example("x='$(rm p)'; echo ${x@P}")
@example("y='z[$(rm q)]'; echo $((y))")
@example("cat <<EOF\n$(rm h)\nEOF")
@example("eval 'rm e'")
@example("bash -c 'rm c'")
@example("echo rm | xargs -I R R x")
@example("ls > out.txt")
@example("echo hi > protected/p.txt")
def test_matcher_agrees_with_what_bash_runs(command):
    check(command)


# token soup: allowed command heads followed by shell punctuation in any order, to catch the places
# where the matcher's tokenizer and bash's could part ways
_TOKENS = st.sampled_from([
    "echo", "ls", "rm", "cat", "git status", " ", ";", "&", "|", "(", ")", "{", "}", "$", "`", "'", '"', "\\",
    "\n", "<", ">", "#", "=", "x", "[", "]", "*", "?", "~", "!", ":", "-", "$(", "${", "<<", "EOF", "\t", "@",
    ",", "$'", "\\x72m", "in", "do", "done", "for", "if", "then", "fi", "case", "esac", ";;", "((", "))", "[[",
    "]]", "&>", "2", "0",
])
_SAFE = st.sampled_from([" ", " ", "x", "-l", "'a;b'", '"q"', "\\;", "$HOME", "2>&1", ">/dev/null", "<in.txt",
                         ";", "&&", "|", "\n", "*", "#", ")", "}"])
_HEAD = st.sampled_from(["echo ", "ls ", "cat ", "git status ", "true; ", "( ls ", "{ echo ", "if true; then ls; fi ",
                         "cat <<E\n", "E\n"])
SOUP = st.lists(st.tuples(_HEAD, st.lists(_SAFE, max_size=4).map("".join),
                          st.lists(_TOKENS, max_size=2).map("".join)).map("".join),
                min_size=1, max_size=4).map("".join)


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(SOUP)
@example("echo x\\\nrm y")
@example("ls #$(rm x)\nrm y")
def test_token_soup_agrees_with_bash(command):
    check(command)


def test_the_stubs_log_what_bash_runs():
    # the oracle is only as good as its log: a stub run through a wrapper is seen, with its arguments
    _, ran, changed = _run("nice -n 5 git status 'a b' && echo x | xargs rm && ls > out.txt")
    assert ran == [["git", "status", "a b"], ["rm", "x"], ["ls"]]
    assert [os.path.basename(p) for p in changed] == ["out.txt"]


def test_the_grammar_produces_the_attacker_forms():
    seen = set()

    @settings(max_examples=300, deadline=None, database=None)
    @given(COMMANDS)
    def collect(command):
        for marker in ("$(", "`", "<(", "<<", "xargs", "eval", "sh -c", "@P", "$((", "nice", "sudo", "(", "{",
                       "if ", "for ", "case ", "f()", "coproc", f"{S}/", "\\", ">", "P=", "| "):
            if marker in command:
                seen.add(marker)

    collect()
    assert len(seen) >= 18, seen
