"""Asking the person at the terminal to approve a tool call.

Used when a call needs more than the permission mode allows and a terminal is there to ask (the REPL,
or ``claw -p`` started from a terminal). Reads the answer from ``/dev/tty`` in a worker thread, so it
works even when stdin and stdout are pipes, and never blocks the event loop. Anything but ``y``/``yes``
is a denial; a closed terminal is a denial too.
"""

from __future__ import annotations

import asyncio
import json

from claw.runtime.tool_calls import PermissionAnswer, PermissionRequest


def _ask_blocking(request: PermissionRequest) -> bool:
    shown = json.dumps(request.input, ensure_ascii=False)
    if len(shown) > 400:
        shown = shown[:399] + "…"
    try:
        with open("/dev/tty", "r+") as tty:
            tty.write(
                f"\nclaw wants to run {request.tool_name}: {shown}\n"
                f"why it asks: {request.reason}\n"
                "Approve this tool call? [y/N] "
            )
            tty.flush()
            answer = tty.readline()
    except OSError:
        return False
    return answer.strip().lower() in ("y", "yes")


async def ask_on_tty(request: PermissionRequest) -> PermissionAnswer:
    loop = asyncio.get_running_loop()
    allowed = await loop.run_in_executor(None, _ask_blocking, request)
    return PermissionAnswer(allow=allowed, message="" if allowed else "denied at the terminal")
