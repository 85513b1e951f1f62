#!/usr/bin/env python3
"""What the bash sandbox (claw/tools/sandbox.py) adds to one bash call, and to a run's start.

Each round runs the same command twice, interleaved: ``bash -c CMD`` as claw's bash tool would start
it, and the same argv wrapped by ``Sandbox.wrap`` (the real bwrap, the seccomp program on a pipe, the
workspace a temporary directory with a .git, .claude and .claw inside, so the read-only re-binds are
there too). It prints the medians, the added time per call and the ratio, and the time of
``probe`` (one sandboxed ``true`` plus ``bwrap --version``), which a run with ``sandbox.enabled``
pays once at start.

Usage: python3 bench/sandbox_overhead.py [--runs 30] [--command 'true']
Needs bwrap on PATH; it asserts nothing about speed and writes only temporary directories.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from claw.tools.sandbox import Sandbox, SandboxSettings, probe  # noqa: E402


def _time(argv, env, fds=()) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   pass_fds=fds, check=True)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--command", default="true")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    start = time.perf_counter()
    bwrap, version = probe(env)
    probe_ms = (time.perf_counter() - start) * 1000
    if bwrap is None:
        print(f"no sandbox here: {version}")
        return 1
    with tempfile.TemporaryDirectory(prefix="claw-sandbox-bench-") as work:
        for name in (".git", ".claude", ".claw"):
            os.makedirs(os.path.join(work, name))
        box = Sandbox(SandboxSettings(enabled=True), bwrap, "", [work])
        command = ["bash", "-c", args.command]
        plain, boxed = [], []
        try:
            for i in range(args.runs + 1):  # the first round warms the caches and is dropped
                wrapped, run_env, fds = box.wrap(args.command, command, work, env)
                try:
                    b = _time(wrapped, run_env, fds)
                finally:
                    for fd in fds:
                        os.close(fd)
                p = _time(command, env)
                if i:
                    plain.append(p)
                    boxed.append(b)
        finally:
            box.close()
    p, b = statistics.median(plain) * 1000, statistics.median(boxed) * 1000
    print(f"{version}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; {args.runs} runs each, "
          f"interleaved, medians; command: bash -c {args.command!r}")
    print(f"  bash, unsandboxed      {p:7.2f} ms")
    print(f"  bash, sandboxed        {b:7.2f} ms   (+{b - p:.2f} ms per call, {b / p:.2f}x)")
    print(f"  probe at run start     {probe_ms:7.2f} ms   (once per run with sandbox.enabled)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
