"""``claw status``: what a run started here would use, and where each choice came from.

Reports, without any network access and without needing credentials: the model (resolved to
``provider/model``, and whether ``--model``, ``CLAW_MODEL``, ``ANTHROPIC_MODEL``, a settings file or
the default chose it), the permission mode and its origin, the credentials source (never a secret),
the base URL and the proxy route to it, prompt caching and the extra request headers (credential-looking
values redacted), the settings files loaded in precedence order with the file
that won each top-level key, the MCP servers configured (not connected), and the session that
``--continue`` would resume. ``--json`` prints the same as one object.

The helpers that answer "which model, from where", "which base URL" and "which credentials" are
shared with ``claw doctor``. Settings errors exit 2 with the usual configuration-error rendering;
everything else is reported, not raised.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import IO, Any, Dict, List, Mapping, Optional, Tuple

from claw.errors import ClawError, UsageError

DEFAULT_PERMISSION_MODE = "danger-full-access"  # claw.runtime.run.DEFAULT_MODE (fresh sessions)

DESCRIPTION = """\
Show what a claw run started here would use: the model, the permission mode, the credentials
source, the base URL and its proxy route, the settings files (and which file won each key), the MCP
servers configured, and the session --continue would resume. Makes no network access and needs no
credentials; secrets are never shown.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"claw status: {message}", hint="run 'claw status --help'")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="claw status", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--model", metavar="MODEL", help="the model a run would be given with --model")
    p.add_argument("--permission-mode", metavar="MODE", help="the mode a run would be given")
    p.add_argument("--settings", metavar="FILE|JSON", help="extra settings file or inline JSON (highest precedence)")
    p.add_argument("--cwd", metavar="DIR", help="project directory (default: the current directory)")
    return p


# --------------------------------------------------------------------------------------------------
# Shared with claw doctor


@dataclass(frozen=True)
class Choice:
    """A value and where it came from (``--model``, ``CLAW_MODEL``, ``settings (project: FILE)``...)."""

    value: Optional[str]
    source: str


def _settings_origin(loaded: Any, key: Tuple[str, ...]) -> Optional[str]:
    """``FILE (scope)`` of the settings source whose value of ``key`` is in effect, or None."""
    origin = loaded.origin(key) if loaded is not None else None
    return f"{origin.name} ({origin.scope})" if origin is not None else None


def _env_source(name: str, loaded: Any) -> str:
    """``NAME``, or ``NAME, set by env in FILE (scope)`` when the settings ``env`` block set it."""
    where = _settings_origin(loaded, ("env", name))
    return f"{name}, set by env in {where}" if where else name


def model_choice(model_arg: Optional[str], env: Mapping[str, str], loaded: Any) -> Choice:
    """The model name a run would start with, in claw.runtime.run's order: ``--model``, ``CLAW_MODEL``,
    ``ANTHROPIC_MODEL`` (from the effective environment), settings ``model``, then the default."""
    if model_arg:
        return Choice(model_arg, "--model")
    for name in ("CLAW_MODEL", "ANTHROPIC_MODEL"):
        if env.get(name):
            return Choice(env[name], _env_source(name, loaded))
    settings = getattr(loaded, "settings", None)
    if settings is not None and settings.model:
        return Choice(settings.model, f"settings key model in {_settings_origin(loaded, ('model',)) or '?'}")
    from claw.api.registry import DEFAULT_MODEL

    return Choice(None, f"default ({DEFAULT_MODEL})")


def permission_choice(mode_arg: Optional[str], loaded: Any) -> Choice:
    settings = getattr(loaded, "settings", None)
    if mode_arg:
        return Choice(mode_arg, "--permission-mode")
    if settings is not None and settings.permissions.default_mode:
        where = _settings_origin(loaded, ("permissions", "defaultMode")) or "?"
        return Choice(settings.permissions.default_mode, f"settings key permissions.defaultMode in {where}")
    return Choice(DEFAULT_PERMISSION_MODE, "default for fresh sessions")


