"""The serve supervisor's state machine (claw.remote.supervisor), driven by hand: no processes, no HTTP."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claw.remote.supervisor import Limits, Supervisor, token_expiry_ms


def kinds(actions):
    return [(a.kind, a.work_id) for a in actions]


def running(sup, wid="w1", sid="s1", now=0, **kw):
    assert kinds(sup.offered(wid, sid, "session", now, **kw)) == [("ack", wid)]
    assert kinds(sup.done("ack", wid, now, True)) == [("spawn", wid)]
    sup.started(wid, now, pid=100, pid_start="42", pgid=100)
    return sup.items[wid]


def test_healthcheck_is_acked_and_done_at_once():
    sup = Supervisor()
    assert kinds(sup.offered("h1", "hc", "healthcheck", 5)) == [("ack", "h1")]
    assert kinds(sup.done("ack", "h1", 6, True)) == [("stop", "h1")]  # no worker for a health check
    item = sup.items["h1"]
    assert item.state == "done" and item.stop_pending and sup.free_slots() == 4
    assert sup.offered("h1", "hc", "healthcheck", 7) == []


def test_session_lifecycle_heartbeats_then_stop_work():
    sup = Supervisor(Limits(heartbeat_ms=1000))
    item = running(sup)
    assert item.state == "running" and sup.next_due() == 1000
    assert sup.tick(999) == []
    assert kinds(sup.tick(1000)) == [("heartbeat", "w1")]
    assert sup.tick(1500) == []
    assert kinds(sup.done("heartbeat", "w1", 1100, True, reply={"lease_extended": True, "state": "active"})) == []
    actions = sup.exited("w1", 1600, 0)
    assert [(a.kind, a.force) for a in actions if a.kind == "stop"] == [("stop", False)]
    assert item.state == "done" and item.stop_pending and not sup.idle()
    sup.done("stop", "w1", 1700, ok=True)
    assert not item.stop_pending and sup.idle()


def test_a_failing_worker_fails_its_item_and_stops_it_forced():
    sup = Supervisor()
    running(sup)
    stop = [a for a in sup.exited("w1", 10, 3) if a.kind == "stop"]
    assert sup.items["w1"].state == "failed" and stop[0].force is True


def test_duplicate_work_never_starts_a_second_worker():
    sup = Supervisor()
    running(sup)
    assert kinds(sup.offered("w1", "s1", "session", 1)) == [("ack", "w1")]  # polled again: renew the lease
    assert sup.done("ack", "w1", 1, True) == []  # and no second worker
    sup.exited("w1", 2, 0)
    assert sup.offered("w1", "s1", "session", 3) == []  # its stop is still owed
    sup.done("stop", "w1", 4, ok=True)
    assert sup.offered("w1", "s1", "session", 5) == []  # done: never run twice
    assert sup.offered("w2", "s1", "session", 5) != []  # another work item of that session is new work


def test_a_second_item_of_a_running_session_waits():
    sup = Supervisor()
    running(sup)
    assert sup.offered("w2", "s1", "session", 1) == []


def test_worker_killed_by_a_foreign_signal_is_requeued_and_runs_again_up_to_max_runs():
    sup = Supervisor(Limits(max_runs=2))
    running(sup)
    assert kinds(sup.exited("w1", 11, -9)) == []  # no stop_work: the lease lapses, the server re-offers
    assert sup.items["w1"].state == "requeued" and sup.idle()
    assert kinds(sup.offered("w1", "s1", "session", 20)) == [("ack", "w1")]
    assert sup.items["w1"].runs == 2
    sup.done("ack", "w1", 20, True)
    sup.started("w1", 21, pid=5, pid_start="1", pgid=5)
    assert kinds(sup.exited("w1", 22, -9)) == [("stop", "w1")]  # killed again: give up
    assert sup.items["w1"].state == "failed"


def test_shutdown_stops_items_for_good():
    sup = Supervisor()
    running(sup)
    sup.shutdown(10)
    assert [(a.kind, a.force) for a in sup.exited("w1", 11, -15) if a.kind == "stop"] == [("stop", True)]
    assert sup.items["w1"].state == "stopped"


def test_a_dead_token_is_not_taken():
    sup = Supervisor()
    assert sup.offered("w1", "s1", "session", 100, token_expires_at=100) == []


def test_capacity_is_max_sessions():
    sup = Supervisor(Limits(max_sessions=2))
    running(sup, "w1", "s1")
    running(sup, "w2", "s2")
    assert sup.free_slots() == 0 and sup.offered("w3", "s3", "session", 1) == []
    sup.exited("w1", 2, 0)
    assert sup.free_slots() == 1  # an owed stop does not hold a slot


def test_session_timeout_terms_then_kills():
    sup = Supervisor(Limits(session_timeout_ms=1000, kill_grace_ms=200, heartbeat_ms=10_000))
    running(sup)
    assert sup.next_due() == 1000
    assert kinds(sup.tick(1000)) == [("term", "w1")]
    assert sup.items["w1"].reason == "timeout"
    assert kinds(sup.tick(1100)) == []
    assert kinds(sup.tick(1200)) == [("kill", "w1")]
    sup.exited("w1", 1300, -9)
    assert sup.items["w1"].state == "failed" and sup.items["w1"].stop_pending


def test_token_about_to_expire_requeues():
    sup = Supervisor(Limits(token_margin_ms=60_000, heartbeat_ms=10**9))
    running(sup, token_expires_at=600_000)
    assert sup.next_due() == 540_000
    assert kinds(sup.tick(540_000)) == [("term", "w1")]
    assert kinds(sup.exited("w1", 540_100, 0)) == []  # its lease lapses: the server re-dispatches it
    assert sup.items["w1"].state == "requeued" and sup.items["w1"].reason == "token_expiry"


def test_short_lived_token_requeues_at_half_its_life():
    sup = Supervisor(Limits(token_margin_ms=60_000, heartbeat_ms=10**9))
    running(sup, now=1000, token_expires_at=3000)
    assert sup.next_due() == 2000


def test_lost_lease_stops_the_worker_without_stop_work():
    sup = Supervisor()
    running(sup)
    assert kinds(sup.done("heartbeat", "w1", 5, False, gone=True)) == [("term", "w1")]
    assert kinds(sup.exited("w1", 6, -15)) == []
    assert sup.items["w1"].state == "requeued" and not sup.items["w1"].stop_pending and sup.idle()


def test_a_worker_exiting_75_gives_its_work_back_up_to_max_runs():
    sup = Supervisor(Limits(max_runs=2))
    running(sup)
    assert sup.exited("w1", 5, 75) == []  # no stop_work: the lease lapses, the server hands it out again
    assert (sup.items["w1"].state, sup.items["w1"].reason) == ("requeued", "session_refused")
    assert kinds(sup.offered("w1", "s1", "session", 6)) == [("ack", "w1")]
    sup.done("ack", "w1", 7, True)
    sup.started("w1", 8, 101, "2", 101)
    assert kinds(sup.exited("w1", 9, 75)) == [("stop", "w1")]  # the second run: it fails
    assert sup.items["w1"].state == "failed"


def test_heartbeat_reply_ending_the_lease_counts_as_lost():
    sup = Supervisor()
    running(sup)
    assert kinds(sup.done("heartbeat", "w1", 5, True, reply={"lease_extended": False})) == [("term", "w1")]
    assert sup.items["w1"].reason == "lease_lost"


@pytest.mark.parametrize("state", ["stopping", "stopped"])
def test_the_service_stopping_the_work_ends_the_worker_and_the_item_is_done(state):
    sup = Supervisor()
    running(sup)
    reply = {"lease_extended": state == "stopping", "state": state}
    assert kinds(sup.done("heartbeat", "w1", 5, True, reply=reply)) == [("term", "w1")]
    assert sup.done("heartbeat", "w1", 6, True, reply=reply) == []  # asked once
    actions = sup.exited("w1", 7, 143)  # whatever the code: serve asked it to end
    assert [(a.kind, a.force) for a in actions] == [("stop", False)]  # a graceful confirmation, no requeue
    item = sup.items["w1"]
    assert (item.state, item.reason, item.stop_pending) == ("done", "server_stop", True)


def test_other_heartbeat_failures_wait_for_the_next_one():
    sup = Supervisor()
    running(sup)
    assert sup.done("heartbeat", "w1", 5, False) == []
    assert sup.items["w1"].state == "running"


def test_stop_work_retried_with_doubling_backoff_until_it_succeeds():
    sup = Supervisor(Limits(stop_retry_ms=100, stop_retry_max_ms=300))
    running(sup)
    sup.exited("w1", 0, 0)
    due = []
    now = 0
    for _ in range(4):
        sup.done("stop", "w1", now, ok=False)
        due.append(sup.items["w1"].next_stop_at - now)
        now = sup.items["w1"].next_stop_at
        assert sup.tick(now - 1) == [] and kinds(sup.tick(now)) == [("stop", "w1")]
    assert due == [100, 200, 300, 300]
    sup.done("stop", "w1", now, ok=True)
    assert sup.idle() and sup.tick(10**9) == []


def test_stop_work_gone_settles_the_item():
    sup = Supervisor()
    running(sup)
    sup.exited("w1", 0, 0)
    sup.done("stop", "w1", 1, ok=False, gone=True)
    assert sup.idle()


def test_failed_ack_lets_the_item_lapse():
    sup = Supervisor()
    sup.offered("w1", "s1", "session", 0)
    assert kinds(sup.done("ack", "w1", 1, False)) == []
    assert sup.items["w1"].state == "requeued" and sup.free_slots() == 4 and sup.idle()


def test_spawn_failure_fails_the_item_and_notes_why():
    sup = Supervisor()
    sup.offered("w1", "s1", "session", 0)
    sup.done("ack", "w1", 0, True)
    assert kinds(sup.spawn_failed("w1", 1, "no such file")) == [("stop", "w1")]
    assert sup.items["w1"].state == "failed" and "no such file" in sup.items["w1"].lines[-1]


def test_permission_requests_recorded_until_answered():
    sup = Supervisor()
    running(sup)
    req = {"type": "control_request", "request_id": "r1",
           "request": {"subtype": "can_use_tool", "tool_name": "bash", "input": {"command": "ls"}}}
    sup.output("w1", json.dumps(req) + "\n", 7)
    sup.output("w1", json.dumps(dict(req, request_id="r2")), 8)
    sup.output("w1", json.dumps({"type": "control_request", "request_id": "r3", "request": {"subtype": "interrupt"}}), 8)
    assert sup.items["w1"].permissions == [{"request_id": "r1", "tool_name": "bash", "since": 7},
                                           {"request_id": "r2", "tool_name": "bash", "since": 8}]
    sup.output("w1", json.dumps({"type": "control_response", "response": {"subtype": "success", "request_id": "r1"}}), 9)
    sup.output("w1", json.dumps({"type": "control_cancel_request", "request_id": "r2"}), 9)
    assert sup.items["w1"].permissions == []


def test_malformed_worker_output_is_only_activity():
    sup = Supervisor()
    running(sup)
    for line in ('{"type": "assistant", "message": "x"}', '{"type": "assistant", "message": {"content": [1]}}',
                 '{"type": "control_request", "request": []}', '{"type": "result", "result": 5}', "[1]", "{bad",
                 '{"type": "control_response", "response": 3}', '"str"', ""):
        sup.output("w1", line, 1)
    item = sup.items["w1"]
    assert item.permissions == [] and item.last_tool is None and len(item.lines) == 8


def test_activity_summary_keeps_last_lines_tool_and_result():
    sup = Supervisor(Limits(activity_lines=3, line_chars=10))
    running(sup)
    for n in range(5):
        sup.output("w1", f"line {n} and more text", n)
    sup.output("w1", json.dumps({"type": "assistant", "message": {"content": [
        {"type": "text", "text": "x"}, {"type": "tool_use", "name": "read_file", "input": {}}]}}), 6)
    sup.output("w1", json.dumps({"type": "result", "subtype": "success", "result": "all good"}), 7)
    item = sup.items["w1"]
    assert len(item.lines) == 3 and item.lines[0] == "line 4 and"
    assert item.last_tool == "read_file" and item.last_result == "success: all good"[:10]


def test_shutdown_terms_workers_and_is_idle_once_stops_confirmed():
    sup = Supervisor()
    running(sup, "w1", "s1")
    running(sup, "w2", "s2")
    assert sorted(kinds(sup.shutdown(0))) == [("term", "w1"), ("term", "w2")]
    assert sup.free_slots() == 0 and not sup.idle()
    for wid in ("w1", "w2"):
        assert [a.kind for a in sup.exited(wid, 1, -15)][0] == "stop"
        sup.done("stop", wid, 2, ok=True)
    assert sup.idle()


def test_ack_completing_during_shutdown_does_not_spawn():
    sup = Supervisor()
    sup.offered("w1", "s1", "session", 0)
    sup.shutdown(1)
    assert kinds(sup.done("ack", "w1", 2, True)) == [("stop", "w1")]
    assert sup.items["w1"].state == "stopped"


def test_state_round_trips_without_transient_fields():
    sup = Supervisor()
    running(sup)
    sup.output("w1", "hello", 1)
    data = json.loads(json.dumps(sup.to_json()))
    row = data["items"][0]
    assert row["state"] == "running" and row["pid"] == 100 and row["lines"] == ["hello"]
    assert "next_heartbeat_at" not in row and "kill_at" not in row
    again = Supervisor.from_json(data)
    assert again.items["w1"].to_json() == sup.items["w1"].to_json()


def test_malformed_state_file_gives_an_empty_machine():
    for obj in (None, [], {"version": 99, "items": []}, {"version": 1, "items": [{"work_id": 3}, "x"]},
                {"version": 1, "items": [{"work_id": "a", "session_id": "b", "bogus": 1}]}):
        sup = Supervisor.from_json(obj)
        assert all(i.work_id == "a" for i in sup.items.values())


def test_restore_kills_only_verified_workers_and_gives_every_held_item_back():
    sup = Supervisor()
    running(sup, "w1", "s1")
    running(sup, "w2", "s2")
    sup.items["w2"].pid_start = "other"
    sup.offered("w3", "s3", "session", 0)  # acked, never started
    running(sup, "w4", "s4")
    sup.exited("w4", 1, 0)  # its stop still owed
    again = Supervisor.from_json(json.loads(json.dumps(sup.to_json())))
    seen = []
    actions = again.restore(50, lambda pid, start: seen.append(start) or start == "42")
    assert kinds(actions) == [("kill", "w1")] and seen == ["42", "other"]
    assert {i.work_id: i.state for i in again.items.values()} == {"w1": "requeued", "w2": "requeued",
                                                                  "w3": "requeued", "w4": "done"}
    assert kinds(again.tick(50)) == [("stop", "w4")]  # the owed stop resumes


def test_token_expiry_reads_the_jwt_exp_claim():
    body = base64.urlsafe_b64encode(json.dumps({"exp": 1700000000}).encode()).decode().rstrip("=")
    assert token_expiry_ms(f"xx.{body}.sig") == 1700000000000
    assert token_expiry_ms("opaque-token") is None
    assert token_expiry_ms("a.!!.c") is None


EVENTS = st.lists(st.tuples(st.sampled_from(["offer", "ack", "ackfail", "exit", "stop", "stopfail", "tick",
                                             "hbgone", "shutdown"]),
                            st.integers(0, 5), st.sampled_from([-9, 0, 1])), max_size=60)


@settings(max_examples=150, deadline=None)
@given(EVENTS)
def test_random_events_keep_the_invariants(events):
    """Whatever the order of outcomes: at most max_sessions workers, never two for one work item or
    one session, a spawn only after a successful ack, and no stop_work owed for a lost lease."""
    sup = Supervisor(Limits(max_sessions=3, heartbeat_ms=7, session_timeout_ms=50, kill_grace_ms=5))
    live = {}  # work id -> session id of a spawned, not exited worker
    acked = set()
    now = 0
    for event, n, code in events:
        now += 3
        wid, sid = f"w{n}", f"s{n % 4}"
        if event == "offer":
            actions = sup.offered(wid, sid, "session", now)
        elif event in ("ack", "ackfail"):
            actions = sup.done("ack", wid, now, event == "ack")
            acked.add(wid) if event == "ack" else None
        elif event == "exit":
            actions = sup.exited(wid, now, code) if wid in live else []
            if wid in live and sup.items[wid].state not in ("running", "stopping"):
                live.pop(wid)
        elif event in ("stop", "stopfail"):
            actions = sup.done("stop", wid, now, event == "stop")
        elif event == "hbgone":
            actions = sup.done("heartbeat", wid, now, False, gone=True)
        elif event == "shutdown":
            actions = sup.shutdown(now)
        else:
            actions = sup.tick(now)
        for action in actions:
            if action.kind == "spawn":
                assert action.work_id in acked and action.work_id not in live
                sup.started(action.work_id, now, pid=1, pid_start="1", pgid=1)
                live[action.work_id] = sup.items[action.work_id].session_id
        assert len(sup.active()) <= 3
        assert len(set(live.values())) == len(live)
        for item in sup.items.values():
            if item.state == "requeued":
                assert not item.stop_pending
