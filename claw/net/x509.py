"""A minimal, pure-Python reader of X.509 certificates (DER), for saying what a server presented.

``parse_certificate(der)`` returns the fields a person needs to understand a TLS failure: subject and
issuer (CN, O, OU, C, ...), validity dates, subject alternative names, whether it is a CA, its serial
number and SHA-256 fingerprint. ``pem_certificates(text)`` finds the PEM certificate blocks in a file.

It deliberately does not verify anything (no signatures, no chains, no policy): verification is
OpenSSL's job through ``ssl``. It reads DER only (no BER indefinite lengths) and raises ``X509Error``
(a ``ValueError``) on anything malformed, never another exception type.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import List, Optional, Tuple

_PEM_CERT_RE = re.compile(
    r"-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]*?)\s*-----END CERTIFICATE-----"
)

# Attribute types of distinguished names, by OID.
NAME_ATTRIBUTES = {
    "2.5.4.3": "CN",
    "2.5.4.4": "SN",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "street",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.12": "title",
    "2.5.4.42": "GN",
    "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
    "1.2.840.113549.1.9.1": "emailAddress",
}
_OID_SAN = "2.5.29.17"
_OID_BASIC_CONSTRAINTS = "2.5.29.19"

# Universal tags.
_BOOLEAN, _INTEGER, _BIT_STRING, _OCTET_STRING, _OID = 0x01, 0x02, 0x03, 0x04, 0x06
_UTF8, _PRINTABLE, _T61, _IA5, _UTCTIME, _GENTIME = 0x0C, 0x13, 0x14, 0x16, 0x17, 0x18
_UNIVERSAL, _BMP, _SEQUENCE, _SET = 0x1C, 0x1E, 0x30, 0x31


class X509Error(ValueError):
    """The bytes are not a DER certificate this reader understands."""


@dataclass(frozen=True)
class Name:
    """A distinguished name as ``((attribute, value), ...)`` in certificate order."""

    attributes: Tuple[Tuple[str, str], ...]
    der: bytes = b""

    def get(self, attribute: str) -> Optional[str]:
        for key, value in self.attributes:
            if key == attribute:
                return value
        return None

    @property
    def common_name(self) -> Optional[str]:
        return self.get("CN")

    @property
    def organization(self) -> Optional[str]:
        return self.get("O")

    def short(self) -> str:
        """``CN=..., O=...`` (the attributes people recognise; OU too when there is no CN), or the
        full name when it has none of them."""
        keep = ("CN", "O") if self.common_name is not None else ("OU", "O")
        parts = [f"{k}={v}" for want in keep for k, v in self.attributes if k == want]
        return ", ".join(parts) if parts else str(self)

    def __str__(self) -> str:
        if not self.attributes:
            return "(empty name)"
        return ", ".join(f"{k}={v}" for k, v in self.attributes)


@dataclass(frozen=True)
class Certificate:
    """The human-relevant fields of one certificate."""

    subject: Name
    issuer: Name
    not_before: datetime  # timezone-aware, UTC
    not_after: datetime
    serial: int
    subject_alt_names: Tuple[str, ...]  # "DNS:x", "IP:1.2.3.4", "email:..", "URI:.."
    is_ca: Optional[bool]  # basicConstraints cA, None when the extension is absent
    fingerprint_sha256: str  # hex, colon-separated
    version: int  # 1, 2 or 3

    @property
    def self_issued(self) -> bool:
        return self.subject.der == self.issuer.der if self.subject.der else self.subject == self.issuer

    @property
    def dns_names(self) -> Tuple[str, ...]:
        return tuple(n[4:] for n in self.subject_alt_names if n.startswith("DNS:"))

    def validity(self) -> str:
        return f"{self.not_before:%Y-%m-%d} to {self.not_after:%Y-%m-%d}"

    def describe(self) -> str:
        """One line: subject, issuer, validity and names."""
        text = f"subject {self.subject.short()}; issuer {self.issuer.short()}"
        if self.self_issued:
            text += " (self-signed)"
        text += f"; valid {self.validity()}"
        if self.subject_alt_names:
            names = list(self.subject_alt_names[:6])
            if len(self.subject_alt_names) > 6:
                names.append(f"... {len(self.subject_alt_names) - 6} more")
            text += "; names " + ", ".join(names)
        return text


def pem_certificates(text: str) -> List[bytes]:
    """The DER bytes of every ``BEGIN CERTIFICATE`` block in ``text`` (undecodable blocks skipped)."""
    out = []
    for match in _PEM_CERT_RE.finditer(text):
        body = "".join(match.group(1).split())
        try:
            out.append(base64.b64decode(body, validate=True))
        except (binascii.Error, ValueError):
            continue
    return out


def count_pem_certificates(text: str) -> int:
    """How many ``BEGIN CERTIFICATE`` blocks ``text`` holds."""
    return text.count("-----BEGIN CERTIFICATE-----")


def der_to_pem(der: bytes) -> str:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def parse_certificate(der: bytes) -> Certificate:
    """Read a DER certificate; raise ``X509Error`` when it is not one."""
    try:
        return _parse_certificate(bytes(der))
    except X509Error:
        raise
    except (ValueError, IndexError, UnicodeDecodeError, OverflowError) as exc:
        raise X509Error(f"malformed certificate: {exc}") from None


# --------------------------------------------------------------------------------------------------
# DER


class _Reader:
    """Sequential reader of DER TLVs over ``data[start:end]``."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, start: int = 0, end: Optional[int] = None) -> None:
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end

    def at_end(self) -> bool:
        return self.pos >= self.end

    def peek_tag(self) -> Optional[int]:
        return self.data[self.pos] if self.pos < self.end else None

    def read(self) -> Tuple[int, int, int]:
        """Read one TLV: ``(tag, value_start, value_end)``."""
        data, pos = self.data, self.pos
        if pos + 2 > self.end:
            raise X509Error("truncated DER element")
        tag = data[pos]
        if tag & 0x1F == 0x1F:
            raise X509Error("high tag numbers are not supported")
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            if count == 0:
                raise X509Error("indefinite length is not DER")
            if count > 4 or pos + count > self.end:
                raise X509Error("invalid DER length")
            length = int.from_bytes(data[pos:pos + count], "big")
            pos += count
        if pos + length > self.end:
            raise X509Error("DER element runs past its container")
        self.pos = pos + length
        return tag, pos, pos + length

    def expect(self, tag: int, what: str) -> Tuple[int, int]:
        got, start, end = self.read()
        if got != tag:
            raise X509Error(f"expected {what} (tag 0x{tag:02x}), found tag 0x{got:02x}")
        return start, end

    def enter(self, tag: int, what: str) -> _Reader:
        start, end = self.expect(tag, what)
        return _Reader(self.data, start, end)


