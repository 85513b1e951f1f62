"""The network checks of ``claw doctor``: TLS trust sources, the proxy route, and reachability.

``check_tls`` counts the certificates of every trust source and checks a client certificate;
``check_proxy`` says which proxy (if any) the base URL goes through; ``check_reachability`` sends the
one request doctor makes by itself (a HEAD to the base URL's root, through the configured proxy, with a
short timeout: ``probe_base_url``) and reports the TLS verdict. Proxy URLs are shown redacted.

It deliberately does not render or order the checks (claw.cli.doctor does) and opens no connection
outside ``probe_base_url``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from claw.cli.doctor_context import (
    DEFAULT_BASE_URL,
    FAIL,
    OK,
    REACH_TIMEOUT,
    WARN,
    CheckResult,
    DoctorContext,
    provider_name,
    resolved_model,
)

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
    if provider_name(ctx) == "vertex":
        from claw.cli.vertex_checks import vertex_proxy_target

        name, raw = vertex_proxy_target(ctx)
        if not raw:
            return CheckResult("proxy", FAIL, name, (), "see the reachability check")
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


@dataclass(frozen=True)
class Probe:
    """The outcome of one request to a base URL's root: an HTTP status, or the error that stopped it."""

    url: str
    route: str
    status: Optional[int] = None
    error: Any = None  # claw.errors.ClawError
    tls: bool = False


async def probe_base_url(url: str, config: Any, *, timeout: float = REACH_TIMEOUT) -> Probe:
    """Send ``HEAD /`` to ``url``'s origin through the proxy ``config`` names for it. Any HTTP status
    counts as reachable; a transport failure (DNS, connect, proxy, TLS) is returned in ``error``."""
    from claw.errors import ClawError
    from claw.net.http import HttpClient, Timeouts
    from claw.net.url import parse_url

    parsed = parse_url(url)
    route = config.proxies.route(parsed).describe()
    async with HttpClient(config) as client:
        try:
            response = await client.request("HEAD", parsed.origin + "/",
                                            timeouts=Timeouts(connect=timeout, read=timeout, total=2 * timeout))
        except ClawError as exc:
            return Probe(url, route, error=exc, tls=parsed.is_tls)
        await response.aclose()
    return Probe(url, route, status=response.status, tls=parsed.is_tls)


def check_reachability(ctx: DoctorContext) -> CheckResult:
    from claw.cli.status_cmd import base_url_for
    from claw.errors import ClawError

    _, resolved, _ = resolved_model(ctx)
    provider = resolved.provider if resolved is not None else "anthropic"
    base = base_url_for(provider, ctx.env, resolved.model if resolved is not None else None)
    if base.url is None:
        return CheckResult("reachability", FAIL, base.error or "no usable base URL", (), base.hint)
    try:
        config = _net_config(ctx)
        route = proxy_route_of(base.url, config)
    except ClawError as exc:
        return CheckResult("reachability", FAIL, f"{base.url}: {exc.message}", (), exc.hint)
    where = f"{provider} base URL {base.url} ({base.source})"
    if ctx.offline:
        return CheckResult("reachability", OK, f"skipped (--offline): {where} via {route}")
    from claw.net.url import parse_url

    probe = _run_async(probe_base_url(base.url, config, timeout=ctx.timeout))
    details = [f"HEAD {parse_url(base.url).origin}/ via {probe.route}"]
    if probe.error is None:
        if probe.tls:
            details.append("TLS: the certificate was verified (trusted by the loaded trust sources)")
        return CheckResult("reachability", OK, f"{where} answered HTTP {probe.status} via {probe.route}",
                           tuple(details))
    error = probe.error
    details.append(error.message)
    if error.kind == "tls_verify":
        return CheckResult("reachability", FAIL, f"TLS verification failed for {base.url} via {probe.route}",
                           tuple(details), error.hint)
    return CheckResult("reachability", FAIL, f"cannot reach {where} via {probe.route} ({error.kind})",
                       tuple(details), error.hint)


def _run_async(coro: Any) -> Any:
    """``asyncio.run(coro)``, or in a worker thread when this thread already runs a loop (``/doctor``
    in the REPL)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _net_config(ctx: DoctorContext) -> Any:
    loaded = ctx.settings()
    if loaded is not None:
        from claw.config.environment import network_config

        return network_config(loaded.settings, ctx.env)
    from claw.net.config import NetConfig

    return NetConfig.from_env(ctx.env, proxy=ctx.network.get("proxy"),  # type: ignore[arg-type]
                              no_proxy=ctx.network.get("no_proxy"))  # type: ignore[arg-type]


def proxy_route_of(url: str, config: Any) -> str:
    from claw.cli.status_cmd import proxy_route

    return proxy_route(url, config)
