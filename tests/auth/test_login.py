"""`claw login` against the fake OAuth server: loopback callback, pasted code/URL, a real pseudo-terminal,
state mismatch, error callback, failures; the tokens land in credentials.json (0600)."""

from __future__ import annotations

import asyncio
import io
import os
import re
import select
import socket
import stat
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from claw.auth import defaults
from claw.auth.credentials import CredentialStore
from claw.auth.login import LoginPrompt, login
from claw.auth.oauth import resolve_oauth_config
from tests.auth.helpers import URL_LINE, LoginThread, PipeInput, assert_no_secrets, saved, visit

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def pipe():
    p = PipeInput()
    yield p
    p.close()


def _browser(oauth, results, threads):
    """An `open_browser` that behaves like a browser: sign-in page, then the redirect to claw."""

    def open_browser(url: str) -> bool:
        def go():
            location = oauth.browse(url)
            results.append(visit(location))

        thread = threading.Thread(target=go, daemon=True)
        threads.append(thread)
        thread.start()
        return True

    return open_browser


def test_full_login_through_the_loopback_listener(env, oauth, home):
    pages, threads = [], []
    run = LoginThread([], dict(env, BROWSER="x-test-browser"), stdin=io.StringIO(),
                      open_browser=_browser(oauth, pages, threads))
    assert run.join() == 0, run.output()
    threads[0].join(10)
    data = saved(home)["oauth"]
    assert data["accessToken"].startswith("at-") and data["refreshToken"].startswith("rt-")
    assert data["expiresAt"] > time.time() * 1000 + 3000 * 1000
    assert data["scopes"] == list(defaults.SCOPES) and data["account"] == {"email": "dev@example.com", "uuid": "acct-1"}
    assert stat.S_IMODE(os.stat(home / "credentials.json").st_mode) == 0o600
    assert pages and pages[0][0] == 200 and "Signed in to claw" in pages[0][1]
    # what the server saw: a loopback redirect URI, PKCE, a form-encoded exchange
    authorize = [r for r in oauth.requests if r.path == "/authorize"][0]
    assert re.fullmatch(r"http://localhost:\d+/callback", authorize.query["redirect_uri"])
    exchange = oauth.token_requests("authorization_code")[0]
    assert exchange.content_type == "application/x-www-form-urlencoded"
    assert exchange.form["redirect_uri"] == authorize.query["redirect_uri"]
    assert "Signed in as dev@example.com" in run.out.text()
    url = URL_LINE.search(run.err.text()).group(1)
    assert url.startswith(oauth.authorize_url + "?")
    assert_no_secrets(run.output(), home)


def test_no_browser_login_with_the_pasted_redirect_url(env, oauth, home, pipe):
    run = LoginThread(["--no-browser"], env, stdin=pipe.stream)
    location = oauth.browse(run.url())
    assert "paste the code" in run.err.wait_for(re.compile("paste the code.*here: ")).group(0)
    pipe.send(location + "\n")
    assert run.join() == 0, run.output()
    assert saved(home)["oauth"]["accessToken"]
    assert_no_secrets(run.output(), home)


def test_no_browser_login_with_a_pasted_bare_code(env, oauth, home, pipe):
    run = LoginThread(["--no-browser"], env, stdin=pipe.stream)
    code = parse_qs(urlsplit(oauth.browse(run.url())).query)["code"][0]
    pipe.send("\n" + code + "\n")  # an empty line first: ignored
    assert run.join() == 0, run.output()
    assert saved(home)["oauth"]["accessToken"]


def test_the_loopback_listener_also_works_in_no_browser_mode(env, oauth, home, pipe):
    """Over SSH with `ssh -L PORT:localhost:PORT` the redirect reaches the listener: no paste needed."""
    run = LoginThread(["--no-browser"], env, stdin=pipe.stream)
    status, page = visit(oauth.browse(run.url()))
    assert status == 200 and "Signed in" in page
    assert run.join() == 0, run.output()


def test_state_mismatch_at_the_listener(env, oauth, home, pipe):
    oauth.state_override = "someone-elses-state"
    run = LoginThread(["--no-browser"], env, stdin=pipe.stream)
    status, page = visit(oauth.browse(run.url()))
    assert run.join() == 1
    assert "state mismatch" in run.err.text() and "claw login" in run.err.text()
    assert status == 400 and "state mismatch" in page
    assert not (home / "credentials.json").exists() and oauth.token_requests() == []


def test_state_mismatch_in_a_pasted_url(env, oauth, home, pipe):
    run = LoginThread(["--no-browser"], env, stdin=pipe.stream)
    location = oauth.browse(run.url())
    pipe.send(re.sub(r"state=[^&]+", "state=forged", location) + "\n")
    assert run.join() == 1
    assert "state mismatch" in run.err.text()
    assert oauth.token_requests() == []


def test_error_callback_is_reported(env, oauth, home, pipe):
    oauth.authorize_error = ("access_denied", "The user declined")
    run = LoginThread(["--no-browser"], env, stdin=pipe.stream)
    status, page = visit(oauth.browse(run.url()))
    assert run.join() == 1
    err = run.err.text()
    assert "access_denied" in err and "The user declined" in err and "error [provider_auth]" in err
    assert status == 400 and "Sign-in failed" in page


