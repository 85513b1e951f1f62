"""The ``bash`` tool: run a command with ``bash -c`` in the working directory.

Input (docs/TOOLS.md): ``command``, ``timeout?`` (milliseconds, default 120000, at most 600000),
``run_in_background?``, ``description?`` (shown to the user, not used).

Foreground: stdin is /dev/null, stdout and stderr are merged in the order written, the process runs
in its own process group, and on timeout, on ``ctx.cancel`` or when the calling task is cancelled the
whole group gets SIGTERM then, after ``KILL_GRACE`` seconds, SIGKILL — children included. The output
is capped at ``MAX_OUTPUT_CHARS`` (the first and last halves kept, with a note saying how much was cut).
A non-zero exit code is reported and makes the result an error.

Background: the command's output goes to a new 0600 file in a verified private directory
(``claw.tools.job_output``; an unsafe directory is an error, never a fallback), the result gives the shell
id (``bash_1``...), pid and file path, and ``[claw: exit code N]`` is appended to the file when the command
ends. The shell is recorded in ``ctx.background`` for ``bash_output`` / ``kill_shell`` / ``/bashes``;
``ctx.background.terminate_all()`` stops them.

Every process group started here is recorded in ``claw.process_groups`` and killed when claw
exits, however it exits — leftovers of a finished foreground call (``sleep 300 & echo x``) included, and
background jobs unless ``CLAW_KEEP_BACKGROUND_JOBS=1``.

A ``cd`` carries over: each call starts where the previous foreground call ended, inside the workspace
(``claw.tools.shell_cwd``). The environment is ``ctx.env`` as given; variables do not carry over.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolInputError, ToolResult, ToolSpec
from claw.tools.schema import check_input

DEFAULT_TIMEOUT_MS = 120_000
MAX_TIMEOUT_MS = 600_000
MAX_OUTPUT_CHARS = 30_000
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
DRAIN_GRACE = 1.0  # seconds to keep reading after bash exits while a leftover child holds the pipe

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "The command to run with bash -c."},
        "timeout": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_TIMEOUT_MS,
            "description": f"Timeout in milliseconds (default {DEFAULT_TIMEOUT_MS}, at most {MAX_TIMEOUT_MS}).",
        },
        "run_in_background": {
            "type": "boolean",
            "description": "Start the command and return at once with a shell id; read its new output "
            "with bash_output and stop it with kill_shell.",
        },
        "description": {
            "type": "string",
            "description": "A short description of what the command does, for the user (5-10 words).",
        },
    },
    "required": ["command"],
    "additionalProperties": False,
}


class OutputCollector:
    """Keeps the first and last ``limit // 2`` bytes of a stream and counts what it drops."""

    def __init__(self, limit: int = MAX_OUTPUT_CHARS) -> None:
        self.half = max(1, limit // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * self.half:
                del self.tail[: len(self.tail) - self.half]

    @property
    def dropped(self) -> int:
        kept_tail = min(len(self.tail), self.half)
        return self.total - len(self.head) - kept_tail

    def text(self) -> str:
        head = bytes(self.head)
        tail = bytes(self.tail[-self.half :]) if self.tail else b""
        if self.dropped <= 0:
            return (head + bytes(self.tail)).decode("utf-8", "replace")
        return (
            head.decode("utf-8", "replace")
            + f"\n\n[... output truncated: {self.dropped:,} of {self.total:,} bytes omitted from the "
            "middle ...]\n\n"
            + tail.decode("utf-8", "replace")
        )


class BashTool(Tool):
    spec = ToolSpec(
        name="bash",
        description=(
            "Run a shell command with bash -c (stdin is empty). The working directory carries over between "
            "calls (a cd stays in effect, inside the workspace); variables and other shell state do not. "
            f"Default timeout {DEFAULT_TIMEOUT_MS // 1000} s, at most "
            f"{MAX_TIMEOUT_MS // 1000} s. Output (stdout and stderr merged) is capped at "
            f"{MAX_OUTPUT_CHARS} characters. Use run_in_background for servers and long jobs. Prefer "
            "read_file, glob_search and grep_search over cat, find and grep."
        ),
        input_schema=SCHEMA,
        permission=PermissionLevel.DANGER_FULL_ACCESS,
        read_only=False,
    )

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        data = check_input(SCHEMA, tool_input)
        if not data["command"].strip():
            raise ToolInputError("'command' must not be empty")
        return data

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        if ctx.cancelled:
            return ToolResult.error("Interrupted before the command started.", interrupted=True)
        from claw.tools.shell_cwd import start_dir

        cwd, note = start_dir(ctx)
        if tool_input.get("run_in_background"):
            result = self._start_background(tool_input["command"], ctx, cwd)
        else:
            timeout_ms = tool_input.get("timeout") or DEFAULT_TIMEOUT_MS
            result = await run_foreground(tool_input["command"], ctx, timeout_ms / 1000.0, cwd)
        if note:
            result.content = f"{note}\n{result.content}"
        return result

    def _start_background(self, command: str, ctx: ToolContext, cwd: Path) -> ToolResult:
        import secrets
        import subprocess

        from claw.tools.base import BackgroundShell

        from claw import process_groups
        from claw.tools.job_output import UnsafeOutputDir, create_log, job_output_dir

        try:
            out_dir = job_output_dir(ctx)
        except UnsafeOutputDir as exc:
            return ToolResult.error(
                f"Refusing to start the background job: its output directory is not private ({exc}). "
                "Remove or fix that directory (it must be yours, a real directory, mode 700).")
        except OSError as exc:
            return ToolResult.error(f"Cannot create the output directory: {exc.strerror or exc}")
        job_id = ctx.background.next_id()
        output = out_dir / f"{job_id}-{secrets.token_hex(4)}.log"
        keep = process_groups.keep_background(ctx.env)
        wrapper = 'bash -c "$1"; code=$?; printf "\\n[claw: exit code %d]\\n" "$code"; exit "$code"'
        try:
            fd = create_log(out_dir, output.name)
        except OSError as exc:
            return ToolResult.error(f"Cannot create the output file {output}: {exc.strerror or exc}")
        try:
            with os.fdopen(fd, "wb") as sink:
                argv, env, fds = _confined(ctx, command, ["bash", "-c", wrapper, "claw-bg", command], cwd)
                try:
                    proc = subprocess.Popen(
                        argv,
                        cwd=str(cwd),
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        preexec_fn=None if keep else process_groups.child_setup(),
                        pass_fds=fds,
                    )
                finally:
                    for fd in fds:
                        os.close(fd)
        except OSError as exc:
            return ToolResult.error(f"Could not start bash: {exc.strerror or exc}")
        process_groups.track(proc.pid, keep=keep)
        ctx.background.add(BackgroundShell(id=job_id, command=command, proc=proc, output=output, cwd=str(cwd),
                                           started=time.time(), keep=keep))
        return ToolResult(
            f"Started in the background as shell {job_id} (pid {proc.pid}).\n"
            f"Output file: {output}\n"
            f"Read its new output with bash_output (bash_id \"{job_id}\"); stop it with kill_shell "
            f"(shell_id \"{job_id}\"). The line \"[claw: exit code N]\" is appended to the file when the "
            "command finishes.",
            metadata={"job_id": job_id, "shell_id": job_id, "pid": proc.pid, "output_file": str(output),
                      "background": True},
        )


class _BashProtocol(asyncio.SubprocessProtocol):
    """Feeds the merged output to a collector and reports exit and end-of-output separately: asyncio's
    own ``Process.wait()`` waits for the pipes too, which a leftover child can hold open forever."""

    def __init__(self, sink: OutputCollector, loop: asyncio.AbstractEventLoop) -> None:
        self.sink = sink
        self.exited: "asyncio.Future[None]" = loop.create_future()
        self.eof: "asyncio.Future[None]" = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.sink.feed(data)

    def pipe_connection_lost(self, fd: int, exc: Optional[Exception]) -> None:
        if not self.eof.done():
            self.eof.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


def _confined(ctx: ToolContext, command: str, argv: List[str], cwd: Path) -> Tuple[List[str], Any, Tuple[int, ...]]:
    """``argv`` in the run's sandbox when it confines ``command`` (``claw.tools.sandbox``), its
    environment, and the fds to pass to the child (the caller closes them once it started)."""
    if ctx.sandbox is None:
        return argv, ctx.env, ()
    return ctx.sandbox.wrap(command, argv, str(cwd), ctx.env)


def _group_alive(pgid: int) -> bool:
    from claw.process_groups import group_alive

    return group_alive(pgid)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def kill_group(pgid: int, exited: "asyncio.Future[None]", grace: Optional[float] = None) -> None:
    """SIGTERM the process group ``pgid``; SIGKILL what is left after ``grace`` seconds (default
    ``KILL_GRACE``). ``exited`` completes when the group leader has exited."""
    if grace is None:
        grace = KILL_GRACE
    _signal_group(pgid, signal.SIGTERM)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while loop.time() < deadline:
        if exited.done():
            if not _group_alive(pgid):
                return
            await asyncio.sleep(0.02)
        else:
            await asyncio.wait({exited}, timeout=0.05)
    _signal_group(pgid, signal.SIGKILL)
    await asyncio.wait({exited}, timeout=grace)


async def run_foreground(command: str, ctx: ToolContext, timeout: float, cwd: Optional[Path] = None
                         ) -> ToolResult:
    """Run ``command`` in ``cwd`` (default ``ctx.cwd``) and learn the directory it ends in
    (``claw.tools.shell_cwd``)."""
    from claw.tools.shell_cwd import Reporter

    reporter = Reporter()
    try:
        result = await _run_foreground(reporter, command, ctx, timeout, cwd or Path(ctx.cwd))
    finally:
        reporter.close()
    return result


async def _run_foreground(reporter: Any, command: str, ctx: ToolContext, timeout: float, cwd: Path
                          ) -> ToolResult:
    from claw import process_groups
    from claw.tools.shell_cwd import learn

    loop = asyncio.get_running_loop()
    started = time.monotonic()
    sink = OutputCollector()
    # Shielded: a cancellation that lands while the pipes are being connected (bash may already be
    # running and forking) must still kill the whole group, not only bash as asyncio would.
    try:
        argv, env, fds = _confined(ctx, command, ["bash", "-c", reporter.script(command)], cwd)
    except OSError as exc:
        return ToolResult.error(f"Could not start bash: {exc}")
    creating = asyncio.ensure_future(
        loop.subprocess_exec(
            lambda: _BashProtocol(sink, loop),
            *argv,
            cwd=str(cwd),
            env=env,
            pass_fds=reporter.pass_fds + fds,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=process_groups.child_setup(),
        )
    )
    try:
        transport, protocol = await asyncio.shield(creating)
    except asyncio.CancelledError:
        try:
            transport, protocol = await creating
        except Exception:
            raise asyncio.CancelledError() from None
        process_groups.track(transport.get_pid())
        try:
            await kill_group(transport.get_pid(), protocol.exited)
        finally:
            transport.close()
            process_groups.settle(transport.get_pid())
        raise
    except OSError as exc:
        return ToolResult.error(f"Could not start bash: {exc.strerror or exc}")
    finally:
        for fd in fds:
            os.close(fd)
    reporter.child_started()
    pgid = transport.get_pid()  # start_new_session: the group id is the leader's pid
    process_groups.track(pgid)  # killed at claw's exit if anything is still left in it then
    watched: List["asyncio.Future[Any]"] = [protocol.exited]
    cancel_waiter: Optional["asyncio.Future[Any]"] = None
    if ctx.cancel is not None:
        cancel_waiter = asyncio.ensure_future(ctx.cancel.wait())
        watched.append(cancel_waiter)
    timed_out = interrupted = leftover = False
    try:
        done, _ = await asyncio.wait(watched, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if protocol.exited not in done:
            if cancel_waiter is not None and cancel_waiter in done:
                interrupted = True
            else:
                timed_out = True
            await kill_group(pgid, protocol.exited)
        if not protocol.eof.done():
            await asyncio.wait({protocol.eof}, timeout=DRAIN_GRACE)
            leftover = not protocol.eof.done()  # a child still holds the output pipe open
    except asyncio.CancelledError:
        await kill_group(pgid, protocol.exited)
        raise
    finally:
        if cancel_waiter is not None and not cancel_waiter.done():
            cancel_waiter.cancel()
        transport.close()
        process_groups.settle(pgid)
    code = transport.get_returncode()
    elapsed_ms = int((time.monotonic() - started) * 1000)
    text = sink.text().rstrip("\n")
    notes = []
    if timed_out:
        notes.append(f"[command timed out after {timeout * 1000:.0f} ms; its process group was killed]")
    elif interrupted:
        notes.append("[command interrupted; its process group was killed]")
    elif code:
        notes.append(f"[exit code {code}]")
    if leftover:
        notes.append(
            "[a background process started by the command still holds its output; later output is not "
            "shown — use run_in_background for long-running processes]"
        )
    if not (timed_out or interrupted):
        moved = learn(ctx, reporter.read())
        if moved:
            notes.append(moved)
    body = text if text else "(no output)"
    if notes:
        body += "\n" + "\n".join(notes)
    meta = {
        "exit_code": code,
        "timed_out": timed_out,
        "interrupted": interrupted,
        "duration_ms": elapsed_ms,
        "output_bytes": sink.total,
        "truncated_bytes": max(0, sink.dropped),
    }
    return ToolResult(body, is_error=bool(timed_out or interrupted or code), metadata=meta)
