"""Entry point: argv to a subcommand, with a fast path for ``--version`` and ``--help``.

Start-up is a feature: this module imports only ``sys`` and ``os`` at top level. Each subcommand lives in
its own module, imported only when that subcommand runs, and exposes ``run(argv: list[str]) -> int``.
"""

from __future__ import annotations

import os
import sys

from claw import __version__

# subcommand -> "module:function"; imported lazily.
SUBCOMMANDS = {
    "doctor": "claw.cli.doctor:run",
    "config": "claw.cli.config_cmd:run",
    "prompt": "claw.cli.main:_prompt_command",
    "init": "claw.cli.init_cmd:run",
    "login": "claw.cli.login_cmd:run_login",
    "logout": "claw.cli.login_cmd:run_logout",
    "whoami": "claw.cli.login_cmd:run_whoami",
    "status": "claw.cli.status_cmd:run",
    "sessions": "claw.cli.sessions_cmd:run",
    "mcp": "claw.cli.mcp_cmd:run",
    "trust": "claw.cli.trust_cmd:run",
    "remote-control": "claw.cli.remote_cmd:run",
    "plugin": "claw.cli.plugin_cmd:run",
}

HELP = """\
claw {version} - a coding agent for your terminal, in one file

Usage:
  claw [options] [prompt]          start the REPL (on a TTY), with an optional first prompt
  claw -p [options] [prompt]       one headless run; with no prompt, stdin is the prompt
  claw <command> [options]         run a command (see below)

Commands:
  prompt      one headless run, like -p
  doctor      check Python, the .pyz, settings, credentials, TLS trust, proxies and the API
              (--offline: no network)
  status      show the model, permission mode, credentials source, settings files and
              session a run here would use (no network)
  sessions    list, show, export or remove the sessions of this project
  mcp         list, inspect, add or remove MCP servers; `claw mcp serve` exposes claw's tools
  plugin      add local marketplaces; install, enable, disable, validate plugins
  config      show and edit settings (list, get, set, unset, add, remove, path)
  init        set this project up for claw (.claw/settings.json, CLAW.md)
  trust       trust a folder's project settings (hooks, env, MCP servers...); --list, --remove
  login       sign in with an Anthropic account (--no-browser over SSH)
  logout      remove the saved login
  whoami      show which credentials Anthropic requests use
  remote-control  register this machine as a remote-control environment, poll and manage its
              work, serve sessions (connect, status, poll-work, serve... see --help)
  version     print version details
  help        show this help; `claw help TOPIC` prints a page of the documentation

Options (headless and REPL; Claude Code's names):
  -p, --print                  headless: print the answer and exit
  --output-format FORMAT       text | json | stream-json
  --input-format FORMAT        text | stream-json (drive claw from a program: docs/EMBEDDING.md)
  --include-partial-messages   stream-json: also print the model's stream events
  --model MODEL                a model or alias (opus, sonnet, haiku; anthropic/, openai/, xai/,
                               ollama/, local/ prefixes)
  --permission-mode MODE       read-only | workspace-write | danger-full-access | default
                               (also plan, acceptEdits, bypassPermissions, dontAsk)
  --dangerously-skip-permissions   the same as --permission-mode bypassPermissions
  --tools LIST                 the tools offered to the model ("default" = all, "" = none)
  --allowedTools LIST          pre-approved tools and rules, e.g. "Read,Bash(git status:*)"
  --disallowedTools LIST       removed and denied tools and rules
  --permission-prompt-tool stdio   ask the embedding host to approve tool calls
  --max-turns N                stop after N model turns (a failure, exit 1)
  --system-prompt TEXT         replace the base system prompt
  --append-system-prompt TEXT  append to the system prompt (--append-system-prompt-file FILE)
  -c, --continue               continue the latest session of this directory
  -r, --resume ID              resume a session (a unique id prefix is enough)
  --fork-session               with --resume/--continue: continue in a new session
  --session-id UUID            the id of a new session
  --no-session-persistence     write no session file
  --mcp-config FILE|JSON       MCP servers (repeatable); --strict-mcp-config: only these
  --disable-slash-commands     no custom slash commands, MCP prompt commands or skills
  --plugin-dir DIR             load the plugin in DIR for this run (repeatable)
  --settings FILE|JSON         settings applied last
  --setting-sources LIST       load only these settings files: user,project,local ("" = none);
                               naming project or local trusts the folder for this run
  --add-dir DIR                another directory the tools may work in (repeatable)
  --cwd DIR                    run in DIR instead of the current directory
  --verbose                    more detail on stderr
  -v, --version                print the version and exit
  -h, --help                   show this help

Exit codes: 0 success, 1 the run failed, 2 usage or configuration error, 130 interrupted,
143/129 stopped by SIGTERM/SIGHUP.
Every command takes --help. The documentation: claw help TOPIC (claw help topics lists them).
"""


