"""Fakes of Google's side of Vertex AI for the tests: the OAuth token endpoint, the GCE metadata server,
and a check of Vertex ``streamRawPredict`` requests for the scripted model server.

``GoogleServer`` listens on 127.0.0.1 (a free port) in a background thread, optionally over HTTPS
(``tls``: a trustme LeafCert), and records every request:

  POST /token   ``urn:ietf:params:oauth:grant-type:jwt-bearer``: the assertion's RS256 signature is
                verified with the ``cryptography`` package against the public key of the service account
                its ``iss`` names (``add_service_account``), and its ``aud`` (this URL), ``scope``
                (cloud-platform) and ``iat``/``exp`` (a lifetime of at most an hour, around now) are
                checked; ``refresh_token``: client id, client secret and refresh token must match one
                registered with ``add_user``. Answers ``{"access_token", "expires_in", "token_type"}``
                or Google's ``{"error": "invalid_grant", "error_description"}`` with 400.
  GET  /computeMetadata/v1/instance/service-accounts/default/token
                needs ``Metadata-Flavor: Google`` (403 otherwise) and answers with that header set.

Tokens live ``expires_in`` seconds; ``valid(token)`` says whether one is live, for the Vertex check.

``vertex_check(google, project, region)`` returns a ``ModelServer`` handler that answers, in Google's
error shape, 401 UNAUTHENTICATED to a request without a live bearer token, 404 NOT_FOUND to a path
that is not ``/v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:streamRawPredict``
(or ``:rawPredict``), and 400 INVALID_ARGUMENT to a body with ``model`` in it or without
``anthropic_version: vertex-2023-10-16``; a good request falls through to the script.

``service_account_file`` / ``user_file`` write the JSON credential files Google issues.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl

from tests.fakes.threaded_http import BackgroundHTTPServer

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
METADATA_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"


def new_rsa_key(bits: int = 2048) -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def pkcs8_pem(key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class GoogleRequest:
    """One request the fake received."""

    method: str
    path: str
    headers: Dict[str, str]
    form: Dict[str, str] = field(default_factory=dict)
    jwt_header: Optional[Dict[str, Any]] = None
    jwt_claims: Optional[Dict[str, Any]] = None


class GoogleServer(BackgroundHTTPServer):
    """The token endpoint and metadata server fake; a context manager."""

    def __init__(self, *, expires_in: int = 3600, tls: Any = None) -> None:
        self.expires_in = expires_in
        self.tls = tls
        self.requests: List[GoogleRequest] = []
        self.service_accounts: Dict[str, Any] = {}  # email -> public key
        self.users: Dict[str, Tuple[str, str]] = {}  # refresh token -> (client id, client secret)
        self.tokens: Dict[str, float] = {}  # access token -> expiry (epoch seconds)
        self.failures: List[Tuple[int, Dict[str, Any]]] = []  # queued error answers for /token
        self.metadata_enabled = True
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None
        self.port = 0

    # setup
    def add_service_account(self, email: str, key: Any) -> None:
        self.service_accounts[email] = key.public_key()

    def add_user(self, client_id: str, client_secret: str, refresh_token: str) -> None:
        self.users[refresh_token] = (client_id, client_secret)

    def fail_next(self, status: int = 400, error: str = "invalid_grant", description: str = "bad") -> None:
        self.failures.append((status, {"error": error, "error_description": description}))

    @property
    def url(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    @property
    def metadata_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def issue(self) -> Dict[str, Any]:
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = time.time() + self.expires_in
        return {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}

    def valid(self, token: Optional[str]) -> bool:
        with self._lock:
            expiry = self.tokens.get(token or "")
        return expiry is not None and expiry > time.time()

    def revoke_all(self) -> None:
        with self._lock:
            self.tokens.clear()

    def grants(self, grant_type: Optional[str] = None) -> List[GoogleRequest]:
        return [r for r in self.requests if r.path == "/token" and (grant_type is None or r.form.get("grant_type") == grant_type)]

    # files
    def service_account_file(self, path: Path, email: str = "claw-test@proj-123.iam.gserviceaccount.com",
                             key: Any = None, project: str = "proj-123") -> Tuple[Path, Any]:
        key = key or new_rsa_key()
        self.add_service_account(email, key)
        data = {"type": "service_account", "project_id": project, "private_key_id": "kid-" + secrets.token_hex(8),
                "private_key": pkcs8_pem(key), "client_email": email, "client_id": "1234567890",
                "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": self.token_url}
        path.write_text(json.dumps(data, indent=2))
        return path, key

    def user_file(self, path: Path, *, quota_project: Optional[str] = None) -> Path:
        client_id, secret, refresh = "client-" + secrets.token_hex(4), "secret-" + secrets.token_hex(8), \
            "1//refresh-" + secrets.token_urlsafe(24)
        self.add_user(client_id, secret, refresh)
        data = {"type": "authorized_user", "client_id": client_id, "client_secret": secret,
                "refresh_token": refresh, "token_uri": self.token_url}
        if quota_project:
            data["quota_project_id"] = quota_project
        path.write_text(json.dumps(data))
        return path

    # lifecycle
    def handler_class(self) -> Any:
        return _handler(self)

    # the token grant
    def _token(self, req: GoogleRequest) -> Tuple[int, Dict[str, Any]]:
        with self._lock:
            if self.failures:
                return self.failures.pop(0)
        grant = req.form.get("grant_type")
        if grant == JWT_GRANT:
            problem = self._check_jwt(req)
        elif grant == "refresh_token":
            user = self.users.get(req.form.get("refresh_token", ""))
            problem = None if user == (req.form.get("client_id"), req.form.get("client_secret")) else \
                "unknown refresh token or client"
        else:
            problem = f"unsupported grant_type {grant!r}"
        if problem:
            return 400, {"error": "invalid_grant", "error_description": problem}
        return 200, self.issue()

    def _check_jwt(self, req: GoogleRequest) -> Optional[str]:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        parts = req.form.get("assertion", "").split(".")
        if len(parts) != 3:
            return "the assertion is not a JWS compact serialisation"
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        req.jwt_header, req.jwt_claims = header, claims
        if header.get("alg") != "RS256":
            return "alg must be RS256"
        public = self.service_accounts.get(claims.get("iss"))
        if public is None:
            return "unknown service account"
        try:
            public.verify(_b64url_decode(parts[2]), (parts[0] + "." + parts[1]).encode("ascii"),
                          padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return "Invalid JWT Signature."
        now = time.time()
        if claims.get("aud") != self.token_url:
            return "bad audience"
        if claims.get("scope") != SCOPE:
            return "bad scope"
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or not (abs(iat - now) < 300 and 0 < exp - iat <= 3600):
            return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
        return None


def _handler(fake: GoogleServer) -> Any:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, data: Any, headers: Optional[Dict[str, str]] = None) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _record(self, form: Optional[Dict[str, str]] = None) -> GoogleRequest:
            req = GoogleRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, form or {})
            with fake._lock:
                fake.requests.append(req)
            return req

        def do_GET(self) -> None:
            req = self._record()
            if self.path != METADATA_PATH or not fake.metadata_enabled:
                self._send(404, {"error": "not found"})
            elif req.headers.get("metadata-flavor") != "Google":
                self._send(403, {"error": "Missing Metadata-Flavor:Google header."})
            else:
                self._send(200, fake.issue(), {"Metadata-Flavor": "Google"})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length).decode()
            req = self._record(dict(parse_qsl(raw)))
            if self.path != "/token":
                self._send(404, {"error": "not found"})
                return
            status, data = fake._token(req)
            self._send(status, data)

    return Handler


_VERTEX_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/publishers/anthropic/"
                          r"models/(?P<model>[^/:]+):(?P<method>streamRawPredict|rawPredict)$")


def google_error(status: int, code: str, message: str) -> Dict[str, Any]:
    """A model-server spec answering in Google's error shape."""
    body = {"error": {"code": status, "message": message, "status": code,
                      "details": [{"@type": "type.googleapis.com/google.rpc.RequestInfo",
                                   "requestId": "goog-req-" + secrets.token_hex(4)}]}}
    return {"error": {"status": status, "body": json.dumps(body), "content_type": "application/json"}}


