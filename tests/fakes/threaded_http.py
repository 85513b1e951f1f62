"""A fake HTTP(S) server of the tests on 127.0.0.1, served from a daemon thread: the lifecycle the
cloud fakes (bedrock_server, google_server) share. A subclass has ``tls`` (a trustme cert or None),
``_server`` and ``port`` attributes and ``handler_class()``."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from typing import Any


class BackgroundHTTPServer:
    tls: Any
    _server: Any
    port: int

    def handler_class(self) -> Any:
        raise NotImplementedError

    def start(self) -> Any:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class())
        server.daemon_threads = True
        if self.tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.configure_cert(context)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
