"""One headless run: ``claw -p``, ``claw prompt``, or a prompt piped on stdin.

Parses the flags, opens the run (claw.runtime.run), runs one user turn, writes the output format, and returns the
exit code: 0 success, 1 a failed run (API, tools, max turns), 2 usage or configuration, 130
interrupted. A failed run never exits 0, and in the JSON formats every failure — usage errors and
failures before the first request included — is one result object with ``is_error: true``.

Ctrl-C (SIGINT), SIGTERM and SIGHUP cancel the run cleanly: the session keeps a consistent history and
the result says ``interrupted``; claw then exits 130, 143 or 129 (``claw.cli.exit_signals``). The stream-json *input* protocol lives in claw.cli.stream_json.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import IO, TYPE_CHECKING, List, Optional

from claw.cli import exit_signals, startup_gc
from claw.cli.args import RunArgs, read_run_args
from claw.cli.output import OutputWriter, RunInfo, make_writer
from claw.errors import ClawError, Interrupted, UsageError

if TYPE_CHECKING:
    from claw.runtime.events import TurnOutcome
    from claw.runtime.run import Run


def run(argv: List[str], *, stdin: Optional[IO[str]] = None, stdout: Optional[IO[str]] = None,
        stderr: Optional[IO[str]] = None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    started = time.monotonic()
    args, error = read_run_args(argv)
    fmt = args.requested_output_format
    try:
        if error is not None:
            raise error
        if args.input_format == "stream-json":
            from claw.cli.stream_json import run_stream_json

            return run_stream_json(args, stdin=stdin, stdout=stdout, stderr=stderr)
        prompt = _prompt(args, stdin)
        return asyncio.run(_run(args, prompt, stdout=stdout, stderr=stderr, started=started))
    except ClawError as exc:
        _report_early(fmt, exc, stdout, stderr, started)
        return exc.exit_code


def _prompt(args: RunArgs, stdin: IO[str]) -> str:
    if args.prompt:
        if not _isatty(stdin) and args.print_mode:
            piped = stdin.read()
            if piped.strip():  # `cat file | claw -p "explain"`: the piped text comes with the prompt
                return f"{args.prompt}\n\n{piped}"
        return args.prompt
    if not _isatty(stdin):
        text = stdin.read()
        if text.strip():
            return text
    raise UsageError("no prompt given", hint='pass it as an argument (claw -p "...") or pipe it on stdin')


async def _run(args: RunArgs, prompt: str, *, stdout: IO[str], stderr: IO[str], started: float) -> int:
    from claw.cli.setup import run_options
    from claw.cli.tty_prompt import ask_on_tty, tty_available
    from claw.runtime.run_open import open_run

    holder: List[OutputWriter] = []

    def sink(event: object) -> None:
        holder[0](event)

    prompter = ask_on_tty if args.output_format == "text" and tty_available() else None
    run = await open_run(run_options(args), sink=sink, prompter=prompter)
    async with run:
        writer = make_writer(args.output_format, run.info, partial=args.include_partial_messages,
                             verbose=args.verbose, stdout=stdout, stderr=stderr, redactor=run.redactor)
        holder.append(writer)
        if args.include_hook_events and args.output_format == "stream-json" and run.hooks is not None:
            from claw.cli.sdk_shapes import hook_event_observer

            run.hooks.observer = hook_event_observer(writer.emit, run.info)
        for text in run.notices():
            writer.notice(text)
        startup_gc.resume()
        writer.start()
        for warning in run.session.warnings:  # a damaged session file: which lines were skipped
            writer.warning(warning)
        outcome = None
        error: Optional[ClawError] = None
        task = asyncio.ensure_future(_one_turn(run, prompt))
        loop = asyncio.get_running_loop()
        _on_signals(loop, task)
        try:
            outcome = await task
        except asyncio.CancelledError:
            error = Interrupted("interrupted", hint=f"resume with: claw --resume {run.session.id}")
        except ClawError as exc:
            error = exc
        finally:
            exit_signals.off_loop(loop)
    writer.finish(outcome, duration_ms=_ms(started), error=error)
    if error is not None:
        return error.exit_code
    if outcome is not None and outcome.is_error:
        err = outcome.error
        return err.exit_code if isinstance(err, ClawError) else 1
    return 0


async def _one_turn(run: "Run", prompt: str) -> "TurnOutcome":
    await run.agent.session_start(run.start_source)
    try:
        return await run.turn(prompt)
    finally:
        await asyncio.shield(run.agent.session_end("other"))


def _report_early(fmt: str, exc: ClawError, stdout: IO[str], stderr: IO[str], started: float) -> None:
    """A failure before the run could start: still one result object in the JSON formats, and in
    them the message on stderr too (an embedding SDK quotes the process's stderr in the error it
    throws; the text writer prints it there already)."""
    info = RunInfo(session_id="", model="", cwd="", permission_mode="")
    writer = make_writer(fmt, info, stdout=stdout, stderr=stderr)
    writer.finish(None, duration_ms=_ms(started), error=exc)
    if fmt != "text":
        from claw.cli.errors import render_error

        stderr.write(render_error(exc) + "\n")
        stderr.flush()


def _on_signals(loop: asyncio.AbstractEventLoop, task: "asyncio.Future[object]") -> None:
    def stop(sig: int) -> None:
        exit_signals.note(sig)  # claw exits with 128 + sig once the run has wound down
        task.cancel()

    exit_signals.on_loop(loop, stop, with_signo=True)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
