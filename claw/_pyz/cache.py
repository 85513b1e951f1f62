"""The per-user cache of inflated bytecode bodies: one file per (body digest, Python), so that only
the first run of a claw.pyz on a Python inflates its bytecode from the archive.

Where: ``$XDG_CACHE_HOME/claw/bytecode`` (when that is an absolute path), else
``~/.cache/claw/bytecode``; ``CLAW_NO_BYTECODE_CACHE=1`` turns it off (every run then inflates in
memory). A file is named ``cpXY-<digest>.bin``, the digest being that of the body it holds, as
recorded in the archive's pack index (pack.py), so archives with the same bytecode share it and a
new build never reads an old file.

Another local user must never be able to make claw run code of theirs: the directory is created
0700 and used only when it is a real directory (not a symlink) owned by the current user and not
writable by group or others; files are opened relative to that directory (``dir_fd``), never
following a symlink, and used only when they are regular files owned by the user, not writable by
group or others, and of the expected size. Even then nothing is trusted: the reader checks every
segment against the digests in the archive before unmarshalling it (pack.PackReader). Files are
written to a temporary name and renamed into place, so a reader never sees half a file.

It deliberately never raises and never prints: a cache that cannot be used or written costs time
(the importer inflates in memory), nothing else.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at start-up (it costs ~10 ms)
if TYPE_CHECKING:
    from typing import Optional

DISABLE_ENV = "CLAW_NO_BYTECODE_CACHE"
_KEEP_PER_PYTHON = 3  # files of other bodies kept per Python (other claw.pyz versions in use)


def disabled() -> bool:
    """Whether ``CLAW_NO_BYTECODE_CACHE`` turns the cache off."""
    return os.environ.get(DISABLE_ENV, "").strip() not in ("", "0")


def directory() -> Optional[str]:
    """The cache directory to use (it may not exist yet), or None when the cache is turned off,
    there is no home directory to put it in, or no ``os.pread`` to read it with."""
    if disabled() or not hasattr(os, "pread"):
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "claw", "bytecode")


def file_name(tag: str, body_digest: bytes) -> str:
    return f"{tag}-{body_digest.hex()[:40]}.bin"


def _safe(st: os.stat_result) -> bool:
    return st.st_uid == _uid() and not st.st_mode & 0o022


def _uid() -> int:
    return os.geteuid()


def _open_dir(path: str, create: bool) -> Optional[int]:
    """An fd of the cache directory when it is safe to use (see the module docstring), else None."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        if not create or not _may_create(path):
            return None
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            os.mkdir(path, 0o700)
            fd = os.open(path, flags)
        except OSError:
            return None
    except OSError:
        return None
    try:
        import stat

        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode) and _safe(st):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def _may_create(path: str) -> bool:
    """Whether the nearest existing ancestor of ``path`` is the user's: claw creates no directories
    in someone else's (root under sudo with another user's HOME, a shared /tmp)."""
    parent = os.path.dirname(path)
    while parent and not os.path.lexists(parent):
        up = os.path.dirname(parent)
        if up == parent:
            return False
        parent = up
    try:
        return os.stat(parent).st_uid == _uid()
    except OSError:
        return False


def open_body(tag: str, body_digest: bytes, size: int) -> Optional[int]:
    """A read-only fd of the cache file for this body when there is one that may be used, else None.
    The caller checks its content (segment digests) and closes it (or leaves it to the process)."""
    path = directory()
    if path is None:
        return None
    dir_fd = _open_dir(path, create=False)
    if dir_fd is None:
        return None
    try:
        fd = os.open(file_name(tag, body_digest), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0), dir_fd=dir_fd)
    except OSError:
        return None
    finally:
        os.close(dir_fd)
    try:
        import stat

        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and _safe(st) and st.st_size == size:
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def store(tag: str, body_digest: bytes, body: bytes) -> bool:
    """Write ``body`` as the cache file for ``body_digest`` (atomically; replacing a damaged one),
    and remove the oldest files of other bodies for ``tag`` beyond a few. False if it could not."""
    path = directory()
    if path is None:
        return False
    dir_fd = _open_dir(path, create=True)
    if dir_fd is None:
        return False
    name = file_name(tag, body_digest)
    tmp = f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600,
                     dir_fd=dir_fd)
        try:
            view = memoryview(body)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        _prune(dir_fd, tag, name)
        return True
    except OSError:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        return False
    finally:
        os.close(dir_fd)


def _prune(dir_fd: int, tag: str, keep: str) -> None:
    try:
        others = []
        for entry in os.scandir(dir_fd):
            if entry.name.startswith(tag + "-") and entry.name.endswith(".bin") and entry.name != keep:
                others.append((entry.stat(follow_symlinks=False).st_mtime, entry.name))
        for _, name in sorted(others)[:max(0, len(others) - _KEEP_PER_PYTHON)]:
            os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def describe(tag: str) -> str:
    """One line for ``claw doctor``: where the cache is and whether this Python uses it."""
    path = directory()
    if path is None:
        return f"off ({DISABLE_ENV} is set)" if disabled() else "off (no home directory, or no os.pread here)"
    if not os.path.isdir(path):
        return f"{path} (not there: a run from claw.pyz creates it" + \
            ("" if _may_create(path) else ", but not in a directory that is not yours") + ")"
    dir_fd = _open_dir(path, create=False)
    if dir_fd is None:
        return f"{path} (not used: not a directory owned by you and writable only by you)"
    try:
        names = sorted(n for n in os.listdir(dir_fd) if n.startswith(tag + "-") and n.endswith(".bin"))
    except OSError:
        names = []
    finally:
        os.close(dir_fd)
    return f"{path} ({len(names)} file(s) for {tag})"
