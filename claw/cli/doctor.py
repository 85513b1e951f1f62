"""``claw doctor``: check the installation, TLS trust and proxy routing, and say how to fix problems.

Each check is a function ``(DoctorContext) -> CheckResult`` listed in ``CHECKS``; a check reports a
status (``ok``, ``warn``, ``fail``), a one-line summary, detail lines and a fix hint. Later features add
checks (configuration, credentials, MCP servers, reachability) by appending to ``CHECKS``. The exit code
is 0 when every check passes or only warns, 1 when one fails; ``--json`` prints one JSON object.

Doctor makes no network access: it reports what claw *would* do (which proxy, which trust) without
connecting anywhere. It never prints secrets: proxy URLs are shown redacted.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Tuple

OK, WARN, FAIL = "ok", "warn", "fail"
_RANK = {OK: 0, WARN: 1, FAIL: 2}
DEFAULT_BASE_URL = "https://api.anthropic.com"

USAGE = """\
Usage: claw doctor [--json]

Check the Python interpreter, the claw installation, TLS trust sources (with certificate counts) and
the proxy that requests to ANTHROPIC_BASE_URL would use. No network access is made.

Options:
  --json       print one JSON object instead of text
  -h, --help   show this help

Exit status: 0 when every check passes or only warns, 1 when a check fails, 2 on bad usage.
"""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    name: str
    status: str  # "ok" | "warn" | "fail"
    summary: str
    details: Tuple[str, ...] = ()
    hint: Optional[str] = None

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "summary": self.summary,
                "details": list(self.details), "hint": self.hint}


@dataclass
class DoctorContext:
    """What the checks look at. ``network`` holds settings-file values (``proxy``, ``no_proxy``,
    ``ca_files``, ``client_cert``, ``client_key``) once the settings layer passes them in."""

    env: Mapping[str, str]
    argv0: str = ""
    network: Dict[str, object] = field(default_factory=dict)


Check = Callable[[DoctorContext], CheckResult]


# --------------------------------------------------------------------------------------------------
# Checks


def check_python(ctx: DoctorContext) -> CheckResult:
    import platform

    version = platform.python_version()
    impl = platform.python_implementation()
    details: List[str] = []
    try:
        import ssl

        details.append(f"ssl: {ssl.OPENSSL_VERSION}")
    except ImportError:
        return CheckResult("python", FAIL, f"{impl} {version}: the ssl module is missing",
                           tuple(details), "use a Python built with OpenSSL (the ssl module)")
    if sys.version_info < (3, 9):  # pragma: no cover - __main__ refuses to start before this
        return CheckResult("python", FAIL, f"{impl} {version} is too old", tuple(details),
                           "claw needs Python 3.9 or newer")
    status, hint = OK, None
    if impl != "CPython":
        status, hint = WARN, "claw is tested on CPython 3.9-3.13 only"
    return CheckResult("python", status, f"{impl} {version} ({sys.executable})", tuple(details), hint)


def install_location(argv0: str = "") -> Tuple[str, str]:
    """``(kind, path)``: ``("pyz", archive)``, ``("source tree", root)`` or ``("installed", dir)``."""
    import claw

    loader = getattr(getattr(claw, "__spec__", None), "loader", None)
    archive = getattr(loader, "archive", None)
    if archive:
        return "pyz", os.path.abspath(archive)
    if argv0.endswith(".pyz") and os.path.isfile(argv0):
        return "pyz", os.path.abspath(argv0)
    package_dir = os.path.dirname(os.path.abspath(claw.__file__))
    root = os.path.dirname(package_dir)
    if os.path.isfile(os.path.join(root, "pyproject.toml")):
        return "source tree", root
    return "installed", package_dir


def check_install(ctx: DoctorContext) -> CheckResult:
    from claw import __version__

    kind, path = install_location(ctx.argv0)
    summary = f"claw {__version__} from {'the .pyz ' if kind == 'pyz' else ''}{path}"
    if kind == "source tree":
        summary = f"claw {__version__} from the source tree {path}"
    elif kind == "installed":
        summary = f"claw {__version__} installed in {path}"
    return CheckResult("install", OK, summary, (f"running from: {kind}",))


def check_dependencies(ctx: DoctorContext) -> CheckResult:
    from claw import _vendor

    found: List[str] = []
    missing: List[str] = []
    for name in _vendor.VENDORED:
        if name == "tomli" and sys.version_info >= (3, 11):
            found.append("tomli (not needed: tomllib)")
            continue
        try:
            module = getattr(_vendor, name)
        except ImportError:
            missing.append(name)
            continue
        where = "vendored" if module.__name__.startswith("claw._vendor.") else "from the environment"
        found.append(f"{name} {getattr(module, '__version__', '?')} ({where})")
    if missing:
        return CheckResult(
            "dependencies", FAIL, "missing: " + ", ".join(missing), tuple(found),
            "use the released claw.pyz (dependencies are inside it), or in a source checkout "
            "run: pip install -e .",
        )
    return CheckResult("dependencies", OK, ", ".join(f.split(" (")[0] for f in found), tuple(found))


def check_tls(ctx: DoctorContext) -> CheckResult:
    from claw.errors import ClawError
    from claw.net.tls import TLSSettings, client_certificate_error, trust_report

    try:
        settings = TLSSettings.from_env(
            ctx.env,
            ca_files=tuple(ctx.network.get("ca_files") or ()),  # type: ignore[arg-type]
            client_cert=ctx.network.get("client_cert"),  # type: ignore[arg-type]
            client_key=ctx.network.get("client_key"),  # type: ignore[arg-type]
        )
    except ClawError as exc:
        return CheckResult("tls trust", FAIL, exc.message, (), exc.hint)
    report = trust_report(settings)
    details = [s.describe() for s in report]
    total = sum(s.certificates for s in report)
    loaded = [s for s in report if s.certificates]
    summary = f"{len(loaded)} trust source{'s' if len(loaded) != 1 else ''}, {total} certificates"
    status, hints = OK, []
    user_errors = [s for s in report if s.error and not s.name.startswith(("system", "certifi"))]
    if user_errors:
        status = WARN
        names = ", ".join(sorted({s.name for s in user_errors}))
        hints.append(f"fix or unset {names}: the other trust sources still apply")
    certifi = [s for s in report if s.name.startswith("certifi")]
    if certifi and not certifi[0].certificates:
        status = WARN
        hints.append("certifi's bundle is missing: use the released claw.pyz, which contains it")
    if settings.client_cert:
        error = client_certificate_error(settings)
        if error is not None:
            status = FAIL
            details.append(f"client certificate: {error.message}")
            hints.append(error.hint or "fix the client certificate settings")
        else:
            line, expired = _describe_client_cert(settings.client_cert)
            details.append(line)
            summary += ", client certificate loaded"
            if expired:
                status = FAIL if status == FAIL else WARN
                hints.append("the client certificate has expired: replace the file (claw re-reads it)")
    if total == 0:
        status = FAIL
        hints.append("no trusted certificates at all: set SSL_CERT_FILE to a CA bundle (PEM)")
    return CheckResult("tls trust", status, summary, tuple(details), "; ".join(hints) or None)


def _describe_client_cert(path: str) -> Tuple[str, bool]:
    from datetime import datetime, timezone

    from claw.net.x509 import X509Error, parse_certificate, pem_certificates

    try:
        with open(path, encoding="latin-1") as fh:
            ders = pem_certificates(fh.read())
        cert = parse_certificate(ders[0])
    except (OSError, IndexError, X509Error):
        return f"client certificate {path}", False
    expired = cert.not_after < datetime.now(timezone.utc)
    state = "EXPIRED" if expired else "valid"
    return (f"client certificate {path}: {cert.subject.short()}, issuer {cert.issuer.short()}, "
            f"{state} until {cert.not_after:%Y-%m-%d}"), expired


def check_proxy(ctx: DoctorContext) -> CheckResult:
    from claw.errors import ClawError
    from claw.net.proxy import ProxySettings
    from claw.net.url import parse_url

    raw = (ctx.env.get("ANTHROPIC_BASE_URL") or "").strip()
    name = "ANTHROPIC_BASE_URL" if raw else "default API URL"
    try:
        url = parse_url(raw or DEFAULT_BASE_URL)
    except ValueError as exc:
        return CheckResult("proxy", FAIL, f"ANTHROPIC_BASE_URL is invalid: {exc}", (),
                           "set ANTHROPIC_BASE_URL to a URL like https://api.anthropic.com")
    try:
        proxies = ProxySettings.from_env(
            ctx.env,
            proxy=ctx.network.get("proxy"),  # type: ignore[arg-type]
            no_proxy=ctx.network.get("no_proxy"),  # type: ignore[arg-type]
        )
    except ClawError as exc:
        return CheckResult("proxy", FAIL, exc.message, (), exc.hint)
    route = proxies.route(url)
    details = [
        f"https/wss proxy: {_proxy_line(proxies.https)}",
        f"http/ws proxy: {_proxy_line(proxies.http)}",
        f"{proxies.no_proxy.source}: "
        + (", ".join(e.text for e in proxies.no_proxy.entries) or "(none)"),
        "loopback (localhost, 127.0.0.0/8, ::1): "
        + ("direct" if proxies.no_proxy.loopback else "proxied (CLAW_PROXY_LOOPBACK=1)"),
    ]
    status, hints = OK, []
    if proxies.no_proxy.invalid:
        status = WARN
        details.append(f"ignored {proxies.no_proxy.source} entries: "
                       + ", ".join(proxies.no_proxy.invalid))
        hints.append("NO_PROXY takes *, host, .suffix, IP, CIDR, host:port and [v6]:port entries")
    if route.proxy is not None and route.proxy.scheme == "https" and sys.version_info < (3, 11):
        status = WARN
        hints.append("an https:// proxy needs Python 3.11 or newer: run claw with a newer Python "
                     "or use an http:// proxy URL")
    summary = f"{name} {url.origin} -> {route.describe()}"
    return CheckResult("proxy", status, summary, tuple(details), "; ".join(hints) or None)


def _proxy_line(proxy) -> str:
    if proxy is None:
        return "none"
    return f"{proxy.redacted()} (from {proxy.source})"


CHECKS: List[Check] = [check_python, check_install, check_dependencies, check_tls, check_proxy]


# --------------------------------------------------------------------------------------------------
# Running and rendering


def run_checks(ctx: DoctorContext, checks: Optional[List[Check]] = None) -> List[CheckResult]:
    """Run every check; a check that crashes is reported as failed, never raised."""
    results = []
    for check in CHECKS if checks is None else checks:
        name = getattr(check, "__name__", "check").replace("check_", "").replace("_", " ")
        try:
            results.append(check(ctx))
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            results.append(CheckResult(name, FAIL, f"the check crashed: {type(exc).__name__}: {exc}",
                                       (), "please report this as a claw bug"))
    return results


def overall_status(results: List[CheckResult]) -> str:
    return max((r.status for r in results), key=_RANK.__getitem__, default=OK)


def exit_code(results: List[CheckResult]) -> int:
    return 1 if overall_status(results) == FAIL else 0


def render_text(results: List[CheckResult]) -> str:
    from claw import __version__

    width = max((len(r.name) for r in results), default=0)
    lines = [f"claw doctor ({__version__})", ""]
    for r in results:
        label = {OK: "ok  ", WARN: "warn", FAIL: "FAIL"}[r.status]
        lines.append(f"[{label}] {r.name.ljust(width)}  {r.summary}")
        indent = " " * (width + 9)
        lines.extend(indent + d for d in r.details)
        if r.hint:
            lines.append(f"{indent}hint: {r.hint}")
    warns = sum(r.status == WARN for r in results)
    fails = sum(r.status == FAIL for r in results)
    lines.append("")
    lines.append(f"{fails} failed, {warns} warning{'s' if warns != 1 else ''}, "
                 f"{len(results) - fails - warns} ok")
    return "\n".join(lines) + "\n"


def render_json(results: List[CheckResult]) -> str:
    import json

    from claw import __version__

    status = overall_status(results)
    return json.dumps({
        "type": "doctor",
        "claw_version": __version__,
        "status": status,
        "ok": status != FAIL,
        "exit_code": exit_code(results),
        "checks": [r.to_dict() for r in results],
    }) + "\n"


def run(argv: List[str]) -> int:
    as_json = False
    for arg in argv:
        if arg in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        if arg == "--json":
            as_json = True
        else:
            sys.stderr.write(f"claw doctor: unknown argument {arg!r}\nhint: run 'claw doctor --help'\n")
            return 2
    ctx = DoctorContext(env=os.environ, argv0=sys.argv[0] if sys.argv else "")
    results = run_checks(ctx)
    sys.stdout.write(render_json(results) if as_json else render_text(results))
    return exit_code(results)
