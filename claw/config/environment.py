"""The environment claw and its children run with, and the network config derived from settings.

``effective_env`` overlays the settings ``env`` block on the process environment (settings win).
When the block sets a proxy variable (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) in
one case, the inherited variable of the other case is dropped, so the settings value is the one in
effect whatever case rule a reader applies (``"HTTPS_PROXY": ""`` in settings turns an inherited
``https_proxy`` off). The result is what tools, hooks and MCP servers are started with, and what proxy
and CA resolution reads.

``network_config`` turns settings plus that environment into ``claw.net.config.NetConfig``: the
``network`` block's explicit values (proxy, noProxy, caFiles, clientCert/Key, timeouts) are passed on
and win over the environment's. It imports net lazily (config sits above net).

Nothing here changes ``os.environ``.
"""

from __future__ import annotations

import os
from typing import Mapping

from claw.config.models import Settings

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


def effective_env(settings: Settings | None, base: Mapping[str, str] | None = None) -> dict:
    """A new dict: ``base`` (default ``os.environ``) overlaid with ``settings.env``."""
    env = dict(os.environ if base is None else base)
    if settings is None:
        return env
    for name, value in settings.env.items():
        upper = name.upper()
        if upper in PROXY_VARIABLES:
            for other in [k for k in env if k.upper() == upper and k != name]:
                del env[other]
        env[name] = value
    return env


def network_config(settings: Settings, env: Mapping[str, str] | None = None):
    """``NetConfig`` for ``settings``; ``env`` is the effective environment (computed when None)."""
    from claw.net.config import NetConfig

    if env is None:
        env = effective_env(settings)
    net = settings.network
    return NetConfig.from_env(
        env,
        proxy=net.proxy,
        no_proxy=net.no_proxy,
        ca_files=net.ca_files,
        client_cert=net.client_cert,
        client_key=net.client_key,
        connect_timeout=net.connect_timeout,
        read_timeout=net.read_timeout,
    )
