"""The cyclic garbage collector is off while claw starts and back on once a run begins.

Start-up builds the whole heap claw will keep (modules, classes, settings): 150k objects or so, and
none of it is garbage. With the collector on, that growth alone sets off hundreds of young
collections and a few full ones, which cost 8-12 ms of a ~150 ms ``claw -p`` run (measured, see
docs/PERFORMANCE.md). ``pause()`` is called by the entry point before the first heavy import;
``resume()`` by each run mode (headless, REPL, stream-json) once it is set up and before its first
turn: it moves everything alive into the permanent generation (``gc.freeze``), so later collections
never walk the start-up heap, and turns the collector back on.

It deliberately does nothing when ``pause()`` was not called (claw used as a library, in-process
tests), and it is not a memory switch: after ``resume()`` the collector runs as usual for the rest
of the process.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Turn the collector off for start-up (a no-op if something else already turned it off)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Freeze the start-up heap and turn the collector back on, if ``pause()`` turned it off."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
