"""AWS credentials for Bedrock: the AWS SDKs' default chain, with expiry and refresh.

Order (the first source that is configured is used; a configured source that fails is an error, the
chain does not silently go on to the next):
  1. environment: ``AWS_ACCESS_KEY_ID`` + ``AWS_SECRET_ACCESS_KEY`` (+ ``AWS_SESSION_TOKEN``);
  2. the shared files' profile (``AWS_PROFILE``, else ``default``; claw.auth.aws_profiles): static keys,
     else ``credential_process`` (run with a timeout; its JSON ``Version: 1``, ``AccessKeyId``,
     ``SecretAccessKey``, ``SessionToken``, ``Expiration``);
  3. the container endpoint: ``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` (on ``http://169.254.170.2``)
     or ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` (https, or http to a loopback / the ECS and EKS
     addresses), with ``AWS_CONTAINER_AUTHORIZATION_TOKEN`` or ``..._TOKEN_FILE`` as ``Authorization``;
  4. the EC2 instance metadata service, IMDSv2 only: ``PUT /latest/api/token``, then the role name from
     ``/latest/meta-data/iam/security-credentials/``, then that role's credentials
     (``AWS_EC2_METADATA_SERVICE_ENDPOINT`` moves it, ``AWS_EC2_METADATA_DISABLED=true`` turns it off).
An ``AWS_PROFILE`` that names no profile, and a profile that only has settings claw does not act on
(``role_arn``, SSO), are errors with a hint (``credential_process = aws configure export-credentials
--profile NAME --format process`` covers both).

``AwsCredentialChain.get()`` caches what it got and fetches again ``REFRESH_MARGIN`` seconds before the
expiry; ``refresh()`` forces a fetch (the server rejected the credentials). Metadata endpoints are
link-local and are asked directly, never through a proxy (the caller's ``NetConfig`` with
``ProxySettings.direct()``), with short timeouts. Every secret obtained is handed to the watchers
(``watch_secrets``) so the run's redactor hides it.

Deliberately not here: signing (claw.proto.sigv4), the Bedrock request (claw.api.bedrock), SSO token
caches, STS role assumption, web identity.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, List, Mapping, Optional

from claw.auth.aws_profiles import AwsProfile, load_profile
from claw.errors import ConfigError, ProviderError
from claw.proto.sigv4 import SigningKeys

REFRESH_MARGIN = 300.0  # seconds before the expiry at which credentials are fetched again
PROCESS_TIMEOUT = 60.0
METADATA_TIMEOUT = 2.0
CONTAINER_HOST = "http://169.254.170.2"
IMDS_ENDPOINT = "http://169.254.169.254"
_CONTAINER_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1", "169.254.170.2", "169.254.170.23", "[fd00:ec2::23]",
                    "fd00:ec2::23")

EXPORT_HINT = ("for SSO or role profiles add `credential_process = aws configure export-credentials --profile "
               "NAME --format process` to the profile, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/"
               "AWS_SESSION_TOKEN")


@dataclass(frozen=True)
class AwsCredentials:
    """Credentials and where they came from. ``expires_at``: POSIX seconds, None for long-lived keys."""

    keys: SigningKeys
    source: str
    expires_at: Optional[float] = None

    def expired(self, now: float, margin: float = 0.0) -> bool:
        return self.expires_at is not None and now >= self.expires_at - margin


def credentials_error(message: str, hint: str = EXPORT_HINT, *, kind: str = "missing_credentials") -> ProviderError:
    return ProviderError(message, hint=hint, kind=kind, failure_class="provider_auth", retryable=False)


def parse_expiration(value: Any) -> Optional[float]:
    """An ISO 8601 ``Expiration`` (``2026-12-07T10:00:00Z``, offsets and fractions allowed) as POSIX
    seconds; None when absent."""
    if value in (None, ""):
        return None
    from datetime import datetime, timezone

    text = str(value).strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    if "." in text:  # fromisoformat on 3.9/3.10 takes 3 or 6 fraction digits only
        head, _, rest = text.partition(".")
        count = 0
        while count < len(rest) and rest[count].isdigit():
            count += 1
        digits, tail = rest[:count], rest[count:]
        text = f"{head}.{(digits + '000000')[:6]}{tail}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise credentials_error(f"AWS credentials carry an Expiration that is not a date: {value!r}",
                                "the credential source must print ISO 8601 times, e.g. 2026-01-01T00:00:00Z",
                                kind="invalid_credentials") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def keys_from_json(data: Any, source: str, *, token_field: str) -> AwsCredentials:
    if not isinstance(data, dict):
        raise credentials_error(f"{source} did not return a JSON object", kind="invalid_credentials")
    access, secret = data.get("AccessKeyId"), data.get("SecretAccessKey")
    if not isinstance(access, str) or not isinstance(secret, str) or not access or not secret:
        raise credentials_error(f"{source} returned no AccessKeyId/SecretAccessKey", kind="invalid_credentials")
    token = data.get(token_field)
    keys = SigningKeys(access, secret, token if isinstance(token, str) and token else None)
    return AwsCredentials(keys, source, parse_expiration(data.get("Expiration")))


def _truthy(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


class AwsCredentialChain:
    """The chain for one run (see the module docstring). ``net_config``: the run's NetConfig (metadata
    requests go direct regardless of its proxies); ``clock``: POSIX seconds (tests)."""

    def __init__(self, env: Mapping[str, str], *, net_config: Any = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.env = env
        self.net_config = net_config
        self.clock = clock
        self._cached: Optional[AwsCredentials] = None
        self._watchers: List[Callable[[str], None]] = []
        self._lock: Any = None
        self.fetches = 0  # how many times a source was asked (tests, diagnostics)

    # -- what would be used, without I/O -----------------------------------------------------------

    def source_name(self) -> str:
        """Which source the chain will use (for status and doctor); reads the shared files only."""
        env = self.env
        if (env.get("AWS_ACCESS_KEY_ID") or "").strip() and (env.get("AWS_SECRET_ACCESS_KEY") or "").strip():
            return "environment (AWS_ACCESS_KEY_ID)"
        profile = self._profile()
        if profile.found and profile.has_keys:
            return f"profile {profile.name} ({', '.join(profile.files)})"
        if profile.found and profile.credential_process:
            return f"credential_process of profile {profile.name}"
        if profile.explicit or (profile.found and profile.unsupported):
            return f"profile {profile.name} (unusable)"
        if self._container_url():
            return "container credentials endpoint"
        if _truthy(env.get("AWS_EC2_METADATA_DISABLED")):
            return "none"
        return "instance metadata (IMDSv2)"

    # -- credentials --------------------------------------------------------------------------------

    def watch_secrets(self, callback: Callable[[str], None]) -> None:
        """``callback(secret)`` for every secret key and session token obtained, now and later."""
        self._watchers.append(callback)
        if self._cached is not None:
            self._announce(self._cached)

    async def get(self) -> AwsCredentials:
        cached = self._cached
        if cached is not None and not cached.expired(self.clock(), REFRESH_MARGIN):
            return cached
        return await self._fetch(cached)

    async def refresh(self) -> AwsCredentials:
        return await self._fetch(None)

    async def _fetch(self, previous: Optional[AwsCredentials]) -> AwsCredentials:
        import asyncio

        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._cached is not None and self._cached is not previous and previous is not None \
                    and not self._cached.expired(self.clock(), REFRESH_MARGIN):
                return self._cached  # another request refreshed meanwhile
            try:
                creds = await self._resolve()
            except ProviderError:
                # A refresh that fails while the old credentials are still valid keeps them.
                if previous is not None and not previous.expired(self.clock()):
                    return previous
                raise
            self.fetches += 1
            self._cached = creds
            self._announce(creds)
            return creds

    def _announce(self, creds: AwsCredentials) -> None:
        for secret in (creds.keys.secret_access_key, creds.keys.session_token):
            if secret:
                for watcher in self._watchers:
                    watcher(secret)

    def _profile(self) -> AwsProfile:
        return load_profile(self.env)

    async def _resolve(self) -> AwsCredentials:
        env = self.env
        access = (env.get("AWS_ACCESS_KEY_ID") or "").strip()
        secret = (env.get("AWS_SECRET_ACCESS_KEY") or "").strip()
        if access and secret:
            token = (env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN") or "").strip()
            expiry = parse_expiration((env.get("AWS_CREDENTIAL_EXPIRATION") or "").strip() or None)
            return AwsCredentials(SigningKeys(access, secret, token or None), "environment", expiry)
        if access or secret:
            missing = "AWS_SECRET_ACCESS_KEY" if access else "AWS_ACCESS_KEY_ID"
            raise credentials_error(f"{missing} is unset while its partner is set",
                                    "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither")
        try:
            profile = self._profile()
        except ConfigError as exc:
            raise credentials_error(exc.message, exc.hint or EXPORT_HINT, kind="invalid_credentials") from None
        if profile.found and profile.has_keys:
            keys = SigningKeys(profile.access_key_id, profile.secret_access_key, profile.session_token or None)
            return AwsCredentials(keys, f"profile {profile.name}")
        if profile.found and profile.credential_process:
            return await self._process(profile)
        if profile.found and profile.unsupported:
            raise credentials_error(
                f"AWS profile {profile.name!r} uses {', '.join(profile.unsupported)}, which claw does not "
                "resolve itself", EXPORT_HINT.replace("NAME", profile.name))
        if profile.explicit:
            where = " or ".join(profile.files) if profile.files else "~/.aws/credentials or ~/.aws/config"
            raise credentials_error(f"AWS profile {profile.name!r} was not found (looked in {where})",
                                    "check AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE")
        url = self._container_url()
        if url:
            return await self._container(url)
        if not _truthy(env.get("AWS_EC2_METADATA_DISABLED")):
            return await self._imds()
        raise credentials_error("no AWS credentials: no environment keys, profile, container or instance "
                                "credentials", "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
                                "or AWS_BEARER_TOKEN_BEDROCK (a Bedrock API key)")

    # -- credential_process ---------------------------------------------------------------------------

    async def _process(self, profile: AwsProfile) -> AwsCredentials:
        import asyncio
        import shlex
        import subprocess

        command = profile.credential_process
        source = f"credential_process of profile {profile.name}"
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise credentials_error(f"{source} is not a valid command line: {exc}", "fix credential_process",
                                    kind="invalid_credentials") from None

        def run() -> "subprocess.CompletedProcess[bytes]":
            return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=PROCESS_TIMEOUT,
                                  env=dict(self.env))

        try:
            done = await asyncio.to_thread(run)
        except subprocess.TimeoutExpired:
            raise credentials_error(f"{source} did not finish within {PROCESS_TIMEOUT:.0f} s",
                                    "check the command in credential_process") from None
        except OSError as exc:
            raise credentials_error(f"{source} could not be started: {exc.strerror or exc}",
                                    "check the command in credential_process") from None
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip().splitlines()
            detail = f": {err[-1][:200]}" if err else ""
            raise credentials_error(f"{source} exited with status {done.returncode}{detail}",
                                    "run the command yourself to see what it needs (a login, a network)")
        try:
            data = json.loads(done.stdout.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise credentials_error(f"{source} did not print JSON", "the command must print the AWS "
                                    "credential_process JSON (Version, AccessKeyId, SecretAccessKey, ...)",
                                    kind="invalid_credentials") from None
        if isinstance(data, dict) and data.get("Version") not in (1, None):
            raise credentials_error(f"{source} printed Version {data.get('Version')!r}; only 1 is known",
                                    kind="invalid_credentials")
        return keys_from_json(data, source, token_field="SessionToken")

    # -- metadata endpoints -----------------------------------------------------------------------------

    def _container_url(self) -> str:
        rel = (self.env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or "").strip()
        if rel:
            return CONTAINER_HOST + (rel if rel.startswith("/") else "/" + rel)
        return (self.env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") or "").strip()

    async def _container(self, url: str) -> AwsCredentials:
        from claw.net.url import parse_url

        try:
            parsed = parse_url(url)
        except ValueError as exc:
            raise credentials_error(f"the container credentials URL is not usable: {exc}",
                                    "check AWS_CONTAINER_CREDENTIALS_FULL_URI", kind="invalid_credentials") from None
        if parsed.scheme == "http" and parsed.host not in _CONTAINER_HOSTS:
            raise credentials_error(f"the container credentials URL {url} is plain http to {parsed.host}",
                                    "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback "
                                    "address or the ECS/EKS endpoint", kind="invalid_credentials")
        headers = []
        token = (self.env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN") or "").strip()
        token_file = (self.env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") or "").strip()
        if token_file:
            try:
                with open(token_file, encoding="utf-8") as fh:
                    token = fh.read().strip()
            except OSError as exc:
                raise credentials_error(f"cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: {exc.strerror}",
                                        "check the file the variable names") from None
        if token:
            for watcher in self._watchers:
                watcher(token)
            headers.append(("Authorization", token))
        status, body = await self._metadata_request("GET", url, headers, "the container credentials endpoint")
        if status != 200:
            raise credentials_error(f"the container credentials endpoint answered {status}",
                                    "check the task role / pod identity of this container")
        return keys_from_json(_json(body, "the container credentials endpoint"), "container credentials endpoint",
                              token_field="Token")

    async def _imds(self) -> AwsCredentials:
        base = ((self.env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or "").strip() or IMDS_ENDPOINT).rstrip("/")
        what = "the instance metadata service"
        status, token = await self._metadata_request(
            "PUT", base + "/latest/api/token", [("X-aws-ec2-metadata-token-ttl-seconds", "21600")], what,
            missing_hint=True)
        if status != 200 or not token.strip():
            raise credentials_error(f"{what} refused a session token ({status})",
                                    "IMDSv2 must be enabled on the instance (claw does not use IMDSv1)")
        auth = [("X-aws-ec2-metadata-token", token.decode("ascii", "replace").strip())]
        path = base + "/latest/meta-data/iam/security-credentials/"
        status, body = await self._metadata_request("GET", path, auth, what)
        role = body.decode("utf-8", "replace").strip().splitlines()[0].strip() if body.strip() else ""
        if status != 200 or not role:
            raise credentials_error(f"{what} has no IAM role for this instance ({status})",
                                    "attach an instance profile with Bedrock permissions, or set AWS credentials")
        status, body = await self._metadata_request("GET", path + role, auth, what)
        if status != 200:
            raise credentials_error(f"{what} answered {status} for the credentials of role {role}",
                                    "check the instance profile")
        data = _json(body, what)
        if isinstance(data, dict) and data.get("Code") not in (None, "Success"):
            raise credentials_error(f"{what} reports {data.get('Code')!r} for role {role}", "check the instance profile")
        return keys_from_json(data, f"instance metadata (IMDSv2, role {role})", token_field="Token")

    async def _metadata_request(self, method: str, url: str, headers: List[Any], what: str, *,
                                missing_hint: bool = False) -> "tuple[int, bytes]":
        from claw.errors import NetworkError
        from claw.net.config import NetConfig
        from claw.net.http import HttpClient, Timeouts
        from claw.net.proxy import ProxySettings

        base = self.net_config if self.net_config is not None else NetConfig.from_env(self.env)
        direct = replace(base, proxies=ProxySettings.direct(), connect_timeout=METADATA_TIMEOUT)
        async with HttpClient(direct) as client:
            try:
                response = await client.request(method, url, headers=headers, body=b"" if method == "PUT" else None,
                                                timeouts=Timeouts(read=METADATA_TIMEOUT, total=METADATA_TIMEOUT * 2))
                async with response:
                    body = await response.read()
                    return response.status, body[:64 * 1024]
            except NetworkError as exc:
                hint = ("no AWS credentials were found in the environment or the shared files, and no "
                        "instance metadata service answered: set AWS credentials, AWS_PROFILE or "
                        "AWS_BEARER_TOKEN_BEDROCK" if missing_hint else "check the network of this host")
                raise credentials_error(f"{what} could not be reached: {exc.message}", hint) from None


def _json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise credentials_error(f"{what} did not answer JSON", "check the endpoint", kind="invalid_credentials") from None


def region_of(env: Mapping[str, str]) -> "tuple[str, str]":
    """(region, where it came from): AWS_REGION, AWS_DEFAULT_REGION, the profile's ``region``, else
    us-east-1 (the Anthropic Bedrock SDKs' default)."""
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        value = (env.get(var) or "").strip()
        if value:
            return value, var
    try:
        profile = load_profile(env)
    except ConfigError:
        profile = None
    if profile is not None and profile.region:
        return profile.region, f"profile {profile.name}"
    return "us-east-1", "default"


def env_flag(env: Mapping[str, str], name: str) -> bool:
    return _truthy(env.get(name))


def bedrock_selected(env: Mapping[str, str]) -> bool:
    return _truthy(env.get("CLAUDE_CODE_USE_BEDROCK"))


def bearer_token(env: Mapping[str, str]) -> str:
    return (env.get("AWS_BEARER_TOKEN_BEDROCK") or "").strip()


def secret_env_values(env: Mapping[str, str]) -> List[str]:
    names = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_BEARER_TOKEN_BEDROCK",
             "AWS_CONTAINER_AUTHORIZATION_TOKEN")
    return [v for v in ((env.get(n) or "").strip() for n in names) if v]

