"""start_remote: the relay comes up (bundle, shaping, real clients through it) or fails open."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys

import pytest

from claw.net.config import NetConfig
from claw.remote.bootstrap import FAILED, INHERITED, OFF, UP, start_remote
from tests.remote.helpers import HELLO, TOKEN


def _start(env, **kwargs):
    return start_remote(env, NetConfig.from_env(env), timeout=10.0, **kwargs)


def test_relay_up_bundle_and_shaping(remote):
    env = remote.env()
    setup = _start(env)
    try:
        assert setup.status.state == UP, setup.status
        assert setup.notice is None
        bundle = setup.status.ca_bundle
        assert bundle == env["CCR_CA_BUNDLE_PATH"]
        text = open(bundle).read()
        assert text.count("-----BEGIN CERTIFICATE-----") > 10  # the system roots...
        assert text.rstrip().endswith(remote.ca_pem.strip().splitlines()[-1])  # ...then the session CA
        assert oct(os.stat(bundle).st_mode & 0o777) == "0o644"
        assert [f for f in os.listdir(os.path.dirname(bundle)) if f.endswith(".tmp")] == []
        shaped = setup.shaping.apply(env)
        assert shaped["HTTPS_PROXY"] == shaped["https_proxy"] == setup.status.proxy_url
        assert setup.status.proxy_url.startswith("http://127.0.0.1:")
        for name in ("SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            assert shaped[name] == bundle
        assert remote.fake.ca_requests[-1]["authorization"] == f"Bearer {TOKEN}"
        assert len(remote.fake.handshakes) == 1  # the start-up probe
        assert TOKEN not in repr(setup) and TOKEN not in repr(setup.status)
    finally:
        setup.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(setup.status.proxy_url.rsplit(":", 1)[1])), timeout=2).close()
    setup.close()  # twice is fine


def test_python_urllib_and_curl_through_the_shaped_env(remote):
    env = remote.env()
    setup = _start(env)
    try:
        assert setup.status.state == UP
        shaped = setup.shaping.apply({k: v for k, v in os.environ.items()
                                      if k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY",
                                                           "NO_PROXY")})
        code = ("import urllib.request, sys; "
                "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=20).read().decode())")
        out = subprocess.run([sys.executable, "-c", code, remote.target_url], env=shaped,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout == HELLO.decode()
        curl = shutil.which("curl")
        if curl is not None:
            out = subprocess.run([curl, "-sS", "--max-time", "20", remote.target_url], env=shaped,
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            assert out.stdout == HELLO.decode()
        targets = [t.target for t in remote.fake.tunnels]
        assert targets.count(remote.target_url.split("/")[2]) == (2 if curl else 1)
        # without the merged bundle the same request fails verification: the session CA is what makes it work
        unshaped = dict(shaped, SSL_CERT_FILE="/nonexistent.pem")
        out = subprocess.run([sys.executable, "-c", code, remote.target_url], env=unshaped,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in out.stderr
    finally:
        setup.close()


def test_claw_own_trust_includes_the_session_ca(remote):
    env = remote.env()
    setup = _start(env)
    try:
        shaped_net = NetConfig.from_env(setup.shaping.apply(env))
        context = shaped_net.ssl_context()
        ders = [c for c in context.get_ca_certs(binary_form=True)]
        session_der = ssl.PEM_cert_to_DER_cert(remote.ca_pem)
        assert session_der in ders
    finally:
        setup.close()


def _assert_failed_open(setup, fragment):
    assert setup.status.state == FAILED
    assert setup.notice is not None and "\n" not in setup.notice
    assert fragment in setup.notice, setup.notice
    assert setup.notice.endswith("running without it")
    assert TOKEN not in setup.notice
    assert not setup.shaping.active
    base = {"PATH": "/bin"}
    assert setup.shaping.apply(base) == base
    setup.close()


def test_fail_open_no_token_file(remote):
    env = remote.env(CCR_SESSION_TOKEN_PATH=str(remote.tmp / "missing"))
    _assert_failed_open(_start(env), "no session token file")
    assert remote.fake.ca_requests == [] and remote.fake.handshakes == []


def test_fail_open_ca_endpoint_500(remote):
    remote.fake.ca_status = 500
    setup = _start(remote.env())
    _assert_failed_open(setup, "answered HTTP 500")
    assert not os.path.exists(remote.env()["CCR_CA_BUNDLE_PATH"])


def test_fail_open_websocket_403(remote):
    remote.fake.ws_status = 403
    _assert_failed_open(_start(remote.env()), "HTTP 403")


def test_fail_open_unreachable_session(remote):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _assert_failed_open(_start(remote.env(CLAW_REMOTE_BASE_URL=f"http://127.0.0.1:{port}")), "refused")


def test_fail_open_bad_ca_answer(remote):
    remote.fake.ca_pem = "<html>not a certificate</html>"
    _assert_failed_open(_start(remote.env()), "did not return a certificate")


@pytest.mark.parametrize("drop, state", [
    ("CLAUDE_CODE_REMOTE", OFF),
    ("CCR_UPSTREAM_PROXY_ENABLED", OFF),
    ("CLAUDE_CODE_REMOTE_SESSION_ID", FAILED),
])
def test_off_is_silent_missing_id_is_not(remote, drop, state):
    env = remote.env()
    del env[drop]
    setup = _start(env)
    assert setup.status.state == state
    assert (setup.notice is not None) is (state == FAILED)
    assert not setup.shaping.active
    assert remote.fake.ca_requests == []


def test_nested_claw_passes_inherited_values_on(remote):
    env = remote.env(HTTPS_PROXY="http://127.0.0.1:9", SSL_CERT_FILE="/parent/bundle.crt",
                     NO_PROXY="parent-list")
    setup = _start(env)
    assert setup.status.state == INHERITED and setup.notice is None
    assert setup.shaping.apply(env) == env
    assert remote.fake.ca_requests == [] and remote.fake.handshakes == []


def test_session_over_tls_with_a_private_ca(remote):
    """wss:// tunnels and an https:// CA endpoint, trusted through CLAW_CA_BUNDLE (claw's own trust)."""
    import trustme

    from tests.fakes.relay_server import FakeUpstreamProxy

    gateway_ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    gateway_ca.issue_cert("localhost").configure_cert(server_ctx)
    ca_file = remote.tmp / "gateway-ca.pem"
    gateway_ca.cert_pem.write_to_path(str(ca_file))
    fake = FakeUpstreamProxy(remote.fake.session_id, remote.fake.token, remote.ca_pem,
                             host_map=dict(remote.fake.host_map), ssl_context=server_ctx, host="127.0.0.1")
    remote.loop.call(fake.start())
    try:
        base = f"https://localhost:{fake.port}"
        untrusted = _start(remote.env(CLAW_REMOTE_BASE_URL=base))
        _assert_failed_open(untrusted, "certificate verification failed")
        setup = _start(remote.env(CLAW_REMOTE_BASE_URL=base, CLAW_CA_BUNDLE=str(ca_file)))
        try:
            assert setup.status.state == UP, setup.status
            assert setup.status.ws_url == f"wss://localhost:{fake.port}/v1/code/upstreamproxy/ws"
            shaped = setup.shaping.apply({k: v for k, v in os.environ.items()
                                          if k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")})
            code = "import urllib.request, sys; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())"
            out = subprocess.run([sys.executable, "-c", code, remote.target_url], env=shaped,
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            assert out.stdout == HELLO.decode()
            assert [t.authorized for t in fake.tunnels] == [True]
        finally:
            setup.close()
    finally:
        remote.loop.call(fake.aclose())


def test_a_run_brings_the_relay_up_once_for_everything_and_closes_it(remote):
    """One relay per run: its MCP servers, tools and provider share it (one session-CA fetch), and
    closing the run stops it. Nothing is kept for a later run of the same process."""
    import asyncio
    from pathlib import Path

    from claw.runtime.run import RunOptions
    from claw.runtime.run_open import open_run

    env = remote.env(ANTHROPIC_API_KEY="sk-ant-api03-relay-test-key-0000")
    project = Path(env["HOME"]).parent / "project"
    project.mkdir(exist_ok=True)

    async def one_run():
        run = await open_run(RunOptions(cwd=project, base_env=env), sink=lambda event: None)
        async with run:
            assert run.remote.status.state == UP
            assert run.tools.context.env["HTTPS_PROXY"] == run.remote.status.proxy_url
            assert run.env["HTTPS_PROXY"] == run.remote.status.proxy_url
        return run

    first = asyncio.run(one_run())
    assert first.remote.closed and len(remote.fake.ca_requests) == 1
    second = asyncio.run(one_run())
    assert second.remote is not first.remote and len(remote.fake.ca_requests) == 2
