"""The asyncio driver of ``claw remote-control serve``: polls, acks, spawns workers, heartbeats, stops.

Every decision is ``claw.remote.supervisor.Supervisor``'s; this module only performs its actions and
reports their outcomes: HTTP through the environments client (``claw.remote.env_client``; each call a
task, so a slow server never blocks the others), one worker process per session item, its output read
line by line (redacted) into the machine, the state file written atomically (mode 0600) after every
change. A worker runs in its own session (process group) with the parent-death signal; the caller's
``groups`` (``claw.tools.process_groups``) records it, so the groups die with serve however it ends.

It does not parse argv (claw.cli.remote_serve_cmd), register environments, or install signal handlers
(``request_stop`` is what a handler calls).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Set

from claw.errors import ClawError
from claw.remote.supervisor import Action, Limits, Supervisor, token_expiry_ms


@dataclass
class ServeOptions:
    """What one serve does: ``worker`` is the command prefix (the work arguments are appended)."""

    environment_id: str
    worker: List[str]
    state_file: str
    cwd: str = "."
    spawn_mode: str = "same-dir"
    poll_ms: int = 2000
    reclaim_older_than_ms: Optional[int] = None
    archive_on_exit: bool = False
    deregister_on_exit: bool = False
    shutdown_ms: int = 30_000  # how long a stop waits for workers and stop_work before giving up
    limits: Limits = field(default_factory=Limits)
    header: Dict[str, Any] = field(default_factory=dict)  # extra state-file fields (base_url...)
    worker_env: Dict[str, str] = field(default_factory=dict)


def now_ms() -> int:
    return int(time.time() * 1000)


def proc_start(pid: int) -> Optional[str]:
    """The start time of process ``pid`` (``/proc/<pid>/stat`` field 22), None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    return fields[19].decode() if len(fields) > 19 and fields[0] != b"Z" else None


def is_ours(pid: int, start: Optional[str]) -> bool:
    """Whether ``pid`` is still the worker the state file recorded (same start time); unverifiable: no."""
    return bool(start) and proc_start(pid) == start


def _gone(exc: BaseException) -> bool:
    return getattr(exc, "kind", None) == "remote_gone"


