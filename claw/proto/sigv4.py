"""AWS Signature Version 4, sans-IO: a request's method, URL, headers and body in, the signing headers out.

``sign(method, url, headers, body, keys=..., region=..., service=..., timestamp=...)`` returns a
``SignedRequest``: the headers to add (``x-amz-date``, ``x-amz-security-token`` when the keys carry a
session token, ``x-amz-content-sha256`` when asked, ``authorization``) plus the canonical request and
the string to sign, so tests can compare each step with AWS's published test suite
(tests/fixtures/sigv4). The rules, in short:

- canonical URI: the path *as sent on the wire* with every byte but the unreserved ones
  (``A-Z a-z 0-9 - _ . ~``) and ``/`` percent-encoded — so a path segment already encoded for the wire
  (Bedrock's ``anthropic.claude-...-v1%3A0``) is encoded a second time, as every AWS service but S3
  expects; with ``normalize`` (the default) empty and ``.`` segments are dropped and ``..`` pops;
- canonical query: each name and value decoded, then encoded as above, sorted by name then value;
- canonical headers: the names lower-cased, values trimmed with inner runs of spaces folded to one,
  repeated headers joined by ``,``, sorted by name; every header given is signed;
- the payload hash is the hex SHA-256 of the body;
- the key is derived HMAC-SHA256 over date, region, service and ``aws4_request``.

Deliberately not here: presigned URLs (query signing), SigV4a, chunked payload signing, S3's
single-encoding rules, where credentials come from (claw.auth.aws) and any I/O. Nothing here imports
asyncio, socket or ssl.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, List, Optional, Sequence, Tuple, Union

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")

Header = Tuple[str, str]


@dataclass(frozen=True)
class SigningKeys:
    """The AWS credentials a request is signed with. ``repr`` never shows the secret parts."""

    access_key_id: str
    secret_access_key: str
    session_token: Optional[str] = None

    def __repr__(self) -> str:
        token = ", session token" if self.session_token else ""
        return f"SigningKeys({self.access_key_id[:4]}…{token})"


@dataclass(frozen=True)
class SignedRequest:
    """What signing produced: the headers to add to the request and the intermediate strings."""

    headers: Tuple[Header, ...]  # x-amz-date, [x-amz-security-token], [x-amz-content-sha256], authorization
    canonical_request: str
    string_to_sign: str
    signature: str
    signed_headers: str


def sign(method: str, url: str, headers: Sequence[Header], body: bytes = b"", *, keys: SigningKeys,
         region: str, service: str, timestamp: Union[datetime, float], sign_body: bool = False,
         normalize: bool = True, sign_session_token: bool = True) -> SignedRequest:
    """Sign one request. ``url``: ``scheme://authority/path?query`` (path and query as on the wire);
    ``headers``: the headers to sign (a ``host`` header is added from the URL when missing);
    ``timestamp``: a datetime (naive means UTC) or POSIX seconds. ``sign_body`` adds
    ``x-amz-content-sha256``; ``sign_session_token=False`` leaves the token out of the signature (the
    caller adds ``x-amz-security-token`` afterwards, as STS-style services accept)."""
    when = _utc(timestamp)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    authority, path, query = split_url(url)
    payload_hash = hashlib.sha256(body).hexdigest()

    added: List[Header] = [("x-amz-date", amz_date)]
    if keys.session_token and sign_session_token:
        added.append(("x-amz-security-token", keys.session_token))
    if sign_body:
        added.append(("x-amz-content-sha256", payload_hash))
    given = [(n, v) for n, v in headers if n.lower() not in {a for a, _ in added} and n.lower() != "authorization"]
    if not any(n.lower() == "host" for n, _ in given):
        given.insert(0, ("host", authority))
    canon_headers, signed = canonical_headers(given + added)
    creq = "\n".join([method.upper(), canonical_uri(path, normalize=normalize), canonical_query(query),
                      canon_headers, signed, payload_hash])
    scope = f"{day}/{region}/{service}/aws4_request"
    sts = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(creq.encode("utf-8")).hexdigest()])
    key = signing_key(keys.secret_access_key, day, region, service)
    signature = hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()
    auth = f"{ALGORITHM} Credential={keys.access_key_id}/{scope}, SignedHeaders={signed}, Signature={signature}"
    out = list(added)
    if keys.session_token and not sign_session_token:
        out.append(("x-amz-security-token", keys.session_token))
    out.append(("authorization", auth))
    return SignedRequest(tuple(out), creq, sts, signature, signed)


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = hmac.new(("AWS4" + secret).encode("utf-8"), day.encode("ascii"), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def split_url(url: str) -> Tuple[str, str, str]:
    """(authority without default port or userinfo, path, query) of ``scheme://authority/path?query``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not an absolute URL: {url!r}")
    slash = [i for i in (rest.find("/"), rest.find("?")) if i >= 0]
    cut = min(slash) if slash else len(rest)
    authority, target = rest[:cut], rest[cut:]
    authority = authority.rpartition("@")[2]
    default = {"https": ":443", "http": ":80"}.get(scheme.lower())
    if default and authority.endswith(default):
        authority = authority[: -len(default)]
    path, _, query = target.partition("?")
    return authority.lower(), path or "/", query.partition("#")[0]


def uri_encode(text: Union[str, bytes], *, keep_slash: bool = False) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    out = []
    for byte in data:
        if byte in _UNRESERVED or (keep_slash and byte == 0x2F):
            out.append(chr(byte))
        else:
            out.append("%%%02X" % byte)
    return "".join(out)


def canonical_uri(path: str, *, normalize: bool = True) -> str:
    if normalize:
        segments: List[str] = []
        for seg in path.split("/"):
            if seg in ("", "."):
                continue
            if seg == "..":
                if segments:
                    segments.pop()
                continue
            segments.append(seg)
        trailing = "/" if segments and path.endswith("/") else ""
        path = "/" + "/".join(segments) + trailing
    return uri_encode(path, keep_slash=True) if path else "/"


def canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        pairs.append((uri_encode(_unquote(name)), uri_encode(_unquote(value))))
    pairs.sort()
    return "&".join(f"{n}={v}" for n, v in pairs)


def canonical_headers(headers: Iterable[Header]) -> Tuple[str, str]:
    """(the canonical header block with its final newline, the signed-headers list)."""
    merged: dict = {}
    for name, value in headers:
        key = name.strip().lower()
        merged.setdefault(key, []).append(" ".join(str(value).split()))
    names = sorted(merged)
    block = "".join(f"{n}:{','.join(merged[n])}\n" for n in names)
    return block, ";".join(names)


def _unquote(text: str) -> bytes:
    data = text.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(data):
        c = data[i]
        if c == 0x25 and _is_hex(data[i + 1:i + 3]):
            out.append(int(data[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(b in b"0123456789abcdefABCDEF" for b in pair)


def _utc(timestamp: Union[datetime, float]) -> datetime:
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            return timestamp.replace(tzinfo=timezone.utc)
        return timestamp.astimezone(timezone.utc)
    return datetime.fromtimestamp(float(timestamp), timezone.utc)
