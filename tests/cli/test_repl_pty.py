"""A real REPL on a pseudo-terminal: ``python -m claw`` against the fake model server, typed at like a person.

Each test starts claw in a new session whose controlling terminal is a pty (tests/cli/pty_harness.py),
with an isolated config home and workspace, and reads until the text it expects appears. Assertions are
about what the terminal shows, what the model server received, and what landed on disk.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from tests.cli.headless_helpers import ROOT, isolated_env
from tests.cli.pty_harness import ExpectTimeout, PtyProcess
from tests.fakes.model_server import ModelServer, reply, tool_use

SGR = re.compile(r"\x1b\[[0-9;]*m")
PROMPT = "› "
APPROVE = "Approve this tool call? [y/N]"


class Rig:
    """A workspace, a config home, a fake model server and the REPLs started on them."""

    def __init__(self, tmp_path: Path) -> None:
        self.home = tmp_path / "home"
        self.workspace = tmp_path / "ws"
        self.home.mkdir()
        self.workspace.mkdir()
        self.server: Optional[ModelServer] = None
        self.procs: List[PtyProcess] = []

    def serve(self, *specs: Dict[str, Any]) -> ModelServer:
        self.server = ModelServer(list(specs)).start()
        return self.server

    def env(self, **extra: str) -> Dict[str, str]:
        assert self.server is not None
        return isolated_env(self.server.env(), self.home, PYTHONPATH=str(ROOT), TERM="xterm-256color",
                            LANG="C.UTF-8", **extra)

    def start(self, *args: str, env: Optional[Dict[str, str]] = None, stdout: Optional[int] = None,
              ready: bool = True, bare: bool = False) -> PtyProcess:
        """``claw --cwd WORKSPACE ARGS`` (``bare``: just ``claw``) on a new terminal; with ``ready``, wait
        for the first prompt."""
        argv = [] if bare else ["--cwd", str(self.workspace), *args]
        proc = PtyProcess.spawn([sys.executable, "-m", "claw", *argv], env=env or self.env(),
                                cwd=str(self.workspace), stdout=stdout)
        self.procs.append(proc)
        if ready:
            proc.expect("Ctrl-D to exit")
            proc.expect(PROMPT)
        return proc

    def requests(self) -> List[Dict[str, Any]]:
        """The Messages API requests the server got (bodies)."""
        assert self.server is not None
        return [r.json for r in self.server.requests if r.path.endswith("/v1/messages")]

    def session_records(self) -> List[Dict[str, Any]]:
        files = list((self.workspace / ".claw" / "sessions").glob("*.jsonl"))
        assert len(files) == 1, files
        return [json.loads(line) for line in files[0].read_text().splitlines() if line.strip()]

    def close(self) -> None:
        for proc in self.procs:
            proc.close()
        if self.server is not None:
            self.server.stop()


@pytest.fixture
def rig(tmp_path):
    r = Rig(tmp_path)
    yield r
    r.close()


def user_texts(message: Dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content if b.get("type") == "text")


def tool_results(message: Dict[str, Any]) -> List[Dict[str, Any]]:
    content = message.get("content")
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] if isinstance(content, list) else []


def assert_tool_pairs(messages: List[Dict[str, Any]]) -> None:
    """Every tool_use is answered by a tool_result in the next message, and nothing else is."""
    for i, message in enumerate(messages):
        if message["role"] != "assistant" or not isinstance(message["content"], list):
            continue
        ids = {b["id"] for b in message["content"] if b.get("type") == "tool_use"}
        if ids:
            assert i + 1 < len(messages), "a tool_use ends the history"
            answered = {b["tool_use_id"] for b in tool_results(messages[i + 1])}
            assert answered == ids, (ids, answered)


def finish(proc: PtyProcess) -> int:
    proc.sendcontrol("d")
    return proc.wait()


# -- turns ---------------------------------------------------------------------------------------------


def test_a_streamed_answer_is_rendered_and_the_session_is_saved(rig):
    answer = "# Plan\n\nFirst, **read** the code.\n- one\n- two\n\n```python\nprint('hi')\n```\nDone.\n"
    rig.serve(reply(text=answer, text_chunk=3, delay=0.01))
    proc = rig.start()
    proc.sendline("make a plan")
    proc.expect("Done.")
    proc.expect(PROMPT)
    screen = proc.text
    # the Markdown is styled, never rewritten: without the escapes it is the model's text
    assert "# Plan\n\nFirst, **read** the code.\n- one\n- two\n\n```python\nprint('hi')\n```\nDone.\n" in screen
    assert "\x1b[1mPlan\x1b[0m" in proc.raw.decode()  # the heading is bold on a colour terminal
    assert finish(proc) == 0
    assert user_texts(rig.requests()[0]["messages"][0]) == "make a plan"
    messages = [r["message"] for r in rig.session_records() if r["type"] == "message"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["content"][0]["text"] == answer


def test_multi_line_input_with_a_block_and_with_backslashes(rig):
    rig.serve(reply(text="one"), reply(text="two"))
    proc = rig.start()
    proc.sendline('"""')
    proc.expect("… ")
    proc.sendline("first line")
    proc.sendline("  second line")
    proc.sendline('"""')
    proc.expect("one")
    proc.expect(PROMPT)
    proc.sendline("alpha \\")
    proc.expect("… ")
    proc.sendline("beta")
    proc.expect("two")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    first, second = rig.requests()
    assert user_texts(first["messages"][0]) == "first line\n  second line"
    assert user_texts(second["messages"][-1]) == "alpha \nbeta"


