"""Git facts for the system prompt: repository root, branch, short status and recent commits.

``find_git_root`` walks up from a directory looking for ``.git`` (a directory, or a file for
worktrees and submodules) without starting a process. ``collect_git_context`` runs two read-only git
commands in parallel (``status --porcelain --branch`` and ``log --oneline -5``) with one shared
deadline (≈1 s by default), ``GIT_OPTIONAL_LOCKS=0`` so it never takes the index lock a concurrent
git holds, and caps what it keeps. No git, not a repository, or too slow: it returns ``None`` or what
it got in time - never raises.

It deliberately does not change the repository, fetch, or look at remotes.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Mapping, Optional, Tuple

STATUS_LINE_LIMIT = 40
LINE_CHAR_LIMIT = 200
COMMIT_LIMIT = 5


@dataclass(frozen=True)
class GitContext:
    """The repository facts the system prompt mentions: root, branch, status and recent commits."""

    root: str
    branch: Optional[str]  # None when unknown; "HEAD (detached)" style text otherwise
    upstream: Optional[str]  # "origin/main [ahead 1]" when tracking
    status: Tuple[str, ...]  # porcelain lines, capped
    status_omitted: int  # lines beyond the cap
    commits: Tuple[str, ...]  # "abc1234 subject"
    complete: bool  # False when a command timed out or failed

    def render(self) -> str:
        lines = [f"Repository root: {self.root}"]
        if self.branch:
            branch = self.branch + (f" (tracking {self.upstream})" if self.upstream else "")
            lines.append(f"Current branch: {branch}")
        if self.status or self.status_omitted:
            lines.append("Status (git status --short):")
            lines.extend(f"  {s}" for s in self.status)
            if self.status_omitted:
                lines.append(f"  ... and {self.status_omitted} more changed paths")
        elif self.complete:
            lines.append("Status: clean")
        if self.commits:
            lines.append("Recent commits:")
            lines.extend(f"  {c}" for c in self.commits)
        return "\n".join(lines)


def find_git_root(start: "os.PathLike[str] | str") -> Optional[Path]:
    """The nearest directory at or above ``start`` holding ``.git``; ``None`` outside a repository."""
    try:
        path = Path(start).resolve()
    except OSError:
        return None
    for directory in (path,) + tuple(path.parents):
        if (directory / ".git").exists():
            return directory
    return None


def _clip(line: str) -> str:
    return line if len(line) <= LINE_CHAR_LIMIT else line[: LINE_CHAR_LIMIT - 1] + "…"


def _parse_branch_line(line: str) -> Tuple[Optional[str], Optional[str]]:
    # "## main...origin/main [ahead 1]", "## HEAD (no branch)", "## No commits yet on main"
    text = line[3:].strip()
    if text.startswith("No commits yet on "):
        return text[len("No commits yet on "):] + " (no commits yet)", None
    if text.startswith("Initial commit on "):
        return text[len("Initial commit on "):] + " (no commits yet)", None
    if text.startswith("HEAD (no branch)"):
        return "HEAD (detached)", None
    if "..." in text:
        branch, _, upstream = text.partition("...")
        return branch, upstream or None
    return text or None, None


def collect_git_context(
    cwd: "os.PathLike[str] | str",
    *,
    timeout: float = 1.0,
    env: Optional[Mapping[str, str]] = None,
    git: str = "git",
) -> Optional[GitContext]:
    """Branch, status and recent commits of the repository holding ``cwd``, within ``timeout``."""
    root = find_git_root(cwd)
    if root is None:
        return None
    run_env = dict(os.environ if env is None else env)
    run_env.update({"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    commands = {
        "status": [git, "-c", "core.quotepath=false", "status", "--porcelain=v1", "--branch", "--untracked-files=normal"],
        "log": [git, "log", f"-{COMMIT_LIMIT}", "--no-decorate", "--no-color", "--format=%h %s"],
    }
    procs = {}
    for name, argv in commands.items():
        try:
            procs[name] = subprocess.Popen(
                argv, cwd=str(cwd), env=run_env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )
        except OSError:
            for p in procs.values():
                p.kill()
                p.wait()
            return None  # no git on PATH
    deadline = time.monotonic() + timeout
    outputs = {}
    complete = True
    for name, proc in procs.items():
        try:
            out, _ = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            complete = False
            continue
        if proc.returncode == 0:
            outputs[name] = out.decode("utf-8", "replace")
        elif name == "status":
            complete = False
    branch = upstream = None
    status: List[str] = []
    if "status" in outputs:
        for line in outputs["status"].splitlines():
            if line.startswith("## "):
                branch, upstream = _parse_branch_line(line)
            elif line.strip():
                status.append(_clip(line))
    commits = tuple(_clip(line) for line in outputs.get("log", "").splitlines() if line.strip())[:COMMIT_LIMIT]
    if "status" not in outputs and not commits:
        return GitContext(str(root), None, None, (), 0, (), False)
    return GitContext(
        root=str(root),
        branch=branch,
        upstream=upstream,
        status=tuple(status[:STATUS_LINE_LIMIT]),
        status_omitted=max(0, len(status) - STATUS_LINE_LIMIT),
        commits=commits,
        complete=complete,
    )
