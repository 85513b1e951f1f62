"""A fake Amazon Bedrock runtime: ``POST /model/{id}/invoke-with-response-stream`` and ``/invoke``.

It listens on 127.0.0.1 (HTTPS with a trustme certificate when ``tls`` is given), in a background thread
so subprocess tests can use it, and checks each request as Bedrock would:
  - the SigV4 signature, recomputed by this module's own reference signer (written from AWS's
    documentation, independent of claw.proto.sigv4) from the request as received — method, raw path,
    query, the signed headers, the body — with the secret of the access key (``keys``); a session
    token in ``expired_tokens`` gets 403 ExpiredTokenException; a bad signature 403
    InvalidSignatureException; or a Bedrock API key (``Authorization: Bearer``) from ``bearer_tokens``;
    ``require_auth=False`` accepts anything (a gateway in front of Bedrock);
  - the body: JSON with ``anthropic_version: bedrock-2023-05-31`` and without ``model``/``stream``.
Answers come from a FIFO script of specs:
  {"reply": {...}}          a model_server reply spec: its Anthropic events, each as an event-stream
                            ``chunk`` (base64 JSON), written ``piece`` bytes at a time (default 7);
                            the JSON message for ``/invoke``;
  {"reply": {...}, "exception_after": N, "exception": [type, message]}
                            N chunks, then an exception frame;
  {"exception": [type, message]}   a 200 stream holding only that exception frame;
  {"http_error": [status, "ThrottlingException", message]}   an error response with x-amzn-ErrorType.
Every response carries ``x-amzn-RequestId`` (``req-<n>``). Requests are recorded (``requests``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote, unquote

from tests.fakes import eventstream_frames as frames
from tests.fakes.model_server import anthropic_events, anthropic_message
from tests.fakes.threaded_http import BackgroundHTTPServer


def reference_signature(method: str, raw_path: str, query: str, headers: Dict[str, str], signed: List[str],
                        body: bytes, secret: str, amz_date: str, region: str, service: str) -> str:
    """SigV4 as AWS documents it (non-S3: the URI path is encoded once more, segment by segment)."""
    canonical_uri = "/".join(quote(seg, safe="-_.~") for seg in raw_path.split("/")) or "/"
    pairs = sorted((quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~"))
                   for k, _, v in (p.partition("=") for p in query.split("&") if p))
    canonical_query = "&".join(f"{k}={v}" for k, v in pairs)
    canonical_headers = "".join(f"{h}:{' '.join(headers[h].split())}\n" for h in signed)
    creq = "\n".join([method, canonical_uri, canonical_query, canonical_headers, ";".join(signed),
                      hashlib.sha256(body).hexdigest()])
    day = amz_date[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])

    def h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = h(h(h(h(("AWS4" + secret).encode(), day), region), service), "aws4_request")
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


@dataclass
class BedrockRequest:
    method: str
    path: str
    headers: Dict[str, str]
    body: bytes
    json: Any = None
    auth: str = ""  # "sigv4:<access key>", "bearer", "none"
    session_token: Optional[str] = None

    @property
    def model_id(self) -> str:
        return unquote(self.path.split("/")[2])


@dataclass
class BedrockServer(BackgroundHTTPServer):
    script: List[Dict[str, Any]] = field(default_factory=list)
    keys: Dict[str, str] = field(default_factory=dict)  # access key id -> secret
    expired_tokens: set = field(default_factory=set)
    bearer_tokens: set = field(default_factory=set)
    require_auth: bool = True
    region: str = "us-east-1"
    tls: Any = None  # a trustme LeafCert
    piece: int = 7
    requests: List[BedrockRequest] = field(default_factory=list)
    rejected: List[str] = field(default_factory=list)
    port: int = 0
    _server: Any = None
    _lock: Any = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://127.0.0.1:{self.port}"

    def enqueue(self, *specs: Dict[str, Any]) -> None:
        with self._lock:
            self.script.extend(specs)

    def handler_class(self) -> Any:
        return _handler(self)

    # checks
    def check_auth(self, req: BedrockRequest, raw_path: str, query: str) -> Optional[Tuple[int, str, str]]:
        auth = req.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            if auth[7:] in self.bearer_tokens:
                req.auth = "bearer"
                return None
            return (403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        if not self.require_auth:
            req.auth = "none"
            return None
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return (403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        access, day, region, service, term = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        amz_date = req.headers.get("x-amz-date", "")
        if access not in self.keys or term != "aws4_request" or service != "bedrock" or region != self.region:
            return (403, "UnrecognizedClientException", f"unknown key or scope {access}/{region}/{service}")
        if "host" not in signed or "x-amz-date" not in signed or amz_date[:8] != day:
            return (403, "IncompleteSignatureException", "host and x-amz-date must be signed")
        token = req.headers.get("x-amz-security-token")
        if token is not None and "x-amz-security-token" not in signed:
            return (403, "IncompleteSignatureException", "the session token must be signed")
        req.session_token = token
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        if abs((datetime.now(timezone.utc) - when).total_seconds()) > 300:
            return (403, "InvalidSignatureException", "Signature expired")
        missing = [h for h in signed if h not in req.headers]
        if missing:
            return (403, "IncompleteSignatureException", f"signed headers missing: {missing}")
        expected = reference_signature(req.method, raw_path, query, req.headers, signed, req.body,
                                       self.keys[access], amz_date, region, service)
        if not hmac.compare_digest(expected, fields["Signature"]):
            return (403, "InvalidSignatureException", "The request signature we calculated does not match")
        if token in self.expired_tokens:
            return (403, "ExpiredTokenException", "The security token included in the request is expired")
        req.auth = f"sigv4:{access}"
        return None


def _handler(fake: BedrockServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            raw_path, _, query = self.path.partition("?")
            headers: Dict[str, str] = {}
            for name, value in self.headers.items():
                key = name.lower()
                headers[key] = headers[key] + "," + value if key in headers else value
            req = BedrockRequest("POST", raw_path, headers, body)
            try:
                req.json = json.loads(body)
            except ValueError:
                req.json = None
            with fake._lock:
                fake.requests.append(req)
                rid = f"req-{len(fake.requests)}"
            problem = fake.check_auth(req, raw_path, query)
            parts = raw_path.split("/")
            if problem is None and not (len(parts) == 4 and parts[1] == "model"
                                        and parts[3] in ("invoke", "invoke-with-response-stream")):
                problem = (404, "UnknownOperationException", f"no such operation {raw_path}")
            if problem is None and (not isinstance(req.json, dict) or req.json.get("anthropic_version")
                                    != "bedrock-2023-05-31" or "model" in req.json or "stream" in req.json):
                problem = (400, "ValidationException", "malformed request body for Anthropic models")
            if problem is not None:
                fake.rejected.append(problem[1])
                return self._error(problem, rid)
            with fake._lock:
                spec = fake.script.pop(0) if fake.script else None
            if spec is None:
                return self._error((400, "ValidationException", "the fake's script ran out"), rid)
            if "http_error" in spec:
                return self._error(tuple(spec["http_error"]), rid)
            model = req.model_id
            if parts[3] == "invoke":
                data = json.dumps(anthropic_message(spec["reply"], model, req.json)).encode()
                return self._send(200, "application/json", [data], rid)
            out: List[bytes] = []
            if "reply" in spec:
                events = anthropic_events(spec["reply"], model, req.json)
                limit = spec.get("exception_after", len(events))
                out.extend(frames.chunk(e) for e in events[:limit])
            if "exception" in spec:
                out.append(frames.exception(*spec["exception"]))
            stream = b"".join(out)
            pieces = [stream[i:i + fake.piece] for i in range(0, len(stream), fake.piece)]
            self._send(200, "application/vnd.amazon.eventstream", pieces, rid)

        def _error(self, problem: Tuple[Any, ...], rid: str) -> None:
            status, etype, message = problem
            data = json.dumps({"message": message}).encode()
            self.send_response(int(status))
            self.send_header("Content-Type", "application/json")
            self.send_header("x-amzn-ErrorType", f"{etype}:http://internal.amazon.com/coral/com.amazon.bedrock/")
            self.send_header("x-amzn-RequestId", rid)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _send(self, status: int, ctype: str, pieces: List[bytes], rid: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("x-amzn-RequestId", rid)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in pieces:
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler
