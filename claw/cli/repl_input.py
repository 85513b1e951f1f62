"""Reading the REPL's prompts: one line, backslash-continued lines or a triple-quote block, with readline
editing, slash-command completion and a persistent history when this Python has readline.

Deliberately not here: what a prompt does (claw.cli.repl runs it, claw.cli.slash runs commands).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional

HISTORY_LENGTH = 1000


def _unicode_ok(stream: Any) -> bool:
    return "utf" in (getattr(stream, "encoding", "") or "").lower()


def prompt_strings(stream: Any = None) -> tuple:
    """The prompt and the continuation prompt (ASCII when the terminal's encoding is not UTF-8)."""
    return ("› ", "… ") if _unicode_ok(stream or sys.stdout) else ("> ", ". ")


def _input(prompt: str) -> str:
    """``input()`` on a terminal (readline editing); with stdout redirected the prompt goes to stderr
    so stdout holds only the answers."""
    if sys.stdout.isatty():
        return input(prompt)
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line[:-1] if line.endswith("\n") else line


def read_prompt(read: Callable[[str], str] = _input) -> str:
    """One prompt: a line, ``\\``-continued lines, or a ``\"\"\"`` block (a line holding only ``\"\"\"``
    opens it, the next such line closes it). Ctrl-D inside a block submits what was typed."""
    prompt, continuation = prompt_strings()
    first = read(prompt)
    if first.strip() == '"""':
        lines: List[str] = []
        while True:
            try:
                line = read(continuation)
            except EOFError:
                return "\n".join(lines)
            if line.strip() == '"""':
                return "\n".join(lines)
            lines.append(line)
    lines = [first]
    while lines[-1].endswith("\\"):
        lines[-1] = lines[-1][:-1]
        lines.append(read(continuation))
    return "\n".join(lines)


class History:
    """Persistent prompt history in ``$CLAW_CONFIG_HOME/history`` (mode 0600), via readline when this
    Python has it. New entries are appended after every prompt, so several REPLs at once and a REPL
    that is killed lose nothing; the file is kept to the last ``HISTORY_LENGTH`` entries."""

    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = path or history_path()
        self._readline: Any = None
        self._saved = 0  # history length already in the file
        self.commands: Callable[[], List[str]] = list  # the run's custom commands, for completion

    def load(self) -> None:
        if not sys.stdin.isatty():
            return
        try:
            import readline
        except ImportError:  # no readline on this Python: plain input() still works
            return
        self._readline = readline
        readline.set_history_length(HISTORY_LENGTH)
        try:
            readline.read_history_file(str(self.path))
        except (OSError, UnicodeDecodeError):
            pass
        self._saved = readline.get_current_history_length()
        _enable_completion(readline, self)

    def save(self) -> None:
        readline = self._readline
        if readline is None:
            return
        length = readline.get_current_history_length()
        new = length - self._saved
        if new <= 0:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(str(self.path), os.O_WRONLY | os.O_CREAT, 0o600))
            appended = False
            if hasattr(readline, "append_history_file"):
                try:
                    readline.append_history_file(new, str(self.path))
                    appended = True
                except OSError:
                    appended = False
            if appended:
                try:
                    readline.history_truncate_file(str(self.path), HISTORY_LENGTH)
                except (AttributeError, OSError):
                    pass
            else:
                readline.write_history_file(str(self.path))
            os.chmod(self.path, 0o600)
        except OSError:
            return
        self._saved = length


def history_path(env: Optional[dict] = None) -> Path:
    from claw.config.sources import config_home

    return Path(config_home(os.environ if env is None else env, os.getcwd())) / "history"


def _enable_completion(readline: Any, history: "History") -> None:
    from claw.cli.slash import complete

    def completer(text: str, state: int) -> Optional[str]:
        buffer = readline.get_line_buffer()
        if buffer.startswith("/") and " " not in buffer:
            options = complete(buffer, history.commands())
        elif text.startswith("@"):  # a file to mention: completed relative to the working directory
            from claw.cli.repl_shell import complete_path

            options = complete_path(text, os.getcwd())
        else:
            options = []
        return options[state] if state < len(options) else None

    readline.set_completer(completer)
    readline.set_completer_delims(" \t\n")
    if "libedit" in (getattr(readline, "__doc__", "") or ""):
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")
