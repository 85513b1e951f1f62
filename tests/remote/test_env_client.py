"""claw.remote.env_client against the fake environments server (tests.fakes.environments_server):
every endpoint's method, path, headers and body; 401, 404/410, 429 with Retry-After, 5xx retried then
classified, a dropped connection; and the same client through a real tinyproxy."""

from __future__ import annotations

import asyncio
import pytest

from claw.api.retry import RetryPolicy
from claw.errors import NetworkError
from claw.net.config import NetConfig
from claw.redact import Redactor
from claw.remote.env_client import ENVIRONMENTS_BETA, EnvironmentsClient
from claw.remote.environments import RemoteAuthError, RemoteControlError, RemoteGoneError, permission_response_event
from claw.remote.work_secret import decode_work_secret
from tests.fakes import tinyproxy as tinyproxy_module
from tests.fakes.environments_server import EnvironmentsServer

TOKEN = "bridge-token-abcdef0123456789"


class Sleeps:
    def __init__(self):
        self.waits = []

    async def __call__(self, seconds):
        self.waits.append(seconds)


@pytest.fixture
def server():
    with EnvironmentsServer(TOKEN) as running:
        yield running


def client_for(server, token=TOKEN, *, sleeps=None, net=None, retries=3, redactor=None):
    retry = RetryPolicy(max_retries=retries, sleep=sleeps or Sleeps(), rng=lambda: 0.0)
    return EnvironmentsClient(server.url, token, net_config=net or NetConfig.from_env({}), retry=retry,
                              redactor=redactor, timeout=10)


def run(coro):
    return asyncio.run(coro)


def test_every_endpoint_method_path_headers_body(server):
    async def main():
        async with client_for(server) as client:
            env = await client.register_bridge(machine_name="box", directory="/w", branch="main",
                                               git_repo_url="https://github.com/o/r", max_sessions=3,
                                               worker_type="claw")
            item = server.add_work(env.environment_id, "session_7")
            # the secret the client registered with authenticates the poll
            assert await client.poll_work(env.environment_id, reclaim_older_than_ms=1000) is not None
            token = item.session_token
            await client.ack_work(env.environment_id, item.id, token)
            beat = await client.heartbeat_work(env.environment_id, item.id, token)
            await client.stop_work(env.environment_id, item.id, force=True)
            await client.send_session_events("session_7", [permission_response_event("r1", allow=True)])
            creds = await client.code_session_bridge("session_7")
            worker = await client.register_worker("session_7", session_token=token)
            assert await client.archive_session("session_7") is True
            assert await client.archive_session("session_7") is False  # 409: already archived
            again = await client.reconnect_environment(env.environment_id, session_id="session_7")
            await client.deregister_environment(env.environment_id)
            return env, item, beat, creds, worker, again

    env, item, beat, creds, worker, again = run(main())
    assert beat["lease_extended"] is True and beat["state"] == "active"
    assert creds["worker_epoch"] == 1 and creds["worker_jwt"].startswith("wjwt-")
    assert worker == {"worker_epoch": 2}
    assert again.environment_id == env.environment_id and again.environment_secret != env.environment_secret
    e = env.environment_id
    assert server.paths() == [
        ("POST", "/v1/environments/bridge"), ("GET", f"/v1/environments/{e}/work/poll"),
        ("POST", f"/v1/environments/{e}/work/{item.id}/ack"), ("POST", f"/v1/environments/{e}/work/{item.id}/heartbeat"),
        ("POST", f"/v1/environments/{e}/work/{item.id}/stop"), ("POST", "/v1/sessions/session_7/events"),
        ("POST", "/v1/code/sessions/session_7/bridge"), ("POST", "/v1/code/sessions/session_7/worker/register"),
        ("POST", "/v1/sessions/session_7/archive"), ("POST", "/v1/sessions/session_7/archive"),
        ("POST", f"/v1/environments/{e}/bridge/reconnect"), ("DELETE", f"/v1/environments/bridge/{e}"),
    ]
    reqs = server.requests
    assert reqs[0].body == {"machine_name": "box", "directory": "/w", "branch": "main",
                            "git_repo_url": "https://github.com/o/r", "max_sessions": 3,
                            "metadata": {"worker_type": "claw"}}
    assert reqs[1].query == {"reclaim_older_than_ms": "1000"} and reqs[1].body is None
    bearers = [r.bearer for r in reqs]
    assert bearers[1] == env.environment_secret
    assert bearers[2] == bearers[3] == item.session_token == bearers[7]
    assert all(b == TOKEN for i, b in enumerate(bearers) if i not in (1, 2, 3, 7))
    assert reqs[4].body == {"force": True}
    assert reqs[5].body == {"events": [permission_response_event("r1", allow=True)]}
    assert reqs[10].body == {"session_id": "session_7"}
    for r in reqs:
        assert r.headers["anthropic-version"] == "2023-06-01"
        assert r.headers["anthropic-beta"] == ENVIRONMENTS_BETA
        assert r.headers["x-environment-runner-version"].startswith("claw/")
        assert r.headers["accept"] == "application/json"
        if r.body is not None:
            assert r.headers["content-type"] == "application/json"
    assert server.work[item.id].stop_force is True and server.archived == ["session_7"]
    assert server.environments[e].deregistered


