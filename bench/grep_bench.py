"""Benchmark: grep_search on a 50k-file tree against running ``rg`` directly (target: ≤ 1.3× rg).

Generates (once; reused while its marker file matches) a tree of 50,000 small source-like files under
/tmp, then for a few typical queries times:
- ``grep_search`` through its ripgrep path (the tool's ``run`` in a running event loop: argv built,
  rg spawned, output parsed, files stat-ed and sorted, text formatted),
- ``rg`` run directly with the very argv the tool builds (subprocess, output captured),
- the pure-Python path, for information (fewer runs: it is the fallback for hosts without rg).
Prints medians and the tool/rg ratio per query. Asserts nothing.

Usage: python bench/grep_bench.py [--files 50000] [--runs 7] [--python-runs 1] [--root DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from claw.tools.base import ToolContext  # noqa: E402
from claw.tools.grep_rg import build_argv  # noqa: E402
from claw.tools.grep_search import GrepSearchTool  # noqa: E402

WORDS = ("return value request retry backoff status parse response body handler config client server "
         "token cache buffer stream socket thread worker queue event loop future task timeout").split()
EXTS = [".py", ".js", ".ts", ".go", ".rs", ".md", ".txt", ".json"]

QUERIES = [
    ("rare literal, files", {"pattern": "needle_rare_marker"}),
    ("common word, files (~1/4 of files)", {"pattern": "common_marker"}),
    ("regex, content -n", {"pattern": r"needle_rare_\w+", "output_mode": "content"}),
    ("case-insensitive, count, type py", {"pattern": "COMMON_MARKER", "-i": True, "output_mode": "count",
                                          "type": "py"}),
    ("glob filter, files", {"pattern": "retry backoff", "glob": "*.{ts,js}"}),
]


def generate(root: Path, count: int, seed: int = 50) -> None:
    marker = root / ".claw-bench-tree"
    expected = f"files={count} seed={seed} v1\n"
    if marker.exists() and marker.read_text() == expected:
        return
    if root.exists():
        shutil.rmtree(root)
    rng = random.Random(seed)
    per_dir = 50
    made = 0
    top = 0
    while made < count:
        for sub in range(20):
            d = root / f"pkg{top:03d}" / f"mod{sub:02d}"
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_dir):
                if made >= count:
                    break
                lines = []
                for _ in range(rng.randint(20, 80)):
                    lines.append("    " * rng.randint(0, 2) + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 10))))
                if rng.random() < 0.25:
                    lines.insert(rng.randrange(len(lines)), "    # common_marker here")
                if rng.random() < 0.001:
                    lines.insert(rng.randrange(len(lines)), f"needle_rare_marker_{made}")
                (d / f"file{i:03d}{rng.choice(EXTS)}").write_text("\n".join(lines) + "\n")
                made += 1
        top += 1
    (root / ".gitignore").write_text("*.log\nbuild/\n")
    marker.write_text(expected)


def median_time(fn, runs: int) -> float:
    fn()  # warm-up (page cache, imports)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(a, b, runs: int):
    """Medians of ``a`` and ``b`` timed alternately, so drift in machine load hits both alike."""
    a()
    b()
    ta, tb = [], []
    for _ in range(runs):
        for fn, out in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--python-runs", type=int, default=1)
    ap.add_argument("--root", default="/tmp/claw-grep-bench-50k")
    args = ap.parse_args()
    rg = shutil.which("rg")
    if rg is None:
        print("rg is not installed: nothing to compare against", file=sys.stderr)
        return 1
    root = Path(args.root)
    t0 = time.perf_counter()
    generate(root, args.files)
    print(f"tree: {root} ({args.files} files, ready in {time.perf_counter() - t0:.1f} s); "
          f"rg {subprocess.run([rg, '--version'], capture_output=True, text=True).stdout.split()[1]}; "
          f"{os.cpu_count()} CPUs; median of {args.runs} runs\n")
    tool = GrepSearchTool()
    env_rg = dict(os.environ, CLAW_GREP_BACKEND="rg")
    env_py = dict(os.environ, CLAW_GREP_BACKEND="python")
    loop = asyncio.new_event_loop()
    header = f"{'query':38} {'rg direct':>10} {'grep_search':>12} {'ratio':>6} {'python path':>12}  results"
    print(header)
    print("-" * len(header))
    ratios = []
    try:
        for label, query in QUERIES:
            data = tool.validate(query)
            ctx_rg = ToolContext(cwd=root, env=env_rg)
            ctx_py = ToolContext(cwd=root, env=env_py)
            argv, cwd = build_argv(tool.build_query(data, root), rg)

            def direct():
                subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, check=False)

            result = {}

            def via_tool(ctx=ctx_rg):
                result["r"] = loop.run_until_complete(tool.run(data, ctx))

            t_rg, t_tool = interleaved(direct, via_tool, args.runs)
            meta = result["r"].metadata
            assert meta.get("backend") == "rg", meta
            summary = f"{meta.get('files', 0)} files"
            t_py = median_time(lambda: via_tool(ctx_py), args.python_runs) if args.python_runs else float("nan")
            ratio = t_tool / t_rg
            ratios.append(ratio)
            print(f"{label:38} {t_rg * 1000:8.1f}ms {t_tool * 1000:10.1f}ms {ratio:5.2f}x {t_py * 1000:10.0f}ms  "
                  f"{summary}")
    finally:
        loop.close()
    print(f"\nmedian ratio grep_search/rg: {statistics.median(ratios):.2f}x (target <= 1.3x); "
          f"worst {max(ratios):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
