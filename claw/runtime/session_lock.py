"""One writer per session file: an advisory ``flock`` held while a run appends to a session.

``open_locked(path)`` opens a session file for appending (``O_APPEND``, ``O_CLOEXEC``, mode 0600) and
takes ``flock(LOCK_EX | LOCK_NB)`` on it; a second process that tries the same gets ``SessionInUse``
at once (exit 1, ``error.kind`` ``session_in_use``, a hint naming ``--fork-session``). The lock
belongs to the open file description: closing the descriptor, or the process dying in any way
(``kill -9`` included), releases it, so a stale lock never blocks. ``O_CLOEXEC`` keeps the descriptor
(and with it the lock) out of the tools' child processes, which may outlive claw.

Where ``fcntl`` does not exist (Windows) the file is opened without a lock: concurrent writers are
then not prevented (docs/SESSIONS.md says so). The lock is advisory: it keeps claw processes apart,
not an editor or a script that ignores it.

It deliberately does not read, write or repair records; claw.runtime.session_store does.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from claw.errors import SessionInUse

try:  # POSIX only
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]

LOCKING_AVAILABLE = _fcntl is not None


def session_in_use(path: Path, session_id: str) -> SessionInUse:
    return SessionInUse(
        f"session {session_id} is in use by another claw process ({path})",
        hint=f"wait for the other run to finish, or branch off it with --resume {session_id} --fork-session",
    )


def open_locked(path: Path, session_id: str) -> int:
    """An ``O_APPEND`` descriptor on ``path`` (created 0600 if missing) holding the session's lock.

    Raises ``SessionInUse`` when another process holds it, ``OSError`` when the file cannot be opened.
    """
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        lock(fd)
    except BlockingIOError:
        os.close(fd)
        raise session_in_use(path, session_id) from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def lock(fd: int) -> None:
    """``flock(fd, LOCK_EX | LOCK_NB)``; ``BlockingIOError`` when another open file holds it.

    A file system that does not support ``flock`` (some network mounts) is treated as unlocked rather
    than making sessions unusable there.
    """
    if _fcntl is None:
        return
    try:
        _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
    except BlockingIOError:
        raise
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            raise BlockingIOError(exc.errno, exc.strerror) from None
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            return
        raise
