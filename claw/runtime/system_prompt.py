"""The system prompt: base prompt, environment, git context, instruction files, user additions.

``build_system_prompt`` assembles, in this order:

1. the base prompt (``BASE_PROMPT``), or the ``--system-prompt`` text instead of it;
2. the environment: working directory (and ``--add-dir`` directories), platform, shell, today's
   date, model, whether the directory is in a git repository;
3. git context (branch, short status, last commits) from ``git_context``, bounded in time and size,
   omitted outside a repository or without git;
4. instruction (memory) files: Claude Code's ``$CLAUDE_CONFIG_DIR/CLAUDE.md`` (default
   ``~/.claude``) and ``$CLAW_CONFIG_HOME/CLAW.md`` (default ``~/.claw``), then ``CLAUDE.md``,
   ``.claude/CLAUDE.md``, ``CLAW.md``, ``AGENTS.md``, ``CLAUDE.local.md`` in each directory from the
   git root (or the working directory outside a repository) down to the working directory - more
   specific files come later. Each file is followed by the files it imports with ``@path``
   (``claw.runtime.memory_imports``: at most 5 levels, cycles broken, not inside code). Each file,
   imported ones included, is capped (``FILE_CAP``), all of them together too (``TOTAL_CAP``, the
   files closest to the working directory keep their room first), files with the same content appear
   once, and each is labelled with its path;
5. the skills the run offers (names and descriptions; ``claw.runtime.skills``), when there are any;
6. the ``--append-system-prompt`` text.

It returns a ``SystemPrompt``: the text plus the sources used and skipped (for ``/memory`` and
``claw status``). It deliberately does not read settings, talk to the model or print.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, List, Mapping, Optional, Sequence, Tuple

if TYPE_CHECKING:
    import datetime

from claw.runtime.git_context import collect_git_context, find_git_root

INSTRUCTION_FILE_NAMES = ("CLAUDE.md", ".claude/CLAUDE.md", "CLAW.md", "AGENTS.md", "CLAUDE.local.md")
USER_INSTRUCTION_FILE = "CLAW.md"
CLAUDE_USER_INSTRUCTION_FILE = "CLAUDE.md"  # in Claude Code's user directory ($CLAUDE_CONFIG_DIR, ~/.claude)
FILE_CAP = 40_000  # characters kept of one instruction file
TOTAL_CAP = 120_000  # characters kept of all instruction files together
MIN_USEFUL = 200  # below this much remaining room, a file is omitted rather than cut to a stub

BASE_PROMPT = """\
You are claw, a coding agent working in the user's terminal, on the user's machine. You help with \
software engineering: reading and changing code, running commands, finding bugs, explaining systems.

# Tools
- bash: run shell commands in the working directory (builds, tests, git, package managers). Prefer \
the dedicated tools below for reading, searching and editing files.
- read_file: read a file, with line numbers; use offset/limit for long files.
- write_file: create a file or replace its whole content. Read an existing file before overwriting it.
- edit_file: replace an exact string in a file (old_string must be unique unless replace_all is set). \
Prefer it to write_file for changes to existing files.
- glob_search: find files by name pattern (e.g. "src/**/*.py").
- grep_search: search file contents by regular expression.
- web_fetch / web_search: fetch a URL or search the web, when the task needs information from outside \
the workspace.
- todo_write: keep a short task list for work with several steps; update it as you go.
Run independent read-only tool calls together when you can.

# How to work
- Understand before changing: look at the relevant code, its conventions and its tests first. \
Follow the existing style, libraries and patterns; do not add dependencies without a reason.
- Keep changes focused on what was asked. Do not refactor, rename or reformat unrelated code.
- Verify your work: run the tests, the build or the command that shows the change works, and read \
the output. If you could not verify something, say so.
- Do not invent facts: no made-up file contents, APIs, command output, versions or URLs. If you do \
not know, look it up with the tools or say that you do not know.
- Be careful with actions that are hard to undo (deleting files, force-pushing, rewriting history, \
touching things outside the workspace): ask first unless the user asked for exactly that.
- Never print, store or commit secrets such as API keys, tokens or passwords.
- When a tool call is denied or fails, read the reason and adapt; do not retry the same call blindly.

