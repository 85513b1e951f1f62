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
caller passes the merged ``hooks`` value, the environment and the ids.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from claw.config.schema import HOOK_EVENTS
from claw.tools.registry import ALIASES  # SubagentStop is accepted there but never fires here

TOOL_EVENTS = frozenset({"PreToolUse", "PostToolUse", "PostToolUseFailure"})
# Events where exit code 2 / "decision": "block" means something (see HookOutcome.blocked).
BLOCKING_EVENTS = frozenset({"PreToolUse", "PostToolUse", "PostToolUseFailure", "UserPromptSubmit", "Stop"})
# Events whose plain (non-JSON) stdout becomes context for the model, as in Claude Code.
STDOUT_CONTEXT_EVENTS = frozenset({"UserPromptSubmit", "SessionStart"})
# What the matcher is compared with, for events that are not about a tool.
MATCH_FIELDS = {"SessionStart": "source", "SessionEnd": "reason", "PreCompact": "trigger", "Notification": "notification_type"}

DEFAULT_TIMEOUT = 60.0
OUTPUT_LIMIT = 1_000_000  # bytes of a hook's stdout/stderr that are kept
REASON_LIMIT = 10_000  # characters of stderr used as a block reason
DRAIN_GRACE = 0.25  # seconds to keep reading a hook's pipes after it exited while a child holds them

# canonical tool name -> the Claude Code names users write in matchers (see docs/HOOKS.md).
CLAUDE_CODE_TOOL_NAMES: Dict[str, Tuple[str, ...]] = {}
for _alias, _name in ALIASES.items():
    CLAUDE_CODE_TOOL_NAMES[_name] = CLAUDE_CODE_TOOL_NAMES.get(_name, ()) + (_alias,)
_EXACT_MATCHER = re.compile(r"^[A-Za-z0-9_\-|, ]+$")

# callback(callback_id, event payload, tool_use_id) -> the hook's JSON answer (a dict)
HookCallback = Callable[[str, Dict[str, Any], Optional[str]], Awaitable[Any]]


def canonical_tool_name(name: str) -> str:
    """``Bash`` -> ``bash``, ``MultiEdit`` -> ``edit_file``; other names (MCP tools...) unchanged."""
    return ALIASES.get(name, name)


def tool_names_for_matching(name: str) -> Tuple[str, ...]:
    """Every name a tool answers to in a matcher: canonical first, then its Claude Code names."""
    canonical = canonical_tool_name(name)
    return (canonical,) + CLAUDE_CODE_TOOL_NAMES.get(canonical, ())


# ----------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class HookSpec:
    """One configured hook."""

    event: str
    matcher: str  # "" matches everything
    type: str  # "command" | "callback"
    command: Optional[str] = None
    callback_id: Optional[str] = None
    timeout: float = DEFAULT_TIMEOUT

    @property
    def label(self) -> str:
        if self.type == "callback":
            return f"callback {self.callback_id}"
        text = " ".join((self.command or "").split())
        return text if len(text) <= 60 else text[:59] + "…"


@dataclass(frozen=True)
class HooksConfig:
    """Parsed ``hooks`` settings: specs per event, plus what could not be used (as warnings)."""

    by_event: Mapping[str, Tuple[HookSpec, ...]]
    warnings: Tuple[str, ...] = ()

    def for_event(self, event: str) -> Tuple[HookSpec, ...]:
        return tuple(self.by_event.get(event, ()))


def _parse_timeout(value: Any, where: str, warnings: List[str]) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        warnings.append(f"{where}: timeout must be a positive number of seconds; using {DEFAULT_TIMEOUT:g}")
        return DEFAULT_TIMEOUT
    return float(value)


def _as_group_mapping(group: Any) -> Any:
    """Accept the typed settings model (``claw.config.models.HookMatcher`` with ``HookCommand``
    items) as well as the raw JSON shape."""
    if isinstance(group, Mapping) or not hasattr(group, "hooks"):
        return group
    hooks = []
    for hook in getattr(group, "hooks", ()) or ():
        if isinstance(hook, Mapping):
            hooks.append(hook)
        else:
            item = {"type": getattr(hook, "type", "command") or "command", "command": getattr(hook, "command", None)}
            if getattr(hook, "timeout", None) is not None:
                item["timeout"] = hook.timeout
            if getattr(hook, "callback_id", None):
                item["callback_id"] = hook.callback_id
            hooks.append(item)
    return {"matcher": getattr(group, "matcher", "") or "", "hooks": hooks}


