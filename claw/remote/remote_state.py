"""The persisted remote-control target: ``<project>/.claw/remote.json``, and the serve state file.

``RemoteState`` is what ``claw remote-control connect`` registered: the environment id, the base URL,
when it was registered and reconnected, what was registered (machine name, directory, branch,
repository, capacity, worker type), the environment secret the work polls need, and the work items
polled but not stopped yet (id -> ``{"secret", "session_id", "type"}``: ack and heartbeat need the
secret's session token). The bridge API token
is never written here. The file is JSON, written atomically (claw.fsutil) with mode 0600 whatever it
had before, in a ``.claw`` directory created 0700 when missing.

``load_state`` returns None when the file does not exist and raises ``ConfigError`` (naming the
file, never its content) when it cannot be read or parsed. ``load_serve_state`` reads
``.claw/remote-serve.json`` (written by ``claw remote-control serve``) as a plain dict, or None.

Deliberately not here: HTTP, printing, locking (one CLI command writes at a time; serve keeps its own
file).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, Optional

from claw.errors import ConfigError

STATE_FILE = os.path.join(".claw", "remote.json")
SERVE_STATE_FILE = os.path.join(".claw", "remote-serve.json")
FILE_MODE = 0o600
DIR_MODE = 0o700


@dataclass
class RemoteState:
    """The environment this project is connected to (see the module docstring)."""

    environment_id: str
    base_url: str
    environment_secret: str = field(default="", repr=False)
    registered_at: float = 0.0
    reconnected_at: Optional[float] = None
    machine_name: str = ""
    directory: str = ""
    branch: Optional[str] = None
    git_repo_url: Optional[str] = None
    max_sessions: int = 1
    worker_type: str = "claw"
    work: Dict[str, Dict[str, Any]] = field(default_factory=dict, repr=False)  # id -> secret, session_id, type

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    def public(self) -> Dict[str, Any]:
        """The state without secrets (for output): work items by id only."""
        shown = self.to_json()
        shown.pop("environment_secret")
        shown["work"] = sorted(self.work)
        return shown


def state_path(cwd: str) -> str:
    return os.path.join(cwd, STATE_FILE)


def serve_state_path(cwd: str) -> str:
    return os.path.join(cwd, SERVE_STATE_FILE)


def _read_json(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise ConfigError(f"{path} is not valid JSON", hint="remove it and connect again") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} does not hold a JSON object", hint="remove it and connect again")
    return data


def load_state(cwd: str) -> Optional[RemoteState]:
    path = state_path(cwd)
    data = _read_json(path)
    if data is None:
        return None
    known = {f.name for f in fields(RemoteState)}
    values = {k: v for k, v in data.items() if k in known}
    if not isinstance(values.get("environment_id"), str) or not isinstance(values.get("base_url"), str):
        raise ConfigError(f"{path} has no environment_id or base_url", hint="remove it and connect again")
    if not isinstance(values.get("work", {}), dict):
        values["work"] = {}
    return RemoteState(**values)


def save_state(cwd: str, state: RemoteState) -> str:
    """Write ``state`` atomically, mode 0600; returns the path."""
    from claw.fsutil import atomic_write

    path = state_path(cwd)
    text = json.dumps(state.to_json(), indent=2, sort_keys=True) + "\n"
    try:
        atomic_write(path, text.encode("utf-8"), mode=FILE_MODE, make_dirs=DIR_MODE)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}",
                          hint="check that the project's .claw directory is writable") from None
    return path


def remove_state(cwd: str) -> bool:
    try:
        os.unlink(state_path(cwd))
    except FileNotFoundError:
        return False
    return True


def load_serve_state(cwd: str) -> Optional[Dict[str, Any]]:
    """The serve state file as written by serve, or None when there is none."""
    return _read_json(serve_state_path(cwd))
