"""claw itself in a remote session: the bash tool's curl and Python urllib reach a trustme-certified HTTPS
server through the relay, hooks and MCP stdio servers get the shaped environment too; when the relay
cannot start, claw runs normally with one stderr line and no variable added."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

from tests.fakes.claw_wrapper import ROOT, SCRUB
from tests.fakes.model_server import ModelServer, reply, tool_use
from tests.remote.helpers import HELLO, TOKEN

SHAPED = ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS",
          "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
SHOW_ENV = ("env | grep -E '^(HTTPS_PROXY|https_proxy|SSL_CERT_FILE|NODE_EXTRA_CA_CERTS|REQUESTS_CA_BUNDLE|"
            "CURL_CA_BUNDLE)=' | sort; echo END-OF-ENV")


# A minimal stdio MCP server (JSON-RPC lines, no dependencies: the mcp package costs a second to start)
# whose one tool reports the proxy and CA variables it was started with.
MCP_SERVER = r"""
import json, os, sys

for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    method, result = msg.get("method"), None
    if method == "initialize":
        result = {"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
                  "serverInfo": {"name": "envdump", "version": "1"}}
    elif method == "tools/list":
        result = {"tools": [{"name": "proxy_env", "description": "proxy and CA variables",
                             "inputSchema": {"type": "object", "properties": {}}}]}
    elif method == "tools/call":
        text = os.environ.get("HTTPS_PROXY", "") + "|" + os.environ.get("SSL_CERT_FILE", "")
        result = {"content": [{"type": "text", "text": text}]}
    if result is None:
        reply = {"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "no such method"}}
    else:
        reply = {"jsonrpc": "2.0", "id": msg["id"], "result": result}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
"""


def _run_claw(work: Path, env: Dict[str, str], *, timeout: float = 90):
    full = {k: v for k, v in os.environ.items() if k not in SCRUB and k not in SHAPED}
    full.update(env)
    full["PYTHONPATH"] = str(ROOT)
    full["CLAW_CONFIG_HOME"] = str(work.parent / "claw-home")
    proc = subprocess.run([sys.executable, "-m", "claw", "-p", "go", "--output-format", "json"], cwd=str(work),
                          env=full, capture_output=True, text=True, timeout=timeout)
    result = json.loads(proc.stdout)
    return proc, result


def _workspace(remote) -> Path:
    work = remote.tmp / "work"
    work.mkdir()
    return work


def test_bash_tool_curl_and_urllib_reach_https_through_the_relay(remote):
    work = _workspace(remote)
    hook_dump = remote.tmp / "hook-env.txt"
    (work / ".claw").mkdir()
    (work / ".claw" / "settings.json").write_text(json.dumps({"hooks": {"PreToolUse": [
        {"matcher": "bash", "hooks": [{"type": "command", "command": f"env > {hook_dump}"}]}]}}))
    fetch = (f"{sys.executable} -c \"import urllib.request,sys; "
             f"sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=20).read().decode())\" "
             f"{remote.target_url}")
    curl = shutil.which("curl")
    command = fetch + "; echo URLLIB-DONE; "
    if curl:
        command += f"{curl} -sS --max-time 20 {remote.target_url}; echo CURL-DONE; "
    command += SHOW_ENV
    server = remote.tmp / "env_mcp.py"
    server.write_text(MCP_SERVER)
    (work / ".mcp.json").write_text(json.dumps({"mcpServers": {"envdump": {
        "command": sys.executable, "args": [str(server)]}}}))
    script = [reply(tool_uses=[tool_use("bash", {"command": command}),
                               tool_use("mcp__envdump__proxy_env", {})]),
              reply(text="fetched")]
    with ModelServer(script) as srv:
        env = srv.env(**remote.env())
        env.pop("NO_PROXY", None)
        proc, result = _run_claw(work, env)
    assert proc.returncode == 0, proc.stderr
    assert result["is_error"] is False and result["result"] == "fetched"
    output = result["tool_results"][0]["output"]
    hello = HELLO.decode()
    assert output.count(hello) == (2 if curl else 1), output
    assert "URLLIB-DONE" in output and (not curl or "CURL-DONE" in output)
    bundle = remote.env()["CCR_CA_BUNDLE_PATH"]
    for name in ("SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        assert f"{name}={bundle}" in output
    assert "HTTPS_PROXY=http://127.0.0.1:" in output and "https_proxy=http://127.0.0.1:" in output
    targets = [t.target for t in remote.fake.tunnels]
    assert targets.count(f"tunnel-target.test:{remote.https.port}") == (2 if curl else 1)
    assert len(remote.fake.ca_requests) == 1  # one relay per process, shared by MCP start-up and the run
    assert "upstream proxy" not in proc.stderr
    assert TOKEN not in proc.stderr and TOKEN not in proc.stdout
    mcp_output = result["tool_results"][1]["output"]
    assert f"|{bundle}" in mcp_output and "http://127.0.0.1:" in mcp_output, (mcp_output, proc.stderr)
    hook_env = dict(line.split("=", 1) for line in hook_dump.read_text().splitlines() if "=" in line)
    assert hook_env["HTTPS_PROXY"].startswith("http://127.0.0.1:")
    assert hook_env["SSL_CERT_FILE"] == bundle


@pytest.mark.parametrize("case", ["no token file", "CA endpoint 500", "WebSocket 403"])
def test_fail_open_claw_works_with_nothing_added(remote, case):
    work = _workspace(remote)
    extra = {}
    if case == "no token file":
        extra["CCR_SESSION_TOKEN_PATH"] = str(remote.tmp / "absent-token")
    elif case == "CA endpoint 500":
        remote.fake.ca_status = 500
    else:
        remote.fake.ws_status = 403
    script = [reply(tool_uses=[tool_use("bash", {"command": SHOW_ENV})]), reply(text="worked")]
    with ModelServer(script) as srv:
        proc, result = _run_claw(work, srv.env(**remote.env(**extra)))
    assert proc.returncode == 0, proc.stderr
    assert result["is_error"] is False and result["result"] == "worked"
    output = result["tool_results"][0]["output"]
    assert output.strip() == "END-OF-ENV", output  # not one shaped variable reached the child
    assert len(remote.fake.ca_requests) == (0 if case == "no token file" else 1)  # one attempt per process
    notices = [line for line in proc.stderr.splitlines() if "upstream proxy relay" in line]
    assert len(notices) == 1, proc.stderr
    assert notices[0].endswith("running without it")
    assert TOKEN not in proc.stderr
