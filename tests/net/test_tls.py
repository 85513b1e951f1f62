"""claw.net.tls against a real TLS server on 127.0.0.1 with a private CA from trustme.

The client side uses plain ``asyncio.open_connection(ssl=ctx)`` with the context under test, so these
tests exercise trust loading and failure descriptions independently of claw.net.connect.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import ssl
from typing import List, Optional

import pytest
import trustme

from claw.errors import NetworkError
from claw.net.config import NetConfig
from claw.net.tls import (
    TLSSettings,
    client_ssl_context,
    describe_verify_failure,
    diagnostic_ssl_context,
    peer_chain_der,
    trust_report,
)
from claw.net.x509 import count_pem_certificates

IO_TIMEOUT = 20  # a safety net against hangs, not a performance assertion


class TLSServer:
    """A TLS server on 127.0.0.1 that greets each client with the CN of its certificate (or
    "anonymous") and closes."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.clients: List[str] = []
        self.port = 0
        self._server: Optional[asyncio.AbstractServer] = None

    async def __aenter__(self) -> TLSServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert") or {}
        name = "anonymous"
        for rdn in peer.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    name = value
        self.clients.append(name)
        writer.write(f"hello {name}\n".encode())
        try:
            await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        writer.close()


def server_context(ca: trustme.CA, *, hostname: str = "localhost", client_ca: Optional[trustme.CA] = None,
                   **issue) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    issue.setdefault("common_name", hostname)
    issue.setdefault("organization_name", "Leaf Org")
    ca.issue_cert(hostname, "127.0.0.1", **issue).configure_cert(ctx)
    if client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        client_ca.configure_trust(ctx)
    return ctx


async def greet(port: int, ctx: ssl.SSLContext, server_hostname: str = "localhost") -> bytes:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=server_hostname),
        IO_TIMEOUT,
    )
    try:
        return await asyncio.wait_for(reader.readline(), IO_TIMEOUT)
    finally:
        writer.close()


async def fetch_chain(port: int) -> List[bytes]:
    """What connect.py does after a verification failure: a diagnostic handshake for the chain."""
    _, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=diagnostic_ssl_context(),
                                server_hostname="localhost"),
        IO_TIMEOUT,
    )
    try:
        return peer_chain_der(writer.get_extra_info("ssl_object"))
    finally:
        writer.close()


@pytest.fixture
def corp_ca() -> trustme.CA:
    return trustme.CA(organization_name="Corp CA Inc")


@pytest.fixture
def ca_file(tmp_path, corp_ca) -> str:
    path = tmp_path / "corp-ca.pem"
    corp_ca.cert_pem.write_to_path(str(path))
    return str(path)


def _certifi_count() -> int:
    from claw._vendor import certifi_pem

    return count_pem_certificates(certifi_pem())


def _source(report, name):
    matches = [s for s in report if s.name == name]
    assert matches, f"no source {name!r} in {[s.name for s in report]}"
    return matches[0]


# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "CLAW_CA_BUNDLE"])
def test_extra_ca_variable_makes_private_server_trusted(variable, corp_ca, ca_file):
    settings = TLSSettings.from_env({variable: ca_file})

    async def main():
        async with TLSServer(server_context(corp_ca)) as server:
            return await greet(server.port, client_ssl_context(settings))

    assert asyncio.run(main()) == b"hello anonymous\n"
    assert _source(trust_report(settings), variable).certificates == 1


def test_settings_ca_files_and_netconfig(corp_ca, ca_file):
    config = NetConfig.from_env({}, ca_files=[ca_file])

    async def main():
        async with TLSServer(server_context(corp_ca)) as server:
            return await greet(server.port, config.ssl_context())

    assert asyncio.run(main()) == b"hello anonymous\n"
    assert _source(trust_report(config.tls), "settings network.caFiles").certificates == 1


def test_ssl_cert_dir_of_plain_pem_files(tmp_path, corp_ca):
    certs = tmp_path / "certs"
    certs.mkdir()
    corp_ca.cert_pem.write_to_path(str(certs / "corp.crt"))
    (certs / "README").write_text("not a certificate")
    other = tmp_path / "other"
    other.mkdir()
    settings = TLSSettings.from_env({"SSL_CERT_DIR": f"{certs}{os.pathsep}{other}"})

    async def main():
        async with TLSServer(server_context(corp_ca)) as server:
            return await greet(server.port, client_ssl_context(settings))

    assert asyncio.run(main()) == b"hello anonymous\n"
    report = [s for s in trust_report(settings) if s.name == "SSL_CERT_DIR"]
    assert [(s.path, s.certificates) for s in report] == [(str(certs), 1), (str(other), 0)]
    assert report[1].error is not None


