"""Turning a custom command's body into the prompt the model gets: arguments, ``@file`` and ``!`command```.

``expand_body(command, arguments, gate)``:

1. ``$ARGUMENTS`` and ``$1``..``$9`` are filled in (``claw.runtime.commands.substitute_arguments``);
2. each ``!`command``` (in order, one at a time) is decided as a ``bash`` tool call would be
   (PreToolUse hooks, deny rules, ask rules, the mode; an ask goes to the run's prompter, the TTY
   question or the host's ``can_use_tool``) and runs; its output (stdout, then stderr; the exit status when not 0) replaces
   the marker. A denied command fails the whole command with a ``ToolFailure`` naming it: nothing is
   sent to the model;
3. each ``@path`` (at the start of a line or after a space, with a ``/`` or a ``.`` in it, so that
   ``@Override`` stays a word; relative to the project directory, ``~`` allowed) is replaced by the file's content under a heading naming it, after the same permission
   check a ``read_file`` call gets. A denied, missing or unreadable file fails the command.

``Gate`` is what a run gives for the checks (its policy, prompter and environment). Deliberately not
here: finding commands (``claw.runtime.commands``) or running the turn (``claw.runtime.extensions``).
Output of a ``!`` command is capped (``OUTPUT_CAP``); it runs at most ``COMMAND_TIMEOUT`` seconds.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional

from claw.errors import ToolFailure

OUTPUT_CAP = 30_000  # characters of one ``!`` command's output kept
FILE_CAP = 100_000  # characters of one ``@file`` kept
COMMAND_TIMEOUT = 120.0

# ``!`command``` anywhere; ``@path`` at the start of a line or after whitespace. One pass: what a
# replacement brings in (a file's text, a command's output) is never expanded again.
_MARKER = re.compile(r"!`(?P<cmd>[^`\n]+)`|(?:^|(?<=\s))@(?P<path>[A-Za-z0-9_./~-][^\s`'\"),;]*)", re.MULTILINE)


@dataclass
class Gate:
    """What the expansion needs from the run: the permission policy, the prompter for asks, where to run."""

    policy: Any  # claw.runtime.permissions.PermissionPolicy
    prompter: Optional[Callable[[Any], Awaitable[Any]]]
    cwd: Path
    env: Dict[str, str]
    source: str  # "/review": named in permission requests and errors
    hooks: Any = None  # claw.runtime.hooks.HookRunner: PreToolUse hooks may block or ask


async def expand_body(body: str, arguments: str, gate: Gate) -> str:
    """The prompt of a command body (see the module docstring). Raises ``ToolFailure``."""
    from claw.runtime.commands import substitute_arguments

    text = substitute_arguments(body, arguments)
    return await _replace_async(_MARKER, text, lambda m: _run_bang(m.group("cmd"), gate) if m.group("cmd")
                                else _include(m.group("path"), gate))


async def _replace_async(pattern: "re.Pattern[str]", text: str,
                         fn: Callable[["re.Match[str]"], Awaitable[str]]) -> str:
    out = []
    last = 0
    for match in pattern.finditer(text):
        out.append(text[last:match.start()])
        out.append(await fn(match))
        last = match.end()
    out.append(text[last:])
    return "".join(out)


async def _approve(gate: Gate, tool_name: str, spec: Any, tool_input: Dict[str, Any], targets: list,
                   what: str) -> None:
    """Raise ``ToolFailure`` unless the policy (or, when it asks, the prompter) allows the call. A
    PreToolUse hook that blocks or denies it fails it; one that asks makes it ask (a hook's ``allow``
    or rewritten input is not applied here: the rules and the mode still decide)."""
    from claw.ids import uuid4

    use_id = f"command-{uuid4()}"
    force_ask = False
    if gate.hooks is not None:
        pre = await gate.hooks.run("PreToolUse", {"tool_name": tool_name, "tool_input": dict(tool_input),
                                                  "tool_use_id": use_id}, tool_name=tool_name)
        if not pre.continue_ or pre.blocked or pre.permission_decision == "deny":
            why = pre.reason or pre.stop_reason or "no reason given"
            raise ToolFailure(f"{gate.source}: {what} was blocked by a PreToolUse hook: {why}",
                              kind="command_denied")
        force_ask = pre.permission_decision == "ask"
    decision = gate.policy.decide(tool_name, spec, tool_input, targets)
    if decision.allowed and force_ask:
        from dataclasses import replace

        decision = replace(decision, outcome="ask", reason="a PreToolUse hook asked for confirmation")
    if decision.allowed:
        return
    if decision.needs_approval and gate.prompter is not None:
        from claw.runtime.tool_calls import PermissionRequest

        answer = await gate.prompter(PermissionRequest(tool_name, use_id, dict(tool_input),
                                                       f"{gate.source}: {decision.reason}"))
        if answer.allow:
            return
        reason = answer.message or "the user denied it"
    elif decision.needs_approval:
        reason = f"{decision.reason} (no way to ask for approval in this mode)"
    else:
        reason = decision.reason
    raise ToolFailure(f"{gate.source}: {what} was not allowed: {reason}",
                      hint="allow it (permission rules, --allowedTools, the command's allowed-tools) or "
                           "change the command", kind="command_denied")


async def _run_bang(command: str, gate: Gate) -> str:
    from claw.tools.registry import get_tool

    tool = get_tool("bash")
    await _approve(gate, "bash", tool.spec, {"command": command}, [], f"the command `{command}`")
    try:
        proc = await asyncio.create_subprocess_exec(
            "bash", "-c", command, cwd=str(gate.cwd), env=gate.env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        raise ToolFailure(f"{gate.source}: cannot run `{command}`: {exc.strerror or exc}") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), COMMAND_TIMEOUT)
    except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
        _kill(proc)
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise ToolFailure(f"{gate.source}: `{command}` did not finish in {COMMAND_TIMEOUT:.0f}s") from None
    text = out.decode("utf-8", "replace") + err.decode("utf-8", "replace")
    if len(text) > OUTPUT_CAP:
        text = text[:OUTPUT_CAP] + f"\n[output cut at {OUTPUT_CAP} characters]"
    if proc.returncode:
        text = f"{text.rstrip()}\n[exit status {proc.returncode}]"
    return text.rstrip("\n")


def _kill(proc: Any) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


async def _include(raw: str, gate: Gate) -> str:
    from claw.config.sources import expand_user
    from claw.tools.registry import get_tool

    written, raw = raw, raw.rstrip(".:")  # "see @notes.md." ends a sentence, not the name
    if "/" not in raw and "." not in raw:  # @Override, @team: a word, not a file
        return "@" + written
    trailing = written[len(raw):]
    path = Path(expand_user(raw, gate.env))
    if not path.is_absolute():
        path = gate.cwd / path
    tool = get_tool("read_file")
    await _approve(gate, "read_file", tool.spec, {"path": str(path)}, [path], f"reading @{raw}")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(FILE_CAP + 1)
    except IsADirectoryError:
        raise ToolFailure(f"{gate.source}: @{raw} is a directory, not a file") from None
    except OSError as exc:
        raise ToolFailure(f"{gate.source}: cannot read @{raw}: {exc.strerror or exc}",
                          hint="the path is relative to the project directory") from None
    if len(text) > FILE_CAP:
        text = text[:FILE_CAP] + f"\n[cut at {FILE_CAP} characters]"
    return f"\n<file path=\"{raw}\">\n{text.rstrip()}\n</file>\n{trailing}"
