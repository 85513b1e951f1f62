"""A small expect-style harness: run a program on a pseudo-terminal and talk to it like a person.

``PtyProcess.spawn(argv, env=..., cwd=...)`` starts the program in a new session whose controlling
terminal is the pty's slave side (so ``/dev/tty`` opens, ``isatty()`` is true, Ctrl-C typed as ``\\x03``
becomes SIGINT from the line discipline, as on a real terminal). ``expect(text)`` reads until the text
(or a compiled regex) appears in the output since the last match, with ANSI escapes removed, and fails
with the whole transcript after a generous timeout; ``send``/``sendline``/``sendcontrol`` type.

Pure standard library (pty, termios, select), no pexpect; Linux and macOS. Not a terminal emulator:
cursor movements are not interpreted, only escape sequences stripped for matching.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from typing import Callable, Dict, List, Optional, Pattern, Sequence, Union

# CSI (with private-mode markers), OSC, charset selection and other two-byte ESC sequences.
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b[=>78DEHMc]")
DEFAULT_TIMEOUT = 30.0


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


class ExpectTimeout(AssertionError):
    pass


def _controlling_tty(name: str) -> Callable[[], None]:
    def make() -> None:  # runs in the child, after setsid (start_new_session=True)
        fd = os.open(name, os.O_RDWR)  # a session leader opening a terminal acquires it (Linux)...
        fcntl.ioctl(fd, termios.TIOCSCTTY, 0)  # ...and BSDs want it asked for explicitly
        os.close(fd)

    return make


class PtyProcess:
    def __init__(self, proc: "subprocess.Popen[bytes]", master: int) -> None:
        self.proc = proc
        self.master = master
        self.raw = b""  # everything read so far
        self._pos = 0  # where the next expect starts looking (in the stripped text)
        self._eof = False

    @classmethod
    def spawn(cls, argv: Sequence[str], *, env: Dict[str, str], cwd: Optional[str] = None,
              stdin: Optional[int] = None, stdout: Optional[int] = None, rows: int = 40,
              cols: int = 160) -> "PtyProcess":
        """``stdin``/``stdout``: a file descriptor or ``subprocess.PIPE`` to use instead of the
        terminal (which stays the controlling terminal, ``/dev/tty``, and stderr)."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        try:
            proc = subprocess.Popen(list(argv), stdin=slave if stdin is None else stdin,
                                    stdout=slave if stdout is None else stdout, stderr=slave, env=env,
                                    cwd=cwd, start_new_session=True,
                                    preexec_fn=_controlling_tty(os.ttyname(slave)), close_fds=True)
        finally:
            os.close(slave)
        return cls(proc, master)

    # -- reading -----------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """Everything the program wrote so far, escapes removed, ``\\r\\n`` as ``\\n``."""
        return strip_ansi(self.raw.decode("utf-8", "replace")).replace("\r\n", "\n")

    def _read_some(self, timeout: float) -> bool:
        """Read what is available within ``timeout``; False at end of output."""
        if self._eof:
            return False
        ready, _, _ = select.select([self.master], [], [], max(0.0, timeout))
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError as exc:  # EIO: the slave side is closed (the program exited)
            if exc.errno != errno.EIO:
                raise
            data = b""
        if not data:
            self._eof = True
            return False
        self.raw += data
        return True

    def expect(self, pattern: Union[str, Pattern[str]], timeout: float = DEFAULT_TIMEOUT) -> str:
        """Wait for ``pattern`` after the previous match; returns the text up to and including it."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text
            if isinstance(pattern, str):
                at = text.find(pattern, self._pos)
                end = at + len(pattern) if at >= 0 else -1
            else:
                m = pattern.search(text, self._pos)
                at, end = (m.start(), m.end()) if m else (-1, -1)
            if at >= 0:
                seen = text[self._pos:end]
                self._pos = end
                return seen
            left = deadline - time.monotonic()
            if left <= 0 or self._eof:
                raise ExpectTimeout(f"did not see {pattern!r} (exited: {self.proc.poll()}); "
                                    f"output since the last match:\n{text[self._pos:]}\n"
                                    f"--- whole transcript ---\n{text}")
            self._read_some(min(left, 0.2))

    def read_to_eof(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._read_some(min(deadline - time.monotonic(), 0.2)):
                return self.text[self._pos:]
        raise ExpectTimeout(f"the program did not finish; transcript:\n{self.text}")

    # -- writing -----------------------------------------------------------------------------------

    def send(self, text: Union[str, bytes]) -> None:
        data = text.encode() if isinstance(text, str) else text
        while data:
            written = os.write(self.master, data)
            data = data[written:]

    def sendline(self, text: str = "") -> None:
        self.send(text + "\r")  # Enter on a terminal is CR; the line discipline makes it NL

    def sendcontrol(self, char: str) -> None:
        """``sendcontrol("c")`` is Ctrl-C, ``"d"`` Ctrl-D."""
        self.send(bytes([ord(char.lower()) & 0x1F]))

    # -- ending ------------------------------------------------------------------------------------

    def wait(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Drain the output (a child blocked on a full pty buffer never exits) and return the exit code."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read_some(0.1)
        code = self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        while self._read_some(0.05):
            pass
        return code

    def close(self) -> None:
        """Kill what is left of the process group this harness started, and close the terminal."""
        if self.proc.poll() is None:  # not reaped yet, so its group id (its pid) is still its own
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            os.close(self.master)
        except OSError:
            pass

    def __enter__(self) -> "PtyProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def lines(text: str) -> List[str]:
    return [line.rstrip() for line in text.split("\n")]
