"""`claw whoami` and `claw logout`: what they print (never a secret), exit codes, and what they change."""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from claw.auth.credentials import CredentialStore
from claw.auth.oauth import TokenSet
from claw.cli.login_cmd import browser_available, run_logout, run_whoami
from tests.auth.helpers import Capture, assert_no_secrets

NOW = int(time.time() * 1000)


def save(home, tokens: TokenSet, **extra) -> None:
    data = {**extra, "oauth": tokens.to_json()}
    (home / "credentials.json").write_text(json.dumps(data))
    os.chmod(home / "credentials.json", 0o600)


def whoami(env, *args):
    out, err = Capture(), Capture()
    code = run_whoami(list(args), stdout=out, stderr=err, env=env)
    return code, out.text(), err.text()


def test_whoami_with_nothing(env, project):
    code, out, err = whoami(env, "--cwd", str(project))
    assert code == 1 and out == ""
    assert "not signed in" in err and "claw login" in err
    code, out, _ = whoami(env, "--json", "--cwd", str(project))
    assert code == 1 and json.loads(out)["authenticated"] is False and json.loads(out)["method"] == "none"


def test_whoami_with_a_saved_login(env, home, project):
    expires = int(time.time() * 1000) + 3_600_000  # from now, not from when the module was collected
    save(home, TokenSet("at-SECRET-1", "rt-SECRET-1", expires, ("user:inference", "user:profile"),
                        "dev@example.com"), other={"x": 1})
    code, out, err = whoami(env, "--cwd", str(project))
    assert code == 0 and err == ""
    assert "Anthropic account (OAuth" in out and "dev@example.com" in out
    assert re.search(r"expires:  \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in (59|60) min\)", out)
    assert "user:inference user:profile" in out and str(home / "credentials.json") in out
    assert_no_secrets(out + err, home)
    code, out, _ = whoami(env, "--json", "--cwd", str(project))
    data = json.loads(out)
    assert code == 0 and data["method"] == "oauth" and data["sources"] == ["saved login"]
    assert data["oauth"]["expiresAt"] == expires and data["oauth"]["expired"] is False
    assert data["oauth"]["refreshable"] is True and data["oauth"]["account"] == "dev@example.com"
    assert_no_secrets(out, home)


def test_whoami_with_an_expired_login(env, home, project):
    save(home, TokenSet("at-SECRET-2", "rt-SECRET-2", NOW - 2 * 3_600_000, ()))
    code, out, _ = whoami(env, "--cwd", str(project))
    assert code == 0 and "ago) - expired; refreshed on the next request" in out
    save(home, TokenSet("at-SECRET-2", None, NOW - 1000, ()))
    code, out, _ = whoami(env, "--cwd", str(project))
    assert "expired and not renewable: run `claw login`" in out


def test_whoami_reports_what_wins_and_what_is_shadowed(env, home, project):
    save(home, TokenSet("at-SECRET-3", "rt-SECRET-3", NOW + 3_600_000, ()))
    e = dict(env, ANTHROPIC_API_KEY="sk-SECRET-env", ANTHROPIC_AUTH_TOKEN="tok-SECRET-env")
    code, out, err = whoami(e, "--cwd", str(project))
    assert code == 0 and "both sent" in out and "from:     ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN" in out
    assert "not used: saved login (lower precedence)" in out
    assert "SECRET" not in out + err


def test_whoami_names_the_api_key_helper_and_its_file(env, home, project):
    (project / ".claw").mkdir()
    (project / ".claw" / "settings.json").write_text(json.dumps({"apiKeyHelper": "~/bin/get-key"}))
    code, out, _ = whoami(env, "--cwd", str(project))
    assert code == 0 and "API key (x-api-key)" in out
    assert "apiKeyHelper `~/bin/get-key` (set in" in out and "settings.json" in out
    data = json.loads(whoami(env, "--json", "--cwd", str(project))[1])
    assert data["apiKeyHelper"]["command"] == "~/bin/get-key" and data["apiKeyHelper"]["setIn"].endswith("settings.json")


def test_whoami_warns_about_a_readable_credentials_file(env, home, project):
    save(home, TokenSet("at-SECRET-4", "rt", NOW + 3_600_000, ()))
    os.chmod(home / "credentials.json", 0o644)
    code, _, err = whoami(env, "--cwd", str(project))
    assert code == 0 and "readable or writable by other users: chmod 600" in err


def test_whoami_with_a_broken_credentials_file(env, home, project):
    (home / "credentials.json").write_text('{"oauth": ')
    code, out, err = whoami(env, "--cwd", str(project))
    assert code == 1 and "not valid JSON" in err and "not signed in" in err


def test_whoami_usage_error(env):
    code, out, err = whoami(env, "--bogus")
    assert code == 2 and "unrecognized arguments: --bogus" in err
    code, out, err = whoami(env, "--json", "--bogus")
    assert code == 2 and json.loads(out)["error"]["kind"] == "usage"


def test_logout_removes_only_the_login(env, home, project):
    save(home, TokenSet("at-SECRET-5", "rt-SECRET-5", NOW, ()), mcpTokens={"srv": {"token": "keep"}})
    out, err = Capture(), Capture()
    assert run_logout(["--cwd", str(project)], stdout=out, stderr=err, env=env) == 0
    assert "Signed out" in out.text()
    assert json.loads((home / "credentials.json").read_text()) == {"mcpTokens": {"srv": {"token": "keep"}}}
    assert CredentialStore(str(home / "credentials.json")).mode() == 0o600
    out = Capture()
    assert run_logout(["--cwd", str(project)], stdout=out, stderr=Capture(), env=env) == 0
    assert "Not signed in" in out.text()


def test_logout_notes_env_credentials(env, home, project):
    save(home, TokenSet("at-SECRET-6", "rt", NOW, ()))
    err = Capture()
    run_logout(["--cwd", str(project)], stdout=Capture(), stderr=err, env=dict(env, ANTHROPIC_AUTH_TOKEN="t-SECRET"))
    assert "ANTHROPIC_AUTH_TOKEN is still set" in err.text() and "SECRET" not in err.text()


@pytest.mark.parametrize("run", [run_logout, run_whoami])
def test_help(run, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run(["--help"])
    assert exit_info.value.code == 0 and "usage: claw" in capsys.readouterr().out


@pytest.mark.parametrize("env, platform, expected", [
    ({}, "linux", False),
    ({"DISPLAY": ":0"}, "linux", True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
    ({"BROWSER": "firefox"}, "linux", True),
    ({}, "darwin", True),
    ({"SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22"}, "darwin", False),
    ({}, "win32", True),
])
def test_browser_detection(env, platform, expected):
    assert browser_available(env, platform) is expected
