"""The ``web_search`` tool: query a configured search backend and list the results.

Input (docs/TOOLS.md): ``query``, ``allowed_domains?``, ``blocked_domains?`` (a result is kept when its host
is, or is below, an allowed domain — if any are given — and is not below a blocked one).

Backend: ``ctx.web_search_url`` or ``CLAW_WEB_SEARCH_URL`` in the tool environment: a SearXNG-compatible
JSON endpoint (``https://searx.example/search``: claw adds ``q=<query>&format=json``), or any URL with a
``{query}`` placeholder returning JSON. Results are read from ``results`` (SearXNG), ``web.results``
(Brave-style), ``items`` or a top-level list; each item's ``url``/``link``/``href``, ``title``/``name``
and ``content``/``snippet``/``description``. Requests go through claw's network stack (proxies apply).

With no backend configured, or one that cannot be reached or answers garbage, the result is an error
saying what to set. There is no built-in search provider: claw makes no request to anything the user
did not configure.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping
from urllib.parse import quote_plus, urlsplit

from claw.tools.base import PermissionLevel, Tool, ToolContext, ToolInputError, ToolResult, ToolSpec
from claw.tools.schema import check_input
from claw.tools.web_common import content_type, host_in_domains, http_client, read_limited

MAX_RESULTS = 10
MAX_SNIPPET = 300
MAX_BYTES = 2 * 1024 * 1024
TOTAL_TIMEOUT = 30.0
HOW_TO_CONFIGURE = (
    "Set CLAW_WEB_SEARCH_URL (in the environment or the settings' env) to a SearXNG-compatible JSON "
    "search endpoint, e.g. https://searx.example.org/search (claw adds q=...&format=json), or to a URL "
    "containing {query} that returns JSON results."
)

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 2, "description": "The search query."},
        "allowed_domains": {"type": "array", "items": {"type": "string"},
                            "description": "Only return results from these domains (and their subdomains)."},
        "blocked_domains": {"type": "array", "items": {"type": "string"},
                            "description": "Never return results from these domains (and their subdomains)."},
    },
    "required": ["query"],
    "additionalProperties": False,
}


class WebSearchTool(Tool):
    spec = ToolSpec(
        name="web_search",
        description=(
            "Search the web through the configured search backend and return titles, URLs and snippets. "
            "Filter with allowed_domains / blocked_domains. Use web_fetch to read a result."
        ),
        input_schema=SCHEMA,
        permission=PermissionLevel.READ_ONLY,
        read_only=True,
    )

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        data = check_input(SCHEMA, tool_input)
        if not data["query"].strip():
            raise ToolInputError("'query' must not be blank")
        return data

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        from claw.errors import ClawError

        backend = (ctx.web_search_url or ctx.env.get("CLAW_WEB_SEARCH_URL") or "").strip()
        if not backend:
            return ToolResult.error("web_search has no search backend configured. " + HOW_TO_CONFIGURE)
        query = tool_input["query"].strip()
        url = search_url(backend, query)
        try:
            async with http_client(ctx) as client:
                items = await _request(client, url)
        except ClawError as exc:
            hint = f" ({exc.hint})" if exc.hint else ""
            return ToolResult.error(
                f"The search backend {_origin(backend)} could not be reached: {exc.message}{hint}. "
                + HOW_TO_CONFIGURE
            )
        except _BackendError as exc:
            return ToolResult.error(f"The search backend {_origin(backend)} {exc}. " + HOW_TO_CONFIGURE)
        except ValueError as exc:
            return ToolResult.error(f"CLAW_WEB_SEARCH_URL is not a usable URL: {exc}. " + HOW_TO_CONFIGURE)
        allowed = tool_input.get("allowed_domains") or []
        blocked = tool_input.get("blocked_domains") or []
        kept = []
        for item in items:
            host = (urlsplit(item["url"]).hostname or "").lower()
            if allowed and not host_in_domains(host, allowed):
                continue
            if blocked and host_in_domains(host, blocked):
                continue
            kept.append(item)
        if not kept:
            note = " after domain filtering" if items else ""
            return ToolResult(f'No results for "{query}"{note}.', metadata={"results": 0})
        lines = [f'Search results for "{query}":']
        for n, item in enumerate(kept[:MAX_RESULTS], 1):
            lines.append(f"{n}. {item['title'] or item['url']}")
            lines.append(f"   {item['url']}")
            if item["snippet"]:
                lines.append(f"   {item['snippet']}")
        return ToolResult("\n".join(lines), metadata={"results": min(len(kept), MAX_RESULTS)})


class _BackendError(Exception):
    pass


def search_url(backend: str, query: str) -> str:
    if "{query}" in backend:
        return backend.replace("{query}", quote_plus(query))
    sep = "&" if "?" in backend else "?"
    return f"{backend}{sep}q={quote_plus(query)}&format=json"


def _origin(backend: str) -> str:
    parts = urlsplit(backend)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else backend


async def _request(client: Any, url: str) -> List[Dict[str, str]]:
    import json

    from claw.net.http import Timeouts

    response = await client.request("GET", url, headers=[("accept", "application/json")],
                                    timeouts=Timeouts(total=TOTAL_TIMEOUT))
    try:
        body, _ = await read_limited(response, MAX_BYTES)
    finally:
        await response.aclose()
    if response.status >= 400:
        raise _BackendError(f"answered HTTP {response.status} {response.reason}".rstrip())
    media, charset = content_type(response)
    try:
        data = json.loads(body.decode(charset or "utf-8", "replace"))
    except ValueError:
        raise _BackendError(f"did not answer JSON (content type {media or 'unknown'})") from None
    return parse_results(data)


def parse_results(data: Any) -> List[Dict[str, str]]:
    """Normalise the common JSON result shapes into [{url, title, snippet}]."""
    raw: Any = None
    if isinstance(data, list):
        raw = data
    elif isinstance(data, dict):
        for path in (("results",), ("web", "results"), ("items",), ("organic_results",), ("data",)):
            node: Any = data
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, list):
                raw = node
                break
    if raw is None:
        raise _BackendError("answered JSON without a list of results")
    out = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        url = next((item[k] for k in ("url", "link", "href") if isinstance(item.get(k), str)), None)
        if not url or not url.startswith(("http://", "https://")):
            continue
        title = next((item[k] for k in ("title", "name") if isinstance(item.get(k), str)), "")
        snippet = next(
            (item[k] for k in ("content", "snippet", "description", "body") if isinstance(item.get(k), str)), ""
        )
        snippet = " ".join(snippet.split())
        if len(snippet) > MAX_SNIPPET:
            snippet = snippet[: MAX_SNIPPET - 1] + "…"
        out.append({"url": url, "title": " ".join(title.split()), "snippet": snippet})
    return out
