"""What ``claw status`` and ``claw doctor`` say about Amazon Bedrock.

``bedrock_base_url`` is the endpoint (``ANTHROPIC_BEDROCK_BASE_URL``, else the region's
``bedrock-runtime`` host), ``describe_bedrock_credentials`` names the authorisation and the credential
source without any I/O beyond reading the AWS shared files (for ``claw status``), and
``check_bedrock_credentials`` is doctor's credentials check: it really obtains the credentials (runs
``credential_process``, asks the container or instance metadata endpoint — never with ``--offline``) and
reports their source and expiry. Nothing here prints a secret: sources are named, values never.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

from claw.cli.doctor_context import FAIL, OK, WARN, CheckResult, DoctorContext
from claw.cli.status_cmd import BaseUrl, Credentials

EXPIRY_WARNING = 15 * 60  # seconds: doctor warns when the credentials expire sooner


def bedrock_base_url(env: Mapping[str, str]) -> BaseUrl:
    from claw.api.bedrock import default_base_url
    from claw.auth.aws import region_of
    from claw.errors import ConfigError

    raw = (env.get("ANTHROPIC_BEDROCK_BASE_URL") or "").strip()
    if not raw:
        region, source = region_of(env)
        return BaseUrl("bedrock", default_base_url(region), f"region {region} ({source})")
    from claw.api.client import _base_url

    try:
        return BaseUrl("bedrock", _base_url(env, "ANTHROPIC_BEDROCK_BASE_URL", ""), "ANTHROPIC_BEDROCK_BASE_URL")
    except ConfigError as exc:
        return BaseUrl("bedrock", None, "ANTHROPIC_BEDROCK_BASE_URL", exc.message, exc.hint)


def describe_bedrock_credentials(env: Mapping[str, str]) -> Credentials:
    from claw.auth.aws import AwsCredentialChain, bearer_token, env_flag, region_of
    from claw.errors import ClawError

    region, region_source = region_of(env)
    where = f"region {region} ({region_source})"
    if env_flag(env, "CLAUDE_CODE_SKIP_BEDROCK_AUTH"):
        return Credentials("bedrock", "not_needed", "none: CLAUDE_CODE_SKIP_BEDROCK_AUTH (the gateway authorises)", True)
    if bearer_token(env):
        return Credentials("bedrock", "bearer", "Bedrock API key from AWS_BEARER_TOKEN_BEDROCK", True)
    try:
        source = AwsCredentialChain(env).source_name()
    except ClawError as exc:
        return Credentials("bedrock", "none", f"none: {exc.message}", False, problems=(exc.message,))
    if source == "none":
        return Credentials("bedrock", "none", "none: no AWS credentials in the environment, profiles, container "
                           "or instance metadata (AWS_EC2_METADATA_DISABLED)", False)
    usable = not source.endswith("(unusable)")
    return Credentials("bedrock", "sigv4", f"AWS SigV4 with {source}, {where}", usable)


def check_bedrock_credentials(ctx: DoctorContext, *, clock: Any = time.time) -> CheckResult:
    from claw.auth.aws import AwsCredentialChain
    from claw.errors import ClawError

    described = describe_bedrock_credentials(ctx.env)
    summary = f"bedrock: {described.summary}"
    if described.method != "sigv4":
        status = OK if described.usable else FAIL
        return CheckResult("credentials", status, summary, (), None if described.usable else _HINT)
    if ctx.offline:
        return CheckResult("credentials", OK if described.usable else FAIL, summary,
                           ("--offline: the credentials were not fetched",), None if described.usable else _HINT)
    from claw.cli.doctor_network import _run_async
    from claw.net.config import NetConfig

    try:
        net = NetConfig.from_env(ctx.env)
    except ClawError:
        net = None
    chain = AwsCredentialChain(ctx.env, net_config=net, clock=clock)
    try:
        creds = _run_async(chain.get())
    except ClawError as exc:
        return CheckResult("credentials", FAIL, summary, (f"problem: {exc.message}",), exc.hint or _HINT)
    details = [f"source: {creds.source}", f"access key id: {creds.keys.access_key_id[:4]}…"
               + (" (with a session token)" if creds.keys.session_token else "")]
    if creds.expires_at is None:
        details.append("expiry: none (long-lived keys)")
        return CheckResult("credentials", OK, summary, tuple(details))
    from datetime import datetime, timezone

    when = datetime.fromtimestamp(creds.expires_at, timezone.utc)
    left = creds.expires_at - clock()
    details.append(f"expires {when:%Y-%m-%d %H:%M} UTC")
    if left <= 0:
        return CheckResult("credentials", FAIL, summary + " (expired)", tuple(details),
                           "the credentials have expired: refresh them (e.g. `aws sso login`) or export new ones")
    if left < EXPIRY_WARNING:
        return CheckResult("credentials", WARN, summary, tuple(details),
                           f"the credentials expire in {int(left // 60)} min; claw fetches them again shortly before")
    return CheckResult("credentials", OK, summary, tuple(details))


_HINT = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), AWS_PROFILE, or "
         "AWS_BEARER_TOKEN_BEDROCK; or CLAUDE_CODE_SKIP_BEDROCK_AUTH=1 behind a gateway that signs")
