"""What one request attempt ended with, and the table that says what to do next.

A model request is a sequence of attempts. Each attempt (``Provider._attempt``) ends in an
``AttemptOutcome``; ``outcome_kind`` names it (success, a failure after content reached the caller, an
empty stream, an expired login, a retryable or a permanent failure) and ``ACTIONS`` maps each kind to the
actions to try, in order. Every action but the terminal ones spends an *allowance* (``ALLOWANCE_OF``);
``next_action`` picks the first action whose allowance is not spent. In the style of h11's state tables:
the rules are data, the driver (``Provider.stream``) is a short loop that performs the chosen action.

  kind              actions, first with an allowance left wins
  ok                deliver
  after_content     raise           (never repeat what the caller has seen)
  permanent         raise
  auth_expired      refresh the token and resend (once), else raise (a 401, or expired AWS credentials)
  empty_stream      resend without streaming (once), else retry, else give up
  local_refused     retry soon (once, after ``QUICK_RETRY_DELAY``), else give up
  retryable         retry (``max_retries`` times), else give up
  overloaded        retry (``max_retries`` times), else fall back (once), else give up
  model_not_found   fall back (once), else raise

``local_refused``: a connection refused by a loopback or private address (claw.api.failures
``local_refusal``) - a local model server that is not running. Backing off for half a minute will not
start it; the user learns at once, with the URL in the hint. Remote hosts stay ``retryable``.

"fall back" sends the same request to the fallback model (``--fallback-model``); its allowance is 1
when a fallback provider is configured, else 0 (the row then goes on as it would without one).
A time budget of a later change is a new action with its own allowance, added to the rows it applies
to — not a new flag in the driver.

Nothing here does I/O; which failures are retryable and how long to wait stay in claw.api.retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from claw.api.failures import local_refusal
from claw.errors import ClawError

# Outcome kinds
OK = "ok"
AFTER_CONTENT = "after_content"
PERMANENT = "permanent"
AUTH_EXPIRED = "auth_expired"
EMPTY_STREAM = "empty_stream"
LOCAL_REFUSED = "local_refused"
RETRYABLE = "retryable"
OVERLOADED = "overloaded"  # retryable, and the provider says it is overloaded (529, overloaded_error)
MODEL_NOT_FOUND = "model_not_found"  # 404 not_found_error naming the model

# Actions
DELIVER = "deliver"  # hand the held-back events and the MessageDone to the caller; done
RAISE = "raise"  # raise the attempt's error as it is
REFRESH = "refresh"  # refresh the OAuth token; resend if that worked, else raise
RESEND_UNSTREAMED = "resend_unstreamed"  # ask again without streaming; not a counted retry
RETRY = "retry"  # announce RetryScheduled, wait, send again
RETRY_SOON = "retry_soon"  # as RETRY, after QUICK_RETRY_DELAY instead of the backoff
GIVE_UP = "give_up"  # raise retries_exhausted with the last error
FALL_BACK = "fall_back"  # announce ModelFallback, send the same request to the fallback model; done

ACTIONS: Dict[str, Tuple[str, ...]] = {
    OK: (DELIVER,),
    AFTER_CONTENT: (RAISE,),
    PERMANENT: (RAISE,),
    AUTH_EXPIRED: (REFRESH, RAISE),
    EMPTY_STREAM: (RESEND_UNSTREAMED, RETRY, GIVE_UP),
    LOCAL_REFUSED: (RETRY_SOON, GIVE_UP),
    RETRYABLE: (RETRY, GIVE_UP),
    OVERLOADED: (RETRY, FALL_BACK, GIVE_UP),
    MODEL_NOT_FOUND: (FALL_BACK, RAISE),
}
QUICK_RETRY_DELAY = 0.25  # seconds before RETRY_SOON

# The allowance each non-terminal action spends; actions not listed here are always possible.
ALLOWANCE_OF: Dict[str, str] = {
    REFRESH: "refresh",
    RESEND_UNSTREAMED: "unstreamed",
    RETRY: "retries",
    RETRY_SOON: "quick_retries",
    FALL_BACK: "fallback",
}


@dataclass
class AttemptOutcome:
    """How one request attempt ended: a response, or a classified failure with what the table needs."""

    response: Any = None  # the ModelResponse on success
    last_raw: Optional[Dict[str, Any]] = None  # the raw message_stop event, when there was one
    held_back: List[Any] = field(default_factory=list)  # events not yet given to the caller
    error: Optional[ClawError] = None
    headers: List[Tuple[str, str]] = field(default_factory=list)  # of a failed HTTP response (retry-after...)
    request_id: Optional[str] = None
    delivered: bool = False  # content already reached the caller
    empty: bool = False  # the response had no message at all


@dataclass
class Attempts:
    """Where a sequence of attempts stands: how much of each allowance is spent."""

    limits: Mapping[str, int]
    spent: Dict[str, int] = field(default_factory=dict)

    def left(self, allowance: str) -> bool:
        return self.spent.get(allowance, 0) < self.limits.get(allowance, 0)

    def spend(self, allowance: str) -> None:
        self.spent[allowance] = self.spent.get(allowance, 0) + 1

    @property
    def streaming(self) -> bool:
        """Requests are streamed until the unstreamed resend was used."""
        return not self.spent.get("unstreamed", 0)

    @property
    def counted(self) -> int:
        """Attempts that count against ``max_retries``: the first one plus every retry."""
        return 1 + self.spent.get("retries", 0) + self.spent.get("quick_retries", 0)


def allowances(max_retries: int, *, fallback: bool = False) -> Dict[str, int]:
    """The limits of a request: ``max_retries`` retries (one quick one for a local refusal), one
    unstreamed resend, one token refresh, and one switch to the fallback model when there is one."""
    return {"retries": max(0, max_retries), "quick_retries": min(1, max(0, max_retries)), "unstreamed": 1,
            "refresh": 1, "fallback": 1 if fallback else 0}


def outcome_kind(outcome: AttemptOutcome, *, retryable: bool, refreshable: bool) -> str:
    """The row of the table for this outcome. ``retryable``: the retry policy's judgement of the error;
    ``refreshable``: the credentials can be refreshed."""
    if outcome.error is None:
        return OK
    if outcome.delivered:
        return AFTER_CONTENT
    if outcome.empty:
        return EMPTY_STREAM
    if (outcome.error.status == 401 or outcome.error.kind == "expired_credentials") and refreshable:
        return AUTH_EXPIRED
    if retryable and local_refusal(outcome.error):
        return LOCAL_REFUSED
    if retryable:
        return OVERLOADED if outcome.error.failure_class == "provider_overloaded" else RETRYABLE
    return MODEL_NOT_FOUND if is_model_not_found(outcome.error) else PERMANENT


def is_model_not_found(error: ClawError) -> bool:
    """A 404 ``not_found_error`` about the model (``model: claude-x``), not about the URL."""
    return error.status == 404 and error.kind == "not_found" and "model" in (error.message or "").lower()


def next_action(kind: str, state: Attempts) -> str:
    """The first action of the row whose allowance is left (the last action of a row needs none)."""
    for action in ACTIONS[kind]:
        allowance = ALLOWANCE_OF.get(action)
        if allowance is None or state.left(allowance):
            return action
    raise AssertionError(f"the row {kind!r} ends with an action that needs an allowance")  # pragma: no cover
