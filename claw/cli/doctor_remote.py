"""``claw doctor``'s remote-control check, present only when this project is connected to an
environment (``.claw/remote.json`` exists): the environment id, where the bridge credential comes from
(never the secret), whether serve's state file says it runs, and, unless ``--offline``, whether the
environments API's base URL answers (one ``HEAD /`` through the configured proxy, as the reachability
check does; any HTTP status counts as reachable).

It registers, polls and changes nothing.
"""

from __future__ import annotations

from typing import Optional

from claw.cli.doctor_context import FAIL, OK, CheckResult, DoctorContext


def check_remote_control(ctx: DoctorContext) -> Optional[CheckResult]:
    from claw.errors import ClawError
    from claw.remote.bridge_auth import bridge_credential
    from claw.remote.remote_state import load_serve_state, load_state

    try:
        state = load_state(ctx.project_dir)
    except ClawError as exc:
        return CheckResult("remote control", FAIL, exc.message, (), exc.hint)
    if state is None:
        return None
    loaded = ctx.settings()
    settings = loaded.settings if loaded is not None else None
    details = [f"environment {state.environment_id}, registered for {state.directory or '-'}"]
    try:
        credential = bridge_credential(ctx.env, cwd=ctx.project_dir, settings=settings)
        serve = load_serve_state(ctx.project_dir)
    except ClawError as exc:
        return CheckResult("remote control", FAIL, exc.message, tuple(details), exc.hint)
    details.append(f"bridge credential: {credential.source} ({credential.detail})" if credential
                   else "bridge credential: none")
    details.append(f"serve state file: pid {serve.get('pid', '-')}" if serve else "serve: no state file")
    where = f"environment {state.environment_id} at {state.base_url}"
    if credential is None:
        return CheckResult("remote control", FAIL, f"{where}: no bridge credential", tuple(details),
                           "run `claw login`, or set CLAW_BRIDGE_TOKEN")
    if ctx.offline:
        return CheckResult("remote control", OK, f"{where} (reachability skipped: --offline)", tuple(details))
    from claw.cli.doctor_network import _net_config, _run_async, probe_base_url

    probe = _run_async(probe_base_url(state.base_url, _net_config(ctx), timeout=ctx.timeout))
    if probe.error is not None:
        details.append(probe.error.message)
        return CheckResult("remote control", FAIL, f"cannot reach {where} via {probe.route} ({probe.error.kind})",
                           tuple(details), probe.error.hint)
    return CheckResult("remote control", OK, f"{where} answered HTTP {probe.status} via {probe.route}",
                       tuple(details))
