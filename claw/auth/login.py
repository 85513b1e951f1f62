"""The ``claw login`` flow: PKCE authorization code, a loopback listener and/or a pasted code.

``login(config, ...)``:
  1. makes a PKCE pair and a state (claw.auth.pkce);
  2. picks the redirect: Anthropic's "show the code" page when the caller asks for the manual flow
     and the provider has one (``--no-browser`` over SSH with the default endpoints), otherwise a
     loopback listener on 127.0.0.1 (and ::1 when available) at ``callback_port`` or a free port, with
     ``http://localhost:<port>/callback`` as the redirect URI;
  3. hands the sign-in URL to ``on_prompt`` (the CLI prints it and may open a browser);
  4. waits for whichever comes first: the browser's request to the listener, or a line from
     ``paste`` (the code, ``code#state``, or the whole redirect URL); the state is checked (a bare
     pasted code has none: PKCE still binds it to this attempt), an ``error`` redirect is reported;
  5. exchanges the code at the token endpoint through claw.net and saves the tokens in the
     credential store (0600, atomic, other keys kept). The browser tab then shows the outcome.

Deliberately not here: printing, reading the terminal, opening browsers (the caller's callbacks do
that), deciding whether a browser exists.
"""

from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, List, Optional, Set
from urllib.parse import urlsplit

from claw.auth import defaults
from claw.auth.credentials import CredentialStore
from claw.auth.exchange import request_tokens
from claw.auth.oauth import (CallbackParams, OAuthConfig, TokenSet, auth_error, authorization_code_request,
                             authorization_url, checked_code, loopback_redirect_uri, parse_callback, parse_pasted)
from claw.auth.pkce import Pkce
from claw.errors import ClawError, ConfigError

DEFAULT_TIMEOUT = 300.0
MAX_REQUEST_HEAD = 16 * 1024
_READ_HEAD_TIMEOUT = 10.0
_OUTCOME_WAIT = 60.0


@dataclass(frozen=True)
class LoginPrompt:
    """What the user must be shown: the URL to open, and how the answer is expected to come back."""

    url: str
    redirect_uri: str
    listening: bool  # a loopback listener waits for the browser
    manual: bool  # the provider's page shows a code to paste (no listener)
    paste: bool  # a pasted code / URL is accepted


class LoopbackListener:
    """A one-shot HTTP listener for the OAuth redirect on the loopback interface."""

    def __init__(self, path: str = defaults.REDIRECT_PATH) -> None:
        self.path = path
        self.port = 0
        self._servers: List[Any] = []
        self._result: Optional[asyncio.Future] = None
        self._outcome: Optional[asyncio.Future] = None
        self._handlers: Set[Any] = set()
        self._answering: Set[Any] = set()
        self.requests = 0

    @property
    def result(self) -> asyncio.Future:
        assert self._result is not None, "start() first"
        return self._result

    async def start(self, port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self._result = loop.create_future()
        self._outcome = loop.create_future()
        try:
            server = await asyncio.start_server(self._handle, host="127.0.0.1", port=port)
        except OSError as exc:
            if port:
                raise ConfigError(f"cannot listen for the sign-in redirect on 127.0.0.1:{port}: "
                                  f"{exc.strerror or exc}",
                                  hint="another program uses that port: set oauth.callbackPort to a free port "
                                       "(or 0 for any), or pass --port") from None
            raise ClawError(f"cannot listen for the sign-in redirect on 127.0.0.1: {exc.strerror or exc}",
                            hint="use `claw login --no-browser` and paste the code",
                            kind="oauth_listener", failure_class="runtime_io") from None
        self._servers.append(server)
        self.port = server.sockets[0].getsockname()[1]
        try:  # browsers may resolve "localhost" to ::1 first
            self._servers.append(await asyncio.start_server(self._handle, host="::1", port=self.port))
        except OSError:
            pass
        return self.port

    def finish(self, error: Optional[str]) -> None:
        """Tell the waiting browser request how the sign-in ended (None: success)."""
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(error)

    async def close(self) -> None:
        """Stop listening; a request still writing its page gets a moment, idle ones are dropped."""
        self.finish("the sign-in was abandoned")
        for server in self._servers:
            server.close()
        self._servers = []
        for task in [t for t in self._handlers if t not in self._answering]:
            task.cancel()  # idle connections (browser pre-connects): nothing to say to them
        answering = [t for t in self._answering if not t.done()]
        if answering:
            await asyncio.wait(answering, timeout=1.0)
            for task in answering:
                task.cancel()
        if self._result is not None and not self._result.done():
            self._result.cancel()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        except Exception:
            pass
        finally:
            if task is not None:
                self._handlers.discard(task)
                self._answering.discard(task)
            try:
                writer.close()
            except Exception:  # pragma: no cover
                pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests += 1
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_HEAD_TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError):
            return
        if len(head) > MAX_REQUEST_HEAD:
            return await _respond(writer, 431, "Request too large", "")
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return await _respond(writer, 400, "Bad request", "")
        method, target = parts[0], parts[1]
        split = urlsplit(target)
        if split.path != self.path:
            return await _respond(writer, 404, "Not found", "")
        if method != "GET":
            return await _respond(writer, 405, "Method not allowed", "")
        params = parse_callback(split.query)
        if params.code is None and params.error is None:
            return await _respond(writer, 400, "Missing code", _page("No authorization code",
                                  "This address only receives the sign-in redirect for claw."))
        if self._result is None or self._result.done():
            return await _respond(writer, 409, "Already used", _page("Already handled",
                                  "This sign-in has already been completed or abandoned; "
                                  "you can close this tab."))
        self._result.set_result(params)
        self._answering.add(asyncio.current_task())
        assert self._outcome is not None
        try:
            error = await asyncio.wait_for(asyncio.shield(self._outcome), _OUTCOME_WAIT)
        except asyncio.TimeoutError:
            return await _respond(writer, 200, "OK", _page("Sign-in received",
                                  "Return to the terminal to see the result."))
        if error is None:
            await _respond(writer, 200, "OK", _page("Signed in to claw",
                           "You can close this tab and return to the terminal."))
        else:
            await _respond(writer, 400, "Sign-in failed", _page("Sign-in failed", error))


