"""Shared helpers of the MCP tests: server entries from raw config, subprocess servers on free ports."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from claw.mcp.client import McpServer
from claw.mcp.config import load_mcp_config

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FASTMCP = [PY, "-m", "tests.mcp.servers.fastmcp_server"]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def entry(name: str, raw: Dict[str, Any], cwd: str = REPO, env: Optional[Dict[str, str]] = None):
    """The ServerEntry claw builds for one raw ``mcpServers`` entry (through the real config path)."""
    config = load_mcp_config(cwd, env if env is not None else os.environ,
                             mcp_config=[json.dumps({"mcpServers": {name: raw}})], strict=True)
    return config.servers[name]


def server(name: str, raw: Dict[str, Any], **kw: Any) -> McpServer:
    env = kw.pop("env", None)
    base = dict(os.environ)
    base["PYTHONPATH"] = REPO + os.pathsep + base.get("PYTHONPATH", "")
    if env:
        base.update(env)
    return McpServer(entry(name, raw, env=base), env=base, cwd=kw.pop("cwd", REPO), **kw)


def stdio_fastmcp() -> Dict[str, Any]:
    return {"command": PY, "args": ["-m", "tests.mcp.servers.fastmcp_server", "stdio"], "cwd": REPO}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: Optional[subprocess.Popen] = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


class HttpServerProcess:
    """A FastMCP server subprocess on a free port: ``url`` for streamable HTTP or SSE."""

    def __init__(self, transport: str, *extra: str) -> None:
        self.transport = transport
        self.port = free_port()
        env = dict(os.environ, PYTHONPATH=REPO)
        self.proc = subprocess.Popen(FASTMCP + [transport, str(self.port), *extra], cwd=REPO, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_port(self.port, self.proc)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        path = "/sse" if self.transport == "sse" else "/mcp"
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()


def tool_text(result: Dict[str, Any]) -> str:
    return "\n".join(b.get("text", "") for b in result.get("content", []) if b.get("type") == "text")


def silent_stdio_server() -> Dict[str, Any]:
    """A process that reads stdin and never answers."""
    return {"command": PY, "args": ["-c", "import sys, time\nsys.stdin.readline()\ntime.sleep(60)"]}


def names(tools: List[Any]) -> List[str]:
    return sorted(t if isinstance(t, str) else t["name"] for t in tools)
