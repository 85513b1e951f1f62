"""Skills: directories holding a ``SKILL.md``, offered to the model by name and description and loaded
only when it asks for one (progressive disclosure).

Where (highest precedence first): the project's ``.claw/skills/`` and ``.claude/skills/``, then the
user's ``$CLAW_CONFIG_HOME/skills/`` and ``~/.claude/skills/``. Each subdirectory with a ``SKILL.md`` is
one skill; its frontmatter gives ``name`` (else the directory's name), ``description`` (else the body's
first line) and ``allowed-tools`` (permission rules that apply for the rest of the turn once the skill
is loaded). A skill of the same name from a lower directory is shadowed, with a note.

``skills_section`` is the system-prompt part that lists them (fixed for a run, so the cached prompt
prefix stays the same); ``Skill.load_body`` reads the instructions when the ``skill`` tool is called,
with the skill's directory named so the model can read its other files with the normal tools.
Deliberately not here: deciding which directories a run may use (``claw.runtime.extensions``) and
the tool (``claw.tools.skill``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

from claw.runtime.commands import MAX_FILE_BYTES, CommandDir

SKILL_FILE = "SKILL.md"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


@dataclass(frozen=True)
class Skill:
    """One skill: what the system prompt lists, and where its instructions are."""

    name: str
    description: str
    directory: str
    scope: str  # "project" | "user" | "plugin:NAME"
    allowed_tools: Tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return os.path.join(self.directory, SKILL_FILE)

    def load_body(self) -> str:
        """The instructions (the file without its frontmatter), headed by where the skill's files are.
        Raises OSError when the file cannot be read any more."""
        from claw.runtime.frontmatter import split_frontmatter

        with open(self.path, encoding="utf-8", errors="replace") as fh:
            body = split_frontmatter(fh.read()).body.strip()
        return (f"Skill {self.name!r} (base directory: {self.directory}; read the files it mentions "
                f"from there with the normal tools)\n\n{body}")


def load_skills(dirs: Sequence[CommandDir]) -> Tuple[List[Skill], List[str]]:
    """The skills of ``dirs`` (in precedence order), sorted by name, and warnings/notes about them."""
    from claw.runtime.frontmatter import as_list, split_frontmatter

    found: Dict[str, Skill] = {}
    notes: List[str] = []
    for directory in dirs:
        try:
            entries = sorted(os.listdir(directory.path))
        except OSError:
            continue
        base = directory.path
        if SKILL_FILE in entries:  # a plugin may name one skill's directory
            base, entries = os.path.dirname(base), [os.path.basename(base)]
        for entry in entries:
            skill_dir = os.path.join(base, entry)
            path = os.path.join(skill_dir, SKILL_FILE)
            if entry.startswith(".") or not os.path.isfile(path):
                continue
            try:
                if os.path.getsize(path) > MAX_FILE_BYTES:
                    notes.append(f"claw: warning: {path}: larger than {MAX_FILE_BYTES // 1024} KiB; skipped")
                    continue
                with open(path, encoding="utf-8", errors="replace") as fh:
                    parsed = split_frontmatter(fh.read())
            except OSError as exc:
                notes.append(f"claw: warning: cannot read the skill file {path}: {exc.strerror or exc}")
                continue
            meta = parsed.meta
            if parsed.error:
                notes.append(f"claw: warning: {path}: the frontmatter is not valid ({parsed.error}); "
                             "the skill is used with default settings")
            name = directory.prefix + str(meta.get("name") or entry).strip()
            if not _NAME.match(name):
                notes.append(f"claw: warning: {path}: {name!r} is not a usable skill name; skipped")
                continue
            try:
                allowed = tuple(as_list(meta.get("allowed-tools")))
            except Exception as exc:
                notes.append(f"claw: warning: {path}: allowed-tools is not valid "
                             f"({getattr(exc, 'message', exc)}); ignored")
                allowed = ()
            description = str(meta.get("description") or "").strip() or _first_line(parsed.body)
            if name in found:
                notes.append(f"claw: note: the skill {name!r} from {found[name].path} is used; {path} of the "
                             "same name is not")
                continue
            found[name] = Skill(name, " ".join(description.split()), os.path.realpath(skill_dir),
                                directory.scope, allowed)
    return sorted(found.values(), key=lambda s: s.name), notes


def _first_line(body: str) -> str:
    for line in body.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:200]
    return ""


def skills_section(skills: Sequence[Skill], tool_name: str = "skill") -> str:
    """The system-prompt section listing ``skills`` (empty text for none)."""
    if not skills:
        return ""
    lines = [
        "# Skills",
        f"These skills hold instructions for particular tasks. When a task matches a skill's description, "
        f"call the {tool_name} tool with its name first: it returns the skill's instructions (follow them) "
        "and the directory of its other files, which you read with the normal tools when needed.",
    ]
    lines += [f"- {s.name}: {s.description}" if s.description else f"- {s.name}" for s in skills]
    return "\n".join(lines)
