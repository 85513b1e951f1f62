#!/usr/bin/env python3
"""What prompt caching saves: a 30-turn tool session against the fake server's prompt-cache emulation,
with caching on and off, for claw and for the real Claude Code binary; and how fast a dead local
server fails.

The session: the prompt asks to read 30 files one by one; the scripted model asks for one file per
turn (claw's ``read_file`` with ``path``, Claude Code's ``Read`` with an absolute ``file_path``; the
server picks by the tools offered), then ends with a short text. Requests without tools (Claude Code's
titles and the like) are answered with a short text and left out of the figures.

The fake model server (tests/fakes/model_server.py) runs with ``cache=PromptCache()``
(tests/fakes/prompt_cache.py): it remembers, for 5 minutes, the prefix (tools + system + messages) at
each ``cache_control`` breakpoint, finds hits up to 20 blocks before a breakpoint as the API does, and
reports ``cache_read_input_tokens`` / ``cache_creation_input_tokens`` / ``input_tokens``. Token counts
are an estimate: len(canonical JSON of a block) // 4, the same for both CLIs (not Anthropic's
tokenizer). A fresh cache for every run.

Figures per CLI, over the requests of the tool loop:
  - share of prompt tokens read from the cache on turns 2..N (target >= 90 %);
  - cost with caching / cost with ``DISABLE_PROMPT_CACHING=1`` (target <= 0.25x), priced with claw's
    registry entry for the model (cache writes 1.25x, reads 0.1x of input; output included);
  - claw's own ``total_cost_usd`` beside the emulator's figure, as a check of its cache pricing.
Then: a refused loopback connection (OPENAI_BASE_URL on a closed port) to claw's failure result,
wall time of the whole process (target <= 2 s), median of ``--refused-runs``.

Usage: .venv-test/bin/python bench/cache_cost.py [--turns 30] [--python PATH] [--claude PATH] [--no-claude]
claw runs from this checkout (``python -m claw`` with PYTHONPATH, no build needed). It prints figures
and asserts nothing; it writes only temporary directories.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.benchlib import CLAUDE_CODE, bench_env, load_average  # noqa: E402
from claw.api.registry import lookup  # noqa: E402
from claw.api.types import Usage  # noqa: E402
from tests.fakes.model_server import ModelServer, RecordedRequest, raw, reply, tool_use  # noqa: E402
from tests.fakes.claude_code import CLAUDE_QUIET  # noqa: E402
from tests.fakes.prompt_cache import PromptCache  # noqa: E402

MODEL = "claude-sonnet-4-5"
PROMPT = "Read the files f00.txt, f01.txt, ... one by one with your file reading tool, then say done."
TARGET_SHARE = 0.90
TARGET_COST = 0.25
TARGET_REFUSED = 2.0


def file_text(i: int) -> str:
    return "".join(f"file {i:02d} line {n:03d}: the quick brown fox jumps over the lazy dog {n * i}\n"
                   for n in range(40))


class Session:
    """The fake server's handler: one file read per turn until ``turns`` tool calls, then the end."""

    def __init__(self, work: Path, turns: int) -> None:
        self.work = work
        self.turns = turns

    def __call__(self, req: RecordedRequest) -> Optional[Dict[str, Any]]:
        body = req.json if isinstance(req.json, dict) else {}
        if req.path.split("?")[0].endswith("/count_tokens"):
            return raw(json.dumps({"input_tokens": 100}), content_type="application/json")
        tools = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
        messages = body.get("messages") or []
        if not messages or not tools:
            return reply("Bench title")
        done = sum(1 for m in messages if m.get("role") == "assistant")
        if done >= self.turns:
            return reply("done")
        name = f"f{done:02d}.txt"
        if "Read" in tools:
            return reply(tool_uses=[tool_use("Read", {"file_path": str(self.work / name)})])
        return reply(tool_uses=[tool_use("read_file", {"path": name})])


def figures(log: List[Dict[str, Any]], output_tokens: int) -> Dict[str, Any]:
    """Read share and cost of the tool loop's requests; ``output_tokens``: the run's total, as the CLI
    reported it (the fake's estimate of its replies)."""
    loop = [entry for entry in log if entry["tools"]]
    info = lookup(MODEL)
    usages = [Usage(e["input_tokens"], 0, e["cache_creation_input_tokens"], e["cache_read_input_tokens"])
              for e in loop] + [Usage(output_tokens=output_tokens)]
    later = usages[1:-1]
    prompt_later = sum(u.prompt_tokens for u in later)
    return {
        "requests": len(loop),
        "prompt_tokens": sum(u.prompt_tokens for u in usages),
        "read_share": (sum(u.cache_read_input_tokens for u in later) / prompt_later) if prompt_later else 0.0,
        "cost": sum(info.cost_usd(u) or 0.0 for u in usages),
        "max_breakpoints": max((e["breakpoints"] for e in loop), default=0),
    }


