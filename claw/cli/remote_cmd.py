"""``claw remote-control``: register this machine as a bridge environment and drive the environments API.

    claw remote-control connect | register-environment      register; the target goes to .claw/remote.json
    claw remote-control continue | reconnect-environment    reconnect the persisted environment
    claw remote-control status                              the persisted target and serve's state (no network)
    claw remote-control disconnect | deregister-environment deregister and forget it
    claw remote-control bridge-credentials                  where the bridge credential comes from
    claw remote-control poll-work | ack-work | heartbeat-work | stop-work   one work call each
    claw remote-control archive | register-worker | send-permission-response   session calls
    claw remote-control decode-work-secret                  the secret, tokens redacted, and its URLs
    claw remote-control serve | bridge-worker               the supervisor and the built-in worker

``serve`` and ``bridge-worker`` live in their own modules (``LAZY``), imported only when named. This
module parses argv, resolves settings, the network config, the credential and the base URL
(claw.remote.bridge_auth), calls claw.remote.env_client and prints. Every line printed goes through
the command's redactor, which knows every token used. Exit codes: 0 ok, 1 a failed call or nothing
connected, 2 usage and configuration errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional

from claw.errors import ClawError, UsageError

LAZY = {"serve": "claw.cli.remote_serve_cmd:run", "bridge-worker": "claw.cli.bridge_worker_cmd:run"}

DESCRIPTION = """\
Drive claw as a remote-control worker: register this machine as a bridge environment of the
environments API, poll and manage its work, answer permission requests, run the supervisor (serve)
and the built-in worker (bridge-worker).

