"""``claw remote-control serve`` end to end: a real ``python -m claw`` process against the fake
environments server (tests.fakes.environments_server), with tests/fixtures/serve_worker.py as the
``--worker-command`` (it logs how it was started and ends as its mode file says)."""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from claw.remote.remote_state import RemoteState, save_state
from tests.fakes.claw_wrapper import ROOT, SCRUB
from tests.fakes.environments_server import EnvironmentsServer
from tests.processes import alive, wait_until

WORKER = ROOT / "tests" / "fixtures" / "serve_worker.py"
TOKEN = "bridge-token-for-serve-tests-42"


class Harness:
    """A fake environments server, a project directory with a recorded environment, and serve runs."""

    def __init__(self, tmp: Path, server: EnvironmentsServer) -> None:
        self.tmp, self.server = tmp, server
        self.project = tmp / "project"
        self.project.mkdir()
        self.dir = tmp / "worker"
        self.dir.mkdir()
        self.env_obj = server.register(directory=str(self.project))
        save_state(str(self.project), RemoteState(self.env_obj.id, server.url, self.env_obj.secret))
        self.state_file = self.project / ".claw" / "remote-serve.json"
        self.stderr_files: List[Path] = []

    @property
    def env_id(self) -> str:
        return self.env_obj.id

    def serve(self, *extra: str, max_sessions: int = 4) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if k not in SCRUB and not k.startswith("CLAW_")}
        env.update(PYTHONPATH=str(ROOT), CLAW_CONFIG_HOME=str(self.tmp / "home"), HOME=str(self.tmp / "home"),
                   CLAW_BRIDGE_TOKEN=TOKEN, SERVE_TEST_DIR=str(self.dir))
        err = self.tmp / f"serve-{len(self.stderr_files)}.err"
        self.stderr_files.append(err)
        argv = [sys.executable, "-m", "claw", "remote-control", "serve", "--base-url", self.server.url,
                "--worker-command", f"{sys.executable} {WORKER}", "--max-sessions", str(max_sessions),
                "--poll-interval-ms", "50", "--heartbeat-interval-ms", "200", *extra]
        return subprocess.Popen(argv, cwd=str(self.project), env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=err.open("wb"))

    def work(self, mode: str = "exit 0", kind: str = "session", **secret: Any) -> Any:
        item = self.server.add_work(self.env_id, kind=kind, **secret)
        (self.dir / f"{item.session_id}.mode").write_text(mode)
        return item

    def log(self) -> List[Dict[str, Any]]:
        path = self.dir / "log.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def events(self, work_id: str, event: str) -> List[Dict[str, Any]]:
        return [e for e in self.log() if e["work"] == work_id and e["event"] == event]

    def requests(self, work_id: str) -> List[str]:
        return [r.path.rsplit("/", 1)[1] for r in list(self.server.requests) if f"/work/{work_id}/" in r.path]

    def state(self) -> Dict[str, Any]:
        return json.loads(self.state_file.read_text())

    def item(self, work_id: str) -> Dict[str, Any]:
        return next(i for i in self.state()["items"] if i["work_id"] == work_id)

    def stderr(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.stderr_files)

    def stop(self, proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def h(tmp_path: Path):
    with EnvironmentsServer(TOKEN, lease_ttl=1.0) as server:
        harness = Harness(tmp_path, server)
        procs: List[subprocess.Popen] = []
        real = harness.serve

        def serve(*a: Any, **kw: Any) -> subprocess.Popen:
            procs.append(real(*a, **kw))
            return procs[-1]

        harness.serve = serve  # type: ignore[assignment]
        yield harness
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def stopped(h: Harness, *items: Any) -> bool:
    return all(h.server.work[i.id].state == "stopped" for i in items)


def test_poll_ack_heartbeat_stop_with_the_secret_only_in_the_workers_environment(h: Harness) -> None:
    check = h.work("healthcheck", kind="healthcheck")
    item = h.work("sleep 1.2")
    proc = h.serve()
    assert wait_until(lambda: h.events(item.id, "start"), 15), h.stderr()
    start = h.events(item.id, "start")[0]
    cmdline = Path(f"/proc/{start['pid']}/cmdline").read_bytes()
    assert item.secret.encode() not in cmdline and item.session_token.encode() not in cmdline
    assert wait_until(lambda: stopped(h, item), 15), h.stderr()
    assert start["argv"] == ["--session-id", item.session_id, "--work-id", item.id, "--environment-id", h.env_id]
    assert start["env"]["CLAW_WORK_SECRET"] == item.secret
    assert "CLAW_BRIDGE_TOKEN" not in start["env"]  # serve's credential stays with serve
    assert (start["env"]["CLAW_REMOTE_SESSION_ID"], start["env"]["CLAW_REMOTE_WORK_ID"],
            start["env"]["CLAW_REMOTE_ENVIRONMENT_ID"]) == (item.session_id, item.id, h.env_id)
    assert start["cwd"] == str(h.project)
    calls = h.requests(item.id)
    assert calls[0] == "ack" and calls[-1] == "stop" and "heartbeat" in calls, calls
    assert h.server.work[item.id].stop_force is False
    assert wait_until(lambda: stopped(h, check), 5)
    assert h.requests(check.id) == ["ack", "stop"] and h.events(check.id, "start") == []
    # the environment was reconnected, polls carry its (new) secret
    assert h.server.environments[h.env_id].reconnects == 1
    polls = [r for r in h.server.requests if r.path.endswith("/work/poll")]
    assert polls and polls[-1].bearer == h.server.environments[h.env_id].secret
    assert wait_until(lambda: not h.item(item.id).get("stop_pending"), 5)
    row = h.item(item.id)
    assert row["state"] == "done" and row["exit_code"] == 0 and row["last_tool"] == "bash"
    assert row["last_result"] == f"success: worked on {item.session_id}"
    assert "a line on stderr" in row["lines"]
    assert h.stop(proc) == 0
    text = h.state_file.read_text() + h.stderr() + proc.stdout.read().decode()
    for secret in (item.secret, item.session_token, check.secret, TOKEN, h.server.environments[h.env_id].secret):
        assert secret not in text
    assert stat.S_IMODE(h.state_file.stat().st_mode) == 0o600
    assert h.state()["running"] is False


def test_twenty_items_through_one_serve_each_run_exactly_once(h: Harness) -> None:
    items = [h.work("sleep 0.2") for _ in range(20)]
    proc = h.serve(max_sessions=4)
    assert wait_until(lambda: stopped(h, *items), 40), h.stderr()
    assert h.stop(proc) == 0
    log = h.log()
    for item in items:
        assert len([e for e in log if e["work"] == item.id and e["event"] == "start"]) == 1
        assert h.requests(item.id).count("stop") == 1
    spans = {}
    for e in log:
        spans.setdefault(e["work"], []).append(e["t"])
    edges = sorted([(min(t), 1) for t in spans.values()] + [(max(t), -1) for t in spans.values()])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert 1 < peak <= 4


def test_worker_killed_mid_session_is_reclaimed_and_run_again_once(h: Harness) -> None:
    item = h.work("sleep 30")
    proc = h.serve()
    assert wait_until(lambda: h.events(item.id, "start"), 15), h.stderr()
    (h.dir / f"{item.session_id}.mode").write_text("exit 0")
    os.kill(h.events(item.id, "start")[0]["pid"], signal.SIGKILL)
    assert wait_until(lambda: stopped(h, item), 20), h.stderr()
    assert len(h.events(item.id, "start")) == 2
    assert h.server.reclaims >= 1 and h.server.work[item.id].stop_force is False
    assert h.requests(item.id).count("stop") == 1
    assert h.stop(proc) == 0


def test_duplicate_poll_of_a_running_item_renews_its_lease_without_a_second_worker(h: Harness) -> None:
    h.server.lease_ttl = 30.0
    item = h.work("sleep 1.5")
    proc = h.serve()
    assert wait_until(lambda: h.events(item.id, "start"), 15), h.stderr()
    h.server.expire_lease(item.id)  # the next poll re-queues and hands it out again
    assert wait_until(lambda: h.server.work[item.id].deliveries == 2, 10)
    assert wait_until(lambda: stopped(h, item), 15), h.stderr()
    assert len(h.events(item.id, "start")) == 1 and h.requests(item.id).count("ack") == 2
    assert h.events(item.id, "end")[0]["how"] == "exit 0"
    assert h.stop(proc) == 0


def _jwt(exp: float) -> str:
    part = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJub25lIn0.{part}.sig"


def test_session_token_nearing_expiry_requeues_before_it_expires(h: Harness) -> None:
    exp = time.time() + 3
    item = h.work("sleep 30", session_ingress_token=_jwt(exp))
    proc = h.serve()
    assert wait_until(lambda: h.events(item.id, "end"), 15), h.stderr()
    end = h.events(item.id, "end")[0]
    assert end["how"] == "term" and end["t"] < exp
    # given back: no stop_work, its lease lapsed and the server handed it out again
    assert wait_until(lambda: h.server.reclaims >= 1 and h.server.work[item.id].deliveries >= 2, 10)
    assert "stop" not in h.requests(item.id)
    assert wait_until(lambda: h.item(item.id).get("runs", 1) >= 2, 5), h.state()
    assert h.stop(proc) == 0


def test_session_timeout_stops_the_worker_and_fails_the_item(h: Harness) -> None:
    item = h.work("sleep 30")
    proc = h.serve("--session-timeout-ms", "600")
    assert wait_until(lambda: stopped(h, item), 15), h.stderr()
    assert h.events(item.id, "end")[0]["how"] == "term" and h.server.work[item.id].stop_force is True
    assert wait_until(lambda: h.item(item.id)["state"] == "failed", 5)
    assert h.item(item.id)["reason"] == "timeout"
    assert h.stop(proc) == 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_an_idle_serve_sleeps(h: Harness) -> None:
    item = h.work("sleep 30")
    proc = h.serve("--poll-interval-ms", "1000", "--heartbeat-interval-ms", "1000")
    assert wait_until(lambda: h.events(item.id, "start"), 15), h.stderr()
    time.sleep(0.5)
    before, start = _cpu_seconds(proc.pid), time.monotonic()
    time.sleep(2)
    used = _cpu_seconds(proc.pid) - before
    assert used < 0.25 * (time.monotonic() - start), used  # it waits for the next due time, it does not spin
    assert h.stop(proc) == 0


def test_sigterm_stops_every_worker_and_each_work_item(h: Harness) -> None:
    items = [h.work("sleep 30"), h.work("sleep 30")]
    proc = h.serve()
    assert wait_until(lambda: all(h.events(i.id, "start") for i in items), 15), h.stderr()
    assert wait_until(lambda: all(h.item(i.id).get("permissions") for i in items), 5), h.state()
    assert all(p["tool_name"] == "bash" for i in items for p in h.item(i.id)["permissions"])
    shown = subprocess.run([sys.executable, "-m", "claw", "remote-control", "status"], cwd=str(h.project),
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, PYTHONPATH=str(ROOT), CLAW_CONFIG_HOME=str(h.tmp / "home")))
    assert "serve: running" in shown.stdout and shown.stdout.count("permission pending: bash (request ") == 2, shown
    assert h.stop(proc) == 0
    for item in items:
        assert h.events(item.id, "end")[0]["how"] == "term"
        assert h.server.work[item.id].state == "stopped" and h.server.work[item.id].stop_force is True
        assert h.item(item.id)["state"] == "stopped" and not h.item(item.id).get("stop_pending")
    assert "Traceback" not in h.stderr()


