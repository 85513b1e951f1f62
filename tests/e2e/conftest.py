"""Fixtures for the end-to-end tests: the built ``dist/claw.pyz``, built once per session if missing
or older than its inputs (claw's sources, build_zipapp.py, buildlib/, vendor.txt).

It does not build when the archive is fresh (scripts/test builds it before pytest runs), and never
downloads anything when ``build/wheels`` already holds the pinned wheels.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.util import PYZ, ROOT, in_ci


def _newest_input_mtime() -> float:
    newest = max((ROOT / "build_zipapp.py").stat().st_mtime, (ROOT / "vendor.txt").stat().st_mtime)
    for top in ("claw", "buildlib", "docs"):  # docs/ is bundled for `claw help TOPIC`
        for dirpath, dirnames, filenames in os.walk(ROOT / top):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for name in filenames:
                if not name.endswith((".pyc", ".pyo")):
                    newest = max(newest, os.stat(os.path.join(dirpath, name)).st_mtime)
    return newest


def ensure_built() -> Path:
    """Build ``dist/claw.pyz`` unless it exists and is newer than every input; return its path."""
    if PYZ.exists() and PYZ.stat().st_mtime >= _newest_input_mtime():
        return PYZ
    cmd = [sys.executable, str(ROOT / "build_zipapp.py")]
    if in_ci():
        cmd.append("--require-all-pythons")
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"building dist/claw.pyz failed (exit {proc.returncode}):\n{proc.stdout}", pytrace=False)
    return PYZ


@pytest.fixture(scope="session")
def claw_pyz() -> Path:
    """The path of the built ``dist/claw.pyz`` (built first if missing or stale)."""
    return ensure_built()
