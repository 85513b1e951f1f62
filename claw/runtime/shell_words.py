"""The word level of the bash analyser: characters, quoting, expansions and substitutions.

``Lexer`` reads one shell word at a time the way bash does — backslash, ``'...'``, ``"..."``, ``$'...'``
(decoded), ``$"..."``, ``$NAME``, ``${...}``, ``$(...)``, backticks, ``$((...))``, ``$[...]``, ``<(...)``,
``>(...)``, ``${ ...; }``, globs, brace expansion, a leading ``~`` — and records, for each ``Word``,
whether it is a literal, whether it stays one word, and what in it could run code. The bodies of
substitutions are parsed as commands by the subclass's ``parse_list`` (``claw.runtime.shell_syntax``),
so the commands inside them are seen too.

Not here: the command grammar (lists, compound commands, redirections, heredocs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

META = " \t\n;&|()<>"
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ANSI = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
         "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}
MAX_DEPTH = 40
# ${...} forms that evaluate a variable's value as code: indirection, subscripts, substring offsets
# (arithmetic), prompt expansion (@P)
_RISKY_PARAMETER = re.compile(r"^!|\[|^[A-Za-z_][A-Za-z0-9_]*:[^-=?+]|@P")
RESERVED = frozenset({"if", "then", "elif", "else", "fi", "for", "select", "while", "until", "do", "done",
                      "case", "esac", "in", "function", "coproc", "time", "{", "}", "!", "[[", "]]"})
RESERVED_RE = re.compile(r"(\[\[|\]\]|[{}!]|[a-z]+)(?=[ \t\n;&|()<>]|\Z)")


class Unknown(Exception):
    """The text cannot be parsed with certainty."""


@dataclass(frozen=True)
class Word:
    """One shell word. ``value``: the text after quote removal (expansions kept as written).
    ``literal``: no expansion of any kind — bash passes exactly ``value`` as one argument.
    ``single``: it expands to exactly one argument. ``problem``: why no allow rule can vouch for it
    (a substitution, or an expansion that can run code); None when expanding it runs nothing."""

    raw: str
    value: str
    literal: bool = True
    single: bool = True
    problem: Optional[str] = None
    quoted: bool = False
    home_path: bool = False  # a literal but for a leading ``~/`` (a path under $HOME)




class Lexer:
    """Character and word reading over one source text; ``out`` collects what nested parsers find."""

    def __init__(self, src: str, out: Any, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise Unknown("the command is nested too deeply")
        self.s = src
        self.n = len(src)
        self.i = 0
        self.out = out
        self.depth = depth
        self.nest = 0  # inside $( ), <( ), ${ ; } of this source
        self.heredocs: List[Tuple[str, bool, bool, int]] = []  # (delimiter, strip tabs, quoted, nest)

    def parse_list(self, stops: frozenset = frozenset(), close_paren: bool = False, case_item: bool = False) -> None:
        raise NotImplementedError

    def parse_all(self) -> None:
        raise NotImplementedError

    def read_heredocs(self) -> None:
        raise NotImplementedError
    # --- characters ----------------------------------------------------------------------------
    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < self.n else ""

    def at(self, text: str) -> bool:
        return self.s.startswith(text, self.i)

    def skip_blanks(self) -> None:
        while self.i < self.n:
            if self.s[self.i] in " \t":
                self.i += 1
            elif self.at("\\\n"):
                self.i += 2
            else:
                break

    def skip_comment(self) -> None:
        if self.peek() == "#":
            j = self.s.find("\n", self.i)
            self.i = self.n if j < 0 else j

    def newline(self) -> None:
        self.i += 1
        if self.heredocs:
            if any(nest != self.nest for *_, nest in self.heredocs):
                raise Unknown("a here-document body crosses a substitution")
            self.read_heredocs()

    def skip_space(self) -> None:
        """Blanks, comments and newlines (where the grammar allows a newline)."""
        while True:
            self.skip_blanks()
            self.skip_comment()
            if self.peek() != "\n":
                return
            self.newline()

    def reserved(self) -> Optional[str]:
        m = RESERVED_RE.match(self.s, self.i)
        return m.group(1) if m and m.group(1) in RESERVED else None

    def expect(self, word: str) -> None:
        self.skip_space()
        if self.reserved() != word:
            raise Unknown(f"expected {word!r}")
        self.i += len(word)

    # --- words ---------------------------------------------------------------------------------
    def read_word(self) -> Word:
        start = self.i
        value: List[str] = []
        literal = single = True
        quoted = False
        problem: Optional[str] = None
        glob_open = brace_open = brace_sep = tilde = False
        glob = brace = False
        while self.i < self.n:
            c = self.s[self.i]
            if c in META:
                if c in "<>" and self.peek(1) == "(":
                    begin = self.i
                    self.i += 2
                    self.substitution(close=")")
                    value.append(self.s[begin:self.i])
                    literal = False
                    problem = problem or "process substitution"
                    continue
                break
            if c == "\\":
                nxt = self.peek(1)
                if nxt == "\n":
                    self.i += 2
                    continue
                value.append(nxt or "\\")
                quoted = True
                self.i += 2
                continue
            if c == "'":
                j = self.s.find("'", self.i + 1)
                if j < 0:
                    raise Unknown("an unterminated single quote")
                self.check_heredoc_newline(self.s[self.i:j])
                value.append(self.s[self.i + 1:j])
                quoted = True
                self.i = j + 1
                continue
            if c == '"' or (c == "$" and self.peek(1) == '"'):
                self.i += 1 if c == '"' else 2
                part = self.read_quoted(heredoc=False)
            elif c == "$" and self.peek(1) == "'":
                part = self.ansi_c()
            elif c == "$" or c == "`":
                part = self.expansion(quoted=False)
            else:
                if c in "*?":
                    glob = True
                elif c == "[":
                    glob_open = True
                elif c == "]" and glob_open:
                    glob = True
                elif c == "{":
                    brace_open, brace_sep = True, False
                elif c == "," or (c == "." and self.peek(1) == "."):
                    brace_sep = brace_sep or brace_open
                elif c == "}" and brace_open and brace_sep:
                    brace = True
                elif c == "~" and self.i == start:
                    tilde = self.peek(1) == "/"
                    literal = False
                value.append(c)
                self.i += 1
                continue
            value.append(part.value)
            quoted = quoted or part.quoted
            literal = literal and part.literal
            single = single and part.single
            problem = problem or part.problem
        if glob or brace:
            literal = single = tilde = False
        home_path = tilde and all(ch not in "$`" for ch in self.s[start:self.i]) and problem is None
        return Word(self.s[start:self.i], "".join(value), literal, single, problem, quoted, home_path)

    def check_heredoc_newline(self, text: str) -> None:
        if self.heredocs and "\n" in text:
            raise Unknown("a quoted newline while a here-document is pending")

    def read_quoted(self, heredoc: bool) -> Word:
        """The inside of "..." (from after the quote, through the closing quote), or a heredoc body."""
        start = self.i
        value: List[str] = []
        literal = single = True
        problem: Optional[str] = None
        specials = "$`\\\n" if heredoc else '$`\\\n"'
        while True:
            if self.i >= self.n:
                if heredoc:
                    break
                raise Unknown("an unterminated double quote")
            c = self.s[self.i]
            if c == '"' and not heredoc:
                self.i += 1
                break
            if c == "\\":
                nxt = self.peek(1)
                if nxt and nxt in specials:
                    if nxt != "\n":
                        value.append(nxt)
                    self.i += 2
                else:
                    value.append("\\")
                    self.i += 1
                continue
            if c == "$" or c == "`":
                part = self.expansion(quoted=True)
                value.append(part.value)
                literal = literal and part.literal
                single = single and part.single
                problem = problem or part.problem
                continue
            if c == "\n" and not heredoc and self.heredocs:
                raise Unknown("a quoted newline while a here-document is pending")
            value.append(c)
            self.i += 1
        return Word(self.s[start:self.i], "".join(value), literal, single, problem, quoted=True)

    def ansi_c(self) -> Word:
        start = self.i
        j = self.i + 2
        out: List[str] = []
        literal = True
        while j < self.n:
            c = self.s[j]
            if c == "'":
                self.i = j + 1
                text = "".join(out)
                if "\0" in text:
                    literal = False
                return Word(self.s[start:self.i], text, literal, True, None, quoted=True)
            if c != "\\":
                out.append(c)
                j += 1
                continue
            nxt = self.s[j + 1] if j + 1 < self.n else ""
            if nxt in _ANSI:
                out.append(_ANSI[nxt])
                j += 2
                continue
            digits = {"x": (16, 2), "u": (16, 4), "U": (16, 8)}.get(nxt)
            if digits or nxt in "01234567" and nxt:
                base, most = digits or (8, 3)
                k = j + 2 if digits else j + 1
                m = re.match("[0-9a-fA-F]{1,%d}" % most if base == 16 else "[0-7]{1,3}", self.s[k:])
                if m:
                    try:
                        out.append(chr(int(m.group(0), base) % 0x110000))
                    except ValueError:
                        literal = False
                    j = k + len(m.group(0))
                    continue
            if nxt == "c":
                literal = False
            out.append("\\" + nxt)
            j += 2
        raise Unknown("an unterminated $'...' string")

    def expansion(self, quoted: bool) -> Word:
        """``$...`` or a backtick substitution starting at the current position."""
        start = self.i
        if self.at("`"):
            self.backticks(quoted)
            return self.piece(start, "command substitution `...`", quoted)
        if self.at("$(("):
            end = self.scan_arith(self.i + 3)
            if end is not None:
                self.arith(self.i + 3, end, None)
                self.i = end + 2
                return self.piece(start, "arithmetic expansion $((...))", quoted)
        if self.at("$["):
            depth, j = 0, self.i + 2
            while j < self.n and (self.s[j] != "]" or depth):
                depth += {"[": 1, "]": -1}.get(self.s[j], 0)
                j += 1
            if j >= self.n:
                raise Unknown("an unterminated $[...]")
            self.arith(self.i + 2, j, None)
            self.i = j + 1
            return self.piece(start, "arithmetic expansion $[...]", quoted)
        if self.at("$("):
            self.i += 2
            self.substitution(close=")")
            return self.piece(start, "command substitution $(...)", quoted)
        if self.at("${"):
            if self.peek(2) in (" ", "\t", "\n", "|"):
                self.i += 2
                self.nest += 1
                self.parse_list(frozenset({"}"}))
                self.nest -= 1
                self.expect("}")
                return self.piece(start, "command substitution ${ ...; }", quoted)
            self.i += 2
            inner_problem = self.braced_parameter()
            inner = self.s[start + 2:self.i - 1]
            plain = NAME_RE.match(inner) or inner.isdigit() or (len(inner) == 1 and inner in "@*#?-$!")
            if _RISKY_PARAMETER.search(inner):
                self.out.evaluates.append(f"the expansion ${{{inner}}}")
            word = self.piece(start, None if plain and not inner_problem else
                              inner_problem or "the expansion ${...} (only a plain ${NAME} cannot run code)", quoted)
            if inner in ("@", "*") and quoted:
                word = Word(word.raw, word.value, False, False, word.problem, True)
            return word
        m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])", self.s[self.i:self.i + 256])
        if m:
            self.i += len(m.group(0))
            word = self.piece(start, None, quoted)
            if m.group(1) in ("@", "*"):
                word = Word(word.raw, word.value, False, False, None, quoted)
            return word
        self.i += 1
        return Word("$", "$")

    def piece(self, start: int, problem: Optional[str], quoted: bool) -> Word:
        raw = self.s[start:self.i]
        return Word(raw, raw, literal=False, single=quoted, problem=problem, quoted=quoted)

    def substitution(self, close: str) -> None:
        self.nest += 1
        self.parse_list(close_paren=True)
        self.nest -= 1
        if self.peek() != close:
            raise Unknown("an unterminated substitution")
        self.i += 1

    def braced_parameter(self) -> Optional[str]:
        """Skip ``${...}`` (from after ``${``) through its ``}``; the problem of anything nested."""
        problem = None
        while True:
            c = self.peek()
            if not c:
                raise Unknown("an unterminated ${...}")
            if c == "}":
                self.i += 1
                return problem
            if c == "\\":
                self.i += 2
            elif c == "'":
                j = self.s.find("'", self.i + 1)
                if j < 0:
                    raise Unknown("an unterminated quote in ${...}")
                self.i = j + 1
            elif c == '"':
                self.i += 1
                problem = problem or self.read_quoted(heredoc=False).problem
            elif c in "$`":
                problem = problem or self.expansion(quoted=True).problem
            else:
                self.i += 1

    def backticks(self, quoted: bool) -> None:
        j = self.i + 1
        body: List[str] = []
        while True:
            if j >= self.n:
                raise Unknown("an unterminated backtick")
            c = self.s[j]
            if c == "`":
                break
            if c == "\\" and j + 1 < self.n and (self.s[j + 1] in "$`\\" or (quoted and self.s[j + 1] == '"')):
                body.append(self.s[j + 1])
                j += 2
                continue
            body.append(c)
            j += 1
        self.check_heredoc_newline(self.s[self.i:j])
        self.i = j + 1
        type(self)("".join(body), self.out, self.depth + 1).parse_all()

    def scan_arith(self, start: int) -> Optional[int]:
        """The index of the ``))`` closing an arithmetic ``((`` whose text starts at ``start``; None
        when the parentheses close another way (then it is a subshell in a subshell)."""
        depth = 0
        j = start
        while j < self.n:
            c = self.s[j]
            if c == "\\":
                j += 2
                continue
            if c in "'\"":
                k = self.s.find(c, j + 1)
                if k < 0:
                    return None
                j = k + 1
                continue
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    return j if self.s.startswith("))", j) else None
                depth -= 1
            j += 1
        return None

    def arith(self, start: int, end: int, problem: Optional[str]) -> None:
        """Arithmetic text: a variable named in it is evaluated as arithmetic in turn, so whatever
        its value holds (``x[$(cmd)]``) runs; such text is recorded in ``out.evaluates``."""
        if problem:
            self.out.problems.append(problem)
        if re.search(r"[A-Za-z_$]", self.s[start:end]):
            self.out.evaluates.append(f"the arithmetic {self.s[start:end].strip()!r}")
        sub = type(self)(self.s[start:end], self.out, self.depth + 1)
        sub.read_quoted(heredoc=True)