def test_stop_work_failing_twice_is_retried_until_it_succeeds(h: Harness) -> None:
    item = h.work("exit 0")
    h.server.fail_next("POST", r"/stop$", 409, count=2)
    proc = h.serve()
    assert wait_until(lambda: stopped(h, item), 20), h.stderr()
    assert h.requests(item.id).count("stop") == 3
    assert wait_until(lambda: not h.item(item.id).get("stop_pending"), 5)
    assert h.stop(proc) == 0


def test_restart_after_sigkill_loses_and_duplicates_no_work(h: Harness) -> None:
    items = [h.work("sleep 1") for _ in range(5)]
    first = h.serve(max_sessions=2)
    assert wait_until(lambda: sum(bool(h.events(i.id, "start")) for i in items) >= 2, 15), h.stderr()
    first.kill()
    first.wait()
    pids = [e["pid"] for e in h.log() if e["event"] == "start"]
    assert wait_until(lambda: not any(alive(p) for p in pids), 10)  # workers die with serve
    restarted = time.time()
    second = h.serve(max_sessions=2)
    assert wait_until(lambda: stopped(h, *items), 40), h.stderr()
    assert h.stop(second) == 0
    for item in items:
        ends = [e["how"] for e in h.events(item.id, "end")]
        assert ends.count("exit 0") == 1, (item.id, ends)
        assert h.requests(item.id).count("stop") == 1
    assert any(h.item(i.id).get("runs") == 2 for i in items)  # restored as requeued, offered again, run again
    # never two workers of one item at once: the first serve's are all dead before the second starts
    for events in ([e for e in h.log() if e["t"] < restarted], [e for e in h.log() if e["t"] >= restarted]):
        open_runs: Dict[str, int] = {}
        for e in sorted(events, key=lambda e: e["t"]):
            open_runs[e["work"]] = open_runs.get(e["work"], 0) + (1 if e["event"] == "start" else -1)
            assert open_runs[e["work"]] <= 1


