"""credentials.json: mode 0600, atomic writes, other keys kept, broken files left alone, the lock."""

from __future__ import annotations

import json
import os
import stat
import threading
import time

import pytest

from claw.auth.credentials import CredentialStore, credentials_path
from claw.auth.oauth import TokenSet
from claw.errors import ClawError, ConfigError

TOKENS = TokenSet("at-secret-1", "rt-secret-1", 1_700_000_000_000, ("user:inference",))


def test_path_follows_claw_config_home(tmp_path):
    assert credentials_path({"CLAW_CONFIG_HOME": str(tmp_path / "h")}) == str(tmp_path / "h" / "credentials.json")
    assert credentials_path({"HOME": str(tmp_path)}) == str(tmp_path / ".claw" / "credentials.json")


def test_save_creates_a_private_file_with_the_contract_shape(tmp_path):
    store = CredentialStore(str(tmp_path / "new-dir" / "credentials.json"))
    store.save_oauth(TOKENS)
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "new-dir").st_mode) == 0o700
    data = json.loads(open(store.path).read())
    assert data == {"oauth": {"accessToken": "at-secret-1", "refreshToken": "rt-secret-1",
                              "expiresAt": 1_700_000_000_000, "scopes": ["user:inference"]}}
    assert store.read_oauth() == TOKENS
    assert sorted(os.listdir(tmp_path / "new-dir")) == ["credentials.json", "credentials.json.lock"]


def test_save_keeps_other_keys_and_tightens_a_loose_mode(tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"other": {"keep": [1, 2]}, "oauth": {"accessToken": "old"}, "z": None}))
    os.chmod(path, 0o644)
    store = CredentialStore(str(path))
    assert store.insecure()
    store.save_oauth(TOKENS)
    data = json.loads(path.read_text())
    assert data["other"] == {"keep": [1, 2]} and data["z"] is None and data["oauth"]["accessToken"] == "at-secret-1"
    assert list(data) == ["other", "oauth", "z"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and not store.insecure()


def test_remove_oauth_keeps_everything_else(tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"mcpTokens": {"srv": "x"}, "oauth": TOKENS.to_json()}))
    store = CredentialStore(str(path))
    assert store.remove_oauth() is True
    assert json.loads(path.read_text()) == {"mcpTokens": {"srv": "x"}}
    assert store.remove_oauth() is False
    assert store.read_oauth() is None


def test_a_symlinked_file_is_replaced_at_its_target(tmp_path):
    target = tmp_path / "dotfiles" / "creds.json"
    target.parent.mkdir()
    target.write_text("{}")
    link = tmp_path / "credentials.json"
    link.symlink_to(target)
    CredentialStore(str(link)).save_oauth(TOKENS)
    assert link.is_symlink() and json.loads(target.read_text())["oauth"]["accessToken"] == "at-secret-1"


@pytest.mark.parametrize("content, words", [
    ('{"oauth": {"accessToken": "at-secret-9",', "not valid JSON (line 1"),
    ("[1, 2]", "holds a JSON list"),
    (b"\xff\xfe{}", "not UTF-8"),
])
def test_a_broken_file_is_never_overwritten(tmp_path, content, words):
    path = tmp_path / "credentials.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    store = CredentialStore(str(path))
    with pytest.raises(ConfigError) as err:
        store.save_oauth(TOKENS)
    assert words in err.value.message and str(path) in err.value.message
    assert "at-secret-9" not in err.value.message + (err.value.hint or "")
    assert path.read_bytes() == (content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError):
        store.remove_oauth()


def test_a_malformed_oauth_entry_names_the_problem_not_the_value(tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"oauth": {"accessToken": "at-secret-7", "expiresAt": "tomorrow"}}))
    with pytest.raises(ConfigError) as err:
        CredentialStore(str(path)).read_oauth()
    assert "expiresAt" in err.value.message and "at-secret-7" not in err.value.message


def test_write_leaves_no_temporary_files_on_failure(tmp_path, monkeypatch):
    store = CredentialStore(str(tmp_path / "credentials.json"))
    store.save_oauth(TOKENS)

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ClawError) as err:
        store.save_oauth(TokenSet("at-new", "rt-new", None, ()))
    assert "No space left" in err.value.message and err.value.kind == "credentials_write"
    assert sorted(os.listdir(tmp_path)) == ["credentials.json", "credentials.json.lock"]
    assert store.read_oauth() == TOKENS


def test_the_lock_excludes_other_holders(tmp_path):
    store = CredentialStore(str(tmp_path / "credentials.json"))
    events = []
    inside = threading.Event()

    def other():
        with store.locked():
            events.append("other-in")
            inside.set()
            time.sleep(0.2)
            events.append("other-out")

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    with store.locked():
        events.append("main-in")
    t.join()
    assert events == ["other-in", "other-out", "main-in"]


def test_lock_timeout_is_a_clear_error(tmp_path):
    store = CredentialStore(str(tmp_path / "credentials.json"))
    with store.locked():
        with pytest.raises(ClawError) as err:
            with CredentialStore(store.path).locked(timeout=0.05):
                pass
    assert err.value.kind == "credentials_locked" and "lock" in err.value.message
