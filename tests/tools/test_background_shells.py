"""Background shells end to end: bash run_in_background returns a shell id, bash_output reads new
output incrementally (with a regex filter, status and exit code), kill_shell stops the whole process
group. Real bash, a real server process, scripted model calls against the fake server."""

from __future__ import annotations

import os
import time

import pytest

from tests.cli.headless_helpers import isolated_env, run_inprocess
from tests.fakes.model_server import ModelServer, reply, tool_use
from tests.tools.helpers import call, free_port, make_ctx

SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print("request " + self.path, flush=True)
        print("noise " + self.path, flush=True)
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print("serving", flush=True)
srv.serve_forever()
"""

CLIENT = """
import sys, time, urllib.request
for _ in range(200):
    try:
        print(urllib.request.urlopen("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), timeout=2).read().decode())
        break
    except OSError as exc:
        if sys.argv[3:] == ["once"]:
            print("refused"); break
        time.sleep(0.05)
"""


def test_a_background_server_is_read_incrementally_filtered_and_killed(tmp_path, home, monkeypatch):
    work = tmp_path / "ws"
    work.mkdir()
    (work / "srv.py").write_text(SERVER)
    (work / "client.py").write_text(CLIENT)
    port = free_port()
    script = [
        # the server is a child of the shell: kill_shell must stop the whole group
        reply(tool_uses=[tool_use("bash", {"command": f"python3 -u srv.py {port} & wait",
                                           "run_in_background": True}, id="start")]),
        reply(tool_uses=[tool_use("bash", {"command": f"python3 client.py {port} /a"}, id="get-a")]),
        reply(tool_uses=[tool_use("bash_output", {"bash_id": "bash_1", "filter": "^request"}, id="read1")]),
        reply(tool_uses=[tool_use("bash", {"command": f"python3 client.py {port} /b"}, id="get-b")]),
        reply(tool_uses=[tool_use("bash_output", {"bash_id": "bash_1"}, id="read2")]),
        reply(tool_uses=[tool_use("bash_output", {"bash_id": "bash_1", "filter": "(unclosed"}, id="bad")]),
        reply(tool_uses=[tool_use("kill_shell", {"shell_id": "bash_1"}, id="kill")]),
        reply(tool_uses=[tool_use("bash_output", {"task_id": "bash_1"}, id="read3"),
                         tool_use("bash", {"command": f"python3 client.py {port} /c once"}, id="get-c")]),
        reply(text="done"),
    ]
    with ModelServer(script) as srv:
        run = run_inprocess(["-p", "go", "--output-format", "json"], isolated_env(srv.env(), home),
                            monkeypatch, work)
    assert run.code == 0, run.stderr
    out = {r["tool_use_id"]: r for r in run.json["tool_results"]}
    assert "shell bash_1" in out["start"]["output"]
    assert "ok" in out["get-a"]["output"]
    first = out["read1"]["output"]
    assert "<status>running</status>" in first and "request /a" in first
    assert "noise" not in first and "serving" not in first  # filtered out (and consumed)
    second = out["read2"]["output"]
    assert "request /b" in second and "noise /b" in second
    assert "/a" not in second and "serving" not in second  # only what is new since the last read
    assert out["bad"]["is_error"] and "not a valid regular expression" in out["bad"]["output"]
    assert not out["kill"]["is_error"] and "Killed shell bash_1" in out["kill"]["output"]
    assert "<status>killed</status>" in out["read3"]["output"]
    assert "refused" in out["get-c"]["output"]  # the server, a child in the group, is gone too


@pytest.fixture
def ctx(tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    context = make_ctx(work, output_dir=tmp_path / "out")
    yield context
    context.background.terminate_all()


def test_status_and_exit_code_of_an_ended_shell(ctx):
    call("bash", {"command": "echo done-here; exit 4", "run_in_background": True}, ctx)
    result = call("bash_output", {"bash_id": "bash_1", "block": True, "timeout": 10000}, ctx)
    assert "<status>failed</status>" in result.content and "<exit_code>4</exit_code>" in result.content
    assert "done-here" in result.content and "[claw: exit code" not in result.content
    call("bash", {"command": "true", "run_in_background": True}, ctx)
    result = call("bash_output", {"task_id": "bash_2", "block": True}, ctx)
    assert "<status>completed</status>" in result.content and "<exit_code>0</exit_code>" in result.content


def test_a_line_still_being_written_waits_for_its_end(ctx):
    call("bash", {"command": "printf 'whole\\npart'; sleep 30", "run_in_background": True}, ctx)
    deadline = time.monotonic() + 5
    result = call("bash_output", {"bash_id": "bash_1"}, ctx)
    while "whole" not in result.content and time.monotonic() < deadline:
        time.sleep(0.05)
        result = call("bash_output", {"bash_id": "bash_1"}, ctx)
    assert "whole" in result.content and "part" not in result.content
    call("kill_shell", {"task_id": "bash_1"}, ctx)
    assert "part" in call("bash_output", {"bash_id": "bash_1"}, ctx).content  # once ended, the rest


def test_unknown_ids_and_missing_ids_are_clear_errors(ctx):
    result = call("bash_output", {"bash_id": "bash_7"}, ctx)
    assert result.is_error and "No background shell 'bash_7'" in result.content
    result = call("kill_shell", {}, ctx)
    assert result.is_error and "shell_id" in result.content


def test_kill_shell_stops_the_whole_process_group(ctx, tmp_path):
    pidfile = tmp_path / "child.pid"
    call("bash", {"command": f"sleep 300 & echo $! > {pidfile}; wait", "run_in_background": True}, ctx)
    deadline = time.monotonic() + 5
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    child = int(pidfile.read_text())
    os.kill(child, 0)  # alive
    assert not call("kill_shell", {"shell_id": "bash_1"}, ctx).is_error
    from claw.process_groups import group_alive

    assert not group_alive(ctx.background.get("bash_1").proc.pid)
    assert ctx.background.get("bash_1").status == "killed"


def test_companions_are_offered_with_bash_only():
    from claw.tools.registry import build_tools

    assert {"bash_output", "kill_shell"} <= set(build_tools())
    assert not {"bash_output", "kill_shell"} & set(build_tools("Read,Grep"))
    assert not {"bash_output", "kill_shell"} & set(build_tools(None, "Bash"))
    assert "kill_shell" not in build_tools(None, "KillShell") and "bash_output" in build_tools(None, "KillShell")
