"""`python -m claw login|whoami|logout` as a user runs them (active once claw/cli/main.py routes them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from claw.cli.main import SUBCOMMANDS
from tests.auth.helpers import URL_LINE, assert_no_secrets, saved

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(
    not all(name in SUBCOMMANDS for name in ("login", "logout", "whoami")),
    reason="claw/cli/main.py does not route login/logout/whoami yet",
)


def claw(env, *args, stdin=None):
    return subprocess.Popen([sys.executable, "-m", "claw", *args], cwd=REPO, env=env, stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_login_whoami_logout_as_subprocesses(env, oauth, home):
    proc = claw(env, "login", "--no-browser", stdin=subprocess.PIPE)
    line = ""
    while "  http" not in line:
        line = proc.stderr.readline()
        assert line, "claw login ended before printing the URL"
    url = URL_LINE.search(line.rstrip("\n")).group(1)
    out, err = proc.communicate(oauth.browse(url) + "\n", timeout=60)
    assert proc.returncode == 0, err
    assert "Signed in as dev@example.com" in out
    assert_no_secrets(out + err, home)

    who = claw(env, "whoami", "--json")
    out, err = who.communicate(timeout=60)
    assert who.returncode == 0, err
    assert json.loads(out)["method"] == "oauth"
    assert_no_secrets(out + err, home)

    saved_before = saved(home)
    bye = claw(env, "logout")
    out, err = bye.communicate(timeout=60)
    assert bye.returncode == 0 and "Signed out" in out
    assert "oauth" in saved_before and saved(home) == {}

    who = claw(env, "whoami")
    out, err = who.communicate(timeout=60)
    assert who.returncode == 1 and "not signed in" in err


@pytest.mark.parametrize("command", ["login", "logout", "whoami"])
def test_help_via_main(env, command):
    proc = claw(env, command, "--help")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and f"usage: claw {command}" in out
