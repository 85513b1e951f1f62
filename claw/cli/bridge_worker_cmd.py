"""``claw remote-control bridge-worker``: one remote-control session served by a claw stream-json run.

``serve`` (or any scheduler) starts it with the work secret in ``CLAW_WORK_SECRET`` (base64url; never an
argument: other local users can read argv) and ``--session-id/--work-id/--environment-id`` (else
``CLAW_REMOTE_SESSION_ID`` / ``_WORK_ID`` / ``_ENVIRONMENT_ID``), in the work directory. It:

- decodes the secret (claw.remote.work_secret) and drops the variable from the run's environment;
- gives the run the session token as ``CLAUDE_CODE_SESSION_ACCESS_TOKEN`` and, when the secret's
  ``auth`` asks for it (an entry of type ``session_token`` / ``session_ingress_token``, or an ``oauth``
  entry without a token of its own), as ``CLAUDE_CODE_OAUTH_TOKEN``: the model API credential
  (claw.auth.sources); an ``oauth`` entry with its own ``token`` gives that token instead. Both names end in
  ``_TOKEN``, so the run's redactor hides them everywhere. The secret's ``environment_variables`` are
  added too;
- runs the stream-json host loop (claw.cli.stream_json) over ``CodeSessionTransport`` (v2: the secret's
  ``use_code_sessions``) or ``HybridTransport`` (v1: session-ingress WebSocket + batched POSTs), with
  ``--permission-prompt-tool stdio``: claw's own permission policy decides what it can, and what it
  would ask about becomes a ``can_use_tool`` control request to the session, answered by the remote user
  (or ``claw remote-control send-permission-response``). The mode is the settings' ``defaultMode``, else
  ``default`` (not claw's fresh-session ``danger-full-access``: the session's user is not at this machine);
- tees the session's traffic to stdout as NDJSON (every object the run writes, and the control responses
  and cancellations it reads): ``serve`` reads it for its activity summary and pending permission
  requests; stderr has claw's warnings;
- exits with the code of the last result (0: done); 75 (``REQUEUE_EXIT``) when the session refuses its
  token or another worker took it over (401, 403, 409: ``serve`` gives the work back, to be handed out
  again with a fresh token); 1 when the session cannot be reached or is gone; 2 for a usage error.

Deliberately not here: polling for work, heartbeating the work item, worktrees (``serve``).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any, Dict, List, Optional

from claw.cli.transport import Transport
from claw.errors import ClawError, UsageError
from claw.remote.supervisor import REQUEUE_EXIT  # 75, EX_TEMPFAIL: serve gives the work item back

USAGE = """\
usage: claw remote-control bridge-worker --session-id ID [--work-id ID] [--environment-id ID]

