"""The types every built-in tool shares: what a tool is, what it needs to run, what it returns.

A tool is a ``Tool`` subclass with a ``spec`` (name, description, the JSON Schema the model sees, the
permission level it needs, whether it may run concurrently with other read-only calls), ``validate``
(turns the model's raw input into a clean dict or raises ``ToolInputError`` with a message the model can
act on), ``target_paths`` (the resolved paths a file tool will touch, for the permission policy) and
``async run`` (does the work, returns a ``ToolResult``; a failure the model should see is a result with
``is_error=True``, never an exception).

This module deliberately decides nothing about permissions (that is ``claw.runtime.permissions``), does
no I/O and imports nothing heavy: the conversation loop imports it on every run.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Tuple, Union

# A tool result metadata key: a TurnOutcome whose usage and cost count as the run's (subagents, side calls).
CHILD_OUTCOME = "_claw_subagent_outcome"


class PermissionLevel(enum.IntEnum):
    """What a tool may do, ordered: a mode that allows a level allows every lower one."""

    READ_ONLY = 0
    WORKSPACE_WRITE = 1
    DANGER_FULL_ACCESS = 2

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


@dataclass(frozen=True)
class ToolSpec:
    """How a tool presents itself: to the model (name, description, schema) and to the policy."""

    name: str
    description: str
    input_schema: Dict[str, Any]
    permission: PermissionLevel
    read_only: bool  # True: may run concurrently with other read-only calls

@dataclass
class ToolResult:
    """What goes back to the model as a tool_result (``content``: a str, or a list of content blocks such
    as base64 images, see ``content_text``; ``is_error``) plus UI metadata."""

    content: Union[str, List[Dict[str, Any]]]
    is_error: bool = False
    metadata: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def error(cls, message: str, **metadata: Any) -> "ToolResult":
        return cls(content=message, is_error=True, metadata=dict(metadata))


def content_text(content: Any) -> str:
    """A tool result's content as text for hooks, terminals and logs: binary blocks become one-line notes
    (``[image: image/png, 1234 bytes]``), never base64."""
    if isinstance(content, str):
        return content
    parts = []
    for b in content if isinstance(content, list) else [content]:
        src = b.get("source") if isinstance(b, dict) else None
        if isinstance(src, dict) and src.get("type") == "base64":
            data = str(src.get("data", ""))
            size = len(data) * 3 // 4 - data[-2:].count("=")
            parts.append(f"[{b.get('type')}: {src.get('media_type', '?')}, {size:,} bytes]")
        elif isinstance(b, dict):
            parts.append(str(b.get("text", "")))
        else:
            parts.append(str(b))
    return "\n".join(parts)


class ToolInputError(Exception):
    """The model's input does not fit the tool; ``message`` goes back to the model as an error result."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class TodoItem:
    """One entry of the model's todo list (Claude Code's TodoWrite shape)."""

    content: str
    status: str  # pending | in_progress | completed
    active_form: Optional[str] = None
    id: Optional[str] = None
    priority: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {"content": self.content, "status": self.status}
        if self.active_form is not None:
            data["activeForm"] = self.active_form
        if self.id is not None:
            data["id"] = self.id
        if self.priority is not None:
            data["priority"] = self.priority
        return data


class TodoStore:
    """The current todo list of a session; ``todo_write`` replaces it as a whole."""

    def __init__(self, items: Optional[List[TodoItem]] = None) -> None:
        self.items: List[TodoItem] = list(items or [])

    def replace(self, items: List[TodoItem]) -> List[TodoItem]:
        """Set the new list; returns the old one."""
        old, self.items = self.items, list(items)
        return old


