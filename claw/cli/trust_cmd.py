"""``claw trust``: record, list and forget trusted folders (``claw.config.trust``).

``claw trust [DIR]`` trusts DIR (default: the current directory) and everything below it;
``claw trust --list`` prints the trusted folders, one a line; ``claw trust --remove DIR`` forgets one.
It only edits the trust store in the config home: no settings are loaded, nothing is started.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List

DESCRIPTION = """\
Trust a folder: its project settings (.claw.json, .claw/settings*.json|toml, .mcp.json) may then
set hooks, env, apiKeyHelper, permissions.allow, permissions.additionalDirectories, a wider
permissions.defaultMode, MCP servers, oauth and network proxy/CA settings. In a folder that is not
trusted claw ignores those keys (with a warning) and applies the rest. Trusting a folder trusts
everything below it. The list lives in $CLAW_CONFIG_HOME/trusted-folders.json. For one run,
CLAW_TRUST_PROJECT=1 trusts the folder without recording it."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claw trust", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", nargs="?", default=None, help="the folder to trust (default: the current one)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--list", action="store_true", help="print the trusted folders, one a line")
    group.add_argument("--remove", metavar="DIR", default=None, help="forget a trusted folder")
    return parser


def run(argv: List[str]) -> int:
    from claw.cli.errors import render_error
    from claw.config import trust
    from claw.errors import ClawError

    parser = _parser()
    args = parser.parse_args(argv)
    if (args.list or args.remove is not None) and args.dir is not None:
        parser.error("a folder cannot be given with --list or --remove")
    env = dict(os.environ)
    cwd = os.getcwd()
    try:
        if args.list:
            folders = trust.trusted_folders(env, cwd)
            sys.stdout.write("".join(f"{folder}\n" for folder in folders))
            if not folders:
                sys.stderr.write("no trusted folders (claw trust DIR adds one)\n")
            return 0
        if args.remove is not None:
            removed = trust.remove_trust(args.remove, env, cwd)
            if removed is None:
                sys.stderr.write(f"claw trust: {args.remove} is not a trusted folder\n"
                                 "hint: claw trust --list shows them\n")
                return 1
            sys.stdout.write(f"no longer trusted: {removed}\n")
            still = trust.trusted_parent(removed, env) if os.path.isdir(removed) else None
            if still is not None:
                sys.stderr.write(f"note: it is still trusted through {still}\n")
            return 0
        folder = args.dir or cwd
        if not os.path.isdir(folder):
            sys.stderr.write(f"claw trust: {folder} is not a directory\n")
            return 2
        recorded = trust.add_trust(folder, env, cwd)
        sys.stdout.write(f"trusted: {recorded}\n")
        return 0
    except ClawError as exc:
        sys.stderr.write(render_error(exc) + "\n")
        return exc.exit_code
