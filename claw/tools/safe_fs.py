"""Opening, creating and replacing a file at an already-resolved absolute path without following a
symlink anywhere on the way, so the file the permission policy approved is the file the tool touches.

The file tools get a path that was fully resolved (``os.path.realpath``) when the policy checked it.
``open_parent`` walks that path from ``/`` one component at a time, each opened relative to the
previous one with ``O_DIRECTORY|O_NOFOLLOW`` (creating missing directories with ``mkdir(dir_fd=...)``
when asked); the final component is then opened or replaced relative to that directory descriptor,
again with ``O_NOFOLLOW``. Since the approved path held no symlink, meeting one on the walk means the
path changed under us: that raises ``PathChanged`` (the tools turn it into an error result for that
call, "nothing was written"), never a write somewhere else.

``replace_file`` is atomic like ``claw.fsutil.atomic_write``: a temporary file made ``O_CREAT|O_EXCL``
in the same directory descriptor, written, fsynced, given the mode of the file it replaces (or the
umask default), then ``os.replace``d over the name with ``src_dir_fd``/``dst_dir_fd``.

Fallback: where ``os.open`` does not take ``dir_fd`` (not Linux or macOS), the file is opened by name
and then verified: the opened descriptor's ``fstat`` must be the file ``os.lstat`` finds at the path,
and the parent must still resolve to itself; a mismatch is ``PathChanged``. That narrows the race
rather than closing it.

It does not resolve paths (``claw.tools.paths`` does), decide permissions, or lock files.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Optional, Tuple

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# O_PATH (Linux) / O_SEARCH opens a directory we may search but not list; elsewhere (macOS before
# O_SEARCH) each directory on the path must also be readable.
_SEARCH = getattr(os, "O_PATH", 0) or getattr(os, "O_SEARCH", 0) or os.O_RDONLY
_DIR_FLAGS = _SEARCH | _DIRECTORY | _NOFOLLOW | _CLOEXEC


class PathChanged(OSError):
    """A symlink (or a non-directory) appeared on a path that was fully resolved when it was checked."""

    def __init__(self, path: str, where: str) -> None:
        super().__init__(errno.ELOOP, f"{where} changed while it was being checked")
        self.path = path
        self.where = where


def dir_fd_supported() -> bool:
    """Whether this platform can walk with ``dir_fd`` (Linux, macOS): the race-free way."""
    return os.open in os.supports_dir_fd and bool(_NOFOLLOW) and bool(_DIRECTORY)


def _split(path: str) -> Tuple[str, ...]:
    if not os.path.isabs(path):
        raise ValueError(f"not an absolute path: {path!r}")
    return tuple(part for part in os.path.normpath(path).split(os.sep) if part)


def _changed_or_raise(exc: OSError, dir_fd: int, name: str, full: str) -> None:
    """After ELOOP/ENOTDIR on ``name``: a symlink there means the path changed; anything else (a
    regular file where a directory should be) is the error it was."""
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except OSError:
        raise exc from None
    if stat.S_ISLNK(st.st_mode):
        raise PathChanged(full, full) from None
    raise exc


def open_parent(path: str, *, create: bool = False, dir_mode: int = 0o777) -> Tuple[int, str]:
    """A descriptor of ``path``'s parent directory, reached without following any symlink, and the
    final component's name. ``create``: make missing directories (``dir_mode``, minus the umask).
    The caller closes the descriptor."""
    parts = _split(path)
    if not parts:
        raise IsADirectoryError(errno.EISDIR, "is the root directory", path)
    fd = os.open("/", _DIR_FLAGS)
    walked = ""
    try:
        for name in parts[:-1]:
            walked += os.sep + name
            try:
                nxt = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(name, dir_mode, dir_fd=fd)
                except FileExistsError:
                    pass  # made by someone else meanwhile: open it (no-follow) like any other
                try:
                    nxt = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        _changed_or_raise(exc, fd, name, walked)
                    raise
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    _changed_or_raise(exc, fd, name, walked)
                raise
            os.close(fd)
            fd = nxt
            # O_PATH|O_NOFOLLOW|O_DIRECTORY refuses a symlink already; make sure on every platform.
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                raise PathChanged(path, walked)
        return fd, parts[-1]
    except BaseException:
        os.close(fd)
        raise


def open_for_read(path: str) -> int:
    """A read-only descriptor of the file at the resolved ``path`` (``O_NONBLOCK``, so a FIFO does not
    hang the call; the caller checks the type with ``os.fstat``)."""
    flags = os.O_RDONLY | _CLOEXEC | getattr(os, "O_NONBLOCK", 0)
    if not dir_fd_supported():
        return _open_verified(path, flags)
    pfd, name = open_parent(path)
    try:
        try:
            return os.open(name, flags | _NOFOLLOW, dir_fd=pfd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                _changed_or_raise(exc, pfd, name, path)
            raise
    finally:
        os.close(pfd)


def _open_verified(path: str, flags: int) -> int:
    """The fallback: open by name, then check the descriptor is the file at ``path`` (no symlink)."""
    if os.path.realpath(os.path.dirname(path)) != os.path.dirname(path):
        raise PathChanged(path, os.path.dirname(path))
    fd = os.open(path, flags | _NOFOLLOW)
    try:
        opened, there = os.fstat(fd), os.lstat(path)
        if (opened.st_dev, opened.st_ino) != (there.st_dev, there.st_ino):
            raise PathChanged(path, path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def replace_file(path: str, data: bytes, *, make_dirs: bool = True, mode: Optional[int] = None) -> bool:
    """Atomically replace (or create) the file at the resolved ``path`` with ``data``; returns whether
    a file was there before. The existing file's mode is kept unless ``mode`` is given; a new file
    gets the umask default. Raises ``PathChanged``, ``IsADirectoryError`` or another ``OSError``."""
    from claw.fsutil import atomic_write, default_file_mode

    if not dir_fd_supported():
        parent = os.path.dirname(path)
        if make_dirs:
            os.makedirs(parent, exist_ok=True)
        if os.path.realpath(parent) != parent or os.path.islink(path):
            raise PathChanged(path, parent)
        existed = os.path.lexists(path)
        if os.path.isdir(path):
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        atomic_write(path, data, mode=mode)
        return existed

    import secrets

    pfd, name = open_parent(path, create=make_dirs)
    try:
        try:
            st: Optional[os.stat_result] = os.lstat(name, dir_fd=pfd)
        except FileNotFoundError:
            st = None
        if st is not None:
            if stat.S_ISLNK(st.st_mode):
                raise PathChanged(path, path)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        final_mode = mode if mode is not None else (
            stat.S_IMODE(st.st_mode) if st is not None else default_file_mode())
        tmp = f".{name[:100]}.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600, dir_fd=pfd)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
                os.fchmod(fh.fileno(), final_mode)
            os.replace(tmp, name, src_dir_fd=pfd, dst_dir_fd=pfd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=pfd)
            except OSError:
                pass
            raise
        return st is not None
    finally:
        os.close(pfd)


def changed_message(shown: str, wrote: bool = True) -> str:
    """The tool error for ``PathChanged``."""
    tail = "nothing was written" if wrote else "nothing was read"
    return (f"{shown} changed while it was being checked (a directory on its path was replaced by a "
            f"symlink); {tail}. Check the path and try again.")
