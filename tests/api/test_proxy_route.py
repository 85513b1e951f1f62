"""Model requests follow the proxy rules of the environment they were created with (a real tinyproxy)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from tests.api.helpers import collect, request, run
from tests.fakes.model_server import reply

TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"

pytestmark = [pytest.mark.peer,
              pytest.mark.skipif(not os.path.exists(TINYPROXY), reason="tinyproxy is not installed")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tinyproxy(tmp_path):
    port = free_port()
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(f"Port {port}\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 30\n"
                    f"LogFile \"{tmp_path / 'tinyproxy.log'}\"\nLogLevel Info\nMaxClients 10\n")
    proc = subprocess.Popen([TINYPROXY, "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:  # pragma: no cover
        proc.kill()
        pytest.skip("tinyproxy did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()


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