def test_poll_returns_none_then_work_with_a_decodable_secret(server):
    env = server.register()

    async def main():
        async with client_for(server) as client:
            first = await client.poll_work(env.id, environment_secret=env.secret)
            item = server.add_work(env.id, "session_x")
            second = await client.poll_work(env.id, environment_secret=env.secret)
            return first, second, item

    first, work, item = run(main())
    assert first is None
    assert (work.id, work.data_type, work.data_id, work.environment_id) == (item.id, "session", "session_x", env.id)
    assert decode_work_secret(work.secret).session_ingress_token == item.session_token


def test_401_is_fatal_with_a_hint_and_no_token_in_the_message(server):
    env = server.register()
    sleeps = Sleeps()
    with pytest.raises(RemoteAuthError) as info:
        run(client_for(server, "wrong-token-0123456789", sleeps=sleeps).deregister_environment(env.id))
    error = info.value
    assert error.status == 401 and error.failure_class == "provider_auth" and "claw login" in error.hint
    assert "wrong-token" not in error.message and sleeps.waits == []
    assert len(server.requests) == 1


def test_401_refreshes_a_token_source_once(server):
    env = server.register()

    class Source:
        def __init__(self):
            self.refreshes = 0
            self.value = "stale-token-0123456789"

        async def get_token(self):
            return self.value

        async def refresh(self):
            self.refreshes += 1
            self.value = TOKEN
            return TOKEN

    source = Source()
    run(client_for(server, source).deregister_environment(env.id))
    assert source.refreshes == 1 and [r.bearer for r in server.requests] == ["stale-token-0123456789", TOKEN]


def test_404_and_410_are_gone(server):
    env = server.register()
    with pytest.raises(RemoteGoneError) as info:
        run(client_for(server).stop_work(env.id, "work_nope"))
    assert info.value.status == 404 and info.value.kind == "remote_gone"
    run(client_for(server).deregister_environment(env.id))
    with pytest.raises(RemoteGoneError) as info:
        run(client_for(server).poll_work(env.id, environment_secret=env.secret))
    assert info.value.status == 410 and "deregistered" in info.value.message


def test_429_honours_retry_after_then_succeeds(server):
    env = server.register()
    server.fail_next("GET", r"/work/poll$", 429, count=2, headers={"Retry-After": "7"})
    sleeps = Sleeps()
    assert run(client_for(server, sleeps=sleeps).poll_work(env.id, environment_secret=env.secret)) is None
    assert sleeps.waits == [7.0, 7.0] and len(server.requests) == 3


def test_5xx_retried_then_classified(server):
    env = server.register()
    server.fail_next("POST", r"/bridge/reconnect$", 503, count=10)
    sleeps = Sleeps()
    with pytest.raises(RemoteControlError) as info:
        run(client_for(server, sleeps=sleeps, retries=2).reconnect_environment(env.id))
    error = info.value
    assert error.status == 503 and error.failure_class == "provider_internal" and error.retryable
    assert error.kind == "remote_server" and "injected 503" in error.message
    assert len(sleeps.waits) == 2 and len(server.requests) == 3  # backoff 0.5, 1.0 (no jitter)
    assert sleeps.waits == [0.5, 1.0]