Serves one remote-control session with a claw stream-json run in the current directory.
The work secret is read from CLAW_WORK_SECRET (base64url), never from the arguments.
"""
_FLAGS = {"--session-id": "CLAW_REMOTE_SESSION_ID", "--work-id": "CLAW_REMOTE_WORK_ID",
          "--environment-id": "CLAW_REMOTE_ENVIRONMENT_ID"}
_SESSION_AUTH = ("session_token", "session_ingress_token")
_REQUEUE_STATUSES = (401, 403, 409)


def run(argv: List[str]) -> int:
    from claw.cli.errors import render_error

    if argv[:1] in (["-h"], ["--help"]):
        sys.stdout.write(USAGE)
        return 0
    try:
        ids = _ids(argv, os.environ)
        env = dict(os.environ)
        raw = env.pop("CLAW_WORK_SECRET", "").strip()
        if not raw:
            raise UsageError("bridge-worker needs the work secret in CLAW_WORK_SECRET",
                             hint="claw remote-control serve starts workers with it; never pass it as an argument")
        from claw.remote.work_secret import decode_work_secret

        secret = decode_work_secret(raw)
        return asyncio.run(_serve(ids["--session-id"], secret, worker_env(secret, env)))
    except ClawError as exc:
        sys.stderr.write(render_error(exc) + "\n")
        return REQUEUE_EXIT if getattr(exc, "status", None) in _REQUEUE_STATUSES else exc.exit_code


def _ids(argv: List[str], environ: Any) -> Dict[str, str]:
    ids = {flag: (environ.get(name) or "").strip() for flag, name in _FLAGS.items()}
    items = iter(argv)
    for item in items:
        flag, sep, value = item.partition("=")
        if flag not in _FLAGS:
            raise UsageError(f"bridge-worker: unknown argument {item!r}", hint=USAGE.splitlines()[0])
        value = value if sep else next(items, "")
        if not value:
            raise UsageError(f"bridge-worker: {flag} needs a value")
        ids[flag] = value
    if not ids["--session-id"]:
        raise UsageError("bridge-worker needs --session-id (or CLAW_REMOTE_SESSION_ID)")
    return ids


def provider_token(secret: Any) -> Optional[str]:
    """The model API credential the secret asks the worker to use, if any (see the module docstring)."""
    for entry in getattr(secret, "auth", None) or ():
        if not isinstance(entry, dict):
            continue
        kind, token = entry.get("type"), entry.get("token")
        if kind in _SESSION_AUTH or (kind == "oauth" and not token):
            return secret.session_ingress_token
        if kind == "oauth" and isinstance(token, str) and token:
            return token
    return None


def worker_env(secret: Any, env: Dict[str, str]) -> Dict[str, str]:
    """The run's environment: the process's, the secret's variables, the session (and provider) token."""
    extra = getattr(secret, "environment_variables", None) or {}
    env.update({str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {})
    env["CLAUDE_CODE_SESSION_ACCESS_TOKEN"] = secret.session_ingress_token
    token = provider_token(secret)
    if token:
        env["CLAUDE_CODE_OAUTH_TOKEN"] = token
    return env


async def _serve(session_id: str, secret: Any, env: Dict[str, str]) -> int:
    from claw.cli.args import parse_run_args
    from claw.cli.setup import run_options
    from claw.cli.stream_json import serve
    from claw.config.environment import network_config
    from claw.remote import work_secret
    from claw.runtime.run_open import load_settings_for

    args = parse_run_args(["--input-format", "stream-json", "--output-format", "stream-json",
                           "--permission-prompt-tool", "stdio"])
    loaded, effective = load_settings_for(run_options(args, env))
    if not loaded.settings.permissions.default_mode:
        args.permission_mode = "default"  # claw's fresh-session default allows everything: a remote user is asked
    net = network_config(loaded.settings, effective)
    token = secret.session_ingress_token
    base = secret.api_base_url.rstrip("/")

    def warn(text: str) -> None:
        sys.stderr.write(f"claw: warning: {text}\n")

    transport: Any
    if getattr(secret, "use_code_sessions", False):
        from claw.remote.code_session import CodeSessionTransport

        transport = CodeSessionTransport(work_secret.code_session_url(base, session_id), net, token=token, warn=warn)
    else:
        from claw.remote.session_ingress import HybridTransport

        transport = HybridTransport(work_secret.sdk_url(base, session_id), f"{base}/v1/sessions/{session_id}/events",
                                    net, token=token, warn=warn)
    tee = _Tee(transport, sys.stdout.buffer)
    await transport.connect()  # a refusal here: run() says so and exits
    try:
        code = await serve(args, tee, stderr=sys.stderr, base_env=env)
    finally:
        await transport.close()
    return REQUEUE_EXIT if getattr(tee.error, "status", None) in _REQUEUE_STATUSES else code


class _Tee(Transport):
    """``inner``, with its traffic also written to ``out`` (see the module docstring)."""

    def __init__(self, inner: Any, out: Any) -> None:
        self.inner = inner
        self.out = out
        self.error: Optional[ClawError] = None  # the session's refusal, if one ended it

    @property  # type: ignore[override]
    def closed(self) -> bool:
        return bool(self.inner.closed)

    async def read(self) -> Optional[Dict[str, Any]]:
        try:
            obj = await self.inner.read()
        except ClawError as exc:
            self.error = exc
            raise
        if obj is not None and obj.get("type") in ("control_response", "control_cancel_request"):
            self._line(obj)
        return obj

    def write_nowait(self, obj: Dict[str, Any]) -> None:
        self.inner.write_nowait(obj)
        self._line(obj)

    async def write(self, obj: Dict[str, Any]) -> None:
        await self.inner.write(obj)
        self._line(obj)

    def report_state(self, state: str) -> None:
        report = getattr(self.inner, "report_state", None)
        if report is not None:
            report(state)

    def _line(self, obj: Dict[str, Any]) -> None:
        from claw.cli.transport import encode_line

        try:
            self.out.write(encode_line(obj))
            self.out.flush()
        except (OSError, ValueError):  # serve went away: the session is what matters
            pass
