"""The REPL's ``#text``: a real REPL on a pseudo-terminal appends the note to the memory file picked at
the prompt, and the next request's system prompt carries it; ``##text`` sends ``#text`` to the model."""

from __future__ import annotations

from pathlib import Path

from claw.cli.memory_note import add_note, append_line, is_memory_note
from tests.cli.test_repl_pty import PROMPT, finish, rig, user_texts  # noqa: F401 - rig is a fixture
from tests.fakes.model_server import reply


def test_hash_note_goes_to_the_chosen_file_and_into_the_next_request(rig):  # noqa: F811
    rig.serve(reply(text="noted"), reply(text="plain"))
    (rig.workspace / "CLAUDE.md").write_text("# Rules\nexisting line")  # no final newline
    proc = rig.start()
    proc.sendline("# Always run the linter")
    proc.expect("add to which memory file?")
    proc.expect("Enter to cancel] ")
    proc.sendline("2")
    proc.expect("added to ")
    proc.expect(PROMPT)
    assert (rig.workspace / "CLAUDE.md").read_text() == "# Rules\nexisting line\n- Always run the linter\n"
    proc.sendline("hello")
    proc.expect("noted")
    proc.expect(PROMPT)
    proc.sendline("##not a note")
    proc.expect("plain")
    proc.expect(PROMPT)
    assert finish(proc) == 0
    first, second = rig.requests()
    system = first["system"] if isinstance(first["system"], str) else "".join(b["text"] for b in first["system"])
    assert "- Always run the linter" in system
    assert user_texts(first["messages"][0]) == "hello"  # the note itself never went to the model
    assert user_texts(second["messages"][-1]) == "#not a note"


def test_cancel_and_user_files(tmp_path):
    env = {"HOME": str(tmp_path / "home"), "CLAW_CONFIG_HOME": str(tmp_path / "home" / ".claw")}
    said = []
    assert add_note("# x", str(tmp_path), env, lambda prompt: "", said.append) is None
    assert said[-1] == "not added" and not list(tmp_path.glob("*.md"))
    path = add_note("#  keep it short ", str(tmp_path), env, lambda prompt: "4", said.append)
    assert path == tmp_path / "home" / ".claude" / "CLAUDE.md" and path.read_text() == "- keep it short\n"
    path = add_note("#two", str(tmp_path), env, lambda prompt: "3", said.append)
    assert path == Path(env["CLAW_CONFIG_HOME"]) / "CLAW.md"
    append_line(path, "three")
    assert path.read_text() == "- two\n- three\n"


def test_what_counts_as_a_note():
    assert is_memory_note("# remember this")
    assert not is_memory_note("## a heading")  # escaped: sent as "# a heading"
    assert not is_memory_note("#")
    assert not is_memory_note("# Title\nand a body")  # a Markdown prompt of several lines
