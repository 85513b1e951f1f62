"""Settings in TOML on Python 3.9, where there is no tomllib: the tomli fallback.

Runs claw.config from this source tree under a pyenv CPython 3.9 with a pure-Python tomli on
PYTHONPATH, taken from the pinned wheel the build caches (build/wheels) or from the vendored copy
inside dist/claw.pyz. Skipped when there is no 3.9 or no such tomli.
"""

from __future__ import annotations

import glob
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _python39():
    roots = []
    try:
        roots.append(subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    roots.append(os.path.expanduser("~/.pyenv"))
    for root in roots:
        found = sorted(glob.glob(os.path.join(root, "versions", "3.9.*", "bin", "python3.9")))
        if root and found:
            return found[-1]
    return None


def _pure_tomli(dest: Path):
    """Put a pure-Python ``tomli`` package under ``dest``; returns dest or None."""
    for wheel in sorted(glob.glob(str(REPO / "build" / "wheels" / "tomli-*-py3-none-any.whl"))):
        with zipfile.ZipFile(wheel) as whl:
            for name in whl.namelist():
                if name.startswith("tomli/"):
                    whl.extract(name, dest)
        return dest
    pyz = REPO / "dist" / "claw.pyz"
    if pyz.exists():
        prefix = "claw/_vendor/tomli/"
        with zipfile.ZipFile(pyz) as archive:
            names = [n for n in archive.namelist() if n.startswith(prefix) and n.endswith(".py")]
            for name in names:
                target = dest / "tomli" / name[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(name))
        if names:
            return dest
    return None


SCRIPT = r"""
import sys
assert sys.version_info[:2] == (3, 9), sys.version
from claw.config.loader import load_settings
from claw.errors import ConfigError
cwd, home = sys.argv[1], sys.argv[2]
# the project sets noProxy and allow rules, which take effect in a trusted folder only
env = {"CLAW_CONFIG_HOME": home, "CLAW_TRUST_PROJECT": "1"}
loaded = load_settings(cwd, env)
s = loaded.settings
print(s.model, s.network.no_proxy, s.permissions.allow, loaded.origin("model").format)
assert "tomli" in sys.modules and "tomllib" not in sys.modules
open(cwd + "/.claw/settings.local.toml", "w").write("model = \n")
try:
    load_settings(cwd, env)
except ConfigError as exc:
    print(exc.message.replace(cwd, "CWD"))
"""


def test_toml_settings_load_on_python39(tmp_path):
    python39 = _python39()
    if python39 is None:
        pytest.skip("no CPython 3.9 under pyenv")
    vendor = _pure_tomli(tmp_path / "site")
    if vendor is None:
        pytest.skip("no pure-Python tomli (build/wheels or dist/claw.pyz): run build_zipapp.py")
    project = tmp_path / "project"
    (project / ".claw").mkdir(parents=True)
    (project / ".claw" / "settings.toml").write_text(
        'model = "from-toml"\n[network]\nnoProxy = ["a", "b"]\n[permissions]\nallow = ["Read"]\n'
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join([str(REPO), str(vendor)])}
    done = subprocess.run([python39, "-c", SCRIPT, str(project), str(tmp_path / "home")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "from-toml a,b ('Read',) toml",
        "invalid TOML in CWD/.claw/settings.local.toml, line 1 column 9: Invalid value",
    ]
