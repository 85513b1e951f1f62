"""``claw remote-control``: register this machine as a bridge environment and drive the environments API.

    connect | register-environment             register; the target goes to .claw/remote.json
    continue | reconnect-environment           reconnect the saved environment
    status                                     the saved target and serve's state (no network)
    disconnect | deregister-environment        deregister and forget it
    bridge-credentials                         where the bridge credential comes from
    poll-work | ack-work | heartbeat-work | stop-work       one work call each
    archive | register-worker | send-permission-response    session calls
    decode-work-secret                         the secret, tokens redacted, and its URLs
    serve | bridge-worker                      the supervisor and the built-in worker (``LAZY``)

This module parses argv, resolves settings, network config, credential and base URL
(claw.remote.bridge_auth), calls claw.remote.env_client and prints one object per command: ``key:
value`` lines, or JSON with ``--json``. Every line goes through the command's redactor, which knows
every token used. Exit codes: 0 ok, 1 a failed call or nothing connected, 2 usage and configuration.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

from claw.errors import ClawError, UsageError

LAZY = {"serve": "claw.cli.remote_serve_cmd:run", "bridge-worker": "claw.cli.bridge_worker_cmd:run"}

DESCRIPTION = """\
Drive claw as a remote-control worker of the environments API. The bridge credential: --token-file,
else CLAW_BRIDGE_TOKEN, else the saved login (claw login). The API: --base-url, else
CLAW_BRIDGE_BASE_URL, else the connected environment's, else ANTHROPIC_BASE_URL. State:
.claw/remote.json (mode 0600). See docs/REMOTE.md, "Remote control".
"""

# name: (help, options); options: E environment id, S session id, W work id, R registration
_ACTIONS = {
    "connect": ("register this machine (re-using the saved environment's id) and save it", "R"),
    "register-environment": ("register a new environment and save it", "R"),
    "continue": ("reconnect the saved environment", "ES"),
    "reconnect-environment": ("reconnect the saved environment", "ES"),
    "status": ("the saved environment and serve's state (no network)", ""),
    "disconnect": ("deregister the saved environment and forget it", "E"),
    "deregister-environment": ("deregister the saved environment and forget it", "E"),
    "bridge-credentials": ("where the bridge credential comes from (never the secret)", ""),
    "poll-work": ("poll for one work item (its secret is kept in .claw/remote.json)", "E"),
    "ack-work": ("acknowledge a polled work item", "EW"),
    "heartbeat-work": ("renew a work item's lease (exit 1 when not extended)", "EW"),
    "stop-work": ("stop a work item", "EW"),
    "archive": ("archive a session", "S"),
    "register-worker": ("register as a code session's v2 worker", "Sw"),
    "send-permission-response": ("answer a pending can_use_tool request", "S"),
    "decode-work-secret": ("print a work secret, tokens redacted, and its URLs", "sw"),
    "serve": ("poll and run one worker per session", ""),
    "bridge-worker": ("the built-in worker of one session", ""),
}


def _parser() -> Any:
    import argparse

    from claw.cli.config_cmd import _Parser  # usage errors with a hint, as every claw command

    common = argparse.ArgumentParser(add_help=False)
    for flag in ("--cwd", "--settings", "--base-url", "--token-file"):
        common.add_argument(flag)
    common.add_argument("--json", action="store_true", help="print JSON")
    parser = _Parser(prog="claw remote-control", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    for name, (text, opts) in _ACTIONS.items():
        p = sub.add_parser(name, parents=[] if name in LAZY else [common], help=text, description=text)
        if "R" in opts:
            p.add_argument("--name", help="machine name (default: the host name)")
            p.add_argument("--max-sessions", type=int, default=1)
            p.add_argument("--worker-type", default="claw")
        if "E" in opts:
            p.add_argument("--environment-id", help="default: the saved environment")
        if "S" in opts or "s" in opts:
            p.add_argument("--session-id", required=name in ("archive", "register-worker", "send-permission-response"))
        if "W" in opts or "w" in opts:
            p.add_argument("--work-id", required="W" in opts, help="a work item polled with poll-work")
    sub.choices["poll-work"].add_argument("--reclaim-older-than-ms", type=int, metavar="MS")
    sub.choices["stop-work"].add_argument("--force", action="store_true", help="even while it runs")
    sub.choices["decode-work-secret"].add_argument(
        "secret", nargs="?", help="the secret, or - for stdin (default: --work-id's, else CLAW_WORK_SECRET)")
    p = sub.choices["send-permission-response"]
    p.add_argument("--request-id", required=True)
    verdict = p.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--allow", action="store_true")
    verdict.add_argument("--deny", action="store_true")
    p.add_argument("--message", help="why (shown to the model on a deny)")
    p.add_argument("--updated-input", metavar="JSON", help="with --allow: the tool input to use")
    return parser


class _Command:
    """One invocation: project, environment, settings, network, redactor, saved state."""

    def __init__(self, args: Any) -> None:
        from claw.config.environment import effective_env, network_config
        from claw.config.loader import load_settings
        from claw.redact import Redactor
        from claw.remote.bridge_auth import bridge_base_url
        from claw.remote.remote_state import load_state

        self.args = args
        self.cwd = os.path.abspath(args.cwd or ".")
        if not os.path.isdir(self.cwd):
            raise UsageError(f"--cwd {args.cwd!r} is not a directory")
        self.settings = load_settings(self.cwd, dict(os.environ), args.settings, strict=False).settings
        self.env = effective_env(self.settings, os.environ)
        self.net_config = network_config(self.settings, self.env)
        self.redactor = Redactor.from_env(self.env)
        self.state = load_state(self.cwd)
        self.base_url = bridge_base_url(self.env, args.base_url, self.state and self.state.base_url)
        self.credential = None
        if args.action != "decode-work-secret":
            from claw.remote.bridge_auth import bridge_credential

            self.credential = bridge_credential(self.env, cwd=self.cwd, settings=self.settings,
                                                token_file=args.token_file, net_config=self.net_config)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        import asyncio

        from claw.api.retry import RetryPolicy
        from claw.remote.env_client import EnvironmentsClient
        from claw.remote.environments import AUTH_HINT, RemoteAuthError

        if self.credential is None:
            raise RemoteAuthError("no bridge credential: no --token-file, CLAW_BRIDGE_TOKEN or saved login",
                                  kind="missing_credentials", hint=AUTH_HINT)
        retry = RetryPolicy.from_env(self.env, max_retries=self.settings.network.max_retries)

        async def go() -> Any:
            async with EnvironmentsClient(self.base_url, self.credential.token, net_config=self.net_config,
                                          redactor=self.redactor, retry=retry) as client:
                return await getattr(client, method)(*args, **kwargs)

        return asyncio.run(go())

    def env_id(self) -> str:
        value = getattr(self.args, "environment_id", None) or (self.state and self.state.environment_id)
        if not value:
            raise ClawError("no environment connected here (.claw/remote.json does not exist)", kind="not_connected",
                            hint="run `claw remote-control connect`, or pass --environment-id")
        return value

    def mine(self, env_id: str) -> bool:
        return bool(self.state and self.state.environment_id == env_id)

    def save(self) -> str:
        from claw.remote.remote_state import save_state

        return save_state(self.cwd, self.state)

    def secret(self, work_id: Optional[str], text: Optional[str] = None) -> Any:
        """The decoded work secret: ``text``, else the polled item's, else CLAW_WORK_SECRET."""
        from claw.remote.work_secret import decode_work_secret

        text = text or self.work(work_id).get("secret") or self.env.get("CLAW_WORK_SECRET")
        if not text:
            raise UsageError(f"no secret known for work item {work_id}",
                             hint="poll it with `claw remote-control poll-work`, or set CLAW_WORK_SECRET")
        secret = decode_work_secret(text)
        self.redactor.add_secret(secret.session_ingress_token)
        return secret

    def work(self, work_id: Optional[str]) -> Dict[str, Any]:
        return (self.state.work.get(work_id or "") if self.state else None) or {}


