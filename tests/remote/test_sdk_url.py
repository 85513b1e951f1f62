"""--sdk-url: the stream-json protocol over one WebSocket, with acks, resume and replay after a drop.

Unit level: SdkUrlTransport against a websockets host in the test's loop. End to end: a claw process
driven over --sdk-url for two turns (the scripted model server answers), the connection killed in the
middle of the first turn."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional

import pytest

from claw.errors import NetworkError
from claw.net.config import NetConfig
from claw.remote.sdk_url import SdkUrlTransport
from tests.fakes.claw_wrapper import ROOT, SCRUB
from tests.fakes.model_server import ModelServer, reply
from tests.fakes.relay_server import BackgroundLoop


class Host:
    """A WebSocket host: records every connection's headers and parsed messages, in order."""

    def __init__(self, *, refuse: Optional[int] = None) -> None:
        self.refuse = refuse
        self.headers: List[Dict[str, str]] = []
        self.sockets: List[Any] = []
        self.inbox: "asyncio.Queue[Any]"
        self.port = 0

    async def start(self) -> "Host":
        from websockets.asyncio.server import serve

        self.inbox = asyncio.Queue()  # made in the loop that serves (Python 3.9 binds it at creation)

        async def process_request(connection, request):
            self.headers.append({k.lower(): v for k, v in request.headers.raw_items()})
            if self.refuse:
                return connection.respond(self.refuse, "no\n")
            return None

        self._server = await serve(self._handler, "127.0.0.1", 0, process_request=process_request,
                                   compression=None, ping_interval=None)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/session"

    async def _handler(self, ws) -> None:
        from websockets.exceptions import ConnectionClosed

        index = len(self.sockets)
        self.sockets.append(ws)
        try:
            async for message in ws:
                assert isinstance(message, str), "claw sends text messages"
                assert message.endswith("\n") and message.count("\n") == 1, "one NDJSON line per message"
                self.inbox.put_nowait((index, json.loads(message)))
        except ConnectionClosed:
            pass

    async def next(self, timeout: float = 20.0):
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def send(self, obj: Dict[str, Any], index: int = -1) -> None:
        await self.sockets[index].send(json.dumps(obj) + "\n")


def _transport(host: Host, **kwargs) -> SdkUrlTransport:
    kwargs.setdefault("reconnect_delay", 0.01)
    return SdkUrlTransport(host.url, NetConfig.from_env({}), **kwargs)


def test_messages_carry_seq_and_host_messages_are_acked():
    async def main():
        host = await Host().start()
        transport = _transport(host, token="sdk-token")
        await transport.connect()
        assert host.headers[0]["authorization"] == "Bearer sdk-token"
        transport.write_nowait({"type": "system", "subtype": "init"})
        await transport.write({"type": "result", "result": "x"})
        assert await host.next() == (0, {"type": "system", "subtype": "init", "seq": 1})
        assert await host.next() == (0, {"type": "result", "result": "x", "seq": 2})
        await host.send({"type": "user", "message": {"role": "user", "content": "hi"}, "seq": 1})
        got = await asyncio.wait_for(transport.read(), 5)
        assert got["type"] == "user" and got["message"]["content"] == "hi"
        assert await host.next() == (0, {"type": "ack", "seq": 1})
        await host.send({"type": "ack", "seq": 2})
        for _ in range(100):
            if transport.unacknowledged == 0:
                break
            await asyncio.sleep(0.01)
        assert transport.unacknowledged == 0 and transport.last_acked_seq == 2
        # several lines in one host message; unnumbered ones are neither acked nor deduplicated
        await host.sockets[0].send('{"type":"keep_alive"}\n{"type":"keep_alive"}\n')
        assert await transport.read() == {"type": "keep_alive"}
        assert await transport.read() == {"type": "keep_alive"}
        await host.sockets[0].close(1000)
        assert await asyncio.wait_for(transport.read(), 5) is None  # a normal close ends input
        assert await transport.read() is None
        assert transport.closed
        transport.write_nowait({"type": "dropped"})  # after the end: dropped, no error
        await transport.close()
        await host.aclose()
    asyncio.run(main())