def _bracketed_paste() -> bool:
    try:
        import readline
    except ImportError:
        return False
    return "libedit" not in (readline.__doc__ or "") and getattr(readline, "_READLINE_VERSION", 0) >= 0x0801


@pytest.mark.skipif(not _bracketed_paste(), reason="needs GNU readline 8.1+ (bracketed paste)")
def test_pasted_lines_are_one_prompt(rig):
    rig.serve(reply(text="got it"))
    proc = rig.start()
    proc.send("\x1b[200~first line\nsecond line\x1b[201~")  # what a terminal sends for a paste
    proc.sendline("")
    proc.expect("got it")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    assert [user_texts(r["messages"][0]) for r in rig.requests()] == ["first line\nsecond line"]


# -- tool approval -------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["y", "n"])
def test_tool_approval_on_the_terminal(rig, answer):
    marker = rig.workspace / "marker.txt"
    rig.serve(reply(tool_uses=[tool_use("bash", {"command": "echo ran > marker.txt"}, id="toolu_1")]),
              reply(text="all done"))
    proc = rig.start("--permission-mode", "default")
    proc.sendline("please run it")
    shown = proc.expect(APPROVE)
    assert "claw wants to run bash" in shown and "echo ran > marker.txt" in shown
    proc.sendline(answer)
    proc.expect("all done")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    result = tool_results(rig.requests()[1]["messages"][-1])[0]
    assert result["tool_use_id"] == "toolu_1"
    if answer == "y":
        assert marker.read_text() == "ran\n"
        assert not result.get("is_error")
    else:
        assert not marker.exists()
        assert result["is_error"] and "denied" in result["content"]
    # the answer was read from the terminal, not taken as the next prompt
    assert len(rig.requests()) == 2


# -- slash commands ------------------------------------------------------------------------------------


def test_cost_counts_every_model_response(rig):
    from claw.api.client import resolve_model
    from claw.api.types import Usage

    usage = {"input_tokens": 1200, "output_tokens": 34, "cache_creation_input_tokens": 0,
             "cache_read_input_tokens": 5000}
    rig.serve(reply(tool_uses=[tool_use("read_file", {"path": "missing.txt"})], usage=usage),
              reply(text="no such file", usage=usage))
    proc = rig.start()
    proc.sendline("/cost")
    proc.expect("input 0 · output 0")
    proc.expect(PROMPT)
    proc.sendline("read missing.txt")
    proc.expect("no such file")
    proc.expect(PROMPT)
    proc.sendline("/cost")
    line = proc.expect(re.compile(r"cost: (\$[0-9.]+|unknown.*)"))
    assert "input 2,400 · output 68 · cache write 0 · cache read 10,000 tokens (2 model responses)" in line
    price = resolve_model(None, {}).info.cost_usd(Usage(input_tokens=2400, output_tokens=68,
                                                        cache_read_input_tokens=10000))
    shown = re.search(r"cost: (\S+)", line).group(1)
    assert shown == (f"${price:.4f}" if price is not None else "unknown")
    proc.expect(PROMPT)
    assert finish(proc) == 0


