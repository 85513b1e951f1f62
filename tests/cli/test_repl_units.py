"""The REPL's pieces in-process: prompt reading, colour decisions, the writer, the spinner, the tally,
and slash-command dispatch (the whole REPL on a terminal is in test_repl_pty.py)."""

from __future__ import annotations

import asyncio
import io
import re
from types import SimpleNamespace

import pytest

from claw.api.types import TextDelta, ToolUseStarted, Usage
from claw.cli import slash
from claw.cli.output import RunInfo
from claw.cli.repl import ReplWriter, SpendTally, use_color
from claw.cli.repl_input import prompt_strings, read_prompt
from claw.runtime.events import AssistantMessage, ModelStreamEvent, Notice, ToolFinished, ToolStarted

SGR = re.compile(r"\x1b\[[0-9;]*m")


class TTYStringIO(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def reader(*lines):
    """A fake ``input``: returns the lines in order, then raises EOFError; records the prompts."""
    queue = list(lines)
    prompts = []

    def read(prompt):
        prompts.append(prompt)
        if not queue:
            raise EOFError
        return queue.pop(0)

    read.prompts = prompts
    return read


# -- reading prompts ---------------------------------------------------------------------------------------


def test_one_line():
    assert read_prompt(reader("hello")) == "hello"


def test_backslash_continues_the_line():
    read = reader("first \\", "second\\", "third")
    assert read_prompt(read) == "first \nsecond\nthird"
    assert len(read.prompts) == 3 and read.prompts[1] != read.prompts[0]


def test_a_triple_quote_block_keeps_lines_verbatim():
    assert read_prompt(reader('"""', "  indented \\", "", "last", '"""')) == "  indented \\\n\nlast"


def test_end_of_input_inside_a_block_submits_it_and_at_the_prompt_exits():
    assert read_prompt(reader('"""', "only line")) == "only line"
    with pytest.raises(EOFError):
        read_prompt(reader())


def test_prompt_strings_fall_back_to_ascii():
    assert prompt_strings(SimpleNamespace(encoding="ascii")) == ("> ", ". ")
    assert prompt_strings(SimpleNamespace(encoding="UTF-8"))[0] == "› "


@pytest.mark.parametrize("env,tty,expected", [
    ({}, True, True), ({}, False, False), ({"NO_COLOR": "1"}, True, False), ({"NO_COLOR": ""}, True, True),
    ({"TERM": "dumb"}, True, False),
])
def test_use_color(env, tty, expected):
    stream = TTYStringIO() if tty else io.StringIO()
    assert use_color(stream, env) is expected


# -- the writer --------------------------------------------------------------------------------------------


def make_writer(color=True, spinner=False, loop=None):
    out, err = TTYStringIO(), TTYStringIO()
    info = RunInfo(session_id="s", model="m", cwd="/", permission_mode="default")
    return ReplWriter(info, color=color, spinner=spinner, loop=loop, stdout=out, stderr=err), out, err


def text(t):
    return ModelStreamEvent(TextDelta(index=0, text=t))


def test_text_is_rendered_and_tools_are_folded_on_stderr():
    writer, out, err = make_writer(color=False)
    writer(text("Looking"))
    writer(ModelStreamEvent(ToolUseStarted(index=1, id="t1", name="bash")))
    writer(ToolStarted("t1", "bash", {"command": "ls -la"}))
    writer(ToolFinished("t1", "bash", "a\nb\nc\n", False))
    writer(ToolFinished("t2", "bash", "boom", True))
    assert out.getvalue() == "Looking\n"
    assert err.getvalue() == "> bash(ls -la)\n  ⎿ a … +2 lines\n  ⎿ error: boom\n"


def test_held_markdown_is_flushed_before_a_tool_line():
    writer, out, err = make_writer(color=True)
    writer(text("Plan:\n- read it"))
    assert SGR.sub("", out.getvalue()) == "Plan:\n"  # the list item is held until its line ends...
    writer(ModelStreamEvent(ToolUseStarted(index=1, id="t1", name="read_file")))
    assert SGR.sub("", out.getvalue()) == "Plan:\n- read it\n"  # ...or until something else is shown


def test_without_color_nothing_is_styled():
    writer, out, err = make_writer(color=False)
    writer(text("# Title\n- item\n"))
    writer.notice("a notice")
    assert out.getvalue() == "# Title\n- item\n"
    assert "\x1b" not in err.getvalue()


def test_the_spinner_writes_to_stderr_only_and_erases_itself():
    async def scenario():
        writer, out, err = make_writer(spinner=True, loop=asyncio.get_running_loop())
        writer.start_spinner("thinking")
        await asyncio.sleep(0.25)
        writer(text("answer"))
        await asyncio.sleep(0)
        return out.getvalue(), err.getvalue()

    out, err = asyncio.run(scenario())
    assert out == "answer"
    assert "thinking" in err and err.endswith("\r\x1b[K")


def test_a_spinner_that_never_drew_erases_nothing():
    async def scenario():
        writer, out, err = make_writer(spinner=True, loop=asyncio.get_running_loop())
        writer.start_spinner("slow step", delay=10)
        await asyncio.sleep(0.05)
        writer.stop_spinner()
        return err.getvalue()

    assert asyncio.run(scenario()) == ""


def test_no_spinner_when_disabled():
    writer, out, err = make_writer(spinner=False)
    writer.start_spinner("thinking")
    assert writer.spinner is None


def test_notices_pause_the_spinner_and_are_dimmed_with_color():
    async def scenario():
        writer, out, err = make_writer(spinner=True, loop=asyncio.get_running_loop())
        writer.start_spinner("thinking")
        await asyncio.sleep(0.15)
        writer(Notice("retrying"))
        assert writer.spinner is not None  # it came back after the notice
        writer.stop_spinner()
        return err.getvalue()

    err = asyncio.run(scenario())
    assert "\r\x1b[K\x1b[2mclaw: retrying\x1b[0m\n" in err


def test_the_tally_prices_each_response_at_its_own_rate():
    tally = SpendTally()
    rates = {"cheap": 1.0, "dear": 10.0}
    cost_of = lambda model, usage: rates.get(model) and rates[model] * usage.output_tokens / 1000  # noqa: E731
    tally.add("cheap", Usage(input_tokens=5, output_tokens=1000), cost_of)
    tally.add("dear", Usage(input_tokens=5, output_tokens=1000), cost_of)
    assert tally.usage == Usage(input_tokens=10, output_tokens=2000) and tally.responses == 2
    assert tally.cost_usd == pytest.approx(11.0)
    tally.add("unknown", Usage(output_tokens=1), cost_of)
    assert tally.cost_usd is None  # one unpriced response makes the total unknown
    tally.add("cheap", Usage(output_tokens=1), cost_of)
    assert tally.cost_usd is None


def test_the_writer_counts_assistant_messages():
    writer, out, err = make_writer()
    writer.cost_of = lambda model, usage: 0.5
    usage = Usage(input_tokens=3, output_tokens=4)
    writer(AssistantMessage(message={"role": "assistant", "content": []}, message_id="m", model="x", usage=usage,
                            stop_reason="end_turn", uuid="u"))
    assert writer.tally.usage == usage and writer.tally.cost_usd == 0.5


# -- slash commands ----------------------------------------------------------------------------------------


class FakeRepl:
    def __init__(self):
        self.should_exit = False
        self.tally = SpendTally()
        self.ran = []

    def run_async(self, coro, label=None, spinner_delay=0.0):
        self.ran.append(label)
        return asyncio.run(coro)


def test_parse_and_suggest():
    assert slash.parse("/model   sonnet 4") == ("model", "sonnet 4")
    assert slash.parse("/EXIT") == ("exit", "")
    assert slash.suggest("compcat") == "compact"
    assert slash.suggest("perm") == "permissions"
    assert slash.suggest("zzzzzz") == ""


def test_completion_of_command_names():
    assert slash.complete("/co") == ["/compact", "/config", "/cost"]
    assert slash.complete("hello") == []


def test_every_command_the_issue_names_exists():
    wanted = ("help status model permissions compact clear cost resume sessions config mcp hooks memory init "
              "diff export doctor login logout exit").split()
    assert not [name for name in wanted if name not in slash.COMMANDS]


def test_unknown_command_suggests_and_exit_and_aliases(capsys):
    repl = FakeRepl()
    slash.run_slash(repl, "/stauts")
    assert "unknown command /stauts — did you mean /status?" in capsys.readouterr().err
    slash.run_slash(repl, "/quit")
    assert repl.should_exit


def test_cost_reports_the_tally(capsys):
    repl = FakeRepl()
    repl.tally.add("m", Usage(input_tokens=1234, output_tokens=56, cache_read_input_tokens=7), lambda m, u: 0.01234)
    slash.run_slash(repl, "/cost")
    err = capsys.readouterr().err
    assert "input 1,234 · output 56 · cache write 0 · cache read 7 tokens (1 model response)" in err
    assert "cost: $0.0123" in err


def test_a_claw_error_in_a_command_is_one_message(capsys):
    from claw.errors import UsageError

    @slash.command("explode-for-test", "test only")
    async def boom(repl, rest):
        raise UsageError("bad thing", hint="do the other thing")

    try:
        repl = FakeRepl()
        slash.run_slash(repl, "/explode-for-test")
        err = capsys.readouterr().err
        assert "bad thing" in err and "hint: do the other thing" in err
        assert repl.ran == [None]  # async commands run through the REPL's cancellable runner
    finally:
        del slash.COMMANDS["explode-for-test"]


def test_thinking_is_shown_dimmed_a_line_at_a_time_before_the_answer():
    from claw.api.types import BlockStarted, BlockStopped, ThinkingDelta
    from claw.cli.markdown import DIM, RESET

    writer, out, err = make_writer(color=True)
    writer(ModelStreamEvent(BlockStarted(index=0, block_type="thinking")))
    writer(ModelStreamEvent(ThinkingDelta(index=0, thinking="First I look")))
    assert DIM + "First I look" not in out.getvalue()  # held until the line is complete
    writer(ModelStreamEvent(ThinkingDelta(index=0, thinking=" around.\nThen I answer.")))
    writer(ModelStreamEvent(BlockStopped(index=0, block={"type": "thinking"})))
    writer(ModelStreamEvent(BlockStarted(index=1, block_type="redacted_thinking")))
    writer(text("Hello"))
    writer(ModelStreamEvent(ToolUseStarted(index=2, id="t1", name="bash")))
    shown = out.getvalue()
    assert f"{DIM}First I look around.{RESET}\n{DIM}Then I answer.{RESET}\n" in shown
    assert "redacted" in shown
    assert shown.index("Then I answer.") < shown.index("Hello")


def test_thinking_that_holds_a_secret_is_redacted_on_screen():
    from claw.api.types import BlockStarted, ThinkingDelta

    writer, out, err = make_writer(color=False)
    writer(ModelStreamEvent(BlockStarted(index=0, block_type="thinking")))
    writer(ModelStreamEvent(ThinkingDelta(index=0, thinking="key sk-ant-api03-AAAAAAAA")))
    writer(ModelStreamEvent(ThinkingDelta(index=0, thinking="BBBBBBBBBBBBBBBB\n")))
    assert "sk-ant" not in out.getvalue() and "[REDACTED]" in out.getvalue()


def test_memory_lists_claude_code_files_and_their_imports(tmp_path, capsys):
    home, work = tmp_path / "home", tmp_path / "work"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "CLAUDE.md").write_text("user")
    (work / ".claude").mkdir(parents=True)
    (work / ".claude" / "CLAUDE.md").write_text("see @../docs/a.md and @~/outside.md")
    (work / "docs").mkdir()
    (work / "docs" / "a.md").write_text("imported")
    (home / "outside.md").write_text("not for an untrusted project")
    repl = FakeRepl()
    repl.run = SimpleNamespace(info=SimpleNamespace(cwd=str(work)),
                               env={"HOME": str(home), "CLAW_CONFIG_HOME": str(home / ".claw")})
    slash.run_slash(repl, "/memory")
    err = capsys.readouterr().err.splitlines()
    assert err[:3] == [f"user_instructions: {home / '.claude' / 'CLAUDE.md'}",
                       f"project_instructions: {work / '.claude' / 'CLAUDE.md'}",
                       f"project_instructions: {work / 'docs' / 'a.md'} (imported by {work / '.claude' / 'CLAUDE.md'})"]
    assert err[3].startswith("warning: ") and "@~/outside.md is outside the project" in err[3]
