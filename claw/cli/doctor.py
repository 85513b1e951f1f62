"""``claw doctor``: check the installation, settings, credentials, TLS trust, proxy routing and the
API endpoint, and say how to fix problems.

Each check is a function ``(DoctorContext) -> CheckResult`` (claw.cli.doctor_context) listed in
``CHECKS``; the network ones (TLS, proxy, reachability) are in claw.cli.doctor_network; a check reports a
status (``ok``, ``warn``, ``fail``), a one-line summary, detail lines and a fix hint. The checks:
Python, the install, vendored dependencies, settings files (every problem, with file, line and key),
credentials (which source; an expired login warns), the model (known? its context window), TLS trust
sources, the proxy for ANTHROPIC_BASE_URL, reachability of the provider's base URL, MCP servers
configured (not connected), the enabled plugins (each loads, or why not), whether the sessions
directory is writable, whether a bash sandbox can be made (claw.tools.sandbox runs bwrap once), and
the remote-control environment when one is connected (claw.cli.doctor_remote). The exit code is 0 when
every check passes or only warns, 1 when one fails; ``--json`` prints one JSON object.

Doctor is the only claw command that contacts the network by itself: the reachability check sends one
HEAD request to the base URL's root through the configured proxy, with a short timeout, and reports
the TLS verdict. ``--offline`` skips it; nothing else here opens a connection. Doctor never prints
secrets: proxy URLs are redacted, credentials are named by their source only.
"""

from __future__ import annotations

import os
import sys
from typing import Dict, List, Mapping, Optional, Tuple

from claw.cli.doctor_context import (
    FAIL,
    OK,
    WARN,
    Check,
    CheckResult,
    DoctorContext,
    build_context,
    provider_name,
    resolved_model,
)
from claw.cli.doctor_network import check_proxy, check_reachability, check_tls
from claw.cli.doctor_remote import check_remote_control

_RANK = {OK: 0, WARN: 1, FAIL: 2}

USAGE = """\
Usage: claw doctor [--json] [--offline] [--settings FILE|JSON] [--cwd DIR] [--model MODEL]

Check the Python interpreter, the claw installation, the settings files (every problem at once), the
credentials in use (never printed), the model, TLS trust sources (with certificate counts), the proxy
route, the API endpoint, the MCP servers configured, the enabled plugins, the sessions directory and
the bash sandbox; when this project is connected to a remote-control environment, that environment
(its credential source, its API reachable).

Doctor is the only claw command that contacts the network by itself: it sends one HEAD request to the
base URL of the model's provider (and of the remote-control API when connected), through the configured
proxy, and reports the TLS verdict.

Options:
  --json              print one JSON object instead of text
  --offline           skip the request to the API endpoint (no network access at all)
  --settings FILE|JSON  extra settings file or inline JSON, as for a run
  --cwd DIR           the project directory (default: the current directory)
  --model MODEL       check this model instead of the configured one
  -h, --help          show this help

Exit status: 0 when every check passes or only warns, 1 when a check fails, 2 on bad usage.
"""


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
    details = [f"running from: {kind}"]
    if kind == "pyz":
        details.append("bytecode cache: " + bytecode_cache_state())
    return CheckResult("install", OK, summary, tuple(details))


def bytecode_cache_state() -> str:
    """Where claw.pyz's per-user bytecode cache is (claw/_pyz/cache.py) and whether this run used it."""
    from claw._pyz import cache
    from claw._pyz.importer import ClawImporter

    reader = ClawImporter._pack
    if reader is None:
        used = "not used by this run (its sources are compiled: no bytecode for this Python, or turned off)"
    else:
        used = "used by this run" if reader.from_file else "not used by this run (inflated in memory)"
    return f"{cache.describe('cp%d%d' % sys.version_info[:2])}; {used}"


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


_MISSING_HINTS = {
    "anthropic": "run `claw login`, or set ANTHROPIC_API_KEY (x-api-key) or ANTHROPIC_AUTH_TOKEN (bearer)",
    "openai": "set OPENAI_API_KEY, or point OPENAI_BASE_URL at a local OpenAI-compatible server "
              "(then no key is needed)",
    "xai": "set XAI_API_KEY, or choose another provider with --model",
}


