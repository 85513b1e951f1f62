"""``bash_output`` and ``kill_shell``: the model's handle on the background shells ``bash`` started
with ``run_in_background`` (Claude Code's ``BashOutput``/``TaskOutput`` and ``TaskStop``/``KillShell``;
the ids may be given as ``bash_id``, ``task_id`` or, for ``kill_shell``, ``shell_id``).

``bash_output`` returns what the shell wrote since the previous read (a line still being written
waits for its end while the shell runs), its status (running, completed, failed, killed) and, once
it ended, its exit code. ``filter`` is a regular expression (Python's ``re``): only matching lines are
shown, and the others are consumed all the same. ``block`` waits (up to ``timeout`` ms) for the shell
to end first. The output file is opened without following symlinks; it lives in the private directory
of ``claw.tools.job_output``.

``kill_shell`` stops a shell's whole process group (SIGTERM, SIGKILL two seconds later). It needs no
approval in any mode, read-only included: it only reaches processes this run started with a command
that was approved, and stopping them gives the model no new power.

Neither starts processes nor knows other runs' shells: ids are those of ``ToolContext.background``.
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple  # noqa: F401

from claw.tools.base import BackgroundShell, PermissionLevel, Tool, ToolContext, ToolInputError, ToolResult, ToolSpec
from claw.tools.schema import check_input

MAX_OUTPUT_CHARS = 30_000
MAX_READ_BYTES = 8 * 1024 * 1024  # per call; the rest stays for the next read
DEFAULT_BLOCK_MS = 30_000
MAX_BLOCK_MS = 600_000
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)

_ID_PROPS = {
    "bash_id": {"type": "string", "description": "The id of the background shell (bash_1, ...)."},
    "task_id": {"type": "string", "description": "Same as bash_id (Claude Code's TaskOutput/TaskStop name)."},
    "shell_id": {"type": "string", "description": "The id of the background shell (bash_1, ...)."},
}

OUTPUT_SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": dict(_ID_PROPS, **{
        "filter": {"type": "string", "description": "A regular expression: only matching lines of the new "
                   "output are shown (the others are consumed too)."},
        "block": {"type": "boolean", "description": "Wait for the shell to finish first (default false)."},
        "timeout": {"type": "integer", "minimum": 0, "maximum": MAX_BLOCK_MS,
                    "description": f"With block: the longest wait in ms (default {DEFAULT_BLOCK_MS})."},
    }),
    "additionalProperties": False,
}

KILL_SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {key: _ID_PROPS[key] for key in ("shell_id", "task_id")},
    "additionalProperties": False,
}


def _shell_id(data: Mapping[str, Any], first: str = "bash_id") -> str:
    for key in ("bash_id", "task_id", "shell_id"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise ToolInputError(f"give the shell's id (bash_1, ...) as '{first}'")


def _unknown(shell_id: str, ctx: ToolContext) -> ToolResult:
    known = ", ".join(s.id for s in ctx.background.all()) or "none"
    return ToolResult.error(f"No background shell {shell_id!r} in this session (shells: {known}).")


def _exit_marker(code: Optional[int]) -> bytes:
    return f"\n[claw: exit code {code}]\n".encode() if code is not None else b""


def read_new(shell: BackgroundShell, ended: bool) -> Tuple[bytes, int]:
    """The bytes after ``shell.offset`` that may be shown now, and the new offset: up to the last
    complete line while the shell runs, everything (minus claw's exit-code line) once it ended; at
    most ``MAX_READ_BYTES``, the rest for the next read."""
    fd = os.open(str(shell.output), os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    try:
        end = os.fstat(fd).st_size
        if ended:
            marker = _exit_marker(shell.exit_code)
            if marker and end >= len(marker):
                os.lseek(fd, end - len(marker), os.SEEK_SET)
                if os.read(fd, len(marker)) == marker:
                    end -= len(marker)
        capped = end - shell.offset > MAX_READ_BYTES
        if capped:
            end = shell.offset + MAX_READ_BYTES
        if end <= shell.offset:
            return b"", shell.offset
        os.lseek(fd, shell.offset, os.SEEK_SET)
        chunks: List[bytes] = []
        left = end - shell.offset
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if not ended or capped:
        cut = data.rfind(b"\n")
        if cut >= 0:
            data = data[: cut + 1]
        elif not capped:
            data = b""  # a line still being written: shown once it ends
    return data, shell.offset + len(data)


class BashOutputTool(Tool):
    spec = ToolSpec(
        name="bash_output",
        description=(
            "Read the new output of a background shell started with bash run_in_background (only what "
            "was written since the last read), with its status (running, completed, failed, killed) and "
            "exit code. Optional 'filter': a regular expression; only matching lines are shown (the "
            "others are consumed). Optional 'block': wait for the shell to finish (up to 'timeout' ms)."
        ),
        input_schema=OUTPUT_SCHEMA,
        permission=PermissionLevel.READ_ONLY,
        read_only=True,
    )

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        data = check_input(OUTPUT_SCHEMA, tool_input)
        _shell_id(data)
        pattern = data.get("filter")
        if pattern:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ToolInputError(f"'filter' is not a valid regular expression: {exc}") from None
        return data

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        shell = ctx.background.get(_shell_id(tool_input))
        if shell is None:
            return _unknown(_shell_id(tool_input), ctx)
        if tool_input.get("block") and shell.proc.poll() is None:
            timeout = tool_input.get("timeout")
            deadline = asyncio.get_running_loop().time() + (DEFAULT_BLOCK_MS if timeout is None else timeout) / 1000
            while shell.proc.poll() is None and asyncio.get_running_loop().time() < deadline and not ctx.cancelled:
                await asyncio.sleep(0.05)
        status = shell.status
        ended = status != "running"
        try:
            data, shell.offset = read_new(shell, ended)
        except OSError as exc:
            return ToolResult.error(f"Cannot read the output of {shell.id} ({shell.output}): {exc.strerror or exc}")
        text = data.decode("utf-8", "replace")
        lines = text.splitlines()
        note = ""
        pattern = tool_input.get("filter")
        if pattern:
            matcher = re.compile(pattern)
            kept = [line for line in lines if matcher.search(line)]
            note = f" ({len(kept)} of {len(lines)} new lines match the filter {pattern!r})"
            lines = kept
        from claw.tools.bash import OutputCollector

        sink = OutputCollector(MAX_OUTPUT_CHARS)
        sink.feed("\n".join(lines).encode("utf-8"))
        shown = sink.text()
        code = shell.exit_code
        head = [f"<status>{status}</status>"]
        if code is not None:
            head.append(f"<exit_code>{code}</exit_code>")
        body = f"<output>\n{shown}\n</output>" if shown else f"<output>(no new output{note})</output>"
        if shown and note:
            head.append(f"<note>{note.strip(' ()')}</note>")
        return ToolResult("\n".join(head + [body]), metadata={
            "shell_id": shell.id, "status": status, "exit_code": code, "new_bytes": len(data)})


class KillShellTool(Tool):
    spec = ToolSpec(
        name="kill_shell",
        description="Stop a background shell started with bash run_in_background (its whole process group).",
        input_schema=KILL_SCHEMA,
        permission=PermissionLevel.READ_ONLY,
        read_only=False,
    )

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        data = check_input(KILL_SCHEMA, tool_input)
        _shell_id(data, "shell_id")
        return data

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        shell = ctx.background.get(_shell_id(tool_input))
        if shell is None:
            return _unknown(_shell_id(tool_input), ctx)
        if shell.proc.poll() is not None:
            return ToolResult(f"Shell {shell.id} already ended ({shell.status}, exit code {shell.exit_code}).",
                              metadata={"shell_id": shell.id, "status": shell.status, "command": shell.command})
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, ctx.background.kill, shell.id)
        return ToolResult(f"Killed shell {shell.id} ({shell.command}).", metadata={
            "shell_id": shell.id, "task_id": shell.id, "task_type": "local_bash", "status": shell.status,
            "command": shell.command})
