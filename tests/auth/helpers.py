"""Helpers for the auth tests: a thread-safe captured stream, running `claw login` in a thread, and a
tiny "browser" that follows the fake server's redirect to the loopback listener."""

from __future__ import annotations

import io
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Tuple

URL_LINE = re.compile(r"^  (https?://\S+)$", re.M)


class Capture(io.StringIO):
    """A StringIO that other threads can wait on."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return super().write(text)

    def text(self) -> str:
        with self._lock:
            return self.getvalue()

    def wait_for(self, pattern: "re.Pattern[str]", timeout: float = 10.0) -> "re.Match[str]":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = pattern.search(self.text())
            if match:
                return match
            time.sleep(0.01)
        raise AssertionError(f"{pattern.pattern!r} never appeared in: {self.text()!r}")


class PipeInput:
    """A real pipe as stdin (so the login reads it the way it reads a terminal or a pipe)."""

    def __init__(self) -> None:
        r, w = os.pipe()
        self.stream = os.fdopen(r, "r")
        self._w = w

    def send(self, text: str) -> None:
        os.write(self._w, text.encode())

    def close(self) -> None:
        try:
            os.close(self._w)
        except OSError:
            pass
        self.stream.close()


class LoginThread:
    """`claw login ARGS` in a thread with captured streams."""

    def __init__(self, argv: List[str], env: Dict[str, str], stdin: Any = None,
                 open_browser: Optional[Callable[[str], bool]] = None) -> None:
        from claw.cli.login_cmd import run_login

        self.out = Capture()
        self.err = Capture()
        self.code: Optional[int] = None
        self.error: Optional[BaseException] = None

        def target() -> None:
            try:
                self.code = run_login(argv, stdin=stdin, stdout=self.out, stderr=self.err, env=env,
                                      open_browser=open_browser)
            except BaseException as exc:  # pragma: no cover - surfaced by join()
                self.error = exc

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def url(self) -> str:
        return self.err.wait_for(URL_LINE).group(1)

    def join(self, timeout: float = 30.0) -> int:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "claw login did not finish"
        if self.error is not None:
            raise self.error
        assert self.code is not None
        return self.code

    def output(self) -> str:
        return self.out.text() + self.err.text()


def visit(url: str) -> Tuple[int, str]:
    """GET ``url`` like a browser, directly (no proxy); localhost is taken as 127.0.0.1."""
    url = url.replace("://localhost:", "://127.0.0.1:", 1)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def saved(home) -> Dict[str, Any]:
    return json.loads((home / "credentials.json").read_text())


def assert_no_secrets(text: str, home) -> None:
    """No token value from credentials.json appears in ``text``."""
    path = home / "credentials.json"
    if not path.exists():
        return
    oauth = json.loads(path.read_text()).get("oauth") or {}
    for key in ("accessToken", "refreshToken"):
        value = oauth.get(key)
        if value:
            assert value not in text, f"{key} leaked into the output"
