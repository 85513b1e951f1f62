"""Client certificates (mTLS): a trustme server that requires them accepts the configured one, and a
replaced certificate file is picked up by the next ``client_ssl_context`` call."""

from __future__ import annotations

import asyncio
import os
import ssl

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from claw.errors import ConfigError
from claw.net.config import NetConfig
from claw.net.tls import TLSSettings, client_certificate_error, client_ssl_context, trust_report
from tests.net.test_tls import TLSServer, greet, server_context


@pytest.fixture
def pki(tmp_path):
    server_ca = trustme.CA(organization_name="Server CA")
    client_ca = trustme.CA(organization_name="Client CA")
    ca_path = tmp_path / "server-ca.pem"
    server_ca.cert_pem.write_to_path(str(ca_path))
    return server_ca, client_ca, str(ca_path)


def write_client_cert(path, client_ca: trustme.CA, name: str, *, key_path=None) -> None:
    """Write cert (+ key, in the same file unless key_path is given), atomically."""
    leaf = client_ca.issue_cert(f"{name}@example.com", common_name=name)
    chain = b"".join(p.bytes() for p in leaf.cert_chain_pems)
    tmp = str(path) + ".tmp"
    if key_path is None:
        with open(tmp, "wb") as fh:
            fh.write(leaf.private_key_pem.bytes() + chain)
    else:
        with open(tmp, "wb") as fh:
            fh.write(chain)
        with open(str(key_path), "wb") as fh:
            fh.write(leaf.private_key_pem.bytes())
    os.replace(tmp, str(path))


def test_server_requiring_client_cert_accepts_configured_one(tmp_path, pki):
    server_ca, client_ca, ca_path = pki
    cert = tmp_path / "client.pem"
    write_client_cert(cert, client_ca, "alice")
    with_cert = NetConfig.from_env({"CLAW_CA_BUNDLE": ca_path}, client_cert=str(cert))
    without = NetConfig.from_env({"CLAW_CA_BUNDLE": ca_path})

    async def main():
        async with TLSServer(server_context(server_ca, client_ca=client_ca)) as server:
            ok = await greet(server.port, with_cert.ssl_context())
            try:
                refused = await greet(server.port, without.ssl_context())
            except (ssl.SSLError, ConnectionError):
                refused = b""
            return ok, refused, server.clients

    ok, refused, clients = asyncio.run(main())
    assert ok == b"hello alice\n"
    assert refused == b""  # the server dropped the client that had no certificate
    assert clients == ["alice"]


def test_replaced_client_cert_is_picked_up(tmp_path, pki):
    server_ca, client_ca, ca_path = pki
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    write_client_cert(cert, client_ca, "alice", key_path=key)
    settings = TLSSettings.from_env({"CLAW_CA_BUNDLE": ca_path, "CLAW_CLIENT_CERT": str(cert),
                                     "CLAW_CLIENT_KEY": str(key)})
    assert (settings.client_cert, settings.client_key) == (str(cert), str(key))

    async def main():
        async with TLSServer(server_context(server_ca, client_ca=client_ca)) as server:
            first_ctx = client_ssl_context(settings)
            first = await greet(server.port, first_ctx)
            assert client_ssl_context(settings) is first_ctx  # unchanged files: cached
            write_client_cert(cert, client_ca, "bob", key_path=key)
            second_ctx = client_ssl_context(settings)
            second = await greet(server.port, second_ctx)
            return first, second, second_ctx is not first_ctx

    first, second, rebuilt = asyncio.run(main())
    assert (first, second, rebuilt) == (b"hello alice\n", b"hello bob\n", True)


def test_missing_client_cert_is_a_config_error(tmp_path, pki):
    settings = TLSSettings.from_env({}, client_cert=str(tmp_path / "none.pem"))
    with pytest.raises(ConfigError) as info:
        client_ssl_context(settings)
    assert "none.pem not found" in info.value.message
    assert "clientCert" in (info.value.hint or "")
    # the trust report is still available (doctor shows both)
    assert any(s.name == "certifi (bundled)" for s in trust_report(settings))
    assert client_certificate_error(settings) is not None


def test_client_key_without_cert_is_rejected():
    with pytest.raises(ConfigError):
        TLSSettings.from_env({"CLAW_CLIENT_KEY": "/k.pem"})


def test_mismatched_key_is_a_config_error(tmp_path, pki):
    _, client_ca, _ = pki
    cert, key = tmp_path / "c.crt", tmp_path / "c.key"
    write_client_cert(cert, client_ca, "alice", key_path=key)
    write_client_cert(tmp_path / "other.crt", client_ca, "bob", key_path=tmp_path / "other.key")
    settings = TLSSettings.from_env({}, client_cert=str(cert), client_key=str(tmp_path / "other.key"))
    with pytest.raises(ConfigError) as info:
        client_ssl_context(settings)
    assert "cannot be loaded" in info.value.message


def test_encrypted_key_needs_the_passphrase(tmp_path, pki):
    server_ca, client_ca, ca_path = pki
    leaf = client_ca.issue_cert("carol@example.com", common_name="carol")
    cert = tmp_path / "carol.crt"
    cert.write_bytes(b"".join(p.bytes() for p in leaf.cert_chain_pems))
    private = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    key = tmp_path / "carol.key"
    key.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret-pass")))
    env = {"CLAW_CA_BUNDLE": ca_path, "CLAW_CLIENT_CERT": str(cert), "CLAW_CLIENT_KEY": str(key)}
    with pytest.raises(ConfigError) as info:
        client_ssl_context(TLSSettings.from_env(env))
    assert "CLAW_CLIENT_KEY_PASSPHRASE" in (info.value.hint or "")
    settings = TLSSettings.from_env(dict(env, CLAW_CLIENT_KEY_PASSPHRASE="s3cret-pass"))
    assert "s3cret" not in repr(settings)

    async def main():
        async with TLSServer(server_context(server_ca, client_ca=client_ca)) as server:
            return await greet(server.port, client_ssl_context(settings))

    assert asyncio.run(main()) == b"hello carol\n"
