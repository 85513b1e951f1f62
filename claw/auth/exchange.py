"""Send one token-endpoint request through claw.net and parse the answer.

The only place the auth package does HTTP: a ``TokenRequest`` (claw.auth.oauth) is POSTed with
``claw.net.http.HttpClient`` built from the run's ``NetConfig``, so HTTPS_PROXY/NO_PROXY, the CA
rules and the timeouts apply to OAuth exactly as to the model API. Redirects are not followed (a token
endpoint must not redirect). Transport failures keep their ``NetworkError`` kind and retryability,
with the token endpoint named in the message.

Deliberately not here: deciding when to refresh (claw.auth.refresh), files, printing.
"""

from __future__ import annotations

import time
from typing import Any, Optional, Tuple

from claw.auth.oauth import TokenRequest, TokenSet, parse_token_response
from claw.errors import NetworkError

MAX_BODY = 256 * 1024
TOTAL_TIMEOUT = 60.0


def now_ms() -> int:
    return int(time.time() * 1000)


async def post(request: TokenRequest, *, net_config: Any, http: Any = None) -> Tuple[int, bytes]:
    """(status, body) of the POST; ``http`` is an open HttpClient to reuse, else one is made."""
    from claw.net.http import HttpClient, Timeouts

    own = http is None
    if own:
        http = HttpClient(net_config)
    try:
        try:
            response = await http.request("POST", request.url, headers=list(request.headers), body=request.body,
                                          timeouts=Timeouts(total=TOTAL_TIMEOUT))
            try:
                body = b""
                async for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY:
                        break
                return response.status, body[:MAX_BODY]
            finally:
                await response.aclose()
        except NetworkError as exc:
            raise NetworkError(f"token endpoint {_origin(request.url)}: {exc.message}", hint=exc.hint,
                               kind=exc.kind, retryable=exc.retryable) from None
    finally:
        if own:
            await http.aclose()


async def request_tokens(request: TokenRequest, *, net_config: Any, http: Any = None,
                         requested_scopes: Tuple[str, ...] = (), previous: Optional[TokenSet] = None,
                         what: str = "token request") -> TokenSet:
    status, body = await post(request, net_config=net_config, http=http)
    return parse_token_response(status, body, now_ms=now_ms(), requested_scopes=requested_scopes,
                                previous=previous, what=what)


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