def test_compact_records_a_summary_that_the_next_request_carries(rig):
    rig.serve(reply(text="answer one"), reply(text="answer two"),
              reply(text="SUMMARY: the user asked two things"), reply(text="answer three"))
    proc = rig.start()
    for prompt, answer in (("question one", "answer one"), ("question two", "answer two")):
        proc.sendline(prompt)
        proc.expect(answer)
        proc.expect(PROMPT)
    proc.sendline("/compact")
    proc.expect("compacted")
    proc.expect(PROMPT)
    proc.sendline("question three")
    proc.expect("answer three")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    summarise, after = rig.requests()[2:]
    assert "compacting" in summarise["system"].lower() and "question one" in user_texts(summarise["messages"][0])
    first = user_texts(after["messages"][0])
    assert "SUMMARY: the user asked two things" in first and "question one" not in json.dumps(after["messages"])
    assert user_texts(after["messages"][-1]) == "question three"
    records = rig.session_records()
    compactions = [r for r in records if r["type"] == "compaction"]
    assert len(compactions) == 1 and "SUMMARY: the user asked two things" in json.dumps(compactions[0]["summary"])
    assert compactions[0]["trigger"] == "manual"


def test_compact_with_too_little_history_says_so(rig):
    rig.serve(reply(text="hello"))
    proc = rig.start()
    proc.sendline("/compact")
    proc.expect("nothing to compact yet")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    assert rig.requests() == []


def test_unknown_commands_suggest_the_nearest(rig):
    rig.serve()
    proc = rig.start()
    proc.sendline("/compcat")
    proc.expect("unknown command /compcat — did you mean /compact?")
    proc.expect(PROMPT)
    proc.sendline("/stat")
    proc.expect("did you mean /status?")
    proc.expect(PROMPT)
    proc.sendline("/help")
    proc.expect("/permissions")
    proc.expect(PROMPT)
    proc.sendline("/status")
    proc.expect("permission mode:  danger-full-access")
    proc.expect(PROMPT)
    proc.sendline("/sessions")
    proc.expect("no sessions yet")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    assert rig.requests() == []


def test_permissions_and_model_switch_apply_to_the_next_turn(rig):
    rig.serve(reply(tool_uses=[tool_use("bash", {"command": "echo hi"})]), reply(text="ok"))
    proc = rig.start()
    proc.sendline("/permissions read-only")
    proc.expect("permission mode: read-only")
    proc.expect(PROMPT)
    proc.sendline("/model haiku")
    proc.expect("model: ")
    proc.expect(PROMPT)
    proc.sendline("run echo")
    proc.expect("ok")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    first, second = rig.requests()
    assert "haiku" in first["model"]
    result = tool_results(second["messages"][-1])[0]
    assert result["is_error"] and "Permission denied" in result["content"]
    assert APPROVE not in proc.text


# -- Ctrl-C ----------------------------------------------------------------------------------------------


def test_ctrl_c_mid_stream_cancels_the_turn_and_the_repl_goes_on(rig):
    long_text = "".join(f"word{i} " for i in range(400))
    rig.serve(reply(text=long_text, text_chunk=4, delay=0.05), reply(text="second answer"))
    proc = rig.start()
    proc.sendline("talk a lot")
    proc.expect("word3 ")
    proc.sendcontrol("c")
    proc.expect("interrupted")
    proc.expect(PROMPT)
    assert "word399" not in proc.text
    proc.sendline("and now?")
    proc.expect("second answer")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    messages = rig.requests()[1]["messages"]
    assert [user_texts(m) for m in messages if m["role"] == "user"] == ["talk a lot", "and now?"]
    assert_tool_pairs(messages)


def test_ctrl_c_during_a_tool_answers_the_tool_use(rig):
    rig.serve(reply(tool_uses=[tool_use("bash", {"command": "echo started; sleep 60"}, id="toolu_slow")]),
              reply(text="fine"))
    proc = rig.start()
    proc.sendline("run the slow thing")
    proc.expect("bash(echo started; sleep 60)")
    rig.server.wait_for_requests(1)
    proc.sendcontrol("c")
    proc.expect("interrupted")
    proc.expect(PROMPT)
    proc.sendline("next")
    proc.expect("fine")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    messages = rig.requests()[1]["messages"]
    assert_tool_pairs(messages)
    result = tool_results(messages[2])[0]
    assert result["tool_use_id"] == "toolu_slow" and result["is_error"]
    assert user_texts(messages[-1]) == "next"


