"""web_fetch and web_search against real local HTTP servers (and a real tinyproxy)."""

from __future__ import annotations

import json
import os

import pytest

from claw.tools import web_fetch as fetch_mod
from claw.tools.base import ToolInputError
from claw.tools.html_text import html_to_text
from claw.tools.registry import get_tool
from tests.fakes import tinyproxy as tinyproxy_module
from tests.tools.helpers import LocalHttpServer, call, free_port, make_ctx

PAGE = b"""<!doctype html><html><head><title>Test &amp; Page</title>
<style>body{color:red}</style><script>alert('x')</script></head>
<body><h1>Main heading</h1><p>Some <b>bold</b> text with a <a href="/docs">link</a>.</p>
<ul><li>first</li><li>second</li></ul><pre>code
  block</pre></body></html>"""


def html(body: bytes = PAGE, ctype: str = "text/html; charset=utf-8"):
    return lambda handler: (200, [("Content-Type", ctype)], body)


def redirect(location: str, status: int = 302):
    return lambda handler: (status, [("Location", location)], b"")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(extra)
    return env


@pytest.fixture
def ctx(tmp_path):
    return make_ctx(tmp_path, env=clean_env())


def test_fetch_converts_html(ctx):
    with LocalHttpServer({"/page": html()}) as server:
        r = call("web_fetch", {"url": server.base + "/page", "prompt": "find the heading"}, ctx)
    assert not r.is_error, r.content
    assert f"URL: {server.base}/page" in r.content
    assert "Title: Test & Page" in r.content and "Status: 200" in r.content
    assert "Prompt: find the heading" in r.content
    assert "# Main heading" in r.content
    assert f"link [{server.base}/docs]" in r.content
    assert "- first\n- second" in r.content and "```\ncode\n  block\n```" in r.content
    assert "alert" not in r.content and "color:red" not in r.content


def test_fetch_follows_same_host_redirects(ctx):
    routes = {"/a": redirect("/b", 301), "/b": redirect("/final", 307), "/final": html(b"<p>landed</p>")}
    with LocalHttpServer(routes) as server:
        r = call("web_fetch", {"url": server.base + "/a"}, ctx)
    assert not r.is_error and "landed" in r.content
    assert f"URL: {server.base}/final" in r.content and f"Redirected from: {server.base}/a" in r.content


def test_fetch_stops_after_five_redirects(ctx):
    routes = {f"/r{i}": redirect(f"/r{i + 1}") for i in range(10)}
    with LocalHttpServer(routes) as server:
        r = call("web_fetch", {"url": server.base + "/r0"}, ctx)
    assert r.is_error and "Too many redirects" in r.content
    assert len(server.requests) == fetch_mod.MAX_REDIRECTS + 1


def test_fetch_reports_a_cross_host_redirect_instead_of_following(ctx):
    with LocalHttpServer({}) as other:
        target = f"http://localhost:{other.port}/elsewhere"
        with LocalHttpServer({"/go": redirect(target)}) as server:
            r = call("web_fetch", {"url": server.base + "/go"}, ctx)
        assert other.requests == []
    assert not r.is_error and target in r.content and "different host" in r.content


def test_fetch_size_limit_and_plain_text(ctx, monkeypatch):
    monkeypatch.setattr(fetch_mod, "MAX_BYTES", 1000)
    with LocalHttpServer({"/big": html(b"a" * 5000, "text/plain")}) as server:
        r = call("web_fetch", {"url": server.base + "/big"}, ctx)
    assert not r.is_error
    assert "a" * 1000 in r.content and "a" * 1001 not in r.content
    assert "only the first 1,000 bytes were read" in r.content


def test_fetch_errors(ctx):
    with LocalHttpServer({"/img": html(b"\x89PNG....", "image/png")}) as server:
        r = call("web_fetch", {"url": server.base + "/missing"}, ctx)
        assert r.is_error and "HTTP error 404" in r.content and "not here" in r.content
        r = call("web_fetch", {"url": server.base + "/img"}, ctx)
        assert r.is_error and "image/png" in r.content
    port = free_port()
    r = call("web_fetch", {"url": f"http://127.0.0.1:{port}/"}, ctx)
    assert r.is_error and r.content.startswith(f"Could not fetch http://127.0.0.1:{port}/")
    tool = get_tool("WebFetch")
    for bad in ("ftp://x/y", "not a url", "http://user:pw@host/"):
        with pytest.raises(ToolInputError):
            tool.validate({"url": bad})


def test_http_is_upgraded_except_for_loopback(ctx):
    assert fetch_mod._upgrade("http://example.com/x?y=1", ctx) == "https://example.com/x?y=1"
    assert fetch_mod._upgrade("http://127.0.0.1:8080/", ctx) == "http://127.0.0.1:8080/"
    assert fetch_mod._upgrade("http://localhost/", ctx) == "http://localhost/"
    ctx.env["CLAW_WEB_FETCH_ALLOW_HTTP"] = "1"
    assert fetch_mod._upgrade("http://intranet.local/", ctx) == "http://intranet.local/"


