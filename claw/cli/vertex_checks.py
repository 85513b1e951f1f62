"""What ``claw status`` and ``claw doctor`` say about Vertex AI: the endpoint, the credentials and,
in doctor only, whether a Google access token can be obtained (through the proxy, as a run would).

``vertex_base`` is the ``BaseUrl`` of a Vertex model (project, region and their sources in
``source``); ``vertex_credentials`` names the credential source without any network access;
``check_vertex_credentials`` is doctor's credentials check: the source, then (unless ``--offline``)
one token request, reporting when the token expires — never the token.

Nothing here prints; secrets are never put in a result (``describe()`` texts name sources only).
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Tuple

from claw.errors import ClawError


def _model(env: Mapping[str, str], model: Optional[str]) -> str:
    from claw.api.registry import FAMILY_ALIASES, vertex_model_id

    return vertex_model_id(model or FAMILY_ALIASES["sonnet"])


def vertex_base(env: Mapping[str, str], model: Optional[str]) -> Any:
    """The ``claw.cli.status_cmd.BaseUrl`` for a Vertex model: its streamRawPredict endpoint's base."""
    from claw.api.vertex import vertex_target
    from claw.cli.status_cmd import BaseUrl

    auth = _auth_or_none(env)
    try:
        target = vertex_target(env, _model(env, model), auth)
    except ClawError as exc:
        return BaseUrl("vertex", None, "vertex", exc.message, exc.hint)
    source = (f"{target.base_source}; project {target.project} from {target.project_source}, "
              f"region {target.region} from {target.region_source}")
    return BaseUrl("vertex", target.base_url, source)


def _auth_or_none(env: Mapping[str, str]) -> Any:
    from claw.auth.gcp_auth import google_auth

    try:
        return google_auth(env)
    except ClawError:
        return None


def vertex_credentials(env: Mapping[str, str]) -> Any:
    """The ``claw.cli.status_cmd.Credentials`` of Vertex requests (reads the ADC file, sends nothing)."""
    from claw.auth.gcp_auth import GoogleAuth, google_auth
    from claw.cli.status_cmd import Credentials

    try:
        auth = google_auth(env)
    except ClawError as exc:
        return Credentials("vertex", "none", f"unusable: {exc.message}", False, problems=(exc.hint or "",))
    method = "google_adc" if isinstance(auth, GoogleAuth) else "skipped"
    return Credentials("vertex", method, auth.describe(), True)


def check_vertex_credentials(ctx: Any) -> Any:
    """Doctor: the credential source, then one token request unless offline."""
    from claw.auth.gcp_auth import GoogleAuth, google_auth
    from claw.cli.doctor_context import FAIL, OK, CheckResult
    from claw.cli.doctor_network import _net_config, _run_async

    try:
        net = _net_config(ctx)
        auth = google_auth(ctx.env, net_config=net)
    except ClawError as exc:
        return CheckResult("credentials", FAIL, f"vertex: {exc.message}", (), exc.hint)
    summary = f"vertex: {auth.describe()}"
    if not isinstance(auth, GoogleAuth):
        return CheckResult("credentials", OK, summary)
    if ctx.offline:
        return CheckResult("credentials", OK, summary, ("token not requested (--offline)",))
    try:
        token = _run_async(auth.token())
    except ClawError as exc:
        return CheckResult("credentials", FAIL, f"vertex: no access token: {exc.message}", (auth.describe(),),
                           exc.hint)
    details: List[str] = [f"access token obtained from {auth.source}"]
    if token.expires_at is not None:
        from datetime import datetime, timezone
        import time

        when = datetime.fromtimestamp(token.expires_at, timezone.utc)
        minutes = max(0, int((token.expires_at - time.time()) // 60))
        details.append(f"expires {when:%Y-%m-%d %H:%M} UTC (in {minutes} min; renewed 5 min before)")
    return CheckResult("credentials", OK, f"vertex: {auth.describe()}", tuple(details))


def vertex_proxy_target(ctx: Any) -> Tuple[str, str]:
    """``(name, url)`` for doctor's proxy check: the Vertex base URL a run would use (``url`` empty
    when there is none: ``name`` then says why)."""
    from claw.cli.doctor_context import resolved_model

    _, resolved, _ = resolved_model(ctx)
    base = vertex_base(ctx.env, resolved.model if resolved is not None else None)
    if base.url is None:
        return f"Vertex AI: {base.error}", ""
    return f"Vertex AI ({base.source})", base.url