# How to answer
- Be concise and direct. Lead with the answer or the result; skip preamble and filler.
- Use Markdown sparingly; the output is shown in a terminal. Refer to code as path:line.
- At the end of a task, say briefly what you changed and how you checked it.
"""


@dataclass(frozen=True)
class PromptSource:
    """One part of the system prompt, or one instruction file that was found but not used."""

    kind: str  # base | custom | environment | git | user_instructions | project_instructions | local_instructions | skills | append
    label: str
    path: Optional[str] = None
    chars: int = 0  # characters this source contributed
    size: Optional[int] = None  # file size in bytes, for files
    truncated: bool = False
    note: Optional[str] = None  # why it was truncated or skipped


@dataclass(frozen=True)
class SystemPrompt:
    """The system prompt's text and the sources it was built from."""

    text: str
    sources: Tuple[PromptSource, ...]
    skipped: Tuple[PromptSource, ...] = ()
    warnings: Tuple[str, ...] = ()

    @property
    def instruction_files(self) -> Tuple[PromptSource, ...]:
        return tuple(s for s in self.sources if s.path is not None)


@dataclass
class _FileText:
    """A memory file read for the system prompt."""

    path: Path
    kind: str
    text: str
    size: int
    truncated: bool
    digest: str
    note: Optional[str] = None
    room: int = 0
    imported_by: Optional[str] = None  # the memory file whose @path import brought this one in


def config_home(env: Optional[Mapping[str, str]] = None) -> Path:
    """``$CLAW_CONFIG_HOME``, default ``~/.claw``."""
    env = os.environ if env is None else env
    value = env.get("CLAW_CONFIG_HOME")
    if value:
        return Path(value).expanduser()
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".claw"


def claude_home(env: Optional[Mapping[str, str]] = None) -> Path:
    """Claude Code's user directory: ``$CLAUDE_CONFIG_DIR``, default ``~/.claude``."""
    env = os.environ if env is None else env
    value = env.get("CLAUDE_CONFIG_DIR")
    if value:
        return Path(value).expanduser()
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".claude"


def instruction_dirs(cwd: "os.PathLike[str] | str") -> List[Path]:
    """Directories searched for instruction files: from the git root (or ``cwd``) down to ``cwd``."""
    here = Path(cwd).resolve()
    root = find_git_root(here)
    chain = [here]
    if root is not None:
        while chain[-1] != root and chain[-1] != chain[-1].parent:
            chain.append(chain[-1].parent)
    return list(reversed(chain))


def find_instruction_files(cwd: "os.PathLike[str] | str", *, env: Optional[Mapping[str, str]] = None) -> List[Tuple[str, Path]]:
    """``(kind, path)`` of every existing instruction file, in prompt order (user file first)."""
    found: List[Tuple[str, Path]] = []
    for user_file in (claude_home(env) / CLAUDE_USER_INSTRUCTION_FILE, config_home(env) / USER_INSTRUCTION_FILE):
        if user_file.is_file():
            found.append(("user_instructions", user_file))
    for directory in instruction_dirs(cwd):
        for name in INSTRUCTION_FILE_NAMES:
            path = directory / name
            if path.is_file():
                found.append(("local_instructions" if name == "CLAUDE.local.md" else "project_instructions", path))
    return found


