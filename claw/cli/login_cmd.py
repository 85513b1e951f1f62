"""``claw login``, ``claw logout`` and ``claw whoami``: the terminal side of the Anthropic sign-in.

    claw login [--no-browser] [--port N] [--timeout S]   sign in; tokens go to $CLAW_CONFIG_HOME/credentials.json
    claw logout                                         remove the saved login (other keys of the file stay)
    claw whoami [--json]                                which credentials Anthropic requests use

``login`` always prints the sign-in URL on stderr. It opens a browser only when one is usable (macOS,
Windows, or ``DISPLAY``/``WAYLAND_DISPLAY``/``BROWSER`` set); otherwise, and with ``--no-browser``, it
reads the code (or ``code#state``, or the whole redirect URL) from stdin. With a browser on a
terminal, pasting is accepted too. Messages go to stderr, the one-line result to stdout.

Everything about OAuth lives in claw.auth; this module parses argv, wires the terminal and prints.
Exit codes: 0 ok; 1 sign-in failed / not signed in (whoami); 2 usage or configuration error; 130
interrupted. Secrets are never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Mapping, Optional, TextIO

from claw.errors import ClawError, UsageError

LOGIN_DESCRIPTION = """\
Sign in with an Anthropic account (OAuth, PKCE). The sign-in URL is always printed on stderr.

With a usable browser it is opened, and a listener on 127.0.0.1 receives the redirect. Without one
(SSH, containers) or with --no-browser, open the URL anywhere, sign in, and paste the code shown
(or the whole URL the browser ends up on) at the prompt; stdin may also be a pipe.

Tokens are saved under "oauth" in $CLAW_CONFIG_HOME/credentials.json (default ~/.claw), mode 0600.
ANTHROPIC_API_KEY, an apiKeyHelper and ANTHROPIC_AUTH_TOKEN take precedence over the saved login.
Endpoints and client id: settings "oauth" block, CLAW_OAUTH_AUTHORIZE_URL, CLAW_OAUTH_TOKEN_URL,
CLAW_OAUTH_CLIENT_ID. See docs/AUTH.md.
"""

LOGOUT_DESCRIPTION = """\
Remove the saved Anthropic login ("oauth" in $CLAW_CONFIG_HOME/credentials.json). Other keys of the
file are kept. Environment variables (ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN) are not affected.
"""

WHOAMI_DESCRIPTION = """\
Show which credentials Anthropic requests use, in precedence order: ANTHROPIC_API_KEY or the
apiKeyHelper (x-api-key), ANTHROPIC_AUTH_TOKEN (bearer), then the saved login (with its expiry).
Never prints a secret. Exit 1 when there are no credentials.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{self.prog[len('claw '):]}: {message}", hint=f"run '{self.prog} --help'")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cwd", metavar="DIR", help="project directory whose settings apply (default: the current one)")
    parser.add_argument("--settings", metavar="FILE|JSON", help="extra settings file or inline JSON")