@dataclass(frozen=True)
class BaseUrl:
    """The endpoint a provider's requests go to. ``url`` is None when it cannot be used (``error``)."""

    provider: str
    url: Optional[str]
    source: str  # "ANTHROPIC_BASE_URL", "default", ...
    error: Optional[str] = None
    hint: Optional[str] = None


_BASE_VARIABLES = {"anthropic": "ANTHROPIC_BASE_URL", "openai": "OPENAI_BASE_URL", "xai": "XAI_BASE_URL",
                   "local": "OPENAI_BASE_URL"}


def base_url_for(provider: str, env: Mapping[str, str], model: Optional[str] = None) -> BaseUrl:
    """The base URL of ``provider`` as claw.api.client chooses it (checked, never connected to);
    ``model`` matters to Vertex AI (a per-model region)."""
    from claw.errors import ConfigError

    if provider == "bedrock":
        from claw.cli.bedrock_status import bedrock_base_url

        return bedrock_base_url(env)
    if provider == "vertex":
        from claw.cli.vertex_checks import vertex_base

        return vertex_base(env, model)

    if provider == "ollama":
        from claw.api.client import ollama_base_url

        host = (env.get("OLLAMA_HOST") or "").strip()
        try:
            return BaseUrl(provider, ollama_base_url(host), "OLLAMA_HOST" if host else "default (OLLAMA_HOST unset)")
        except ConfigError as exc:
            return BaseUrl(provider, None, "OLLAMA_HOST", exc.message, exc.hint)
    variable = _BASE_VARIABLES.get(provider, "ANTHROPIC_BASE_URL")
    raw = (env.get(variable) or "").strip()
    if not raw:
        if provider == "local":
            return BaseUrl(provider, None, variable, f"{variable} is not set: local/ models need the address "
                           "of the OpenAI-compatible server", "e.g. OPENAI_BASE_URL=http://127.0.0.1:8000/v1")
        from claw.api.anthropic import DEFAULT_BASE_URL
        from claw.api.openai_compat import OPENAI_BASE_URL, XAI_BASE_URL

        default = {"openai": OPENAI_BASE_URL, "xai": XAI_BASE_URL}.get(provider, DEFAULT_BASE_URL)
        return BaseUrl(provider, default, "default")
    from claw.net.url import parse_url

    url = raw.rstrip("/")
    hint = f"set {variable} to e.g. https://host[:port][/path]"
    try:
        parsed = parse_url(url)
    except ValueError as exc:
        return BaseUrl(provider, None, variable, f"{variable} is not a usable URL: {exc}", hint)
    if parsed.scheme not in ("http", "https"):
        return BaseUrl(provider, None, variable,
                       f"{variable} must be an http:// or https:// URL, not {parsed.scheme}://", hint)
    return BaseUrl(provider, url, variable)


def proxy_route(url: Optional[str], net_config: Any) -> str:
    """How requests to ``url`` travel: ``direct``, ``direct (NO_PROXY match: x)`` or the redacted proxy."""
    if url is None or net_config is None:
        return "unknown"
    from claw.net.url import parse_url

    return net_config.proxies.route(parse_url(url)).describe()


