"""The bash tool's working directory between calls: a ``cd`` in one call carries to the next.

Claude Code keeps the working directory of its shell, not the rest of its state (variables, functions,
options); so does claw. Each call still runs a fresh ``bash -c``; ``Reporter`` prefixes the command with
``trap 'pwd -P >&N' EXIT;``, where ``N`` is the write end of a pipe only claw reads: when bash
exits (``exit 3`` and errors included) it writes its final physical directory there, apart from the
command's own output, so nothing the command prints can pose as the report. A command that cannot
report — it ``exec``s another program, replaces the EXIT trap, closes the descriptor, is killed (timeout,
interrupt) — leaves the directory as it was.

``learn`` checks a report before keeping it: an existing directory inside the workspace roots (the
working directory, ``--add-dir``, ``permissions.additionalDirectories``, symlinks resolved). A directory
outside them, or one that vanished by the next call (``start_dir``), resets the shell to the working
directory, with a note for the model in the tool result.

It does not judge permissions: the policy resolves a bash command's relative redirection targets
against ``ToolContext.shell_cwd`` (the tool-call runner passes it). File tools keep resolving relative
paths against the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, List, Optional, Tuple

from claw.tools.paths import within_any


def _roots(ctx: Any) -> List[str]:
    return [os.path.realpath(os.fspath(r)) for r in (ctx.workspace_roots or (ctx.cwd,))]


def _reset_note(where: str, why: str, ctx: Any) -> str:
    return (f"[the shell's working directory {where} {why}; it was reset to {ctx.cwd}. Only directories "
            f"inside the workspace ({', '.join(_roots(ctx))}) are kept between calls]")


def start_dir(ctx: Any) -> Tuple[Path, Optional[str]]:
    """The directory the next call starts in, and a note when the remembered one had to be dropped."""
    remembered = ctx.shell.cwd
    if remembered is None:
        return Path(ctx.cwd), None
    real = os.path.realpath(os.fspath(remembered))
    if not os.path.isdir(real):
        ctx.shell.cwd = None
        return Path(ctx.cwd), _reset_note(os.fspath(remembered), "no longer exists", ctx)
    if not within_any(real, _roots(ctx)):
        ctx.shell.cwd = None
        return Path(ctx.cwd), _reset_note(real, "is outside the workspace", ctx)
    return Path(real), None


def learn(ctx: Any, reported: Optional[str]) -> Optional[str]:
    """Keep the directory a call ended in (``reported``; None: it could not say). Returns a note for
    the model when the directory was outside the workspace and the shell went back to the working
    directory."""
    if not reported or not os.path.isabs(reported):
        return None
    real = os.path.realpath(reported)
    if not os.path.isdir(real):
        return None
    if not within_any(real, _roots(ctx)):
        ctx.shell.cwd = None
        return _reset_note(real, "is outside the workspace", ctx)
    ctx.shell.cwd = None if real == os.path.realpath(os.fspath(ctx.cwd)) else Path(real)
    return None


class Reporter:
    """The private channel one bash call reports its final directory on: a pipe whose write end the
    child inherits (``pass_fds``). Use ``script`` for the text to run, ``child_started`` once the process
    exists, ``read`` after it exited, ``close`` always."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_inheritable(self.write_fd, True)

    @property
    def pass_fds(self) -> Tuple[int, ...]:
        return (self.write_fd,) if self.write_fd >= 0 else ()

    def script(self, command: str) -> str:
        # On the command's first line, so bash's line numbers in its messages stay those of the command.
        return f"trap 'pwd -P >&{self.write_fd} 2>/dev/null' EXIT; {command}"

    def child_started(self) -> None:
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def read(self) -> Optional[str]:
        """The reported directory, if any. Never blocks: a leftover child may hold the write end."""
        self.child_started()
        os.set_blocking(self.read_fd, False)
        data = b""
        while len(data) < 65536:
            try:
                chunk = os.read(self.read_fd, 65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return None
            if not chunk:
                break
            data += chunk
        # Exactly one line, as pwd prints it; anything else (the command wrote there too) is no report.
        if not data.endswith(b"\n") or data.count(b"\n") != 1:
            return None
        return data[:-1].decode("utf-8", "surrogateescape")

    def close(self) -> None:
        self.child_started()
        if self.read_fd >= 0:
            os.close(self.read_fd)
            self.read_fd = -1