def _parse_certificate(der: bytes) -> Certificate:
    outer = _Reader(der)
    cert = outer.enter(_SEQUENCE, "Certificate")
    if not outer.at_end():
        raise X509Error("trailing bytes after the certificate")
    tbs = cert.enter(_SEQUENCE, "TBSCertificate")
    version = 1
    if tbs.peek_tag() == 0xA0:  # [0] EXPLICIT Version
        ver = tbs.enter(0xA0, "version")
        start, end = ver.expect(_INTEGER, "version number")
        version = int.from_bytes(der[start:end], "big") + 1
    start, end = tbs.expect(_INTEGER, "serialNumber")
    serial = int.from_bytes(der[start:end], "big", signed=True)
    tbs.expect(_SEQUENCE, "signature AlgorithmIdentifier")
    issuer = _parse_name(der, tbs)
    validity = tbs.enter(_SEQUENCE, "Validity")
    not_before = _parse_time(der, validity)
    not_after = _parse_time(der, validity)
    subject = _parse_name(der, tbs)
    tbs.expect(_SEQUENCE, "SubjectPublicKeyInfo")
    sans: Tuple[str, ...] = ()
    is_ca: Optional[bool] = None
    while not tbs.at_end():
        tag, start, end = tbs.read()
        if tag != 0xA3:  # [1] issuerUniqueID, [2] subjectUniqueID: skipped
            continue
        exts = _Reader(der, start, end).enter(_SEQUENCE, "Extensions")
        while not exts.at_end():
            ext = exts.enter(_SEQUENCE, "Extension")
            oid = _oid(der, *ext.expect(_OID, "extnID"))
            if ext.peek_tag() == _BOOLEAN:
                ext.read()  # critical
            value_start, value_end = ext.expect(_OCTET_STRING, "extnValue")
            if oid == _OID_SAN:
                sans = _parse_general_names(der, _Reader(der, value_start, value_end))
            elif oid == _OID_BASIC_CONSTRAINTS:
                is_ca = _parse_basic_constraints(der, _Reader(der, value_start, value_end))
    import hashlib

    digest = hashlib.sha256(der).hexdigest().upper()
    fingerprint = ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
    return Certificate(subject, issuer, not_before, not_after, serial, sans, is_ca, fingerprint,
                       version)


