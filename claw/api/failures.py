"""Classify provider failures into claw's failure classes, with one-line messages and recovery hints.

Pure functions from what a provider said (HTTP status, headers, error body, an ``event: error`` payload)
to a ``claw.errors.ProviderError`` whose ``kind``, ``failure_class``, ``status``, ``request_id`` and
``retryable`` are set per instance. Also: recognising context-window errors in whatever words a provider
or gateway uses, and the "retries exhausted" wrapper. How a failure reads on a terminal is
claw.cli.errors' business.

Nothing here does I/O or prints. Messages never contain secrets: error bodies are cut short and only
their ``message`` text is used.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping, Optional, Tuple

from claw.errors import ClawError, NetworkError, ProviderError

CONTEXT_WINDOW_HINT = (
    "the conversation is larger than the model's context window: run /compact, "
    "or `claw --resume {session}` then /compact, or start a fresh session"
)
REQUEST_SIZE_HINT = (
    "the request body is too large (often big images or files in the conversation): "
    "remove attachments, run /compact, or start a fresh session"
)
AUTH_HINT = (
    "check ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN (or the key of the provider in use), "
    "or sign in again with `claw login`"
)
RATE_LIMIT_HINT = (
    "the provider is rate-limiting this key: wait a minute and retry, lower parallel use, "
    "or raise CLAW_MAX_RETRIES"
)
OVERLOADED_HINT = "the provider is overloaded: try again in a little while, or pick another model with --model"
INTERNAL_HINT = "a failure on the provider's side: try again; if it persists, quote the request id to the provider"
TRANSPORT_HINT = (
    "the connection to the provider failed or stalled: check the network, HTTPS_PROXY/NO_PROXY, "
    "and CLAW_STREAM_IDLE_TIMEOUT / CLAW_API_TIMEOUT"
)
INVALID_REQUEST_HINT = "the provider rejected the request as sent; check --model and the settings in use"

# Phrases providers and gateways use for "the prompt does not fit" (lower-case substrings).
CONTEXT_WINDOW_PATTERNS = (
    "prompt is too long",
    "maximum context length",
    "context window",
    "context length",
    "context_length_exceeded",
    "too many tokens",
    "input is too long",
    "input too long",
    "exceeds the context",
    "exceed context limit",
    "exceeds context limit",
    "reduce the length of the messages",
    "reduce the length of the prompt",
    "maximum prompt length",
    "tokens exceeds the model",
    "token limit",
    "string too long",
)

GENERIC_WRAPPER_PATTERNS = (
    "something went wrong while processing your request",
    "internal server error",
    "an unexpected error occurred",
    "internal error",
)

_ANTHROPIC_TYPES = {
    # error.type -> (kind, failure_class, retryable)
    "authentication_error": ("authentication_error", "provider_auth", False),
    "permission_error": ("permission_error", "provider_auth", False),
    "rate_limit_error": ("rate_limit", "provider_rate_limit", True),
    "overloaded_error": ("overloaded", "provider_overloaded", True),
    "api_error": ("api_error", "provider_internal", True),
    "timeout_error": ("timeout", "provider_transport", True),
    "request_too_large": ("request_too_large", "request_size", False),
    "not_found_error": ("not_found", "provider_error", False),
    "invalid_request_error": ("invalid_request", "provider_error", False),
    "billing_error": ("billing_error", "provider_auth", False),
    "insufficient_quota": ("insufficient_quota", "provider_rate_limit", False),
}

_STATUS_CLASSES = {
    400: ("invalid_request", "provider_error", False),
    401: ("authentication_error", "provider_auth", False),
    402: ("billing_error", "provider_auth", False),
    403: ("permission_error", "provider_auth", False),
    404: ("not_found", "provider_error", False),
    408: ("timeout", "provider_transport", True),
    409: ("conflict", "provider_error", True),
    413: ("request_too_large", "request_size", False),
    422: ("invalid_request", "provider_error", False),
    429: ("rate_limit", "provider_rate_limit", True),
    500: ("api_error", "provider_internal", True),
    502: ("bad_gateway", "provider_internal", True),
    503: ("overloaded", "provider_overloaded", True),
    504: ("gateway_timeout", "provider_internal", True),
    529: ("overloaded", "provider_overloaded", True),
}

HINTS = {
    "provider_auth": AUTH_HINT,
    "provider_rate_limit": RATE_LIMIT_HINT,
    "provider_overloaded": OVERLOADED_HINT,
    "provider_internal": INTERNAL_HINT,
    "provider_transport": TRANSPORT_HINT,
    "provider_error": INVALID_REQUEST_HINT,
    "context_window": CONTEXT_WINDOW_HINT.format(session="<session-id>"),
    "request_size": REQUEST_SIZE_HINT,
}

_REASONS = {
    "provider_rate_limit": "rate limit",
    "provider_overloaded": "overloaded",
    "provider_internal": "server error",
}

MAX_MESSAGE = 300


def is_context_window_message(text: str) -> bool:
    low = text.lower()
    return any(p in low for p in CONTEXT_WINDOW_PATTERNS)


def context_window_error(message: str, *, request_id: Optional[str] = None,
                         status: Optional[int] = None, model: Optional[str] = None,
                         estimate: Optional[int] = None, window: Optional[int] = None,
                         reserved: Optional[int] = None) -> ProviderError:
    """The ``context_window`` ProviderError. Besides the ClawError fields it always carries ``model``,
    ``estimate`` (prompt tokens: claw's estimate, or the provider's count), ``window`` (the context
    window in tokens) and ``reserved`` (tokens asked for the answer), each None when unknown, for the
    CLI's recovery block. When not given, ``estimate``/``window`` are read from provider wording such
    as "prompt is too long: 212345 tokens > 200000 maximum"."""
    if estimate is None and window is None:
        estimate, window = token_counts_in(message)
    err = ProviderError(
        message,
        hint=HINTS["context_window"],
        kind="context_window",
        failure_class="context_window",
        request_id=request_id,
        status=status,
        retryable=False,
    )
    err.model = model  # type: ignore[attr-defined]
    err.estimate = estimate  # type: ignore[attr-defined]
    err.window = window  # type: ignore[attr-defined]
    err.reserved = reserved  # type: ignore[attr-defined]
    return err


# "212345 tokens > 200000 maximum" (Anthropic); "maximum context length is 128000 tokens. However, your
# messages resulted in 130512 tokens" (OpenAI and compatible servers).
_COUNT_PAIR = re.compile(r"(\d[\d,]*)\s*tokens?\s*>\s*(\d[\d,]*)")
_OPENAI_MAX = re.compile(r"maximum context length is (\d[\d,]*)", re.IGNORECASE)
_OPENAI_USED = re.compile(r"resulted in (\d[\d,]*) tokens", re.IGNORECASE)


def token_counts_in(message: str) -> Tuple[Optional[int], Optional[int]]:
    """``(prompt tokens, context window)`` as a provider's context-window message states them."""
    pair = _COUNT_PAIR.search(message)
    if pair:
        return _int(pair.group(1)), _int(pair.group(2))
    window = _OPENAI_MAX.search(message)
    used = _OPENAI_USED.search(message)
    return (_int(used.group(1)) if used else None), (_int(window.group(1)) if window else None)


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def parse_error_body(body: bytes) -> Tuple[Optional[str], str]:
    """(error type, message) from an Anthropic or OpenAI error body; the raw text cut short otherwise."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            etype = err.get("type") or err.get("code")
            message = err.get("message") or err.get("detail") or ""
            if not isinstance(message, str):
                message = json.dumps(message)[:MAX_MESSAGE]
            code = err.get("code")
            if isinstance(code, str) and code not in (etype or ""):
                message = f"{message} ({code})" if message else code
            return (etype if isinstance(etype, str) else None), _one_line(message)
        if isinstance(err, str):
            return None, _one_line(err)
    return None, _one_line(_strip_html(text))


def classify_http_error(
    status: int,
    body: bytes,
    *,
    headers: Iterable[Tuple[str, str]] = (),
    request_id: Optional[str] = None,
    provider: str = "provider",
) -> ProviderError:
    """The ProviderError for an HTTP error response."""
    etype, message = parse_error_body(body)
    if status in (400, 413, 422) and (is_context_window_message(message) or etype == "context_length_exceeded"):
        return context_window_error(
            f"{provider} says the prompt is too long ({status}): {message or 'context window exceeded'}",
            request_id=request_id,
            status=status,
        )
    kind, failure_class, retryable = _STATUS_CLASSES.get(
        status,
        ("api_error", "provider_internal", True) if status >= 500 else ("http_error", "provider_error", False),
    )
    if etype in _ANTHROPIC_TYPES and not (etype == "api_error" and status >= 500):
        t_kind, t_class, t_retry = _ANTHROPIC_TYPES[etype]
        # The status decides retryability (a 400 never becomes retryable); a specific error type
        # refines the class (the generic api_error leaves a 5xx status's own class alone).
        if not (status < 500 and t_retry and not retryable):
            kind, failure_class = t_kind, t_class
    if failure_class == "provider_internal" and status >= 500:
        if not message or any(p in message.lower() for p in GENERIC_WRAPPER_PATTERNS):
            kind = "internal_error"
    summary = message or _default_message(status)
    text = f"{provider} returned {status}"
    reason = _REASONS.get(failure_class)
    if reason and reason not in summary.lower():
        text += f" ({reason})"
    text += f": {summary}"
    return ProviderError(
        text,
        hint=HINTS.get(failure_class),
        kind=kind,
        failure_class=failure_class,
        request_id=request_id,
        status=status,
        retryable=retryable,
    )


def classify_stream_error(payload: Mapping[str, Any], *, request_id: Optional[str] = None,
                          provider: str = "provider") -> ProviderError:
    """The ProviderError for an ``event: error`` (or an OpenAI-style ``{"error": ...}`` chunk) mid-stream."""
    err = payload.get("error", payload)
    etype = None
    message = ""
    if isinstance(err, Mapping):
        etype = err.get("type") or err.get("code")
        message = _one_line(str(err.get("message") or ""))
    elif isinstance(err, str):
        message = _one_line(err)
    if is_context_window_message(message) or etype == "context_length_exceeded":
        return context_window_error(f"{provider} says the prompt is too long: {message}", request_id=request_id)
    kind, failure_class, retryable = _ANTHROPIC_TYPES.get(
        etype if isinstance(etype, str) else "", ("stream_error", "provider_error", False)
    )
    if failure_class == "provider_internal" and (
        not message or any(p in message.lower() for p in GENERIC_WRAPPER_PATTERNS)
    ):
        kind = "internal_error"
    label = etype if isinstance(etype, str) and etype else "error"
    return ProviderError(
        f"{provider} stream failed ({label}): {message or 'no message'}",
        hint=HINTS.get(failure_class),
        kind=kind,
        failure_class=failure_class,
        request_id=request_id,
        retryable=retryable,
    )


def retry_reason(error: ClawError) -> str:
    """A short reason for 'retrying in 2.0 s (reason)'."""
    if error.status is not None:
        reason = _REASONS.get(error.failure_class)
        return f"{error.status} {reason}" if reason else str(error.status)
    if isinstance(error, NetworkError):
        return {"timeout": "timed out", "connect": "connection failed", "closed": "connection closed"}.get(
            error.kind, error.kind
        )
    return error.kind.replace("_", " ")


def local_refusal(error: ClawError) -> bool:
    """A connection refused by a loopback or private address (a local model server, a proxy on this
    machine or network that is not running): trying again in a few seconds will not help."""
    host = getattr(error, "refused_host", None)
    return isinstance(error, NetworkError) and isinstance(host, str) and is_private_host(host)


def is_private_host(host: str) -> bool:
    """``localhost`` (and ``*.localhost``) or a literal loopback, RFC 1918, link-local or unique-local
    (fc00::/7) address. Other host names are not resolved here: they count as remote."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    import ipaddress

    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(net) for net in _LOCAL_NETWORKS
               if ipaddress.ip_network(net).version == address.version)


