"""The three ways a Bedrock request is authorised, as ``claw.auth.headers.AuthSource``s.

- ``SigV4Auth``: AWS credentials from ``claw.auth.aws.AwsCredentialChain``; the request is signed with
  SigV4 (claw.proto.sigv4) for service ``bedrock`` in the run's region by ``sign()``, since a signature
  covers the URL and the body (``headers()`` alone has nothing to give). Refreshable: a request the
  server rejects as expired fetches the credentials again once.
- ``BedrockBearerAuth``: ``AWS_BEARER_TOKEN_BEDROCK`` (a Bedrock API key) as ``Authorization: Bearer``.
- ``SkippedAuth``: ``CLAUDE_CODE_SKIP_BEDROCK_AUTH=1``: nothing is added (a gateway behind
  ``ANTHROPIC_BEDROCK_BASE_URL`` signs for us).

Each has ``watch_secrets(callback)``: the run's redactor learns every secret key, session token and
bearer token, including credentials fetched later (refreshes, metadata endpoints). ``describe()`` names
the source, never a value.

Deliberately not here: choosing between them (claw.api.bedrock ``bedrock_auth``), the credential
sources (claw.auth.aws), the HTTP request.
"""

from __future__ import annotations

from typing import Callable, List, Sequence

from claw.auth.aws import AwsCredentialChain
from claw.auth.headers import AuthSource, BearerAuth, Header

SERVICE = "bedrock"


class SigV4Auth(AuthSource):
    """SigV4 signing with credentials from the chain."""

    signs_requests = True

    def __init__(self, chain: AwsCredentialChain, region: str, service: str = SERVICE) -> None:
        self.chain = chain
        self.region = region
        self.service = service

    def describe(self) -> str:
        from claw.errors import ClawError

        try:
            source = self.chain.source_name()
        except ClawError:  # an AWS file that does not parse: the request will say so
            source = "unreadable AWS configuration"
        return f"AWS SigV4 ({source}, region {self.region})"

    async def headers(self) -> List[Header]:
        return []

    async def sign(self, method: str, url: str, headers: Sequence[Header], body: bytes) -> List[Header]:
        """The headers that authorise this request: x-amz-date, x-amz-security-token, authorization."""
        from claw.proto.sigv4 import sign

        creds = await self.chain.get()
        signed = sign(method, url, headers, body, keys=creds.keys, region=self.region, service=self.service,
                      timestamp=self.chain.clock())
        return list(signed.headers)

    @property
    def refreshable(self) -> bool:
        return True

    async def refresh(self) -> bool:
        await self.chain.refresh()
        return True

    def watch_secrets(self, callback: Callable[[str], None]) -> None:
        self.chain.watch_secrets(callback)


class BedrockBearerAuth(BearerAuth):
    """A Bedrock API key: ``Authorization: Bearer $AWS_BEARER_TOKEN_BEDROCK``."""

    signs_requests = False

    def __init__(self, token: str) -> None:
        super().__init__(token, "AWS_BEARER_TOKEN_BEDROCK")

    def describe(self) -> str:
        return "Bedrock API key from AWS_BEARER_TOKEN_BEDROCK"

    def watch_secrets(self, callback: Callable[[str], None]) -> None:
        callback(self._token)


class SkippedAuth(AuthSource):
    """No authorisation at all: a gateway adds it."""

    signs_requests = False

    def describe(self) -> str:
        return "none (CLAUDE_CODE_SKIP_BEDROCK_AUTH: the gateway authorises)"

    async def headers(self) -> List[Header]:
        return []

    def watch_secrets(self, callback: Callable[[str], None]) -> None:
        return None
