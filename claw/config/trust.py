"""Folder trust: which project directories may run code and redirect credentials through their settings.

A folder is trusted when (first match wins, ``TrustState.how`` says which):
- ``flag``: the run named a project source explicitly (``--setting-sources`` with ``project`` or
  ``local``): an embedding host chose to load them;
- ``env``: ``CLAW_TRUST_PROJECT=1`` (also ``true``/``yes``) in the process environment;
- ``store``: the folder or one of its parents is recorded in the trust store,
  ``$CLAW_CONFIG_HOME/trusted-folders.json`` (``claw trust DIR``, or "yes" to the REPL's question).
Paths are compared after ``realpath``, so a symlinked checkout is the folder it points to.

The store is JSON: ``{"folders": {"/abs/dir": {"trustedAt": "..."}}}``; unknown keys (top level and
per folder) are kept when it is rewritten. It is written atomically with mode 0600. A store that does
not parse is a ``ConfigError`` with a hint, never a traceback.

What trust unlocks is ``claw.config.trust_gate``'s business; this module neither loads settings nor
prints anything.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from claw.config.sources import config_home
from claw.errors import ConfigError

STORE_NAME = "trusted-folders.json"
ENV_VAR = "CLAW_TRUST_PROJECT"
HOW_TO_TRUST = f"run 'claw trust' in the folder, or set {ENV_VAR}=1"


@dataclass(frozen=True)
class TrustState:
    """Whether a project folder is trusted, and why (for the loader, ``claw status`` and ``claw doctor``)."""

    folder: str  # the project directory, realpath
    trusted: bool
    how: str  # "flag" | "env" | "store" | "none"
    reason: str  # one line: "trusted folder /x (claw trust)", "CLAW_TRUST_PROJECT=1", "not trusted"


def describe(state: Optional[TrustState]) -> str:
    """One line for ``claw status`` / ``claw doctor``: ``trusted (CLAW_TRUST_PROJECT=1)``, ``not trusted``."""
    if state is None:
        return "unknown"
    return f"trusted ({state.reason})" if state.trusted else "not trusted"


def state_for(loaded: Any, folder: str, env: Mapping[str, str]) -> TrustState:
    """The trust state a load decided, or (when nothing in the project needed it) the folder's own.
    Raises ``ConfigError`` for a corrupt store."""
    state = getattr(loaded, "trust", None)
    return state if state is not None else trust_state(folder, env)


def env_trusts(env: Mapping[str, str]) -> bool:
    return (env.get(ENV_VAR) or "").strip().lower() in ("1", "true", "yes")


def store_path(env: Mapping[str, str], cwd: str) -> str:
    return os.path.join(config_home(env, cwd), STORE_NAME)


def _corrupt(path: str, why: str) -> ConfigError:
    return ConfigError(f"{path}: the folder trust store is not valid: {why}",
                       hint="fix the file, or delete it (folders then have to be trusted again with 'claw trust')")


def read_store(env: Mapping[str, str], cwd: str) -> Dict[str, Any]:
    """The store as a dict (``{}`` when there is none). Raises ``ConfigError`` when it is corrupt."""
    path = store_path(env, cwd)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read the folder trust store {path}: {exc.strerror or exc}",
                          hint="check the file's permissions") from None
    try:
        store = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _corrupt(path, str(exc)) from None
    if not isinstance(store, dict):
        raise _corrupt(path, "expected a JSON object")
    folders = store.get("folders", {})
    if not isinstance(folders, dict) or not all(isinstance(k, str) for k in folders):
        raise _corrupt(path, '"folders" must be an object keyed by directory')
    return store


def trusted_folders(env: Mapping[str, str], cwd: str) -> List[str]:
    """The recorded folders, in the order they were trusted."""
    return list(read_store(env, cwd).get("folders", {}))


def _write(store: Dict[str, Any], env: Mapping[str, str], cwd: str) -> None:
    from claw.fsutil import atomic_write

    path = store_path(env, cwd)
    text = json.dumps(store, indent=2, ensure_ascii=False) + "\n"
    try:
        atomic_write(path, text.encode("utf-8"), mode=0o600, make_dirs=0o700)
    except OSError as exc:
        raise ConfigError(f"cannot write the folder trust store {path}: {exc.strerror or exc}",
                          hint="check that the config home is writable (CLAW_CONFIG_HOME)") from None


def add_trust(folder: str, env: Mapping[str, str], cwd: str, *, now: Optional[str] = None) -> str:
    """Record ``folder`` (realpath) as trusted; returns the path recorded."""
    real = os.path.realpath(os.path.join(cwd, os.path.expanduser(folder)))
    store = read_store(env, cwd)
    folders = dict(store.get("folders", {}))
    if real not in folders:
        if now is None:
            import time

            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        folders[real] = {"trustedAt": now}
    store["folders"] = folders
    _write(store, env, cwd)
    return real


def remove_trust(folder: str, env: Mapping[str, str], cwd: str) -> Optional[str]:
    """Forget ``folder`` (as recorded, or its realpath); returns what was removed, or None."""
    store = read_store(env, cwd)
    folders = dict(store.get("folders", {}))
    given = os.path.normpath(os.path.join(cwd, os.path.expanduser(folder)))
    for key in (given, os.path.realpath(given)):
        if key in folders:
            del folders[key]
            store["folders"] = folders
            _write(store, env, cwd)
            return key
    return None


def trusted_parent(folder: str, env: Mapping[str, str]) -> Optional[str]:
    """The recorded folder that ``folder`` is (or is inside of), or None. Raises ``ConfigError`` for a
    corrupt store."""
    real = os.path.realpath(folder)
    for entry in trusted_folders(env, real):
        base = os.path.realpath(entry)
        if real == base or real.startswith(base.rstrip("/") + "/"):
            return entry
    return None


def is_trusted(folder: str, env: Mapping[str, str]) -> bool:
    """The folder or a parent was trusted with ``claw trust`` (or the REPL's question), or the
    environment says ``CLAW_TRUST_PROJECT=1``."""
    return env_trusts(env) or trusted_parent(folder, env) is not None


def trust_state(folder: str, env: Mapping[str, str], *, explicit_project: bool = False) -> TrustState:
    """Why ``folder`` is trusted or not. ``explicit_project``: ``--setting-sources`` named ``project``
    or ``local``. Raises ``ConfigError`` for a corrupt store (only when it has to be read)."""
    real = os.path.realpath(folder)
    if explicit_project:
        return TrustState(real, True, "flag", "--setting-sources names the project settings")
    if env_trusts(env):
        return TrustState(real, True, "env", f"{ENV_VAR}=1")
    parent = trusted_parent(real, env)
    if parent is not None:
        where = "this folder" if os.path.realpath(parent) == real else f"the parent folder {parent}"
        return TrustState(real, True, "store", f"{where} was trusted (claw trust)")
    return TrustState(real, False, "none", "not trusted")
