"""A sans-IO analyser of bash command text: every simple command, redirection and expanded word in it.

``analyse(command)`` parses the way bash does — control operators (``; & && || | |&`` newline),
subshells, brace groups, ``if/for/select/while/until/case``, ``!``, ``time [-p]``, ``coproc``, function
definitions, ``[[ ]]``, ``(( ))``, quoting (``'..'``, ``".."``, ``$'..'``, ``$".."``, backslash), comments,
line continuations, heredocs and here-strings, assignments and redirections with fd numbers — and
flattens the result: every simple command anywhere (inside compound commands, function bodies, and
the bodies of ``$(...)``, backticks, ``<(...)``/``>(...)``, ``${ ...; }``) with its words after quote
removal, every redirection, the other words bash expands (``for`` lists, ``case`` words, ``[[ ]]``
operands, unquoted heredoc bodies), and the constructs that can run code from a variable's value
(arithmetic, ``${...}`` beyond a plain ``${NAME}``) or assign variables behind a rule's back.

Each ``Word`` says whether it is a literal (bash passes exactly ``value``), whether it stays one
word, and what in it could run code. Whatever the parser cannot read with certainty makes the
analysis ``unknown`` (with the reason) rather than a guess.

Not here: what the commands mean for permission rules (``claw.runtime.shell_commands``), aliases,
``shopt`` settings that change parsing (``extglob`` is treated as off), and running anything.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from claw.runtime.shell_words import META, NAME_RE, Lexer, Unknown, Word

_COMPOUND_START = frozenset({"{", "if", "for", "select", "while", "until", "case", "[["})
_STRAY = frozenset({"then", "elif", "else", "fi", "do", "done", "esac", "}", "]]"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
_FD_WORD = re.compile(r"(\d+|\{[A-Za-z_][A-Za-z0-9_]*\})\Z")
_FD_PREFIX = re.compile(r"(\d+|\{[A-Za-z_][A-Za-z0-9_]*\})(?=[<>](?!\())")
_REDIRECT_OPS = ("&>>", "&>", "<<<", "<<-", "<<", "<>", "<&", ">>", ">&", ">|", "<", ">")
_ARITH_TESTS = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-v", "-R"})


@dataclass(frozen=True)
class Redirect:
    """A redirection: ``op`` one of ``> >> >| &> &>> >& < <> <& << <<- <<<``; ``fd`` the explicit
    descriptor (``2``, ``{var}``) or ``""``; ``target`` the word after the operator (for a heredoc, its
    delimiter)."""

    op: str
    fd: str
    target: Word

    @property
    def is_write(self) -> bool:
        """Opens a file for writing (``>&N`` and ``>&-`` only duplicate or close a descriptor)."""
        if self.op in (">&", "<&"):
            dup = self.target.literal and re.fullmatch(r"\d*-?", self.target.value) is not None
            return self.op == ">&" and not dup
        return self.op in (">", ">>", ">|", "&>", "&>>", "<>")


@dataclass(frozen=True)
class SimpleCommand:
    """A simple command: leading assignments, words (the first is the command), redirections."""

    assignments: Tuple[Word, ...]
    words: Tuple[Word, ...]
    redirects: Tuple[Redirect, ...]

    @property
    def text(self) -> str:
        return " ".join(w.raw for w in self.assignments + self.words)


@dataclass(frozen=True)
class ShellAnalysis:
    """Everything in a command that permission rules care about, flattened (see the module doc).
    ``problems``: constructs no allow rule can vouch for; ``unknown``: why parsing was not certain;
    ``evaluates``: expansions that run code held in a variable's value (arithmetic naming a variable,
    ``${x@P}``, ``${!x}``, subscripts), which no rule can see into."""

    commands: Tuple[SimpleCommand, ...] = ()
    redirects: Tuple[Redirect, ...] = ()
    words: Tuple[Word, ...] = ()
    problems: Tuple[str, ...] = ()
    unknown: Optional[str] = None
    evaluates: Tuple[str, ...] = ()


@dataclass
class _Out:
    """What the parser collects while it reads (shared by nested parsers)."""

    commands: List[SimpleCommand] = field(default_factory=list)
    redirects: List[Redirect] = field(default_factory=list)
    words: List[Word] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)
    evaluates: List[str] = field(default_factory=list)


@functools.lru_cache(maxsize=256)
def analyse(command: str) -> ShellAnalysis:
    """Parse ``command``; never raises (a parse failure is ``unknown``)."""
    out = _Out()
    try:
        if "\0" in command:
            raise Unknown("a NUL character (bash would see only the text before it)")
        _Parser(command, out, 0).parse_all()
    except (Unknown, RecursionError) as exc:
        return ShellAnalysis(tuple(out.commands), tuple(out.redirects), tuple(out.words), tuple(out.problems),
                             str(exc) or "the command is nested too deeply", tuple(out.evaluates))
    return ShellAnalysis(tuple(out.commands), tuple(out.redirects), tuple(out.words), tuple(out.problems),
                         None, tuple(out.evaluates))


class _Parser(Lexer):
    """The command grammar over the word reader."""

    def parse_all(self) -> None:
        self.parse_list()
        if self.i < self.n:
            raise Unknown(f"unexpected {self.peek()!r}")
        if self.heredocs:
            raise Unknown("a here-document has no body")

    def parse_list(self, stops: frozenset = frozenset(), close_paren: bool = False, case_item: bool = False) -> None:
        while True:
            self.skip_space()
            c = self.peek()
            if not c:
                return
            if c == ")":
                if close_paren:
                    return
                raise Unknown("unexpected ')'")
            if self.at(";;") or self.at(";&"):
                if case_item:
                    return
                raise Unknown("unexpected ';;'")
            word = self.reserved()
            if word is not None and word in stops:
                return
            if word in _STRAY:
                raise Unknown(f"unexpected {word!r}")
            self.parse_and_or()
            self.skip_blanks()
            c = self.peek()
            if c == ";" and not (self.at(";;") or self.at(";&")):
                self.i += 1
            elif c == "&":
                self.i += 1
            elif c == "\n":
                self.newline()
            elif c in ("", "#", ")", ";"):
                continue
            elif self.reserved() in stops:
                continue  # e.g. `}` right after a compound command's redirection
            else:
                raise Unknown(f"unexpected {c!r}")

    def parse_and_or(self) -> None:
        self.parse_pipeline()
        while True:
            self.skip_blanks()
            if not (self.at("&&") or self.at("||")):
                return
            self.i += 2
            self.skip_space()
            self.parse_pipeline()

    def parse_pipeline(self) -> None:
        self.skip_blanks()
        timed = False
        while True:
            word = self.reserved()
            if word == "time" and not timed:
                timed = True
                self.i += 4
                self.skip_blanks()
                for opt in ("-p", "--"):
                    if self.at(opt) and (self.peek(len(opt)) in META or not self.peek(len(opt))):
                        self.i += len(opt)
                        self.skip_blanks()
            elif word == "!":
                self.i += 1
                self.skip_blanks()
            else:
                break
        if timed and (not self.peek() or self.peek() in ";&\n)"):
            return  # a bare `time`
        self.parse_command()
        while True:
            self.skip_blanks()
            if self.at("||"):
                return
            if self.at("|&"):
                self.i += 2
            elif self.peek() == "|":
                self.i += 1
            else:
                return
            self.skip_space()
            self.parse_command()

    def parse_command(self) -> None:
        self.skip_blanks()
        word = self.reserved()
        if self.at("(("):
            end = self.scan_arith(self.i + 2)
            if end is not None:
                self.arith(self.i + 2, end, "an arithmetic command ((...))")
                self.i = end + 2
                self.compound_redirects()
                return
        if self.peek() == "(":
            self.i += 1
            self.nest += 1
            self.parse_list(close_paren=True)
            self.nest -= 1
            if self.peek() != ")":
                raise Unknown("unterminated subshell")
            self.i += 1
        elif word == "{":
            self.i += 1
            self.parse_list(frozenset({"}"}))
            self.expect("}")
        elif word == "if":
            self.parse_if()
        elif word in ("for", "select"):
            self.parse_for(word)
        elif word in ("while", "until"):
            self.i += len(word)
            self.parse_list(frozenset({"do"}))
            self.expect("do")
            self.parse_list(frozenset({"done"}))
            self.expect("done")
        elif word == "case":
            self.parse_case()
        elif word == "[[":
            self.parse_test()
        elif word == "function":
            self.i += len(word)
            self.skip_blanks()
            if not self.read_word().raw:
                raise Unknown("a function without a name")
            self.skip_blanks()
            self.function_body()
            return
        elif word == "coproc":
            self.parse_coproc()
            return
        else:
            self.parse_simple()
            return
        self.compound_redirects()

    def function_body(self) -> None:
        if self.peek() == "(":
            self.i += 1
            self.skip_blanks()
            if self.peek() != ")":
                raise Unknown("expected ')' in a function definition")
            self.i += 1
        self.skip_space()
        if not (self.peek() == "(" or self.reserved() in _COMPOUND_START):
            raise Unknown("a function body must be a compound command")
        self.parse_command()

    def parse_if(self) -> None:
        self.i += 2
        self.parse_list(frozenset({"then"}))
        self.expect("then")
        self.parse_list(frozenset({"elif", "else", "fi"}))
        while True:
            self.skip_space()
            word = self.reserved()
            if word == "elif":
                self.i += 4
                self.parse_list(frozenset({"then"}))
                self.expect("then")
                self.parse_list(frozenset({"elif", "else", "fi"}))
            elif word == "else":
                self.i += 4
                self.parse_list(frozenset({"fi"}))
                self.expect("fi")
                return
            else:
                self.expect("fi")
                return

    def parse_for(self, keyword: str) -> None:
        self.i += len(keyword)
        self.skip_blanks()
        if keyword == "for" and self.at("(("):
            end = self.scan_arith(self.i + 2)
            if end is None:
                raise Unknown("unterminated for ((...))")
            self.arith(self.i + 2, end, "an arithmetic for ((...)) loop")
            self.i = end + 2
            self.skip_blanks()
            if self.peek() == ";":
                self.i += 1
        else:
            name = self.read_word()
            if not NAME_RE.match(name.raw):
                raise Unknown(f"{keyword} needs a variable name")
            self.out.problems.append(f"the {keyword} loop assigns the variable {name.raw}")
            self.skip_space()
            if self.reserved() == "in":
                self.i += 2
                while True:
                    self.skip_blanks()
                    c = self.peek()
                    if c == ";":
                        self.i += 1
                        break
                    if c == "\n":
                        self.newline()
                        break
                    if not c:
                        raise Unknown(f"unterminated {keyword} loop")
                    word = self.read_word()
                    if not word.raw:
                        raise Unknown(f"unexpected {c!r} in a {keyword} list")
                    self.out.words.append(word)
            elif self.peek() == ";":
                self.i += 1
        self.skip_space()
        if self.reserved() == "{":
            self.parse_command()
            return
        self.expect("do")
        self.parse_list(frozenset({"done"}))
        self.expect("done")

    def parse_case(self) -> None:
        self.i += 4
        self.skip_blanks()
        subject = self.read_word()
        if not subject.raw:
            raise Unknown("case needs a word")
        self.out.words.append(subject)
        self.expect("in")
        while True:
            self.skip_space()
            if self.reserved() == "esac":
                self.i += 4
                return
            if self.peek() == "(":
                self.i += 1
            while True:
                self.skip_blanks()
                pattern = self.read_word()
                if not pattern.raw:
                    raise Unknown("a case pattern is missing")
                self.out.words.append(pattern)
                self.skip_blanks()
                if self.peek() == "|":
                    self.i += 1
                    continue
                if self.peek() == ")":
                    self.i += 1
                    break
                raise Unknown("a case pattern must end with ')'")
            self.parse_list(frozenset({"esac"}), case_item=True)
            self.skip_blanks()
            for op in (";;&", ";;", ";&"):
                if self.at(op):
                    self.i += len(op)
                    break
            else:
                if self.reserved() != "esac":
                    raise Unknown("unterminated case")

    def parse_test(self) -> None:
        self.i += 2
        while True:
            self.skip_space()
            if self.reserved() == "]]":
                self.i += 2
                return
            if self.at("&&") or self.at("||"):
                self.i += 2
                continue
            c = self.peek()
            if not c:
                raise Unknown("unterminated [[")
            if c in "()<>!":
                self.i += 1
                continue
            word = self.read_word()
            if not word.raw:
                raise Unknown(f"unexpected {c!r} in [[ ]]")
            self.out.words.append(word)
            if word.value in _ARITH_TESTS or "[" in word.value:
                self.out.problems.append(f"[[ ... {word.raw} ... ]] evaluates variables as arithmetic")
                self.out.evaluates.append(f"[[ ... {word.raw} ... ]]")
            if word.raw == "=~":
                self.skip_blanks()
                while self.peek() and self.peek() not in " \t\n" and not self.at("]]"):
                    if self.peek() in "()|<>":
                        self.i += 1
                        continue
                    part = self.read_word()
                    if not part.raw:
                        raise Unknown("unreadable [[ =~ ]] pattern")
                    self.out.words.append(part)

    def parse_coproc(self) -> None:
        self.i += 6
        self.skip_blanks()
        if self.peek() == "(" or self.reserved() in _COMPOUND_START:
            self.parse_command()
            return
        start = self.i
        name = self.read_word()
        self.skip_blanks()
        if NAME_RE.match(name.raw) and (self.peek() == "(" or self.reserved() in _COMPOUND_START):
            self.out.problems.append(f"coproc {name.raw} assigns the variable {name.raw}")
        else:
            self.i = start
        self.parse_command()

    def compound_redirects(self) -> None:
        while True:
            self.skip_blanks()
            m = _FD_PREFIX.match(self.s, self.i)
            if m:
                self.i = m.end()
                if m.group(1).startswith("{"):
                    self.out.problems.append(f"the redirection {m.group(1)} assigns a variable")
                self.redirect(m.group(1), self.out.redirects)
            elif (self.peek() in ("<", ">") and self.peek(1) != "(") or self.at("&>"):
                self.redirect("", self.out.redirects)
            else:
                return

    def parse_simple(self) -> None:
        assignments: List[Word] = []
        words: List[Word] = []
        redirects: List[Redirect] = []
        while True:
            self.skip_blanks()
            c = self.peek()
            if not c or c in ";|\n)":
                break
            if c == "#":
                self.skip_comment()
                break
            if c == "&":
                if not self.at("&>"):
                    break
                self.redirect("", redirects)
                continue
            if c == "(":
                if len(words) == 1 and not assignments and not redirects:
                    self.function_body()
                    return
                raise Unknown("unexpected '('")
            if c in "<>" and self.peek(1) != "(":
                self.redirect("", redirects)
                continue
            word = self.read_word()
            if not word.raw:
                raise Unknown(f"unexpected {c!r}")
            if self.peek() in ("<", ">") and self.peek(1) != "(" and _FD_WORD.match(word.raw):
                if word.raw.startswith("{"):
                    self.out.problems.append(f"the redirection {word.raw} assigns a variable")
                self.redirect(word.raw, redirects)
                continue
            if not words and _ASSIGNMENT.match(word.raw):
                if word.raw.endswith("=") and self.peek() == "(":
                    word = self.array_assignment(word)
                assignments.append(word)
                continue
            words.append(word)
        if not (assignments or words or redirects):
            raise Unknown("an empty command")
        self.out.commands.append(SimpleCommand(tuple(assignments), tuple(words), tuple(redirects)))
        self.out.redirects.extend(redirects)

    def array_assignment(self, head: Word) -> Word:
        start = self.i
        self.i += 1
        while True:
            self.skip_space()
            c = self.peek()
            if c == ")":
                self.i += 1
                break
            word = self.read_word()
            if not word.raw:
                raise Unknown("unterminated array assignment")
            self.out.words.append(word)
        raw = head.raw + self.s[start:self.i]
        return Word(raw, raw, literal=False, single=False, problem="an array assignment", quoted=True)

    def redirect(self, fd: str, into: List[Redirect]) -> None:
        op = next(o for o in _REDIRECT_OPS if self.at(o))
        self.i += len(op)
        self.skip_blanks()
        target = self.read_word()
        if not target.raw:
            raise Unknown(f"a redirection {op} without a target")
        if op in ("<<", "<<-"):
            if "$" in target.raw or "`" in target.raw:
                raise Unknown("a here-document delimiter with an expansion")
            self.heredocs.append((target.value, op == "<<-", target.quoted, self.nest))
        into.append(Redirect(op, fd, target))

    def read_heredocs(self) -> None:
        pending, self.heredocs = self.heredocs, []
        for delimiter, strip, quoted, _ in pending:
            lines = []
            while True:
                if self.i >= self.n:
                    raise Unknown(f"the here-document {delimiter!r} is not terminated")
                j = self.s.find("\n", self.i)
                end = self.n if j < 0 else j
                line = self.s[self.i:end]
                self.i = end + 1 if j >= 0 else self.n
                if strip:
                    line = line.lstrip("\t")
                if line == delimiter:
                    break
                if not quoted and line.endswith("\\"):
                    raise Unknown("a line continuation in a here-document")
                lines.append(line)
            if not quoted:
                body = "\n".join(lines)
                sub = _Parser(body, self.out, self.depth + 1)
                word = sub.read_quoted(heredoc=True)
                self.out.words.append(word)
