"""Polling helpers for tests that check which processes are still alive (bounded waits, no long sleeps)."""

from __future__ import annotations

import os
import time
from typing import Callable


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie (a container's pid 1 may never reap orphans)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return data[data.rfind(b")") + 2 :].split()[0] != b"Z"


def wait_until(predicate: Callable[[], bool], seconds: float) -> bool:
    """Poll ``predicate`` until it holds or ``seconds`` pass; its last answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    return wait_until(lambda: not alive(pid), seconds)
