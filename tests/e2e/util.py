"""Helpers for the end-to-end tests: find the real interpreters and run the built ``dist/claw.pyz``.

Other e2e tests reuse these: ``python_for(version)`` gives the real pyenv binary of a Python (or skips,
or fails under ``CI=true``), ``run_claw(python, *args, env=..., input=..., cwd=...)`` runs the archive
as a user would, with an environment cleaned of the variables that would change claw's behaviour, and
``probe_modules(...)`` runs it in-process via runpy to report where each imported claw module came from.

This module does not build the archive (``conftest.py``'s ``claw_pyz`` fixture does) and asserts
nothing itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Union

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYZ = ROOT / "dist" / "claw.pyz"
SUPPORTED = ("3.9", "3.10", "3.11", "3.12", "3.13")
TOO_OLD = "3.8"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import build_zipapp  # noqa: E402

# Variables that would make a run depend on the developer's machine: the interpreter's own, claw's,
# the model providers', proxies and trust stores. run_claw() starts from os.environ without them.
_SCRUB_PREFIXES = ("PYTHON", "CLAW_", "ANTHROPIC_", "OPENAI_", "XAI_", "SSL_CERT_")
_SCRUB_NAMES = {"OLLAMA_HOST", "NODE_EXTRA_CA_CERTS", "VIRTUAL_ENV", "NO_COLOR",
                "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


_pythons: Optional[Dict[str, Path]] = None


def find_python(version: str) -> Optional[Path]:
    """The binary of ``version`` (``"3.11"``) the build would use (``$(pyenv root)/versions`` first,
    then the running interpreter and ``python3.X`` on PATH), or None."""
    global _pythons
    if _pythons is None:
        _pythons = build_zipapp.find_pythons(versions=SUPPORTED + (TOO_OLD,))
    return _pythons.get(version)


def python_for(version: str) -> Path:
    """Like ``find_python`` but a missing interpreter skips the test, or fails it when ``CI`` is set."""
    path = find_python(version)
    if path is None:
        message = f"Python {version} not found under {build_zipapp.pyenv_root()}/versions"
        if in_ci():
            pytest.fail(message + " (CI=true: every supported Python must be tested)")
        pytest.skip(message)
    return path


def clean_env(overrides: Optional[Mapping[str, Optional[str]]] = None) -> Dict[str, str]:
    """``os.environ`` minus machine-specific variables, plus ``overrides`` (a None value removes)."""
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith(_SCRUB_PREFIXES) and k.upper() not in _SCRUB_NAMES}
    for key, value in (overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_claw(python: Union[str, Path, None], *args: str, env: Optional[Mapping[str, Optional[str]]] = None,
             input: Optional[str] = None, cwd: Union[str, Path, None] = None, timeout: float = 60,
             pyz: Union[str, Path, None] = None, python_args: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """Run ``<python> [python_args] claw.pyz args...`` (``python=None``: run the archive itself, through
    its shebang) and return the finished process with text ``stdout``/``stderr``. ``env`` overrides the
    cleaned environment (see ``clean_env``); stdin is ``input`` or empty, never the terminal."""
    archive = str(pyz or PYZ)
    cmd = [archive] if python is None else [str(python), *python_args, archive]
    return subprocess.run(cmd + list(args), input=input if input is not None else "", stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=clean_env(env), cwd=cwd, timeout=timeout)


_PROBE = r"""
import json, os, runpy, sys
pyz, out = sys.argv[1], sys.argv[2]
sys.argv = [pyz] + sys.argv[3:]
code = 0


def _exit_here(status):  # claw ends with os._exit; the probe must outlive it to report
    raise SystemExit(status)


os._exit = _exit_here
try:
    runpy.run_path(pyz, run_name="__main__")
except SystemExit as exc:
    code = exc.code
mods = {}
for name, mod in sorted(sys.modules.items()):
    if name == "claw" or name.startswith("claw."):
        mods[name] = {"file": getattr(mod, "__file__", None), "cached": getattr(mod, "__cached__", None)}
with open(out, "w") as f:
    json.dump({"exit": code, "modules": mods}, f)
"""


def probe_modules(python: Union[str, Path], *args: str, pyz: Union[str, Path, None] = None,
                  env: Optional[Mapping[str, Optional[str]]] = None, python_args: Sequence[str] = ()) -> dict:
    """Run the archive's ``__main__`` in a child ``python`` through runpy (what ``python claw.pyz``
    does) with ``args``, then report ``{"exit": code, "modules": {name: {"file", "cached"}}}`` for
    every claw module it imported: ``cached`` is the .pyc inside the archive its code came from, or
    None when it was compiled from source."""
    archive = str(Path(pyz or PYZ).resolve())
    with tempfile.TemporaryDirectory(prefix="claw-probe-") as tmp:
        out = Path(tmp) / "probe.json"
        proc = subprocess.run([str(python), *python_args, "-c", _PROBE, archive, str(out), *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(env),
                              cwd=tmp, timeout=60)
        if not out.exists():
            raise AssertionError(f"probe failed (exit {proc.returncode}):\n{proc.stderr}")
        return json.loads(out.read_text())


_AFTER_START = r"""
import os, runpy, sys
pyz, snippet = sys.argv[1], sys.argv[2]
sys.argv = [pyz, "--version"]


def _exit_here(status):  # claw ends with os._exit; this harness goes on after it
    raise SystemExit(status)


os._exit = _exit_here
saved = os.dup(1)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
try:
    runpy.run_path(pyz, run_name="__main__")
except SystemExit:
    pass
sys.stdout.flush()
os.dup2(saved, 1)
exec(compile(snippet, "<snippet>", "exec"), {"__name__": "__snippet__"})
"""


def run_after_start(python: Union[str, Path], snippet: str, pyz: Union[str, Path, None] = None,
                    env: Optional[Mapping[str, Optional[str]]] = None,
                    python_args: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """Start the archive as ``python claw.pyz --version`` would (its importer installed, its output
    discarded), then run ``snippet`` in the same process; return the finished process (text)."""
    archive = str(Path(pyz or PYZ).resolve())
    return subprocess.run([str(python), *python_args, "-c", _AFTER_START, archive, snippet],
                          stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(env),
                          timeout=60)


_IMPORTTIME = re.compile(r"^import time:\s+\d+\s+\|\s+\d+\s+\|\s*(\S+)\s*$")


def imported_modules(stderr: str) -> set:
    """Module names from ``python -X importtime`` output."""
    return {m.group(1) for m in map(_IMPORTTIME.match, stderr.splitlines()) if m}


def claw_version() -> str:
    match = re.search(r'^__version__ = "([^"]+)"', (ROOT / "claw" / "__init__.py").read_text(), re.M)
    assert match, "claw/__init__.py has no __version__"
    return match.group(1)


def vendored_pins() -> list:
    return build_zipapp.parse_vendor_txt((ROOT / "vendor.txt").read_text(encoding="utf-8"))
