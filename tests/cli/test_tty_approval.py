"""Approving tool calls at the terminal (claw.cli.tty_prompt), headless and unit-level.

The issue-4 case: ``claw -p`` in workspace-write meets a bash call (bash needs danger-full-access, so
the policy asks). With no terminal to ask (stdin piped, no controlling terminal) it is denied and the
model is told why; under a pseudo-terminal the question appears on ``/dev/tty`` and ``y`` runs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import subprocess
import sys

import pytest

from claw.cli import tty_prompt
from claw.runtime.tool_calls import PermissionRequest
from tests.cli.headless_helpers import ROOT, isolated_env
from tests.cli.pty_harness import PtyProcess
from tests.fakes.model_server import ModelServer, reply, tool_use

APPROVE = "Approve this tool call? [y/N]"


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "ws").mkdir()
    return tmp_path


def _script():
    return [reply(tool_uses=[tool_use("bash", {"command": "echo ran > marker.txt"}, id="toolu_b")]),
            reply(text="understood")]


def _env(server, tmp_path):
    return isolated_env(server.env(), tmp_path / "home", PYTHONPATH=str(ROOT), TERM="xterm-256color",
                        LANG="C.UTF-8")


def _argv(*extra):
    return [sys.executable, "-m", "claw", "-p", "run the command", "--permission-mode", "workspace-write", *extra]


def _result_sent_back(server):
    body = server.requests[1].json
    return [b for b in body["messages"][-1]["content"] if b["type"] == "tool_result"][0]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_headless_without_a_terminal_denies_bash_in_workspace_write(workspace, fmt):
    ws = workspace / "ws"
    with ModelServer(_script()) as server:
        # a new session has no controlling terminal: /dev/tty cannot be opened
        proc = subprocess.run(_argv("--output-format", fmt), cwd=ws, env=_env(server, workspace),
                              input="", capture_output=True, text=True, timeout=60, start_new_session=True)
        result = _result_sent_back(server)
    assert proc.returncode == 0, proc.stderr
    assert not (ws / "marker.txt").exists()
    assert result["is_error"] and "Permission denied" in result["content"]
    assert "no way to ask" in result["content"]
    assert APPROVE not in proc.stdout + proc.stderr
    if fmt == "json":
        denial, = json.loads(proc.stdout)["permission_denials"]
        assert denial == {"tool_name": "bash", "tool_use_id": "toolu_b",
                          "tool_input": {"command": "echo ran > marker.txt"}}
    else:
        assert proc.stdout == "understood\n"


@pytest.mark.parametrize("answer", ["y", "n"])
def test_headless_on_a_terminal_asks_and_follows_the_answer(workspace, answer):
    ws = workspace / "ws"
    with ModelServer(_script()) as server:
        with PtyProcess.spawn(_argv(), env=_env(server, workspace), cwd=str(ws)) as proc:
            shown = proc.expect(APPROVE)
            assert "claw wants to run bash" in shown and "danger-full-access" in shown
            proc.sendline(answer)
            proc.expect("understood")
            assert proc.wait() == 0
        result = _result_sent_back(server)
    if answer == "y":
        assert (ws / "marker.txt").read_text() == "ran\n"
        assert not result.get("is_error")
    else:
        assert not (ws / "marker.txt").exists()
        assert result["is_error"] and "denied at the terminal" in result["content"]


def test_the_question_goes_to_the_terminal_when_stdin_and_stdout_are_pipes(workspace):
    """``echo ... | claw -p > out``: still asked on /dev/tty; stdout holds only the answer."""
    ws = workspace / "ws"
    out_path = workspace / "out.txt"
    with ModelServer(_script()) as server, open(out_path, "wb") as out:
        argv = [sys.executable, "-m", "claw", "-p", "--permission-mode", "workspace-write"]
        with PtyProcess.spawn(argv, env=_env(server, workspace), cwd=str(ws), stdin=subprocess.PIPE,
                              stdout=out.fileno()) as proc:
            proc.proc.stdin.write(b"run the command from stdin\n")
            proc.proc.stdin.close()
            proc.expect(APPROVE)
            proc.sendline("yes")
            assert proc.wait() == 0
        assert server.requests[0].json["messages"][0]["content"][0]["text"].startswith("run the command from stdin")
    assert (ws / "marker.txt").read_text() == "ran\n"
    assert out_path.read_text() == "understood\n"


# -- unit level ------------------------------------------------------------------------------------------


def test_question_text_shows_tool_input_and_reason_and_clips_long_input():
    req = PermissionRequest("bash", "toolu_1", {"command": "x" * 1000}, "bash needs danger-full-access")
    text = tty_prompt.question_text(req)
    assert "claw wants to run bash" in text and "why it asks: bash needs danger-full-access" in text
    assert text.endswith(APPROVE + " ")
    assert len(text) < 600 and "…" in text


@pytest.mark.parametrize("answer,allowed", [("y", True), ("Yes", True), (" y ", True), ("", False),
                                            ("n", False), ("yess", False), (None, False)])
def test_only_y_or_yes_approves(answer, allowed):
    assert tty_prompt.is_yes(answer) is allowed


def test_no_terminal_is_a_denial(monkeypatch):
    monkeypatch.setattr(tty_prompt, "TTY_PATH", "/nonexistent/tty")
    answer = asyncio.run(tty_prompt.ask_on_tty(PermissionRequest("bash", "t", {}, "why")))
    assert not answer.allow and "no terminal" in answer.message
    assert tty_prompt.tty_available() is False


def _pty_pair():
    import pty

    master, slave = pty.openpty()
    return master, os.ttyname(slave), slave


def test_ask_reads_a_line_from_the_terminal_and_end_of_input_denies(monkeypatch):
    master, name, slave = _pty_pair()
    monkeypatch.setattr(tty_prompt, "TTY_PATH", name)
    try:
        shown = []

        async def ask_and_answer(keys: bytes):
            task = asyncio.ensure_future(tty_prompt.ask_on_tty(PermissionRequest("bash", "t", {"command": "ls"}, "why")))
            # answer once the question is on the screen: keys typed before it are dropped as typeahead
            seen = ""
            while APPROVE not in seen:
                await asyncio.sleep(0.01)
                if select.select([master], [], [], 0)[0]:
                    seen += os.read(master, 65536).decode()
            shown.append(seen)
            os.write(master, keys)
            return await asyncio.wait_for(task, 10)

        assert asyncio.run(ask_and_answer(b"y\r")).allow
        assert not asyncio.run(ask_and_answer(b"no\r")).allow
        assert not asyncio.run(ask_and_answer(b"\x04")).allow  # Ctrl-D on an empty line: end of input
        assert [text.count(APPROVE) for text in shown] == [1, 1, 1]
    finally:
        os.close(master)
        os.close(slave)


def test_keys_typed_before_the_question_do_not_answer_it(monkeypatch):
    master, name, slave = _pty_pair()
    monkeypatch.setattr(tty_prompt, "TTY_PATH", name)
    try:
        os.write(master, b"y\r")  # typed ahead, while the model was still talking
        assert select.select([slave], [], [], 10)[0]  # the line is in the terminal's input queue

        async def ask_then_answer():
            task = asyncio.ensure_future(tty_prompt.ask_on_tty(PermissionRequest("bash", "t", {}, "why")))
            await asyncio.sleep(0)
            os.write(master, b"n\r")
            return await asyncio.wait_for(task, 10)

        assert not asyncio.run(ask_then_answer()).allow
    finally:
        os.close(master)
        os.close(slave)


def test_a_cancelled_question_leaves_no_reader_behind(monkeypatch):
    """Ctrl-C at the question cancels the turn; the line typed next must not be eaten by the
    abandoned question (it belongs to whoever reads next)."""
    master, name, slave = _pty_pair()
    monkeypatch.setattr(tty_prompt, "TTY_PATH", name)
    try:
        async def cancel_then_type():
            task = asyncio.ensure_future(tty_prompt.ask_on_tty(PermissionRequest("bash", "t", {}, "why")))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(cancel_then_type())
        os.write(master, b"next line\r")
        with open(name, "rb", buffering=0) as tty:
            assert tty.readline() == b"next line\n"
    finally:
        os.close(master)
        os.close(slave)


def _ask_over_socket(tool: str, tool_input: dict, typed: list):
    """tty_prompt's question for ``tool`` on one end of a socket pair; the other end types each line of
    ``typed`` after a prompt (``> ``) appears, as a person would. Returns the answer and what was shown."""
    import socket
    import threading

    ours, theirs = socket.socketpair()
    shown = []

    def person() -> None:
        lines, seen = list(typed), ""
        while lines:
            chunk = theirs.recv(65536).decode()
            if not chunk:
                return
            seen += chunk
            if seen.endswith("> "):
                seen = ""
                theirs.sendall((lines.pop(0) + "\n").encode())
            shown.append(chunk)

    typist = threading.Thread(target=person, daemon=True)
    typist.start()
    special = {"exit_plan_mode": tty_prompt._plan, "ask_user_question": tty_prompt._questions}[tool]
    try:
        answer = asyncio.run(asyncio.wait_for(
            special(ours.fileno(), PermissionRequest(tool, "t1", tool_input, "asks")), 10))
    finally:
        ours.close()
        typist.join(5)
        theirs.close()
    return answer, "".join(shown)


def test_questions_are_numbered_with_an_other_answer_and_multi_select():
    questions = [{"question": "Lang?", "header": "Lang", "options": [{"label": "py", "description": "Python"},
                                                                       {"label": "go", "description": "Go"}]},
                 {"question": "Extras?", "header": "Extras", "multiSelect": True,
                  "options": [{"label": "tests", "description": "t"}, {"label": "docs", "description": "d"}]},
                 {"question": "Name?", "header": "Name", "options": [{"label": "a", "description": "A"},
                                                                       {"label": "b", "description": "B"}]}]
    answer, shown = _ask_over_socket("ask_user_question", {"questions": questions}, ["2", "1,2", "3", "zed"])
    assert "[Lang] Lang?" in shown and "  1. py - Python" in shown and "  3. Other: type your own answer" in shown
    assert answer.allow and answer.updated_input["answers"] == {"Lang?": "go", "Extras?": "tests, docs",
                                                                "Name?": "zed"}


@pytest.mark.parametrize("typed, allow, mode, said", [("1", True, "acceptEdits", None), ("2", True, "default", None),
                                                      ("3", False, None, ""), ("split step 2", False, None,
                                                                               ": split step 2")])
def test_the_plan_is_shown_with_claude_codes_three_choices(typed, allow, mode, said, monkeypatch):
    from tests.cli.pty_harness import strip_ansi

    monkeypatch.delenv("NO_COLOR", raising=False)
    answer, shown = _ask_over_socket("exit_plan_mode", {"plan": "# Steps\n1. one"}, [typed])
    assert "\x1b[1mSteps" in shown  # the plan's Markdown is rendered (the heading bold)
    assert "# Steps\n1. one" in strip_ansi(shown) and "3. No, keep planning" in shown
    assert answer.allow is allow and answer.mode == mode
    if said is not None:
        assert answer.message.endswith(f"plan mode stays on{said}")
