"""The ``web_fetch`` tool: GET a URL through claw's network stack and return readable text.

Input (docs/TOOLS.md): ``url``, ``prompt?``. ``http://`` is upgraded to ``https://`` except for loopback hosts
(or when ``CLAW_WEB_FETCH_ALLOW_HTTP=1`` is in the tool environment). Redirects: up to
``MAX_REDIRECTS`` on the same host (``www.`` added or removed counts as the same); a redirect to another
host is not followed but reported, so the model fetches the new URL in a call of its own that the
permission policy checks (``WebFetch(domain:...)`` rules). The body is read up to ``MAX_BYTES``; HTML is
converted to text (``html_text``), other text types are returned as they are, binary types refused.
The text is capped at ``MAX_TEXT_CHARS``.

``prompt``: as in Claude Code, the page text (capped at ``PROMPT_CHARS``) and the prompt go to a small,
fast model (``ToolContext.side_query``) and its answer is the result; its usage rides in the metadata
(``CHILD_OUTCOME``) into the run's totals. Without a side model, or when that call fails, the page is
returned with the prompt above it and a note. Errors (network, HTTP status, type) come back as error
results with the reason.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import urljoin, urlsplit, urlunsplit

from claw.tools.base import CHILD_OUTCOME, PermissionLevel, Tool, ToolContext, ToolInputError, ToolResult, ToolSpec
from claw.tools.schema import check_input
from claw.tools.web_common import (check_url, content_type, decode_body, http_client, is_loopback_host,
                                   read_limited)

MAX_REDIRECTS = 5
MAX_BYTES = 5 * 1024 * 1024
MAX_TEXT_CHARS = 100_000
TOTAL_TIMEOUT = 60.0
PROMPT_CHARS = 100_000
SIDE_SYSTEM = ("You answer a request about one web page using only its content below. Be concise and "
               "exact; quote code and figures verbatim; say so when the page does not answer it.")
TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "application/x-javascript",
              "application/ld+json", "application/rss+xml", "application/atom+xml", "application/xhtml+xml",
              "application/x-yaml", "application/yaml", "application/toml", "application/x-sh")

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "description": "The http(s) URL to fetch."},
        "prompt": {"type": "string", "description": "What to extract from the page: a small model "
                   "reads the page and answers it."},
    },
    "required": ["url"],
    "additionalProperties": False,
}


class WebFetchTool(Tool):
    spec = ToolSpec(
        name="web_fetch",
        description=(
            "Fetch a URL (http is upgraded to https) and return its content as text: HTML is converted to "
            f"readable text with links as [url]; with a prompt, a small model answers it from the page. At most {MAX_BYTES // (1024 * 1024)} MB are read. "
            "A redirect to another host is reported, not followed: fetch the new URL yourself."
        ),
        input_schema=SCHEMA,
        permission=PermissionLevel.READ_ONLY,
        read_only=True,
    )

    def validate(self, tool_input: Mapping[str, Any]) -> Dict[str, Any]:
        data = check_input(SCHEMA, tool_input)
        try:
            check_url(data["url"])
        except ValueError as exc:
            raise ToolInputError(str(exc)) from None
        return data

    async def run(self, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
        from claw.errors import ClawError

        url = _upgrade(tool_input["url"].strip(), ctx)
        try:
            async with http_client(ctx) as client:
                return await self._fetch(client, url, tool_input.get("prompt"), ctx)
        except ClawError as exc:
            hint = f" ({exc.hint})" if exc.hint else ""
            return ToolResult.error(f"Could not fetch {url}: {exc.message}{hint}", url=url)
        except ValueError as exc:
            return ToolResult.error(f"Could not fetch {url}: {exc}", url=url)

    async def _fetch(self, client: Any, url: str, prompt: Optional[str], ctx: ToolContext) -> ToolResult:
        from claw.net.http import Timeouts

        chain: List[str] = [url]
        for _ in range(MAX_REDIRECTS + 1):
            response = await client.request(
                "GET",
                url,
                headers=[("accept", "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.8")],
                timeouts=Timeouts(total=TOTAL_TIMEOUT),
            )
            try:
                if response.status in (301, 302, 303, 307, 308) and response.header("location"):
                    target = urljoin(url, response.header("location") or "")
                    check_url(target)
                    target = _upgrade(target, ctx)
                    if not _same_site(url, target):
                        return ToolResult(
                            f"{url} redirects to a different host: {target}\n"
                            f"(HTTP {response.status}). To read it, call web_fetch with that URL.",
                            metadata={"url": url, "status": response.status, "redirect": target},
                        )
                    url = target
                    chain.append(url)
                    continue
                return await self._answer(response, url, chain, prompt, ctx)
            finally:
                await response.aclose()
        return ToolResult.error(
            f"Too many redirects (more than {MAX_REDIRECTS}) starting at {chain[0]}: " + " -> ".join(chain),
            url=chain[0],
        )

    async def _answer(self, response: Any, url: str, chain: List[str], prompt: Optional[str],
                      ctx: ToolContext) -> ToolResult:
        from claw.tools.html_text import html_to_text

        media, charset = content_type(response)
        if not (media.startswith("text/") or media in TEXT_TYPES or media.endswith(("+json", "+xml"))
                or media == ""):
            size = response.header("content-length")
            return ToolResult.error(
                f"{url} returned {media or 'an unknown type'}"
                + (f" ({size} bytes)" if size else "")
                + ", which web_fetch does not convert to text.",
                url=url, status=response.status, content_type=media,
            )
        body, truncated = await read_limited(response, MAX_BYTES)
        title = None
        sniff = body[:2048].lower()
        is_html = media in ("text/html", "application/xhtml+xml") or (
            media == "" and (b"<html" in sniff or b"<!doctype html" in sniff)
        )
        if is_html:
            title, text = html_to_text(decode_body(body, charset, html=True), url)
        else:
            text = decode_body(body, charset)
        notes = []
        if truncated:
            notes.append(f"[only the first {MAX_BYTES:,} bytes were read]")
        if len(text) > MAX_TEXT_CHARS:
            notes.append(f"[text truncated: {len(text) - MAX_TEXT_CHARS:,} more characters not shown]")
            text = text[:MAX_TEXT_CHARS]
        head = [f"URL: {url}"]
        if len(chain) > 1:
            head.append(f"Redirected from: {chain[0]}")
        head.append(f"Status: {response.status} {response.reason}".rstrip())
        if media:
            head.append(f"Content-Type: {media}")
        if title:
            head.append(f"Title: {title}")
        meta = {"url": url, "status": response.status, "content_type": media, "bytes": len(body)}
        note = "no model to apply it here"
        if prompt and response.status < 400 and ctx.side_query is not None:
            try:
                answer, meta[CHILD_OUTCOME] = await ctx.side_query(
                    SIDE_SYSTEM, f"Web page content:\n---\n{text[:PROMPT_CHARS]}\n---\n\n{prompt}")
                return ToolResult("\n".join(head) + "\n\n" + answer, metadata=meta)
            except Exception as exc:  # the page itself, below, is still useful
                note = f"the model call failed: {type(exc).__name__}: {exc}"
        if prompt:
            head.append(f"Prompt: {prompt}\n(the page itself, {note}: read it with this prompt in mind.)")
        content = "\n".join(head) + "\n\n" + (text or "(empty body)")
        if notes:
            content += "\n\n" + "\n".join(notes)
        if response.status >= 400:
            return ToolResult(f"HTTP error {response.status} fetching {url}\n\n" + content[:5000],
                              is_error=True, metadata=meta)
        return ToolResult(content, metadata=meta)


def _upgrade(url: str, ctx: ToolContext) -> str:
    parts = urlsplit(url)
    if parts.scheme.lower() != "http":
        return url
    if is_loopback_host(parts.hostname or "") or ctx.env.get("CLAW_WEB_FETCH_ALLOW_HTTP") == "1":
        return url
    return urlunsplit(("https",) + tuple(parts[1:]))


def _bare(host: Optional[str]) -> str:
    host = (host or "").lower()
    return host[4:] if host.startswith("www.") else host


def _same_site(a: str, b: str) -> bool:
    return _bare(urlsplit(a).hostname) == _bare(urlsplit(b).hostname)