@dataclass(frozen=True)
class Credentials:
    """What requests to a provider would authenticate with. Holds no secret."""

    provider: str
    method: str  # api_key | auth_token | api_key+auth_token | oauth | bearer | sigv4 | not_needed | none
    summary: str  # one line for people
    usable: bool  # False: a run would fail with missing_credentials
    auth: Any = None  # claw.auth.sources.AuthStatus for anthropic
    problems: Tuple[str, ...] = ()
    insecure_file: Optional[str] = None  # credentials.json readable by others

    def to_json(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {"provider": self.provider, "method": self.method, "summary": self.summary,
                                "usable": self.usable}
        if self.auth is not None:
            data["anthropic"] = self.auth.to_json()
        if self.problems:
            data["problems"] = list(self.problems)
        return data


_ANTHROPIC_METHODS = {
    "api_key": "x-api-key",
    "auth_token": "Authorization: Bearer",
    "api_key+auth_token": "x-api-key and Authorization: Bearer",
    "oauth": "the saved claw login (OAuth)",
}


def describe_credentials(provider: str, loaded: Any, env: Mapping[str, str], cwd: str,
                         base: Optional[BaseUrl] = None, now_ms: Optional[int] = None) -> Credentials:
    """Which credentials requests to ``provider`` would use (no helper run, no network)."""
    if provider == "bedrock":
        from claw.cli.bedrock_status import describe_bedrock_credentials

        return describe_bedrock_credentials(env)
    if provider == "vertex":
        from claw.cli.vertex_checks import vertex_credentials

        return vertex_credentials(env)
    if provider == "anthropic":
        from claw.auth.credentials import CredentialStore
        from claw.auth.sources import describe_anthropic_auth

        store = CredentialStore.for_env(env, cwd)
        origin = loaded.origin(("apiKeyHelper",)) if loaded is not None else None
        status = describe_anthropic_auth(getattr(loaded, "settings", None), env, cwd=cwd, store=store,
                                         helper_origin=origin.name if origin else None, now_ms=now_ms)
        insecure = store.path if store.insecure() else None
        if not status.authenticated:
            return Credentials(provider, "none", "none: no ANTHROPIC_API_KEY, apiKeyHelper, ANTHROPIC_AUTH_TOKEN "
                               "or saved login", False, status, status.problems, insecure)
        names = {"apiKeyHelper": "apiKeyHelper" + (f" (set in {status.helper_origin})" if status.helper_origin else ""),
                 "saved login": f"saved login in {status.credentials_path}"}
        summary = f"{_ANTHROPIC_METHODS[status.method]} from " + ", ".join(names.get(s, s) for s in status.sources)
        if status.method == "oauth" and status.oauth_expired:
            summary += (" (expired: refreshed on the next request)" if status.oauth_refreshable
                        else " (expired, cannot be refreshed: run `claw login`)")
        return Credentials(provider, status.method, summary, True, status, status.problems, insecure)
    variable = {"openai": "OPENAI_API_KEY", "local": "OPENAI_API_KEY", "xai": "XAI_API_KEY",
                "ollama": "OLLAMA_API_KEY"}.get(provider, "OPENAI_API_KEY")
    if (env.get(variable) or "").strip():
        return Credentials(provider, "bearer", f"Authorization: Bearer from {variable}", True)
    required = provider == "xai"
    if provider == "openai":
        from claw.api.openai_compat import OPENAI_BASE_URL

        required = base is None or base.url is None or base.url.rstrip("/") == OPENAI_BASE_URL
    if required:
        return Credentials(provider, "none", f"none: {variable} is not set", False)
    return Credentials(provider, "not_needed", f"none needed ({provider} server at a custom address; "
                       f"{variable} is sent when set)" if provider != "ollama" else "none needed (Ollama)", True)


# --------------------------------------------------------------------------------------------------
# The report


@dataclass
class StatusReport:
    """What ``claw status`` shows: each setting a run here would use and where it comes from."""

    cwd: str
    model: Choice
    resolved: Any = None  # claw.api.client.ResolvedModel, None when the name is malformed
    model_error: Optional[str] = None
    permission: Optional[Choice] = None
    permission_mode: Optional[str] = None  # canonical name, None when unknown
    permission_error: Optional[str] = None
    credentials: Optional[Credentials] = None
    base: Optional[BaseUrl] = None
    route: str = "unknown"
    route_error: Optional[str] = None
    requests: Any = None  # claw.api.client.ApiSettings: prompt caching, extra headers, betas
    requests_error: Optional[str] = None
    sources: List[Any] = field(default_factory=list)  # SettingsSource, lowest precedence first
    key_origins: Dict[str, Tuple[Any, ...]] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)
    mcp_servers: List[Any] = field(default_factory=list)  # claw.mcp.config.ServerEntry
    mcp_warnings: List[str] = field(default_factory=list)
    session: Any = None  # claw.runtime.session_summary.SessionSummary
    sessions_dir: str = ""
    trust: Any = None  # claw.config.trust.TrustState
    trust_error: Optional[str] = None
    trust_ignored: List[Tuple[str, Tuple[str, ...]]] = field(default_factory=list)  # (file, keys)

    def _requests_json(self) -> Dict[str, Any]:
        """Prompt caching and extra headers of model requests; header values that look like
        credentials redacted."""
        from claw.api.request_headers import describe

        api = self.requests
        anthropic = self.resolved is None or self.resolved.provider in ("anthropic", "vertex")  # Messages API
        headers = (api.anthropic_headers if anthropic else api.common_headers) if api is not None else ()
        return {
            "prompt_caching": (api.prompt_caching and anthropic) if api is not None else None,
            "headers": describe(headers),
            "betas": list(api.betas) if api is not None and anthropic else [],
            "error": self.requests_error,
        }

    def to_json(self) -> Dict[str, Any]:
        from claw import __version__

        info = self.resolved.info if self.resolved is not None else None
        return {
            "type": "status",
            "claw_version": __version__,
            "cwd": self.cwd,
            "model": {
                "requested": self.model.value or (self.resolved.requested if self.resolved else None),
                "source": self.model.source,
                "qualified": self.resolved.qualified if self.resolved else None,
                "provider": self.resolved.provider if self.resolved else None,
                "model": self.resolved.model if self.resolved else None,
                "display_name": info.display_name if info else None,
                "known": info.known if info else None,
                "context_window": info.context_window if info else None,
                "error": self.model_error,
            },
            "permission_mode": {
                "mode": self.permission_mode,
                "requested": self.permission.value if self.permission else None,
                "source": self.permission.source if self.permission else None,
                "error": self.permission_error,
            },
            "credentials": self.credentials.to_json() if self.credentials else None,
            "base_url": {
                "url": self.base.url if self.base else None,
                "source": self.base.source if self.base else None,
                "error": self.base.error if self.base else None,
                "route": self.route,
                "route_error": self.route_error,
            },
            "requests": self._requests_json(),
            "settings": {
                "files": [{"scope": s.scope, "path": s.name, "family": s.family} for s in self.sources],
                "keys": {
                    key: {"scope": found[-1].scope, "file": found[-1].name,
                          "contributors": [{"scope": s.scope, "file": s.name} for s in found]}
                    for key, found in self.key_origins.items() if found
                },
                "warnings": list(self.warnings),
            },
            "mcp_servers": [
                {"name": e.name, "transport": e.transport, "scope": e.scope, "source": e.source,
                 "error": e.error}
                for e in self.mcp_servers
            ],
            "mcp_warnings": list(self.mcp_warnings),
            "folder_trust": {
                "trusted": None if self.trust is None else self.trust.trusted,
                "how": None if self.trust is None else self.trust.how,
                "reason": self.trust_error if self.trust is None else self.trust.reason,
                "ignored": [{"file": name, "keys": list(keys)} for name, keys in self.trust_ignored],
            },
            "continue_session": None if self.session is None else {
                "id": self.session.session_id,
                "title": self.session.title,
                "updated": iso_utc(self.session.updated),
                "messages": self.session.message_count,
                "path": str(self.session.path),
            },
            "sessions_dir": self.sessions_dir,
        }


