"""``claw remote-control bridge-worker`` against a fake session-ingress host (tests.fakes.session_ingress)
and the fake model server: v1 (WebSocket reads, batched POST writes) end to end with a forced
disconnect, Retry-After, 413 splits, remote permission answers, the token kept out of every output;
v2 (code sessions) SSE resume, delivery acks, coalesced state PUTs and heartbeats, in process and end to
end."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

from claw.net.config import NetConfig
from tests.fakes.claw_wrapper import ROOT, SCRUB
from tests.fakes.model_server import ModelServer, reply, tool_use
from tests.fakes.session_ingress import SessionIngress

WORKER = [sys.executable, "-m", "claw", "remote-control", "bridge-worker"]


def _secret(ingress: SessionIngress, token: str = "", **extra: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(dict({"version": 1, "session_ingress_token": token or ingress.token,
                               "api_base_url": ingress.base_url, "sources": [], "auth": []}, **extra)).encode()).decode().rstrip("=")


class Worker:
    """The worker process, its output collected when it ends."""

    def __init__(self, ingress: SessionIngress, model: ModelServer, tmp: Path, token: str = "", **secret: Any) -> None:
        self.work = tmp / "work"
        self.work.mkdir(exist_ok=True)
        self.home = tmp / "home"
        env = {k: v for k, v in os.environ.items() if k not in SCRUB}
        env.update(model.env(CLAW_CONFIG_HOME=str(self.home), PYTHONPATH=str(ROOT),
                             CLAW_WORK_SECRET=_secret(ingress, token, **secret)))
        if secret.get("auth"):
            env.pop("ANTHROPIC_API_KEY")
        self.proc = subprocess.Popen(WORKER + ["--session-id", ingress.session_id, "--work-id", "w1"],
                                     cwd=str(self.work), env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = self.err = ""

    def wait(self, timeout: float = 60) -> int:
        out, err = self.proc.communicate(timeout=timeout)
        self.out, self.err = out.decode(), err.decode()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def files_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.home.rglob("*") if p.is_file())


def _user(text: str) -> Dict[str, Any]:
    return {"type": "user", "message": {"role": "user", "content": text}}


def _results(events: List[Any]) -> List[Any]:
    return [e for e in events if e.get("type") == "result"]


def _no_token(ingress: SessionIngress, worker: Worker) -> None:
    for text in (worker.out, worker.err, worker.files_text()):
        assert ingress.token not in text
    assert ingress.token not in json.dumps(ingress.events())


def test_v1_turns_end_to_end_with_a_forced_disconnect_and_a_lost_post_answer(tmp_path):
    script = [reply(text="first answer", text_chunk=4, delay=0.1), reply(text="second answer")]
    with SessionIngress(resend_all=True) as ingress, ModelServer(script) as model:
        ingress.faults.append({"drop_after": True})  # the first batch arrives, its answer is lost
        worker = Worker(ingress, model, tmp_path)
        try:
            ingress.wait_for(lambda: ingress.ws_connections == 1)
            ingress.send(_user("hi"))
            ingress.wait_for(lambda: len(model.requests) == 1)
            ingress.drop()  # mid-turn: the model is still streaming
            ingress.wait_for(lambda: ingress.ws_connections == 2 and ingress.resumes)
            ingress.wait_for(lambda: len(_results(ingress.unique_events())) == 1)
            ingress.send(_user("again"))
            ingress.wait_for(lambda: len(_results(ingress.unique_events())) == 2)
            ingress.end()
            assert worker.wait() == 0, worker.err
        finally:
            worker.kill()
    events = ingress.unique_events()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))  # nothing lost, in order
    assert len(ingress.events()) > len(events)  # the batch whose answer was lost came twice
    types = [e["type"] for e in events]
    assert types[:1] == ["system"] and types.count("result") == 2
    assert [r["result"] for r in _results(events)] == ["first answer", "second answer"]
    assert len(model.requests) == 2  # the host's messages, sent again after the resume, ran once each
    assert ingress.resumes[0]["last_received_seq"] == 1
    assert 1 in ingress.acks and 2 in ingress.acks
    posts = [r for r in ingress.requests if r[0] == "POST"]
    assert posts and all(r[1] == f"/v1/sessions/{ingress.session_id}/events" for r in posts)
    assert all(r[2]["authorization"] == f"Bearer {ingress.token}" for r in ingress.requests)
    _no_token(ingress, worker)


def test_v1_a_normal_close_right_after_a_message_still_delivers_its_turn(tmp_path):
    with SessionIngress() as ingress, ModelServer([reply(text="late answer", delay=0.2)]) as model:
        worker = Worker(ingress, model, tmp_path)
        try:
            ingress.wait_for(lambda: ingress.ws_connections == 1)
            ingress.send(_user("hi"))
            ingress.end()  # 1000 at once: the input is over, the queued turn is not
            assert worker.wait() == 0, worker.err
        finally:
            worker.kill()
    assert [r["result"] for r in _results(ingress.events())] == ["late answer"]
    assert "could not be sent" not in worker.err


def test_v1_retry_after_is_honoured_and_oversized_batches_are_split(tmp_path):
    with SessionIngress(max_batch_events=2) as ingress, ModelServer([reply(text="answer")]) as model:
        ingress.faults.append({"status": 429, "retry_after": "1"})
        worker = Worker(ingress, model, tmp_path)
        try:
            ingress.wait_for(lambda: ingress.ws_connections == 1)
            ingress.send(_user("hi"))
            ingress.wait_for(lambda: _results(ingress.unique_events()))
            ingress.end()
            assert worker.wait() == 0, worker.err
        finally:
            worker.kill()
    statuses = [status for _, status in ingress.attempts]
    assert statuses[0] == 429 and 413 in statuses  # what queued during the wait was too large for one POST
    assert ingress.attempts[1][0] - ingress.attempts[0][0] >= 0.95  # Retry-After: 1
    assert all(len(batch) <= 2 for batch in ingress.batches)
    events = ingress.events()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))  # split, in order, once each
    assert [e["type"] for e in events][0] == "system" and events[-1]["type"] == "result"


def test_v1_permission_requests_are_answered_remotely(tmp_path):
    script = [reply(tool_uses=[tool_use("bash", {"command": "touch allowed.txt"}, id="b1")]), reply(text="one"),
              reply(tool_uses=[tool_use("bash", {"command": "touch denied.txt"}, id="b2")]), reply(text="two")]
    answers = [{"behavior": "allow", "updatedInput": {"command": "touch allowed.txt"}},
               {"behavior": "deny", "message": "not on this machine"}]
    with SessionIngress() as ingress, ModelServer(script) as model:
        worker = Worker(ingress, model, tmp_path, auth=[{"type": "session_token"}])
        try:
            ingress.wait_for(lambda: ingress.ws_connections == 1)
            for n, text in enumerate(("first", "second")):
                ingress.send(_user(text))
                ingress.wait_for(lambda: len([e for e in ingress.events()
                                              if e.get("type") == "control_request"]) == n + 1)
                ask = [e for e in ingress.events() if e.get("type") == "control_request"][n]
                assert ask["request"]["subtype"] == "can_use_tool" and ask["request"]["tool_name"] == "Bash"
                if n == 0:  # the remote user's client answers
                    ingress.send({"type": "control_response", "response": {
                        "subtype": "success", "request_id": ask["request_id"], "response": answers[n]}})
                else:  # claw remote-control send-permission-response answers, with the user's credential
                    env = dict(os.environ, CLAW_BRIDGE_TOKEN=ingress.client_token, PYTHONPATH=str(ROOT),
                               CLAW_CONFIG_HOME=str(tmp_path / "home"))
                    cli = subprocess.run([sys.executable, "-m", "claw", "remote-control", "send-permission-response",
                                          "--base-url", ingress.base_url, "--session-id", ingress.session_id,
                                          "--request-id", ask["request_id"], "--deny", "--message",
                                          answers[n]["message"]], env=env, cwd=str(tmp_path), capture_output=True,
                                         text=True, timeout=60)
                    assert cli.returncode == 0, cli.stderr
                ingress.wait_for(lambda: len(_results(ingress.events())) == n + 1)
            ingress.end()
            assert worker.wait() == 0, worker.err
        finally:
            worker.kill()
    assert [e["type"] for e in ingress.client_posts] == ["control_response"]
    # stdout tees the session's traffic for serve: the asks, their answers, the results
    teed = [json.loads(line) for line in worker.out.splitlines()]
    assert [m["request"]["subtype"] for m in teed if m["type"] == "control_request"] == ["can_use_tool"] * 2
    assert [m["response"]["response"]["behavior"] for m in teed if m["type"] == "control_response"] \
        == ["allow", "deny"]
    assert [m["result"] for m in teed if m["type"] == "result"] == ["one", "two"]
    assert (worker.work / "allowed.txt").exists()
    assert not (worker.work / "denied.txt").exists()
    denied = model.requests[3].json["messages"][-1]["content"][0]
    assert denied["is_error"] is True and "not on this machine" in denied["content"]
    # the session token was the model API credential (the secret's auth said so)
    assert model.requests[0].headers["authorization"] == f"Bearer {ingress.token}"
    assert "x-api-key" not in model.requests[0].headers
    _no_token(ingress, worker)


def test_missing_secret_is_a_usage_error_without_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in SCRUB and k != "CLAW_WORK_SECRET"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(WORKER + ["--session-id", "s1"], env=env, cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert "CLAW_WORK_SECRET" in proc.stderr and "Traceback" not in proc.stderr


# -- v2, in process ---------------------------------------------------------------------------------


def _transport(ingress: SessionIngress, **options: Any) -> Any:
    from claw.remote.code_session import CodeSessionTransport

    url = f"{ingress.base_url}/v1/code/sessions/{ingress.session_id}"
    options.setdefault("reconnect_delay", 0.05)
    return CodeSessionTransport(url, NetConfig.from_env({"NO_PROXY": "127.0.0.1"}), token=ingress.token, **options)


def test_v2_sse_drop_resumes_from_the_last_sequence_number_with_acks_in_order():
    async def main(ingress: SessionIngress) -> List[Any]:
        transport = _transport(ingress, heartbeat_interval=0.05)
        await transport.connect()
        got = []
        for n in range(3):
            ingress.send({"type": "control_response", "n": n}, v2=True)
        for _ in range(3):
            got.append(await asyncio.wait_for(transport.read(), 10))
        ingress.drop()
        await asyncio.sleep(0.2)
        for n in range(3, 5):
            ingress.send({"type": "user", "n": n}, v2=True)
        for _ in range(2):
            got.append(await asyncio.wait_for(transport.read(), 10))
        transport.write_nowait({"type": "result", "n": 0})
        transport.report_state("idle")
        await asyncio.sleep(0.2)
        await transport.close()
        return got

    with SessionIngress() as ingress:
        got = asyncio.run(main(ingress))
    assert [m["n"] for m in got] == [0, 1, 2, 3, 4]  # no loss, no duplicate
    assert ingress.streams[0] == (None, None) and ingress.streams[1] == ("3", "3")
    for n in range(1, 6):
        mine = [u["status"] for u in ingress.deliveries if u["event_id"] == f"ev-{n}"]
        assert mine == ["received", "processing", "processed"], (n, ingress.deliveries)
    assert ingress.events() == [{"type": "result", "n": 0}]
    assert ingress.heartbeats >= 2
    assert all(r[2]["authorization"] == f"Bearer {ingress.token}" for r in ingress.requests)
    assert all(s["worker_epoch"] == 1 for s in ingress.states)


def test_v2_state_puts_are_coalesced_while_one_is_in_flight():
    async def main(ingress: SessionIngress) -> None:
        transport = _transport(ingress)
        await transport.connect()  # PUT idle goes out and takes 0.3 s
        await asyncio.sleep(0.05)
        for state in ("running", "requires_action", "running", "requires_action", "running"):
            transport.report_state(state)
        for _ in range(500):  # until the coalesced PUT is out
            if len(ingress.states) == 2:
                break
            await asyncio.sleep(0.02)
        transport.report_state("idle")
        await transport.close()  # the last state still goes out

    with SessionIngress(state_delay=0.3) as ingress:
        asyncio.run(main(ingress))
    assert [s["worker_status"] for s in ingress.states] == ["idle", "running", "idle"]


def test_v2_a_turn_end_to_end(tmp_path):
    with SessionIngress() as ingress, ModelServer([reply(text="v2 answer")]) as model:
        worker = Worker(ingress, model, tmp_path, use_code_sessions=True)
        try:
            ingress.wait_for(lambda: ingress.streams)
            ingress.send(_user("hello"), v2=True)
            ingress.wait_for(lambda: _results(ingress.events()) and ingress.states
                             and ingress.states[-1]["worker_status"] == "idle"
                             and len(ingress.deliveries) == 3)
            worker.proc.send_signal(signal.SIGTERM)
            worker.wait()
        finally:
            worker.kill()
    assert _results(ingress.events())[0]["result"] == "v2 answer"
    assert [u["status"] for u in ingress.deliveries] == ["received", "processing", "processed"]
    assert "running" in [s["worker_status"] for s in ingress.states]
    assert any(r[1].endswith("/worker/register") for r in ingress.requests)
    _no_token(ingress, worker)


# -- v1 transport, in process ---------------------------------------------------------------------


def _hybrid(ingress: SessionIngress, warnings: List[str], **options: Any) -> Any:
    from claw.remote.session_ingress import HybridTransport

    sid = ingress.session_id
    return HybridTransport(f"ws://127.0.0.1:{ingress.port}/v1/session_ingress/ws/{sid}",
                           f"{ingress.base_url}/v1/sessions/{sid}/events",
                           NetConfig.from_env({"NO_PROXY": "127.0.0.1"}), token=ingress.token,
                           warn=warnings.append, **options)


def test_v1_keep_alives_go_down_the_websocket_periodically():
    async def main(ingress: SessionIngress) -> None:
        transport = _hybrid(ingress, [], keepalive_interval=0.05)
        await transport.connect()
        await asyncio.sleep(0.5)
        await transport.close()

    with SessionIngress() as ingress:
        asyncio.run(main(ingress))
    assert ingress.keep_alives >= 3


def test_v1_drain_on_exit_reports_what_could_not_be_sent():
    async def main(ingress: SessionIngress, warnings: List[str]) -> Any:
        from claw.remote.event_uploader import EventUploader

        transport = _hybrid(ingress, warnings, drain_timeout=0.5,
                            uploader=EventUploader(base_delay=0.05, max_delay=0.1))
        await transport.connect()
        for n in range(3):
            transport.write_nowait({"type": "assistant", "n": n})
        await transport.close()
        return transport.undelivered

    with SessionIngress() as ingress:
        ingress.faults.extend({"status": 503} for _ in range(1000))
        warnings: List[str] = []
        left = asyncio.run(main(ingress, warnings))
    assert [e["n"] for e in left] == [0, 1, 2] and [e["seq"] for e in left] == [1, 2, 3]
    assert len(ingress.attempts) >= 3  # retried with back-off meanwhile
    assert warnings == ["3 messages could not be sent to the session before exit"]


def test_v1_a_refused_token_ends_the_session_with_a_classified_error():
    from claw.errors import ClawError

    async def main(ingress: SessionIngress, warnings: List[str]) -> Any:
        transport = _hybrid(ingress, warnings)
        await transport.connect()
        transport.write_nowait({"type": "assistant"})
        with pytest.raises(ClawError) as info:
            await asyncio.wait_for(transport.read(), 10)
        assert await transport.read() is None
        await transport.close()
        return info.value

    with SessionIngress() as ingress:
        ingress.faults.append({"status": 401})
        warnings: List[str] = []
        error = asyncio.run(main(ingress, warnings))
    assert error.status == 401 and error.failure_class == "provider_auth" and error.exit_code == 1
    assert error.kind == "remote_auth" and "session token" in error.hint
    assert warnings == ["1 messages not delivered (HTTP 401)"]


def test_asynchronous_writers_wait_while_the_uploader_is_full():
    async def main(ingress: SessionIngress) -> List[float]:
        from claw.remote.event_uploader import EventUploader

        transport = _hybrid(ingress, [], uploader=EventUploader(max_queue=1, max_events=1))
        await transport.connect()
        times = []
        for n in range(4):
            await transport.write({"type": "assistant", "n": n})
            times.append(asyncio.get_running_loop().time())
        await transport.close()
        return times

    with SessionIngress() as ingress:
        ingress.faults.append({"status": 429, "retry_after": "0.5"})
        times = asyncio.run(main(ingress))
    assert times[-1] - times[0] >= 0.4  # the writer waited for room while the first POST was held back
    assert [e["n"] for e in ingress.events()] == [0, 1, 2, 3]


@pytest.mark.parametrize("v2", [False, True])
def test_a_refused_token_exits_75_for_serve_to_give_the_work_back(tmp_path, v2):
    with SessionIngress() as ingress, ModelServer([]) as model:
        wrong = "sk-ant-si-EXPIRED-TOKEN-0123456789"  # a token the session does not know
        worker = Worker(ingress, model, tmp_path, token=wrong, use_code_sessions=v2)
        try:
            assert worker.wait() == 75  # not 1: serve requeues it, the service hands it out with a fresh token
        finally:
            worker.kill()
    assert "401" in worker.err and "Traceback" not in worker.err
    assert wrong not in worker.err + worker.out


def test_v1_a_refused_post_mid_session_exits_75(tmp_path):
    with SessionIngress() as ingress, ModelServer([reply(text="answer")]) as model:
        worker = Worker(ingress, model, tmp_path)
        try:
            ingress.wait_for(lambda: ingress.ws_connections == 1)
            ingress.faults.append({"status": 401})  # the token was revoked meanwhile
            ingress.send(_user("hi"))
            assert worker.wait() == 75, worker.err
        finally:
            worker.kill()
    assert "HTTP 401" in worker.err


def test_v2_a_refused_registration_says_why(tmp_path):
    with SessionIngress() as ingress, ModelServer([]) as model:
        wrong = "sk-ant-si-EXPIRED-TOKEN-0123456789"
        worker = Worker(ingress, model, tmp_path, token=wrong, use_code_sessions=True)
        try:
            worker.wait()
        finally:
            worker.kill()
    assert "HTTP 401" in worker.err and "session token" in worker.err and "Traceback" not in worker.err
    assert wrong not in worker.err + worker.out
