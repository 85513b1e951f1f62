"""Bring the upstream-proxy relay up for a run, or decide not to — and never fail the run because of it.

``start_remote(env, net_config)`` decides and brings the relay up; a run calls it once, before its
tools, hooks and MCP servers get their environment (claw.runtime.run). It returns a ``RemoteSetup``:

- ``status``: a ``RelayStatus`` — ``off`` (not a remote session, or ``CCR_UPSTREAM_PROXY_ENABLED`` not
  set: silent), ``inherited`` (``HTTPS_PROXY`` and ``SSL_CERT_FILE`` already set by a parent: silent,
  nothing added, no relay), ``up`` (relay listening, bundle written) or ``failed`` with ``reason``;
- ``notice``: for ``failed`` only, the ONE line the CLI prints on stderr; claw then runs without the
  relay and children get nothing added;
- ``shaping``: the ``EnvShaping`` to apply to the environment of every child (and to claw's own, so its
  own requests go through the relay and trust the session CA too);
- ``close()``: stop the relay (the run's ``aclose`` calls it; the relay thread is a daemon, so an exiting
  process never waits for it).

Bringing it up: fetch the session CA and probe the WebSocket endpoint (a handshake with the session's
credentials, closed at once) concurrently, write ``system roots + session CA`` atomically, then start
the listener. The relay runs on its own event loop in a daemon thread: it serves tools and background
jobs whatever the CLI's own loop is doing (a REPL between prompts, a turn blocked on the host), and
start-up can be waited for from synchronous code that runs inside a loop. Everything is bounded by
``timeout`` seconds.

Any failure becomes ``failed`` with a one-line reason (secrets redacted); nothing is raised, nothing is
printed here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from claw.remote.context import RemoteContext
from claw.remote.env_shaping import INHERITED_SHAPING, NO_SHAPING, EnvShaping, inherited_from_parent

STARTUP_TIMEOUT = 15.0  # seconds for the CA fetch, the probe and the listener together
OFF, INHERITED, UP, FAILED = "off", "inherited", "up", "failed"


@dataclass(frozen=True)
class RelayStatus:
    """Where the relay stands and, unless it is up, why."""

    state: str  # OFF | INHERITED | UP | FAILED
    reason: Optional[str] = None
    proxy_url: Optional[str] = None
    ca_bundle: Optional[str] = None
    ws_url: Optional[str] = None

    @property
    def notice(self) -> Optional[str]:
        """The one stderr line for a relay that was wanted and could not start; None otherwise."""
        if self.state != FAILED:
            return None
        return f"upstream proxy relay not started: {self.reason}; running without it"


class RelayThread:
    """An asyncio event loop on a daemon thread, for the relay."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="claw-upstream-relay", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        import asyncio

        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            try:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            finally:
                loop.close()

    def run(self, coro: Any, timeout: Optional[float]) -> Any:
        """Run ``coro`` on the relay loop and wait for its result (``TimeoutError`` after
        ``timeout`` seconds, the coroutine then being cancelled)."""
        import asyncio
        import concurrent.futures

        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"took longer than {timeout:g}s") from None

    def stop(self, join_timeout: float = 5.0) -> None:
        if self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:  # the loop closed meanwhile
            return
        if threading.current_thread() is not self._thread:
            self._thread.join(join_timeout)


class RemoteSetup:
    """The outcome of ``start_remote``; see the module docstring."""

    def __init__(self, status: RelayStatus, shaping: EnvShaping = NO_SHAPING, *,
                 runner: Optional[RelayThread] = None, relay: Any = None,
                 context: Optional[RemoteContext] = None) -> None:
        self.status = status
        self.shaping = shaping
        self.relay = relay  # the UpstreamRelay (its loop is runner.loop), for diagnostics and tests
        self.context = context
        self._runner = runner
        self._closed = False

    @property
    def notice(self) -> Optional[str]:
        return self.status.notice

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop the relay and its thread; safe to call twice, from any thread but the relay's."""
        self._closed = True
        runner, self._runner = self._runner, None
        if runner is None:
            return
        relay = self.relay
        if relay is not None:
            try:
                runner.run(relay.aclose(), 5.0)
            except Exception:  # noqa: BLE001 - stopping is best effort
                pass
        runner.stop()

    def __repr__(self) -> str:
        return f"<RemoteSetup {self.status.state}{' ' + self.status.proxy_url if self.status.proxy_url else ''}>"


