"""The settings ``apiKeyHelper``: a command whose standard output is the API key.

The command runs through the shell (``/bin/sh -c`` on POSIX), in the project directory, with the
effective environment (settings ``env`` applied), stdin closed, and a timeout (60 s). Its stdout,
stripped, is the key; it must be one non-empty line. The key is cached in memory for
``CLAW_API_KEY_HELPER_TTL_MS`` milliseconds (default 5 minutes; 0 runs the helper for every request)
and the cache is shared by everything in this process that uses the same command in the same
directory. ``get(force=True)`` runs it again regardless (the server rejected the cached key).

Failures are ``ClawError(kind="api_key_helper", failure_class="provider_auth")`` naming the command,
the exit status or the timeout. The helper's stdout is never shown (it is, or may contain, the key);
the last line of its stderr is shown, with anything that appeared on stdout masked out of it.

Deliberately not here: deciding whether the helper is used at all (claw.auth.sources), printing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Tuple

from claw.errors import ClawError, ConfigError

TTL_ENV = "CLAW_API_KEY_HELPER_TTL_MS"
DEFAULT_TTL_MS = 5 * 60 * 1000
DEFAULT_TIMEOUT = 60.0
MAX_STDERR_LINE = 200

_cache: Dict[Tuple[str, str], Tuple[str, float]] = {}  # (command, cwd) -> (key, monotonic expiry)
_cache_lock = threading.Lock()


def ttl_ms_from_env(env: Mapping[str, str]) -> int:
    raw = (env.get(TTL_ENV) or "").strip()
    if not raw:
        return DEFAULT_TTL_MS
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(f"{TTL_ENV} must be a whole number of milliseconds >= 0, not {raw!r}",
                          hint=f"e.g. {TTL_ENV}=300000 (5 minutes), or unset it")
    return value


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _helper_error(command: str, what: str, hint: str) -> ClawError:
    return ClawError(f"apiKeyHelper `{_short(command)}` {what}", hint=hint, kind="api_key_helper",
                     failure_class="provider_auth")


def _short(command: str) -> str:
    command = " ".join(command.split())
    return command if len(command) <= 80 else command[:77] + "..."


def _last_line(stderr: bytes, secret: bytes) -> str:
    text = stderr.decode("utf-8", "replace")
    for piece in {p.strip() for p in secret.decode("utf-8", "replace").splitlines() if len(p.strip()) >= 4}:
        text = text.replace(piece, "****")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    line = "".join(ch if ch.isprintable() else " " for ch in lines[-1])
    return line[:MAX_STDERR_LINE]


@dataclass
class ApiKeyHelper:
    """One configured helper. ``origin`` says where it was configured (for messages)."""

    command: str
    cwd: str
    env: Optional[Mapping[str, str]] = None
    ttl_ms: int = DEFAULT_TTL_MS
    timeout: float = DEFAULT_TIMEOUT
    origin: Optional[str] = None

    def __repr__(self) -> str:
        return f"ApiKeyHelper({_short(self.command)!r}, cwd={self.cwd!r})"

    def get(self, *, force: bool = False) -> str:
        """The key: from the cache while fresh, else by running the command."""
        key = (self.command, self.cwd)
        if not force and self.ttl_ms > 0:
            with _cache_lock:
                hit = _cache.get(key)
            if hit is not None and hit[1] > time.monotonic():
                return hit[0]
        value = self.run()
        if self.ttl_ms > 0:
            with _cache_lock:
                _cache[key] = (value, time.monotonic() + self.ttl_ms / 1000.0)
        return value

    def run(self) -> str:
        """Run the command once and return its (stripped) stdout; raises a ClawError on failure."""
        import subprocess

        where = f" (set in {self.origin})" if self.origin else ""
        hint = "run the command yourself to see what is wrong" + where
        try:
            proc = subprocess.run(self.command, shell=True, cwd=self.cwd,
                                  env=None if self.env is None else dict(self.env),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise _helper_error(self.command, f"did not finish within {self.timeout:g} s", hint) from None
        except OSError as exc:
            raise _helper_error(self.command, f"could not be started: {exc.strerror or exc}", hint) from None
        stdout = proc.stdout or b""
        if proc.returncode != 0:
            detail = _last_line(proc.stderr or b"", stdout)
            status = f"exited with status {proc.returncode}" if proc.returncode > 0 else \
                f"was killed by signal {-proc.returncode}"
            raise _helper_error(self.command, status + (f": {detail}" if detail else ""), hint)
        try:
            value = stdout.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise _helper_error(self.command, "printed something that is not UTF-8 text", hint) from None
        if not value:
            raise _helper_error(self.command, "printed nothing on stdout",
                                "the helper must print the API key on stdout; " + hint)
        if "\n" in value or "\r" in value or any(not ch.isprintable() for ch in value):
            raise _helper_error(self.command, "printed more than one line (or control characters) on stdout",
                                "the helper must print only the API key; send anything else to stderr" + where)
        return value


def helper_from_settings(command: Optional[str], *, cwd: str, env: Mapping[str, str],
                         origin: Optional[str] = None) -> Optional[ApiKeyHelper]:
    if not command:
        return None
    return ApiKeyHelper(command=command, cwd=cwd, env=env, ttl_ms=ttl_ms_from_env(env), origin=origin)


__all__ = ["ApiKeyHelper", "helper_from_settings", "ttl_ms_from_env", "clear_cache", "TTL_ENV", "DEFAULT_TTL_MS"]
