"""``/bashes`` and ``/rewind`` in a real REPL on a pty: a background shell is listed and stopped,
a ``cd`` carries between bash calls, and a rewind puts a file and the conversation back."""

from __future__ import annotations

import re

from tests.cli.test_repl_pty import PROMPT, finish, rig, user_texts  # noqa: F401  (rig: the fixture)
from tests.fakes.model_server import reply, tool_use
from tests.processes import alive, wait_gone


def test_bashes_and_rewind_in_the_repl(rig):  # noqa: F811
    (rig.workspace / "sub").mkdir()
    (rig.workspace / "f.txt").write_text("old\n")
    rig.serve(
        reply(text="hello there"),
        reply(tool_uses=[tool_use("bash", {"command": "sleep 300", "run_in_background": True}, id="bg"),
                         tool_use("bash", {"command": "cd sub"}, id="cd")]),
        reply(tool_uses=[tool_use("bash", {"command": "pwd"}, id="pwd"),
                         tool_use("write_file", {"path": "f.txt", "content": "new\n"}, id="w")]),
        reply(text="worked"),
        reply(text="fresh start"),
    )
    proc = rig.start()
    proc.sendline("first prompt")
    proc.expect("hello there")
    proc.expect(PROMPT)
    proc.sendline("second prompt")
    proc.expect("worked")
    proc.expect(PROMPT)
    assert (rig.workspace / "f.txt").read_text() == "new\n"

    proc.sendline("/bashes")
    shown = re.compile(r"bash_1\s+running\s+\d+s\s+pid (\d+)\s+sleep 300")
    pid = int(shown.search(proc.expect(shown)).group(1))
    assert alive(pid)
    proc.sendline("/bashes kill bash_1")
    proc.expect("bash_1: killed")
    assert wait_gone(pid, 5)

    proc.sendline("/rewind")
    proc.expect(re.compile(r"1  first prompt\s+\[1 file changed since\]"))
    proc.expect(re.compile(r"2  second prompt\s+\[1 file changed since\]"))
    proc.expect(PROMPT)
    proc.sendline("/rewind 2")
    proc.expect("restored 1 file")
    proc.expect("it goes on from before prompt 2")
    proc.expect(PROMPT)
    assert (rig.workspace / "f.txt").read_text() == "old\n"
    proc.sendline("third prompt")
    proc.expect("fresh start")
    proc.expect(PROMPT)
    assert finish(proc) == 0

    requests = rig.requests()
    results = {b["tool_use_id"]: b for m in requests[3]["messages"] for b in
               (m["content"] if isinstance(m["content"], list) else []) if b.get("type") == "tool_result"}
    assert results["pwd"]["content"].strip() == str((rig.workspace / "sub").resolve())  # the cd carried
    assert [user_texts(m) or m["content"] for m in requests[-1]["messages"]] == [
        "first prompt", "hello there", "third prompt"]
    assert [r["type"] for r in rig.session_records()].count("rewind") == 1
