"""The Provider interface and the HTTP engine both providers share: send, stream, classify, retry.

``Provider.stream(request)`` is an async iterator of ``claw.api.types`` stream events ending with
``MessageDone`` (the complete ``ModelResponse``); ``complete(request)`` drains it. Inside:

  1. preflight (claw.api.preflight): a request that cannot fit the model's context window, or is over
     the size limit, fails locally before any byte leaves the process;
  2. POST with ``stream: true``; the body is decoded with ``claw.proto.sse.SSEDecoder`` and turned into
     Anthropic events (the OpenAI provider translates chunks), folded by ``MessageAccumulator``;
  3. events are held back until the first content block starts, so a failure before that point
     (HTTP 408/409/429/5xx/529, connect errors, resets, an idle stream, ``event: error`` overloaded, a
     stream cut before any content) is retried invisibly except for a ``RetryScheduled`` event;
     after content reached the caller a failure is raised as it is (the runtime decides);
  4. a stream with nothing in it is retried once without streaming (the complete message is replayed
     as the same events);
  5. a 401 with a refreshable OAuth source refreshes the token once and resends;
  6. when attempts run out: ``retries_exhausted`` with the last error's class, status and request id;
  7. with a fallback provider (``Provider.fallback``, from ``--fallback-model``): a model that stays
     overloaded through its retries, or is not found, hands the same request once to the fallback
     (a ``ModelFallback`` event first). A request whose ``model`` names the fallback goes straight to
     it: the runtime asks that for the rest of a turn once a fallback happened.

Extended thinking (claw.api.thinking) and the effort level (claw.api.effort): the request's
``thinking`` and ``effort`` are adapted to this model before the body is built (dropped for a model that
cannot think, max_tokens above the budget, the interleaved-thinking beta where the model needs it, the
effort level lowered to one the model has).

Each attempt is one call of ``_attempt`` (one request, ending in an ``AttemptOutcome``); what follows a
failure is decided by the table in claw.api.attempts, and ``stream`` is the loop that performs it.

The idle limit (no byte for ``idle_timeout`` seconds, keep-alive comments included as liveness) is
enforced by ``claw.net.http``; ``api_timeout`` bounds a non-streamed request.

Providers never print; everything they know is in the events and in the ClawError they raise.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple, Union

from claw import __version__
from claw.api.accumulator import EmptyStream, MessageAccumulator
from claw.api.attempts import (
    ALLOWANCE_OF,
    DELIVER,
    FALL_BACK,
    GIVE_UP,
    QUICK_RETRY_DELAY,
    REFRESH,
    RESEND_UNSTREAMED,
    RETRY,
    RETRY_SOON,
    AttemptOutcome,
    Attempts,
    allowances,
    next_action,
    outcome_kind,
)
from claw.api.failures import classify_http_error, retries_exhausted, retry_reason
from claw.api.preflight import TokenEstimate, check, estimate
from claw.api.registry import ModelInfo
from claw.api.retry import RetryPolicy, header
from claw.api.types import (
    MessageDone,
    ModelFallback,
    ModelRequest,
    ModelResponse,
    RetryScheduled,
    StreamEvent,
)
from claw.auth.headers import AuthSource
from claw.errors import ClawError, NetworkError, ProviderError

MAX_ERROR_BODY = 64 * 1024
DEFAULT_API_TIMEOUT = 600.0


class _HttpFailure(Exception):
    def __init__(self, error: ProviderError, headers: List[Tuple[str, str]]) -> None:
        super().__init__(error.message)
        self.error = error
        self.headers = headers


def request_id_of(headers: List[Tuple[str, str]]) -> Optional[str]:
    return header(headers, "request-id") or header(headers, "x-request-id") or header(headers, "x-amzn-requestid")


def user_agent(provider: str) -> str:
    v = sys.version_info
    return f"claw/{__version__} (python {v[0]}.{v[1]}.{v[2]}; {provider})"


class Provider:
    """A model provider over HTTP. Subclasses supply the wire format (see the hooks at the end)."""

    name = "provider"  # anthropic | openai | xai | ollama | local
    label = "the provider"  # for messages: "Anthropic", "OpenAI", ...
    # Set by claw.api.client.create_provider (claw.api.request_headers): prompt caching on/off, headers
    # added to every request (ANTHROPIC_CUSTOM_HEADERS, settings customHeaders) and ANTHROPIC_BETAS.
    prompt_caching = True
    extra_headers: Tuple[Tuple[str, str], ...] = ()
    extra_betas: Tuple[str, ...] = ()
    sends_thinking = False  # the wire format has extended thinking (Anthropic)

    def __init__(
        self,
        *,
        model: ModelInfo,
        base_url: str,
        auth: AuthSource,
        net_config: Any = None,
        http: Any = None,
        retry: Optional[RetryPolicy] = None,
        api_timeout: float = DEFAULT_API_TIMEOUT,
        idle_timeout: Optional[float] = None,
    ) -> None:
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.retry = retry or RetryPolicy()
        self.api_timeout = api_timeout
        self._net_config = net_config
        self._http = http
        self._own_http = http is None
        self.idle_timeout = idle_timeout
        self.last_request_id: Optional[str] = None
        self.fallback: Optional["Provider"] = None  # --fallback-model; closed with this provider

    # -- public API ---------------------------------------------------------------------------------

    def max_tokens_for(self, request: ModelRequest) -> int:
        """The request's max_tokens (clamped to a known model's output limit), else the registry default."""
        if not request.max_tokens:
            return self.model.default_max_tokens
        if self.model.known:
            return min(request.max_tokens, self.model.max_output_tokens)
        return request.max_tokens

    def chain(self) -> List[str]:
        """The model ids of this provider and its fallbacks, in the order they are tried."""
        out, current = [], self
        while current is not None and current.model.id not in out:
            out.append(current.model.id)
            current = current.fallback
        return out

    def shaped(self, request: ModelRequest) -> Tuple[ModelRequest, int]:
        """The request as this model gets it, and its max_tokens: thinking and effort adapted to the model
        (claw.api.thinking, claw.api.effort); nothing of either for a wire format without them."""
        max_tokens = self.max_tokens_for(request)
        if not (request.thinking or request.effort):
            return request, max_tokens
        if not self.sends_thinking:
            return replace(request, thinking=None, effort=None), max_tokens
        from claw.api.effort import effort_for
        from claw.api.thinking import for_model

        info = self.model
        thinking, max_tokens, betas = for_model(request.thinking, max_tokens, model_thinking=info.thinking,
                                                known=info.known, max_output=info.max_output_tokens)
        effort, effort_betas = effort_for(request.effort, supported=info.effort, known=info.known)
        extra = tuple(dict.fromkeys(b for b in betas + effort_betas if b not in request.betas))
        return replace(request, thinking=thinking, effort=effort, betas=tuple(request.betas) + extra), max_tokens

    def estimate(self, request: ModelRequest) -> TokenEstimate:
        """Preflight estimate (no network): prompt tokens, max_tokens, the window, and whether it fits."""
        request, max_tokens = self.shaped(request)
        body = self.build_body(request, max_tokens=max_tokens, stream=True)
        data = _dumps(body)
        return estimate(body, max_tokens=max_tokens, context_window=self.model.context_window, body=data)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """The complete response (drains ``stream``)."""
        async for event in self.stream(request):
            if isinstance(event, MessageDone):
                return event.response
        raise ProviderError("the stream ended without a message", kind="empty_response")  # pragma: no cover

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        fallback = self.fallback
        if fallback is not None and request.model != self.model.id and request.model in fallback.chain():
            async for event in fallback.stream(request):  # a turn that fell back keeps its fallback
                yield event
            return
        original = request
        request, max_tokens = self.shaped(request)
        body = self.build_body(request, max_tokens=max_tokens, stream=True)
        data = _dumps(body)
        est = estimate(body, max_tokens=max_tokens, context_window=self.model.context_window, body=data)
        check(est, model=self.model.id)

        policy = self.retry
        state = Attempts(allowances(policy.max_retries, fallback=fallback is not None))
        while True:
            outcome = AttemptOutcome()
            attempt = self._attempt(request, data if state.streaming else None, max_tokens)
            try:
                async for item in attempt:
                    if isinstance(item, AttemptOutcome):
                        outcome = item
                    else:
                        yield item
            finally:
                await attempt.aclose()  # a caller that stops early closes the response now
            failure = outcome.error
            retryable = failure is not None and policy.error_retryable(failure, outcome.headers)
            kind = outcome_kind(outcome, retryable=retryable, refreshable=self.auth.refreshable)
            action = next_action(kind, state)
            counted = state.counted
            allowance = ALLOWANCE_OF.get(action)
            if allowance is not None:
                state.spend(allowance)

            if action == DELIVER:
                for ev in outcome.held_back:
                    yield ev
                yield MessageDone(outcome.response, outcome.last_raw)
                return
            assert failure is not None
            if action == RESEND_UNSTREAMED:
                continue
            if action == REFRESH:
                if await self.auth.refresh():
                    continue
                raise failure
            if action in (RETRY, RETRY_SOON):
                soon = action == RETRY_SOON
                delay = QUICK_RETRY_DELAY if soon else policy.delay(counted - 1, outcome.headers)
                yield RetryScheduled(
                    attempt=counted + 1,
                    max_attempts=counted + 1 if soon else policy.max_attempts,
                    delay=delay,
                    reason=retry_reason(failure),
                    failure_class=failure.failure_class,
                    status=failure.status,
                    request_id=failure.request_id,
                )
                await policy.sleep(delay)
                continue
            if action == GIVE_UP:
                raise retries_exhausted(failure, counted, self.last_request_id, url=self.base_url)
            if action == FALL_BACK:
                assert fallback is not None
                overloaded = kind == "overloaded"
                yield ModelFallback(original_model=self.model.id, fallback_model=fallback.model.id,
                                    trigger="overloaded" if overloaded else "model_not_found",
                                    reason=retry_reason(failure) if overloaded else f"{failure.status} model not found")
                async for event in fallback.stream(replace(original, model=fallback.model.id)):
                    yield event
                return
            raise failure  # RAISE: permanent, or content already reached the caller

    async def _attempt(self, request: ModelRequest, streamed_body: Optional[bytes],
                       max_tokens: int) -> AsyncIterator[Union[StreamEvent, AttemptOutcome]]:
        """One request: yields the events the caller may see now, then one ``AttemptOutcome``.

        Events are held back until the first content block starts; after that they go to the caller as
        they come and a failure is marked ``delivered``. ``streamed_body``: the streamed request's body,
        or None to ask without streaming. Cancellation and errors that are not ClawErrors propagate.
        """
        streaming = streamed_body is not None
        acc = MessageAccumulator(provider=self.label)
        outcome = AttemptOutcome()
        response = None
        try:
            payload = streamed_body if streamed_body is not None else _dumps(
                self.build_body(request, max_tokens=max_tokens, stream=False))
            response = await self._send(request, payload, streaming)
            acc.request_id = outcome.request_id = request_id_of(response.headers)
            self.last_request_id = acc.request_id or self.last_request_id
            ctype = (response.header("content-type") or "").lower()
            if streaming and not ctype.startswith("application/json"):
                source = self._stream_events(response, self.stream_translator())
            else:  # not streamed, or a gateway that answered stream: true with a whole message
                source = self._replay(response)
            async for raw in source:
                events = acc.feed(raw)
                if raw.get("type") == "message_stop":
                    outcome.last_raw = raw
                if not events:
                    continue
                if acc.content_started:
                    outcome.delivered = True
                    held, outcome.held_back = outcome.held_back, []
                    for ev in held:
                        yield ev
                    for ev in events:
                        yield ev
                else:
                    outcome.held_back.extend(events)
            outcome.response = acc.finish()
        except EmptyStream:
            outcome.empty = True
            outcome.error = ProviderError(
                f"{self.label} returned an empty response, streamed and not streamed",
                hint="the endpoint answered without any message; check the base URL and the model name",
                kind="empty_response",
                failure_class="provider_internal",
                request_id=acc.request_id,
                retryable=True,
            )
        except _HttpFailure as exc:
            outcome.error, outcome.headers = exc.error, exc.headers
            outcome.request_id = exc.error.request_id
        except ClawError as exc:
            if exc.request_id is None:
                exc.request_id = acc.request_id
            outcome.error = exc
            outcome.delivered = acc.content_started
        finally:
            await _close(response)
        failure = outcome.error
        if failure is not None:
            self.last_request_id = failure.request_id or self.last_request_id
            if failure.failure_class == "context_window" and getattr(failure, "model", None) is None:
                failure.model = self.model.id  # type: ignore[attr-defined]  # for the CLI's recovery block
        yield outcome

    async def aclose(self) -> None:
        fallback, self.fallback = self.fallback, None
        if fallback is not None:
            await fallback.aclose()
        if self._http is not None and self._own_http:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> "Provider":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- engine -------------------------------------------------------------------------------------

    def _client(self) -> Any:
        if self._http is None:
            from claw.net.http import HttpClient

            if self._net_config is None:
                from claw.net.config import NetConfig

                self._net_config = NetConfig.from_env()
            self._http = HttpClient(self._net_config, user_agent=user_agent(self.name))
            self._own_http = True
        return self._http

    async def _send(self, request: ModelRequest, payload: bytes, streaming: bool) -> Any:
        from claw.net.http import Timeouts

        url = self.request_url(streaming)
        headers = await self.request_headers(request, streaming, url, payload)
        if streaming:
            timeouts = Timeouts(read=self.idle_timeout)
        else:
            timeouts = Timeouts(read=self.api_timeout, total=self.api_timeout)
        response = await self._client().request("POST", url, headers=headers, body=payload, timeouts=timeouts)
        if response.status >= 400:
            request_id = request_id_of(response.headers)
            try:
                body = await _read_limited(response, MAX_ERROR_BODY)
            except NetworkError:
                body = b""
            finally:
                await response.aclose()
            raise _HttpFailure(self.http_error(response.status, body, response.headers, request_id), response.headers)
        return response

    # What the cloud providers (claw.api.bedrock, claw.api.vertex) change about sending a request.
    def request_url(self, streaming: bool) -> str:
        return self.endpoint()

    async def request_headers(self, request: ModelRequest, streaming: bool, url: str,
                              payload: bytes) -> List[Tuple[str, str]]:
        return await self.build_headers(request, streaming)

    def http_error(self, status: int, body: bytes, headers: Any, request_id: Optional[str]) -> ClawError:
        return classify_http_error(status, body, headers=headers, request_id=request_id, provider=self.label)

    async def _stream_events(self, response: Any, translator: "StreamTranslator") -> AsyncIterator[Dict[str, Any]]:
        """Anthropic event dicts from the streamed body."""
        from claw.proto.sse import SSEDecoder

        decoder = SSEDecoder()
        translate = translator.feed
        async for chunk in response.iter_bytes():
            for sse in decoder.feed(chunk):
                for raw in translate(sse.event, sse.data):
                    yield raw
        tail = decoder.close()
        for sse in tail or ():
            for raw in translate(sse.event, sse.data):
                yield raw
        for raw in translator.finish():
            yield raw

    async def _replay(self, response: Any) -> AsyncIterator[Dict[str, Any]]:
        """Anthropic event dicts for a non-streamed response."""
        data = await response.read()
        try:
            message = json.loads(data.decode("utf-8")) if data.strip() else None
        except ValueError:
            raise NetworkError(f"{self.label} sent a response that is not JSON", kind="protocol",
                               retryable=True) from None
        if not isinstance(message, dict):
            return
        for raw in self.events_from_response(message):
            yield raw

    # -- hooks for subclasses -----------------------------------------------------------------------

    def endpoint(self) -> str:
        raise NotImplementedError

    def build_body(self, request: ModelRequest, *, max_tokens: int, stream: bool) -> Dict[str, Any]:
        raise NotImplementedError

    async def build_headers(self, request: ModelRequest, streaming: bool) -> List[Tuple[str, str]]:
        raise NotImplementedError

    def stream_translator(self) -> "StreamTranslator":
        """A fresh translator (one per attempt) from SSE events to Anthropic event dicts."""
        raise NotImplementedError

    def events_from_response(self, message: Dict[str, Any]) -> List[Dict[str, Any]]:
        raise NotImplementedError


class StreamTranslator:
    """SSE events of one response in, Anthropic event dicts out."""

    def __init__(self, label: str) -> None:
        self.label = label

    def feed(self, event: str, data: str) -> List[Dict[str, Any]]:
        raise NotImplementedError

    def finish(self) -> List[Dict[str, Any]]:
        return []

    def parse(self, data: str) -> Any:
        try:
            return json.loads(data)
        except ValueError:
            shown = data if len(data) <= 120 else data[:120] + "..."
            raise NetworkError(f"{self.label} sent a stream event that is not JSON: {shown!r}",
                               kind="protocol", retryable=True) from None


def _dumps(body: Dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def _read_limited(response: Any, limit: int) -> bytes:
    parts: List[bytes] = []
    size = 0
    async for chunk in response.iter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(parts)[:limit]


async def _close(response: Any) -> None:
    if response is not None:
        try:
            await response.aclose()
        except Exception:
            pass