def _git(cwd: str, *args: str) -> Optional[str]:
    import subprocess

    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def _register(cmd: _Command) -> Tuple[int, Dict[str, Any]]:
    import re
    import socket
    import time

    from claw.remote.remote_state import RemoteState

    a = cmd.args
    if a.max_sessions < 1:
        raise UsageError(f"--max-sessions must be at least 1, not {a.max_sessions}")
    repo = _git(cmd.cwd, "config", "--get", "remote.origin.url")
    if repo:
        repo = re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@", r"\1", repo)  # never send credentials
    branch = _git(cmd.cwd, "rev-parse", "--abbrev-ref", "HEAD")
    name = a.name or socket.gethostname()
    reuse = cmd.state.environment_id if cmd.state and a.action == "connect" else None
    env = cmd.call("register_bridge", machine_name=name, directory=cmd.cwd, branch=branch, git_repo_url=repo,
                   max_sessions=a.max_sessions, worker_type=a.worker_type, reuse_environment_id=reuse)
    cmd.state = RemoteState(env.environment_id, cmd.base_url, env.environment_secret, time.time(), None, name,
                            cmd.cwd, branch, repo, a.max_sessions, a.worker_type)
    return 0, {"connected": env.environment_id, "base_url": cmd.base_url, "state_file": cmd.save(),
               "reused": reuse == env.environment_id}


