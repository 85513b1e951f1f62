"""A fake OAuth 2.0 authorization server (authorization code + PKCE, refresh tokens) for the tests.

It listens on 127.0.0.1 (a free port by default) in a background thread (ThreadingHTTPServer), so
asyncio tests, sync tests and subprocesses can all use it, and records every request.

    with OAuthServer(expires_in=3600) as srv:
        env = srv.env()                      # CLAW_OAUTH_AUTHORIZE_URL / _TOKEN_URL / _CLIENT_ID, NO_PROXY
        location = srv.browse(sign_in_url)   # what a browser would do: GET /authorize, return the redirect
        srv.requests[-1].form["grant_type"]

Endpoints:
  GET  /authorize  checks client_id, response_type=code, redirect_uri, code_challenge (S256) and
                   answers 302 to ``redirect_uri?code=...&state=...``; ``authorize_error`` makes it
                   redirect with ``error=...`` instead, ``state_override`` sends another state.
  POST /token      form-encoded or JSON bodies (recorded as ``content_type``), grants
                   ``authorization_code`` (code unused, same client_id and redirect_uri, S256 of
                   code_verifier matches) and ``refresh_token`` (a live refresh token; rotated by
                   default: the old one dies). Tokens expire after ``expires_in`` seconds
                   (``expires_in=None``: the response carries no lifetime). ``fail_next(grant, ...)``
                   queues an error answer; ``refresh_delay`` slows refreshes (to widen races).

``valid(access_token)`` tells whether a token is live (for a model-server handler answering 401), and
``issue()`` mints tokens directly, to seed a credentials file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit


@dataclass
class OAuthRequest:
    method: str
    path: str
    query: Dict[str, str]
    headers: Dict[str, str]
    content_type: str = ""
    form: Dict[str, str] = field(default_factory=dict)  # the token request's fields, form or JSON
    status: int = 0


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class OAuthServer:
    def __init__(self, *, client_id: str = "claw-test-client", expires_in: Optional[int] = 3600,
                 rotate_refresh: bool = True, refresh_delay: float = 0.0, account_email: Optional[str] = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.client_id = client_id
        self.expires_in = expires_in
        self.rotate_refresh = rotate_refresh
        self.refresh_delay = refresh_delay
        self.account_email = account_email
        self.authorize_error: Optional[Tuple[str, str]] = None  # (error, description)
        self.state_override: Optional[str] = None
        self.requests: List[OAuthRequest] = []
        self._codes: Dict[str, Dict[str, Any]] = {}
        self._access: Dict[str, Optional[float]] = {}  # token -> expiry (epoch s) or None
        self._refresh: Dict[str, bool] = {}  # token -> alive
        self._failures: List[Tuple[str, int, Dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self.host, self.port = self._httpd.server_address[:2]
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> "OAuthServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-oauth", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> "OAuthServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def authorize_url(self) -> str:
        return self.url + "/authorize"

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    def env(self, **extra: str) -> Dict[str, str]:
        env = {
            "CLAW_OAUTH_AUTHORIZE_URL": self.authorize_url,
            "CLAW_OAUTH_TOKEN_URL": self.token_url,
            "CLAW_OAUTH_CLIENT_ID": self.client_id,
            "NO_PROXY": "127.0.0.1,localhost",
        }
        env.update(extra)
        return env

    # -- controls and inspection ----------------------------------------------------------------------------

    def fail_next(self, grant_type: str, status: int = 400, error: str = "invalid_grant",
                  description: str = "refresh token revoked", body: Optional[Dict[str, Any]] = None) -> None:
        """The next token request of ``grant_type`` gets this error answer."""
        with self._lock:
            self._failures.append((grant_type, status, body or {"error": error, "error_description": description}))

    def issue(self, *, expires_in: Optional[int] = None, scope: str = "user:inference") -> Dict[str, Any]:
        """Mint a live token pair (as a token response) without any request."""
        with self._lock:
            return self._mint(scope, self.expires_in if expires_in is None else expires_in)

    def valid(self, access_token: Optional[str]) -> bool:
        with self._lock:
            if access_token not in self._access:
                return False
            expiry = self._access[access_token]
            return expiry is None or expiry > time.time()

    def revoke_access(self, access_token: str) -> None:
        with self._lock:
            self._access.pop(access_token, None)

    def token_requests(self, grant_type: Optional[str] = None) -> List[OAuthRequest]:
        return [r for r in self.requests if r.path == "/token"
                and (grant_type is None or r.form.get("grant_type") == grant_type)]

    @property
    def refresh_count(self) -> int:
        return len(self.token_requests("refresh_token"))

    def browse(self, sign_in_url: str) -> str:
        """Do what the user's browser does with the sign-in URL: GET it and return the redirect's
        Location (not followed). Raises AssertionError when the server did not redirect."""
        opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))
        try:
            opener.open(sign_in_url, timeout=10)
        except urllib.error.HTTPError as exc:
            if exc.code == 302:
                return exc.headers["Location"]
            raise AssertionError(f"authorize answered {exc.code}: {exc.read()!r}") from None
        raise AssertionError("authorize did not redirect")

    # -- logic (takes the lock itself; _mint expects it held) -----------------------------------------------------------------

    def _mint(self, scope: str, expires_in: Optional[int]) -> Dict[str, Any]:
        access = "at-" + secrets.token_hex(16)
        refresh = "rt-" + secrets.token_hex(16)
        self._access[access] = None if expires_in is None else time.time() + expires_in
        self._refresh[refresh] = True
        out: Dict[str, Any] = {"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
                               "scope": scope}
        if expires_in is not None:
            out["expires_in"] = expires_in
        if self.account_email:
            out["account"] = {"uuid": "acct-1", "email_address": self.account_email}
        return out

    def _authorize(self, q: Dict[str, str]) -> Tuple[int, Dict[str, str], str]:
        problems = []
        if q.get("client_id") != self.client_id:
            problems.append("unknown client_id")
        if q.get("response_type") != "code":
            problems.append("response_type must be code")
        if not q.get("redirect_uri"):
            problems.append("redirect_uri missing")
        if not q.get("code_challenge") or q.get("code_challenge_method") != "S256":
            problems.append("PKCE S256 challenge required")
        if problems:
            return 400, {}, "; ".join(problems)
        redirect = q["redirect_uri"]
        sep = "&" if "?" in redirect else "?"
        state = self.state_override if self.state_override is not None else q.get("state", "")
        if self.authorize_error:
            error, desc = self.authorize_error
            return 302, {"Location": redirect + sep + urlencode({"error": error, "error_description": desc,
                                                                   "state": state})}, ""
        code = "code-" + secrets.token_hex(12)
        with self._lock:
            self._codes[code] = {"client_id": q["client_id"], "redirect_uri": redirect,
                                 "challenge": q["code_challenge"], "scope": q.get("scope", ""), "used": False}
        return 302, {"Location": redirect + sep + urlencode({"code": code, "state": state})}, ""

    def _token(self, form: Dict[str, str]) -> Tuple[int, Dict[str, Any]]:
        grant = form.get("grant_type", "")
        with self._lock:
            for i, (g, status, body) in enumerate(self._failures):
                if g == grant:
                    del self._failures[i]
                    return status, body
        if form.get("client_id") != self.client_id:
            return 401, {"error": "invalid_client", "error_description": "unknown client"}
        if grant == "authorization_code":
            with self._lock:
                entry = self._codes.get(form.get("code", ""))
                if entry is None or entry["used"]:
                    return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
                entry["used"] = True
                if entry["redirect_uri"] != form.get("redirect_uri"):
                    return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
                if _s256(form.get("code_verifier", "")) != entry["challenge"]:
                    return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
                return 200, self._mint(entry["scope"], self.expires_in)
        if grant == "refresh_token":
            if self.refresh_delay:
                time.sleep(self.refresh_delay)
            with self._lock:
                token = form.get("refresh_token", "")
                if not self._refresh.get(token):
                    return 400, {"error": "invalid_grant", "error_description": "refresh token revoked"}
                out = self._mint("user:inference", self.expires_in)
                if self.rotate_refresh:
                    self._refresh[token] = False
                else:
                    del self._refresh[out["refresh_token"]]
                    out["refresh_token"] = token
                return 200, out
        return 400, {"error": "unsupported_grant_type"}


def _make_handler(server: OAuthServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _record(self, form: Dict[str, str], content_type: str = "") -> OAuthRequest:
            split = urlsplit(self.path)
            req = OAuthRequest(self.command, split.path, dict(parse_qsl(split.query)),
                               {k.lower(): v for k, v in self.headers.items()}, content_type, form)
            with server._lock:
                server.requests.append(req)
            return req

        def _send(self, status: int, body: bytes, content_type: str, headers: Optional[Dict[str, str]] = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            split = urlsplit(self.path)
            req = self._record({})
            if split.path != "/authorize":
                req.status = 404
                return self._send(404, b"not found", "text/plain")
            status, headers, text = server._authorize(dict(parse_qsl(split.query)))
            req.status = status
            self._send(status, text.encode(), "text/plain", headers)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            form: Dict[str, str] = {}
            try:
                if content_type == "application/json":
                    data = json.loads(raw.decode())
                    form = {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
                else:
                    form = dict(parse_qsl(raw.decode()))
            except ValueError:
                form = {}
            req = self._record(form, content_type)
            if urlsplit(self.path).path != "/token":
                req.status = 404
                return self._send(404, b"{}", "application/json")
            status, body = server._token(form)
            req.status = status
            self._send(status, json.dumps(body).encode(), "application/json", {"Cache-Control": "no-store"})

    return Handler
