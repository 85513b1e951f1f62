"""The credential store: ``$CLAW_CONFIG_HOME/credentials.json`` (default ``~/.claw/credentials.json``).

Shape (contract): ``{"oauth": {"accessToken", "refreshToken", "expiresAt" (epoch ms), "scopes"}, ...}``;
claw owns only the ``oauth`` key and keeps every other key as it found it.

Writes are atomic and private: the whole object goes to a new temporary file in the same directory,
created with mode 0600, fsynced, then ``os.replace``d over the old one (a symlinked file is replaced at
its target). The directory is created 0700 when missing. A file that cannot be read or parsed is never
overwritten (ConfigError naming the file, never its content).

Concurrency: read-modify-write cycles run under an exclusive lock on a sibling ``credentials.json.lock``
(``fcntl.flock``; ``msvcrt.locking`` on Windows). The lock is advisory and held only by claw; readers
need no lock because the rename is atomic. ``locked()`` blocks (polling, bounded); ``alocked()`` is the
asyncio twin that never blocks the event loop. Callers that refresh tokens re-read the file under the
lock before deciding to refresh (see claw.auth.refresh).

Deliberately not here: token refresh, printing, any network.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from typing import Any, AsyncIterator, Dict, Iterator, Mapping, Optional

from claw.auth import defaults
from claw.auth.oauth import TokenSet
from claw.errors import ClawError, ConfigError

FILE_MODE = 0o600
DIR_MODE = 0o700
LOCK_TIMEOUT = 60.0
_POLL = 0.02


def credentials_path(env: Mapping[str, str], cwd: Optional[str] = None) -> str:
    """``$CLAW_CONFIG_HOME/credentials.json`` (same config-home rules as the settings)."""
    from claw.config.sources import config_home

    return os.path.join(config_home(env, cwd or os.getcwd()), defaults.CREDENTIALS_FILE)


class _FileLock:
    """An exclusive advisory lock on one file, taken without blocking (callers poll)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: Optional[int] = None

    def try_acquire(self) -> bool:
        if self._fd is None:
            try:
                os.makedirs(os.path.dirname(self.path) or ".", mode=DIR_MODE, exist_ok=True)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
            except OSError as exc:
                raise ClawError(f"cannot create the lock file {self.path}: {exc.strerror or exc}",
                                hint="check that the config directory is writable by you",
                                kind="credentials_write", failure_class="runtime_io") from None
        try:
            _lock_nb(self._fd)
        except (BlockingIOError, PermissionError):
            return False
        except OSError as exc:
            if exc.errno in (11, 13, 35, 36):  # EAGAIN/EACCES/EWOULDBLOCK/EDEADLK: held elsewhere
                return False
            raise
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                _unlock(fd)
            finally:
                os.close(fd)


try:  # POSIX
    import fcntl

    def _lock_nb(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _lock_nb(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]


def _lock_timeout_error(path: str, timeout: float) -> ClawError:
    return ClawError(f"another claw process has held the lock on {path} for over {timeout:g} s",
                     hint="wait for the other claw to finish (it is refreshing the saved login), "
                          "or remove the lock file if no claw is running",
                     kind="credentials_locked", failure_class="runtime_io")


class CredentialStore:
    """One credentials.json file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock_path = path + ".lock"

    @classmethod
    def for_env(cls, env: Mapping[str, str], cwd: Optional[str] = None) -> "CredentialStore":
        return cls(credentials_path(env, cwd))

    def __repr__(self) -> str:
        return f"CredentialStore({self.path!r})"

    # -- reading -----------------------------------------------------------------------------------

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def read(self) -> Dict[str, Any]:
        """The whole object ({} when the file does not exist)."""
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"cannot read {self.path}: {exc.strerror or exc}",
                              hint="check the file's owner and permissions (it should be yours, mode 0600)") from None
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise self._broken("is not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise self._broken(f"is not valid JSON (line {exc.lineno} column {exc.colno})") from None
        if not isinstance(data, dict):
            raise self._broken(f"holds a JSON {type(data).__name__}, not an object")
        return data

    def _broken(self, what: str) -> ConfigError:
        return ConfigError(f"{self.path} {what}",
                           hint="fix the file, or move it away and run `claw login`; claw does not overwrite "
                                "a credentials file it cannot read")

    def read_oauth(self) -> Optional[TokenSet]:
        """The saved login, None when there is none. ConfigError when the entry is malformed."""
        entry = self.read().get(defaults.OAUTH_KEY)
        if entry is None:
            return None
        try:
            return TokenSet.from_json(entry)
        except ValueError as exc:
            raise ConfigError(f"{self.path}: {exc}",
                              hint="run `claw logout` then `claw login` to replace the saved login") from None

    def mode(self) -> Optional[int]:
        """The file's permission bits, None when it does not exist."""
        try:
            return stat.S_IMODE(os.stat(self.path).st_mode)
        except FileNotFoundError:
            return None

    def insecure(self) -> bool:
        """True when group or others can read or write the file."""
        mode = self.mode()
        return mode is not None and bool(mode & 0o077)

    # -- writing (callers hold the lock) -------------------------------------------------------------

    def write(self, data: Mapping[str, Any]) -> None:
        """Replace the file with ``data``, atomically, mode 0600. Hold ``locked()`` around the
        read-modify-write cycle that produced ``data``."""
        from claw.fsutil import atomic_write

        directory = os.path.dirname(os.path.realpath(self.path)) or "."
        payload = (json.dumps(dict(data), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            atomic_write(self.path, payload, mode=FILE_MODE, make_dirs=DIR_MODE)
        except OSError as exc:
            raise ClawError(f"cannot write {self.path}: {exc.strerror or exc}",
                            hint=f"check that {directory} exists, is writable by you and has free space",
                            kind="credentials_write", failure_class="runtime_io") from None
        _fsync_dir(directory)

    # -- locking -------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        lock = _FileLock(self.lock_path)
        deadline = time.monotonic() + timeout
        while not lock.try_acquire():
            if time.monotonic() >= deadline:
                lock.release()
                raise _lock_timeout_error(self.path, timeout)
            time.sleep(_POLL)
        try:
            yield
        finally:
            lock.release()

    @contextlib.asynccontextmanager
    async def alocked(self, timeout: float = LOCK_TIMEOUT) -> AsyncIterator[None]:
        import asyncio

        lock = _FileLock(self.lock_path)
        deadline = time.monotonic() + timeout
        try:
            while not lock.try_acquire():
                if time.monotonic() >= deadline:
                    raise _lock_timeout_error(self.path, timeout)
                await asyncio.sleep(_POLL)
            yield
        finally:
            lock.release()

    # -- the oauth entry -----------------------------------------------------------------------------

    def save_oauth(self, tokens: TokenSet) -> None:
        """Store ``tokens`` under ``oauth`` (taking the lock), keeping every other key."""
        with self.locked():
            self.write_oauth_locked(tokens)

    def write_oauth_locked(self, tokens: TokenSet) -> None:
        data = self.read()
        data[defaults.OAUTH_KEY] = tokens.to_json()
        self.write(data)

    def remove_oauth(self) -> bool:
        """Drop the ``oauth`` entry; every other key stays (the file may be left as ``{}``).
        Returns whether there was an entry."""
        with self.locked():
            data = self.read()
            if defaults.OAUTH_KEY not in data:
                return False
            del data[defaults.OAUTH_KEY]
            self.write(data)
            return True


def _fsync_dir(directory: str) -> None:
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