def _read_capped(path: Path, kind: str, cap: int) -> _FileText:
    with open(str(path), "rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = f.read(cap * 4 + 4)  # a character is at most 4 bytes
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    import hashlib

    digest = hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()
    truncated = len(text) > cap or size > len(data)
    if len(text) > cap:
        text = text[:cap]
    return _FileText(path=path, kind=kind, text=text.strip("\n"), size=size, truncated=truncated, digest=digest)


def _imported_note(item: _FileText, note: Optional[str]) -> Optional[str]:
    if item.imported_by is None:
        return note
    return f"imported by {item.imported_by}" + (f"; {note}" if note else "")


def _memory_texts(here: Path, env: Mapping[str, str], cap: int, warnings: List[str]) -> List[_FileText]:
    """The memory files to use, read and capped, each followed by the files it imports (``@path``)."""
    found = find_instruction_files(here, env=env)
    scope = None
    out: List[_FileText] = []
    for kind, path in found:
        try:
            item = _read_capped(path, kind, cap)
        except OSError as exc:
            warnings.append(f"could not read {path}: {exc.strerror or exc}")
            continue
        out.append(item)
        if "@" not in item.text:
            continue  # no import: memory_imports is not even loaded
        from claw.runtime import memory_imports

        if scope is None:
            scope = memory_imports.ImportScope(str(instruction_dirs(here)[0]), env.get("HOME") or str(Path.home()),
                                               lambda: _folder_trusted(here, env))
            scope.seen.update(os.path.realpath(str(p)) for _, p in found)
        texts: dict = {}

        def read(target: str, kind: str = kind) -> Optional[str]:
            try:
                imported = _read_capped(Path(target), kind, cap)
            except OSError:
                return None
            if "\0" in imported.text:
                return None  # not text
            texts[target] = imported
            return imported.text

        for target, _, _, importer in memory_imports.expand(str(path), item.text, 0, scope,
                                                            kind == "user_instructions", read):
            texts[target].imported_by = importer
            out.append(texts[target])
    if scope is not None:
        warnings.extend(scope.warnings)
    return out


def _folder_trusted(here: Path, env: Mapping[str, str]) -> bool:
    from claw.config.trust import is_trusted
    from claw.errors import ConfigError

    try:
        return is_trusted(str(here), env)
    except ConfigError:
        return False


def _cut(text: str, room: int) -> str:
    if len(text) <= room:
        return text
    cut = text[:room]
    newline = cut.rfind("\n")
    if newline > room * 0.8:
        cut = cut[:newline]
    return cut


_SCOPES = {
    "user_instructions": "the user's own instructions, for all projects",
    "project_instructions": "project instructions",
    "local_instructions": "the user's private project instructions",
}


def _instructions_section(files: Sequence[_FileText]) -> str:
    parts = [
        "# Instructions\n"
        "The user and the project provide the instructions below. Follow them; they take precedence "
        "over the default behaviour above. When two conflict, the one listed later (closer to the "
        "working directory) wins."
    ]
    for item in files:
        body = _cut(item.text, item.room)
        note = ""
        if len(body) < len(item.text) or item.truncated:
            note = f"\n\n[... truncated: {item.path} is {item.size} bytes; only the beginning is included]"
        scope = _SCOPES[item.kind] + (f", imported by {item.imported_by}" if item.imported_by else "")
        parts.append(f"Contents of {item.path} ({scope}):\n\n{body}{note}")
    return "\n\n".join(parts)


def _environment_section(
    cwd: Path,
    model: Optional[str],
    git_root: Optional[Path],
    additional_dirs: Sequence[str],
    today: str,
    platform_name: Optional[str],
    env: Mapping[str, str],
) -> str:
    if platform_name is None:
        if hasattr(os, "uname"):  # what platform.system() and .release() say, without importing it (3 ms)
            uname = os.uname()
            platform_name = f"{sys.platform} ({uname.sysname} {uname.release})"
        else:
            import platform

            platform_name = f"{sys.platform} ({platform.system()} {platform.release()})"
    lines = ["# Environment", f"Working directory: {cwd}"]
    if additional_dirs:
        lines.append("Additional working directories: " + ", ".join(str(d) for d in additional_dirs))
    lines.append(f"Platform: {platform_name}")
    shell = env.get("SHELL")
    if shell:
        lines.append(f"Shell: {os.path.basename(shell)}")
    lines.append(f"Today's date: {today}")
    if model:
        lines.append(f"Model: {model}")
    lines.append(f"Git repository: yes (root {git_root})" if git_root else "Git repository: no")
    return "\n".join(lines)


def build_system_prompt(
    *,
    cwd: "os.PathLike[str] | str",
    model: Optional[str] = None,
    custom_prompt: Optional[str] = None,
    append_prompt: Optional[str] = None,
    additional_dirs: Sequence[str] = (),
    env: Optional[Mapping[str, str]] = None,
    today: Optional[datetime.date] = None,
    platform_name: Optional[str] = None,
    include_git: bool = True,
    git_timeout: float = 1.0,
    file_cap: int = FILE_CAP,
    total_cap: int = TOTAL_CAP,
    skills_text: Optional[str] = None,
) -> SystemPrompt:
    """Assemble the system prompt for a session started in ``cwd`` (see the module docstring).

    ``custom_prompt`` (``--system-prompt``) replaces the base prompt only; ``append_prompt``
    (``--append-system-prompt``) is added at the end, after ``skills_text`` (the skills the model may load,
    ``claw.runtime.skills.skills_section``). ``env`` defaults to ``os.environ`` (it gives
    ``CLAW_CONFIG_HOME``, ``HOME``, ``SHELL`` and the environment git runs with).
    """
    env = os.environ if env is None else env
    here = Path(cwd).resolve()
    today_text = today.isoformat() if today else time.strftime("%Y-%m-%d")  # local date, as date.today()
    sections: List[str] = []
    sources: List[PromptSource] = []
    skipped: List[PromptSource] = []
    warnings: List[str] = []

    if custom_prompt is not None:
        if custom_prompt.strip():
            sections.append(custom_prompt.strip())
        sources.append(PromptSource("custom", "--system-prompt", chars=len(custom_prompt.strip())))
    else:
        sections.append(BASE_PROMPT.strip())
        sources.append(PromptSource("base", "claw base prompt", chars=len(BASE_PROMPT.strip())))

    git_root = find_git_root(here)
    environment = _environment_section(here, model, git_root, additional_dirs, today_text, platform_name, env)
    sections.append(environment)
    sources.append(PromptSource("environment", "environment", chars=len(environment)))

    if include_git and git_root is not None:
        context = collect_git_context(here, timeout=git_timeout, env=env)
        if context is not None and (context.branch or context.status or context.commits):
            text = (
                "# Git\nThis is the git state at the start of the session; it does not update as the "
                "session goes on.\n" + context.render()
            )
            sections.append(text)
            note = None if context.complete else "git was slow or failed; partial"
            sources.append(PromptSource("git", "git context", path=None, chars=len(text), note=note))
        elif context is not None and not context.complete:
            warnings.append("git context omitted: git did not answer in time")

    files: List[_FileText] = []
    seen: dict = {}
    for item in _memory_texts(here, env, file_cap, warnings):
        kind, path = item.kind, item.path
        if not item.text.strip():
            skipped.append(PromptSource(kind, str(path), path=str(path), size=item.size,
                                        note=_imported_note(item, "empty")))
            continue
        if item.digest in seen:
            skipped.append(PromptSource(kind, str(path), path=str(path), size=item.size,
                                        note=_imported_note(item, f"same content as {seen[item.digest]}")))
            continue
        seen[item.digest] = path
        files.append(item)

    # Share the total room: files closest to the working directory are served first.
    remaining = total_cap
    for item in reversed(files):
        want = len(item.text)
        if remaining >= min(want, MIN_USEFUL):
            item.room = min(want, remaining)
            remaining -= item.room
        else:
            item.room = 0
    kept = [f for f in files if f.room > 0]
    for item in files:
        if item.room == 0:
            skipped.append(PromptSource(item.kind, str(item.path), path=str(item.path), size=item.size,
                                        note=_imported_note(item, f"omitted: instruction files exceed {total_cap} "
                                                            "characters in total")))
    if kept:
        section = _instructions_section(kept)
        sections.append(section)
        for item in kept:
            cut = item.room < len(item.text)
            note = None
            if item.truncated:
                note = f"truncated to {file_cap} characters"
            elif cut:
                note = f"truncated: instruction files exceed {total_cap} characters in total"
            sources.append(PromptSource(item.kind, str(item.path), path=str(item.path),
                                        chars=len(_cut(item.text, item.room)), size=item.size,
                                        truncated=item.truncated or cut, note=_imported_note(item, note)))

    if skills_text:
        sections.append(skills_text)
        sources.append(PromptSource("skills", "skills", chars=len(skills_text)))

    if append_prompt is not None and append_prompt.strip():
        sections.append(append_prompt.strip())
        sources.append(PromptSource("append", "--append-system-prompt", chars=len(append_prompt.strip())))

    return SystemPrompt(text="\n\n".join(sections) + "\n", sources=tuple(sources),
                        skipped=tuple(skipped), warnings=tuple(warnings))