def iso_utc(epoch: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def local_time(epoch: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))


def collect_status(cwd: str, base_env: Mapping[str, str], *, settings_arg: Optional[str] = None,
                   model_arg: Optional[str] = None, permission_mode_arg: Optional[str] = None) -> StatusReport:
    """Everything ``claw status`` shows. Raises ``ConfigError`` for a settings error (exit 2)."""
    from claw.config.environment import effective_env, network_config
    from claw.config.loader import load_settings
    from claw.runtime.session_store import SessionStore

    loaded = load_settings(cwd, base_env, settings_arg)
    env = effective_env(loaded.settings, base_env)
    report = StatusReport(cwd=cwd, model=model_choice(model_arg, env, loaded))
    report.sources = list(loaded.sources)
    report.key_origins = loaded.top_level_origins()
    report.warnings = [p.message for p in loaded.problems]
    from claw.config.trust import state_for

    try:
        report.trust = state_for(loaded, cwd, base_env)
    except ClawError as exc:
        report.trust_error = exc.message
    report.trust_ignored = list(loaded.ignored)

    from claw.api.client import resolve_model

    try:
        report.resolved = resolve_model(report.model.value, env, aliases=loaded.settings.aliases)
    except ClawError as exc:
        if model_arg:  # a bad flag given to this command is a usage error, as it is for a run
            raise
        report.model_error = exc.message
    provider = report.resolved.provider if report.resolved is not None else "anthropic"

    report.permission = permission_choice(permission_mode_arg, loaded)
    from claw.runtime.permissions import parse_permission_mode

    try:
        mode = parse_permission_mode(report.permission.value or DEFAULT_PERMISSION_MODE,
                                     source=report.permission.source)
        report.permission_mode = mode.value
    except ClawError as exc:
        if permission_mode_arg:
            raise
        report.permission_error = exc.message

    report.base = base_url_for(provider, env, report.resolved.model if report.resolved is not None else None)
    report.credentials = describe_credentials(provider, loaded, env, cwd, report.base)
    try:
        report.route = proxy_route(report.base.url, network_config(loaded.settings, env))
    except ClawError as exc:
        report.route_error = exc.message

    from claw.api.client import ApiSettings

    try:
        report.requests = ApiSettings.from_env(env, prompt_caching=loaded.settings.prompt_caching,
                                               custom_headers=loaded.settings.custom_headers)
    except ClawError as exc:
        report.requests_error = exc.message

    from claw.mcp.config import load_mcp_config

    mcp = load_mcp_config(cwd, env, loaded=loaded)
    report.mcp_servers = list(mcp.servers.values())
    report.mcp_warnings = list(mcp.warnings)

    store = SessionStore(cwd)
    report.sessions_dir = str(store.directory)
    rows = store.list()
    report.session = rows[0] if rows else None
    return report


