"""RS256 signatures by claw.auth.rsa, byte for byte against the ``cryptography`` package (test-only):
PKCS#1 v1.5 is deterministic, so the same key and message must give the same bytes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

cryptography = pytest.importorskip("cryptography")

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402

from claw.auth.rsa import load_private_key, sign_rs256  # noqa: E402
from claw.errors import ConfigError  # noqa: E402


def _pem(key, fmt=serialization.PrivateFormat.PKCS8, encryption=None) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt,
                             encryption or serialization.NoEncryption()).decode("ascii")


def _reference(key, message: bytes) -> bytes:
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


@pytest.fixture(scope="module")
def key2048():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize("bits", [1024, 2048, 3072])
@pytest.mark.parametrize("fmt", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL])
def test_signature_is_byte_identical_to_cryptography(bits, fmt):
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    message = b"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0"
    ours = sign_rs256(load_private_key(_pem(key, fmt)), message)
    assert ours == _reference(key, message)
    key.public_key().verify(ours, message, padding.PKCS1v15(), hashes.SHA256())


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2048))
def test_any_message(key2048, message):
    assert sign_rs256(load_private_key(_pem(key2048)), message) == _reference(key2048, message)


def test_key_repr_shows_no_numbers(key2048):
    loaded = load_private_key(_pem(key2048))
    assert repr(loaded) == "<RSAPrivateKey 2048 bits>"
    assert str(loaded.d) not in repr(loaded)


def test_encrypted_key_is_refused_with_a_clear_message(key2048):
    pem = _pem(key2048, encryption=serialization.BestAvailableEncryption(b"pw"))
    with pytest.raises(ConfigError, match="encrypted"):
        load_private_key(pem, source="the key in sa.json")


def test_non_rsa_key_is_refused():
    pem = _pem(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ConfigError, match="not an RSA key"):
        load_private_key(pem)


def test_garbage_is_refused_without_quoting_it(key2048):
    pem = _pem(key2048)
    body = pem.splitlines()
    broken = "\n".join(body[:5] + [body[5][:-4] + "AAAA"] + body[6:])  # DER damaged, base64 still valid
    for text in ("no pem here", broken):
        with pytest.raises(ConfigError) as caught:
            load_private_key(text, source="the key in sa.json")
        assert "sa.json" in caught.value.message
        assert body[3] not in caught.value.message
