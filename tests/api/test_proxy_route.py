"""Model requests follow the proxy rules of the environment they were created with (a real tinyproxy)."""

from __future__ import annotations

import pytest

from tests.api.helpers import collect, request, run
from tests.fakes import tinyproxy as tinyproxy_module
from tests.fakes.model_server import reply

pytestmark = [pytest.mark.peer,
              pytest.mark.skipif(not tinyproxy_module.available(), reason="tinyproxy is not installed")]


@pytest.fixture
def tinyproxy(tmp_path):
    with tinyproxy_module.Tinyproxy(tmp_path) as proxy:
        yield proxy.url


def test_streamed_request_goes_through_the_proxy(server, provider_for, tinyproxy):
    server.enqueue(reply("proxied hello", text_chunk=3))
    p = provider_for(env={"HTTP_PROXY": tinyproxy, "NO_PROXY": "", "CLAW_PROXY_LOOPBACK": "1"})
    evts = run(collect(p, request()))
    assert evts[-1].response.text == "proxied hello"
    assert "tinyproxy" in (server.requests[0].header("via") or "").lower()


def test_no_proxy_covers_the_base_url(server, provider_for, tinyproxy):
    server.enqueue(reply("direct"))
    p = provider_for(env={"HTTP_PROXY": tinyproxy, "NO_PROXY": "127.0.0.1", "CLAW_PROXY_LOOPBACK": "1"})
    run(collect(p, request()))
    assert server.requests[0].header("via") is None
