"""Issue 17's whole session in one REPL on a pty: the model starts a background HTTP server and reads
its output, a ``cd`` carries to the next bash call, it reads a PNG, edits a notebook cell and a file;
the user rewinds to the earlier prompt, ``/bashes`` lists the server, and the server dies with claw.

Assertions are on real effects: the files on disk, the requests the fake model server got, the
server's port and process."""

from __future__ import annotations

import base64
import json
import re
import socket

from tests.cli.test_repl_pty import APPROVE, PROMPT, finish, rig, tool_results, user_texts  # noqa: F401 (rig: fixture)
from tests.fakes.model_server import reply, tool_use
from tests.processes import alive, wait_gone, wait_until

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2
NOTEBOOK = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    {"cell_type": "code", "id": "c1", "metadata": {}, "source": "x = 1", "outputs": [], "execution_count": 1}]},
    indent=1) + "\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def results_by_id(request):
    return {b["tool_use_id"]: b for m in request["messages"] for b in tool_results(m)}


def text_of(result) -> str:
    content = result["content"]
    return content if isinstance(content, str) else "\n".join(b.get("text", "") for b in content)


def test_server_cd_image_notebook_and_rewind_in_one_repl_session(rig):  # noqa: F811
    port = free_port()
    ws = rig.workspace
    (ws / "sub").mkdir()
    (ws / "shot.png").write_bytes(PNG)
    (ws / "n.ipynb").write_text(NOTEBOOK)
    (ws / "f.txt").write_text("alpha\nbeta\n")
    wait_up = (f"pwd; python3 -c \"import time, urllib.request as u\nfor _ in range(200):\n try:\n"
               f"  u.urlopen('http://127.0.0.1:{port}/hello', timeout=1)\n except Exception:\n  time.sleep(0.05)\n"
               f"  continue\n break\"")
    rig.serve(
        reply(tool_uses=[tool_use("bash", {"command": f"python3 -u -m http.server {port} --bind 127.0.0.1",
                                           "run_in_background": True}, id="bg"),
                         tool_use("bash", {"command": "cd sub"}, id="cd")]),
        reply(tool_uses=[tool_use("bash", {"command": wait_up}, id="pwd")]),
        reply(tool_uses=[tool_use("bash_output", {"bash_id": "bash_1"}, id="out")]),
        reply(text="server is up"),
        reply(tool_uses=[tool_use("read_file", {"path": "shot.png"}, id="img"),
                         tool_use("notebook_edit", {"notebook_path": "n.ipynb", "cell_id": "c1",
                                                    "new_source": "x = 2"}, id="nb"),
                         tool_use("edit_file", {"path": "f.txt", "old_string": "beta", "new_string": "gamma"},
                                  id="ed")]),
        reply(text="edits made"),
        reply(text="back again"),
    )
    proc = rig.start("--permission-mode", "acceptEdits")
    proc.sendline("start the server")
    for command in ("http.server", "cd sub", "urllib.request"):  # bash asks in this mode: the user says yes
        assert command in proc.expect(APPROVE)
        proc.sendline("y")
    proc.expect("server is up")
    proc.expect(PROMPT)
    proc.sendline("edit things")
    proc.expect("edits made")
    proc.expect(PROMPT)
    assert json.loads((ws / "n.ipynb").read_text())["cells"][0]["source"] == ["x = 2"]
    assert (ws / "f.txt").read_text() == "alpha\ngamma\n"

    proc.sendline("/rewind")
    proc.expect(re.compile(r"1  start the server\s+\[2 files changed since\]"))
    proc.expect(re.compile(r"2  edit things\s+\[2 files changed since\]"))
    proc.expect(PROMPT)
    proc.sendline("/rewind 2")
    proc.expect("restored 2 files")
    proc.expect("it goes on from before prompt 2")
    proc.expect(PROMPT)
    assert (ws / "n.ipynb").read_text() == NOTEBOOK  # byte for byte
    assert (ws / "f.txt").read_text() == "alpha\nbeta\n"

    proc.sendline("/bashes")
    shown = re.compile(r"bash_1\s+running\s+\d+s\s+pid (\d+)\s+python3 -u -m http\.server " + str(port))
    pid = int(shown.search(proc.expect(shown)).group(1))
    proc.expect(PROMPT)
    assert alive(pid) and answers(port)  # a rewind leaves the server running
    proc.sendline("/status")
    proc.expect("background shells: 1 running, 0 ended (/bashes)")
    proc.expect(PROMPT)

    proc.sendline("and now?")
    proc.expect("back again")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    assert wait_gone(pid, 10) and wait_until(lambda: not answers(port), 10)  # the server died with claw

    requests = rig.requests()
    assert len(requests) == 7
    results = results_by_id(requests[2])
    assert text_of(results["pwd"]).splitlines()[0] == str((ws / "sub").resolve())  # the cd carried
    output = text_of(results_by_id(requests[3])["out"])
    assert "<status>running</status>" in output
    assert f"Serving HTTP on 127.0.0.1 port {port}" in output and '"GET /hello HTTP/1.1" 404' in output
    edited = results_by_id(requests[5])
    image = [b for b in edited["img"]["content"] if b.get("type") == "image"]
    assert image == [{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                   "data": base64.b64encode(PNG).decode()}}]
    assert not edited["nb"].get("is_error") and not edited["ed"].get("is_error")
    assert [user_texts(m) for m in requests[6]["messages"] if m["role"] == "user"][-1] == "and now?"
    assert "edit things" not in json.dumps(requests[6]["messages"])  # the conversation went back too
