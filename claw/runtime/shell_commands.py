"""What a parsed bash command runs, as permission rules see it (both directions err on the safe side).

Allow (``allow_coverage``): a command is covered only when every simple command in it — inside
compound commands, function bodies and substitutions too — is matched by an allow rule, has no
assignment (``PATH=. git status``, ``A=1; ...``), has a literal command word, and no word, redirection
target or other expanded word holds a substitution or an expansion that can run code (``$(...)``,
backticks, ``<(...)``, arithmetic, ``${...}`` other than a plain ``${NAME}``), and nothing assigns a
variable behind the rules' back (``for``/``select`` loops, ``coproc NAME``, ``{var}>``). Output
redirections to files are left to the caller (``write_targets``): they are file writes.

Deny and ask (``command_forms``): every simple command is looked at as written, with its command word
reduced to its basename (``/bin/rm`` -> ``rm``), and through the commands that run other commands
(``RUNNERS``: ``command``, ``env``, ``nice``, ``xargs``, ``sudo``, ``eval``, ``sh -c``...), options and
option arguments skipped. A command word that is not a literal (``$(echo rm) x``, ``$X``), a runner
whose command cannot be known (``env -S``, ``eval $X``) or text that could not be parsed makes the
result *conservative*: every deny/ask rule with a pattern matches.

Not here: the rule syntax and word matching (``claw.runtime.rules.BashPattern``), file-write
decisions (``claw.runtime.permissions``). What stays out of reach (interpreters, scripts, aliases,
``hash -p``, redirections inside ``eval``/``sh -c`` strings) is listed in docs/TOOLS.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

from claw.runtime.shell_syntax import ShellAnalysis, SimpleCommand, Word, analyse

NOT_FILES = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/fd/1", "/dev/fd/2"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
MAX_NESTING = 8
# builtins that evaluate an argument naming a variable (``read 'a[$(cmd)]'`` runs cmd): with an argument
# holding ``[``, ``$`` or a backtick they may run code no rule sees
EVALUATING_BUILTINS = frozenset({"read", "printf", "declare", "typeset", "local", "export", "readonly", "test",
                                 "[", "let", "getopts", "mapfile", "readarray", "unset", "wait", "source", ".",
                                 "alias", "bind", "complete", "compgen", "hash", "fc", "enable"})

Values = Tuple[Optional[str], ...]  # a command's words: the literal value, None where not a literal


@dataclass(frozen=True)
class Runner:
    """How a command that runs another command takes its arguments. ``kind``: ``wrapper`` (options,
    then the command and its arguments), ``eval`` (the arguments joined are a command), ``shell``
    (``-c STRING``), ``trap`` (its first argument is a command), ``find`` (``-exec CMD... ;``).
    Short options are letters: ``flags`` take no argument, ``with_arg`` take one (attached or the
    next word), ``optional_arg`` take one only attached; ``opaque`` options hide the command
    (``env -S``); with a ``no_run`` option nothing is run (``command -v``). ``positionals``: words
    before the command (``timeout``'s duration); ``assignments``: ``NAME=value`` words are skipped
    (``env``); ``numeric``: ``-N`` is an option (``nice -5``); ``appends``: the command gets more
    arguments at run time (``xargs``); ``replace``: options naming a replace-string (``xargs -I R``);
    ``default``: the command when none is given."""

    kind: str = "wrapper"
    flags: str = ""
    with_arg: str = ""
    optional_arg: str = ""
    opaque: str = ""
    no_run: str = ""
    long_flags: Tuple[str, ...] = ()
    long_with_arg: Tuple[str, ...] = ()
    long_optional: Tuple[str, ...] = ()
    long_opaque: Tuple[str, ...] = ()
    positionals: int = 0
    assignments: bool = False
    numeric: bool = False
    appends: bool = False
    replace: str = ""
    default: Tuple[str, ...] = ()


_SHELL = Runner(kind="shell", with_arg="oO", long_with_arg=("rcfile", "init-file"))

# The one table of commands that run other commands. Everything else is taken as the program it names.
RUNNERS = {
    "command": Runner(flags="p", no_run="vV"),
    "builtin": Runner(),
    "exec": Runner(flags="cl", with_arg="a"),
    "env": Runner(flags="i0v", with_arg="uC", opaque="S", long_flags=("ignore-environment", "null", "debug"),
                  long_with_arg=("unset", "chdir"), long_opaque=("split-string",),
                  long_optional=("block-signal", "default-signal", "ignore-signal", "list-signal-handling"),
                  assignments=True),
    "nice": Runner(with_arg="n", long_with_arg=("adjustment",), numeric=True),
    "nohup": Runner(),
    "timeout": Runner(flags="v", with_arg="sk", long_flags=("preserve-status", "foreground", "verbose"),
                      long_with_arg=("signal", "kill-after"), positionals=1),
    "stdbuf": Runner(with_arg="ioe", long_with_arg=("input", "output", "error")),
    "xargs": Runner(flags="0prtx", with_arg="IaEdnPsL", optional_arg="eil",
                    long_flags=("null", "interactive", "no-run-if-empty", "verbose", "exit", "open-tty",
                                "show-limits"),
                    long_with_arg=("arg-file", "delimiter", "max-args", "max-procs", "max-chars", "max-lines",
                                   "process-slot-var"),
                    long_optional=("eof", "replace"), appends=True, replace="Ii", default=("echo",)),
    "sudo": Runner(flags="AbEHiKklnPSsVv", with_arg="ugCDhprtUTR", no_run="e",
                   long_flags=("askpass", "background", "preserve-env", "set-home", "login", "remove-timestamp",
                               "reset-timestamp", "list", "non-interactive", "preserve-groups", "stdin", "shell",
                               "version", "validate", "bell"),
                   long_with_arg=("user", "group", "chdir", "close-from", "host", "prompt", "role", "type",
                                  "other-user", "command-timeout", "chroot"),
                   long_optional=("preserve-env",), assignments=True),
    "doas": Runner(flags="nsL", with_arg="uC"),
    "setsid": Runner(flags="cfw", long_flags=("ctty", "fork", "wait")),
    "ionice": Runner(flags="t", with_arg="cnpPu", long_flags=("ignore",),
                     long_with_arg=("class", "classdata", "pid", "pgid", "uid")),
    "time": Runner(flags="pavq", with_arg="fo", long_flags=("portability", "append", "verbose", "quiet"),
                   long_with_arg=("format", "output")),
    "find": Runner(kind="find"),
    "eval": Runner(kind="eval"),
    "trap": Runner(kind="trap"),
    "sh": _SHELL, "bash": _SHELL, "dash": _SHELL, "zsh": _SHELL, "ksh": _SHELL, "mksh": _SHELL, "ash": _SHELL,
}


@dataclass(frozen=True)
class Form:
    """One way of reading a simple command for deny/ask rules: its words (None: not a literal) and
    whether more arguments are added at run time (under ``xargs``)."""

    words: Values
    open_ended: bool = False


@dataclass(frozen=True)
class DenyView:
    """Every form the command's simple commands take, and why rules must match conservatively
    (None when they need not)."""

    forms: Tuple[Form, ...]
    sequence: Tuple[Values, ...]
    conservative: Optional[str]


@dataclass(frozen=True)
class Coverage:
    """The allow rules covering every simple command of a bash command, in order of first use (empty
    when not covered), and why not."""

    rules: Tuple[Any, ...]
    reason: str = ""


def values(words: Sequence[Word]) -> Values:
    return tuple(w.value if w.literal else None for w in words)


def command_sequence(analysis: ShellAnalysis) -> Tuple[Values, ...]:
    """The simple commands with words, in order (for exact rules written as a compound command)."""
    return tuple(values(c.words) for c in analysis.commands if c.words)


# --- deny and ask --------------------------------------------------------------------------------


def deny_view(analysis: ShellAnalysis, nesting: int = 0) -> DenyView:
    forms: List[Form] = []
    why = None
    if analysis.unknown:
        why = f"the command could not be parsed with certainty ({analysis.unknown})"
    elif analysis.evaluates:
        why = f"{analysis.evaluates[0]} may run code held in a variable"
    for cmd in analysis.commands:
        if cmd.words:
            found = _expand(list(cmd.words), False, forms, nesting)
            why = why or found
    return DenyView(tuple(forms), command_sequence(analysis), why)


def _expand(words: List[Word], open_ended: bool, forms: List[Form], nesting: int) -> Optional[str]:
    """Add the forms of one command (and of the commands it runs) to ``forms``; a reason when the rules
    must match conservatively."""
    if nesting > MAX_NESTING:
        return "commands are nested too deeply"
    name = words[0]
    if not name.literal:
        return f"the command word {name.raw} is not a literal"
    forms.append(Form(values(words), open_ended))
    base = name.value.rstrip("/").rsplit("/", 1)[-1]
    if base != name.value:
        forms.append(Form((base,) + values(words[1:]), open_ended))
    if base in EVALUATING_BUILTINS and _evaluates(words[1:]):
        return f"{base} may evaluate its arguments as code"
    runner = RUNNERS.get(base)
    if runner is None:
        return None
    args = list(words[1:])
    if runner.kind == "find":
        for inner in _find_commands(args):
            why = _expand(inner, open_ended, forms, nesting + 1)
            if why:
                return why
        return None
    if runner.kind == "wrapper":
        candidates, why = _unwrap(runner, args)
        if why:
            return f"{base}: {why}"
        for inner in candidates:
            why = _expand(inner, open_ended or runner.appends, forms, nesting + 1)
            if why:
                return why
        return None
    script, why = _script(runner, args)
    if why:
        return f"{base}: {why}"
    if script is None:
        return None
    view = deny_view(analyse(script), nesting + 1)
    forms.extend(view.forms)
    return view.conservative


def _evaluates(args: Sequence[Word]) -> bool:
    return any(not w.literal or any(ch in w.value for ch in "[$`") for w in args)


def _unwrap(runner: Runner, args: List[Word]) -> Tuple[List[List[Word]], Optional[str]]:
    """The command(s) a wrapper runs: one list normally; every later suffix after an option this
    table does not know (it may or may not take an argument)."""
    i = 0
    positionals = runner.positionals
    replace: Optional[str] = None
    while i < len(args):
        word = args[i]
        if not word.literal:
            return [], f"its argument {word.raw} is not a literal"
        v = word.value
        if v == "--":
            i += 1
            break
        if runner.assignments and _ASSIGNMENT.match(v):
            i += 1
            continue
        if v.startswith("--") and len(v) > 2:
            key, eq, val = v[2:].partition("=")
            if key in runner.long_opaque:
                return [], f"{v} hides the command"
            if key == "replace":
                replace = val if eq else "{}"
            if key in runner.long_with_arg and not eq:
                if i + 1 < len(args) and not args[i + 1].single:
                    return [], f"the argument of {v} may split into several words"
                i += 2
                continue
            if key in runner.long_with_arg + runner.long_flags + runner.long_optional:
                i += 1
                continue
            return [args[k:] for k in range(i + 1, len(args))], None
        if v.startswith("-") and len(v) > 1:
            if runner.numeric and v[1:].isdigit():
                i += 1
                continue
            step = 1
            for j, ch in enumerate(v[1:], 1):
                if ch in runner.opaque:
                    return [], f"{v} hides the command"
                if ch in runner.no_run:
                    return [], None
                if ch in runner.with_arg or ch in runner.optional_arg:
                    attached = v[j + 1:]
                    if ch in runner.with_arg and not attached:
                        step = 2
                        if i + 1 < len(args) and not args[i + 1].single:
                            return [], f"the argument of {v} may split into several words"
                    if ch in runner.replace:
                        nxt = args[i + 1] if step == 2 and i + 1 < len(args) else None
                        if nxt is not None and not nxt.literal:
                            return [], f"the replace-string {nxt.raw} is not a literal"
                        replace = attached or (nxt.value if nxt is not None else "{}")
                    break
                if ch not in runner.flags:
                    return [args[k:] for k in range(i + 1, len(args))], None
            i += step
            continue
        if v == "-" and runner.assignments:
            i += 1
            continue
        if positionals:
            positionals -= 1
            i += 1
            continue
        break
    while runner.assignments and i < len(args) and args[i].literal and _ASSIGNMENT.match(args[i].value):
        i += 1  # env -- A=1 cmd
    inner = args[i:] if i < len(args) else [Word(w, w) for w in runner.default]
    if replace:
        inner = [w if replace not in w.value else Word(w.raw, w.value, False, False, w.problem, w.quoted)
                 for w in inner]
    return ([inner] if inner else []), None


def _find_commands(args: List[Word]) -> List[List[Word]]:
    """The commands of ``find``'s ``-exec``/``-execdir``/``-ok``/``-okdir`` actions (``{}`` is a file name)."""
    out = []
    i = 0
    while i < len(args):
        if args[i].value in ("-exec", "-execdir", "-ok", "-okdir"):
            j = i + 1
            while j < len(args) and args[j].value not in (";", "+"):
                j += 1
            inner = [w if "{}" not in w.value else Word(w.raw, w.value, False, False, w.problem, w.quoted)
                     for w in args[i + 1:j]]
            if inner:
                out.append(inner)
            i = j
        i += 1
    return out


def _script(runner: Runner, args: List[Word]) -> Tuple[Optional[str], Optional[str]]:
    """The command text ``eval``, ``trap`` or ``sh -c`` runs (None: none), or why it cannot be known."""
    if runner.kind == "eval":
        if args and args[0].literal and args[0].value == "--":
            args = args[1:]
        if not all(w.literal for w in args):
            return None, "its arguments are not literals"
        return (" ".join(w.value for w in args) or None), None
    if runner.kind == "trap":
        if args and args[0].literal and args[0].value in ("-l", "-p", "-lp", "-pl"):
            return None, None
        if args and args[0].literal and args[0].value == "--":
            args = args[1:]
        if len(args) < 2:
            return None, None
        if not args[0].literal:
            return None, f"the trap action {args[0].raw} is not a literal"
        return (args[0].value if args[0].value not in ("", "-") else None), None
    has_c = False
    i = 0
    while i < len(args):
        word = args[i]
        if not word.literal:
            return None, f"its argument {word.raw} is not a literal"
        v = word.value
        if v == "--" or v == "-":
            i += 1
            break
        if v.startswith("--"):
            i += 2 if v[2:] in runner.long_with_arg else 1
            continue
        if v[:1] in ("-", "+") and len(v) > 1:
            has_c = has_c or "c" in v[1:]
            i += 2 if any(ch in runner.with_arg for ch in v[1:]) else 1
            continue
        break
    if not has_c:
        return None, None  # a script file or standard input: out of sight (a guard rail, see docs)
    if i >= len(args):
        return None, None
    if not args[i].literal:
        return None, f"the -c command {args[i].raw} is not a literal"
    return args[i].value, None


def rule_hit(pattern: Any, view: DenyView) -> Tuple[bool, str]:
    """Whether a deny/ask ``BashPattern`` matches, and the conservative reason when it matched only
    because the command could not be fully seen."""
    if view.conservative:
        return True, view.conservative
    if pattern.matches_whole(view.sequence):
        return True, ""
    return any(pattern.could_match(f.words, f.open_ended) for f in view.forms), ""


# --- allow ---------------------------------------------------------------------------------------


def allow_coverage(rules: Sequence[Any], analysis: ShellAnalysis) -> Coverage:
    """Which allow rules (objects with a ``bash`` BashPattern) prove the whole command covered."""
    if analysis.unknown:
        return Coverage((), f"the command could not be parsed with certainty ({analysis.unknown})")
    if analysis.problems:
        return Coverage((), f"allow rules cannot vouch for {analysis.problems[0]}")
    if analysis.evaluates:
        return Coverage((), f"{analysis.evaluates[0]} may run code held in a variable")
    for word in analysis.words + tuple(r.target for r in analysis.redirects):
        if word.problem:
            return Coverage((), f"allow rules cannot vouch for {word.problem} in {word.raw!r}")
    for redirect in analysis.redirects:
        if redirect.op in ("<", "<>") and not (redirect.target.literal or redirect.target.home_path):
            return Coverage((), f"the command reads {redirect.target.raw!r}, which is not a literal path")
    sequence = command_sequence(analysis)
    whole = next((r for r in rules if r.bash is not None and r.bash.matches_whole(sequence)), None)
    used: List[Any] = []
    for cmd in analysis.commands:
        if cmd.assignments:
            return Coverage((), f"{cmd.text!r} sets the variable {cmd.assignments[0].raw.split('=')[0]} "
                                "(allow rules do not cover assignments)")
        if not cmd.words:
            continue
        for word in cmd.words:
            if word.problem:
                return Coverage((), f"allow rules cannot vouch for {word.problem} in {cmd.text!r}")
        if not cmd.words[0].literal:
            return Coverage((), f"the command word {cmd.words[0].raw} is not a literal")
        if cmd.words[0].value in EVALUATING_BUILTINS and _evaluates(cmd.words[1:]):
            return Coverage((), f"{cmd.words[0].value} may evaluate its arguments as code in {cmd.text!r}")
        if whole is not None:
            continue
        rule = _covering(rules, cmd)
        if rule is None:
            return Coverage((), f"no allow rule covers {cmd.text!r}")
        if rule not in used:
            used.append(rule)
    if whole is not None and sequence:
        return Coverage((whole,))
    return Coverage(tuple(used))


def _covering(rules: Sequence[Any], cmd: SimpleCommand) -> Any:
    words = values(cmd.words)
    return next((r for r in rules if r.bash is not None and r.bash.matches_part(words)), None)


def write_targets(analysis: ShellAnalysis) -> List[Word]:
    """The targets of the redirections that write files (``/dev/null`` and the standard streams are
    not files), and of any redirection to bash's ``/dev/tcp``/``/dev/udp`` network paths."""
    return [r.target for r in analysis.redirects
            if (r.is_write and not (r.target.literal and r.target.value in NOT_FILES))
            or r.target.value.startswith(("/dev/tcp/", "/dev/udp/"))]


def changes_directory(analysis: ShellAnalysis) -> bool:
    """Some command may change the working directory (then relative redirection targets are unknown)."""
    if analysis.unknown:
        return True
    return any(not w.literal or w.value.rsplit("/", 1)[-1] in ("cd", "pushd", "popd", "eval", "source", ".")
               for c in analysis.commands for w in c.words[:1] + tuple(x for x in c.words[1:] if x.literal))