@dataclass
class BackgroundShell:
    """One background ``bash`` command of this run (``run_in_background``): what ``bash_output`` reads
    and ``kill_shell`` stops. ``offset`` is how many bytes of ``output`` ``bash_output`` has returned."""

    id: str
    command: str
    proc: Any  # subprocess.Popen; its pid is the process group id
    output: Path
    cwd: str
    started: float  # time.time()
    keep: bool = False  # CLAW_KEEP_BACKGROUND_JOBS=1: survives claw
    offset: int = 0
    killed: bool = False  # stopped by kill_shell (or the end of the run)

    @property
    def exit_code(self) -> Optional[int]:
        """The command's exit status once it ended (a signal N is 128+N, as bash reports it)."""
        code = self.proc.poll()
        if code is None:
            return None
        return 128 - code if code < 0 else code

    def describe(self) -> Dict[str, Any]:
        """What ``/bashes`` and a status listing show."""
        return {"id": self.id, "command": self.command, "status": self.status, "exit_code": self.exit_code,
                "pid": self.proc.pid, "output_file": str(self.output), "cwd": self.cwd, "started": self.started}

    @property
    def status(self) -> str:
        """running | completed | failed | killed (Claude Code's words)."""
        code = self.exit_code
        if code is None:
            return "running"
        if self.killed:
            return "killed"
        return "completed" if code == 0 else "failed"


class BackgroundJobs:
    """Background bash commands started in this run: listed by ``/bashes``, read by ``bash_output``,
    stopped by ``kill_shell`` and, at the end of the run, by ``terminate_all``. Ids are ``bash_1``,
    ``bash_2``... in the order started (per run)."""

    def __init__(self) -> None:
        self.jobs: Dict[str, BackgroundShell] = {}
        self._count = 0

    def next_id(self) -> str:
        self._count += 1
        return f"bash_{self._count}"

    def add(self, shell: BackgroundShell) -> None:
        self.jobs[shell.id] = shell

    def get(self, shell_id: str) -> Optional[BackgroundShell]:
        return self.jobs.get(shell_id.strip())

    def all(self) -> List[BackgroundShell]:
        return list(self.jobs.values())

    def running(self) -> List[str]:
        return [job_id for job_id, shell in self.jobs.items() if shell.proc.poll() is None]

    def kill(self, shell_id: str) -> Optional[BackgroundShell]:
        """Stop one shell's whole process group (SIGTERM, then SIGKILL after a grace); blocks up to the
        grace. None when the id is unknown."""
        shell = self.get(shell_id)
        if shell is None:
            return None
        if shell.proc.poll() is None:
            from claw import process_groups

            shell.killed = True
            try:
                process_groups.terminate([shell.proc.pid])
            except Exception:
                pass
            try:
                shell.proc.wait(timeout=2)
            except Exception:
                pass
        return shell

    def terminate_all(self) -> None:
        """Stop the process group of every background job (SIGTERM, then SIGKILL after a grace), except
        the jobs kept with ``CLAW_KEEP_BACKGROUND_JOBS=1``. Never raises."""
        if not self.jobs:
            return
        from claw import process_groups

        groups = [shell.proc.pid for shell in self.jobs.values() if not shell.keep]
        for shell in self.jobs.values():
            shell.proc.poll()  # reap what has exited
        try:
            process_groups.terminate(groups)
        except Exception:
            pass
        self.jobs.clear()


@dataclass
class ShellState:
    """Where the next ``bash`` call starts: the directory the last one ended in (a ``cd`` carries
    over), None for the working directory. Shared by every copy of a run's ``ToolContext``."""

    cwd: Optional[Path] = None


def _default_env() -> Dict[str, str]:
    return dict(os.environ)


