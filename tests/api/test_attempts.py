"""The retry table (claw.api.attempts): every row, with its allowances left and spent, and the outcome
classification that picks the row. The driver that performs the actions is covered end to end against
the scripted model server (test_anthropic_provider.py, test_openai_provider.py, tests/auth/test_refresh.py).
"""

from __future__ import annotations

import pytest

from claw.api import attempts as a
from claw.errors import NetworkError, ProviderError


def state(max_retries=8, has_fallback=True, **spent):
    return a.Attempts(a.allowances(max_retries, fallback=has_fallback), dict(spent))


# (kind, allowances spent, expected action): every row of ACTIONS, each of its actions reached.
ROWS = [
    (a.OK, {}, a.DELIVER),
    (a.OK, {"retries": 8, "unstreamed": 1, "refresh": 1}, a.DELIVER),
    (a.AFTER_CONTENT, {}, a.RAISE),
    (a.PERMANENT, {}, a.RAISE),
    (a.AUTH_EXPIRED, {}, a.REFRESH),
    (a.AUTH_EXPIRED, {"refresh": 1}, a.RAISE),
    (a.EMPTY_STREAM, {}, a.RESEND_UNSTREAMED),
    (a.EMPTY_STREAM, {"unstreamed": 1}, a.RETRY),
    (a.EMPTY_STREAM, {"unstreamed": 1, "retries": 8}, a.GIVE_UP),
    (a.RETRYABLE, {}, a.RETRY),
    (a.RETRYABLE, {"retries": 7}, a.RETRY),
    (a.RETRYABLE, {"retries": 8}, a.GIVE_UP),
    (a.LOCAL_REFUSED, {}, a.RETRY_SOON),
    (a.LOCAL_REFUSED, {"quick_retries": 1}, a.GIVE_UP),
    (a.OVERLOADED, {}, a.RETRY),
    (a.OVERLOADED, {"retries": 8}, a.FALL_BACK),
    (a.OVERLOADED, {"retries": 8, "fallback": 1}, a.GIVE_UP),
    (a.MODEL_NOT_FOUND, {}, a.FALL_BACK),
    (a.MODEL_NOT_FOUND, {"fallback": 1}, a.RAISE),
]


@pytest.mark.parametrize("kind, spent, expected", ROWS)
def test_every_row(kind, spent, expected):
    assert a.next_action(kind, state(**spent)) == expected


def test_the_rows_above_reach_every_action_of_every_row():
    reached = {(kind, action) for kind, _, action in ROWS}
    assert reached == {(kind, action) for kind, actions in a.ACTIONS.items() for action in actions}


def test_every_row_ends_with_an_action_that_needs_no_allowance():
    for kind, actions in a.ACTIONS.items():
        assert actions and actions[-1] not in a.ALLOWANCE_OF, kind


def test_max_retries_zero_means_one_attempt_then_give_up():
    s = state(max_retries=0)
    assert s.counted == 1
    assert a.next_action(a.RETRYABLE, s) == a.GIVE_UP


def test_spending_the_allowances():
    s = state(max_retries=2)
    assert s.streaming and s.counted == 1
    s.spend("unstreamed")  # the resend without streaming is not a counted attempt
    assert not s.streaming and s.counted == 1
    s.spend("retries")
    s.spend("retries")
    assert s.counted == 3
    assert a.next_action(a.RETRYABLE, s) == a.GIVE_UP


def test_without_a_fallback_model_the_rows_go_on_as_before():
    assert a.next_action(a.OVERLOADED, state(has_fallback=False, retries=8)) == a.GIVE_UP
    assert a.next_action(a.MODEL_NOT_FOUND, state(has_fallback=False)) == a.RAISE


def test_a_missing_model_is_not_a_missing_url():
    kind = a.outcome_kind
    model = ProviderError("Anthropic returned 404: model: claude-nope", status=404, kind="not_found",
                          failure_class="provider_error")
    assert kind(_failed(model), retryable=False, refreshable=False) == a.MODEL_NOT_FOUND
    route = ProviderError("Anthropic returned 404: no route /v2/messages", status=404, kind="not_found",
                          failure_class="provider_error")
    assert kind(_failed(route), retryable=False, refreshable=False) == a.PERMANENT
    e503 = ProviderError("unavailable", status=503, failure_class="provider_internal")
    assert kind(_failed(e503), retryable=True, refreshable=False) == a.RETRYABLE


def _failed(error, **kw):
    return a.AttemptOutcome(error=error, **kw)


def test_outcome_kinds():
    kind = a.outcome_kind
    assert kind(a.AttemptOutcome(response=object()), retryable=False, refreshable=False) == a.OK
    e529 = ProviderError("overloaded", status=529, failure_class="provider_overloaded")
    assert kind(_failed(e529), retryable=True, refreshable=True) == a.OVERLOADED
    assert kind(_failed(e529, delivered=True), retryable=True, refreshable=True) == a.AFTER_CONTENT
    e400 = ProviderError("bad", status=400, failure_class="provider_error")
    assert kind(_failed(e400), retryable=False, refreshable=True) == a.PERMANENT
    e401 = ProviderError("expired", status=401, failure_class="provider_auth")
    assert kind(_failed(e401), retryable=False, refreshable=True) == a.AUTH_EXPIRED
    assert kind(_failed(e401), retryable=False, refreshable=False) == a.PERMANENT
    empty = ProviderError("empty", kind="empty_response", retryable=True)
    assert kind(_failed(empty, empty=True), retryable=True, refreshable=False) == a.EMPTY_STREAM
    idle = NetworkError("idle", kind="timeout", retryable=True)
    assert kind(_failed(idle), retryable=True, refreshable=False) == a.RETRYABLE
    assert kind(_failed(idle, delivered=True), retryable=True, refreshable=False) == a.AFTER_CONTENT


def _refused(host):
    err = NetworkError(f"connection refused by http://{host}:8000", kind="connect", retryable=True)
    err.refused_host = host
    return err


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "localhost", "::1", "10.1.2.3", "172.16.0.9",
                                  "192.168.1.20", "169.254.10.1", "fd12:3456::1", "fe80::1", "::ffff:127.0.0.1",
                                  "dev.localhost"])
def test_a_refusal_by_a_local_or_private_address_picks_the_fast_row(host):
    assert a.outcome_kind(_failed(_refused(host)), retryable=True, refreshable=False) == a.LOCAL_REFUSED


@pytest.mark.parametrize("host", ["203.0.113.5", "8.8.8.8", "2606:4700::1",
                                  "api.anthropic.com", "172.32.0.1"])
def test_a_refusal_by_a_remote_host_keeps_the_normal_retries(host):
    assert a.outcome_kind(_failed(_refused(host)), retryable=True, refreshable=False) == a.RETRYABLE


def test_other_local_connect_failures_keep_the_normal_retries():
    timeout = NetworkError("connecting to http://127.0.0.1:8000 timed out", kind="timeout", retryable=True)
    assert a.outcome_kind(_failed(timeout), retryable=True, refreshable=False) == a.RETRYABLE


def test_the_quick_retry_counts_as_an_attempt_and_is_not_given_with_max_retries_zero():
    s = state(max_retries=8)
    s.spend("quick_retries")
    assert s.counted == 2
    assert a.next_action(a.LOCAL_REFUSED, s) == a.GIVE_UP
    assert a.next_action(a.LOCAL_REFUSED, state(max_retries=0)) == a.GIVE_UP
