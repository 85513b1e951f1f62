"""MCP prompts as REPL slash commands: their description, and turning the typed words into the
prompt's arguments.

``PromptCommand`` is one ``/mcp__<server>__<prompt>`` command (built by ``McpManager.prompt_commands``);
``split_prompt_args(text, count)`` splits what the user typed after it (shell quoting honoured when it
parses; the last argument takes the rest). Pure; imported only when prompts are asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple


@dataclass(frozen=True)
class PromptArgument:
    """One argument of an MCP prompt."""

    name: str
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class PromptCommand:
    """An MCP prompt as a slash command: ``/<name> args...``."""

    name: str  # mcp__<server>__<prompt>
    server: str
    prompt: str
    description: str
    arguments: Tuple[PromptArgument, ...] = ()

    @property
    def usage(self) -> str:
        words = [f"<{a.name}>" if a.required else f"[{a.name}]" for a in self.arguments]
        return " ".join([f"/{self.name}"] + words)


def split_prompt_args(text: str, count: int) -> List[str]:
    """Words of ``text`` (shell quoting honoured when it parses) for ``count`` arguments; the last
    argument takes all remaining words."""
    import shlex

    text = text.strip()
    if not text or count <= 0:
        return []
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    if len(words) > count:
        words = words[:count - 1] + [" ".join(words[count - 1:])]
    return words
