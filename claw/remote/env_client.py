"""``EnvironmentsClient``: the environments (remote-control bridge) API over claw's HTTP client.

One method per endpoint, each one JSON request through ``claw.net.http.HttpClient`` built from the
caller's ``NetConfig`` (proxies, CAs, timeouts: the one connection factory):

    register_bridge            POST   /v1/environments/bridge
    reconnect_environment      POST   /v1/environments/{id}/bridge/reconnect
    poll_work                  GET    /v1/environments/{id}/work/poll[?reclaim_older_than_ms=N]
    ack_work                   POST   /v1/environments/{id}/work/{work_id}/ack
    heartbeat_work             POST   /v1/environments/{id}/work/{work_id}/heartbeat
    stop_work                  POST   /v1/environments/{id}/work/{work_id}/stop   {"force": bool}
    deregister_environment     DELETE /v1/environments/bridge/{id}
    archive_session            POST   /v1/sessions/{id}/archive   (409: already archived, not an error)
    send_session_events        POST   /v1/sessions/{id}/events    {"events": [...]}
    code_session_bridge        POST   /v1/code/sessions/{id}/bridge
    register_worker            POST   /v1/code/sessions/{id}/worker/register

Headers: ``Authorization: Bearer`` (the bridge token; the environment secret for polls; the work's
session token for ack and heartbeat), ``anthropic-version: 2023-06-01``, ``anthropic-beta:
environments-2025-11-01``, ``x-environment-runner-version: claw/<version>``, JSON bodies.

Failures: transport errors, 429 and 5xx are retried with claw.api.retry's policy (Retry-After honoured,
else exponential back-off) and then raised classified; 401/403 are ``RemoteAuthError`` (after one
refresh when the token is a refreshable source such as the saved login), 404/410 ``RemoteGoneError``,
other statuses and malformed answers ``RemoteControlError`` (claw.remote.environments). Server
messages go through the redactor, which also learns every token the client sends.

Deliberately not here: the poll loop, leases and workers (serve), state files, printing.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

from claw.errors import ClawError, NetworkError
from claw.remote.environments import (AUTH_HINT, Environment, RemoteAuthError, WorkItem, classify_status, parse_environment,
                                      parse_work, path_segment, protocol_error, registration_body)

ANTHROPIC_VERSION = "2023-06-01"
ENVIRONMENTS_BETA = "environments-2025-11-01"
MAX_BODY = 1024 * 1024
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 4


class EnvironmentsClient:
    """See the module docstring. ``token``: a string, or a source with ``async get_token()`` and
    ``async refresh()`` (claw.auth.refresh.SavedLogin). ``retry``: a claw.api.retry.RetryPolicy."""

    def __init__(self, base_url: str, token: Any, *, net_config: Any = None, redactor: Any = None,
                 retry: Any = None, http: Any = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        from claw import __version__
        from claw.api.retry import RetryPolicy
        from claw.net.config import NetConfig
        from claw.redact import Redactor
        from claw.remote.endpoints import http_base

        self.base_url = http_base(base_url)
        self._token = token
        self._net_config = net_config or NetConfig.from_env()
        self.redactor = redactor or Redactor()
        self.retry = retry or RetryPolicy(max_retries=DEFAULT_RETRIES)
        self._http = http
        self._own_http = http is None
        self.timeout = timeout
        self.runner_version = f"claw/{__version__}"
        self.secrets: Dict[str, str] = {}  # environment id -> secret, from register/reconnect (for polls)

    async def aclose(self) -> None:
        if self._own_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> "EnvironmentsClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the endpoints ---------------------------------------------------------------------------------

    async def register_bridge(self, *, machine_name: str, directory: str, branch: Optional[str] = None,
                              git_repo_url: Optional[str] = None, max_sessions: int = 1, worker_type: str = "claw",
                              reuse_environment_id: Optional[str] = None) -> Environment:
        body = registration_body(machine_name=machine_name, directory=directory, branch=branch,
                                 git_repo_url=git_repo_url, max_sessions=max_sessions, worker_type=worker_type,
                                 reuse_environment_id=reuse_environment_id)
        return self._remember(parse_environment(await self.call("POST", "/v1/environments/bridge", body)))

    async def reconnect_environment(self, env_id: str, *, session_id: Optional[str] = None) -> Environment:
        body = {"session_id": session_id} if session_id else {}
        obj = await self.call("POST", f"/v1/environments/{path_segment(env_id)}/bridge/reconnect", body)
        if isinstance(obj, dict) and "environment_id" not in obj:
            obj = dict(obj, environment_id=env_id)
        return self._remember(parse_environment(obj))

    def _remember(self, env: Environment) -> Environment:
        if env.environment_secret:
            self.secrets[env.environment_id] = env.environment_secret
            self.redactor.add_secret(env.environment_secret)
        return env

    async def poll_work(self, env_id: str, *, reclaim_older_than_ms: Optional[int] = None,
                        environment_secret: Optional[str] = None) -> Optional[WorkItem]:
        """The next work item, or None when there is none (204, an empty body, ``null``, ``{}``).
        The bearer: ``environment_secret``, else the secret this client registered or reconnected
        ``env_id`` with, else the bridge credential."""
        path = f"/v1/environments/{path_segment(env_id)}/work/poll"
        if reclaim_older_than_ms is not None:
            path += f"?reclaim_older_than_ms={int(reclaim_older_than_ms)}"
        obj = await self.call("GET", path, bearer=environment_secret or self.secrets.get(env_id))
        if not obj:
            return None
        work = parse_work(obj)
        self.redactor.add_secret(work.secret)
        return work

    async def ack_work(self, env_id: str, work_id: str, session_token: str) -> Any:
        return await self.call("POST", f"{self._work(env_id, work_id)}/ack", {}, bearer=session_token)

    async def heartbeat_work(self, env_id: str, work_id: str, session_token: str) -> Dict[str, Any]:
        """``{"lease_extended": bool, "state": str, ...}`` as the server answers it."""
        obj = await self.call("POST", f"{self._work(env_id, work_id)}/heartbeat", {}, bearer=session_token)
        if not isinstance(obj, dict):
            raise protocol_error("the heartbeat answer is not a JSON object")
        return obj

    async def stop_work(self, env_id: str, work_id: str, *, force: bool = False) -> Any:
        return await self.call("POST", f"{self._work(env_id, work_id)}/stop", {"force": bool(force)})

    async def deregister_environment(self, env_id: str) -> Any:
        return await self.call("DELETE", f"/v1/environments/bridge/{path_segment(env_id)}")

    async def archive_session(self, session_id: str) -> bool:
        """True when archived now, False when it already was (409)."""
        status, _ = await self.request("POST", f"/v1/sessions/{path_segment(session_id)}/archive", {}, accept=(409,))
        return status != 409

    async def send_session_events(self, session_id: str, events: List[Dict[str, Any]], *,
                                  bearer: Optional[str] = None) -> Any:
        return await self.call("POST", f"/v1/sessions/{path_segment(session_id)}/events", {"events": list(events)},
                               bearer=bearer)

    async def code_session_bridge(self, session_id: str) -> Dict[str, Any]:
        """``{"worker_jwt", "expires_in", "api_base_url", "worker_epoch"}``: v2 worker credentials."""
        obj = await self.call("POST", f"/v1/code/sessions/{path_segment(session_id)}/bridge", {})
        if not isinstance(obj, dict):
            raise protocol_error("the code-session bridge answer is not a JSON object")
        if isinstance(obj.get("worker_jwt"), str):
            self.redactor.add_secret(obj["worker_jwt"])
        return obj

    async def register_worker(self, session_id: str, *, session_token: Optional[str] = None) -> Dict[str, Any]:
        obj = await self.call("POST", f"/v1/code/sessions/{path_segment(session_id)}/worker/register", {},
                              bearer=session_token)
        return obj if isinstance(obj, dict) else {}

    # -- one request -----------------------------------------------------------------------------------

    @staticmethod
    def _work(env_id: str, work_id: str) -> str:
        return f"/v1/environments/{path_segment(env_id)}/work/{path_segment(work_id)}"

    async def call(self, method: str, path: str, body: Any = None, *, bearer: Optional[str] = None) -> Any:
        """The decoded JSON answer of one request (None for an empty body)."""
        return (await self.request(method, path, body, bearer=bearer))[1]

    async def request(self, method: str, path: str, body: Any = None, *, bearer: Optional[str] = None,
                      accept: Tuple[int, ...] = ()) -> Tuple[int, Any]:
        """(status, decoded JSON) of ``method path``, retried and classified as the module says;
        a status in ``accept`` is returned instead of raised."""
        what = f"{method} {path.split('?')[0]}"
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        refreshed = False
        attempt = 0
        while True:
            token = bearer or await self._bearer(refresh=False)
            self.redactor.add_secret(token)
            try:
                status, headers, raw = await self._send(method, path, data, token)
            except NetworkError as exc:
                error: ClawError = NetworkError(f"{what} to {self.base_url}: {self.redactor.redact_text(exc.message)}",
                                                hint=exc.hint, kind=exc.kind, retryable=exc.retryable)
                headers = []
                if not self.retry.error_retryable(exc) or attempt >= self.retry.max_retries:
                    raise error from None
            else:
                if status < 300 or status in accept:
                    try:
                        return status, json.loads(raw) if raw.strip() else None
                    except ValueError:
                        raise protocol_error(f"{what} answered HTTP {status} with a body that is not JSON") from None
                from claw.api.retry import header

                request_id = header(headers, "request-id") or header(headers, "x-request-id")
                error = classify_status(status, what, self._detail(raw), request_id=request_id)
                if isinstance(error, RemoteAuthError) and status == 401 and not bearer and not refreshed \
                        and hasattr(self._token, "refresh"):
                    refreshed = True
                    await self._bearer(refresh=True)
                    continue
                if not error.retryable or attempt >= self.retry.max_retries:
                    raise error
            await self.retry.sleep(self.retry.delay(attempt, headers))
            attempt += 1

    async def _bearer(self, *, refresh: bool) -> str:
        token = self._token
        if token is None:
            raise RemoteAuthError("no credential for the environments API", hint=AUTH_HINT)
        if not isinstance(token, str):
            token = await (token.refresh() if refresh else token.get_token())
        return token

    async def _send(self, method: str, path: str, data: Optional[bytes], token: str) -> Tuple[int, list, bytes]:
        from claw.net.http import HttpClient, Timeouts

        if self._http is None:
            self._http = HttpClient(self._net_config)
        headers = [("Authorization", f"Bearer {token}"), ("Accept", "application/json"),
                   ("anthropic-version", ANTHROPIC_VERSION), ("anthropic-beta", ENVIRONMENTS_BETA),
                   ("x-environment-runner-version", self.runner_version)]
        if data is not None:
            headers.append(("Content-Type", "application/json"))
        response = await self._http.request(method, self.base_url + path, headers=headers, body=data,
                                            timeouts=Timeouts(total=self.timeout))
        async with response:
            raw = b""
            async for chunk in response.iter_bytes():
                raw += chunk
                if len(raw) > MAX_BODY:
                    raise protocol_error(f"{method} {path.split('?')[0]} answered more than {MAX_BODY} bytes")
            return response.status, response.headers, raw

    def _detail(self, raw: bytes) -> str:
        text = raw.decode("utf-8", "replace")
        try:
            error = json.loads(text)["error"]
            text = str(error["message"] if isinstance(error, dict) else error)
        except (ValueError, KeyError, TypeError):
            pass
        return self.redactor.redact_text(" ".join(text.split())[:300])
