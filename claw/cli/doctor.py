"""``claw doctor``: check the installation, settings, credentials, TLS trust, proxy routing and the
API endpoint, and say how to fix problems.

Each check is a function ``(DoctorContext) -> CheckResult`` listed in ``CHECKS``; a check reports a
status (``ok``, ``warn``, ``fail``), a one-line summary, detail lines and a fix hint. The checks:
Python, the install, vendored dependencies, settings files (every problem, with file, line and key),
credentials (which source; an expired login warns), the model (known? its context window), TLS trust
sources, the proxy for ANTHROPIC_BASE_URL, reachability of the provider's base URL, MCP servers
configured (not connected) and whether the sessions directory is writable. The exit code is 0 when
every check passes or only warns, 1 when one fails; ``--json`` prints one JSON object.

Doctor is the only claw command that contacts the network by itself: the reachability check sends one
HEAD request to the base URL's root through the configured proxy, with a short timeout, and reports
the TLS verdict. ``--offline`` skips it; nothing else here opens a connection. Doctor never prints
secrets: proxy URLs are redacted, credentials are named by their source only.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

OK, WARN, FAIL = "ok", "warn", "fail"
_RANK = {OK: 0, WARN: 1, FAIL: 2}
DEFAULT_BASE_URL = "https://api.anthropic.com"
REACH_TIMEOUT = 5.0  # seconds to connect, and again to get the response head

USAGE = """\
Usage: claw doctor [--json] [--offline] [--settings FILE|JSON] [--cwd DIR] [--model MODEL]

Check the Python interpreter, the claw installation, the settings files (every problem at once), the
credentials in use (never printed), the model, TLS trust sources (with certificate counts), the proxy
route, the API endpoint, the MCP servers configured and the sessions directory.

Doctor is the only claw command that contacts the network by itself: it sends one HEAD request to the
base URL of the model's provider, through the configured proxy, and reports the TLS verdict.

Options:
  --json              print one JSON object instead of text
  --offline           skip the request to the API endpoint (no network access at all)
  --settings FILE|JSON  extra settings file or inline JSON, as for a run
  --cwd DIR           the project directory (default: the current directory)
  --model MODEL       check this model instead of the configured one
  -h, --help          show this help

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
    """What the checks look at. ``env`` is the effective environment (settings ``env`` applied);
    ``network`` holds settings-file values (``proxy``, ``no_proxy``, ``ca_files``, ``client_cert``,
    ``client_key``); ``loaded`` the settings loaded leniently (``load_settings(strict=False)``), loaded
    on first use when not given. ``offline`` skips the network check."""

    env: Mapping[str, str]
    argv0: str = ""
    network: Dict[str, object] = field(default_factory=dict)
    cwd: str = ""
    settings_arg: Optional[str] = None
    model_arg: Optional[str] = None
    offline: bool = False
    timeout: float = REACH_TIMEOUT
    loaded: Any = None
    load_error: Optional[str] = None

    @property
    def project_dir(self) -> str:
        return self.cwd or os.getcwd()

    def settings(self) -> Any:
        """The ``LoadedSettings`` (lenient), or None when they could not be loaded at all."""
        if self.loaded is None and self.load_error is None:
            from claw.config.loader import load_settings
            from claw.errors import ClawError

            try:
                self.loaded = load_settings(self.project_dir, self.env, self.settings_arg, strict=False)
            except ClawError as exc:
                self.load_error = exc.message
        return self.loaded


def build_context(base_env: Mapping[str, str], cwd: str, *, settings_arg: Optional[str] = None,
                  model_arg: Optional[str] = None, offline: bool = False, argv0: str = "") -> DoctorContext:
    """The context of a ``claw doctor`` run: settings loaded leniently, their ``env`` block applied to
    the environment and their ``network`` block passed to the TLS, proxy and reachability checks."""
    from claw.config.environment import effective_env

    ctx = DoctorContext(env=dict(base_env), argv0=argv0, cwd=cwd, settings_arg=settings_arg,
                        model_arg=model_arg, offline=offline)
    loaded = ctx.settings()
    if loaded is not None:
        ctx.env = effective_env(loaded.settings, base_env)
        net = loaded.settings.network
        ctx.network = {"proxy": net.proxy, "no_proxy": net.no_proxy, "ca_files": net.ca_files,
                       "client_cert": net.client_cert, "client_key": net.client_key}
    return ctx


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
        line = _vendor.describe(name)
        if line is None:
            missing.append(name)
        else:
            found.append(line)
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


