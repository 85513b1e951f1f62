"""The OS sandbox for the ``bash`` tool (Linux, bubblewrap), configured by the settings' ``sandbox`` object.

``SandboxSettings.parse(raw)`` reads Claude Code's keys: ``enabled``, ``autoAllowBashIfSandboxed``
(default true), ``excludedCommands``, ``failIfUnavailable``. ``bwrap_argv``
turns a ``SandboxPolicy`` (what one command may touch) into the bwrap command line — pure, no file
looked at: the whole filesystem read-only, writable binds of the workspace roots and of a private
directory seen as ``/tmp``, read-only re-binds over the control files inside them, a fresh ``/dev`` and
``/proc`` (``/proc/sys`` read-only), new PID, IPC and network namespaces, no capabilities, the sandbox
killed with claw, and a seccomp filter that refuses ``socket(AF_UNIX)`` (a Unix socket on the read-only
filesystem, such as docker's, is still connectable otherwise), ``io_uring`` and the TIOCSTI ioctl
(typing into a terminal). No ``--new-session``: the bash tool already starts a session without a
terminal, and bwrap's processes must stay in that process group, which is what claw kills (a new
session made while claw kills a starting sandbox would outlive it).

``Sandbox`` is one run's sandbox: ``open_sandbox`` probes bwrap once (a real ``true`` run in the same
confinement), fails with a ``UsageError`` when ``failIfUnavailable`` is set and none can be made, else
returns a warning. ``confines(command)`` says whether a bash command runs in it (not when an
``excludedCommands`` entry starts one of its simple commands — a convenience, not a security boundary:
an excluded command goes through the normal permission checks); ``wrap`` builds the argv.

Deliberately not here: a network proxy. Sandboxed commands have no network at all; the settings
schema warns that ``sandbox.network`` (``allowedDomains``...) is ignored. No fallback to ``unshare`` (it
cannot drop the capabilities and re-bind read-only as strictly without a helper). Control files that do not exist yet are not
protected, except the ``.claude``/``.claw`` directories and ``.git/hooks`` (created empty when missing)
and ``.claw.json``/``.mcp.json`` (covered by empty files for the run, removed by ``close``); nor are
missing shell start-up files of a home directory inside the workspace (an empty ``.bash_profile``
left behind by a killed run would change what a login shell reads).
Nothing here is imported by a run without ``sandbox.enabled``.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from claw.errors import UsageError

# Inside each writable root: re-bound read-only (directories created empty when missing; the
# PLACEHOLDERS, settings files a later run would obey, as empty files the run removes at its end).
CONTROL_DIRS = (".claude", ".claw", ".git/hooks")
CONTROL_FILES = (".git/config", ".claw.json", ".mcp.json", "CLAUDE.md", "CLAUDE.local.md", "CLAW.md", "AGENTS.md")
PLACEHOLDERS = (".claw.json", ".mcp.json")
# In the home directory, when it lies inside a writable root: re-bound read-only where they exist
# (what a login shell, git or ssh would run or trust later, outside the sandbox).
HOME_FILES = (".bashrc", ".bash_profile", ".bash_login", ".profile", ".zshrc", ".zshenv", ".zprofile",
              ".gitconfig", ".ssh", ".config", ".local/bin", ".claw", ".claude")
HINT = "install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap...)"


@dataclass(frozen=True)
class SandboxSettings:
    """The settings' ``sandbox`` object (Claude Code's key names)."""

    enabled: bool = False
    auto_allow: bool = True  # autoAllowBashIfSandboxed
    excluded: Tuple[str, ...] = ()  # excludedCommands
    fail_if_unavailable: bool = False

    @classmethod
    def parse(cls, raw: Any) -> "SandboxSettings":
        raw = raw if isinstance(raw, dict) else {}
        words = raw.get("excludedCommands")
        return cls(raw.get("enabled") is True, raw.get("autoAllowBashIfSandboxed") is not False,
                   tuple(w for w in words if isinstance(w, str) and w.strip()) if isinstance(words, list) else (),
                   raw.get("failIfUnavailable") is True)


@dataclass(frozen=True)
class SandboxPolicy:
    """What one sandboxed command may touch; every path absolute and resolved."""

    writable: Tuple[str, ...]  # bound read-write at the same path
    read_only: Tuple[str, ...]  # inside ``writable``, re-bound read-only over themselves
    tmp: str  # the host directory the command sees as /tmp
    cwd: str


def bwrap_argv(bwrap: str, policy: SandboxPolicy, command: Sequence[str], seccomp_fd: int = -1) -> List[str]:
    """The bwrap command line that runs ``command`` confined by ``policy`` (and the seccomp program
    bwrap reads from ``seccomp_fd``, unless -1)."""
    argv = [bwrap, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-net",
            "--cap-drop", "ALL", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--ro-bind", "/proc/sys", "/proc/sys", "--ro-bind-try", "/proc/sysrq-trigger", "/proc/sysrq-trigger",
            "--bind", policy.tmp, "/tmp"]
    for path in policy.writable:
        argv += ["--bind", path, path]
    for path in policy.read_only:
        argv += ["--ro-bind", path, path]
    if seccomp_fd >= 0:
        argv += ["--seccomp", str(seccomp_fd)]
    return argv + ["--chdir", policy.cwd, "--"] + list(command)


# seccomp: socket(AF_UNIX, ...), ioctl(TIOCSTI) and io_uring_setup fail with EPERM; a foreign ABI (i386,
# x32) gets EPERM for every call. (architecture audit value, socket nr, io_uring_setup nr, ioctl nr)
_ARCHES = {"x86_64": (0xC000003E, 41, 425, 16), "aarch64": (0xC00000B7, 198, 425, 29)}


def seccomp_filter(machine: str) -> Optional[bytes]:
    """The BPF program (``struct sock_filter`` array) for this machine, or None for an unknown one."""
    if machine not in _ARCHES:
        return None
    arch, sock, uring, ioctl = _ARCHES[machine]
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, eperm = 0x7FFF0000, 0x00050001
    prog = [(ld, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, eperm), (ld, 0, 0, 0),
            (jge, 8, 0, 0x40000000), (jeq, 7, 0, uring), (jeq, 3, 0, ioctl), (jeq, 0, 4, sock),
            (ld, 0, 0, 16), (jeq, 3, 2, 1),  # socket: args[0] (low half) == AF_UNIX
            (ld, 0, 0, 24), (jeq, 1, 0, 0x5412),  # ioctl: args[1] == TIOCSTI
            (ret, 0, 0, allow), (ret, 0, 0, eperm)]
    return b"".join(struct.pack("=HBBI", *ins) for ins in prog)


def excluded(command: str, entries: Sequence[str]) -> bool:
    """Whether an entry (``docker``, ``docker:*``, ``git push``) starts one of ``command``'s simple commands."""
    heads = [re.sub(r"(:\*|\s\*)$", "", e).split() for e in entries]
    for part in re.split(r"[;&|()\n`]+|\$\(", command):
        got = [w for w in part.split() if not re.match(r"^\w+=", w)][:8]
        if any(h and got[:len(h)] == h for h in heads):
            return True
    return False