def _reconnect(cmd: _Command) -> Tuple[int, Dict[str, Any]]:
    import time

    env_id = cmd.env_id()
    env = cmd.call("reconnect_environment", env_id, session_id=cmd.args.session_id)
    if cmd.mine(env_id):
        cmd.state.reconnected_at = time.time()
        cmd.state.environment_secret = env.environment_secret or cmd.state.environment_secret
        cmd.save()
    return 0, {"reconnected": env.environment_id}


def _deregister(cmd: _Command) -> Tuple[int, Dict[str, Any]]:
    from claw.remote.environments import RemoteGoneError
    from claw.remote.remote_state import remove_state

    env_id = cmd.env_id()
    try:
        cmd.call("deregister_environment", env_id)
        gone = False
    except RemoteGoneError:
        gone = True  # deregistered or expired already: forgetting it is all that is left
    return 0, {"disconnected": env_id, "already_gone": gone, "state_removed": cmd.mine(env_id) and remove_state(cmd.cwd)}


def _credentials(cmd: _Command) -> Tuple[int, Dict[str, Any]]:
    c = cmd.credential
    return (0 if c else 1), {"bridge_credential": c.source if c else "none (run `claw login` or set CLAW_BRIDGE_TOKEN)",
                             "detail": c.detail if c else None, "base_url": cmd.base_url}


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # someone else's process
    return True


def _status(cmd: _Command) -> Tuple[int, Dict[str, Any]]:
    from claw.remote.remote_state import load_serve_state

    serve = load_serve_state(cmd.cwd)
    obj = cmd.state.public() if cmd.state else {"environment_id": "none connected (run `claw remote-control connect`)"}
    obj.update(bridge_credential=cmd.credential and cmd.credential.source, serve="not running")
    if serve:
        obj["serve"] = f"{'running' if _alive(serve.get('pid')) else 'not running'} (pid {serve.get('pid')})"
        items = serve.get("items") if isinstance(serve.get("items"), list) else []
        obj["sessions"] = [f"{i.get('session_id')} work {i.get('work_id')}: {i.get('state')}"
                           + (f", last tool {i['last_tool']}" if i.get("last_tool") else "")
                           + "".join(f", permission pending: {p.get('tool_name')} (request {p.get('request_id')})"
                                     for p in i.get("permissions") or () if isinstance(p, dict))
                           + (f" | {str(i['lines'][-1])[:120]}" if i.get("lines") else "")
                           for i in items if isinstance(i, dict)]
        if cmd.args.json:
            obj["serve_state"] = serve
    return 0, obj


def _poll(cmd: _Command) -> Tuple[int, Dict[str, Any]]:
    env_id = cmd.env_id()
    work = cmd.call("poll_work", env_id, reclaim_older_than_ms=cmd.args.reclaim_older_than_ms,
                    environment_secret=cmd.state.environment_secret if cmd.mine(env_id) else None)
    if work is None:
        return 0, {"work": "no work"}
    if cmd.mine(env_id) and work.secret:
        cmd.state.work[work.id] = {"secret": work.secret, "session_id": work.data_id, "type": work.data_type}
        cmd.save()
    return 0, {"work": work.to_json()}


def _work_call(cmd: _Command) -> Tuple[int, Dict[str, Any]]:
    action, env_id, work_id = cmd.args.action, cmd.env_id(), cmd.args.work_id
    if action == "stop-work":
        cmd.call("stop_work", env_id, work_id, force=cmd.args.force)
        if cmd.state and cmd.state.work.pop(work_id, None) is not None:
            cmd.save()
        return 0, {"stopped": work_id, "force": cmd.args.force}
    token = cmd.secret(work_id).session_ingress_token
    if action == "ack-work":
        cmd.call("ack_work", env_id, work_id, token)
        return 0, {"acknowledged": work_id}
    answer = cmd.call("heartbeat_work", env_id, work_id, token)
    return (0 if answer.get("lease_extended") else 1), dict(answer, work_id=work_id)


