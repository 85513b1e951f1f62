"""Debian's tinyproxy as a real HTTP proxy peer for tests, on 127.0.0.1 with a free port.

``Tinyproxy(tmp_path, basic_auth=("user", "pass")).start()`` writes a temporary config (Port, Listen
127.0.0.1, Allow 127.0.0.1, optional ConnectPort lines and BasicAuth, LogFile, MaxClients), runs
``tinyproxy -d -c conf`` in the foreground, waits until its port accepts connections, and ``stop()``
kills it by pid. Use it as a context manager or through a pytest fixture.

tinyproxy's config grammar only accepts ``[-a-z0-9._]`` in BasicAuth user names and passwords.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterable, Optional, Tuple

TINYPROXY = shutil.which("tinyproxy") or "/usr/sbin/tinyproxy"
if not os.path.exists(TINYPROXY) and os.path.exists("/usr/bin/tinyproxy"):
    TINYPROXY = "/usr/bin/tinyproxy"


def available() -> bool:
    return os.path.exists(TINYPROXY)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Tinyproxy:
    def __init__(self, directory: Path, *, basic_auth: Optional[Tuple[str, str]] = None,
                 connect_ports: Optional[Iterable[int]] = None) -> None:
        self.directory = Path(directory)
        self.basic_auth = basic_auth
        self.connect_ports = list(connect_ports) if connect_ports is not None else None
        self.port = 0
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_with_credentials(self, userinfo: str) -> str:
        return f"http://{userinfo}@127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / f"tinyproxy-{self.port}.log"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> Tinyproxy:
        last_error = ""
        for _attempt in range(3):  # the free port can be taken between probing and binding
            self.port = free_port()
            conf = self.directory / f"tinyproxy-{self.port}.conf"
            lines = [
                f"Port {self.port}",
                "Listen 127.0.0.1",
                "Timeout 30",
                "Allow 127.0.0.1",
                f'LogFile "{self.log_path}"',
                "LogLevel Info",
                "MaxClients 50",
            ]
            for port in self.connect_ports or ():
                lines.append(f"ConnectPort {port}")
            if self.basic_auth is not None:
                lines.append(f"BasicAuth {self.basic_auth[0]} {self.basic_auth[1]}")
            conf.write_text("\n".join(lines) + "\n")
            output = open(self.directory / f"tinyproxy-{self.port}.out", "wb")
            self.process = subprocess.Popen([TINYPROXY, "-d", "-c", str(conf)], stdout=output,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            output.close()
            if self._wait_ready(10.0):
                return self
            last_error = self.log() + (self.directory / f"tinyproxy-{self.port}.out").read_text()
            self.stop()
        raise RuntimeError(f"tinyproxy did not start: {last_error[-2000:]}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def __enter__(self) -> Tinyproxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
