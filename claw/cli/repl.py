"""The interactive REPL: ``claw`` on a terminal.

A loop of: read a prompt (readline editing and persistent history when available; a line ending in
``\\`` continues, and a block opened with ``\"\"\"`` runs until the closing ``\"\"\"``), run one agent turn with
the answer streamed and rendered, show tools compactly, repeat. Ctrl-C during a turn cancels that turn
(the session stays consistent); Ctrl-C on the prompt twice in a row, Ctrl-D, or ``/exit`` leaves.
Lines starting with ``/`` are slash commands (claw.cli.slash).

What goes where: the assistant's text to stdout (Markdown styled only when stdout is a terminal and
``NO_COLOR`` is unset); the banner, tool lines, notices and the spinner to stderr (the spinner only
when stderr is a terminal); approval questions to ``/dev/tty`` (claw.cli.tty_prompt).

One event loop serves the whole REPL so connections are reused between turns; input is read with the
loop idle. This module owns the terminal; it does not know how tools or providers work.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, List, Optional

from claw.api.types import Usage
from claw.cli import startup_gc
from claw.cli.args import RunArgs, parse_run_args
from claw.cli.errors import render_error
from claw.cli.markdown import DIM, RESET, MarkdownStream
from claw.cli.thinking_view import ThinkingView
from claw.cli.output import RunInfo, TextWriter
from claw.cli.repl_input import History, _unicode_ok, read_prompt
from claw.errors import ClawError

if TYPE_CHECKING:
    from claw.redact import Redactor
    from claw.runtime.run import Run

SPIN_INTERVAL = 0.1


def use_color(stream: Any, env: Optional[dict] = None) -> bool:
    """ANSI styling on ``stream``: only on a terminal, never with ``NO_COLOR`` set (no-color.org) or
    ``TERM=dumb``."""
    env = os.environ if env is None else env
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@dataclass
class SpendTally:
    """What this REPL spent: every model response's usage, priced when it arrived (so a ``/model``
    switch prices each response at its own model's rate)."""

    usage: Usage = field(default_factory=Usage)
    cost_usd: Optional[float] = 0.0  # None once a response had no known price
    responses: int = 0
    api_seconds: float = 0.0

    def add(self, model: str, usage: Usage, cost_of: Optional[Callable[[str, Usage], Optional[float]]]) -> None:
        self.usage = self.usage + usage
        self.responses += 1
        if self.cost_usd is not None:
            cost = cost_of(model, usage) if cost_of is not None else None
            self.cost_usd = None if cost is None else self.cost_usd + cost