@pytest.mark.skipif(not os.path.exists("/usr/bin/git") and not os.path.exists("/bin/git"), reason="needs git")
def test_worktree_mode_runs_each_session_in_a_disposable_worktree(h: Harness) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q"], cwd=h.project, check=True)
    (h.project / "file.txt").write_text("hello\n")
    (h.project / ".gitignore").write_text(".claw/\n")
    subprocess.run(["git", "add", "."], cwd=h.project, check=True)
    subprocess.run(git + ["commit", "-qm", "x"], cwd=h.project, check=True)
    item = h.work("sleep 0.5")
    proc = h.serve("--spawn-mode", "worktree")
    assert wait_until(lambda: h.events(item.id, "start"), 15), h.stderr()
    cwd = Path(h.events(item.id, "start")[0]["cwd"])
    assert cwd != h.project and (cwd / "file.txt").read_text() == "hello\n"
    assert wait_until(lambda: stopped(h, item), 15), h.stderr()
    assert wait_until(lambda: not cwd.exists(), 5)
    listed = subprocess.run(["git", "worktree", "list"], cwd=h.project, capture_output=True, text=True).stdout
    assert len(listed.splitlines()) == 1
    assert h.stop(proc) == 0


def test_a_recorded_worker_pid_is_trusted_only_with_its_start_time() -> None:
    from claw.remote.serve import is_ours, proc_start

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = proc_start(child.pid)
        assert start and is_ours(child.pid, start)
        assert not is_ours(child.pid, str(int(start) + 1)) and not is_ours(child.pid, None)
    finally:
        child.kill()
        child.wait()
    assert not is_ours(child.pid, start)


