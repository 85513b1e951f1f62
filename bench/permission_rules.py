"""Benchmark: loading settings with many permission rules (target: 20,000 rules ≤ 0.5 s).

Writes, under a temporary directory, a project whose ``.claw/settings.json`` holds N mixed rules
(bash prefixes, path patterns for Read/Edit, WebFetch domains, spread over allow, deny and ask) and
times what a run does with them before its first request: ``load_settings`` (read, parse, validate,
merge) plus the ``PermissionPolicy`` construction (every rule parsed). The baseline, measured in the
same run on the same file, is ``json.loads`` of its text: the ratio says how much claw adds to merely
parsing the file. Both are timed with the cyclic garbage collector off, as ``claw`` runs its start-up
(claw.cli.startup_gc); ``--gc`` keeps it on (a library caller). Prints medians; asserts nothing about
speed.

Usage: python bench/permission_rules.py [--rules 20000,300000] [--runs 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from claw.config.loader import load_settings  # noqa: E402
from claw.runtime.permissions import PermissionPolicy  # noqa: E402


def rules(n: int) -> dict:
    """``n`` rules: 40 % bash prefixes, 40 % path patterns, 20 % WebFetch domains; 60/25/15 % of them
    allow/deny/ask."""
    out = {"allow": [], "deny": [], "ask": []}
    for i in range(n):
        kind = i % 5
        if kind < 2:
            rule = f"Bash(tool{i} --flag:*)" if kind == 0 else f"Bash(make target{i})"
        elif kind < 4:
            rule = f"Read(./src/pkg{i}/**)" if kind == 2 else f"Edit(/srv/data/{i}/*.txt)"
        else:
            rule = f"WebFetch(domain:host{i}.example.com)"
        bucket = "allow" if i % 20 < 12 else ("deny" if i % 20 < 17 else "ask")
        out[bucket].append(rule)
    return out


def load_once(project: str, env: dict):
    loaded = load_settings(project, env)
    perms = loaded.settings.permissions
    return PermissionPolicy(mode="default", cwd=project, allow_rules=perms.allow, deny_rules=perms.deny,
                            ask_rules=perms.ask, home=env["HOME"])


KEEP_GC = False


def _median(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        if not KEEP_GC:
            gc.disable()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        gc.enable()
    return statistics.median(times)


def bench(n: int, runs: int) -> None:
    root = tempfile.mkdtemp(prefix="claw-bench-rules-")
    try:
        project = os.path.join(root, "project")
        home = os.path.join(root, "home")
        os.makedirs(os.path.join(project, ".claw"))
        os.makedirs(os.path.join(home, ".claw"))
        path = os.path.join(project, ".claw", "settings.json")
        with open(path, "w") as f:
            json.dump({"permissions": rules(n)}, f)
        size = os.path.getsize(path)
        env = {"HOME": home, "CLAW_CONFIG_HOME": os.path.join(home, ".claw"), "CLAW_TRUST_PROJECT": "1"}
        with open(path) as f:
            text = f.read()
        policy = load_once(project, env)  # warm: imports, and a correctness check
        count = len(policy.allow) + len(policy.deny) + len(policy.ask)
        assert count == n, (count, n)
        runs_here = runs if n <= 50_000 else max(1, runs // 3)
        base = _median(lambda: json.loads(text), runs_here)
        took = _median(lambda: load_once(project, env), runs_here)
        print(f"{n:>8,} rules ({size / 1e6:.1f} MB): load + PermissionPolicy {took * 1000:8.1f} ms   "
              f"json.loads of the file {base * 1000:6.1f} ms   ratio {took / base:5.1f}x   "
              f"({took / n * 1e6:.2f} us per rule)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", default="20000,300000", help="comma-separated rule counts")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--gc", action="store_true", help="keep the cyclic garbage collector on while timing")
    args = ap.parse_args()
    global KEEP_GC
    KEEP_GC = args.gc
    print(f"python {sys.version.split()[0]}; garbage collector {'on' if KEEP_GC else 'off'} while timing; "
          "target: 20,000 rules <= 500 ms, linear growth")
    for n in (int(x) for x in args.rules.split(",")):
        bench(n, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
