"""TLS trust and client certificates: the one client ``SSLContext`` claw verifies servers with.

Trust is the union of every source, each ADDED to the others, never replacing one:
  1. the platform's default CA file and directory (OpenSSL's compiled-in paths; the Windows store on
     Windows) — read from the compiled-in paths so that ``SSL_CERT_FILE`` adds to them instead of
     silently replacing them as it would in OpenSSL's ``set_default_verify_paths``;
  2. certifi's bundle, read as text (``claw._vendor.certifi_pem()``) and passed as ``cadata``, which
     works inside the .pyz;
  3. ``SSL_CERT_FILE``, ``NODE_EXTRA_CA_CERTS``, ``CLAW_CA_BUNDLE``, settings ``network.caFiles``
     (PEM bundles, or one DER certificate) and ``SSL_CERT_DIR`` (``os.pathsep``-separated directories).
Each source is counted and any error (missing file, no certificate, unparsable block) is recorded in
``trust_report`` without failing: the other sources still apply. An optional client certificate
(mTLS, ``network.clientCert``/``clientKey`` or ``CLAW_CLIENT_CERT``/``CLAW_CLIENT_KEY``) is loaded too.

The context is built once per process for each ``TLSSettings`` and rebuilt only when one of its files
changes (mtime, size or inode), which is how a rotated client certificate is picked up.
``describe_verify_failure`` turns an ``SSLCertVerificationError`` into a ``NetworkError`` naming the
host, the reason, the certificate the server presented (read by ``claw.net.x509``) and the trust
sources that were loaded.

This module opens no sockets and never disables verification for requests; the one unverified
context it offers (``diagnostic_ssl_context``) exists only to fetch a failing server's certificate
for the error message. ``ssl`` is imported lazily so that building settings stays cheap.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from claw.errors import ConfigError, NetworkError

if TYPE_CHECKING:  # pragma: no cover
    import ssl

CA_FILE_VARIABLES = ("SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "CLAW_CA_BUNDLE")
CA_DIR_VARIABLE = "SSL_CERT_DIR"
SETTINGS_CA_FILES = "settings network.caFiles"
CLIENT_CERT_VARIABLE = "CLAW_CLIENT_CERT"
CLIENT_KEY_VARIABLE = "CLAW_CLIENT_KEY"
CLIENT_KEY_PASSWORD_VARIABLE = "CLAW_CLIENT_KEY_PASSPHRASE"

ADD_CA_HINT = (
    "to trust a corporate or private CA, add its certificate (PEM) with SSL_CERT_FILE, "
    "NODE_EXTRA_CA_CERTS or CLAW_CA_BUNDLE, or settings network.caFiles (they add to the "
    "built-in roots); run 'claw doctor' to see what is loaded"
)

_HASHED_NAME = re.compile(r"^[0-9a-f]{8}\.[0-9]+$")
_CERT_EXTENSIONS = (".pem", ".crt", ".cer", ".der")
_BEGIN = "-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class TrustSource:
    """One place trusted certificates came from, how many it contributed, and what went wrong."""

    name: str  # "system CA file", "certifi (bundled)", "SSL_CERT_FILE", ...
    path: Optional[str]
    certificates: int  # for hashed directories: certificate files available for lookup
    error: Optional[str]

    @property
    def loaded(self) -> bool:
        return self.certificates > 0

    def describe(self) -> str:
        where = f" {self.path}" if self.path else ""
        if self.error and not self.certificates:
            return f"{self.name}{where}: not loaded ({self.error})"
        text = f"{self.name}{where}: {self.certificates} certificate{'s' if self.certificates != 1 else ''}"
        if self.error:
            text += f" ({self.error})"
        return text


@dataclass(frozen=True)
class TLSSettings:
    """Where extra trust and the client certificate come from. Hashable: it keys the context cache."""

    extra_ca_files: Tuple[str, ...] = ()  # SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, CLAW_CA_BUNDLE, caFiles
    extra_ca_dirs: Tuple[str, ...] = ()  # SSL_CERT_DIR (os.pathsep separated)
    client_cert: Optional[str] = None  # mTLS, PEM path (may also hold the key)
    client_key: Optional[str] = None
    client_key_password: Optional[str] = field(default=None, repr=False)
    # Names of where each extra file / dir came from, aligned with extra_ca_files / extra_ca_dirs.
    ca_file_sources: Tuple[str, ...] = ()
    ca_dir_sources: Tuple[str, ...] = ()
    system_trust: bool = True  # the platform store and certifi; False only for tests and doctor

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, ca_files: Iterable[str] = (),
                 client_cert: Optional[str] = None, client_key: Optional[str] = None) -> TLSSettings:
        """Collect the CA files/dirs from the environment, plus ``ca_files`` (settings
        ``network.caFiles``); ``client_cert``/``client_key`` (settings) win over
        ``CLAW_CLIENT_CERT``/``CLAW_CLIENT_KEY``. Empty variables are ignored."""
        files: List[str] = []
        names: List[List[str]] = []

        def add(path: str, name: str) -> None:
            path = os.path.expanduser(path.strip())
            if not path:
                return
            if path in files:
                names[files.index(path)].append(name)
            else:
                files.append(path)
                names.append([name])

        for var in CA_FILE_VARIABLES:
            add(env.get(var) or "", var)
        for path in ca_files:
            add(path, SETTINGS_CA_FILES)
        dirs = tuple(
            os.path.expanduser(d.strip())
            for d in (env.get(CA_DIR_VARIABLE) or "").split(os.pathsep)
            if d.strip()
        )
        cert = client_cert if client_cert else (env.get(CLIENT_CERT_VARIABLE) or "").strip() or None
        key = client_key if client_key else (env.get(CLIENT_KEY_VARIABLE) or "").strip() or None
        if key and not cert:
            raise ConfigError(
                "a client key is configured without a client certificate",
                hint="set network.clientCert (or CLAW_CLIENT_CERT) to the PEM certificate too",
            )
        password = env.get(CLIENT_KEY_PASSWORD_VARIABLE) or None
        return cls(
            extra_ca_files=tuple(files),
            extra_ca_dirs=dirs,
            client_cert=os.path.expanduser(cert) if cert else None,
            client_key=os.path.expanduser(key) if key else None,
            client_key_password=password,
            ca_file_sources=tuple(", ".join(n) for n in names),
            ca_dir_sources=tuple(CA_DIR_VARIABLE for _ in dirs),
        )

    def file_source_name(self, index: int) -> str:
        if index < len(self.ca_file_sources):
            return self.ca_file_sources[index]
        return "extra CA file"

    def dir_source_name(self, index: int) -> str:
        if index < len(self.ca_dir_sources):
            return self.ca_dir_sources[index]
        return "extra CA directory"


# --------------------------------------------------------------------------------------------------
# Building and caching the context


@dataclass
class _Built:
    """A built SSL context and the inputs it was built from (to reuse it while they hold)."""

    signature: Tuple[Any, ...]
    context: Any  # ssl.SSLContext
    report: Tuple[TrustSource, ...]
    client_error: Optional[ConfigError]


_LOCK = threading.Lock()
_CACHE: Dict[TLSSettings, _Built] = {}


def client_ssl_context(settings: TLSSettings) -> ssl.SSLContext:
    """The verifying client context for ``settings``: hostname check on, TLS >= 1.2, every trust
    source added, the client certificate loaded. Cached; rebuilt when a configured file changes.

    Raises ``ConfigError`` only for an unusable client certificate or key (a missing CA file is
    recorded in ``trust_report`` instead).
    """
    built = _get(settings)
    if built.client_error is not None:
        raise built.client_error
    return built.context


def trust_report(settings: TLSSettings) -> Tuple[TrustSource, ...]:
    """What each trust source contributed to the context (building it if needed)."""
    return _get(settings).report


def client_certificate_error(settings: TLSSettings) -> Optional[ConfigError]:
    """Why the configured client certificate cannot be used, or None (also None without one)."""
    return _get(settings).client_error


def clear_cache() -> None:
    """Forget every built context (tests; a long-running host after changing system trust)."""
    with _LOCK:
        _CACHE.clear()


def _get(settings: TLSSettings) -> _Built:
    with _LOCK:
        signature = _signature(settings)
        built = _CACHE.get(settings)
        if built is None or built.signature != signature:
            built = _build(settings, signature)
            _CACHE[settings] = built
        return built


def _stat_key(path: Optional[str]) -> Any:
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError as exc:
        return ("error", exc.errno)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _signature(settings: TLSSettings) -> Tuple[Any, ...]:
    paths: List[Optional[str]] = list(settings.extra_ca_files)
    paths.extend(settings.extra_ca_dirs)
    paths.extend((settings.client_cert, settings.client_key))
    return tuple(_stat_key(p) for p in paths)


def _build(settings: TLSSettings, signature: Tuple[Any, ...]) -> _Built:
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verify_mode CERT_REQUIRED, check_hostname on
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    partial_chain = getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", None)
    if partial_chain is not None:  # trust an added intermediate CA as an anchor (3.10+)
        ctx.verify_flags |= partial_chain
    ctx.set_alpn_protocols(["http/1.1"])
    report: List[TrustSource] = []
    # real path -> certificates already in the store from it: a variable pointing at the system
    # bundle (SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt is common) is not parsed twice.
    seen: Dict[str, int] = {}
    if settings.system_trust:
        report.extend(_load_system(ctx, seen))
        report.append(_load_certifi(ctx))
    for index, path in enumerate(settings.extra_ca_files):
        report.append(_load_once(ctx, settings.file_source_name(index), path, seen, _load_file))
    for index, path in enumerate(settings.extra_ca_dirs):
        report.append(_load_once(ctx, settings.dir_source_name(index), path, seen, _load_dir))
    client_error = None
    if settings.client_cert:
        client_error = _load_client_cert(ctx, settings)
    return _Built(signature, ctx, tuple(report), client_error)


def _load_once(ctx: ssl.SSLContext, name: str, path: str, seen: Dict[str, int],
               loader: Callable[[Any, str, str], TrustSource]) -> TrustSource:
    real = os.path.realpath(path)
    if real in seen:
        return TrustSource(name, path, seen[real], None)
    source = loader(ctx, name, path)
    if source.certificates and not source.error:
        seen[real] = source.certificates
    return source


def _load_system(ctx: ssl.SSLContext, seen: Dict[str, int]) -> List[TrustSource]:
    import ssl

    if sys.platform == "win32":
        before = len(ctx.get_ca_certs())
        try:
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
        except (OSError, ssl.SSLError) as exc:
            return [TrustSource("system store", None, 0, _short_error(exc))]
        return [TrustSource("system store", None, len(ctx.get_ca_certs()) - before, None)]
    paths = ssl.get_default_verify_paths()
    cafile, capath = paths.openssl_cafile, paths.openssl_capath
    has_file = bool(cafile) and os.path.isfile(cafile)
    # OpenSSL uses the default directory only through hashed names; Fedora-style directories that
    # just hold the bundle again are left alone.
    has_dir = bool(capath) and _has_hashed_names(capath)
    if has_file and has_dir:
        # Debian/Ubuntu/Alpine ship the same roots as one bundle and as a hashed directory. The
        # directory is looked up on demand, which saves parsing ~150 certificates at start-up.
        covered = _dir_covers_file(capath, cafile)
        if covered is not None:
            ctx.load_verify_locations(capath=capath)
            seen[os.path.realpath(cafile)] = covered
            seen[os.path.realpath(capath)] = covered
            return [TrustSource(f"system default (looked up in {capath})", cafile, covered, None)]
    sources = []
    if has_file:
        sources.append(_load_once(ctx, "system CA file", cafile, seen, _load_file))
    if has_dir:
        sources.append(_load_once(ctx, "system CA directory", capath, seen, _load_dir))
    if not sources:
        sources.append(TrustSource("system default", cafile or None, 0,
                                   "no system CA file or directory found"))
    return sources


def _has_hashed_names(path: str) -> bool:
    try:
        return any(_HASHED_NAME.match(e) for e in os.listdir(path))
    except OSError:
        return False


def _dir_covers_file(capath: str, cafile: str) -> Optional[int]:
    """The number of certificates in ``cafile`` when the hashed directory ``capath`` has at least
    as many entries (so it holds the same roots), else None."""
    try:
        hashed = sum(1 for e in os.listdir(capath) if _HASHED_NAME.match(e))
        with open(cafile, "rb") as fh:
            blocks = fh.read().count(_BEGIN.encode("ascii"))
    except OSError:
        return None
    if blocks and hashed >= blocks:
        return blocks
    return None


_CERTIFI: Dict[str, Any] = {}


def _certifi_text() -> Tuple[Optional[str], Optional[str]]:
    """certifi's bundle text (read once per process) or the reason it is unavailable.

    ``claw._vendor.certifi_pem()`` reads the file without importing certifi.
    """
    if "text" not in _CERTIFI:
        text: Optional[str] = None
        error: Optional[str] = None
        try:
            from claw._vendor import certifi_pem

            text = certifi_pem()
        except (ImportError, OSError, UnicodeDecodeError) as exc:
            error = _short_error(exc)
        _CERTIFI["text"], _CERTIFI["error"] = text, error
    return _CERTIFI["text"], _CERTIFI["error"]


def _load_certifi(ctx: ssl.SSLContext) -> TrustSource:
    text, error = _certifi_text()
    if text is None:
        return TrustSource("certifi (bundled)", None, 0, error or "not available")
    count, error = _load_pem_text(ctx, text)
    return TrustSource("certifi (bundled)", None, count, error)


def _load_file(ctx: ssl.SSLContext, name: str, path: str) -> TrustSource:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return TrustSource(name, path, 0, "file not found")
    except IsADirectoryError:
        return TrustSource(name, path, 0, "is a directory (use SSL_CERT_DIR for directories)")
    except PermissionError:
        return TrustSource(name, path, 0, "permission denied")
    except OSError as exc:
        return TrustSource(name, path, 0, _short_error(exc))
    count, error = _load_bytes(ctx, data)
    return TrustSource(name, path, count, error)


def _load_dir(ctx: ssl.SSLContext, name: str, path: str) -> TrustSource:
    """A hashed directory (``c_rehash``) is handed to OpenSSL for lookup on demand; a directory of
    plain ``*.pem``/``*.crt``/``*.cer``/``*.der`` files is loaded file by file."""
    import ssl

    try:
        entries = sorted(os.listdir(path))
    except FileNotFoundError:
        return TrustSource(name, path, 0, "directory not found")
    except NotADirectoryError:
        return TrustSource(name, path, 0, "not a directory")
    except OSError as exc:
        return TrustSource(name, path, 0, _short_error(exc))
    hashed = [e for e in entries if _HASHED_NAME.match(e)]
    if hashed:
        try:
            ctx.load_verify_locations(capath=path)
        except (OSError, ssl.SSLError) as exc:
            return TrustSource(name, path, 0, _short_error(exc))
        return TrustSource(name, path, len(hashed), None)
    total = 0
    errors = []
    for entry in entries:
        if not entry.lower().endswith(_CERT_EXTENSIONS):
            continue
        full = os.path.join(path, entry)
        try:
            with open(full, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            errors.append(f"{entry}: {_short_error(exc)}")
            continue
        count, error = _load_bytes(ctx, data)
        total += count
        if error:
            errors.append(f"{entry}: {error}")
    if not total and not errors:
        errors.append("no certificate files (*.pem, *.crt, *.cer, *.der or hashed names)")
    return TrustSource(name, path, total, "; ".join(errors[:3]) or None)


def _load_bytes(ctx: ssl.SSLContext, data: bytes) -> Tuple[int, Optional[str]]:
    text = data.decode("latin-1")
    if _BEGIN in text:
        return _load_pem_text(ctx, text)
    if data[:1] == b"\x30":  # one DER certificate
        import ssl

        try:
            ctx.load_verify_locations(cadata=data)
        except ssl.SSLError as exc:
            return 0, f"not a PEM or DER certificate ({_short_error(exc)})"
        return 1, None
    if "-----BEGIN TRUSTED CERTIFICATE-----" in text:
        return 0, "OpenSSL TRUSTED CERTIFICATE blocks are not supported: use BEGIN CERTIFICATE"
    return 0, "no certificates found (expected PEM '-----BEGIN CERTIFICATE-----' blocks)"


def _load_pem_text(ctx: ssl.SSLContext, text: str) -> Tuple[int, Optional[str]]:
    """Load every certificate block; count them; a bad block costs only itself."""
    import ssl

    from claw.net.x509 import pem_certificates

    blocks = text.count(_BEGIN)
    try:
        ctx.load_verify_locations(cadata=_only_cert_blocks(text))
        return blocks, None
    except ssl.SSLError:
        pass  # load one by one to keep the good ones and count the bad ones
    ders = pem_certificates(text)
    loaded = 0
    first_error = None
    for der in ders:
        try:
            ctx.load_verify_locations(cadata=der)
            loaded += 1
        except ssl.SSLError as exc:
            first_error = first_error or _short_error(exc)
    bad = blocks - loaded
    if bad:
        reason = f": {first_error}" if first_error else ""
        return loaded, f"{bad} of {blocks} certificate blocks could not be parsed{reason}"
    return loaded, None


_CERT_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)


def _only_cert_blocks(text: str) -> str:
    """The certificate blocks of a PEM file, without keys or comments between them."""
    return "\n".join(_CERT_BLOCK.findall(text)) + "\n"


def _load_client_cert(ctx: ssl.SSLContext, settings: TLSSettings) -> Optional[ConfigError]:
    import ssl

    cert, key = settings.client_cert, settings.client_key
    where = "network.clientCert / CLAW_CLIENT_CERT"
    for path, what, setting in ((cert, "client certificate", where),
                                (key, "client key", "network.clientKey / CLAW_CLIENT_KEY")):
        if path and not os.path.isfile(path):
            return ConfigError(f"{what} {path} not found", hint=f"fix {setting}")
    asked = []

    def password() -> str:
        asked.append(True)
        if settings.client_key_password is None:
            raise ValueError("no passphrase")
        return settings.client_key_password

    try:
        ctx.load_cert_chain(cert, key, password)
    except (ssl.SSLError, ValueError, OSError) as exc:
        if asked and settings.client_key_password is None:
            return ConfigError(
                f"client key {key or cert} is encrypted and no passphrase is set",
                hint=f"set {CLIENT_KEY_PASSWORD_VARIABLE}, or use an unencrypted key file",
            )
        return ConfigError(
            f"client certificate {cert}{' / key ' + key if key else ''} cannot be loaded: "
            f"{_short_error(exc)}",
            hint=f"check that both are PEM and that the key matches the certificate ({where})",
        )
    ctx.post_handshake_auth = True
    return None


def _short_error(exc: BaseException) -> str:
    import ssl

    if isinstance(exc, ssl.SSLError) and exc.reason:
        return exc.reason.lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


# --------------------------------------------------------------------------------------------------
# Explaining failures


def diagnostic_ssl_context() -> ssl.SSLContext:
    """A NON-verifying context used only to fetch the certificate chain of a server whose
    verification just failed, for ``describe_verify_failure``. Never send a request over it."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def peer_chain_der(ssl_object: Any) -> List[bytes]:
    """The certificates a server presented, leaf first, from an ``SSLObject``/``SSLSocket`` after a
    handshake (full chain on Python 3.13+, the leaf alone before). Empty when unavailable."""
    get_chain = getattr(ssl_object, "get_unverified_chain", None)
    if get_chain is not None:
        try:
            chain = get_chain()
        except Exception:  # noqa: BLE001 - diagnostics only
            chain = None
        if chain:
            out = []
            for cert in chain:
                if isinstance(cert, (bytes, bytearray)):
                    out.append(bytes(cert))
                else:
                    import ssl

                    out.append(cert.public_bytes(ssl._ssl.ENCODING_DER))  # type: ignore[attr-defined]
            return out
    try:
        leaf = ssl_object.getpeercert(binary_form=True)
    except Exception:  # noqa: BLE001 - diagnostics only
        return []
    return [leaf] if leaf else []


