"""The REPL's ``#text``: append a line to a memory file the user picks on the terminal.

A prompt of one line that starts with ``#`` is not sent to the model: the REPL asks which memory file
to add it to (``MEMORY_TARGETS``: the project's ``CLAW.md`` or ``CLAUDE.md``, the user's
``$CLAW_CONFIG_HOME/CLAW.md`` or Claude Code's ``~/.claude/CLAUDE.md``), appends ``- text`` to it
(creating the file and its directory when needed; a file without a final newline gets one first), and
the running session's system prompt is rebuilt so the note applies from the next turn on. ``##text``
sends ``#text`` to the model instead.

This module reads the answer with the function it is given (the REPL passes ``input``); it does not
decide what a memory file means for the prompt (``claw.runtime.system_prompt``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, List, Mapping, Optional, Tuple

MEMORY_TARGETS = (
    ("project", "CLAW.md"),
    ("project", "CLAUDE.md"),
    ("user", "CLAW.md"),
    ("user", "CLAUDE.md"),
)


def is_memory_note(text: str) -> bool:
    """A single-line prompt starting with one ``#`` (``##`` escapes it)."""
    return text.startswith("#") and not text.startswith("##") and "\n" not in text and bool(text[1:].strip())


def targets(cwd: str, env: Mapping[str, str]) -> List[Tuple[str, Path]]:
    """``(label, path)`` of each file a note may go to, in ``MEMORY_TARGETS`` order."""
    from claw.runtime.system_prompt import claude_home, config_home

    out = []
    for where, name in MEMORY_TARGETS:
        if where == "project":
            path = Path(cwd) / name
            label = f"project {name} ({path})"
        else:
            path = (config_home(env) if name == "CLAW.md" else claude_home(env)) / name
            label = f"user {name} ({path})"
        out.append((label, path))
    return out


def append_line(path: Path, text: str) -> None:
    """Append ``- text`` as a line of ``path`` (created, with its directory, when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = ""
    try:
        with open(str(path), "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell():
                f.seek(-1, os.SEEK_END)
                prefix = "" if f.read(1) == b"\n" else "\n"
    except FileNotFoundError:
        pass
    with open(str(path), "a", encoding="utf-8") as f:
        f.write(f"{prefix}- {text}\n")


def add_note(text: str, cwd: str, env: Mapping[str, str], ask: Callable[[str], str],
             say: Callable[[str], None]) -> Optional[Path]:
    """Ask where ``#text`` goes and append it there; returns the file written, or None (cancelled)."""
    note = text[1:].strip()
    choices = targets(cwd, env)
    menu = "\n".join(f"  {i}. {label}" for i, (label, _) in enumerate(choices, 1))
    say(f"add to which memory file?\n{menu}")
    try:
        answer = ask(f"[1-{len(choices)}, Enter to cancel] ").strip()
    except EOFError:
        answer = ""
    if not answer.isdigit() or not 1 <= int(answer) <= len(choices):
        say("not added")
        return None
    path = choices[int(answer) - 1][1]
    try:
        append_line(path, note)
    except OSError as exc:
        say(f"claw: cannot write {path}: {exc.strerror or exc}")
        return None
    say(f"added to {path}")
    return path
