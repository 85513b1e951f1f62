"""Problems found while loading settings, as data.

A ``Problem`` has a level:
- ``error``: the settings cannot be used as written (a file that does not parse, a value of the wrong
  type). A normal load raises it as a ``ConfigError`` (exit 2); ``claw doctor`` collects them all.
- ``invalid``: one entry is unusable and is left out, the rest still works (a broken ``mcpServers``
  entry). Never raised; reported.
- ``warning``: something is probably a mistake but harmless (an unknown key, with a did-you-mean).

This module formats nothing for a terminal; the CLI decides how to print ``str(problem)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from claw.config.keypath import KeyPath, format_key_path
from claw.config.sources import SettingsSource
from claw.errors import ConfigError

ERROR = "error"
INVALID = "invalid"
WARNING = "warning"

DOCS_HINT = "see docs/CONFIGURATION.md"


@dataclass(frozen=True)
class Problem:
    """One problem found in a settings file, with its level and a one-line message."""

    level: str  # ERROR | INVALID | WARNING
    message: str  # one line, naming the file (and the key path when there is one)
    hint: str | None = None
    source: SettingsSource | None = None
    key_path: KeyPath | None = None

    @property
    def key(self) -> str | None:
        """The key path as text (``permissions.allow[1]``), or None."""
        return None if self.key_path is None else format_key_path(self.key_path)

    def to_error(self) -> ConfigError:
        return ConfigError(self.message, hint=self.hint)

    def __str__(self) -> str:
        return self.message


def problem_at(
    level: str,
    source: SettingsSource,
    key_path: KeyPath,
    text: str,
    hint: str | None = None,
) -> Problem:
    """A problem at ``key_path`` of ``source``: ``<file>: <key.path>: <text>``."""
    where = source.name if not key_path else f"{source.name}: {format_key_path(key_path)}"
    return Problem(level, f"{where}: {text}", hint, source, key_path)


def did_you_mean(word: str, choices) -> str | None:
    """The closest of ``choices`` to ``word`` (case-insensitive first, then difflib), or None."""
    choices = list(choices)
    for choice in choices:
        if choice.lower() == word.lower():
            return choice
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[c] for c in difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)]
    return close[0] if close else None
