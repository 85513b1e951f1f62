"""The asyncio driver of ``claw remote-control serve``: polls, acks, spawns workers, heartbeats, stops.

Every decision is ``claw.remote.supervisor.Supervisor``'s; this module only performs its actions and
reports their outcomes: HTTP through the environments client (``claw.remote.env_client``; each call a
task, so a slow server never blocks the others), one worker process per session item, its output read
line by line (redacted) into the machine, the state file written atomically (mode 0600) after every
change. A worker runs in its own session (process group) with the parent-death signal, recorded with
``claw.process_groups``, so the groups die with serve however it ends.
A failure of a call is logged with its failure class and left to the machine (retried, or the item
given back); a 401/403, or a bug in a task, ends serve (exit 1).

It does not parse argv (claw.cli.remote_serve_cmd), register environments, or install signal handlers
(``request_stop`` is what a handler calls).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from claw import process_groups
from claw.errors import ClawError
from claw.remote.supervisor import Action, Supervisor, token_expiry_ms

SHUTDOWN_MS = 30_000  # how long a stop waits for workers and stop_work before giving up
MAX_POLL_BACKOFF_MS = 30_000


@dataclass
class ServeOptions:
    """What one serve does: ``worker`` is the command prefix (the work arguments are appended),
    ``git_root`` set means a disposable worktree per session, ``header`` extra state-file fields."""

    environment_id: str
    environment_secret: str
    worker: List[str]
    worker_env: Dict[str, str]
    state_file: str
    cwd: str
    git_root: Optional[str] = None
    poll_ms: int = 2000
    reclaim_older_than_ms: Optional[int] = None
    archive_on_exit: bool = False
    deregister_on_exit: bool = False
    header: Optional[Dict[str, Any]] = None


def now_ms() -> int:
    return int(time.time() * 1000)


def proc_start(pid: int) -> Optional[str]:
    """The start time of process ``pid`` (``/proc/<pid>/stat`` field 22), None when unknown or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19].decode() if len(fields) > 19 and fields[0] != b"Z" else None


def is_ours(pid: int, start: Optional[str]) -> bool:
    """Whether ``pid`` is still the worker the state file recorded (same start time); unverifiable: no."""
    return bool(start) and proc_start(pid) == start


def _killpg(pgid: Optional[int], sig: int) -> None:
    if pgid:
        try:
            os.killpg(pgid, sig)
        except OSError:
            pass


