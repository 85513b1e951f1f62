"""The stdio transport: an MCP server as a child process speaking newline-delimited JSON.

The server is started with its configured command, args and cwd, with the environment the caller
passes (the run's effective environment: settings ``env``, proxy and CA variables) plus the entry's
own ``env``, in its own process group (``start_new_session``) so that shutting it down also stops
whatever it spawned; the group is recorded with ``claw.process_groups`` (and the server dies with
claw), so a ``kill -9`` of claw leaves neither the server nor what it forked. stdout carries the protocol (``claw.proto.ndjson`` framing); a line that is not
JSON is noted in the diagnostics and skipped. stderr is read continuously into a bounded ring
buffer (never into memory without bound, never onto claw's own terminal), shown when the server
fails.

Shutdown, each step bounded: close stdin and wait, then SIGTERM to the process group and wait, then
SIGKILL to the group (the spec's stdio shutdown sequence). ``close(graceful=False)`` (a server that
never finished its handshake) skips the wait after closing stdin.

Deliberately not here: restarting a server (the client decides), Windows job objects.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any, Dict, Mapping, Optional, Sequence

from claw.mcp.transport import Transport, mcp_error

READ_CHUNK = 65536
EXIT_WAIT = 2.0  # seconds after closing stdin, and again after SIGTERM


class StdioTransport(Transport):
    kind = "stdio"

    def __init__(self, command: str, args: Sequence[str] = (), *, env: Optional[Mapping[str, str]] = None,
                 cwd: Optional[str] = None, name: str = "") -> None:
        super().__init__()
        self.command = command
        self.args = list(args)
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self.name = name
        self.process: Optional[asyncio.subprocess.Process] = None
        self._tasks: list = []
        self._write_lock: Optional[asyncio.Lock] = None
        self._closing = False
        self._closed_reported = False

    def describe(self) -> str:
        return " ".join([self.command] + self.args)

    async def start(self) -> None:
        from claw import process_groups  # the server's group dies with claw, kill -9 included

        executable = self._resolve()
        try:
            self.process = await asyncio.create_subprocess_exec(
                executable, *self.args,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                cwd=self.cwd, env=self.env, start_new_session=True, preexec_fn=process_groups.child_setup(),
            )
        except OSError as exc:
            raise mcp_error(f"cannot start {self.command!r}: {exc.strerror or exc}", "mcp_start",
                            hint="check the server's command and cwd") from None
        process_groups.track(self.process.pid)
        self._write_lock = asyncio.Lock()
        self._tasks = [asyncio.ensure_future(self._read_stdout()), asyncio.ensure_future(self._read_stderr())]

    def _resolve(self) -> str:
        if self.cwd is not None and not os.path.isdir(self.cwd):
            raise mcp_error(f"cwd {self.cwd!r} is not a directory", "mcp_start",
                            hint="fix the server's \"cwd\"")
        if os.sep in self.command:
            path = self.command if os.path.isabs(self.command) else os.path.join(self.cwd or os.getcwd(),
                                                                               self.command)
            if not os.path.isfile(path):
                raise mcp_error(f"command not found: {self.command}", "mcp_start",
                                hint="check the server's \"command\"")
            return path
        found = which(self.command, self.env.get("PATH", os.defpath))
        if found is None:
            raise mcp_error(f"command not found: {self.command!r} (searched PATH)", "mcp_start",
                            hint="install it, give its full path, or set PATH in settings \"env\"")
        return found

    async def send(self, message: dict) -> None:
        from claw.proto.ndjson import encode_line

        process = self.process
        if process is None or process.stdin is None or self._closing:
            raise mcp_error("the server process is not running", "mcp_closed")
        data = encode_line(message)
        assert self._write_lock is not None
        async with self._write_lock:
            try:
                process.stdin.write(data)
                await process.stdin.drain()
            except (ConnectionError, BrokenPipeError, RuntimeError) as exc:
                raise mcp_error(f"cannot write to the server: {exc.__class__.__name__}", "mcp_closed",
                                hint=self._stderr_hint()) from None

    async def _read_stdout(self) -> None:
        from claw.proto.ndjson import NDJSONDecoder, NDJSONError

        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        decoder = NDJSONDecoder()
        reason: Optional[str] = None
        try:
            while True:
                chunk = await stdout.read(READ_CHUNK)
                if not chunk:
                    break
                data = chunk
                while True:
                    try:
                        values = decoder.feed(data)
                    except NDJSONError as exc:
                        self.diagnostics.note(f"[claw] stdout: {exc.message}: {exc.excerpt!r}")
                        self._deliver(exc.values)
                        data = b""
                        continue
                    self._deliver(values)
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a read failure ends the session, reported below
            reason = f"reading its output failed: {exc}"
        await self._report_exit(reason)

    def _deliver(self, values: list) -> None:
        for value in values:
            try:
                self.on_message(value)
            except Exception as exc:  # noqa: BLE001 - the session isolates its own failures
                self.diagnostics.note(f"[claw] message handling failed: {exc}")

    async def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        stderr = self.process.stderr
        try:
            while True:
                chunk = await stderr.read(READ_CHUNK)
                if not chunk:
                    break
                self.diagnostics.feed_stderr(chunk)
        except (asyncio.CancelledError, Exception):
            pass
        self.diagnostics.flush()

    async def _report_exit(self, reason: Optional[str]) -> None:
        if self._closed_reported:
            return
        self._closed_reported = True
        code = None
        if self.process is not None:
            try:
                code = await asyncio.wait_for(self.process.wait(), 1.0)
            except (asyncio.TimeoutError, Exception):
                code = self.process.returncode
        if self._closing:
            return
        # give stderr a moment to deliver the last words of a crashing server
        await asyncio.sleep(0.05)
        if reason is None:
            reason = "the server closed its output" if code is None else _exit_text(code)
        self.on_closed(mcp_error(reason, "mcp_closed", hint=self._stderr_hint()))

    def _stderr_hint(self) -> Optional[str]:
        tail = self.diagnostics.tail(3)
        return f"its stderr ends with: {tail}" if tail else None

    async def close(self, graceful: bool = True) -> None:
        self._closing = True
        process = self.process
        if process is None:
            return
        try:
            if process.returncode is None:
                if process.stdin is not None:
                    try:
                        process.stdin.close()
                    except Exception:  # noqa: BLE001
                        pass
                if not graceful or not await _waited(process, EXIT_WAIT):
                    _signal_group(process.pid, signal.SIGTERM)
                    if not await _waited(process, EXIT_WAIT):
                        _signal_group(process.pid, signal.SIGKILL)
                        await _waited(process, EXIT_WAIT)
            else:
                # the leader is gone; children it left in the group get the same treatment
                _signal_group(process.pid, signal.SIGTERM)
        finally:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
            if process.stdin is not None:
                try:
                    process.stdin.close()
                except Exception:  # noqa: BLE001
                    pass
            from claw import process_groups

            process_groups.settle(process.pid)  # a child it left keeps the group recorded, killed at exit

    def exit_code(self) -> Optional[int]:
        return None if self.process is None else self.process.returncode


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the server was killed by {name}"
    return f"the server exited with code {code}"


async def _waited(process: Any, seconds: float) -> bool:
    try:
        await asyncio.wait_for(process.wait(), seconds)
        return True
    except asyncio.TimeoutError:
        return False


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def which(command: str, path: str) -> Optional[str]:
    """``shutil.which`` for POSIX without importing shutil (and with it bz2 and lzma): the first
    executable file named ``command`` in the ``path`` directories."""
    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory or os.curdir, command)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def server_env(base: Mapping[str, str], extra: Mapping[str, str]) -> Dict[str, str]:
    """The environment a stdio server starts with: ``base`` (the run's effective environment)
    overlaid with the entry's ``env``."""
    env = dict(base)
    env.update(extra)
    return env