def vertex_check(google: Optional[GoogleServer], project: str, region: str,
                 models: Optional[List[str]] = None) -> Callable[[Any], Optional[Dict[str, Any]]]:
    """A ``ModelServer`` handler enforcing what Vertex AI enforces (see the module docstring).
    ``google`` None: any bearer token (or none) is accepted, as behind a gateway."""

    def check(req: Any) -> Optional[Dict[str, Any]]:
        if google is not None:
            auth = req.header("authorization") or ""
            if not auth.startswith("Bearer ") or not google.valid(auth[len("Bearer "):]):
                return google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. "
                                    "Expected OAuth 2 access token.")
        match = _VERTEX_PATH.match(req.path)
        if not match or match["project"] != project or match["region"] != region:
            return google_error(404, "NOT_FOUND", f"no route {req.path}")
        if models is not None and match["model"] not in models:
            return google_error(404, "NOT_FOUND", f"Publisher Model `projects/{project}/locations/{region}/"
                                f"publishers/anthropic/models/{match['model']}` not found.")
        body = req.json if isinstance(req.json, dict) else {}
        if "model" in body or body.get("anthropic_version") != "vertex-2023-10-16":
            return google_error(400, "INVALID_ARGUMENT", "model must not be in the body; anthropic_version "
                                "must be vertex-2023-10-16")
        if (match["method"] == "streamRawPredict") != bool(body.get("stream")):
            return google_error(400, "INVALID_ARGUMENT", "stream does not match the method")
        return None

    return check
