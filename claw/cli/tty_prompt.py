"""Asking the person at the terminal to approve a tool call.

Used when a call needs more than the permission mode allows and a terminal is there to ask (the REPL,
or ``claw -p`` started from a terminal). The question and the answer go through ``/dev/tty``, so it
works even when stdin and stdout are pipes. The answer is read with the event loop watching the
terminal (no blocked worker thread), so cancelling the turn (Ctrl-C) abandons the question cleanly and
the next line typed goes to whoever reads next, not to a forgotten reader.

Anything but ``y``/``yes`` is a denial; end of input (Ctrl-D) or a terminal that cannot be opened is a
denial too. ``exit_plan_mode`` shows the plan and offers Claude Code's three choices (auto-accept
edits, approve edits manually, keep planning); ``ask_user_question`` numbers each question's options
plus a free answer. Keys typed before the question appeared are discarded, so type-ahead never answers it. It decides nothing else: the policy says when to ask, the caller what a denial means.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Optional

from claw.runtime.tool_calls import PermissionAnswer, PermissionRequest

TTY_PATH = "/dev/tty"
QUESTION = "Approve this tool call? [y/N] "
INPUT_SHOWN_LIMIT = 400
PLAN_CHOICES = ("\nWould you like to proceed?\n  1. Yes, and auto-accept edits\n  2. Yes, and manually approve "
                "edits\n  3. No, keep planning (or type what to change)\n> ")


def tty_available() -> bool:
    """Whether a controlling terminal can be opened (false under a new session, cron, CI...)."""
    try:
        fd = os.open(TTY_PATH, os.O_RDWR | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return False
    os.close(fd)
    return True


def question_text(request: PermissionRequest) -> str:
    shown = json.dumps(request.input, ensure_ascii=False)
    if len(shown) > INPUT_SHOWN_LIMIT:
        shown = shown[: INPUT_SHOWN_LIMIT - 1] + "…"
    return (f"\nclaw wants to run {request.tool_name}: {shown}\n"
            f"why it asks: {request.reason}\n{QUESTION}")


def is_yes(answer: Optional[str]) -> bool:
    return answer is not None and answer.strip().lower() in ("y", "yes")


async def _read_line(fd: int) -> Optional[str]:
    """One line from a terminal descriptor without blocking the loop; None at end of input."""
    loop = asyncio.get_running_loop()
    data = b""
    while b"\n" not in data:
        ready = loop.create_future()
        loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        try:
            chunk = os.read(fd, 1024)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:  # the terminal went away (hang-up)
            chunk = b""
        if not chunk:
            return data.decode("utf-8", "replace") if data else None
        data += chunk
    return data.split(b"\n", 1)[0].decode("utf-8", "replace")


def _read_line_blocking(fd: int) -> Optional[str]:
    """One line from ``fd`` (without its newline); None at end of input before any byte."""
    data = b""
    while b"\n" not in data:
        chunk = os.read(fd, 1024)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0].decode("utf-8", "replace") if data else None


async def _read_line_in_thread(fd: int) -> Optional[str]:
    """Where the loop cannot watch the descriptor: a blocking read in a worker thread."""
    return await asyncio.get_running_loop().run_in_executor(None, _read_line_blocking, fd)


def _drop_typeahead(fd: int) -> None:
    """Discard what was typed before the question was shown: a line typed ahead during the turn must
    not become the answer (``sudo`` does the same)."""
    try:
        import termios

        termios.tcflush(fd, termios.TCIFLUSH)
    except (ImportError, OSError):
        pass


def ask_yes_no(text: str) -> Optional[bool]:
    """Ask ``text`` on the terminal before any event loop runs (a blocking read); True for y/yes,
    False for anything else, None when there is no terminal to ask."""
    try:
        fd = os.open(TTY_PATH, os.O_RDWR | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return None
    try:
        _drop_typeahead(fd)
        os.write(fd, text.encode("utf-8", "replace"))
        answer = _read_line_blocking(fd)
    except OSError:
        answer = None
    finally:
        os.close(fd)
    return is_yes(answer)


async def _line(fd: int, text: str) -> Optional[str]:
    os.write(fd, text.encode("utf-8", "replace"))
    try:
        return await _read_line(fd)
    except (NotImplementedError, ValueError, OSError):  # a loop without add_reader for this fd
        return await _read_line_in_thread(fd)


async def _plan(fd: int, request: PermissionRequest) -> PermissionAnswer:
    """exit_plan_mode: the plan rendered, then Claude Code's three choices."""
    from claw.cli.markdown import MarkdownStream

    md = MarkdownStream(color="NO_COLOR" not in os.environ)
    shown = md.feed(str(request.input.get("plan", "")).rstrip() + "\n") + md.close()
    answer = (await _line(fd, f"\nclaw's plan:\n\n{shown}{PLAN_CHOICES}") or "").strip()
    if answer in ("1", "2"):
        return PermissionAnswer(allow=True, mode="acceptEdits" if answer == "1" else "default")
    said = f": {answer}" if answer not in ("", "3") else ""
    return PermissionAnswer(allow=False, message=f"the user did not approve the plan and plan mode stays on{said}")


async def _questions(fd: int, request: PermissionRequest) -> PermissionAnswer:
    """ask_user_question: each question with numbered options and an 'Other' free answer."""
    answers = {}
    for q in request.input.get("questions") or ():
        opts, multi = q.get("options") or [], bool(q.get("multiSelect"))
        lines = [f"\n[{q.get('header', '')}] {q.get('question', '')}"]
        lines += [f"  {i}. {o.get('label')} - {o.get('description')}" for i, o in enumerate(opts, 1)]
        lines.append(f"  {len(opts) + 1}. Other: type your own answer")
        raw = await _line(fd, "\n".join(lines) + ("\nnumbers (1,3)" if multi else "\na number") + " or text> ")
        if raw is None:
            return PermissionAnswer(allow=False, message="the user did not answer")
        picks = [p.strip() for p in raw.split(",")] if multi else [raw.strip()]
        if all(p.isdigit() and 1 <= int(p) <= len(opts) for p in picks):
            raw = ", ".join(opts[int(p) - 1].get("label", "") for p in picks)
        elif raw.strip() == str(len(opts) + 1):
            raw = await _line(fd, "your answer> ") or ""
        answers[str(q.get("question", ""))] = raw.strip() or "[No preference]"
    return PermissionAnswer(allow=True, updated_input=dict(request.input, answers=answers))


async def ask_on_tty(request: PermissionRequest) -> PermissionAnswer:
    try:
        fd = os.open(TTY_PATH, os.O_RDWR | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return PermissionAnswer(allow=False, message="denied: no terminal to ask for approval")
    try:
        _drop_typeahead(fd)
        special = {"exit_plan_mode": _plan, "ask_user_question": _questions}.get(request.tool_name)
        if special is not None:
            return await special(fd, request)
        answer = await _line(fd, question_text(request))
    except OSError:
        answer = None
    finally:
        os.close(fd)
    allowed = is_yes(answer)
    return PermissionAnswer(allow=allowed, message="" if allowed else "denied at the terminal")