def test_archive_and_deregister_on_exit(h: Harness) -> None:
    item = h.work("exit 0")
    proc = h.serve("--archive-on-exit", "--deregister-on-exit")
    assert wait_until(lambda: stopped(h, item), 15), h.stderr()
    assert h.stop(proc) == 0
    assert h.server.archived == [item.session_id] and h.server.environments[h.env_id].deregistered


def test_a_refused_credential_stops_serve_with_exit_1(h: Harness) -> None:
    h.server.fail_next("GET", r"/work/poll$", 401)
    proc = h.serve()
    assert proc.wait(timeout=20) == 1
    assert "provider_auth" in h.stderr() and "Traceback" not in h.stderr()
    assert h.state()["running"] is False


def test_a_credential_revoked_mid_run_stops_workers_without_waiting_on_stop_work(h: Harness) -> None:
    item = h.work("sleep 30")
    proc = h.serve()
    assert wait_until(lambda: h.events(item.id, "start"), 15), h.stderr()
    h.server.fail_next("POST", r"/(heartbeat|stop)$", 403, count=1000)
    began = time.monotonic()
    assert proc.wait(timeout=20) == 1
    assert time.monotonic() - began < 5
    assert h.events(item.id, "end")[0]["how"] == "term"
    assert h.item(item.id)["stop_pending"] is True  # owed to the next start


def test_no_credential_is_a_clear_error(h: Harness, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in SCRUB and not k.startswith("CLAW_")}
    env.update(PYTHONPATH=str(ROOT), CLAW_CONFIG_HOME=str(tmp_path / "none"), HOME=str(tmp_path / "none"))
    done = subprocess.run([sys.executable, "-m", "claw", "remote-control", "serve"], cwd=str(h.project), env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "no bridge credential" in done.stderr and "Traceback" not in done.stderr
    assert not h.state_file.exists()
