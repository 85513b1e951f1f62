"""The Amazon Bedrock provider: Claude through Bedrock's ``InvokeModelWithResponseStream``.

``POST {base}/model/{modelId}/invoke-with-response-stream`` (``/invoke`` for the one unstreamed resend),
where ``base`` is ``ANTHROPIC_BEDROCK_BASE_URL`` (a gateway) or ``https://bedrock-runtime.{region}.amazonaws.com``
and ``modelId`` is the Bedrock model id, inference profile id or ARN, percent-encoded as one path segment.
The body is the Anthropic Messages body (claw.api.anthropic builds it: prompt caching, thinking,
tools) without ``model`` and ``stream``, with ``anthropic_version: bedrock-2023-05-31`` and the betas as
``anthropic_beta``. Authorisation (claw.auth.aws_auth): SigV4 for service ``bedrock`` over the exact
bytes sent, or the ``AWS_BEARER_TOKEN_BEDROCK`` API key, or nothing (``CLAUDE_CODE_SKIP_BEDROCK_AUTH``).

The response is an ``application/vnd.amazon.eventstream`` (claw.proto.eventstream) whose chunks carry
Anthropic events (claw.api.bedrock_stream); a gateway that answers with SSE or JSON is read as the
Anthropic provider reads it. Errors — HTTP statuses with ``x-amzn-ErrorType`` and exception frames —
are classified by claw.api.bedrock_errors; the request id is ``x-amzn-RequestId``. Retries, preflight,
fallback and accumulation are the shared engine of claw.api.provider.

Region: AWS_REGION, AWS_DEFAULT_REGION, the AWS profile's ``region``, else us-east-1 (claw.auth.aws).
Nothing is sent when a provider is built.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Dict, List, Mapping, Optional, Tuple
from urllib.parse import quote

from claw.api.anthropic import AnthropicProvider
from claw.api.provider import StreamTranslator, request_id_of
from claw.api.types import ModelRequest
from claw.auth.headers import AuthSource
from claw.errors import ClawError, NetworkError

BEDROCK_VERSION = "bedrock-2023-05-31"
EVENTSTREAM = "application/vnd.amazon.eventstream"


def default_base_url(region: str) -> str:
    return f"https://bedrock-runtime.{region}.amazonaws.com"


class BedrockProvider(AnthropicProvider):
    name = "bedrock"
    label = "Amazon Bedrock"

    region = "us-east-1"

    def invoke_url(self, streaming: bool) -> str:
        action = "invoke-with-response-stream" if streaming else "invoke"
        return f"{self.base_url}/model/{quote(self.model.id, safe='')}/{action}"

    def endpoint(self) -> str:
        return self.invoke_url(True)

    def build_body(self, request: ModelRequest, *, max_tokens: int, stream: bool) -> Dict[str, Any]:
        body = super().build_body(request, max_tokens=max_tokens, stream=False)
        body.pop("model", None)
        body = {"anthropic_version": BEDROCK_VERSION, **body}
        betas = list(dict.fromkeys(list(request.betas) + list(self.auth.betas()) + list(self.extra_betas)))
        if betas:
            body["anthropic_beta"] = betas
        return body

    async def build_headers(self, request: ModelRequest, streaming: bool) -> List[Tuple[str, str]]:
        from claw.proto.sigv4 import split_url

        headers = [
            ("host", split_url(self.base_url)[0]),
            ("content-type", "application/json"),
            ("accept", EVENTSTREAM if streaming else "application/json"),
        ]
        headers.extend(self.extra_headers)
        return headers

    def request_url(self, streaming: bool) -> str:
        return self.invoke_url(streaming)

    async def request_headers(self, request: ModelRequest, streaming: bool, url: str,
                              payload: bytes) -> List[Tuple[str, str]]:
        """The headers, then SigV4's over exactly the bytes sent (or the bearer key's)."""
        headers = await self.build_headers(request, streaming)
        sign = getattr(self.auth, "sign", None)
        if sign is not None:
            headers.extend(await sign("POST", url, headers, payload))
        else:
            headers.extend(await self.auth.headers())
        return headers

    def http_error(self, status: int, body: bytes, headers: Any, request_id: Optional[str]) -> ClawError:
        from claw.api.bedrock_errors import classify_http

        return classify_http(status, body, headers, request_id=request_id, label=self.label)

    async def _stream_events(self, response: Any, translator: StreamTranslator) -> AsyncIterator[Dict[str, Any]]:
        ctype = (response.header("content-type") or "").lower()
        if ctype.startswith("text/event-stream"):  # a gateway speaking the Anthropic wire format
            async for raw in super()._stream_events(response, translator):
                yield raw
            return
        from claw.api.bedrock_stream import events_of
        from claw.proto.eventstream import EventStreamDecoder, EventStreamError

        request_id = request_id_of(response.headers)
        decoder = EventStreamDecoder()
        try:
            async for chunk in response.iter_bytes():
                for message in decoder.feed(chunk):
                    for raw in events_of(message, request_id=request_id, label=self.label):
                        yield raw
            decoder.close()
        except EventStreamError as exc:
            raise NetworkError(f"{self.label} sent a broken event stream: {exc}", kind="protocol",
                               retryable=True) from None


def bedrock_auth(env: Mapping[str, str], *, net_config: Any = None, region: Optional[str] = None) -> AuthSource:
    """The Bedrock AuthSource the environment asks for: skipped, API key, or SigV4 with the chain."""
    from claw.auth.aws import AwsCredentialChain, bearer_token, env_flag, region_of
    from claw.auth.aws_auth import BedrockBearerAuth, SigV4Auth, SkippedAuth

    if env_flag(env, "CLAUDE_CODE_SKIP_BEDROCK_AUTH"):
        return SkippedAuth()
    token = bearer_token(env)
    if token:
        return BedrockBearerAuth(token)
    return SigV4Auth(AwsCredentialChain(env, net_config=net_config), region or region_of(env)[0])


def create_bedrock_provider(env: Mapping[str, str], *, auth: Optional[AuthSource] = None,
                            **common: Any) -> BedrockProvider:
    """The provider for a resolved Bedrock model (``common``: create_provider's model, net_config, http,
    retry and timeouts)."""
    from claw.api.client import _base_url
    from claw.auth.aws import region_of

    region = region_of(env)[0]
    base = _base_url(env, "ANTHROPIC_BEDROCK_BASE_URL", default_base_url(region))
    if auth is None:
        auth = bedrock_auth(env, net_config=common.get("net_config"), region=region)
    provider = BedrockProvider(base_url=base, auth=auth, **common)
    provider.region = region
    return provider
