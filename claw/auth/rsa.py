"""RSA private keys from PEM, and RS256 signatures (RSASSA-PKCS1-v1_5 over SHA-256), in pure Python.

``load_private_key(pem)`` reads an unencrypted ``PRIVATE KEY`` (PKCS#8, what Google service-account
files hold) or ``RSA PRIVATE KEY`` (PKCS#1) block with claw.proto.der; ``sign_rs256(key, message)``
returns the signature (RFC 8017 §8.2.1: EMSA-PKCS1-v1_5 with the SHA-256 DigestInfo, then RSASP1).
The private operation uses the Chinese Remainder Theorem (two half-size ``pow`` calls, about three
times faster than one full-size ``pow(m, d, n)``), and the result is checked with the public exponent
before it is returned, so a fault in the CRT step can never hand out a signature that leaks a factor.

Not constant-time: Python's big integers and ``pow`` take time that depends on the values, so a local
attacker able to time many signatures with fine resolution could learn about the key. claw signs a
handful of token requests per hour with a key that sits in a readable file on the same machine, which
is the trade-off accepted here (Google's own Python libraries fall back to pure-Python RSA too). No
blinding, no encrypted keys (``ENCRYPTED PRIVATE KEY``: a clear error), no other key types, no
verification API. Errors never contain key material.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from claw.errors import ConfigError
from claw.proto import der

RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
# DigestInfo prefix for SHA-256 (RFC 8017 §9.2, note 1)
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


@dataclass(frozen=True, repr=False)
class RSAPrivateKey:
    """An RSA private key with its CRT parameters. The repr shows the size only."""

    n: int
    e: int
    d: int = field(repr=False)
    p: int = field(repr=False)
    q: int = field(repr=False)
    dp: int = field(repr=False)
    dq: int = field(repr=False)
    qinv: int = field(repr=False)

    @property
    def size_bytes(self) -> int:
        return (self.n.bit_length() + 7) // 8

    def __repr__(self) -> str:
        return f"<RSAPrivateKey {self.n.bit_length()} bits>"


def load_private_key(pem: str, *, source: str = "the private key") -> RSAPrivateKey:
    """The RSA key in ``pem``; ConfigError naming ``source`` when it is not a usable one."""
    try:
        blocks = der.pem_blocks(pem)
    except der.DerError as exc:
        raise _bad(source, str(exc)) from None
    labels = [label for label, _ in blocks]
    for label, data in blocks:
        try:
            if label == "PRIVATE KEY":
                return _from_pkcs8(data)
            if label == "RSA PRIVATE KEY":
                return _from_pkcs1(data)
        except der.DerError as exc:
            raise _bad(source, str(exc)) from None
    if "ENCRYPTED PRIVATE KEY" in labels or "Proc-Type: 4,ENCRYPTED" in pem:
        raise _bad(source, "the key is encrypted; claw needs an unencrypted key (as Google issues them)")
    raise _bad(source, "no PEM 'PRIVATE KEY' block found" if not labels else
               "no RSA key found (blocks: " + ", ".join(labels) + ")")


def _bad(source: str, why: str) -> ConfigError:
    return ConfigError(f"{source} is not a usable RSA private key: {why}",
                       hint="download a new JSON key for the service account, or use another credential")


def _from_pkcs8(data: bytes) -> RSAPrivateKey:
    top = der.expect(der.read(data), der.SEQUENCE, "PrivateKeyInfo SEQUENCE")
    if top.end != len(data):
        raise der.DerError("DER: bytes after the PrivateKeyInfo")
    parts = der.children(data, top)
    if len(parts) < 3:
        raise der.DerError("DER: PrivateKeyInfo has too few fields")
    if der.integer(data, parts[0]) not in (0, 1):
        raise der.DerError("DER: unknown PrivateKeyInfo version")
    algorithm = der.children(data, der.expect(parts[1], der.SEQUENCE, "AlgorithmIdentifier"))
    if not algorithm or der.oid(data, algorithm[0]) != RSA_ENCRYPTION:
        raise der.DerError("not an RSA key (the algorithm is not rsaEncryption)")
    return _from_pkcs1(der.octets(data, parts[2]))


def _from_pkcs1(data: bytes) -> RSAPrivateKey:
    top = der.expect(der.read(data), der.SEQUENCE, "RSAPrivateKey SEQUENCE")
    if top.end != len(data):
        raise der.DerError("DER: bytes after the RSAPrivateKey")
    parts = der.children(data, top)
    if len(parts) < 9:
        raise der.DerError("DER: RSAPrivateKey has too few fields")
    version, n, e, d, p, q, dp, dq, qinv = (der.integer(data, t) for t in parts[:9])
    if version != 0:
        raise der.DerError("multi-prime RSA keys are not supported")
    if min(n, e, d, p, q) <= 1 or p * q != n:
        raise der.DerError("the key's numbers are inconsistent")
    return RSAPrivateKey(n, e, d, p, q, dp, dq, qinv)


def emsa_pkcs1_v15_sha256(message: bytes, k: int) -> bytes:
    """The encoded message of ``k`` bytes: 00 01 FF..FF 00 DigestInfo(SHA-256(message))."""
    t = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    if k < len(t) + 11:
        raise ValueError("RSA key too short for a SHA-256 PKCS#1 v1.5 signature")
    return b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t


def sign_rs256(key: RSAPrivateKey, message: bytes) -> bytes:
    """The RSASSA-PKCS1-v1_5 SHA-256 signature of ``message`` (deterministic: same key and message,
    same bytes)."""
    k = key.size_bytes
    m = int.from_bytes(emsa_pkcs1_v15_sha256(message, k), "big")
    m1 = pow(m % key.p, key.dp, key.p)
    m2 = pow(m % key.q, key.dq, key.q)
    h = (key.qinv * (m1 - m2)) % key.p
    s = m2 + h * key.q
    if pow(s, key.e, key.n) != m:  # a CRT fault (or bad CRT numbers in the file): never release it
        s = pow(m, key.d, key.n)
        if pow(s, key.e, key.n) != m:
            raise ValueError("RSA signature self-check failed: the key is inconsistent")
    return s.to_bytes(k, "big")