def check_credentials(ctx: DoctorContext) -> CheckResult:
    from claw.cli.status_cmd import base_url_for, describe_credentials

    provider = provider_name(ctx)
    if provider == "bedrock":  # AWS credentials: fetched for real, source and expiry reported
        from claw.cli.bedrock_status import check_bedrock_credentials

        return check_bedrock_credentials(ctx)
    if provider == "vertex":
        from claw.cli.vertex_checks import check_vertex_credentials

        return check_vertex_credentials(ctx)
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
    choice, resolved, error = resolved_model(ctx)
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
# MCP servers, sessions directory


def check_mcp(ctx: DoctorContext) -> CheckResult:
    from claw.errors import ClawError
    from claw.mcp.config import load_mcp_config

    try:
        loaded = ctx.settings()
        config = load_mcp_config(ctx.project_dir, ctx.env, loaded=loaded, settings_arg=ctx.settings_arg)
        if loaded is not None and loaded.settings.enabled_plugins:  # their problems: check_plugins
            from claw.runtime.plugin_loader import add_enabled_servers

            add_enabled_servers(config, loaded, dict(ctx.env), ctx.project_dir)
    except ClawError as exc:
        return CheckResult("mcp servers", FAIL, exc.message, (), exc.hint)
    entries = list(config.servers.values())
    bad = [e for e in entries if e.error]
    details = []
    for e in entries:
        if e.error:
            details.append(f"{e.name}: invalid: {e.error}")
        else:
            details.append(f"{e.name}: {e.transport} {e.target} ({e.origin})")
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


def check_plugins(ctx: DoctorContext) -> CheckResult:
    """The plugins ``enabledPlugins`` turns on: each loads, or why not (a run goes on without it)."""
    loaded = ctx.settings()
    if loaded is None or not loaded.settings.enabled_plugins:
        return CheckResult("plugins", OK, "none enabled")
    from claw.runtime.plugin_loader import load_plugins, sources_for

    problems: List[str] = []
    plugins = load_plugins(sources_for((), loaded, dict(ctx.env), ctx.project_dir, problems))
    details = [f"{p.source.key or p.manifest.name}: {p.manifest.version or '?'} ({p.manifest.root})"
               for p in plugins.loaded] + [e.text() for e in plugins.errors] + [f"warning: {w}" for w in problems]
    summary = f"{len(plugins.loaded)} loaded" + (f", {len(plugins.errors)} cannot be loaded" if plugins.errors else "")
    if plugins.errors or problems:
        return CheckResult("plugins", WARN, summary, tuple(details), "check a plugin with 'claw plugin validate "
                           "PATH', or turn it off with 'claw plugin disable NAME'; runs go on without it")
    return CheckResult("plugins", OK, summary, tuple(details))


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


def check_sandbox(ctx: DoctorContext) -> CheckResult:
    """Whether a bash sandbox can be made here (a real bwrap run: claw.tools.sandbox) and whether the
    settings enable it. Unavailable fails only when the settings require it (``failIfUnavailable``)."""
    from claw.tools.sandbox import HINT, SandboxSettings, probe

    loaded = ctx.settings()
    box = SandboxSettings.parse(loaded.settings.raw.get("sandbox") if loaded is not None else None)
    state = "enabled" if box.enabled else "not enabled (settings sandbox.enabled)"
    bwrap, why = probe(ctx.env)
    if bwrap is not None:
        return CheckResult("sandbox", OK, f"{why}, {state}", (bwrap,))
    status = (FAIL if box.fail_if_unavailable else WARN) if box.enabled else OK
    return CheckResult("sandbox", status, f"no sandbox available: {why}; {state}", (), HINT)


CHECKS: List[Check] = [check_python, check_install, check_dependencies, check_settings, check_folder_trust,
                       check_credentials, check_model, check_tls, check_proxy, check_reachability, check_mcp, check_plugins,
                       check_sessions_dir, check_sandbox,
                       check_remote_control]  # the last only when .claw/remote.json exists


# --------------------------------------------------------------------------------------------------
# Running and rendering


def run_checks(ctx: DoctorContext, checks: Optional[List[Check]] = None) -> List[CheckResult]:
    """Run every check; a check that crashes is reported as failed, never raised; one that returns
    None does not apply here."""
    results = []
    for check in CHECKS if checks is None else checks:
        name = getattr(check, "__name__", "check").replace("check_", "").replace("_", " ")
        try:
            result = check(ctx)
            if result is not None:
                results.append(result)
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