def _page(title: str, text: str) -> str:
    return ("<!doctype html><meta charset=utf-8><title>claw</title>"
            "<body style='font-family:sans-serif;margin:3em'>"
            f"<h2>{html.escape(title)}</h2><p>{html.escape(text)}</p></body>")


async def _respond(writer: asyncio.StreamWriter, status: int, reason: str, body: str) -> None:
    data = body.encode("utf-8")
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n"
            "Connection: close\r\n\r\n").encode("latin-1")
    writer.write(head + data)
    try:
        await writer.drain()
    except ConnectionError:
        pass


PasteReader = Callable[[], Awaitable[Optional[str]]]


async def _next_paste(paste: PasteReader) -> CallbackParams:
    """The first non-empty pasted line, parsed. EOF is an error."""
    while True:
        line = await paste()
        if line is None:
            raise auth_error("no code was pasted: the input ended", kind="oauth_no_code",
                             hint="run `claw login` in a terminal and paste the code when asked")
        if line.strip():
            return parse_pasted(line)


async def login(config: OAuthConfig, *, store: CredentialStore, net_config: Any = None,
                on_prompt: Callable[[LoginPrompt], None], paste: Optional[PasteReader] = None,
                manual: bool = False, timeout: float = DEFAULT_TIMEOUT, http: Any = None,
                pkce: Optional[Pkce] = None) -> TokenSet:
    """Run the sign-in; returns the saved tokens. ``manual``: prefer the provider's code page (no
    listener) when it has one; ``paste``: an async reader of pasted lines (None: no pasting)."""
    pkce = pkce or Pkce.new()
    use_manual = manual and config.manual_redirect_url is not None and paste is not None
    listener: Optional[LoopbackListener] = None
    waiters: List[asyncio.Future] = []
    paste_task: Optional[asyncio.Task] = None
    try:
        if use_manual:
            redirect_uri = config.manual_redirect_url  # type: ignore[assignment]
        else:
            listener = LoopbackListener()
            port = await listener.start(config.callback_port)
            redirect_uri = loopback_redirect_uri(port)
            waiters.append(listener.result)
        assert redirect_uri is not None
        url = authorization_url(config, pkce, redirect_uri)
        if paste is not None:
            paste_task = asyncio.ensure_future(_next_paste(paste))
            waiters.append(paste_task)
        on_prompt(LoginPrompt(url=url, redirect_uri=redirect_uri, listening=listener is not None,
                              manual=use_manual, paste=paste is not None))
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if not done:
            raise auth_error(f"no sign-in arrived within {timeout:g} s", kind="oauth_timeout",
                             hint="run `claw login` again; on a machine without a browser (SSH) use "
                                  "`claw login --no-browser` and paste the code")
        first = next(iter(done))
        from_listener = listener is not None and first is listener.result
        params: CallbackParams = first.result()
        try:
            code = checked_code(params, pkce.state, require_state=from_listener)
            tokens = await request_tokens(
                authorization_code_request(config, code=code, redirect_uri=redirect_uri, pkce=pkce),
                net_config=net_config, http=http, requested_scopes=config.scopes,
                what="sign-in (authorization code exchange)")
            store.save_oauth(tokens)
        except ClawError as exc:
            if listener is not None:
                listener.finish(exc.message)
            raise
        if listener is not None:
            listener.finish(None)
        return tokens
    finally:
        if paste_task is not None and not paste_task.done():
            paste_task.cancel()
            try:
                await paste_task
            except BaseException:
                pass
        if listener is not None:
            await listener.close()