class Sandbox:
    """One run's sandbox: its settings, the bwrap that confines (None: unavailable, ``why`` says why),
    the workspace roots and the private temp directory (made on first use, removed by ``close``).
    Control directories it creates empty (``CONTROL_DIRS``) are left in place."""

    def __init__(self, settings: SandboxSettings, bwrap: Optional[str], why: str, roots: Sequence[Any]) -> None:
        self.settings, self.bwrap, self.why = settings, bwrap, why
        self.roots = tuple(dict.fromkeys(os.path.realpath(r) for r in roots))
        self.tmp: Optional[str] = None
        self.placeholders: List[str] = []  # empty files made to cover missing PLACEHOLDERS

    def confines(self, command: str) -> bool:
        return self.bwrap is not None and not excluded(command, self.settings.excluded)

    def auto_allows(self, command: str) -> bool:
        return self.settings.auto_allow and self.confines(command)

    def policy(self, cwd: str) -> SandboxPolicy:
        """The policy for a command starting in ``cwd``; ``OSError`` when a control path is a symlink
        (it could be swapped for a real file the sandbox would not cover)."""
        import tempfile

        if self.tmp is None:
            self.tmp = tempfile.mkdtemp(prefix="claw-sandbox-")
        def inside(path: str) -> bool:
            return any(path == r or path.startswith(r.rstrip("/") + "/") for r in self.roots)

        protect = []
        home = os.path.realpath(os.path.expanduser("~"))
        paths = [os.path.join(root, name) for root in self.roots for name in CONTROL_DIRS + CONTROL_FILES]
        paths += [os.path.join(home, name) for name in HOME_FILES] if inside(home) else []
        for path in paths:
            name = os.path.basename(path)
            if os.path.islink(path):
                raise OSError(f"the sandbox cannot protect {path}, a symlink")
            if path.endswith(CONTROL_DIRS) and os.path.isdir(os.path.dirname(path)):
                os.makedirs(path, exist_ok=True)
            if name in PLACEHOLDERS and not os.path.lexists(path):
                try:  # where claw cannot make it, neither can the command (same user)
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                    self.placeholders.append(path)
                except OSError:
                    pass
            if os.path.exists(path):
                real = os.path.realpath(path)
                protect += [real] if inside(real) and real not in protect else []
        return SandboxPolicy(self.roots, tuple(protect), self.tmp, os.path.realpath(cwd))

    def wrap(self, text: str, command: Sequence[str], cwd: str, env: Mapping[str, str]
             ) -> Tuple[List[str], Mapping[str, str], Tuple[int, ...]]:
        """The argv and environment that run ``command`` (the bash command ``text``) confined — unchanged
        when it is not — and the fd of the seccomp program, if any (to pass to the child; the caller
        closes it once the child started)."""
        import platform

        if not self.confines(text):
            return list(command), env, ()
        policy = self.policy(cwd)
        bpf = seccomp_filter(platform.machine())
        fd = -1
        if bpf is not None:
            fd, w = os.pipe()
            os.write(w, bpf)
            os.close(w)
        return bwrap_argv(self.bwrap or "bwrap", policy, command, fd), dict(env, TMPDIR="/tmp"), (fd,) * (fd >= 0)

    def close(self) -> None:
        import shutil

        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        for path in self.placeholders:  # still empty: nothing but the sandbox's cover (claw reads an
            try:                         # empty settings file as none, should one outlive a kill)
                if os.stat(path).st_size == 0:
                    os.unlink(path)
            except OSError:
                pass
        self.placeholders = []