def test_resume_replays_unacknowledged_messages_after_a_drop():
    async def main():
        host = await Host().start()
        transport = _transport(host)
        await transport.connect()
        for n in range(1, 6):
            transport.write_nowait({"type": "assistant", "n": n})
        seen = [await host.next() for _ in range(5)]
        assert [m["seq"] for _, m in seen] == [1, 2, 3, 4, 5]
        await host.send({"type": "ack", "seq": 2})
        await host.send({"type": "user", "message": {"role": "user", "content": "one"}, "seq": 1})
        assert (await transport.read())["message"]["content"] == "one"
        assert await host.next() == (0, {"type": "ack", "seq": 1})
        host.sockets[0].transport.abort()  # a dropped connection, no close frame
        transport.write_nowait({"type": "assistant", "n": 6})  # written while disconnected
        index, resume = await host.next()
        assert index == 1
        assert resume == {"type": "resume", "last_acked_seq": 2, "last_received_seq": 1, "replay_from_seq": 3}
        replayed = [await host.next() for _ in range(4)]
        assert [(i, m["seq"], m["n"]) for i, m in replayed] == [(1, 3, 3), (1, 4, 4), (1, 5, 5), (1, 6, 6)]
        # the host replays its own message: delivered once only
        await host.send({"type": "user", "message": {"role": "user", "content": "one"}, "seq": 1})
        await host.send({"type": "user", "message": {"role": "user", "content": "two"}, "seq": 2})
        assert (await asyncio.wait_for(transport.read(), 5))["message"]["content"] == "two"
        assert transport.connections == 2
        await transport.close()
        await host.aclose()
    asyncio.run(main())


def test_buffer_limit_announces_the_gap():
    async def main():
        host = await Host().start()
        transport = _transport(host, replay_limit=3)
        await transport.connect()
        transport.write_nowait({"n": 1})
        await host.next()
        host.sockets[0].transport.abort()
        for n in range(2, 8):
            transport.write_nowait({"n": n})
        index, resume = await host.next()
        assert resume["type"] == "resume" and resume["last_acked_seq"] == 0
        assert resume["replay_from_seq"] == 5  # 1..4 were dropped from the full buffer
        assert [(await host.next())[1]["seq"] for _ in range(3)] == [5, 6, 7]
        await transport.close()
        await host.aclose()
    asyncio.run(main())


def test_refused_handshake_fails_fast():
    async def main():
        host = await Host(refuse=403).start()
        transport = _transport(host, reconnect_attempts=5)
        with pytest.raises(NetworkError) as info:
            await transport.connect()
        assert info.value.status == 403 and "--sdk-url" in info.value.message
        assert len(host.headers) == 1  # not retried: it cannot help
        await host.aclose()
    asyncio.run(main())


def test_giving_up_reconnecting_ends_input_with_one_error():
    async def main():
        host = await Host().start()
        transport = _transport(host, reconnect_attempts=2)
        await transport.connect()
        await host.aclose()  # the host goes away for good
        host.sockets[0].transport.abort()
        with pytest.raises(NetworkError) as info:
            await asyncio.wait_for(transport.read(), 10)
        assert "reconnect" in info.value.message
        assert await transport.read() is None
        assert transport.closed
        await transport.close()
    asyncio.run(main())


def test_final_close_code_is_not_retried():
    async def main():
        host = await Host().start()
        transport = _transport(host)
        await transport.connect()
        await host.sockets[0].close(4003, "unauthorized")
        with pytest.raises(NetworkError) as info:
            await asyncio.wait_for(transport.read(), 5)
        assert "4003" in info.value.message
        assert await transport.read() is None
        assert transport.connections == 1
        await transport.close()
        await host.aclose()
    asyncio.run(main())


def _user(text: str, seq: int) -> Dict[str, Any]:
    return {"type": "user", "message": {"role": "user", "content": text}, "parent_tool_use_id": None,
            "session_id": "", "seq": seq}