The bridge credential: --token-file FILE, else CLAW_BRIDGE_TOKEN, else the saved login (claw login).
The API: --base-url, else CLAW_BRIDGE_BASE_URL, else the connected environment's, else
ANTHROPIC_BASE_URL. State: .claw/remote.json (mode 0600). See docs/REMOTE.md, "Remote control".
"""

_HELP = {
    "connect": "register this machine (re-using the connected environment's id) and save the target",
    "register-environment": "register a new environment (never re-using one) and save the target",
    "continue": "reconnect the connected environment",
    "reconnect-environment": "reconnect the connected environment (or --environment-id)",
    "status": "show the connected environment and serve's state (no network)",
    "disconnect": "deregister the connected environment and forget it",
    "deregister-environment": "deregister the connected environment (or --environment-id) and forget it",
    "bridge-credentials": "show where the bridge credential comes from (never the secret)",
    "poll-work": "poll for one work item (its secret is kept in .claw/remote.json, never printed)",
    "ack-work": "acknowledge a polled work item",
    "heartbeat-work": "renew a work item's lease",
    "stop-work": "stop a work item (--force: even if running)",
    "archive": "archive a session",
    "register-worker": "register as a code session's v2 worker",
    "send-permission-response": "answer a pending can_use_tool request of a session",
    "decode-work-secret": "print a work secret (tokens redacted) and its session URLs",
    "serve": "poll and run one worker per session (long-running)",
    "bridge-worker": "the built-in worker of one session (started by serve)",
}


def _parser() -> argparse.ArgumentParser:
    from claw.cli.config_cmd import _Parser  # usage errors with a hint, as every claw command

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cwd", metavar="DIR", help="project directory (default: the current directory)")
    common.add_argument("--settings", metavar="FILE|JSON", help="extra settings file or inline JSON")
    common.add_argument("--base-url", metavar="URL", help="the environments API (see above)")
    common.add_argument("--token-file", metavar="FILE", help="read the bridge token from FILE")
    common.add_argument("--json", action="store_true", help="print JSON")
    parser = _Parser(prog="claw remote-control", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    for name, text in _HELP.items():
        p = sub.add_parser(name, parents=[] if name in LAZY else [common], help=text, description=text[:1].upper()
                           + text[1:] + ".", add_help=name not in LAZY)
        if name in ("connect", "register-environment"):
            p.add_argument("--name", metavar="NAME", help="machine name (default: the host name)")
            p.add_argument("--max-sessions", type=int, default=1, metavar="N", help="sessions at once (default 1)")
            p.add_argument("--worker-type", default="claw", metavar="TYPE", help="worker type (default claw)")
        if name in ("continue", "reconnect-environment", "disconnect", "deregister-environment", "poll-work",
                    "ack-work", "heartbeat-work", "stop-work"):
            p.add_argument("--environment-id", metavar="ID", help="default: the connected environment")
        if name in ("continue", "reconnect-environment", "archive", "register-worker", "send-permission-response",
                    "decode-work-secret"):
            p.add_argument("--session-id", metavar="ID", required=name in ("archive", "register-worker",
                                                                            "send-permission-response"))
        if name in ("ack-work", "heartbeat-work", "stop-work", "register-worker", "decode-work-secret"):
            p.add_argument("--work-id", metavar="ID", required=name in ("ack-work", "heartbeat-work", "stop-work"),
                           help="a work item polled with poll-work (its secret is in .claw/remote.json)")
        if name == "poll-work":
            p.add_argument("--reclaim-older-than-ms", type=int, metavar="MS",
                           help="also hand out items delivered but not acked for this long")
        if name == "stop-work":
            p.add_argument("--force", action="store_true", help="stop it even while it runs")
        if name == "decode-work-secret":
            p.add_argument("secret", nargs="?", metavar="SECRET",
                           help="the secret, or - for stdin (default: --work-id's, else CLAW_WORK_SECRET); "
                                "other users can see arguments: prefer stdin or the environment")
        if name == "send-permission-response":
            p.add_argument("--request-id", required=True, metavar="ID", help="the can_use_tool request's id")
            verdict = p.add_mutually_exclusive_group(required=True)
            verdict.add_argument("--allow", action="store_true", help="let the tool run")
            verdict.add_argument("--deny", action="store_true", help="refuse it")
            p.add_argument("--message", metavar="TEXT", help="why (shown to the model on a deny)")
            p.add_argument("--updated-input", metavar="JSON", help="with --allow: the tool input to use instead")
    return parser


class _Command:
    """What one invocation resolved: project, environment, settings, network, redactor, state."""

    def __init__(self, args: Any) -> None:
        from claw.config.environment import effective_env, network_config
        from claw.config.loader import load_settings
        from claw.redact import Redactor
        from claw.remote.remote_state import load_state

        self.args = args
        self.cwd = os.path.abspath(os.path.expanduser(args.cwd)) if args.cwd else os.getcwd()
        if args.cwd and not os.path.isdir(self.cwd):
            raise UsageError(f"--cwd {args.cwd!r} is not a directory")
        loaded = load_settings(self.cwd, dict(os.environ), args.settings, strict=False)
        self.settings = loaded.settings
        self.env = effective_env(self.settings, os.environ)
        self.net_config = network_config(self.settings, self.env)
        self.redactor = Redactor.from_env(self.env)
        self.state = load_state(self.cwd)
        self.base_url = self._base_url()
        self._credential: Any = None

    def _base_url(self) -> str:
        from claw.remote.bridge_auth import bridge_base_url

        return bridge_base_url(self.env, self.args.base_url, self.state.base_url if self.state else None)

    def credential(self) -> Any:
        from claw.remote.bridge_auth import bridge_credential

        if self._credential is None:
            self._credential = bridge_credential(self.env, cwd=self.cwd, settings=self.settings,
                                                 token_file=self.args.token_file, net_config=self.net_config)
            if self._credential is not None and isinstance(self._credential.token, str):
                self.redactor.add_secret(self._credential.token)
        return self._credential

    def client(self) -> Any:
        from claw.remote.env_client import EnvironmentsClient
        from claw.remote.environments import AUTH_HINT, RemoteAuthError

        credential = self.credential()
        if credential is None:
            raise RemoteAuthError("no bridge credential: no --token-file, CLAW_BRIDGE_TOKEN or saved login",
                                  kind="missing_credentials", hint=AUTH_HINT)
        from claw.api.retry import RetryPolicy

        retry = RetryPolicy.from_env(self.env, max_retries=self.settings.network.max_retries)
        return EnvironmentsClient(self.base_url, credential.token, net_config=self.net_config,
                                  redactor=self.redactor, retry=retry)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        import asyncio

        async def go() -> Any:
            async with self.client() as client:
                return await getattr(client, method)(*args, **kwargs)

        return asyncio.run(go())

    def environment_id(self) -> str:
        value = getattr(self.args, "environment_id", None) or (self.state.environment_id if self.state else None)
        if not value:
            raise _not_connected()
        return value

    def out(self, text: str, obj: Any = None) -> None:
        if self.args.json:
            text = json.dumps(obj if obj is not None else {"ok": True}, indent=2, sort_keys=True)
        sys.stdout.write(self.redactor.redact_text(text) + "\n")
        sys.stdout.flush()

    def save(self) -> str:
        from claw.remote.remote_state import save_state

        return save_state(self.cwd, self.state)

    def work_secret(self, work_id: Optional[str]) -> Any:
        """The decoded secret of a polled work item, else of CLAW_WORK_SECRET."""
        from claw.remote.work_secret import decode_work_secret

        entry = (self.state.work.get(work_id) if self.state and work_id else None) or {}
        text = entry.get("secret") or self.env.get("CLAW_WORK_SECRET")
        if not text:
            raise UsageError(f"no secret known for work item {work_id}",
                             hint="poll it first with `claw remote-control poll-work`, or set CLAW_WORK_SECRET")
        secret = decode_work_secret(text)
        self.redactor.add_secret(secret.session_ingress_token)
        return secret


def _not_connected() -> ClawError:
    return ClawError("no environment connected here (.claw/remote.json does not exist)",
                     kind="not_connected", hint="run `claw remote-control connect`, or pass --environment-id")


def _git(cwd: str, *args: str) -> Optional[str]:
    import subprocess

    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value else None


def _register(cmd: _Command, *, reuse: bool) -> int:
    import re
    import socket
    import time

    from claw.remote.remote_state import RemoteState

    args = cmd.args
    if args.max_sessions < 1:
        raise UsageError(f"--max-sessions must be at least 1, not {args.max_sessions}")
    repo = _git(cmd.cwd, "config", "--get", "remote.origin.url")
    if repo:
        repo = re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@", r"\1", repo)  # never send credentials
    branch = _git(cmd.cwd, "rev-parse", "--abbrev-ref", "HEAD")
    name = args.name or socket.gethostname()
    previous = cmd.state.environment_id if (reuse and cmd.state) else None
    env = cmd.call("register_bridge", machine_name=name, directory=cmd.cwd, branch=branch, git_repo_url=repo,
                   max_sessions=args.max_sessions, worker_type=args.worker_type, reuse_environment_id=previous)
    cmd.state = RemoteState(env.environment_id, cmd.base_url, env.environment_secret, time.time(), None, name,
                            cmd.cwd, branch, repo, args.max_sessions, args.worker_type)
    path = cmd.save()
    cmd.out(f"connected: environment {env.environment_id} at {cmd.base_url} (saved in {path})",
            {"environment_id": env.environment_id, "base_url": cmd.base_url, "state_file": path,
             "reused": previous == env.environment_id})
    return 0


def _reconnect(cmd: _Command) -> int:
    import time

    env_id = cmd.environment_id()
    env = cmd.call("reconnect_environment", env_id, session_id=cmd.args.session_id)
    if cmd.state and cmd.state.environment_id == env_id:
        cmd.state.reconnected_at = time.time()
        if env.environment_secret:
            cmd.state.environment_secret = env.environment_secret
        cmd.save()
    cmd.out(f"reconnected: environment {env.environment_id}", {"environment_id": env.environment_id})
    return 0


def _deregister(cmd: _Command) -> int:
    from claw.remote.environments import RemoteGoneError
    from claw.remote.remote_state import remove_state

    env_id = cmd.environment_id()
    gone = False
    try:
        cmd.call("deregister_environment", env_id)
    except RemoteGoneError:
        gone = True  # already deregistered or expired: forgetting it is all that is left
    removed = bool(cmd.state and cmd.state.environment_id == env_id and remove_state(cmd.cwd))
    cmd.out(f"disconnected: environment {env_id}" + (" (the server no longer knew it)" if gone else ""),
            {"environment_id": env_id, "already_gone": gone, "state_removed": removed})
    return 0


def _credentials(cmd: _Command) -> int:
    credential = cmd.credential()
    if credential is None:
        cmd.out("bridge credential: none (run `claw login`, set CLAW_BRIDGE_TOKEN or pass --token-file)",
                {"source": None, "base_url": cmd.base_url})
        return 1
    cmd.out(f"bridge credential: {credential.source} ({credential.detail})\nbase URL: {cmd.base_url}",
            {"source": credential.source, "detail": credential.detail, "base_url": cmd.base_url})
    return 0


def _when(stamp: Any, scale: float = 1.0) -> str:
    import time

    if not isinstance(stamp, (int, float)) or not stamp:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp / scale))


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _status(cmd: _Command) -> int:
    from claw.remote.remote_state import load_serve_state, serve_state_path, state_path

    state = cmd.state
    serve = load_serve_state(cmd.cwd)
    running = bool(serve) and _alive(serve.get("pid"))
    credential = cmd.credential()
    lines = []
    if state is None:
        lines.append("environment: none connected (run `claw remote-control connect`)")
    else:
        lines += [f"environment: {state.environment_id}", f"base URL: {state.base_url}",
                  f"registered: {_when(state.registered_at)}" + (f", reconnected {_when(state.reconnected_at)}"
                                                                  if state.reconnected_at else ""),
                  f"machine: {state.machine_name}, directory {state.directory}, branch {state.branch or '-'}, "
                  f"max sessions {state.max_sessions}",
                  f"work polled: {', '.join(sorted(state.work)) or 'none'}"]
    lines.append(f"bridge credential: {credential.source if credential else 'none'}")
    items = serve.get("items") if isinstance(serve, dict) and isinstance(serve.get("items"), list) else []
    if not serve:
        lines.append("serve: not running")
    else:
        lines.append(f"serve: {'running' if running else 'not running'} (pid {serve.get('pid', '-')}, "
                     f"updated {_when(serve.get('updated_at'), 1000.0)}, {serve_state_path(cmd.cwd)})")
        for item in items:
            if not isinstance(item, dict):
                continue
            last = (item.get("lines") or [""])[-1] if isinstance(item.get("lines"), list) else ""
            pending = len(item.get("permissions") or [])
            lines.append(f"  {item.get('session_id', '-')} work {item.get('work_id', '-')}: {item.get('state', '-')}"
                         + (f", last tool {item['last_tool']}" if item.get("last_tool") else "")
                         + (f", {pending} permission request(s) pending" if pending else "")
                         + (f" | {str(last)[:120]}" if last else ""))
    cmd.out("\n".join(lines), {"environment": state.public() if state else None, "state_file": state_path(cmd.cwd),
                               "credential_source": credential.source if credential else None,
                               "serve": {"running": running, "state": serve} if serve else None})
    return 0


def _poll(cmd: _Command) -> int:
    env_id = cmd.environment_id()
    secret = cmd.state.environment_secret if cmd.state and cmd.state.environment_id == env_id else None
    work = cmd.call("poll_work", env_id, reclaim_older_than_ms=cmd.args.reclaim_older_than_ms,
                    environment_secret=secret or None)
    if work is None:
        cmd.out("no work", {"work": None})
        return 0
    if cmd.state and cmd.state.environment_id == env_id and work.secret:
        cmd.state.work[work.id] = {"secret": work.secret, "session_id": work.data_id, "type": work.data_type}
        cmd.save()
    cmd.out(f"work {work.id}: {work.data_type} {work.data_id} ({work.state})", {"work": work.to_json()})
    return 0


def _work_call(cmd: _Command) -> int:
    action = cmd.args.action
    env_id, work_id = cmd.environment_id(), cmd.args.work_id
    if action == "stop-work":
        cmd.call("stop_work", env_id, work_id, force=cmd.args.force)
        if cmd.state and cmd.state.work.pop(work_id, None) is not None:
            cmd.save()
        cmd.out(f"stopped: work {work_id}" + (" (forced)" if cmd.args.force else ""), {"work_id": work_id})
        return 0
    token = cmd.work_secret(work_id).session_ingress_token
    if action == "ack-work":
        cmd.call("ack_work", env_id, work_id, token)
        cmd.out(f"acknowledged: work {work_id}", {"work_id": work_id})
        return 0
    answer = cmd.call("heartbeat_work", env_id, work_id, token)
    cmd.out(f"heartbeat: work {work_id}, lease {'extended' if answer.get('lease_extended') else 'NOT extended'}"
            f", state {answer.get('state', '-')}", answer)
    return 0 if answer.get("lease_extended") else 1


def _archive(cmd: _Command) -> int:
    fresh = cmd.call("archive_session", cmd.args.session_id)
    cmd.out(f"archived: session {cmd.args.session_id}" + ("" if fresh else " (it already was)"),
            {"session_id": cmd.args.session_id, "already_archived": not fresh})
    return 0


def _register_worker(cmd: _Command) -> int:
    token = None
    if cmd.args.work_id or cmd.env.get("CLAW_WORK_SECRET"):
        token = cmd.work_secret(cmd.args.work_id).session_ingress_token
    answer = cmd.call("register_worker", cmd.args.session_id, session_token=token)
    cmd.out(f"registered worker: session {cmd.args.session_id}, epoch {answer.get('worker_epoch', '-')}", answer)
    return 0


def _permission(cmd: _Command) -> int:
    from claw.remote.environments import permission_response_event

    updated = None
    if cmd.args.updated_input is not None:
        try:
            updated = json.loads(cmd.args.updated_input)
        except ValueError:
            updated = None
        if not isinstance(updated, dict) or cmd.args.deny:
            raise UsageError("--updated-input must be a JSON object, with --allow")
    event = permission_response_event(cmd.args.request_id, allow=cmd.args.allow, message=cmd.args.message,
                                      updated_input=updated)
    cmd.call("send_session_events", cmd.args.session_id, [event])
    verdict = "allowed" if cmd.args.allow else "denied"
    cmd.out(f"{verdict}: request {cmd.args.request_id} of session {cmd.args.session_id}", event)
    return 0


def _decode(cmd: _Command) -> int:
    from claw.remote.work_secret import code_session_url, decode_work_secret, sdk_url

    args = cmd.args
    entry = (cmd.state.work.get(args.work_id) if cmd.state and args.work_id else None) or {}
    text = sys.stdin.read() if args.secret == "-" else args.secret or entry.get("secret") \
        or cmd.env.get("CLAW_WORK_SECRET")
    if not text:
        raise UsageError("no work secret: give it on stdin (-), with --work-id, or in CLAW_WORK_SECRET")
    secret = decode_work_secret(text)
    cmd.redactor.add_secret(secret.session_ingress_token)
    session = args.session_id or entry.get("session_id") or cmd.env.get("CLAW_REMOTE_SESSION_ID") or ""
    shown = secret.to_json(cmd.redactor)
    tail = "" if session else "{session_id}"  # a template when the session is unknown
    urls = {"sdk_url": sdk_url(secret.api_base_url, session) + tail,
            "code_session_url": code_session_url(secret.api_base_url, session) + tail}
    text = json.dumps(shown, indent=2, sort_keys=True) + "".join(f"\n{k}: {v}" for k, v in urls.items())
    cmd.out(text, dict(secret=shown, **urls))
    return 0


_ACTIONS: Dict[str, Callable[[_Command], int]] = {
    "connect": lambda c: _register(c, reuse=True), "register-environment": lambda c: _register(c, reuse=False),
    "continue": _reconnect, "reconnect-environment": _reconnect, "status": _status,
    "disconnect": _deregister, "deregister-environment": _deregister, "bridge-credentials": _credentials,
    "poll-work": _poll, "ack-work": _work_call, "heartbeat-work": _work_call, "stop-work": _work_call,
    "archive": _archive, "register-worker": _register_worker, "send-permission-response": _permission,
    "decode-work-secret": _decode,
}


def _lazy(name: str, argv: List[str]) -> int:
    import importlib

    module_name, func = LAZY[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        sys.stderr.write(f"claw: remote-control {name} is not available in this build of claw\n")
        return 1
    return int(getattr(module, func)(argv) or 0)


def run(argv: List[str]) -> int:
    if argv and argv[0] in LAZY:
        return _lazy(argv[0], argv[1:])
    from claw.cli.errors import render_error

    args = None
    try:
        args = _parser().parse_args(argv)
        if not args.action:
            _parser().print_help()
            return 2
        cmd = _Command(args)
        try:
            return _ACTIONS[args.action](cmd)
        except ClawError as exc:
            exc.message = cmd.redactor.redact_text(exc.message)
            raise
    except ClawError as exc:
        if args is not None and getattr(args, "json", False):
            sys.stdout.write(json.dumps({"error": exc.to_dict()}) + "\n")
        sys.stderr.write(render_error(exc) + "\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