class ReplWriter(TextWriter):
    """TextWriter with Markdown rendering, folded tool results, a spinner while waiting for the model,
    and the spend tally."""

    def __init__(self, info: RunInfo, *, color: bool, spinner: bool = False,
                 loop: Optional[asyncio.AbstractEventLoop] = None, stdout: Any = None, stderr: Any = None,
                 redactor: Optional["Redactor"] = None) -> None:
        super().__init__(info, stdout=stdout, stderr=stderr, redactor=redactor)
        self.loop = loop  # where the spinner runs (the REPL's loop); default: the running one
        self.color = color
        self.spinner_enabled = spinner
        self.md = MarkdownStream(color=color)
        self.spinner: Optional[Spinner] = None
        self._spinner_label = ""
        self.tally = SpendTally()
        self.cost_of: Optional[Callable[[str, Usage], Optional[float]]] = None
        self._fancy = _unicode_ok(self.err)
        self.thinking = ThinkingView(self.out, color=color, fancy=self._fancy)

    def begin_turn(self) -> None:
        self.md = MarkdownStream(color=self.color)
        self._wrote_text = False
        self._at_line_start = True

    def __call__(self, event: Any) -> None:
        from claw.api.types import MessageDone, TextDelta, ToolUseStarted
        from claw.runtime.events import (AssistantMessage, ModelStreamEvent, Notice, SubagentEvent, ToolFinished,
                                         UserMessage)

        if isinstance(event, SubagentEvent):  # a subagent works silently; its responses count in /cost
            while isinstance(event, SubagentEvent):
                event = event.event
            if isinstance(event, AssistantMessage):
                self.tally.add(event.model, event.usage, self.cost_of)
            elif isinstance(event, Notice):
                super().__call__(event)
            return
        if isinstance(event, ModelStreamEvent):
            inner = event.event
            if self.thinking.takes(inner):  # extended thinking, dimmed (claw.cli.thinking_view)
                self.stop_spinner()
                self._end_line()
                self.thinking.feed(inner)
                return
            if isinstance(inner, TextDelta) and inner.text:
                self.stop_spinner()
                rendered = self.md.feed(inner.text)
                if rendered:
                    self.out.write(rendered)
                    self.out.flush()
                self._at_line_start = inner.text.endswith("\n")
                self._wrote_text = True
                return
            if isinstance(inner, (MessageDone, ToolUseStarted)):
                self.stop_spinner()
                self._flush_md()
        elif isinstance(event, AssistantMessage):
            self.tally.add(event.model, event.usage, self.cost_of)
        elif isinstance(event, ToolFinished):
            self._tool_finished(event)
            return
        elif isinstance(event, UserMessage) and event.is_tool_results:
            self.start_spinner()  # the results go back to the model: waiting again
        super().__call__(event)

    def _tool_finished(self, event: Any) -> None:
        lines = event.output.strip().splitlines() or [""]
        first = lines[0] if len(lines[0]) <= 160 else lines[0][:159] + "…"
        more = f" … +{len(lines) - 1} lines" if len(lines) > 1 else ""
        mark = "⎿" if self._fancy else "->"
        status = "error: " if event.is_error else ""
        self.notice(f"  {mark} {status}{first}{more}")

    def _flush_md(self) -> None:
        tail = self.md.close()
        if tail:
            self.out.write(tail)
            self.out.flush()

    def _end_line(self) -> None:
        self._flush_md()
        super()._end_line()

    def notice(self, text: str) -> None:
        was_spinning = self.spinner is not None
        self.stop_spinner()
        if self.color:
            text = f"{DIM}{text}{RESET}"
        super().notice(text)
        if was_spinning:
            self.start_spinner(self._spinner_label)

    def start_spinner(self, label: str = "", delay: float = 0.0) -> None:
        """Turn the spinner (stderr, terminals only) until ``stop_spinner``; with ``delay``, only once
        that many seconds passed (quick steps then show nothing)."""
        self._spinner_label = label or self._spinner_label or "thinking"
        if self.spinner_enabled and self.spinner is None:
            self.spinner = Spinner(self.err, self._spinner_label, fancy=self._fancy, delay=delay,
                                   loop=self.loop or asyncio.get_running_loop())

    def stop_spinner(self) -> None:
        if self.spinner is not None:
            self.spinner.stop()
            self.spinner = None


