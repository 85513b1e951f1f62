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
}

HELP = """\
claw {version} - a coding agent for your terminal, in one file

Usage:
  claw [options] [prompt]          start the REPL (on a TTY), with an optional first prompt
  claw -p [options] [prompt]       one headless run; with no prompt, stdin is the prompt
  claw <command> [options]         run a command (see below)

Commands:
  doctor      check Python, the .pyz, TLS trust, proxies and configuration
  version     print version details
  help        show this help

Options:
  -p, --print              headless: print the answer and exit
  --output-format FORMAT   text | json | stream-json
  --model MODEL            model name or alias (opus, sonnet, haiku)
  -v, --version            print the version and exit
  -h, --help               show this help

Every command takes --help. Docs: docs/ in the source tree.
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-v", "--version"):
        sys.stdout.write(f"{__version__} (claw)\n")
        return 0
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(HELP.format(version=__version__))
        return 0
    if args[0] == "version":
        return _version_details()
    target = SUBCOMMANDS.get(args[0])
    if target is None:
        sys.stderr.write(f"claw: unknown command {args[0]!r}\nhint: run 'claw --help' to list commands\n")
        return 2
    module_name, func_name = target.split(":")
    import importlib

    return int(getattr(importlib.import_module(module_name), func_name)(args[1:]) or 0)


def _version_details() -> int:
    import platform

    lines = [f"claw {__version__}", f"python {platform.python_version()} ({sys.executable})"]
    from claw import _vendor

    for name in _vendor.VENDORED:
        try:
            mod = getattr(_vendor, name)
            lines.append(f"{name} {getattr(mod, '__version__', '?')}")
        except ImportError:
            lines.append(f"{name} (not available)")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def entry() -> None:
    """Console-script and ``python -m claw`` entry: exit with main's code."""
    try:
        code = main()
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        code = 130
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``claw ... | head``): not our failure, and no traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)
