"""The remote-session context: is claw running inside a remote (cloud) session container, which session,
which API base, and may the upstream-proxy relay start — read from an environment mapping.

- remote mode: ``CLAW_REMOTE`` or ``CLAUDE_CODE_REMOTE`` truthy (``1``, ``true``, ``yes``, ``on``, any
  case, surrounding blanks ignored);
- session id: ``CLAW_REMOTE_SESSION_ID``, else ``CLAUDE_CODE_REMOTE_SESSION_ID``;
- base URL: ``CLAW_REMOTE_BASE_URL`` (claw's own override, for a session API that is not the model API),
  else ``ANTHROPIC_BASE_URL``, else the public API;
- session token: the trimmed text of ``CCR_SESSION_TOKEN_PATH`` (default ``/run/ccr/session_token``);
  a missing, unreadable or empty file means no token. The file is read only when remote mode and
  ``CCR_UPSTREAM_PROXY_ENABLED`` are both on, so an ordinary run touches no file;
- the upstream proxy is enabled only when remote mode is on, ``CCR_UPSTREAM_PROXY_ENABLED`` is truthy
  and both a session id and a token exist; otherwise ``upstream_proxy_reason`` says why (for
  ``claw doctor`` and the one-line start-up notice).

``sdk_url_token(env)`` is the bearer token for ``--sdk-url``: ``CLAW_SESSION_ACCESS_TOKEN`` /
``CLAUDE_CODE_SESSION_ACCESS_TOKEN``, else the session token file when one exists.

Pure apart from reading the token file through an injectable reader; no network, no asyncio. The token
never appears in a repr or a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Tuple

from claw.remote.endpoints import DEFAULT_BASE_URL, ca_cert_url, upstream_proxy_ws_url

TRUTHY = ("1", "true", "yes", "on")
DEFAULT_TOKEN_PATH = "/run/ccr/session_token"
REMOTE_VARIABLES = ("CLAW_REMOTE", "CLAUDE_CODE_REMOTE")
SESSION_ID_VARIABLES = ("CLAW_REMOTE_SESSION_ID", "CLAUDE_CODE_REMOTE_SESSION_ID")
BASE_URL_VARIABLES = ("CLAW_REMOTE_BASE_URL", "ANTHROPIC_BASE_URL")
TOKEN_PATH_VARIABLE = "CCR_SESSION_TOKEN_PATH"
UPSTREAM_PROXY_VARIABLE = "CCR_UPSTREAM_PROXY_ENABLED"
ACCESS_TOKEN_VARIABLES = ("CLAW_SESSION_ACCESS_TOKEN", "CLAUDE_CODE_SESSION_ACCESS_TOKEN")

TokenReader = Callable[[str], Tuple[Optional[str], Optional[str]]]


def is_truthy(value: Optional[str]) -> bool:
    """``1``, ``true``, ``yes``, ``on`` in any case, blanks around ignored."""
    return value is not None and value.strip().lower() in TRUTHY


def first_set(env: Mapping[str, str], names) -> Tuple[Optional[str], Optional[str]]:
    """(value, variable name) of the first of ``names`` set to a non-blank value, else (None, None)."""
    for name in names:
        value = (env.get(name) or "").strip()
        if value:
            return value, name
    return None, None


def read_session_token(path: str) -> Tuple[Optional[str], Optional[str]]:
    """(token, None) from the file at ``path``, trimmed; (None, why) when it is missing, unreadable or
    empty. The reason never contains the file's content."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(64 * 1024)
    except FileNotFoundError:
        return None, f"no session token file at {path}"
    except IsADirectoryError:
        return None, f"the session token path {path} is a directory"
    except PermissionError:
        return None, f"the session token file {path} is not readable (permission denied)"
    except OSError as exc:
        return None, f"the session token file {path} cannot be read ({exc.strerror or exc})"
    try:
        token = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None, f"the session token file {path} is not UTF-8 text"
    if not token:
        return None, f"the session token file {path} is empty"
    if any(ch in token for ch in "\r\n\0"):
        return None, f"the session token file {path} holds more than one line"
    return token, None