def test_agents_lists_the_definitions_with_their_source(capsys, tmp_path):
    from types import SimpleNamespace

    from claw.runtime.agent_defs import load_catalog

    home = tmp_path / "home"
    (home / ".claude" / "agents").mkdir(parents=True)
    (home / ".claude" / "agents" / "reviewer.md").write_text("---\ndescription: Reviews code\ntools: Read, Grep\n"
                                                             "model: haiku\n---\nReview.\n")
    catalog = load_catalog(tmp_path, {"HOME": str(home), "CLAW_CONFIG_HOME": str(tmp_path / "cfg")})
    repl = FakeRepl()
    repl.run = SimpleNamespace(subagents=SimpleNamespace(catalog=catalog))
    slash.run_slash(repl, "/agents")
    err = capsys.readouterr().err
    assert "general-purpose (built-in): General-purpose agent" in err and "[tools: all tools; model: inherit]" in err
    assert f"reviewer (user: {home / '.claude' / 'agents' / 'reviewer.md'}): Reviews code" in err
    assert "[tools: Read, Grep; model: haiku]" in err


def test_a_subagent_is_silent_but_counted_and_its_warnings_shown():
    from claw.runtime.events import SubagentEvent

    writer, out, err = make_writer(color=False)
    message = AssistantMessage(message={"role": "assistant", "content": [{"type": "text", "text": "child says"}]},
                               message_id="m1", model="m", usage=Usage(input_tokens=7, output_tokens=3),
                               stop_reason="end_turn", uuid="u1")
    writer(SubagentEvent("toolu_1", ModelStreamEvent(TextDelta(index=0, text="child says"))))
    writer(SubagentEvent("toolu_1", SubagentEvent("toolu_2", message)))
    writer(SubagentEvent("toolu_1", Notice("a hook failed", level="warning")))
    assert "child says" not in out.getvalue()
    assert writer.tally.usage == Usage(input_tokens=7, output_tokens=3) and writer.tally.responses == 1
    assert "a hook failed" in err.getvalue()