@pytest.fixture
def tinyproxy(tmp_path):
    if not tinyproxy_module.available():
        pytest.skip("tinyproxy is not installed")
    with tinyproxy_module.Tinyproxy(tmp_path) as proxy:
        yield proxy.url


@pytest.mark.peer
def test_fetch_goes_through_the_configured_proxy(tmp_path, tinyproxy):
    ctx = make_ctx(tmp_path, env=clean_env(HTTP_PROXY=tinyproxy, CLAW_PROXY_LOOPBACK="1"))
    with LocalHttpServer({"/p": html(b"<p>via proxy</p>")}) as server:
        r = call("web_fetch", {"url": server.base + "/p"}, ctx)
    assert not r.is_error and "via proxy" in r.content
    assert "tinyproxy" in server.requests[0][2].get("via", "").lower()


# --- web_search -----------------------------------------------------------------------------------

SEARX = {"results": [
    {"url": "https://docs.python.org/3/library/asyncio.html", "title": "asyncio", "content": "Asynchronous I/O"},
    {"url": "https://blog.example.com/post", "title": "A blog", "content": "  lots   of\nspace "},
    {"url": "https://spam.test/x", "title": "Spam", "content": "buy"},
    {"url": "ftp://ignored/", "title": "not http"},
]}


def test_search_without_backend_says_how_to_configure(ctx):
    r = call("web_search", {"query": "python asyncio"}, ctx)
    assert r.is_error and "CLAW_WEB_SEARCH_URL" in r.content and "SearXNG" in r.content


def test_search_searxng_backend_and_domain_filters(ctx):
    with LocalHttpServer({"/search": html(json.dumps(SEARX).encode(), "application/json")}) as server:
        ctx.env["CLAW_WEB_SEARCH_URL"] = server.base + "/search"
        r = call("web_search", {"query": "python asyncio"}, ctx)
        assert server.requests[0][1] == "/search?q=python+asyncio&format=json"
        assert r.content.splitlines() == [
            'Search results for "python asyncio":',
            "1. asyncio", "   https://docs.python.org/3/library/asyncio.html", "   Asynchronous I/O",
            "2. A blog", "   https://blog.example.com/post", "   lots of space",
            "3. Spam", "   https://spam.test/x", "   buy"]
        r = call("web_search", {"query": "q1", "allowed_domains": ["python.org", "example.com"],
                                "blocked_domains": ["blog.example.com"]}, ctx)
        assert "docs.python.org" in r.content and "blog.example.com" not in r.content and "spam" not in r.content
        r = call("web_search", {"query": "q2", "allowed_domains": ["nowhere.org"]}, ctx)
        assert r.content == 'No results for "q2" after domain filtering.'


def test_search_backend_with_query_placeholder_and_other_shapes(ctx):
    brave = {"web": {"results": [{"url": "https://a.example/", "title": "A", "description": "desc"}]}}
    with LocalHttpServer({"/api": html(json.dumps(brave).encode(), "application/json")}) as server:
        ctx.web_search_url = server.base + "/api?term={query}&n=5"
        r = call("web_search", {"query": "a b"}, ctx)
    assert server.requests[0][1] == "/api?term=a+b&n=5"
    assert "1. A\n   https://a.example/\n   desc" in r.content


def test_search_backend_failures_are_clear(ctx):
    ctx.env["CLAW_WEB_SEARCH_URL"] = f"http://127.0.0.1:{free_port()}/search"
    r = call("web_search", {"query": "anything"}, ctx)
    assert r.is_error and "could not be reached" in r.content and "CLAW_WEB_SEARCH_URL" in r.content
    with LocalHttpServer({"/s": html(b"<html>not json</html>")}) as server:
        ctx.env["CLAW_WEB_SEARCH_URL"] = server.base + "/s"
        r = call("web_search", {"query": "anything"}, ctx)
        assert r.is_error and "did not answer JSON" in r.content
        ctx.env["CLAW_WEB_SEARCH_URL"] = server.base + "/down"
        r = call("web_search", {"query": "anything"}, ctx)
        assert r.is_error and "HTTP 404" in r.content


# --- html_text ------------------------------------------------------------------------------------

def test_html_to_text_details():
    title, text = html_to_text(
        "<div>a<br>b</div><table><tr><th>h1</th><th>h2</th></tr><tr><td>1</td><td>2</td></tr></table>"
        "<blockquote>quoted</blockquote><ol><li>x</li><li>y</li></ol><p><img alt='logo'> &lt;tag&gt; "
        "<a href='https://e.com/'>https://e.com/</a> <a href='#top'>top</a></p><noscript>no</noscript>"
        "<svg><text>vector</text></svg>",
        "https://base/")
    assert title is None
    assert text.split("\n") == ["a", "b", "", "h1 | h2", "1 | 2", "", "> quoted", "", "1. x", "2. y", "",
                                "[image: logo] <tag> https://e.com/ top"]