def parse_hooks_config(raw: Any) -> HooksConfig:
    """Read the settings ``hooks`` value (Claude Code shape). Never raises: unusable parts are
    skipped and listed in ``warnings``. Matchers that are not valid regexes are reported and never
    match."""
    warnings: List[str] = []
    by_event: Dict[str, List[HookSpec]] = {}
    if raw is None:
        return HooksConfig({}, ())
    if isinstance(raw, HooksConfig):
        return raw
    if not isinstance(raw, Mapping):
        return HooksConfig({}, ("hooks: expected an object mapping event names to matcher lists",))
    for event, groups in raw.items():
        if event not in HOOK_EVENTS:
            warnings.append(f"hooks: unknown event {event!r} ignored (known: {', '.join(HOOK_EVENTS)})")
            continue
        if groups is None:
            continue
        if not isinstance(groups, (list, tuple)):
            warnings.append(f"hooks.{event}: expected a list of matcher groups")
            continue
        specs = by_event.setdefault(event, [])
        for gi, group in enumerate(groups):
            where = f"hooks.{event}[{gi}]"
            group = _as_group_mapping(group)
            if not isinstance(group, Mapping):
                warnings.append(f"{where}: expected an object with 'matcher' and 'hooks'")
                continue
            matcher = group.get("matcher")
            if matcher is None:
                matcher = ""
            if not isinstance(matcher, str):
                warnings.append(f"{where}: matcher must be a string")
                continue
            matcher = matcher.strip()
            if matcher not in ("", "*") and not _EXACT_MATCHER.match(matcher):
                try:
                    re.compile(matcher)
                except re.error as exc:
                    warnings.append(f"{where}: matcher {matcher!r} is not a valid regex ({exc}); it matches nothing")
            group_timeout = group.get("timeout")
            for cid in group.get("hookCallbackIds") or ():  # the SDK's initialize form
                if isinstance(cid, str):
                    specs.append(HookSpec(event, matcher, "callback", callback_id=cid,
                                          timeout=_parse_timeout(group_timeout, where, warnings)))
            hooks = group.get("hooks")
            if hooks is None and group.get("hookCallbackIds"):
                continue
            if not isinstance(hooks, (list, tuple)):
                warnings.append(f"{where}: 'hooks' must be a list")
                continue
            for hi, hook in enumerate(hooks):
                hwhere = f"{where}.hooks[{hi}]"
                if not isinstance(hook, Mapping):
                    warnings.append(f"{hwhere}: expected an object")
                    continue
                kind = hook.get("type", "command")
                timeout = _parse_timeout(hook.get("timeout", group_timeout), hwhere, warnings)
                if kind == "command":
                    command = hook.get("command")
                    if not isinstance(command, str) or not command.strip():
                        warnings.append(f"{hwhere}: a command hook needs a non-empty 'command'")
                        continue
                    specs.append(HookSpec(event, matcher, "command", command=command, timeout=timeout))
                elif kind == "callback":
                    cid = hook.get("callback_id") or hook.get("callbackId")
                    if not isinstance(cid, str) or not cid:
                        warnings.append(f"{hwhere}: a callback hook needs a 'callback_id'")
                        continue
                    specs.append(HookSpec(event, matcher, "callback", callback_id=cid, timeout=timeout))
                else:
                    warnings.append(f"{hwhere}: hook type {kind!r} is not supported (command, callback); ignored")
    return HooksConfig({e: tuple(s) for e, s in by_event.items() if s}, tuple(warnings))


def combine_hooks_configs(*configs: Any) -> Dict[str, list]:
    """Concatenate raw ``hooks`` values (settings, then SDK-registered callbacks), per event."""
    out: Dict[str, list] = {}
    for config in configs:
        if isinstance(config, Mapping):
            for event, groups in config.items():
                if isinstance(groups, list):
                    out.setdefault(event, []).extend(groups)
    return out


def matcher_matches(matcher: str, candidates: Sequence[str]) -> bool:
    """Claude Code's rules: ``""``/``"*"`` match all; a value of only letters, digits, ``_``, ``-``,
    spaces, ``|`` and ``,`` is a list of exact names; anything else is a regex searched (unanchored)
    in each candidate. Tool names are compared through the alias table, so ``Bash`` and ``bash``
    are the same tool."""
    if matcher in ("", "*"):
        return True
    if not candidates:
        return False
    if _EXACT_MATCHER.match(matcher):
        wanted = {canonical_tool_name(part.strip()) for part in re.split(r"[|,]", matcher) if part.strip()}
        return any(canonical_tool_name(c) in wanted for c in candidates)
    try:
        pattern = re.compile(matcher)
    except re.error:
        return False
    return any(pattern.search(c) for c in candidates)


