"""Running ``claw`` headless in-process (fast) or as a subprocess (signals, TTYs), against the fake
model server, with an isolated config home and workspace."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def lines(self) -> List[Dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def isolated_env(server_env: Dict[str, str], home: Path, **extra: str) -> Dict[str, str]:
    """The process environment minus anything that could leak in (keys, proxies, configs), plus the
    fake server's variables."""
    drop = ("ANTHROPIC_", "OPENAI_", "XAI_", "CLAW_", "CLAUDE_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
            "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(server_env)
    env["CLAW_CONFIG_HOME"] = str(home)
    env["HOME"] = str(home)
    env.update(extra)
    return env


def run_inprocess(argv: List[str], env: Dict[str, str], monkeypatch: Any, cwd: Path,
                  stdin: str = "") -> Run:
    from claw.cli.headless import run

    for key in list(os.environ):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(cwd)
    out, err = io.StringIO(), io.StringIO()
    code = run(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return Run(code, out.getvalue(), err.getvalue())


def run_subprocess(argv: List[str], env: Dict[str, str], cwd: Path, stdin: Optional[str] = "",
                   timeout: float = 60) -> Run:
    env = dict(env, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "claw"] + argv, cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr)