def _parse_name(der: bytes, reader: _Reader) -> Name:
    tag, start, end = reader.read()
    if tag != _SEQUENCE:
        raise X509Error(f"expected a Name (SEQUENCE), found tag 0x{tag:02x}")
    rdns = _Reader(der, start, end)
    attributes = []
    while not rdns.at_end():
        rdn = rdns.enter(_SET, "RelativeDistinguishedName")
        while not rdn.at_end():
            atv = rdn.enter(_SEQUENCE, "AttributeTypeAndValue")
            oid = _oid(der, *atv.expect(_OID, "attribute type"))
            vtag, vstart, vend = atv.read()
            attributes.append((NAME_ATTRIBUTES.get(oid, oid), _decode_string(vtag, der[vstart:vend])))
    return Name(tuple(attributes), der[start:end])


def _decode_string(tag: int, raw: bytes) -> str:
    if tag in (_UTF8,):
        return raw.decode("utf-8", "replace")
    if tag in (_PRINTABLE, _IA5, 0x1A, 0x12):  # Printable, IA5, Visible, Numeric
        return raw.decode("ascii", "replace")
    if tag == _T61:
        return raw.decode("latin-1")
    if tag == _BMP:
        return raw.decode("utf-16-be", "replace")
    if tag == _UNIVERSAL:
        return raw.decode("utf-32-be", "replace")
    return "#" + raw.hex()


def _parse_time(der: bytes, reader: _Reader) -> datetime:
    tag, start, end = reader.read()
    text = der[start:end].decode("ascii")
    if not text.endswith("Z"):
        raise X509Error(f"time {text!r} is not in UTC")
    digits = text[:-1]
    if tag == _UTCTIME:
        if len(digits) == 10:  # YYMMDDHHMM (allowed by old encoders)
            digits += "00"
        if len(digits) != 12 or not digits.isdigit():
            raise X509Error(f"invalid UTCTime {text!r}")
        year = int(digits[:2])
        year += 1900 if year >= 50 else 2000  # RFC 5280 4.1.2.5.1
        rest = digits[2:]
    elif tag == _GENTIME:
        digits = digits.split(".")[0]
        if len(digits) != 14 or not digits.isdigit():
            raise X509Error(f"invalid GeneralizedTime {text!r}")
        year = int(digits[:4])
        rest = digits[4:]
    else:
        raise X509Error(f"expected a Time, found tag 0x{tag:02x}")
    month, day, hour, minute, second = (int(rest[i:i + 2]) for i in range(0, 10, 2))
    return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=timezone.utc)


def _oid(der: bytes, start: int, end: int) -> str:
    raw = der[start:end]
    if not raw:
        raise X509Error("empty OID")
    first = raw[0]
    if first & 0x80:
        raise X509Error("multi-byte first OID arc is not supported")
    arcs = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(str(a) for a in arcs)


def _parse_general_names(der: bytes, reader: _Reader) -> Tuple[str, ...]:
    names = []
    seq = reader.enter(_SEQUENCE, "GeneralNames")
    while not seq.at_end():
        tag, start, end = seq.read()
        raw = der[start:end]
        if tag == 0x82:
            names.append("DNS:" + raw.decode("ascii", "replace"))
        elif tag == 0x87:
            names.append("IP:" + _ip_text(raw))
        elif tag == 0x81:
            names.append("email:" + raw.decode("ascii", "replace"))
        elif tag == 0x86:
            names.append("URI:" + raw.decode("ascii", "replace"))
    return tuple(names)


def _ip_text(raw: bytes) -> str:
    import ipaddress

    if len(raw) in (4, 16):
        return str(ipaddress.ip_address(raw))
    return raw.hex()


def _parse_basic_constraints(der: bytes, reader: _Reader) -> bool:
    seq = reader.enter(_SEQUENCE, "BasicConstraints")
    if seq.peek_tag() == _BOOLEAN:
        start, end = seq.expect(_BOOLEAN, "cA")
        return der[start:end] != b"\x00"
    return False