def test_ctrl_c_at_the_approval_prompt_cancels_the_turn_and_the_next_line_is_a_prompt(rig):
    marker = rig.workspace / "marker.txt"
    rig.serve(reply(tool_uses=[tool_use("bash", {"command": "touch marker.txt"}, id="toolu_q")]),
              reply(text="after cancel"))
    proc = rig.start("--permission-mode", "default")
    proc.sendline("do it")
    proc.expect(APPROVE)
    proc.sendcontrol("c")
    proc.expect("interrupted")
    proc.expect(PROMPT)
    proc.sendline("y")  # an answer to the abandoned question would run the tool: it must be a prompt
    proc.expect("after cancel")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    assert not marker.exists()
    messages = rig.requests()[1]["messages"]
    assert_tool_pairs(messages)
    assert user_texts(messages[-1]) == "y"


def ctrl_c_at_the_prompt(proc: PtyProcess, until: Any, patience: float) -> None:
    """Ctrl-C while the REPL waits in readline. CPython's readline only notices a SIGINT that arrives
    once it waits for a key: one that lands between drawing the prompt and that wait stays pending
    until the next key. A person never hits that window; a script can, so after ``patience`` seconds
    without ``until`` happening it presses again (the pending and the new signal make one
    KeyboardInterrupt)."""
    for _ in range(5):
        if proc.proc.poll() is not None:
            return
        proc.sendcontrol("c")
        try:
            until(patience)
            return
        except (ExpectTimeout, subprocess.TimeoutExpired):
            continue
    raise AssertionError(f"Ctrl-C had no effect; transcript:\n{proc.text}")


def test_ctrl_c_twice_on_the_prompt_exits(rig):
    rig.serve()
    proc = rig.start()
    ctrl_c_at_the_prompt(proc, lambda t: proc.expect("press Ctrl-C again", timeout=t), patience=3)
    ctrl_c_at_the_prompt(proc, lambda t: proc.proc.wait(timeout=t), patience=5)
    assert proc.wait() == 0
    assert proc.text.count("press Ctrl-C again") == 1


# -- leaving, history ------------------------------------------------------------------------------------


def test_exit_command_and_history_file(rig):
    rig.serve(reply(text="hi back"))
    proc = rig.start()
    proc.sendline("hello there")
    proc.expect("hi back")
    proc.expect(PROMPT)
    proc.sendline("/exit")
    assert proc.wait() == 0
    history = rig.home / "history"
    assert "hello there" in history.read_text() and "/exit" in history.read_text()
    assert oct(history.stat().st_mode & 0o777) == "0o600"
    # a second REPL finds it: the up arrow brings the last line back
    rig.server.enqueue(reply(text="again"))
    proc2 = rig.start()
    proc2.send("\x1b[A\x1b[A")  # up twice: over /exit to "hello there"
    proc2.sendline("")
    proc2.expect("again")
    proc2.expect(PROMPT)
    assert finish(proc2) == 0
    assert user_texts(rig.requests()[-1]["messages"][-1]) == "hello there"


def test_continue_resumes_the_last_session_with_its_history(rig):
    rig.serve(reply(text="first answer"), reply(text="second answer"))
    proc = rig.start()
    proc.sendline("remember 42")
    proc.expect("first answer")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    proc2 = rig.start("--continue", ready=False)
    proc2.expect("(resumed, 2 messages)")
    proc2.expect(PROMPT)
    proc2.sendline("what was it?")
    proc2.expect("second answer")
    proc2.expect(PROMPT)
    assert finish(proc2) == 0
    messages = rig.requests()[1]["messages"]
    assert [user_texts(m) for m in messages] == ["remember 42", "first answer", "what was it?"]


def test_clear_starts_a_new_session_and_resume_goes_back(rig):
    rig.serve(reply(text="one"), reply(text="two"), reply(text="three"))
    proc = rig.start()
    proc.sendline("in the first session")
    proc.expect("one")
    proc.expect(PROMPT)
    proc.sendline("/clear")
    old_id = proc.expect(re.compile(r"/resume ([0-9a-f-]{36})\)")).split("/resume ")[1][:36]
    proc.expect(PROMPT)
    proc.sendline("in the second session")
    proc.expect("two")
    proc.expect(PROMPT)
    proc.sendline(f"/resume {old_id[:8]}")
    proc.expect(f"resumed {old_id} (2 messages)")
    proc.expect(PROMPT)
    proc.sendline("back in the first")
    proc.expect("three")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    first, second, third = (r["messages"] for r in rig.requests())
    assert [user_texts(m) for m in second] == ["in the second session"]
    assert [user_texts(m) for m in third] == ["in the first session", "one", "back in the first"]
    assert len(list((rig.workspace / ".claw" / "sessions").glob("*.jsonl"))) == 2


