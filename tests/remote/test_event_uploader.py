"""The sans-IO event uploader (claw.remote.event_uploader): batching, order, retries, failures."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from claw.remote.event_uploader import EventUploader, event_size


def _up(**kw):
    kw.setdefault("rand", lambda: 0.0)
    return EventUploader(**kw)


def test_one_batch_out_at_a_time_and_queued_events_coalesce():
    up = _up()
    up.enqueue({"n": 1})
    first = up.next_batch(0.0)
    assert first.events == [{"n": 1}]
    for n in (2, 3, 4):
        up.enqueue({"n": n})
    assert up.next_batch(0.0) is None and up.wait_time(0.0) is None  # serialised: one POST in flight
    assert up.done(first, 0.1, status=200) == "delivered"
    second = up.next_batch(0.1)
    assert second.events == [{"n": 2}, {"n": 3}, {"n": 4}]  # everything queued meanwhile, in one batch
    up.done(second, 0.2, status=204)
    assert up.idle and up.delivered == 4


def test_batches_split_by_count_and_bytes_and_an_oversized_event_goes_alone():
    up = _up(max_events=3, max_bytes=100)
    events = [{"i": i} for i in range(7)] + [{"big": "x" * 300}, {"i": 99}]
    for event in events:
        up.enqueue(event)
    sent = []
    while not up.idle:
        batch = up.next_batch(0.0)
        assert len(batch.events) <= 3
        assert len(batch.events) == 1 or sum(event_size(e) for e in batch.events) <= 100
        sent.append(batch.events)
        up.done(batch, 0.0, status=200)
    assert [e for b in sent for e in b] == events
    assert [{"big": "x" * 300}] in sent


def test_retry_after_is_honoured_and_the_batch_is_resent_first():
    up = _up()
    up.enqueue("a")
    batch = up.next_batch(10.0)
    up.enqueue("b")
    assert up.done(batch, 10.0, status=429, retry_after=7.0) == "retry"
    assert up.next_batch(16.9) is None and abs(up.wait_time(16.9) - 0.1) < 1e-9
    again = up.next_batch(17.0)
    assert again.events == ["a", "b"] and again.attempt == 2


def test_backoff_doubles_to_the_cap_without_retry_after():
    up = _up(base_delay=1.0, max_delay=4.0)
    up.enqueue("a")
    waits = []
    now = 0.0
    for _ in range(4):
        batch = up.next_batch(now)
        up.done(batch, now, status=500)
        waits.append(up.wait_time(now))
        now += waits[-1]
    assert waits == [1.0, 2.0, 4.0, 4.0]
    up.done(up.next_batch(now), now, error=ConnectionError("reset"))
    assert up.retries == 5


def test_a_non_retryable_refusal_is_surfaced_and_the_queue_goes_on():
    up = _up()
    up.enqueue("bad")
    batch = up.next_batch(0.0)
    up.enqueue("next")
    assert up.done(batch, 0.0, status=400) == "failed"
    assert up.failed[0].events == ["bad"] and up.failed[0].status == 400
    assert up.next_batch(0.0).events == ["next"]


def test_413_splits_the_batch_and_a_single_too_large_event_fails():
    up = _up()
    for i in range(4):
        up.enqueue(i)
    batch = up.next_batch(0.0)
    assert up.done(batch, 0.0, status=413) == "split"
    half = up.next_batch(0.0)
    assert half.events == [0, 1]
    up.done(half, 0.0, status=200)
    one = up.next_batch(0.0)
    up.done(one, 0.0, status=413)
    one = up.next_batch(0.0)
    assert one.events == [2]
    assert up.done(one, 0.0, status=413) == "failed"


def test_room_is_bounded_by_count_and_bytes():
    up = _up(max_queue=2)
    up.enqueue(1)
    assert up.room
    up.enqueue(2)
    assert not up.room
    up.done(up.next_batch(0.0), 0.0, status=200)
    assert up.room
    small = _up(max_queue_bytes=10)
    small.enqueue("x" * 20)
    assert not small.room


def test_give_up_reports_everything_left_in_order():
    up = _up()
    for i in range(3):
        up.enqueue(i)
    up.next_batch(0.0)
    up.enqueue(3)
    assert up.give_up("exit") == [0, 1, 2, 3]
    assert up.idle and up.failed[-1].reason == "exit"


_OUTCOMES = st.sampled_from([200, 200, 200, 429, 500, 503, None, 413])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(1, 5).map(lambda n: ("enqueue", n)),
                          _OUTCOMES.map(lambda s: ("outcome", s)),
                          st.floats(0, 5).map(lambda t: ("tick", t))), max_size=80),
       st.integers(1, 4), st.integers(20, 200))
def test_any_interleaving_delivers_every_event_exactly_once_in_order(steps, max_events, max_bytes):
    up = _up(max_events=max_events, max_bytes=max_bytes, base_delay=0.5, max_delay=2.0)
    now = 0.0
    produced = []
    delivered = []
    out = None
    for kind, value in steps:
        if kind == "enqueue":
            for _ in range(value):
                event = {"n": len(produced)}
                produced.append(event)
                up.enqueue(event)
        elif kind == "tick":
            now += value
        if out is None:
            out = up.next_batch(now)
        elif kind == "outcome":
            status = value
            result = up.done(out, now, status=status, retry_after=1.0 if status == 429 else None,
                             error=ConnectionError() if status is None else None)
            if result == "delivered":
                delivered.extend(out.events)
            out = up.next_batch(now)
    # then the server heals: everything still pending is delivered
    for _ in range(10000):
        if out is None:
            wait = up.wait_time(now)
            if wait is None:
                break
            now += wait
            out = up.next_batch(now)
            continue
        up.done(out, now, status=200)
        delivered.extend(out.events)
        out = None
    failed = [e for f in up.failed for e in f.events]
    assert sorted(delivered + failed, key=lambda e: e["n"]) == produced  # each exactly once
    assert delivered == [e for e in produced if e not in failed]  # in order
    assert all(len(f.events) == 1 and f.status == 413 for f in up.failed)  # only oversized singles fail
