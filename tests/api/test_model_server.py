"""The fake model server itself: standalone process mode, recording, sync clients."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.fakes.model_server import ModelServer, reply, tool_use

ROOT = Path(__file__).resolve().parents[2]


def post(url, body, headers=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, dict(resp.headers), resp.read()


def test_standalone_process_prints_its_url_and_records(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"responses": [reply("one"), reply("two", tool_uses=[tool_use("bash", {"command": "ls"})])],
                                  "default": reply("again")}))
    record = tmp_path / "requests.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.model_server", "--port", "0",
                             "--script", str(script), "--record", str(record)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        status, headers, data = post(url + "/v1/messages", {"model": "m", "messages": [], "max_tokens": 5})
        assert status == 200 and json.loads(data)["content"] == [{"type": "text", "text": "one"}]
        assert headers.get("request-id", "").startswith("req_")
        status, _, data = post(url + "/v1/messages", {"model": "m", "messages": [], "stream": True},
                               {"x-api-key": "k"})
        text = data.decode()
        assert "event: message_start" in text and '"partial_json"' in text and "event: message_stop" in text
        status, _, data = post(url + "/v1/chat/completions", {"model": "gpt", "messages": []})
        assert json.loads(data)["choices"][0]["message"]["content"] == "again"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [line["path"] for line in lines] == ["/v1/messages", "/v1/messages", "/v1/chat/completions"]
    assert lines[1]["headers"]["x-api-key"] == "k" and lines[1]["json"]["stream"] is True


def test_unscripted_requests_get_a_clear_non_retryable_error():
    with ModelServer([]) as srv:
        try:
            post(srv.url + "/v1/messages", {"model": "m", "messages": []})
        except urllib.error.HTTPError as exc:
            assert exc.code == 400
            assert "no scripted response left" in json.loads(exc.read())["error"]["message"]
        else:  # pragma: no cover
            raise AssertionError("expected a 400")
        assert len(srv.wait_for_requests(1)) == 1


def test_handler_scripts_dynamic_answers():
    def echo(req):
        last = req.json["messages"][-1]["content"]
        return reply(f"you said: {last}")

    with ModelServer(handler=echo) as srv:
        _, _, data = post(srv.url + "/v1/messages", {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        assert json.loads(data)["content"][0]["text"] == "you said: hi"
        env = srv.env()
        assert env["ANTHROPIC_BASE_URL"] == srv.url and env["OPENAI_BASE_URL"] == srv.url + "/v1"
