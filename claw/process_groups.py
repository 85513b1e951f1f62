"""The process groups claw starts (tools, hooks, plugin tools, MCP stdio servers), recorded so that
none outlives claw.

Every tool process runs in its own session (``start_new_session``), so its process group holds it and
everything it forks. ``track`` records a group when it starts; ``settle`` forgets a foreground group
once nothing is left in it (a ``sleep 300 &`` left behind by a finished call keeps it recorded);
``shutdown`` — called on every way out of claw (``claw.cli.main.entry``: success, error, SIGINT,
SIGTERM, SIGHUP) — sends SIGTERM to every recorded group, SIGKILL after ``KILL_GRACE`` seconds to what
is left. Background jobs are spared when the user set ``CLAW_KEEP_BACKGROUND_JOBS=1`` (see
docs/TOOLS.md); such groups are never recorded with the guard either.

When claw itself is killed (``kill -9``) no code of it runs, so two things act without it:
- ``child_setup`` returns a ``preexec_fn`` that sets ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` on Linux
  (through ctypes): the tool's direct child dies with claw. The kernel clears that setting in the
  child's own children (the ``sleep`` that bash forks), hence:
- the guard: a tiny ``python -S`` process started lazily with the first recorded group, in its own
  session, reading "+ PGID" / "- PGID" lines from a pipe whose write end only claw holds (close-on-exec,
  never inherited by tool processes). End of file on that pipe — however claw ended — makes it
  SIGTERM, then SIGKILL, every group still recorded, and exit. A group is forgotten (also by the
  guard) as soon as claw has seen it empty, so a reused process group id is never signalled.

A group is recorded just after its spawn returns: a ``kill -9`` of claw in that instant leaves what
the new process forked at once (the process itself still dies by ``PR_SET_PDEATHSIG``).

Fallback: without prctl (macOS and other non-Linux systems) only the guard acts on ``kill -9``; where
the guard cannot start (no usable ``sys.executable``) the groups are still killed on every orderly exit
but can outlive a ``kill -9`` of claw.

It does not start tool processes (``claw.tools.bash`` does) and installs no signal handlers
(``claw.cli.exit_signals`` does). Nothing here is imported before the first tool process starts.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
KEEP_ENV = "CLAW_KEEP_BACKGROUND_JOBS"
_PR_SET_PDEATHSIG = 1

_GUARD = r"""
import os, signal, sys, time
for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
    signal.signal(s, signal.SIG_IGN)
groups = set()
stream = sys.stdin.buffer
while True:
    try:
        line = stream.readline()
    except Exception:
        line = b""
    if not line:
        break
    op, _, num = line.strip().partition(b" ")
    try:
        pgid = int(num)
    except ValueError:
        continue
    if pgid > 1:
        (groups.add if op == b"+" else groups.discard)(pgid)
def send(sig, which):
    left = []
    for g in which:
        try:
            os.killpg(g, sig)
            left.append(g)
        except OSError:
            pass
    return left
left = send(signal.SIGTERM, groups)
deadline = time.monotonic() + GRACE
while left and time.monotonic() < deadline:
    time.sleep(0.05)
    left = send(0, left)
send(signal.SIGKILL, left)
"""


def keep_background(env: Optional[Dict[str, str]] = None) -> bool:
    """Whether the user asked to keep background jobs running after claw exits."""
    value = (env if env is not None else os.environ).get(KEEP_ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


class _Registry:
    """The recorded groups and the guard's pipe; one per claw process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.groups: Dict[int, bool] = {}  # pgid -> spared at exit (a kept background job)
        self.guard: Any = None  # subprocess.Popen of the guard
        self.pipe: Optional[int] = None  # write end of the guard's stdin
        self.guard_failed = False

    def _send(self, line: str) -> None:
        if self.pipe is None:
            return
        try:
            os.write(self.pipe, line.encode("ascii"))
        except OSError:
            self._close_pipe()

    def _close_pipe(self) -> None:
        if self.pipe is not None:
            try:
                os.close(self.pipe)
            except OSError:
                pass
            self.pipe = None

    def _start_guard(self) -> None:
        if self.guard is not None or self.guard_failed:
            return
        import subprocess

        try:
            self.guard = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _GUARD.replace("GRACE", repr(KILL_GRACE))],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd="/", start_new_session=True, close_fds=True,
            )
        except (OSError, ValueError, TypeError):  # no usable interpreter to run it (see the module doc)
            self.guard_failed = True
            return
        # The write end stays a raw descriptor (close-on-exec, as every pipe Python makes): no buffering.
        self.pipe = os.dup(self.guard.stdin.fileno())
        os.set_inheritable(self.pipe, False)
        self.guard.stdin.close()


