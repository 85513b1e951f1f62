"""Permission rules: ``Tool`` or ``Tool(pattern)``, parsed once and matched against tool calls.

Rule syntax (Claude Code's):
- a tool name, canonical or alias (``Bash``, ``Read``, ``edit_file``...), or an MCP name: ``mcp__server``
  (every tool of that server), ``mcp__server__tool``, ``mcp__server__*``. ``Tool(*)`` and ``Tool()`` are
  the bare tool.
- ``Bash(git status:*)``: the command starts with these words (word boundary: ``git status`` and
  ``git status -s`` match, ``git statusx`` does not); ``Bash(npm run test)``: exactly this command;
  ``Bash(git * main)``: ``*`` matches anything (a trailing `` *`` also matches nothing). Words are
  compared after shell-style unquoting, so spacing and quoting do not matter. A command is taken apart
  by ``claw.runtime.shell_syntax`` and each simple command in it is matched (``BashPattern``); what
  an allow or deny rule then means for the whole command is ``claw.runtime.shell_commands``.
- ``Read(pattern)``, ``Edit(...)``, ``Write(...)``, ``Glob(...)``, ``Grep(...)``: gitignore-style path
  globs. ``//abs/path`` is absolute; ``~/x`` is under the home directory; ``./x`` and ``x/y`` are relative
  to the project directory (cwd); a name without a slash (``*.env``) matches at any depth below it;
  ``/x`` is taken both ways (absolute, and relative to the project directory, as Claude Code reads it).
  A rule that matches a directory matches everything inside it. ``Read`` rules also cover glob_search
  and grep_search; ``Edit``/``MultiEdit`` rules also cover write_file.
- ``WebFetch(domain:example.com)``: the URL's host is example.com or a subdomain of it.
- ``WebSearch(pattern)``: the query matches the ``*`` pattern.

Not here: which rule list wins and what the mode adds (``claw.runtime.permissions``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Type

from claw.errors import ClawError, UsageError
from claw.tools.globs import GitignoreLine
from claw.tools.registry import CLAUDE_CODE_ONLY, canonical_tool_name, is_mcp_name, valid_names_hint

READ_FAMILY = ("read_file", "glob_search", "grep_search")
EDIT_FAMILY = ("edit_file", "write_file", "notebook_edit")
PATH_TOOLS = frozenset(READ_FAMILY + EDIT_FAMILY)
_RULE = re.compile(r"^\s*([A-Za-z0-9_.*-]+)\s*(?:\((.*)\))?\s*$", re.DOTALL)

_ANY_CHILD = "\0"  # a name no real file has: matches only rules that take every name in a directory

# (resolved path, the same path before symlinks were followed)
Target = Tuple[str, str]


def covered_tools(rule_tool: str) -> Tuple[str, ...]:
    """The canonical tools a rule written for ``rule_tool`` applies to."""
    if rule_tool == "read_file":
        return READ_FAMILY
    if rule_tool == "edit_file":
        return EDIT_FAMILY
    return (rule_tool,)


@dataclass(frozen=True)
class PathPattern:
    """A compiled path rule: one or two (base directory, gitignore line) readings."""

    readings: Tuple[Tuple[str, GitignoreLine], ...]

    def matches(self, path: str) -> bool:
        for base, line in self.readings:
            if _under(path, base):
                rel = path[len(base.rstrip("/")) + 1 :] if path != base else ""
                if rel and _line_matches(line, rel, path):
                    return True
        return False


def _under(path: str, base: str) -> bool:
    if base == "/":
        return path.startswith("/")
    return path == base or path.startswith(base.rstrip("/") + "/")


def _line_matches(line: GitignoreLine, rel: str, full: str) -> bool:
    """The path, or any directory above it (below the base), matches the line."""
    parts = rel.split("/")
    for i in range(1, len(parts)):
        if line.matches("/".join(parts[:i]), True):
            return True
    return line.matches(rel, os.path.isdir(full))


def compile_path_pattern(pattern: str, cwd: str, home: str) -> PathPattern:
    text = pattern.strip()
    readings: List[Tuple[str, str]] = []
    if text.startswith("//"):
        readings.append(("/", "/" + text[2:].lstrip("/")))
    elif text == "~" or text.startswith("~/"):
        readings.append((home, "/" + text[2:] if len(text) > 2 else "/**"))
    elif text.startswith("/"):
        readings.append(("/", text))
        readings.append((cwd, text))
    elif text.startswith("./"):
        readings.append((cwd, "/" + text[2:]))
    elif text == ".":
        readings.append((cwd, "/**"))
    else:
        readings.append((cwd, text))  # gitignore rules: anchored when it has a slash
    compiled = []
    for base, glob in readings:
        try:
            line = GitignoreLine.parse(glob)
        except re.error:  # a class such as [z-a]: no reading, so the rule is reported as invalid
            continue
        if line is None or line.negated:
            continue
        compiled.append((_realpath(base), line))
    return PathPattern(tuple(compiled))


_REAL_BASES: dict = {}


def _realpath(base: str) -> str:
    """``os.path.realpath`` of a rule's base (the cwd, the home, ``/``): the same few for thousands of
    rules, resolved once per process."""
    real = _REAL_BASES.get(base)
    if real is None:
        if len(_REAL_BASES) >= 64:
            _REAL_BASES.clear()
        real = _REAL_BASES[base] = os.path.realpath(base)
    return real


# --- bash commands -------------------------------------------------------------------------------


def _rule_words(text: str) -> Tuple[Tuple[str, ...], ...]:
    """The simple commands of a rule's command text, as unquoted words. The shell analyser is imported
    here: a run with no bash rule with a pattern, and no bash call, never loads it."""
    from claw.runtime.shell_syntax import analyse

    parsed = analyse(text)
    return tuple(tuple(w.value for w in c.assignments + c.words) for c in parsed.commands if c.words or c.assignments)


@dataclass(frozen=True)
class BashPattern:
    """The command part of a ``Bash(...)`` rule, parsed. Commands are given as word values, None for a
    word that is not a literal: for allow (``matches_part``) such a word equals no rule word (a ``*``
    still takes it); for deny/ask (``could_match``) it may stand for any number of words."""

    kind: str  # prefix | glob | exact
    words: Tuple[str, ...] = ()
    regex: Optional["re.Pattern[str]"] = None
    pieces: Tuple[str, ...] = ()  # glob: the literal text between the stars
    open_tail: bool = False  # glob: ends with " *"
    exact_parts: Tuple[Tuple[str, ...], ...] = ()

    @classmethod
    def compile(cls, pattern: str) -> "BashPattern":
        text = pattern.strip()
        if text.endswith(":*"):
            return cls("prefix", words=tuple(w for part in _rule_words(text[:-2]) for w in part))
        if "*" in text:
            optional_tail = text.endswith(" *")
            core = text[:-2] if optional_tail else text
            pieces = tuple(" ".join(p.split()) for p in core.split("*"))
            source = ".*".join(re.escape(p) for p in pieces)
            if optional_tail:
                source += "(?: .*)?"
            return cls("glob", regex=re.compile(source + r"\Z", re.DOTALL), pieces=pieces, open_tail=optional_tail)
        return cls("exact", exact_parts=_rule_words(text))

    def matches_part(self, words: Sequence[Optional[str]]) -> bool:
        """Allow: the rule matches this command for certain."""
        if self.kind == "prefix":
            return len(words) >= len(self.words) and tuple(words[: len(self.words)]) == self.words
        if self.kind == "glob":
            assert self.regex is not None
            return self.regex.match(" ".join("\0" if w is None else w for w in words)) is not None
        return len(self.exact_parts) == 1 and tuple(words) == self.exact_parts[0]

    def could_match(self, words: Sequence[Optional[str]], open_ended: bool = False) -> bool:
        """Deny/ask: the command could be one this rule matches, once its non-literal words (None) are
        expanded and, when ``open_ended``, more arguments appended."""
        if None not in words and not open_ended:
            return self.matches_part(words)
        if self.kind == "glob":
            return self._glob_could_match(words, open_ended)
        if self.kind == "prefix":
            return _flex_match(self.words, words, prefix=True, open_ended=open_ended)
        return len(self.exact_parts) == 1 and _flex_match(self.exact_parts[0], words, prefix=False,
                                                          open_ended=open_ended)

    def _glob_could_match(self, words: Sequence[Optional[str]], open_ended: bool) -> bool:
        # an over-approximation: the literal text before the first unknown word must fit the pattern's
        # text before its first star, and the text after the last unknown word its text after the last
        first = words.index(None) if None in words else len(words)
        head = " ".join(w for w in words[:first] if w is not None)
        if not (head.startswith(self.pieces[0]) or self.pieces[0].startswith(head)):
            return False
        if open_ended or self.open_tail or None not in words:
            return True
        last = len(words) - 1 - list(reversed(words)).index(None)
        tail = " ".join(w for w in words[last + 1:] if w is not None)
        return tail.endswith(self.pieces[-1]) or self.pieces[-1].endswith(tail)

    def matches_whole(self, sequence: Sequence[Sequence[Optional[str]]]) -> bool:
        """An exact rule written as a compound command matches that same sequence of commands."""
        return (self.kind == "exact" and len(self.exact_parts) > 1
                and tuple(tuple(p) for p in sequence) == self.exact_parts)


def _flex_match(rule: Tuple[str, ...], words: Sequence[Optional[str]], *, prefix: bool, open_ended: bool) -> bool:
    """Can ``words`` (None: any number of words) expand to ``rule`` (``prefix``: to something starting
    with it), with more words appended when ``open_ended``?"""
    seen = set()
    stack = [(0, 0)]
    while stack:
        r, c = stack.pop()
        if (r, c) in seen:
            continue
        seen.add((r, c))
        if r == len(rule) and (prefix or all(w is None for w in words[c:])):
            return True
        if c == len(words):
            if open_ended:
                return True
            continue
        if words[c] is None:
            stack.append((r, c + 1))
            if r < len(rule):
                stack.append((r + 1, c))
        elif r < len(rule) and words[c] == rule[r]:
            stack.append((r + 1, c + 1))
    return False


# --- rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PermissionRule:
    """One parsed rule. ``tool`` is canonical (or an MCP name); ``pattern`` None means every call."""

    text: str
    tool: str
    pattern: Optional[str]
    source: str
    path: Optional[PathPattern] = None
    bash: Optional[BashPattern] = None
    domain: Optional[str] = None
    query: Optional["re.Pattern[str]"] = None
    subject: str = "query"  # the input field ``query`` is matched against (skill, command for the run tools)

    @property
    def label(self) -> str:
        return f"{self.text} ({self.source})"

    def covers_tool(self, tool_name: str) -> bool:
        if is_mcp_name(self.tool):
            if self.tool.endswith("__*"):
                return tool_name.startswith(self.tool[:-1])
            if tool_name == self.tool:
                return True
            return self.tool.count("__") == 1 and tool_name.startswith(self.tool + "__")
        return tool_name in covered_tools(self.tool)

    def matches_paths(self, targets: Sequence[Target], *, every: bool) -> bool:
        """Path rules: any target matches (``every=False``, for deny/ask — resolved or as written) or
        every target matches as resolved (``every=True``, for allow)."""
        assert self.path is not None
        if not targets:
            return False
        if every:
            return all(self.path.matches(resolved) for resolved, _ in targets)
        for resolved, lexical in targets:
            if self.path.matches(resolved) or self.path.matches(lexical):
                return True
            # a directory (a search root) is covered when the rule takes any name inside it
            if os.path.isdir(resolved) and self.path.matches(os.path.join(resolved, _ANY_CHILD)):
                return True
        return False

    def matches_input(self, tool_name: str, tool_input: Mapping[str, Any]) -> bool:
        """Non-path, non-bash patterns (web tools); bare rules match everything."""
        if self.domain is not None:
            from urllib.parse import urlsplit

            from claw.tools.web_common import host_in_domains

            host = urlsplit(str(tool_input.get("url", ""))).hostname or ""
            return host_in_domains(host, [self.domain])
        if self.query is not None:
            value = str(tool_input.get(self.subject, ""))
            return self.query.match(value.lstrip("/") if self.subject == "command" else value) is not None
        return True


def parse_rule(
    text: str,
    source: str,
    *,
    cwd: str,
    home: Optional[str] = None,
    error: Type[ClawError] = UsageError,
    warnings: Optional[List[str]] = None,
    extra: Sequence[str] = (),
) -> Optional[PermissionRule]:
    """Parse one rule. None for a Claude Code-only tool (skipped, with a warning when a list is given).
    Raises ``error`` (UsageError for flags, ConfigError for settings) naming the source. ``extra``: the
    run's plugin manifest tool names, valid like MCP names (a pattern on them is ignored)."""
    home = home or os.path.expanduser("~")
    m = _RULE.match(text)
    if not m:
        raise error(f"invalid permission rule {text!r} in {source}",
                    hint='write Tool or Tool(pattern), e.g. "Read", "Bash(git status:*)", "Read(./src/**)"')
    name, pattern = m.group(1), m.group(2)
    if pattern is not None and pattern.strip() in ("", "*"):
        pattern = None
    canonical = canonical_tool_name(name)
    if canonical is None and (is_mcp_name(name) or name in extra):
        canonical = name
    if canonical is None:
        if name in CLAUDE_CODE_ONLY:
            if warnings is not None:
                warnings.append(f"permission rule {text!r} in {source} names the Claude Code tool {name!r}, "
                                "which claw does not have; ignored")
            return None
        raise error(f"unknown tool {name!r} in permission rule {text!r} ({source})", hint=valid_names_hint(name, extra))
    rule_args: dict = {}
    if pattern is not None and not is_mcp_name(canonical):
        if canonical == "bash":
            rule_args["bash"] = BashPattern.compile(pattern)
        elif canonical in PATH_TOOLS:
            compiled = compile_path_pattern(pattern, os.path.realpath(cwd), home)
            if not compiled.readings:
                raise error(f"invalid path pattern in permission rule {text!r} ({source})")
            rule_args["path"] = compiled
        elif canonical == "web_fetch":
            stripped = pattern.strip()
            if not stripped.startswith("domain:") or not stripped[len("domain:"):].strip():
                raise error(f"invalid WebFetch rule {text!r} ({source})",
                            hint="write WebFetch(domain:example.com)")
            rule_args["domain"] = stripped[len("domain:"):].strip()
        elif canonical == "web_search":
            source_re = ".*".join(re.escape(p) for p in pattern.strip().split("*"))
            rule_args["query"] = re.compile(source_re + r"\Z", re.IGNORECASE | re.DOTALL)
        elif canonical in ("skill", "slash_command"):
            # Skill(pdf), SlashCommand(/commit) or SlashCommand(/commit:*): that name, whatever the
            # arguments (both tools are read-only, so what matters is that a deny rule covers them all)
            name = pattern.strip().lstrip("/")
            name = name[:-2] if name.endswith(":*") else name
            rule_args["query"] = re.compile(re.escape(name) + r"(?:\s.*)?\Z", re.DOTALL)
            rule_args["subject"] = "skill" if canonical == "skill" else "command"
        else:
            pattern = None  # todo_write takes no pattern
    elif is_mcp_name(canonical):
        pattern = None
    return PermissionRule(text=text.strip(), tool=canonical, pattern=pattern, source=source, **rule_args)


def parse_rules(
    texts: Iterable[str],
    source: str,
    *,
    cwd: str,
    home: Optional[str] = None,
    error: Type[ClawError] = UsageError,
    warnings: Optional[List[str]] = None,
    extra: Sequence[str] = (),
) -> List[PermissionRule]:
    rules = []
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            raise error(f"invalid permission rule {text!r} in {source}")
        rule = parse_rule(text, source, cwd=cwd, home=home, error=error, warnings=warnings, extra=extra)
        if rule is not None:
            rules.append(rule)
    return rules


def expand_targets(paths: Iterable[Any], cwd: str) -> List[Target]:
    """(resolved, lexical) pairs for the policy: relative paths against ``cwd``, ``~`` expanded."""
    out = []
    for p in paths:
        text = os.path.expanduser(os.fspath(p))
        if not os.path.isabs(text):
            text = os.path.join(cwd, text)
        lexical = os.path.normpath(text)
        out.append((os.path.realpath(lexical), lexical))
    return out


def home_dir() -> str:
    return os.path.realpath(str(Path.home()))
