"""Hooks: user commands (and host callbacks) run at points of the agent's life, in Claude Code's shape.

Settings ``hooks`` map an event (``PreToolUse``, ``PostToolUse``, ``PostToolUseFailure``,
``UserPromptSubmit``, ``SessionStart``, ``SessionEnd``, ``Stop``, ``Notification``, ``PreCompact``) to
matcher groups: ``[{"matcher": "Bash|Write", "hooks": [{"type": "command", "command": "...",
"timeout": 60}]}]``. ``HookRunner.run`` runs every hook whose matcher fits, concurrently, and folds
their answers into one ``HookOutcome``:

- command hooks run with ``bash -c`` (``sh -c`` without bash) in the project directory, in their own
  process group, with the event JSON on stdin; on timeout or cancellation the whole group is killed.
  Exit 0: stdout may be JSON (``decision``, ``reason``, ``continue``, ``stopReason``,
  ``suppressOutput``, ``systemMessage``, ``hookSpecificOutput``); plain stdout is extra context for
  ``UserPromptSubmit`` and ``SessionStart``. Exit 2: block, stderr is the reason. Other codes: a
  non-blocking error, reported as a warning.
- callback hooks (``"type": "callback"`` or the SDK's ``hookCallbackIds``) call the async callable
  given to the runner - the stream-json host answering a ``hook_callback`` control request - and
  its answer is read like a command's JSON output.

A hook that fails, times out or prints nonsense never raises: it becomes a warning in the outcome.

It deliberately does not decide what an outcome means for the run (the loop does: skip the tool,
use the updated input, stop the turn...), does not print, and does not read settings files: the
caller passes the hooks (typed, validated once by claw.config), the environment and the ids. Reading that value and matching
is claw.runtime.hook_config; reading a hook's answer and folding the answers is claw.runtime.hook_verdicts;
this module runs the hooks.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Tuple

from claw.config.schema import HOOK_EVENTS
from claw.runtime.hook_config import (
    CLAUDE_CODE_TOOL_NAMES,
    MATCH_FIELDS,
    TOOL_EVENTS,
    HooksConfig,
    HookSpec,
    matcher_matches,
    tool_names_for_matching,
)
from claw.runtime.hook_verdicts import HookOutcome, HookResult, combine, verdict_for_callback, verdict_for_command
from claw.tools.registry import canonical_tool_name

# A payload key the runner passes to callbacks but never to command hooks: the tool's result metadata,
# from which a stream-json host's PostToolUse input gets Claude Code's structured tool_response.
PRIVATE_METADATA = "_claw_tool_metadata"
OUTPUT_LIMIT = 1_000_000  # bytes of a hook's stdout/stderr that are kept
DRAIN_GRACE = 0.25  # seconds to keep reading a hook's pipes after it exited while a child holds them

# callback(callback_id, event payload, tool_use_id) -> the hook's JSON answer (a dict)
HookCallback = Callable[[str, Dict[str, Any], Optional[str]], Awaitable[Any]]
# observer(phase, event, tool_name, spec, hook_id, result): phase "started" (result None), "finished" or
# "cancelled" (result None); for hosts that show hook lifecycle messages (--include-hook-events).
HookObserver = Callable[[str, str, Optional[str], HookSpec, str, Optional[HookResult]], None]


def _kill_group(pid: Optional[int]) -> None:
    if pid is None:
        return
    try:
        if hasattr(os, "killpg"):
            os.killpg(pid, signal.SIGKILL)
        else:  # pragma: no cover - not POSIX
            os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


async def _feed(proc: "asyncio.subprocess.Process", data: bytes) -> None:
    stdin = proc.stdin
    if stdin is None:
        return
    try:
        stdin.write(data)
        await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the hook does not read its input: fine
    finally:
        try:
            stdin.close()
            # Retrieve the close result: Python 3.9/3.10 log a BrokenPipeError nobody awaited otherwise.
            await stdin.wait_closed()
        except (BrokenPipeError, ConnectionResetError):
            pass


async def _drain(stream: Optional["asyncio.StreamReader"], kept: bytearray, limit: int) -> None:
    """Read a pipe to its end into ``kept``, keeping at most ``limit`` bytes (a chatty hook cannot fill
    memory). What was read stays in ``kept`` when the read is cancelled."""
    if stream is None:
        return
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            return
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]


async def _exited(proc: "asyncio.subprocess.Process") -> None:
    """Until the hook process itself has exited. ``proc.returncode`` is set when it exits, whereas
    ``proc.wait()`` on Python 3.12+ also waits for its pipes to close, which a background child that
    inherited them can delay indefinitely."""
    while proc.returncode is None:
        await asyncio.sleep(0.05)


async def _communicate(proc: "asyncio.subprocess.Process", data: bytes) -> Tuple[bytes, bytes]:
    """Feed the event, collect stdout and stderr, return once the hook process has exited.

    The hook is judged by its own exit, not by the end of its output: when it exits but something it
    started in the background still holds its stdout or stderr, what it wrote is read for up to
    ``DRAIN_GRACE`` seconds more and then the reads stop (the caller kills the process group).
    """
    out, err = bytearray(), bytearray()
    readers = [asyncio.ensure_future(_drain(proc.stdout, out, OUTPUT_LIMIT)),
               asyncio.ensure_future(_drain(proc.stderr, err, OUTPUT_LIMIT))]
    feeder = asyncio.ensure_future(_feed(proc, data))
    both = asyncio.gather(*readers)
    exit_ = asyncio.ensure_future(_exited(proc))
    try:
        await asyncio.wait([both, exit_], return_when=asyncio.FIRST_COMPLETED)
        if both.done():  # the usual case: output closed with the process; its exit follows at once
            await proc.wait()
        else:  # exited, but its pipes live on in a child: take what is there, briefly
            await asyncio.wait([both], timeout=DRAIN_GRACE)
    finally:
        tasks = readers + [feeder, exit_]
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(both, *tasks, return_exceptions=True)
    return bytes(out), bytes(err)


def _close_transport(proc: "asyncio.subprocess.Process") -> None:
    # asyncio.subprocess.Process has no public close(): without it, a transport whose last pipe
    # callbacks had not run yet when a short-lived loop closed complains from __del__ (3.9, 3.10).
    transport = getattr(proc, "_transport", None)
    if transport is not None:
        try:
            transport.close()
        except Exception:  # pragma: no cover - best effort
            pass


async def run_captured(argv: List[str], stdin: bytes, result: Any, *, cwd: Any, env: Mapping[str, str],
                       timeout: float, pass_fds: Tuple[int, ...] = ()) -> Any:
    """Run ``argv`` in its own process group with ``stdin`` fed and stdout/stderr kept (up to
    ``OUTPUT_LIMIT``); fills ``result`` (a ``HookResult``: pid, exit_code, stdout, stderr, timed_out,
    error, duration_ms) and returns it. A timeout or a cancellation kills the whole group; whatever the
    process left running in its group is killed when it exits. The group is recorded with
    claw.process_groups while it runs (and the process dies with claw), so a ``kill -9`` of claw
    in the middle does not leave it behind. Used by hooks and plugin tools."""
    from claw import process_groups

    start = time.monotonic()
    spawn = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
            preexec_fn=process_groups.child_setup(),
            pass_fds=pass_fds,
        )
    )
    try:
        # Shielded: a cancellation while the process starts must still let us kill its group
        # (cancelling asyncio's own start-up waits for the shell and leaves its children).
        proc = await asyncio.shield(spawn)
    except asyncio.CancelledError:
        try:
            started = await spawn
        except BaseException:
            raise asyncio.CancelledError() from None
        _kill_group(started.pid)
        await _reap(started)
        _close_transport(started)
        raise
    except (OSError, ValueError) as exc:
        result.error = str(exc)
        return result
    result.pid = proc.pid
    process_groups.track(proc.pid)
    try:
        out, err = await asyncio.wait_for(_communicate(proc, stdin), timeout)
        result.exit_code = proc.returncode
        result.stdout, result.stderr = _decode(out), _decode(err)
        _kill_group(proc.pid)  # what it left running in its group (`sleep 30 &`) ends with it
    except asyncio.TimeoutError:
        result.timed_out = True
        _kill_group(proc.pid)
        await _reap(proc)
    except Exception as exc:  # an unexpected I/O error: a warning, never a crash
        _kill_group(proc.pid)
        await _reap(proc)
        result.error = f"{type(exc).__name__}: {exc}"
    except BaseException:  # cancelled (an interrupt): leave nothing running, then propagate
        _kill_group(proc.pid)
        await _reap(proc)
        raise
    finally:
        _close_transport(proc)
        for _ in range(25):  # what the group kill hit is gone within moments; then it is forgotten
            if not process_groups.group_alive(proc.pid):
                break
            await asyncio.sleep(0.02)
        process_groups.settle(proc.pid)
        result.duration_ms = int((time.monotonic() - start) * 1000)
    return result


async def _reap(proc: "asyncio.subprocess.Process") -> None:
    try:
        await asyncio.wait_for(asyncio.shield(proc.wait()), 5)
    except (asyncio.TimeoutError, asyncio.CancelledError, ProcessLookupError):
        pass


class HookRunner:
    """Runs the configured hooks of one session.

    ``hooks_config``: the hooks of the run (``HooksConfig.from_settings``, plus a host's callbacks). ``env``: variables
    layered on ``os.environ`` for command hooks (settings ``env``, proxy and CA variables; a value of
    ``None`` removes a variable); ``CLAW_PROJECT_DIR`` and ``CLAUDE_PROJECT_DIR`` are added.
    ``callback``: async ``(callback_id, payload, tool_use_id) -> dict`` for callback hooks.
    ``permission_mode`` (settable) is added to every payload when known. ``observer`` (settable) is told
    when each hook starts and ends.
    """

    def __init__(
        self,
        hooks_config: HooksConfig,
        *,
        project_dir: str,
        env: Optional[Mapping[str, Optional[str]]] = None,
        session_id: str,
        transcript_path: str,
        callback: Optional[HookCallback] = None,
        permission_mode: Optional[str] = None,
        observer: Optional[HookObserver] = None,
    ) -> None:
        self.config = hooks_config
        self.project_dir = str(project_dir)
        self.session_id = session_id
        self.transcript_path = str(transcript_path)
        self.callback = callback
        self.permission_mode = permission_mode
        self.observer = observer
        merged = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = str(value)
        merged["CLAW_PROJECT_DIR"] = self.project_dir
        merged["CLAUDE_PROJECT_DIR"] = self.project_dir
        self._env = merged
        self._shell_argv: Optional[List[str]] = None

    @property
    def _shell(self) -> List[str]:
        """bash when it is on the hooks' PATH, else /bin/sh; looked up when a first command hook runs
        (``shutil`` is a few milliseconds of start-up that a run without hooks does not need)."""
        if self._shell_argv is None:
            import shutil

            bash = shutil.which("bash", path=self._env.get("PATH"))
            self._shell_argv = [bash, "-c"] if bash else ["/bin/sh", "-c"]
        return self._shell_argv

    def matching(self, event: str, *, tool_name: Optional[str] = None, match_value: Optional[str] = None) -> List[HookSpec]:
        """The hooks that would run for this event (duplicates of the same command once)."""
        specs = self.config.for_event(event)
        if not specs:
            return []
        if event in TOOL_EVENTS:
            candidates: Tuple[str, ...] = tool_names_for_matching(tool_name) if tool_name else ()
            use_matcher = True
        elif event in MATCH_FIELDS:
            candidates = (match_value,) if match_value else ()
            use_matcher = match_value is not None
        else:
            candidates, use_matcher = (), False  # UserPromptSubmit, Stop: matchers do not apply
        chosen: List[HookSpec] = []
        seen = set()
        for spec in specs:
            if use_matcher and not matcher_matches(spec.matcher, candidates):
                continue
            key = (spec.type, spec.command, spec.callback_id)
            if key in seen:
                continue
            seen.add(key)
            chosen.append(spec)
        return chosen

    def has_hooks(self, event: str, *, tool_name: Optional[str] = None) -> bool:
        """Cheap check so the loop can skip building a payload when nothing would run (for tool
        events with ``tool_name``, only hooks whose matcher fits that tool count)."""
        if event in TOOL_EVENTS and tool_name is not None:
            return bool(self.matching(event, tool_name=tool_name))
        return bool(self.config.for_event(event))

    def build_payload(self, event: str, payload: Mapping[str, Any], *, tool_name: Optional[str] = None) -> Dict[str, Any]:
        """The event JSON a hook receives: the common fields, then the caller's event fields."""
        data: Dict[str, Any] = {
            "session_id": self.session_id,
            "transcript_path": self.transcript_path,
            "cwd": self.project_dir,
            "hook_event_name": event,
        }
        if self.permission_mode:
            data["permission_mode"] = self.permission_mode
        if tool_name is not None:
            data["tool_name"] = tool_name
        data.update(payload)
        name = data.get("tool_name")
        if event in TOOL_EVENTS and isinstance(name, str) and (canonical_tool_name(name) or name) in CLAUDE_CODE_TOOL_NAMES:
            data.setdefault("claude_code_tool_name", CLAUDE_CODE_TOOL_NAMES[canonical_tool_name(name) or name][0])
        return data

    async def run(self, event_name: str, payload: Optional[Mapping[str, Any]] = None, *, tool_name: Optional[str] = None) -> HookOutcome:
        """Run every matching hook for ``event_name`` concurrently and combine their answers.

        ``payload`` holds the event's own fields (``tool_input``, ``tool_use_id``, ``tool_response``,
        ``error``, ``prompt``, ``source``, ``reason``, ``stop_hook_active``, ``trigger``,
        ``message``...). Cancellation (an interrupt) kills running command hooks and propagates.
        """
        payload = dict(payload or {})
        if event_name not in HOOK_EVENTS:
            return HookOutcome(event=event_name, warnings=[f"unknown hook event {event_name!r}"])
        if tool_name is None and event_name in TOOL_EVENTS:
            name = payload.get("tool_name")
            tool_name = name if isinstance(name, str) else None
        match_value = None
        if event_name in MATCH_FIELDS:
            value = payload.get(MATCH_FIELDS[event_name])
            match_value = value if isinstance(value, str) else ""
        specs = self.matching(event_name, tool_name=tool_name, match_value=match_value)
        if not specs:
            return HookOutcome(event=event_name)
        data = self.build_payload(event_name, payload, tool_name=tool_name)
        public = {k: v for k, v in data.items() if k != PRIVATE_METADATA}
        stdin = json.dumps(public, ensure_ascii=False, default=str).encode("utf-8", "backslashreplace")
        tool_use_id = data.get("tool_use_id") if isinstance(data.get("tool_use_id"), str) else None
        jobs = []
        for spec in specs:
            if spec.type == "command":
                jobs.append(self._run_command(spec, stdin))
            else:
                jobs.append(self._run_callback(spec, data, tool_use_id))
        if self.observer is not None:
            jobs = [self._observed(job, spec, event_name, tool_name) for job, spec in zip(jobs, specs)]
        results: List[HookResult] = list(await asyncio.gather(*jobs))
        verdicts = [
            verdict_for_command(event_name, r) if r.hook.type == "command" else verdict_for_callback(event_name, r)
            for r in results
        ]
        return combine(event_name, verdicts, results, ())

    async def _observed(self, job: Awaitable[HookResult], spec: HookSpec, event: str, tool_name: Optional[str]
                        ) -> HookResult:
        """``job`` with the observer told when it starts and ends (an observer that fails is ignored)."""
        from claw.ids import uuid4

        hook_id = uuid4()
        self._tell("started", event, tool_name, spec, hook_id, None)
        try:
            result = await job
        except asyncio.CancelledError:
            self._tell("cancelled", event, tool_name, spec, hook_id, None)
            raise
        self._tell("finished", event, tool_name, spec, hook_id, result)
        return result

    def _tell(self, *args: Any) -> None:
        try:
            if self.observer is not None:
                self.observer(*args)
        except Exception:
            pass

    async def _run_command(self, spec: HookSpec, stdin: bytes) -> HookResult:
        root = spec.plugin_root  # a plugin's hook gets its directory, as Claude Code gives it
        env = self._env if root is None else dict(self._env, CLAUDE_PLUGIN_ROOT=root, CLAW_PLUGIN_ROOT=root)
        return await run_captured([*self._shell, spec.command or ""], stdin, HookResult(hook=spec),
                                  cwd=self.project_dir, env=env, timeout=spec.timeout)

    async def _run_callback(self, spec: HookSpec, data: Dict[str, Any], tool_use_id: Optional[str]) -> HookResult:
        result = HookResult(hook=spec)
        start = time.monotonic()
        try:
            if self.callback is None:
                result.error = "no host registered callbacks for this session"
                return result
            try:
                answer = await asyncio.wait_for(self.callback(spec.callback_id or "", dict(data), tool_use_id), spec.timeout)
            except asyncio.TimeoutError:
                result.timed_out = True
                return result
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a host error is a warning, never a crash
                result.error = f"{type(exc).__name__}: {exc}"
                return result
            if answer is None:
                answer = {}
            if not isinstance(answer, dict):
                result.error = f"answered {type(answer).__name__}, expected an object"
                return result
            result.answer = answer
            result.exit_code = 0
            return result
        finally:
            result.duration_ms = int((time.monotonic() - start) * 1000)