def start_remote(env: Mapping[str, str], net_config: Any, *, timeout: float = STARTUP_TIMEOUT,
                 probe: bool = True, context: Optional[RemoteContext] = None) -> RemoteSetup:
    """Decide, and when wanted bring the relay up; never raises (see the module docstring).

    ``env`` is claw's effective environment before shaping; ``net_config`` the ``NetConfig`` built from
    it (the relay's own connections use it). ``probe=False`` skips the WebSocket check at start-up.
    """
    ctx = context if context is not None else RemoteContext.from_env(env)
    if not ctx.enabled:
        return RemoteSetup(RelayStatus(OFF, ctx.upstream_proxy_reason), context=ctx)
    if ctx.upstream_proxy_requested and inherited_from_parent(env):
        return RemoteSetup(RelayStatus(INHERITED, "HTTPS_PROXY and SSL_CERT_FILE are inherited from "
                                                  "the parent process"), INHERITED_SHAPING, context=ctx)
    if not ctx.wants_relay:
        return RemoteSetup(RelayStatus(OFF, ctx.upstream_proxy_reason), context=ctx)
    reason = ctx.upstream_proxy_reason
    if reason is not None:
        return RemoteSetup(RelayStatus(FAILED, reason, ws_url=ctx.ws_url), context=ctx)
    from claw.redact import Redactor
    from claw.remote.ca_bundle import default_bundle_path

    bundle_path = default_bundle_path(env)
    runner: Optional[RelayThread] = None
    try:
        runner = RelayThread()
        relay = runner.run(_bring_up(ctx, env, net_config, bundle_path, timeout=timeout, probe=probe),
                           timeout + 1.0)
    except BaseException as exc:  # noqa: BLE001 - fail open, whatever happened
        if runner is not None:
            runner.stop()
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        text = Redactor([ctx.token] if ctx.token else []).redact_text(_one_line(exc))
        return RemoteSetup(RelayStatus(FAILED, text, ws_url=ctx.ws_url), context=ctx)
    from claw.remote.env_shaping import relay_shaping

    shaping = relay_shaping(env, relay.url, bundle_path)
    status = RelayStatus(UP, None, proxy_url=relay.url, ca_bundle=bundle_path, ws_url=ctx.ws_url)
    return RemoteSetup(status, shaping, runner=runner, relay=relay, context=ctx)


async def _bring_up(ctx: RemoteContext, env: Mapping[str, str], net_config: Any, bundle_path: str, *,
                    timeout: float, probe: bool) -> Any:
    import asyncio

    from claw.remote.ca_bundle import fetch_session_ca, merge_bundle, system_ca_pem, write_bundle
    from claw.remote.relay import RelaySettings, UpstreamRelay

    assert ctx.token is not None and ctx.session_id is not None
    ca = asyncio.ensure_future(fetch_session_ca(ctx.ca_url, ctx.token, net_config, timeout=timeout))
    tasks = [ca]
    if probe:
        tasks.append(asyncio.ensure_future(_probe(ctx.ws_url, ctx.token, net_config, timeout)))
    try:
        done, pending = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # the first failure, as it happened
        if pending:
            raise TimeoutError(f"the session CA and WebSocket checks took longer than {timeout:g}s")
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    session_pem = ca.result()
    system_pem, _source = system_ca_pem(env)
    write_bundle(bundle_path, merge_bundle(system_pem, session_pem))
    relay = UpstreamRelay(RelaySettings(ws_url=ctx.ws_url, session_id=ctx.session_id, token=ctx.token,
                                        net_config=net_config))
    await relay.start()
    return relay


async def _probe(ws_url: str, token: str, net_config: Any, timeout: float) -> None:
    """Open the upstream-proxy WebSocket with the session's credentials and close it: a refused
    handshake (401, 403, 404...) disables the relay before any child depends on it."""
    from claw.net.ws import connect_websocket
    from claw.remote.relay_framing import upgrade_headers

    ws = await connect_websocket(ws_url, net_config, headers=upgrade_headers(token), ping_interval=None,
                                 connect_timeout=timeout)
    await ws.aclose(1000, "probe")


def _one_line(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    first = str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__
    return first[:400]
