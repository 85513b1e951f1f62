"""Retry policy for model requests: which failures are retried and how long to wait before the next try.

Retried (before the first content byte reached the caller): HTTP 408, 409, 429, every 5xx and 529, and
transport failures (connect errors, timeouts, resets, an idle stream). Never retried: 400, 401, 403, 404,
413, 422 — whatever the headers say. A server's ``x-should-retry: false`` vetoes a retry, ``true`` allows
one for a status not on the never-list. The wait honours ``retry-after-ms``, then ``Retry-After`` (seconds
or an HTTP date) when it is between 0 and ``max_retry_after`` seconds; otherwise exponential backoff
(``initial_delay * 2**n``, capped at ``max_delay``) with up to ``jitter`` of it taken off at random.

``sleep`` and ``max_wait`` are injectable so tests never really wait. The loop itself lives in the
providers (claw.api.provider); this module only decides.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterable, Mapping, Optional, Tuple

from claw.errors import ClawError, NetworkError

RETRY_STATUSES = frozenset({408, 409, 429, 529})
NEVER_RETRY_STATUSES = frozenset({400, 401, 403, 404, 413, 422})
DEFAULT_MAX_RETRIES = 8


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and with what delays, a failed request is retried."""

    max_retries: int = DEFAULT_MAX_RETRIES  # 0 = one attempt
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    jitter: float = 0.25
    max_wait: Optional[float] = None  # caps every wait (tests, benchmarks)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False, repr=False)
    rng: Optional[Callable[[], float]] = field(default=None, compare=False, repr=False)  # None: random.random

    @property
    def max_attempts(self) -> int:
        return max(0, self.max_retries) + 1

    def status_retryable(self, status: int, headers: Iterable[Tuple[str, str]] = ()) -> bool:
        if status in NEVER_RETRY_STATUSES:
            return False
        should = header(headers, "x-should-retry")
        if should is not None:
            if should.strip().lower() == "false":
                return False
            if should.strip().lower() == "true":
                return True
        return status in RETRY_STATUSES or status >= 500

    def error_retryable(self, error: ClawError, headers: Iterable[Tuple[str, str]] = ()) -> bool:
        """Whether this failure (before any content reached the caller) is worth another attempt."""
        if error.status is not None:
            return self.status_retryable(error.status, headers)
        if isinstance(error, NetworkError):
            return bool(error.retryable) or error.kind in ("connect", "timeout", "closed", "reset", "protocol")
        return bool(error.retryable)

    def delay(self, retry_index: int, headers: Iterable[Tuple[str, str]] = (), *,
              now: Optional[float] = None) -> float:
        """Seconds to wait before retry number ``retry_index`` (0-based)."""
        wait = server_delay(headers, now=now)
        if wait is None or not (0 <= wait <= self.max_retry_after):
            base = min(self.max_delay, self.initial_delay * (2 ** max(0, retry_index)))
            rng = self.rng
            if rng is None:
                import random

                rng = random.random
            wait = base * (1 - self.jitter * rng())
        if self.max_wait is not None:
            wait = min(wait, self.max_wait)
        return max(0.0, wait)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, max_retries: Optional[int] = None, **kwargs) -> "RetryPolicy":
        """CLAW_MAX_RETRIES (default 8) unless ``max_retries`` (settings network.maxRetries) is given."""
        if max_retries is None:
            max_retries = parse_int_env(env, "CLAW_MAX_RETRIES", DEFAULT_MAX_RETRIES)
        return cls(max_retries=max(0, max_retries), **kwargs)


def server_delay(headers: Iterable[Tuple[str, str]], *, now: Optional[float] = None) -> Optional[float]:
    """The wait the server asked for: retry-after-ms, then Retry-After (seconds or HTTP date)."""
    ms = header(headers, "retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    ra = header(headers, "retry-after")
    if ra is None:
        return None
    ra = ra.strip()
    try:
        return float(ra)
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime  # only for the rare HTTP-date form

    try:
        when = parsedate_to_datetime(ra)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when.timestamp() - (time.time() if now is None else now)


def header(headers: Iterable[Tuple[str, str]], name: str) -> Optional[str]:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def parse_int_env(env: Mapping[str, str], name: str, default: int) -> int:
    from claw.errors import ConfigError

    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number", hint=f"set {name} to e.g. {default}") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} is negative", hint=f"set {name} to e.g. {default}")
    return value


def parse_seconds_env(env: Mapping[str, str], name: str, default: float) -> float:
    """Seconds (a positive number, fractions allowed) from an env var, or ``default`` when unset."""
    from claw.errors import ConfigError

    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds",
                          hint=f"set {name} to e.g. {default:g}") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be positive", hint=f"set {name} to e.g. {default:g}")
    return value
