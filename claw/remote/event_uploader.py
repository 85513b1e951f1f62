"""A sans-IO, bounded, serialised uploader of events: what goes in one POST, and what happens after it.

``EventUploader`` decides, never sends. The driver (claw.remote.session_ingress) asks ``next_batch(now)``
for the batch to POST, sends it, and reports the outcome with ``done(batch, now, status=...,
retry_after=...)`` (an HTTP status) or ``done(batch, now, error=exc)`` (no answer at all). Rules:

- **serialised**: at most one batch is out at a time; the next is taken only after the outcome;
- **coalesced**: everything queued while a POST is out goes into the next one, up to
  ``max_events`` events and ``max_bytes`` bytes (the JSON size of the events); a longer queue is split
  over several batches. A single event larger than ``max_bytes`` goes alone;
- **in order, exactly once from our side**: a retried batch is the same events at the head of the queue
  (it may take more events queued since, never fewer or others first), so nothing is reordered;
- **retries**: a network error, 408, 429 and 5xx are retryable: the batch waits ``Retry-After`` (429/503,
  seconds, as given; at most ``max_retry_after``) or exponential back-off (``base_delay`` doubling to
  ``max_delay``, plus up to ``jitter`` of it at random) and is sent again;
  a 413 splits the batch in two (a single event that is too large is a failure);
- **failures**: any other status is not retryable: the batch is moved to ``failed`` (with a classified
  ``RemoteControlError``-like description: status and kind) and the queue goes on — a server that refuses
  one batch must not stall the session;
- **bounded**: ``room`` is False while ``max_queue`` events or ``max_queue_bytes`` bytes wait; the async
  writer then waits (``wait_for_room`` in the driver). The synchronous writer (claw's event sinks cannot
  wait) is admitted anyway: nothing is ever dropped, the bound is back-pressure where waiting is
  possible, and the limit is checked in tests;
- **drain**: ``pending`` is everything not yet delivered (the batch out, then the queue); the driver's
  ``drain(deadline)`` runs until it is empty or the deadline passes, and what is left is reported.

Deliberately not here: I/O, clocks (``now`` is given), threads, what the events mean.
"""

from __future__ import annotations

import json
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, List, Optional, Tuple

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504, 529})


def event_size(event: Any) -> int:
    """The bytes ``event`` adds to a JSON array body (its compact JSON and a comma)."""
    return len(json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")) + 1


@dataclass
class Batch:
    """Events sent (or to send) in one POST, in queue order."""

    events: List[Any]
    size: int
    attempt: int = 1


@dataclass
class Failure:
    """A batch the server refused for good: its events, the status (None: no answer) and why."""

    events: List[Any]
    status: Optional[int]
    reason: str


@dataclass
class EventUploader:
    """See the module docstring."""

    max_events: int = 500
    max_bytes: int = 1024 * 1024
    max_queue: int = 100_000
    max_queue_bytes: int = 256 * 1024 * 1024
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 600.0
    jitter: float = 0.1
    rand: Callable[[], float] = random.random
    failed: List[Failure] = field(default_factory=list)
    delivered: int = 0
    retries: int = 0
    _queue: Deque[Tuple[Any, int]] = field(default_factory=deque)
    _queued_bytes: int = 0
    _out: Optional[Batch] = None
    _not_before: float = 0.0
    _failures: int = 0  # consecutive retryable failures

    # -- the producer side -------------------------------------------------------------------------

    def enqueue(self, event: Any) -> None:
        size = event_size(event)
        self._queue.append((event, size))
        self._queued_bytes += size

    @property
    def room(self) -> bool:
        return len(self._queue) < self.max_queue and self._queued_bytes < self.max_queue_bytes

    @property
    def idle(self) -> bool:
        """Nothing out and nothing queued: everything enqueued was delivered or failed."""
        return self._out is None and not self._queue

    @property
    def pending(self) -> List[Any]:
        """The events not delivered yet, in order."""
        return [e for e, _ in self._queue]

    # -- the driver side ---------------------------------------------------------------------------

    def wait_time(self, now: float) -> Optional[float]:
        """Seconds until ``next_batch`` can give something: 0 now, None while a batch is out or nothing
        is queued (wait for ``done`` or ``enqueue``)."""
        if self._out is not None or not self._queue:
            return None
        return max(0.0, self._not_before - now)

    def next_batch(self, now: float) -> Optional[Batch]:
        """The batch to send now (it is out until ``done``), or None (see ``wait_time``)."""
        if self.wait_time(now) != 0.0:
            return None
        events: List[Any] = []
        size = 0
        queue = self._queue
        while queue and len(events) < self.max_events:
            event, n = queue[0]
            if events and size + n > self.max_bytes:
                break
            queue.popleft()
            events.append(event)
            size += n
        self._queued_bytes -= size
        self._out = Batch(events, size, self._failures + 1)
        return self._out

    def done(self, batch: Batch, now: float, *, status: Optional[int] = None, retry_after: Optional[float] = None,
             error: Optional[BaseException] = None) -> str:
        """The outcome of ``batch``: returns ``"delivered"``, ``"retry"``, ``"split"`` or ``"failed"``."""
        assert batch is self._out, "done() for a batch that is not out"
        self._out = None
        if error is None and status is not None and 200 <= status < 300:
            self._failures = 0
            self.delivered += len(batch.events)
            return "delivered"
        if status == 413 and len(batch.events) > 1:
            half = len(batch.events) // 2
            self.max_events = max(1, min(self.max_events, half))  # later batches stay under the limit
            self._requeue(batch.events)
            return "split"
        if error is not None or status in RETRYABLE:
            self._failures += 1
            self.retries += 1
            self._requeue(batch.events)
            if retry_after is not None and status in (429, 503):
                delay = min(max(retry_after, 0.0), self.max_retry_after)
            else:
                delay = min(self.base_delay * 2 ** (self._failures - 1), self.max_delay)
                delay += delay * self.jitter * self.rand()
            self._not_before = now + delay
            return "retry"
        self._failures = 0
        reason = f"HTTP {status}" if status is not None else "no answer"
        self.failed.append(Failure(list(batch.events), status, reason))
        return "failed"

    def _requeue(self, events: List[Any]) -> None:
        for event in reversed(events):
            size = event_size(event)
            self._queue.appendleft((event, size))
            self._queued_bytes += size

    def give_up(self, reason: str) -> List[Any]:
        """Drop what is left (after a drain deadline or a fatal error) into ``failed``; returns it."""
        left = (self._out.events if self._out is not None else []) + self.pending
        self._out = None
        self._queue.clear()
        self._queued_bytes = 0
        if left:
            self.failed.append(Failure(left, None, reason))
        return left