def run_session(srv: ModelServer, cmd: List[str], env: Dict[str, str], cwd: Path) -> Dict[str, Any]:
    srv.cache = PromptCache()
    before = len(srv.requests)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=str(cwd), capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    reqs = [r for r in srv.requests[before:] if isinstance(r.json, dict) and r.json.get("tools")]
    result: Dict[str, Any] = {}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            try:
                result = json.loads(line)
                break
            except ValueError:
                continue
    data = figures(srv.cache.log, int((result.get("usage") or {}).get("output_tokens") or 0))
    data.update(returncode=proc.returncode, wall=wall, result=result, stderr=proc.stderr[-800:], reqs=len(reqs),
                turns=result.get("num_turns"), reported_cost=result.get("total_cost_usd"))
    return data


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def refused_timing(python: Path, home: Path, runs: int) -> List[float]:
    walls = []
    for _ in range(runs):
        port = free_port()
        env = bench_env("http://127.0.0.1:1", str(home), {
            "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1", "PYTHONPATH": str(ROOT)})
        t0 = time.perf_counter()
        proc = subprocess.run([str(python), "-m", "claw", "-p", "hi", "--model", "local/qwen3"], env=env,
                              capture_output=True, text=True, timeout=120)
        walls.append(time.perf_counter() - t0)
        if proc.returncode != 1 or "is the server running at" not in proc.stderr:
            raise SystemExit(f"unexpected outcome of the refused-connection run: {proc.returncode}\n{proc.stderr}")
    return walls


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=30)
    ap.add_argument("--python", type=Path, help="interpreter for claw (default: this one)")
    ap.add_argument("--claude", type=Path, default=CLAUDE_CODE)
    ap.add_argument("--no-claude", action="store_true")
    ap.add_argument("--refused-runs", type=int, default=5)
    args = ap.parse_args(argv)
    python = args.python or Path(sys.executable)  # needs h11 importable: the test virtualenv has it
    claude = args.claude
    use_claude = not args.no_claude and claude.exists()
    if not args.no_claude and not use_claude:
        print(f"Claude Code binary not found at {claude} (pip install claude-agent-sdk in .venv-test, or "
              "--claude PATH); claw only", file=sys.stderr)

    print(f"cache_cost: {args.turns}-turn read-file session, model {MODEL}; {os.cpu_count()} CPUs, "
          f"load average {load_average()}")
    print("token counts: the emulator's estimate, len(canonical JSON of a block) // 4")
    rows = []
    with tempfile.TemporaryDirectory(prefix="claw-bench-cache-") as tmp:
        tmp_path = Path(tmp)
        work = tmp_path / "work"
        work.mkdir()
        for i in range(args.turns):
            (work / f"f{i:02d}.txt").write_text(file_text(i))
        home = tmp_path / "home"
        home.mkdir()
        with ModelServer(handler=Session(work, args.turns)) as srv:
            base = bench_env(srv.url, str(home), {"PYTHONPATH": str(ROOT)})
            claw_cmd = [str(python), "-m", "claw", "-p", PROMPT, "--model", MODEL, "--output-format", "json",
                        "--max-turns", str(args.turns + 5)]
            runs = {"claw": (claw_cmd, base)}
            if use_claude:
                cc_env = dict(bench_env(srv.url, str(home)), CLAUDE_CONFIG_DIR=str(home / ".claude"),
                              **CLAUDE_QUIET)
                version = subprocess.run([str(claude), "--version"], env=cc_env, capture_output=True,
                                         text=True).stdout.strip()
                print(f"Claude Code {version}")
                runs["Claude Code"] = ([str(claude), "-p", PROMPT, "--model", MODEL, "--output-format", "json",
                                        "--max-turns", str(args.turns + 5),
                                        "--permission-mode", "bypassPermissions"], cc_env)
            for label, (cmd, env) in runs.items():
                on = run_session(srv, cmd, env, work)
                off = run_session(srv, cmd, dict(env, DISABLE_PROMPT_CACHING="1"), work)
                for data, what in ((on, "caching on"), (off, "DISABLE_PROMPT_CACHING=1")):
                    if data["returncode"] != 0 or data["requests"] < 2:
                        print(f"  {label} ({what}) failed: exit {data['returncode']}, {data['requests']} "
                              f"requests\n{data['stderr']}")
                rows.append((label, on, off))

    print(f"\n{'CLI':12} {'reqs':>5} {'bps':>4} {'prompt tok':>11} {'read share 2..N':>16} {'cost on':>10} "
          f"{'cost off':>10} {'ratio':>7}   reported total_cost_usd on / off")
    for label, on, off in rows:
        ratio = on["cost"] / off["cost"] if off["cost"] else float("nan")
        print(f"{label:12} {on['requests']:5d} {on['max_breakpoints']:4d} {on['prompt_tokens']:11,d} "
              f"{on['read_share'] * 100:15.1f}% ${on['cost']:9.4f} ${off['cost']:9.4f} {ratio:6.3f}x   "
              f"{on['reported_cost']} / {off['reported_cost']}")
        print(f"{'':12} targets: read share >= {TARGET_SHARE:.0%} "
              f"{'met' if on['read_share'] >= TARGET_SHARE else 'NOT met'}, cost <= {TARGET_COST}x "
              f"{'met' if ratio <= TARGET_COST else 'NOT met'}")
    print("(cost: the emulator's usage of the tool loop priced at the registry's rates, plus the output tokens "
          "the CLI reported; reported: the CLI's own total_cost_usd, side requests included)")

    with tempfile.TemporaryDirectory(prefix="claw-bench-refused-") as tmp:
        walls = refused_timing(python, Path(tmp), args.refused_runs)
    med = statistics.median(walls)
    print(f"\nrefused loopback connection -> failure result, whole process: median {med * 1000:.0f} ms "
          f"(min {min(walls) * 1000:.0f}, max {max(walls) * 1000:.0f}; {len(walls)} runs) - target <= "
          f"{TARGET_REFUSED:g} s {'met' if med <= TARGET_REFUSED else 'NOT met'}")
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
