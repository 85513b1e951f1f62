"""``claw remote-control serve``: argv to a running ``claw.remote.serve.Serve``.

Parses the flags; resolves settings, network, credential and base URL as every ``remote-control``
subcommand does (``claw.cli.remote_cmd``), reconnects the environment ``.claw/remote.json`` records
(registers one when there is none or the server forgot it); hands SIGINT/SIGTERM/SIGHUP to serve's
clean stop (exit 0); serve records worker process groups with ``claw.process_groups`` so they die with
serve. docs/REMOTE.md ("serve") is the user's page.

It does not poll or spawn anything itself (claw.remote.serve does).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Tuple

FLAGS = (  # (flag, argparse keywords): ms values are ints
    ("--cwd", {}), ("--settings", {}), ("--base-url", {}), ("--token-file", {}),
    ("--worker-command", {}),
    ("--spawn-mode", {"choices": ("same-dir", "worktree"), "default": "same-dir"}),
    ("--max-sessions", {"type": int, "default": 4}),
    ("--session-timeout-ms", {"type": int}), ("--reclaim-older-than-ms", {"type": int}),
    ("--poll-interval-ms", {"type": int, "default": 2000}), ("--heartbeat-interval-ms", {"type": int, "default": 20000}),
    ("--archive-on-exit", {"action": "store_true"}), ("--deregister-on-exit", {"action": "store_true"}),
    ("--state-file", {}),
)


def run(argv: List[str]) -> int:
    from claw.cli.config_cmd import _Parser  # usage errors with a hint, as every claw command
    from claw.cli.errors import render_error
    from claw.errors import ClawError, UsageError

    try:
        parser = _Parser(prog="claw remote-control serve",
                         description="Poll the connected environment and run one worker per session "
                                     "(docs/REMOTE.md, \"serve\").")
        for flag, kw in FLAGS:
            parser.add_argument(flag, **kw)
        args = parser.parse_args(argv)
        if args.max_sessions < 1:
            raise UsageError("remote-control serve: --max-sessions must be at least 1")
        return _run(args)
    except ClawError as exc:
        sys.stderr.write(render_error(exc) + "\n")
        return exc.exit_code


def _worker(args: Any) -> Tuple[List[str], Dict[str, str]]:
    """The worker command and the variables it needs besides the work's: claw itself by default (the
    .pyz, else ``python -m claw`` with this claw on PYTHONPATH, whatever the worker's cwd)."""
    if args.worker_command:
        import shlex

        return shlex.split(args.worker_command), {}
    tail = ["remote-control", "bridge-worker"]
    main = sys.argv[0] if sys.argv else ""
    if os.path.isfile(main) and not main.endswith("__main__.py"):  # the .pyz
        return [sys.executable, os.path.abspath(main)] + tail, {}
    import claw

    root = os.path.dirname(os.path.dirname(os.path.abspath(claw.__file__)))
    return [sys.executable, "-m", "claw"] + tail, {
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}


def _run(args: Any) -> int:
    import asyncio
    import json

    from claw.cli import exit_signals
    from claw.cli.remote_cmd import _Command, _git, _reconnect, _register
    from claw.errors import UsageError
    from claw.remote.environments import RemoteGoneError
    from claw.remote.remote_state import serve_state_path
    from claw.remote.serve import Serve, ServeOptions
    from claw.remote.supervisor import Limits, Supervisor

    args.action, args.name, args.worker_type, args.session_id = "serve", None, "claw", None
    cmd = _Command(args)
    git_root = _git(cmd.cwd, "rev-parse", "--show-toplevel") if args.spawn_mode == "worktree" else None
    if args.spawn_mode == "worktree" and git_root is None:
        raise UsageError("remote-control serve: --spawn-mode worktree needs a git repository",
                         hint="run it inside a git checkout, or use --spawn-mode same-dir")
    if cmd.state is not None:
        try:
            _reconnect(cmd)
        except RemoteGoneError:
            cmd.state = None
    if cmd.state is None:
        _register(cmd)  # also: no credential is a clear error here
    state, redactor = cmd.state, cmd.redactor
    redactor.add_secret(state.environment_secret)
    state_file = args.state_file or serve_state_path(cmd.cwd)
    try:
        with open(state_file, "rb") as fh:
            saved = json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError):
        saved = None
    if not isinstance(saved, dict) or saved.get("environment_id") != state.environment_id:
        saved = None  # another environment's items are not ours to requeue
    limits = Limits(args.max_sessions, args.session_timeout_ms, max(1, args.heartbeat_interval_ms))
    worker, worker_env = _worker(args)
    opts = ServeOptions(state.environment_id, state.environment_secret, worker, worker_env, state_file, cmd.cwd,
                        git_root, args.poll_interval_ms, args.reclaim_older_than_ms, args.archive_on_exit,
                        args.deregister_on_exit, {"base_url": cmd.base_url})

    def log(line: str) -> None:
        sys.stderr.write(f"claw serve: {redactor.redact_text(line)}\n")
        sys.stderr.flush()

    async def main() -> int:
        from claw.api.retry import RetryPolicy
        from claw.remote.env_client import EnvironmentsClient

        retry = RetryPolicy.from_env(cmd.env, max_retries=cmd.settings.network.max_retries)
        async with EnvironmentsClient(cmd.base_url, cmd.credential.token, net_config=cmd.net_config,
                                      redactor=redactor, retry=retry) as client:
            serve = Serve(opts, client, Supervisor.from_json(saved, limits), redactor, log)
            log(f"environment {state.environment_id}: serving {cmd.cwd} (up to {args.max_sessions} sessions)")
            loop = asyncio.get_running_loop()
            exit_signals.on_loop(loop, serve.request_stop)  # a clean stop, exit 0
            try:
                return await serve.run()
            finally:
                exit_signals.off_loop(loop)

    return asyncio.run(main())