def test_claw_over_sdk_url_two_turns_with_a_forced_disconnect(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    token = tmp_path / "session_token"
    token.write_text("file-session-token\n")

    async def drive(host: Host) -> Dict[str, Any]:
        log: Dict[str, Any] = {"first": [], "second": []}
        delivered: Dict[int, Dict[str, Any]] = {}  # seq -> message, duplicates dropped as the host should

        async def until_result(into: List[Dict[str, Any]], *, kill_after_init: bool = False) -> None:
            while True:
                index, message = await host.next(60)
                if message["type"] == "resume":
                    log.setdefault("resumes", []).append((index, message))
                    continue
                if message["type"] == "ack":  # claw acknowledging the host's numbered messages
                    assert "seq" in message and set(message) == {"type", "seq"}
                    log.setdefault("acks", []).append(message["seq"])
                    continue
                seq = message["seq"]
                if seq in delivered:
                    log.setdefault("duplicates", []).append(seq)
                    continue
                delivered[seq] = message
                into.append(message)
                if kill_after_init and message["type"] == "system":
                    host.sockets[index].transport.abort()  # forced disconnect mid-turn, nothing acked
                    kill_after_init = False
                    continue
                if message["type"] == "result":
                    await host.send({"type": "ack", "seq": seq}, index)
                    return

        while not host.sockets:
            await asyncio.sleep(0.01)
        await host.send(_user("first question", 1))
        await until_result(log["first"], kill_after_init=True)
        await host.send(_user("second question", 2))
        await until_result(log["second"])
        await host.sockets[-1].close(1000)
        log["connections"] = len(host.sockets)
        log["seqs"] = sorted(delivered)
        return log

    with ModelServer([reply(text="first answer", text_chunk=4, delay=0.1), reply(text="second answer")]) as srv, \
            BackgroundLoop() as loop:
        host = loop.call(Host().start())
        env = {k: v for k, v in os.environ.items() if k not in SCRUB}
        env.update(srv.env(CLAW_CONFIG_HOME=str(tmp_path / "home"), CCR_SESSION_TOKEN_PATH=str(token),
                           PYTHONPATH=str(ROOT)))
        proc = subprocess.Popen([sys.executable, "-m", "claw", "--sdk-url", host.url, "--input-format",
                                 "stream-json", "--output-format", "stream-json"], cwd=str(work), env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            log = loop.call(drive(host), timeout=120)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        loop.call(host.aclose())
    assert proc.returncode == 0, err.decode()
    assert out == b""  # nothing on stdout: the protocol goes over the WebSocket
    assert host.headers[0]["authorization"] == "Bearer file-session-token"
    assert log["connections"] == 2
    [(index, resume)] = log["resumes"]
    assert index == 1 and resume["last_acked_seq"] == 0 and resume["last_received_seq"] == 1
    assert resume["replay_from_seq"] == 1
    # the init line came on both connections (nothing was acked before the drop): the host's dedup by
    # seq is what seq is for; the rest of the first turn, produced while disconnected (the model answers
    # slowly), arrived on the second connection
    assert log["duplicates"] and log["duplicates"][0] == 1
    assert [m["type"] for m in log["first"]] == ["system", "assistant", "result"]
    assert [m["type"] for m in log["first"]] == ["system", "assistant", "result"]
    assert log["first"][-1]["result"] == "first answer" and log["first"][-1]["is_error"] is False
    assert log["second"][-1]["result"] == "second answer"
    assert log["seqs"] == list(range(1, len(log["seqs"]) + 1))  # no gap after dedup
    assert len(srv.requests) == 2
    assert log["acks"][-1] == 2  # claw acknowledged both user messages


@pytest.mark.parametrize("url", ["ftp://host/x", "not a url", "ws://"])
def test_unusable_url_is_a_usage_error(url):
    from claw.errors import UsageError

    with pytest.raises(UsageError) as info:
        SdkUrlTransport(url, NetConfig.from_env({}))
    assert "--sdk-url" in info.value.message and info.value.exit_code == 2