def probe(env: Mapping[str, str]) -> Tuple[Optional[str], str]:
    """``(bwrap path, version)`` when a sandbox can be made here, else ``(None, why)``."""
    import shutil
    import subprocess
    import tempfile

    bwrap = shutil.which("bwrap", path=env.get("PATH"))
    if bwrap is None:
        return None, "bubblewrap (bwrap) is not installed or not on PATH"
    with tempfile.TemporaryDirectory(prefix="claw-sandbox-probe-") as tmp:
        box = Sandbox(SandboxSettings(), bwrap, "", ())
        box.tmp = tmp
        argv, run_env, fds = box.wrap("true", ["true"], "/", env)
        try:
            done = subprocess.run(argv, env=run_env, stdin=subprocess.DEVNULL, capture_output=True,
                                  pass_fds=fds, timeout=10)
            version = subprocess.run([bwrap, "--version"], capture_output=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            return None, f"{bwrap} cannot run: {exc}"
        finally:
            for fd in fds:
                os.close(fd)
    if done.returncode:
        why = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[-1]
        for name in ("kernel/unprivileged_userns_clone", "user/max_user_namespaces"):
            try:
                with open("/proc/sys/" + name) as f:
                    why += f"; user namespaces are disabled ({name} is 0)" if f.read().strip() == "0" else ""
            except OSError:
                pass
        return None, f"{bwrap} cannot make a sandbox here: {why}"
    return bwrap, version.decode("utf-8", "replace").strip() or "bubblewrap"


def open_sandbox(raw: Any, env: Mapping[str, str], roots: Sequence[Any]) -> Tuple[Optional[Sandbox], Optional[str]]:
    """The run's sandbox (None when ``sandbox.enabled`` is not true) and a warning to show, if any.
    ``UsageError`` when none can be made and ``failIfUnavailable`` is set."""
    settings = SandboxSettings.parse(raw)
    if not settings.enabled:
        return None, None
    bwrap, why = probe(env)
    if bwrap is None:
        if settings.fail_if_unavailable:
            raise UsageError(f"claw: sandbox.failIfUnavailable is set and no sandbox can be made: {why}", hint=HINT)
        return Sandbox(settings, None, why, roots), f"sandbox: not available ({why}); bash runs unsandboxed"
    return Sandbox(settings, bwrap, why, roots), None