# ----------------------------------------------------------------------------------------------
# results


@dataclass
class HookResult:
    """What one hook did (for verbose output and debugging)."""

    hook: HookSpec
    exit_code: Optional[int] = None
    stdout: str = ""
    stderr: str = ""
    duration_ms: int = 0
    timed_out: bool = False
    error: Optional[str] = None  # could not start / callback raised
    pid: Optional[int] = None  # also the process group id of a command hook
    answer: Optional[dict] = None  # a callback's answer


@dataclass
class HookOutcome:
    """The combined answer of every hook that ran for one event.

    - ``blocked``: a hook said no (exit 2, ``"decision": "block"``, ``permissionDecision: "deny"``).
      PreToolUse: do not run the tool, send ``reason`` as its error result. PostToolUse(Failure):
      feed ``reason`` to the model. UserPromptSubmit: drop the prompt, show ``reason`` to the user.
      Stop: do not stop, continue with ``reason`` as the next user message. Other events never block.
    - ``permission_decision`` (PreToolUse): ``allow`` skips the permission prompt, ``ask`` forces it,
      ``deny`` blocks; deny wins over ask over allow.
    - ``updated_input`` (PreToolUse): the tool input to use instead (from the last hook that gave one).
    - ``additional_context``: text for the model, every hook's joined in configuration order.
    - ``continue_`` false: stop the whole run after this step with ``stop_reason``.
    - ``system_message``: text for the user (not the model); ``output``: plain stdout of hooks.
    - ``warnings``: hooks that failed, timed out or answered nonsense - reported, never raised.
    """

    event: str = ""
    blocked: bool = False
    reason: Optional[str] = None
    permission_decision: Optional[str] = None
    permission_decision_reason: Optional[str] = None
    updated_input: Optional[dict] = None
    additional_context: Optional[str] = None
    continue_: bool = True
    stop_reason: Optional[str] = None
    system_message: Optional[str] = None
    suppress_output: bool = False
    output: Optional[str] = None
    warnings: List[str] = field(default_factory=list)
    results: List[HookResult] = field(default_factory=list)

    @property
    def ran(self) -> int:
        return len(self.results)


@dataclass
class _Verdict:
    """What the hooks of one event decided together."""

    blocked: bool = False
    reasons: List[str] = field(default_factory=list)
    decision: Optional[str] = None
    decision_reason: Optional[str] = None
    updated_input: Optional[dict] = None
    context: List[str] = field(default_factory=list)
    stop: bool = False
    stop_reason: Optional[str] = None
    system_message: Optional[str] = None
    suppress: bool = False
    output: Optional[str] = None
    warnings: List[str] = field(default_factory=list)


_DECISION_RANK = {None: 0, "allow": 1, "ask": 2, "deny": 3}


def _combine(event: str, verdicts: Sequence[_Verdict], results: List[HookResult], extra_warnings: Sequence[str]) -> HookOutcome:
    outcome = HookOutcome(event=event, results=results, warnings=list(extra_warnings))
    reasons: List[str] = []
    contexts: List[str] = []
    messages: List[str] = []
    outputs: List[str] = []
    for v in verdicts:
        outcome.warnings.extend(v.warnings)
        if v.blocked:
            outcome.blocked = True
            reasons.extend(r for r in v.reasons if r)
        if _DECISION_RANK[v.decision] > _DECISION_RANK[outcome.permission_decision]:
            outcome.permission_decision = v.decision
            outcome.permission_decision_reason = v.decision_reason
        if v.updated_input is not None:
            outcome.updated_input = v.updated_input
        contexts.extend(c for c in v.context if c)
        if v.stop:
            outcome.continue_ = False
            if outcome.stop_reason is None and v.stop_reason:
                outcome.stop_reason = v.stop_reason
        if v.system_message:
            messages.append(v.system_message)
        if v.suppress:
            outcome.suppress_output = True
        if v.output:
            outputs.append(v.output)
    if outcome.blocked:
        outcome.reason = "\n".join(reasons) or f"blocked by a {event} hook"
    outcome.additional_context = "\n\n".join(contexts) or None
    outcome.system_message = "\n".join(messages) or None
    outcome.output = "\n".join(outputs) or None
    return outcome


