"""``claw --version`` and ``claw --help`` import nothing heavy, on every supported Python.

Each run is ``python -X importtime dist/claw.pyz FLAG``; what counts is what claw adds on top of
running an empty .pyz (the interpreter's own zipapp start-up: runpy and friends). None of the
modules in FORBIDDEN may appear there: networking, async, JSON, subprocesses, argument parsing,
the typing machinery, and the vendored libraries. Time is not asserted (see bench/startup.py).
"""

from __future__ import annotations

import subprocess
import zipfile

import pytest

from tests.e2e.util import SUPPORTED, clean_env, imported_modules, python_for, run_claw

pytestmark = pytest.mark.e2e

FORBIDDEN = {
    "asyncio", "ssl", "_ssl", "socket", "_socket", "selectors", "json", "subprocess", "argparse",
    "threading", "concurrent", "http", "urllib", "email", "zipfile", "tempfile", "shutil", "logging",
    "importlib.resources", "importlib.metadata", "typing", "dataclasses", "inspect", "datetime",
    "h11", "wsproto", "certifi", "tomli", "tomllib", "claw._vendor",
}


def _forbidden(names: set) -> list:
    hits = []
    for name in sorted(names):
        parts = name.split(".")
        prefixes = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        # Vendored packages are forbidden under their own name and under claw._vendor.
        if prefixes & FORBIDDEN or (name.startswith("claw._vendor.") and name != "claw._vendor"):
            hits.append(name)
    return hits


@pytest.fixture(scope="module")
def empty_pyz(tmp_path_factory):
    path = tmp_path_factory.mktemp("empty") / "empty.pyz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("__main__.py", "")
    return path


def _baseline(python, empty_pyz) -> set:
    proc = subprocess.run([str(python), "-X", "importtime", str(empty_pyz)], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    return imported_modules(proc.stderr)


@pytest.mark.parametrize("flag", ["--version", "--help"])
@pytest.mark.parametrize("version", SUPPORTED)
def test_fast_path_imports_nothing_heavy(claw_pyz, version, flag, empty_pyz):
    python = python_for(version)
    proc = run_claw(python, flag, python_args=["-X", "importtime"])
    assert proc.returncode == 0, proc.stderr
    imported = imported_modules(proc.stderr)
    assert "claw.cli.main" in imported, "importtime output not understood:\n" + proc.stderr[-2000:]
    added = imported - _baseline(python, empty_pyz)
    assert _forbidden(added) == [], (
        f"`claw {flag}` imports {_forbidden(added)}; import them lazily, inside the function that needs "
        f"them. Everything claw added: {sorted(added)}")


def test_forbidden_check_can_fail():
    assert _forbidden({"asyncio.events", "claw._vendor.h11", "json", "claw.cli.main", "jsonish"}) == [
        "asyncio.events", "claw._vendor.h11", "json"]
