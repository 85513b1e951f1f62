"""Amazon Bedrock's error shapes mapped to claw's failure classes.

Bedrock names a failure by an exception type: in an HTTP error response the ``x-amzn-ErrorType`` header
(``ThrottlingException:http://internal.amazon.com/...``) and a JSON body ``{"message": ...}``; in the
middle of an event stream an ``:message-type: exception`` frame with ``:exception-type``
(``throttlingException``, ``modelStreamErrorException``, ...) and the same JSON payload. Both go through
``classify_bedrock`` so a throttled request reads and retries the same wherever it was refused:

  throttling, service unavailable        provider_overloaded, retryable (the retry table, then fallback)
  internal server, model stream error,
  model not ready                        provider_internal, retryable
  model timeout                          provider_transport, retryable
  validation                             provider_error (context_window when the text says so)
  access denied, unrecognized client,
  invalid signature, expired token       provider_auth (expired token: kind expired_credentials,
                                         which the provider answers by fetching credentials again)
  resource not found                     provider_error not_found (a model id: falls back)
  service quota exceeded                 provider_rate_limit, not retried
The request id is the ``x-amzn-RequestId`` header.

Nothing here does I/O.
"""

from __future__ import annotations

import json
from typing import Iterable, Optional, Tuple

from claw.api.failures import HINTS, context_window_error, is_context_window_message
from claw.errors import ProviderError

LABEL = "Amazon Bedrock"
AUTH_HINT = ("check the AWS credentials (`claw doctor` names their source and expiry), the region and the "
             "IAM permission bedrock:InvokeModelWithResponseStream for this model")
EXPIRED_HINT = "the AWS credentials expired: refresh them (e.g. `aws sso login`), or export new ones"

# exception name (lower-case, without "exception") -> (kind, failure_class, retryable)
_TYPES = {
    "throttling": ("throttling", "provider_overloaded", True),
    "serviceunavailable": ("overloaded", "provider_overloaded", True),
    "internalserver": ("api_error", "provider_internal", True),
    "modelstreamerror": ("model_stream_error", "provider_internal", True),
    "modelnotready": ("model_not_ready", "provider_internal", True),
    "modeltimeout": ("timeout", "provider_transport", True),
    "validation": ("invalid_request", "provider_error", False),
    "modelerror": ("model_error", "provider_error", False),
    "accessdenied": ("permission_error", "provider_auth", False),
    "unrecognizedclient": ("authentication_error", "provider_auth", False),
    "invalidsignature": ("authentication_error", "provider_auth", False),
    "incompletesignature": ("authentication_error", "provider_auth", False),
    "missingauthenticationtoken": ("authentication_error", "provider_auth", False),
    "expiredtoken": ("expired_credentials", "provider_auth", False),
    "resourcenotfound": ("not_found", "provider_error", False),
    "servicequotaexceeded": ("quota_exceeded", "provider_rate_limit", False),
}

_STATUS = {
    400: ("invalid_request", "provider_error", False),
    401: ("authentication_error", "provider_auth", False),
    403: ("permission_error", "provider_auth", False),
    404: ("not_found", "provider_error", False),
    408: ("timeout", "provider_transport", True),
    424: ("model_error", "provider_error", False),
    429: ("throttling", "provider_overloaded", True),
    500: ("api_error", "provider_internal", True),
    503: ("overloaded", "provider_overloaded", True),
}


def exception_key(name: str) -> str:
    """``ThrottlingException:http://...`` / ``throttlingException`` -> ``throttling``."""
    base = name.split(":", 1)[0].strip().rsplit("#", 1)[-1].lower()
    return base[: -len("exception")] if base.endswith("exception") else base


def message_of(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("message", "Message", "errorMessage"):
            if isinstance(data.get(key), str):
                return " ".join(data[key].split())[:500]
    return " ".join(text.split())[:300]


def classify_bedrock(exception: Optional[str], message: str, *, status: Optional[int] = None,
                     request_id: Optional[str] = None, label: str = LABEL) -> ProviderError:
    key = exception_key(exception) if exception else ""
    if key == "validation" and is_context_window_message(message):
        return context_window_error(f"{label} says the prompt is too long: {message}", request_id=request_id,
                                    status=status)
    if key in _TYPES:
        kind, failure_class, retryable = _TYPES[key]
    elif status is not None:
        kind, failure_class, retryable = _STATUS.get(
            status, ("api_error", "provider_internal", True) if status >= 500 else ("http_error", "provider_error", False))
    else:
        kind, failure_class, retryable = ("stream_error", "provider_error", False)
    if "expired" in message.lower() and failure_class == "provider_auth":
        kind = "expired_credentials"
    name = exception.split(":", 1)[0] if exception else None
    where = f"returned {status}" if status is not None else "stream failed"
    text = f"{label} {where}" + (f" ({name})" if name else "") + f": {message or 'no message'}"
    hint = EXPIRED_HINT if kind == "expired_credentials" else AUTH_HINT if failure_class == "provider_auth" \
        else HINTS.get(failure_class)
    return ProviderError(text, hint=hint, kind=kind, failure_class=failure_class, request_id=request_id,
                         status=status, retryable=retryable)


def classify_http(status: int, body: bytes, headers: Iterable[Tuple[str, str]], *,
                  request_id: Optional[str] = None, label: str = LABEL) -> ProviderError:
    etype = None
    for name, value in headers:
        if name.lower() == "x-amzn-errortype":
            etype = value
            break
    if etype is None:
        text = body.decode("utf-8", "replace")
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("__type"), str):
            etype = data["__type"]
    return classify_bedrock(etype, message_of(body), status=status, request_id=request_id, label=label)
