"""Bedrock's response event stream to Anthropic stream events.

Each ``claw.proto.eventstream.EventMessage`` of ``invoke-with-response-stream`` is one of:
  - ``:message-type: event``, ``:event-type: chunk``: JSON ``{"bytes": "<base64>"}`` whose decoded bytes
    are one Anthropic stream event (``message_start``, ``content_block_delta``, ...) — returned as is,
    for the same ``MessageAccumulator`` the Anthropic SSE path feeds;
  - ``:message-type: exception``: ``:exception-type`` names the failure, the payload's ``message`` says
    it — raised as the ProviderError of claw.api.bedrock_errors;
  - ``:message-type: error``: ``:error-code`` / ``:error-message`` headers — raised the same way.
Other event types are ignored. Nothing here does I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Dict, List, Optional

from claw.api.bedrock_errors import LABEL, classify_bedrock, message_of
from claw.errors import NetworkError
from claw.proto.eventstream import EventMessage


def events_of(message: EventMessage, *, request_id: Optional[str] = None, label: str = LABEL) -> List[Dict[str, Any]]:
    kind = message.header(":message-type") or "event"
    if kind == "exception":
        raise classify_bedrock(message.header(":exception-type") or "unknown", message_of(message.payload),
                               request_id=request_id, label=label)
    if kind == "error":
        raise classify_bedrock(message.header(":error-code") or "unknown",
                               message.header(":error-message") or message_of(message.payload),
                               request_id=request_id, label=label)
    if message.header(":event-type") != "chunk":
        return []
    try:
        wrapper = json.loads(message.payload.decode("utf-8"))
        data = base64.b64decode(wrapper["bytes"], validate=True)
        event = json.loads(data.decode("utf-8"))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, binascii.Error):
        raise NetworkError(f"{label} sent a chunk that is not base64 JSON", kind="protocol",
                           retryable=True) from None
    if not isinstance(event, dict):
        return []
    return [event]
