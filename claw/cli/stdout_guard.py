"""While claw serves a host over its own stdout, nothing but the protocol may reach that stream.

``StdoutGuard`` (a context manager) gives the protocol a private duplicate of file descriptor 1 and
points fd 1 and ``sys.stdout`` at stderr, so a stray print, a child process or C code writing to fd 1
cannot corrupt the stream. Deliberately not here: writing the protocol (claw.cli.transport).
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any, Optional


class StdoutGuard:
    """While serving the process's real stdout, everything but the protocol goes to stderr: the
    transport writes to a private duplicate of file descriptor 1, fd 1 itself points at stderr (so a
    child process or C code writing to it cannot corrupt the stream), and ``sys.stdout`` is stderr (so
    a stray print cannot). With any other stream (tests), nothing is redirected."""

    def __init__(self, stdout: IO[Any], stderr: IO[str]) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self._fd = -1
        self._saved_fd: Optional[int] = None
        self._protocol: Optional[IO[bytes]] = None

    def __enter__(self) -> IO[Any]:
        if self.stdout is not sys.stdout:
            return self.stdout
        sys.stdout = self.stderr
        try:
            self.stdout.flush()
            self._fd = self.stdout.fileno()
            self._saved_fd = os.dup(self._fd)  # not inherited by child processes
            os.dup2(self.stderr.fileno(), self._fd)
        except (AttributeError, OSError, ValueError):  # no real descriptor: the object swap must do
            if self._saved_fd is not None:
                os.close(self._saved_fd)
                self._saved_fd = None
            return self.stdout
        self._protocol = os.fdopen(self._saved_fd, "wb", buffering=0, closefd=False)
        return self._protocol

    def __exit__(self, *exc: object) -> None:
        sys.stdout = self.stdout
        if self._saved_fd is not None:
            try:
                os.dup2(self._saved_fd, self._fd)
            finally:
                os.close(self._saved_fd)
                self._saved_fd = None
