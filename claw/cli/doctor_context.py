"""What the checks of ``claw doctor`` share: the result of a check and the context they look at.

``CheckResult`` is one check's outcome (``ok``/``warn``/``fail``, a summary, details, a hint);
``DoctorContext`` holds the effective environment, the settings (loaded leniently, on first use) and
the options; ``build_context`` makes it for a run; ``resolved_model`` / ``provider_name`` say which
model and provider a run would use. No check lives here (claw.cli.doctor and claw.cli.doctor_network)
and nothing here prints or opens a connection.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

OK, WARN, FAIL = "ok", "warn", "fail"
DEFAULT_BASE_URL = "https://api.anthropic.com"
REACH_TIMEOUT = 5.0  # seconds to connect, and again to get the response head


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


def resolved_model(ctx: DoctorContext) -> Tuple[Any, Any, Optional[Any]]:
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


def provider_name(ctx: DoctorContext) -> str:
    _, resolved, _ = resolved_model(ctx)
    return resolved.provider if resolved is not None else "anthropic"
