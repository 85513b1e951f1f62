"""Helpers for the tool tests: run a tool call, a ToolContext on a directory, a local HTTP server."""

from __future__ import annotations

import asyncio
import http.server
import os
import socket
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from claw.tools.base import ToolContext, ToolResult
from claw.tools.registry import get_tool


def make_ctx(cwd: Path, **kw: Any) -> ToolContext:
    env = kw.pop("env", None)
    if env is None:
        env = dict(os.environ)
    return ToolContext(cwd=Path(cwd), env=env, **kw)


def call(name: str, tool_input: Dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Validate and run one tool call (as the loop does), in a fresh event loop."""
    return asyncio.run(get_tool(name)(tool_input, ctx))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


Route = Callable[[http.server.BaseHTTPRequestHandler], Tuple[int, List[Tuple[str, str]], bytes]]


class LocalHttpServer:
    """A real HTTP/1.1 server on 127.0.0.1 in a thread; ``routes`` maps a path to a handler that
    returns (status, headers, body). Requests are recorded as (method, path, headers)."""

    def __init__(self, routes: Dict[str, Route]) -> None:
        self.routes = routes
        self.requests: List[Tuple[str, str, Dict[str, str]]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append(("GET", self.path, {k.lower(): v for k, v in self.headers.items()}))
                path = self.path.split("?", 1)[0]
                route = outer.routes.get(path)
                if route is None:
                    status, headers, body = 404, [("Content-Type", "text/plain")], b"not here"
                else:
                    status, headers, body = route(self)
                self.send_response(status)
                names = {k.lower() for k, _ in headers}
                for k, v in headers:
                    self.send_header(k, v)
                if "content-length" not in names:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread: Optional[threading.Thread] = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "LocalHttpServer":
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