@dataclass(frozen=True)
class RemoteContext:
    """What the environment says about the remote session. Build it with ``from_env``."""

    enabled: bool = False
    session_id: Optional[str] = None
    base_url: str = DEFAULT_BASE_URL
    base_url_source: str = "default"  # the variable the base URL came from, or "default"
    token_path: str = DEFAULT_TOKEN_PATH
    upstream_proxy_requested: bool = False  # CCR_UPSTREAM_PROXY_ENABLED truthy
    token: Optional[str] = field(default=None, repr=False)
    token_problem: Optional[str] = None  # why there is no token (when it was looked for)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *,
                 read_token: TokenReader = read_session_token) -> RemoteContext:
        enabled = any(is_truthy(env.get(name)) for name in REMOTE_VARIABLES)
        session_id, _ = first_set(env, SESSION_ID_VARIABLES)
        base_url, base_source = first_set(env, BASE_URL_VARIABLES)
        token_path = (env.get(TOKEN_PATH_VARIABLE) or "").strip() or DEFAULT_TOKEN_PATH
        requested = is_truthy(env.get(UPSTREAM_PROXY_VARIABLE))
        token = problem = None
        if enabled and requested:
            token, problem = read_token(token_path)
        return cls(enabled=enabled, session_id=session_id, base_url=base_url or DEFAULT_BASE_URL,
                   base_url_source=base_source or "default", token_path=token_path,
                   upstream_proxy_requested=requested, token=token, token_problem=problem)

    @property
    def upstream_proxy_reason(self) -> Optional[str]:
        """None when the relay may start; otherwise why not, in one line without secrets."""
        if not self.enabled:
            return "not a remote session (CLAW_REMOTE / CLAUDE_CODE_REMOTE is not set)"
        if not self.upstream_proxy_requested:
            return f"{UPSTREAM_PROXY_VARIABLE} is not set"
        if not self.session_id:
            return "no remote session id (CLAW_REMOTE_SESSION_ID / CLAUDE_CODE_REMOTE_SESSION_ID)"
        if not self.token:
            return self.token_problem or f"no session token at {self.token_path}"
        return None

    @property
    def upstream_proxy_enabled(self) -> bool:
        return self.upstream_proxy_reason is None

    @property
    def wants_relay(self) -> bool:
        """Remote mode and CCR_UPSTREAM_PROXY_ENABLED are on: a failure to start is worth a notice."""
        return self.enabled and self.upstream_proxy_requested

    @property
    def ws_url(self) -> str:
        return upstream_proxy_ws_url(self.base_url)

    @property
    def ca_url(self) -> str:
        return ca_cert_url(self.base_url)

    def _token_state(self) -> str:
        if not self.upstream_proxy_requested:
            return " (not read: the upstream proxy is not requested)"
        return " (present)" if self.token else " (not usable)"

    def describe(self) -> Tuple[str, ...]:
        """Lines for ``claw doctor``: mode, session, base URL, endpoints, relay eligibility."""
        if not self.enabled:
            return ("remote session mode: off",)
        lines = [
            "remote session mode: on",
            f"session id: {self.session_id or '(missing)'}",
            f"base URL: {self.base_url} (from {self.base_url_source})",
            f"upstream proxy WebSocket: {self.ws_url}",
            f"session CA endpoint: {self.ca_url}",
            f"session token file: {self.token_path}{self._token_state()}",
        ]
        reason = self.upstream_proxy_reason
        lines.append("upstream proxy relay: will start" if reason is None
                     else f"upstream proxy relay: disabled ({reason})")
        return tuple(lines)


def sdk_url_token(env: Mapping[str, str], *,
                  read_token: TokenReader = read_session_token) -> Optional[str]:
    """The bearer token for ``--sdk-url``: an access-token variable, else the session token file
    (``CCR_SESSION_TOKEN_PATH``, default /run/ccr/session_token) when it exists; None without one."""
    value, _ = first_set(env, ACCESS_TOKEN_VARIABLES)
    if value:
        return value
    path = (env.get(TOKEN_PATH_VARIABLE) or "").strip() or DEFAULT_TOKEN_PATH
    token, _problem = read_token(path)
    return token