def test_der_ca_file(tmp_path, corp_ca):
    from claw.net.x509 import pem_certificates

    path = tmp_path / "corp-ca.der"
    path.write_bytes(pem_certificates(corp_ca.cert_pem.bytes().decode())[0])
    settings = TLSSettings.from_env({"CLAW_CA_BUNDLE": str(path)})

    async def main():
        async with TLSServer(server_context(corp_ca)) as server:
            return await greet(server.port, client_ssl_context(settings))

    assert asyncio.run(main()) == b"hello anonymous\n"
    assert _source(trust_report(settings), "CLAW_CA_BUNDLE").certificates == 1


def test_every_source_is_added_none_replaces_another(tmp_path, monkeypatch):
    ca1, ca2 = trustme.CA(), trustme.CA()
    f1, f2 = tmp_path / "one.pem", tmp_path / "two.pem"
    ca1.cert_pem.write_to_path(str(f1))
    ca2.cert_pem.write_to_path(str(f2))
    # SSL_CERT_FILE in the process environment would make OpenSSL's default paths point at it; the
    # system trust must still be loaded from the platform's own paths.
    monkeypatch.setenv("SSL_CERT_FILE", str(f1))
    settings = TLSSettings.from_env({"SSL_CERT_FILE": str(f1), "NODE_EXTRA_CA_CERTS": str(f2)})
    ctx = client_ssl_context(settings)

    async def main():
        async with TLSServer(server_context(ca1)) as s1, TLSServer(server_context(ca2)) as s2:
            return await greet(s1.port, ctx), await greet(s2.port, ctx)

    assert asyncio.run(main()) == (b"hello anonymous\n", b"hello anonymous\n")
    report = trust_report(settings)
    certifi = _source(report, "certifi (bundled)")
    assert certifi.certificates == _certifi_count() > 50 and certifi.error is None
    assert _source(report, "SSL_CERT_FILE").certificates == 1
    assert _source(report, "NODE_EXTRA_CA_CERTS").certificates == 1
    system = [s for s in report if s.name.startswith("system")]
    paths = ssl.get_default_verify_paths()
    if (paths.openssl_cafile and os.path.isfile(paths.openssl_cafile)) or (
            paths.openssl_capath and os.path.isdir(paths.openssl_capath)):
        assert system and sum(s.certificates for s in system) > 0
    # certifi's roots and both private CAs are all in the store
    assert len(ctx.get_ca_certs()) >= _certifi_count() + 2


def test_same_file_in_two_variables_is_loaded_once(ca_file):
    settings = TLSSettings.from_env({"SSL_CERT_FILE": ca_file, "NODE_EXTRA_CA_CERTS": ca_file})
    assert settings.extra_ca_files == (ca_file,)
    assert _source(trust_report(settings), "SSL_CERT_FILE, NODE_EXTRA_CA_CERTS").certificates == 1


def test_missing_and_broken_ca_files_are_reported_not_fatal(tmp_path, corp_ca, ca_file):
    missing = str(tmp_path / "nope.pem")
    empty = tmp_path / "empty.pem"
    empty.write_text("hello\n")
    import base64

    bad_block = "-----BEGIN CERTIFICATE-----\n" + base64.b64encode(b"\x30\x03abc").decode() + \
        "\n-----END CERTIFICATE-----\n"
    partly = tmp_path / "partly.pem"
    partly.write_text(bad_block + corp_ca.cert_pem.bytes().decode())
    settings = TLSSettings.from_env(
        {"SSL_CERT_FILE": missing, "NODE_EXTRA_CA_CERTS": str(empty), "CLAW_CA_BUNDLE": str(partly)},
        ca_files=[str(tmp_path)],
    )

    async def main():
        async with TLSServer(server_context(corp_ca)) as server:
            return await greet(server.port, client_ssl_context(settings))

    assert asyncio.run(main()) == b"hello anonymous\n"
    report = trust_report(settings)
    assert _source(report, "SSL_CERT_FILE").error == "file not found"
    assert "no certificates found" in _source(report, "NODE_EXTRA_CA_CERTS").error
    partial = _source(report, "CLAW_CA_BUNDLE")
    assert partial.certificates == 1 and "1 of 2" in partial.error
    assert "directory" in _source(report, "settings network.caFiles").error
    assert _source(report, "certifi (bundled)").certificates == _certifi_count()