class Serve:
    """One running serve (see the module docstring)."""

    def __init__(self, opts: ServeOptions, client: Any, sup: Supervisor, redactor: Any, log: Any) -> None:
        self.opts, self.client, self.sup, self.redactor, self.log = opts, client, sup, redactor, log
        self.secrets: Dict[str, Any] = {}  # work id -> (raw secret, session token); memory only
        self.tasks: set = set()
        self.wake = asyncio.Event()
        self.stop_requested = False
        self.fatal: Optional[BaseException] = None
        self.next_poll = self.poll_failures = 0
        self.polling = False
        self.dirty = self.running = True
        self.started_at = now_ms()

    def request_stop(self) -> None:
        self.stop_requested = True
        self.wake.set()

    async def run(self) -> int:
        """Serve until stopped (``request_stop``) or a fatal error; 0, or 1 after a fatal error."""
        sup, deadline = self.sup, 0
        self._do(sup.restore(now_ms(), is_ours))
        while True:
            self.wake.clear()  # before looking: a wake-up from now on is not lost
            now = now_ms()
            if (self.stop_requested or self.fatal) and not sup.shutting_down:
                self._do(sup.shutdown(now))
                deadline = now + SHUTDOWN_MS
            due_now = sup.tick(now)
            if due_now:  # (_do wakes the loop: with nothing to do it would spin)
                self._do(due_now)
            auth = getattr(self.fatal, "failure_class", "") == "provider_auth"  # stop_work cannot succeed
            if sup.shutting_down and (sup.idle() or now >= deadline or auth and not sup.active()):
                break
            room = sup.free_slots() > 0
            if room and not self.polling and now >= self.next_poll:
                self.polling = True
                self._task(self._poll())
            self._save()
            due = [t for t in (sup.next_due(), self.next_poll if room and not self.polling else None) if t is not None]
            try:
                await asyncio.wait_for(self.wake.wait(), min(1.0, max(0.0, (min(due) - now_ms()) / 1000) if due else 1.0))
            except asyncio.TimeoutError:
                pass
        for item in sup.active():  # out of time: what is left dies with serve
            _killpg(item.pgid, signal.SIGKILL)
        calls = [("archive_session", i.session_id) for i in list(sup.items.values())
                 if self.opts.archive_on_exit and i.kind == "session" and i.state != "requeued"]
        calls += [("deregister_environment", self.opts.environment_id)] if self.opts.deregister_on_exit else []
        for name, arg in [] if auth else calls:  # after a 401/403 they would be refused too
            try:
                await getattr(self.client, name)(arg)
            except Exception as exc:
                if getattr(exc, "kind", None) != "remote_gone":
                    self._failed(name, exc)
        self.dirty, self.running = True, False
        self._save()
        for task in list(self.tasks):
            task.cancel()
        return 1 if self.fatal else 0

    def _do(self, actions: List[Action]) -> None:
        self.dirty = True
        for action in actions:
            kind, wid = action.kind, action.work_id
            if kind == "spawn":
                self._task(self._spawn(wid))
            elif kind in ("term", "kill"):
                item = self.sup.items.get(wid)
                _killpg(item and item.pgid, signal.SIGTERM if kind == "term" else signal.SIGKILL)
            else:
                self._task(self._call(kind, wid, action.force))
        self.wake.set()

    def _task(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._reap)

    def _reap(self, task: Any) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:  # a bug: stop serve, say what it was
            self._failed("internal", task.exception())

    def _failed(self, what: str, exc: BaseException) -> None:
        cls = getattr(exc, "failure_class", "runtime_io")
        self.log(f"{what} failed ({cls}): {self.redactor.redact_text(str(exc) or type(exc).__name__)}")
        if cls == "provider_auth" or not isinstance(exc, (OSError, ClawError)) or what == "internal":
            self.fatal = self.fatal or exc
            self.wake.set()

    async def _poll(self) -> None:
        work = None
        try:
            work = await self.client.poll_work(self.opts.environment_id, environment_secret=self.opts.environment_secret
                                               or None, reclaim_older_than_ms=self.opts.reclaim_older_than_ms)
            self.poll_failures = 0
        except Exception as exc:  # classified by the client; fatal ones end serve
            self.poll_failures += 1
            self._failed("poll", exc)
        self.polling = False
        delay = self.opts.poll_ms * 2 ** min(self.poll_failures, 5)
        self.next_poll = now_ms() + (0 if work else min(delay, max(self.opts.poll_ms, MAX_POLL_BACKOFF_MS)))
        if work is not None:
            self._offered(work)
        self.wake.set()

    def _offered(self, work: Any) -> None:
        token, expiry, session = "", None, work.data_type == "session"
        if work.secret or session:
            from claw.remote.work_secret import decode_work_secret

            try:
                token = decode_work_secret(work.secret).session_ingress_token
            except ClawError as exc:
                self.log(f"work {work.id}: {exc}; stopping it")
                self._task(self._call("stop", work.id, True))
                return
            self.redactor.add_secret(work.secret)
            self.redactor.add_secret(token)
            expiry = token_expiry_ms(token) if session else None
        actions = self.sup.offered(work.id, work.data_id, work.data_type, now_ms(), expiry)
        if actions:
            self.secrets[work.id] = (work.secret, token)
        self._do(actions)

    async def _call(self, what: str, work_id: str, force: bool = False) -> None:
        env, token = self.opts.environment_id, self.secrets.get(work_id, ("", ""))[1]
        ok = gone = False
        reply = None
        try:
            if what == "ack":
                await self.client.ack_work(env, work_id, token)
            elif what == "heartbeat":
                reply = await self.client.heartbeat_work(env, work_id, token)
            else:
                await self.client.stop_work(env, work_id, force=force)
            ok = True
        except Exception as exc:
            gone = getattr(exc, "kind", None) == "remote_gone"
            if not gone:
                self._failed(f"{what} {work_id}", exc)
        if what == "stop" and (ok or gone):
            self.secrets.pop(work_id, None)
        self._do(self.sup.done(what, work_id, now_ms(), ok, gone, reply))

    async def _spawn(self, work_id: str) -> None:
        item, opts, sub = self.sup.items[work_id], self.opts, asyncio.subprocess
        cwd = worktree = None
        try:
            if opts.git_root:
                cwd = worktree = os.path.join(opts.git_root, ".claw", "worktrees",
                                              "".join(c if c.isalnum() or c in "-_" else "_" for c in work_id))
                os.makedirs(os.path.dirname(worktree), mode=0o700, exist_ok=True)
                if await self._git("worktree", "add", "--detach", worktree, "HEAD"):
                    worktree = None
                    raise OSError("git worktree add failed")
            env = dict(os.environ, **opts.worker_env)
            env.pop("CLAW_BRIDGE_TOKEN", None)  # the account's credential: the session's tools never see it
            env.update(CLAW_WORK_SECRET=self.secrets.get(work_id, ("",))[0], CLAW_REMOTE_SESSION_ID=item.session_id,
                       CLAW_REMOTE_WORK_ID=work_id, CLAW_REMOTE_ENVIRONMENT_ID=opts.environment_id)
            proc = await asyncio.create_subprocess_exec(
                *opts.worker, "--session-id", item.session_id, "--work-id", work_id, "--environment-id",
                opts.environment_id, cwd=cwd or opts.cwd, env=env, stdin=sub.DEVNULL, stdout=sub.PIPE,
                stderr=sub.PIPE, start_new_session=True, preexec_fn=process_groups.child_setup(), limit=1 << 20)
        except (OSError, ValueError) as exc:
            if worktree:
                await self._git("worktree", "remove", "--force", worktree)
            self._do(self.sup.spawn_failed(work_id, now_ms(), self.redactor.redact_text(str(exc))))
            return
        process_groups.track(proc.pid)
        self.log(f"work {work_id}: worker started (pid {proc.pid})")
        self._do(self.sup.started(work_id, now_ms(), proc.pid, proc_start(proc.pid), proc.pid, worktree))
        readers = [asyncio.ensure_future(self._read(work_id, s)) for s in (proc.stdout, proc.stderr)]
        code = await proc.wait()
        await asyncio.wait(readers, timeout=2)
        _killpg(proc.pid, signal.SIGKILL)  # whatever the worker left behind in its group
        process_groups.forget(proc.pid)
        if worktree:
            await self._git("worktree", "remove", "--force", worktree)
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
            self.wake.set()  # the state file shows it now

    async def _git(self, *args: str) -> int:
        sub = asyncio.subprocess
        proc = await asyncio.create_subprocess_exec("git", *args, cwd=self.opts.git_root, stdin=sub.DEVNULL,
                                                    stdout=sub.DEVNULL, stderr=sub.PIPE)
        _, err = await proc.communicate()
        if proc.returncode:
            self.log(f"git {args[0]} {args[1]}: {err.decode('utf-8', 'replace').strip()}")
        return proc.returncode or 0

    def _save(self) -> None:
        if not self.dirty:
            return
        self.dirty = False
        from claw.fsutil import atomic_write

        pid = os.getpid()
        state = dict(self.opts.header or {}, environment_id=self.opts.environment_id, pid=pid,
                     pid_start=proc_start(pid), started_at=self.started_at, updated_at=now_ms(),
                     max_sessions=self.sup.limits.max_sessions, running=self.running,
                     spawn_mode="worktree" if self.opts.git_root else "same-dir", **self.sup.to_json())
        try:
            atomic_write(self.opts.state_file, json.dumps(self.redactor.redact_obj(state), indent=1).encode(),
                         mode=0o600, make_dirs=0o700)
        except OSError as exc:
            self.log(f"cannot write {self.opts.state_file}: {exc}")