def test_ctrl_d_exits_with_code_zero(rig):
    rig.serve()
    proc = rig.start()
    assert finish(proc) == 0


def test_bare_claw_on_a_terminal_opens_the_repl(rig):
    rig.serve()
    proc = rig.start(bare=True)
    assert finish(proc) == 0


def test_first_prompt_on_the_command_line(rig):
    rig.serve(reply(text="started with it"))
    proc = rig.start("--permission-mode", "default", "explain this repo", ready=False)
    proc.expect("started with it")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    assert user_texts(rig.requests()[0]["messages"][0]) == "explain this repo"


# -- plain output ----------------------------------------------------------------------------------------


def test_no_color_gives_plain_text(rig):
    answer = "# Title\n- item with `code`\n"
    rig.serve(reply(text=answer, delay=0.01))
    proc = rig.start(env=rig.env(NO_COLOR="1"))
    proc.sendline("go")
    proc.expect("item with `code`")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    raw = proc.raw.decode()
    assert not SGR.search(raw), raw
    assert answer.replace("\n", "\r\n") in raw


def test_stdout_not_a_terminal_holds_only_the_answer(rig, tmp_path):
    answer = "## Heading\n\n```\ncode\n```\n- a list\nlast line without newline"
    # a slow first token: the spinner turns (on the terminal, stderr) before the answer arrives
    rig.serve(reply(text=answer, delay=0.05, text_chunk=100))
    out_path = tmp_path / "stdout.txt"
    with open(out_path, "wb") as out:
        proc = rig.start(stdout=out.fileno())
        proc.sendline("go")
        proc.expect("thinking")
        proc.expect(PROMPT)
        assert finish(proc) == 0
    assert out_path.read_text() == answer + "\n"


# -- signing in from the REPL ------------------------------------------------------------------------------


def test_without_credentials_the_repl_offers_login_and_uses_the_saved_login(rig):
    from tests.fakes.oauth_server import OAuthServer

    rig.serve(reply(text="hello with oauth"))
    env = rig.env()
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(name, None)
    with OAuthServer(account_email="dev@example.com") as oauth:
        env.update(oauth.env())
        proc = rig.start(env=env, ready=False)
        proc.expect("no Anthropic credentials")
        proc.expect("Sign in now with /login")
        proc.expect(PROMPT)
        proc.sendline("hello?")  # anything but /login is refused until signed in
        proc.expect("not signed in yet")
        proc.expect(PROMPT)
        proc.sendline("/login --no-browser")
        url = proc.expect(re.compile(r"^  (https?://\S+)$", re.M)).split()[-1]
        proc.expect("paste the code")
        proc.sendline(oauth.browse(url))
        proc.expect("Signed in as dev@example.com")
        proc.expect("Ctrl-D to exit")  # the REPL starts, now with the saved login
        proc.expect(PROMPT)
        proc.sendline("/status")
        proc.expect("credentials:      OAuth bearer token from saved login")
        proc.expect(PROMPT)
        proc.sendline("hi")
        proc.expect("hello with oauth")
        proc.expect(PROMPT)
        request = [r for r in rig.server.requests if r.path.endswith("/v1/messages")][0]
        assert (request.header("authorization") or "").startswith("Bearer at-")
        assert request.header("x-api-key") is None
        proc.sendline("/logout")
        proc.expect("Signed out")
        proc.expect("no Anthropic credentials")  # what the next request would meet, said now
        proc.expect(PROMPT)
        assert finish(proc) == 0
    assert "oauth" not in json.loads((rig.home / "credentials.json").read_text())


def test_diff_shows_uncommitted_changes(rig):
    def git(*args):
        subprocess.run(["git", *args], cwd=rig.workspace, check=True, capture_output=True,
                       env=dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
                                GIT_COMMITTER_EMAIL="t@e"))

    rig.serve()
    proc = rig.start()
    proc.sendline("/diff")
    proc.expect("not a git repository")
    proc.expect(PROMPT)
    git("init", "-q")
    (rig.workspace / "a.txt").write_text("one\n")
    git("add", "a.txt")
    git("commit", "-q", "-m", "first")
    (rig.workspace / "a.txt").write_text("two\n")
    (rig.workspace / "new.txt").write_text("new\n")
    proc.sendline("/diff")
    proc.expect("+two")
    proc.expect("untracked: new.txt")
    proc.expect(PROMPT)
    assert finish(proc) == 0