def _str_field(obj: Mapping, key: str, label: str, warnings: List[str]) -> Optional[str]:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    warnings.append(f"hook {label}: '{key}' must be a string; ignored")
    return None


def _apply_answer(event: str, label: str, answer: Mapping, v: _Verdict) -> None:
    """Read a hook's JSON answer (command stdout on exit 0, or a callback's return value)."""
    w = v.warnings
    if answer.get("continue") is False or answer.get("continue_") is False:
        v.stop = True
        v.stop_reason = _str_field(answer, "stopReason", label, w)
    if answer.get("suppressOutput") is True:
        v.suppress = True
    v.system_message = _str_field(answer, "systemMessage", label, w)
    reason = _str_field(answer, "reason", label, w)
    decision = answer.get("decision")
    if decision is not None:
        if decision in ("block", "deny"):
            if event in BLOCKING_EVENTS:
                v.blocked = True
                v.reasons.append(reason or f"blocked by hook {label}")
                if event == "PreToolUse":
                    v.decision = "deny"
            else:
                w.append(f"hook {label}: a {event} hook cannot block; 'decision' ignored")
        elif decision in ("approve", "allow"):
            if event == "PreToolUse":
                v.decision = "allow"
                v.decision_reason = reason
        else:
            w.append(f"hook {label}: unknown decision {decision!r} ignored (block or approve)")
    specific = answer.get("hookSpecificOutput")
    if specific is None:
        return
    if not isinstance(specific, Mapping):
        w.append(f"hook {label}: 'hookSpecificOutput' must be an object; ignored")
        return
    name = specific.get("hookEventName")
    if name is not None and name != event:
        w.append(f"hook {label}: hookSpecificOutput is for {name!r}, not {event!r}; ignored")
        return
    permission = specific.get("permissionDecision")
    if permission is not None:
        if event != "PreToolUse":
            w.append(f"hook {label}: permissionDecision only applies to PreToolUse; ignored")
        elif permission in ("allow", "deny", "ask"):
            v.decision = permission
            v.decision_reason = _str_field(specific, "permissionDecisionReason", label, w)
            if permission == "deny":
                v.blocked = True
                v.reasons.append(v.decision_reason or reason or f"denied by hook {label}")
        elif permission != "defer":
            w.append(f"hook {label}: permissionDecision {permission!r} is not allow, deny or ask; ignored")
    if "updatedInput" in specific:
        updated = specific.get("updatedInput")
        if event != "PreToolUse":
            w.append(f"hook {label}: updatedInput only applies to PreToolUse; ignored")
        elif isinstance(updated, dict):
            v.updated_input = updated
        else:
            w.append(f"hook {label}: updatedInput must be an object; ignored")
    context = _str_field(specific, "additionalContext", label, w)
    if context:
        v.context.append(context)


def _verdict_for_command(event: str, result: HookResult) -> _Verdict:
    v = _Verdict()
    label = f"`{result.hook.label}`"
    if result.error is not None:
        v.warnings.append(f"{event} hook {label} could not run: {result.error}")
        return v
    if result.timed_out:
        v.warnings.append(f"{event} hook {label} timed out after {result.hook.timeout:g}s and was killed")
        return v
    code = result.exit_code
    if code == 0:
        text = result.stdout.strip()
        if not text:
            return v
        if text[0] in "{[":
            try:
                answer = json.loads(text)
            except ValueError as exc:
                v.warnings.append(f"{event} hook {label} printed invalid JSON ({exc.msg} at char {exc.pos}); output ignored")
                return v
            if not isinstance(answer, dict):
                v.warnings.append(f"{event} hook {label} printed JSON that is not an object; output ignored")
                return v
            _apply_answer(event, label, answer, v)
            return v
        if event in STDOUT_CONTEXT_EVENTS:
            v.context.append(text)
        else:
            v.output = text
        return v
    stderr = result.stderr.strip()
    if code == 2:
        if event in BLOCKING_EVENTS:
            v.blocked = True
            v.reasons.append(stderr[:REASON_LIMIT] or f"blocked by {event} hook {label} (exit 2)")
            if event == "PreToolUse":
                v.decision = "deny"
        else:
            v.warnings.append(f"{event} hook {label} exited 2 (a {event} hook cannot block): {_first_line(stderr)}")
        return v
    detail = _first_line(stderr) or "no error output"
    v.warnings.append(f"{event} hook {label} failed with exit code {code}: {detail}")
    return v


