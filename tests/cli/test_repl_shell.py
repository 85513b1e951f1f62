"""The REPL's ``!command`` and ``@path`` completion: a real REPL on a pseudo-terminal runs the command
for the user, shows its output and gives it to the model with the next prompt; the pieces alone."""

from __future__ import annotations

import asyncio
import os
import time

from claw.cli.repl_shell import complete_path, context_block, run_shell_line
from tests.cli.test_repl_pty import PROMPT, finish, rig, user_texts  # noqa: F401 - rig is a fixture
from tests.fakes.model_server import reply


def test_bang_runs_the_command_and_its_output_goes_with_the_next_prompt(rig):  # noqa: F811
    rig.serve(reply(text="seen it"), reply(text="literal"))
    (rig.workspace / "notes.txt").write_text("alpha\n")
    proc = rig.start()
    proc.sendline("!cat notes.txt; echo oops >&2; exit 3")
    proc.expect("alpha")
    proc.expect("exit code 3")
    proc.expect(PROMPT)
    assert rig.requests() == []  # the command alone asks the model nothing
    proc.sendline("what did it print?")
    proc.expect("seen it")
    proc.expect(PROMPT)
    proc.sendline("!!bang")
    proc.expect("literal")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    first, second = rig.requests()
    sent = user_texts(first["messages"][0])
    assert sent.startswith("<bash-input>cat notes.txt; echo oops >&2; exit 3</bash-input>")
    assert "<bash-stdout>alpha</bash-stdout><bash-stderr>oops</bash-stderr>" in sent
    assert sent.endswith("what did it print?")
    assert user_texts(second["messages"][-1]) == "!bang"  # !! sends the text itself


def test_a_command_runs_in_the_given_directory_and_environment(tmp_path):
    out, err, code = asyncio.run(run_shell_line("pwd; echo $ONLY_HERE", cwd=str(tmp_path),
                                                env={"PATH": os.environ["PATH"], "ONLY_HERE": "yes"}))
    assert (out.split(), err, code) == ([str(tmp_path), "yes"], "", 0)


def test_a_command_that_outlives_its_time_is_killed_with_its_children(tmp_path):
    marker = tmp_path / "child-still-ran"
    started = time.monotonic()
    out, err, code = asyncio.run(run_shell_line(f"(sleep 2; touch {marker}) & sleep 30", cwd=str(tmp_path),
                                                env={"PATH": os.environ["PATH"]}, timeout=0.5))
    assert code == 124 and "killed after" in err and time.monotonic() - started < 10
    time.sleep(2.5)
    assert not marker.exists()  # the whole process group went


def test_the_context_block_is_capped():
    block = context_block("yes", "y\n" * 40_000, "")
    assert block.startswith("<bash-input>yes</bash-input>") and "more characters not shown" in block
    assert len(block) < 31_000


def test_at_path_completion(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("")
    (tmp_path / "src" / "mod.py").write_text("")
    (tmp_path / ".hidden").write_text("")
    (tmp_path / "setup.cfg").write_text("")
    assert complete_path("@s", str(tmp_path)) == ["@setup.cfg", "@src/"]
    assert complete_path("@src/m", str(tmp_path)) == ["@src/main.py", "@src/mod.py"]
    assert complete_path("@", str(tmp_path)) == ["@setup.cfg", "@src/"]
    assert complete_path("@.h", str(tmp_path)) == ["@.hidden"]
    assert complete_path("@nowhere/x", str(tmp_path)) == [] and complete_path("src", str(tmp_path)) == []
