"""Where background bash output goes: a private directory that claw created and checks on every use.

``job_output_dir(ctx)`` picks, in order:
1. ``ctx.output_dir`` when the caller set one;
2. ``$XDG_RUNTIME_DIR/claw/bash`` when ``XDG_RUNTIME_DIR`` is set and is itself safe (an absolute path
   to a real directory owned by the effective user, with no group or other permissions);
3. ``<session dir>/bash`` (``ctx.session_dir``, below the project's ``.claw/sessions``), when the
   sessions directory is owned by the effective user and not writable by others;
4. otherwise a fresh ``mkdtemp`` directory for this process (random name, created by claw).
Each directory claw creates on the way is made mode 0700, and each one — the chosen directory and the
parents claw created — is verified with ``lstat`` every time: a real directory (not a symlink), owned
by the effective uid, no group or other permission bits. A check that fails raises ``UnsafeOutputDir``
naming the problem; the bash tool turns that into an error result. There is no fallback to a less safe
place: a shared predictable path such as ``$TMPDIR/claw-<uid>`` is never used.

``create_log(directory, name)`` creates a log file ``O_CREAT|O_EXCL|O_NOFOLLOW`` with mode 0600.

It does not delete old logs or start processes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, List

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class UnsafeOutputDir(Exception):
    """A directory for background output exists but may be read or changed by someone else."""


def _euid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else 0


def check_private(path: Path) -> None:
    """Raise ``UnsafeOutputDir`` unless ``path`` is a real directory of ours with mode ``0o700`` or
    narrower (no group/other bits)."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise UnsafeOutputDir(f"{path}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeOutputDir(f"{path} is a symlink")
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeOutputDir(f"{path} is not a directory")
    if st.st_uid != _euid():
        raise UnsafeOutputDir(f"{path} is owned by uid {st.st_uid}, not by uid {_euid()}")
    if st.st_mode & 0o077:
        raise UnsafeOutputDir(f"{path} has group or other permissions (mode {stat.S_IMODE(st.st_mode):o}); "
                              "it must be 700")


def _base_ok(path: Path, *, strict: bool) -> bool:
    """An existing directory we may build below: ours, a real directory, not writable by others
    (``strict``: no group/other bits at all)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    bits = 0o077 if strict else 0o022
    return stat.S_ISDIR(st.st_mode) and st.st_uid == _euid() and not st.st_mode & bits


def private_dir(path: Path) -> Path:
    """``path`` made (mode 0700) if missing, then verified."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise UnsafeOutputDir(f"cannot create {path}: {exc.strerror or exc}") from None
    check_private(path)
    return path


_fallback: List[Path] = []


def job_output_dir(ctx: Any) -> Path:
    """The verified private directory for background output of this context (see the module doc)."""
    if getattr(ctx, "output_dir", None) is not None:
        out = Path(ctx.output_dir)
        if not out.parent.exists():
            os.makedirs(out.parent, 0o700, exist_ok=True)
        return private_dir(out)
    env = getattr(ctx, "env", None) or os.environ
    runtime = env.get("XDG_RUNTIME_DIR") or ""
    if runtime and os.path.isabs(runtime) and _base_ok(Path(runtime), strict=True):
        return private_dir(private_dir(Path(runtime) / "claw") / "bash")
    session_dir = getattr(ctx, "session_dir", None)
    if session_dir is not None and _base_ok(Path(session_dir).parent, strict=False):
        return private_dir(private_dir(Path(session_dir)) / "bash")
    if not _fallback:
        import tempfile

        _fallback.append(Path(tempfile.mkdtemp(prefix="claw-bash-")))
    return private_dir(_fallback[0])


def create_log(directory: Path, name: str) -> int:
    """A new, private (0600) log file in ``directory``; refuses to follow or reuse an existing name."""
    return os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC,
                   0o600)
