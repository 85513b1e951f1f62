"""The environments (remote-control bridge) API as data: typed values, request bodies, response
parsers and the classified errors. Sans-IO: nothing here opens a connection or a file.

- ``Environment``: what registering or reconnecting a bridge environment returns
  (``environment_id``, ``environment_secret``);
- ``WorkItem``: one item of ``GET /v1/environments/{id}/work/poll``: ``{"id", "type": "work",
  "environment_id", "state", "data": {"type": "session"|"healthcheck", "id"}, "secret", "created_at"}``
  (``secret`` stays the raw base64url text: claw.remote.work_secret decodes it);
- ``registration_body`` (``POST /v1/environments/bridge``), ``permission_response_event`` (the
  ``control_response`` event that answers a ``can_use_tool`` request);
- ``RemoteControlError`` and its subclasses, each a ``ClawError`` with a failure class:
  ``RemoteAuthError`` (401/403: fatal, ``provider_auth``), ``RemoteGoneError`` (404/410: the
  environment, work item or session no longer exists), and ``RemoteControlError`` itself for rate
  limits, server errors and malformed answers; ``classify_status`` picks one for an HTTP status.

Secrets (``environment_secret``, the work ``secret``) are kept out of ``repr``. Deliberately not here:
HTTP (claw.remote.env_client), decoding work secrets (claw.remote.work_secret), files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from claw.errors import ClawError

WORK_DATA_TYPES = ("session", "healthcheck")
AUTH_HINT = ("run `claw login`, or set CLAW_BRIDGE_TOKEN (or --token-file); "
             "`claw remote-control bridge-credentials` shows which credential is used")


class RemoteControlError(ClawError):
    """A failure of the environments API or of its data: ``kind`` says which (``remote_protocol``,
    ``remote_rate_limit``, ``remote_server``, ``remote_error``...)."""

    kind = "remote_error"
    failure_class = "provider_error"


class RemoteAuthError(RemoteControlError):
    """401/403, or no credential at all: retrying cannot help."""

    kind = "remote_auth"
    failure_class = "provider_auth"


class RemoteGoneError(RemoteControlError):
    """404/410: the environment, work item or session is gone (deregistered, expired, archived)."""

    kind = "remote_gone"


def protocol_error(message: str) -> RemoteControlError:
    return RemoteControlError(message, kind="remote_protocol")


def path_segment(value: str) -> str:
    """An environment, work or session id as it goes into a URL path: letters, digits, ``_`` and ``-``
    only (no ``..``, ``/``, ``?``, ``%``), else a protocol error: an id from a server or a flag must
    never steer a request, and its bearer token, to another endpoint."""
    if not (isinstance(value, str) and 0 < len(value) <= 200 and all(c.isascii() and (c.isalnum() or c in "_-")
                                                                      for c in value)):
        raise protocol_error(f"not a valid id: {str(value)[:40]!r} (letters, digits, '_' and '-' only)")
    return value


def classify_status(status: int, what: str, detail: str = "", *, request_id: Optional[str] = None) -> ClawError:
    """The error for an HTTP ``status`` answered to ``what`` (``"POST /v1/..."``); ``detail`` is the
    server's message (already redacted)."""
    text = f"{what} answered HTTP {status}" + (f": {detail}" if detail else "")
    if status in (401, 403):
        return RemoteAuthError(text, hint=AUTH_HINT, status=status, request_id=request_id)
    if status in (404, 410):
        return RemoteGoneError(text, status=status, request_id=request_id,
                               hint="the environment may have been deregistered or expired: "
                                    "`claw remote-control connect` registers it again")
    if status == 429:
        return RemoteControlError(text, kind="remote_rate_limit", failure_class="provider_rate_limit",
                                  status=status, retryable=True, request_id=request_id)
    if status >= 500:
        return RemoteControlError(text, kind="remote_server",
                                  failure_class="provider_overloaded" if status == 529 else "provider_internal",
                                  status=status, retryable=True, request_id=request_id)
    return RemoteControlError(text, status=status, request_id=request_id)


def _text(obj: Dict[str, Any], key: str, what: str, *, required: bool = True) -> Optional[str]:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise protocol_error(f"{what}: {key!r} is missing or not a non-empty string")
    return value


@dataclass(frozen=True)
class Environment:
    """A registered bridge environment; ``environment_secret`` authenticates its work polls."""

    environment_id: str
    environment_secret: str = field(default="", repr=False)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def parse_environment(obj: Any) -> Environment:
    """``{"environment_id", "environment_secret"}`` from register/reconnect (a reconnect may omit the
    secret: the old one stays valid)."""
    if not isinstance(obj, dict):
        raise protocol_error("the environment answer is not a JSON object")
    what = "the environment answer"
    return Environment(_text(obj, "environment_id", what) or "",
                       _text(obj, "environment_secret", what, required=False) or "", obj)


@dataclass(frozen=True)
class WorkItem:
    """One unit of work for this environment: a session to run, or a health check to acknowledge."""

    id: str
    type: str
    environment_id: str
    state: str
    data_type: str
    data_id: str
    secret: str = field(default="", repr=False)
    created_at: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        """The item without its secret (for output and state files)."""
        return {"id": self.id, "type": self.type, "environment_id": self.environment_id, "state": self.state,
                "data": {"type": self.data_type, "id": self.data_id}, "created_at": self.created_at}


def parse_work(obj: Any) -> WorkItem:
    """A ``WorkItem`` from one poll answer; ``RemoteControlError(kind="remote_protocol")`` when it is
    not one."""
    if not isinstance(obj, dict):
        raise protocol_error("the work item is not a JSON object")
    what = "the work item"
    kind = obj.get("type", "work")
    if kind != "work":
        raise protocol_error(f"{what}: type is {kind!r}, not 'work'")
    data = obj.get("data")
    if not isinstance(data, dict):
        raise protocol_error(f"{what}: 'data' is missing or not an object")
    data_type = _text(data, "type", f"{what} data") or ""
    if data_type not in WORK_DATA_TYPES:
        raise protocol_error(f"{what}: data type {data_type!r} is not one of {', '.join(WORK_DATA_TYPES)}")
    created = obj.get("created_at")
    return WorkItem(_text(obj, "id", what) or "", "work", _text(obj, "environment_id", what) or "",
                    _text(obj, "state", what, required=False) or "queued", data_type,
                    _text(data, "id", f"{what} data") or "",
                    _text(obj, "secret", what, required=data_type == "session") or "",
                    created if isinstance(created, str) else None)


def registration_body(*, machine_name: str, directory: str, branch: Optional[str], git_repo_url: Optional[str],
                      max_sessions: int, worker_type: str, reuse_environment_id: Optional[str] = None) -> Dict[str, Any]:
    """The body of ``POST /v1/environments/bridge``."""
    body: Dict[str, Any] = {"machine_name": machine_name, "directory": directory, "branch": branch,
                            "git_repo_url": git_repo_url, "max_sessions": max_sessions,
                            "metadata": {"worker_type": worker_type}}
    if reuse_environment_id:
        body["environment_id"] = reuse_environment_id
    return body


def permission_response_event(request_id: str, *, allow: bool, message: Optional[str] = None,
                              updated_input: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The ``control_response`` event answering the ``can_use_tool`` request ``request_id``."""
    answer: Dict[str, Any] = {"behavior": "allow" if allow else "deny"}
    if allow and updated_input is not None:
        answer["updatedInput"] = updated_input
    if not allow:
        answer["message"] = message or "denied remotely"
    elif message:
        answer["message"] = message
    return {"type": "control_response",
            "response": {"subtype": "success", "request_id": request_id, "response": answer}}
