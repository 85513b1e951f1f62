"""`claw doctor`'s reachability check against real local peers: a TLS server with a private trustme CA
(trusted through SSL_CERT_FILE, or not trusted at all), Debian's tinyproxy in front of it
(CLAW_PROXY_LOOPBACK=1 so loopback goes through the proxy), a plain HTTP server and a closed port."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path
from typing import Dict

import pytest

from claw.cli.doctor_network import probe_base_url
from claw.net.config import NetConfig
from tests.fakes import tinyproxy
from tests.fakes.tls_server import ScriptedHttpServer, make_tls

REPO = Path(__file__).resolve().parents[2]


async def not_found(request, responder) -> None:
    await responder.send(404, b"", headers=[("Content-Type", "text/plain")])


def base_env(home: Path, **extra: str) -> Dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "PYTHONPATH": str(REPO),
           "ANTHROPIC_API_KEY": "sk-ant-test-SECRET", "NO_COLOR": "1"}
    env.update(extra)
    return env


async def doctor_async(env: Dict[str, str], cwd: Path) -> tuple:
    """Run `claw doctor --json` as a subprocess without blocking the loop that serves the peers."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "claw", "doctor", "--json", env=env, cwd=str(cwd),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    data = json.loads(out.decode())
    return proc.returncode, {c["name"]: c for c in data["checks"]}, out.decode() + err.decode()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


# -- the probe itself --------------------------------------------------------------------------------


def test_probe_trusted_with_the_ca(tmp_path):
    tls = make_tls(tmp_path)

    async def scenario():
        async with ScriptedHttpServer(not_found, ssl_context=tls.server_context) as server:
            config = NetConfig.from_env({"SSL_CERT_FILE": tls.ca_path})
            probe = await probe_base_url(server.url("/anthropic/v1"), config, timeout=5)
            return probe, server.requests

    probe, requests = asyncio.run(scenario())
    assert probe.error is None and probe.status == 404 and probe.tls
    assert probe.route == "direct"
    assert [(r.method, r.target) for r in requests] == [("HEAD", "/")]


def test_probe_untrusted_explains_the_tls_failure(tmp_path):
    tls = make_tls(tmp_path)

    async def scenario():
        async with ScriptedHttpServer(not_found, ssl_context=tls.server_context) as server:
            probe = await probe_base_url(server.url(), NetConfig.from_env({}), timeout=5)
            return probe, server.port

    probe, port = asyncio.run(scenario())
    assert probe.status is None and probe.error.kind == "tls_verify"
    assert probe.error.message.startswith(f"TLS certificate verification failed for 127.0.0.1:{port}")
    assert "trust sources" in probe.error.hint.lower()


# -- the check, run as a user would --------------------------------------------------------------------


def test_doctor_reaches_a_trusted_tls_server(tmp_path, work):
    tls = make_tls(tmp_path)

    async def scenario():
        async with ScriptedHttpServer(not_found, ssl_context=tls.server_context) as server:
            env = base_env(tmp_path, ANTHROPIC_BASE_URL=server.url("/gateway"), SSL_CERT_FILE=tls.ca_path)
            return server.url("/gateway"), await doctor_async(env, work)

    url, (code, checks, output) = asyncio.run(scenario())
    reach = checks["reachability"]
    assert code == 0, output
    assert reach["status"] == "ok"
    assert reach["summary"] == (f"anthropic base URL {url} (ANTHROPIC_BASE_URL) answered HTTP 404 "
                                "via direct")
    assert "TLS: the certificate was verified (trusted by the loaded trust sources)" in reach["details"]
    assert "SECRET" not in output


def test_doctor_without_the_ca_fails_with_the_explanation(tmp_path, work):
    tls = make_tls(tmp_path)

    async def scenario():
        async with ScriptedHttpServer(not_found, ssl_context=tls.server_context) as server:
            env = base_env(tmp_path, ANTHROPIC_BASE_URL=server.url())
            return server, await doctor_async(env, work)

    server, (code, checks, output) = asyncio.run(scenario())
    reach = checks["reachability"]
    assert code == 1
    assert reach["status"] == "fail"
    assert reach["summary"].startswith(f"TLS verification failed for https://127.0.0.1:{server.port}")
    assert any(d.startswith(f"TLS certificate verification failed for 127.0.0.1:{server.port}")
               for d in reach["details"])
    assert "nothing loaded trusts the issuer" in reach["hint"].lower()
    assert "trust sources: " in reach["hint"].lower()


@pytest.mark.skipif(not tinyproxy.available(), reason="tinyproxy is not installed")
@pytest.mark.parametrize("trusted", [True, False])
def test_doctor_goes_through_tinyproxy(tmp_path, work, trusted):
    tls = make_tls(tmp_path)

    async def scenario():
        async with ScriptedHttpServer(not_found, ssl_context=tls.server_context) as server:
            with tinyproxy.Tinyproxy(tmp_path, connect_ports=[server.port]) as proxy:
                extra = {"SSL_CERT_FILE": tls.ca_path} if trusted else {}
                env = base_env(tmp_path, ANTHROPIC_BASE_URL=server.url(), HTTPS_PROXY=proxy.url,
                               CLAW_PROXY_LOOPBACK="1", **extra)
                result = await doctor_async(env, work)
                return server, proxy, proxy.log(), result

    server, proxy, log, (code, checks, output) = asyncio.run(scenario())
    reach = checks["reachability"]
    route = f"{proxy.url} (from HTTPS_PROXY)"
    assert "CONNECT" in log and f"127.0.0.1:{server.port}" in log
    if trusted:
        assert code == 0, output
        assert reach["status"] == "ok" and reach["summary"].endswith(f"answered HTTP 404 via {route}")
        assert server.requests and server.requests[0].method == "HEAD"
    else:
        assert code == 1
        assert reach["status"] == "fail"
        assert reach["summary"] == f"TLS verification failed for https://127.0.0.1:{server.port} via {route}"


def test_doctor_reaches_a_plain_http_model_server(tmp_path, work):
    from tests.fakes.model_server import ModelServer

    with ModelServer() as server:
        env = base_env(tmp_path, ANTHROPIC_BASE_URL=server.url)
        code, checks, output = asyncio.run(doctor_async(env, work))
    reach = checks["reachability"]
    assert reach["status"] == "ok", output
    assert reach["summary"].startswith(f"anthropic base URL {server.url} (ANTHROPIC_BASE_URL) answered HTTP ")
    assert not any(d.startswith("TLS:") for d in reach["details"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_doctor_reports_a_refused_connection(tmp_path, work):
    port = free_port()
    env = base_env(tmp_path, ANTHROPIC_BASE_URL=f"http://127.0.0.1:{port}")
    code, checks, _ = asyncio.run(doctor_async(env, work))
    reach = checks["reachability"]
    assert code == 1 and reach["status"] == "fail"
    assert reach["summary"] == (f"cannot reach anthropic base URL http://127.0.0.1:{port} (ANTHROPIC_BASE_URL) "
                                "via direct (connect)")
    assert reach["hint"]


def test_offline_makes_no_request(tmp_path, work):
    tls = make_tls(tmp_path)

    async def scenario():
        async with ScriptedHttpServer(not_found, ssl_context=tls.server_context) as server:
            env = base_env(tmp_path, ANTHROPIC_BASE_URL=server.url())
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "claw", "doctor", "--offline", env=env, cwd=str(work),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, _ = await proc.communicate()
            return server.connections, proc.returncode, out.decode()

    connections, code, out = asyncio.run(scenario())
    assert connections == 0 and code == 0
    assert "skipped (--offline)" in out
