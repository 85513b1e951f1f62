"""``claw init``: set a project up for claw, idempotently.

Creates ``.claw/settings.json`` (an empty permissions block to fill in), a ``CLAW.md`` skeleton for
project instructions (``--memory-file CLAUDE.md`` writes Claude Code's file instead, which claw reads as
well), and ``.gitignore`` entries for what must not be committed
(``.claw/settings.local.json``, ``.claw/sessions/``). Nothing existing is ever overwritten: a file is
created only where nothing stands (not even a dangling symlink), a project that already has
``.claw/settings.toml`` or an instruction file (``CLAW.md``, ``CLAUDE.md``, ``.claude/CLAUDE.md``,
``AGENTS.md``) keeps it, and
``.gitignore`` is only appended to, byte for byte. Running it twice changes nothing and says so.
No network, no credentials.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import List

CLAW_MD = """\
# Project instructions for claw

<!-- claw (and Claude Code) read this file into the system prompt. Keep it short and specific. -->

## Build and test
- Build: `...`
- Test: `...`

## Conventions
- ...
"""

SETTINGS = {"permissions": {"allow": [], "deny": [], "ask": []}}
GITIGNORE_LINES = (".claw/settings.local.json", ".claw/sessions/")
INSTRUCTION_FILES = ("CLAW.md", "CLAUDE.md", ".claude/CLAUDE.md", "AGENTS.md")
MEMORY_FILE_CHOICES = ("CLAW.md", "CLAUDE.md")  # what --memory-file may create (CLAW.md by default)


def _exists(path: Path) -> bool:
    return os.path.lexists(str(path))


def _write_new(path: Path, text: str) -> bool:
    """Create ``path`` with ``text`` unless something is already there; never replaces anything, even
    when another process creates the file meanwhile. Returns whether it was created."""
    if _exists(path):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        os.link(str(tmp), str(path))  # atomic, and fails if the name is taken
    except FileExistsError:
        return False
    except OSError:  # no hard links here: exclusive creation instead
        try:
            fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    finally:
        tmp.unlink()
    return True


def _ignored(entry: str, lines: List[str]) -> bool:
    """Whether ``.gitignore`` already has ``entry`` (also as ``/entry``, or ``.claw/`` as a whole)."""
    present = {line.strip() for line in lines}
    whole_dir = {".claw", ".claw/", "/.claw", "/.claw/"}
    return bool(present & ({entry, "/" + entry, entry.rstrip("/"), "/" + entry.rstrip("/")} | whole_dir))


def _append_gitignore(path: Path) -> List[str]:
    data = path.read_bytes() if _exists(path) else b""
    lines = data.decode("utf-8", "replace").splitlines()
    missing = [entry for entry in GITIGNORE_LINES if not _ignored(entry, lines)]
    if not missing:
        return []
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    text = newline.join([b"# claw"] + [m.encode() for m in missing]) + newline
    if data and not data.endswith(b"\n"):
        text = newline + text
    with open(str(path), "ab") as f:
        f.write(text)
    return missing


def init_project(root: Path, memory_file: str = "CLAW.md") -> List[str]:
    """Set ``root`` up; returns one line per action taken (empty when everything was already there).
    ``memory_file``: which instruction file to create when the project has none (``MEMORY_FILE_CHOICES``)."""
    done = []
    claw_dir = root / ".claw"
    if _exists(claw_dir / "settings.toml"):
        pass  # the TOML twin is the project's settings file: a JSON one next to it would compete
    elif _write_new(claw_dir / "settings.json", json.dumps(SETTINGS, indent=2) + "\n"):
        done.append("created .claw/settings.json (permission rules: allow, deny, ask)")
    if not any(_exists(root / name) for name in INSTRUCTION_FILES):
        text = CLAW_MD if memory_file == "CLAW.md" else CLAW_MD.replace("for claw", "for claw and Claude Code")
        if _write_new(root / memory_file, text):
            done.append(f"created {memory_file} (project instructions for the model: fill it in)")
    missing = _append_gitignore(root / ".gitignore")
    if missing:
        done.append(f"added {', '.join(missing)} to .gitignore")
    return done


def run(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="claw init", description="Set this project up for claw: "
                                     ".claw/settings.json, a CLAW.md skeleton and .gitignore entries. "
                                     "Existing files are never overwritten.")
    parser.add_argument("--cwd", default=None, help="the project directory (default: the current one)")
    parser.add_argument("--memory-file", choices=MEMORY_FILE_CHOICES, default="CLAW.md",
                        help="the instruction file to create when there is none (default: CLAW.md; "
                        "CLAUDE.md is read by claw and Claude Code alike)")
    args = parser.parse_args(argv)
    root = Path(args.cwd or os.getcwd())
    if not root.is_dir():
        sys.stderr.write(f"claw init: {root} is not a directory\n")
        return 2
    try:
        actions = init_project(root, args.memory_file)
    except OSError as exc:
        sys.stderr.write(f"claw init: {exc.strerror or exc}: {exc.filename or root}\n"
                         "hint: check that the project directory is writable\n")
        return 1
    sys.stdout.write("\n".join(actions) + "\n" if actions else "already set up: nothing to do\n")
    sys.stdout.flush()
    return 0
