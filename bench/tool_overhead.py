"""Benchmark: the tool-side share of a tool round trip (target for the whole round trip: ≤ 5 ms median).

Times what happens between a parsed tool_use block and its tool_result for ``read_file`` of a small
file, in a running event loop: ``validate`` + ``target_paths`` + ``PermissionPolicy.decide`` (with a
few rules) + ``run``. The conversation loop's own share (session append, hooks, the next request) is
measured by the loop's benchmark; this one isolates the tools and the policy. Also times glob_search
and grep_search on a small tree, for information. Prints medians; asserts nothing.

Usage: python bench/tool_overhead.py [--runs 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from claw.runtime.permissions import PermissionPolicy  # noqa: E402
from claw.tools.base import ToolContext  # noqa: E402
from claw.tools.registry import build_tools  # noqa: E402


async def round_trip(tool, policy, ctx, tool_input):
    clean = tool.validate(tool_input)
    decision = policy.decide(tool.spec.name, tool.spec, clean, tool.target_paths(clean, ctx.cwd))
    assert decision.outcome == "allow", decision
    result = await tool.run(clean, ctx)
    assert not result.is_error, result.content
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    args = ap.parse_args()
    tools = build_tools()
    with tempfile.TemporaryDirectory(prefix="claw-tool-bench-") as tmp:
        root = Path(tmp)
        (root / "src").mkdir()
        (root / "src" / "small.py").write_text("".join(f"line {i} = {i * 7}\n" for i in range(40)))
        for i in range(200):
            (root / "src" / f"m{i}.py").write_text(f"def f{i}():\n    return {i}\n")
        policy = PermissionPolicy(mode="workspace-write", cwd=root,
                                  allow_rules=["Bash(git status:*)", "Read(./src/**)"],
                                  deny_rules=["Read(./.env)", "Bash(rm:*)"])
        ctx = ToolContext(cwd=root, env=dict(os.environ))
        cases = [
            ("read_file small file", "read_file", {"path": "src/small.py"}, args.runs),
            ("glob_search 200 files", "glob_search", {"pattern": "src/*.py"}, max(50, args.runs // 20)),
            ("grep_search 200 files", "grep_search", {"pattern": "return 1\\d"}, max(50, args.runs // 20)),
        ]
        loop = asyncio.new_event_loop()
        try:
            for label, name, tool_input, runs in cases:
                tool = tools[name]
                loop.run_until_complete(round_trip(tool, policy, ctx, tool_input))
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    loop.run_until_complete(round_trip(tool, policy, ctx, tool_input))
                    times.append(time.perf_counter() - t0)
                times.sort()
                p95 = times[int(len(times) * 0.95) - 1]
                print(f"{label:26} median {statistics.median(times) * 1000:7.3f} ms   p95 {p95 * 1000:7.3f} ms"
                      f"   ({runs} runs)")
        finally:
            loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
