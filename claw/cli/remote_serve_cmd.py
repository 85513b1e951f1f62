"""``claw remote-control serve``: argv to a running ``claw.remote.serve.Serve``.

Parses the flags, finds the bridge credential and the environment (the one ``.claw/remote.json``
records, reconnected; else a new registration, recorded there), reads the serve state file (a restart
picks up where the last serve left), installs SIGTERM/SIGINT/SIGHUP handlers that stop serve cleanly
(exit 0), and runs it. Worker process groups are recorded with ``claw.tools.process_groups``, so they
die with serve. docs/REMOTE.md ("serve") is the user's page.

It does not poll or spawn anything itself (claw.remote.serve does).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, List, Tuple

DESCRIPTION = """\
Run this machine as a remote-control environment: poll the environments API for work, start one
worker per session (claw remote-control bridge-worker, or --worker-command), heartbeat its lease,
stop it when the worker exits. SIGTERM or Ctrl-C stops every worker and its work item. State:
.claw/remote-serve.json (`claw remote-control status` shows it)."""


def _ms(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="claw remote-control serve", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cwd", metavar="DIR", help="project directory (default: the current directory)")
    p.add_argument("--settings", metavar="FILE|JSON", help="extra settings file or inline JSON")
    p.add_argument("--base-url", metavar="URL", help="the environments API (as for the other subcommands)")
    p.add_argument("--token-file", metavar="FILE", help="read the bridge token from FILE")
    p.add_argument("--worker-command", help="the worker to start per session (a shell-quoted command; "
                                            "the work arguments are appended)")
    p.add_argument("--spawn-mode", choices=("same-dir", "worktree"), default="same-dir",
                   help="worktree: each session in a disposable git worktree")
    p.add_argument("--max-sessions", type=int, default=4, help="sessions run at once (default 4)")
    p.add_argument("--session-timeout-ms", type=_ms, help="stop a worker running longer than this")
    p.add_argument("--reclaim-older-than-ms", type=_ms, help="also take work handed out but not acked this long ago")
    p.add_argument("--poll-interval-ms", type=_ms, default=2000, help="between empty polls (default 2000)")
    p.add_argument("--heartbeat-interval-ms", type=_ms, default=20000, help="between heartbeats (default 20000)")
    p.add_argument("--archive-on-exit", action="store_true", help="archive the sessions served, on exit")
    p.add_argument("--deregister-on-exit", action="store_true", help="deregister the environment, on exit")
    p.add_argument("--state-file", help="default: .claw/remote-serve.json")
    return p


def run(argv: List[str]) -> int:
    from claw.cli.errors import render_error
    from claw.errors import ClawError, UsageError

    args = _parser().parse_args(argv)
    try:
        if args.max_sessions < 1:
            raise UsageError("remote-control serve: --max-sessions must be at least 1")
        return _run(args)
    except ClawError as exc:
        sys.stderr.write(render_error(exc) + "\n")
        return exc.exit_code


def _worker(args: argparse.Namespace) -> Tuple[List[str], Dict[str, str]]:
    """The worker command prefix and the variables it needs besides the work's: claw itself by default
    (the .pyz, else ``python -m claw`` with this claw on PYTHONPATH, whatever the worker's cwd)."""
    if args.worker_command:
        import shlex

        return shlex.split(args.worker_command), {}
    tail = ["remote-control", "bridge-worker"]
    main = sys.argv[0] if sys.argv else ""
    if main and os.path.isfile(main) and not main.endswith("__main__.py"):  # the .pyz
        return [sys.executable, os.path.abspath(main)] + tail, {}
    import claw

    root = os.path.dirname(os.path.dirname(os.path.abspath(claw.__file__)))
    return [sys.executable, "-m", "claw"] + tail, {
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}


def _connect(args: argparse.Namespace) -> Any:
    """E's command context, with the recorded environment reconnected (gone, or none: registered)."""
    from claw.cli.remote_cmd import _Command, _reconnect, _register
    from claw.remote.environments import RemoteGoneError

    args.json, args.name, args.worker_type, args.environment_id, args.session_id = False, None, "claw", None, None
    cmd = _Command(args)
    if cmd.state is not None:
        try:
            _reconnect(cmd)
        except RemoteGoneError:
            cmd.state = None
    if cmd.state is None:
        _register(cmd, reuse=False)
    cmd.redactor.add_secret(cmd.state.environment_secret)
    return cmd


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from claw.cli import exit_signals
    from claw.cli.remote_cmd import _git
    from claw.errors import UsageError
    from claw.remote.remote_state import serve_state_path
    from claw.remote.serve import Serve, ServeOptions
    from claw.remote.supervisor import Limits, Supervisor
    from claw.tools import process_groups

    cwd = os.path.abspath(args.cwd) if args.cwd else os.getcwd()
    git_root = _git(cwd, "rev-parse", "--show-toplevel") if args.spawn_mode == "worktree" else None
    if args.spawn_mode == "worktree" and git_root is None:
        raise UsageError("remote-control serve: --spawn-mode worktree needs a git repository",
                         hint="run it inside a git checkout, or use --spawn-mode same-dir")
    cmd = _connect(args)
    state, redactor = cmd.state, cmd.redactor
    state_file = args.state_file or serve_state_path(cmd.cwd)
    try:
        with open(state_file, "rb") as fh:
            saved = json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError):
        saved = None
    if isinstance(saved, dict) and saved.get("environment_id") != state.environment_id:
        saved = None  # another environment's items: not ours to requeue
    limits = Limits(max_sessions=args.max_sessions, session_timeout_ms=args.session_timeout_ms,
                    heartbeat_ms=max(1, args.heartbeat_interval_ms))
    worker, worker_env = _worker(args)
    opts = ServeOptions(state.environment_id, worker, state_file, cwd=cmd.cwd, spawn_mode=args.spawn_mode,
                        poll_ms=args.poll_interval_ms, reclaim_older_than_ms=args.reclaim_older_than_ms,
                        archive_on_exit=args.archive_on_exit, deregister_on_exit=args.deregister_on_exit,
                        limits=limits, header={"base_url": cmd.base_url}, worker_env=worker_env)

    def log(line: str) -> None:
        sys.stderr.write(f"claw serve: {redactor.redact_text(line)}\n")
        sys.stderr.flush()

    async def main() -> int:
        async with cmd.client() as client:
            serve = Serve(opts, _Polling(client, state.environment_secret), Supervisor.from_json(saved, limits),
                          redactor=redactor, groups=process_groups, log=log, git_root=git_root)
            log(f"environment {state.environment_id}: serving {cmd.cwd} (up to {args.max_sessions} sessions)")
            loop = asyncio.get_running_loop()
            exit_signals.on_loop(loop, serve.request_stop)  # a clean stop, exit 0
            try:
                return await serve.run()
            finally:
                exit_signals.off_loop(loop)

    return asyncio.run(main())


class _Polling:
    """The client, with the environment secret polls need."""

    def __init__(self, client: Any, secret: str) -> None:
        self._client, self._secret = client, secret

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def poll_work(self, env_id: str, **kw: Any) -> Any:
        return await self._client.poll_work(env_id, environment_secret=self._secret or None, **kw)