def test_a_refused_code_exchange(env, oauth, home, pipe):
    oauth.fail_next("authorization_code", 400, "invalid_grant", "code expired")
    run = LoginThread(["--no-browser"], env, stdin=pipe.stream)
    pipe.send(oauth.browse(run.url()) + "\n")
    assert run.join() == 1
    assert "refused the sign-in (authorization code exchange) (HTTP 400: invalid_grant (code expired))" in run.err.text()
    assert not (home / "credentials.json").exists()


def test_stdin_ending_without_a_code(env, oauth, home):
    run = LoginThread(["--no-browser"], env, stdin=io.StringIO(""))
    assert run.join() == 1
    assert "no code was pasted" in run.err.text()
    assert URL_LINE.search(run.err.text())  # the URL was printed all the same


def test_timeout(env, oauth, pipe):
    run = LoginThread(["--no-browser", "--timeout", "0.2"], env, stdin=pipe.stream)
    assert run.join() == 1
    assert "no sign-in arrived within 0.2 s" in run.err.text()


def test_a_busy_callback_port_is_a_configuration_error(env, oauth):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        run = LoginThread(["--port", str(port), "--no-browser"], env, stdin=io.StringIO(""))
        assert run.join() == 2
    assert f"127.0.0.1:{port}" in run.err.text() and "callbackPort" in run.err.text()


def test_callback_port_from_settings(env, oauth, home, pipe, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (home / "settings.json").write_text('{"oauth": {"callbackPort": %d}}' % port)
    run = LoginThread(["--no-browser"], env, stdin=pipe.stream)
    assert f"localhost%3A{port}%2Fcallback" in run.url()
    visit(oauth.browse(run.url()))
    assert run.join() == 0, run.output()


def test_settings_oauth_block_is_used(env, oauth, home, pipe):
    """Without the CLAW_OAUTH_* variables, the settings block points login at the server."""
    for name in ("CLAW_OAUTH_AUTHORIZE_URL", "CLAW_OAUTH_TOKEN_URL", "CLAW_OAUTH_CLIENT_ID"):
        env.pop(name)
    (home / "settings.json").write_text(
        '{"oauth": {"clientId": "%s", "authorizeUrl": "%s", "tokenUrl": "%s", "scopes": ["only:this"]}}'
        % (oauth.client_id, oauth.authorize_url, oauth.token_url))
    run = LoginThread(["--no-browser"], env, stdin=pipe.stream)
    assert parse_qs(urlsplit(run.url()).query)["scope"] == ["only:this"]
    visit(oauth.browse(run.url()))
    assert run.join() == 0, run.output()
    assert saved(home)["oauth"]["scopes"] == ["only:this"]


def test_login_notes_credentials_that_take_precedence(env, oauth, home, pipe):
    run = LoginThread(["--no-browser"], dict(env, ANTHROPIC_API_KEY="sk-env-secret"), stdin=pipe.stream)
    visit(oauth.browse(run.url()))
    assert run.join() == 0
    assert "ANTHROPIC_API_KEY is set and takes precedence" in run.err.text()
    assert "sk-env-secret" not in run.output()


def test_default_endpoints_use_anthropics_code_page_without_a_browser():
    """--no-browser with the default (Anthropic) endpoints: the redirect is the hosted code page and
    no listener is started; with a browser, a loopback redirect. (No request leaves the machine: the
    prompt callback stops the flow.)"""
    prompts = []

    class Stop(Exception):
        pass

    def on_prompt(prompt: LoginPrompt) -> None:
        prompts.append(prompt)
        raise Stop

    async def paste():
        return None

    config = resolve_oauth_config(None, {})
    store = CredentialStore("/nonexistent/credentials.json")
    for manual in (True, False):
        with pytest.raises(Stop):
            asyncio.run(login(config, store=store, on_prompt=on_prompt, paste=paste, manual=manual))
    manual_prompt, browser_prompt = prompts
    assert manual_prompt.redirect_uri == defaults.MANUAL_REDIRECT_URL and not manual_prompt.listening
    assert manual_prompt.manual and manual_prompt.url.startswith(defaults.AUTHORIZE_URL + "?code=true&")
    assert re.fullmatch(r"http://localhost:\d+/callback", browser_prompt.redirect_uri) and browser_prompt.listening


def test_login_on_a_pseudo_terminal(env, oauth, home):
    """The user at a real terminal: the prompt is shown, the redirect URL is typed back, Enter."""
    import pty

    master, slave = pty.openpty()
    code = ("import sys; from claw.cli.login_cmd import run_login; "
            "sys.exit(run_login(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-c", code, "--no-browser"], stdin=slave, stdout=slave,
                            stderr=slave, env=env, cwd=REPO, close_fds=True)
    os.close(slave)
    seen = b""
    answered = False
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            text = seen.decode(errors="replace")
            if not answered and "here: " in text:
                url = URL_LINE.search(text.replace("\r\n", "\n")).group(1)
                os.write(master, (oauth.browse(url) + "\r").encode())
                answered = True
            if proc.poll() is not None and not ready:
                break
        assert proc.wait(10) == 0, seen.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert "Signed in as dev@example.com" in seen.decode(errors="replace")
    assert saved(home)["oauth"]["accessToken"]
    assert_no_secrets(seen.decode(errors="replace"), home)


def test_help(capsys):
    from claw.cli.login_cmd import run_login

    with pytest.raises(SystemExit) as exit_info:
        run_login(["--help"])
    assert exit_info.value.code == 0
    assert "--no-browser" in capsys.readouterr().out