def test_429_exhausted_is_rate_limit(server):
    env = server.register()
    server.fail_next("GET", r"/work/poll$", 429, count=5)
    with pytest.raises(RemoteControlError) as info:
        run(client_for(server, retries=1).poll_work(env.id, environment_secret=env.secret))
    assert info.value.failure_class == "provider_rate_limit" and info.value.kind == "remote_rate_limit"


def test_dropped_connection_is_retried(server):
    env = server.register()
    server.drop_next("DELETE", r"/v1/environments/bridge/", count=1)
    sleeps = Sleeps()
    run(client_for(server, sleeps=sleeps).deregister_environment(env.id))
    assert len(sleeps.waits) == 1 and server.environments[env.id].deregistered


def test_unreachable_is_a_classified_transport_error():
    from tests.fakes.tinyproxy import free_port

    client = EnvironmentsClient(f"http://127.0.0.1:{free_port()}", TOKEN, net_config=NetConfig.from_env({}),
                                retry=RetryPolicy(max_retries=1, sleep=Sleeps()))
    with pytest.raises(NetworkError) as info:
        run(client.deregister_environment("env_1"))
    assert info.value.failure_class == "provider_transport" and "DELETE /v1/environments/bridge/env_1" in info.value.message


def test_server_messages_are_redacted(server):
    env = server.register()
    server.fail_next("POST", r"/v1/environments/bridge$", 400,
                     body={"error": {"type": "invalid", "message": f"bad token {TOKEN} and {env.secret}"}})
    redactor = Redactor()
    redactor.add_secret(env.secret)
    with pytest.raises(RemoteControlError) as info:
        run(client_for(server, redactor=redactor).register_bridge(machine_name="m", directory="/d"))
    assert TOKEN not in info.value.message and env.secret not in info.value.message
    assert "[REDACTED]" in info.value.message and info.value.status == 400


def test_a_body_that_is_not_json_is_a_protocol_error(server):
    server.fail_next("POST", r"/v1/environments/bridge$", 200, body="not-json-object")
    # the fake JSON-encodes bodies, so a bare string is valid JSON but not an environment
    with pytest.raises(RemoteControlError) as info:
        run(client_for(server).register_bridge(machine_name="m", directory="/d"))
    assert info.value.kind == "remote_protocol"


def test_lease_expiry_requeues_work(server):
    env = server.register()
    item = server.add_work(env.id, "session_l")

    async def main():
        async with client_for(server) as client:
            work = await client.poll_work(env.id, environment_secret=env.secret)
            await client.ack_work(env.id, work.id, item.session_token)
            assert await client.poll_work(env.id, environment_secret=env.secret) is None
            server.expire_lease(work.id)
            again = await client.poll_work(env.id, environment_secret=env.secret)
            return work, again

    work, again = run(main())
    assert again is not None and again.id == work.id and server.reclaims == 1 and server.work[work.id].deliveries == 2


@pytest.mark.skipif(not tinyproxy_module.available(), reason="tinyproxy is not installed")
def test_through_tinyproxy(server, tmp_path):
    with tinyproxy_module.Tinyproxy(tmp_path) as proxy:
        net = NetConfig.from_env({"HTTP_PROXY": proxy.url, "CLAW_PROXY_LOOPBACK": "1"})
        env = run(client_for(server, net=net).register_bridge(machine_name="m", directory="/d"))
    assert env.environment_id in server.environments
    assert "tinyproxy" in server.requests[0].headers.get("via", "")
    assert server.requests[0].bearer == TOKEN


def test_a_work_id_from_the_server_cannot_redirect_a_call(server):
    async def main():
        async with client_for(server) as client:
            with pytest.raises(RemoteControlError) as info:
                await client.ack_work("env_1", "../../../v1/sessions/s/events", "tok")
            return info.value

    err = asyncio.run(main())
    assert err.kind == "remote_protocol" and server.requests == []
