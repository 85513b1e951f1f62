"""The network configuration every connection is opened with: proxies, TLS trust, timeouts.

``NetConfig.from_env`` gathers it from the environment plus the explicit values the settings layer
passes in (``network.proxy``, ``network.noProxy``, ``network.caFiles``, ``network.clientCert``,
``network.clientKey``, ``network.timeout``), which take precedence over the environment. It is resolved
once, before the first request, and handed to ``claw.net.connect`` / ``http`` / ``ws``.

It does not read settings files (that is ``claw.config``, a higher layer) and does not build the SSL
context until ``ssl_context()`` is called, so creating a NetConfig stays cheap (no ``ssl`` import).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Optional

from claw.errors import ConfigError
from claw.net.proxy import ProxySettings
from claw.net.tls import TLSSettings

if TYPE_CHECKING:  # pragma: no cover
    import ssl

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 90.0


@dataclass(frozen=True)
class NetConfig:
    """Proxies, TLS settings and the connect / idle-read timeouts (seconds)."""

    proxies: ProxySettings
    tls: TLSSettings
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT  # no byte for this long -> NetworkError(kind="timeout")

    @classmethod
    def from_env(
        cls,
        env: Optional[Mapping[str, str]] = None,
        *,
        proxy: Optional[str] = None,
        no_proxy: Optional[str] = None,
        ca_files: Iterable[str] = (),
        client_cert: Optional[str] = None,
        client_key: Optional[str] = None,
        connect_timeout: Optional[float] = None,
        read_timeout: Optional[float] = None,
    ) -> NetConfig:
        """Resolve from ``env`` (None: ``os.environ``) and explicit settings values.

        ``CLAW_STREAM_IDLE_TIMEOUT`` (seconds) sets ``read_timeout`` unless ``read_timeout`` is given.
        Raises ``ConfigError`` for an invalid proxy URL or timeout, naming the variable.
        """
        if env is None:
            env = os.environ
        proxies = ProxySettings.from_env(env, proxy=proxy, no_proxy=no_proxy)
        tls = TLSSettings.from_env(env, ca_files=ca_files, client_cert=client_cert,
                                   client_key=client_key)
        if connect_timeout is None:
            connect_timeout = DEFAULT_CONNECT_TIMEOUT
        else:
            connect_timeout = _positive(connect_timeout, "network connect timeout")
        if read_timeout is None:
            raw = (env.get("CLAW_STREAM_IDLE_TIMEOUT") or "").strip()
            read_timeout = _positive(raw, "CLAW_STREAM_IDLE_TIMEOUT") if raw else DEFAULT_READ_TIMEOUT
        else:
            read_timeout = _positive(read_timeout, "network read timeout")
        return cls(proxies, tls, connect_timeout, read_timeout)

    def ssl_context(self) -> ssl.SSLContext:
        """The client SSL context for these settings (cached; see ``claw.net.tls``)."""
        from claw.net.tls import client_ssl_context

        return client_ssl_context(self.tls)


def _positive(value: object, name: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if not number > 0 or number == float("inf"):
        raise ConfigError(
            f"{name} must be a positive number of seconds, not {value!r}",
            hint=f"set {name} to e.g. 30 or 120.5",
        )
    return number
