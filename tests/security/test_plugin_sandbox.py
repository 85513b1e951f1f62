"""Plugin manifest tools in the bash sandbox (settings ``sandbox.enabled``), end to end through
``claw -p`` against the fake model server with the real bwrap: the tool's program is confined as a
bash command is (workspace writable, its own plugin directory readable but not writable, nothing else
writable). Skips without bwrap, except under CI (``CI`` set), where it fails."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.cli.headless_helpers import isolated_env, run_inprocess
from tests.fakes.model_server import ModelServer, reply, tool_use

PROBE = """import json, os, sys
out = {}
for key, path in json.load(sys.stdin).items():
    try:
        with open(path, "w") as f:
            f.write("x")
        out[key] = "wrote"
    except OSError as exc:
        out[key] = type(exc).__name__
with open(os.path.join(os.environ["CLAUDE_PLUGIN_ROOT"], "data.txt")) as f:
    out["read"] = f.read()
print(json.dumps(out))
"""


@pytest.fixture
def base():
    if shutil.which("bwrap") is None:
        if os.environ.get("CI"):
            pytest.fail("bubblewrap (bwrap) is missing: scripts/test installs it; CI must not skip these tests")
        pytest.skip("needs bubblewrap (bwrap)")
    path = Path(tempfile.mkdtemp(prefix="claw-sbx-plugin-", dir="/var/tmp")).resolve()  # not /tmp: private inside
    for name in ("ws", "outside", "home/.claw", "plugin/.claude-plugin"):
        (path / name).mkdir(parents=True)
    (path / "plugin" / "probe.py").write_text(PROBE)
    (path / "plugin" / "data.txt").write_text("plugin data")
    (path / "plugin" / ".claude-plugin" / "plugin.json").write_text(json.dumps({"name": "prober", "tools": [
        {"name": "probe", "description": "try writes", "inputSchema": {"type": "object"}, "command": "python3",
         "args": ["probe.py"], "requiredPermission": "read-only"}]}))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("sandboxed", [True, False])
def test_a_manifest_tool_runs_in_the_sandbox_like_bash(base, monkeypatch, sandboxed):
    targets = {"ws": str(base / "ws" / "w.txt"), "outside": str(base / "outside" / "o.txt"),
               "plugin": str(base / "plugin" / "p.txt")}
    settings = {"sandbox": {"enabled": sandboxed, "failIfUnavailable": True}}
    with ModelServer([reply(tool_uses=[tool_use("probe", targets, id="p")]), reply(text="done")]) as srv:
        run = run_inprocess(["-p", "go", "--output-format", "json", "--settings", json.dumps(settings),
                             "--plugin-dir", str(base / "plugin")],
                            isolated_env(srv.env(), base / "home"), monkeypatch, base / "ws")
    assert run.code == 0, run.stderr
    [result] = run.json["tool_results"]
    seen = json.loads(result["output"])
    assert seen["ws"] == "wrote" and seen["read"] == "plugin data"
    if sandboxed:
        assert seen["outside"] == seen["plugin"] == "OSError"  # EROFS
        assert not (base / "outside" / "o.txt").exists() and not (base / "plugin" / "p.txt").exists()
    else:  # the same tool without the sandbox: what the sandbox stops is possible
        assert seen["outside"] == seen["plugin"] == "wrote"
