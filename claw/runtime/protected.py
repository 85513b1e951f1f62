"""Protected control files: paths whose content decides what claw (or Claude Code, git, a login shell)
runs next, so that a write to them is an escalation, not an edit.

``protection(path, home=..., config_home=...)`` says whether one absolute path is protected and why,
as a reason string naming the class of file. The classes:

- claw's and Claude Code's project control files: any path with a component ``.claw`` or ``.claude``,
  and files named ``.claw.json`` or ``.mcp.json`` wherever they are;
- memory files, whose text joins the system prompt of the next session: files named ``CLAUDE.md``,
  ``CLAUDE.local.md``, ``CLAW.md`` or ``AGENTS.md`` wherever they are (``~/.claude/CLAUDE.md`` and
  ``.claude/CLAUDE.md`` are under ``.claude`` anyway);
- git's control directory: any path with a component ``.git`` (hooks, config, ...);
- claw's user config home (``$CLAW_CONFIG_HOME``, default ``~/.claw``) and everything under it;
- shell start-up files and other files in ``$HOME`` that run code or grant access at the next login:
  ``.bashrc``, ``.bash_profile``, ``.bash_login``, ``.bash_logout``, ``.profile``, ``.zshrc``,
  ``.zshenv``, ``.zprofile``, ``.zlogin``, ``.zlogout``, ``.inputrc``, ``.config/fish/**``,
  ``.ssh/**``, ``.gitconfig``, ``.config/git/**``, ``.pam_environment``, ``.xprofile``,
  ``.xinitrc``, ``.xsessionrc``, ``.config/autostart/**``, ``.config/systemd/**``.

``protection`` is pure: it compares strings (callers pass the path once as written and once resolved,
so a symlink to a protected file is caught through its resolved half) and touches no file.
``linked_control_file`` covers the other direction, an ordinary file that a project control file or a
git hook is a symlink to; it reads those links. What a
protected path means for a tool call (ask in every mode but danger-full-access) is the permission
policy's business (``claw.runtime.permissions``).
"""

from __future__ import annotations

import os
from typing import Optional

CONTROL_DIRS = (".claw", ".claude")
CONTROL_FILES = (".claw.json", ".mcp.json")
MEMORY_FILES = ("CLAUDE.md", "CLAUDE.local.md", "CLAW.md", "AGENTS.md")  # claw.runtime.system_prompt
GIT_DIR = ".git"
# Relative to $HOME: a file, or a directory (everything under it is protected).
HOME_FILES = (
    ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile",
    ".zshrc", ".zshenv", ".zprofile", ".zlogin", ".zlogout", ".inputrc",
    ".gitconfig", ".pam_environment", ".xprofile", ".xinitrc", ".xsessionrc",
)
HOME_DIRS = (".ssh", ".config/fish", ".config/git", ".config/autostart", ".config/systemd")
# The control files claw reads, relative to the project directory: when one of them is a symlink (a
# repository may ship .claw/settings.local.json -> ../conf/app.json, or .git/hooks/pre-commit ->
# ../../scripts/hook.sh), the file it points to is a control file too. The policy resolves these.
PROJECT_CONTROL_FILES = (
    ".claw.json", ".mcp.json",
    ".claw/settings.json", ".claw/settings.toml", ".claw/settings.local.json", ".claw/settings.local.toml",
    ".claude/settings.json", ".claude/settings.local.json",
    "CLAUDE.md", ".claude/CLAUDE.md", "CLAUDE.local.md", "CLAW.md", "AGENTS.md",
)
GIT_HOOKS_DIR = ".git/hooks"

TAIL = "writing it asks in every mode but bypassPermissions"


def _under(path: str, base: str) -> bool:
    base = base.rstrip("/") or "/"
    return path == base or path.startswith(base if base == "/" else base + "/")


def protection(path: str, *, home: Optional[str] = None, config_home: Optional[str] = None) -> Optional[str]:
    """Why writing the absolute, normalised ``path`` is protected, or None when it is not."""
    if not path:
        return None
    if config_home and _under(path, config_home):
        return f"{path} is in claw's user config home ({config_home}); {TAIL}"
    parts = [p for p in path.split("/") if p]
    if ".claw" in parts or (parts and parts[-1] == ".claw.json"):
        return f"{path} is a claw control file; {TAIL}"
    if ".claude" in parts:
        return f"{path} is a Claude Code control file; {TAIL}"
    if parts and parts[-1] == ".mcp.json":
        return f"{path} is an MCP server config file (it names programs to start); {TAIL}"
    if parts and parts[-1] in MEMORY_FILES:
        return f"{path} is a memory file (its text is part of the next session's instructions); {TAIL}"
    if GIT_DIR in parts:
        return f"{path} is inside a .git directory (hooks, config); {TAIL}"
    if home:
        home = home.rstrip("/") or "/"
        for name in HOME_FILES:
            if path == os.path.join(home, name):
                return f"{path} is a shell start-up or login file in your home directory; {TAIL}"
        for name in HOME_DIRS:
            if _under(path, os.path.join(home, name)):
                what = "an SSH key or config file" if name == ".ssh" else "a start-up or login file"
                return f"{path} is {what} in your home directory; {TAIL}"
    return None


def linked_control_file(path: str, project_dir: str) -> Optional[str]:
    """Why writing ``path`` (resolved) changes a control file of ``project_dir`` through a symlink —
    one of ``PROJECT_CONTROL_FILES`` or a git hook that points at it — or None. Reads the links; writes
    nothing."""
    candidates = [os.path.join(project_dir, name) for name in PROJECT_CONTROL_FILES]
    hooks = os.path.join(project_dir, GIT_HOOKS_DIR)
    try:
        candidates += [os.path.join(hooks, name) for name in os.listdir(hooks)]
    except OSError:
        pass
    for candidate in candidates:
        if os.path.islink(candidate) and os.path.realpath(candidate) == path:
            return f"{path} is what the control file {candidate} links to; {TAIL}"
    return None
