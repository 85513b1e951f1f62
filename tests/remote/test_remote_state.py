"""claw.remote.remote_state: .claw/remote.json written atomically with mode 0600, read back, refused
when broken (naming the file, never its content), and serve's state file read when present."""

from __future__ import annotations

import json
import os
import stat

import pytest

from claw.errors import ConfigError
from claw.remote.remote_state import (RemoteState, load_serve_state, load_state, remove_state, save_state,
                                      state_path)


def test_round_trip_mode_and_public_view(tmp_path):
    state = RemoteState("env_1", "https://api.example.com", "envsecret-123456", 1.5, machine_name="m",
                        work={"work_1": {"secret": "abc", "session_id": "s", "type": "session"}})
    path = save_state(str(tmp_path), state)
    assert path == state_path(str(tmp_path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / ".claw").st_mode) == 0o700
    assert load_state(str(tmp_path)) == state
    assert "envsecret" not in repr(state)
    public = json.dumps(state.public())
    assert "envsecret-123456" not in public and '"abc"' not in public and "work_1" in public


def test_an_existing_world_readable_file_becomes_private(tmp_path):
    (tmp_path / ".claw").mkdir()
    path = tmp_path / ".claw" / "remote.json"
    path.write_text("{}")
    path.chmod(0o644)
    save_state(str(tmp_path), RemoteState("env_1", "https://x"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("content", ["not json {secret-content", "[1, 2]", '{"environment_id": "e"}',
                                     '{"environment_id": 3, "base_url": "u"}'])
def test_broken_files_are_config_errors(tmp_path, content):
    (tmp_path / ".claw").mkdir()
    (tmp_path / ".claw" / "remote.json").write_text(content)
    with pytest.raises(ConfigError) as info:
        load_state(str(tmp_path))
    assert "remote.json" in info.value.message and "secret-content" not in info.value.message


def test_missing_unknown_keys_and_remove(tmp_path):
    assert load_state(str(tmp_path)) is None and load_serve_state(str(tmp_path)) is None
    assert remove_state(str(tmp_path)) is False
    (tmp_path / ".claw").mkdir()
    (tmp_path / ".claw" / "remote.json").write_text(json.dumps(
        {"environment_id": "e", "base_url": "u", "added_later": 1, "work": "bad"}))
    assert load_state(str(tmp_path)) == RemoteState("e", "u")
    assert remove_state(str(tmp_path)) is True
    (tmp_path / ".claw" / "remote-serve.json").write_text('{"pid": 12, "items": []}')
    assert load_serve_state(str(tmp_path)) == {"pid": 12, "items": []}