def test_untrusted_server_fails_and_the_error_explains(corp_ca, tmp_path):
    settings = TLSSettings.from_env({"SSL_CERT_FILE": str(tmp_path / "missing.pem")})

    async def main():
        async with TLSServer(server_context(corp_ca)) as server:
            with pytest.raises(ssl.SSLCertVerificationError) as info:
                await greet(server.port, client_ssl_context(settings))
            chain = await fetch_chain(server.port)
            return server.port, info.value, chain

    port, exc, chain = asyncio.run(main())
    assert len(chain) >= 1
    err = describe_verify_failure("localhost", port, exc, chain, settings)
    assert isinstance(err, NetworkError)
    assert err.kind == "tls_verify" and err.retryable is False
    assert err.failure_class == "provider_transport"
    assert f"localhost:{port}" in err.message
    assert exc.verify_message in err.message
    assert "subject CN=localhost, O=Leaf Org" in err.message
    assert "issuer OU=Testing CA" in err.message and "O=Corp CA Inc" in err.message
    hint = err.hint or ""
    for word in ("SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "CLAW_CA_BUNDLE", "network.caFiles",
                 "certifi (bundled)", "missing.pem: not loaded (file not found)", "Corp CA Inc"):
        assert word in hint, word
    assert "\n" not in err.message


def test_hostname_mismatch_names_the_certificate_names(corp_ca, ca_file):
    settings = TLSSettings.from_env({"CLAW_CA_BUNDLE": ca_file})

    async def main():
        async with TLSServer(server_context(corp_ca)) as server:
            with pytest.raises(ssl.SSLCertVerificationError) as info:
                await greet(server.port, client_ssl_context(settings), server_hostname="gw.example")
            return server.port, info.value, await fetch_chain(server.port)

    port, exc, chain = asyncio.run(main())
    err = describe_verify_failure("gw.example", port, exc, chain, settings)
    assert f"gw.example:{port}" in err.message
    assert "DNS:localhost" in (err.hint or "") and "not gw.example" in (err.hint or "")


def test_expired_certificate_hint_mentions_the_clock(corp_ca, ca_file):
    settings = TLSSettings.from_env({"CLAW_CA_BUNDLE": ca_file})
    ctx = server_context(corp_ca, not_before=dt.datetime(2001, 1, 1), not_after=dt.datetime(2002, 1, 1))

    async def main():
        async with TLSServer(ctx) as server:
            with pytest.raises(ssl.SSLCertVerificationError) as info:
                await greet(server.port, client_ssl_context(settings))
            return server.port, info.value, await fetch_chain(server.port)

    port, exc, chain = asyncio.run(main())
    err = describe_verify_failure("localhost", port, exc, chain, settings)
    assert "expired" in err.message
    assert "2001-01-01 to 2002-01-01" in (err.hint or "") and "clock" in (err.hint or "")


def test_describe_without_a_chain_still_names_host_and_sources():
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    err = describe_verify_failure("::1", 8443, exc, [], TLSSettings())
    assert err.message.startswith("TLS certificate verification failed for [::1]:8443")
    assert "certifi (bundled)" in (err.hint or "")


def test_context_is_cached_and_rebuilt_when_a_ca_file_changes(tmp_path):
    path = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    settings = TLSSettings.from_env({"CLAW_CA_BUNDLE": str(path)})
    first = client_ssl_context(settings)
    assert client_ssl_context(settings) is first
    assert client_ssl_context(TLSSettings.from_env({"CLAW_CA_BUNDLE": str(path)})) is first
    new = tmp_path / "new.pem"
    new.write_bytes(trustme.CA().cert_pem.bytes() * 2)
    os.replace(new, path)
    second = client_ssl_context(settings)
    assert second is not first
    assert _source(trust_report(settings), "CLAW_CA_BUNDLE").certificates == 2


def test_context_policy():
    ctx = client_ssl_context(TLSSettings())
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is True
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_settings_from_env_fields(tmp_path):
    env = {"SSL_CERT_FILE": " ", "CLAW_CA_BUNDLE": "~/ca.pem", "SSL_CERT_DIR": "/a" + os.pathsep + "/b"}
    settings = TLSSettings.from_env(env, ca_files=["/x.pem"])
    assert settings.extra_ca_files == (os.path.expanduser("~/ca.pem"), "/x.pem")
    assert settings.ca_file_sources == ("CLAW_CA_BUNDLE", "settings network.caFiles")
    assert settings.extra_ca_dirs == ("/a", "/b")
    assert settings.client_cert is None and settings.client_key is None
