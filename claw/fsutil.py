"""Writing a file so that readers see the old content or the new, never a mix, and nothing is lost
on a crash: the one implementation every writer in claw uses (settings, credentials, tool writes,
exports, CA bundles).

``atomic_write`` writes a temporary file in the target's directory (created private, mode 0600, by
``mkstemp``), fsyncs it, gives it its final mode, and ``os.replace``s it over the target. A symlinked
target is written through: the file it points to is replaced and the link stays. On any failure the
temporary file is removed and the ``OSError`` propagates; callers turn it into their own error.

It does not create parent directories beyond what ``make_dirs`` asks, lock anything, or fsync the
directory entry.
"""

from __future__ import annotations

import os
import stat
from typing import Optional, Union

PathLike = Union[str, "os.PathLike[str]"]


_umask: Optional[int] = None


def default_file_mode() -> int:
    """What a new file gets from ``open()`` under the process umask. The umask is read from /proc
    where it can be (Linux): ``os.umask`` can only be read by setting it, which races with threads."""
    global _umask
    if _umask is None:
        try:
            with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
                _umask = next(int(line.split()[1], 8) for line in fh if line.startswith("Umask:"))
        except (OSError, ValueError, IndexError, StopIteration):
            _umask = os.umask(0o022)
            os.umask(_umask)
    return 0o666 & ~_umask


def atomic_write(path: PathLike, data: bytes, *, mode: Optional[int] = None, new_file_mode: Optional[int] = None,
                 make_dirs: Optional[int] = None) -> None:
    """Replace ``path``'s content with ``data``.

    ``mode``: the final mode, whatever the file had. Otherwise an existing file keeps its mode and a
    new one gets ``new_file_mode`` (default: as ``open()`` would under the umask). ``make_dirs``: create
    missing parent directories with this mode.
    """
    target = os.path.realpath(os.fspath(path))
    directory = os.path.dirname(target) or "."
    if make_dirs is not None:
        os.makedirs(directory, mode=make_dirs, exist_ok=True)
    if mode is None:
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = default_file_mode() if new_file_mode is None else new_file_mode
    import tempfile  # here, not at the top: start-up does not need it

    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