# OpenSSL X509_V_ERR_* codes that call for a specific hint.
_NOT_YET_VALID, _EXPIRED = 9, 10
_UNTRUSTED = {2, 18, 19, 20, 21, 27}
_HOSTNAME_MISMATCH, _IP_MISMATCH = 62, 64


def describe_verify_failure(host: str, port: int, exc: BaseException,
                            peer_chain_der: List[bytes], settings: TLSSettings) -> NetworkError:
    """``NetworkError(kind="tls_verify", retryable=False)`` saying which host failed, why, what
    certificate it presented, which trust sources were loaded and how to add a CA."""
    from claw.net.x509 import X509Error, parse_certificate

    reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)
    code = getattr(exc, "verify_code", None)
    shown_host = f"[{host}]" if ":" in host else host
    message = f"TLS certificate verification failed for {shown_host}:{port}: {reason}"
    chain = []
    for der in peer_chain_der or ():
        try:
            chain.append(parse_certificate(der))
        except X509Error:
            break
    leaf = chain[0] if chain else None
    if leaf is not None:
        message += f"; the server presented {leaf.describe()}"
        if len(chain) > 1:
            message += f"; chain of {len(chain)}, top issuer {chain[-1].issuer.short()}"
    elif peer_chain_der:
        message += "; the server's certificate could not be read"
    hints = []
    if code in (_HOSTNAME_MISMATCH, _IP_MISMATCH) and leaf is not None:
        names = ", ".join(leaf.subject_alt_names) or f"CN={leaf.subject.common_name}"
        hints.append(f"the certificate is for {names}, not {host}: check the URL you configured "
                     "(e.g. ANTHROPIC_BASE_URL)")
    elif code in (_HOSTNAME_MISMATCH, _IP_MISMATCH):
        hints.append(f"the certificate is not valid for {host}: check the URL you configured")
    elif code in (_NOT_YET_VALID, _EXPIRED):
        hints.append("the certificate is outside its validity period"
                     + (f" ({leaf.validity()})" if leaf else "")
                     + ": check this machine's clock, or ask the server's owner to renew it")
    else:
        if leaf is not None and code in _UNTRUSTED:
            hints.append(f"nothing loaded trusts the issuer {chain[-1].issuer.short()}; a "
                         "TLS-intercepting proxy or private gateway signs with its own CA")
        hints.append(ADD_CA_HINT)
    try:
        report = trust_report(settings)
    except Exception:  # noqa: BLE001 - the explanation must not fail
        report = ()
    if report:
        hints.append("trust sources: " + "; ".join(s.describe() for s in report))
    hint = ". ".join(h[:1].upper() + h[1:] for h in hints) + "."
    return NetworkError(message, hint=hint, kind="tls_verify", retryable=False)
