"""A fake of the environments (remote-control bridge) API for the tests: the spec of record of what
claw's client sends and what it gets back (docs/REMOTE.md, "Remote control").

``EnvironmentsServer(token=...)`` listens on 127.0.0.1 (a free port; HTTPS with ``tls=`` a trustme
LeafCert) in a background thread, records every request (``requests``: method, path, query, headers,
JSON body) and serves:

  POST   /v1/environments/bridge                          bridge token; registers (or re-uses
                                                          ``environment_id``) -> {environment_id, environment_secret}
  POST   /v1/environments/{id}/bridge/reconnect           bridge token -> {environment_id, environment_secret} (a new secret)
  GET    /v1/environments/{id}/work/poll                  the environment secret -> the next work item, or 204
  POST   /v1/environments/{id}/work/{work}/ack            the work's session token -> {}
  POST   /v1/environments/{id}/work/{work}/heartbeat      the work's session token -> {lease_extended, state, ttl_seconds, last_heartbeat}
  POST   /v1/environments/{id}/work/{work}/stop           bridge token, {"force": bool} -> {}
  DELETE /v1/environments/bridge/{id}                     bridge token -> {}
  POST   /v1/sessions/{id}/archive                        bridge token -> {} (409 when archived already)
  POST   /v1/sessions/{id}/events                         bridge token or a session token, {"events": [...]} -> {}
                                                          (relayed to ``session_hosts[id]``, a fake session host, if set)
  POST   /v1/code/sessions/{id}/bridge                    bridge token -> {worker_jwt, expires_in, api_base_url, worker_epoch}
  POST   /v1/code/sessions/{id}/worker/register           bridge token or the session's token -> {worker_epoch}

Every request must carry ``anthropic-version``, an ``anthropic-beta`` naming ``environments-2025-11-01``
and ``x-environment-runner-version`` (400 otherwise); a wrong bearer is 401; an unknown environment or
work item 404; a deregistered environment 410.

Work: ``add_work(env_id, session_id=None, kind="session", **secret_fields)`` queues an item whose
secret it encodes (a fresh session token, ``api_base_url`` = this server unless given). A poll hands
out the oldest queued item that was never delivered, or one delivered but not acked for longer than
``reclaim_older_than_ms`` (default 5000). An ack starts a lease of ``lease_ttl`` seconds that each
heartbeat renews; a poll first re-queues acked items whose lease expired (``reclaims`` counts them),
so a dead worker's session is handed out again. ``expire_lease(work_id)`` ends a lease now;
``request_stop(work_id)`` is the service asking for the item to end (heartbeats answer ``state:
stopping``). Stop makes an item ``stopped`` (its heartbeats answer ``lease_extended: false``).

Faults: ``fail_next(method, path_regex, status, count=1, headers=None, body=None)`` answers the next
matching requests with that status; ``drop_next(method, path_regex, count=1)`` closes the connection
without an answer.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

from claw.remote.work_secret import encode_work_secret
from tests.fakes.threaded_http import BackgroundHTTPServer

BETA = "environments-2025-11-01"


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: Dict[str, str]
    headers: Dict[str, str]
    body: Any

    @property
    def bearer(self) -> Optional[str]:
        value = self.headers.get("authorization", "")
        return value[len("Bearer "):] if value.startswith("Bearer ") else None


@dataclass
class FakeWork:
    """A work item and its lease."""

    id: str
    environment_id: str
    kind: str
    session_id: str
    secret: str
    session_token: str
    created: float
    state: str = "queued"
    delivered_at: Optional[float] = None
    lease_until: Optional[float] = None
    heartbeats: int = 0
    deliveries: int = 0
    stop_force: Optional[bool] = None

    def as_json(self) -> Dict[str, Any]:
        return {"id": self.id, "type": "work", "environment_id": self.environment_id, "state": self.state,
                "data": {"type": self.kind, "id": self.session_id}, "secret": self.secret,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created))}


@dataclass
class FakeEnvironment:
    """A registered environment."""

    id: str
    secret: str
    registration: Dict[str, Any]
    deregistered: bool = False
    reconnects: int = 0


@dataclass
class _Fault:
    method: str
    pattern: Any
    status: int  # 0: drop the connection
    count: int
    headers: Dict[str, str] = field(default_factory=dict)
    body: Any = None


class EnvironmentsServer(BackgroundHTTPServer):
    """See the module docstring; a context manager."""

    def __init__(self, token: str = "bridge-token-0123456789", *, tls: Any = None, lease_ttl: float = 30.0,
                 check_headers: bool = True) -> None:
        self.token = token
        self.tls = tls
        self.lease_ttl = lease_ttl
        self.check_headers = check_headers
        self._server = None
        self.port = 0
        self.lock = threading.RLock()
        self.requests: List[Recorded] = []
        self.environments: Dict[str, FakeEnvironment] = {}
        self.work: Dict[str, FakeWork] = {}
        self.events: Dict[str, List[Any]] = {}
        self.archived: List[str] = []
        self.workers: Dict[str, int] = {}
        self.session_hosts: Dict[str, Any] = {}  # session id -> a SessionIngress its events are relayed to
        self.reclaims = 0
        self._faults: List[_Fault] = []
        self._counter = 0

    @property
    def url(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://127.0.0.1:{self.port}"

    # -- programming it --------------------------------------------------------------------------------

    def _next(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self._counter:04d}{secrets.token_hex(3)}"

    def register(self, **registration: Any) -> FakeEnvironment:
        with self.lock:
            env = FakeEnvironment(self._next("env"), "envsecret-" + secrets.token_hex(12), registration)
            self.environments[env.id] = env
            return env

    def add_work(self, env_id: str, session_id: Optional[str] = None, kind: str = "session",
                 **secret_fields: Any) -> FakeWork:
        with self.lock:
            session_id = session_id or self._next("session")
            token = "sit-" + secrets.token_hex(16)
            fields = {"version": 1, "session_ingress_token": token, "api_base_url": self.url, "sources": [],
                      "auth": []}
            fields.update(secret_fields)
            work = FakeWork(self._next("work"), env_id, kind, session_id, encode_work_secret(fields),
                            str(fields.get("session_ingress_token")), time.time())
            self.work[work.id] = work
            return work

    def expire_lease(self, work_id: str) -> None:
        with self.lock:
            self.work[work_id].lease_until = time.time() - 1

    def request_stop(self, work_id: str) -> None:
        """The service ends the session (its user closed it): the item is ``stopping`` until the worker's
        stop_work confirms it; heartbeats say so (``state: stopping``, the lease still extended)."""
        with self.lock:
            self.work[work_id].state = "stopping"

    def fail_next(self, method: str, path_regex: str, status: int, *, count: int = 1,
                  headers: Optional[Dict[str, str]] = None, body: Any = None) -> None:
        with self.lock:
            self._faults.append(_Fault(method.upper(), re.compile(path_regex), status, count, headers or {}, body))

    def drop_next(self, method: str, path_regex: str, *, count: int = 1) -> None:
        self.fail_next(method, path_regex, 0, count=count)

    def paths(self) -> List[Tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]

    # -- serving ---------------------------------------------------------------------------------------

    def handler_class(self) -> Any:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                parts = urlsplit(self.path)
                rec = Recorded(self.command, parts.path, dict(parse_qsl(parts.query)),
                               {k.lower(): v for k, v in self.headers.items()}, body)
                with fake.lock:
                    fake.requests.append(rec)
                    fault = fake._fault(rec)
                if fault is not None:
                    if fault.status == 0:
                        self.close_connection = True
                        self.connection.close()
                        return
                    self._answer(fault.status, fault.body if fault.body is not None else
                                 {"type": "error", "error": {"type": "injected", "message": f"injected {fault.status}"}},
                                 fault.headers)
                    return
                with fake.lock:
                    status, answer = fake._route(rec)
                self._answer(status, answer)

            def _answer(self, status: int, answer: Any, headers: Optional[Dict[str, str]] = None) -> None:
                data = b"" if answer is None or status == 204 else json.dumps(answer).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if status != 204:
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _serve

        return Handler

    def _fault(self, rec: Recorded) -> Optional[_Fault]:
        for fault in self._faults:
            if fault.count > 0 and fault.method == rec.method and fault.pattern.search(rec.path):
                fault.count -= 1
                return fault
        return None

    @staticmethod
    def _error(status: int, kind: str, message: str) -> Tuple[int, Any]:
        return status, {"type": "error", "error": {"type": kind, "message": message}}

    def _route(self, rec: Recorded) -> Tuple[int, Any]:
        if self.check_headers:
            h = rec.headers
            if not h.get("anthropic-version") or BETA not in h.get("anthropic-beta", "") \
                    or not h.get("x-environment-runner-version"):
                return self._error(400, "invalid_request_error", "missing anthropic-version, anthropic-beta "
                                   "or x-environment-runner-version")
        m, p = rec.method, rec.path
        if m == "POST" and p == "/v1/environments/bridge":
            return self._register(rec)
        match = re.fullmatch(r"/v1/environments/bridge/([^/]+)", p)
        if match and m == "DELETE":
            return self._deregister(rec, match.group(1))
        match = re.fullmatch(r"/v1/environments/([^/]+)/(bridge/reconnect|work/poll|work/([^/]+)/(ack|heartbeat|stop))", p)
        if match:
            return self._environment_call(rec, match.group(1), match.group(2), match.group(3), match.group(4))
        match = re.fullmatch(r"/v1/sessions/([^/]+)/(archive|events)", p)
        if match and m == "POST":
            return self._session_call(rec, match.group(1), match.group(2))
        match = re.fullmatch(r"/v1/code/sessions/([^/]+)/(bridge|worker/register)", p)
        if match and m == "POST":
            return self._code_session(rec, match.group(1), match.group(2))
        return self._error(404, "not_found_error", f"no route {m} {p}")

    def _unauthorized(self) -> Tuple[int, Any]:
        return self._error(401, "authentication_error", "invalid bearer token")

    def _session_tokens(self, session_id: str) -> List[str]:
        return [w.session_token for w in self.work.values() if w.session_id == session_id]

    def _register(self, rec: Recorded) -> Tuple[int, Any]:
        if rec.bearer != self.token:
            return self._unauthorized()
        body = rec.body if isinstance(rec.body, dict) else {}
        reuse = body.get("environment_id")
        if reuse and reuse in self.environments and not self.environments[reuse].deregistered:
            env = self.environments[reuse]
            env.registration = body
        else:
            env = self.register(**body)
        return 200, {"environment_id": env.id, "environment_secret": env.secret}

    def _deregister(self, rec: Recorded, env_id: str) -> Tuple[int, Any]:
        if rec.bearer != self.token:
            return self._unauthorized()
        env = self.environments.get(env_id)
        if env is None:
            return self._error(404, "not_found_error", "no such environment")
        if env.deregistered:
            return self._error(410, "gone", "environment deregistered")
        env.deregistered = True
        return 200, {}

    def _environment_call(self, rec: Recorded, env_id: str, what: str, work_id: Optional[str],
                          action: Optional[str]) -> Tuple[int, Any]:
        env = self.environments.get(env_id)
        if env is None:
            return self._error(404, "not_found_error", "no such environment")
        if env.deregistered:
            return self._error(410, "gone", "environment deregistered")
        if what == "bridge/reconnect":
            if rec.bearer != self.token:
                return self._unauthorized()
            env.reconnects += 1
            env.secret = "envsecret-" + secrets.token_hex(12)
            return 200, {"environment_id": env.id, "environment_secret": env.secret}
        if what == "work/poll":
            if rec.bearer != env.secret:
                return self._unauthorized()
            return self._poll(env, rec)
        work = self.work.get(work_id or "")
        if work is None or work.environment_id != env_id:
            return self._error(404, "not_found_error", "no such work item")
        if action == "stop":
            if rec.bearer != self.token:
                return self._unauthorized()
            work.state = "stopped"
            work.lease_until = None
            work.stop_force = bool((rec.body or {}).get("force")) if isinstance(rec.body, dict) else False
            return 200, {}
        if rec.bearer != work.session_token:
            return self._unauthorized()
        if action == "ack":
            if work.state == "queued":
                work.state = "running"
            work.lease_until = time.time() + self.lease_ttl
            return 200, {}
        work.heartbeats += 1
        extended = work.state in ("running", "stopping")
        if extended:
            work.lease_until = time.time() + self.lease_ttl
        state = "active" if work.state == "running" else work.state  # the API's names: active, stopping, stopped
        return 200, {"lease_extended": extended, "state": state, "ttl_seconds": int(self.lease_ttl),
                     "last_heartbeat": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def _poll(self, env: FakeEnvironment, rec: Recorded) -> Tuple[int, Any]:
        now = time.time()
        reclaim = float(rec.query.get("reclaim_older_than_ms", 5000)) / 1000.0
        items = sorted((w for w in self.work.values() if w.environment_id == env.id), key=lambda w: w.created)
        for work in items:
            if work.state == "running" and work.lease_until is not None and work.lease_until < now:
                work.state, work.delivered_at, work.lease_until = "queued", None, None
                self.reclaims += 1
        for work in items:
            if work.state == "queued" and (work.delivered_at is None or now - work.delivered_at >= reclaim):
                work.delivered_at = now
                work.deliveries += 1
                return 200, work.as_json()
        return 204, None

    def _session_call(self, rec: Recorded, session_id: str, what: str) -> Tuple[int, Any]:
        if what == "archive":
            if rec.bearer != self.token:
                return self._unauthorized()
            if session_id in self.archived:
                return self._error(409, "conflict", "session already archived")
            self.archived.append(session_id)
            return 200, {}
        if rec.bearer != self.token and rec.bearer not in self._session_tokens(session_id):
            return self._unauthorized()
        if not isinstance(rec.body, dict) or not isinstance(rec.body.get("events"), list):
            return self._error(400, "invalid_request_error", "body must be {\"events\": [...]}")
        self.events.setdefault(session_id, []).extend(rec.body["events"])
        host = self.session_hosts.get(session_id)
        for event in rec.body["events"] if host is not None else ():
            host.send(event, v2=host.v2)  # as the service relays a client's event to the session's worker
        return 200, {}

    def _code_session(self, rec: Recorded, session_id: str, what: str) -> Tuple[int, Any]:
        if what == "bridge":
            if rec.bearer != self.token:
                return self._unauthorized()
            self.workers[session_id] = self.workers.get(session_id, 0) + 1
            return 200, {"worker_jwt": "wjwt-" + secrets.token_hex(12), "expires_in": 3600,
                         "api_base_url": self.url, "worker_epoch": self.workers[session_id]}
        if rec.bearer != self.token and rec.bearer not in self._session_tokens(session_id):
            return self._unauthorized()
        self.workers[session_id] = self.workers.get(session_id, 0) + 1
        return 200, {"worker_epoch": self.workers[session_id]}