# Loopback, RFC 1918, link-local, unique-local (not the documentation and other special ranges
# Python's ``is_private`` also counts).
_LOCAL_NETWORKS = ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
                   "::1/128", "fc00::/7", "fe80::/10")


def server_down_hint(base_url: str) -> str:
    """The hint of a refused local connection, naming the URL (without any user:password@)."""
    scheme, sep, rest = base_url.partition("://")
    if sep:
        authority, slash, path = rest.partition("/")
        base_url = f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"
    return (f"is the server running at {base_url}? Start it, or point the base URL "
            "(ANTHROPIC_BASE_URL / OPENAI_BASE_URL / OLLAMA_HOST) at one that is")


def retries_exhausted(last: ClawError, attempts: int, request_id: Optional[str] = None, *,
                      url: Optional[str] = None) -> ProviderError:
    """After the last attempt failed: kind retries_exhausted, the last error's class, status and request id.
    ``url``: the provider's base URL, named in the hint when a local server refused the connection."""
    hint = last.hint or HINTS.get(last.failure_class)
    if url and local_refusal(last) and not getattr(last, "via_proxy", False):
        hint = server_down_hint(url)
    err = ProviderError(
        f"gave up after {attempts} attempt{'s' if attempts != 1 else ''}: {last.message}",
        hint=hint,
        kind="retries_exhausted",
        failure_class=last.failure_class,
        request_id=last.request_id or request_id,
        status=last.status,
        retryable=False,
    )
    err.__cause__ = last
    return err



def _default_message(status: int) -> str:
    return {
        401: "authentication failed",
        403: "permission denied",
        404: "not found (check the model name and the base URL)",
        408: "request timeout",
        413: "request too large",
        429: "too many requests",
        500: "internal server error",
        502: "bad gateway",
        503: "service unavailable",
        504: "gateway timeout",
        529: "overloaded",
    }.get(status, "no error message")


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


_TAG = re.compile(r"<[^>]+>")


def _strip_html(text: str) -> str:
    if "<" in text and ">" in text:
        return _TAG.sub(" ", text)
    return text