_registry = _Registry()


def child_setup() -> Optional[Callable[[], None]]:
    """A ``preexec_fn`` that makes the child die with claw (Linux ``PR_SET_PDEATHSIG``), or None where
    that is not available or would be wrong (a child forked from a thread other than the main one
    would die with that thread)."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def setup() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # claw died before the setting took: do not outlive it
            os._exit(1)

    return setup


_prctl_cache: List[Any] = []


def _prctl() -> Any:
    if not _prctl_cache:
        try:
            import ctypes

            func = ctypes.CDLL(None, use_errno=True).prctl
            func.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
            func.restype = ctypes.c_int
            _prctl_cache.append(func)
        except (OSError, AttributeError, ImportError):
            _prctl_cache.append(None)
    return _prctl_cache[0]


def group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is left in the group. Zombies are ignored: when pid 1 of a
    container does not reap orphans they linger, and they are dead anyway."""
    proc_dir = "/proc"
    if os.path.isdir(os.path.join(proc_dir, "self")):
        try:
            names = os.listdir(proc_dir)
        except OSError:
            names = []
        wanted = str(pgid).encode()
        for name in names:
            if not name.isdigit():
                continue
            try:
                with open(os.path.join(proc_dir, name, "stat"), "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            fields = data[data.rfind(b")") + 2 :].split()
            if len(fields) > 2 and fields[2] == wanted and fields[0] != b"Z":
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def track(pgid: int, *, keep: bool = False) -> None:
    """Record the process group ``pgid`` (a tool process just started with ``start_new_session``).
    ``keep``: a background job the user wants to survive claw; it is not killed at exit."""
    reg = _registry
    with reg.lock:
        for old in [g for g in reg.groups if g != pgid and not group_alive(g)]:
            reg.groups.pop(old, None)
            reg._send(f"- {old}\n")
        reg.groups[pgid] = keep
        if keep:
            return
        reg._start_guard()
        reg._send(f"+ {pgid}\n")


def forget(pgid: int) -> None:
    """Stop tracking ``pgid`` (it is gone, or it is no longer claw's to kill)."""
    reg = _registry
    with reg.lock:
        if reg.groups.pop(pgid, None) is not None:
            reg._send(f"- {pgid}\n")


def settle(pgid: int) -> None:
    """After a foreground call: forget its group if nothing is left in it; a leftover child keeps it
    recorded, to be killed when claw exits."""
    if not group_alive(pgid):
        forget(pgid)


def recorded() -> List[int]:
    """The groups recorded now (for tests and diagnostics)."""
    with _registry.lock:
        return list(_registry.groups)


def terminate(pgids: Iterable[int], grace: Optional[float] = None) -> None:
    """SIGTERM each group, SIGKILL what is left after ``grace`` seconds; forget every group seen gone.
    Blocks for at most ``grace`` seconds plus a short wait after SIGKILL; never raises."""
    grace = KILL_GRACE if grace is None else grace
    left = [g for g in pgids if _signal(g, signal.SIGTERM)]
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = [g for g in left if group_alive(g)]
    for g in left:
        _signal(g, signal.SIGKILL)
    deadline = time.monotonic() + 0.5
    while left and time.monotonic() < deadline:
        time.sleep(0.01)
        left = [g for g in left if group_alive(g)]
    for g in pgids:
        if g not in left:
            forget(g)


def _signal(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def shutdown() -> None:
    """claw is exiting: kill every recorded group except kept background jobs, then let the guard go
    (closing its pipe; it kills whatever is still recorded and exits). Never raises."""
    reg = _registry
    with reg.lock:
        victims = [g for g, keep in reg.groups.items() if not keep]
        for g in [g for g, keep in reg.groups.items() if keep]:
            reg.groups.pop(g, None)
    try:
        terminate(victims)
    except Exception:
        pass
    with reg.lock:
        reg._close_pipe()