class _Io:
    def __init__(self, stdin: Optional[TextIO], stdout: Optional[TextIO], stderr: Optional[TextIO]) -> None:
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr

    def out(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def err(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()


class _RedactingIo(_Io):
    """``_Io`` whose every line goes through its redactor first (whoami prints the apiKeyHelper command,
    which may hold a key literally); ``redactor`` starts as the process environment's and is replaced by
    one that knows the effective environment once the settings are read."""

    def __init__(self, *streams: Optional[TextIO]) -> None:
        from claw.redact import default_redactor

        super().__init__(*streams)
        self.redactor = default_redactor()

    def out(self, text: str) -> None:
        super().out(self.redactor.redact_text(text))

    def err(self, text: str) -> None:
        super().err(self.redactor.redact_text(text))


def _fail(io: _Io, error: ClawError) -> int:
    from claw.cli.errors import render_error

    io.err(render_error(error))
    return error.exit_code


def _context(args: Any, base_env: Optional[Mapping[str, str]], *, strict: bool = True):
    """(loaded settings, effective env, project dir)."""
    from claw.config.environment import effective_env
    from claw.config.loader import load_settings

    base = dict(os.environ if base_env is None else base_env)
    cwd = os.path.abspath(os.path.expanduser(args.cwd)) if args.cwd else os.getcwd()
    if args.cwd and not os.path.isdir(cwd):
        raise UsageError(f"--cwd {args.cwd!r} is not a directory")
    loaded = load_settings(cwd, base, args.settings, strict=strict)
    return loaded, effective_env(loaded.settings, base), cwd


def browser_available(env: Mapping[str, str], platform: Optional[str] = None) -> bool:
    """Whether ``webbrowser`` can show a page to the person at this terminal."""
    platform = sys.platform if platform is None else platform
    if (env.get("BROWSER") or "").strip():
        return True
    remote = bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY"))
    if platform == "darwin" or platform.startswith("win"):
        return not remote
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


# -- reading pasted lines -------------------------------------------------------------------------------


class StdinLines:
    """Lines from a text stream, read without blocking the event loop (and cancellable): the file
    descriptor is watched with ``loop.add_reader`` when possible (pipes, terminals); other streams
    (regular files, StringIO) are read directly, or in a daemon thread as a last resort."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._buffer = b""
        self._eof = False

    async def __call__(self) -> Optional[str]:
        import asyncio

        fd = self._fd()
        if fd is None:
            line = self.stream.readline()
            return line if line else None
        while True:
            if b"\n" in self._buffer:
                line, _, self._buffer = self._buffer.partition(b"\n")
                return line.decode("utf-8", "replace")
            if self._eof:
                if self._buffer:
                    line, self._buffer = self._buffer, b""
                    return line.decode("utf-8", "replace")
                return None
            loop = asyncio.get_running_loop()
            ready = loop.create_future()
            try:
                loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
            except (NotImplementedError, OSError, ValueError):
                return await self._in_thread()
            try:
                await ready
            finally:
                loop.remove_reader(fd)
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                continue
            if not chunk:
                self._eof = True
            self._buffer += chunk

    async def _in_thread(self) -> Optional[str]:
        """readline in a daemon thread (a blocked read must not keep the process alive at exit)."""
        import asyncio
        import threading

        loop = asyncio.get_running_loop()
        result = loop.create_future()

        def reader() -> None:
            try:
                line = self.stream.readline()
            except Exception as exc:  # pragma: no cover - a broken stdin
                line = exc
            try:
                loop.call_soon_threadsafe(lambda: result.done() or result.set_result(line))
            except RuntimeError:  # the loop is gone: nobody waits for this line any more
                pass

        threading.Thread(target=reader, name="claw-login-stdin", daemon=True).start()
        line = await result
        if isinstance(line, Exception):
            raise line
        return line if line else None

    def _fd(self) -> Optional[int]:
        import stat

        try:
            fd = self.stream.fileno()
            mode = os.fstat(fd).st_mode
        except (AttributeError, OSError, ValueError):
            return None
        if stat.S_ISREG(mode):
            return None
        return fd


# -- claw login -----------------------------------------------------------------------------------------


def _login_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="claw login", description=LOGIN_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--no-browser", action="store_true",
                   help="do not open a browser: print the URL and read the code from stdin (SSH, containers)")
    p.add_argument("--port", type=int, metavar="N",
                   help="port of the loopback listener (default: settings oauth.callbackPort, else any free port)")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                   help="give up after this long (default 300)")
    _common(p)
    return p


def _format_expiry(expires_at: Optional[int], now_ms: int) -> str:
    import datetime

    if expires_at is None:
        return "no expiry given"
    when = datetime.datetime.fromtimestamp(expires_at / 1000, datetime.timezone.utc)
    left = (expires_at - now_ms) / 1000
    stamp = when.strftime("%Y-%m-%d %H:%M UTC")
    return f"{stamp} (in {_span(left)})" if left > 0 else f"{stamp} ({_span(-left)} ago)"


def _span(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"


def _shadowing(env: Mapping[str, str], settings: Any) -> list:
    names = [n for n in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN") if (env.get(n) or "").strip()]
    if not (env.get("ANTHROPIC_API_KEY") or "").strip() and getattr(settings, "api_key_helper", None):
        names.insert(0, "apiKeyHelper")
    return names


def run_login(argv: list, *, stdin: Optional[TextIO] = None, stdout: Optional[TextIO] = None,
              stderr: Optional[TextIO] = None, env: Optional[Mapping[str, str]] = None,
              open_browser: Optional[Callable[[str], bool]] = None) -> int:
    io = _Io(stdin, stdout, stderr)
    try:
        args = _login_parser().parse_args(argv)
        if args.port is not None and not 0 <= args.port <= 65535:
            raise UsageError(f"--port must be 0-65535, not {args.port}")
        if not args.timeout > 0:
            raise UsageError("--timeout must be a positive number of seconds")
        return _login(args, io, env, open_browser)
    except ClawError as exc:
        return _fail(io, exc)
    except KeyboardInterrupt:
        io.err("\nclaw: sign-in cancelled")
        return 130


run = run_login


def _login(args: Any, io: _Io, base_env: Optional[Mapping[str, str]],
           open_browser: Optional[Callable[[str], bool]]) -> int:
    import asyncio
    import dataclasses

    from claw.auth.credentials import CredentialStore
    from claw.auth.exchange import now_ms
    from claw.auth.login import LoginPrompt, login
    from claw.auth.oauth import resolve_oauth_config
    from claw.config.environment import network_config

    loaded, env, cwd = _context(args, base_env)
    settings = loaded.settings
    config = resolve_oauth_config(settings.oauth, env)
    if args.port is not None:
        config = dataclasses.replace(config, callback_port=args.port)
    net = network_config(settings, env)
    store = CredentialStore.for_env(env, cwd)
    use_browser = not args.no_browser and browser_available(env)
    stdin_tty = _isatty(io.stdin)
    paste = StdinLines(io.stdin) if (not use_browser or stdin_tty) else None
    opener = open_browser or _open_browser

    def on_prompt(prompt: LoginPrompt) -> None:
        io.err("To sign in, open this URL in a browser:\n")
        io.err(f"  {prompt.url}\n")
        if use_browser:
            if opener(prompt.url):
                io.err("A browser window should have opened. Waiting for the sign-in to finish...")
            else:
                io.err("Could not open a browser: open the URL above yourself.")
        if prompt.paste:
            if prompt.manual:
                io.stderr.write("After signing in, paste the code shown on the page here: ")
            elif prompt.listening and use_browser:
                io.stderr.write("If the browser cannot reach this machine, paste the URL it ends up on here: ")
            else:
                io.stderr.write("After signing in, paste the code, or the whole URL the browser ends up on "
                                "(it may fail to load), here: ")
            io.stderr.flush()

    tokens = asyncio.run(login(config, store=store, net_config=net, on_prompt=on_prompt, paste=paste,
                               manual=not use_browser, timeout=args.timeout))
    if paste is not None and not stdin_tty:
        io.err("")  # the pasted line was not echoed: end the prompt's line
    who = f" as {tokens.account_email}" if tokens.account_email else ""
    io.out(f"Signed in{who}. Saved to {store.path}; the access token expires "
           f"{_format_expiry(tokens.expires_at, now_ms())}.")
    shadow = _shadowing(env, settings)
    if shadow:
        io.err(f"claw: note: {' and '.join(shadow)} {'is' if len(shadow) == 1 else 'are'} set and take"
               f"{'s' if len(shadow) == 1 else ''} precedence over the saved login; unset "
               f"{'it' if len(shadow) == 1 else 'them'} to use it")
    return 0


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _open_browser(url: str) -> bool:
    import webbrowser

    try:
        return bool(webbrowser.open(url, new=1, autoraise=True))
    except Exception:
        return False


# -- claw logout ----------------------------------------------------------------------------------------


def run_logout(argv: list, *, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None,
               env: Optional[Mapping[str, str]] = None) -> int:
    io = _Io(None, stdout, stderr)
    try:
        p = _Parser(prog="claw logout", description=LOGOUT_DESCRIPTION,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
        _common(p)
        args = p.parse_args(argv)
        from claw.auth.credentials import CredentialStore

        loaded, eff_env, cwd = _context(args, env, strict=False)
        store = CredentialStore.for_env(eff_env, cwd)
        if store.remove_oauth():
            io.out(f"Signed out: removed the saved login from {store.path}.")
        else:
            io.out(f"Not signed in: {store.path} holds no saved login.")
        shadow = [n for n in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN") if (eff_env.get(n) or "").strip()]
        if shadow:
            io.err(f"claw: note: {' and '.join(shadow)} {'is' if len(shadow) == 1 else 'are'} still set "
                   "in the environment and will be used")
        return 0
    except ClawError as exc:
        return _fail(io, exc)


# -- claw whoami ----------------------------------------------------------------------------------------


_METHODS = {
    "api_key": "API key (x-api-key)",
    "auth_token": "auth token (Authorization: Bearer)",
    "api_key+auth_token": "API key (x-api-key) and auth token (Authorization: Bearer), both sent",
    "oauth": "Anthropic account (OAuth, saved by `claw login`)",
}


def run_whoami(argv: list, *, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None,
               env: Optional[Mapping[str, str]] = None) -> int:
    io = _RedactingIo(None, stdout, stderr)
    as_json = "--json" in argv
    try:
        p = _Parser(prog="claw whoami", description=WHOAMI_DESCRIPTION,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        _common(p)
        args = p.parse_args(argv)
        from claw.auth.credentials import CredentialStore
        from claw.auth.exchange import now_ms
        from claw.auth.sources import describe_anthropic_auth

        loaded, eff_env, cwd = _context(args, env)
        from claw.redact import Redactor

        io.redactor = Redactor.from_env(eff_env)  # the keys in use, from the environment or the settings env
        origin = loaded.origin(("apiKeyHelper",))
        store = CredentialStore.for_env(eff_env, cwd)
        now = now_ms()
        status = describe_anthropic_auth(loaded.settings, eff_env, cwd=cwd, store=store,
                                         helper_origin=origin.name if origin else None, now_ms=now)
    except ClawError as exc:
        if as_json:
            import json

            io.out(json.dumps({"authenticated": False, "error": exc.to_dict()}))
            return exc.exit_code
        return _fail(io, exc)
    if args.json:
        import json

        data = status.to_json()
        if store.insecure():
            data.setdefault("problems", []).append(f"{store.path} is readable by other users")
        io.out(json.dumps(data, indent=2))
        return 0 if status.authenticated else 1
    for problem in status.problems:
        io.err(f"claw: warning: {problem}")
    if store.insecure():
        io.err(f"claw: warning: {store.path} is readable or writable by other users: chmod 600 it")
    if not status.authenticated:
        io.err("claw: not signed in: no ANTHROPIC_API_KEY, apiKeyHelper, ANTHROPIC_AUTH_TOKEN or saved login")
        io.err("hint: run `claw login`, or set ANTHROPIC_API_KEY (x-api-key) or ANTHROPIC_AUTH_TOKEN (bearer)")
        return 1
    io.out(f"Anthropic requests use: {_METHODS[status.method]}")
    source_names = {"apiKeyHelper": "apiKeyHelper" + (f" `{status.helper_command}`" if status.helper_command else "")
                    + (f" (set in {status.helper_origin})" if status.helper_origin else ""),
                    "saved login": f"saved login in {status.credentials_path}"}
    io.out("  from:     " + ", ".join(source_names.get(s, s) for s in status.sources))
    if status.method == "oauth":
        if status.oauth_account:
            io.out(f"  account:  {status.oauth_account}")
        expiry = _format_expiry(status.oauth_expires_at, now)
        if status.oauth_expired:
            expiry += (" - expired; refreshed on the next request" if status.oauth_refreshable
                       else " - expired and not renewable: run `claw login`")
        io.out(f"  expires:  {expiry}")
        if status.oauth_scopes:
            io.out(f"  scopes:   {' '.join(status.oauth_scopes)}")
    if status.unused:
        io.out("  not used: " + ", ".join(status.unused) + " (lower precedence)")
    return 0