def render_text(report: StatusReport) -> str:
    from claw import __version__

    lines = [f"claw status ({__version__})", f"  working dir:      {report.cwd}"]
    if report.resolved is not None:
        info = report.resolved.info
        facts = [info.display_name] if info.display_name != report.resolved.model else []
        if info.context_window:
            facts.append(f"{info.context_window:,}-token context window")
        elif not info.known:
            facts.append("not in claw's model list: context window unknown")
        extra = f" ({', '.join(facts)})" if facts else ""
        lines.append(f"  model:            {report.resolved.qualified}{extra}")
    else:
        lines.append(f"  model:            {report.model.value!r} cannot be used: {report.model_error}")
    requested = f"{report.model.value} from " if report.model.value else ""
    lines.append(f"                    chosen by: {requested}{report.model.source}")
    if report.permission is not None:
        if report.permission_mode is None:
            shown = f"{report.permission.value!r} is invalid: {report.permission_error}"
        elif report.permission.value != report.permission_mode:
            shown = f"{report.permission_mode} (written {report.permission.value})"
        else:
            shown = report.permission_mode
        lines.append(f"  permission mode:  {shown}")
        lines.append(f"                    chosen by: {report.permission.source}")
    if report.credentials is not None:
        lines.append(f"  credentials:      {report.credentials.summary}")
        for problem in report.credentials.problems:
            lines.append(f"                    problem: {problem}")
    if report.base is not None:
        if report.base.url is None:
            lines.append(f"  base URL:         unusable: {report.base.error}")
        else:
            lines.append(f"  base URL:         {report.base.url} ({report.base.source})")
            route = report.route if report.route_error is None else f"unknown: {report.route_error}"
            lines.append(f"  route:            {route}")
    requests = report.to_json()["requests"]
    if requests["error"]:
        lines.append(f"  extra headers:    unusable: {requests['error']}")
    else:
        if requests["prompt_caching"] is not None:
            lines.append(f"  prompt caching:   {'on' if requests['prompt_caching'] else 'off'}")
        if requests["headers"] or requests["betas"]:
            shown = requests["headers"] + ([f"anthropic-beta: {','.join(requests['betas'])}"]
                                           if requests["betas"] else [])
            lines.append(f"  extra headers:    {'; '.join(shown)}")
    from claw.config.trust import HOW_TO_TRUST, describe

    shown = report.trust_error if report.trust is None else describe(report.trust)
    lines.append(f"  folder trust:     {shown}")
    for name, keys in report.trust_ignored:
        lines.append(f"                    ignored here: {', '.join(keys)} in {name}")
    if report.trust is not None and not report.trust.trusted:
        lines.append(f"                    to trust it: {HOW_TO_TRUST}")
    if report.sources:
        lines.append("  settings files (lowest precedence first; later wins):")
        width = max(len(s.label) for s in report.sources)
        lines.extend(f"    {s.label.ljust(width)}  {s.name}" for s in report.sources)
    else:
        lines.append("  settings files:   none (claw config path lists where claw looks)")
    keyed = [(k, found) for k, found in report.key_origins.items() if found]
    if keyed:
        lines.append("  keys, and the file whose value is in effect:")
        width = max(len(k) for k, _ in keyed)
        for key, found in keyed:
            winner = found[-1]
            others = [s.label for s in found[:-1]]
            merged = f" (merged with {', '.join(others)})" if others else ""
            if key == "model" and not report.model.source.startswith("settings"):
                merged += f" (not in effect: {report.model.source.split(',')[0]} wins)"
            lines.append(f"    {key.ljust(width)}  {winner.label}: {winner.name}{merged}")
    if report.mcp_servers:
        lines.append(f"  MCP servers ({len(report.mcp_servers)}, not connected by this command):")
        width = max(len(e.name) for e in report.mcp_servers)
        for entry in report.mcp_servers:
            state = f"invalid: {entry.error}" if entry.error else entry.target
            lines.append(f"    {entry.name.ljust(width)}  {entry.transport:<5} {state}  [{entry.scope}]")
    else:
        lines.append("  MCP servers:      none configured")
    for warning in report.mcp_warnings:
        lines.append(f"                    warning: {warning}")
    if report.session is not None:
        s = report.session
        title = f" \"{s.title}\"" if s.title else ""
        lines.append(f"  --continue:       {s.session_id}{title}")
        lines.append(f"                    updated {local_time(s.updated)}, {s.message_count} messages")
    else:
        lines.append(f"  --continue:       no session yet in {report.sessions_dir}")
    return "\n".join(lines) + "\n"


def run(argv: List[str], *, env: Optional[Mapping[str, str]] = None, stdout: Optional[IO[str]] = None,
        stderr: Optional[IO[str]] = None) -> int:
    """Entry point of ``claw status``."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    base_env = dict(os.environ if env is None else env)
    as_json = "--json" in argv
    try:
        args = _parser().parse_args(list(argv))
        cwd = _project_dir(args.cwd)
        report = collect_status(cwd, base_env, settings_arg=args.settings, model_arg=args.model,
                                permission_mode_arg=args.permission_mode)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except ClawError as exc:
        if as_json:
            import json

            out.write(json.dumps({"type": "status", "error": exc.to_dict()}) + "\n")
        else:
            from claw.cli.errors import render_error

            err.write(render_error(exc) + "\n")
        return exc.exit_code
    if as_json:
        import json

        out.write(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
        return 0
    for warning in report.warnings:
        err.write(f"claw: warning: {warning}\n")
    out.write(render_text(report))
    return 0


def _project_dir(value: Optional[str]) -> str:
    if not value:
        return os.getcwd()
    path = os.path.abspath(os.path.expanduser(value))
    if not os.path.isdir(path):
        raise UsageError(f"--cwd {value!r} is not a directory")
    return path
