"""The session CA: fetch it from the remote, merge it with the system roots, write the bundle atomically.

- ``fetch_session_ca(url, token, net_config)``: ``GET {base}/v1/code/upstreamproxy/ca-cert`` with
  ``Authorization: Bearer <session token>`` through the one connection factory (so an outer corporate
  proxy and claw's trust apply). The answer must be 200 with at least one certificate (PEM blocks, or
  one DER certificate); each is parsed (claw.net.x509) so that junk never reaches a bundle. Failures
  are ``NetworkError``s with one-line messages that never hold the token;
- ``system_ca_pem(env)``: the system roots as PEM text — ``CCR_SYSTEM_CA_BUNDLE`` when set, else the
  platform's default CA file (OpenSSL's compiled-in path, then the usual distribution paths), else
  certifi's bundle (which works inside the .pyz);
- ``write_bundle(path, text)``: write ``system roots + session CA`` to ``path`` (``~/.ccr/ca-bundle.crt``
  or ``CCR_CA_BUNDLE_PATH``) atomically: a temporary file in the same directory, fsync, mode 0644, then
  rename over the old one, so a reader never sees half a bundle.

It does not decide whether the relay runs, and never disables verification.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional, Tuple

from claw.errors import ClawError, NetworkError

MAX_CA_RESPONSE = 1024 * 1024  # a CA answer larger than this is refused
BUNDLE_PATH_VARIABLE = "CCR_CA_BUNDLE_PATH"
SYSTEM_CA_VARIABLE = "CCR_SYSTEM_CA_BUNDLE"
_BEGIN = "-----BEGIN CERTIFICATE-----"
_DISTRIBUTION_CA_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # macOS, BSDs
)


def default_bundle_path(env: Mapping[str, str]) -> str:
    """``CCR_CA_BUNDLE_PATH``, else ``~/.ccr/ca-bundle.crt`` (HOME from ``env`` when set)."""
    explicit = (env.get(BUNDLE_PATH_VARIABLE) or "").strip()
    if explicit:
        return os.path.expanduser(explicit)
    home = (env.get("HOME") or "").strip() or os.path.expanduser("~")
    return os.path.join(home, ".ccr", "ca-bundle.crt")


def certificates_pem(body: bytes, where: str) -> str:
    """The certificates in a CA answer, re-encoded as PEM blocks; ``NetworkError(kind="protocol")``
    when there is none or one does not parse."""
    from claw.net.x509 import X509Error, der_to_pem, parse_certificate, pem_certificates

    text = body.decode("latin-1")
    if _BEGIN in text:
        ders = pem_certificates(text)
        if len(ders) != text.count(_BEGIN):
            raise NetworkError(f"{where} returned a certificate block that is not valid base64",
                               kind="protocol")
    elif body[:1] == b"\x30":
        ders = [bytes(body)]
    else:
        raise NetworkError(f"{where} did not return a certificate (expected PEM or DER)",
                           kind="protocol")
    blocks = []
    for der in ders:
        try:
            parse_certificate(der)
        except X509Error as exc:
            raise NetworkError(f"{where} returned a certificate that cannot be parsed: {exc}",
                               kind="protocol") from None
        blocks.append(der_to_pem(der))
    return "".join(blocks)


async def fetch_session_ca(url: str, token: str, net_config, *, timeout: float = 10.0) -> str:
    """The session CA certificate(s) as PEM text, fetched from ``url`` with the bearer ``token``."""
    from claw.net.http import HttpClient, Timeouts

    where = f"the session CA endpoint {url}"
    async with HttpClient(net_config) as client:
        response = await client.request(
            "GET", url,
            headers=[("Authorization", f"Bearer {token}"),
                     ("Accept", "application/x-pem-file, application/x-x509-ca-cert, */*")],
            timeouts=Timeouts(connect=timeout, read=timeout, total=timeout))
        async with response:
            if response.status != 200:
                raise NetworkError(f"{where} answered HTTP {response.status}",
                                   kind="protocol", status=response.status,
                                   retryable=response.status >= 500)
            parts = []
            size = 0
            async for piece in response.iter_bytes():
                size += len(piece)
                if size > MAX_CA_RESPONSE:
                    raise NetworkError(f"{where} sent more than {MAX_CA_RESPONSE} bytes",
                                       kind="protocol")
                parts.append(piece)
    return certificates_pem(b"".join(parts), where)


def _read_pem_file(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("latin-1")
    except OSError:
        return None
    return text if _BEGIN in text else None


def system_ca_pem(env: Mapping[str, str]) -> Tuple[str, str]:
    """(PEM text, where it came from) of the system roots; certifi's bundle when no system file
    exists."""
    candidates = []
    explicit = (env.get(SYSTEM_CA_VARIABLE) or "").strip()
    if explicit:
        candidates.append(os.path.expanduser(explicit))
    try:
        import ssl

        paths = ssl.get_default_verify_paths()
        for path in (paths.openssl_cafile, paths.cafile):
            if path:
                candidates.append(path)
    except Exception:  # noqa: BLE001 - an odd ssl build: fall back to the usual paths
        pass
    candidates.extend(_DISTRIBUTION_CA_FILES)
    seen = set()
    for path in candidates:
        if path in seen:
            continue
        seen.add(path)
        text = _read_pem_file(path)
        if text is not None:
            return text, path
    from claw._vendor import certifi_pem

    return certifi_pem(), "certifi (bundled)"


def merge_bundle(system_pem: str, session_pem: str) -> str:
    """System roots first, then the session CA, each ending with a newline."""
    system = system_pem if system_pem.endswith("\n") else system_pem + "\n"
    session = session_pem if session_pem.endswith("\n") else session_pem + "\n"
    return system + session


def write_bundle(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (mode 0644); ``ClawError`` naming the path on failure."""
    from claw.fsutil import atomic_write

    try:
        atomic_write(path, text.encode("ascii", "replace"), mode=0o644, make_dirs=0o777)
    except OSError as exc:
        raise ClawError(f"cannot write the CA bundle {path}: {exc.strerror or exc}",
                        kind="runtime_io",
                        hint=f"set {BUNDLE_PATH_VARIABLE} to a writable path") from None
