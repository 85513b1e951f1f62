"""Remote control end to end: ``claw remote-control serve`` with its default worker (the real
``claw remote-control bridge-worker``, no ``--worker-command``) against the fake environments server,
whose work secrets lead each session to its own fake session-ingress host, with the fake model server
as the model API.

Five sessions through two slots: three v1 chats, one v1 session whose bash command waits for a
permission answered with ``claw remote-control send-permission-response`` (seen pending in serve's
state file and ``status`` first), and one v2 (code session) chat. A v1 session ends when the host closes
the WebSocket with 1000 (the worker exits 0, serve stops the work); a v2 session has no such close: it
ends when the service stops the work item (the heartbeat answers ``state: stopping``), serve ends the
worker and confirms with stop_work. The same chain runs from the built dist/claw.pyz on Python 3.9.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from claw.remote.remote_state import RemoteState, save_state
from tests.fakes.claw_wrapper import ROOT, SCRUB
from tests.fakes.environments_server import EnvironmentsServer
from tests.fakes.model_server import ModelServer, reply, tool_use
from tests.fakes.session_ingress import SessionIngress
from tests.processes import wait_until

TOKEN = "bridge-token-for-the-e2e-test-77"


def _text(message: Dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return " ".join(str(b.get("text") or b.get("content") or "") for b in content or () if isinstance(b, dict))


def _model(req: Any) -> Optional[Dict[str, Any]]:
    """Answers by the last message: ``bash: CMD`` runs CMD; a tool result is reported; else an echo."""
    last = (req.json or {}).get("messages", [{}])[-1]
    blocks = last.get("content") if isinstance(last.get("content"), list) else []
    if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks):
        return reply(text="the command ran")
    said = _text(last).strip()
    if said.startswith("bash: "):
        return reply(tool_uses=[tool_use("bash", {"command": said[6:]}, id="t1")])
    return reply(text=f"echo: {said}")


class Chain:
    """The fakes, a project with a recorded environment, and claw commands run against them."""

    def __init__(self, tmp: Path, launcher: List[str], env: Dict[str, str]) -> None:
        self.tmp, self.launcher = tmp, launcher
        self.server = EnvironmentsServer(TOKEN, lease_ttl=30.0).__enter__()
        self.model = ModelServer(handler=_model).__enter__()
        self.hosts: List[SessionIngress] = []
        self.project = tmp / "project"
        self.project.mkdir()
        env_obj = self.server.register(directory=str(self.project))
        self.env_id = env_obj.id
        save_state(str(self.project), RemoteState(env_obj.id, self.server.url, env_obj.secret))
        self.env = dict(env)
        self.env.update(self.model.env(CLAW_CONFIG_HOME=str(tmp / "home"), HOME=str(tmp / "home"),
                                       CLAW_BRIDGE_TOKEN=TOKEN))
        self.serve_err = tmp / "serve.err"
        self.proc: Optional[subprocess.Popen] = None

    def session(self, n: int, **secret: Any) -> Any:
        host = SessionIngress(session_id=f"cse_e2e{n:04d}", token=f"sk-ant-si-E2E-SESSION-{n}-0123456789abcdef")
        self.hosts.append(host)
        self.server.session_hosts[host.session_id] = host
        return host, self.server.add_work(self.env_id, session_id=host.session_id, session_ingress_token=host.token,
                                          api_base_url=host.base_url, **secret)

    def serve(self, *extra: str) -> None:
        argv = self.launcher + ["remote-control", "serve", "--base-url", self.server.url, "--max-sessions", "2",
                                "--poll-interval-ms", "100", "--heartbeat-interval-ms", "300", *extra]
        self.proc = subprocess.Popen(argv, cwd=str(self.project), env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.serve_err.open("wb"))

    def claw(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.launcher + ["remote-control", *args], cwd=str(self.project), env=self.env,
                              capture_output=True, text=True, timeout=120)

    def state(self) -> Dict[str, Any]:
        path = self.project / ".claw" / "remote-serve.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def item(self, work_id: str) -> Dict[str, Any]:
        return next((i for i in self.state().get("items", []) if i["work_id"] == work_id), {})

    def calls(self, work_id: str) -> List[str]:
        return [r.path.rsplit("/", 1)[1] for r in list(self.server.requests) if f"/work/{work_id}/" in r.path]

    def stderr(self) -> str:
        return self.serve_err.read_text(errors="replace") if self.serve_err.exists() else ""

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for host in self.hosts:
            host.close()
        self.model.__exit__(None, None, None)
        self.server.__exit__(None, None, None)


def _results(host: SessionIngress) -> List[Any]:
    return [e for e in host.unique_events() if e.get("type") == "result"]


def _user(text: str) -> Dict[str, Any]:
    return {"type": "user", "message": {"role": "user", "content": text}}


def _chat(chain: Chain, host: SessionIngress, work: Any, text: str, v2: bool = False, end: bool = False) -> None:
    assert wait_until(lambda: host.v2 if v2 else host.ws_connections >= 1, 60), chain.stderr()
    assert wait_until(lambda: chain.server.work[work.id].heartbeats >= 1, 30)  # serve keeps the lease
    host.send(_user(text), v2=v2)
    if end:
        host.end()  # at once: the queued turn still runs and its events are still delivered
    assert wait_until(lambda: _results(host), 60), chain.stderr()
    assert _results(host)[-1]["result"] == f"echo: {text}"


def run_chain(chain: Chain) -> None:
    plain = [chain.session(n) for n in (1, 2, 3)]
    asks, ask_work = chain.session(4)
    v2, v2_work = chain.session(5, use_code_sessions=True)
    chain.serve()
    (h1, w1), (h2, w2), (h3, w3) = plain
    # two slots: the first two sessions run, the third waits in the queue
    assert wait_until(lambda: h1.ws_connections and h2.ws_connections, 60), chain.stderr()
    assert chain.server.work[w3.id].state == "queued" and not h3.ws_connections
    for host, work in plain:
        _chat(chain, host, work, f"hello from {host.session_id}", end=host is h3)
        host.end()  # the host closes the WebSocket with 1000: the session's input is over
        assert wait_until(lambda: chain.server.work[work.id].state == "stopped", 30), chain.stderr()
        assert wait_until(lambda: chain.item(work.id).get("state") == "done"
                          and not chain.item(work.id).get("stop_pending"), 30), chain.stderr()
        assert chain.server.work[work.id].stop_force is False
        calls = chain.calls(work.id)
        assert calls[0] == "ack" and calls[-1] == "stop" and "heartbeat" in calls, calls
        row = chain.item(work.id)
        assert row["exit_code"] == 0 and row["last_result"] == f"success: echo: hello from {host.session_id}"
        assert host.token not in json.dumps(chain.state())
        # every write reached the host as POSTed batches, numbered, each once
        events = host.unique_events()
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert all(r[1] == f"/v1/sessions/{host.session_id}/events" for r in host.requests if r[0] == "POST")

    # a bash command the policy asks about: pending in serve's state file and in `status`
    assert wait_until(lambda: asks.ws_connections, 60), chain.stderr()
    asks.send(_user("bash: touch approved.txt"))
    assert wait_until(lambda: chain.item(ask_work.id).get("permissions"), 60), chain.stderr()
    pending = chain.item(ask_work.id)["permissions"][0]
    # the default worker: this claw, started the way serve was (`python -m claw`, or python + the .pyz)
    argv = Path(f"/proc/{chain.item(ask_work.id)['pid']}/cmdline").read_bytes().decode().split("\0")
    assert argv[:len(chain.launcher) + 2] == chain.launcher + ["remote-control", "bridge-worker"], argv
    assert pending["tool_name"] == "Bash"
    status = chain.claw("status")
    assert status.returncode == 0, status.stderr
    line = next(s for s in status.stdout.splitlines() if asks.session_id in s)
    assert ": running, last tool Bash, permission pending: Bash (request {})".format(pending["request_id"]) in line
    assert not (chain.project / "approved.txt").exists()
    answer = chain.claw("send-permission-response", "--session-id", asks.session_id,
                        "--request-id", pending["request_id"], "--allow")
    assert answer.returncode == 0, answer.stderr
    assert wait_until(lambda: _results(asks), 60), chain.stderr()
    assert _results(asks)[-1]["result"] == "the command ran"
    assert (chain.project / "approved.txt").exists()
    assert wait_until(lambda: not chain.item(ask_work.id).get("permissions"), 10)
    status = chain.claw("status")
    line = next(s for s in status.stdout.splitlines() if asks.session_id in s)
    assert "last tool Bash" in line and "permission pending" not in line, status.stdout
    asks.end()
    assert wait_until(lambda: chain.item(ask_work.id).get("state") == "done", 30), chain.stderr()

    # v2: the code-session endpoints; the service ends the session by stopping its work item
    _chat(chain, v2, v2_work, "hello v2", v2=True)
    assert v2.deliveries and v2.states and v2.requests[0][1].endswith("/worker/register")
    chain.server.request_stop(v2_work.id)
    assert wait_until(lambda: chain.item(v2_work.id).get("state") == "done"
                      and not chain.item(v2_work.id).get("stop_pending"), 30), chain.stderr()
    assert chain.item(v2_work.id)["reason"] == "server_stop"
    assert chain.server.work[v2_work.id].state == "stopped"

    for host, work in plain + [(asks, ask_work), (v2, v2_work)]:
        assert chain.server.work[work.id].deliveries == 1  # each ran once
        assert chain.server.work[work.id].state == "stopped" and chain.calls(work.id)[0] == "ack"
    # serve stopped while a session runs: the worker ends, the item is stopped for good
    last, last_work = chain.session(6)
    assert wait_until(lambda: last.ws_connections, 60), chain.stderr()
    assert chain.proc.poll() is None
    chain.proc.terminate()
    assert chain.proc.wait(30) == 0, chain.stderr()
    assert chain.item(last_work.id)["state"] == "stopped" and chain.item(last_work.id)["reason"] == "shutdown"
    assert chain.server.work[last_work.id].state == "stopped" and chain.server.work[last_work.id].stop_force
    assert TOKEN not in chain.stderr() and "Traceback" not in chain.stderr()


def _env() -> Dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in SCRUB and not k.startswith("CLAW_")}


def test_serve_runs_sessions_with_the_built_in_worker(tmp_path: Path) -> None:
    chain = Chain(tmp_path, [sys.executable, "-m", "claw"], dict(_env(), PYTHONPATH=str(ROOT)))
    try:
        run_chain(chain)
    finally:
        chain.close()


def test_a_stopping_serve_lets_the_worker_drain_what_it_owes_the_session(tmp_path: Path) -> None:
    chain = Chain(tmp_path, [sys.executable, "-m", "claw"], dict(_env(), PYTHONPATH=str(ROOT)))
    try:
        host, work = chain.session(1)
        chain.serve()
        assert wait_until(lambda: host.ws_connections and chain.server.work[work.id].heartbeats, 60), chain.stderr()
        host.faults.append({"status": 429, "retry_after": "7"})  # the turn's events wait 7 s to go out
        host.send(_user("hello"))
        assert wait_until(lambda: any(s == 429 for _, s in host.attempts), 60), chain.stderr()
        chain.proc.terminate()  # the worker gets SIGTERM and drains (up to 10 s) before it exits
        assert chain.proc.wait(60) == 0, chain.stderr()
        assert [r["result"] for r in _results(host)] == ["echo: hello"], chain.stderr()
        assert chain.item(work.id)["state"] == "stopped"
    finally:
        chain.close()


@pytest.mark.e2e
def test_serve_from_the_pyz_starts_the_pyz_as_its_worker(tmp_path: Path) -> None:
    from tests.e2e.conftest import ensure_built
    from tests.e2e.util import python_for

    pyz = ensure_built()
    env = {k: v for k, v in _env().items() if k != "PYTHONPATH"}
    chain = Chain(tmp_path, [str(python_for("3.9")), str(pyz)], env)
    try:
        run_chain(chain)
    finally:
        chain.close()


def demo() -> None:
    """``python -m tests.remote.test_remote_control_e2e``: the fakes of this test for a serve started by
    hand. Prints the project and the command; each line typed is a user message of one session (its
    events are printed as they arrive); an empty line ends the session (close 1000) and starts another."""
    import tempfile
    import threading
    import time

    chain = Chain(Path(tempfile.mkdtemp(prefix="claw-rc-demo-")), ["claw"], {})
    keys = ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "CLAW_BRIDGE_TOKEN", "NO_PROXY")
    print(f"cd {chain.project} && " + " ".join(f"{k}={chain.env[k]}" for k in keys)
          + f" claw remote-control serve --base-url {chain.server.url}\n(then `claw remote-control status` there)")
    try:
        for n in range(1, 1000):
            host, _ = chain.session(n)
            print(f"session {host.session_id}: waiting for serve's worker...")
            while not host.ws_connections:
                time.sleep(0.2)
            shown = [0]

            def show() -> None:
                while host.ws_connections:
                    events = host.unique_events()
                    for event in events[shown[0]:]:
                        print("  <", json.dumps(event)[:200])
                    shown[0] = len(events)
                    time.sleep(0.2)

            threading.Thread(target=show, daemon=True).start()
            line = ""
            for line in iter(sys.stdin.readline, ""):
                if not line.strip():
                    break
                host.send(_user(line.strip()))
            host.end()
            time.sleep(1)
            if not line:
                break
    finally:
        chain.close()


if __name__ == "__main__":
    demo()