def main(argv: list[str] | None = None, *, own_process: bool = False) -> int:
    """Run claw with ``argv`` (default: the command line); ``own_process`` when this process is claw's
    own (the console entry), which lets start-up turn the garbage collector off (claw.cli.startup_gc)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-v", "--version"):
        sys.stdout.write(f"{__version__} (claw)\n")
        return 0
    if not args:
        return _run_command(args, own_process)  # the REPL on a terminal; piped stdin is the prompt of a headless run
    if args[0] in ("-h", "--help"):
        sys.stdout.write(HELP.format(version=__version__))
        return 0
    if args[0] == "help":
        from claw.cli.help_cmd import run as run_help

        return run_help(args[1:], HELP.format(version=__version__))
    if args[0] == "version":
        return _version_details()
    target = SUBCOMMANDS.get(args[0])
    if target is None:
        return _run_command(args, own_process)
    module_name, func_name = target.split(":")
    import importlib

    return int(getattr(importlib.import_module(module_name), func_name)(args[1:]) or 0)


def _looks_like_command(word: str) -> bool:
    return word.isalpha() and word.islower() and " " not in word


def _run_command(args: list[str], own_process: bool = False) -> int:
    """No subcommand: a headless run (-p, piped stdin, JSON formats) or the REPL on a terminal."""
    if "-h" in args or "--help" in args:
        sys.stdout.write(HELP.format(version=__version__))
        return 0
    if own_process:
        from claw.cli import startup_gc

        startup_gc.pause()  # each run mode resumes it once it is set up
    first = args[0] if args else "-"
    if not first.startswith("-") and _looks_like_command(first) and len(args) == 1:
        # `claw lgoin` is far more likely a mistyped command than a one-word prompt.
        import difflib

        close = difflib.get_close_matches(first, list(SUBCOMMANDS) + ["version", "help"], n=1)
        if close:
            sys.stderr.write(f"claw: unknown command {first!r}\nhint: did you mean 'claw {close[0]}'?\n")
            return 2
    from claw.cli.args import read_run_args

    parsed, _ = read_run_args(args)  # a usage error is reported by the front end the flags choose
    if parsed.headless or not sys.stdin.isatty():
        from claw.cli.headless import run

        return run(args)
    from claw.cli.repl import run as run_repl

    return run_repl(args)


def _prompt_command(args: list[str]) -> int:
    """`claw prompt "text"`: the same as `claw -p "text"`."""
    if "-h" in args or "--help" in args:
        sys.stdout.write(HELP.format(version=__version__))
        return 0
    from claw.cli.headless import run

    return run(["-p"] + args)


def _version_details() -> int:
    import platform

    lines = [f"claw {__version__}", f"python {platform.python_version()} ({sys.executable})"]
    from claw import _vendor

    for name in _vendor.VENDORED:
        lines.append(_vendor.describe(name) or f"{name} (not available)")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def entry() -> None:
    """Console-script and ``python -m claw`` entry: exit with main's code. SIGTERM and SIGHUP end claw
    like Ctrl-C does (exit 143, 129); on every way out the tool processes claw started are killed."""
    from claw.cli import exit_signals

    exit_signals.install()
    exit_signals.on_forced_exit(_stop_tool_processes)
    try:
        try:
            code = main(own_process=True)
        except KeyboardInterrupt:
            sys.stderr.write("\ninterrupted\n")
            code = 130
        except exit_signals.SignalExit:
            code = 1  # replaced by 128 + signo below
        except BrokenPipeError:  # the reader went away (``claw --help | head -1``): quietly, as SIGPIPE would
            code = 141
        code = exit_signals.exit_code(code)
    except exit_signals.SignalExit as late:  # a signal while finishing up
        code = 128 + late.signo
    finally:
        exit_signals.disarm()
        _stop_tool_processes()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):
            pass  # the reader went away (``claw ... | head``): not our failure, and no traceback
    # Everything claw writes is flushed or closed by now (sessions are written with os.write and
    # closed, settings and credentials replaced atomically), so skip the interpreter's teardown:
    # it costs 25-75 ms after a run and would wait on worker threads still blocked on a terminal read.
    os._exit(code)


def _stop_tool_processes() -> None:
    """Kill the process groups tools started (claw.process_groups), if any tool ran at all."""
    groups = sys.modules.get("claw.process_groups")
    if groups is None:
        return
    import signal

    from claw.cli.exit_signals import SIGNALS

    for sig in SIGNALS:  # no second signal may interrupt the cleanup
        try:
            signal.signal(sig, signal.SIG_IGN)
        except (OSError, ValueError):
            pass
    try:
        groups.shutdown()
    except BaseException:
        pass
