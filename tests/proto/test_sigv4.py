"""claw.proto.sigv4 against every vector of AWS's SigV4 test suite (tests/fixtures/sigv4, from
awslabs/aws-c-auth): canonical request, string to sign, signature and Authorization header."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import List, Tuple

import pytest

from claw.proto.sigv4 import SigningKeys, canonical_uri, sign

VECTORS = Path(__file__).resolve().parents[1] / "fixtures" / "sigv4"
NAMES = sorted(p.name for p in VECTORS.iterdir() if p.is_dir())


def parse_request(text: str) -> Tuple[str, str, List[Tuple[str, str]], bytes]:
    """(method, target, headers, body) of a request.txt; continuation lines fold into the header."""
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    method, rest = lines[0].split(" ", 1)
    target = rest.rsplit(" ", 1)[0]
    headers: List[Tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
        elif line:
            name, _, value = line.partition(":")
            headers.append((name, value))
    return method, target, headers, body.encode("utf-8")


def test_all_vectors_are_present():
    assert len(NAMES) >= 38 and "get-vanilla" in NAMES and "post-x-www-form-urlencoded" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_vector(name):
    folder = VECTORS / name
    ctx = json.loads((folder / "context.json").read_text())
    method, target, headers, body = parse_request((folder / "request.txt").read_text())
    creds = ctx["credentials"]
    keys = SigningKeys(creds["access_key_id"], creds["secret_access_key"], creds.get("token"))
    when = datetime.strptime(ctx["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    host = dict((n.lower(), v) for n, v in headers)["host"]
    signed = sign(method, f"https://{host}{target}", headers, body, keys=keys, region=ctx["region"],
                  service=ctx["service"], timestamp=when, sign_body=ctx.get("sign_body", False),
                  normalize=ctx.get("normalize", True),
                  sign_session_token=not ctx.get("omit_session_token", False))
    assert signed.canonical_request == (folder / "header-canonical-request.txt").read_text()
    assert signed.string_to_sign == (folder / "header-string-to-sign.txt").read_text()
    assert signed.signature == (folder / "header-signature.txt").read_text().strip()
    expected_auth = [line.split(":", 1)[1] for line in (folder / "header-signed-request.txt").read_text().splitlines()
                     if line.lower().startswith("authorization:")]
    assert dict(signed.headers)["authorization"] == expected_auth[0]


def test_an_encoded_path_segment_is_encoded_again():
    # Bedrock's model ids carry ":" which goes on the wire as %3A; the canonical URI encodes it again.
    assert canonical_uri("/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream") == \
        "/model/anthropic.claude-sonnet-4-5-20250929-v1%253A0/invoke-with-response-stream"


def test_keys_repr_hides_the_secret():
    keys = SigningKeys("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", "tok3n")
    assert "wJal" not in repr(keys) and "tok3n" not in repr(keys)
