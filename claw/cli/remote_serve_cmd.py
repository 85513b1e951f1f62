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
from typing import Any, List, Optional

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
    p.add_argument("--base-url", help="the environments API (default: the recorded one, else "
                                      "CLAW_REMOTE_BASE_URL, ANTHROPIC_BASE_URL, https://api.anthropic.com)")
    p.add_argument("--token-file", help="a file holding the bridge token (else CLAW_BRIDGE_TOKEN)")
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
            raise UsageError("claw remote-control serve: --max-sessions must be at least 1")
        return _run(args)
    except ClawError as exc:
        sys.stderr.write(render_error(exc) + "\n")
        return exc.exit_code


def _token(args: argparse.Namespace) -> str:
    from claw.errors import ConfigError, UsageError

    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {args.token_file}: {exc.strerror or exc}") from None
    else:
        token = os.environ.get("CLAW_BRIDGE_TOKEN", "").strip()
    if not token:
        raise UsageError("claw remote-control serve: no bridge token",
                         hint="set CLAW_BRIDGE_TOKEN or pass --token-file")
    return token


def _worker(args: argparse.Namespace) -> List[str]:
    if args.worker_command:
        import shlex

        return shlex.split(args.worker_command)
    main = sys.argv[0] if sys.argv else ""
    if main and os.path.isfile(main) and not main.endswith("__main__.py"):  # the .pyz (or a script)
        return [sys.executable, os.path.abspath(main), "remote-control", "bridge-worker"]
    return [sys.executable, "-m", "claw", "remote-control", "bridge-worker"]  # PYTHONPATH: see _run


def _worker_env(args: argparse.Namespace) -> dict:
    """``python -m claw`` workers import this claw whatever their cwd."""
    if args.worker_command or (sys.argv and os.path.isfile(sys.argv[0]) and not sys.argv[0].endswith("__main__.py")):
        return {}
    import claw

    root = os.path.dirname(os.path.dirname(os.path.abspath(claw.__file__)))
    return {"PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}


def _git(cwd: str, *argv: str) -> Optional[str]:
    import subprocess

    try:
        out = subprocess.run(["git", *argv], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


async def _environment(client: Any, cwd: str, base_url: str, args: argparse.Namespace) -> Any:
    """The recorded environment, reconnected (gone: registered again), or a new one; recorded."""
    import socket
    import time

    from claw.remote import remote_state

    state = remote_state.load_state(cwd)
    env = None
    if state is not None and state.base_url.rstrip("/") == base_url.rstrip("/"):
        from claw.remote.environments import RemoteGoneError

        try:
            env = await client.reconnect_environment(state.environment_id)
        except RemoteGoneError:
            env = None
        if env is not None:
            state.environment_secret = env.environment_secret or state.environment_secret
            state.reconnected_at = time.time()
    if env is None:
        branch, repo = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD"), _git(cwd, "remote", "get-url", "origin")
        env = await client.register_bridge(machine_name=socket.gethostname(), directory=cwd, branch=branch,
                                           git_repo_url=repo, max_sessions=args.max_sessions, worker_type="claw")
        state = remote_state.RemoteState(env.environment_id, base_url, env.environment_secret, time.time(),
                                         machine_name=socket.gethostname(), directory=cwd, branch=branch,
                                         git_repo_url=repo, max_sessions=args.max_sessions)
    remote_state.save_state(cwd, state)
    return state


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from claw.redact import Redactor
    from claw.remote.env_client import EnvironmentsClient
    from claw.remote.remote_state import serve_state_path
    from claw.remote.serve import Serve, ServeOptions
    from claw.remote.supervisor import Limits, Supervisor
    from claw.tools import process_groups

    cwd = os.getcwd()
    token = _token(args)
    redactor = Redactor.from_env(os.environ)
    redactor.add_secret(token)
    state_file = args.state_file or serve_state_path(cwd)
    limits = Limits(max_sessions=args.max_sessions, session_timeout_ms=args.session_timeout_ms,
                    heartbeat_ms=max(1, args.heartbeat_interval_ms))
    git_root = _git(cwd, "rev-parse", "--show-toplevel") if args.spawn_mode == "worktree" else None
    if args.spawn_mode == "worktree" and git_root is None:
        from claw.errors import UsageError

        raise UsageError("claw remote-control serve: --spawn-mode worktree needs a git repository",
                         hint="run it inside a git checkout, or use --spawn-mode same-dir")

    def log(line: str) -> None:
        sys.stderr.write(f"claw serve: {redactor.redact_text(line)}\n")
        sys.stderr.flush()

    async def main() -> int:
        base_url = args.base_url or os.environ.get("CLAW_REMOTE_BASE_URL") or os.environ.get("ANTHROPIC_BASE_URL") \
            or "https://api.anthropic.com"
        async with EnvironmentsClient(base_url, token, redactor=redactor) as client:
            state = await _environment(client, cwd, base_url, args)
            redactor.add_secret(state.environment_secret)
            sup = Supervisor.from_json(_read(state_file), limits)
            opts = ServeOptions(state.environment_id, _worker(args), state_file, cwd=cwd, spawn_mode=args.spawn_mode,
                                poll_ms=args.poll_interval_ms, reclaim_older_than_ms=args.reclaim_older_than_ms,
                                archive_on_exit=args.archive_on_exit, deregister_on_exit=args.deregister_on_exit,
                                limits=limits, header={"base_url": base_url}, worker_env=_worker_env(args))
            serve = Serve(opts, _Polling(client, state.environment_secret), sup, redactor=redactor,
                          groups=process_groups, log=log, git_root=git_root)
            log(f"environment {state.environment_id}: serving {cwd} (up to {args.max_sessions} sessions)")
            loop = asyncio.get_running_loop()
            _on_signals(loop, serve.request_stop)
            try:
                return await serve.run()
            finally:
                _off_signals(loop)

    def _read(path: str) -> Any:
        try:
            with open(path, "rb") as fh:
                return json.loads(fh.read().decode("utf-8"))
        except (OSError, ValueError):
            return None

    return asyncio.run(main())


class _Polling:
    """The client, with the environment secret polls need."""

    def __init__(self, client: Any, secret: str) -> None:
        self._client, self._secret = client, secret

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def poll_work(self, env_id: str, **kw: Any) -> Any:
        return await self._client.poll_work(env_id, environment_secret=self._secret or None, **kw)


def _on_signals(loop: Any, stop: Any) -> None:
    import signal

    from claw.cli.exit_signals import SIGNALS

    for sig in (signal.SIGINT,) + SIGNALS:
        try:
            loop.add_signal_handler(sig, stop)
        except (NotImplementedError, RuntimeError, ValueError):
            pass


def _off_signals(loop: Any) -> None:
    import signal

    from claw.cli import exit_signals

    for sig in (signal.SIGINT,) + exit_signals.SIGNALS:
        try:
            loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    exit_signals.restore()