class Serve:
    """One running serve (see the module docstring)."""

    def __init__(self, opts: ServeOptions, client: Any, sup: Supervisor, *, redactor: Any, groups: Any = None,
                 log: Callable[[str], None] = lambda line: None, git_root: Optional[str] = None) -> None:
        self.opts, self.client, self.sup, self.redactor, self.groups, self.log = opts, client, sup, redactor, groups, log
        self.git_root = git_root
        self.secrets: Dict[str, Any] = {}  # work id -> (raw secret, token); memory only
        self.procs: Dict[str, Any] = {}
        self.tasks: Set["asyncio.Task[Any]"] = set()
        self.wake = asyncio.Event()
        self.stop_requested = False
        self.fatal: Optional[BaseException] = None
        self.next_poll = 0
        self.poll_failures = 0
        self.polling = False
        self.started_at = now_ms()

    def request_stop(self) -> None:
        self.stop_requested = True
        self.wake.set()

    async def run(self) -> int:
        """Serve until stopped (``request_stop``) or a fatal error; 0, or 1 after a fatal error."""
        self._do(self.sup.restore(now_ms(), is_ours))
        deadline: Optional[int] = None
        while True:
            self.wake.clear()  # before looking: a wake-up from now on is not lost
            now = now_ms()
            if (self.stop_requested or self.fatal is not None) and not self.sup.shutting_down:
                self._do(self.sup.shutdown(now))
                deadline = now + self.opts.shutdown_ms
            self._do(self.sup.tick(now))
            auth = getattr(self.fatal, "failure_class", "") == "provider_auth"  # stop_work cannot succeed
            if self.sup.shutting_down and (self.sup.idle() or now >= (deadline or now)
                                           or auth and not self.sup.active()):
                break
            if not self.polling and not self.sup.shutting_down and self.sup.free_slots() > 0 and now >= self.next_poll:
                self.polling = True
                self._task(self._poll())
            self._save()
            due = [t for t in (self.sup.next_due(), None if self.polling or self.sup.free_slots() == 0 else self.next_poll)
                   if t is not None]
            wait = max(0.0, (min(due) - now_ms()) / 1000) if due else 1.0
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=min(wait, 1.0))
            except asyncio.TimeoutError:
                pass
        for work_id in list(self.procs):  # out of time: what is left dies with serve
            self._signal(work_id, signal.SIGKILL)
        await self._on_exit()
        self.dirty, self.running = True, False
        self._save()
        for task in list(self.tasks):
            task.cancel()
        return 1 if self.fatal is not None else 0

    # -- actions ---------------------------------------------------------------------------------

    def _do(self, actions: List[Action]) -> None:
        for action in actions:
            kind, wid = action.kind, action.work_id
            if kind == "save":
                self.dirty = True
            elif kind == "ack":
                self._task(self._call("ack", wid))
            elif kind == "heartbeat":
                self._task(self._call("heartbeat", wid))
            elif kind == "stop":
                self._task(self._call("stop", wid, action.force))
            elif kind == "spawn":
                self._task(self._spawn(wid))
            elif kind in ("term", "kill"):
                self._signal(wid, signal.SIGTERM if kind == "term" else signal.SIGKILL)
        self.wake.set()

    def _task(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._reap)

    def _reap(self, task: "asyncio.Task[Any]") -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:  # a bug: stop serve, say what it was
            self._failed("internal", task.exception())  # type: ignore[arg-type]

    def _signal(self, work_id: str, sig: int) -> None:
        item = self.sup.items.get(work_id)
        pgid = item.pgid if item is not None else None
        if pgid:
            try:
                os.killpg(pgid, sig)
            except OSError:
                pass

    async def _poll(self) -> None:
        try:
            work = await self.client.poll_work(self.opts.environment_id,
                                               reclaim_older_than_ms=self.opts.reclaim_older_than_ms)
            self.poll_failures = 0
        except Exception as exc:  # classified by the client; fatal ones end serve
            work = None
            self.poll_failures += 1
            self._failed("poll", exc)
        finally:
            self.polling = False
        delay = self.opts.poll_ms * (2 ** min(self.poll_failures, 5) if self.poll_failures else 1)
        self.next_poll = now_ms() + (0 if work is not None else min(delay, max(self.opts.poll_ms, 30_000)))
        if work is not None:
            self._offered(work)
        self.wake.set()

    def _offered(self, work: Any) -> None:
        token, expiry = "", None
        if work.secret or work.data_type == "session":
            from claw.remote.work_secret import decode_work_secret

            try:
                token = decode_work_secret(work.secret).session_ingress_token
            except Exception as exc:
                self.log(f"work {work.id}: {exc}; stopping it")
                self._task(self._call("stop", work.id, True))
                return
            for value in (work.secret, token):
                self.redactor.add_secret(value)
            expiry = token_expiry_ms(token) if work.data_type == "session" else None
        actions = self.sup.offered(work.id, work.data_id, work.data_type, now_ms(), expiry)
        if any(a.kind == "ack" for a in actions):
            self.secrets[work.id] = (work.secret, token)
            self.log(f"work {work.id}: {work.data_type} {work.data_id} received")
        self._do(actions)

    async def _call(self, what: str, work_id: str, force: bool = False) -> None:
        env, token = self.opts.environment_id, self.secrets.get(work_id, ("", ""))[1]
        ok, gone, reply = False, False, None
        try:
            if what == "ack":
                await self.client.ack_work(env, work_id, token)
            elif what == "heartbeat":
                reply = await self.client.heartbeat_work(env, work_id, token)
            else:
                await self.client.stop_work(env, work_id, force=force)
            ok = True
        except Exception as exc:
            gone = _gone(exc)
            if not gone:
                self._failed(f"{what} {work_id}", exc)
        now = now_ms()
        if what == "ack":
            self._do(self.sup.acked(work_id, now, ok, gone))
        elif what == "heartbeat":
            self._do(self.sup.heartbeat_done(work_id, now, ok, gone, reply))
        else:
            if ok or gone:
                self.secrets.pop(work_id, None)
                self.log(f"work {work_id}: stopped")
            self._do(self.sup.stop_done(work_id, now, ok, gone))

    def _failed(self, what: str, exc: BaseException) -> None:
        message = self.redactor.redact_text(str(exc) or type(exc).__name__)
        cls = getattr(exc, "failure_class", "runtime_io")
        self.log(f"{what} failed ({cls}): {message}")
        if cls == "provider_auth" or not isinstance(exc, (OSError, ClawError)) or what == "internal":
            self.fatal = self.fatal or exc
            self.wake.set()

    # -- workers ---------------------------------------------------------------------------------

    async def _spawn(self, work_id: str) -> None:
        item = self.sup.items[work_id]
        raw = self.secrets.get(work_id, ("", ""))[0]
        cwd, worktree = self.opts.cwd, None
        try:
            if self.opts.spawn_mode == "worktree":
                worktree = await self._worktree_add(work_id)
                cwd = worktree
            env = dict(os.environ, **self.opts.worker_env)
            env.update(CLAW_WORK_SECRET=raw, CLAW_REMOTE_SESSION_ID=item.session_id, CLAW_REMOTE_WORK_ID=work_id,
                       CLAW_REMOTE_ENVIRONMENT_ID=self.opts.environment_id)
            argv = self.opts.worker + ["--session-id", item.session_id, "--work-id", work_id,
                                       "--environment-id", self.opts.environment_id]
            setup = self.groups.child_setup() if self.groups is not None else None
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True, preexec_fn=setup, limit=1 << 20)
        except (OSError, ValueError) as exc:
            if worktree:
                await self._worktree_remove(worktree)
            self._do(self.sup.spawn_failed(work_id, now_ms(), self.redactor.redact_text(str(exc))))
            return
        if self.groups is not None:
            self.groups.track(proc.pid)
        self.procs[work_id] = proc
        self.log(f"work {work_id}: worker started (pid {proc.pid})")
        self._do(self.sup.started(work_id, now_ms(), proc.pid, proc_start(proc.pid), proc.pid, worktree))
        readers = [asyncio.ensure_future(self._read(work_id, s)) for s in (proc.stdout, proc.stderr)]
        code = await proc.wait()
        await asyncio.wait(readers, timeout=2)
        self._signal(work_id, signal.SIGKILL)  # whatever the worker left behind in its group
        if self.groups is not None:
            self.groups.forget(proc.pid)
        self.procs.pop(work_id, None)
        if worktree:
            await self._worktree_remove(worktree)
        self.log(f"work {work_id}: worker exited with {code}")
        self._do(self.sup.exited(work_id, now_ms(), code))

    async def _read(self, work_id: str, stream: Any) -> None:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line over the limit: take what is buffered
                raw = await stream.read(1 << 16)
            if not raw:
                return
            self.sup.output(work_id, self.redactor.redact_text(raw.decode("utf-8", "replace")), now_ms())
            self.dirty = True

    async def _git(self, *args: str) -> int:
        proc = await asyncio.create_subprocess_exec("git", *args, cwd=self.git_root or self.opts.cwd,
                                                    stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        if proc.returncode:
            self.log(f"git {args[0]} {args[1]}: {err.decode('utf-8', 'replace').strip()}")
        return proc.returncode or 0

    async def _worktree_add(self, work_id: str) -> str:
        root = os.path.join(self.git_root or self.opts.cwd, ".claw", "worktrees")
        os.makedirs(root, mode=0o700, exist_ok=True)
        path = os.path.join(root, "".join(c if c.isalnum() or c in "-_" else "_" for c in work_id))
        if await self._git("worktree", "add", "--detach", path, "HEAD"):
            raise OSError(f"git worktree add {path} failed")
        return path

    async def _worktree_remove(self, path: str) -> None:
        await self._git("worktree", "remove", "--force", path)

    # -- the end, the state file -----------------------------------------------------------------

    async def _on_exit(self) -> None:
        if self.fatal is not None and getattr(self.fatal, "failure_class", "") == "provider_auth":
            return
        if self.opts.archive_on_exit:
            for item in list(self.sup.items.values()):
                if item.kind == "session" and item.state != "requeued":
                    await self._quiet("archive", self.client.archive_session(item.session_id))
        if self.opts.deregister_on_exit:
            await self._quiet("deregister", self.client.deregister_environment(self.opts.environment_id))

    async def _quiet(self, what: str, coro: Any) -> None:
        try:
            await coro
        except Exception as exc:
            if not _gone(exc):
                self.log(f"{what} failed: {self.redactor.redact_text(str(exc))}")

    dirty = running = True

    def _save(self) -> None:
        if not self.dirty:
            return
        self.dirty = False
        from claw.fsutil import atomic_write

        state = dict(self.opts.header, environment_id=self.opts.environment_id, pid=os.getpid(),
                     pid_start=proc_start(os.getpid()), started_at=self.started_at, updated_at=now_ms(),
                     max_sessions=self.sup.limits.max_sessions, spawn_mode=self.opts.spawn_mode,
                     running=self.running)
        state.update(self.sup.to_json())
        data = json.dumps(self.redactor.redact_obj(state), indent=1).encode()
        try:
            atomic_write(self.opts.state_file, data, mode=0o600, make_dirs=0o700)
        except OSError as exc:
            self.log(f"cannot write {self.opts.state_file}: {exc}")
