"""The REPL's own shell line and path completion: ``!command`` runs a command for the user (not the
model) and keeps its output for the next prompt; ``@path`` completes file names.

``!command`` is the user's, typed at the prompt, so no permission rule applies to it: it runs with
bash (``/bin/sh`` without one) in the run's working directory and environment (the one tools get),
in a process group of its own that Ctrl-C ends, bounded by ``SHELL_TIMEOUT``. What it printed is
shown, and given to the model with the next prompt as ``<bash-input>``/``<bash-stdout>``/
``<bash-stderr>`` blocks (Claude Code's bash mode), capped at ``CONTEXT_CHARS``.

Deliberately not here: the model's bash tool (claw.tools.bash) and the prompt loop (claw.cli.repl).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Mapping, Tuple

SHELL_TIMEOUT = 120.0
CONTEXT_CHARS = 30_000


async def run_shell_line(command: str, *, cwd: str, env: Mapping[str, str],
                         timeout: float = SHELL_TIMEOUT) -> Tuple[str, str, int]:
    """(stdout, stderr, exit code) of ``command``; cancelling the call kills its process group.
    A command still running after ``timeout`` is killed and reported with exit code 124."""
    import asyncio
    import shutil
    import signal

    shell = shutil.which("bash", path=env.get("PATH")) or "/bin/sh"
    proc = await asyncio.create_subprocess_exec(
        shell, "-c", command, cwd=cwd, env=dict(env), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        return "", f"killed after {timeout:g}s", 124
    return out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), proc.returncode or 0


def context_block(command: str, stdout: str, stderr: str) -> str:
    """The command and its output as the model will read them before the next prompt."""
    def cap(text: str) -> str:
        if len(text) <= CONTEXT_CHARS:
            return text
        return text[:CONTEXT_CHARS] + f"\n[{len(text) - CONTEXT_CHARS} more characters not shown]"

    return (f"<bash-input>{command}</bash-input>\n<bash-stdout>{cap(stdout.rstrip())}</bash-stdout>"
            f"<bash-stderr>{cap(stderr.rstrip())}</bash-stderr>")


def complete_path(token: str, cwd: str, limit: int = 200) -> List[str]:
    """Completions of an ``@path`` token (``@src/ma`` -> ``@src/main.py``, directories with ``/``),
    relative to ``cwd``; hidden entries only when the typed part starts with a dot."""
    if not token.startswith("@"):
        return []
    typed = token[1:]
    head, _, prefix = typed.rpartition("/")
    base = Path(os.path.expanduser(head)) if head else Path(".")
    directory = base if base.is_absolute() else Path(cwd) / base
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    out = []
    for name in names:
        if not name.startswith(prefix) or (name.startswith(".") and not prefix.startswith(".")):
            continue
        shown = f"{head}/{name}" if head else name
        if (directory / name).is_dir():
            shown += "/"
        out.append("@" + shown)
        if len(out) >= limit:
            break
    return out
