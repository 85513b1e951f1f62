"""Custom slash commands: Markdown files found in the command directories, read into ``CustomCommand``.

Where (highest precedence first): the project's ``.claw/commands/`` and ``.claude/commands/``, then the
user's ``$CLAW_CONFIG_HOME/commands/`` and ``~/.claude/commands/`` (``$CLAUDE_CONFIG_DIR`` moves
``~/.claude``). ``review.md`` is ``/review``; a subdirectory is a namespace that shows in the
description but not in the name (``frontend/component.md`` is ``/component``, "(project:frontend)").
When two files give the same name, the first in that order wins and a note says which file was
shadowed (a project command over a user command of the same name, as Claude Code documents).

Frontmatter (``claw.runtime.frontmatter``): ``description`` (else the body's first line),
``argument-hint``, ``allowed-tools``, ``model``, ``disable-model-invocation``. A frontmatter that does
not parse is a warning naming the file; the command still loads with default settings.

``substitute_arguments`` fills ``$ARGUMENTS`` and ``$1``..``$9``. Deliberately not here: ``@file`` and
``!`command``` (they need the permission policy: ``claw.runtime.command_expand``), and deciding which
directories a run may use (folder trust, ``--setting-sources``: ``claw.runtime.extensions``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

MAX_FILE_BYTES = 256 * 1024  # a command file larger than this is skipped with a warning


@dataclass(frozen=True)
class CommandDir:
    """One directory commands (or skills) are read from, and whose it is."""

    path: str
    scope: str  # "project" | "user" | "plugin:NAME"
    prefix: str = ""  # "NAME:" for a plugin's: its commands and skills are /NAME:x


@dataclass(frozen=True)
class CustomCommand:
    """One custom slash command: ``/name args`` runs ``body`` with the arguments filled in."""

    name: str
    path: str
    scope: str  # "project" | "user"
    namespace: str = ""  # "frontend" for frontend/component.md; "a:b" for a/b/x.md
    description: str = ""
    argument_hint: str = ""
    allowed_tools: Tuple[str, ...] = ()
    model: Optional[str] = None
    disable_model_invocation: bool = False
    body: str = ""

    @property
    def label(self) -> str:
        """``(project)``, ``(user:backend)``: where the command comes from."""
        return f"({self.scope}:{self.namespace})" if self.namespace else f"({self.scope})"

    @property
    def summary(self) -> str:
        """The description with its origin, for ``/help`` and the SDK's command list."""
        return f"{self.description} {self.label}".strip()


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


def load_commands(dirs: Sequence[CommandDir]) -> Tuple[List[CustomCommand], List[str]]:
    """The commands of ``dirs`` (in precedence order) and the warnings/notes about them."""
    found: Dict[str, CustomCommand] = {}
    notes: List[str] = []
    for directory in dirs:
        for path, namespace in _markdown_files(directory.path):
            name = os.path.splitext(os.path.basename(path))[0]
            if not _NAME.match(name):
                notes.append(f"claw: warning: {path}: {name!r} is not a usable command name (letters, digits, "
                             "'-', '_', '.'); skipped")
                continue
            name = directory.prefix + name
            command = _read(path, name, namespace, directory.scope, notes)
            if command is None:
                continue
            first = found.get(name)
            if first is not None:
                notes.append(f"claw: note: /{name} from {first.path} is used; {path} of the same name is not")
                continue
            found[name] = command
    return sorted(found.values(), key=lambda c: c.name), notes


def _markdown_files(root: str) -> List[Tuple[str, str]]:
    """(path, namespace) of every ``*.md`` below ``root``, sorted, symlinked directories not followed."""
    if os.path.isfile(root):  # a plugin may name one command file
        return [(root, "")]
    out: List[Tuple[str, str]] = []
    for here, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        rel = os.path.relpath(here, root)
        namespace = "" if rel == "." else rel.replace(os.sep, ":")
        for name in sorted(files):
            if name.endswith(".md") and not name.startswith("."):
                out.append((os.path.join(here, name), namespace))
    return out


def _read(path: str, name: str, namespace: str, scope: str, notes: List[str]) -> Optional[CustomCommand]:
    from claw.runtime.frontmatter import as_list, split_frontmatter

    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            notes.append(f"claw: warning: {path}: larger than {MAX_FILE_BYTES // 1024} KiB; skipped")
            return None
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError as exc:
        notes.append(f"claw: warning: cannot read the command file {path}: {exc.strerror or exc}")
        return None
    parsed = split_frontmatter(text)
    meta = parsed.meta
    if parsed.error:
        notes.append(f"claw: warning: {path}: the frontmatter is not valid ({parsed.error}); "
                     "the command is used with default settings")
    try:
        allowed = tuple(as_list(meta.get("allowed-tools")))
    except Exception as exc:  # an unbalanced rule: the command runs without widening anything
        notes.append(f"claw: warning: {path}: allowed-tools is not valid ({getattr(exc, 'message', exc)}); ignored")
        allowed = ()
    description = _text(meta.get("description")) or _first_line(parsed.body)
    model = _text(meta.get("model")) or None
    return CustomCommand(name=name, path=path, scope=scope, namespace=namespace, description=description,
                         argument_hint=_text(meta.get("argument-hint")), allowed_tools=allowed,
                         model=None if model in ("inherit", "default") else model,
                         disable_model_invocation=meta.get("disable-model-invocation") in (True, "true"),
                         body=parsed.body)


def _text(value: object) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value).strip()


def _first_line(body: str) -> str:
    for line in body.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:100]
    return ""


_PLACEHOLDER = re.compile(r"\$ARGUMENTS|\$([1-9])(?![0-9])")


def substitute_arguments(body: str, arguments: str) -> str:
    """``$ARGUMENTS`` -> everything typed after the name; ``$1``..``$9`` -> its words (shell quoting
    honoured when it parses; a missing one is empty). A body with neither gets the arguments appended
    after a blank line, so they are never lost."""
    import shlex

    arguments = arguments.strip()
    try:
        words = shlex.split(arguments)
    except ValueError:
        words = arguments.split()
    used = _PLACEHOLDER.search(body) is not None

    def fill(match: "re.Match[str]") -> str:
        if match.group(1) is None:
            return arguments
        index = int(match.group(1))
        return words[index - 1] if index <= len(words) else ""

    text = _PLACEHOLDER.sub(fill, body)  # one pass: '$1' typed as an argument stays as typed
    if not used and arguments:
        text = f"{text.rstrip()}\n\n{arguments}"
    return text