@dataclass
class ToolContext:
    """Everything a tool run may use besides its input. Built by the caller (the conversation loop).

    ``env`` is the environment for subprocesses, already shaped by the caller (settings ``env``, proxy and
    CA variables). ``cancel`` is set to interrupt running tools (bash kills its process group); cancelling
    the task running the tool has the same effect. ``http_client_factory`` returns a
    ``claw.net.http.HttpClient`` (an async context manager) for ``web_fetch``/``web_search``; when None the
    tools build one from ``net_config`` (or ``NetConfig.from_env(env)``). ``is_read_denied`` hides paths from glob/grep results
    (the loop passes the policy's read-deny check). ``output_dir`` holds background bash output files
    (default: see ``claw.tools.job_output``). ``session_dir`` is the directory of the session's own
    files (background output goes below it when ``$XDG_RUNTIME_DIR`` is not usable).
    ``approved_paths`` is set by the tool-call runner on the copy of the context it hands one file
    tool call: the resolved paths the permission policy approved, which the tool acts on instead of
    resolving the model's path again (``claw.tools.paths.approved_path``). ``shell`` is the bash
    tool's working directory between calls (``shell_cwd``), shared by the copies of the context.
    ``subagents`` starts the ``agent`` tool's child runs (set by the run; None: no subagents) and
    ``tool_use_id`` is the id of the call a copy of the context was made for. ``side_query(system,
    prompt)`` asks the run's small, fast model once and returns ``(text, TurnOutcome)`` (web_fetch's
    ``prompt``); ``leave_plan()`` ends plan mode after an approved plan, returning the mode now in force.
    ``sandbox`` is the run's bash sandbox (``claw.tools.sandbox``), None without ``sandbox.enabled``.
    """

    cwd: Path
    workspace_roots: Tuple[Path, ...] = ()
    env: Dict[str, str] = field(default_factory=_default_env)
    cancel: Optional[Any] = None  # asyncio.Event; typed loosely so this module needs no asyncio
    todos: TodoStore = field(default_factory=TodoStore)
    background: BackgroundJobs = field(default_factory=BackgroundJobs)
    http_client_factory: Optional[Callable[[], Any]] = None
    web_search_url: Optional[str] = None
    is_read_denied: Optional[Callable[[Path], bool]] = None
    output_dir: Optional[Path] = None
    net_config: Optional[Any] = None  # claw.net.config.NetConfig for web tools; None: from env
    session_dir: Optional[Path] = None
    approved_paths: Optional[Tuple[Path, ...]] = None
    shell: ShellState = field(default_factory=ShellState)
    subagents: Optional[Any] = None  # claw.runtime.subagents.Subagents: what the agent tool launches with
    tool_use_id: Optional[str] = None  # set on the copy handed to one call (the agent tool's child is tagged)
    side_query: Optional[Callable[[str, str], Awaitable[Tuple[str, Any]]]] = None
    leave_plan: Optional[Callable[..., str]] = None  # (mode=None): claw.runtime.run.Run.leave_plan
    sandbox: Optional[Any] = None  # claw.tools.sandbox.Sandbox: confines bash (None: no sandbox settings)

    @property
    def shell_cwd(self) -> Path:
        """The directory the next bash call starts in (``shell.cwd``, else ``cwd``)."""
        return self.shell.cwd or self.cwd

    def __post_init__(self) -> None:
        self.cwd = Path(self.cwd)
        if not self.workspace_roots:
            self.workspace_roots = (self.cwd,)

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def for_call(self, tool_use_id: str) -> "ToolContext":
        """This context for the call ``tool_use_id`` (the agent tool tags its child's output with it)."""
        from dataclasses import replace

        return replace(self, tool_use_id=tool_use_id)

    def for_approved(self, paths: Any) -> "ToolContext":
        """This context for one call whose resolved ``paths`` the permission policy approved (the
        file tools act on exactly these); unchanged when there are none."""
        from dataclasses import replace

        return replace(self, approved_paths=tuple(Path(p) for p in paths)) if paths else self


class Tool:
    """Base class of the built-in tools. Subclasses set ``spec`` and implement ``validate`` and ``run``."""

    spec: ToolSpec

    @property
    def name(self) -> str:
        return self.spec.name

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        """Check and normalise the model's input; raise ToolInputError with a readable message."""
        raise NotImplementedError

    def target_paths(self, tool_input: Mapping[str, Any], cwd: Optional[Path] = None) -> List[Path]:
        """The filesystem paths this call would touch (validated input); empty for non-file tools.
        With ``cwd`` they are fully resolved (``paths.resolve_path``); without it relative paths stay
        relative (``~`` expanded) and the permission policy resolves them against its own cwd."""
        return []

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        raise NotImplementedError

    async def __call__(self, tool_input: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        """Validate then run: input errors become an error result, as the loop sends them back."""
        try:
            clean = self.validate(tool_input)
        except ToolInputError as exc:
            return ToolResult.error(f"Invalid input for {self.spec.name}: {exc.message}")
        return await self.run(clean, ctx)
