"""Exit on SIGTERM and SIGHUP like on Ctrl-C: with the same cleanup, and the conventional exit code.

``install()`` (called once by ``claw.cli.main.entry``) makes SIGTERM and SIGHUP raise ``SignalExit``
in the main thread, so ``finally`` blocks run and ``entry`` kills the tool process groups
(``claw.process_groups.shutdown``) before exiting with 128 + the signal number (143, 129).
Front ends that run an event loop replace that with a loop handler that cancels the run cleanly and
calls ``note(signo)``; after removing their loop handler they call ``restore()``. ``exit_code(code)``
is what ``entry`` exits with: 128 + the first signal received, else ``code``. SIGINT keeps its own
path (KeyboardInterrupt / cancellation, exit 130).

A handler's exception can be lost (raised while Python runs a ``__del__`` or weakref callback, it is
only printed), so the first signal also arms a watchdog: if ``entry`` has not called ``disarm`` within
``WATCHDOG_SECONDS`` it runs the registered cleanup and exits with 128 + signo from a timer thread.

It does not kill anything itself.
"""

from __future__ import annotations

import os
import signal

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))

_received: list = []  # no typing import: claw --version loads this module
_installed: list = []


class SignalExit(BaseException):
    """Raised in the main thread by SIGTERM/SIGHUP (a BaseException, like KeyboardInterrupt)."""

    def __init__(self, signo: int) -> None:
        super().__init__(f"signal {signo}")
        self.signo = signo


def _raise(signo: int, frame: object) -> None:
    note(signo)
    _arm_watchdog(signo)
    raise SignalExit(signo)


WATCHDOG_SECONDS = 3.0
_watchdog: list = []
_cleanup: list = []  # callables run by the watchdog


def _arm_watchdog(signo: int) -> None:
    """A signal handler's exception can be swallowed (raised inside a ``__del__`` or a weakref
    callback, it is only printed): if claw has not reached ``disarm`` a few seconds later, a timer
    thread runs the cleanup and exits with 128 + signo itself."""
    if _watchdog:
        return
    import threading

    def force() -> None:
        for step in _cleanup:
            try:
                step()
            except BaseException:
                pass
        os._exit(128 + signo)

    timer = threading.Timer(WATCHDOG_SECONDS, force)
    timer.daemon = True
    _watchdog.append(timer)
    timer.start()


def on_forced_exit(step: object) -> None:
    """What the watchdog runs before exiting (``claw.cli.main`` registers the process cleanup)."""
    _cleanup.append(step)


def disarm() -> None:
    """claw has reached its own exit path: the watchdog is not needed."""
    for timer in _watchdog:
        timer.cancel()


def install() -> None:
    """SIGTERM/SIGHUP raise ``SignalExit`` from now on (main thread only; a no-op elsewhere)."""
    for sig in SIGNALS:
        try:
            signal.signal(sig, _raise)
        except (OSError, ValueError):  # not the main thread
            return
    _installed[:] = [True]


def restore() -> None:
    """Put ``install``'s handlers back after an event loop's own handlers were removed (asyncio resets
    them to the default, which would end claw without cleanup)."""
    if _installed:
        install()


def on_loop(loop: object, handler: object, *, with_signo: bool = False) -> None:
    """An event loop's ``handler`` for SIGINT, SIGTERM and SIGHUP (called with the signal number when
    ``with_signo``); a no-op where the loop cannot have signal handlers (not the main thread)."""
    for sig in (signal.SIGINT,) + SIGNALS:
        try:
            loop.add_signal_handler(sig, handler, *((sig,) if with_signo else ()))  # type: ignore[attr-defined]
        except (NotImplementedError, RuntimeError, ValueError):
            pass


def off_loop(loop: object) -> None:
    """Remove ``on_loop``'s handlers and put ``install``'s back."""
    for sig in (signal.SIGINT,) + SIGNALS:
        try:
            loop.remove_signal_handler(sig)  # type: ignore[attr-defined]
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    restore()


def note(signo: int) -> None:
    """Remember that ``signo`` asked claw to stop (the exit code follows it)."""
    _received.append(int(signo))


def exit_code(code: int) -> int:
    """128 + the first signal received (SIGTERM 143, SIGHUP 129, SIGINT 130), else ``code``."""
    return 128 + _received[0] if _received else code
