"""PKCE (RFC 7636) and the OAuth ``state``: random values and the S256 challenge.

The verifier is 32 random bytes from ``secrets`` in base64url without padding (43 characters, inside
RFC 7636's 43-128 range of unreserved characters); the challenge is base64url(SHA-256(verifier)).
The state is a separate random value (not the verifier, which must never leave this process before
the token exchange). Pure functions; no I/O. ``plain`` challenges are deliberately not offered.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field

VERIFIER_BYTES = 32
STATE_BYTES = 24


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256_challenge(verifier: str) -> str:
    """The S256 ``code_challenge`` of ``verifier``."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def new_verifier() -> str:
    return b64url(secrets.token_bytes(VERIFIER_BYTES))


def new_state() -> str:
    return b64url(secrets.token_bytes(STATE_BYTES))


@dataclass(frozen=True)
class Pkce:
    """One login attempt's PKCE pair and state. The repr hides the verifier."""

    verifier: str = field(repr=False)
    challenge: str
    state: str
    method: str = "S256"

    @classmethod
    def new(cls) -> "Pkce":
        verifier = new_verifier()
        return cls(verifier=verifier, challenge=s256_challenge(verifier), state=new_state())