class Spinner:
    """``⠋ thinking… 3s`` redrawn in place on a terminal stream until stopped; stopping erases it."""

    def __init__(self, stream: Any, label: str, *, fancy: bool, delay: float,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.stream = stream
        self.label = label
        self.fancy = fancy
        self.delay = delay
        self.drawn = False
        self.task = loop.create_task(self._run())

    async def _run(self) -> None:
        frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏" if self.fancy else "|/-\\"
        ellipsis = "…" if self.fancy else "..."
        started = time.monotonic()
        if self.delay:
            await asyncio.sleep(self.delay)
        i = 0
        while True:
            elapsed = time.monotonic() - started
            self.stream.write(f"\r{frames[i % len(frames)]} {self.label}{ellipsis} {elapsed:.0f}s\x1b[K")
            self.stream.flush()
            self.drawn = True
            i += 1
            await asyncio.sleep(SPIN_INTERVAL)

    def stop(self) -> None:
        self.task.cancel()
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


class Repl:
    def __init__(self, args: RunArgs) -> None:
        self.args = args
        self.loop = asyncio.new_event_loop()
        self.color = use_color(sys.stdout)
        self.run: Optional["Run"] = None  # from setup() on
        self.writer: Optional[ReplWriter] = None
        self.should_exit = False
        self.history = History()
        self.shell_context: List[str] = []  # !command blocks waiting for the next prompt

    @property
    def tally(self) -> SpendTally:
        assert self.writer is not None
        return self.writer.tally

    # -- set-up ------------------------------------------------------------------------------------

    def setup(self) -> None:
        from claw.cli.setup import run_options
        from claw.runtime.run_open import open_run

        def sink(event: Any) -> None:
            if self.writer is not None:
                self.writer(event)

        try:
            self.run = self.loop.run_until_complete(
                open_run(run_options(self.args), sink=sink, prompter=self._ask, connect_mcp=False))
        finally:
            startup_gc.resume()  # the REPL may live for hours: never leave the collector off
        run = self.run
        self.writer = ReplWriter(run.info, color=self.color, spinner=use_color(sys.stderr), loop=self.loop,
                                 redactor=run.redactor)
        self.writer.cost_of = run.agent.cost_of
        for text in run.notices():  # the settings' (MCP servers are not connected yet)
            self.writer.notice(text)
        for warning in run.session.warnings:
            self.writer.notice(f"claw: warning: {warning}")
        self.run_async(run.connect_mcp(), label="starting MCP servers", spinner_delay=0.3)
        for text in run.mcp_notices():
            self.writer.notice(text)
        self.run_async(run.agent.session_start(run.start_source))

    async def _ask(self, request: Any) -> Any:
        """The permission prompter: the spinner and any held text out of the way, then the question."""
        from claw.cli.tty_prompt import ask_on_tty

        if self.writer is not None:
            self.writer.stop_spinner()
            self.writer._end_line()
        return await ask_on_tty(request)

    def banner(self) -> None:
        info = self.run.info
        resumed = len(self.run.session.messages)
        line = f"claw · {info.model} · {info.permission_mode} · session {info.session_id[:8]}"
        if resumed:
            line += f" (resumed, {resumed} messages)"
        sys.stderr.write(f"{line}\n/help for commands, Ctrl-D to exit\n")
        sys.stderr.flush()

    # -- the loop ----------------------------------------------------------------------------------

    def serve(self, first_prompt: Optional[str]) -> int:
        from claw.cli.slash import custom_names

        self.history.commands = lambda: custom_names(self)  # Tab completes the custom commands too
        self.history.load()
        pending = first_prompt
        interrupts = 0
        hint_due = False
        while not self.should_exit:
            # Turns and commands turn Ctrl-C into a cancellation; a KeyboardInterrupt that reaches
            # this level came while reading the prompt (or just around it). The hint after a first
            # Ctrl-C is written inside the try, so a second Ctrl-C right after it still counts.
            try:
                if hint_due:
                    hint_due = False
                    sys.stderr.write("\n(press Ctrl-C again to exit, or Ctrl-D)\n")
                if pending is None:
                    idle = idle_notifier(self.run)
                    try:
                        pending = read_prompt()
                    finally:
                        if idle is not None:
                            idle.cancel()
                        self.history.save()
                    interrupts = 0
                text, pending = pending.strip(), None
                if not text:
                    continue
                if text.startswith("/") and not text.startswith("//"):
                    self.slash(text)
                elif text.startswith("#") and not text.startswith("##"):
                    self.memory_note(text)
                elif text.startswith("!") and not text.startswith("!!") and text[1:].strip():
                    self.shell(text[1:].strip())
                else:
                    self.turn(text[1:] if text.startswith(("//", "##", "!!")) else text)
            except KeyboardInterrupt:
                pending = None
                interrupts += 1
                if interrupts >= 2:
                    sys.stderr.write("\n")
                    break
                hint_due = True
            except EOFError:
                sys.stderr.write("\n")
                break
        self.history.save()
        return 0

    def run_async(self, coro: Any, label: Optional[str] = None, spinner_delay: float = 0.0) -> Any:
        """Run ``coro`` on the REPL's loop with Ctrl-C cancelling it (``asyncio.CancelledError`` is
        raised to the caller) and, with a label, the spinner turning meanwhile."""
        task = self.loop.create_task(coro)
        writer = self.writer
        if label and writer is not None:
            writer.start_spinner(label, delay=spinner_delay)
        installed = _on_sigint(self.loop, task.cancel)
        try:
            return self.loop.run_until_complete(task)
        finally:
            if installed:
                _off_sigint(self.loop)
            if writer is not None:
                writer.stop_spinner()

    def slash(self, text: str) -> None:
        from claw.cli.slash import run_slash

        assert self.writer is not None
        try:
            run_slash(self, text)
        except (asyncio.CancelledError, KeyboardInterrupt):
            self.writer.notice("\ninterrupted")
        except SystemExit:  # argparse inside a command (/config --bad) must not end the REPL
            pass
        except Exception as exc:  # a bug in one command must not end the REPL
            self.writer.notice(f"claw: {text.split()[0]} failed: {type(exc).__name__}: {exc}")

    def memory_note(self, text: str) -> None:
        """``#text``: append it to the memory file the user picks, then rebuild the system prompt."""
        from claw.cli.memory_note import add_note, is_memory_note

        if not is_memory_note(text):  # several lines (a Markdown heading first), or "#" alone
            self.turn(text)
            return
        run = self.run
        if add_note(text, str(run.info.cwd), run.env, input, lambda line: sys.stderr.write(line + "\n")):
            run.set_system_prompt(run.options.system_prompt, run.options.append_system_prompt)

    def shell(self, command: str) -> None:
        """``!command``: run it for the user, show its output, and give both to the model with the
        next prompt (claw.cli.repl_shell)."""
        from claw.cli.repl_shell import context_block, run_shell_line

        assert self.writer is not None and self.run is not None
        context = self.run.tools.context
        try:
            out, err, code = self.run_async(run_shell_line(command, cwd=str(context.cwd), env=context.env),
                                            label="running", spinner_delay=0.5)
        except asyncio.CancelledError:
            self.writer.notice("interrupted: the command was stopped")
            return
        except OSError as exc:
            self.writer.notice(f"claw: cannot run the command: {exc.strerror or exc}")
            return
        redact = self.run.redactor.redact_text
        if out:
            sys.stdout.write(redact(out) + ("" if out.endswith("\n") else "\n"))
            sys.stdout.flush()
        if err:
            self.writer.notice(redact(err.rstrip("\n")))
        if code:
            self.writer.notice(f"(exit code {code})")
        self.shell_context.append(context_block(command, out, err))

    def turn(self, text: str) -> None:
        assert self.writer is not None
        if self.shell_context:  # what !commands printed since the last prompt, for the model to read
            text = "\n\n".join(self.shell_context + [text])
            self.shell_context = []
        writer = self.writer
        writer.begin_turn()
        outcome = None
        try:
            outcome = self.run_async(self.run.turn(text), label="thinking")
        except asyncio.CancelledError:
            writer._end_line()
            writer.notice("interrupted: the turn was cancelled (the session keeps what was finished)")
            return
        except ClawError as exc:
            writer._end_line()
            writer.notice(render_error(exc, session_id=self.run.session.id))
            return
        except Exception as exc:  # a bug must not end the REPL; the session file has every message
            writer._end_line()
            writer.notice(f"claw: internal error: {type(exc).__name__}: {exc}")
            return
        writer.tally.api_seconds += outcome.duration_api_ms / 1000
        writer._end_line()
        if outcome.is_error:
            error = outcome.error
            if isinstance(error, ClawError):
                writer.notice(render_error(error, session_id=self.run.session.id))
            else:
                writer.notice(f"claw: {outcome.result}")

    def close(self) -> None:
        if self.run is not None:
            try:
                self.loop.run_until_complete(self.run.agent.session_end("prompt_input_exit"))
            except BaseException:
                pass
            try:
                self.loop.run_until_complete(self.run.aclose())
            except BaseException:
                pass
        self.loop.close()


IDLE_NOTIFICATION_SECONDS = 60.0  # as Claude Code: the idle_prompt Notification after a minute at the prompt


def idle_notifier(run: Optional["Run"], seconds: Optional[float] = None) -> Any:
    """A started timer that fires the ``idle_prompt`` Notification hooks once the prompt has waited
    ``seconds`` (``CLAW_IDLE_NOTIFICATION_SECONDS``, default 60); None without such hooks. The hooks
    run on the timer's thread in an event loop of their own: the REPL's loop is idle while
    ``input()`` blocks."""
    hooks = run.hooks if run is not None else None
    if hooks is None or not hooks.matching("Notification", match_value="idle_prompt"):
        return None
    if seconds is None:
        try:
            seconds = float(os.environ.get("CLAW_IDLE_NOTIFICATION_SECONDS", "") or IDLE_NOTIFICATION_SECONDS)
        except ValueError:
            seconds = IDLE_NOTIFICATION_SECONDS
    import threading

    def fire() -> None:
        try:
            asyncio.run(hooks.run("Notification", {"message": "claw is waiting for your input",
                                                   "notification_type": "idle_prompt"}))
        except Exception:  # noqa: BLE001 - a notification must never disturb the prompt
            pass

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def _on_sigint(loop: asyncio.AbstractEventLoop, callback: Callable[[], Any]) -> bool:
    try:
        loop.add_signal_handler(signal.SIGINT, callback)
        return True
    except (NotImplementedError, RuntimeError, ValueError):  # no Unix signals here: Ctrl-C raises
        return False


def _off_sigint(loop: asyncio.AbstractEventLoop) -> None:
    try:
        loop.remove_signal_handler(signal.SIGINT)
    except (NotImplementedError, RuntimeError, ValueError):
        pass


def _can_sign_in(error: ClawError) -> bool:
    """No Anthropic credentials at all, on a terminal: ``/login`` can fix that without leaving."""
    return (error.kind == "missing_credentials" and "claw login" in (error.hint or "")
            and sys.stdin.isatty())


def sign_in_first() -> bool:
    """Before the REPL can start: offer ``/login`` (the only thing that helps); True once signed in."""
    from claw.cli.login_cmd import run_login
    from claw.cli.slash import parse

    sys.stderr.write("Sign in now with /login (/login --no-browser over SSH), or leave with Ctrl-D.\n")
    while True:
        try:
            line = read_prompt().strip()
        except (EOFError, KeyboardInterrupt):
            sys.stderr.write("\n")
            return False
        name, rest = parse(line) if line.startswith("/") else ("", "")
        if name == "login":
            try:
                if run_login(rest.split()) == 0:
                    return True
            except SystemExit:  # /login --help
                pass
        elif name in ("exit", "quit", "q"):
            return False
        elif line:
            sys.stderr.write("not signed in yet: /login to sign in, or Ctrl-D to leave\n")


TRUST_QUESTION = """\
Do you trust the files in this folder?
  {folder}
Its project settings ({files}) want to set: {keys}.
Trusting the folder lets them run commands (hooks, MCP servers, apiKeyHelper), change the environment
(e.g. where the API key is sent), allow tools and widen the permission mode. If you say no, claw
ignores those keys for this run and asks again next time (claw trust DIR trusts a folder any time).
Trust this folder? [y/N] """


def trust_question(args: RunArgs) -> None:
    """The REPL's one-time question: on a start in a folder that is not trusted and whose project
    settings hold something only trust unlocks, ask; "yes" records the folder (``claw trust``)."""
    from claw.cli.setup import project_dir
    from claw.cli.tty_prompt import ask_yes_no
    from claw.config import trust
    from claw.config.loader import load_settings

    if args.setting_sources is not None:
        return  # the sources were chosen on the command line
    env = dict(os.environ)
    try:
        cwd = str(project_dir(args))
        loaded = load_settings(cwd, env, args.settings, strict=False)
    except ClawError:
        return  # setup reports it
    if loaded.project_trusted or not loaded.ignored:
        return
    files = ", ".join(os.path.relpath(name, cwd) for name, _ in loaded.ignored)
    keys = ", ".join(dict.fromkeys(key for _, found in loaded.ignored for key in found))
    answer = ask_yes_no(TRUST_QUESTION.format(folder=loaded.trust.folder, files=files, keys=keys))
    if not answer:
        sys.stderr.write("not trusted: the keys above are ignored for this run\n")
        return
    try:
        recorded = trust.add_trust(cwd, env, cwd)
    except ClawError as exc:
        sys.stderr.write(render_error(exc) + "\n")
        return
    sys.stderr.write(f"trusted: {recorded} (claw trust --remove undoes it)\n")


def run(argv: List[str]) -> int:
    try:
        args = parse_run_args(argv)
    except ClawError as exc:
        sys.stderr.write(render_error(exc) + "\n")
        return exc.exit_code
    trust_question(args)
    repl = Repl(args)
    while True:
        try:
            repl.setup()
            break
        except ClawError as exc:
            sys.stderr.write(render_error(exc) + "\n")
            if _can_sign_in(exc) and sign_in_first():
                continue  # signed in: set up again with the saved login
            repl.close()
            return exc.exit_code
        except (asyncio.CancelledError, KeyboardInterrupt):
            sys.stderr.write("\ninterrupted\n")
            repl.close()
            return 130
    try:
        repl.banner()
        return repl.serve(args.prompt)
    finally:
        repl.close()
