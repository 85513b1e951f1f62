"""The state machine of ``claw remote-control serve``: which work items serve holds, and what to do next.

Sans-IO: no asyncio, no sockets, no processes, no clock. The driver (``claw.remote.serve``) passes the
time (``now``, epoch milliseconds) into every call, does what the returned actions say (``Action``:
ack, spawn, heartbeat, signal, stop) and reports the outcome back (``done``, ``started``,
``exited``). ``tick(now)`` yields the actions that time makes due;
``next_due()`` says when to tick again.

A session work item goes ``acked`` (the ack is in flight) → ``running`` (its worker started) →
``stopping`` (serve asked the worker to end: shutdown, session timeout, the session token about to
expire, the lease lost, the service stopping the item) → one of

- ``done`` (the worker exited 0, or the service asked for the stop: a heartbeat answered ``state:
  stopping``/``stopped``; a v2 session has no other end) / ``failed`` (non-zero, the session timeout, or it could not start)
  / ``stopped`` (serve shut down): serve owes ``stop_work`` (``force`` unless done), kept as
  ``stop_pending`` until it succeeded or the server said the item is gone (404/410), failed attempts
  retried with a doubling back-off;
- ``requeued``: given back by letting its lease lapse (no more heartbeats, no stop_work, which would
  end the work for good), so the server hands it out again: the session token about to expire (the
  server re-dispatches with a fresh one), the lease lost, the ack failed, the worker killed by someone
  else's signal or exiting ``REQUEUE_EXIT`` (75: its session refused the token; up to ``max_runs`` runs),
  a restart of serve.

A health check is acked and done at once (stop_work completes it). A work id polled again while its worker runs is acked again
(the lease renewed) and never starts a second worker; one polled again after it was requeued runs again.

The worker's output lines (``output``) feed the activity summary (the last lines, the last tool used,
the last result) and the pending permission requests (stream-json ``control_request`` lines of subtype
``can_use_tool``, forgotten when answered or cancelled).

``to_json``/``from_json`` are the state file (``.claw/remote-serve.json``; docs/REMOTE.md has its shape).
On a restart ``restore`` requeues every item the old serve held and resumes the stops it owed; a worker
still alive and provably the old serve's (its start time matches) is killed first, a pid that cannot be
verified is never signalled. Workers are not re-adopted: they die with serve (process groups, the
parent-death signal), and an orphan's output and exit code cannot be collected.

It does not talk HTTP, start processes, or read the work secret (the token expiry is passed in); the
secret is never part of its state.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

STATE_VERSION = 1
REQUEUE_EXIT = 75  # a worker's "give the work back" (claw.cli.bridge_worker_cmd)
ACTIVE = ("acked", "running", "stopping")
FINISHED = ("done", "failed", "stopped", "requeued")


@dataclass
class Limits:
    """The knobs of the machine (milliseconds unless said)."""

    max_sessions: int = 4
    session_timeout_ms: Optional[int] = None
    heartbeat_ms: int = 20_000
    token_margin_ms: int = 60_000  # requeue this long before the session token expires
    kill_grace_ms: int = 12_000  # SIGTERM → SIGKILL: past the worker's 10 s drain of what it owes the session
    stop_retry_ms: int = 500  # first stop_work retry; doubles up to stop_retry_max_ms
    stop_retry_max_ms: int = 30_000
    activity_lines: int = 20
    line_chars: int = 300
    history: int = 50  # finished items kept for ``status``
    max_runs: int = 3  # a work item whose worker keeps getting killed fails after this many runs


@dataclass
class Action:
    """Something for the driver to do: ``kind`` is ``ack``, ``spawn``, ``heartbeat``, ``term``/``kill``
    (signal the worker's process group) or ``stop`` (stop_work, ``force``). Every call may change the
    state: the driver saves it after each."""

    kind: str
    work_id: str
    force: bool = False


@dataclass
class Item:
    """One work item serve holds or held. ``pid``/``pid_start``/``pgid`` identify its worker (the start
    time guards against a reused pid after a restart)."""

    work_id: str
    session_id: str
    kind: str = "session"  # or "healthcheck"
    state: str = "acked"
    received_at: int = 0
    started_at: Optional[int] = None
    ended_at: Optional[int] = None
    token_expires_at: Optional[int] = None
    pid: Optional[int] = None
    pid_start: Optional[str] = None
    pgid: Optional[int] = None
    exit_code: Optional[int] = None
    reason: Optional[str] = None  # why serve stopped it: shutdown, timeout, token_expiry, lease_lost, restart, server_stop
    stop_pending: bool = False
    stop_attempts: int = 0
    next_stop_at: Optional[int] = None
    next_heartbeat_at: Optional[int] = None
    kill_at: Optional[int] = None
    runs: int = 1
    worktree: Optional[str] = None
    lines: List[str] = field(default_factory=list)
    last_tool: Optional[str] = None
    last_result: Optional[str] = None
    permissions: List[Dict[str, Any]] = field(default_factory=list)  # request_id, tool_name, since

    def to_json(self) -> Dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and k not in _TRANSIENT}


_TRANSIENT = ("next_heartbeat_at", "kill_at", "next_stop_at")


def token_expiry_ms(token: str) -> Optional[int]:
    """The ``exp`` claim of a JWT-shaped token, in epoch ms; None when it has none (not checked:
    only the server can verify it)."""
    try:
        body = token.split(".")[1]
        exp = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["exp"]
        return int(float(exp) * 1000)
    except (IndexError, ValueError, KeyError, TypeError, AttributeError):
        return None


class Supervisor:
    """The work items of one serve and the rules that move them (see the module docstring)."""

    def __init__(self, limits: Optional[Limits] = None) -> None:
        self.limits = limits or Limits()
        self.items: Dict[str, Item] = {}
        self.shutting_down = False

    # -- queries ---------------------------------------------------------------------------------

    def active(self) -> List[Item]:
        return [i for i in self.items.values() if i.state in ACTIVE]

    def free_slots(self) -> int:
        """How many more sessions serve may take (none while shutting down)."""
        return 0 if self.shutting_down else max(0, self.limits.max_sessions - len(self.active()))

    def idle(self) -> bool:
        """Nothing running and no stop_work owed: a shutdown may end."""
        return not any(i.state in ACTIVE or i.stop_pending for i in self.items.values())

    def next_due(self) -> Optional[int]:
        """The earliest time a ``tick`` has something to do."""
        times = [t for i in self.items.values() for t in (i.next_heartbeat_at, i.kill_at, i.next_stop_at)
                 + tuple(t for t, _ in self._deadlines(i)) if t is not None]
        return min(times) if times else None

    def _deadlines(self, item: Item) -> List[Any]:
        """(time, why) the running ``item`` must stop: its session timeout, its token's expiry (the margin
        before it, or half the token's life when that is shorter)."""
        out = []
        if item.state == "running" and self.limits.session_timeout_ms is not None:
            out.append((item.started_at + self.limits.session_timeout_ms, "timeout"))
        exp = item.token_expires_at
        if item.state == "running" and exp is not None:
            out.append((exp - max(0, min(self.limits.token_margin_ms, (exp - item.received_at) // 2)), "token_expiry"))
        return out

    # -- events ----------------------------------------------------------------------------------

    def offered(self, work_id: str, session_id: str, kind: str, now: int,
                token_expires_at: Optional[int] = None) -> List[Action]:
        """The poll returned a work item. A health check: ack, done. A session: ack it (then
        ``acked``), unless serve holds it already or has no room (nothing: the server offers it again)."""
        old = self.items.get(work_id)
        if old is not None and old.state in ("running", "stopping"):
            old.token_expires_at = token_expires_at or old.token_expires_at
            return [Action("ack", work_id)]  # ours already: renew the lease, never a second worker
        if old is not None and old.state != "requeued":
            return []  # acked just now, or finished (its stop owed or sent)
        if kind == "healthcheck":
            self._add(Item(work_id, session_id, kind, received_at=now))
            return [Action("ack", work_id)]
        if self.free_slots() <= 0 or any(i.session_id == session_id for i in self.active()) \
                or (token_expires_at is not None and token_expires_at <= now):
            return []  # no room, its session busy, or a dead token (the server must hand out a fresh one)
        item = Item(work_id, session_id, received_at=now, token_expires_at=token_expires_at,
                    runs=old.runs + 1 if old is not None else 1)
        self._add(item)
        return [Action("ack", work_id)]

    def done(self, what: str, work_id: str, now: int, ok: bool, gone: bool = False,
             reply: Optional[Dict[str, Any]] = None) -> List[Action]:
        """The outcome of an ``ack``, ``heartbeat`` or ``stop`` call (``gone``: 404/410).

        ack: spawn the worker (a health check: done, stopped; shutting down: stopped), failed: let it
        lapse. heartbeat: the work's state ``stopping``/``stopped``: stop the worker, the item is done
        (stop_work confirms it); the lease gone or not extended: stop the worker, no stop_work owed; other
        failures wait for the next heartbeat. stop: settled (or gone), else retried after a doubling
        back-off."""
        item = self.items.get(work_id)
        if item is None:
            return []
        if what == "ack":
            if item.state != "acked":
                return []
            if not ok:
                return self._finish(item, "requeued", now, stop=False, reason="ack_failed")
            if item.kind == "healthcheck" or self.shutting_down:
                return self._finish(item, "stopped" if self.shutting_down else "done", now, stop=True,
                                    reason="shutdown" if self.shutting_down else None)
            return [Action("spawn", work_id)]
        if what == "heartbeat":
            if ok and isinstance(reply, dict) and reply.get("state") in ("stopping", "stopped"):
                if item.state == "running":  # the service ended the session: end the worker, confirm the stop
                    return self._ask_stop(item, "server_stop", now)
                return []
            if gone or ok and isinstance(reply, dict) and reply.get("lease_extended") is False:
                if item.state == "running":
                    return self._ask_stop(item, "lease_lost", now)
                if item.state == "stopping":
                    item.reason = "lease_lost"
            return []
        if item.stop_pending and (ok or gone):
            item.stop_pending = False
            self._trim()
        elif item.stop_pending:
            item.stop_attempts += 1
            item.next_stop_at = now + min(self.limits.stop_retry_ms * 2 ** min(item.stop_attempts - 1, 20),
                                          self.limits.stop_retry_max_ms)
        return []

    def started(self, work_id: str, now: int, pid: int, pid_start: Optional[str], pgid: Optional[int],
                worktree: Optional[str] = None) -> List[Action]:
        """The worker runs: heartbeat from now on."""
        item = self.items[work_id]
        item.state, item.started_at, item.pid, item.pid_start, item.pgid = "running", now, pid, pid_start, pgid
        item.worktree = worktree
        item.next_heartbeat_at = now + self.limits.heartbeat_ms
        if self.shutting_down:
            return self._ask_stop(item, "shutdown", now)
        return []

    def spawn_failed(self, work_id: str, now: int, message: str) -> List[Action]:
        """The worker could not start: the item fails and goes back with stop_work."""
        item = self.items[work_id]
        self._note(item, f"worker did not start: {message}")
        return self._finish(item, "failed", now, stop=True, reason="spawn_failed")

    def exited(self, work_id: str, now: int, code: Optional[int]) -> List[Action]:
        """The worker ended: what it becomes (the module docstring says which)."""
        item = self.items.get(work_id)
        if item is None or item.state not in ("running", "stopping"):
            return []
        item.exit_code, reason = code, item.reason
        if reason is None and code is not None and code < 0 and item.runs < self.limits.max_runs:
            reason = "killed"  # by someone else's signal: run it again
        if reason is None and code == REQUEUE_EXIT and item.runs < self.limits.max_runs:
            reason = "session_refused"  # the worker's token was refused: the server re-dispatches a fresh one
        if reason in ("lease_lost", "token_expiry", "killed", "session_refused"):
            return self._finish(item, "requeued", now, stop=False, reason=reason)
        if reason == "server_stop":
            return self._finish(item, "done", now, stop=True, reason=reason)
        if reason == "shutdown":
            return self._finish(item, "stopped", now, stop=True, reason=reason)
        return self._finish(item, "done" if code == 0 and reason is None else "failed", now, stop=True, reason=reason)

    def output(self, work_id: str, line: str, now: int) -> None:
        """A line of the worker's stdout/stderr (already redacted): activity and permission requests."""
        item = self.items.get(work_id)
        if item is None:
            return
        line = line.rstrip("\r\n")
        try:  # the worker's output is not trusted to be well-formed
            obj = json.loads(line) if line.startswith("{") else {}
            kind, request = obj.get("type"), obj.get("request") or {}
            if kind == "control_request" and request.get("subtype") == "can_use_tool" and obj.get("request_id"):
                rid = str(obj["request_id"])
                item.permissions = [p for p in item.permissions if p["request_id"] != rid] + [
                    {"request_id": rid, "tool_name": str(request.get("tool_name") or ""), "since": now}]
            elif kind in ("control_response", "control_cancel_request"):
                rid = str(obj.get("request_id") or (obj.get("response") or {}).get("request_id"))
                item.permissions = [p for p in item.permissions if p["request_id"] != rid]
            elif kind == "assistant":
                for block in obj["message"]["content"]:
                    if block.get("type") == "tool_use":
                        item.last_tool = str(block.get("name"))
            elif kind == "result":
                item.last_result = f"{obj.get('subtype') or 'result'}: {obj.get('result') or ''}"[: self.limits.line_chars]
        except (ValueError, AttributeError, TypeError, KeyError):
            pass
        if line.strip():
            self._note(item, line)

    def shutdown(self, now: int) -> List[Action]:
        """serve is stopping: take no more work, ask every worker to end (their items go back)."""
        self.shutting_down = True
        actions: List[Action] = []
        for item in self.active():
            if item.state == "running":
                actions += self._ask_stop(item, "shutdown", now)
            elif item.state == "acked":
                item.reason = "shutdown"
        return actions

    def tick(self, now: int) -> List[Action]:
        """What time makes due: heartbeats, session timeouts, token-expiry requeues, SIGKILL after the
        grace, stop_work retries."""
        actions: List[Action] = []
        for item in list(self.items.values()):
            for due, why in self._deadlines(item):
                if now >= due and item.state == "running":
                    actions += self._ask_stop(item, why, now)
            if item.state in ("running", "stopping") and item.next_heartbeat_at is not None \
                    and now >= item.next_heartbeat_at and item.reason != "lease_lost":
                item.next_heartbeat_at = now + self.limits.heartbeat_ms
                actions.append(Action("heartbeat", item.work_id))
            if item.state == "stopping" and item.kill_at is not None and now >= item.kill_at:
                item.kill_at = None
                actions.append(Action("kill", item.work_id))
            if item.stop_pending and item.next_stop_at is not None and now >= item.next_stop_at:
                item.next_stop_at = None  # in flight until its outcome
                actions.append(Action("stop", item.work_id, force=item.state != "done"))
        return actions

    # -- state file ------------------------------------------------------------------------------

    def to_json(self) -> Dict[str, Any]:
        return {"version": STATE_VERSION, "items": [i.to_json() for i in self.items.values()]}

    @classmethod
    def from_json(cls, obj: Any, limits: Optional[Limits] = None) -> "Supervisor":
        """The machine as a state file left it (unknown fields ignored; a malformed file: empty)."""
        sup = cls(limits)
        rows = obj.get("items") if isinstance(obj, dict) and obj.get("version") == STATE_VERSION else None
        names = set(Item.__dataclass_fields__) - set(_TRANSIENT)
        for row in rows if isinstance(rows, list) else ():
            if isinstance(row, dict) and isinstance(row.get("work_id"), str) and isinstance(row.get("session_id"), str):
                try:
                    sup._add(Item(**{k: v for k, v in row.items() if k in names}))
                except TypeError:
                    continue
        return sup

    def restore(self, now: int, ours: Callable[[int, Optional[str]], bool]) -> List[Action]:
        """After a restart: every item the old serve held is requeued (its lease lapses); a worker still
        alive and ``ours(pid, pid_start)`` is killed first (its process group). Owed stops resume."""
        actions: List[Action] = []
        for item in list(self.items.values()):
            if item.state in ACTIVE:
                if item.state != "acked" and item.pid and ours(item.pid, item.pid_start):
                    actions.append(Action("kill", item.work_id))
                actions += self._finish(item, "requeued", now, stop=False, reason="restart")
            elif item.stop_pending:
                item.next_stop_at = now
        return actions

    # -- internals -------------------------------------------------------------------------------

    def _add(self, item: Item) -> None:
        self.items.pop(item.work_id, None)
        self.items[item.work_id] = item  # insertion order: the oldest first
        self._trim()

    def _trim(self) -> None:
        old = [i for i in self.items.values() if i.state in FINISHED and not i.stop_pending]
        for item in old[: max(0, len(old) - self.limits.history)]:
            del self.items[item.work_id]

    def _ask_stop(self, item: Item, reason: str, now: int) -> List[Action]:
        item.state, item.reason = "stopping", reason
        item.kill_at = now + self.limits.kill_grace_ms
        return [Action("term", item.work_id)]

    def _finish(self, item: Item, state: str, now: int, *, stop: bool, reason: Optional[str]) -> List[Action]:
        item.state, item.ended_at, item.reason = state, now, reason
        item.kill_at = item.next_heartbeat_at = None
        item.permissions = []
        item.stop_pending, item.stop_attempts, item.next_stop_at = stop, 0, None  # a stop is in flight now
        self._trim()
        return [Action("stop", item.work_id, force=state != "done")] if stop else []

    def _note(self, item: Item, line: str) -> None:
        item.lines.append(line[: self.limits.line_chars])
        del item.lines[: -self.limits.activity_lines]

