"""Helpers shared by the whole-process benchmarks: find interpreters, run a child and read its rusage.

``measure(cmd, ...)`` runs one process with its output in temporary files and reaps it with
``os.wait4``: wall time (perf_counter around spawn and reap) and CPU time (user+system of the child)
come from there. Peak RSS comes from GNU ``/usr/bin/time -f %M`` wrapped around the command: a
child's ``ru_maxrss`` also counts the memory of the process it was forked (or vforked) from up to its
exec, so a benchmark process that holds a fake server's recorded requests would leak its own size into
the figure; ``/usr/bin/time`` is a small process in between. It is the largest resident set of the
measured process or of any descendant it waited for, not a sum over processes. ``bench_env`` builds
an environment that points a CLI at a fake model server with no proxies, no inherited claw/Claude
settings and a private HOME.

It deliberately does not judge results, write anything outside the directories it is given, or
start servers (the benchmarks own their fake servers).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
PYZ = ROOT / "dist" / "claw.pyz"
TIME = "/usr/bin/time"  # GNU time, for peak RSS (see the module docstring)
CLAUDE_CODE = ROOT / ".venv-test" / "lib" / "python3.11" / "site-packages" / "claude_agent_sdk" / "_bundled" / "claude"


@dataclass
class Run:
    """One finished child process."""

    wall: float  # seconds, spawn to reap
    cpu: float  # seconds, user + system of the child (and its waited-for descendants)
    maxrss_kib: int  # peak resident set size, KiB
    returncode: int
    stdout: str
    stderr: str


def real_python(version: str = "3.11") -> Path:
    """The real binary of CPython ``version`` under $(pyenv root)/versions (never a pyenv shim)."""
    sys.path.insert(0, str(ROOT))
    import build_zipapp  # the build script's own finder: newest X.Y.Z install, binaries only

    found = build_zipapp.find_pythons(versions=(version,))
    if version not in found:
        raise SystemExit(f"no CPython {version} under $(pyenv root)/versions")
    return found[version]


def bench_env(base_url: str, home: str, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """A child environment for a CLI run against the fake model server at ``base_url``."""
    drop_prefixes = ("CLAW_", "ANTHROPIC_", "CLAUDE_", "OPENAI_", "PYTHON")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(drop_prefixes) and not k.lower().endswith("_proxy")}
    env.update(HOME=home, ANTHROPIC_BASE_URL=base_url, ANTHROPIC_API_KEY="sk-ant-bench-not-a-key",
               NO_PROXY="*")
    env.update(extra or {})
    return env


def measure(cmd: Sequence[str], env: Mapping[str, str], cwd: Optional[str] = None,
            stdin_text: Optional[str] = None, timeout: float = 600.0) -> Run:
    """Run ``cmd`` once; wall time, CPU time and peak RSS from the child's own rusage."""
    timer = TIME if os.path.exists(TIME) else None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as inp, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        if stdin_text is not None:
            inp.write(stdin_text.encode())
            inp.seek(0)
        full = [TIME, "-q", "-f", "%M", "-o", rss.name, *cmd] if timer else list(cmd)
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, env=dict(env), cwd=cwd, stdin=inp, stdout=out, stderr=err)
        killer = threading.Timer(timeout, proc.kill)  # a blocking wait4 releases the GIL: the fake
        killer.start()                                 # server's threads in this process run freely
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)  # Popen will not reap or signal it again
        finally:
            killer.cancel()
        maxrss = usage.ru_maxrss
        if timer:
            lines = [ln for ln in rss.read().split() if ln.strip().isdigit()]
            maxrss = int(lines[-1]) if lines else -1
        out.seek(0)
        err.seek(0)
        return Run(wall, usage.ru_utime + usage.ru_stime, maxrss, proc.returncode,
                   out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))


def median(values: List[float]) -> float:
    return statistics.median(values) if values else float("nan")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def fmt_mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"