def _verdict_for_callback(event: str, result: HookResult) -> _Verdict:
    v = _Verdict()
    label = f"`{result.hook.label}`"
    if result.error is not None:
        v.warnings.append(f"{event} hook {label} failed: {result.error}")
    elif result.timed_out:
        v.warnings.append(f"{event} hook {label} timed out after {result.hook.timeout:g}s")
    elif result.answer is not None:
        _apply_answer(event, label, result.answer, v)
    return v


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


# ----------------------------------------------------------------------------------------------
# running


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


class HookRunner:
    """Runs the configured hooks of one session.

    ``hooks_config``: the merged settings ``hooks`` value (or a ``HooksConfig``). ``env``: variables
    layered on ``os.environ`` for command hooks (settings ``env``, proxy and CA variables; a value of
    ``None`` removes a variable); ``CLAW_PROJECT_DIR`` and ``CLAUDE_PROJECT_DIR`` are added.
    ``callback``: async ``(callback_id, payload, tool_use_id) -> dict`` for callback hooks.
    ``permission_mode`` (settable) is added to every payload when known.
    """

    def __init__(
        self,
        hooks_config: Any,
        *,
        project_dir: str,
        env: Optional[Mapping[str, Optional[str]]] = None,
        session_id: str,
        transcript_path: str,
        callback: Optional[HookCallback] = None,
        permission_mode: Optional[str] = None,
    ) -> None:
        self.config = parse_hooks_config(hooks_config)
        self.project_dir = str(project_dir)
        self.session_id = session_id
        self.transcript_path = str(transcript_path)
        self.callback = callback
        self.permission_mode = permission_mode
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

    @property
    def config_warnings(self) -> Tuple[str, ...]:
        return self.config.warnings

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
        if event in TOOL_EVENTS and isinstance(name, str) and canonical_tool_name(name) in CLAUDE_CODE_TOOL_NAMES:
            data.setdefault("claude_code_tool_name", CLAUDE_CODE_TOOL_NAMES[canonical_tool_name(name)][0])
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
        stdin = json.dumps(data, ensure_ascii=False, default=str).encode("utf-8", "backslashreplace")
        tool_use_id = data.get("tool_use_id") if isinstance(data.get("tool_use_id"), str) else None
        jobs = []
        for spec in specs:
            if spec.type == "command":
                jobs.append(self._run_command(spec, stdin))
            else:
                jobs.append(self._run_callback(spec, data, tool_use_id))
        results: List[HookResult] = list(await asyncio.gather(*jobs))
        verdicts = [
            _verdict_for_command(event_name, r) if r.hook.type == "command" else _verdict_for_callback(event_name, r)
            for r in results
        ]
        return _combine(event_name, verdicts, results, ())

    async def _run_command(self, spec: HookSpec, stdin: bytes) -> HookResult:
        result = HookResult(hook=spec)
        start = time.monotonic()
        spawn = asyncio.ensure_future(
            asyncio.create_subprocess_exec(
                *self._shell,
                spec.command or "",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.project_dir,
                env=self._env,
                start_new_session=True,
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
            await self._reap(started)
            _close_transport(started)
            raise
        except (OSError, ValueError) as exc:
            result.error = str(exc)
            return result
        result.pid = proc.pid
        try:
            out, err = await asyncio.wait_for(_communicate(proc, stdin), spec.timeout)
            result.exit_code = proc.returncode
            result.stdout, result.stderr = _decode(out), _decode(err)
            _kill_group(proc.pid)  # what the hook left running in its group (`sleep 30 &`) ends with it
        except asyncio.TimeoutError:
            result.timed_out = True
            _kill_group(proc.pid)
            await self._reap(proc)
        except Exception as exc:  # an unexpected I/O error: a warning, never a crash
            _kill_group(proc.pid)
            await self._reap(proc)
            result.error = f"{type(exc).__name__}: {exc}"
        except BaseException:  # cancelled (an interrupt): leave nothing running, then propagate
            _kill_group(proc.pid)
            await self._reap(proc)
            raise
        finally:
            _close_transport(proc)
            result.duration_ms = int((time.monotonic() - start) * 1000)
        return result

    @staticmethod
    async def _reap(proc: "asyncio.subprocess.Process") -> None:
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), 5)
        except (asyncio.TimeoutError, asyncio.CancelledError, ProcessLookupError):
            pass

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