def _archive(cmd: _Command) -> Tuple[int, Dict[str, Any]]:
    return 0, {"archived": cmd.args.session_id, "already_archived": not cmd.call("archive_session", cmd.args.session_id)}


def _register_worker(cmd: _Command) -> Tuple[int, Dict[str, Any]]:
    known = cmd.args.work_id or cmd.env.get("CLAW_WORK_SECRET")
    token = cmd.secret(cmd.args.work_id).session_ingress_token if known else None
    return 0, dict(cmd.call("register_worker", cmd.args.session_id, session_token=token), session_id=cmd.args.session_id)


def _permission(cmd: _Command) -> Tuple[int, Dict[str, Any]]:
    from claw.remote.environments import permission_response_event

    a, updated = cmd.args, None
    if a.updated_input is not None:
        try:
            updated = json.loads(a.updated_input)
        except ValueError:
            pass
        if not isinstance(updated, dict) or a.deny:
            raise UsageError("--updated-input must be a JSON object, with --allow")
    event = permission_response_event(a.request_id, allow=a.allow, message=a.message, updated_input=updated)
    cmd.call("send_session_events", a.session_id, [event])
    return 0, {"sent": event}


def _decode(cmd: _Command) -> Tuple[int, Dict[str, Any]]:
    from claw.remote.work_secret import code_session_url, sdk_url

    a = cmd.args
    if not (a.secret or a.work_id or cmd.env.get("CLAW_WORK_SECRET")):
        raise UsageError("no work secret: give it on stdin (-), with --work-id, or in CLAW_WORK_SECRET")
    secret = cmd.secret(a.work_id, sys.stdin.read() if a.secret == "-" else a.secret)
    session = a.session_id or cmd.work(a.work_id).get("session_id") or cmd.env.get("CLAW_REMOTE_SESSION_ID") or ""
    def url(make) -> str:  # a template ending in {session_id} when the session is unknown
        return make(secret.api_base_url, session) if session else make(secret.api_base_url, "0")[:-1] + "{session_id}"

    return 0, {"secret": secret.to_json(cmd.redactor), "sdk_url": url(sdk_url), "code_session_url": url(code_session_url)}


_RUN = {"connect": _register, "register-environment": _register, "continue": _reconnect,
        "reconnect-environment": _reconnect, "status": _status, "disconnect": _deregister,
        "deregister-environment": _deregister, "bridge-credentials": _credentials, "poll-work": _poll,
        "ack-work": _work_call, "heartbeat-work": _work_call, "stop-work": _work_call, "archive": _archive,
        "register-worker": _register_worker, "send-permission-response": _permission, "decode-work-secret": _decode}


def _text(obj: Dict[str, Any]) -> str:
    lines = []
    for key, value in obj.items():
        if isinstance(value, list):
            lines += [f"{key}:"] + [f"  {v}" for v in value]
        elif value is not None:
            lines.append(f"{key}: {value if isinstance(value, str) else json.dumps(value)}")
    return "\n".join(lines)


def run(argv: List[str]) -> int:
    if argv and argv[0] in LAZY:
        import importlib

        module_name, func = LAZY[argv[0]].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            sys.stderr.write(f"claw: remote-control {argv[0]} is not available in this build of claw\n")
            return 1
        return int(getattr(module, func)(argv[1:]) or 0)
    from claw.cli.errors import render_error

    args = cmd = None
    try:
        args = _parser().parse_args(argv)
        if not args.action:
            raise UsageError("remote-control needs an action", hint="run 'claw remote-control --help'")
        cmd = _Command(args)
        code, obj = _RUN[args.action](cmd)
        text = json.dumps(obj, indent=2, sort_keys=True) if args.json else _text(obj)
        sys.stdout.write(cmd.redactor.redact_text(text) + "\n")
        return code
    except ClawError as exc:
        if cmd is not None:
            exc.message = cmd.redactor.redact_text(exc.message)
        if getattr(args, "json", False):
            sys.stdout.write(json.dumps({"error": exc.to_dict()}) + "\n")
        sys.stderr.write(render_error(exc) + "\n")
        return exc.exit_code
