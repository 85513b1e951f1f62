"""Suite-wide fixtures.

Folder trust: most tests put hooks, env, MCP servers or allow rules in a temporary project's settings
to test those features, not trust. Outside ``tests/security`` (which tests trust itself) every folder
counts as trusted unless a test is marked ``untrusted_folders``: in-process through ``trust_state``,
in subprocesses that inherit ``os.environ`` through ``CLAW_TRUST_PROJECT=1``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_SECURITY = Path(__file__).resolve().parent / "security"


@pytest.fixture(autouse=True, scope="session")
def _private_bytecode_cache(tmp_path_factory):
    """The .pyz's per-user bytecode cache of every claw the suite starts lives in a directory of this
    run, not in the real ``~/.cache`` (tests of the cache itself point it elsewhere again)."""
    import os

    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if saved is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved


@pytest.fixture(autouse=True)
def _project_folders_trusted(request, monkeypatch):
    path = Path(str(request.node.fspath)).resolve()
    if _SECURITY in path.parents or request.node.get_closest_marker("untrusted_folders"):
        yield
        return
    from claw.config import trust

    real = trust.trust_state

    def trusted(folder, env, *, explicit_project=False):
        state = real(folder, env, explicit_project=explicit_project)
        if state.trusted:
            return state
        return trust.TrustState(state.folder, True, "env", "trusted by the test suite")

    monkeypatch.setattr(trust, "trust_state", trusted)
    monkeypatch.setenv(trust.ENV_VAR, "1")  # subprocesses that inherit os.environ
    yield


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A temporary home directory with its ``.claw`` config directory."""
    path = tmp_path / "home"
    (path / ".claw").mkdir(parents=True)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A temporary, empty project directory."""
    path = tmp_path / "project"
    path.mkdir()
    return path
