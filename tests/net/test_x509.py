"""claw.net.x509: the minimal DER reader, checked against the `cryptography` package (a trustme
dependency) on trustme certificates and on every root of certifi's bundle."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
import trustme
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from hypothesis import given, settings
from hypothesis import strategies as st

from claw.net.x509 import (
    NAME_ATTRIBUTES,
    X509Error,
    count_pem_certificates,
    der_to_pem,
    parse_certificate,
    pem_certificates,
)

UTC = dt.timezone.utc


def _expected_name(name: cx509.Name):
    out = []
    for rdn in name.rdns:
        for attr in rdn:
            key = NAME_ATTRIBUTES.get(attr.oid.dotted_string, attr.oid.dotted_string)
            out.append((key, attr.value))
    return tuple(out)


def _expected_sans(cert: cx509.Certificate):
    try:
        ext = cert.extensions.get_extension_for_class(cx509.SubjectAlternativeName).value
    except cx509.ExtensionNotFound:
        return ()
    out = []
    for gn in ext:
        if isinstance(gn, cx509.DNSName):
            out.append("DNS:" + gn.value)
        elif isinstance(gn, cx509.IPAddress):
            out.append("IP:" + str(gn.value))
        elif isinstance(gn, cx509.RFC822Name):
            out.append("email:" + gn.value)
        elif isinstance(gn, cx509.UniformResourceIdentifier):
            out.append("URI:" + gn.value)
    return tuple(out)


def _expected_is_ca(cert: cx509.Certificate):
    try:
        return cert.extensions.get_extension_for_class(cx509.BasicConstraints).value.ca
    except cx509.ExtensionNotFound:
        return None


def _check_against_cryptography(der: bytes) -> None:
    ref = cx509.load_der_x509_certificate(der)
    got = parse_certificate(der)
    assert got.subject.attributes == _expected_name(ref.subject)
    assert got.issuer.attributes == _expected_name(ref.issuer)
    assert got.not_before == ref.not_valid_before_utc
    assert got.not_after == ref.not_valid_after_utc
    assert got.serial == ref.serial_number
    assert got.subject_alt_names == _expected_sans(ref)
    assert got.is_ca == _expected_is_ca(ref)
    assert got.fingerprint_sha256.replace(":", "").lower() == ref.fingerprint(hashes.SHA256()).hex()
    assert got.version == ref.version.value + 1


def test_trustme_leaf_and_ca():
    ca = trustme.CA(organization_name="Corp Proxy Inc")
    leaf = ca.issue_cert(
        "api.example.com", "*.example.com", "127.0.0.1", "::1", "ops@example.com",
        common_name="api.example.com", organization_name="Example Ltd",
        not_before=dt.datetime(2021, 5, 6, 7, 8, 9), not_after=dt.datetime(2049, 12, 31, 23, 59, 59),
    )
    leaf_der = pem_certificates(leaf.cert_chain_pems[0].bytes().decode())[0]
    ca_der = pem_certificates(ca.cert_pem.bytes().decode())[0]
    _check_against_cryptography(leaf_der)
    _check_against_cryptography(ca_der)
    cert = parse_certificate(leaf_der)
    assert cert.subject.common_name == "api.example.com"
    assert cert.subject.organization == "Example Ltd"
    assert cert.issuer.organization == "Corp Proxy Inc"
    assert cert.subject_alt_names == (
        "DNS:api.example.com", "DNS:*.example.com", "IP:127.0.0.1", "IP:::1", "email:ops@example.com")
    assert cert.dns_names == ("api.example.com", "*.example.com")
    assert cert.not_before == dt.datetime(2021, 5, 6, 7, 8, 9, tzinfo=UTC)  # UTCTime
    assert cert.not_after == dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert cert.is_ca is False and not cert.self_issued
    assert parse_certificate(ca_der).is_ca is True
    assert parse_certificate(ca_der).self_issued
    text = cert.describe()
    assert "subject CN=api.example.com, O=Example Ltd" in text
    assert "issuer OU=Testing CA" in text and "O=Corp Proxy Inc" in text
    assert "valid 2021-05-06 to 2049-12-31" in text
    assert "DNS:api.example.com" in text


def test_generalized_time_after_2049():
    ca = trustme.CA()
    leaf = ca.issue_cert("x.example", not_after=dt.datetime(2051, 1, 2, 3, 4, 5))
    der = pem_certificates(leaf.cert_chain_pems[0].bytes().decode())[0]
    assert parse_certificate(der).not_after == dt.datetime(2051, 1, 2, 3, 4, 5, tzinfo=UTC)
    _check_against_cryptography(der)


def test_rsa_intermediate_chain():
    root = trustme.CA(key_type=trustme.KeyType.RSA)
    inter = root.create_child_ca()
    leaf = inter.issue_cert("svc.internal", key_type=trustme.KeyType.RSA)
    for pem in leaf.cert_chain_pems:
        for der in pem_certificates(pem.bytes().decode()):
            _check_against_cryptography(der)


@pytest.mark.filterwarnings("ignore:Parsed a serial number")  # a few roots have negative serials
def test_every_certifi_root_parses_like_cryptography():
    from claw._vendor import certifi_pem

    text = certifi_pem()
    ders = pem_certificates(text)
    assert len(ders) == count_pem_certificates(text) > 50
    for der in ders:
        _check_against_cryptography(der)


def test_pem_helpers_roundtrip():
    ca = trustme.CA()
    der = pem_certificates(ca.cert_pem.bytes().decode())[0]
    pem = der_to_pem(der)
    assert pem_certificates("junk\n" + pem + "\nmore junk\n" + pem) == [der, der]
    assert count_pem_certificates(pem + pem) == 2
    assert pem_certificates("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----") == []


@pytest.mark.parametrize(
    "data",
    [b"", b"\x30", b"\x30\x80\x00\x00", b"\x30\x03\x02\x01\x01", b"\x04\x00", b"\x30\x00",
     b"\x30\x84\xff\xff\xff\xff"],
)
def test_malformed_raises_x509error(data):
    with pytest.raises(X509Error):
        parse_certificate(data)


def test_trailing_bytes_rejected():
    der = pem_certificates(trustme.CA().cert_pem.bytes().decode())[0]
    with pytest.raises(X509Error):
        parse_certificate(der + b"\x00")


_VALID = pem_certificates(trustme.CA().cert_pem.bytes().decode())[0]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_only_raise_x509error(data):
    try:
        parse_certificate(data)
    except X509Error:
        pass


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(_VALID) - 1), st.integers(0, 255))
def test_mutated_certificate_only_raises_x509error(index, value):
    data = bytearray(_VALID)
    data[index] = value
    try:
        parse_certificate(bytes(data))
    except X509Error:
        pass


def test_ip_san_formats():
    ca = trustme.CA()
    leaf = ca.issue_cert("10.1.2.3", "2001:db8::7")
    der = pem_certificates(leaf.cert_chain_pems[0].bytes().decode())[0]
    sans = parse_certificate(der).subject_alt_names
    assert sans == ("IP:10.1.2.3", "IP:" + str(ipaddress.ip_address("2001:db8::7")))
