"""Work secrets: the base64url JSON a session work item carries, and the URLs derived from it.

``decode_work_secret(text)``: base64url (``-`` and ``_``), padding optional; anything else, a length no
base64 has, bytes that are not UTF-8 JSON, a JSON value that is not an object, a ``version`` other
than 1, an empty ``session_ingress_token`` or a missing ``api_base_url`` is a ``RemoteControlError``
(``kind="remote_protocol"``) that never quotes the text. ``encode_work_secret`` is the inverse.

``sdk_url(api_base_url, session_id)``: the session-ingress WebSocket of a v1 session,
``ws(s)://<base>/v1/session_ingress/ws/<session id>`` (``http`` gives ``ws``, ``https`` or no scheme
``wss``: claw.remote.endpoints' rule). ``code_session_url(api_base_url, session_id)``: the base of a v2
code session's worker endpoints, ``http(s)://<base>/v1/code/sessions/<session id>``.

The token never appears in a ``repr``; ``WorkSecret.to_json(redactor)`` is the printable form. Nothing
here does I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from claw.remote.environments import path_segment, protocol_error

SUPPORTED_VERSION = 1
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class WorkSecret:
    """A decoded work secret. ``session_ingress_token`` authenticates the session's ingress, its
    ack/heartbeat calls, and may serve as the model credential."""

    version: int
    session_ingress_token: str = field(repr=False)
    api_base_url: str
    sources: List[Any] = field(default_factory=list)
    auth: List[Any] = field(default_factory=list, repr=False)
    claude_code_args: Optional[Dict[str, Any]] = None
    mcp_config: Any = field(default=None, repr=False)
    environment_variables: Optional[Dict[str, str]] = field(default=None, repr=False)
    use_code_sessions: Optional[bool] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self, redactor: Any = None) -> Dict[str, Any]:
        """The secret as JSON with the token, ``auth`` values and secret-looking values redacted."""
        from claw.redact import MARK, Redactor

        redactor = redactor or Redactor()
        redactor.add_secret(self.session_ingress_token)
        shown = dict(self.raw)
        shown["session_ingress_token"] = MARK
        if "auth" in shown:
            shown["auth"] = [MARK for _ in self.auth] if isinstance(self.auth, list) else MARK
        if isinstance(self.environment_variables, dict):
            shown["environment_variables"] = {k: MARK for k in self.environment_variables}
        return redactor.redact_obj(shown)


def decode_work_secret(text: str) -> WorkSecret:
    """The ``WorkSecret`` encoded in ``text`` (see the module docstring)."""
    data = (text or "").strip().rstrip("=")
    if not data:
        raise protocol_error("the work secret is empty")
    if not set(data) <= _ALPHABET or len(data) % 4 == 1:
        raise protocol_error("the work secret is not base64url text")
    try:
        obj = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise protocol_error("the work secret does not decode to JSON") from None
    if not isinstance(obj, dict):
        raise protocol_error("the work secret is not a JSON object")
    version = obj.get("version")
    if version != SUPPORTED_VERSION or isinstance(version, bool):
        shown = version if isinstance(version, (int, float)) and not isinstance(version, bool) else "unknown"
        raise protocol_error(f"unsupported work secret version {shown} (claw reads version {SUPPORTED_VERSION})")
    token = obj.get("session_ingress_token")
    if not isinstance(token, str) or not token:
        raise protocol_error("the work secret has no session_ingress_token")
    base = obj.get("api_base_url")
    if not isinstance(base, str) or not base:
        raise protocol_error("the work secret has no api_base_url")

    def typed(key: str, kind: type, default: Any) -> Any:
        value = obj.get(key)
        return value if isinstance(value, kind) else default

    flag = obj.get("use_code_sessions")
    return WorkSecret(SUPPORTED_VERSION, token, base, typed("sources", list, []), typed("auth", list, []),
                      typed("claude_code_args", dict, None), obj.get("mcp_config"),
                      typed("environment_variables", dict, None), flag if isinstance(flag, bool) else None, obj)


def encode_work_secret(obj: Dict[str, Any]) -> str:
    """``obj`` as a work secret (JSON, base64url without padding)."""
    raw = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _session(session_id: str) -> str:
    return path_segment(session_id)


def sdk_url(api_base_url: str, session_id: str) -> str:
    """The v1 session-ingress WebSocket URL of ``session_id``."""
    from claw.remote.endpoints import websocket_base

    return f"{websocket_base(api_base_url)}/v1/session_ingress/ws/{_session(session_id)}"


def code_session_url(api_base_url: str, session_id: str) -> str:
    """The v2 code-session base URL of ``session_id`` (``.../worker/...`` hang below it)."""
    from claw.remote.endpoints import http_base

    return f"{http_base(api_base_url)}/v1/code/sessions/{_session(session_id)}"
