"""Shared fixtures of the remote tests: a trustme CA and an HTTPS target for a host name no resolver knows,
a fake upstream proxy (tests.fakes.relay_server) on a background loop, and the environment of a remote
session pointing at it."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator

import pytest

from tests.fakes.relay_server import BackgroundLoop, EchoServer, FakeUpstreamProxy, HttpsHelloServer

from tests.remote.helpers import HELLO, SESSION_ID, TARGET_HOST, TOKEN


@dataclass
class Remote:
    loop: BackgroundLoop
    fake: FakeUpstreamProxy
    https: HttpsHelloServer
    echo: EchoServer
    ca_pem: str
    tmp: Path

    @property
    def target_url(self) -> str:
        return f"https://{TARGET_HOST}:{self.https.port}/hello"

    def env(self, **extra: str) -> Dict[str, str]:
        token_file = self.tmp / "session_token"
        if not token_file.exists():
            token_file.write_text(TOKEN + "\n")
        env = {
            "CLAUDE_CODE_REMOTE": "1",
            "CCR_UPSTREAM_PROXY_ENABLED": "1",
            "CLAUDE_CODE_REMOTE_SESSION_ID": SESSION_ID,
            "CCR_SESSION_TOKEN_PATH": str(token_file),
            "CLAW_REMOTE_BASE_URL": self.fake.base_url,
            "CCR_CA_BUNDLE_PATH": str(self.tmp / "ccr" / "ca-bundle.crt"),
            "HOME": str(self.tmp / "home"),
        }
        env.update(extra)
        return env


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Remote]:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert(TARGET_HOST)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_pem = ca.cert_pem.bytes().decode("ascii")
    with BackgroundLoop() as loop:
        https = loop.call(HttpsHelloServer(server_ctx, HELLO).start())
        echo = loop.call(EchoServer().start())
        fake = FakeUpstreamProxy(SESSION_ID, TOKEN, ca_pem,
                                 host_map={f"{TARGET_HOST}:{https.port}": ("127.0.0.1", https.port),
                                           "echo.test:443": ("127.0.0.1", echo.port)})
        loop.call(fake.start())
        yield Remote(loop, fake, https, echo, ca_pem, tmp_path)
        loop.call(fake.aclose())
        loop.call(https.aclose())
        loop.call(echo.aclose())