# --------------------------------------------------------------------------------------------------
# Settings, credentials, model


def check_settings(ctx: DoctorContext) -> CheckResult:
    loaded = ctx.settings()
    if loaded is None:
        return CheckResult("settings", FAIL, f"the settings could not be loaded: {ctx.load_error}", (),
                           "see docs/CONFIGURATION.md")
    details = [f"loaded {s.describe()}" for s in loaded.sources]
    errors, invalid, warnings = loaded.errors, loaded.invalid_entries, loaded.warnings
    for label, problems in (("error", errors), ("invalid entry", invalid), ("warning", warnings)):
        for problem in problems:
            details.append(f"{label}: {problem.message}" + (f" (hint: {problem.hint})" if problem.hint else ""))
    files = len(loaded.sources)
    where = f"{files} settings file{'s' if files != 1 else ''}" if files else "no settings files"
    if errors:
        counts = [_plural(len(errors), "error")]
        if invalid:
            counts.append(_plural(len(invalid), "invalid entry", "invalid entries"))
        if warnings:
            counts.append(_plural(len(warnings), "warning"))
        return CheckResult("settings", FAIL, f"{', '.join(counts)} in {where}", tuple(details),
                           "fix every error listed: claw refuses to run (exit 2) while a settings file has "
                           "one; see docs/CONFIGURATION.md")
    if invalid or warnings:
        counts = []
        if invalid:
            counts.append(_plural(len(invalid), "invalid entry", "invalid entries") + " (skipped)")
        if warnings:
            counts.append(_plural(len(warnings), "warning"))
        return CheckResult("settings", WARN, f"{', '.join(counts)} in {where}", tuple(details),
                           "unknown keys are ignored and invalid entries skipped: fix or remove them "
                           "(see docs/CONFIGURATION.md)")
    summary = f"{where}, valid" if files else "no settings files (defaults apply)"
    return CheckResult("settings", OK, summary, tuple(details))


def check_folder_trust(ctx: DoctorContext) -> CheckResult:
    """Whether the project folder is trusted, why, and which project keys an untrusted one ignores."""
    from claw.config.trust import HOW_TO_TRUST, describe, state_for
    from claw.errors import ClawError

    loaded = ctx.settings()
    try:
        state = state_for(loaded, ctx.project_dir, ctx.env)
    except ClawError as exc:
        return CheckResult("folder trust", FAIL, exc.message, (), exc.hint)
    ignored = list(getattr(loaded, "ignored", ()) or ())
    details = tuple(f"ignored: {', '.join(keys)} in {name}" for name, keys in ignored)
    if state.trusted:
        return CheckResult("folder trust", OK, f"{state.folder} is {describe(state)}")
    if ignored:
        return CheckResult("folder trust", WARN, f"{state.folder} is not trusted: its settings that can run "
                           "code or redirect credentials are ignored", details, HOW_TO_TRUST)
    return CheckResult("folder trust", OK, f"{state.folder} is not trusted (nothing in its settings needs it)",
                       (), None)


def _plural(n: int, one: str, many: Optional[str] = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _resolved_model(ctx: DoctorContext) -> Tuple[Any, Any, Optional[Any]]:
    """``(choice, resolved or None, error or None)`` for the model a run would use."""
    from claw.api.client import resolve_model
    from claw.cli.status_cmd import model_choice
    from claw.errors import ClawError

    loaded = ctx.settings()
    choice = model_choice(ctx.model_arg, ctx.env, loaded)
    aliases = loaded.settings.aliases if loaded is not None else None
    try:
        return choice, resolve_model(choice.value, ctx.env, aliases=aliases), None
    except ClawError as exc:
        return choice, None, exc


def _provider(ctx: DoctorContext) -> str:
    _, resolved, _ = _resolved_model(ctx)
    return resolved.provider if resolved is not None else "anthropic"


_MISSING_HINTS = {
    "anthropic": "run `claw login`, or set ANTHROPIC_API_KEY (x-api-key) or ANTHROPIC_AUTH_TOKEN (bearer)",
    "openai": "set OPENAI_API_KEY, or point OPENAI_BASE_URL at a local OpenAI-compatible server "
              "(then no key is needed)",
    "xai": "set XAI_API_KEY, or choose another provider with --model",
}


def check_credentials(ctx: DoctorContext) -> CheckResult:
    from claw.cli.status_cmd import base_url_for, describe_credentials

    provider = _provider(ctx)
    creds = describe_credentials(provider, ctx.settings(), ctx.env, ctx.project_dir, base_url_for(provider, ctx.env))
    details: List[str] = []
    status, hints = OK, []
    auth = creds.auth
    if auth is not None:
        if auth.method == "oauth" and auth.oauth_expires_at:
            from datetime import datetime, timezone

            when = datetime.fromtimestamp(auth.oauth_expires_at / 1000, timezone.utc)
            details.append(f"saved login expires {when:%Y-%m-%d %H:%M} UTC"
                           + (f", account {auth.oauth_account}" if auth.oauth_account else ""))
        if auth.unused:
            details.append("present but not used (lower precedence): " + ", ".join(auth.unused))
        details.append(f"credentials file: {auth.credentials_path}")
    for problem in creds.problems:
        status = WARN
        details.append(f"problem: {problem}")
        hints.append("fix or remove the credentials file, or sign in again with `claw login`")
    if creds.insecure_file:
        status = WARN
        hints.append(f"{creds.insecure_file} is readable or writable by other users: chmod 600 it")
    if not creds.usable:
        return CheckResult("credentials", FAIL, f"{provider}: {creds.summary}", tuple(details),
                           _MISSING_HINTS.get(provider, "set the provider's API key"))
    if auth is not None and auth.method == "oauth" and auth.oauth_expired:
        status = WARN
        hints.insert(0, "the saved login has expired: it is refreshed on the next request; if that fails, "
                        "run `claw login`" if auth.oauth_refreshable else
                     "the saved login has expired and cannot be refreshed: run `claw login`")
    return CheckResult("credentials", status, f"{provider}: {creds.summary}", tuple(details),
                       "; ".join(hints) or None)


def check_model(ctx: DoctorContext) -> CheckResult:
    choice, resolved, error = _resolved_model(ctx)
    chosen = f"chosen by: {choice.value + ' from ' if choice.value else ''}{choice.source}"
    if resolved is None:
        return CheckResult("model", FAIL, f"{choice.value!r} cannot be used: {error.message}", (chosen,),
                           error.hint or "use an alias (opus, sonnet, haiku) or provider/model")
    info = resolved.info
    name = resolved.qualified + (f" ({info.display_name})" if info.display_name != resolved.model else "")
    details = [chosen]
    if info.known and info.context_window:
        details.append(f"max output {info.max_output_tokens:,} tokens; claw asks for {info.default_max_tokens:,}")
        if info.pricing is None:
            details.append("price unknown: cost is reported as unknown")
        return CheckResult("model", OK, f"{name}: {info.context_window:,}-token context window", tuple(details))
    details.append("context window unknown: the local size check is skipped and the provider decides")
    if info.pricing is None:
        details.append("price unknown: cost is reported as unknown, never as 0")
    return CheckResult("model", WARN, f"{name}: not in claw's model list", tuple(details),
                       "check the spelling if this is not a custom or gateway model; aliases: opus, sonnet, haiku")


# --------------------------------------------------------------------------------------------------
# Reachability (the one check that uses the network)


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

    provider = _provider(ctx)
    base = base_url_for(provider, ctx.env)
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


# --------------------------------------------------------------------------------------------------
# MCP servers, sessions directory


def check_mcp(ctx: DoctorContext) -> CheckResult:
    from claw.errors import ClawError
    from claw.mcp.config import load_mcp_config

    try:
        config = load_mcp_config(ctx.project_dir, ctx.env, loaded=ctx.settings(), settings_arg=ctx.settings_arg)
    except ClawError as exc:
        return CheckResult("mcp servers", FAIL, exc.message, (), exc.hint)
    entries = list(config.servers.values())
    bad = [e for e in entries if e.error]
    details = []
    for e in entries:
        if e.error:
            details.append(f"{e.name}: invalid: {e.error}")
        else:
            details.append(f"{e.name}: {e.transport} {e.target} ({e.scope}: {e.source})")
    details.extend(f"warning: {w}" for w in config.warnings)
    if config.sdk_servers:
        details.append("left to the embedding SDK host: " + ", ".join(config.sdk_servers))
    if not entries:
        status = WARN if config.warnings else OK
        return CheckResult("mcp servers", status, "none configured", tuple(details),
                           "fix .mcp.json (see docs/CONFIGURATION.md)" if config.warnings else None)
    summary = f"{len(entries)} configured (not connected by doctor): " + ", ".join(e.name for e in entries)
    if bad:
        summary += f"; {len(bad)} invalid"
    if bad or config.warnings:
        hint = next((e.hint for e in bad if e.hint), None) or \
            "fix or remove the invalid entries: the other servers still start"
        return CheckResult("mcp servers", WARN, summary, tuple(details), hint)
    return CheckResult("mcp servers", OK, summary, tuple(details))


def check_sessions_dir(ctx: DoctorContext) -> CheckResult:
    """Create (then remove) a temporary file in ./.claw/sessions, creating and removing the missing
    directories on the way, so nothing is left behind."""
    import tempfile

    from claw.runtime.session_store import SESSIONS_SUBDIR, SUFFIX

    directory = os.path.join(ctx.project_dir, SESSIONS_SUBDIR)
    existed = os.path.isdir(directory)
    created: List[str] = []
    try:
        missing = []
        path = directory
        while not os.path.exists(path):
            missing.append(path)
            path = os.path.dirname(path)
        for path in reversed(missing):
            os.mkdir(path, 0o700)
            created.append(path)
        fd, tmp = tempfile.mkstemp(prefix=".claw-doctor-", dir=directory)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        return CheckResult("sessions", FAIL, f"cannot write to {directory}: {exc.strerror or exc}", (),
                           "sessions are saved in ./.claw/sessions of the project: make it writable, or run "
                           "claw in (or with --cwd) a writable project directory")
    finally:
        for path in reversed(created):
            try:
                os.rmdir(path)
            except OSError:
                pass
    if not existed:
        return CheckResult("sessions", OK, f"{directory} can be created (no session saved here yet)")
    count = sum(1 for n in os.listdir(directory) if n.endswith(SUFFIX))
    return CheckResult("sessions", OK, f"{directory} is writable ({_plural(count, 'session')})")


CHECKS: List[Check] = [check_python, check_install, check_dependencies, check_settings, check_folder_trust,
                       check_credentials, check_model, check_tls, check_proxy, check_reachability, check_mcp, check_sessions_dir]


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


_VALUE_FLAGS = ("--settings", "--cwd", "--model")


def run(argv: List[str], *, env: Optional[Mapping[str, str]] = None) -> int:
    as_json = offline = False
    values: Dict[str, str] = {}
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, inline = arg.partition("=")
        if arg in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        if arg == "--json":
            as_json = True
        elif arg == "--offline":
            offline = True
        elif name in _VALUE_FLAGS:
            if eq:
                values[name] = inline
            elif i + 1 < len(args):
                i += 1
                values[name] = args[i]
            else:
                sys.stderr.write(f"claw doctor: {name} needs a value\nhint: run 'claw doctor --help'\n")
                return 2
        else:
            sys.stderr.write(f"claw doctor: unknown argument {arg!r}\nhint: run 'claw doctor --help'\n")
            return 2
        i += 1
    cwd = os.getcwd()
    if "--cwd" in values:
        cwd = os.path.abspath(os.path.expanduser(values["--cwd"]))
        if not os.path.isdir(cwd):
            sys.stderr.write(f"claw doctor: --cwd {values['--cwd']!r} is not a directory\n")
            return 2
    ctx = build_context(os.environ if env is None else env, cwd, settings_arg=values.get("--settings"),
                        model_arg=values.get("--model"), offline=offline,
                        argv0=sys.argv[0] if sys.argv else "")
    results = run_checks(ctx)
    sys.stdout.write(render_json(results) if as_json else render_text(results))
    return exit_code(results)
